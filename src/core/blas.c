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
		applied_threads = aif_blas_threads;
	}
}
