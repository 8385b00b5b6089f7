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
	IMPUTE_ERROR
} ImputeStrategy;

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
} HyperParams;

extern void HyperParamsParse(AlgorithmId algorithm, Jsonb *json, HyperParams *hp);
extern char *HyperParamsJson(AlgorithmId algorithm, const HyperParams *hp);
extern const char *ImputeName(ImputeStrategy strategy);

#endif							/* AIF_HYPERPARAMS_H */
