/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker that runs one job.
 *
 * Life of a worker: connect to the submitter's database as the submitting
 * role; wait for the submitting transaction to end; wait for one of the
 * aifactory.max_workers slots; claim the job (queued -> running, its own
 * transaction); run train() or tune() through SPI and record success in
 * the same transaction, so the model and the job's outcome commit
 * together; on an error, abort that transaction (nothing registered) and
 * record failed or cancelled in a fresh one.  A FATAL exit (SIGTERM from
 * pg_terminate_backend or a shutdown) records failed from a
 * before_shmem_exit callback; a worker that dies without running any code
 * (kill -9, a crash) leaves the row running, which the liveness rule of
 * jobs.c reads as failed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "aifactory.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "jobs/jobs.h"
#include "registry/registry.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

#define SCHEMA "aifactory"

/* Advisory-lock key of the job slots: cluster-wide (database 0). */
#define JOB_SLOT_LOCK_KEY	0x61696a62	/* "aijb" */
#define JOB_SLOT_LOCK_KIND	3			/* advisory locks of SQL use 1 and 2 */
#define JOB_SLOT_POLL_MS	250

static JobLaunch launch;

/* Set once the job is claimed: JobReportProgress() publishes from then on. */
static int64 job_running_id = 0;
static double job_progress = 0.0;
static char job_phase[256];

/* The row holds the outcome, or there is none to record. */
static bool job_settled = false;

/* The last ERROR or FATAL this process reported, for the exit callback. */
static char exit_message[512];
static int	exit_sqlerrcode = 0;
static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * The activity text other sessions parse (jobs.c, JobsLiveWorkers):
 * "aifactory job <id> [<progress>] <phase>".
 */
static void
JobPublish(int64 job_id, double fraction, const char *phase)
{
	char		buf[320];

	snprintf(buf, sizeof(buf), JOB_ACTIVITY_PREFIX INT64_FORMAT " [%.4f] %s",
			 job_id, fraction, phase);
	pgstat_report_activity(STATE_RUNNING, buf);
}

void
JobReportProgress(const char *phase, double fraction)
{
	if (job_running_id == 0)
		return;
	if (isnan(fraction))
		fraction = job_progress;
	job_progress = Min(Max(fraction, 0.0), 1.0);
	if (phase != NULL)
		strlcpy(job_phase, phase, sizeof(job_phase));
	JobPublish(job_running_id, job_progress, job_phase);
}

static void
JobWorkerLogHook(ErrorData *edata)
{
	if (edata->elevel >= ERROR && edata->message != NULL)
	{
		strlcpy(exit_message, edata->message, sizeof(exit_message));
		exit_sqlerrcode = edata->sqlerrcode;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* Start a transaction with SPI and a snapshot, as a top-level statement would. */
static void
JobBegin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
JobCommit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * Record how the job ended, in a transaction of its own.  Only a job still
 * queued or running is changed: one cancelled before it started keeps its
 * row as cancel() wrote it.
 */
static void
JobRecordEnd(const char *status, const char *error, const char *sqlstate)
{
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID};
	Datum		values[6];
	char		nulls[7] = "      ";

	values[0] = Int64GetDatum(launch.job_id);
	values[1] = CStringGetTextDatum(status);
	values[2] = CStringGetTextDatum(error);
	if (sqlstate != NULL)
		values[3] = CStringGetTextDatum(sqlstate);
	else
		nulls[3] = 'n';
	if (job_phase[0] != '\0')
		values[4] = CStringGetTextDatum(job_phase);
	else
		nulls[4] = 'n';
	values[5] = Float8GetDatum(job_progress);

	JobBegin();
	RegistryExecAsOwner("UPDATE " SCHEMA ".job_runs SET status = $2, error = $3, sqlstate = $4, "
					"phase = COALESCE($5, phase), progress = $6, "
					"finished = pg_catalog.clock_timestamp() "
					"WHERE id OPERATOR(pg_catalog.=) $1 "
					"AND status OPERATOR(pg_catalog.=) ANY ('{queued,running}'::pg_catalog.text[])",
					6, types, values, nulls, SPI_OK_UPDATE);
	JobCommit();
}

/*
 * before_shmem_exit: a worker leaving by FATAL (pg_terminate_backend, a
 * fast shutdown) or by an error it could not record still writes the
 * outcome.  It runs before ShutdownPostgres, so the failed transaction is
 * aborted here first; interrupts are held by proc_exit.
 */
static void
JobWorkerAtExit(int code, Datum arg)
{
	const char *message;

	if (job_settled)
		return;
	job_settled = true;
	message = exit_message[0] != '\0' ? exit_message : "the job's worker exited";
	AbortOutOfAnyTransaction();
	PG_TRY();
	{
		JobRecordEnd(exit_sqlerrcode == ERRCODE_QUERY_CANCELED ? "cancelled" : "failed",
					 message,
					 exit_sqlerrcode != 0 ? unpack_sql_state(exit_sqlerrcode) : NULL);
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
}

/* The job's status as committed now, or NULL if there is no row. */
static char *
JobRowStatus(MemoryContext cxt)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	char	   *status = NULL;
	int			rc;

	values[0] = Int64GetDatum(launch.job_id);
	JobBegin();
	rc = SPI_execute_with_args("SELECT status FROM " SCHEMA ".job_runs "
							   "WHERE id OPERATOR(pg_catalog.=) $1",
							   1, types, values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading job " INT64_FORMAT " failed: SPI error %d", launch.job_id, rc);
	if (SPI_processed == 1)
	{
		char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		status = MemoryContextStrdup(cxt, s);
	}
	JobCommit();
	return status;
}

/*
 * Jobs that may run at once: aifactory.max_workers as this worker sees it
 * (server, database and role settings; the submitter's SET does not reach
 * it), at least one.  It keeps a burst of submissions from training
 * everything at once on a small machine; it is no security boundary, as
 * sessions may always call train() directly.
 */
static int
JobSlots(void)
{
	return Max(aif_max_workers, 1);
}

/*
 * A job runs while it holds one of the session-level locks numbered 0 to
 * JobSlots() - 1 (database 0, so they are shared by every database).
 * Locks vanish with the process, however it ends.
 */
static bool
JobTakeSlot(void)
{
	bool		taken = false;

	StartTransactionCommand();
	for (int i = 0; i < JobSlots() && !taken; i++)
	{
		LOCKTAG		tag;

		SET_LOCKTAG_ADVISORY(tag, InvalidOid, JOB_SLOT_LOCK_KEY, (uint32) i,
							 JOB_SLOT_LOCK_KIND);
		taken = LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
	}
	CommitTransactionCommand();
	return taken;
}

/*
 * The call of train() or tune() with the recorded arguments: named
 * notation, each argument taken from the jsonb $1 and cast back to the
 * parameter's type.
 */
static char *
JobCallSql(JobKind kind)
{
	int			nargs;
	const JobArg *args = JobKindArgs(kind, &nargs);
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT r.project, r.version FROM (SELECT $1 AS a) s, "
					 SCHEMA ".%s(", JobKindName(kind));
	for (int i = 0; i < nargs; i++)
	{
		const char *n = args[i].name;

		appendStringInfo(&sql, "%s%s => ", i > 0 ? ", " : "", n);
		switch (args[i].type)
		{
			case TEXTOID:
				appendStringInfo(&sql, "s.a OPERATOR(pg_catalog.->>) '%s'", n);
				break;
			case JSONBOID:
				appendStringInfo(&sql, "CASE WHEN pg_catalog.jsonb_typeof(s.a OPERATOR(pg_catalog.->) '%s') "
								 "OPERATOR(pg_catalog.=) 'null' THEN NULL "
								 "ELSE s.a OPERATOR(pg_catalog.->) '%s' END", n, n);
				break;
			case TEXTARRAYOID:
				appendStringInfo(&sql, "CASE WHEN pg_catalog.jsonb_typeof(s.a OPERATOR(pg_catalog.->) '%s') "
								 "OPERATOR(pg_catalog.=) 'array' THEN ARRAY("
								 "SELECT e.v FROM pg_catalog.jsonb_array_elements_text(s.a OPERATOR(pg_catalog.->) '%s') "
								 "WITH ORDINALITY e(v, n) ORDER BY e.n) END", n, n);
				break;
			case FLOAT8OID:
				appendStringInfo(&sql, "(s.a OPERATOR(pg_catalog.->>) '%s')::pg_catalog.float8", n);
				break;
			case INT4OID:
				appendStringInfo(&sql, "(s.a OPERATOR(pg_catalog.->>) '%s')::pg_catalog.int4", n);
				break;
			case INT8OID:
				appendStringInfo(&sql, "(s.a OPERATOR(pg_catalog.->>) '%s')::pg_catalog.int8", n);
				break;
			default:
				elog(ERROR, "job argument \"%s\" has an unexpected type %u", n, args[i].type);
		}
	}
	appendStringInfoString(&sql, ") r");
	return sql.data;
}

/*
 * Everything between connecting and exiting, except the recording of an
 * error (the caller's).  Returns when the job is settled.
 */
static void
JobRun(MemoryContext cxt)
{
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];
	char		nulls[4] = "   ";
	JobKind		kind;
	Datum		args;
	Datum		settings;
	char	   *kindname;
	char	   *status;
	bool		isnull;
	int			rc;

	/* the submitting role, when it could not log in itself */
	if (launch.role != launch.connect_role)
	{
		StartTransactionCommand();
		SetCurrentRoleId(launch.role, superuser_arg(launch.role));
		CommitTransactionCommand();
	}

	JobPublish(launch.job_id, 0.0, "waiting for the submitting transaction to end");
	StartTransactionCommand();
	/* however long the submitter takes; a lock_timeout of the role's is for the job */
	(void) set_config_option("lock_timeout", "0", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	XactLockTableWait(launch.submit_xid, NULL, NULL, XLTW_None);
	CommitTransactionCommand();

	/* queued until a slot is free; gone or cancelled meanwhile: nothing to do */
	for (;;)
	{
		status = JobRowStatus(cxt);
		if (status == NULL || strcmp(status, "queued") != 0)
		{
			job_settled = true;
			return;
		}
		if (JobTakeSlot())
			break;
		{
			char		phase[80];

			snprintf(phase, sizeof(phase),
					 "waiting for a job slot (aifactory.max_workers = %d)", JobSlots());
			JobPublish(launch.job_id, 0.0, phase);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 JOB_SLOT_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}

	/* claim it */
	values[0] = Int64GetDatum(launch.job_id);
	JobBegin();
	RegistryExecAsOwner("UPDATE " SCHEMA ".job_runs SET status = 'running', phase = 'starting', "
					"started = pg_catalog.clock_timestamp() "
					"WHERE id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'queued' "
					"RETURNING kind, args, settings",
					1, types, values, NULL, SPI_OK_UPDATE_RETURNING);
	if (SPI_processed != 1)
	{
		JobCommit();
		job_settled = true;
		return;
	}
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HeapTuple	tup = SPI_tuptable->vals[0];

		kindname = SPI_getvalue(tup, desc, 1);
		args = datumCopy(SPI_getbinval(tup, desc, 2, &isnull), false, -1);
		settings = datumCopy(SPI_getbinval(tup, desc, 3, &isnull), false, -1);
		MemoryContextSwitchTo(old);
	}
	JobCommit();
	if (!JobKindFromName(kindname, &kind))
		elog(ERROR, "job " INT64_FORMAT " has an unknown kind \"%s\"", launch.job_id, kindname);

	job_running_id = launch.job_id;
	JobReportProgress("starting", 0.0);

	/* run train() or tune() and record success in the same transaction */
	JobBegin();
	types[0] = JSONBOID;
	values[0] = settings;
	rc = SPI_execute_with_args("SELECT pg_catalog.set_config(s.key, s.value, true) "
							   "FROM pg_catalog.jsonb_each_text($1) s",
							   1, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "applying the job's settings failed: SPI error %d", rc);

	values[0] = args;
	rc = SPI_execute_with_args(JobCallSql(kind), 1, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "%s() returned no row", JobKindName(kind));
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HeapTuple	tup = SPI_tuptable->vals[0];
		Datum		project = SPI_getbinval(tup, desc, 1, &isnull);

		types[0] = INT8OID;
		values[0] = Int64GetDatum(launch.job_id);
		values[1] = project;
		nulls[1] = isnull ? 'n' : ' ';
		values[2] = SPI_getbinval(tup, desc, 2, &isnull);
		nulls[2] = isnull ? 'n' : ' ';
	}
	RegistryExecAsOwner("UPDATE " SCHEMA ".job_runs SET status = 'succeeded', progress = 1, "
					"phase = 'done', error = NULL, sqlstate = NULL, project = $2, version = $3, "
					"finished = pg_catalog.clock_timestamp() "
					"WHERE id OPERATOR(pg_catalog.=) $1",
					3, types, values, nulls, SPI_OK_UPDATE);

	/* a cancel arriving now is too late: the outcome is being committed */
	HOLD_CANCEL_INTERRUPTS();
	JobCommit();
	job_settled = true;
	RESUME_CANCEL_INTERRUPTS();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * An error ended the job: record it (failed, or cancelled for a cancel)
 * after aborting the transaction it happened in.
 */
static void
JobFailed(MemoryContext cxt)
{
	ErrorData  *edata;
	const char *status;
	StringInfoData msg;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();

	/* a cancel that came with or after the error must not stop the recording */
	QueryCancelPending = false;
	HOLD_CANCEL_INTERRUPTS();

	status = edata->sqlerrcode == ERRCODE_QUERY_CANCELED ? "cancelled" : "failed";
	initStringInfo(&msg);
	appendStringInfoString(&msg, edata->message ? edata->message : "unknown error");
	if (edata->detail)
		appendStringInfo(&msg, "\nDETAIL:  %s", edata->detail);
	if (edata->hint)
		appendStringInfo(&msg, "\nHINT:  %s", edata->hint);
	ereport(LOG,
			(errmsg("aifactory job " INT64_FORMAT " %s: %s", launch.job_id, status,
					edata->message ? edata->message : "unknown error")));
	JobRecordEnd(status, msg.data, unpack_sql_state(edata->sqlerrcode));
	job_settled = true;
	RESUME_CANCEL_INTERRUPTS();
}

/*
 * Entry point (bgw_function_name).  The library is loaded by name, so
 * this works with or without shared_preload_libraries.
 */
void
aifactory_job_worker_main(Datum main_arg)
{
	char		appname[NAMEDATALEN];
	MemoryContext cxt;

	memcpy(&launch, MyBgworkerEntry->bgw_extra, sizeof(JobLaunch));

	pqsignal(SIGTERM, die);
	pqsignal(SIGINT, StatementCancelHandler);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	snprintf(appname, sizeof(appname), JOB_ACTIVITY_PREFIX INT64_FORMAT, launch.job_id);
	SetConfigOption("application_name", appname, PGC_USERSET, PGC_S_OVERRIDE);

	BackgroundWorkerInitializeConnectionByOid(launch.database, launch.connect_role, 0);

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = JobWorkerLogHook;
	before_shmem_exit(JobWorkerAtExit, (Datum) 0);

	cxt = AllocSetContextCreate(TopMemoryContext, "aifactory job", ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		JobRun(cxt);
	}
	PG_CATCH();
	{
		JobFailed(cxt);
	}
	PG_END_TRY();

	proc_exit(0);
}
