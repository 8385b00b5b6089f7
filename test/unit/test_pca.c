/*-------------------------------------------------------------------------
 *
 * test_pca.c
 *	  Unit tests of the one-pass covariance and PCA (src/algorithms/pca.c):
 *	  a covariance built from a chosen rotation and variances is recovered,
 *	  the fit matches scikit-learn 1.2's PCA, the state gives the same
 *	  answer however rows are buffered, split and merged, serialization
 *	  round-trips and rejects corrupt bytes, errors are clean, and the
 *	  throughput of CovAddRow.
 *
 * Expected numbers from scikit-learn were produced once, while developing,
 * with Debian 12's python3-sklearn 1.2.1: running this program with
 * AIF_TEST_DUMP=<dir> writes the data set there as CSV (full precision),
 * and the script in the comment at the end of this file prints the
 * numbers hard-coded below.  The tests themselves never call Python.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LAPACK_COMPLEX_STRUCTURE
#include <cblas.h>
#include <lapacke.h>

#include "algorithms/pca.h"
#include "algorithms/rng.h"
#include "tap.h"

#define P		6
#define N		20000

/* The chosen spectrum and offsets of the test data. */
static const double true_var[P] = {25, 9, 4, 1, 0.25, 0.01};
static const double true_mean[P] = {1000, -5, 0, 3, 1e4, 7};

/*
 * sklearn 1.2.1's PCA(svd_solver='full').fit(X) on the data of
 * MakeData(): explained_variance_ratio_, explained_variance_,
 * singular_values_ (all 6 components) and noise_variance_ with
 * n_components=3.
 */
static const double sk_ratio[P] = {
	0.63649674833940983, 0.22817167770343785, 0.10297713800202676,
	0.025704470796787834, 0.006395223436647929, 0.00025474172168976476,
};
static const double sk_variance[P] = {
	24.718043994790708, 8.8609369687326254, 3.9990674488637121,
	0.99822071624945485, 0.24835541528844682, 0.0098927718019992637,
};
static const double sk_singular[P] = {
	703.09043646732914, 420.96303690191587, 282.80266955922707,
	141.29195343073451, 70.475952993582482, 14.065757827724154,
};
static const double sk_noise3 = 0.41882296777996691;
static const double sk_mean[P] = {
	999.97381573625, -4.981847834089522, 0.0036916959647437103,
	3.0199421653025298, 9999.9732502287679, 7.00431065319514,
};

/*
 * components_: the same up to sign.  svd_flip made the largest-magnitude
 * entry of each column of U positive, so e.g. sklearn's first component
 * has its largest loading (-0.55) negative, which ours never does.
 */
static const double sk_components[P * P] = {
	-0.52804160151128565, 0.50468106137089874, 0.20934015353282664, 0.3402570548593562, -0.55390238737690711, -0.007941999898783466,
	0.46148897920790638, 0.36978213986090297, 0.45602041266895105, -0.5417587494439563, -0.26745736519118218, 0.27802605911081107,
	-0.2564170136826377, 0.11484017530479214, 0.099182578753329101, 0.13934134883940077, 0.46033858153255031, 0.8245588178887534,
	-0.10210735371723209, 0.42590667045735292, 0.40614707974089514, -0.019259837010870046, 0.63410185541367325, -0.49067916364360742,
	0.42372485724435988, -0.28546228347194824, 0.54525078484368505, 0.66219067240773632, -0.051516090858154139, 0.022797312439352565,
	0.5024755097586654, 0.57661488208709299, -0.52548171296936741, 0.36392190725137574, 0.070767384856190954, 0.03815012249487075,
};

static double
Normal(AifRng *rng)
{
	double		u1 = 1.0 - AifRngDouble(rng);
	double		u2 = AifRngDouble(rng);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/*
 * A random orthogonal Q (P x P, column-major): the Q factor of a Gaussian
 * matrix.  Column c is the direction of variance true_var[c].
 */
static void
MakeRotation(uint64 seed, double *Q)
{
	double		tau[P];
	AifRng		rng;

	AifRngSeed(&rng, seed);
	for (int i = 0; i < P * P; i++)
		Q[i] = Normal(&rng);
	if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, P, P, Q, P, tau) != 0 ||
		LAPACKE_dorgqr(LAPACK_COL_MAJOR, P, P, P, Q, P, tau) != 0)
	{
		printf("Bail out! QR failed\n");
		exit(1);
	}
}

/* N rows, row-major: mean + Q diag(sqrt(var)) z, z standard normal. */
static double *
MakeData(const double *Q)
{
	double	   *X = palloc(sizeof(double) * N * P);
	AifRng		rng;

	AifRngSeed(&rng, 7);
	for (int i = 0; i < N; i++)
	{
		double		z[P];

		for (int c = 0; c < P; c++)
			z[c] = sqrt(true_var[c]) * Normal(&rng);
		for (int j = 0; j < P; j++)
		{
			double		v = true_mean[j];

			for (int c = 0; c < P; c++)
				v += Q[c * P + j] * z[c];
			X[i * P + j] = v;
		}
	}
	return X;
}

static void
Dump(const char *name, const double *X, int n, int p)
{
	const char *dir = getenv("AIF_TEST_DUMP");
	char		path[1024];
	FILE	   *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.csv", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < p; j++)
			fprintf(f, "%.17g%c", X[i * p + j], j == p - 1 ? '\n' : ',');
	fclose(f);
}

static CovState *
StateOf(const double *X, int from, int to, int p)
{
	CovState   *s = CovCreate(p);

	for (int i = from; i < to; i++)
		CovAddRow(s, X + (Size) i * p);
	return s;
}

/*
 * Reference covariance (ddof 1) by two passes in long double, the mean
 * taken relative to the first row so that it is exact to long double
 * precision even for data far from 0: the error of the code under test
 * is measured against it.
 */
static void
RefCovariance(const double *X, int n, int p, long double *mean, long double *cov)
{
	for (int j = 0; j < p; j++)
	{
		long double s = 0;

		for (int i = 0; i < n; i++)
			s += (long double) X[(Size) i * p + j] - X[j];
		mean[j] = X[j] + s / n;
	}
	for (int a = 0; a < p; a++)
		for (int b = 0; b < p; b++)
		{
			long double s = 0;

			for (int i = 0; i < n; i++)
				s += (X[(Size) i * p + a] - mean[a]) * (X[(Size) i * p + b] - mean[b]);
			cov[a * p + b] = s / (n - 1);
		}
}

/* max |C_ab - R_ab| / sqrt(R_aa R_bb): the error on the correlation scale */
static double
CovError(const double *C, const long double *R, int p)
{
	double		worst = 0;

	for (int a = 0; a < p; a++)
		for (int b = 0; b < p; b++)
		{
			double		scale = sqrtl(R[a * p + a] * R[b * p + b]);
			double		err = fabsl(C[a * p + b] - R[a * p + b]) / scale;

			worst = Max(worst, err);
		}
	return worst;
}

static double
MaxRelDiff(const double *a, const double *b, int n)
{
	double		worst = 0;

	for (int i = 0; i < n; i++)
		worst = Max(worst, fabs(a[i] - b[i]) / Max(fabs(b[i]), 1e-300));
	return worst;
}

/* The covariance of the chosen rotation and spectrum comes back. */
static void
TestKnownCovariance(void)
{
	double		Q[P * P];
	double	   *X;
	CovState   *s;
	PcaModel	m;
	double		cov[P * P];
	double		mean[P];
	long double rmean[P];
	long double rcov[P * P];
	double		worst_var = 0;
	double		worst_cos = 1;
	double		worst_mean = 0;
	bool		signs = true;
	bool		orthonormal = true;

	MakeRotation(5, Q);
	X = MakeData(Q);
	Dump("pca", X, N, P);
	s = StateOf(X, 0, N, P);

	RefCovariance(X, N, P, rmean, rcov);
	CovCovariance(s, cov);
	tap_ok(CovError(cov, rcov, P) < 1e-14,
		   "covariance = two-pass long-double reference to 1e-14 on the correlation scale (%.1e)",
		   CovError(cov, rcov, P));
	/* relative to |mean| + sd: a mean of 1e4 is only held to 1.8e-12 */
	CovMean(s, mean);
	for (int j = 0; j < P; j++)
		worst_mean = Max(worst_mean, fabsl(mean[j] - rmean[j]) /
						 (fabsl(rmean[j]) + sqrtl(rcov[j * P + j])));
	tap_ok(worst_mean < 1e-15, "mean = reference to 1e-15 of |mean| + sd (%.1e)", worst_mean);

	PcaFit(s, P, &m);
	for (int c = 0; c < P; c++)
	{
		double		dot = 0;
		int			big = 0;

		worst_var = Max(worst_var, fabs(m.explained_variance[c] - true_var[c]) / true_var[c]);
		for (int j = 0; j < P; j++)
		{
			dot += m.components[c * P + j] * Q[c * P + j];
			if (fabs(m.components[c * P + j]) > fabs(m.components[c * P + big]))
				big = j;
		}
		worst_cos = Min(worst_cos, fabs(dot));
		signs &= m.components[c * P + big] > 0;
		for (int d = 0; d < P; d++)
		{
			double		g = cblas_ddot(P, m.components + c * P, 1, m.components + d * P, 1);

			orthonormal &= fabs(g - (c == d ? 1.0 : 0.0)) < 1e-14;
		}
	}
	/* sampling error: sd of a variance estimate ~ sqrt(2/N) = 1% */
	tap_ok(worst_var < 0.05, "variances 25, 9, 4, 1, 0.25, 0.01 recovered within 5%% (worst %.2f%%)",
		   100 * worst_var);
	tap_ok(worst_cos > 0.999, "their directions recovered: |cos| >= 0.999 (worst %.6f)", worst_cos);
	tap_ok(orthonormal, "components are orthonormal to 1e-14");
	tap_ok(signs, "each component's largest-magnitude loading is positive");
	pfree(X);
}

/* The fit against sklearn's PCA on the same data. */
static void
TestVsSklearn(void)
{
	double		Q[P * P];
	double	   *X;
	CovState   *s;
	PcaModel	m;
	PcaModel	m3;
	double		ratio_sum = 0;

	MakeRotation(5, Q);
	X = MakeData(Q);
	s = StateOf(X, 0, N, P);
	PcaFit(s, P, &m);
	PcaFit(s, 3, &m3);

	for (int c = 0; c < P; c++)
	{
		tap_diag("component %d: variance %.17g ratio %.17g singular %.17g", c,
				 m.explained_variance[c], m.explained_variance_ratio[c], m.singular_values[c]);
		ratio_sum += m.explained_variance_ratio[c];
	}
	tap_diag("noise variance (3 components) %.17g", m3.noise_variance);
	{
		double		worst = 0;

		for (int c = 0; c < P; c++)
			worst = Max(worst, fabs(m.explained_variance_ratio[c] - sk_ratio[c]));
		tap_ok(worst < 1e-10, "explained_variance_ratio = sklearn's to 1e-10 (max diff %.1e)", worst);
	}
	tap_ok(MaxRelDiff(m.explained_variance, sk_variance, P) < 1e-10,
		   "explained_variance = sklearn's to 1e-10 relative (%.1e)",
		   MaxRelDiff(m.explained_variance, sk_variance, P));
	tap_ok(MaxRelDiff(m.singular_values, sk_singular, P) < 1e-10,
		   "singular_values = sklearn's to 1e-10 relative (%.1e)",
		   MaxRelDiff(m.singular_values, sk_singular, P));
	tap_ok(fabs(m3.noise_variance - sk_noise3) < 1e-10 * sk_noise3 && m.noise_variance == 0,
		   "noise_variance = sklearn's with 3 components (rel diff %.1e), 0 with all",
		   fabs(m3.noise_variance - sk_noise3) / sk_noise3);
	tap_ok(fabs(ratio_sum - 1) < 1e-14, "ratios of all components sum to 1 (%.1e)", ratio_sum - 1);
	{
		double		worst = 1;
		int			flipped = 0;

		for (int c = 0; c < P; c++)
		{
			double		dot = cblas_ddot(P, m.components + c * P, 1, sk_components + c * P, 1);

			worst = Min(worst, fabs(dot));
			flipped += dot < 0;
		}
		tap_ok(1 - worst < 1e-10,
			   "components = sklearn's up to sign: |cos| >= 1 - 1e-10 (%.1e); %d of 6 flipped",
			   1 - worst, flipped);
	}
	{
		double		worst = 0;

		/* the features' sd is about 1..5: measure against |mean| + 1 */
		for (int j = 0; j < P; j++)
			worst = Max(worst, fabs(m.mean[j] - sk_mean[j]) / (fabs(sk_mean[j]) + 1));
		tap_ok(worst < 1e-14, "mean_ = sklearn's to 1e-14 of |mean| + 1 (%.1e)", worst);
	}
	{
		double		worst = 0;

		for (int c = 0; c < 3; c++)
			worst = Max(worst, 1 - cblas_ddot(P, m3.components + c * P, 1,
											  m.components + c * P, 1));
		tap_ok(worst < 1e-12 && MaxRelDiff(m3.explained_variance, m.explained_variance, 3) < 1e-12,
			   "3 components = the first 3 of all (1 - cos %.1e)", worst);
	}

	/* transform: the scores of row 0 */
	{
		double		out[P];
		double		expect[P];

		PcaTransform(&m, X, out);
		for (int c = 0; c < P; c++)
		{
			expect[c] = 0;
			for (int j = 0; j < P; j++)
				expect[c] += m.components[c * P + j] * (X[j] - m.mean[j]);
		}
		tap_ok(MaxRelDiff(out, expect, P) < 1e-12, "PcaTransform = components (x - mean)");
	}
	pfree(X);
}

/*
 * However the rows are split among states (empty ones, single rows,
 * partial buffers) and merged, in whatever order, the result agrees.
 */
static void
TestMerge(void)
{
	double		Q[P * P];
	double	   *X;
	CovState   *whole;
	CovState   *parts[5];
	CovState   *acc;
	CovState   *acc2;
	double		c1[P * P];
	double		c2[P * P];
	double		c3[P * P];
	long double rmean[P];
	long double rcov[P * P];
	int			cut[6] = {0, 0, 1, 256, 513, N};	/* part i: rows cut[i] .. cut[i+1]-1 */
	PcaModel	m1;
	PcaModel	m2;

	MakeRotation(5, Q);
	X = MakeData(Q);
	RefCovariance(X, N, P, rmean, rcov);
	whole = StateOf(X, 0, N, P);
	CovCovariance(whole, c1);

	for (int i = 0; i < 5; i++)
		parts[i] = StateOf(X, cut[i], cut[i + 1], P);
	acc = CovCreate(P);
	for (int i = 0; i < 5; i++)
		CovMerge(acc, parts[i]);
	CovCovariance(acc, c2);
	acc2 = CovCreate(P);
	for (int i = 4; i >= 0; i--)
		CovMerge(acc2, parts[i]);
	CovCovariance(acc2, c3);

	tap_ok(acc->n == N && acc2->n == N, "merged states count every row");
	tap_ok(CovError(c2, rcov, P) < 1e-14 && CovError(c3, rcov, P) < 1e-14,
		   "five parts (0, 1, 255, 257 and the rest) merged forwards or backwards = reference to 1e-14 (%.1e, %.1e)",
		   CovError(c2, rcov, P), CovError(c3, rcov, P));
	PcaFit(whole, P, &m1);
	PcaFit(acc2, P, &m2);
	tap_ok(MaxRelDiff(m2.explained_variance, m1.explained_variance, P) < 1e-12,
		   "PCA of the merged state = PCA of one state (%.1e)",
		   MaxRelDiff(m2.explained_variance, m1.explained_variance, P));

	/* merging an empty state, or into one, changes nothing */
	{
		CovState   *e = CovCreate(P);
		double		c4[P * P];

		CovMerge(whole, e);
		CovCovariance(whole, c4);
		CovMerge(e, whole);
		CovCovariance(e, c2);
		tap_ok(memcmp(c4, c1, sizeof(c1)) == 0 && memcmp(c2, c1, sizeof(c1)) == 0 && e->n == N,
			   "merging with an empty state is exact in both directions");
	}

	SHIM_TRY();
	CovMerge(whole, CovCreate(P + 1));
	SHIM_END_TRY();
	tap_ok(shim_error_raised, "merging states of different widths is an error");
	pfree(X);
}

static bool
LoadFails(const void *buf, Size len)
{
	SHIM_TRY();
	CovDeserialize((const char *) buf, len);
	SHIM_END_TRY();
	return shim_error_raised && shim_error.sqlerrcode == ERRCODE_DATA_CORRUPTED;
}

/* The flat form round-trips exactly and rejects what it cannot be. */
static void
TestSerialization(void)
{
	double		Q[P * P];
	double	   *X;
	CovState   *s;
	CovState   *t;
	Size		len = CovSerializedSize(P);
	char	   *buf = palloc(len + 8);
	char	   *buf2 = palloc(len + 8);
	double	   *d = palloc(len);	/* an aligned copy to edit */
	PcaModel	m1;
	PcaModel	m2;
	int			tri0 = 2 + 2 * P;	/* index of M2[0,0] */
	bool		all = true;

	MakeRotation(5, Q);
	X = MakeData(Q);
	s = StateOf(X, 0, 1000, P);
	CovAddRow(s, X + 1000 * P);	/* a row still in the buffer */
	tap_ok(len == sizeof(double) * (2 + 2 * P + P * (P + 1) / 2),
		   "serialized size: header, origin, center, triangle");

	CovSerialize(s, buf + 1);	/* unaligned on purpose */
	t = CovDeserialize(buf + 1, len);
	CovSerialize(t, buf2 + 3);
	tap_ok(t->n == 1001 && memcmp(buf + 1, buf2 + 3, len) == 0,
		   "round trip is bit-exact (buffered rows folded first)");
	PcaFit(s, 2, &m1);
	PcaFit(t, 2, &m2);
	tap_ok(memcmp(m1.explained_variance, m2.explained_variance, 2 * sizeof(double)) == 0 &&
		   memcmp(m1.components, m2.components, 2 * P * sizeof(double)) == 0,
		   "PCA of the restored state is identical");

	/* corruptions, each on a fresh copy */
	memcpy(d, buf + 1, len);
	all &= LoadFails(d, 8);
	all &= LoadFails(d, len - 8);
	all &= LoadFails(d, len + 8);
	tap_ok(all, "truncated, short or long bytes: ERRCODE_DATA_CORRUPTED");

#define CORRUPT(idx, val) \
	do { \
		memcpy(d, buf + 1, len); \
		d[(idx)] = (val); \
		ok_all &= LoadFails(d, len); \
	} while (0)
	{
		bool		ok_all = true;

		CORRUPT(0, 0);			/* p */
		CORRUPT(0, 6.5);
		CORRUPT(0, COV_MAX_COLS + 1);
		CORRUPT(0, NAN);
		CORRUPT(1, -1);			/* n */
		CORRUPT(1, 2.5);
		CORRUPT(1, NAN);
		CORRUPT(2, NAN);		/* origin */
		CORRUPT(2 + P - 1, INFINITY);
		CORRUPT(2 + P, NAN);	/* center */
		CORRUPT(tri0, -1);		/* M2[0,0] */
		CORRUPT(tri0 + 1, 1e30);	/* M2[0,1] beyond sqrt(M2[0,0] M2[1,1]) */
		CORRUPT(tri0 + 1, NAN);
		tap_ok(ok_all, "bad width, row count, mean, diagonal or co-moment: ERRCODE_DATA_CORRUPTED");
	}
	{
		/* an empty state with a non-zero mean; one row with a spread */
		CovState   *e = CovCreate(P);
		bool		ok_all = true;

		CovSerialize(e, buf + 1);
		memcpy(d, buf + 1, len);
		d[2] = 1;
		ok_all &= LoadFails(d, len);
		memcpy(d, buf + 1, len);
		d[2 + P] = 1;
		ok_all &= LoadFails(d, len);
		CovAddRow(e, X);
		CovSerialize(e, buf + 1);
		memcpy(d, buf + 1, len);
		tap_ok(CovDeserialize((char *) d, len)->n == 1, "a one-row state loads");
		d[tri0] = 1;
		ok_all &= LoadFails(d, len);
		tap_ok(ok_all, "no rows with a mean, one row with a spread: ERRCODE_DATA_CORRUPTED");
	}
	pfree(X);
	pfree(buf);
	pfree(buf2);
	pfree(d);
}

static bool
Fails(int sqlerrcode)
{
	return shim_error_raised && shim_error.sqlerrcode == sqlerrcode;
}

static void
TestErrorsAndEdges(void)
{
	double		row[P] = {1, 2, 3, 4, 5, 6};
	CovState   *s = CovCreate(P);
	PcaModel	m;
	volatile bool all;			/* set between SHIM_TRY blocks */

	SHIM_TRY();
	CovCreate(0);
	SHIM_END_TRY();
	all = Fails(ERRCODE_INVALID_PARAMETER_VALUE);
	SHIM_TRY();
	CovCreate(COV_MAX_COLS + 1);
	SHIM_END_TRY();
	all &= Fails(ERRCODE_PROGRAM_LIMIT_EXCEEDED) && shim_error.hint[0] != '\0';
	tap_ok(all, "CovCreate: 0 or too many features are clean errors");

	CovAddRow(s, row);
	SHIM_TRY();
	PcaFit(s, 1, &m);
	SHIM_END_TRY();
	tap_ok(Fails(ERRCODE_INVALID_PARAMETER_VALUE), "PCA of one row: \"%s\"", shim_error.message);

	row[0] = 2;
	CovAddRow(s, row);
	row[1] = 0;
	CovAddRow(s, row);
	SHIM_TRY();
	PcaFit(s, 0, &m);
	SHIM_END_TRY();
	all = Fails(ERRCODE_INVALID_PARAMETER_VALUE);
	SHIM_TRY();
	PcaFit(s, 4, &m);			/* p = 6 but only 3 rows */
	SHIM_END_TRY();
	all &= Fails(ERRCODE_INVALID_PARAMETER_VALUE) && shim_error.hint[0] != '\0';
	tap_ok(all, "n_components 0, or above min(rows, features): \"%s\"", shim_error.message);

	/* 3 rows in 6 dimensions: rank 2, so the third variance is 0 */
	PcaFit(s, 3, &m);
	tap_ok(m.ncomp == 3 && m.explained_variance[2] == 0 && m.explained_variance[1] > 0 &&
		   m.noise_variance == 0,
		   "3 rows: 3 components, the last with variance %g", m.explained_variance[2]);

	/* constant data: no variance at all */
	{
		CovState   *c = CovCreate(3);
		double		x[3] = {0.1, -7, 1e6};

		for (int i = 0; i < 1000; i++)
			CovAddRow(c, x);
		PcaFit(c, 2, &m);
		tap_ok(m.total_variance == 0 && m.explained_variance[0] == 0 &&
			   isnan(m.explained_variance_ratio[0]) && m.mean[2] == 1e6,
			   "constant data: variance exactly 0, ratio NaN (as sklearn's 0/0)");
	}

	/* rows far from the origin: the spread is not lost */
	{
		int			n = 5000;
		double	   *Y = palloc(sizeof(double) * n * 2);
		long double rmean[2];
		long double rcov[4];
		double		cov[4];
		CovState   *c = CovCreate(2);
		AifRng		rng;

		AifRngSeed(&rng, 3);
		for (int i = 0; i < n; i++)
		{
			double		z = Normal(&rng);

			Y[2 * i] = 1e9 + 1e-3 * z;
			Y[2 * i + 1] = -1e9 + 1e-3 * (z + Normal(&rng));
			CovAddRow(c, Y + 2 * i);
		}
		RefCovariance(Y, n, 2, rmean, rcov);
		CovCovariance(c, cov);
		tap_ok(CovError(cov, rcov, 2) < 1e-14,
			   "offset 1e9, spread 1e-3: covariance to 1e-14 on the correlation scale (%.1e)",
			   CovError(cov, rcov, 2));
		/* the same through merged states with different origins */
		{
			CovState   *a = CovCreate(2);
			CovState   *b = CovCreate(2);

			for (int i = 0; i < n; i++)
				CovAddRow(i % 3 ? a : b, Y + 2 * (n - 1 - i));
			CovMerge(b, a);
			CovCovariance(b, cov);
			tap_ok(CovError(cov, rcov, 2) < 1e-14,
				   "offset 1e9: merged states to 1e-14 as well (%.1e)", CovError(cov, rcov, 2));
		}
		pfree(Y);
	}
}

/* CovAddRow on the benchmark's shape; printed, not judged. */
static void
TestThroughput(void)
{
	int			n = 1000000;
	int			p = 20;
	double	   *X = palloc(sizeof(double) * (Size) n * p);
	AifRng		rng;
	double		best = HUGE_VAL;
	PcaModel	m;
	double		t0;
	double		tfit;
	CovState   *s = NULL;

	AifRngSeed(&rng, 42);
	for (Size i = 0; i < (Size) n * p; i++)
		X[i] = 2.0 * AifRngDouble(&rng) - 1.0;
	for (int rep = 0; rep < 3; rep++)
	{
		t0 = now_seconds();
		s = CovCreate(p);
		for (int i = 0; i < n; i++)
			CovAddRow(s, X + (Size) i * p);
		CovFlush(s);
		best = Min(best, now_seconds() - t0);
	}
	t0 = now_seconds();
	PcaFit(s, p, &m);
	tfit = now_seconds() - t0;
	tap_diag("CovAddRow throughput: %.1fM rows/s (1M rows x 20, one core, best of 3); PcaFit %.2f ms",
			 n / best / 1e6, 1e3 * tfit);
	/* uniform on [-1, 1]: every variance 1/3 */
	tap_ok(fabs(m.explained_variance[0] - 1.0 / 3) < 0.01 &&
		   fabs(m.explained_variance[p - 1] - 1.0 / 3) < 0.01,
		   "1M x 20 uniform: variances within 0.01 of 1/3 (%.4f .. %.4f)",
		   m.explained_variance[p - 1], m.explained_variance[0]);
	pfree(X);
}

int
main(void)
{
	TestKnownCovariance();
	TestVsSklearn();
	TestMerge();
	TestSerialization();
	TestErrorsAndEdges();
	TestThroughput();
	return tap_done();
}

/*
 * The reference script (run with AIF_TEST_DUMP=/tmp/d ./test_pca.bin,
 * then /usr/bin/python3 script.py /tmp/d):
 *
 *	import numpy as np, sys
 *	from sklearn.decomposition import PCA
 *	X = np.loadtxt(sys.argv[1] + '/pca.csv', delimiter=',')
 *	m = PCA(svd_solver='full').fit(X)
 *	f = lambda a: ', '.join('%.17g' % v for v in a)
 *	print(f(m.explained_variance_ratio_)); print(f(m.explained_variance_))
 *	print(f(m.singular_values_)); print(f(m.mean_))
 *	print('%.17g' % PCA(3, svd_solver='full').fit(X).noise_variance_)
 *	for c in m.components_: print(f(c))
 */
