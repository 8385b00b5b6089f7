/*-------------------------------------------------------------------------
 *
 * naivebayes.h
 *	  Gaussian naive Bayes, as scikit-learn 1.2's GaussianNB defines it.
 *
 * Training is one pass: the state holds, per class and feature, the row
 * count, mean and sum of squared deviations (M2), updated row by row with
 * Welford's recurrence and merged with Chan et al.'s parallel formula, so
 * it splits across parallel workers and serializes to a flat buffer like
 * LsqState.  NbFinish turns it into sklearn's model: per-class priors
 * (class frequencies), means and population variances plus
 * epsilon = var_smoothing * max_j var(X_j), the variance of each feature
 * over all rows being obtained by merging the per-class statistics.
 *
 * Classes are indexes 0..nclasses-1; mapping labels to indexes is the
 * caller's business and must be the same in every state that is merged.
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_NAIVEBAYES_H
#define AIF_NAIVEBAYES_H

#include "postgres.h"

#define NB_DEFAULT_VAR_SMOOTHING	1e-9	/* sklearn's default */

#define NB_MAX_CLASSES		65536
#define NB_MAX_FEATURES		65536
#define NB_MAX_CELLS		(1 << 24)	/* nclasses * p: 256 MB of mean + M2 */

typedef struct NbState
{
	int			nclasses;
	int			p;
	int64	   *count;			/* nclasses rows per class */
	double	   *mean;			/* nclasses x p, row-major */
	double	   *m2;				/* nclasses x p, sum of squared deviations */
} NbState;

typedef struct NbModel
{
	int			nclasses;
	int			p;
	double	   *prior;			/* nclasses, class frequencies */
	double	   *mean;			/* nclasses x p, row-major (sklearn's theta_) */
	double	   *var;			/* nclasses x p, row-major, epsilon included
								 * (sklearn's var_) */
	double		epsilon;		/* var_smoothing * max feature variance */
	double	   *log_norm;		/* nclasses: log prior - 1/2 sum_j log(2 pi var),
								 * -inf for an empty class; NULL until
								 * NbModelPrepare (NbFinish calls it) */
} NbModel;

/* ERROR (PROGRAM_LIMIT_EXCEEDED) past the NB_MAX_* limits. */
extern NbState *NbCreate(int nclasses, int p);

/* Raise the number of classes (never lowers it); new classes are empty. */
extern void NbGrowClasses(NbState *state, int nclasses);

/*
 * Add one row of class cls (0 <= cls < nclasses) with p features x.
 * ERROR (DATA_EXCEPTION) on a NaN or infinite feature.
 */
extern void NbAdd(NbState *state, int cls, const double *x);

/*
 * into := into + from.  p must match; into grows to from's class count if
 * that is larger.  from is unchanged.
 */
extern void NbMerge(NbState *into, const NbState *from);

/* Flat, unaligned buffer; the layout is described in naivebayes.c. */
extern Size NbSerializedSize(const NbState *state);
extern void NbSerialize(const NbState *state, char *dst);

/* ERROR (DATA_CORRUPTED) on a buffer that NbSerialize cannot have made. */
extern NbState *NbDeserialize(const char *src, Size len);

/*
 * Fill model (arrays palloc'd in the current memory context).  ERROR
 * (INVALID_PARAMETER_VALUE) on a negative or non-finite var_smoothing;
 * ERROR (DATA_EXCEPTION) when the state has no rows, or when a class that
 * has rows would get a zero variance (every feature constant, or
 * var_smoothing = 0 with a feature constant within a class), where
 * sklearn would predict NaN.
 * A class with no rows gets prior 0, mean 0 and variance epsilon, and
 * log-probability -inf at prediction.
 */
extern void NbFinish(const NbState *state, double var_smoothing, NbModel *model);

/*
 * Fill model->log_norm from prior and var (palloc'ing it if NULL): for a
 * model rebuilt from stored bytes.  Prediction works without it, but
 * computes the same sums for every row.
 */
extern void NbModelPrepare(NbModel *model);

/*
 * Log posterior probabilities of the p features x, normalized with
 * log-sum-exp (sklearn's predict_log_proba): logproba has nclasses entries.
 */
extern void NbPredictLogProba(const NbModel *model, const double *x, double *logproba);

#endif							/* AIF_NAIVEBAYES_H */
