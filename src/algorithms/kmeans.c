/*-------------------------------------------------------------------------
 *
 * kmeans.c
 *	  k-means clustering (k-means++ seeding, Lloyd iterations) and the
 *	  sampled silhouette score.
 *
 * The iterations follow scikit-learn 1.2 (sklearn/cluster/_kmeans.py and
 * _k_means_lloyd.pyx) step by step, so that from the same initial centers
 * the two produce the same labels, centers, inertia and iteration count
 * (up to rounding, ~1e-15 relative in the unit tests):
 *
 *	  - X is centered on its column means first and all work is done on
 *		X - mean, which keeps ||x||^2 - 2 x.c + ||c||^2 accurate when the
 *		data sit far from the origin; centers are shifted back at the end.
 *	  - One Lloyd iteration assigns every row to its nearest center (ties to
 *		the lowest index), by ||c||^2 - 2 x.c from a dgemm over a block of
 *		rows, then averages each cluster.  A cluster left empty takes the
 *		point farthest from its own center (the farthest points go to the
 *		empty clusters in decreasing order of distance; sklearn takes the
 *		same set of points, in argpartition's order), and that point's old
 *		cluster gives it up.
 *	  - The run stops when no label changed (strict convergence), or when
 *		the sum over centers of their squared moves is <= tol times the
 *		mean per-feature variance of X, or after max_iter iterations; in
 *		the last two cases the labels are recomputed for the final centers.
 *		The inertia is then summed directly from (x - c)^2, not from the
 *		expanded form, so it carries no cancellation error.
 *	  - Of n_init runs the first with the lowest inertia wins; as in
 *		sklearn, a run replaces the best only if it is a different
 *		clustering, not the same one relabelled with an inertia smaller by
 *		rounding.
 *
 * Two deliberate departures, both in degenerate cases: when every point
 * already sits on a chosen center (more clusters than distinct points),
 * k-means++ picks the next center uniformly instead of always taking row 0,
 * and Lloyd leaves clusters empty instead of relocating onto points at
 * distance 0; an empty cluster then sits on the center of the largest
 * cluster (as sklearn >= 1.3 does) rather than at the mean of X.
 *
 * Work is done in blocks of rows copied (centered) from the column-major
 * input, so the input is never copied whole and each block stays in cache
 * between the dgemm, the argmin and the update of the center sums.  Those
 * sums are kept across iterations and only the rows that changed cluster
 * move between them, so once the labels settle an iteration costs one
 * read of X, one dgemm and one argmin.  When k * p is large the centers
 * are taken in tiles too, so no block does more than about
 * KMEANS_TILE_FLOPS of work between two CHECK_FOR_INTERRUPTS().
 *
 * Memory beyond X: 24 bytes a row (two label arrays, the row norms, the
 * k-means++ distances), plus a block of rows and k x p per center array;
 * with threads (below) 8 bytes a row more and the moved rows' values of a
 * round of blocks (at most KMEANS_ROUND_BYTES).
 *
 * On a large input Lloyd's assignment runs in two threads (a helper
 * thread beside the backend's), block by block; the main thread then
 * applies the blocks' changes in block order exactly as the serial step
 * would, so the results are the same whatever the number of threads
 * (KMeansLloydStepThreaded).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "miscadmin.h"

#include <cblas.h>

#include "algorithms/kmeans.h"
#include "algorithms/rng.h"

/*
 * Rows per block: KMEANS_BLOCK_ROWS, fewer for wide data so that a block
 * (B x p doubles) stays within KMEANS_BLOCK_VALUES (2 MB) and a dgemm
 * against a few centers stays short, but never fewer than
 * KMEANS_MIN_BLOCK_ROWS.  Measured on 1M x 20, k = 8, one core with 1 MB
 * of L2: 2048 rows took 15 ms a pass to load and 14 to assign, 4096 rows
 * 12 and 14, 8192 rows 11 and 25 (its distances no longer fit in L2).
 */
#define KMEANS_BLOCK_ROWS	4096
#define KMEANS_MIN_BLOCK_ROWS	16
#define KMEANS_BLOCK_VALUES	262144

/*
 * Upper bound on the flops of one dgemm tile (block rows x centers x p x 2)
 * between two interrupt checks: about 2 ms at 10 GFLOPS.
 */
#define KMEANS_TILE_FLOPS	20000000.0

/*
 * Up to this many clusters, sums may be updated by a dgemm (see
 * KMeansLloydStep); beyond it the +-1 matrix grows past L2, and with more
 * clusters the plain loop rarely adds into the same sums twice in a row.
 */
#define KMEANS_ONEHOT_MAX_K	16

/*
 * Lloyd's assignment runs in threads (KMeansLloydStep) from this many rows
 * up; below, a thread's start costs more than it saves.
 */
#define KMEANS_THREAD_MIN_ROWS	65536

/*
 * Bytes of moved rows' values that one round of threaded blocks may hold
 * (KMeansLloydStepThreaded): a round takes as many blocks as the most
 * values their sparse updates could need would fill (a quarter of their
 * rows with k <= KMEANS_ONEHOT_MAX_K, beyond which a block's update is
 * dense; all rows above).  The rounds should be few: at the end of each
 * this thread waits for the helper, and on a busy machine a wait costs a
 * scheduling delay.  On 1M x 20 with k = 8 one round holds every block
 * (40 MB, a quarter of X).
 */
#ifndef KMEANS_ROUND_BYTES		/* the unit test sets it lower */
#define KMEANS_ROUND_BYTES		(64 * 1024 * 1024)
#endif

/* Silhouette tiles: rows of the sample against columns of the sample. */
#define SIL_TILE_ROWS		128
#define SIL_TILE_COLS		1024

/* A cache line (8 doubles) of the next block, requested ahead of use. */
#if defined(__GNUC__) || defined(__clang__)
#define KMEANS_PREFETCH(addr)	__builtin_prefetch((addr), 0, 0)
#else
#define KMEANS_PREFETCH(addr)	((void) 0)
#endif

/* Scalar loops over rows check for interrupts every 2^20 rows. */
#define KMEANS_CHECK_MASK	0xFFFFF

/* Per-row arrays (norms, distances) must fit one palloc. */
#define KMEANS_MAX_ROWS		((int64) (0x3fffffff / sizeof(double)))

/*
 * The data being clustered and the block scratch shared by every pass:
 * X is the caller's (never modified); xb holds the current block's rows,
 * centered, column-major with leading dimension block.
 */
typedef struct KMeansData
{
	const double *X;			/* n x p, column-major */
	int64		n;
	int			p;
	double	   *mean;			/* p column means */
	double	   *xnorm;			/* n squared norms of the centered rows */
	double		tol_abs;		/* tol * mean variance of the features */
	int			block;			/* rows per block */
	double	   *xb;				/* block x p */
	int			kc;				/* centers per dgemm tile */
	double	   *dist;			/* block x kc: -2 x.c for a tile of centers */
	double	   *onehot;			/* block x k one-hot labels, or NULL */
	double	   *best;			/* block: best ||c||^2 - 2 x.c so far */
	int		   *blab;			/* block: labels of the current block */
	int		   *moved;			/* block: rows whose label changed */
	int			threads;		/* for Lloyd's assignment (KMeansLloydStep) */
	bool		in_thread;		/* a copy used by a helper thread */

	/* threaded Lloyd steps, allocated by the first one (KMeansThreadsPrepare) */
	struct KMeansData *helper;	/* the helper thread's copy, own scratch */
	int64		round_blocks;	/* blocks per round */
	int		   *block_nmoved;	/* round_blocks */
	bool	   *block_dense;	/* round_blocks */
	double	   *block_sums;		/* round_blocks x k x p, or NULL */
	int			slot_rows;		/* moved rows' values a block may leave */
	double	   *moved_vals;		/* round_blocks x slot_rows x p */
	int		   *moved_rows;		/* n */
	int		   *moved_to;		/* n */
} KMeansData;

/*
 * The assignment of a range of blocks in one Lloyd iteration, as one
 * thread computes it (KMeansAssignBlocks).  Per block b of the round
 * (index b - first), the rows whose label changes are listed at the
 * block's own rows of the per-row arrays moved_rows (row within the
 * block) and moved_to (new label), so that threads never write the same
 * memory.  When sums are wanted, a block where many rows move leaves its
 * +-1 update of the center sums in bsums (dense); any other leaves the
 * centered values of its moved rows in vals (slot_rows x p per block, a
 * row's p values together).
 */
typedef struct KMeansAssignTask
{
	KMeansData *d;				/* the thread's copy: its own block scratch */
	int			k;
	const double *centers;
	const double *cnorm;
	const int  *labels;
	bool		want_sums;		/* the step updates the center sums */
	bool		dense;			/* compute bsums for blocks with many moves */
	int64		first;			/* first block of the round */
	int64		last;			/* the round's blocks: [first, last) */
	int64	   *next;			/* the next block to take, shared */
	int		   *nmoved;			/* per block of the round */
	bool	   *took_dense;		/* per block of the round */
	double	   *bsums;			/* per block of the round: k x p */
	double	   *vals;			/* per block of the round: slot_rows x p */
	int			slot_rows;
	int		   *moved_rows;		/* per row of X */
	int		   *moved_to;		/* per row of X */
} KMeansAssignTask;

static void KMeansCheckOptions(int64 n, int p, const KMeansOptions *opts);
static void KMeansPrepare(KMeansData *d, const double *X, int64 n, int p, int k,
						  double tol);
static void KMeansRelease(KMeansData *d);
static int	KMeansUsableThreads(int asked);
static void KMeansThreadsPrepare(KMeansData *d, int k);
static void KMeansLoadBlock(KMeansData *d, int64 r0, int m);
static void KMeansNearestBlock(KMeansData *d, int m, const double *centers,
							   const double *cnorm, int k);
static void KMeansPlusPlus(KMeansData *d, int k, AifRng *rng, double *centers,
						   double *closest);
static void KMeansRun(KMeansData *d, const KMeansOptions *opts, double *centers,
					  int *labels, double *inertia, int *n_iter);
static void KMeansAssignBlocks(KMeansAssignTask *t);
static void *KMeansAssignThread(void *arg);
static int64 KMeansLloydStepThreaded(KMeansData *d, int k, const double *centers,
									 const double *cnorm, int *labels,
									 double *sums, int64 *counts);
static int64 KMeansLloydStep(KMeansData *d, int k, const double *centers,
							 int *labels, double *sums, int64 *counts,
							 double *centers_new);
static void KMeansRelocateEmpty(KMeansData *d, int k, const double *centers_old,
								const int *labels, double *sums, int64 *counts);
static double KMeansInertia(KMeansData *d, const double *centers, const int *labels);
static bool KMeansSameClustering(const int *a, const int *b, int64 n, int k);
static void KMeansFinishModel(const KMeansData *d, int k, const double *centers,
							  double inertia, int n_iter, KMeansModel *model);


void
KMeansDefaultOptions(KMeansOptions *opts)
{
	opts->n_clusters = KMEANS_DEFAULT_N_CLUSTERS;
	opts->n_init = KMEANS_DEFAULT_N_INIT;
	opts->max_iter = KMEANS_DEFAULT_MAX_ITER;
	opts->tol = KMEANS_DEFAULT_TOL;
	opts->seed = 0;
	opts->threads = KMEANS_DEFAULT_THREADS;
}

/*
 * Best of n_init runs of k-means++ followed by Lloyd (see the top of the
 * file).  Run r draws from its own stream, seeded by the r-th output of
 * splitmix64 started at opts->seed, so the runs are independent of each
 * other and of n_init.
 */
void
KMeansFit(const double *X, int64 n, int p, const KMeansOptions *opts,
		  KMeansModel *model, int *labels)
{
	KMeansData	d;
	int			k = opts->n_clusters;
	double	   *centers;
	double	   *best_centers;
	double	   *closest;
	int		   *run_labels;
	int		   *best_labels;
	double		best_inertia = 0;
	int			best_n_iter = 0;
	uint64		seeds = opts->seed;
	int			r;

	KMeansCheckOptions(n, p, opts);
	KMeansPrepare(&d, X, n, p, k, opts->tol);
	d.threads = KMeansUsableThreads(opts->threads);

	centers = (double *) palloc(sizeof(double) * (Size) k * p);
	best_centers = (double *) palloc(sizeof(double) * (Size) k * p);
	closest = (double *) palloc(sizeof(double) * (Size) n);
	run_labels = (int *) palloc(sizeof(int) * (Size) n);
	best_labels = (int *) palloc(sizeof(int) * (Size) n);

	for (r = 0; r < opts->n_init; r++)
	{
		AifRng		rng;
		double		inertia;
		int			n_iter;

		AifRngSeed(&rng, aif_rng_splitmix(&seeds));
		KMeansPlusPlus(&d, k, &rng, centers, closest);
		KMeansRun(&d, opts, centers, run_labels, &inertia, &n_iter);

		if (r == 0 ||
			(inertia < best_inertia &&
			 !KMeansSameClustering(run_labels, best_labels, n, k)))
		{
			int		   *swap = best_labels;

			best_labels = run_labels;
			run_labels = swap;
			memcpy(best_centers, centers, sizeof(double) * (Size) k * p);
			best_inertia = inertia;
			best_n_iter = n_iter;
		}
	}

	KMeansFinishModel(&d, k, best_centers, best_inertia, best_n_iter, model);
	if (labels != NULL)
		memcpy(labels, best_labels, sizeof(int) * (Size) n);

	pfree(centers);
	pfree(best_centers);
	pfree(closest);
	pfree(run_labels);
	pfree(best_labels);
	KMeansRelease(&d);
}

/*
 * A single Lloyd run from the caller's initial centers: sklearn's
 * KMeans(init=init_centers, n_init=1).
 */
void
KMeansLloyd(const double *X, int64 n, int p, const KMeansOptions *opts,
			const double *init_centers, KMeansModel *model, int *labels)
{
	KMeansData	d;
	int			k = opts->n_clusters;
	double	   *centers;
	int		   *run_labels;
	double		inertia;
	int			n_iter;
	int			c;
	int			j;

	KMeansCheckOptions(n, p, opts);
	KMeansPrepare(&d, X, n, p, k, opts->tol);
	d.threads = KMeansUsableThreads(opts->threads);

	centers = (double *) palloc(sizeof(double) * (Size) k * p);
	for (c = 0; c < k; c++)
		for (j = 0; j < p; j++)
		{
			double		v = init_centers[(Size) c * p + j];

			if (!isfinite(v))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("initial center %d has a non-finite value in feature %d",
								c + 1, j + 1)));
			centers[(Size) c * p + j] = v - d.mean[j];
		}
	run_labels = labels != NULL ? labels : (int *) palloc(sizeof(int) * (Size) n);

	KMeansRun(&d, opts, centers, run_labels, &inertia, &n_iter);
	KMeansFinishModel(&d, k, centers, inertia, n_iter, model);

	if (labels == NULL)
		pfree(run_labels);
	pfree(centers);
	KMeansRelease(&d);
}

/*
 * Nearest center by the direct squared distance: one row at predict time
 * does not need the expanded form, and the direct one is exact enough to
 * break ties the same way on every platform.
 */
int
KMeansPredict(const KMeansModel *model, const double *x)
{
	int			best = 0;
	double		best_d2 = HUGE_VAL;
	int			c;

	for (c = 0; c < model->k; c++)
	{
		const double *center = model->centers + (Size) c * model->p;
		double		d2 = 0;
		int			j;

		for (j = 0; j < model->p; j++)
		{
			double		diff = x[j] - center[j];

			d2 += diff * diff;
		}
		if (d2 < best_d2)
		{
			best_d2 = d2;
			best = c;
		}
	}
	return best;
}


/*
 * User errors first, with the hyperparameter's name as in scikit-learn,
 * then sizes we cannot allocate for.
 */
static void
KMeansCheckOptions(int64 n, int p, const KMeansOptions *opts)
{
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot cluster zero rows")));
	if (p < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot cluster rows without features")));
	if (opts->n_clusters < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_clusters must be at least 1, got %d", opts->n_clusters)));
	if (opts->n_clusters > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_clusters (%d) is larger than the number of rows (%lld)",
						opts->n_clusters, (long long) n),
				 errhint("Use at most as many clusters as there are training rows.")));
	if (opts->n_init < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_init must be at least 1, got %d", opts->n_init)));
	if (opts->max_iter < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_iter must be at least 1, got %d", opts->max_iter)));
	if (!(opts->tol >= 0 && isfinite(opts->tol)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tol must be a finite non-negative number, got %g", opts->tol)));
	if (n > KMEANS_MAX_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("k-means cannot cluster %lld rows", (long long) n),
				 errdetail("At most %lld rows are supported.", (long long) KMEANS_MAX_ROWS),
				 errhint("Train on a sample of the rows.")));
	if ((double) opts->n_clusters * p * sizeof(double) > 0x3fffffff)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("k-means cannot hold %d centers of %d features",
						opts->n_clusters, p),
				 errhint("Use fewer clusters or fewer features.")));
}

/*
 * Column means (with a second, correcting pass, so that a large common
 * offset costs no accuracy), the squared norms of the centered rows, and
 * the absolute tolerance: the mean over features of the population
 * variance, which is also sum(xnorm) / (n p), times tol.
 */
static void
KMeansPrepare(KMeansData *d, const double *X, int64 n, int p, int k, double tol)
{
	int64		r0;
	int			j;
	double		total = 0;

	memset(d, 0, sizeof(KMeansData));
	d->threads = 1;
	d->X = X;
	d->n = n;
	d->p = p;
	d->block = Max(KMEANS_MIN_BLOCK_ROWS, Min(KMEANS_BLOCK_ROWS, KMEANS_BLOCK_VALUES / p));
	d->block = (int) Min((int64) d->block, n);
	d->mean = (double *) palloc(sizeof(double) * p);
	d->xnorm = (double *) palloc(sizeof(double) * (Size) n);
	d->xb = (double *) palloc(sizeof(double) * (Size) d->block * p);
	d->best = (double *) palloc(sizeof(double) * d->block);
	d->blab = (int *) palloc(sizeof(int) * d->block);
	d->moved = (int *) palloc(sizeof(int) * d->block);
	/* centers per dgemm tile, so that one stays under KMEANS_TILE_FLOPS */
	d->kc = (int) Max(1.0, Min((double) k, KMEANS_TILE_FLOPS / (2.0 * d->block * p)));
	d->dist = (double *) palloc(sizeof(double) * (Size) d->block * d->kc);
	d->onehot = k <= KMEANS_ONEHOT_MAX_K ?
		(double *) palloc(sizeof(double) * (Size) d->block * k) : NULL;

	for (j = 0; j < p; j++)
	{
		const double *col = X + (Size) j * n;
		double		sum = 0;
		double		corr = 0;
		double		m;
		int64		i;

		for (i = 0; i < n; i++)
		{
			if ((i & KMEANS_CHECK_MASK) == 0)
				CHECK_FOR_INTERRUPTS();
			sum += col[i];
		}
		m = sum / (double) n;
		for (i = 0; i < n; i++)
		{
			if ((i & KMEANS_CHECK_MASK) == 0)
				CHECK_FOR_INTERRUPTS();
			corr += col[i] - m;
		}
		d->mean[j] = m + corr / (double) n;
	}

	for (r0 = 0; r0 < n; r0 += d->block)
	{
		int			m = (int) Min((int64) d->block, n - r0);
		double		block_total = 0;
		int			i;

		KMeansLoadBlock(d, r0, m);
		for (i = 0; i < m; i++)
			d->best[i] = 0;
		for (j = 0; j < p; j++)
		{
			const double *xc = d->xb + (Size) j * d->block;

			for (i = 0; i < m; i++)
				d->best[i] += xc[i] * xc[i];
		}
		for (i = 0; i < m; i++)
		{
			d->xnorm[r0 + i] = d->best[i];
			block_total += d->best[i];
		}
		total += block_total;
	}
	d->tol_abs = tol == 0 ? 0 : tol * total / ((double) n * p);
}

static void
KMeansRelease(KMeansData *d)
{
	pfree(d->mean);
	pfree(d->xnorm);
	pfree(d->xb);
	pfree(d->best);
	pfree(d->blab);
	pfree(d->moved);
	pfree(d->dist);
	if (d->onehot != NULL)
		pfree(d->onehot);
	if (d->helper != NULL)
	{
		KMeansData *h = d->helper;

		pfree(h->xb);
		pfree(h->best);
		pfree(h->blab);
		pfree(h->moved);
		pfree(h->dist);
		if (h->onehot != NULL)
			pfree(h->onehot);
		pfree(h);
		pfree(d->block_nmoved);
		pfree(d->block_dense);
		if (d->block_sums != NULL)
			pfree(d->block_sums);
		pfree(d->moved_vals);
		pfree(d->moved_rows);
		pfree(d->moved_to);
	}
}

/*
 * The threads Lloyd's assignment may use: as asked, at most the online
 * processors, at least one.
 */
static int
KMeansUsableThreads(int asked)
{
	long		online = sysconf(_SC_NPROCESSORS_ONLN);

	if (online > 0 && asked > online)
		asked = (int) online;
	return Max(asked, 1);
}

/*
 * Copy rows r0 .. r0+m-1 of X, centered, into the block buffer.  This is
 * where a pass over the data waits for memory: p interleaved streams, each
 * only m values long, are too short for the hardware prefetcher, so each
 * column's next block is prefetched while the current one is copied (on
 * 1M x 20 this took the copy from ~15 to ~12 ms a pass).
 */
static void
KMeansLoadBlock(KMeansData *d, int64 r0, int m)
{
	int64		ahead = Min((int64) m, d->n - r0 - m);	/* rows of the next block */
	int			j;

	for (j = 0; j < d->p; j++)
	{
		const double *src = d->X + (Size) j * d->n + r0;
		double	   *dst = d->xb + (Size) j * d->block;
		double		mj = d->mean[j];
		int			i;

		for (i = 0; i + 8 <= m; i += 8)
		{
			if (i < ahead)
				KMEANS_PREFETCH(src + m + i);
			dst[i] = src[i] - mj;
			dst[i + 1] = src[i + 1] - mj;
			dst[i + 2] = src[i + 2] - mj;
			dst[i + 3] = src[i + 3] - mj;
			dst[i + 4] = src[i + 4] - mj;
			dst[i + 5] = src[i + 5] - mj;
			dst[i + 6] = src[i + 6] - mj;
			dst[i + 7] = src[i + 7] - mj;
		}
		for (; i < m; i++)
			dst[i] = src[i] - mj;
	}
}

/*
 * For the m rows in the block: d->blab = the nearest of the k centers
 * (centered, row-major) and d->best = ||c||^2 - 2 x.c for it, which is the
 * squared distance less ||x||^2.  Ties go to the lowest index (strict <,
 * centers in increasing order), as in sklearn.
 */
static void
KMeansNearestBlock(KMeansData *d, int m, const double *centers,
				   const double *cnorm, int k)
{
	int			B = d->block;
	int			kc = d->kc;
	int			c0;
	int			i;

	for (i = 0; i < m; i++)
	{
		d->best[i] = HUGE_VAL;
		d->blab[i] = 0;
	}
	for (c0 = 0; c0 < k; c0 += kc)
	{
		int			nc = Min(kc, k - c0);
		int			c;

		if (c0 > 0 && !d->in_thread)
			CHECK_FOR_INTERRUPTS();
		/* dist (nc x m) = centers[c0 .. c0+nc-1] xb^T: a row's distances adjacent */
		cblas_dgemm(CblasColMajor, CblasTrans, CblasTrans, nc, m, d->p,
					-2.0, centers + (Size) c0 * d->p, d->p, d->xb, B,
					0.0, d->dist, nc);
		for (i = 0; i < m; i++)
		{
			const double *di = d->dist + (Size) i * nc;
			double		bv = d->best[i];
			int			bl = d->blab[i];

			/* branch-free: with labels in no order, a branch mispredicts */
			for (c = 0; c < nc; c++)
			{
				double		v = cnorm[c0 + c] + di[c];
				int			lt = v < bv;

				bl += (c0 + c - bl) & -lt;
				bv = v < bv ? v : bv;
			}
			d->best[i] = bv;
			d->blab[i] = bl;
		}
	}
}

/*
 * Greedy k-means++ (Arthur and Vassilvitskii; sklearn's _kmeans_plusplus):
 * the first center is a uniform row; each next one is the best, by the
 * resulting potential (sum of squared distances to the nearest center),
 * of 2 + floor(ln k) rows drawn with probability proportional to their
 * squared distance to the nearest center so far.  centers (k x p) come
 * out centered; closest (n) is scratch.
 */
static void
KMeansPlusPlus(KMeansData *d, int k, AifRng *rng, double *centers, double *closest)
{
	int64		n = d->n;
	int			p = d->p;
	int			B = d->block;
	int			trials = 2 + (int) floor(log((double) k));
	double	   *cand = (double *) palloc(sizeof(double) * (Size) trials * p);
	double	   *cand_norm = (double *) palloc(sizeof(double) * trials);
	double	   *cand_pot = (double *) palloc(sizeof(double) * trials);
	double	   *draws = (double *) palloc(sizeof(double) * trials);
	int64	   *cand_row = (int64 *) palloc(sizeof(int64) * trials);
	double	   *dist = (double *) palloc(sizeof(double) * (Size) B * trials);
	double		pot = 0;
	int			c;
	int			t;
	int			j;

	for (c = 0; c < k; c++)
	{
		int			ncand = c == 0 ? 1 : trials;
		int			best_t = 0;
		int64		r0;

		/* Candidate rows. */
		if (c == 0 || !(pot > 0))
		{
			/*
			 * The first center, or every row already on a center: uniform
			 * (the D^2 distribution is undefined when it sums to zero).
			 */
			for (t = 0; t < ncand; t++)
				cand_row[t] = (int64) AifRngBelow(rng, (uint64) n);
		}
		else
		{
			double		cum = 0;
			int64		last_positive = 0;
			int64		i;
			int			next = 0;

			/* draws sorted, so one pass over the cumulative sum finds all */
			for (t = 0; t < trials; t++)
			{
				double		u = AifRngDouble(rng) * pot;
				int			s = t;

				while (s > 0 && draws[s - 1] > u)
				{
					draws[s] = draws[s - 1];
					s--;
				}
				draws[s] = u;
			}
			for (i = 0; i < n && next < trials; i++)
			{
				if (closest[i] <= 0)
					continue;
				cum += closest[i];
				last_positive = i;
				while (next < trials && draws[next] < cum)
					cand_row[next++] = i;
				if ((i & KMEANS_CHECK_MASK) == 0)
					CHECK_FOR_INTERRUPTS();
			}
			/* rounding can leave the last draws beyond the sum */
			while (next < trials)
				cand_row[next++] = last_positive;
		}

		for (t = 0; t < ncand; t++)
		{
			double	   *row = cand + (Size) t * p;

			for (j = 0; j < p; j++)
				row[j] = d->X[(Size) j * n + cand_row[t]] - d->mean[j];
			cand_norm[t] = d->xnorm[cand_row[t]];
			cand_pot[t] = 0;
		}

		/*
		 * Potential after adding each candidate; for the first center
		 * (nothing to compare with) the distances themselves.
		 */
		if (c > 0)
		{
			for (r0 = 0; r0 < n; r0 += B)
			{
				int			m = (int) Min((int64) B, n - r0);
				const double *xn = d->xnorm + r0;
				const double *cl = closest + r0;

				CHECK_FOR_INTERRUPTS();
				KMeansLoadBlock(d, r0, m);
				cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, ncand, p,
							-2.0, d->xb, B, cand, p, 0.0, dist, B);
				for (t = 0; t < ncand; t++)
				{
					const double *dt = dist + (Size) t * B;
					double		cn = cand_norm[t];
					double		s = 0;
					int			i;

					for (i = 0; i < m; i++)
					{
						double		d2 = Max(xn[i] + cn + dt[i], 0.0);

						s += Min(cl[i], d2);
					}
					cand_pot[t] += s;
				}
			}
			for (t = 1; t < ncand; t++)
				if (cand_pot[t] < cand_pot[best_t])
					best_t = t;
		}

		memcpy(centers + (Size) c * p, cand + (Size) best_t * p, sizeof(double) * p);
		if (c == k - 1)
			break;

		/* closest distances with the chosen center, and the new potential */
		pot = 0;
		for (r0 = 0; r0 < n; r0 += B)
		{
			int			m = (int) Min((int64) B, n - r0);
			const double *xn = d->xnorm + r0;
			double	   *cl = closest + r0;
			double		cn = cand_norm[best_t];
			double		s = 0;
			int			i;

			CHECK_FOR_INTERRUPTS();
			KMeansLoadBlock(d, r0, m);
			cblas_dgemv(CblasColMajor, CblasNoTrans, m, p, -2.0, d->xb, B,
						cand + (Size) best_t * p, 1, 0.0, dist, 1);
			for (i = 0; i < m; i++)
			{
				double		d2 = Max(xn[i] + cn + dist[i], 0.0);

				cl[i] = c == 0 ? d2 : Min(cl[i], d2);
				s += cl[i];
			}
			pot += s;
		}
	}

	pfree(cand);
	pfree(cand_norm);
	pfree(cand_pot);
	pfree(draws);
	pfree(cand_row);
	pfree(dist);
}

/*
 * One Lloyd run from centers (centered coordinates; overwritten with the
 * final ones), as sklearn's _kmeans_single_lloyd.  The per-cluster sums
 * and counts live across iterations and are updated only for the rows
 * whose label changed (KMeansLloydStep).
 */
static void
KMeansRun(KMeansData *d, const KMeansOptions *opts, double *centers, int *labels,
		  double *inertia, int *n_iter)
{
	int			k = opts->n_clusters;
	int			p = d->p;
	double	   *cur = centers;
	double	   *next = (double *) palloc(sizeof(double) * (Size) k * p);
	double	   *other = next;
	double	   *sums = (double *) palloc0(sizeof(double) * (Size) k * p);
	int64	   *counts = (int64 *) palloc0(sizeof(int64) * k);
	bool		strict = false;
	int			it;
	int64		i;

	for (i = 0; i < d->n; i++)
		labels[i] = -1;

	for (it = 0; it < opts->max_iter; it++)
	{
		int64		changed = KMeansLloydStep(d, k, cur, labels, sums, counts, next);
		double		shift = 0;
		double	   *swap;
		Size		c;

		for (c = 0; c < (Size) k * p; c++)
		{
			double		diff = next[c] - cur[c];

			shift += diff * diff;
		}
		swap = cur;
		cur = next;
		next = swap;

		if (changed == 0)
		{
			strict = true;
			break;
		}
		if (shift <= d->tol_abs)
			break;
	}
	*n_iter = Min(it + 1, opts->max_iter);

	/* labels for the final centers (strict convergence already has them) */
	if (!strict)
		KMeansLloydStep(d, k, cur, labels, NULL, NULL, NULL);
	*inertia = KMeansInertia(d, cur, labels);

	if (cur != centers)
		memcpy(centers, cur, sizeof(double) * (Size) k * p);
	pfree(other);
	pfree(sums);
	pfree(counts);
}

/*
 * The scratch of threaded Lloyd steps, once per fit: a copy of d with its
 * own block buffers for the helper thread, the per-row lists of moves and
 * the per-block results of a round.  Allocated here, in the caller's
 * thread and memory context: the threads themselves never allocate.
 */
static void
KMeansThreadsPrepare(KMeansData *d, int k)
{
	KMeansData *h = (KMeansData *) palloc(sizeof(KMeansData));
	int64		nblocks = (d->n + d->block - 1) / d->block;
	Size		per_block = sizeof(double) * (Size) k * d->p;

	*h = *d;
	h->helper = NULL;
	h->in_thread = true;
	h->xb = (double *) palloc(sizeof(double) * (Size) d->block * d->p);
	h->best = (double *) palloc(sizeof(double) * d->block);
	h->blab = (int *) palloc(sizeof(int) * d->block);
	h->moved = (int *) palloc(sizeof(int) * d->block);
	h->dist = (double *) palloc(sizeof(double) * (Size) d->block * d->kc);
	h->onehot = d->onehot != NULL ?
		(double *) palloc(sizeof(double) * (Size) d->block * k) : NULL;

	d->slot_rows = d->onehot != NULL ? d->block / 4 + 1 : d->block;
	d->round_blocks = Min(nblocks, Max((int64) 2,
									   (int64) (KMEANS_ROUND_BYTES / (sizeof(double) * (Size) d->slot_rows * d->p))));
	d->block_nmoved = (int *) palloc(sizeof(int) * d->round_blocks);
	d->block_dense = (bool *) palloc(sizeof(bool) * d->round_blocks);
	d->block_sums = d->onehot != NULL ?
		(double *) palloc(per_block * d->round_blocks) : NULL;
	d->moved_vals = (double *) palloc(sizeof(double) * (Size) d->round_blocks * d->slot_rows * d->p);
	d->moved_rows = (int *) palloc(sizeof(int) * (Size) d->n);
	d->moved_to = (int *) palloc(sizeof(int) * (Size) d->n);
	d->helper = h;
}

/*
 * The assignment of the round's blocks, in whichever thread: each thread
 * takes the next block not yet taken (so a thread that the system leaves
 * waiting delays the round by one block at most), and for each finds the
 * nearest centers, the list of rows that change cluster, and for a block
 * where many change (as KMeansLloydStep decides it) the block's update of
 * the center sums, H^T Xb, for any other the moved rows' values.  Pure
 * arithmetic on memory allocated
 * beforehand: no palloc, no ereport, no interrupt check.
 */
static void
KMeansAssignBlocks(KMeansAssignTask *t)
{
	KMeansData *d = t->d;
	int			k = t->k;
	int			p = d->p;
	int			B = d->block;
	int64		b;

	while ((b = t->first + __atomic_fetch_add(t->next, 1, __ATOMIC_RELAXED)) < t->last)
	{
		int64		r0 = b * B;
		int			m = (int) Min((int64) B, d->n - r0);
		const int  *lab = t->labels + r0;
		int		   *mr = t->moved_rows + r0;
		int		   *mt = t->moved_to + r0;
		int			nm = 0;
		int			i;

		KMeansLoadBlock(d, r0, m);
		KMeansNearestBlock(d, m, t->centers, t->cnorm, k);
		for (i = 0; i < m; i++)
			if (lab[i] != d->blab[i])
			{
				mr[nm] = i;
				mt[nm] = d->blab[i];
				nm++;
			}
		t->nmoved[b - t->first] = nm;
		t->took_dense[b - t->first] = false;
		if (t->dense && nm > 0 && nm * 4 >= m)
		{
			double	   *H = d->onehot;

			memset(H, 0, sizeof(double) * (Size) B * k);
			for (i = 0; i < nm; i++)
			{
				H[(Size) mt[i] * B + mr[i]] = 1.0;
				if (lab[mr[i]] >= 0)
					H[(Size) lab[mr[i]] * B + mr[i]] = -1.0;
			}
			cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, k, m,
						1.0, d->xb, B, H, B, 0.0,
						t->bsums + (Size) (b - t->first) * k * p, p);
			t->took_dense[b - t->first] = true;
		}
		else if (t->want_sums && nm > 0)
		{
			double	   *v = t->vals + (Size) (b - t->first) * t->slot_rows * p;

			for (i = 0; i < nm; i++)
			{
				const double *x = d->xb + mr[i];
				int			j;

				for (j = 0; j < p; j++)
					v[(Size) i * p + j] = x[(Size) j * B];
			}
		}
	}
}

/* A helper thread's body. */
static void *
KMeansAssignThread(void *arg)
{
	KMeansAssignBlocks((KMeansAssignTask *) arg);
	return NULL;
}

/*
 * KMeansLloydStep's assignment and sums in two threads, with exactly the
 * serial step's results.  The blocks are taken in rounds (see
 * KMEANS_ROUND_BYTES); in a round this thread and a helper thread take
 * blocks in turn, as each is ready, recording what changes per block
 * (KMeansAssignBlocks); after the join
 * this thread applies the blocks' changes to the sums, counts and labels
 * in block order, by the same operations in the same order as the serial
 * step: a dense block's H^T Xb added whole, a sparse block's moved rows
 * one by one (from the values the assigning thread copied out of its
 * block buffer).  So the result does not depend on the number of
 * threads, and no thread outlives the round that started it.
 *
 * The helper runs with every signal blocked (a backend's signal handlers
 * must run in its main thread), touches no PostgreSQL state and allocates
 * nothing; this thread checks for interrupts only between rounds, when
 * the helper has been joined.  If the helper cannot be started, this
 * thread assigns every block.
 */
static int64
KMeansLloydStepThreaded(KMeansData *d, int k, const double *centers,
						const double *cnorm, int *labels, double *sums,
						int64 *counts)
{
	int			p = d->p;
	int			B = d->block;
	int64		n = d->n;
	int64		nblocks = (n + B - 1) / B;
	int64		changed = 0;
	int64		first;

	if (d->helper == NULL)
		KMeansThreadsPrepare(d, k);

	for (first = 0; first < nblocks; first += d->round_blocks)
	{
		int64		last = Min(nblocks, first + d->round_blocks);
		KMeansAssignTask mine;
		KMeansAssignTask other;
		int64		next = 0;
		pthread_t	tid;
		sigset_t	all;
		sigset_t	old;
		bool		started;
		int64		b;

		CHECK_FOR_INTERRUPTS();
		mine.d = d;
		mine.k = k;
		mine.centers = centers;
		mine.cnorm = cnorm;
		mine.labels = labels;
		mine.want_sums = sums != NULL;
		mine.dense = sums != NULL && d->onehot != NULL;
		mine.first = first;
		mine.last = last;
		mine.next = &next;
		mine.nmoved = d->block_nmoved;
		mine.took_dense = d->block_dense;
		mine.bsums = d->block_sums;
		mine.vals = d->moved_vals;
		mine.slot_rows = d->slot_rows;
		mine.moved_rows = d->moved_rows;
		mine.moved_to = d->moved_to;
		other = mine;
		other.d = d->helper;

		/* the helper inherits a mask that blocks every signal */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		started = pthread_create(&tid, NULL, KMeansAssignThread, &other) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		KMeansAssignBlocks(&mine);	/* without a helper: every block */
		if (started)
			pthread_join(tid, NULL);

		for (b = first; b < last; b++)
		{
			int64		r0 = b * B;
			int		   *lab = labels + r0;
			const int  *mr = d->moved_rows + r0;
			const int  *mt = d->moved_to + r0;
			int			nm = d->block_nmoved[b - first];
			int			i;
			int			j;
			int			c;

			changed += nm;
			if (nm == 0)
				continue;
			if (sums != NULL && d->block_dense[b - first])
			{
				const double *bs = d->block_sums + (Size) (b - first) * k * p;

				for (c = 0; c < k * p; c++)
					sums[c] += bs[c];
			}
			else if (sums != NULL)
			{
				const double *v = d->moved_vals + (Size) (b - first) * d->slot_rows * p;

				for (i = 0; i < nm; i++)
				{
					const double *x = v + (Size) i * p;
					double	   *to = sums + (Size) mt[i] * p;

					if (lab[mr[i]] >= 0)
					{
						double	   *from = sums + (Size) lab[mr[i]] * p;

						for (j = 0; j < p; j++)
							from[j] -= x[j];
					}
					for (j = 0; j < p; j++)
						to[j] += x[j];
				}
			}
			for (i = 0; i < nm; i++)
			{
				if (sums != NULL)
				{
					if (lab[mr[i]] >= 0)
						counts[lab[mr[i]]]--;
					counts[mt[i]]++;
				}
				lab[mr[i]] = mt[i];
			}
		}
	}
	return changed;
}

/*
 * One Lloyd iteration: assign every row to its nearest center (labels),
 * and unless sums is NULL, bring the clusters' sums and counts up to date
 * with the new labels and average them, with empty clusters relocated,
 * into centers_new.  Returns how many labels changed.
 *
 * Only the rows that changed cluster move their values between sums, so
 * once the iterations settle the update costs next to nothing.  While
 * many rows of a block change (always in the first iteration) the block's
 * share is one dgemm with a matrix H of +1 (new cluster) and -1 (old
 * cluster) entries, bsums (k x p) = H^T Xb, added to the totals: a loop
 * adding rows into the same few sums one after another would be bound by
 * the latency of those additions, and the two-level sum keeps the
 * rounding error of a center from growing with n.
 */
static int64
KMeansLloydStep(KMeansData *d, int k, const double *centers, int *labels,
				double *sums, int64 *counts, double *centers_new)
{
	int			p = d->p;
	int			B = d->block;
	double	   *cnorm = (double *) palloc(sizeof(double) * k);
	double	   *bsums = NULL;
	int64		changed = 0;
	int64		r0;
	int			c;
	int			j;

	for (c = 0; c < k; c++)
		cnorm[c] = cblas_ddot(p, centers + (Size) c * p, 1, centers + (Size) c * p, 1);
	/* one thread per half of the rows, when they are many (see below) */
	if (d->threads > 1 && d->n >= KMEANS_THREAD_MIN_ROWS && d->kc >= k)
		changed = KMeansLloydStepThreaded(d, k, centers, cnorm, labels, sums, counts);
	else
	{
		if (sums != NULL && d->onehot != NULL)
			bsums = (double *) palloc(sizeof(double) * (Size) k * p);

		for (r0 = 0; r0 < d->n; r0 += B)
		{
			int			m = (int) Min((int64) B, d->n - r0);
			int		   *lab = labels + r0;
			int		   *moved = d->moved;
			int			nmoved = 0;
			int			i;

			CHECK_FOR_INTERRUPTS();
			KMeansLoadBlock(d, r0, m);
			KMeansNearestBlock(d, m, centers, cnorm, k);
			for (i = 0; i < m; i++)
				if (lab[i] != d->blab[i])
					moved[nmoved++] = i;
			changed += nmoved;
			if (nmoved == 0)
				continue;

			if (sums != NULL && bsums != NULL && nmoved * 4 >= m)
			{
				double	   *H = d->onehot;

				memset(H, 0, sizeof(double) * (Size) B * k);
				for (i = 0; i < nmoved; i++)
				{
					int			row = moved[i];

					H[(Size) d->blab[row] * B + row] = 1.0;
					if (lab[row] >= 0)
						H[(Size) lab[row] * B + row] = -1.0;
				}
				cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, k, m,
							1.0, d->xb, B, H, B, 0.0, bsums, p);
				for (c = 0; c < k * p; c++)
					sums[c] += bsums[c];
			}
			else if (sums != NULL)
			{
				for (i = 0; i < nmoved; i++)
				{
					int			row = moved[i];
					double	   *to = sums + (Size) d->blab[row] * p;
					const double *x = d->xb + row;

					if (lab[row] >= 0)
					{
						double	   *from = sums + (Size) lab[row] * p;

						for (j = 0; j < p; j++)
							from[j] -= x[(Size) j * B];
					}
					for (j = 0; j < p; j++)
						to[j] += x[(Size) j * B];
				}
			}

			for (i = 0; i < nmoved; i++)
			{
				int			row = moved[i];

				if (sums != NULL)
				{
					if (lab[row] >= 0)
						counts[lab[row]]--;
					counts[d->blab[row]]++;
				}
				lab[row] = d->blab[row];
			}
		}
	}

	if (sums != NULL)
	{
		double	   *tsums = (double *) palloc(sizeof(double) * (Size) k * p);
		int64	   *tcounts = (int64 *) palloc(sizeof(int64) * k);
		int			largest = 0;

		/* relocation changes this iteration's centers, not the sums */
		memcpy(tsums, sums, sizeof(double) * (Size) k * p);
		memcpy(tcounts, counts, sizeof(int64) * k);
		KMeansRelocateEmpty(d, k, centers, labels, tsums, tcounts);
		for (c = 1; c < k; c++)
			if (tcounts[c] > tcounts[largest])
				largest = c;
		for (c = 0; c < k; c++)
		{
			if (tcounts[c] > 0)
			{
				double		scale = 1.0 / (double) tcounts[c];

				for (j = 0; j < p; j++)
					centers_new[(Size) c * p + j] = tsums[(Size) c * p + j] * scale;
			}
		}
		/* still empty: on the largest cluster's center (set just above) */
		for (c = 0; c < k; c++)
			if (tcounts[c] == 0)
				memcpy(centers_new + (Size) c * p, centers_new + (Size) largest * p,
					   sizeof(double) * p);
		pfree(tsums);
		pfree(tcounts);
	}
	if (bsums != NULL)
		pfree(bsums);
	pfree(cnorm);
	return changed;
}

/*
 * sklearn's _relocate_empty_clusters_dense: the e empty clusters take the
 * e rows farthest from the (old) centers they were assigned to, the
 * farthest first; each such row leaves its old cluster's sums.  Nothing
 * moves when every row sits on its center.
 */
static void
KMeansRelocateEmpty(KMeansData *d, int k, const double *centers_old,
					const int *labels, double *sums, int64 *counts)
{
	int			p = d->p;
	int			B = d->block;
	int			n_empty = 0;
	int		   *empty;
	int64	   *far_row;
	double	   *far_dist;
	int			nfar = 0;
	int64		r0;
	int			c;
	int			e;

	for (c = 0; c < k; c++)
		n_empty += counts[c] == 0;
	if (n_empty == 0)
		return;

	empty = (int *) palloc(sizeof(int) * n_empty);
	far_row = (int64 *) palloc(sizeof(int64) * n_empty);
	far_dist = (double *) palloc(sizeof(double) * n_empty);
	for (c = 0, e = 0; c < k; c++)
		if (counts[c] == 0)
			empty[e++] = c;

	/*
	 * The n_empty largest distances, kept sorted (decreasing; on equal
	 * distances the lower row first) by insertion: n_empty <= k is small
	 * next to n, and most rows fail the first comparison.
	 */
	for (r0 = 0; r0 < d->n; r0 += B)
	{
		int			m = (int) Min((int64) B, d->n - r0);
		int			i;

		CHECK_FOR_INTERRUPTS();
		KMeansLoadBlock(d, r0, m);
		for (i = 0; i < m; i++)
			d->best[i] = 0;
		for (int jj = 0; jj < p; jj++)
		{
			const double *xc = d->xb + (Size) jj * B;

			for (i = 0; i < m; i++)
			{
				double		diff = xc[i] - centers_old[(Size) labels[r0 + i] * p + jj];

				d->best[i] += diff * diff;
			}
		}
		for (i = 0; i < m; i++)
		{
			double		dist = d->best[i];
			int			s;

			if (nfar == n_empty && !(dist > far_dist[nfar - 1]))
				continue;
			s = nfar < n_empty ? nfar++ : nfar - 1;
			while (s > 0 && far_dist[s - 1] < dist)
			{
				far_dist[s] = far_dist[s - 1];
				far_row[s] = far_row[s - 1];
				s--;
			}
			far_dist[s] = dist;
			far_row[s] = r0 + i;
		}
	}

	if (far_dist[0] > 0)
	{
		for (e = 0; e < n_empty; e++)
		{
			int			to = empty[e];
			int64		row = far_row[e];
			int			from = labels[row];
			int			jj;

			for (jj = 0; jj < p; jj++)
			{
				double		v = d->X[(Size) jj * d->n + row] - d->mean[jj];

				sums[(Size) from * p + jj] -= v;
				sums[(Size) to * p + jj] = v;
			}
			counts[to] = 1;
			counts[from]--;
		}
	}

	pfree(empty);
	pfree(far_row);
	pfree(far_dist);
}

/* Sum of squared distances to the assigned centers, summed directly. */
static double
KMeansInertia(KMeansData *d, const double *centers, const int *labels)
{
	int			p = d->p;
	int			B = d->block;
	double		total = 0;
	int64		r0;

	for (r0 = 0; r0 < d->n; r0 += B)
	{
		int			m = (int) Min((int64) B, d->n - r0);
		const int  *lab = labels + r0;
		double		s = 0;
		int			i;
		int			j;

		CHECK_FOR_INTERRUPTS();
		KMeansLoadBlock(d, r0, m);
		for (i = 0; i < m; i++)
			d->best[i] = 0;
		for (j = 0; j < p; j++)
		{
			const double *xc = d->xb + (Size) j * B;

			for (i = 0; i < m; i++)
			{
				double		diff = xc[i] - centers[(Size) lab[i] * p + j];

				d->best[i] += diff * diff;
			}
		}
		for (i = 0; i < m; i++)
			s += d->best[i];
		total += s;
	}
	return total;
}

/* Are a and b the same partition up to a renaming of the clusters? */
static bool
KMeansSameClustering(const int *a, const int *b, int64 n, int k)
{
	int		   *map = (int *) palloc(sizeof(int) * k);
	bool		same = true;
	int64		i;

	for (i = 0; i < k; i++)
		map[i] = -1;
	for (i = 0; i < n; i++)
	{
		if ((i & KMEANS_CHECK_MASK) == 0)
			CHECK_FOR_INTERRUPTS();
		if (map[a[i]] == -1)
			map[a[i]] = b[i];
		else if (map[a[i]] != b[i])
		{
			same = false;
			break;
		}
	}
	pfree(map);
	return same;
}

/* Centers back on the scale of X. */
static void
KMeansFinishModel(const KMeansData *d, int k, const double *centers, double inertia,
				  int n_iter, KMeansModel *model)
{
	int			p = d->p;
	int			c;
	int			j;

	model->k = k;
	model->p = p;
	model->centers = (double *) palloc(sizeof(double) * (Size) k * p);
	for (c = 0; c < k; c++)
		for (j = 0; j < p; j++)
			model->centers[(Size) c * p + j] = centers[(Size) c * p + j] + d->mean[j];
	model->inertia = inertia;
	model->n_iter = n_iter;
}


/*
 * Selection sampling (Knuth, TAOCP 3.4.2, algorithm S): row i is taken
 * with probability (still needed) / (rows left), exactly, with integer
 * draws; the rows come out sorted, and no array of n entries is needed.
 */
int64
SilhouetteSampleRows(int64 n, int64 sample_size, uint64 seed, int64 *rows)
{
	int64		s = (sample_size <= 0 || sample_size >= n) ? n : sample_size;
	int64		chosen = 0;
	int64		i;
	AifRng		rng;

	if (s == n)
	{
		for (i = 0; i < n; i++)
			rows[i] = i;
		return n;
	}
	AifRngSeed(&rng, seed);
	for (i = 0; i < n && chosen < s; i++)
	{
		if ((i & KMEANS_CHECK_MASK) == 0)
			CHECK_FOR_INTERRUPTS();
		if (AifRngBelow(&rng, (uint64) (n - i)) < (uint64) (s - chosen))
			rows[chosen++] = i;
	}
	return chosen;
}

/*
 * Mean silhouette of a sample, exactly as sklearn computes
 * silhouette_score on X[sample], labels[sample] (see kmeans.h).  The
 * sample is centered on its mean and copied; Euclidean distances come
 * from ||x||^2 + ||y||^2 - 2 x.y by dgemm in tiles, clamped at zero, with
 * a row's distance to itself exactly 0 (as sklearn sets the diagonal).
 * For each sampled row the tile loop sums its distances per cluster; then
 * a = (own cluster's sum) / (own size - 1), b = the smallest mean
 * distance to another cluster present in the sample, and the row scores
 * (b - a) / max(a, b), or 0 when it is alone in its cluster (or when
 * a = b = 0).
 */
double
SilhouetteSampled(const double *X, int64 n, int p, const int *labels, int k,
				  int64 sample_size, uint64 seed)
{
	int64		s;
	int64	   *rows;
	double	   *Xs;
	double	   *norm;
	double	   *mean;
	int		   *lab;
	int64	   *count;
	double	   *G;
	double	   *sums;
	int			present = 0;
	double		total = 0;
	int64		r0;
	int64		i;
	int			j;
	int			c;

	if (k < 2)
		return NAN;
	if (n < 1 || p < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot compute a silhouette without rows and features")));
	if (n > KMEANS_MAX_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("silhouette cannot sample from %lld rows", (long long) n)));
	s = (sample_size <= 0 || sample_size >= n) ? n : sample_size;
	if ((double) s * p * sizeof(double) > 0x3fffffff)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("silhouette sample of %lld rows x %d features is too large",
						(long long) s, p),
				 errhint("Use a smaller sample size.")));

	rows = (int64 *) palloc(sizeof(int64) * (Size) s);
	s = SilhouetteSampleRows(n, sample_size, seed, rows);

	lab = (int *) palloc(sizeof(int) * (Size) s);
	count = (int64 *) palloc0(sizeof(int64) * k);
	for (i = 0; i < s; i++)
	{
		int			l = labels[rows[i]];

		if (l < 0 || l >= k)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cluster label %d of row %lld is outside 0 .. %d",
							l, (long long) rows[i], k - 1)));
		lab[i] = l;
		if (count[l]++ == 0)
			present++;
	}
	/* sklearn: defined only for 2 <= clusters <= rows - 1 */
	if (present < 2 || present > s - 1)
	{
		pfree(rows);
		pfree(lab);
		pfree(count);
		return NAN;
	}

	mean = (double *) palloc0(sizeof(double) * p);
	Xs = (double *) palloc(sizeof(double) * (Size) s * p);
	norm = (double *) palloc0(sizeof(double) * (Size) s);
	for (j = 0; j < p; j++)
	{
		const double *col = X + (Size) j * n;
		double	   *dst = Xs + (Size) j * s;
		double		sum = 0;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < s; i++)
		{
			dst[i] = col[rows[i]];
			sum += dst[i];
		}
		mean[j] = sum / (double) s;
		for (i = 0; i < s; i++)
		{
			dst[i] -= mean[j];
			norm[i] += dst[i] * dst[i];
		}
	}

	G = (double *) palloc(sizeof(double) * SIL_TILE_ROWS * SIL_TILE_COLS);
	sums = (double *) palloc(sizeof(double) * SIL_TILE_ROWS * (Size) k);
	for (r0 = 0; r0 < s; r0 += SIL_TILE_ROWS)
	{
		int			mr = (int) Min((int64) SIL_TILE_ROWS, s - r0);
		int64		c0;
		int			ii;

		memset(sums, 0, sizeof(double) * SIL_TILE_ROWS * (Size) k);
		for (c0 = 0; c0 < s; c0 += SIL_TILE_COLS)
		{
			int			mc = (int) Min((int64) SIL_TILE_COLS, s - c0);
			int			jj;

			CHECK_FOR_INTERRUPTS();
			/* G (mr x mc) = -2 Xs[r0.., :] Xs[c0.., :]^T */
			cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, mr, mc, p,
						-2.0, Xs + r0, s, Xs + c0, s, 0.0, G, SIL_TILE_ROWS);
			/* a row against itself: exactly zero */
			for (ii = 0; ii < mr; ii++)
			{
				int64		col = r0 + ii - c0;

				if (col >= 0 && col < mc)
					G[(Size) col * SIL_TILE_ROWS + ii] = -2.0 * norm[r0 + ii];
			}
			for (jj = 0; jj < mc; jj++)
			{
				const double *g = G + (Size) jj * SIL_TILE_ROWS;
				double	   *sc = sums + (Size) lab[c0 + jj] * SIL_TILE_ROWS;
				double		nc = norm[c0 + jj];
				const double *nr = norm + r0;

				for (ii = 0; ii < mr; ii++)
				{
					double		d2 = nr[ii] + nc + g[ii];

					sc[ii] += d2 > 0 ? sqrt(d2) : 0.0;
				}
			}
		}

		for (ii = 0; ii < mr; ii++)
		{
			int			own = lab[r0 + ii];
			double		a;
			double		b = HUGE_VAL;
			double		denom;

			if (count[own] <= 1)
				continue;		/* a singleton scores 0 */
			a = sums[(Size) own * SIL_TILE_ROWS + ii] / (double) (count[own] - 1);
			for (c = 0; c < k; c++)
			{
				double		mean_c;

				if (c == own || count[c] == 0)
					continue;
				mean_c = sums[(Size) c * SIL_TILE_ROWS + ii] / (double) count[c];
				if (mean_c < b)
					b = mean_c;
			}
			denom = Max(a, b);
			if (denom > 0)
				total += (b - a) / denom;
		}
	}

	pfree(rows);
	pfree(lab);
	pfree(count);
	pfree(mean);
	pfree(Xs);
	pfree(norm);
	pfree(G);
	pfree(sums);
	return total / (double) s;
}
