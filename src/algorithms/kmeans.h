/*-------------------------------------------------------------------------
 *
 * kmeans.h
 *	  k-means clustering (k-means++ seeding, Lloyd iterations) and the
 *	  sampled silhouette score.
 *
 * Behaves as scikit-learn 1.2's KMeans(init='k-means++', algorithm='lloyd')
 * with the same hyperparameters and defaults: greedy k-means++ with
 * 2 + floor(ln k) local trials per center, Lloyd iterations until the
 * labels stop changing or the squared center shift falls to
 * tol * (mean per-feature variance of X), empty clusters relocated to the
 * points farthest from their centers, and the best of n_init runs by
 * inertia.  The random streams differ from numpy's, so a given seed picks
 * different (equally good) initial centers than sklearn's random_state.
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_KMEANS_H
#define AIF_KMEANS_H

#include "postgres.h"

/* scikit-learn 1.2's defaults */
#define KMEANS_DEFAULT_N_CLUSTERS	8
#define KMEANS_DEFAULT_N_INIT		10
#define KMEANS_DEFAULT_MAX_ITER		300
#define KMEANS_DEFAULT_TOL			1e-4

/*
 * Threads for Lloyd's assignment step on large inputs (capped at the
 * online processors); the results are the same for any number.
 */
#define KMEANS_DEFAULT_THREADS		2

typedef struct KMeansOptions
{
	int			n_clusters;		/* k >= 1, at most the number of rows */
	int			n_init;			/* runs with different seeds, >= 1 */
	int			max_iter;		/* Lloyd iterations per run, >= 1 */
	double		tol;			/* relative to the mean feature variance, >= 0 */
	uint64		seed;			/* run r seeds its RNG with the r-th output of
								 * splitmix64 started at seed */
	int			threads;		/* for Lloyd's assignment on large inputs;
								 * results do not depend on it */
} KMeansOptions;

typedef struct KMeansModel
{
	int			k;
	int			p;
	double	   *centers;		/* k x p, row-major, on the scale of X */
	double		inertia;		/* sum of squared distances to the centers */
	int			n_iter;			/* Lloyd iterations of the best run */
} KMeansModel;

/* Fill opts with scikit-learn's defaults and seed 0. */
extern void KMeansDefaultOptions(KMeansOptions *opts);

/*
 * Cluster the n rows of X (n x p, column-major, finite values: the caller
 * checks) into opts->n_clusters clusters.  model's arrays are palloc'd in
 * the current memory context; labels, if not NULL, receives each row's
 * cluster (0 .. k-1) under the final centers.
 */
extern void KMeansFit(const double *X, int64 n, int p, const KMeansOptions *opts,
					  KMeansModel *model, int *labels);

/*
 * One Lloyd run from given initial centers (k x p, row-major, on the scale
 * of X), as sklearn's KMeans(init=centers, n_init=1): for warm starts and
 * for checking the iterations against a reference without the RNG.
 * opts->n_clusters is k; n_init and seed are ignored.
 */
extern void KMeansLloyd(const double *X, int64 n, int p, const KMeansOptions *opts,
						const double *init_centers, KMeansModel *model, int *labels);

/* The nearest center to x (p values); ties go to the lowest index. */
extern int	KMeansPredict(const KMeansModel *model, const double *x);

/*
 * Mean silhouette coefficient over a seeded random sample of
 * min(sample_size, n) rows (all rows when sample_size <= 0), as
 * sklearn.metrics.silhouette_score(X, labels, sample_size=...) defines
 * it: a sampled row's mean intra-cluster distance a and nearest-other-
 * cluster distance b are taken over the SAMPLE, not over all rows, so the
 * value is sklearn's for the same sample (cost O(s^2 p) for s rows).
 * labels are in 0 .. k-1; a row alone in its cluster (within the sample)
 * scores 0.  NaN when k < 2, or when the sample holds fewer than 2
 * clusters or as many clusters as rows (sklearn raises an error there).
 */
extern double SilhouetteSampled(const double *X, int64 n, int p, const int *labels,
								int k, int64 sample_size, uint64 seed);

/*
 * The rows SilhouetteSampled(..., sample_size, seed) uses, in increasing
 * order (selection sampling, Knuth's algorithm S); rows must hold
 * min(sample_size, n) entries (n when sample_size <= 0).  Returns that
 * count.
 */
extern int64 SilhouetteSampleRows(int64 n, int64 sample_size, uint64 seed, int64 *rows);

#endif							/* AIF_KMEANS_H */
