/*-------------------------------------------------------------------------
 *
 * trial.c
 *	  One trial of a hyperparameter search: k-fold cross-validation on the
 *	  rows the leader shared, and the background worker that runs trials.
 *
 * A trial fits the algorithm once per fold, on the other folds' rows, with
 * exactly the code train() uses (FitDataset), and scores it on the fold's
 * rows with the metric of the search.  The trees fit on the shared bins
 * (a copy of the fold's rows, same cuts) instead of binning again.
 *
 * The worker attaches the segment, connects to the leader's database as
 * the leader's role, and takes PENDING slots until the leader says it is
 * finished (or gives up, or is gone).  Each trial runs in a transaction
 * of its own; its row of aifactory.trials is written before (running) and
 * after (complete or failed) in separate transactions, so other sessions
 * see the search progress.  A cancel (SIGINT, which the leader sends when
 * it is cancelled itself) ends the trial with an error, recorded as
 * failed, and the worker exits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "core/blas.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "registry/registry.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "train/dataset.h"
#include "train/train_internal.h"
#include "tune/tune.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void aifactory_trial_main(Datum arg);

static const struct
{
	const char *name;
	TaskKind	task;
	bool		maximize;
}			metrics[] =
{
	{"r2", TASK_REGRESSION, true},
	{"rmse", TASK_REGRESSION, false},
	{"mae", TASK_REGRESSION, false},
	{"accuracy", TASK_CLASSIFICATION, true},
	{"f1", TASK_CLASSIFICATION, true},
	{"precision", TASK_CLASSIFICATION, true},
	{"recall", TASK_CLASSIFICATION, true},
	{"roc_auc", TASK_CLASSIFICATION, true},
	{"log_loss", TASK_CLASSIFICATION, false},
};

bool
TuneMetricKnown(const char *metric, TaskKind task, bool *maximize)
{
	for (int i = 0; i < lengthof(metrics); i++)
		if (metrics[i].task == task && strcmp(metrics[i].name, metric) == 0)
		{
			*maximize = metrics[i].maximize;
			return true;
		}
	return false;
}

void
TuneDataAttach(TuneShared *sh, TuneData *data)
{
	char	   *base = (char *) sh;

	data->sh = sh;
	data->slots = (TuneSlot *) (base + sh->off_slots);
	data->model = (const bytea *) (base + sh->off_model);
	data->X = (const double *) (base + sh->off_X);
	data->y = (const double *) (base + sh->off_y);
	data->fold = (const uint8 *) (base + sh->off_fold);
	data->bins = sh->off_bins ? TreeBinsAttach(base + sh->off_bins, sh->len_bins) : NULL;
}

/* The value of key in the metrics a fit left ("k": v, ... without braces). */
static double
metric_value(const char *metrics_text, const char *key)
{
	Jsonb	   *j = JsonbFromCString(psprintf("{%s}", metrics_text));
	JsonbValue *v = getKeyJsonValueFromContainer(&j->root, key, strlen(key), NULL);

	if (v == NULL || v->type != jbvNumeric)
		return NAN;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/* Rows of the column-major n x p matrix X at rows[0 .. m-1], into a new matrix. */
static double *
gather_rows(const double *X, int64 n, int p, const int64 *rows, int64 m)
{
	double	   *out = MemoryContextAllocHuge(CurrentMemoryContext,
											 sizeof(double) * Max(m * p, 1));

	for (int j = 0; j < p; j++)
	{
		const double *col = X + (Size) j * n;
		double	   *dst = out + (Size) j * m;

		for (int64 r = 0; r < m; r++)
			dst[r] = col[rows[r]];
		CHECK_FOR_INTERRUPTS();
	}
	return out;
}

void
TuneEvaluate(TuneData *data, TuneSlot *slot)
{
	TuneShared *sh = data->sh;
	int64		n = sh->n;
	int			p = sh->p;
	int64	   *train_rows = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * n);
	int64	   *valid_rows = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * n);
	double	   *yt = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * n);
	double	   *yv = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * n);
	Jsonb	   *params = JsonbFromCString(slot->params);
	double		sum = 0;
	double		sumsq = 0;
	instr_time	t0;
	instr_time	t1;

	INSTR_TIME_SET_CURRENT(t0);
	AifBlasPrepare();
	for (int f = 0; f < sh->folds; f++)
	{
		MemoryContext foldcxt = AllocSetContextCreate(CurrentMemoryContext, "aifactory fold",
													  ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(foldcxt);
		TrainRun	run;
		Dataset		ds;
		TreeBins   *bins = NULL;
		int64		nt = 0;
		int64		nv = 0;
		double		score;

		for (int64 i = 0; i < n; i++)
		{
			if (data->fold[i] == f)
			{
				valid_rows[nv] = i;
				yv[nv++] = data->y[i];
			}
			else
			{
				train_rows[nt] = i;
				yt[nt++] = data->y[i];
			}
		}
		if (nt == 0 || nv == 0)
			elog(ERROR, "fold %d of the search has no rows", f);

		memset(&run, 0, sizeof(run));
		run.project = sh->project;
		run.source = "tune";
		run.algorithm = sh->algorithm;
		run.task = sh->task;
		run.seed = sh->seed;
		run.test_size = 1.0 / sh->folds;
		run.deploy = "none";
		run.work = foldcxt;
		initStringInfo(&run.metrics);
		run.model = ModelDeserializeExt(data->model, foldcxt, true);
		HyperParamsParse(run.algorithm, params, &run.hp);

		memset(&ds, 0, sizeof(ds));
		ds.p = p;
		ds.ntrain = nt;
		ds.ntest = nv;
		ds.Xtrain = gather_rows(data->X, n, p, train_rows, nt);
		ds.Xtest = gather_rows(data->X, n, p, valid_rows, nv);
		ds.ytrain = palloc(sizeof(double) * nt);
		memcpy(ds.ytrain, yt, sizeof(double) * nt);
		ds.ytest = palloc(sizeof(double) * nv);
		memcpy(ds.ytest, yv, sizeof(double) * nv);
		if (data->bins && run.hp.max_bin == sh->bins_max_bin &&
			!(run.algorithm == ALGO_GBDT && run.hp.early_stopping_rounds > 0))
			bins = TreeBinsSubset(data->bins, train_rows, nt);

		FitDataset(&run, &ds, bins);
		score = metric_value(run.metrics.data, sh->metric);
		if (isnan(score))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metric \"%s\" is not defined for fold %d", sh->metric, f + 1),
					 errhint("roc_auc and log_loss need two classes; choose another metric.")));
		slot->fold_scores[f] = score;
		sum += score;
		sumsq += score * score;
		MemoryContextSwitchTo(old);
		MemoryContextDelete(foldcxt);
	}
	slot->mean = sum / sh->folds;
	/* the population standard deviation, as scikit-learn's std_test_score */
	slot->std = sqrt(Max(0.0, sumsq / sh->folds - slot->mean * slot->mean));
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	slot->seconds = INSTR_TIME_GET_DOUBLE(t1);
	pfree(train_rows);
	pfree(valid_rows);
	pfree(yt);
	pfree(yv);
}

void
TuneRecordTrial(const TuneShared *sh, const TuneSlot *slot, const char *state)
{
	Oid			types[16] = {INT8OID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID,
		JSONBOID, INT4OID, INT4OID, FLOAT8ARRAYOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID,
	TEXTOID, TEXTOID};
	Datum		values[16];
	char		nulls[17];
	bool		scored = strcmp(state, "complete") == 0 || strcmp(state, "pruned") == 0;
	Datum		scores[TUNE_MAX_FOLDS];

	memset(nulls, ' ', 16);
	nulls[16] = '\0';
	values[0] = Int64GetDatum(sh->search_id);
	values[1] = CStringGetTextDatum(sh->project);
	values[2] = Int32GetDatum(slot->trial);
	values[3] = CStringGetTextDatum(AlgorithmName(sh->algorithm));
	values[4] = CStringGetTextDatum(sh->strategy);
	values[5] = CStringGetTextDatum(sh->metric);
	values[6] = JsonbPGetDatum(JsonbFromCString(slot->params));
	values[7] = Int32GetDatum(slot->rung);
	values[8] = Int32GetDatum(slot->resource);
	if (slot->resource <= 0)
		nulls[8] = 'n';
	if (scored)
	{
		for (int f = 0; f < sh->folds; f++)
			scores[f] = Float8GetDatum(slot->fold_scores[f]);
		values[9] = PointerGetDatum(construct_array(scores, sh->folds, FLOAT8OID, sizeof(float8),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[10] = Float8GetDatum(slot->mean);
		values[11] = Float8GetDatum(slot->std);
	}
	else
		nulls[9] = nulls[10] = nulls[11] = 'n';
	values[12] = Float8GetDatum(slot->seconds);
	if (strcmp(state, "running") == 0)
		nulls[12] = 'n';
	values[13] = Int32GetDatum(slot->worker);
	values[14] = CStringGetTextDatum(state);
	values[15] = CStringGetTextDatum(slot->error);
	if (strcmp(state, "failed") != 0)
		nulls[15] = 'n';
	RegistryExecAsOwner("INSERT INTO aifactory.trials AS t (search_id, project, trial, algorithm, "
						"strategy, metric, params, rung, resource, fold_scores, mean_score, "
						"std_score, seconds, worker, state, error, started, finished) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
						"$15, $16, pg_catalog.clock_timestamp(), "
						"CASE WHEN $15 OPERATOR(pg_catalog.=) 'running' THEN NULL "
						"ELSE pg_catalog.clock_timestamp() END) "
						"ON CONFLICT (search_id, trial) DO UPDATE SET params = EXCLUDED.params, "
						"rung = EXCLUDED.rung, resource = EXCLUDED.resource, "
						"fold_scores = COALESCE(EXCLUDED.fold_scores, t.fold_scores), "
						"mean_score = COALESCE(EXCLUDED.mean_score, t.mean_score), "
						"std_score = COALESCE(EXCLUDED.std_score, t.std_score), "
						"seconds = COALESCE(EXCLUDED.seconds, t.seconds), "
						"worker = EXCLUDED.worker, state = EXCLUDED.state, error = EXCLUDED.error, "
						"finished = EXCLUDED.finished",
						16, types, values, nulls, SPI_OK_INSERT);
}

/* ---- the worker ---- */

/* Record a trial's row in a transaction of its own. */
static void
record_in_own_transaction(const TuneShared *sh, const TuneSlot *slot, const char *state)
{
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	TuneRecordTrial(sh, slot, state);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

static void
wake_leader(TuneShared *sh)
{
	SetLatch(&ProcGlobal->allProcs[sh->leader_procno].procLatch);
}

/* Run the trial in slot; record it; never throws. */
static void
run_slot(TuneData *data, TuneSlot *slot)
{
	TuneShared *sh = data->sh;
	MemoryContext trialcxt = AllocSetContextCreate(TopMemoryContext, "aifactory trial",
												   ALLOCSET_DEFAULT_SIZES);
	volatile bool ok = false;

	pgstat_report_activity(STATE_RUNNING, psprintf("aifactory tune %lld: trial %d",
												   (long long) sh->search_id, slot->trial));
	PG_TRY();
	{
		MemoryContext old;

		record_in_own_transaction(sh, slot, "running");
		StartTransactionCommand();
		old = MemoryContextSwitchTo(trialcxt);
		TuneEvaluate(data, slot);
		MemoryContextSwitchTo(old);
		CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(trialcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		strlcpy(slot->error, edata->message ? edata->message : "error", TUNE_ERROR_LEN);
		elog(LOG, "aifactory tune %lld: trial %d failed: %s",
			 (long long) sh->search_id, slot->trial, slot->error);
	}
	PG_END_TRY();

	/*
	 * The outcome is recorded whatever happens meanwhile: a cancel that
	 * arrives now (the leader stopping the search) waits until it is.
	 */
	HOLD_INTERRUPTS();
	record_in_own_transaction(sh, slot, ok ? "complete" : "failed");
	RESUME_INTERRUPTS();
	QueryCancelPending = false;
	MemoryContextDelete(trialcxt);
	SpinLockAcquire(&sh->mutex);
	slot->state = ok ? SLOT_DONE : SLOT_FAILED;
	SpinLockRelease(&sh->mutex);
	wake_leader(sh);
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
aifactory_trial_main(Datum arg)
{
	dsm_segment *seg;
	TuneShared *sh;
	TuneData	data;
	int			me = -1;

	pqsignal(SIGTERM, die);
	pqsignal(SIGINT, StatementCancelHandler);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "aifactory trial worker");
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		proc_exit(0);			/* the leader is gone already */
	dsm_pin_mapping(seg);
	sh = dsm_segment_address(seg);

	BackgroundWorkerInitializeConnectionByOid(sh->database, sh->role, 0);
	SpinLockAcquire(&sh->mutex);
	if (sh->nworkers < TUNE_MAX_WORKERS)
	{
		me = sh->nworkers++;
		sh->worker_procno[me] = MyProc->pgprocno;
		sh->worker_pid[me] = MyProcPid;
	}
	SpinLockRelease(&sh->mutex);
	if (me < 0)
		proc_exit(0);

	StartTransactionCommand();
	TuneDataAttach(sh, &data);
	/* the attached bins are a view palloc'd here: keep it for the session */
	if (data.bins)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		data.bins = TreeBinsAttach((char *) sh + sh->off_bins, sh->len_bins);
		MemoryContextSwitchTo(old);
	}
	CommitTransactionCommand();

	for (;;)
	{
		TuneSlot   *slot = NULL;
		bool		stop;

		CHECK_FOR_INTERRUPTS();
		SpinLockAcquire(&sh->mutex);
		stop = sh->abort;
		if (!stop)
		{
			for (int i = 0; i < sh->nslots; i++)
				if (data.slots[i].state == SLOT_PENDING)
				{
					slot = &data.slots[i];
					slot->state = SLOT_RUNNING;
					slot->worker = MyProcPid;
					break;
				}
			if (slot == NULL && sh->finished)
				stop = true;
		}
		SpinLockRelease(&sh->mutex);
		if (stop)
			break;
		if (slot != NULL)
		{
			run_slot(&data, slot);
			continue;
		}
		/* the leader may have died without telling */
		if (kill(sh->leader_pid, 0) != 0 && errno == ESRCH)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 200L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	dsm_detach(seg);
	proc_exit(0);
}
