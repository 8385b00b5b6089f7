/*-------------------------------------------------------------------------
 *
 * bigmem.h
 *	  Buffers of tens or hundreds of megabytes, mapped for themselves, that
 *	  a helper thread can unmap while the backend goes on.
 *
 * A load's rows and the dataset built from them take ~350 MB on the
 * benchmark table.  Given back through palloc, that memory is unmapped in
 * the backend's thread when train()'s context goes, page by page: ~25 ms
 * after the model is registered, even with a helper releasing the pages
 * first (the backend waits for it).  A buffer from AifBigAlloc is an
 * anonymous mapping of its own, tied to a memory context like a palloc'd
 * chunk (unmapped when the context is reset or deleted), which
 * AifBigFreeAsync hands to a detached helper thread to unmap: the backend
 * does not wait.  The helper makes no PostgreSQL call and blocks every
 * signal.  Such memory does not show in MemoryContextStats; the training
 * budget (aifactory.train_memory) bounds it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_BIGMEM_H
#define AIF_BIGMEM_H

#include "postgres.h"

/*
 * len bytes, page-aligned, zero pages until written, unmapped when owner
 * is reset or deleted unless freed before.  ERROR when the system refuses
 * the mapping.
 */
extern void *AifBigAlloc(MemoryContext owner, Size len);

/* The buffer at ptr grown or shrunk to len bytes (possibly moved, not copied). */
extern void *AifBigResize(void *ptr, Size len);

/* Unmap the buffer now. */
extern void AifBigFree(void *ptr);

/*
 * Unmap n buffers in a detached helper thread (in this one if none can be
 * started).  The caller must not touch them again, nor let another helper
 * still work on them.
 */
extern void AifBigFreeAsync(void *const *ptrs, int n);

#endif							/* AIF_BIGMEM_H */
