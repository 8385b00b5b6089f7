/*-------------------------------------------------------------------------
 *
 * hyperparams.h
 *	  Hyperparameters of every algorithm: names and defaults of
 *	  scikit-learn, plus aifactory's own (intercept, standardize, impute).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_HYPERPARAMS_H
#define AIF_HYPERPARAMS_H

#include "postgres.h"

#include "core/model.h"
#include "utils/jsonb.h"

typedef enum ImputeStrategy
{
	IMPUTE_MEAN = 1,
	IMPUTE_MEDIAN,
	IMPUTE_MOST_FREQUENT,
	IMPUTE_ERROR,
	IMPUTE_NONE					/* trees: missing values stay missing */
} ImputeStrategy;

/* What a tree model is fitted for: XGBoost's objective, sklearn's criterion. */
typedef enum TreeTask
{
	TREE_TASK_UNSET = 0,		/* from the project or the target's type */
	TREE_TASK_REGRESSION,		/* reg:squarederror, squared_error */
	TREE_TASK_BINARY,			/* binary:logistic, gini */
	TREE_TASK_MULTICLASS		/* multi:softprob, gini */
} TreeTask;

typedef struct HyperParams
{
	bool		intercept;		/* linear family */
	bool		standardize;	/* ridge, elastic_net, logistic, kmeans, pca */
	ImputeStrategy impute;		/* all */
	double		alpha;			/* ridge, elastic_net */
	double		l1_ratio;		/* elastic_net */
	double		C;				/* logistic */
	int			max_iter;		/* elastic_net, logistic, kmeans */
	double		tol;			/* elastic_net, logistic, kmeans */
	double		var_smoothing;	/* naive_bayes */
	int			n_clusters;		/* kmeans */
	int			n_init;			/* kmeans */
	int			n_components;	/* pca; 0 means all */

	/* trees: XGBoost's names (gbdt), scikit-learn's (random_forest) */
	int			n_estimators;	/* gbdt, random_forest */
	int			max_depth;		/* gbdt; random_forest (0: unlimited) */
	int			max_bin;		/* gbdt, random_forest */
	double		learning_rate;	/* gbdt */
	double		min_child_weight;	/* gbdt */
	double		reg_lambda;		/* gbdt */
	double		gamma;			/* gbdt */
	double		subsample;		/* gbdt */
	double		colsample_bytree;	/* gbdt */
	int			early_stopping_rounds;	/* gbdt; 0: off */
	double		validation_fraction;	/* gbdt, with early stopping */
	double		max_features;	/* random_forest: a fraction (0, 1], a
								 * count > 1, or MAX_FEATURES_SQRT/_LOG2 */
	int			min_samples_leaf;	/* random_forest */
	bool		bootstrap;		/* random_forest */
	TreeTask	tree_task;		/* gbdt's objective, random_forest's criterion */
} HyperParams;

#define MAX_FEATURES_SQRT	(-1.0)
#define MAX_FEATURES_LOG2	(-2.0)
#define MAX_FEATURES_UNSET	(-3.0)	/* sklearn's default: sqrt for classes,
									 * all features for regression */

/* The fraction of p features random_forest tries at each split. */
extern double MaxFeaturesFraction(const HyperParams *hp, int p, bool classification);

extern void HyperParamsParse(AlgorithmId algorithm, Jsonb *json, HyperParams *hp);
extern char *HyperParamsJson(AlgorithmId algorithm, const HyperParams *hp);
extern void HyperParamCheckName(AlgorithmId algorithm, const char *name);
extern const char *ImputeName(ImputeStrategy strategy);

#endif							/* AIF_HYPERPARAMS_H */
