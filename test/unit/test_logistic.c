/*-------------------------------------------------------------------------
 *
 * test_logistic.c
 *	  Unit tests of L2 logistic regression (src/algorithms/logistic.c):
 *	  coefficients against scikit-learn on binary, separable and
 *	  multinomial data, small and large C, no intercept; the gradient
 *	  against finite differences and the loss against long double at
 *	  extreme margins; predictions; error paths; and the fit time on the
 *	  1M x 20 benchmark shape.
 *
 * Where the references come from.  Every data set is generated here with
 * rng.h.  The expected values were computed once with scikit-learn 1.2.1
 * (Debian 12's python3-sklearn, scipy 1.10.1) on exactly these data:
 *
 *		./test_logistic.bin --dump /tmp/lr		# writes <name>.X and <name>.y
 *		/usr/bin/python3 - /tmp/lr <<'EOF'
 *		import sys, numpy as np
 *		from sklearn.linear_model import LogisticRegression
 *		d = sys.argv[1]
 *		def fit(name, n, p, solver='lbfgs', **kw):
 *			X = np.fromfile(f'{d}/{name}.X').reshape(p, n).T	# column-major
 *			y = np.fromfile(f'{d}/{name}.y', dtype=np.int32)
 *			m = LogisticRegression(solver=solver, **kw).fit(X, y)
 *			print(name, solver, kw, m.n_iter_, (m.predict(X) == y).sum())
 *			print(', '.join('%.10e' % v for v in m.coef_.ravel()))
 *			print(', '.join('%.10e' % v for v in np.atleast_1d(m.intercept_)))
 *		fit('bin', 500, 5, tol=1e-8)
 *		fit('bin', 500, 5, solver='newton-cg', tol=1e-12)
 *		fit('bin', 500, 5)
 *		fit('bin', 500, 5, C=1e-4, tol=1e-8)
 *		fit('bin', 500, 5, C=1e4, tol=1e-8)
 *		fit('bin', 500, 5, fit_intercept=False, tol=1e-8)
 *		fit('sep', 200, 3, tol=1e-8)
 *		fit('multi3', 600, 4, tol=1e-8)
 *		fit('multi3', 600, 4, solver='newton-cg', tol=1e-12)
 *		fit('multi5', 5000, 12, C=0.5, tol=1e-8)
 *		fit('bench', 1000000, 20)
 *		EOF
 *
 * The test itself never runs Python.  ./test_logistic.bin --verbose also
 * prints every compared fit's parameters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/logistic.h"
#include "algorithms/logistic_kernel.h"
#include "algorithms/rng.h"
#include "tap.h"

typedef struct Dataset
{
	const char *name;
	int64		n;
	int			p;
	int			nclasses;
	double	   *X;				/* n x p, column-major */
	int		   *y;
} Dataset;

/* Standard normal by Box-Muller, one value per call. */
static double
Normal(AifRng *rng)
{
	double		u1 = AifRngDouble(rng);
	double		u2 = AifRngDouble(rng);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static void
DatasetAlloc(Dataset *ds, const char *name, int64 n, int p, int nclasses)
{
	ds->name = name;
	ds->n = n;
	ds->p = p;
	ds->nclasses = nclasses;
	ds->X = palloc(sizeof(double) * (size_t) n * p);
	ds->y = palloc(sizeof(int) * (size_t) n);
}

/*
 * Binary data: features of different scales and offsets, a linear score
 * t; y ~ Bernoulli(sigmoid(t)), or y = [t > 0] when separable.
 */
static void
MakeBinary(Dataset *ds, const char *name, uint64 seed, int64 n, int p,
		   bool separable)
{
	AifRng		rng;
	int64		i;
	int			j;

	DatasetAlloc(ds, name, n, p, 2);
	AifRngSeed(&rng, seed);
	for (i = 0; i < n; i++)
	{
		double		t = -0.4;

		for (j = 0; j < p; j++)
		{
			double		scale = 0.5 + j % 3;
			double		x = 0.2 * j + scale * Normal(&rng);
			double		w = (j % 2 ? -1.0 : 1.0) * (0.3 + 0.4 * j) / scale;

			ds->X[(size_t) j * n + i] = x;
			t += w * x;
		}
		if (separable)
			ds->y[i] = t > 0;
		else
			ds->y[i] = AifRngDouble(&rng) < 1.0 / (1.0 + exp(-t));
	}
}

/* K overlapping Gaussian blobs with unit variance around cosine means. */
static void
MakeMulti(Dataset *ds, const char *name, uint64 seed, int64 n, int p, int K)
{
	AifRng		rng;
	int64		i;
	int			j;

	DatasetAlloc(ds, name, n, p, K);
	AifRngSeed(&rng, seed);
	for (i = 0; i < n; i++)
	{
		int			c = (int) AifRngBelow(&rng, K);

		ds->y[i] = c;
		for (j = 0; j < p; j++)
			ds->X[(size_t) j * n + i] = 1.5 * cos(1.3 * c + 0.7 * j) + Normal(&rng);
	}
}

/*
 * The shape of the benchmark table (../shared/bench/bench_table.sql):
 * 20 features uniform on [-1, 1], label = [sum_k f_k ((k % 5) - 2)
 * + 4 f_1 f_2 + noise > 0].
 */
static void
MakeBench(Dataset *ds, int64 n)
{
	AifRng		rng;
	int			p = 20;
	int64		i;
	int			j;

	DatasetAlloc(ds, "bench", n, p, 2);
	AifRngSeed(&rng, 42);
	for (i = 0; i < n; i++)
	{
		double		s = 0;

		for (j = 0; j < p; j++)
		{
			double		v = AifRngDouble(&rng) * 2 - 1;

			ds->X[(size_t) j * n + i] = v;
			s += v * (((j + 1) % 5) - 2);
		}
		s += 4 * ds->X[i] * ds->X[n + i] + 0.5 * (AifRngDouble(&rng) - 0.5);
		ds->y[i] = s > 0;
	}
}

static void
DatasetFree(Dataset *ds)
{
	pfree(ds->X);
	pfree(ds->y);
}

/* Write the data set for the reference script (see the file header). */
static void
DatasetDump(const Dataset *ds, const char *dir)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s.X", dir, ds->name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(ds->X, sizeof(double), (size_t) ds->n * ds->p, f) != (size_t) ds->n * ds->p)
	{
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.y", dir, ds->name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(ds->y, sizeof(int), (size_t) ds->n, f) != (size_t) ds->n)
	{
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
	fclose(f);
}

static LogisticOptions
Opts(double C, bool fit_intercept, int max_iter, double tol)
{
	LogisticOptions o;

	o.C = C;
	o.fit_intercept = fit_intercept;
	o.max_iter = max_iter;
	o.tol = tol;
	o.threads = LOGISTIC_DEFAULT_THREADS;
	return o;
}

static LogisticModel
Fit(const Dataset *ds, LogisticOptions o)
{
	LogisticModel m;

	LogisticFit(ds->X, ds->n, ds->p, ds->y, ds->nclasses, &o, &m);
	return m;
}

/* (coef..., intercepts...) of a model in sklearn's order */
static int
Params(const LogisticModel *m, double *out)
{
	int			np = m->nsets * m->p;

	memcpy(out, m->coef, sizeof(double) * np);
	memcpy(out + np, m->intercept, sizeof(double) * m->nsets);
	return np + m->nsets;
}

/* rows whose predicted class equals the label */
static int64
Correct(const LogisticModel *m, const Dataset *ds)
{
	double	   *x = palloc(sizeof(double) * ds->p);
	int64		good = 0;
	int64		i;
	int			j;

	for (i = 0; i < ds->n; i++)
	{
		for (j = 0; j < ds->p; j++)
			x[j] = ds->X[(size_t) j * ds->n + i];
		good += LogisticPredictClass(m, x) == ds->y[i];
	}
	pfree(x);
	return good;
}

static void
PrintParams(const char *what, const LogisticModel *m)
{
	double		v[512];
	int			k = Params(m, v);
	int			j;

	printf("# %s: n_iter %d converged %d final_loss %.12g\n# ", what, m->n_iter,
		   m->converged, m->final_loss);
	for (j = 0; j < k; j++)
		printf("%.10e%s", v[j], j + 1 < k ? ", " : "\n");
}

/* --verbose: print the parameters of every fit compared with sklearn */
static bool verbose = false;

/*
 * Compare a fit with sklearn's parameters: max relative error with a
 * floor of 1e-3 of the largest reference value (so that coefficients
 * near zero are compared on the scale of the model).
 */
static double
ParamErr(const LogisticModel *m, const double *ref, int k)
{
	double		got[512];
	double		big = 0;
	int			j;

	if (Params(m, got) != k)
		return INFINITY;
	for (j = 0; j < k; j++)
		big = Max(big, fabs(ref[j]));
	return max_rel_err(got, ref, k, Max(big * 1e-3, 1e-300));
}


/*
 * scikit-learn 1.2.1's results (see the header for the script): the
 * parameters in sklearn's order (coef_ row by row, then intercept_), the
 * iterations and the count of training rows predicted right.
 */
typedef struct SkRef
{
	int			n_iter;
	int64		correct;
	int			k;
	double		v[72];
} SkRef;

/* bin, C = 1, tol = 1e-8 (and the default tol 1e-4: same result) */
static const SkRef SK_BIN = {19, 432, 6, {
		7.3459127857e-01, -3.9210137656e-01, 4.1029756180e-01, -2.9787233531e+00, 1.1735797462e+00,
-3.5111473627e-01}};

/* bin, C = 1, newton-cg at tol = 1e-12: the optimum to ~1e-9 */
static const SkRef SK_BIN_NEWTON = {100, 432, 6, {
		7.3458987252e-01, -3.9210266163e-01, 4.1029745327e-01, -2.9787191019e+00, 1.1735808120e+00,
-3.5111830428e-01}};

/* bin, C = 1e-4, tol = 1e-8 */
static const SkRef SK_BIN_SMALL_C = {8, 318, 6, {
		1.5215313751e-03, -5.9304823647e-03, 1.4382367819e-02, -5.0293968604e-03, 1.5983182331e-02,
-5.7099149630e-01}};

/* bin, C = 1e4, tol = 1e-8 */
static const SkRef SK_BIN_LARGE_C = {19, 432, 6, {
		8.3637279426e-01, -4.2512724861e-01, 4.4116422263e-01, -3.4091905506e+00, 1.2639546267e+00,
-2.6358369293e-01}};

/* bin, C = 1, fit_intercept = False, tol = 1e-8 */
static const SkRef SK_BIN_NO_INTERCEPT = {15, 432, 6, {
		7.3556817512e-01, -4.1488325740e-01, 3.9561074199e-01, -3.2185954166e+00, 1.0929007250e+00,
0.0}};

/* sep (separable), C = 1, tol = 1e-8 */
static const SkRef SK_SEP = {14, 196, 4, {
		2.1112488160e+00, -2.6477788549e+00, 2.4153108622e+00,
-2.2154553130e+00}};

/* multi3, C = 1, tol = 1e-8 */
static const SkRef SK_MULTI3 = {17, 514, 15, {
		1.0076715879e+00, 1.2323230339e+00, 1.0631904231e+00, -8.9743434131e-02,
		2.7682922102e-01, -2.4986254987e-01, -6.4827006780e-01, -6.3181719778e-01,
		-1.2845008090e+00, -9.8246048406e-01, -4.1492035529e-01, 7.2156063191e-01,
3.5513891861e-01, -2.7468441256e-02, -3.2767047735e-01}};

/* multi3, C = 1, newton-cg at tol = 1e-12 */
static const SkRef SK_MULTI3_NEWTON = {100, 514, 15, {
		1.0076828780e+00, 1.2323321347e+00, 1.0631488600e+00, -8.9770487613e-02,
		2.7679419883e-01, -2.4987760085e-01, -6.4826046683e-01, -6.3177041308e-01,
		-1.2844770768e+00, -9.8245453385e-01, -4.1488839317e-01, 7.2154090069e-01,
3.5501229081e-01, -2.7445217670e-02, -3.2756707314e-01}};

/* multi5, C = 0.5, tol = 1e-8 */
static const SkRef SK_MULTI5 = {48, 4824, 65, {
		1.1824663930e+00, 8.3562210880e-01, 1.6472795985e-01, -7.2581523836e-01, -1.1086787191e+00, -1.2103064462e+00,
		-5.2375594584e-01, 3.7582118544e-01, 1.0482762510e+00, 1.2670782075e+00, 8.6147657996e-01, 2.1170035574e-01,
		3.6370239000e-01, -4.7265259294e-01, -1.0808019786e+00, -1.1381399708e+00, -7.9270446248e-01, 1.7654297197e-01,
		9.4956339574e-01, 1.3459271261e+00, 9.1211433651e-01, 3.4408572817e-01, -5.6542158668e-01, -1.3141428567e+00,
		-9.8771131988e-01, -1.2765561978e+00, -9.1126119333e-01, 9.2882855958e-02, 9.4540918236e-01, 1.2660488474e+00,
		1.0874932004e+00, 4.0194513940e-01, -4.2030700934e-01, -1.0532188929e+00, -1.4163879531e+00, -8.7515346204e-01,
		-1.0718270405e+00, -1.1595994077e-01, 6.8663731397e-01, 1.1719985933e+00, 1.1019087310e+00, 5.9002588022e-01,
		-2.8354666820e-01, -1.0708092052e+00, -1.3416385211e+00, -1.0197054229e+00, -1.2054228085e-01, 7.0761568064e-01,
		5.1336957743e-01, 1.0295466227e+00, 1.1406978981e+00, 5.9907375999e-01, -1.4593473181e-01, -8.2231125334e-01,
		-1.2297539821e+00, -1.0528842457e+00, -1.9844505709e-01, 4.6176038009e-01, 1.2408752407e+00, 1.2699802824e+00,
-2.3015959169e-02, 4.6713642846e-01, -5.6802942038e-01, 4.7238321896e-01, -3.4847426787e-01}};

/* bench, 1M x 20, sklearn's defaults */
static const SkRef SK_BENCH = {12, 895756, 21, {
		-1.2736976375e+00, 1.0040766225e-03, 1.3452110930e+00, 2.6868504226e+00, -2.6882098992e+00,
		-1.3295036439e+00, -4.2724916973e-03, 1.3364399391e+00, 2.6682358052e+00, -2.6730902203e+00,
		-1.3293438316e+00, 4.0833132900e-03, 1.3304021829e+00, 2.6827869460e+00, -2.6828694459e+00,
		-1.3537348929e+00, -2.1868758574e-03, 1.3352223033e+00, 2.6704875291e+00, -2.6826422504e+00,
-1.7745090289e-03}};

/* ParamErr between two references */
static double
RefErr(const SkRef *a, const SkRef *ref)
{
	double		big = 0;
	int			j;

	for (j = 0; j < ref->k; j++)
		big = Max(big, fabs(ref->v[j]));
	return max_rel_err(a->v, ref->v, ref->k, big * 1e-3);
}

/*
 * One fit against sklearn: parameters within tol_rel, the same
 * predictions' accuracy; the iteration count is reported (following
 * L-BFGS-B's path, it usually equals sklearn's).
 */
static void
CheckFit(const char *what, const Dataset *ds, LogisticOptions o,
		 const SkRef *ref, double tol_rel)
{
	LogisticModel m = Fit(ds, o);
	double		err = ParamErr(&m, ref->v, ref->k);
	int64		good = Correct(&m, ds);

	if (verbose)
		PrintParams(what, &m);
	tap_ok(err <= tol_rel,
		   "%s: parameters match scikit-learn to %.0e (max rel err %.1e; %d iterations, sklearn %d)",
		   what, tol_rel, err, m.n_iter, ref->n_iter);
	tap_ok(good == ref->correct,
		   "%s: %lld of %lld training rows predicted right, as by scikit-learn",
		   what, (long long) good, (long long) ds->n);
}

/* Binary, non-separable and separable. */
static void
TestBinary(void)
{
	Dataset		bin;
	Dataset		sep;
	LogisticModel m;
	LogisticOptions o;

	MakeBinary(&bin, "bin", 101, 500, 5, false);
	MakeBinary(&sep, "sep", 202, 200, 3, true);

	CheckFit("bin C=1 tol=1e-8", &bin, Opts(1.0, true, 100, 1e-8), &SK_BIN, 1e-4);

	/* the same fit is within scipy's relative-decrease stop of the optimum */
	m = Fit(&bin, Opts(1.0, true, 100, 1e-8));
	tap_ok(m.converged && ParamErr(&m, SK_BIN_NEWTON.v, SK_BIN_NEWTON.k) <=
		   1.01 * RefErr(&SK_BIN, &SK_BIN_NEWTON),
		   "bin C=1: %.1e from the optimum (newton-cg at 1e-12), like sklearn's lbfgs (%.1e)",
		   ParamErr(&m, SK_BIN_NEWTON.v, SK_BIN_NEWTON.k), RefErr(&SK_BIN, &SK_BIN_NEWTON));

	LogisticDefaultOptions(&o);
	m = Fit(&bin, o);
	tap_ok(m.converged && ParamErr(&m, SK_BIN.v, SK_BIN.k) < 1e-4 && abs(m.n_iter - SK_BIN.n_iter) <= 1,
		   "bin with sklearn's defaults: converged in %d iterations (sklearn %d), rel err %.1e",
		   m.n_iter, SK_BIN.n_iter, ParamErr(&m, SK_BIN.v, SK_BIN.k));

	CheckFit("bin C=1e-4", &bin, Opts(1e-4, true, 100, 1e-8), &SK_BIN_SMALL_C, 1e-4);
	m = Fit(&bin, Opts(1e-4, true, 100, 1e-8));
	tap_ok(fabs(m.coef[0]) < 0.02 && fabs(m.coef[4]) < 0.02 && fabs(m.intercept[0]) > 0.5,
		   "bin C=1e-4: coefficients shrink to ~0, the unpenalized intercept does not (%.4f, %.4f)",
		   m.coef[0], m.intercept[0]);
	CheckFit("bin C=1e4", &bin, Opts(1e4, true, 100, 1e-8), &SK_BIN_LARGE_C, 1e-4);
	CheckFit("bin no intercept", &bin, Opts(1.0, false, 100, 1e-8), &SK_BIN_NO_INTERCEPT, 1e-4);
	m = Fit(&bin, Opts(1.0, false, 100, 1e-8));
	tap_ok(m.intercept[0] == 0.0, "bin no intercept: intercept is exactly 0");

	CheckFit("sep C=1", &sep, Opts(1.0, true, 100, 1e-8), &SK_SEP, 1e-4);

	DatasetFree(&bin);
	DatasetFree(&sep);
}

/* Multinomial with 3 and 5 classes (the latter over several row blocks). */
static void
TestMultinomial(void)
{
	Dataset		m3;
	Dataset		m5;
	LogisticModel m;
	double		sum_b = 0;
	double		sum_w = 0;
	int			k;

	MakeMulti(&m3, "multi3", 303, 600, 4, 3);
	MakeMulti(&m5, "multi5", 505, 5000, 12, 5);

	CheckFit("multi3 C=1", &m3, Opts(1.0, true, 100, 1e-8), &SK_MULTI3, 1e-4);
	m = Fit(&m3, Opts(1.0, true, 100, 1e-8));
	tap_ok(m.nsets == 3 && m.nclasses == 3 &&
		   ParamErr(&m, SK_MULTI3_NEWTON.v, SK_MULTI3_NEWTON.k) <=
		   1.01 * RefErr(&SK_MULTI3, &SK_MULTI3_NEWTON),
		   "multi3: 3 coefficient sets, %.1e from the optimum, like sklearn's lbfgs (%.1e: scipy's relative-decrease stop)",
		   ParamErr(&m, SK_MULTI3_NEWTON.v, SK_MULTI3_NEWTON.k),
		   RefErr(&SK_MULTI3, &SK_MULTI3_NEWTON));
	/* the over-parameterized form: the penalty centers the sets */
	for (k = 0; k < 3; k++)
	{
		sum_b += m.intercept[k];
		sum_w += m.coef[k * m3.p + 1];
	}
	tap_ok(fabs(sum_b) < 1e-10 && fabs(sum_w) < 1e-6,
		   "multi3: intercepts sum to 0 (%.1e), so do a feature's coefficients (%.1e)",
		   sum_b, sum_w);

	CheckFit("multi5 C=0.5", &m5, Opts(0.5, true, 100, 1e-8), &SK_MULTI5, 1e-4);

	DatasetFree(&m3);
	DatasetFree(&m5);
}
/*
 * The gradient the optimizer sees (LogisticObjective runs the fit's own
 * code) against central differences of f, at a random point.
 */
static void
GradientCheck(const char *what, const Dataset *ds, bool fit_intercept, uint64 seed)
{
	LogisticOptions o = Opts(0.7, fit_intercept, 100, 1e-4);
	int			K = ds->nclasses == 2 ? 1 : ds->nclasses;
	int			P = K * ds->p + (fit_intercept ? K : 0);
	double	   *theta = palloc(sizeof(double) * P);
	double	   *g = palloc(sizeof(double) * P);
	double	   *dummy = palloc(sizeof(double) * P);
	double		worst = 0;
	double		gmax = 0;
	AifRng		rng;
	int			j;

	AifRngSeed(&rng, seed);
	for (j = 0; j < P; j++)
		theta[j] = 0.5 * Normal(&rng);
	LogisticObjective(ds->X, ds->n, ds->p, ds->y, ds->nclasses, &o, theta, g);
	for (j = 0; j < P; j++)
		gmax = Max(gmax, fabs(g[j]));
	for (j = 0; j < P; j++)
	{
		double		h = 1e-5 * Max(1.0, fabs(theta[j]));
		double		save = theta[j];
		double		fp;
		double		fm;

		theta[j] = save + h;
		fp = LogisticObjective(ds->X, ds->n, ds->p, ds->y, ds->nclasses, &o, theta, dummy);
		theta[j] = save - h;
		fm = LogisticObjective(ds->X, ds->n, ds->p, ds->y, ds->nclasses, &o, theta, dummy);
		theta[j] = save;
		worst = Max(worst, fabs((fp - fm) / (2 * h) - g[j]));
	}
	tap_ok(worst <= 1e-6 * gmax,
		   "%s: gradient matches central differences (max err %.1e of max |g| %.1e)",
		   what, worst, gmax);
	pfree(theta);
	pfree(g);
	pfree(dummy);
}

static void
TestGradient(void)
{
	Dataset		bin;
	Dataset		m3;
	Dataset		m5;

	MakeBinary(&bin, "bin", 101, 500, 5, false);
	MakeMulti(&m3, "multi3", 303, 600, 4, 3);
	MakeMulti(&m5, "multi5", 505, 5000, 12, 5);
	GradientCheck("bin", &bin, true, 1);
	GradientCheck("bin no intercept", &bin, false, 2);
	GradientCheck("multi3", &m3, true, 3);
	GradientCheck("multi5 no intercept, several blocks", &m5, false, 4);
	DatasetFree(&bin);
	DatasetFree(&m3);
	DatasetFree(&m5);
}

/*
 * The loss at margins from 1e-300 to 800, where a naive log(1 + exp(z))
 * overflows or loses everything, against long double; no penalty (C =
 * Infinity), theta = (1, 0) so that z = x.
 */
static void
TestExtremeLoss(void)
{
	static const double zs[] = {-800, -745.5, -300, -40, -36.5, -20, -7, -6.9, -3, -1,
		-1e-3, -1e-300, 0, 1e-300, 1e-3, 0.5, 1, 3, 6.9, 7, 20, 36.5, 40, 300, 745.5, 800};
	int			nz = lengthof(zs);
	int			n = 2 * nz;
	double	   *X = palloc(sizeof(double) * n);
	int		   *y = palloc(sizeof(int) * n);
	double		theta[2] = {1.0, 0.0};
	double		g[2];
	LogisticOptions o = Opts(INFINITY, true, 100, 1e-4);
	long double ref = 0;
	long double ref_g0 = 0;
	long double ref_g1 = 0;
	double		f;
	int			i;

	for (i = 0; i < n; i++)
	{
		long double z = zs[i % nz];
		long double sig = 1.0L / (1.0L + expl(-z));

		X[i] = zs[i % nz];
		y[i] = i >= nz;
		ref += log1pl(expl(z)) - y[i] * z;
		ref_g0 += (sig - y[i]) * z;
		ref_g1 += sig - y[i];
	}
	f = LogisticObjective(X, n, 1, y, 2, &o, theta, g);
	tap_ok(fabs(f - (double) ref) <= 1e-15 * (double) ref,
		   "binary loss at |z| up to 800 matches long double (rel err %.1e)",
		   fabs(f - (double) ref) / (double) ref);
	tap_ok(fabs(g[0] - (double) ref_g0) <= 1e-14 * fabs((double) ref_g0) &&
		   fabs(g[1] - (double) ref_g1) <= 1e-14,
		   "binary gradient at |z| up to 800 matches long double");

	/* small losses only: every row right with a margin of 10 to 40 */
	for (i = 0; i < n; i++)
	{
		X[i] = (i % 2 ? 1 : -1) * (10.0 + 30.0 * i / n);
		y[i] = i % 2;
	}
	ref = 0;
	for (i = 0; i < n; i++)
		ref += log1pl(expl(-fabsl((long double) X[i])));
	f = LogisticObjective(X, n, 1, y, 2, &o, theta, g);
	tap_ok(fabs(f - (double) ref) <= 1e-14 * (double) ref,
		   "binary loss of tiny per-row losses (~1e-5 to 1e-18) keeps its digits (rel err %.1e)",
		   fabs(f - (double) ref) / (double) ref);
	pfree(X);
	pfree(y);
}

/* Softmax loss with decision values far beyond exp's range. */
static void
TestExtremeMultinomial(void)
{
	int			n = 6;
	double		X[6] = {-900, -50, 0, 1e-3, 50, 900};
	int			y[6] = {0, 1, 2, 0, 1, 2};
	double		theta[6] = {-1.0, 0.5, 1.0, 0.0, 0.0, 0.0};	/* W (3 x 1), b */
	double		g[6];
	LogisticOptions o = Opts(INFINITY, true, 100, 1e-4);
	long double ref = 0;
	double		f;
	int			i;
	int			k;

	for (i = 0; i < n; i++)
	{
		long double z[3];
		long double m;
		long double s = 0;

		for (k = 0; k < 3; k++)
			z[k] = theta[k] * (long double) X[i];
		m = Max(Max(z[0], z[1]), z[2]);
		for (k = 0; k < 3; k++)
			s += expl(z[k] - m);
		ref += m + logl(s) - z[y[i]];
	}
	f = LogisticObjective(X, n, 1, y, 3, &o, theta, g);
	tap_ok(isfinite(f) && fabs(f - (double) ref) <= 1e-14 * (double) ref,
		   "softmax loss with decision values up to 900 matches long double (rel err %.1e)",
		   fabs(f - (double) ref) / (double) ref);
}

/* Iteration limit, max_iter = 0, tol = 0, predictions. */
static void
TestConvergenceAndPredict(void)
{
	Dataset		bin;
	Dataset		m3;
	LogisticModel m;
	double		x[5];
	double		proba[3];
	double	   *many;
	double		worst = 0;
	bool		argmax_ok = true;
	int64		i;
	int			j;
	int			k;

	MakeBinary(&bin, "bin", 101, 500, 5, false);
	MakeMulti(&m3, "multi3", 303, 600, 4, 3);

	m = Fit(&bin, Opts(1.0, true, 2, 1e-8));
	tap_ok(!m.converged && m.n_iter == 2,
		   "max_iter = 2: stops after 2 iterations, not converged (not an error)");
	m = Fit(&bin, Opts(1.0, true, 0, 1e-8));
	tap_ok(!m.converged && m.n_iter == 0 && m.coef[0] == 0 && m.intercept[0] == 0,
		   "max_iter = 0: no iteration, zero coefficients");
	m = Fit(&bin, Opts(1.0, true, 1000, 0.0));
	tap_ok(m.converged && ParamErr(&m, SK_BIN_NEWTON.v, SK_BIN_NEWTON.k) < 2e-5,
		   "tol = 0: stops on the relative decrease of f, %d iterations", m.n_iter);
	{
		LogisticOptions o = Opts(1.0, true, 100, 0.0);
		double		theta[6];
		double		g[6];
		double		f;

		Params(&m, theta);
		f = LogisticObjective(bin.X, bin.n, bin.p, bin.y, 2, &o, theta, g);
		tap_ok(fabs(m.final_loss - f) <= 1e-12 * f,
			   "final_loss is the objective at the solution (%.10f)", f);
	}

	/* probabilities: one row at a time and in blocks agree, sum to 1 */
	m = Fit(&m3, Opts(1.0, true, 100, 1e-8));
	many = palloc(sizeof(double) * m3.n * 3);
	LogisticPredictProbaMany(&m, m3.X, m3.n, many);
	for (i = 0; i < m3.n; i++)
	{
		double		s = 0;
		int			best = 0;

		for (j = 0; j < m3.p; j++)
			x[j] = m3.X[(size_t) j * m3.n + i];
		LogisticPredictProba(&m, x, proba);
		for (k = 0; k < 3; k++)
		{
			s += proba[k];
			worst = Max(worst, fabs(proba[k] - many[i * 3 + k]));
			if (proba[k] > proba[best])
				best = k;
		}
		worst = Max(worst, fabs(s - 1));
		if (best != LogisticPredictClass(&m, x))
			argmax_ok = false;
	}
	tap_ok(worst < 1e-14 && argmax_ok,
		   "multi3: probabilities sum to 1, row and block forms agree (%.1e), class = argmax",
		   worst);

	m = Fit(&bin, Opts(1.0, true, 100, 1e-8));
	many = repalloc(many, sizeof(double) * bin.n * 2);
	LogisticPredictProbaMany(&m, bin.X, bin.n, many);
	worst = 0;
	argmax_ok = true;
	for (i = 0; i < bin.n; i++)
	{
		double		z = m.intercept[0];

		for (j = 0; j < bin.p; j++)
		{
			x[j] = bin.X[(size_t) j * bin.n + i];
			z += m.coef[j] * x[j];
		}
		LogisticPredictProba(&m, x, proba);
		worst = Max(worst, fabs(proba[1] - 1.0 / (1.0 + exp(-z))));
		worst = Max(worst, fabs(proba[0] + proba[1] - 1));
		worst = Max(worst, fabs(many[i * 2 + 1] - proba[1]) + fabs(many[i * 2] - proba[0]));
		if (LogisticPredictClass(&m, x) != (z > 0))
			argmax_ok = false;
	}
	tap_ok(worst < 1e-14 && argmax_ok,
		   "bin: P(class 1) = sigmoid(w.x + b), rows and blocks agree (%.1e), class = [z > 0]",
		   worst);
	pfree(many);
	DatasetFree(&bin);
	DatasetFree(&m3);
}

/* Expect an ERROR with the given SQLSTATE from a fit. */
static void
ExpectFitError(const char *what, const double *X, int64 n, int p, const int *y,
			   int nclasses, LogisticOptions o, int sqlerrcode, const char *msg_part)
{
	LogisticModel m;

	SHIM_TRY();
	{
		LogisticFit(X, n, p, y, nclasses, &o, &m);
	}
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == sqlerrcode &&
		   strstr(shim_error.message, msg_part) != NULL,
		   "%s: ERROR %s \"%s\"", what,
		   shim_error_raised ? shim_unpack_sqlstate(shim_error.sqlerrcode) : "none",
		   shim_error_raised ? shim_error.message : "");
}

static void
TestErrors(void)
{
	Dataset		bin;
	int		   *y = palloc(sizeof(int) * 500);
	double	   *X = palloc(sizeof(double) * 500 * 5);
	LogisticOptions ok = Opts(1.0, true, 100, 1e-4);
	int			i;

	MakeBinary(&bin, "bin", 101, 500, 5, false);

	ExpectFitError("one class", bin.X, bin.n, bin.p, bin.y, 1, ok,
				   ERRCODE_INVALID_PARAMETER_VALUE, "at least two classes");
	tap_ok(shim_error.hint[0] != '\0', "one class: the error has a hint (\"%s\")", shim_error.hint);
	for (i = 0; i < 500; i++)
		y[i] = 1;
	ExpectFitError("every row of class 1", bin.X, bin.n, bin.p, y, 2, ok,
				   ERRCODE_INVALID_PARAMETER_VALUE, "at least two classes");
	for (i = 0; i < 500; i++)
		y[i] = i % 2 == 0 ? 0 : 2;
	ExpectFitError("class 1 of 3 without rows", bin.X, bin.n, bin.p, y, 3, ok,
				   ERRCODE_INVALID_PARAMETER_VALUE, "no training rows");
	for (i = 0; i < 500; i++)
		y[i] = i % 3;
	ExpectFitError("label 2 with two classes", bin.X, bin.n, bin.p, y, 2, ok,
				   ERRCODE_INTERNAL_ERROR, "outside 0..1");
	ExpectFitError("C = 0", bin.X, bin.n, bin.p, bin.y, 2, Opts(0.0, true, 100, 1e-4),
				   ERRCODE_INVALID_PARAMETER_VALUE, "C must be a positive number");
	ExpectFitError("C = -1", bin.X, bin.n, bin.p, bin.y, 2, Opts(-1.0, true, 100, 1e-4),
				   ERRCODE_INVALID_PARAMETER_VALUE, "C must be a positive number");
	ExpectFitError("C = NaN", bin.X, bin.n, bin.p, bin.y, 2, Opts(NAN, true, 100, 1e-4),
				   ERRCODE_INVALID_PARAMETER_VALUE, "C must be a positive number");
	ExpectFitError("max_iter = -1", bin.X, bin.n, bin.p, bin.y, 2, Opts(1.0, true, -1, 1e-4),
				   ERRCODE_INVALID_PARAMETER_VALUE, "max_iter");
	ExpectFitError("tol = -1", bin.X, bin.n, bin.p, bin.y, 2, Opts(1.0, true, 100, -1),
				   ERRCODE_INVALID_PARAMETER_VALUE, "tol");
	ExpectFitError("zero rows", bin.X, 0, bin.p, bin.y, 2, ok,
				   ERRCODE_INVALID_PARAMETER_VALUE, "zero rows");
	ExpectFitError("zero features", bin.X, bin.n, 0, bin.y, 2, ok,
				   ERRCODE_INVALID_PARAMETER_VALUE, "at least one feature");

	memcpy(X, bin.X, sizeof(double) * 500 * 5);
	X[3 * 500 + 17] = NAN;
	ExpectFitError("a NaN feature", X, bin.n, bin.p, bin.y, 2, ok,
				   ERRCODE_DATA_EXCEPTION, "NaN");
	X[3 * 500 + 17] = INFINITY;
	ExpectFitError("an infinite feature", X, bin.n, bin.p, bin.y, 2, ok,
				   ERRCODE_DATA_EXCEPTION, "infinity");

	pfree(y);
	pfree(X);
	DatasetFree(&bin);
}

/*
 * One thread and two give bit-identical fits (the segments' sums are
 * added in the same order whoever computed them), binary and multinomial,
 * on inputs large enough to be threaded and over many segments.
 */
static void
TestThreads(void)
{
	Dataset		bin;
	Dataset		m4;
	const Dataset *sets[2];
	int			d;

	MakeBinary(&bin, "bin300k", 909, 300000, 12, false);
	MakeMulti(&m4, "multi4_200k", 808, 200000, 9, 4);
	sets[0] = &bin;
	sets[1] = &m4;
	for (d = 0; d < 2; d++)
	{
		LogisticOptions o = Opts(1.0, true, 100, 1e-6);
		LogisticModel a;
		LogisticModel b;
		int			np;

		o.threads = 1;
		a = Fit(sets[d], o);
		o.threads = 2;
		b = Fit(sets[d], o);
		np = a.nsets * a.p;
		tap_ok(a.n_iter == b.n_iter && a.final_loss == b.final_loss &&
			   memcmp(a.coef, b.coef, sizeof(double) * np) == 0 &&
			   memcmp(a.intercept, b.intercept, sizeof(double) * a.nsets) == 0,
			   "%s: one thread and two give bit-identical coefficients, intercepts, loss and n_iter (%d iterations)",
			   d == 0 ? "binary 300000 x 12" : "4 classes 200000 x 9", a.n_iter);
	}
	DatasetFree(&bin);
	DatasetFree(&m4);
}

/* The fastest of three fits of ds with o, in seconds; the last fit in *m. */
static double
BestOfThreeFits(const Dataset *ds, LogisticOptions o, LogisticModel *m)
{
	double		best = INFINITY;

	for (int rep = 0; rep < 3; rep++)
	{
		double		t0 = now_seconds();

		*m = Fit(ds, o);
		best = Min(best, now_seconds() - t0);
	}
	return best;
}

/*
 * The benchmark's shape, 1M rows x 20 features: agreement with sklearn's
 * defaults and the fit time (one BLAS thread, best of 3).  sklearn's own
 * fit on the same data took 0.65 to 1.7 s on the development machine
 * (shared, 2 cores, OPENBLAS_NUM_THREADS=1; it varies with the load).
 */
static void
TestBench(void)
{
	Dataset		bench;
	LogisticOptions o;
	LogisticModel m;
	double		best;

	MakeBench(&bench, 1000000);
	LogisticDefaultOptions(&o);
	o.threads = 1;
	best = BestOfThreeFits(&bench, o, &m);
	tap_diag("LogisticFit on 1M x 20 (binary, sklearn's defaults), one thread: %.3f s, %d iterations (sklearn %d), %.1f ms/iteration",
			 best, m.n_iter, SK_BENCH.n_iter, 1e3 * best / Max(m.n_iter, 1));
	o.threads = LOGISTIC_DEFAULT_THREADS;
	best = BestOfThreeFits(&bench, o, &m);
	tap_diag("LogisticFit on 1M x 20 (binary, sklearn's defaults), %d threads (at most the processors): %.3f s, %.1f ms/iteration",
			 o.threads, best, 1e3 * best / Max(m.n_iter, 1));
	tap_ok(m.converged && ParamErr(&m, SK_BENCH.v, SK_BENCH.k) < 1e-4,
		   "bench 1M x 20: parameters match scikit-learn's defaults to 1e-4 (rel err %.1e)",
		   ParamErr(&m, SK_BENCH.v, SK_BENCH.k));
	tap_ok(Correct(&m, &bench) == SK_BENCH.correct,
		   "bench 1M x 20: %lld rows predicted right, as by scikit-learn",
		   (long long) SK_BENCH.correct);
	DatasetFree(&bench);
}

/*
 * The binary kernel (logistic_kernel.c): its inline exp against libm's over
 * [-708, 0], and a full chunk (the AVX2 path where the CPU has it) against
 * the scalar path's formulas on rows of every kind: both signs, labels 0
 * and 1, e on both sides of LOGISTIC_SMALL_E, |z| past the clamp.
 */
static void
TestKernel(void)
{
	double		worst = 0;
	double		worst_x = 0;
	int			bad_r = 0;
	double		worst_loss = 0;

	if (!LogisticKernelSimd())
	{
		tap_ok(isnan(LogisticKernelExp(-1.0)), "kernel: no AVX2, the scalar path only");
		return;
	}
	for (int i = 0; i <= 2000000; i++)
	{
		double		x = -708.0 * i / 2000000.0;
		double		want = exp(x);
		double		err = fabs(LogisticKernelExp(x) - want) / want;

		if (err > worst)
		{
			worst = err;
			worst_x = x;
		}
	}
	tap_ok(worst <= 4.5e-16, "kernel exp on [-708, 0]: largest relative error %.2e (at %.6f), at most 2 ulp",
		   worst, worst_x);
	tap_ok(LogisticKernelExp(0.0) == 1.0 && LogisticKernelExp(-800.0) > 0 &&
		   LogisticKernelExp(-800.0) < 1e-307,
		   "kernel exp: exp(0) = 1; below -708 a tiny positive number");

	for (int trial = 0; trial < 20000; trial++)
	{
		double		z[LOGISTIC_CHUNK_ROWS];
		int			y[LOGISTIC_CHUNK_ROWS];
		double		r[LOGISTIC_CHUNK_ROWS];
		double		rs[LOGISTIC_CHUNK_ROWS];
		double		sum;
		double		prod;
		double		want = 0;
		double		got;
		uint64		h = 0x9E3779B97F4A7C15ULL * (trial + 1);

		for (int i = 0; i < LOGISTIC_CHUNK_ROWS; i++)
		{
			/* margins from 1e-3 to 1e3 and past the clamp, both signs */
			h ^= h >> 31;
			h *= 0xBF58476D1CE4E5B9ULL;
			h ^= h >> 29;
			z[i] = ((h & 1) ? 1 : -1) * pow(10.0, (double) ((h >> 8) % 7000) / 1000.0 - 3.0);
			if ((h >> 40) % 50 == 0)
				z[i] *= 1000;
			y[i] = (int) ((h >> 20) & 1);
		}
		LogisticBinaryChunk(z, y, r, LOGISTIC_CHUNK_ROWS, &sum, &prod);
		got = sum + log(prod);
		/* the scalar path, a row at a time (n < LOGISTIC_CHUNK_ROWS) */
		for (int i = 0; i < LOGISTIC_CHUNK_ROWS; i++)
		{
			double		s1;
			double		p1;

			LogisticBinaryChunk(z + i, y + i, rs + i, 1, &s1, &p1);
			want += s1 + log(p1);
			/* r is in (-1, 1): q - 1 cancels, so its error is absolute */
			if (fabs(r[i] - rs[i]) > 4.5e-16)
				bad_r++;
		}
		worst_loss = Max(worst_loss, fabs(got - want) / Max(fabs(want), 1e-300));
	}
	tap_ok(bad_r == 0, "kernel chunk: every residual within 4.5e-16 of the scalar path's (%d off)",
		   bad_r);
	tap_ok(worst_loss < 1e-13, "kernel chunk: loss within %.1e of the scalar path's (relative)",
		   worst_loss);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--dump") == 0)
	{
		Dataset		ds;

		MakeBinary(&ds, "bin", 101, 500, 5, false);
		DatasetDump(&ds, argv[2]);
		DatasetFree(&ds);
		MakeBinary(&ds, "sep", 202, 200, 3, true);
		DatasetDump(&ds, argv[2]);
		DatasetFree(&ds);
		MakeMulti(&ds, "multi3", 303, 600, 4, 3);
		DatasetDump(&ds, argv[2]);
		DatasetFree(&ds);
		MakeMulti(&ds, "multi5", 505, 5000, 12, 5);
		DatasetDump(&ds, argv[2]);
		DatasetFree(&ds);
		MakeBench(&ds, 1000000);
		DatasetDump(&ds, argv[2]);
		DatasetFree(&ds);
		return 0;
	}
	verbose = argc == 2 && strcmp(argv[1], "--verbose") == 0;
	TestBinary();
	TestMultinomial();
	TestGradient();
	TestExtremeLoss();
	TestExtremeMultinomial();
	TestConvergenceAndPredict();
	TestErrors();
	TestThreads();
	TestKernel();
	TestBench();
	return tap_done();
}
