/*-------------------------------------------------------------------------
 *
 * threads.h
 *	  Independent work items run in the backend's thread and one helper.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_THREADS_H
#define AIF_THREADS_H

#include "postgres.h"

/* threads for the steps of an in-memory fit (capped at the online CPUs) */
#define AIF_ITEM_THREADS	2

/* One item's work: pure arithmetic on memory allocated beforehand. */
typedef void (*AifItemFn) (void *arg, int64 item);

/*
 * fn(arg, i) for every i in [0, nitems), in up to threads threads (see
 * threads.c for what fn may and may not do).
 */
extern void AifRunItems(int64 nitems, AifItemFn fn, void *arg, int threads);

#endif							/* AIF_THREADS_H */
