/*-------------------------------------------------------------------------
 *
 * aifactory.c
 *	  Module magic, settings and subsystem initialisation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "aifactory.h"
#include "jobs/jobs.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "monitor/monitor.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

int			aif_blas_threads = 1;
int			aif_train_memory = 1048576;	/* 1GB */
int			aif_model_cache_size = 65536;
int			aif_max_workers = 2;
char	   *aif_database = NULL;
int			aif_monitor_naptime = 10;

void		_PG_init(void);

Size
AifTrainMemoryBytes(void)
{
	int			kb = aif_train_memory > 0 ? aif_train_memory : maintenance_work_mem;

	return (Size) kb * 1024;
}

void
_PG_init(void)
{
	DefineCustomIntVariable("aifactory.blas_threads",
							"Threads OpenBLAS may use in one backend or worker.",
							"Parallelism comes from parallel query and background workers; keep 1 unless a backend runs alone.",
							&aif_blas_threads,
							1, 1, 256,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	/*
	 * The default is not maintenance_work_mem (64MB out of the box): a
	 * training run holds the data an iterative algorithm works on, and
	 * even the 1M x 20 reference table needs ~350MB.  -1 still means
	 * maintenance_work_mem.
	 */
	DefineCustomIntVariable("aifactory.train_memory",
							"Memory one training run may hold: the loaded data of the iterative algorithms, the kept test rows of the one-pass ones.",
							"-1 uses maintenance_work_mem.",
							&aif_train_memory,
							1048576, -1, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("aifactory.model_cache_size",
							"Memory each backend may use to keep deserialized models.",
							NULL,
							&aif_model_cache_size,
							65536, 0, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	/*
	 * A cap on jobs, not on processes: each job's worker takes one of
	 * max_worker_processes' slots from submission to its end, and waits,
	 * queued, for one of these.  PGC_SUSET: the worker reads it from the
	 * server, database and role settings, never from the submitter's
	 * session, so only an administrator's setting can raise it.
	 */
	DefineCustomIntVariable("aifactory.max_workers",
							"Background jobs (train_async, tune_async) that may run at once in the cluster; also tune()'s default number of workers.",
							"Further jobs stay queued until a running one ends.",
							&aif_max_workers,
							2, 1, 1024,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	/*
	 * The scheduler worker (scheduler.c) reads both at start and on reload;
	 * it stays connected to one database, so a new aifactory.database
	 * restarts it.
	 */
	DefineCustomStringVariable("aifactory.database",
							   "Database whose monitors the scheduler worker runs (needs shared_preload_libraries).",
							   "An empty string turns the scheduler off.",
							   &aif_database,
							   "postgres",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("aifactory.monitor_naptime",
							"Time the scheduler worker sleeps between two rounds of run_monitors().",
							NULL,
							&aif_monitor_naptime,
							10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("aifactory");

	RegistryCacheInit();
	SchedulerInit();
}
