/*-------------------------------------------------------------------------
 *
 * test_lsq.c
 *	  Unit tests of the streaming TSQR least squares (src/algorithms/lsq.c):
 *	  accuracy against independent references, invariance to how rows are
 *	  buffered, split and merged, serialization, the fit options (no
 *	  intercept, ridge, standard errors), rank deficiency, error paths,
 *	  and the throughput of LsqAddRow.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>

#define LAPACK_COMPLEX_STRUCTURE
#include <cblas.h>
#include <lapacke.h>

#include "algorithms/lsq.h"
#include "tap.h"

static const LsqOptions OLS = {.intercept = true, .alpha = 0, .penalty_scale = NULL,
.want_stderr = true};

/*
 * n rows of [1 | X | y] (row-major, d = k + 2): x_j ~ shift * j + scale_j
 * N(0,1) with scales from 0.1 to 100, y linear plus N(0, noise^2).  With
 * shift = 3 the columns of small scale lie close to the intercept (the
 * scaled condition number is ~1e4); shift = 0.3 is benign.
 */
static double *
MakeRowsShifted(uint64 seed, int n, int k, double noise, double shift, double *truth)
{
	int			d = k + 2;
	double	   *rows = palloc(sizeof(double) * (size_t) n * d);
	TestRng		rng;
	int			i,
				j;

	rng_seed(&rng, seed);
	truth[0] = 1.5;
	for (j = 1; j <= k; j++)
		truth[j] = (j % 2 ? 1.0 : -1.0) * (0.5 + j) / pow(10.0, j % 4 - 1);
	for (i = 0; i < n; i++)
	{
		double	   *row = rows + (size_t) i * d;
		double		y = truth[0];

		row[0] = 1.0;
		for (j = 1; j <= k; j++)
		{
			row[j] = shift * j + pow(10.0, j % 4 - 1) * rng_normal(&rng);
			y += truth[j] * row[j];
		}
		row[d - 1] = y + noise * rng_normal(&rng);
	}
	return rows;
}

static double *
MakeRows(uint64 seed, int n, int k, double noise, double *truth)
{
	return MakeRowsShifted(seed, n, k, noise, 3.0, truth);
}

static LsqState *
StateOf(const double *rows, int n, int d)
{
	LsqState   *s = LsqCreate(d);
	int			i;

	for (i = 0; i < n; i++)
		LsqAddRow(s, rows + (size_t) i * d);
	return s;
}

/* (intercept, beta...) of a fit, for comparisons */
static void
Coefs(const LsqFit *fit, double *out)
{
	out[0] = fit->intercept;
	memcpy(out + 1, fit->beta, sizeof(double) * fit->k);
}

/*
 * Reference fit in long double.  X gets the columns of rows selected by
 * use_intercept (column 0 or not) and all features; pen (may be NULL)
 * adds diag(pen) to X^T X.  Returns coefficients in the same layout as
 * Coefs(): out[0] is the intercept (0 when none).
 */
static void
RefFit(const double *rows, int n, int d, bool use_intercept,
	   const long double *pen, double *out, long double *G)
{
	int			k = d - 2;
	int			off = use_intercept ? 0 : 1;
	int			p = k + 1 - off;
	double	   *X = palloc(sizeof(double) * (size_t) n * p);
	double	   *y = palloc(sizeof(double) * n);
	long double *b = palloc(sizeof(long double) * p);
	int			i,
				j;

	for (i = 0; i < n; i++)
	{
		for (j = 0; j < p; j++)
			X[(size_t) i * p + j] = rows[(size_t) i * d + j + off];
		y[i] = rows[(size_t) i * d + d - 1];
	}
	ref_lsq(n, p, X, y, pen, b, G);
	out[0] = 0;
	for (j = 0; j < p; j++)
		out[j + off] = (double) b[j];
	pfree(X);
	pfree(y);
	pfree(b);
}

/* sum (y - b0 - x.b)^2 and the total sum of squares, in long double */
static void
RefSums(const double *rows, int n, int d, const double *coef, bool centered,
		double *rss, double *tss)
{
	long double r = 0,
				t = 0,
				mean = 0;
	int			i,
				j;

	for (i = 0; i < n; i++)
		mean += rows[(size_t) i * d + d - 1];
	mean = centered ? mean / n : 0;
	for (i = 0; i < n; i++)
	{
		const double *row = rows + (size_t) i * d;
		long double e = row[d - 1] - (long double) coef[0];

		for (j = 1; j < d - 1; j++)
			e -= (long double) coef[j] * row[j];
		r += e * e;
		t += (row[d - 1] - mean) * (row[d - 1] - mean);
	}
	*rss = (double) r;
	*tss = (double) t;
}

/* Test 1: well-conditioned random data against two independent solves. */
static void
TestAccuracy(void)
{
	int			n = 5000,
				k = 6,
				d = k + 2;
	double		truth[8];
	double	   *rows = MakeRows(11, n, k, 0.5, truth);
	LsqState   *s = StateOf(rows, n, d);
	LsqFit		fit;
	double		got[8],
				ref[8],
				gels[8];
	double		rss,
				tss;
	double	   *A = palloc(sizeof(double) * n * (k + 1));
	double	   *b = palloc(sizeof(double) * n);
	double		worst_mean = 0,
				worst_std = 0;
	int			i,
				j;

	LsqSolve(s, &OLS, &fit);
	Coefs(&fit, got);
	RefFit(rows, n, d, true, NULL, ref, NULL);
	tap_ok(fit.rank_deficient_col == -1 && max_rel_err(got, ref, k + 1, 1e-3) < 1e-10,
		   "random data: coefficients match long-double normal equations to 1e-10 (max rel err %.1e)",
		   max_rel_err(got, ref, k + 1, 1e-3));

	/* LAPACK's dgels on the whole matrix: one Householder QR, no blocking */
	for (i = 0; i < n; i++)
	{
		for (j = 0; j <= k; j++)
			A[(size_t) j * n + i] = rows[(size_t) i * d + j];
		b[i] = rows[(size_t) i * d + d - 1];
	}
	LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', n, k + 1, 1, A, n, b, n);
	memcpy(gels, b, sizeof(double) * (k + 1));
	tap_ok(max_rel_err(got, gels, k + 1, 1e-3) < 1e-10,
		   "random data: coefficients match dgels on the full matrix to 1e-10 (max rel err %.1e)",
		   max_rel_err(got, gels, k + 1, 1e-3));

	RefSums(rows, n, d, ref, true, &rss, &tss);
	tap_ok(fabs(fit.rss - rss) / rss < 1e-10 && fabs(fit.tss - tss) / tss < 1e-12 &&
		   fabs(fit.r2 - (1 - rss / tss)) < 1e-12 && fit.df_resid == n - k - 1 &&
		   fit.nrows == n && fit.k == k,
		   "random data: rss, tss, r2, df_resid, nrows (rss rel err %.1e)",
		   fabs(fit.rss - rss) / rss);

	/* column means and population standard deviations read off R */
	for (j = 1; j < d; j++)
	{
		long double m = 0,
					v = 0;

		for (i = 0; i < n; i++)
			m += rows[(size_t) i * d + j];
		m /= n;
		for (i = 0; i < n; i++)
			v += (rows[(size_t) i * d + j] - m) * (rows[(size_t) i * d + j] - m);
		v = sqrtl(v / n);
		worst_mean = fmax(worst_mean, fabs(LsqColumnMean(s, j) - (double) m) / fabs((double) m));
		worst_std = fmax(worst_std, fabs(LsqColumnStd(s, j) - (double) v) / (double) v);
	}
	tap_ok(worst_mean < 1e-12 && worst_std < 1e-12,
		   "column means and std from R match two-pass long double (rel err %.1e, %.1e)",
		   worst_mean, worst_std);
	pfree(A);
	pfree(b);
	pfree(rows);
}

static bool
SameFit(const LsqFit *a, const LsqFit *b, double tol, double *err)
{
	double		ca[64],
				cb[64];

	Coefs(a, ca);
	Coefs(b, cb);
	*err = fmax(max_rel_err(ca, cb, a->k + 1, 1e-3), fabs(a->rss - b->rss) / b->rss);
	return a->nrows == b->nrows && a->rank_deficient_col == -1 &&
		b->rank_deficient_col == -1 && *err < tol;
}

/* Test 2: the fit does not depend on buffering, splitting or merging. */
static void
TestInvariance(void)
{
	int			n = 3001,
				k = 5,
				d = k + 2;
	double		truth[7];
	double	   *rows = MakeRows(22, n, k, 0.1, truth);
	LsqState   *one = StateOf(rows, n, d);
	LsqState   *a,
			   *b,
			   *pieces[8],
			   *flushy,
			   *empty,
			   *copy;
	LsqFit		f_one,
				f,
				f_copy;
	double		err;
	bool		same;
	int			sizes[] = {1, 255, 256, 0, 257, 511, 3, 0};
	int			i,
				start;
	char	   *bytes;
	Size		len;
	bool		identical;

	LsqSolve(one, &OLS, &f_one);

	a = StateOf(rows, 1234, d);
	b = StateOf(rows + (size_t) 1234 * d, n - 1234, d);
	LsqMerge(a, b);
	LsqSolve(a, &OLS, &f);
	same = SameFit(&f, &f_one, 1e-12, &err);
	tap_ok(same, "two states merged = one state (rel diff %.1e)", err);

	/* pieces of awkward sizes around the buffer length, merged as a tree */
	sizes[lengthof(sizes) - 1] = 0;
	start = 0;
	for (i = 0; i < (int) lengthof(sizes); i++)
	{
		int			m = i == (int) lengthof(sizes) - 1 ? n - start : sizes[i];

		pieces[i] = StateOf(rows + (size_t) start * d, m, d);
		start += m;
	}
	LsqMerge(pieces[6], pieces[7]);
	LsqMerge(pieces[4], pieces[5]);
	LsqMerge(pieces[0], pieces[1]);
	LsqMerge(pieces[2], pieces[3]);
	LsqMerge(pieces[4], pieces[6]);
	LsqMerge(pieces[2], pieces[0]);
	LsqMerge(pieces[2], pieces[4]);
	LsqSolve(pieces[2], &OLS, &f);
	same = SameFit(&f, &f_one, 1e-12, &err);
	tap_ok(same,
		   "eight states of 0..2000 rows merged as a tree = one state (rel diff %.1e)", err);

	/* a flush every 37 rows: folds at every buffer fill level */
	flushy = LsqCreate(d);
	for (i = 0; i < n; i++)
	{
		LsqAddRow(flushy, rows + (size_t) i * d);
		if (i % 37 == 36)
			LsqFlush(flushy);
	}
	LsqSolve(flushy, &OLS, &f);
	same = SameFit(&f, &f_one, 1e-12, &err);
	tap_ok(same,
		   "flushing every 37 rows = one state (rel diff %.1e)", err);

	/* merging into and from empty states */
	empty = LsqCreate(d);
	a = StateOf(rows, n, d);
	LsqMerge(empty, a);
	LsqMerge(empty, LsqCreate(d));
	LsqSolve(empty, &OLS, &f);
	SameFit(&f, &f_one, 1, &err);
	tap_ok(err == 0, "merging into and from an empty state changes nothing");

	/* serialization, with rows still in the buffer */
	a = StateOf(rows, n - 5, d);
	len = LsqSerializedSize(d);
	bytes = palloc(len + 1);
	LsqSerialize(a, bytes + 1);	/* deliberately misaligned */
	copy = LsqDeserialize(bytes + 1, len);
	identical = copy->d == d && copy->nrows == a->nrows && copy->nbuf == 0;
	for (i = 0; i < d && identical; i++)
		identical = memcmp(copy->R + (size_t) i * d, a->R + (size_t) i * d,
						   sizeof(double) * (i + 1)) == 0;
	for (i = n - 5; i < n; i++)
	{
		LsqAddRow(a, rows + (size_t) i * d);
		LsqAddRow(copy, rows + (size_t) i * d);
	}
	LsqSolve(a, &OLS, &f);
	LsqSolve(copy, &OLS, &f_copy);
	identical = identical &&
		memcmp(f.beta, f_copy.beta, sizeof(double) * k) == 0 &&
		memcmp(f.se, f_copy.se, sizeof(double) * k) == 0 &&
		f.intercept == f_copy.intercept && f.rss == f_copy.rss;
	tap_ok(identical && len == sizeof(double) * (2 + d * (d + 1) / 2),
		   "serialize -> deserialize is bit-identical (state and later fits)");
	pfree(bytes);
	pfree(rows);
}

/* Deserialize one hand-made buffer; true if it raised DATA_CORRUPTED. */
static bool
RejectsBuffer(const double *buf, Size len)
{
	SHIM_TRY();
	LsqDeserialize((const char *) buf, len);
	SHIM_END_TRY();
	return shim_error_raised && shim_error.sqlerrcode == ERRCODE_DATA_CORRUPTED;
}

/* Clean errors for bad input, misuse and impossible sizes. */
static void
TestErrors(void)
{
	double		good[2 + 6] = {3, 10, 1, 2, 3, 4, 5, 6};
	double		bad[2 + 6];
	bool		all;
	LsqState   *s;
	double		row[3] = {2.0, 1.0, 1.0};
	LsqFit		fit;

	/* the good buffer is accepted, so the rejections below mean something */
	s = LsqDeserialize((const char *) good, sizeof(good));
	tap_ok(s->d == 3 && s->nrows == 10 && s->R[3 * 2 + 2] == 6 && s->R[2 * 3 + 0] == 4,
		   "a valid hand-made buffer deserializes");

	all = RejectsBuffer(good, 8);
	all &= RejectsBuffer(good, sizeof(good) - 8);
	all &= RejectsBuffer(good, sizeof(good) - 1);
	memcpy(bad, good, sizeof(bad));
	bad[0] = 1;
	all &= RejectsBuffer(bad, sizeof(bad));
	bad[0] = 2.5;
	all &= RejectsBuffer(bad, sizeof(bad));
	bad[0] = NAN;
	all &= RejectsBuffer(bad, sizeof(bad));
	bad[0] = LSQ_MAX_COLS + 1;
	all &= RejectsBuffer(bad, sizeof(bad));
	bad[0] = 3;
	bad[1] = -1;
	all &= RejectsBuffer(bad, sizeof(bad));
	bad[1] = 0.5;
	all &= RejectsBuffer(bad, sizeof(bad));
	tap_ok(all, "corrupt buffers (short, bad d, bad length, bad nrows) raise DATA_CORRUPTED");

	SHIM_TRY();
	LsqCreate(LSQ_MAX_COLS + 1);
	SHIM_END_TRY();
	all = shim_error_raised && shim_error.sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED &&
		shim_error.hint[0] != '\0';
	SHIM_TRY();
	LsqCreate(1);
	SHIM_END_TRY();
	all &= shim_error_raised && shim_error.sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED &&
		shim_error.hint[0] != '\0';
	tap_ok(all, "LsqCreate rejects d > LSQ_MAX_COLS and d < 2 with PROGRAM_LIMIT_EXCEEDED and a hint");

	s = LsqCreate(3);
	SHIM_TRY();
	LsqAddRow(s, row);
	SHIM_END_TRY();
	all = shim_error_raised;
	SHIM_TRY();
	LsqSolve(s, &OLS, &fit);
	SHIM_END_TRY();
	all &= shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE;
	SHIM_TRY();
	LsqMerge(s, LsqCreate(4));
	SHIM_END_TRY();
	all &= shim_error_raised;
	row[0] = 1.0;
	LsqAddRow(s, row);
	SHIM_TRY();
	LsqColumnMean(s, 1);
	SHIM_END_TRY();
	all &= shim_error_raised;
	tap_ok(all, "row without the leading 1, fit of zero rows, merge of different d, "
		   "statistics of an unflushed state: all raise");
}

/* Test 4a: no intercept, and small-sample standard errors and r2. */
static void
TestNoInterceptAndStderr(void)
{
	int			n = 15,
				k = 3,
				d = k + 2,
				p = k + 1;
	double		truth[5];
	double	   *rows = MakeRows(33, n, k, 1.0, truth);
	LsqState   *s = StateOf(rows, n, d);
	LsqOptions	noint = {.intercept = false, .alpha = 0, .want_stderr = true};
	LsqFit		fit;
	double		got[5],
				ref[5],
				se_ref[5],
				se_got[5];
	double		rss,
				tss,
				sigma2;
	long double G[16];
	int			j;

	/* with intercept: se = sqrt(sigma^2 diag (X'X)^-1) */
	LsqSolve(s, &OLS, &fit);
	Coefs(&fit, got);
	RefFit(rows, n, d, true, NULL, ref, G);
	RefSums(rows, n, d, ref, true, &rss, &tss);
	sigma2 = rss / (n - p);
	for (j = 0; j < p; j++)
		se_ref[j] = sqrt(sigma2 * (double) G[j * p + j]);
	se_got[0] = fit.intercept_se;
	memcpy(se_got + 1, fit.se, sizeof(double) * k);
	tap_ok(max_rel_err(got, ref, p, 1e-3) < 1e-10 && fit.df_resid == n - p &&
		   max_rel_err(se_got, se_ref, p, 0) < 1e-10 &&
		   fabs(fit.r2 - (1 - rss / tss)) < 1e-12,
		   "n = 15: coefficients, intercept_se, se, df_resid and r2 match the reference "
		   "(se rel err %.1e)", max_rel_err(se_got, se_ref, p, 0));

	/* without intercept: fewer parameters, raw total sum of squares */
	s = StateOf(rows, n, d);
	LsqSolve(s, &noint, &fit);
	Coefs(&fit, got);
	RefFit(rows, n, d, false, NULL, ref, G);
	RefSums(rows, n, d, ref, false, &rss, &tss);
	sigma2 = rss / (n - k);
	for (j = 0; j < k; j++)
		se_ref[j] = sqrt(sigma2 * (double) G[j * k + j]);
	tap_ok(fit.intercept == 0 && isnan(fit.intercept_se) &&
		   max_rel_err(got + 1, ref + 1, k, 1e-3) < 1e-10 && fit.df_resid == n - k &&
		   fabs(fit.rss - rss) / rss < 1e-10 && fabs(fit.tss - tss) / tss < 1e-12 &&
		   max_rel_err(fit.se, se_ref, k, 0) < 1e-10,
		   "intercept = false: coefficients, se, rss, uncentered tss, df_resid match "
		   "(coef rel err %.1e)", max_rel_err(got + 1, ref + 1, k, 1e-3));

	/* the intercept-only model: mean of y, se = sd / sqrt(n) */
	{
		double		r2[2 * 200];
		LsqState   *s2 = LsqCreate(2);
		long double m = 0,
					v = 0;
		int			i;

		for (i = 0; i < 200; i++)
		{
			r2[2 * i] = 1;
			r2[2 * i + 1] = rows[(i % n) * d + d - 1] + i * 0.01;
			LsqAddRow(s2, r2 + 2 * i);
			m += r2[2 * i + 1];
		}
		m /= 200;
		for (i = 0; i < 200; i++)
			v += (r2[2 * i + 1] - m) * (r2[2 * i + 1] - m);
		LsqSolve(s2, &OLS, &fit);
		tap_ok(fit.k == 0 && fabs(fit.intercept - (double) m) < 1e-12 * fabs((double) m) &&
			   fabs(fit.intercept_se - (double) sqrtl(v / 199 / 200)) < 1e-12 &&
			   fabs(fit.r2) < 1e-12,
			   "k = 0: intercept is the mean, its se is sd/sqrt(n), r2 = 0");
	}

	/* constant y: tss = 0, r2 NaN */
	{
		double		r3[3] = {1, 0, 4.25};
		LsqState   *s3 = LsqCreate(3);
		bool		ok;
		int			i;

		for (i = 0; i < 10; i++)
		{
			r3[1] = i * 0.5;
			LsqAddRow(s3, r3);
		}
		LsqSolve(s3, &OLS, &fit);
		ok = fit.tss == 0 && isnan(fit.r2) && fabs(fit.intercept - 4.25) < 1e-14 &&
			fabs(fit.beta[0]) < 1e-14;

		/* y varying by 1e-7 of its mean is not constant */
		s3 = LsqCreate(3);
		for (i = 0; i < 10; i++)
		{
			r3[1] = i * 0.5;
			r3[2] = 4.25 + (i % 3) * 4.25e-7;
			LsqAddRow(s3, r3);
		}
		LsqSolve(s3, &OLS, &fit);
		tap_ok(ok && fit.tss > 0 && fit.r2 >= 0 && fit.r2 <= 1,
			   "constant y: tss = 0 and r2 NaN; y varying by 1e-7 of its mean: r2 in [0, 1]");
	}
	pfree(rows);
}

/* Test 4b: ridge against the closed form on centered data. */
static void
TestRidge(void)
{
	int			n = 400,
				k = 4,
				d = k + 2;
	double		truth[6];
	double	   *rows = MakeRows(44, n, k, 2.0, truth);
	double		scale[4];
	double		alpha = 3.5;
	LsqOptions	opt = {.intercept = true, .alpha = alpha, .penalty_scale = scale,
	.want_stderr = true};
	LsqFit		fit;
	LsqState   *s = StateOf(rows, n, d);
	double		got[6],
				ref[6],
				rss,
				tss;
	long double mean[6] = {0},
				pen[6];
	double	   *c = palloc(sizeof(double) * (size_t) n * d);
	int			i,
				j;

	/* penalize on the standardized scale, as the extension's ridge does */
	LsqFlush(s);
	for (j = 0; j < k; j++)
		scale[j] = LsqColumnStd(s, j + 1);

	/* closed form: (Xc'Xc + alpha diag(s^2)) b = Xc'yc, b0 = ybar - xbar.b */
	for (i = 0; i < n; i++)
		for (j = 1; j < d; j++)
			mean[j] += rows[(size_t) i * d + j];
	for (j = 1; j < d; j++)
		mean[j] /= n;
	for (i = 0; i < n; i++)
		for (j = 0; j < d; j++)
			c[(size_t) i * d + j] = j == 0 ? 1 : (double) (rows[(size_t) i * d + j] - mean[j]);
	for (j = 0; j < k; j++)
		pen[j] = (long double) alpha * scale[j] * scale[j];
	/* columns 1..k of the centered data (RefFit without intercept) */
	RefFit(c, n, d, false, pen, ref, NULL);
	ref[0] = (double) mean[d - 1];
	for (j = 1; j <= k; j++)
		ref[0] -= (double) (mean[j] * ref[j]);

	LsqSolve(s, &opt, &fit);
	Coefs(&fit, got);
	RefSums(rows, n, d, got, true, &rss, &tss);
	tap_ok(fit.rank_deficient_col == -1 && max_rel_err(got, ref, k + 1, 1e-3) < 1e-10 &&
		   fit.se == NULL && isnan(fit.intercept_se) &&
		   fabs(fit.rss - rss) / rss < 1e-10 && fabs(fit.r2 - (1 - rss / tss)) < 1e-10,
		   "ridge (alpha 3.5, standardized penalty): closed form on centered data, true rss, "
		   "no se (rel err %.1e)", max_rel_err(got, ref, k + 1, 1e-3));

	/* no intercept, unit penalty: (X'X + alpha I) b = X'y */
	opt.intercept = false;
	opt.penalty_scale = NULL;
	opt.alpha = 1e4;
	for (j = 0; j < k; j++)
		pen[j] = 1e4;
	RefFit(rows, n, d, false, pen, ref, NULL);
	LsqSolve(s, &opt, &fit);
	Coefs(&fit, got);
	tap_ok(max_rel_err(got + 1, ref + 1, k, 1e-3) < 1e-10 && fit.intercept == 0,
		   "ridge without intercept, unit penalty: (X'X + alpha I) b = X'y (rel err %.1e)",
		   max_rel_err(got + 1, ref + 1, k, 1e-3));

	/* a zero penalty weight leaves that coefficient unpenalized */
	opt.penalty_scale = scale;
	scale[0] = 1;
	scale[1] = 0;
	scale[2] = 2;
	scale[3] = 0.5;
	for (j = 0; j < k; j++)
		pen[j] = (long double) opt.alpha * scale[j] * scale[j];
	RefFit(rows, n, d, false, pen, ref, NULL);
	LsqSolve(s, &opt, &fit);
	Coefs(&fit, got);
	tap_ok(max_rel_err(got + 1, ref + 1, k, 1e-3) < 1e-10,
		   "ridge with per-feature weights including 0 (rel err %.1e)",
		   max_rel_err(got + 1, ref + 1, k, 1e-3));

	opt.alpha = -1;
	SHIM_TRY();
	LsqSolve(s, &opt, &fit);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "negative alpha raises INVALID_PARAMETER_VALUE");
	pfree(c);
	pfree(rows);
}

/*
 * Fit rows whose design column `col` is replaced by f(other columns);
 * returns rank_deficient_col.
 */
typedef enum
{
	DEP_DOUBLE,					/* x2 = 2 * x1 */
	DEP_CONSTANT,				/* x1 = 3.7 */
	DEP_DUPLICATE,				/* x2 = x0 */
	DEP_COMBINATION,			/* x2 = 0.1 x0 + 0.7 x1, rounded */
	DEP_ZERO					/* x1 = 0 */
} Dependency;

static int
DeficientCol(Dependency dep, int n, const LsqOptions *opts, LsqFit *fit_out)
{
	int			k = 4,
				d = k + 2;
	double		truth[6];
	double	   *rows = MakeRows(55 + dep, n, k, 0.3, truth);
	LsqState   *s;
	LsqFit		fit;
	int			i;

	for (i = 0; i < n; i++)
	{
		double	   *x = rows + (size_t) i * d + 1;

		switch (dep)
		{
			case DEP_DOUBLE:
				x[2] = 2 * x[1];
				break;
			case DEP_CONSTANT:
				x[1] = 3.7;
				break;
			case DEP_DUPLICATE:
				x[2] = x[0];
				break;
			case DEP_COMBINATION:
				x[2] = 0.1 * x[0] + 0.7 * x[1];
				break;
			case DEP_ZERO:
				x[1] = 0;
				break;
		}
	}
	s = StateOf(rows, n, d);
	LsqSolve(s, opts, &fit);
	if (fit_out)
		*fit_out = fit;
	pfree(rows);
	return fit.rank_deficient_col;
}

/* Test 4c: exact dependencies are found, at the right column. */
static void
TestRank(void)
{
	LsqOptions	noint = {.intercept = false, .alpha = 0, .want_stderr = true};
	LsqOptions	ridge = {.intercept = true, .alpha = 0.5, .want_stderr = true};
	LsqFit		fit;
	int			c;
	bool		nan_beta;

	c = DeficientCol(DEP_DOUBLE, 1000, &OLS, &fit);
	nan_beta = isnan(fit.beta[0]) && isnan(fit.intercept) && fit.se == NULL;
	tap_ok(c == 2 && nan_beta, "x2 = 2 * x1: design column 2 reported, beta left NaN (got %d)", c);
	c = DeficientCol(DEP_CONSTANT, 1000, &OLS, NULL);
	tap_ok(c == 1, "constant column next to the intercept: column 1 reported (got %d)", c);
	c = DeficientCol(DEP_CONSTANT, 1000, &noint, NULL);
	tap_ok(c == -1, "constant column without intercept: full rank (got %d)", c);
	c = DeficientCol(DEP_DUPLICATE, 1000, &OLS, NULL);
	tap_ok(c == 2, "duplicated column: column 2 reported (got %d)", c);
	c = DeficientCol(DEP_COMBINATION, 1000, &OLS, NULL);
	tap_ok(c == 2, "x2 = 0.1 x0 + 0.7 x1 (inexact in binary): column 2 reported (got %d)", c);
	c = DeficientCol(DEP_COMBINATION, 300000, &OLS, NULL);
	tap_ok(c == 2, "the same over 300000 rows (rounding grows with folds): column 2 (got %d)", c);
	c = DeficientCol(DEP_ZERO, 1000, &OLS, NULL);
	tap_ok(c == 1, "all-zero column: column 1 reported (got %d)", c);
	c = DeficientCol(DEP_DOUBLE, 1000, &ridge, &fit);
	tap_ok(c == -1 && isfinite(fit.beta[1]) && isfinite(fit.beta[2]),
		   "ridge on x2 = 2 * x1: no deficiency, finite coefficients (got %d)", c);
	c = DeficientCol(DEP_DOUBLE, 3, &OLS, NULL);
	tap_ok(c == 2, "3 rows, 5 parameters: rank 3, so design column 2 is reported (got %d)", c);
}

/*
 * Throughput of LsqAddRow over 1M rows x d = 22.  The rows cycle through a
 * pool of 1000, so the exact answer is the fit of the pool itself (each
 * row weighted 1000 times): a large-n accuracy check for free.
 */
static void
TestThroughput(void)
{
	int			pool = 1000,
				reps = 1000,
				k = 20,
				d = k + 2;
	double		truth[22];
	double	   *rows = MakeRowsShifted(66, pool, k, 0.01, 0.3, truth);
	LsqState   *s;
	LsqFit		fit;
	double		got[21],
				ref[21];
	double		t0,
				secs,
				best = INFINITY;
	int			run,
				r,
				i;

	openblas_set_num_threads(1);
	for (run = 0; run < 3; run++)
	{
		s = LsqCreate(d);
		t0 = now_seconds();
		for (r = 0; r < reps; r++)
			for (i = 0; i < pool; i++)
				LsqAddRow(s, rows + (size_t) i * d);
		LsqFlush(s);
		secs = now_seconds() - t0;
		best = fmin(best, secs);
		if (run < 2)
		{
			pfree(s->R);
			pfree(s->buf);
			pfree(s->scratch);
			pfree(s);
		}
	}
	tap_diag("LsqAddRow throughput: %.2fM rows/s (1M rows x d = 22, one core, best of 3)",
			 (double) pool * reps / best / 1e6);

	LsqSolve(s, &OLS, &fit);
	Coefs(&fit, got);
	RefFit(rows, pool, d, true, NULL, ref, NULL);
	tap_ok(fit.nrows == (int64) pool * reps && max_rel_err(got, ref, k + 1, 1e-3) < 1e-10,
		   "1M rows (a 1000-row pool x 1000) fit like the pool (rel err %.1e)",
		   max_rel_err(got, ref, k + 1, 1e-3));
	pfree(rows);
}

int
main(void)
{
	TestAccuracy();
	TestInvariance();
	TestErrors();
	TestNoInterceptAndStderr();
	TestRidge();
	TestRank();
	TestThroughput();
	return tap_done();
}
