/*-------------------------------------------------------------------------
 *
 * test_elasticnet.c
 *	  Unit tests of the elastic net (src/algorithms/elasticnet.c): results
 *	  against scikit-learn 1.2 on the same data (lasso with a sparse truth,
 *	  several alpha/l1_ratio, alpha = 0 against least squares, no
 *	  intercept, more features than rows, tolerance and iteration limits),
 *	  agreement of the Gram and residual solvers, error paths, and the
 *	  time of a fit on 1M x 20.
 *
 * The expected numbers were produced once, while developing, like this:
 *
 *	  ./test_elasticnet.bin --dump /tmp/enet	# data and the case table as CSV
 *	  /usr/bin/python3 script.py				# scikit-learn 1.2.1, numpy 1.24.2
 *
 * with script.py:
 *
 *	  import numpy as np, warnings
 *	  from sklearn.linear_model import ElasticNet, Lasso
 *	  warnings.simplefilter("ignore")
 *	  data = {k: np.loadtxt(f"/tmp/enet/{k}.csv", delimiter=",") for k in "AB"}
 *	  for line in open("/tmp/enet/cases.csv"):
 *		  name, d, a, r, it, tol, fi = line.strip().split(",")
 *		  D = data[d]; y = D[:, 0].copy(); X = np.asfortranarray(D[:, 1:])
 *		  kw = dict(alpha=float(a), max_iter=int(it), tol=float(tol),
 *					fit_intercept=fi == "1")
 *		  m = (Lasso(**kw) if float(r) == 1 else
 *			   ElasticNet(l1_ratio=float(r), **kw)).fit(X, y)
 *		  print(f"{{{m.intercept_!r}, {m.n_iter_}, {m.dual_gap_!r}, "
 *				f"{{{', '.join(repr(c) for c in m.coef_)}}}}},")
 *
 * whose output is pasted into expected[] below (Lasso is ElasticNet with
 * l1_ratio = 1; both were run with their default precompute=False, i.e.
 * sklearn's residual solver).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "algorithms/elasticnet.h"
#include "algorithms/rng.h"
#include "tap.h"

#define MAXP 60

/* A data set: X column-major n x p, y, both from a fixed seed. */
typedef struct Data
{
	int64		n;
	int			p;
	double	   *X;
	double	   *y;
} Data;

typedef struct Case
{
	const char *name;
	char		data;			/* 'A' or 'B' */
	double		alpha;
	double		l1_ratio;
	int			max_iter;
	double		tol;
	bool		fit_intercept;
} Case;

typedef struct Expected
{
	double		intercept;
	int			n_iter;
	double		dual_gap;
	double		coef[MAXP];
} Expected;

static const Case cases[] = {
	{"lasso alpha=0.2", 'A', 0.2, 1.0, 1000, 1e-4, true},
	{"defaults alpha=1 l1_ratio=0.5", 'A', 1.0, 0.5, 1000, 1e-4, true},
	{"alpha=0.1 l1_ratio=0.5", 'A', 0.1, 0.5, 1000, 1e-4, true},
	{"alpha=0.05 l1_ratio=0.2", 'A', 0.05, 0.2, 1000, 1e-4, true},
	{"alpha=0.5 l1_ratio=0.9", 'A', 0.5, 0.9, 1000, 1e-4, true},
	{"alpha=0.01 l1_ratio=0 (pure L2)", 'A', 0.01, 0.0, 1000, 1e-4, true},
	{"alpha=0 (least squares)", 'A', 0.0, 0.5, 1000, 1e-4, true},
	{"no intercept alpha=0.1 l1_ratio=0.5", 'A', 0.1, 0.5, 1000, 1e-4, false},
	{"no intercept lasso alpha=0.2", 'A', 0.2, 1.0, 1000, 1e-4, false},
	{"tol=1e-8 alpha=0.1 l1_ratio=0.5", 'A', 0.1, 0.5, 1000, 1e-8, true},
	{"alpha=100 (all zero)", 'A', 100.0, 0.5, 1000, 1e-4, true},
	{"p > n lasso alpha=0.1", 'B', 0.1, 1.0, 1000, 1e-4, true},
	{"p > n alpha=0.05 l1_ratio=0.7", 'B', 0.05, 0.7, 1000, 1e-4, true},
	{"max_iter=3 (not converged)", 'A', 0.01, 0.5, 3, 1e-4, true},
};

/* scikit-learn 1.2.1's answers; see the top of the file */
static const Expected expected[] = {
	/* lasso alpha=0.2 */
	{0.6638229310654944, 5, 8.729626870263019e-07,
		{1.061092029706588, 0.0, -1.2176413689888284, 0.0, 0.0, 0.6943223434721849, 0.0,
		0.0}},
	/* defaults alpha=1 l1_ratio=0.5 */
	{-1.3911494534388673, 4, 6.76008477284995e-07,
		{0.0, 0.0, -0.5209218813962352, 0.0, 0.0, 0.4842737132311067, 0.0, 0.0}},
	/* alpha=0.1 l1_ratio=0.5 */
	{1.450454027011581, 5, 7.296487280967767e-06,
		{1.4135907309460995, 0.0, -1.3227311766166343, -0.0, 0.002499074228272176,
		0.7310876348578252, 0.017007792846274388, 0.010007073208055472}},
	/* alpha=0.05 l1_ratio=0.2 */
	{2.0446608946845717, 6, 1.7666445042152646e-06,
		{1.6142320496295772, 0.0730481610115914, -1.378787695390438,
		-0.0015782583467786472, 0.017955881860568887, 0.7515774146185398,
		0.02033975499560955, 0.018468680770852407}},
	/* alpha=0.5 l1_ratio=0.9 */
	{-1.9489404366933785, 5, 1.5138705578010558e-07,
		{0.0, 0.0, -0.8569582453846091, 0.0, 0.0, 0.5890766939964005, 0.0, 0.0}},
	/* alpha=0.01 l1_ratio=0 (pure L2) */
	{2.7287771622747, 1000, 0.5309135399003602,
		{1.8654263115511909, 0.08722339986111928, -1.43796918613982,
		-0.010895082621749385, 0.021350367018452065, 0.7654255968245747,
		0.018963803197627443, 0.02202949887626906}},
	/* alpha=0 (least squares) */
	{2.954250640335085, 1000, 0.4992803005677648,
		{1.949772737550428, 0.08450644341288031, -1.4550945520018987,
		-0.011762340200800477, 0.020936834154226515, 0.7686212366315714,
		0.018051701915725606, 0.0226321026334072}},
	/* no intercept alpha=0.1 l1_ratio=0.5 */
	{0.0, 39, 0.0003470577352881321,
		{1.0338462153069201, -0.0, -1.3674958608762087, 0.0, 0.013112080862325678,
		0.7526734632558649, 0.040518236497776, 0.0362473076921734}},
	/* no intercept lasso alpha=0.2 */
	{0.0, 24, 0.00036522498792095347,
		{0.8611112822704756, 0.0, -1.239310936383183, 0.0, 0.0, 0.7055602473180562,
		0.0005800824722299461, 0.0}},
	/* tol=1e-8 alpha=0.1 l1_ratio=0.5 */
	{1.450465895105137, 9, 1.4706330375702237e-10,
		{1.4135926547866828, 0.0, -1.3227268488364579, -0.0, 0.0024983693611003444,
		0.7310867150403019, 0.01700800514828095, 0.01000712858585868}},
	/* alpha=100 (all zero) */
	{0.11366790851703781, 1, 0.0,
		{0.0, 0.0, -0.0, -0.0, 0.0, 0.0, 0.0, 0.0}},
	/* p > n lasso alpha=0.1 */
	{-1.0385594619906602, 20, 0.0003502071011822983,
		{0.9914154020150386, 0.016935562848046353, 0.0, -0.0, -0.0, 0.0,
		-0.06975431379218197, -0.0, -0.0, -0.0, 0.0, 0.10559700410067195,
		-1.8907136857469158, 0.0, 0.07980514613927689, -0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
		-0.0, -0.0, 0.0, 2.8363820373396886, 0.0, -0.0, -0.0, -0.0, 0.0, 0.0, -0.0,
		-0.0, -0.0, -0.0, 0.0, -3.890699491609411, -0.0, -0.0, -0.0, 0.0, 0.0, 0.0, 0.0,
		0.0037284030074294233, 0.0, -0.0, 0.0, 4.945030187990395, -0.0, 0.0, 0.0, -0.0,
		0.0, 0.0, 0.0, -0.0, 0.0, -0.0, -0.0}},
	/* p > n alpha=0.05 l1_ratio=0.7 */
	{-1.4325057919766877, 49, 0.0028253894020685566,
		{1.0636898895826639, 0.09040754128259239, 0.0, -0.0, -0.05381969201259363,
		0.019786603949523838, -0.14075849266408078, -0.035341575351797334,
		-0.004226627778829421, -0.006397862334377183, 0.0, 0.10910815601521724,
		-1.9151385748886938, 0.0, 0.12478855231124174, -0.0, 0.018241510660386664, 0.0,
		0.07968138643414549, 0.0, 0.0, -0.0, -0.0, -0.0, 2.751332967503674,
		0.02057291437985584, -0.0, -0.038428887753853266, -0.0, 0.0,
		0.021645535434682006, 0.0, -0.0, -0.0, 0.0, 0.0, -3.84293384456005, -0.0, 0.0,
		0.0, -0.0, 0.060291332325609036, 0.0, 0.0018179334489058444,
		0.07573959472113118, 0.0, -0.0, 0.0, 4.797756798900799, 0.0, -0.0,
		0.07059945569342463, -0.11148605778007722, 0.04061293523427039, 0.0,
		0.06654979343841386, -0.0, 0.0, -0.0, -0.0}},
	/* max_iter=3 (not converged) */
	{2.769772870279437, 3, 0.005536020875962038,
		{1.8827669280263064, 0.0786719554263676, -1.441082797082588,
		-0.007580918997221326, 0.019017733442893852, 0.7650722859727445,
		0.017911497793860913, 0.021187459174336343}},
};

static double
Normal(AifRng *rng)
{
	double		u1 = AifRngDouble(rng);
	double		u2 = AifRngDouble(rng);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

/*
 * Features x_j = mu_j + s_j (rho z + sqrt(1 - rho^2) e_j) row by row, with
 * z, e_j ~ N(0,1) (z shared by the row's features and only drawn when
 * rho != 0), and y = b + X w + noise N(0,1).
 */
static Data
MakeDataCorr(uint64 seed, int64 n, int p, const double *mu, const double *s,
			 double rho, double b, const double *w, double noise)
{
	Data		d;
	AifRng		rng;
	int64		i;
	int			j;

	d.n = n;
	d.p = p;
	d.X = palloc(sizeof(double) * (Size) n * p);
	d.y = palloc(sizeof(double) * (Size) n);
	AifRngSeed(&rng, seed);
	for (i = 0; i < n; i++)
	{
		double		yi = b;
		double		z = rho != 0 ? rho * Normal(&rng) : 0;

		for (j = 0; j < p; j++)
		{
			double		x = mu[j] + s[j] * (z + sqrt(1 - rho * rho) * Normal(&rng));

			d.X[(Size) j * n + i] = x;
			yi += w[j] * x;
		}
		d.y[i] = yi + noise * Normal(&rng);
	}
	return d;
}

static Data
MakeData(uint64 seed, int64 n, int p, const double *mu, const double *s,
		 double b, const double *w, double noise)
{
	return MakeDataCorr(seed, n, p, mu, s, 0.0, b, w, noise);
}

/* A: 200 x 8, shifted and scaled features, 3 of 8 true coefficients nonzero */
static Data
DataA(void)
{
	double		mu[8],
				s[8];
	static const double w[8] = {2.0, 0, -1.5, 0, 0, 0.75, 0, 0};
	int			j;

	for (j = 0; j < 8; j++)
	{
		mu[j] = j - 3.0;
		s[j] = 0.5 + 0.25 * j;
	}
	return MakeData(20240601, 200, 8, mu, s, 3.0, w, 1.0);
}

/* B: 40 x 60 (more features than rows), 5 true coefficients nonzero */
static Data
DataB(void)
{
	double		mu[60],
				s[60],
				w[60];
	int			j;

	for (j = 0; j < 60; j++)
	{
		mu[j] = 0.1 * j;
		s[j] = 1.0;
		w[j] = (j % 12 == 0) ? (j / 12 + 1) * (j % 24 == 0 ? 1.0 : -1.0) : 0.0;
	}
	return MakeData(20240602, 40, 60, mu, s, -1.0, w, 0.5);
}

static void
DumpData(const char *dir, const char *name, const Data *d)
{
	char		path[1024];
	FILE	   *f;
	int64		i;
	int			j;

	snprintf(path, sizeof(path), "%s/%s.csv", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	for (i = 0; i < d->n; i++)
	{
		fprintf(f, "%.17g", d->y[i]);
		for (j = 0; j < d->p; j++)
			fprintf(f, ",%.17g", d->X[(Size) j * d->n + i]);
		fprintf(f, "\n");
	}
	fclose(f);
}

/* --dump DIR: write the data and the case table for the sklearn script */
static int
Dump(const char *dir)
{
	Data		a = DataA();
	Data		b = DataB();
	char		path[1024];
	FILE	   *f;
	size_t		c;

	mkdir(dir, 0755);
	DumpData(dir, "A", &a);
	DumpData(dir, "B", &b);
	snprintf(path, sizeof(path), "%s/cases.csv", dir);
	f = fopen(path, "w");
	if (f == NULL)
	{
		perror(path);
		return 2;
	}
	for (c = 0; c < lengthof(cases); c++)
		fprintf(f, "%s,%c,%.17g,%.17g,%d,%.17g,%d\n", cases[c].name, cases[c].data,
				cases[c].alpha, cases[c].l1_ratio, cases[c].max_iter, cases[c].tol,
				cases[c].fit_intercept ? 1 : 0);
	fclose(f);
	return 0;
}

static ElasticNetOptions
OptionsOf(const Case *c)
{
	ElasticNetOptions o;

	o.alpha = c->alpha;
	o.l1_ratio = c->l1_ratio;
	o.max_iter = c->max_iter;
	o.tol = c->tol;
	o.fit_intercept = c->fit_intercept;
	return o;
}

/*
 * Our fit against sklearn's: coefficients and intercept to 1e-9 relative
 * to the largest coefficient, the same exact zeros, the iteration count
 * within one sweep, the duality gap to 1e-6 relative (it is a small
 * difference of large terms).
 */
static void
CompareCase(const Case *c, const Expected *e, const Data *d, ElasticNetSolver solver,
			const char *sname)
{
	ElasticNetOptions o = OptionsOf(c);
	ElasticNetFit fit;
	double		scale = 1.0;
	double		worst = 0;
	bool		zeros_same = true;
	int			nzero = 0;
	int			j;

	ElasticNetFitDenseSolver(d->X, d->y, d->n, d->p, &o, solver, &fit);
	for (j = 0; j < d->p; j++)
		scale = fmax(scale, fabs(e->coef[j]));
	for (j = 0; j < d->p; j++)
	{
		worst = fmax(worst, fabs(fit.coef[j] - e->coef[j]) / scale);
		if ((fit.coef[j] == 0.0) != (e->coef[j] == 0.0))
			zeros_same = false;
		nzero += (e->coef[j] == 0.0);
	}
	worst = fmax(worst, fabs(fit.intercept - e->intercept) / fmax(1.0, fabs(e->intercept)));
	tap_ok(worst < 1e-9 && zeros_same,
		   "%s [%s]: coefficients and intercept match sklearn (max rel err %.2e, "
		   "%d exact zeros, same pattern: %s)",
		   c->name, sname, worst, nzero, zeros_same ? "yes" : "no");
	tap_ok(abs(fit.n_iter - e->n_iter) <= 1 &&
		   fit.converged == (e->n_iter < c->max_iter),
		   "%s [%s]: %d sweeps, converged=%s (sklearn: %d)",
		   c->name, sname, fit.n_iter, fit.converged ? "true" : "false", e->n_iter);
	tap_ok(fabs(fit.dual_gap - e->dual_gap) <= 1e-6 * fabs(e->dual_gap) + 1e-13,
		   "%s [%s]: duality gap %.6e (sklearn %.6e)",
		   c->name, sname, fit.dual_gap, e->dual_gap);
	pfree(fit.coef);
}

/* alpha = 0 is least squares: compare with the long-double reference. */
static void
TestLeastSquares(const Data *d)
{
	double	   *rows = palloc(sizeof(double) * (Size) d->n * (d->p + 1));
	long double beta[MAXP + 1];
	ElasticNetOptions o;
	ElasticNetFit fit;
	double		worst = 0;
	int64		i;
	int			j;

	for (i = 0; i < d->n; i++)
	{
		rows[(Size) i * (d->p + 1)] = 1.0;
		for (j = 0; j < d->p; j++)
			rows[(Size) i * (d->p + 1) + j + 1] = d->X[(Size) j * d->n + i];
	}
	ref_lsq((int) d->n, d->p + 1, rows, d->y, NULL, beta, NULL);
	ElasticNetOptionsInit(&o);
	o.alpha = 0;
	ElasticNetFitDense(d->X, d->y, d->n, d->p, &o, &fit);
	worst = fabs(fit.intercept - (double) beta[0]) / fmax(1.0, fabsl(beta[0]));
	for (j = 0; j < d->p; j++)
		worst = fmax(worst, fabs(fit.coef[j] - (double) beta[j + 1]) /
					 fmax(1.0, fabsl(beta[j + 1])));
	tap_ok(worst < 1e-10,
		   "alpha = 0 matches long-double least squares (max rel err %.2e, "
		   "%d sweeps, converged=%s as in sklearn)",
		   worst, fit.n_iter, fit.converged ? "true" : "false");
	pfree(rows);
}

static bool
FailsWith(const double *X, const double *y, int64 n, int p,
		  const ElasticNetOptions *o, int sqlerrcode)
{
	ElasticNetFit fit;

	SHIM_TRY();
	ElasticNetFitDense(X, y, n, p, o, &fit);
	SHIM_END_TRY();
	return shim_error_raised && shim_error.sqlerrcode == sqlerrcode &&
		shim_error.hint[0] != '\0';
}

static void
TestErrors(const Data *d)
{
	ElasticNetOptions o;
	ElasticNetOptions bad;
	bool		all;

	ElasticNetOptionsInit(&o);
	tap_ok(o.alpha == 1.0 && o.l1_ratio == 0.5 && o.max_iter == 1000 && o.tol == 1e-4 &&
		   o.fit_intercept, "ElasticNetOptionsInit gives sklearn's defaults");

	bad = o;
	bad.alpha = -0.1;
	all = FailsWith(d->X, d->y, d->n, d->p, &bad, ERRCODE_INVALID_PARAMETER_VALUE);
	bad.alpha = NAN;
	all &= FailsWith(d->X, d->y, d->n, d->p, &bad, ERRCODE_INVALID_PARAMETER_VALUE);
	tap_ok(all, "alpha < 0 or NaN: INVALID_PARAMETER_VALUE with a hint");

	bad = o;
	bad.l1_ratio = 1.5;
	all = FailsWith(d->X, d->y, d->n, d->p, &bad, ERRCODE_INVALID_PARAMETER_VALUE);
	bad.l1_ratio = -0.01;
	all &= FailsWith(d->X, d->y, d->n, d->p, &bad, ERRCODE_INVALID_PARAMETER_VALUE);
	tap_ok(all, "l1_ratio outside [0, 1]: INVALID_PARAMETER_VALUE with a hint");

	bad = o;
	bad.max_iter = 0;
	tap_ok(FailsWith(d->X, d->y, d->n, d->p, &bad, ERRCODE_INVALID_PARAMETER_VALUE),
		   "max_iter < 1: INVALID_PARAMETER_VALUE with a hint");

	bad = o;
	bad.tol = -1e-4;
	tap_ok(FailsWith(d->X, d->y, d->n, d->p, &bad, ERRCODE_INVALID_PARAMETER_VALUE),
		   "tol < 0: INVALID_PARAMETER_VALUE with a hint");

	all = FailsWith(d->X, d->y, 0, d->p, &o, ERRCODE_INVALID_PARAMETER_VALUE);
	all &= FailsWith(d->X, d->y, d->n, 0, &o, ERRCODE_INVALID_PARAMETER_VALUE);
	tap_ok(all, "no rows or no features: INVALID_PARAMETER_VALUE with a hint");
}

/*
 * Edge cases: a constant column (zero once centered) is skipped and stays
 * 0; a constant target converges at once to w = 0, intercept = the
 * constant; X and y are not modified.
 */
static void
TestEdges(const Data *d)
{
	int64		n = d->n;
	int			p = d->p;
	double	   *X = palloc(sizeof(double) * (Size) n * p);
	double	   *y = palloc(sizeof(double) * (Size) n);
	double	   *X0 = palloc(sizeof(double) * (Size) n * p);
	double	   *y0 = palloc(sizeof(double) * (Size) n);
	ElasticNetOptions o;
	ElasticNetFit f1;
	ElasticNetFit f2;
	ElasticNetFit ref;
	double		worst = 0;
	int64		i;
	int			j;

	ElasticNetOptionsInit(&o);
	o.alpha = 0.1;
	memcpy(X, d->X, sizeof(double) * (Size) n * p);
	for (i = 0; i < n; i++)
		X[(Size) 3 * n + i] = 7.25;		/* column 3 constant */
	memcpy(X0, X, sizeof(double) * (Size) n * p);
	memcpy(y0, d->y, sizeof(double) * (Size) n);
	ElasticNetFitDenseSolver(X, d->y, n, p, &o, ELASTICNET_SOLVER_GRAM, &f1);
	ElasticNetFitDenseSolver(X, d->y, n, p, &o, ELASTICNET_SOLVER_RESIDUAL, &f2);
	tap_ok(f1.coef[3] == 0.0 && f2.coef[3] == 0.0 && f1.converged && f2.converged,
		   "a constant column gets coefficient exactly 0 (both solvers)");
	tap_ok(memcmp(X, X0, sizeof(double) * (Size) n * p) == 0 &&
		   memcmp(d->y, y0, sizeof(double) * (Size) n) == 0,
		   "X and y are left unmodified");

	/* dropping the constant column changes nothing */
	for (j = 3; j < p - 1; j++)
		memcpy(X + (Size) j * n, X + (Size) (j + 1) * n, sizeof(double) * n);
	ElasticNetFitDense(X, d->y, n, p - 1, &o, &ref);
	for (j = 0; j < p - 1; j++)
		worst = fmax(worst, fabs(ref.coef[j] - f1.coef[j < 3 ? j : j + 1]));
	worst = fmax(worst, fabs(ref.intercept - f1.intercept));
	tap_ok(worst < 1e-12 && ref.n_iter == f1.n_iter,
		   "a constant column does not change the other coefficients (max diff %.2e)", worst);

	for (i = 0; i < n; i++)
		y[i] = -2.5;
	ElasticNetFitDenseSolver(d->X, y, n, p, &o, ELASTICNET_SOLVER_GRAM, &f1);
	ElasticNetFitDenseSolver(d->X, y, n, p, &o, ELASTICNET_SOLVER_RESIDUAL, &f2);
	worst = 0;
	for (j = 0; j < p; j++)
		worst = fmax(worst, fabs(f1.coef[j]) + fabs(f2.coef[j]));
	tap_ok(worst == 0 && fabs(f1.intercept + 2.5) < 1e-14 && fabs(f2.intercept + 2.5) < 1e-14 &&
		   f1.converged && f2.converged && f1.n_iter == 1 && f2.n_iter == 1,
		   "a constant target: w = 0, intercept = the constant, converged after 1 sweep");

	/* a single row: centered data is all zero, so w = 0, intercept = y */
	ElasticNetFitDense(d->X, d->y, 1, p, &o, &f1);
	worst = 0;
	for (j = 0; j < p; j++)
		worst = fmax(worst, fabs(f1.coef[j]));
	tap_ok(worst == 0 && f1.intercept == d->y[0] && f1.converged,
		   "one row: w = 0 and intercept = y");
	pfree(X);
	pfree(y);
	pfree(X0);
	pfree(y0);
}

/*
 * 1M x 20: time both solvers (one BLAS thread, see the Makefile), and
 * check that they agree.  Features standardized-like (mean 0, sd 1), as
 * aifactory passes them to penalized models by default.
 */
static void
TestTiming(void)
{
	int64		n = 1000000;
	int			p = 20;
	double		mu[20],
				s[20],
				w[20];
	Data		d;
	ElasticNetOptions o;
	ElasticNetFit fg;
	ElasticNetFit fr;
	double		t0,
				t1,
				t2;
	double		worst = 0;
	int			j;

	for (j = 0; j < p; j++)
	{
		mu[j] = 0;
		s[j] = 1;
		w[j] = (j % 3 == 0) ? 1.0 / (1 + j) : 0.0;
	}
	d = MakeData(20240603, n, p, mu, s, 0.5, w, 1.0);

	ElasticNetOptionsInit(&o);
	o.alpha = 0.01;
	t0 = now_seconds();
	ElasticNetFitDense(d.X, d.y, n, p, &o, &fg);
	t1 = now_seconds();
	ElasticNetFitDenseSolver(d.X, d.y, n, p, &o, ELASTICNET_SOLVER_RESIDUAL, &fr);
	t2 = now_seconds();
	for (j = 0; j < p; j++)
		worst = fmax(worst, fabs(fg.coef[j] - fr.coef[j]));
	worst = fmax(worst, fabs(fg.intercept - fr.intercept));
	tap_diag("elastic net 1M x 20 (alpha=0.01, l1_ratio=0.5): Gram solver (auto) %.3f s, "
			 "residual solver %.3f s; %d sweeps each", t1 - t0, t2 - t1, fg.n_iter);
	tap_ok(worst < 1e-10 && fg.n_iter == fr.n_iter && fg.converged && fr.converged,
		   "1M x 20: Gram and residual solvers agree (max diff %.2e)", worst);

	o.alpha = 1.0;
	t0 = now_seconds();
	ElasticNetFitDense(d.X, d.y, n, p, &o, &fg);
	t1 = now_seconds();
	tap_diag("elastic net 1M x 20 with sklearn's defaults: %.3f s, %d sweeps",
			 t1 - t0, fg.n_iter);
	pfree(d.X);
	pfree(d.y);

	/* correlated features (rho = 0.9) need many more sweeps */
	d = MakeDataCorr(20240604, n, p, mu, s, 0.9, 0.5, w, 1.0);
	o.alpha = 0.001;
	o.l1_ratio = 0.5;
	t0 = now_seconds();
	ElasticNetFitDense(d.X, d.y, n, p, &o, &fg);
	t1 = now_seconds();
	ElasticNetFitDenseSolver(d.X, d.y, n, p, &o, ELASTICNET_SOLVER_RESIDUAL, &fr);
	t2 = now_seconds();
	worst = 0;
	for (j = 0; j < p; j++)
		worst = fmax(worst, fabs(fg.coef[j] - fr.coef[j]));
	tap_diag("elastic net 1M x 20, features correlated 0.9 (alpha=0.001): Gram solver (auto) "
			 "%.3f s, residual solver %.3f s; %d sweeps", t1 - t0, t2 - t1, fg.n_iter);
	tap_ok(worst < 1e-8 && abs(fg.n_iter - fr.n_iter) <= 1,
		   "1M x 20 correlated: Gram and residual solvers agree (max diff %.2e, %d and %d sweeps)",
		   worst, fg.n_iter, fr.n_iter);
	pfree(d.X);
	pfree(d.y);
}

int
main(int argc, char **argv)
{
	Data		a;
	Data		b;
	size_t		c;

	if (argc == 3 && strcmp(argv[1], "--dump") == 0)
		return Dump(argv[2]);

	a = DataA();
	b = DataB();
	if (lengthof(expected) != lengthof(cases))
	{
		tap_ok(false, "expected[] has %zu entries for %zu cases",
			   lengthof(expected), lengthof(cases));
		return tap_done();
	}
	for (c = 0; c < lengthof(cases); c++)
	{
		const Data *d = cases[c].data == 'A' ? &a : &b;

		CompareCase(&cases[c], &expected[c], d, ELASTICNET_SOLVER_GRAM, "Gram");
		CompareCase(&cases[c], &expected[c], d, ELASTICNET_SOLVER_RESIDUAL, "residual");
	}
	TestLeastSquares(&a);
	TestErrors(&a);
	TestEdges(&a);
	TestTiming();
	return tap_done();
}
