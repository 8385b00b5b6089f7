/*-------------------------------------------------------------------------
 *
 * model.h
 *	  In-memory form of a trained model: the fitted preprocessing that maps
 *	  raw input columns to design columns, and the algorithm's parameters.
 *
 * A Model is built by train/, stored through core/modelbytes.c, cached by
 * registry/cache.c and applied by predict/.  It lives in one memory context
 * (Model->mcxt) so that dropping it is a single MemoryContextDelete.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_MODEL_H
#define AIF_MODEL_H

#include "postgres.h"

/* Stable numbers: they are written into model bytes. */
typedef enum AlgorithmId
{
	ALGO_LINEAR = 1,
	ALGO_RIDGE = 2
} AlgorithmId;

typedef enum TaskKind
{
	TASK_REGRESSION = 1,
	TASK_CLASSIFICATION = 2,
	TASK_CLUSTERING = 3,
	TASK_DECOMPOSITION = 4
} TaskKind;

typedef enum FeatureKind
{
	FEATURE_NUMERIC = 1,
	FEATURE_CATEGORICAL = 2
} FeatureKind;

/*
 * One raw input column and how it becomes design columns.
 *
 * Numeric: one design column; NULL becomes `impute`.  Categorical: one
 * design column per level (levels sorted bytewise); with drop_first the
 * first level is the reference and has no column.  NULL and levels unseen
 * in training encode as all zeros.
 */
typedef struct FeatureSpec
{
	char	   *name;
	FeatureKind kind;
	char	   *type_name;		/* SQL type at training time, for users */
	double		impute;			/* numeric only */
	int			nlevels;		/* categorical only */
	char	  **levels;
	bool		drop_first;
	int			design_offset;	/* first design column of this feature */
	int			ncols;			/* design columns of this feature */
} FeatureSpec;

typedef struct Preprocessor
{
	int			nfeatures;
	FeatureSpec *features;
	int			ndesign;		/* total design columns */
} Preprocessor;

typedef struct Model
{
	MemoryContext mcxt;
	AlgorithmId algorithm;
	TaskKind	task;
	char	   *target;
	Preprocessor pre;

	/* linear family */
	bool		fit_intercept;
	double		intercept;
	double	   *coef;			/* ndesign */

	/* inference statistics of ordinary least squares (has_stats) */
	bool		has_stats;
	double		intercept_se;
	double	   *coef_se;		/* ndesign */
	double		df_resid;
} Model;

/* core/modelbytes.c */
extern bytea *ModelSerialize(const Model *model);
extern Model *ModelDeserialize(const bytea *bytes, MemoryContext parent);
extern const char *AlgorithmName(AlgorithmId algorithm);
extern const char *TaskName(TaskKind task);
extern bool AlgorithmFromName(const char *name, AlgorithmId *algorithm);
extern bool TaskFromName(const char *name, TaskKind *task);
extern Model *ModelCreate(MemoryContext parent);

/* predict/predict.c: the model's output for one encoded design row */
extern double ModelPredictDesign(const Model *model, const double *x);

#endif							/* AIF_MODEL_H */
