/*-------------------------------------------------------------------------
 *
 * blas.c
 *	  OpenBLAS thread discipline.
 *
 * OpenBLAS starts its thread pool lazily; the postmaster must never do so
 * (forked children would inherit a broken pool), so nothing here runs in
 * _PG_init.  Each backend or worker applies aifactory.blas_threads before
 * its first BLAS call and whenever the setting changes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cblas.h>

#include "aifactory.h"
#include "core/blas.h"
#include "miscadmin.h"

static int	applied_threads = -1;

/*
 * OpenBLAS's pthread build stops its thread pool at fork and re-creates it
 * lazily, even when asked for one thread; idle pool threads then spin for
 * a while, stealing a core from parallel workers.  With one thread we shut
 * the pool down again.  Weak, because other OpenBLAS builds (OpenMP,
 * serial) do not have it.
 */
extern int	blas_thread_shutdown_(void) __attribute__((weak));

void
AifBlasPrepare(void)
{
	if (!IsUnderPostmaster && !IsPostmasterEnvironment)
	{
		/* single-user mode: fine to use BLAS */
	}
	else if (!IsUnderPostmaster)
		elog(ERROR, "BLAS must not be used in the postmaster");

	if (applied_threads != aif_blas_threads)
	{
		openblas_set_num_threads(aif_blas_threads);
		if (aif_blas_threads == 1 && blas_thread_shutdown_ != NULL)
			blas_thread_shutdown_();
		applied_threads = aif_blas_threads;
	}
}
