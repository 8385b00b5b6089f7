/*-------------------------------------------------------------------------
 *
 * tune.c
 *	  aifactory.tune(): hyperparameter search with k-fold cross-validation,
 *	  trials run in parallel background workers over one shared copy of
 *	  the data, the best configuration refitted and registered like train().
 *
 * The leader (the calling backend, or a job's worker for tune_async) does
 * what train() does up to the loaded dataset: arguments, project, source,
 * columns, one scan into memory, the train/test split.  Then it assigns
 * the training rows to folds (stratified by class for classification),
 * copies rows, folds, the bins of the trees and the model's plan into a
 * DSM segment (tune.h), starts up to `workers` background workers
 * (trial.c), and feeds them trials through the segment's slots:
 *
 *	  grid		every point of the grid, in order
 *	  random	`trials` random points
 *	  tpe		`trials` points, each proposed from the trials finished so
 *				far (Optuna's TPE; the first 10 are random)
 *	  halving	`trials` random candidates, raced in rungs of growing
 *				resource (trees or iterations), a third kept at each
 *
 * When no worker can be started (max_worker_processes exhausted, or
 * workers => 0), the leader runs the trials itself, one after another.
 * A cancel of the leader (pg_cancel_backend, statement_timeout) cancels
 * its workers too.  Finally the best trial's hyperparameters are fitted on
 * the whole training split, measured on the test split and registered and
 * deployed like any train() call, with the search in its metrics.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "algorithms/rng.h"
#include "algorithms/search.h"
#include "catalog/pg_type.h"
#include "core/blas.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "jobs/jobs.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "registry/registry.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "train/dataset.h"
#include "train/train_internal.h"
#include "tune/space.h"
#include "tune/tune.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "aifactory.h"

PG_FUNCTION_INFO_V1(aifactory_tune);

/* grids larger than this are refused: list fewer values, or sample */
#define TUNE_MAX_GRID		10000
#define TUNE_MAX_TRIALS		100000
#define HALVING_FACTOR		3

typedef enum TuneStrategy
{
	STRATEGY_GRID,
	STRATEGY_RANDOM,
	STRATEGY_TPE,
	STRATEGY_HALVING
} TuneStrategy;

/* A trial as the leader keeps it. */
typedef struct Trial
{
	double	   *point;			/* in the search space */
	char	   *params;			/* full hyperparams JSON */
	bool		finished;
	bool		failed;
	bool		pruned;
	double		mean;
	double		std;
	int			rung;
	TuneSlot	last;			/* the last evaluation, as recorded */
} Trial;

/* The leader's state. */
typedef struct Search
{
	TrainRun   *run;
	TuneStrategy strategy;
	SearchSpace *space;
	Jsonb	   *base;			/* the hyperparams argument */
	TuneShared *sh;
	TuneData	data;
	dsm_segment *seg;
	int			nworkers;
	BackgroundWorkerHandle *handles[TUNE_MAX_WORKERS];
	bool		in_process;		/* no workers: the leader runs the trials */
	AifRng		rng;
	int			ntrials;		/* planned (halving: candidates) */
	Trial	   *trials;
	int			started;		/* trials handed out */
	int			done;			/* evaluations finished (all rungs) */
	int			total_evals;	/* evaluations planned */
	const char *resource_key;	/* halving */
	SearchRung	rungs[SEARCH_MAX_RUNGS];
	int			nrungs;
} Search;

static TuneStrategy
parse_strategy(const char *s)
{
	if (strcmp(s, "grid") == 0)
		return STRATEGY_GRID;
	if (strcmp(s, "random") == 0)
		return STRATEGY_RANDOM;
	if (strcmp(s, "tpe") == 0)
		return STRATEGY_TPE;
	if (strcmp(s, "halving") == 0)
		return STRATEGY_HALVING;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown search strategy \"%s\"", s),
			 errhint("Use grid, random, tpe or halving.")));
	return STRATEGY_RANDOM;		/* keep compiler quiet */
}

/* The base hyperparams with the point's values over them, as JSON text. */
static char *
merged_params(Search *s, const double *point, const char *resource_key, int resource)
{
	Datum		merged;
	char	   *text;

	merged = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(s->base),
								 JsonbPGetDatum(JsonbFromCString(SearchPointJson(s->space, point))));
	if (resource_key)
		merged = DirectFunctionCall2(jsonb_concat, merged,
									 JsonbPGetDatum(JsonbFromCString(psprintf("{\"%s\": %d}",
																			  resource_key, resource))));
	text = JsonbToCString(NULL, &DatumGetJsonbP(merged)->root, 0);
	if (strlen(text) >= TUNE_PARAMS_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a trial's hyperparameters take %zu bytes, more than %d",
						strlen(text), TUNE_PARAMS_LEN - 1),
				 errhint("Shorten the choices of the search space.")));
	return text;
}

/*
 * Each training row's fold: rows shuffled with the seed and dealt out in
 * turn -- within each class for classification (stratified, as
 * scikit-learn's StratifiedKFold with shuffle), so every fold holds each
 * class in proportion.
 */
static uint8 *
assign_folds(const Dataset *ds, int folds, bool stratified, int nclasses, uint64 seed)
{
	int64		n = ds->ntrain;
	uint8	   *fold = palloc(Max(n, 1));
	int64	   *order = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * Max(n, 1));
	AifRng		rng;
	int			ngroups = stratified ? nclasses : 1;

	AifRngSeed(&rng, seed ^ UINT64CONST(0x5DEECE66D));
	for (int g = 0; g < ngroups; g++)
	{
		int64		m = 0;

		for (int64 i = 0; i < n; i++)
			if (!stratified || (int) ds->ytrain[i] == g)
				order[m++] = i;
		/* Fisher-Yates */
		for (int64 i = m - 1; i > 0; i--)
		{
			int64		j = (int64) AifRngBelow(&rng, (uint64) i + 1);
			int64		t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (int64 i = 0; i < m; i++)
			fold[order[i]] = (uint8) (i % folds);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(order);
	return fold;
}

/* The DSM segment with the shared data, and the data attached. */
static void
share_data(Search *s, const Dataset *ds, const uint8 *fold, const TreeBins *bins,
		   int nslots)
{
	TrainRun   *run = s->run;
	bytea	   *plan = ModelSerialize(run->model);
	const void *binblock = NULL;
	Size		binbytes = 0;
	Size		off;
	TuneShared *sh;
	char	   *base;

	if (bins)
		TreeBinsFlat(bins, &binblock, &binbytes);
	off = MAXALIGN(sizeof(TuneShared));
	off = TYPEALIGN(16, off);
	{
		Size		off_slots = off;
		Size		off_model;
		Size		off_X;
		Size		off_y;
		Size		off_fold;
		Size		off_bins;

		off += sizeof(TuneSlot) * nslots;
		off_model = off = TYPEALIGN(16, off);
		off += VARSIZE(plan);
		off_X = off = TYPEALIGN(16, off);
		off += sizeof(double) * ds->ntrain * ds->p;
		off_y = off = TYPEALIGN(16, off);
		off += sizeof(double) * ds->ntrain;
		off_fold = off = TYPEALIGN(16, off);
		off += ds->ntrain;
		off_bins = off = TYPEALIGN(16, off);
		off += binbytes;

		s->seg = dsm_create(off, 0);
		base = dsm_segment_address(s->seg);
		sh = (TuneShared *) base;
		memset(sh, 0, sizeof(TuneShared));
		sh->off_slots = off_slots;
		sh->off_model = off_model;
		sh->len_model = VARSIZE(plan);
		sh->off_X = off_X;
		sh->off_y = off_y;
		sh->off_fold = off_fold;
		sh->off_bins = bins ? off_bins : 0;
		sh->len_bins = binbytes;
		sh->total = off;
	}
	SpinLockInit(&sh->mutex);
	sh->leader_pid = MyProcPid;
	sh->leader_procno = MyProc->pgprocno;
	sh->database = MyDatabaseId;
	sh->role = GetUserId();
	sh->algorithm = run->algorithm;
	sh->task = run->task;
	sh->seed = run->seed;
	sh->bins_max_bin = run->hp.max_bin;
	sh->n = ds->ntrain;
	sh->p = ds->p;
	sh->nslots = nslots;
	memset(base + sh->off_slots, 0, sizeof(TuneSlot) * nslots);
	memcpy(base + sh->off_model, plan, VARSIZE(plan));
	memcpy(base + sh->off_X, ds->Xtrain, sizeof(double) * ds->ntrain * ds->p);
	memcpy(base + sh->off_y, ds->ytrain, sizeof(double) * ds->ntrain);
	memcpy(base + sh->off_fold, fold, ds->ntrain);
	if (bins)
		memcpy(base + sh->off_bins, binblock, binbytes);
	s->sh = sh;
	TuneDataAttach(sh, &s->data);
}

/* Start up to want trial workers; returns how many were registered. */
static int
start_workers(Search *s, int want)
{
	BackgroundWorker worker;
	int			n = 0;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "aifactory");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "aifactory_trial_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "aifactory tune %lld trial worker",
			 (long long) s->sh->search_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, "aifactory trial worker");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(s->seg));
	worker.bgw_notify_pid = MyProcPid;
	for (int i = 0; i < want && i < TUNE_MAX_WORKERS; i++)
	{
		if (!RegisterDynamicBackgroundWorker(&worker, &s->handles[n]))
			break;
		n++;
	}
	return n;
}

/* Are any of the workers still alive (started or starting)? */
static bool
workers_alive(Search *s)
{
	for (int i = 0; i < s->nworkers; i++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(s->handles[i], &pid) != BGWH_STOPPED)
			return true;
	}
	return false;
}

static void
wake_workers(TuneShared *sh)
{
	for (int i = 0; i < sh->nworkers; i++)
		SetLatch(&ProcGlobal->allProcs[sh->worker_procno[i]].procLatch);
}

/*
 * Tell the workers to stop: abort set, and every running one cancelled
 * (SIGINT), so a trial in the middle of a fit ends now.
 */
static void
stop_workers(Search *s)
{
	if (s->sh == NULL)
		return;
	SpinLockAcquire(&s->sh->mutex);
	s->sh->abort = true;
	SpinLockRelease(&s->sh->mutex);
	for (int i = 0; i < s->nworkers; i++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(s->handles[i], &pid) == BGWH_STARTED)
			kill(pid, SIGINT);
	}
	wake_workers(s->sh);
}

/* What a source of evaluations says. */
#define NEXT_NONE	0			/* no more */
#define NEXT_OK		1			/* here is one */
#define NEXT_WAIT	(-1)		/* not before some running ones finish */

/* The next trial's point, per strategy: NEXT_OK, NEXT_NONE or NEXT_WAIT. */
static int
next_point(Search *s, double *point)
{
	int			d = s->space->ndims;

	switch (s->strategy)
	{
		case STRATEGY_GRID:
			if (s->started >= s->ntrials)
				return NEXT_NONE;
			SearchGridPoint(s->space, s->started, point);
			return NEXT_OK;
		case STRATEGY_RANDOM:
		case STRATEGY_HALVING:
			if (s->started >= s->ntrials)
				return NEXT_NONE;
			SearchRandomPoint(s->space, &s->rng, point);
			return NEXT_OK;
		case STRATEGY_TPE:
			{
				/*
				 * Trial k is proposed from trials 1 .. k - W, W the
				 * evaluations in flight at once, and waits until those have
				 * finished: so the proposals do not depend on which trial a
				 * worker happened to finish first, and a seed reproduces the
				 * search.
				 */
				int			m = Max(0, s->started - s->sh->nslots);
				double	   *pts;
				double	   *scores;
				TpeOptions	opts;

				if (s->started >= s->ntrials)
					return NEXT_NONE;
				for (int t = 0; t < m; t++)
					if (!s->trials[t].finished)
						return NEXT_WAIT;
				pts = palloc(sizeof(double) * Max(m * d, 1));
				scores = palloc(sizeof(double) * Max(m, 1));
				SearchTpeDefaultOptions(&opts);
				opts.maximize = s->sh->maximize;
				for (int t = 0; t < m; t++)
				{
					memcpy(pts + (Size) t * d, s->trials[t].point, sizeof(double) * d);
					scores[t] = s->trials[t].failed ? NAN : s->trials[t].mean;
				}
				SearchTpeSuggest(s->space, pts, scores, m, &opts, &s->rng, point);
				pfree(pts);
				pfree(scores);
				return NEXT_OK;
			}
	}
	return NEXT_NONE;
}

/*
 * The search's progress, for the jobs view when tune runs as a job (a
 * no-op otherwise): the share of the planned evaluations done.
 */
static void
report_progress(Search *s)
{
	JobReportProgress("trials",
					  0.05 + 0.85 * (s->total_evals > 0 ? (double) s->done / s->total_evals : 0));
}

/* Run the slot here, in the leader's transaction (no workers). */
static void
run_in_process(Search *s, TuneSlot *slot)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "aifactory trial",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	slot->worker = MyProcPid;
	TuneRecordTrial(s->sh, slot, "running");
	TuneEvaluate(&s->data, slot);
	TuneRecordTrial(s->sh, slot, "complete");
	slot->state = SLOT_DONE;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/* Take what a finished slot holds into the trial it ran; frees the slot. */
static void
collect(Search *s, TuneSlot *slot)
{
	Trial	   *t = &s->trials[slot->trial - 1];

	t->last = *slot;
	t->rung = slot->rung;
	t->finished = true;
	t->failed = slot->state == SLOT_FAILED;
	t->mean = slot->mean;
	t->std = slot->std;
	s->done++;
	if (t->failed)
		ereport(NOTICE,
				(errmsg("trial %d failed: %s", slot->trial, slot->error)));
	slot->state = SLOT_FREE;
}

/*
 * The next evaluation to hand out: a trial number (1-based) whose params
 * are set, with its rung and resource; NEXT_OK, NEXT_NONE or NEXT_WAIT.
 */
typedef int (*NextEval) (Search *s, int *trial, int *rung, int *resource);

/*
 * Hand evaluations to free slots as they free up until next() has no more
 * and every one handed out has come back.  The workers take them; without
 * workers (or when they have all gone) the leader runs them itself.
 */
static void
run_evaluations(Search *s, NextEval next)
{
	bool		exhausted = false;
	int			outstanding = 0;

	for (;;)
	{
		bool		handed = false;

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < s->sh->nslots; i++)
		{
			TuneSlot   *slot = &s->data.slots[i];
			TuneSlotState st;

			SpinLockAcquire(&s->sh->mutex);
			st = slot->state;
			SpinLockRelease(&s->sh->mutex);
			if (st == SLOT_DONE || st == SLOT_FAILED)
			{
				collect(s, slot);
				outstanding--;
			}
		}
		for (int i = 0; i < s->sh->nslots && !exhausted; i++)
		{
			TuneSlot   *slot = &s->data.slots[i];
			int			trial;
			int			rung;
			int			resource;

			int			got;

			if (slot->state != SLOT_FREE)
				continue;
			got = next(s, &trial, &rung, &resource);
			if (got == NEXT_WAIT)
				break;
			if (got == NEXT_NONE)
			{
				exhausted = true;
				break;
			}
			memset(slot, 0, sizeof(TuneSlot));
			slot->trial = trial;
			slot->rung = rung;
			slot->resource = resource;
			strlcpy(slot->params, s->trials[trial - 1].params, TUNE_PARAMS_LEN);
			s->trials[trial - 1].finished = false;
			if (s->in_process)
			{
				run_in_process(s, slot);
				collect(s, slot);
				report_progress(s);
				CHECK_FOR_INTERRUPTS();
				i--;			/* the same slot is free again */
				continue;
			}
			SpinLockAcquire(&s->sh->mutex);
			slot->state = SLOT_PENDING;
			SpinLockRelease(&s->sh->mutex);
			outstanding++;
			handed = true;
		}
		if (handed)
			wake_workers(s->sh);
		report_progress(s);
		if (exhausted && outstanding == 0)
			break;
		if (!s->in_process && !workers_alive(s))
		{
			/* every worker is gone: run what they left here */
			ereport(NOTICE,
					(errmsg("the trial workers have exited; running the remaining trials in this session")));
			s->in_process = true;
			for (int i = 0; i < s->sh->nslots; i++)
			{
				TuneSlot   *slot = &s->data.slots[i];

				if (slot->state == SLOT_PENDING || slot->state == SLOT_RUNNING)
				{
					run_in_process(s, slot);
					collect(s, slot);
					outstanding--;
				}
			}
			continue;
		}
		if (s->in_process)
			continue;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* A new trial at point; returns its number. */
static int
add_trial(Search *s, const double *point, int resource)
{
	Trial	   *t = &s->trials[s->started];
	int			d = s->space->ndims;

	t->point = palloc(sizeof(double) * Max(d, 1));
	memcpy(t->point, point, sizeof(double) * d);
	t->params = merged_params(s, point, s->resource_key, resource);
	return ++s->started;
}

/* grid, random and tpe: one evaluation per new trial */
static int
next_trial(Search *s, int *trial, int *rung, int *resource)
{
	double	   *point = palloc(sizeof(double) * Max(s->space->ndims, 1));
	int			got = next_point(s, point);

	if (got != NEXT_OK)
		return got;
	*trial = add_trial(s, point, 0);
	*rung = 0;
	*resource = 0;
	return NEXT_OK;
}

/* halving: the candidates of the current rung, in turn */
static int *rung_todo;
static int	rung_ntodo;
static int	rung_next;
static int	rung_number;

static int
next_of_rung(Search *s, int *trial, int *rung, int *resource)
{
	if (rung_next >= rung_ntodo)
		return NEXT_NONE;
	*trial = rung_todo[rung_next++];
	*rung = rung_number;
	*resource = s->rungs[rung_number].resource;
	s->trials[*trial - 1].params = merged_params(s, s->trials[*trial - 1].point,
												 s->resource_key, *resource);
	return NEXT_OK;
}

static int
compare_trials_desc(const void *a, const void *b, void *arg)
{
	const Trial *trials = arg;
	const Trial *x = &trials[*(const int *) a - 1];
	const Trial *y = &trials[*(const int *) b - 1];
	double		vx = x->failed ? -INFINITY : x->mean;
	double		vy = y->failed ? -INFINITY : y->mean;

	if (vx != vy)
		return vx > vy ? -1 : 1;
	return *(const int *) a - *(const int *) b;
}

/*
 * Successive halving: every candidate at the first rung's resource, then
 * the best third at three times the resource, and so on; the candidates
 * left behind are recorded as pruned.
 */
static void
run_halving(Search *s)
{
	double	   *point = palloc(sizeof(double) * Max(s->space->ndims, 1));
	int		   *alive = palloc(sizeof(int) * s->ntrials);
	int			nalive = s->ntrials;

	for (int c = 0; c < s->ntrials; c++)
	{
		SearchRandomPoint(s->space, &s->rng, point);
		alive[c] = add_trial(s, point, s->rungs[0].resource);
	}
	for (int r = 0; r < s->nrungs; r++)
	{
		int			keep;

		rung_todo = alive;
		rung_ntodo = nalive;
		rung_next = 0;
		rung_number = r;
		run_evaluations(s, next_of_rung);
		/* best first; higher is better once minimized metrics are negated */
		for (int i = 0; i < nalive; i++)
		{
			Trial	   *t = &s->trials[alive[i] - 1];

			if (!s->sh->maximize && !t->failed)
				t->mean = -t->mean;
		}
		qsort_arg(alive, nalive, sizeof(int), compare_trials_desc, s->trials);
		for (int i = 0; i < nalive; i++)
		{
			Trial	   *t = &s->trials[alive[i] - 1];

			if (!s->sh->maximize && !t->failed)
				t->mean = -t->mean;
		}
		if (r + 1 >= s->nrungs)
			break;
		keep = s->rungs[r + 1].n_candidates;
		for (int i = keep; i < nalive; i++)
		{
			Trial	   *t = &s->trials[alive[i] - 1];

			if (t->failed)
				continue;
			t->pruned = true;
			TuneRecordTrial(s->sh, &t->last, "pruned");
		}
		nalive = Min(keep, nalive);
	}
}

/* The best finished trial (0 when every one failed). */
static int
best_trial(Search *s)
{
	int			best = 0;

	for (int t = 0; t < s->started; t++)
	{
		Trial	   *tr = &s->trials[t];

		if (!tr->finished || tr->failed || tr->pruned || isnan(tr->mean))
			continue;
		/* halving: only the last rung reached counts */
		if (s->strategy == STRATEGY_HALVING && best > 0 &&
			tr->rung != s->trials[best - 1].rung)
		{
			if (tr->rung < s->trials[best - 1].rung)
				continue;
			best = t + 1;
			continue;
		}
		if (best == 0 ||
			(s->sh->maximize ? tr->mean > s->trials[best - 1].mean :
			 tr->mean < s->trials[best - 1].mean))
			best = t + 1;
	}
	return best;
}

/*
 * Run the strategy's trials.  On any error -- a cancel of this session
 * included -- the workers are told to stop and the running ones cancelled,
 * so nothing keeps computing for a search that is gone.
 */
static void
run_search(Search *s)
{
	PG_TRY();
	{
		if (s->strategy == STRATEGY_HALVING)
			run_halving(s);
		else
			run_evaluations(s, next_trial);
	}
	PG_CATCH();
	{
		stop_workers(s);
		PG_RE_THROW();
	}
	PG_END_TRY();
	SpinLockAcquire(&s->sh->mutex);
	s->sh->finished = true;
	SpinLockRelease(&s->sh->mutex);
	wake_workers(s->sh);
}

/* The hyperparameter halving spends: trees, or iterations. */
static const char *
halving_resource(AlgorithmId algorithm)
{
	switch (algorithm)
	{
		case ALGO_GBDT:
		case ALGO_RANDOM_FOREST:
			return "n_estimators";
		case ALGO_LOGISTIC:
		case ALGO_ELASTIC_NET:
			return "max_iter";
		default:
			return NULL;
	}
}

static char *
text_arg(FunctionCallInfo fcinfo, int i)
{
	return PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/*
 * tune(project, source, target, algorithm, search_space, strategy, trials,
 *		folds, metric, workers, test_size, seed, deploy, hyperparams)
 */
Datum
aifactory_tune(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller = CurrentMemoryContext;
	TrainRun	run;
	TrainArgs	args;
	TrainResult result;
	ProjectInfo project;
	bool		project_exists;
	Search		search;
	Search	   *s = &search;
	Dataset    *ds;
	uint8	   *fold;
	TreeBins   *bins = NULL;
	int			folds;
	int			workers;
	char	   *metric;
	bool		maximize;
	int			best;
	instr_time	start;
	instr_time	elapsed;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	char	   *best_point;

	INSTR_TIME_SET_CURRENT(start);
	InitMaterializedSRF(fcinfo, 0);
	memset(s, 0, sizeof(Search));

	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("search_space must not be NULL"),
				 errhint("For example '{\"max_depth\": [3, 6], \"learning_rate\": {\"log_uniform\": [0.01, 0.3]}}'.")));
	memset(&args, 0, sizeof(args));
	args.project = text_arg(fcinfo, 0);
	args.source = text_arg(fcinfo, 1);
	args.target = text_arg(fcinfo, 2);
	args.algorithm = text_arg(fcinfo, 3);
	args.hyperparams = PG_ARGISNULL(13) ? NULL : PG_GETARG_JSONB_P(13);
	args.test_size_null = PG_ARGISNULL(10);
	args.test_size = args.test_size_null ? 0 : PG_GETARG_FLOAT8(10);
	args.seed_null = PG_ARGISNULL(11);
	args.seed = args.seed_null ? 0 : PG_GETARG_INT32(11);
	args.deploy = PG_ARGISNULL(12) ? "best" : text_arg(fcinfo, 12);
	s->strategy = parse_strategy(PG_ARGISNULL(5) ? "random" : text_arg(fcinfo, 5));
	s->ntrials = PG_ARGISNULL(6) ? 20 : PG_GETARG_INT32(6);
	folds = PG_ARGISNULL(7) ? 5 : PG_GETARG_INT32(7);
	metric = text_arg(fcinfo, 8);
	workers = PG_ARGISNULL(9) ? aif_max_workers : PG_GETARG_INT32(9);
	if (s->ntrials < 1 || s->ntrials > TUNE_MAX_TRIALS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trials must be between 1 and %d", TUNE_MAX_TRIALS)));
	if (folds < 2 || folds > TUNE_MAX_FOLDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("folds must be between 2 and %d", TUNE_MAX_FOLDS),
				 errhint("5 is the usual choice; 3 is quicker.")));
	if (workers < 0 || workers > TUNE_MAX_WORKERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("workers must be between 0 and %d", TUNE_MAX_WORKERS),
				 errhint("0 runs every trial in this session.")));

	SPI_connect();
	TrainBegin(&run, &args, caller, &project, &project_exists);
	s->run = &run;
	if (run.task != TASK_REGRESSION && run.task != TASK_CLASSIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("tune() searches regression and classification models, not %s",
						AlgorithmName(run.algorithm)),
				 errhint("Train kmeans and pca with train() and compare the versions.")));
	s->base = args.hyperparams ? args.hyperparams : JsonbFromCString("{}");
	s->space = SearchSpaceParse(PG_GETARG_JSONB_P(4));

	/*
	 * Every searched name must be a hyperparameter of the algorithm; a value
	 * out of its range fails only the trials that draw it.
	 */
	for (int d = 0; d < s->space->ndims; d++)
		HyperParamCheckName(run.algorithm, s->space->dims[d].name);
	if (s->strategy == STRATEGY_GRID)
	{
		int64		size = SearchGridSize(s->space);

		if (size > TUNE_MAX_GRID)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the grid has %lld points, more than %d", (long long) size, TUNE_MAX_GRID),
					 errhint("List fewer values, or use strategy random or tpe.")));
		s->ntrials = (int) size;
	}
	if (s->strategy == STRATEGY_HALVING)
	{
		int			max_resource;

		s->resource_key = halving_resource(run.algorithm);
		if (s->resource_key == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("halving needs a model with a resource to grow, which %s has not",
							AlgorithmName(run.algorithm)),
					 errhint("Halving works on trees (n_estimators) and on logistic and elastic_net (max_iter).")));
		for (int d = 0; d < s->space->ndims; d++)
			if (strcmp(s->space->dims[d].name, s->resource_key) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("halving spends %s itself, so it cannot be searched", s->resource_key),
						 errhint("Set its largest value in hyperparams instead.")));
		max_resource = strcmp(s->resource_key, "n_estimators") == 0 ?
			run.hp.n_estimators : run.hp.max_iter;
		{
			int64		minr = max_resource;

			/*
			 * The first rung's resource: the largest resource divided by
			 * the factor once per rung it takes to come down to fewer than
			 * factor candidates (scikit-learn's min_resources='exhaust').
			 */
			for (int64 c = s->ntrials; c >= HALVING_FACTOR && minr >= HALVING_FACTOR;
				 c /= HALVING_FACTOR)
				minr /= HALVING_FACTOR;
			s->nrungs = SearchHalvingSchedule(s->ntrials, (int) Max(minr, 1), max_resource,
											  HALVING_FACTOR, s->rungs);
		}
	}

	if (metric == NULL)
		metric = run.task == TASK_REGRESSION ? "r2" : "f1";
	if (!TuneMetricKnown(metric, run.task, &maximize))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown metric \"%s\" for %s", metric, TaskName(run.task)),
				 errhint(run.task == TASK_REGRESSION ? "Use r2, rmse or mae." :
						 "Use accuracy, f1, precision, recall, roc_auc or log_loss.")));

	/* the data, once */
	JobReportProgress("reading the source", 0.0);
	ds = FitLoadDataset(&run);
	DatasetReleaseLoaded(ds);
	if (ds->ntrain < folds)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%d folds need at least %d training rows, but there are %lld",
						folds, folds, (long long) ds->ntrain),
				 errhint("Use fewer folds or more rows.")));
	fold = assign_folds(ds, folds, run.task == TASK_CLASSIFICATION, run.model->nclasses,
						(uint64) (uint32) run.seed);
	if (run.algorithm == ALGO_GBDT || run.algorithm == ALGO_RANDOM_FOREST)
		bins = TreeBinsBuild(ds->Xtrain, ds->ntrain, ds->p, run.hp.max_bin);

	s->trials = palloc0(sizeof(Trial) * s->ntrials);
	AifRngSeed(&s->rng, (uint64) (uint32) run.seed * UINT64CONST(0x9E3779B97F4A7C15) + 7);
	s->total_evals = s->ntrials;
	if (s->strategy == STRATEGY_HALVING)
	{
		s->total_evals = 0;
		for (int r = 0; r < s->nrungs; r++)
			s->total_evals += s->rungs[r].n_candidates;
	}
	workers = Min(workers, s->ntrials);
	share_data(s, ds, fold, bins, Max(workers, 1));
	{
		TuneShared *sh = s->sh;
		bool		isnull;

		RegistryExecAsOwner("SELECT pg_catalog.nextval('aifactory.trials_search_id_seq')",
							0, NULL, NULL, NULL, SPI_OK_SELECT);
		sh->search_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		strlcpy(sh->project, run.project, TUNE_NAME_LEN);
		strlcpy(sh->strategy, PG_ARGISNULL(5) ? "random" : text_arg(fcinfo, 5), sizeof(sh->strategy));
		strlcpy(sh->metric, metric, sizeof(sh->metric));
		sh->maximize = maximize;
		sh->folds = folds;
	}

	if (workers > 0)
		s->nworkers = start_workers(s, workers);
	if (s->nworkers == 0)
	{
		s->in_process = true;
		if (workers > 0)
			ereport(NOTICE,
					(errmsg("no background worker could be started for the trials; running them in this session"),
					 errhint("Raise max_worker_processes (now %d), or wait for other jobs to finish.",
							 max_worker_processes)));
	}

	run_search(s);

	best = best_trial(s);
	if (best == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("every trial of the search failed"),
				 errdetail("The last error: %s", s->trials[s->started - 1].last.error),
				 errhint("Check the search space's ranges against the algorithm's hyperparameters.")));

	/* the winner, on the whole training split */
	{
		Trial	   *w = &s->trials[best - 1];
		char	   *params = w->params;

		if (s->strategy == STRATEGY_HALVING)
			params = merged_params(s, w->point, s->resource_key,
								   strcmp(s->resource_key, "n_estimators") == 0 ?
								   run.hp.n_estimators : run.hp.max_iter);
		HyperParamsParse(run.algorithm, JsonbFromCString(params), &run.hp);
		best_point = SearchPointJson(s->space, w->point);
		JobReportProgress("fitting the best configuration", 0.9);
		FitDataset(&run, ds, (bins && run.hp.max_bin == s->sh->bins_max_bin) ? bins : NULL);
		MetricNumber(&run, "cv_score", w->mean);
		MetricNumber(&run, "cv_std", w->std);
		appendStringInfo(&run.metrics, ", \"tune\": {\"search_id\": %lld, \"strategy\": \"%s\", "
						 "\"metric\": \"%s\", \"folds\": %d, \"trials\": %d, \"best_trial\": %d, "
						 "\"workers\": %d}",
						 (long long) s->sh->search_id, s->sh->strategy, metric, folds, s->started,
						 best, s->nworkers);
	}
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	TrainFinish(&run, &project, project_exists, INSTR_TIME_GET_DOUBLE(elapsed),
				psprintf("\"search_id\": %lld, \"strategy\": \"%s\", \"trials\": %d, \"best\": %s",
						 (long long) s->sh->search_id, s->sh->strategy, s->started, best_point),
				&result);

	MemoryContextSwitchTo(caller);
	TrainResultValues(&run, &result, values);
	values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(best_point));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	dsm_detach(s->seg);
	SPI_finish();
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(run.work);
	return (Datum) 0;
}
