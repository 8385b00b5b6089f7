/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  A model's outputs for one encoded design row: the regression value,
 *	  the class and its probabilities, the cluster, the projection.
 *
 * Shared by prediction (predict.c) and by training, which evaluates the
 * fitted model on the test rows.  The row is the design row after
 * encoding; models with `pre.scaled` standardize it here, into a scratch
 * copy, so the caller's row is never changed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "core/model.h"

/* design rows up to this width are scaled on the stack */
#define STACK_DESIGN 256

/*
 * The row the model's parameters apply to: x itself, or x standardized
 * into buf (which has ndesign slots).
 */
static const double *
scaled_row(const Model *model, const double *x, double *buf)
{
	const Preprocessor *pre = &model->pre;

	if (!pre->scaled)
		return x;
	for (int j = 0; j < pre->ndesign; j++)
		buf[j] = (x[j] - pre->center[j]) / pre->scale[j];
	return buf;
}

static double *
scratch(const Model *model, double *stackbuf)
{
	if (model->pre.ndesign <= STACK_DESIGN)
		return stackbuf;
	return palloc(sizeof(double) * model->pre.ndesign);
}

static void
release(double *buf, double *stackbuf)
{
	if (buf != stackbuf)
		pfree(buf);
}

static inline double
dot(const double *a, const double *b, int n)
{
	double		s = 0;

	for (int j = 0; j < n; j++)
		s += a[j] * b[j];
	return s;
}

/* Index of the largest value; ties go to the lowest index (numpy's argmax). */
static int
argmax(const double *v, int n)
{
	int			best = 0;

	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

/* In place: exp(v - max) / sum, i.e. softmax of v, or of log-probabilities. */
static void
normalize_exp(double *v, int n)
{
	double		m = v[argmax(v, n)];
	double		sum = 0;

	for (int i = 0; i < n; i++)
	{
		v[i] = exp(v[i] - m);
		sum += v[i];
	}
	for (int i = 0; i < n; i++)
		v[i] /= sum;
}

/*
 * A logistic model's class from its decision values, scores[0..nsets-1]
 * (the intercepts plus the coefficients times the row), which become its
 * class probabilities, scores[0..nclasses-1].  A binary model has one
 * decision value: class 1 when it is positive.
 */
int
LogisticClassFromDecision(const Model *model, double *scores)
{
	int			cls;

	if (model->nsets == 1)
	{
		double		t = scores[0];
		double		p1 = t >= 0 ? 1.0 / (1.0 + exp(-t)) : exp(t) / (1.0 + exp(t));

		scores[0] = 1.0 - p1;
		scores[1] = p1;
		return t > 0 ? 1 : 0;
	}
	cls = argmax(scores, model->nclasses);
	normalize_exp(scores, model->nclasses);
	return cls;
}

/*
 * Class scores: probabilities (logistic), or log joint likelihoods
 * (naive Bayes) turned into probabilities.  Returns the class.
 */
static int
classify(const Model *model, const double *z, double *proba)
{
	int			K = model->nclasses;
	int			p = model->pre.ndesign;
	double		stackscores[64];
	double	   *scores = K <= 64 ? stackscores : palloc(sizeof(double) * K);
	int			cls;

	if (model->algorithm == ALGO_LOGISTIC)
	{
		for (int k = 0; k < model->nsets; k++)
			scores[k] = model->intercepts[k] + dot(model->coef + (Size) k * p, z, p);
		cls = LogisticClassFromDecision(model, scores);
	}
	else if (model->algorithm == ALGO_NAIVE_BAYES)
	{
		for (int k = 0; k < K; k++)
		{
			const double *mu = model->nb_mean + (Size) k * p;
			const double *var = model->nb_var + (Size) k * p;
			double		ll = model->nb_prior[k] > 0 ? log(model->nb_prior[k]) : -INFINITY;

			for (int j = 0; j < p; j++)
			{
				double		d = z[j] - mu[j];

				ll -= 0.5 * log(2.0 * M_PI * var[j]) + d * d / (2.0 * var[j]);
			}
			scores[k] = ll;
		}
		cls = argmax(scores, K);
		normalize_exp(scores, K);
	}
	else if (model->trees != NULL && model->task == TASK_CLASSIFICATION)
	{
		const TreeEnsemble *ens = model->trees;

		if (ens->objective == TREE_LOGISTIC)
		{
			double		m;

			TreeEnsemblePredictRaw(ens, z, &m);
			/* class 1 when the margin is positive, as XGBoost's p > 0.5 */
			cls = m > 0 ? 1 : 0;
			TreeEnsembleTransform(ens, &m);
			scores[0] = 1.0 - m;
			scores[1] = m;
		}
		else
		{
			TreeEnsemblePredictRaw(ens, z, scores);
			TreeEnsembleTransform(ens, scores);
			cls = argmax(scores, K);
		}
	}
	else
		elog(ERROR, "%s is not a classifier", AlgorithmName(model->algorithm));

	if (proba)
		memcpy(proba, scores, sizeof(double) * K);
	if (scores != stackscores)
		pfree(scores);
	return cls;
}

static int
nearest_center(const Model *model, const double *z)
{
	int			p = model->pre.ndesign;
	int			best = 0;
	double		bestd = INFINITY;

	for (int c = 0; c < model->k; c++)
	{
		const double *ctr = model->centers + (Size) c * p;
		double		d = 0;

		for (int j = 0; j < p; j++)
		{
			double		t = z[j] - ctr[j];

			d += t * t;
		}
		if (d < bestd)
		{
			bestd = d;
			best = c;
		}
	}
	return best;
}

/*
 * The number predict() returns: the regression value, the class index,
 * or the cluster index.
 */
double
ModelPredictDesign(const Model *model, const double *x)
{
	double		stackbuf[STACK_DESIGN];
	double	   *buf;
	const double *z;
	double		result;

	switch (model->algorithm)
	{
		case ALGO_LINEAR:
		case ALGO_RIDGE:
		case ALGO_ELASTIC_NET:
			if (!model->pre.scaled)
				return model->intercept + dot(model->coef, x, model->pre.ndesign);
			break;
		default:
			break;
	}

	buf = scratch(model, stackbuf);
	z = scaled_row(model, x, buf);
	switch (model->algorithm)
	{
		case ALGO_LINEAR:
		case ALGO_RIDGE:
		case ALGO_ELASTIC_NET:
			result = model->intercept + dot(model->coef, z, model->pre.ndesign);
			break;
		case ALGO_LOGISTIC:
		case ALGO_NAIVE_BAYES:
			result = classify(model, z, NULL);
			break;
		case ALGO_KMEANS:
			result = nearest_center(model, z);
			break;
		case ALGO_GBDT:
		case ALGO_RANDOM_FOREST:
			if (model->task == TASK_CLASSIFICATION)
				result = classify(model, z, NULL);
			else
				TreeEnsemblePredictRaw(model->trees, z, &result);
			break;
		default:
			release(buf, stackbuf);
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("a %s model has no prediction", AlgorithmName(model->algorithm)),
					 errhint("Use aifactory.transform() to project rows onto its components.")));
	}
	release(buf, stackbuf);
	return result;
}

/* The class of a classifier, and its probabilities when proba != NULL. */
int
ModelPredictClass(const Model *model, const double *x, double *proba)
{
	double		stackbuf[STACK_DESIGN];
	double	   *buf = scratch(model, stackbuf);
	int			cls = classify(model, scaled_row(model, x, buf), proba);

	release(buf, stackbuf);
	return cls;
}

/*
 * PCA: the row's coordinates on the components (ncomp values).  k-means:
 * the distance to each center (k values), as scikit-learn's transform.
 */
void
ModelTransform(const Model *model, const double *x, double *out)
{
	double		stackbuf[STACK_DESIGN];
	double	   *buf = scratch(model, stackbuf);
	const double *z = scaled_row(model, x, buf);
	int			p = model->pre.ndesign;

	if (model->algorithm == ALGO_PCA)
	{
		for (int c = 0; c < model->ncomp; c++)
		{
			const double *comp = model->components + (Size) c * p;
			double		s = 0;

			for (int j = 0; j < p; j++)
				s += (z[j] - model->pca_mean[j]) * comp[j];
			out[c] = s;
		}
	}
	else if (model->algorithm == ALGO_KMEANS)
	{
		for (int c = 0; c < model->k; c++)
		{
			const double *ctr = model->centers + (Size) c * p;
			double		d = 0;

			for (int j = 0; j < p; j++)
				d += (z[j] - ctr[j]) * (z[j] - ctr[j]);
			out[c] = sqrt(d);
		}
	}
	else
	{
		release(buf, stackbuf);
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("a %s model has no transform", AlgorithmName(model->algorithm)),
				 errhint("transform() is for pca (the components) and kmeans (distances to the centers).")));
	}
	release(buf, stackbuf);
}
