/*-------------------------------------------------------------------------
 *
 * bigmem.h
 *	  Large allocations backed by transparent huge pages.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_BIGMEM_H
#define AIF_BIGMEM_H

#include "postgres.h"

/*
 * MemoryContextAllocHuge(CurrentMemoryContext, size), and for a large size
 * the kernel asked to back it with huge pages (see bigmem.c).
 */
extern void *AifAllocBig(Size size);

/* Ask for huge pages under [p, p + size) where it covers whole ones. */
extern void AifAdviseHugePages(void *p, Size size);

#endif							/* AIF_BIGMEM_H */
