/*-------------------------------------------------------------------------
 *
 * test_kmeans.c
 *	  Unit tests of k-means and the sampled silhouette
 *	  (src/algorithms/kmeans.c): planted clusters, the Lloyd iterations and
 *	  empty-cluster relocation against scikit-learn 1.2 from the same
 *	  initial centers, k = 1 and k = n, reproducibility, errors, the
 *	  silhouette against sklearn, and the time of a fit on 1M x 20.
 *
 * Expected numbers from scikit-learn were produced once, while developing,
 * with Debian 12's python3-sklearn 1.2.1: running this program with
 * AIF_TEST_DUMP=<dir> writes its data sets there as CSV (full precision),
 * and the script in the comment at the end of this file prints the
 * numbers hard-coded below.  The tests themselves never call Python.
 *
 * The timing on 1M x 20 takes about a minute (n_init = 10 is most of it);
 * AIF_TEST_QUICK=1 skips it while working on the rest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "algorithms/kmeans.h"
#include "algorithms/rng.h"
#include "tap.h"

static const char *dump_dir = NULL;

/* Standard normal by Box-Muller on the algorithms' RNG. */
static double
Normal(AifRng *rng)
{
	double		u1 = 1.0 - AifRngDouble(rng);	/* (0, 1] */
	double		u2 = AifRngDouble(rng);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/*
 * n rows (column-major, n x p) around k centers given row-major (k x p),
 * each row's cluster drawn uniformly, Gaussian noise of standard deviation
 * sd; truth (n) receives the clusters.
 */
static double *
MakeBlobs(uint64 seed, int n, int p, int k, const double *centers, double sd, int *truth)
{
	double	   *X = palloc(sizeof(double) * (Size) n * p);
	AifRng		rng;
	int			i;
	int			j;

	AifRngSeed(&rng, seed);
	for (i = 0; i < n; i++)
	{
		int			c = (int) AifRngBelow(&rng, k);

		truth[i] = c;
		for (j = 0; j < p; j++)
			X[(Size) j * n + i] = centers[c * p + j] + sd * Normal(&rng);
	}
	return X;
}

/* Write X (column-major) as CSV rows, and optionally labels, for the script. */
static void
Dump(const char *name, const double *X, int64 n, int p)
{
	char		path[1024];
	FILE	   *f;
	int64		i;
	int			j;

	if (dump_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.csv", dump_dir, name);
	f = fopen(path, "w");
	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < p; j++)
			fprintf(f, "%.17g%c", X[(Size) j * n + i], j == p - 1 ? '\n' : ',');
	fclose(f);
}

static void
DumpInts(const char *name, const int *v, int64 n)
{
	char		path[1024];
	FILE	   *f;
	int64		i;

	if (dump_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.csv", dump_dir, name);
	f = fopen(path, "w");
	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%d\n", v[i]);
	fclose(f);
}

/* Is a a relabelling of b (a bijection between their clusters)? */
static bool
SamePartition(const int *a, const int *b, int64 n, int k)
{
	int		   *ab = palloc(sizeof(int) * k);
	int		   *ba = palloc(sizeof(int) * k);
	bool		same = true;
	int64		i;
	int			c;

	for (c = 0; c < k; c++)
		ab[c] = ba[c] = -1;
	for (i = 0; i < n && same; i++)
	{
		if (ab[a[i]] == -1 && ba[b[i]] == -1)
		{
			ab[a[i]] = b[i];
			ba[b[i]] = a[i];
		}
		else if (ab[a[i]] != b[i] || ba[b[i]] != a[i])
			same = false;
	}
	pfree(ab);
	pfree(ba);
	return same;
}

/* Sum of squared distances of rows to the means of their clusters, in long double. */
static double
PartitionInertia(const double *X, int64 n, int p, const int *labels, int k)
{
	long double *sum = palloc0(sizeof(long double) * (Size) k * p);
	int64	   *cnt = palloc0(sizeof(int64) * k);
	long double total = 0;
	int64		i;
	int			j;

	for (i = 0; i < n; i++)
	{
		cnt[labels[i]]++;
		for (j = 0; j < p; j++)
			sum[labels[i] * p + j] += X[(Size) j * n + i];
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < p; j++)
		{
			long double diff = X[(Size) j * n + i] - sum[labels[i] * p + j] / cnt[labels[i]];

			total += diff * diff;
		}
	pfree(sum);
	pfree(cnt);
	return (double) total;
}

static int
CountOf(const int *labels, int64 n, int c)
{
	int			cnt = 0;

	for (int64 i = 0; i < n; i++)
		cnt += labels[i] == c;
	return cnt;
}

static double
MaxAbsDiff(const double *a, const double *b, int n)
{
	double		worst = 0;

	for (int i = 0; i < n; i++)
		worst = Max(worst, fabs(a[i] - b[i]));
	return worst;
}

/* ---- the data sets ---- */

/*
 * "blobs": 3000 rows, 3 features, 4 overlapping clusters (centers 3
 * apart, sd 1) sitting at x1 = 100, so the centering matters.
 */
#define BLOBS_N		3000
#define BLOBS_P		3
#define BLOBS_K		4
static const double blobs_centers[BLOBS_K * BLOBS_P] = {
	100, 0, 0,
	103, 0, 0,
	100, 3, 0,
	100, 0, 3,
};

/*
 * From the same initial centers (rows 0, 1, 2 and 3 of blobs), sklearn
 * 1.2.1's KMeans(4, init=rows, n_init=1, algorithm='lloyd') gives:
 */
static const int sk_blobs_n_iter = 7;
static const double sk_blobs_inertia = 7953.7179766997479;
static const double sk_blobs_centers[BLOBS_K * BLOBS_P] = {
	99.906010220985578, -0.044430146855818919, -0.1508267271434105,
	99.988166030792527, -0.022192853032939941, 3.060013466774937,
	103.01037008915847, 0.023285366912999317, -0.034361070012910666,
	99.970388042117179, 3.0703015626551244, 0.0046460552187533866,
};
static const int sk_blobs_counts[BLOBS_K] = {737, 750, 755, 758};

/*
 * The blobs overlap, so k-means has many local optima within 3e-6 of each
 * other, and which one a run reaches depends on its random start.  The
 * best of KMeans(4, n_init=10, random_state=s) over s = 0 .. 19 (9 of the
 * 20 reach it):
 */
static const double sk_blobs_best_inertia = 7953.7014802417762;

/*
 * From initial centers rows 0, 1, 2 and (1000, 1000, 1000), cluster 3 is
 * empty after the first assignment and takes the farthest point:
 */
static const int sk_empty_n_iter = 10;
static const double sk_empty_inertia = 7953.7329787178651;
static const double sk_empty_centers[BLOBS_K * BLOBS_P] = {
	99.906651950661995, -0.034016500371406244, -0.14785507820114863,
	99.988166030792527, -0.022192853032939941, 3.060013466774937,
	103.01037008915847, 0.023285366912999317, -0.034361070012910666,
	99.970183162549802, 3.0807221906180993, 0.0027501726113864366,
};

/*
 * silhouette_score(blobs, truth); silhouette_score(blobs[rows],
 * truth[rows]) for the 500 rows SilhouetteSampleRows(3000, 500, 77)
 * picks; and on blobs[:200] with row 0 moved alone into cluster 4.
 */
static const double sk_sil_full = 0.31911079513975599;
static const double sk_sil_sample = 0.34760032153176912;
static const double sk_sil_singleton = 0.17414406237237207;


/* Clusters 50 apart with sd 1 are found exactly, whatever the seed. */
static void
TestPlanted(void)
{
	int			n = 1000;
	int			p = 5;
	int			k = 5;
	double		centers[5 * 5];
	int		   *truth = palloc(sizeof(int) * n);
	int		   *labels = palloc(sizeof(int) * n);
	double	   *X;
	AifRng		rng;
	KMeansOptions opts;
	KMeansModel model;
	double		expect;
	bool		all_same = true;
	bool		all_inertia = true;
	uint64		seed;

	AifRngSeed(&rng, 12);
	for (int i = 0; i < k * p; i++)
		centers[i] = 50.0 * Normal(&rng);
	X = MakeBlobs(13, n, p, k, centers, 1.0, truth);
	expect = PartitionInertia(X, n, p, truth, k);

	KMeansDefaultOptions(&opts);
	opts.n_clusters = k;
	for (seed = 0; seed < 5; seed++)
	{
		opts.seed = seed;
		opts.n_init = seed == 0 ? 10 : 1;
		KMeansFit(X, n, p, &opts, &model, labels);
		all_same &= SamePartition(labels, truth, n, k);
		all_inertia &= fabs(model.inertia - expect) <= 1e-12 * expect;
	}
	tap_ok(all_same, "planted clusters recovered exactly (labels up to permutation), 5 seeds");
	tap_ok(all_inertia, "inertia = the planted partition's, to 1e-12 (%.10g)", expect);

	/* predict agrees with the training labels */
	{
		bool		agree = true;
		double		row[5];

		for (int i = 0; i < n; i++)
		{
			for (int j = 0; j < p; j++)
				row[j] = X[(Size) j * n + i];
			agree &= KMeansPredict(&model, row) == labels[i];
		}
		tap_ok(agree, "KMeansPredict reproduces the training labels");
	}
	pfree(X);
	pfree(truth);
	pfree(labels);
}

/* The iterations against sklearn from the same initial centers. */
static void
TestLloydVsSklearn(void)
{
	int			n = BLOBS_N;
	int			p = BLOBS_P;
	int			k = BLOBS_K;
	int		   *truth = palloc(sizeof(int) * n);
	int		   *labels = palloc(sizeof(int) * n);
	double	   *X = MakeBlobs(11, n, p, k, blobs_centers, 1.0, truth);
	double		init[BLOBS_K * BLOBS_P];
	KMeansOptions opts;
	KMeansModel model;
	int			c;

	Dump("blobs", X, n, p);
	DumpInts("blobs_truth", truth, n);

	for (c = 0; c < k; c++)
		for (int j = 0; j < p; j++)
			init[c * p + j] = X[(Size) j * n + c];
	KMeansDefaultOptions(&opts);
	opts.n_clusters = k;
	KMeansLloyd(X, n, p, &opts, init, &model, labels);
	tap_diag("blobs from rows 0..3: n_iter %d, inertia %.17g", model.n_iter, model.inertia);
	for (c = 0; c < k; c++)
		tap_diag("  center %d: %.17g %.17g %.17g (%d rows)", c, model.centers[c * p],
				 model.centers[c * p + 1], model.centers[c * p + 2], CountOf(labels, n, c));
	tap_ok(model.n_iter == sk_blobs_n_iter, "Lloyd from given centers: n_iter %d = sklearn's %d",
		   model.n_iter, sk_blobs_n_iter);
	tap_ok(fabs(model.inertia - sk_blobs_inertia) <= 1e-12 * sk_blobs_inertia,
		   "Lloyd from given centers: inertia = sklearn's to 1e-12 (rel diff %.1e)",
		   fabs(model.inertia - sk_blobs_inertia) / sk_blobs_inertia);
	tap_ok(MaxAbsDiff(model.centers, sk_blobs_centers, k * p) <= 1e-11,
		   "Lloyd from given centers: centers = sklearn's to 1e-11 (max diff %.1e)",
		   MaxAbsDiff(model.centers, sk_blobs_centers, k * p));
	{
		bool		counts = true;

		for (c = 0; c < k; c++)
			counts &= CountOf(labels, n, c) == sk_blobs_counts[c];
		tap_ok(counts, "Lloyd from given centers: cluster sizes = sklearn's");
	}

	/*
	 * k-means++ with n_init = 10, seeds 0 .. 19: the best reaches sklearn's
	 * best (3 of our 20 do; over 400 single runs we reached it 22 times,
	 * sklearn 19 times, with the same mean inertia).
	 */
	{
		double		best = HUGE_VAL;
		double		within;
		bool		consistent = true;

		for (opts.seed = 0; opts.seed < 20; opts.seed++)
		{
			KMeansFit(X, n, p, &opts, &model, labels);
			best = Min(best, model.inertia);
			/*
			 * The means of the labels minimize the sum of squares for them;
			 * a run that stopped on tol has centers one step behind.
			 */
			within = PartitionInertia(X, n, p, labels, k);
			consistent &= model.inertia >= within * (1 - 1e-14) &&
				model.inertia <= within * (1 + 1e-5);
		}
		tap_ok(fabs(best - sk_blobs_best_inertia) <= 1e-12 * sk_blobs_best_inertia,
			   "k-means++ (n_init 10), best of 20 seeds: inertia = sklearn's best of 20 to 1e-12 (rel diff %.1e)",
			   fabs(best - sk_blobs_best_inertia) / sk_blobs_best_inertia);
		tap_ok(consistent, "inertia >= (and within 1e-5 of) the sum of squares of the returned labels around their means");
	}

	/* an empty cluster takes the farthest point, as in sklearn */
	for (int j = 0; j < p; j++)
		init[3 * p + j] = 1000;
	KMeansLloyd(X, n, p, &opts, init, &model, labels);
	tap_diag("blobs with a far center: n_iter %d, inertia %.17g", model.n_iter, model.inertia);
	for (c = 0; c < k; c++)
		tap_diag("  center %d: %.17g %.17g %.17g (%d rows)", c, model.centers[c * p],
				 model.centers[c * p + 1], model.centers[c * p + 2], CountOf(labels, n, c));
	tap_ok(model.n_iter == sk_empty_n_iter &&
		   fabs(model.inertia - sk_empty_inertia) <= 1e-12 * sk_empty_inertia &&
		   MaxAbsDiff(model.centers, sk_empty_centers, k * p) <= 1e-11,
		   "empty cluster relocated as sklearn does: n_iter %d, inertia rel diff %.1e, centers max diff %.1e",
		   model.n_iter, fabs(model.inertia - sk_empty_inertia) / sk_empty_inertia,
		   MaxAbsDiff(model.centers, sk_empty_centers, k * p));

	/* two far centers: both relocated, no cluster left empty */
	for (int j = 0; j < p; j++)
		init[2 * p + j] = -1000;
	opts.max_iter = 1;
	KMeansLloyd(X, n, p, &opts, init, &model, labels);
	{
		bool		none_empty = true;

		for (c = 0; c < k; c++)
			none_empty &= CountOf(labels, n, c) > 0;
		tap_ok(none_empty && model.centers[2 * p] > 0 && model.centers[3 * p] > 0,
			   "two empty clusters both relocated onto data in one iteration");
	}

	pfree(X);
	pfree(truth);
	pfree(labels);
}

/* k = 1: the mean; k = n: every row its own center; more clusters than distinct rows. */
static void
TestExtremeK(void)
{
	int			n = 50;
	int			p = 3;
	int		   *truth = palloc(sizeof(int) * n);
	int		   *labels = palloc(sizeof(int) * n);
	double	   *X = MakeBlobs(21, n, p, BLOBS_K, blobs_centers, 1.0, truth);
	KMeansOptions opts;
	KMeansModel model;
	double		mean[3] = {0, 0, 0};
	bool		ok1 = true;

	KMeansDefaultOptions(&opts);
	opts.n_clusters = 1;
	KMeansFit(X, n, p, &opts, &model, labels);
	for (int i = 0; i < n; i++)
	{
		ok1 &= labels[i] == 0;
		for (int j = 0; j < p; j++)
			mean[j] += X[(Size) j * n + i] / n;
	}
	for (int i = 0; i < n; i++)
		truth[i] = 0;
	tap_ok(ok1 && MaxAbsDiff(model.centers, mean, p) < 1e-12 &&
		   fabs(model.inertia - PartitionInertia(X, n, p, truth, 1)) < 1e-12 * model.inertia &&
		   model.n_iter == 2,
		   "k = 1: the center is the mean, inertia the total sum of squares, n_iter 2 (as sklearn)");

	opts.n_clusters = n;
	KMeansFit(X, n, p, &opts, &model, labels);
	{
		bool	   *seen = palloc0(sizeof(bool) * n);
		bool		distinct = true;

		for (int i = 0; i < n; i++)
		{
			distinct &= !seen[labels[i]];
			seen[labels[i]] = true;
		}
		tap_ok(distinct && model.inertia < 1e-20,
			   "k = n: every row its own cluster, inertia %.1e", model.inertia);
		pfree(seen);
	}

	/* 10 rows with only 4 distinct values, 10 clusters: no crash, inertia 0 */
	{
		double		Xd[10];
		int			labd[10];
		bool		valid = true;

		for (int i = 0; i < 10; i++)
			Xd[i] = (double) (i % 4);
		opts.n_clusters = 10;
		KMeansFit(Xd, 10, 1, &opts, &model, labd);
		for (int i = 0; i < 10; i++)
			valid &= labd[i] >= 0 && labd[i] < 10 &&
				model.centers[labd[i]] == Xd[i];
		tap_ok(valid && model.inertia == 0,
			   "10 clusters on 4 distinct values: each row on a center, inertia 0");
	}
	pfree(X);
	pfree(truth);
	pfree(labels);
}

/* The same seed gives the same model; another seed another start. */
static void
TestReproducible(void)
{
	int64		n = 20000;
	int			p = 4;
	double	   *X = palloc(sizeof(double) * n * p);
	int		   *la = palloc(sizeof(int) * n);
	int		   *lb = palloc(sizeof(int) * n);
	AifRng		rng;
	KMeansOptions opts;
	KMeansModel a;
	KMeansModel b;
	KMeansModel c;
	bool		same_labels = true;

	AifRngSeed(&rng, 31);
	for (int64 i = 0; i < n * p; i++)
		X[i] = AifRngDouble(&rng);
	KMeansDefaultOptions(&opts);
	opts.n_clusters = 6;
	opts.n_init = 3;
	opts.seed = 99;
	KMeansFit(X, n, p, &opts, &a, la);
	KMeansFit(X, n, p, &opts, &b, lb);
	for (int64 i = 0; i < n; i++)
		same_labels &= la[i] == lb[i];
	tap_ok(same_labels && memcmp(a.centers, b.centers, sizeof(double) * 6 * p) == 0 &&
		   a.inertia == b.inertia && a.n_iter == b.n_iter,
		   "same seed: bit-identical centers, labels, inertia and n_iter");
	opts.seed = 100;
	KMeansFit(X, n, p, &opts, &c, NULL);
	tap_ok(memcmp(a.centers, c.centers, sizeof(double) * 6 * p) != 0,
		   "another seed: other centers (inertia %.6f vs %.6f)", c.inertia, a.inertia);

	/* run 0 of n_init = 3 is the n_init = 1 run: the best can only be better */
	opts.seed = 99;
	opts.n_init = 1;
	KMeansFit(X, n, p, &opts, &c, NULL);
	tap_ok(a.inertia <= c.inertia,
		   "n_init = 3 keeps the best run: inertia %.6f <= %.6f of its first run",
		   a.inertia, c.inertia);
	pfree(X);
	pfree(la);
	pfree(lb);
}

/*
 * The threaded Lloyd step (from 65536 rows up) gives exactly the serial
 * step's results: centers, labels, inertia and iterations bit for bit,
 * with k <= 16 (sums updated by dgemm per block while many rows move, over
 * several rounds of blocks: this program sets KMEANS_ROUND_BYTES low) and
 * with k > 16 (sums updated row by row).
 */
static void
TestThreads(void)
{
	int64		n = 300000;
	int			p = 12;
	double	   *X = palloc(sizeof(double) * n * p);
	int		   *la = palloc(sizeof(int) * n);
	int		   *lb = palloc(sizeof(int) * n);
	AifRng		rng;
	KMeansOptions opts;

	AifRngSeed(&rng, 7);
	for (int64 i = 0; i < n * p; i++)
		X[i] = 3.0 + AifRngDouble(&rng) + 0.1 * Normal(&rng);
	KMeansDefaultOptions(&opts);
	opts.n_init = 2;
	opts.max_iter = 40;			/* the labels are still moving: both paths */
	opts.seed = 5;
	for (int k = 12; k <= 20; k += 8)
	{
		KMeansModel a;
		KMeansModel b;
		bool		same_labels = true;

		opts.n_clusters = k;
		opts.threads = 1;
		KMeansFit(X, n, p, &opts, &a, la);
		opts.threads = 2;
		KMeansFit(X, n, p, &opts, &b, lb);
		for (int64 i = 0; i < n; i++)
			same_labels &= la[i] == lb[i];
		tap_ok(same_labels && memcmp(a.centers, b.centers, sizeof(double) * k * p) == 0 &&
			   a.inertia == b.inertia && a.n_iter == b.n_iter,
			   "k = %d, 300000 x 12: one thread and two give bit-identical centers, labels, inertia and n_iter (%d iterations)",
			   k, a.n_iter);
	}
	pfree(X);
	pfree(la);
	pfree(lb);
}

static bool
FitFails(const double *X, int64 n, int p, const KMeansOptions *opts, int sqlerrcode)
{
	KMeansModel model;

	SHIM_TRY();
	KMeansFit(X, n, p, opts, &model, NULL);
	SHIM_END_TRY();
	return shim_error_raised && shim_error.sqlerrcode == sqlerrcode;
}

static void
TestErrors(void)
{
	double		X[6] = {1, 2, 3, 4, 5, 6};
	KMeansOptions opts;
	KMeansModel model;
	bool		all;

	KMeansDefaultOptions(&opts);
	tap_ok(opts.n_clusters == 8 && opts.n_init == 10 && opts.max_iter == 300 &&
		   opts.tol == 1e-4, "defaults are sklearn 1.2's (8, 10, 300, 1e-4)");

	opts.n_clusters = 4;
	all = FitFails(X, 3, 2, &opts, ERRCODE_INVALID_PARAMETER_VALUE);
	tap_ok(all && strcmp(shim_error.message,
						 "n_clusters (4) is larger than the number of rows (3)") == 0 &&
		   shim_error.hint[0] != '\0',
		   "n_clusters > n: \"%s\" with a hint", shim_error.message);

	opts.n_clusters = 0;
	all = FitFails(X, 3, 2, &opts, ERRCODE_INVALID_PARAMETER_VALUE);
	opts.n_clusters = 2;
	opts.n_init = 0;
	all &= FitFails(X, 3, 2, &opts, ERRCODE_INVALID_PARAMETER_VALUE);
	opts.n_init = 1;
	opts.max_iter = 0;
	all &= FitFails(X, 3, 2, &opts, ERRCODE_INVALID_PARAMETER_VALUE);
	opts.max_iter = 10;
	opts.tol = -1;
	all &= FitFails(X, 3, 2, &opts, ERRCODE_INVALID_PARAMETER_VALUE);
	opts.tol = NAN;
	all &= FitFails(X, 3, 2, &opts, ERRCODE_INVALID_PARAMETER_VALUE);
	opts.tol = 0;
	all &= FitFails(X, 0, 2, &opts, ERRCODE_INVALID_PARAMETER_VALUE);
	all &= FitFails(X, 3, 0, &opts, ERRCODE_INVALID_PARAMETER_VALUE);
	tap_ok(all, "n_clusters 0, n_init 0, max_iter 0, tol -1 or NaN, no rows, no features: clean errors");

	/* tol = 0 still stops, on unchanged labels */
	opts.n_clusters = 2;
	KMeansFit(X, 3, 2, &opts, &model, NULL);
	tap_ok(model.n_iter < 10, "tol = 0 converges by unchanged labels (n_iter %d)", model.n_iter);

	/* predict: ties go to the lowest index */
	{
		double		centers[4] = {0, 0, 2, 0};
		double		x[2] = {1, 5};
		KMeansModel m = {.k = 2, .p = 2, .centers = centers};

		tap_ok(KMeansPredict(&m, x) == 0, "predict: a tie goes to the lowest cluster");
	}
}

/* The sampled silhouette against sklearn's silhouette_score. */
static void
TestSilhouette(void)
{
	int			n = BLOBS_N;
	int			p = BLOBS_P;
	int			k = BLOBS_K;
	int		   *truth = palloc(sizeof(int) * n);
	double	   *X = MakeBlobs(11, n, p, k, blobs_centers, 1.0, truth);
	int64	   *rows = palloc(sizeof(int64) * n);
	int64	   *rows2 = palloc(sizeof(int64) * n);
	int		   *sample = palloc(sizeof(int) * n);
	int64		s;
	double		v;
	bool		ordered = true;

	v = SilhouetteSampled(X, n, p, truth, k, 0, 0);
	tap_diag("silhouette of blobs (all rows) %.17g", v);
	tap_ok(fabs(v - sk_sil_full) < 1e-12,
		   "silhouette, all rows = sklearn's silhouette_score to 1e-12 (diff %.1e)",
		   fabs(v - sk_sil_full));
	tap_ok(SilhouetteSampled(X, n, p, truth, k, n + 5, 0) == v,
		   "sample_size >= n means all rows");

	s = SilhouetteSampleRows(n, 500, 77, rows);
	for (int64 i = 0; i < s; i++)
	{
		ordered &= i == 0 || rows[i] > rows[i - 1];
		sample[i] = (int) rows[i];
	}
	DumpInts("sil_rows", sample, s);
	tap_ok(s == 500 && ordered && rows[s - 1] < n, "sample rows: 500 distinct, increasing");
	tap_ok(SilhouetteSampleRows(n, 500, 77, rows2) == 500 &&
		   memcmp(rows, rows2, sizeof(int64) * 500) == 0,
		   "sample rows: the same for the same seed");
	SilhouetteSampleRows(n, 500, 78, rows2);
	tap_ok(memcmp(rows, rows2, sizeof(int64) * 500) != 0, "sample rows: others for another seed");

	v = SilhouetteSampled(X, n, p, truth, k, 500, 77);
	tap_diag("silhouette of blobs (500 rows, seed 77) %.17g", v);
	tap_ok(fabs(v - sk_sil_sample) < 1e-12,
		   "silhouette, 500-row sample = sklearn's on the same rows to 1e-12 (diff %.1e)",
		   fabs(v - sk_sil_sample));

	/* row 0 alone in cluster 4: it scores 0 */
	truth[0] = 4;
	v = SilhouetteSampled(X, n, p, truth, 5, 200, 0);
	tap_ok(v == SilhouetteSampled(X, n, p, truth, 5, 200, 0), "silhouette is deterministic");
	{
		/* rows 0..199 as their own data set */
		double	   *Y = palloc(sizeof(double) * 200 * p);

		for (int i = 0; i < 200; i++)
			for (int j = 0; j < p; j++)
				Y[j * 200 + i] = X[(Size) j * n + i];
		v = SilhouetteSampled(Y, 200, p, truth, 5, 0, 0);
		tap_diag("silhouette of blobs[:200] with a singleton %.17g", v);
		tap_ok(fabs(v - sk_sil_singleton) < 1e-12,
			   "silhouette with a singleton cluster = sklearn's to 1e-12 (diff %.1e)",
			   fabs(v - sk_sil_singleton));
		pfree(Y);
	}

	tap_ok(isnan(SilhouetteSampled(X, n, p, truth, 1, 0, 0)), "silhouette with k = 1 is NaN");
	for (int i = 0; i < n; i++)
		truth[i] = 1;
	tap_ok(isnan(SilhouetteSampled(X, n, p, truth, 3, 0, 0)),
		   "silhouette with one cluster present is NaN");
	truth[5] = 7;
	SHIM_TRY();
	SilhouetteSampled(X, n, p, truth, 3, 0, 0);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "a label outside 0 .. k-1 is an error");

	pfree(X);
	pfree(truth);
	pfree(rows);
	pfree(rows2);
	pfree(sample);
}

/*
 * Time on the benchmark's shape: 1M rows x 20 uniform features in
 * [-1, 1] (as ../shared/bench/bench_table.sql), k = 8, sklearn's other
 * defaults, one BLAS thread.
 */
static void
TestTiming(void)
{
	int64		n = 1000000;
	int			p = 20;
	double	   *X = palloc(sizeof(double) * n * p);
	int		   *labels = palloc(sizeof(int) * n);
	AifRng		rng;
	KMeansOptions opts;
	KMeansModel m1;
	KMeansModel m10;
	double		t0;
	double		t1;
	double		t10;
	double		ts;
	double		sil;

	AifRngSeed(&rng, 42);
	for (int64 i = 0; i < n * p; i++)
		X[i] = 2.0 * AifRngDouble(&rng) - 1.0;
	KMeansDefaultOptions(&opts);
	opts.seed = 1;

	opts.n_init = 1;
	opts.threads = 1;
	t0 = now_seconds();
	KMeansFit(X, n, p, &opts, &m1, NULL);
	t1 = now_seconds() - t0;
	tap_diag("KMeansFit 1M x 20, k = 8, n_init = 1, one thread: %.2f s (%d iterations, %.1f ms each incl. seeding), inertia %.6f",
			 t1, m1.n_iter, 1e3 * t1 / m1.n_iter, m1.inertia);
	opts.threads = KMEANS_DEFAULT_THREADS;
	t0 = now_seconds();
	KMeansFit(X, n, p, &opts, &m1, NULL);
	t1 = now_seconds() - t0;
	tap_diag("KMeansFit 1M x 20, k = 8, n_init = 1, %d threads (at most the processors): %.2f s (%d iterations, %.1f ms each incl. seeding), inertia %.6f",
			 opts.threads, t1, m1.n_iter, 1e3 * t1 / m1.n_iter, m1.inertia);

	opts.n_init = 10;
	t0 = now_seconds();
	KMeansFit(X, n, p, &opts, &m10, labels);
	t10 = now_seconds() - t0;
	tap_diag("KMeansFit 1M x 20, k = 8, n_init = 10: %.2f s, inertia %.6f (best run: %d iterations)",
			 t10, m10.inertia, m10.n_iter);
	tap_ok(m10.inertia <= m1.inertia && m1.n_iter <= 300 && m10.n_iter <= 300,
		   "1M x 20: n_init = 10 is at least as good as its first run alone");

	t0 = now_seconds();
	sil = SilhouetteSampled(X, n, p, labels, 8, 10000, 5);
	ts = now_seconds() - t0;
	tap_diag("SilhouetteSampled 1M x 20, sample 10000: %.2f s, %.4f", ts, sil);
	tap_ok(sil > -1 && sil < 1, "silhouette of the 1M fit is in (-1, 1)");
	pfree(X);
	pfree(labels);
}

int
main(void)
{
	dump_dir = getenv("AIF_TEST_DUMP");

	TestPlanted();
	TestLloydVsSklearn();
	TestExtremeK();
	TestReproducible();
	TestThreads();
	TestErrors();
	TestSilhouette();
	if (getenv("AIF_TEST_QUICK") == NULL)
		TestTiming();
	return tap_done();
}

/*
 * The reference script (run with AIF_TEST_DUMP=/tmp/d ./test_kmeans.bin,
 * then /usr/bin/python3 script.py /tmp/d):
 *
 *	import numpy as np, sys
 *	from sklearn.cluster import KMeans
 *	from sklearn.metrics import silhouette_score
 *	d = sys.argv[1]
 *	X = np.loadtxt(d + '/blobs.csv', delimiter=',')
 *	truth = np.loadtxt(d + '/blobs_truth.csv', dtype=int)
 *	rows = np.loadtxt(d + '/sil_rows.csv', dtype=int)
 *	def show(km):
 *		print(km.n_iter_, '%.17g' % km.inertia_, np.bincount(km.labels_))
 *		for c in km.cluster_centers_: print(', '.join('%.17g' % v for v in c))
 *	init = X[:4].copy()
 *	show(KMeans(4, init=init, n_init=1, algorithm='lloyd').fit(X))
 *	print('%.17g' % min(KMeans(4, n_init=10, random_state=s,
 *							   algorithm='lloyd').fit(X).inertia_ for s in range(20)))
 *	init[3] = 1000
 *	show(KMeans(4, init=init, n_init=1, algorithm='lloyd').fit(X))
 *	print('%.17g' % silhouette_score(X, truth))
 *	print('%.17g' % silhouette_score(X[rows], truth[rows]))
 *	t = truth[:200].copy(); t[0] = 4
 *	print('%.17g' % silhouette_score(X[:200], t))
 */
