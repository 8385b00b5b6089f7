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

#include "algorithms/trees.h"

/* Stable numbers: they are written into model bytes. */
typedef enum AlgorithmId
{
	ALGO_LINEAR = 1,
	ALGO_RIDGE = 2,
	ALGO_ELASTIC_NET = 3,
	ALGO_LOGISTIC = 4,
	ALGO_NAIVE_BAYES = 5,
	ALGO_KMEANS = 6,
	ALGO_PCA = 7,
	ALGO_GBDT = 8,
	ALGO_RANDOM_FOREST = 9
} AlgorithmId;

#define ALGO_MAX ALGO_RANDOM_FOREST

/* How class labels read back as numbers in predict(). */
typedef enum LabelKind
{
	LABEL_TEXT = 1,				/* only predict_class() */
	LABEL_NUMBER = 2,			/* the label's numeric value */
	LABEL_BOOL = 3				/* false 0, true 1 */
} LabelKind;

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
	bool		keep_missing;	/* numeric only: NULL stays NaN (trees route
								 * missing values themselves) */
	int			nlevels;		/* categorical only */
	char	  **levels;
	bool		drop_first;
	int			design_offset;	/* first design column of this feature */
	int			ncols;			/* design columns of this feature */
} FeatureSpec;

/*
 * Raw inputs to design columns; then, when `scaled`, each design column j
 * becomes (x_j - center[j]) / scale[j] -- for models whose parameters live
 * on the standardized scale (k-means centers, PCA components).  Linear
 * models fit on standardized data are turned back to the original scale
 * instead, so they need no scaling at prediction.
 */
typedef struct Preprocessor
{
	int			nfeatures;
	FeatureSpec *features;
	int			ndesign;		/* total design columns */
	bool		scaled;
	double	   *center;			/* ndesign, when scaled */
	double	   *scale;			/* ndesign, when scaled */
} Preprocessor;

typedef struct Model
{
	MemoryContext mcxt;
	AlgorithmId algorithm;
	TaskKind	task;
	char	   *target;
	Preprocessor pre;

	/* classification: the labels, sorted; class i is labels[i] */
	int			nclasses;
	char	  **classes;
	LabelKind	label_kind;

	/*
	 * Linear family (linear, ridge, elastic_net, logistic): nsets
	 * coefficient vectors -- one, except for multinomial logistic
	 * regression, which has one per class.  intercept mirrors
	 * intercepts[0].
	 */
	bool		fit_intercept;
	int			nsets;
	double		intercept;
	double	   *intercepts;		/* nsets */
	double	   *coef;			/* nsets x ndesign, row-major */

	/* inference statistics of ordinary least squares (has_stats) */
	bool		has_stats;
	double		intercept_se;
	double	   *coef_se;		/* ndesign */
	double		df_resid;

	/* naive_bayes: per class prior, and mean and variance per design column */
	double	   *nb_prior;		/* nclasses */
	double	   *nb_mean;		/* nclasses x ndesign */
	double	   *nb_var;			/* nclasses x ndesign */

	/* kmeans: centers on the (scaled) design */
	int			k;
	double	   *centers;		/* k x ndesign */

	/* pca: components on the (scaled) design */
	int			ncomp;
	double	   *pca_mean;		/* ndesign */
	double	   *components;		/* ncomp x ndesign */
	double	   *explained_variance;	/* ncomp */

	/* gbdt, random_forest: the ensemble, allocated in mcxt */
	TreeEnsemble *trees;
} Model;

/* What a model's predict() returns for one design row. */
typedef struct Prediction
{
	double		value;			/* regression value, class index, cluster */
	int			cls;			/* classification: class index */
} Prediction;

/* core/modelbytes.c */
extern bytea *ModelSerialize(const Model *model);
extern Model *ModelDeserialize(const bytea *bytes, MemoryContext parent);
extern Model *ModelDeserializeExt(const bytea *bytes, MemoryContext parent,
								  bool allow_incomplete);
extern const char *AlgorithmName(AlgorithmId algorithm);
extern const char *TaskName(TaskKind task);
extern bool AlgorithmFromName(const char *name, AlgorithmId *algorithm);
extern bool TaskFromName(const char *name, TaskKind *task);
extern Model *ModelCreate(MemoryContext parent);

/* core/modelbytes.c */
extern TaskKind AlgorithmTask(AlgorithmId algorithm);

/*
 * predict/evaluate.c: outputs for one encoded design row (scaling, when the
 * model has it, is applied inside; x is not modified).
 */
extern double ModelPredictDesign(const Model *model, const double *x);
extern int	ModelPredictClass(const Model *model, const double *x, double *proba);
extern int	LogisticClassFromDecision(const Model *model, double *scores);
extern void ModelTransform(const Model *model, const double *x, double *out);

#endif							/* AIF_MODEL_H */
