/*-------------------------------------------------------------------------
 *
 * train_internal.h
 *	  One run of aifactory.train(), shared by the files of src/train/.
 *
 *	  train.c		the SQL function: arguments, routing, registration
 *	  columns.c		features, their kinds, the design layout, class labels
 *	  fit_stream.c	the one-pass algorithms (least squares, naive Bayes,
 *					PCA), fitted from parallel-safe aggregate scans
 *	  fit_memory.c	the iterative algorithms, fitted on data loaded once
 *	  report.c		metrics and the JSON stored with a model
 *	  baseline.c	the drift baseline stored with a model (baseline.h)
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_TRAIN_INTERNAL_H
#define AIF_TRAIN_INTERNAL_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "algorithms/lsq.h"
#include "core/model.h"
#include "lib/stringinfo.h"
#include "registry/registry.h"
#include "train/hyperparams.h"
#include "train/pass.h"
#include "utils/array.h"
#include "utils/jsonb.h"

typedef struct TrainRun
{
	char	   *project;
	char	   *source;
	char	   *target;			/* NULL for clustering and decomposition */
	AlgorithmId algorithm;
	TaskKind	task;
	HyperParams hp;
	double		test_size;		/* 0 for the unsupervised tasks */
	int32		seed;
	char	   *deploy;

	char	   *from;			/* FROM clause of the source */
	char	   *lineage;		/* JSON: the training set it is, or NULL */
	char	   *pass_sql;		/* SELECT aifactory._train_pass(...) FROM ... */
	char	   *rows_sql;		/* SELECT target, features FROM ... */
	Model	   *model;
	MemoryContext work;

	/* what a fit leaves for the report */
	StringInfoData metrics;		/* "key": value, ... (without braces) */
	int64		train_rows;
	int64		test_rows;
	bool		evaluated_on_train;

	/* the drift baseline: being built (baseline.h), then serialized */
	struct Baseline *baseline_state;
	bytea	   *baseline;		/* NULL: none */

	/* least squares */
	LsqOptions	lsq_opts;
	int			refinement_passes;
} TrainRun;

/* The arguments of train() (and the training part of tune()). */
typedef struct TrainArgs
{
	char	   *project;
	char	   *source;
	char	   *target;
	char	   *algorithm;		/* NULL: auto */
	Jsonb	   *hyperparams;	/* NULL: defaults */
	ArrayType  *features;		/* NULL: every column but the target */
	bool		test_size_null;
	double		test_size;
	bool		seed_null;
	int32		seed;
	char	   *deploy;			/* NULL: none */
} TrainArgs;

/* What registering a trained model gave. */
typedef struct TrainResult
{
	int			version;
	bool		deployed;
	char	   *metrics;		/* JSON text */
	char	   *hyperparams;	/* JSON text, every key */
} TrainResult;

/* columns.c */
extern void ResolveColumns(TrainRun *run, TupleDesc desc, ArrayType *features);
extern void LayoutDesign(TrainRun *run);
extern void ApplyProfile(TrainRun *run, PassState *st, bool levels);
extern void ApplyClasses(TrainRun *run, LevelDict *d);
extern bool HasCategoricalFeatures(const Model *model);

/* train.c */
extern void TrainBegin(TrainRun *run, const TrainArgs *args, MemoryContext parent,
					   ProjectInfo *project, bool *project_exists);
extern void TrainFinish(TrainRun *run, ProjectInfo *project, bool project_exists,
						double seconds, const char *extra_audit, TrainResult *result);
extern void TrainResultValues(const TrainRun *run, const TrainResult *result, Datum *values);
extern PassState *RunPass(TrainRun *run, PassMode mode, bool impute_known);
extern void NoRowsError(const TrainRun *run, PassState *st);

/* fit_stream.c */
extern void FitLeastSquares(TrainRun *run);
extern void SolveLeastSquares(TrainRun *run, LsqState *lsq, LsqFit *fit);
extern void FitNaiveBayesStream(TrainRun *run);
extern void SolvePca(TrainRun *run, CovState *cov);
extern void FitPcaStream(TrainRun *run);

/* fit_memory.c */
typedef struct Dataset Dataset;
typedef struct TreeBins TreeBins;
extern void FitInMemory(TrainRun *run);
extern Dataset *FitLoadDataset(TrainRun *run);
extern void FitDataset(TrainRun *run, Dataset *ds, const TreeBins *bins);

/* report.c */
extern void MetricNumber(TrainRun *run, const char *key, double v);
extern void MetricArray(TrainRun *run, const char *key, const double *v, int n);
extern void RegressionMetrics(TrainRun *run, const MetricAcc *acc);

typedef struct ClassEval ClassEval;
extern ClassEval *ClassEvalCreate(int nclasses, int64 capacity);
extern void ClassEvalAdd(ClassEval *ev, int actual, const double *proba, int predicted);
extern void ClassificationMetrics(TrainRun *run, ClassEval *ev);
extern char *FeaturesJson(const Model *model);

/* baseline.c */
extern void BaselineFeatures(TrainRun *run, const Dataset *ds);
extern void BaselinePredictions(TrainRun *run, const Dataset *ds, const double *center,
								const double *scale);
extern void BaselineFromStash(TrainRun *run, PassState *st);

#endif							/* AIF_TRAIN_INTERNAL_H */
