/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *	  The scheduler background worker: one round of run_monitors() every
 *	  aifactory.monitor_naptime seconds in the database aifactory.database.
 *
 * Registered only when the library is in shared_preload_libraries; without
 * it, run_monitors() is called by pg_cron or any loop instead, and does the
 * same round.  The worker connects as the bootstrap superuser, so a round
 * sees every due monitor and runs each as its owner (monitors.c).  Each
 * round is one transaction: its drift_reports rows and its NOTIFY
 * aifactory_alerts go out together when it commits.  An ERROR in a round is
 * logged and the next round comes as usual.
 *
 * A worker stays connected to one database: when a reload changes
 * aifactory.database the worker exits with status 1 and the postmaster
 * starts it again, connected to the new one, after bgw_restart_time.  A
 * database that does not exist makes the connection fail (FATAL); the same
 * restart time keeps it from looping fast.  An empty aifactory.database
 * turns the scheduler off: the worker only waits for a reload.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "aifactory.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "monitor/monitor.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

#define SCHEDULER_NAME "aifactory scheduler"
#define SCHEDULER_RESTART_SECONDS 5

/* LOG once that the extension is missing, again after it came and went. */
static bool missing_logged = false;

void
SchedulerInit(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = SCHEDULER_RESTART_SECONDS;
	strlcpy(worker.bgw_library_name, "aifactory", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "aifactory_scheduler_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, SCHEDULER_NAME, BGW_MAXLEN);
	strlcpy(worker.bgw_type, SCHEDULER_NAME, BGW_MAXLEN);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/*
 * The schema the extension lives in, or NULL when this database does not
 * have it (yet): then the round is skipped without noise.
 */
static char *
ExtensionSchema(void)
{
	int			rc;
	bool		isnull;
	Datum		d;

	rc = SPI_execute("SELECT n.nspname FROM pg_catalog.pg_extension e"
					 " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
					 " WHERE e.extname OPERATOR(pg_catalog.=) 'aifactory'",
					 true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading pg_extension failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	return pstrdup(NameStr(*DatumGetName(d)));
}

/* Say where a logged error of a round came from. */
static void
SchedulerRoundContext(void *arg)
{
	errcontext("aifactory scheduler round in database \"%s\"", (const char *) arg);
}

/*
 * One round: run_monitors() in a transaction of its own, as a top-level
 * statement would run it (statement timestamp, snapshot).
 */
static void
SchedulerRound(const char *database)
{
	char	   *schema;
	int			rc;
	ErrorContextCallback errcallback;

	errcallback.callback = SchedulerRoundContext;
	errcallback.arg = (void *) database;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "aifactory scheduler: run_monitors()");

	schema = ExtensionSchema();
	if (schema == NULL)
	{
		if (!missing_logged)
			ereport(LOG,
					(errmsg("aifactory scheduler: extension \"aifactory\" is not installed in database \"%s\"; no monitors to run",
							database),
					 errhint("Run CREATE EXTENSION aifactory there, or set aifactory.database to the database that has it.")));
		missing_logged = true;
	}
	else
	{
		missing_logged = false;
		rc = SPI_execute(psprintf("SELECT pg_catalog.count(*) FROM %s.run_monitors()",
								  quote_identifier(schema)),
						 false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "run_monitors() failed: %s", SPI_result_code_string(rc));
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	error_context_stack = errcallback.previous;
}

/*
 * Entry point (bgw_function_name).  Rounds every naptime until SIGTERM;
 * a reload that changes the database ends the process for a restart.
 */
void
aifactory_scheduler_main(Datum main_arg)
{
	char	   *database;
	MemoryContext cxt;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	database = pstrdup(aif_database != NULL ? aif_database : "");
	if (database[0] != '\0')
		BackgroundWorkerInitializeConnection(database, NULL, 0);
	else
		ereport(LOG,
				(errmsg("aifactory scheduler: off, aifactory.database is empty")));

	cxt = AllocSetContextCreate(TopMemoryContext, SCHEDULER_NAME, ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		if (database[0] != '\0')
		{
			MemoryContextSwitchTo(cxt);
			PG_TRY();
			{
				SchedulerRound(database);
			}
			PG_CATCH();
			{
				error_context_stack = NULL;
				MemoryContextSwitchTo(cxt);
				EmitErrorReport();
				FlushErrorState();
				AbortCurrentTransaction();
				pgstat_report_activity(STATE_IDLE, NULL);
			}
			PG_END_TRY();
			MemoryContextSwitchTo(TopMemoryContext);
			MemoryContextReset(cxt);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (long) aif_monitor_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(database, aif_database != NULL ? aif_database : "") != 0)
			{
				ereport(LOG,
						(errmsg("aifactory scheduler: aifactory.database changed from \"%s\" to \"%s\", restarting",
								database, aif_database != NULL ? aif_database : "")));
				proc_exit(1);
			}
		}
	}
}
