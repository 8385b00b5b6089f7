/*-------------------------------------------------------------------------
 *
 * pca.h
 *	  Principal component analysis from a mergeable one-pass covariance.
 *
 * The state holds the row count n, the mean vector and the co-moment
 * matrix M2 = sum (x - mean)(x - mean)^T of the rows seen so far.  Rows
 * are buffered and folded in blocks (a dsyrk of the block centered on its
 * own mean, then Chan, Golub and LeVeque's pairwise update), and two
 * states merge by the same pairwise formula, so the result does not depend
 * (beyond rounding) on how rows were split among states.
 *
 * PcaFit then takes the eigen-decomposition of the covariance
 * M2 / (n - 1) (ddof = 1, as scikit-learn's PCA), which gives what
 * sklearn.decomposition.PCA(svd_solver='full') gives from an SVD of the
 * centered data: components_, explained_variance_, explained_variance_ratio_,
 * singular_values_, noise_variance_ and mean_.  Only the signs of the
 * components are chosen differently; see PcaModel.
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_PCA_H
#define AIF_PCA_H

#include "postgres.h"

#define COV_BLOCK_ROWS	256		/* rows buffered before a fold */
#define COV_MAX_COLS	4096	/* p limit (keeps M2 under 128 MB) */

typedef struct CovState
{
	int			p;				/* features */
	int64		n;				/* rows absorbed, buffered ones included */
	double	   *origin;			/* p: the first row folded in; rows are taken
								 * relative to it (see pca.c) */
	double	   *center;			/* p: mean of the folded rows - origin */
	double	   *M2;				/* p x p, column-major, upper triangle used */
	int			nbuf;			/* rows waiting in buf */
	double	   *buf;			/* COV_BLOCK_ROWS x p, row-major (one row
								 * after another) */
	double	   *bmean;			/* p, scratch for a fold or a merge */
} CovState;

typedef struct PcaModel
{
	int			p;				/* features */
	int			ncomp;			/* components kept */
	int64		n_samples;		/* rows the model was fitted on */
	double	   *mean;			/* p */
	double	   *components;		/* ncomp x p, row-major, orthonormal rows in
								 * decreasing order of variance; each row's
								 * entry of largest magnitude is positive
								 * (the first such entry on an exact tie).
								 * sklearn's svd_flip instead makes the
								 * largest-magnitude entry of each column of
								 * U (the scores) positive, so a component
								 * may come out negated relative to
								 * sklearn's. */
	double	   *explained_variance;	/* ncomp eigenvalues of the covariance */
	double	   *explained_variance_ratio;	/* ncomp; NaN if all variance is 0 */
	double	   *singular_values;	/* ncomp: sqrt((n - 1) * variance) */
	double		total_variance; /* trace of the covariance */
	double		noise_variance; /* mean of the variances not kept (over the
								 * min(n, p) components of an SVD), 0 if
								 * none, as sklearn's noise_variance_ */
} PcaModel;

extern CovState *CovCreate(int p);

/* Add one row of p finite values (the caller checks). */
extern void CovAddRow(CovState *state, const double *x);
extern void CovFlush(CovState *state);

/* The mean of the rows (p values); flushes the state. */
extern void CovMean(CovState *state, double *mean);

/* into absorbs from; from is flushed but otherwise unchanged. */
extern void CovMerge(CovState *into, CovState *from);

/* Serialized form: a flat array of doubles; see pca.c for the layout. */
extern Size CovSerializedSize(int p);
extern void CovSerialize(CovState *state, char *dst);
extern CovState *CovDeserialize(const char *src, Size len);

/*
 * The sample covariance (ddof = 1), p x p column-major, both triangles
 * filled; flushes the state.  ERROR with fewer than 2 rows.
 */
extern void CovCovariance(CovState *state, double *cov);

/*
 * Fit a PCA with n_components components, 1 <= n_components <= min(n, p)
 * (sklearn's limit; its default, all components, is min(n, p)); flushes
 * the state.  model's arrays are palloc'd in the current memory context.
 * ERROR with fewer than 2 rows.
 */
extern void PcaFit(CovState *state, int n_components, PcaModel *model);

/* out[c] = components[c] . (x - mean), for the ncomp components. */
extern void PcaTransform(const PcaModel *model, const double *x, double *out);

#endif							/* AIF_PCA_H */
