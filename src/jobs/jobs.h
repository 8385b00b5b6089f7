/*-------------------------------------------------------------------------
 *
 * jobs.h
 *	  Background jobs: train_async() and tune_async() run train() or tune()
 *	  in a dynamic background worker, as the submitting role, in the
 *	  submitter's database; a drifted 'retrain' monitor's round submits
 *	  retrain() the same way.
 *
 * A job is a row of aifactory.job_runs, written only by the functions in
 * jobs.c and by the job's worker (worker.c), as the extension's owner after
 * their checks.  Its worker is identified by (pid, backend start time),
 * recorded at submission; a queued or running job whose worker is no longer
 * alive reads as failed (see docs/reference.md, "Jobs").
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_JOBS_H
#define AIF_JOBS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"

/*
 * Publish the running job's phase and progress (0 to 1) where other
 * sessions see them at once: the jobs view and wait() read them from the
 * worker's activity text.  A no-op outside a job worker, so train() and
 * tune() may call it unconditionally.  phase NULL keeps the last phase.
 */
extern void JobReportProgress(const char *phase, double fraction);

/*
 * Submit retrain(monitor, report) as a job of the current user, started
 * when the calling transaction commits (monitors.c, on drift); its id.
 */
extern int64 JobSubmitRetrain(int64 monitor_id, int64 report_id);

/* ---- internal to src/jobs/ ---- */

typedef enum JobKind
{
	JOB_TRAIN,
	JOB_TUNE,
	JOB_RETRAIN
} JobKind;

/* One argument of train() or tune(), as the job records and passes it. */
typedef struct JobArg
{
	const char *name;
	Oid			type;
} JobArg;

/* What the submitting backend hands its worker (bgw_extra). */
typedef struct JobLaunch
{
	int64		job_id;
	Oid			database;
	Oid			role;			/* the submitting role: GetUserId() */
	Oid			connect_role;	/* role or, when it cannot log in, the session user */
	TransactionId submit_xid;	/* the submitting transaction */
} JobLaunch;

#define JOB_BGW_TYPE		"aifactory job"
#define JOB_ACTIVITY_PREFIX "aifactory job "

extern const char *JobKindName(JobKind kind);
extern const JobArg *JobKindArgs(JobKind kind, int *nargs);
extern bool JobKindFromName(const char *name, JobKind *kind);

/* The worker's entry point (bgw_function_name). */
extern PGDLLEXPORT void aifactory_job_worker_main(Datum main_arg);

#endif							/* AIF_JOBS_H */
