/*-------------------------------------------------------------------------
 *
 * prefault.h
 *	  Fresh memory made resident, and dead memory given back, by a helper
 *	  thread while the backend works.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_PREFAULT_H
#define AIF_PREFAULT_H

#include "postgres.h"

/* below this many bytes a thread's start costs more than the faults */
#define AIF_PREFAULT_MIN_BYTES	(1024 * 1024)

typedef struct AifPrefault AifPrefault;

/*
 * Start making [ptr, ptr + len) resident in a helper thread.  The range
 * must be memory palloc'd in owner (or in a context that owner's reset or
 * deletion frees): the helper is joined then, if not before.  Returns NULL
 * when nothing was started: a small range, one CPU, a failed thread start.
 * The backend may read and write the range meanwhile.
 */
extern AifPrefault *AifPrefaultStart(MemoryContext owner, void *ptr, Size len);

/* The same for two ranges at once (either may be NULL). */
extern AifPrefault *AifPrefaultStartPair(MemoryContext owner, void *ptr1, Size len1,
										 void *ptr2, Size len2);

/*
 * Start giving the pages of n ranges [ptrs[i], ptrs[i] + lens[i]) back to
 * the kernel in a helper thread (same rules as AifPrefaultStart).  The
 * backend must not read or write them again: their contents are gone (a
 * later read would see zeros); they are still freed as usual.
 */
extern AifPrefault *AifReleaseStart(MemoryContext owner, void *const *ptrs,
									const Size *lens, int n);

/*
 * Join the helper (a no-op for NULL).  pf itself stays, a few dozen bytes,
 * until its context is reset: the context's reset callback points to it.
 */
extern void AifPrefaultWait(AifPrefault *pf);

#endif							/* AIF_PREFAULT_H */
