/*-------------------------------------------------------------------------
 *
 * tune.h
 *	  Hyperparameter search: what the leader (tune.c) and its trial workers
 *	  (trial.c) share through one dynamic shared memory segment.
 *
 * The leader loads the training split once, assigns every row a fold,
 * bins it for the trees, and copies all of it into the segment together
 * with the model's plan (its fitted preprocessing and classes).  Trials
 * travel through a small table of slots: the leader fills a free slot
 * with a trial's hyperparameters (PENDING), a worker takes it (RUNNING),
 * cross-validates it on the shared rows and leaves the fold scores
 * (DONE or FAILED), and sets the leader's latch.  Workers write each
 * trial's row of aifactory.trials in their own transactions, so the
 * search can be watched from another session while it runs.
 *
 * Layout of the segment:
 *
 *	  TuneShared			the header below
 *	  TuneSlot[nslots]
 *	  model plan			ModelSerialize bytes (no fitted parameters)
 *	  double X[n * p]		the training rows, column-major
 *	  double y[n]			target, or class index
 *	  uint8 fold[n]			each row's fold, 0 .. folds-1
 *	  tree bins				TreeBinsFlat block (gbdt, random_forest)
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_TUNE_H
#define AIF_TUNE_H

#include "postgres.h"

#include "algorithms/gbdt.h"
#include "core/model.h"
#include "storage/dsm.h"
#include "storage/spin.h"

#define TUNE_MAX_FOLDS		20
#define TUNE_MAX_WORKERS	64
#define TUNE_PARAMS_LEN		4096
#define TUNE_ERROR_LEN		512
#define TUNE_NAME_LEN		128

typedef enum TuneSlotState
{
	SLOT_FREE = 0,
	SLOT_PENDING,				/* filled by the leader */
	SLOT_RUNNING,				/* taken by a worker */
	SLOT_DONE,					/* scores in place */
	SLOT_FAILED					/* error in place */
} TuneSlotState;

typedef struct TuneSlot
{
	TuneSlotState state;
	int			trial;			/* 1-based, the row of aifactory.trials */
	int			rung;			/* halving: 0-based rung; else 0 */
	int			resource;		/* halving: trees or iterations; else 0 */
	int			worker;			/* pid that ran it */
	double		seconds;
	double		mean;
	double		std;
	double		fold_scores[TUNE_MAX_FOLDS];
	char		params[TUNE_PARAMS_LEN];	/* the trial's hyperparams, JSON */
	char		error[TUNE_ERROR_LEN];
} TuneSlot;

typedef struct TuneShared
{
	slock_t		mutex;			/* protects the slots' states and the worker
								 * list */
	pid_t		leader_pid;
	int			leader_procno;
	bool		abort;			/* the leader gave up: stop now */
	bool		finished;		/* no more trials: exit when idle */
	int			nworkers;		/* attached so far */
	int			worker_procno[TUNE_MAX_WORKERS];
	int			worker_pid[TUNE_MAX_WORKERS];

	Oid			database;
	Oid			role;

	/* the search */
	int64		search_id;
	char		project[TUNE_NAME_LEN];
	char		strategy[16];
	char		metric[32];
	bool		maximize;
	AlgorithmId algorithm;
	TaskKind	task;
	int32		seed;
	int			folds;
	int			bins_max_bin;	/* max_bin the shared bins were made with */

	/* the data */
	int64		n;
	int			p;
	int			nslots;
	Size		off_slots;
	Size		off_model;
	Size		len_model;
	Size		off_X;
	Size		off_y;
	Size		off_fold;
	Size		off_bins;		/* 0: none */
	Size		len_bins;
	Size		total;
} TuneShared;

/* The shared data as one process sees it. */
typedef struct TuneData
{
	TuneShared *sh;
	TuneSlot   *slots;
	const bytea *model;			/* the plan */
	const double *X;
	const double *y;
	const uint8 *fold;
	TreeBins   *bins;			/* NULL: none */
} TuneData;

/* tune.c / trial.c */
extern void TuneDataAttach(TuneShared *sh, TuneData *data);

/*
 * Cross-validate the slot's hyperparameters on the shared rows: fills
 * slot->fold_scores, mean, std and seconds; errors propagate.
 */
extern void TuneEvaluate(TuneData *data, TuneSlot *slot);

/*
 * Write (insert or update) the trial's row of aifactory.trials as the
 * extension's owner; state is one of running, complete, pruned, failed.
 * SPI must be connected and a transaction open.
 */
extern void TuneRecordTrial(const TuneShared *sh, const TuneSlot *slot, const char *state);

/* Whether higher values of the metric are better; false for unknown names. */
extern bool TuneMetricKnown(const char *metric, TaskKind task, bool *maximize);

#endif							/* AIF_TUNE_H */
