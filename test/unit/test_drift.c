/*-------------------------------------------------------------------------
 *
 * test_drift.c
 *	  Unit tests of the drift statistics (src/algorithms/drift.c), the
 *	  distributions behind their p-values, and the baseline summaries
 *	  (src/algorithms/sketch.c): every statistic against scipy 1.10 on
 *	  fixed samples in both KS regimes, exact merging of sketches, their
 *	  serialization and its rejection of corrupt input, the documented
 *	  sampling error on a million rows, and categorical summaries with too
 *	  many levels.
 *
 * The samples come from a 64-bit LCG whose doubles Python reproduces bit
 * for bit (Lcg / Bell below and lcg / bell in the script).  The expected
 * numbers were printed once by Debian 12's /usr/bin/python3 (scipy
 * 1.10.1, numpy 1.24.2) running the script in the comment at the end of
 * this file; the tests never call Python.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "algorithms/distributions.h"
#include "algorithms/drift.h"
#include "algorithms/rng.h"
#include "algorithms/sketch.h"
#include "tap.h"

/* ---- data reproducible in Python ---- */

static double *
Lcg(uint64 seed, int n)
{
	double	   *u = palloc(sizeof(double) * n);
	uint64		s = seed;
	int			i;

	for (i = 0; i < n; i++)
	{
		s = s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
		u[i] = (double) (s >> 11) / 9007199254740992.0;
	}
	return u;
}

/* Irwin-Hall(6) - 3, scaled and shifted, optionally floored to a grid. */
static double *
Bell(uint64 seed, int n, double scale, double shift, double grid)
{
	double	   *u = Lcg(seed, 6 * n);
	double	   *x = palloc(sizeof(double) * n);
	int			i;

	for (i = 0; i < n; i++)
	{
		double		z = u[6 * i] + u[6 * i + 1] + u[6 * i + 2] + u[6 * i + 3] +
			u[6 * i + 4] + u[6 * i + 5] - 3.0;

		x[i] = z * scale + shift;
		if (grid > 0)
			x[i] = floor(x[i] / grid) * grid;
	}
	pfree(u);
	return x;
}

static bool
Close(double got, double want, double rel, double abs_)
{
	if (isinf(want))
		return got == want;
	return fabs(got - want) <= Max(abs_, rel * fabs(want));
}

static void
CheckClose(const char *what, double got, double want, double rel, double abs_)
{
	tap_ok(Close(got, want, rel, abs_), "%s = %.17g (scipy %.17g)", what, got, want);
}

/* A sketch of an array, row i hashed as SketchHash64(i). */
static NumSketch *
SketchOf(const double *x, int n, int k)
{
	NumSketch  *s = NumSketchCreate(k);
	int			i;

	for (i = 0; i < n; i++)
		NumSketchAdd(s, x[i], SketchHash64((uint64) i));
	return s;
}

/* ---- distributions ---- */

static void
TestDistributions(void)
{
	static const struct
	{
		int64		n;
		double		d;
		double		sf;
	}			kstwo[] = {
		{5, 0.3, 0.664}, {5, 0.7, 0.005560000000000004},
		{50, 0.05, 0.9990238098461883}, {50, 0.1, 0.6623112704658186},
		{50, 0.2, 0.03143877776953241}, {50, 0.4, 9.86356336441006e-08},
		{140, 0.08, 0.31480749911643063}, {140, 0.2, 2.1981563302200222e-05},
		{141, 0.05, 0.8548456930096628}, {141, 0.1, 0.11128445516467944},
		{141, 0.2, 2.0276784223976912e-05}, {1000, 0.02, 0.8108971656895577},
		{1000, 0.04, 0.07933956059000224}, {1000, 0.06, 0.001428597887952891},
		{2400, 0.03, 0.026060777189260143}, {5000, 0.01, 0.6954557253913853},
		{5000, 0.02, 0.03613941395325637}, {100000, 0.004, 0.08130148920222469},
		{200000, 0.002, 0.39995085369038097}, {200000, 0.004, 0.003314212822560255},
		{10, 0.95, 1.9531250000000172e-13},
	};
	static const struct
	{
		int64		n;
		double		d;
		double		sf;
	}			smirnov[] = {
		{10, 0.3, 0.1354635556}, {1000, 0.05, 0.006506037390545166},
		{5000, 0.01, 0.36544317503217305}, {50000, 0.005, 0.0818116087310516},
	};
	static const struct
	{
		double		x;
		double		df;
		double		sf;
	}			chi2[] = {
		{0.5, 1, 0.47950012218695337}, {3.0, 2, 0.22313016014842982},
		{10.0, 3, 0.01856613546304325}, {50.0, 30, 0.01240206071890054},
		{120.0, 100, 0.08440668109369177}, {1500.0, 999, 8.513135655488133e-23},
		{0.01, 5, 0.9999994699729957}, {300.0, 10, 1.5546747543803087e-58},
	};
	int			i;
	char		what[128];

	for (i = 0; i < (int) lengthof(kstwo); i++)
	{
		snprintf(what, sizeof(what), "kstwo.sf(%g, %lld)", kstwo[i].d, (long long) kstwo[i].n);
		CheckClose(what, KolmogorovSf(kstwo[i].n, kstwo[i].d), kstwo[i].sf, 1e-9, 1e-15);
	}
	for (i = 0; i < (int) lengthof(smirnov); i++)
	{
		snprintf(what, sizeof(what), "smirnov(%lld, %g)", (long long) smirnov[i].n, smirnov[i].d);
		CheckClose(what, SmirnovSf(smirnov[i].n, smirnov[i].d), smirnov[i].sf, 1e-9, 1e-15);
	}
	for (i = 0; i < (int) lengthof(chi2); i++)
	{
		snprintf(what, sizeof(what), "chi2.sf(%g, %g)", chi2[i].x, chi2[i].df);
		CheckClose(what, ChiSquareSf(chi2[i].x, chi2[i].df), chi2[i].sf, 1e-10, 1e-300);
	}
	tap_ok(isnan(ChiSquareSf(1.0, 0)) && ChiSquareSf(INFINITY, 3) == 0,
		   "chi2.sf: NaN at df = 0, 0 at infinity");
}

/* ---- raw statistics ---- */

typedef struct KsCase
{
	const char *name;
	uint64		s1;
	int			n;
	double		sc1;
	double		sh1;
	uint64		s2;
	int			m;
	double		sc2;
	double		sh2;
	double		grid;
	double		stat;
	double		p;
}			KsCase;

static void
TestKs(void)
{
	/* A, B, G: exact p-values (B with n = m); C-F: asymptotic */
	static const KsCase cases[] = {
		{"A exact n != m", 1, 80, 1, 0, 2, 60, 1, 0.3, 0, 0.2916666666666667, 0.004716784525116953},
		{"B exact n = m, ties", 3, 200, 1, 0, 4, 200, 1, 0.15, 0.1, 0.095, 0.32811544409418575},
		{"C asymptotic", 5, 12000, 1, 0, 6, 3000, 1, 0.03, 0, 0.024499999999999966, 0.11028657354323912},
		{"D asymptotic, tiny p", 7, 12000, 1, 0, 8, 3000, 1.2, 0.1, 0, 0.08858333333333335, 7.766396167352352e-17},
		{"E asymptotic n_eff 149", 9, 20000, 1, 0, 10, 150, 1, 0.1, 0, 0.11461666666666664, 0.03673738683013905},
		{"F asymptotic n_eff 99", 11, 10001, 1, 0, 12, 100, 1, 0.2, 0, 0.16722927707229274, 0.0068830494369368535},
		{"G exact 9999 x 10000", 13, 9999, 1, 0, 14, 10000, 1, 0.02, 0, 0.01155907590759076, 0.5103002885412049},
	};
	int			i;

	for (i = 0; i < (int) lengthof(cases); i++)
	{
		const KsCase *c = &cases[i];
		double	   *a = Bell(c->s1, c->n, c->sc1, c->sh1, c->grid);
		double	   *b = Bell(c->s2, c->m, c->sc2, c->sh2, c->grid);
		double		stat;
		double		p;
		char		what[128];

		DriftKs(a, c->n, b, c->m, &stat, &p);
		snprintf(what, sizeof(what), "ks_2samp %s: statistic", c->name);
		CheckClose(what, stat, c->stat, 1e-12, 0);
		snprintf(what, sizeof(what), "ks_2samp %s: p-value", c->name);
		CheckClose(what, p, c->p, 1e-8, 1e-16);
		pfree(a);
		pfree(b);
	}
}

static void
TestWassersteinAndFrequencies(void)
{
	double	   *a = Bell(1, 80, 1, 0, 0);
	double	   *b = Bell(2, 60, 1, 0.3, 0);
	double	   *wa = Lcg(21, 80);
	double	   *wb = Lcg(22, 60);
	double	   *bb1 = Bell(3, 200, 1, 0, 0.1);
	double	   *bb2 = Bell(4, 200, 1, 0.15, 0.1);
	double	   *c1 = Bell(5, 12000, 1, 0, 0);
	double	   *c2 = Bell(6, 3000, 1, 0.03, 0);
	double		ref[] = {30, 50, 15, 5};
	double		cur[] = {25, 40, 30, 5};
	double		refz[] = {30, 0, 15, 5};
	double		p[] = {0.1, 0.4, 0.0, 0.5};
	double		q[] = {0.2, 0.2, 0.3, 0.3};
	double		stat;
	double		pv;
	double	   *edges;
	double		counts[64];
	int			nb;

	CheckClose("wasserstein A", DriftWasserstein(a, 80, b, 60), 0.3772383002079114, 1e-12, 0);
	CheckClose("wasserstein A normed", DriftWassersteinNormed(a, 80, b, 60), 0.5645150022344716, 1e-12, 0);
	CheckClose("wasserstein B (ties)", DriftWasserstein(bb1, 200, bb2, 200), 0.11450000000000002, 1e-12, 0);
	CheckClose("wasserstein B normed", DriftWassersteinNormed(bb1, 200, bb2, 200), 0.16208674086169367, 1e-12, 0);
	CheckClose("wasserstein C", DriftWasserstein(c1, 12000, c2, 3000), 0.021736728976629163, 1e-11, 0);
	CheckClose("wasserstein C normed", DriftWassersteinNormed(c1, 12000, c2, 3000), 0.03085940012530773, 1e-11, 0);
	CheckClose("wasserstein A weighted", DriftWassersteinWeighted(a, wa, 80, b, wb, 60),
			   0.43072240271538215, 1e-12, 0);

	DriftChiSquare(ref, cur, 4, &stat, &pv);
	CheckClose("chisquare statistic", stat, 17.833333333333332, 1e-13, 0);
	CheckClose("chisquare p-value", pv, 0.00047606927600116845, 1e-10, 0);
	DriftChiSquare(refz, cur, 4, &stat, &pv);
	tap_ok(isinf(stat) && pv == 0, "chisquare: a category the reference lacks gives inf, p = 0");

	CheckClose("jensenshannon base 2", DriftJensenShannon(p, q, 4, 2.0), 0.45276182867540155, 1e-13, 0);
	CheckClose("jensenshannon base e", DriftJensenShannon(p, q, 4, 0), 0.3769489482198971, 1e-13, 0);
	CheckClose("psi with Evidently's zero fill", DriftPsi(p, q, 4), 2.7112189124594908, 1e-13, 0);

	/* np.histogram_bin_edges(concat(A), 'sturges') and np.histogram */
	{
		double		all[140];
		double		lo = INFINITY,
					hi = -INFINITY;
		int			i;

		memcpy(all, a, sizeof(double) * 80);
		memcpy(all + 80, b, sizeof(double) * 60);
		for (i = 0; i < 140; i++)
		{
			lo = Min(lo, all[i]);
			hi = Max(hi, all[i]);
		}
		edges = DriftSturgesEdges(lo, hi, 140, &nb);
		DriftHistogram(a, NULL, 80, edges, nb, counts);
		tap_ok(nb == 9 && edges[0] == -1.4191647003575054 && edges[1] == -1.0583586731253043 &&
			   edges[9] == 1.8280895447323042 && counts[0] == 4 && counts[1] == 10 &&
			   counts[2] == 11 && counts[3] == 14 && counts[4] == 19,
			   "sturges edges and histogram match numpy bit for bit (%d bins)", nb);
	}
	pfree(a);
	pfree(b);
}

/* ---- statistics through sketches, in their exact regime ---- */

static void
TestSketchStatistics(void)
{
	double	   *a = Bell(1, 80, 1, 0, 0);
	double	   *b = Bell(2, 60, 1, 0.3, 0);
	double	   *c1 = Bell(5, 12000, 1, 0, 0);
	double	   *c2 = Bell(6, 3000, 1, 0.03, 0);
	double	   *d1 = Bell(31, 900, 1, 0, 0);
	double	   *d2 = Bell(32, 700, 1, 0.2, 0);
	NumSketch  *ra = SketchOf(a, 80, NUMSKETCH_DEFAULT_K);
	NumSketch  *cb = SketchOf(b, 60, NUMSKETCH_DEFAULT_K);
	NumSketch  *rc;
	NumSketch  *cc;
	NumSketch  *rd;
	NumSketch  *cd;
	DriftResult r;
	int			i;

	DriftNumeric(ra, cb, DRIFT_METHOD_AUTO, NAN, &r);
	tap_ok(r.method == DRIFT_METHOD_KS && !r.approximate && r.drifted &&
		   Close(r.statistic, 0.2916666666666667, 1e-12, 0) &&
		   Close(r.pvalue, 0.004716784525116953, 1e-8, 0) &&
		   Close(r.psi, 0.4479196460814106, 1e-12, 0),
		   "numeric sketch, auto on 60 rows: KS = scipy's, drifted, PSI = Evidently's "
		   "(D %.15g p %.15g psi %.15g)", r.statistic, r.pvalue, r.psi);
	DriftNumeric(ra, cb, DRIFT_METHOD_JENSENSHANNON, NAN, &r);
	CheckClose("numeric sketch: binned jensenshannon (A)", r.statistic, 0.27806558676251847, 1e-12, 0);

	/* 12000 reference rows fit a k = 16384 sample exactly */
	rc = SketchOf(c1, 12000, 16384);
	cc = SketchOf(c2, 3000, 16384);
	DriftNumeric(rc, cc, DRIFT_METHOD_AUTO, NAN, &r);
	tap_ok(r.method == DRIFT_METHOD_WASSERSTEIN && !r.drifted &&
		   Close(r.statistic, 0.03085940012530773, 1e-10, 0) &&
		   Close(r.psi, 0.007438442246948504, 1e-10, 0),
		   "numeric sketch, auto on 3000 rows: normed Wasserstein and PSI as Evidently "
		   "(%.15g, %.15g)", r.statistic, r.psi);
	DriftNumeric(rc, cc, DRIFT_METHOD_JENSENSHANNON, 0.5, &r);
	tap_ok(Close(r.statistic, 0.038451037468799604, 1e-10, 0) && r.threshold == 0.5 && !r.drifted,
		   "numeric sketch: threshold override, binned JS %.15g", r.statistic);

	/* a discrete feature: 9 values, described by exact counts */
	for (i = 0; i < 900; i++)
		d1[i] = floor(d1[i] * 2);
	for (i = 0; i < 700; i++)
		d2[i] = floor(d2[i] * 2);
	rd = SketchOf(d1, 900, 64);
	cd = SketchOf(d2, 700, 64);
	DriftNumeric(rd, cd, DRIFT_METHOD_PSI, NAN, &r);
	tap_ok(rd->ndistinct == 9 && r.approximate && Close(r.statistic, 0.11071766647193819, 1e-12, 0) && r.drifted,
		   "discrete feature through a 64-row sample: PSI exact from counts (%.15g)", r.statistic);
	DriftNumeric(rd, cd, DRIFT_METHOD_WASSERSTEIN, NAN, &r);
	CheckClose("discrete feature: normed Wasserstein from counts", r.statistic, 0.29042606781042635, 1e-12, 0);
	DriftNumeric(rd, cd, DRIFT_METHOD_CHISQUARE, NAN, &r);
	tap_ok(isinf(r.statistic) && r.pvalue == 0 && r.drifted,
		   "discrete feature: chi-square with a value new in current is inf, p = 0");
	SHIM_TRY();
	DriftNumeric(rc, cc, DRIFT_METHOD_CHISQUARE, NAN, &r);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "chi-square on a continuous feature is refused: %s", shim_error.message);
	SHIM_TRY();
	(void) DriftMethodFromName("kolmogorov");
	SHIM_END_TRY();
	tap_ok(shim_error_raised && DriftMethodFromName("psi") == DRIFT_METHOD_PSI,
		   "method names: unknown refused, known found");
	tap_ok(DriftDatasetDrifted(5, 10, DRIFT_DATASET_SHARE) && !DriftDatasetDrifted(4, 10, DRIFT_DATASET_SHARE) &&
		   !DriftDatasetDrifted(0, 0, DRIFT_DATASET_SHARE),
		   "dataset verdict: drifted at a share of 0.5");
	NumSketchFree(ra);
	NumSketchFree(cb);
	NumSketchFree(rc);
	NumSketchFree(cc);
	NumSketchFree(rd);
	NumSketchFree(cd);
}

static void
TestCategoricalStatistics(void)
{
	static const char *levels[] = {"red", "green", "blue", "black"};
	double		refn[] = {30, 50, 15, 5};
	double		curn[] = {25, 40, 30, 5};
	CatSketch  *ref = CatSketchCreate(CATSKETCH_DEFAULT_LEVELS);
	CatSketch  *cur = CatSketchCreate(CATSKETCH_DEFAULT_LEVELS);
	CatSketch  *cur2 = CatSketchCreate(CATSKETCH_DEFAULT_LEVELS);
	DriftResult r;
	int			i;

	for (i = 0; i < 4; i++)
	{
		CatSketchAddCount(ref, levels[i], strlen(levels[i]), (int64) refn[i]);
		CatSketchAddCount(cur, levels[i], strlen(levels[i]), (int64) curn[i]);
	}
	CatSketchAddMissing(cur);
	DriftCategorical(ref, cur, DRIFT_METHOD_AUTO, NAN, &r);
	tap_ok(r.method == DRIFT_METHOD_CHISQUARE && r.drifted &&
		   Close(r.statistic, 17.833333333333332, 1e-13, 0) &&
		   Close(r.pvalue, 0.00047606927600116845, 1e-10, 0),
		   "categorical, auto on 100 rows: chi-square as scipy (%.15g, p %.15g)", r.statistic, r.pvalue);
	CatSketchAddCount(cur2, "green", 5, 40);
	CatSketchAddCount(cur2, "purple", 6, 60);
	DriftCategorical(ref, cur2, DRIFT_METHOD_CHISQUARE, NAN, &r);
	tap_ok(isinf(r.statistic) && r.pvalue == 0 && r.drifted,
		   "categorical: a level new in current gives chi-square inf, p = 0");
	DriftCategorical(ref, cur, DRIFT_METHOD_JENSENSHANNON, NAN, &r);
	{
		double		p[4];
		double		q[4];

		for (i = 0; i < 4; i++)
		{
			p[i] = refn[i] / 100;
			q[i] = curn[i] / 100;
		}
		tap_ok(Close(r.statistic, DriftJensenShannon(p, q, 4, 2.0), 1e-14, 0) &&
			   Close(r.psi, DriftPsi(p, q, 4), 1e-14, 0),
			   "categorical: JS and PSI on the level shares");
	}
	SHIM_TRY();
	DriftCategorical(ref, cur, DRIFT_METHOD_KS, NAN, &r);
	SHIM_END_TRY();
	tap_ok(shim_error_raised, "categorical: KS refused");
	CatSketchFree(ref);
	CatSketchFree(cur);
	CatSketchFree(cur2);
}

/* ---- merging ---- */

static bool
SameBytes(NumSketch *a, NumSketch *b)
{
	Size		la;
	Size		lb;
	char	   *x = NumSketchSerialize(a, &la);
	char	   *y = NumSketchSerialize(b, &lb);
	bool		same = la == lb && memcmp(x, y, la) == 0;

	pfree(x);
	pfree(y);
	return same;
}

static void
TestNumericMerge(void)
{
	int			n = 50000;
	int			k = 4096;
	double	   *x = Bell(41, n, 3.0, 1e4, 0);
	NumSketch  *one;
	NumSketch  *p1;
	NumSketch  *p2;
	NumSketch  *parts[10];
	NumSketch  *acc;
	int			i;

	/* a few missing and discrete-breaking values */
	x[7] = NAN;
	x[99] = INFINITY;
	x[500] = -0.0;
	one = SketchOf(x, n, k);

	/* 1/3 + 2/3, merged in both orders */
	p1 = NumSketchCreate(k);
	p2 = NumSketchCreate(k);
	for (i = 0; i < n; i++)
		NumSketchAdd(i < n / 3 ? p1 : p2, x[i], SketchHash64((uint64) i));
	NumSketchMerge(p2, p1);
	tap_ok(SameBytes(one, p2), "numeric merge of 2/3 + 1/3 is byte-identical to one pass");

	/* ten interleaved pieces, merged as a tree */
	for (i = 0; i < 10; i++)
		parts[i] = NumSketchCreate(k);
	for (i = 0; i < n; i++)
		NumSketchAdd(parts[(i * 7) % 10], x[i], SketchHash64((uint64) i));
	for (i = 0; i < 10; i += 2)
		NumSketchMerge(parts[i + 1], parts[i]);
	acc = parts[9];
	for (i = 1; i < 9; i += 2)
		NumSketchMerge(acc, parts[i]);
	tap_ok(SameBytes(one, acc), "numeric merge of 10 interleaved pieces is byte-identical to one pass");
	tap_ok(one->count == n - 2 && one->nmissing == 2 && one->nsample == k && one->ndistinct == -1,
		   "counts: %lld finite, %lld missing, %d sampled", (long long) one->count,
		   (long long) one->nmissing, one->nsample);
	{
		double		m = 0,
					ss = 0;
		int			cnt = 0;

		for (i = 0; i < n; i++)
			if (isfinite(x[i]))
			{
				m += x[i];
				cnt++;
			}
		m /= cnt;
		for (i = 0; i < n; i++)
			if (isfinite(x[i]))
				ss += (x[i] - m) * (x[i] - m);
		CheckClose("exact standard deviation (mean 1e4, sd ~2)", NumSketchStd(one), sqrt(ss / cnt), 1e-12, 0);
		CheckClose("exact mean", NumSketchMean(one), m, 1e-14, 0);
	}
	/* merging with a smaller k keeps the bottom of the smaller size */
	{
		NumSketch  *small = SketchOf(x, n, 100);
		NumSketch  *e = NumSketchCreate(100);

		NumSketchMerge(e, one);
		tap_ok(SameBytes(small, e), "merging into k = 100 gives the k = 100 one-pass sketch");
		NumSketchFree(small);
		NumSketchFree(e);
	}
	NumSketchFree(one);
	NumSketchFree(p1);
	NumSketchFree(p2);
	for (i = 0; i < 10; i++)
		NumSketchFree(parts[i]);
	pfree(x);
}

/* ---- serialization ---- */

static bool
RejectsNum(const char *buf, Size len)
{
	SHIM_TRY();
	(void) NumSketchDeserialize(buf, len);
	SHIM_END_TRY();
	return shim_error_raised && shim_error.sqlerrcode == ERRCODE_DATA_CORRUPTED;
}

static bool
RejectsCat(const char *buf, Size len)
{
	SHIM_TRY();
	(void) CatSketchDeserialize(buf, len);
	SHIM_END_TRY();
	return shim_error_raised && shim_error.sqlerrcode == ERRCODE_DATA_CORRUPTED;
}

static void
PutU64(char *p, uint64 x)
{
	int			i;

	for (i = 0; i < 8; i++)
		p[i] = (char) (x >> (8 * i));
}

static void
TestSerialization(void)
{
	double	   *x = Bell(51, 300, 1, 0, 0);
	NumSketch  *s = SketchOf(x, 300, 128);
	NumSketch  *back;
	Size		len;
	Size		len2;
	char	   *buf = NumSketchSerialize(s, &len);
	char	   *buf2;
	char	   *bad = palloc(len);
	Size		cut;
	bool		all = true;
	CatSketch  *c = CatSketchCreate(10);
	CatSketch  *cback;
	int			i;

	back = NumSketchDeserialize(buf, len);
	buf2 = NumSketchSerialize(back, &len2);
	tap_ok(len == len2 && memcmp(buf, buf2, len) == 0 && back->count == 300 &&
		   NumSketchStd(back) == NumSketchStd(s),
		   "numeric round trip: %zu bytes, identical", len);

	for (cut = 0; cut < len; cut += (cut < 64 ? 1 : 37))
		all = all && RejectsNum(buf, cut);
	tap_ok(all, "numeric: every truncation tried is rejected");

	memcpy(bad, buf, len);
	bad[4] = 2;
	tap_ok(RejectsNum(bad, len) && strstr(shim_error.message, "version") != NULL,
		   "numeric: bad version rejected: %s", shim_error.message);
	memcpy(bad, buf, len);
	bad[0] ^= 1;
	tap_ok(RejectsNum(bad, len), "numeric: bad magic rejected");
	memcpy(bad, buf, len);
	PutU64(bad + 16, UINT64_C(1) << 62);	/* count */
	tap_ok(RejectsNum(bad, len), "numeric: count out of range rejected: %s", shim_error.detail);
	memcpy(bad, buf, len);
	PutU64(bad + 16, (uint64) -5);
	tap_ok(RejectsNum(bad, len), "numeric: negative count rejected");
	memcpy(bad, buf, len);
	PutU64(bad + 16, 100);		/* fewer rows than the 128 sampled */
	tap_ok(RejectsNum(bad, len), "numeric: count below the sample size rejected: %s", shim_error.detail);
	memcpy(bad, buf, len);
	PutU64(bad + 24, UINT64_C(1) << 60);	/* nmissing */
	tap_ok(RejectsNum(bad, len), "numeric: missing count out of range rejected");
	memcpy(bad, buf, len);
	bad[8] = 0;					/* k = 0 */
	bad[9] = 0;
	tap_ok(RejectsNum(bad, len), "numeric: zero capacity rejected");
	memcpy(bad, buf, len);
	bad[12] = 127;				/* nsample */
	tap_ok(RejectsNum(bad, len), "numeric: sample size not min(count, k) rejected");
	memcpy(bad, buf, len);
	memcpy(bad + len - 16, buf + len - 32, 16);	/* last entry = previous: still ordered */
	memcpy(bad + len - 32, buf + len - 16, 16);	/* swapped: out of order */
	tap_ok(RejectsNum(bad, len), "numeric: unordered sample rejected: %s", shim_error.detail);
	memcpy(bad, buf, len);
	PutU64(bad + len - 8, UINT64_C(0x7ff8000000000000));	/* NaN value */
	tap_ok(RejectsNum(bad, len), "numeric: NaN in the sample rejected");
	{
		char	   *longer = palloc(len + 1);

		memcpy(longer, buf, len);
		longer[len] = 0;
		tap_ok(RejectsNum(longer, len + 1), "numeric: trailing byte rejected");
	}

	/* categorical */
	for (i = 0; i < 30; i++)
	{
		char		label[32];

		snprintf(label, sizeof(label), "level-%d", i % 17);
		CatSketchAdd(c, label, strlen(label));
	}
	CatSketchAddMissing(c);
	pfree(buf);
	buf = CatSketchSerialize(c, &len);
	cback = CatSketchDeserialize(buf, len);
	pfree(buf2);
	buf2 = CatSketchSerialize(cback, &len2);
	tap_ok(len == len2 && memcmp(buf, buf2, len) == 0 && cback->saturated && cback->nlevels == 10 &&
		   cback->other + 0 > 0, "categorical round trip: %zu bytes, identical", len);
	all = true;
	for (cut = 0; cut < len; cut++)
		all = all && RejectsCat(buf, cut);
	tap_ok(all, "categorical: every truncation is rejected");
	bad = repalloc(bad, len);
	memcpy(bad, buf, len);
	bad[4] = 9;
	tap_ok(RejectsCat(bad, len), "categorical: bad version rejected");
	memcpy(bad, buf, len);
	PutU64(bad + 36, 1);		/* other */
	tap_ok(RejectsCat(bad, len), "categorical: counts that do not add up rejected");
	memcpy(bad, buf, len);
	bad[len - 1] ^= 0x20;		/* a label byte: no longer its hash */
	tap_ok(RejectsCat(bad, len), "categorical: label not matching its hash rejected: %s", shim_error.detail);
	memcpy(bad, buf, len);
	bad[48 + 8 + 4] = (char) 0xff;	/* first level's count high byte */
	tap_ok(RejectsCat(bad, len), "categorical: level count out of range rejected");
}

/* ---- many levels ---- */

static void
TestManyLevels(void)
{
	int			nlev = 5000;
	int			cap = 1000;
	CatSketch  *one = CatSketchCreate(cap);
	CatSketch  *hashed = CatSketchCreate(cap);
	CatSketch  *parts[10];
	int64	   *truth = palloc0(sizeof(int64) * nlev);
	AifRng		rng;
	int			n = 200000;
	int			i;
	bool		exact = true;
	int64		kept = 0;
	Size		l1;
	Size		l2;
	char	   *b1;
	char	   *b2;

	for (i = 0; i < 10; i++)
		parts[i] = CatSketchCreate(cap);
	AifRngSeed(&rng, 7);
	for (i = 0; i < n; i++)
	{
		/* a skewed level distribution: level ~ nlev * u^3 */
		double		u = AifRngDouble(&rng);
		int			lv = (int) (nlev * u * u * u);
		char		label[32];

		snprintf(label, sizeof(label), "L%d", lv);
		truth[lv]++;
		CatSketchAdd(one, label, strlen(label));
		CatSketchAdd(parts[i % 10], label, strlen(label));
		CatSketchAddCountHashed(hashed, label, strlen(label),
								SketchHashBytes(label, strlen(label)), 1);
	}
	for (i = 1; i < 10; i++)
		CatSketchMerge(parts[0], parts[i]);
	b1 = CatSketchSerialize(one, &l1);
	b2 = CatSketchSerialize(parts[0], &l2);
	tap_ok(l1 == l2 && memcmp(b1, b2, l1) == 0,
		   "categorical merge of 10 pieces is byte-identical to one pass");
	b2 = CatSketchSerialize(hashed, &l2);
	tap_ok(l1 == l2 && memcmp(b1, b2, l1) == 0,
		   "adding with the label's hash given is byte-identical to adding the label");
	for (i = 0; i < one->nlevels; i++)
	{
		char		label[CATSKETCH_MAX_LABEL + 1];
		int			lv;

		/* labels are counted, not NUL-terminated */
		memcpy(label, one->levels[i].label, one->levels[i].len);
		label[one->levels[i].len] = '\0';
		lv = atoi(label + 1);

		exact = exact && one->levels[i].count == truth[lv];
		kept += one->levels[i].count;
	}
	tap_ok(one->saturated && one->nlevels == cap && exact && kept + one->other == n && one->count == n,
		   "5000 levels into 1000: kept levels exact, %lld rows in other", (long long) one->other);
	{
		/* the kept set is the bottom 1000 hashes of the levels seen */
		int			below = 0;
		uint64		last = one->levels[cap - 1].hash;

		for (i = 0; i < nlev; i++)
		{
			char		label[32];

			if (truth[i] == 0)
				continue;
			snprintf(label, sizeof(label), "L%d", i);
			if (SketchHashBytes(label, strlen(label)) <= last)
				below++;
		}
		tap_ok(below == cap, "kept levels are the %d smallest hashes (%d at or below)", cap, below);
	}
	{
		/*
		 * Current data from another skew (level ~ nlev u^2): compare the
		 * saturated summaries (1000 kept levels + other) with the same
		 * data summarized exactly.  Lumping levels can only lose
		 * divergence (data-processing inequality), so the lumped JS
		 * distance is at most the exact one: with 4/5 of the levels lumped
		 * it finds about 0.09 where the exact comparison finds 0.22 --
		 * beyond the cap the categorical test is conservative.
		 */
		CatSketch  *cur = CatSketchCreate(cap);
		CatSketch  *curx = CatSketchCreate(CATSKETCH_MAX_LEVELS);
		CatSketch  *refx = CatSketchCreate(CATSKETCH_MAX_LEVELS);
		DriftResult r;
		DriftResult rx;

		for (i = 0; i < nlev; i++)
		{
			char		label[32];

			snprintf(label, sizeof(label), "L%d", i);
			CatSketchAddCount(refx, label, strlen(label), truth[i]);
		}
		for (i = 0; i < 50000; i++)
		{
			double		u = AifRngDouble(&rng);
			int			lv = (int) (nlev * u * u);
			char		label[32];

			snprintf(label, sizeof(label), "L%d", lv);
			CatSketchAdd(cur, label, strlen(label));
			CatSketchAdd(curx, label, strlen(label));
		}
		DriftCategorical(one, cur, DRIFT_METHOD_AUTO, NAN, &r);
		DriftCategorical(refx, curx, DRIFT_METHOD_AUTO, NAN, &rx);
		tap_ok(r.method == DRIFT_METHOD_JENSENSHANNON && r.approximate && !rx.approximate &&
			   r.statistic <= rx.statistic + 1e-12 && r.statistic > 0,
			   "saturated summaries (1000 levels + other): JS %.4f, PSI %.4f; exact over all "
			   "levels: JS %.4f, PSI %.4f", r.statistic, r.psi, rx.statistic, rx.psi);
		DriftCategorical(one, one, DRIFT_METHOD_JENSENSHANNON, NAN, &r);
		tap_ok(r.statistic == 0 && !r.drifted, "a summary against itself: JS 0");
		CatSketchFree(cur);
		CatSketchFree(curx);
		CatSketchFree(refx);
	}
	CatSketchFree(one);
	CatSketchFree(hashed);
	for (i = 0; i < 10; i++)
		CatSketchFree(parts[i]);
}

/* ---- the documented error on a million rows ---- */

static void
TestErrorBound(void)
{
	int			n = 1000000;
	double	   *x = palloc(sizeof(double) * n);
	double	   *shifted = palloc(sizeof(double) * 1000);
	NumSketch  *s = NumSketchCreate(NUMSKETCH_DEFAULT_K);
	NumSketch  *cur;
	AifRng		rng;
	double	   *sample;
	int			ns;
	double		d;
	double		p;
	double		bound;
	double		w;
	double		m = 0,
				ss = 0;
	DriftResult r;
	int			i;

	AifRngSeed(&rng, 2024);
	for (i = 0; i < n; i++)
	{
		double		u1 = 1.0 - AifRngDouble(&rng);
		double		u2 = AifRngDouble(&rng);

		x[i] = 5.0 + 2.0 * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
		NumSketchAdd(s, x[i], SketchHash64((uint64) i));
		m += x[i];
	}
	m /= n;
	for (i = 0; i < n; i++)
		ss += (x[i] - m) * (x[i] - m);
	sample = NumSketchSortedSample(s, &ns);
	bound = NumSketchKsErrorBound(s, 0.05);
	DriftKs(sample, ns, x, n, &d, &p);
	tap_ok(d < bound, "1M normal rows: KS(sample, all) = %.5f < DKW 95%% bound %.5f", d, bound);
	w = DriftWasserstein(sample, ns, x, n) / sqrt(ss / n);
	tap_ok(w < 2.0 * 1.13 / sqrt(ns),
		   "1M normal rows: W(sample, all) / sd = %.5f (expected ~%.4f, bound checked at 2x)",
		   w, 1.13 / sqrt(ns));
	CheckClose("1M rows: exact sd from the sketch", NumSketchStd(s), sqrt(ss / n), 1e-12, 0);

	/* 1000 current rows shifted by 0.25 sd: KS on the sample notices */
	for (i = 0; i < 1000; i++)
		shifted[i] = x[i * 997 % n] + 0.5;
	cur = SketchOf(shifted, 1000, NUMSKETCH_DEFAULT_K);
	DriftNumeric(s, cur, DRIFT_METHOD_AUTO, NAN, &r);
	tap_ok(r.method == DRIFT_METHOD_KS && r.drifted && r.approximate && r.ks_error == bound,
		   "shifted current (1000 rows): KS D %.4f p %.2g drifted", r.statistic, r.pvalue);
	for (i = 0; i < 1000; i++)
		shifted[i] = x[i * 997 % n];
	NumSketchFree(cur);
	cur = SketchOf(shifted, 1000, NUMSKETCH_DEFAULT_K);
	DriftNumeric(s, cur, DRIFT_METHOD_AUTO, NAN, &r);
	tap_ok(!r.drifted, "unshifted current (1000 rows): p %.3f, not drifted", r.pvalue);
	NumSketchFree(cur);
	NumSketchFree(s);
	pfree(x);
	pfree(sample);
	pfree(shifted);
}

/* ---- the sample buffer, its pruning and the sorts ---- */

static int
EntryCmpAsc(const void *a, const void *b)
{
	const NumSketchEntry *x = a;
	const NumSketchEntry *y = b;
	uint64		vx;
	uint64		vy;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	memcpy(&vx, &x->value, 8);
	memcpy(&vy, &y->value, 8);
	return vx < vy ? -1 : (vx > vy ? 1 : 0);
}

static int
DoubleCmpAsc(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static void
TestSampleBuffer(void)
{
	int			n = 30000;
	int			k = 1000;
	double	   *x = Bell(43, n, 1.0, -5.0, 0);
	NumSketchEntry *all = palloc(sizeof(NumSketchEntry) * n);
	NumSketch  *s = NumSketchCreate(k);
	NumSketch  *light = NumSketchCreate(k);
	double	   *v;
	double	   *w;
	int			ns;
	bool		same = true;
	int			i;

	/*
	 * Rows 0..99 repeat as 100..199 (duplicate rows: equal hashes and
	 * values), and a few hashes collide with different values.
	 */
	for (i = 0; i < n; i++)
	{
		uint64		h = SketchHash64((uint64) (i >= 100 && i < 200 ? i - 100 : i));

		if (i >= 300 && i < 310)
			h = SketchHash64(300);
		if (i >= 100 && i < 200)
			x[i] = x[i - 100];
		all[i].hash = h;
		all[i].value = x[i] == 0 ? 0.0 : x[i];
		NumSketchAdd(s, x[i], h);
		NumSketchAdd(light, x[i], h);
	}
	NumSketchNoMoments(light);
	qsort(all, n, sizeof(NumSketchEntry), EntryCmpAsc);
	NumSketchCanonicalize(s);
	for (i = 0; i < k; i++)
		if (EntryCmpAsc(&s->sample[k - 1 - i], &all[i]) != 0)
			same = false;
	tap_ok(s->nsample == k && same,
		   "bottom-k through the pruned buffer = the %d smallest entries by brute force, duplicates and hash collisions included", k);
	tap_ok(SameBytes(s, light) == false && s->count == light->count && s->min == light->min &&
		   memcmp(s->sample, light->sample, sizeof(NumSketchEntry) * k) == 0,
		   "a sketch without moments keeps the same sample, counts and range (only the sums differ)");
	NumSketchMerge(s, light);
	tap_ok(!s->moments, "merging a sketch without moments drops them");
	SHIM_TRY();
	(void) NumSketchStd(s);
	SHIM_END_TRY();
	tap_ok(shim_error_raised, "the standard deviation of a sketch without moments is an error");

	/* the radix sort of doubles against qsort: signs, zeros, duplicates, extremes */
	w = palloc(sizeof(double) * n);
	for (i = 0; i < n; i++)
		w[i] = (i % 7 == 0) ? x[i / 7] : (i % 11 == 0 ? 0.0 : x[i] * (i % 3 == 0 ? 1e-300 : 1e300));
	w[5] = -DBL_MAX;
	w[6] = DBL_MAX;
	w[8] = -DBL_MIN;
	v = palloc(sizeof(double) * n);
	memcpy(v, w, sizeof(double) * n);
	SketchSortDoubles(v, n);
	qsort(w, n, sizeof(double), DoubleCmpAsc);
	same = true;
	for (i = 0; i < n; i++)
		if (v[i] != w[i])
			same = false;
	tap_ok(same, "SketchSortDoubles orders %d doubles as qsort does", n);
	pfree(v);
	v = NumSketchSortedSample(light, &ns);
	same = ns == k;
	for (i = 1; i < ns; i++)
		if (!(v[i - 1] <= v[i]))
			same = false;
	tap_ok(same, "the sorted sample is ascending");
	pfree(v);
	pfree(w);
	pfree(all);
	pfree(x);
	NumSketchFree(s);
	NumSketchFree(light);
}

int
main(void)
{
	TestDistributions();
	TestKs();
	TestWassersteinAndFrequencies();
	TestSketchStatistics();
	TestCategoricalStatistics();
	TestNumericMerge();
	TestSampleBuffer();
	TestSerialization();
	TestManyLevels();
	TestErrorBound();
	return tap_done();
}

/*
 * The expected numbers above were printed by this script, run with
 * Debian 12's /usr/bin/python3 (scipy 1.10.1, numpy 1.24.2).  Evidently
 * is not packaged there; evidently_binned and evidently_psi transcribe
 * evidently/calculations/stattests/utils.py (get_binned_data) and psi.py.
 *
 * import math, numpy as np
 * from scipy import stats, special
 * from scipy.spatial import distance
 *
 * M64 = 2**64
 * def lcg(seed, n):
 *     s = seed; out = []
 *     for _ in range(n):
 *         s = (s * 6364136223846793005 + 1442695040888963407) % M64
 *         out.append((s >> 11) / 2.0**53)
 *     return out
 * def bell(seed, n, scale, shift, grid=0.0):
 *     u = lcg(seed, 6 * n); out = []
 *     for i in range(n):
 *         z = u[6*i] + u[6*i+1] + u[6*i+2] + u[6*i+3] + u[6*i+4] + u[6*i+5] - 3.0
 *         x = z * scale + shift
 *         if grid > 0:
 *             x = math.floor(x / grid) * grid
 *         out.append(x)
 *     return np.array(out)
 *
 * def evidently_binned(ref, cur, feel_zeroes=True):
 *     if len(np.unique(ref)) > 20:
 *         bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
 *         rp = np.histogram(ref, bins)[0] / len(ref)
 *         cp = np.histogram(cur, bins)[0] / len(cur)
 *     else:
 *         keys = sorted(set(ref) | set(cur))
 *         rp = np.array([np.sum(ref == k) / len(ref) for k in keys])
 *         cp = np.array([np.sum(cur == k) / len(cur) for k in keys])
 *     if feel_zeroes:
 *         for a in (rp, cp):
 *             mn = min(a[a != 0])
 *             np.place(a, a == 0, mn / 10**6 if mn <= 0.0001 else 0.0001)
 *     return rp, cp
 * def evidently_psi(rp, cp):
 *     v = 0
 *     for i in range(len(rp)):
 *         v += (rp[i] - cp[i]) * np.log(rp[i] / cp[i])
 *     return v
 * def fill(a):
 *     a = np.array(a, dtype=float); mn = min(a[a != 0])
 *     np.place(a, a == 0, mn / 10**6 if mn <= 0.0001 else 0.0001); return a
 *
 * R = lambda x: repr(float(x))
 * cases = {
 *  "A": (bell(1, 80, 1.0, 0.0), bell(2, 60, 1.0, 0.3)),
 *  "B": (bell(3, 200, 1.0, 0.0, 0.1), bell(4, 200, 1.0, 0.15, 0.1)),
 *  "C": (bell(5, 12000, 1.0, 0.0), bell(6, 3000, 1.0, 0.03)),
 *  "D": (bell(7, 12000, 1.0, 0.0), bell(8, 3000, 1.2, 0.1)),
 *  "E": (bell(9, 20000, 1.0, 0.0), bell(10, 150, 1.0, 0.1)),
 *  "F": (bell(11, 10001, 1.0, 0.0), bell(12, 100, 1.0, 0.2)),
 *  "G": (bell(13, 9999, 1.0, 0.0), bell(14, 10000, 1.0, 0.02)),
 * }
 * for k, (a, b) in cases.items():
 *     r = stats.ks_2samp(a, b)
 *     print(f"KS {k}: {R(r.statistic)}, {R(r.pvalue)}")
 * for k in ("A", "B", "C"):
 *     a, b = cases[k]
 *     print(f"W {k}: {R(stats.wasserstein_distance(a, b))}, normed "
 *           f"{R(stats.wasserstein_distance(a, b) / max(np.std(a), 0.001))}")
 * a, b = cases["A"]
 * wa = np.array(lcg(21, 80)); wb = np.array(lcg(22, 60))
 * print("Wweighted A:", R(stats.wasserstein_distance(a, b, wa, wb)))
 * for n, d in [(5,0.3),(5,0.7),(50,0.05),(50,0.1),(50,0.2),(50,0.4),(140,0.08),
 *              (140,0.2),(141,0.05),(141,0.1),(141,0.2),(1000,0.02),(1000,0.04),
 *              (1000,0.06),(2400,0.03),(5000,0.01),(5000,0.02),(100000,0.004),
 *              (200000,0.002),(200000,0.004),(10,0.95)]:
 *     print(f"kstwo {n} {d}: {R(stats.kstwo.sf(d, n))}")
 * for n, d in [(10,0.3),(1000,0.05),(5000,0.01),(50000,0.005)]:
 *     print(f"smirnov {n} {d}: {R(special.smirnov(n, d))}")
 * for x, df in [(0.5,1),(3.0,2),(10.0,3),(50.0,30),(120.0,100),(1500.0,999),
 *               (0.01,5),(300.0,10)]:
 *     print(f"chi2 {x} {df}: {R(stats.chi2.sf(x, df))}")
 * ref = np.array([30., 50., 15., 5.]); cur = np.array([25., 40., 30., 5.])
 * fe = ref * (cur.sum() / ref.sum())
 * r = stats.chisquare(cur, fe); print("chisq:", R(r.statistic), R(r.pvalue))
 * p = [0.1, 0.4, 0.0, 0.5]; q = [0.2, 0.2, 0.3, 0.3]
 * print("js base2:", R(distance.jensenshannon(p, q, 2)),
 *       "js e:", R(distance.jensenshannon(p, q)))
 * print("psi:", R(evidently_psi(fill(p), fill(q))))
 * for k in ("A", "C"):
 *     a, b = cases[k]
 *     e = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
 *     print(f"sturges {k}: n={len(e)-1} e0={R(e[0])} e1={R(e[1])} elast={R(e[-1])} "
 *           f"counts={list(np.histogram(a, e)[0][:5])}")
 *     rp, cp = evidently_binned(a, b)
 *     print(f"psi {k}: {R(evidently_psi(rp, cp))}")
 *     rp, cp = evidently_binned(a, b, False)
 *     print(f"jsbinned {k}: {R(distance.jensenshannon(rp, cp, 2))}")
 * a = np.floor(bell(31, 900, 1.0, 0.0) * 2); b = np.floor(bell(32, 700, 1.0, 0.2) * 2)
 * rp, cp = evidently_binned(a, b)
 * print("psi discrete:", R(evidently_psi(rp, cp)), "nvals", len(np.unique(a)))
 * print("W discrete normed:", R(stats.wasserstein_distance(a, b) / max(np.std(a), 0.001)))
 * keys = sorted(set(a) | set(b))
 * rc = np.array([np.sum(a == k) for k in keys]); cc = np.array([np.sum(b == k) for k in keys])
 * r = stats.chisquare(cc, rc * (len(b) / len(a))); print("chisq discrete:", R(r.statistic), R(r.pvalue))
 */
