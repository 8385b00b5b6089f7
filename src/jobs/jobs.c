/*-------------------------------------------------------------------------
 *
 * jobs.c
 *	  SQL functions of background jobs: train_async(), tune_async(),
 *	  wait(), cancel() and the jobs view.
 *
 * A job is a row of aifactory.job_runs plus a dynamic background worker
 * (worker.c).  The row is inserted in the submitter's transaction and the
 * worker is registered at once; the worker waits for that transaction to
 * end, so a rolled-back submission leaves neither a row nor a running
 * worker.  The row records the worker's identity, (pid, backend start
 * time), so that a job whose worker died without recording an outcome
 * (kill -9, a crash and restart of the cluster) reads as failed: the view
 * and the functions compare each queued or running job with the live
 * background workers, and wait(), cancel() and train_async() write that
 * verdict into the row when they see it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "jobs/jobs.h"
#include "registry/registry.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

PG_FUNCTION_INFO_V1(aifactory_train_async);
PG_FUNCTION_INFO_V1(aifactory_tune_async);
PG_FUNCTION_INFO_V1(aifactory_jobs);
PG_FUNCTION_INFO_V1(aifactory_wait);
PG_FUNCTION_INFO_V1(aifactory_cancel);

#define SCHEMA "aifactory"

/* How long train_async() waits for its worker to connect, and cancel() for the outcome. */
#define JOB_START_TIMEOUT_MS	60000
#define JOB_CANCEL_WAIT_MS		5000
/* Poll interval of wait() when the job's worker was launched by another backend. */
#define JOB_POLL_MS				100

/* The arguments of train() and tune(), in their order; *_async take the same. */
static const JobArg train_args[] = {
	{"project", TEXTOID},
	{"source", TEXTOID},
	{"target", TEXTOID},
	{"algorithm", TEXTOID},
	{"hyperparams", JSONBOID},
	{"features", TEXTARRAYOID},
	{"test_size", FLOAT8OID},
	{"seed", INT4OID},
	{"deploy", TEXTOID},
};

static const JobArg tune_args[] = {
	{"project", TEXTOID},
	{"source", TEXTOID},
	{"target", TEXTOID},
	{"algorithm", TEXTOID},
	{"search_space", JSONBOID},
	{"strategy", TEXTOID},
	{"trials", INT4OID},
	{"folds", INT4OID},
	{"metric", TEXTOID},
	{"workers", INT4OID},
	{"test_size", FLOAT8OID},
	{"seed", INT4OID},
	{"deploy", TEXTOID},
	{"hyperparams", JSONBOID},
};

/* A monitor's retraining (monitors.c submits it; retrain() runs it). */
static const JobArg retrain_args[] = {
	{"monitor", INT8OID},
	{"report", INT8OID},
};

/*
 * Session settings a job runs with, copied from the submitter: the
 * search_path resolves the source like a synchronous call would, the
 * others shape parsing and memory the same way.
 */
static const char *const job_settings[] = {
	"search_path", "DateStyle", "IntervalStyle", "TimeZone",
	"work_mem", "maintenance_work_mem",
	"aifactory.train_memory", "aifactory.blas_threads",
};

/* Columns as read from job_runs: the jobs view's, then internal ones. */
enum
{
	JC_ID,
	JC_KIND,
	JC_STATUS,
	JC_PROGRESS,
	JC_PHASE,
	JC_SUBMITTED_BY,
	JC_SUBMITTED,
	JC_STARTED,
	JC_FINISHED,
	JC_ERROR,
	JC_SQLSTATE,
	JC_PROJECT,
	JC_VERSION,
	JC_ARGS,
	JC_PID,
	JOB_VIEW_NCOLS,
	JC_WORKER_STARTED = JOB_VIEW_NCOLS,
	JC_XMIN,
	JOB_READ_NCOLS
};

#define JOB_READ_SQL \
	"SELECT id, kind, status, progress, phase, submitted_by, submitted, started, " \
	"finished, error, sqlstate, project, version, args, worker_pid, worker_started, xmin " \
	"FROM " SCHEMA ".job_runs"

/* One job as the view shows it, with what the functions need besides. */
typedef struct JobRow
{
	Datum		values[JOB_READ_NCOLS];
	bool		nulls[JOB_READ_NCOLS];
	int64		id;
	const char *status;			/* after the liveness rule */
	bool		active;			/* queued or running, with a live worker */
	bool		dead;			/* queued or running in the row, but its worker is gone */
	bool		queued;
	Oid			submitted_by;
	int			pid;
	TimestampTz worker_started;
	TransactionId xmin;
} JobRow;

/* A live background worker of this database, and what its activity reports. */
typedef struct LiveWorker
{
	int			pid;
	TimestampTz started;
	int64		job_id;			/* 0 unless the activity is a job's report */
	double		progress;
	char	   *phase;
} LiveWorker;

typedef enum JobsReadMode
{
	JOBS_ALL,
	JOBS_ONE,
	JOBS_ACTIVE
} JobsReadMode;

const char *
JobKindName(JobKind kind)
{
	switch (kind)
	{
		case JOB_TRAIN:
			break;
		case JOB_TUNE:
			return "tune";
		case JOB_RETRAIN:
			return "retrain";
	}
	return "train";
}

bool
JobKindFromName(const char *name, JobKind *kind)
{
	if (strcmp(name, "train") == 0)
		*kind = JOB_TRAIN;
	else if (strcmp(name, "tune") == 0)
		*kind = JOB_TUNE;
	else if (strcmp(name, "retrain") == 0)
		*kind = JOB_RETRAIN;
	else
		return false;
	return true;
}

const JobArg *
JobKindArgs(JobKind kind, int *nargs)
{
	if (kind == JOB_TUNE)
	{
		*nargs = lengthof(tune_args);
		return tune_args;
	}
	if (kind == JOB_RETRAIN)
	{
		*nargs = lengthof(retrain_args);
		return retrain_args;
	}
	*nargs = lengthof(train_args);
	return train_args;
}

/*
 * The background workers of this database that are alive now, from the
 * shared backend-status array (not pg_stat_activity, which hides other
 * roles' backends): their identity, and the phase and progress a job's
 * worker publishes as its activity text.  The backend-local copy of that
 * array is dropped first, since it would otherwise stay as it was at the
 * first read of the transaction.
 */
static LiveWorker *
JobsLiveWorkers(int *nlive)
{
	int			nbackends;
	int			n = 0;
	LiveWorker *live;

	pgstat_clear_backend_activity_snapshot();
	nbackends = pgstat_fetch_stat_numbackends();
	live = palloc0(sizeof(LiveWorker) * Max(nbackends, 1));
	for (int i = 1; i <= nbackends; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *be;
		LiveWorker *w;

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		if (be->st_procpid <= 0 || be->st_backendType != B_BG_WORKER ||
			be->st_databaseid != MyDatabaseId)
			continue;
		w = &live[n++];
		w->pid = be->st_procpid;
		w->started = be->st_proc_start_timestamp;
		if (be->st_activity_raw != NULL &&
			strncmp(be->st_activity_raw, JOB_ACTIVITY_PREFIX,
					strlen(JOB_ACTIVITY_PREFIX)) == 0)
		{
			char	   *activity = pgstat_clip_activity(be->st_activity_raw);
			long long	job;
			double		progress;
			int			len = 0;

			if (sscanf(activity, JOB_ACTIVITY_PREFIX "%lld [%lf]%n",
					   &job, &progress, &len) == 2 && len > 0)
			{
				w->job_id = (int64) job;
				w->progress = isfinite(progress) ? Min(Max(progress, 0.0), 1.0) : 0.0;
				w->phase = pstrdup(activity[len] == ' ' ? activity + len + 1 : activity + len);
			}
		}
	}
	*nlive = n;
	return live;
}

/* Position of a row's worker among the live ones, or -1. */
static int
JobsFindLive(LiveWorker *live, int nlive, int pid, TimestampTz started)
{
	for (int i = 0; i < nlive; i++)
		if (live[i].pid == pid && live[i].started == started)
			return i;
	return -1;
}

static char *
JobGoneMessage(int pid)
{
	return psprintf("the job's worker (pid %d) ended without recording an outcome: "
					"the server restarted, or the worker process was killed", pid);
}

/*
 * Read jobs as they are now, applying the liveness rule.
 *
 * The live workers are listed first and the rows read afterwards under a
 * fresh snapshot: a worker records its outcome before it exits, so a job
 * still queued or running in a row read after its worker was seen gone
 * really has no outcome.  Reading under the statement's snapshot instead
 * would make a job that just succeeded look failed for a moment.  The
 * rows are therefore the latest committed ones (plus this transaction's
 * own changes) even in a REPEATABLE READ transaction, as with
 * pg_stat_activity.  On a hot standby the workers run on the primary, so
 * the rows are shown as replicated.  Rows are returned in the caller's
 * memory context.
 */
static List *
JobsRead(JobsReadMode mode, int64 job_id)
{
	MemoryContext outer = CurrentMemoryContext;
	LiveWorker *live;
	int			nlive;
	StringInfoData sql;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	List	   *rows = NIL;
	bool		check_live = !RecoveryInProgress();
	int			rc;

	live = JobsLiveWorkers(&nlive);

	initStringInfo(&sql);
	appendStringInfoString(&sql, JOB_READ_SQL);
	if (mode == JOBS_ONE)
		appendStringInfoString(&sql, " WHERE id OPERATOR(pg_catalog.=) $1");
	else if (mode == JOBS_ACTIVE)
		appendStringInfoString(&sql, " WHERE status OPERATOR(pg_catalog.=) "
							   "ANY ('{queued,running}'::pg_catalog.text[])");
	appendStringInfoString(&sql, " ORDER BY id");
	args[0] = Int64GetDatum(job_id);

	SPI_connect();
	PushActiveSnapshot(GetLatestSnapshot());
	rc = SPI_execute_with_args(sql.data, mode == JOBS_ONE ? 1 : 0, argtypes, args,
							   NULL, true, 0);
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading jobs failed: SPI error %d", rc);

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spicxt = MemoryContextSwitchTo(outer);
		JobRow	   *row = palloc0(sizeof(JobRow));
		char	   *status;

		for (int c = 0; c < JOB_READ_NCOLS; c++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, c);
			Datum		d = SPI_getbinval(tup, desc, c + 1, &row->nulls[c]);

			row->values[c] = row->nulls[c] ? (Datum) 0 :
				datumCopy(d, att->attbyval, att->attlen);
		}
		row->id = DatumGetInt64(row->values[JC_ID]);
		status = TextDatumGetCString(row->values[JC_STATUS]);
		row->status = status;
		row->submitted_by = DatumGetObjectId(row->values[JC_SUBMITTED_BY]);
		row->pid = row->nulls[JC_PID] ? 0 : DatumGetInt32(row->values[JC_PID]);
		row->worker_started = row->nulls[JC_WORKER_STARTED] ? 0 :
			DatumGetTimestampTz(row->values[JC_WORKER_STARTED]);
		row->xmin = DatumGetTransactionId(row->values[JC_XMIN]);
		row->queued = strcmp(status, "queued") == 0;

		if (!check_live)
			row->active = row->queued || strcmp(status, "running") == 0;
		else if (row->queued || strcmp(status, "running") == 0)
		{
			int			w = row->pid == 0 ? -1 :
				JobsFindLive(live, nlive, row->pid, row->worker_started);

			if (w < 0)
			{
				row->dead = true;
				row->queued = false;
				row->status = "failed";
				row->values[JC_STATUS] = CStringGetTextDatum("failed");
				row->values[JC_ERROR] = CStringGetTextDatum(JobGoneMessage(row->pid));
				row->nulls[JC_ERROR] = false;
			}
			else
			{
				row->active = true;
				if (live[w].job_id == row->id && live[w].phase != NULL)
				{
					row->values[JC_PHASE] = CStringGetTextDatum(live[w].phase);
					row->nulls[JC_PHASE] = false;
					if (!row->queued)
						row->values[JC_PROGRESS] = Float8GetDatum(live[w].progress);
				}
			}
		}
		rows = lappend(rows, row);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	return rows;
}

/* One job, or an error naming it. */
static JobRow *
JobsReadOne(int64 job_id)
{
	List	   *rows = JobsRead(JOBS_ONE, job_id);

	if (rows == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("job " INT64_FORMAT " does not exist", job_id),
				 errhint("The jobs view lists the jobs of this database; a job submitted in a transaction that has not committed is not visible to other sessions.")));
	return linitial(rows);
}

/*
 * Write "failed" into the rows of jobs whose worker is gone, so that the
 * verdict survives even if a new process ever reuses the pid.  Only in
 * READ COMMITTED, writable transactions, where the UPDATE re-checks the
 * latest row version; rows another session has locked are skipped, and
 * rolling back the caller's transaction just leaves the verdict to the
 * next caller.
 */
static void
JobsPersistDead(List *rows)
{
	ListCell   *lc;
	bool		connected = false;

	if (IsolationUsesXactSnapshot() || XactReadOnly || RecoveryInProgress())
		return;
	foreach(lc, rows)
	{
		JobRow	   *row = lfirst(lc);
		Oid			types[2] = {INT8OID, TEXTOID};
		Datum		values[2];

		if (!row->dead)
			continue;
		if (!connected)
		{
			SPI_connect();
			connected = true;
		}
		values[0] = Int64GetDatum(row->id);
		values[1] = row->values[JC_ERROR];
		RegistryExecAsOwner("UPDATE " SCHEMA ".job_runs "
						"SET status = 'failed', error = $2, finished = pg_catalog.clock_timestamp() "
						"WHERE id OPERATOR(pg_catalog.=) (SELECT j.id FROM " SCHEMA ".job_runs j "
						"  WHERE j.id OPERATOR(pg_catalog.=) $1 "
						"    AND j.status OPERATOR(pg_catalog.=) ANY ('{queued,running}'::pg_catalog.text[]) "
						"  FOR UPDATE SKIP LOCKED)",
						2, types, values, NULL, SPI_OK_UPDATE);
	}
	if (connected)
		SPI_finish();
}

/* Dead-verdicts for every job of this database (train_async() runs it). */
static void
JobsSweep(void)
{
	if (IsolationUsesXactSnapshot() || XactReadOnly || RecoveryInProgress())
		return;
	JobsPersistDead(JobsRead(JOBS_ACTIVE, 0));
}

/* Can this role start a session?  Else its job connects as the session user. */
static bool
RoleCanLogin(Oid role)
{
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	bool		can = false;

	if (HeapTupleIsValid(tup))
	{
		can = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
		ReleaseSysCache(tup);
	}
	return can;
}

/*
 * Wait until the job's worker has connected to the database and shows up
 * in the backend-status array, and return its identity.  Waiting here
 * (some milliseconds) closes the window in which a job would have a
 * worker that no other session can see, which the liveness rule would
 * take for a dead one; and a worker that cannot connect at all (say, its
 * role was refused) becomes an error of train_async() instead of a job.
 */
static void
JobsAwaitWorker(BackgroundWorkerHandle *handle, int64 job_id, int *pid_out,
				TimestampTz *started_out)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   JOB_START_TIMEOUT_MS);

	for (;;)
	{
		pid_t		pid;
		BgwHandleStatus st = GetBackgroundWorkerPid(handle, &pid);

		if (st == BGWH_STOPPED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the background worker of job " INT64_FORMAT " exited before it connected", job_id),
					 errhint("The server log says why (for example, the role may not log in or has reached its connection limit).")));
		if (st == BGWH_POSTMASTER_DIED)
			ereport(ERROR,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("cannot start a background worker without the postmaster")));
		if (st == BGWH_STARTED)
		{
			int			nlive;
			LiveWorker *live = JobsLiveWorkers(&nlive);

			for (int i = 0; i < nlive; i++)
			{
				if (live[i].pid == pid)
				{
					*pid_out = pid;
					*started_out = live[i].started;
					return;
				}
			}
		}
		if (GetCurrentTimestamp() >= deadline)
		{
			TerminateBackgroundWorker(handle);
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the background worker of job " INT64_FORMAT " did not connect within %d seconds",
							job_id, JOB_START_TIMEOUT_MS / 1000),
					 errhint("Something holds a lock that new sessions need, or the server is overloaded.")));
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 5L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Record a job in the caller's transaction, as the current user, and
 * start its worker (which waits for the transaction to commit); returns
 * the job's id.  args are the kind's arguments (JobKindArgs).
 */
static int64
JobSubmitArgs(JobKind kind, const Datum *args, const bool *argnulls)
{
	int			nargs;
	const JobArg *jargs = JobKindArgs(kind, &nargs);
	Oid			role = GetUserId();
	Oid			session = GetSessionUserId();
	StringInfoData sql;
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	bool		isnull;
	int64		job_id;
	JobLaunch	launch;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	int			pid;
	TimestampTz started;

	PreventCommandIfReadOnly(psprintf("%s job", JobKindName(kind)));
	PreventCommandIfParallelMode(psprintf("%s job", JobKindName(kind)));

	JobsSweep();

	/* the row: arguments and session settings as jsonb, status queued */
	types = palloc(sizeof(Oid) * (nargs + 2));
	values = palloc(sizeof(Datum) * (nargs + 2));
	nulls = palloc(nargs + 3);
	types[0] = TEXTOID;
	values[0] = CStringGetTextDatum(JobKindName(kind));
	types[1] = REGROLEOID;
	values[1] = ObjectIdGetDatum(role);
	memset(nulls, ' ', nargs + 2);
	nulls[nargs + 2] = '\0';

	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO " SCHEMA ".job_runs (kind, submitted_by, args, settings) "
						   "VALUES ($1, $2, pg_catalog.jsonb_build_object(");
	for (int i = 0; i < nargs; i++)
	{
		types[i + 2] = jargs[i].type;
		values[i + 2] = argnulls[i] ? (Datum) 0 : args[i];
		nulls[i + 2] = argnulls[i] ? 'n' : ' ';
		appendStringInfo(&sql, "%s'%s', $%d", i > 0 ? ", " : "", jargs[i].name, i + 3);
	}
	appendStringInfoString(&sql, "), pg_catalog.jsonb_build_object(");
	for (int i = 0; i < lengthof(job_settings); i++)
		appendStringInfo(&sql, "%s'%s', pg_catalog.current_setting('%s')",
						 i > 0 ? ", " : "", job_settings[i], job_settings[i]);
	appendStringInfoString(&sql, ")) RETURNING id");

	SPI_connect();
	RegistryExecAsOwner(sql.data, nargs + 2, types, values, nulls, SPI_OK_INSERT_RETURNING);
	job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/* the worker: registered now, it waits for this transaction to end */
	memset(&launch, 0, sizeof(launch));
	launch.job_id = job_id;
	launch.database = MyDatabaseId;
	launch.role = role;
	launch.connect_role = RoleCanLogin(role) ? role : session;
	launch.submit_xid = GetTopTransactionId();

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "aifactory");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "aifactory_job_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "aifactory job " INT64_FORMAT, job_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, JOB_BGW_TYPE);
	worker.bgw_main_arg = Int64GetDatum(job_id);
	StaticAssertStmt(sizeof(JobLaunch) <= BGW_EXTRALEN, "JobLaunch must fit in bgw_extra");
	memcpy(worker.bgw_extra, &launch, sizeof(launch));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("no background worker slot is free for the job: all %d of max_worker_processes are in use",
						max_worker_processes),
				 errdetail("Running and queued jobs, parallel workers and other background workers hold them."),
				 errhint("Wait for jobs to finish or cancel some, or raise max_worker_processes (a server restart is needed).")));

	JobsAwaitWorker(handle, job_id, &pid, &started);
	{
		Oid			utypes[3] = {INT8OID, INT4OID, TIMESTAMPTZOID};
		Datum		uvalues[3];

		uvalues[0] = Int64GetDatum(job_id);
		uvalues[1] = Int32GetDatum(pid);
		uvalues[2] = TimestampTzGetDatum(started);
		RegistryExecAsOwner("UPDATE " SCHEMA ".job_runs SET worker_pid = $2, worker_started = $3 "
						"WHERE id OPERATOR(pg_catalog.=) $1",
						3, utypes, uvalues, NULL, SPI_OK_UPDATE);
	}
	SPI_finish();

	return job_id;
}

/* train_async() and tune_async(): the job's id. */
static Datum
JobSubmit(FunctionCallInfo fcinfo, JobKind kind)
{
	int			nargs;
	Datum	   *args;
	bool	   *argnulls;

	(void) JobKindArgs(kind, &nargs);
	if (PG_NARGS() != nargs)
		elog(ERROR, "%s_async called with %d arguments, expected %d",
			 JobKindName(kind), PG_NARGS(), nargs);
	args = palloc(sizeof(Datum) * nargs);
	argnulls = palloc(sizeof(bool) * nargs);
	for (int i = 0; i < nargs; i++)
	{
		argnulls[i] = PG_ARGISNULL(i);
		args[i] = argnulls[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	PG_RETURN_INT64(JobSubmitArgs(kind, args, argnulls));
}

int64
JobSubmitRetrain(int64 monitor_id, int64 report_id)
{
	Datum		args[2] = {Int64GetDatum(monitor_id), Int64GetDatum(report_id)};
	bool		argnulls[2] = {false, false};

	return JobSubmitArgs(JOB_RETRAIN, args, argnulls);
}

Datum
aifactory_train_async(PG_FUNCTION_ARGS)
{
	return JobSubmit(fcinfo, JOB_TRAIN);
}

Datum
aifactory_tune_async(PG_FUNCTION_ARGS)
{
	return JobSubmit(fcinfo, JOB_TUNE);
}

/* The jobs view: every job of this database, as it is now. */
Datum
aifactory_jobs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *rows;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != JOB_VIEW_NCOLS)
		elog(ERROR, "_jobs() must return %d columns", JOB_VIEW_NCOLS);
	rows = JobsRead(JOBS_ALL, 0);
	foreach(lc, rows)
	{
		JobRow	   *row = lfirst(lc);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row->values, row->nulls);
	}
	return (Datum) 0;
}

/* A jobs-view row as the composite aifactory.jobs. */
static Datum
JobRowDatum(FunctionCallInfo fcinfo, JobRow *row)
{
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (desc->natts != JOB_VIEW_NCOLS)
		elog(ERROR, "the jobs view must have %d columns", JOB_VIEW_NCOLS);
	desc = BlessTupleDesc(desc);
	return HeapTupleGetDatum(heap_form_tuple(desc, row->values, row->nulls));
}

/*
 * A job queued in the caller's own transaction cannot start before that
 * transaction ends: waiting for it here would wait forever.
 */
static void
JobsCheckNotOwnQueued(JobRow *row, const char *what)
{
	if (row->queued && TransactionIdIsCurrentTransactionId(row->xmin))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s job " INT64_FORMAT ": it was submitted in the current transaction", what, row->id),
				 errhint("A job starts when the transaction that submitted it commits: commit first.")));
}

/*
 * wait(job, timeout): sleep on the latch until the job has ended or the
 * timeout passed, then return its jobs row.  The postmaster sets the
 * submitting backend's latch when the job's worker exits (bgw_notify_pid),
 * so there it wakes at once; other backends re-read every 100 ms.
 */
Datum
aifactory_wait(PG_FUNCTION_ARGS)
{
	int64		job_id;
	TimestampTz deadline = 0;
	bool		forever = PG_ARGISNULL(1);
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext loopcxt;
	JobRow	   *row;
	bool		persisted = false;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job must not be NULL")));
	job_id = PG_GETARG_INT64(0);
	if (!forever)
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(1);
		double		usecs = (double) iv->time + (double) iv->day * USECS_PER_DAY +
			(double) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;

		if (usecs < 0)
			usecs = 0;
		if (usecs > (double) PG_INT64_MAX / 4)
			forever = true;
		else
			deadline = GetCurrentTimestamp() + (TimestampTz) usecs;
	}

	loopcxt = AllocSetContextCreate(CurrentMemoryContext, "aifactory wait",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		sleep_ms = JOB_POLL_MS;

		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		row = JobsReadOne(job_id);
		if (row->dead && !persisted)
		{
			JobsPersistDead(list_make1(row));
			persisted = true;
		}
		JobsCheckNotOwnQueued(row, "wait for");
		if (!row->active)
			break;
		if (!forever)
		{
			TimestampTz now = GetCurrentTimestamp();

			if (now >= deadline)
				break;
			sleep_ms = Min(sleep_ms, (long) ((deadline - now + 999) / 1000));
		}
		MemoryContextSwitchTo(outer);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(sleep_ms, 1L), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(outer);
	{
		Datum		result = JobRowDatum(fcinfo, row);

		/* the tuple is copied out of loopcxt by heap_form_tuple in outer */
		MemoryContextDelete(loopcxt);
		PG_RETURN_DATUM(result);
	}
}

/*
 * cancel(job): only the submitting role (a member of it, or a superuser)
 * may cancel.  A queued job is marked cancelled in the row, which its
 * worker checks before it starts; a running one gets SIGINT, which its
 * worker's next interrupt check turns into "canceling statement"; the
 * worker aborts train()/tune() (registering nothing) and records the
 * cancellation.  The signal is not transactional: rolling back the
 * caller's transaction does not undo it.
 */
Datum
aifactory_cancel(PG_FUNCTION_ARGS)
{
	int64		job_id;
	JobRow	   *row;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job must not be NULL")));
	job_id = PG_GETARG_INT64(0);
	row = JobsReadOne(job_id);
	if (!superuser() && !has_privs_of_role(GetUserId(), row->submitted_by))
	{
		char	   *submitter = GetUserNameFromId(row->submitted_by, true);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to cancel job " INT64_FORMAT, job_id),
				 errdetail("Job " INT64_FORMAT " was submitted by role \"%s\".", job_id,
						   submitter ? submitter : "(dropped)"),
				 errhint("Only its submitter, members of that role and superusers may cancel a job.")));
	}
	PreventCommandIfReadOnly("cancel()");
	if (row->dead)
	{
		JobsPersistDead(list_make1(row));
		PG_RETURN_BOOL(false);
	}
	if (!row->active)
		PG_RETURN_BOOL(false);

	if (row->queued)
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1];

		values[0] = Int64GetDatum(job_id);
		SPI_connect();
		RegistryExecAsOwner("UPDATE " SCHEMA ".job_runs SET status = 'cancelled', "
						"error = 'cancelled before it started', sqlstate = '57014', "
						"finished = pg_catalog.clock_timestamp() "
						"WHERE id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'queued'",
						1, types, values, NULL, SPI_OK_UPDATE);
		if (SPI_processed == 1)
		{
			SPI_finish();
			PG_RETURN_BOOL(true);
		}
		SPI_finish();
		/* its worker claimed it meanwhile: cancel the running job */
		row = JobsReadOne(job_id);
		if (!row->active)
			PG_RETURN_BOOL(false);
	}

	/* the worker was alive a moment ago; make sure the pid is still a backend's */
	if (BackendPidGetProc(row->pid) != NULL &&
		kill(row->pid, SIGINT) != 0 && errno != ESRCH)
		ereport(ERROR,
				(errmsg("could not send a cancel signal to the worker (pid %d) of job " INT64_FORMAT ": %m",
						row->pid, job_id)));

	/* give the worker a moment to record the outcome, so that the view shows it */
	{
		TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														   JOB_CANCEL_WAIT_MS);
		MemoryContext outer = CurrentMemoryContext;
		MemoryContext loopcxt = AllocSetContextCreate(CurrentMemoryContext, "aifactory cancel",
													  ALLOCSET_DEFAULT_SIZES);

		while (GetCurrentTimestamp() < deadline)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 20L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			MemoryContextReset(loopcxt);
			MemoryContextSwitchTo(loopcxt);
			row = JobsReadOne(job_id);
			MemoryContextSwitchTo(outer);
			if (!row->active)
				break;
		}
		MemoryContextDelete(loopcxt);
	}
	PG_RETURN_BOOL(true);
}
