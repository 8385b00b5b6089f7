/*-------------------------------------------------------------------------
 *
 * test_search.c
 *	  Unit tests of the hyperparameter search strategies
 *	  (src/algorithms/search.c): the grid enumerates its product exactly
 *	  once in the documented order, random points respect their bounds and
 *	  distributions, random and TPE are reproducible from a seed, TPE's
 *	  start-up trials are random search's, TPE finds better points than
 *	  random search on a problem where that matters, and the successive
 *	  halving schedule is scikit-learn's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "algorithms/rng.h"
#include "algorithms/search.h"
#include "tap.h"

#define N		20000			/* random points drawn per check */
#define T		40				/* trials per search */
#define SEEDS	50				/* searches per strategy in the benchmark */

static char *choices4[] = {"\"gini\"", "\"entropy\"", "\"log_loss\"", "null"};

static SearchDim
Choice(const char *name, int n)
{
	SearchDim	d;

	memset(&d, 0, sizeof(d));
	d.name = (char *) name;
	d.kind = SEARCH_CHOICE;
	d.nchoices = n;
	d.choices = choices4;		/* texts are not used by search.c */
	return d;
}

static SearchDim
Range(const char *name, SearchDimKind kind, double low, double high)
{
	SearchDim	d;

	memset(&d, 0, sizeof(d));
	d.name = (char *) name;
	d.kind = kind;
	d.low = low;
	d.high = high;
	return d;
}

static int
CompareDouble(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
Median(double *v, int n)
{
	qsort(v, n, sizeof(double), CompareDouble);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * The benchmark problem: a real, a log-scaled rate, an integer and a
 * categorical, each with an optimum inside its range; f >= 0, 0 at
 * x = 0.73, lr = 10^-2.1, n = 37, criterion = "entropy".
 */
static SearchDim bench_dims[4];
static const SearchSpace bench_space = {4, bench_dims};
static const double bench_penalty[4] = {0.3, 0.0, 0.2, 0.5};

static void
BenchInit(void)
{
	bench_dims[0] = Range("x", SEARCH_UNIFORM, 0, 1);
	bench_dims[1] = Range("lr", SEARCH_LOG_UNIFORM, 1e-4, 1);
	bench_dims[2] = Range("n", SEARCH_INT, 1, 100);
	bench_dims[3] = Choice("criterion", 4);
}

static double
BenchF(const double *p)
{
	double		a = p[0] - 0.73;
	double		b = log10(p[1]) + 2.1;
	double		c = (p[2] - 37) / 100;

	return a * a + b * b + c * c + bench_penalty[(int) p[3]];
}

/*
 * Run a search of ntrials on the benchmark with the given seed; tpe false
 * means random search.  points (ntrials x 4) and scores receive the
 * trials; returns the best score.
 */
static double
RunSearch(bool tpe, uint64 seed, int ntrials, const TpeOptions *opts,
		  double *points, double *scores, bool negate)
{
	AifRng		rng;
	double		best = INFINITY;

	AifRngSeed(&rng, seed);
	for (int t = 0; t < ntrials; t++)
	{
		double	   *p = points + (Size) t * 4;

		if (tpe)
			SearchTpeSuggest(&bench_space, points, scores, t, opts, &rng, p);
		else
			SearchRandomPoint(&bench_space, &rng, p);
		scores[t] = BenchF(p);
		if (scores[t] < best)
			best = scores[t];
		if (negate)
			scores[t] = -scores[t];
	}
	return best;
}

static bool
PointValid(const SearchSpace *space, const double *p)
{
	for (int d = 0; d < space->ndims; d++)
	{
		const SearchDim *dim = &space->dims[d];

		if (!isfinite(p[d]))
			return false;
		if (dim->kind == SEARCH_CHOICE)
		{
			if (p[d] < 0 || p[d] >= dim->nchoices || p[d] != floor(p[d]))
				return false;
		}
		else if (p[d] < dim->low || p[d] > dim->high)
			return false;
		else if (dim->kind == SEARCH_INT && p[d] != floor(p[d]))
			return false;
	}
	return true;
}

static void
TestGrid(void)
{
	SearchDim	dims[3];
	SearchSpace space = {3, dims};
	double		p[3];
	int			seen[18] = {0};
	bool		all_once = true;
	bool		valid = true;
	int64		size;

	dims[0] = Choice("a", 3);
	dims[1] = Range("b", SEARCH_INT, 2, 4);
	dims[2] = Choice("c", 2);
	size = SearchGridSize(&space);
	tap_ok(size == 18, "grid size is the product 3 x 3 (INT 2..4) x 2 = 18 (got %lld)",
		   (long long) size);
	for (int64 i = 0; i < size; i++)
	{
		SearchGridPoint(&space, i, p);
		valid &= PointValid(&space, p);
		seen[(int) p[0] * 6 + (int) (p[1] - 2) * 2 + (int) p[2]]++;
	}
	for (int k = 0; k < 18; k++)
		all_once &= seen[k] == 1;
	tap_ok(valid && all_once, "grid: every combination exactly once, all valid");

	SearchGridPoint(&space, 0, p);
	tap_ok(p[0] == 0 && p[1] == 2 && p[2] == 0, "grid point 0 is (0, 2, 0)");
	SearchGridPoint(&space, 1, p);
	tap_ok(p[0] == 0 && p[1] == 2 && p[2] == 1, "grid point 1 is (0, 2, 1): last dimension fastest");
	SearchGridPoint(&space, 2, p);
	tap_ok(p[0] == 0 && p[1] == 3 && p[2] == 0, "grid point 2 is (0, 3, 0)");
	SearchGridPoint(&space, 17, p);
	tap_ok(p[0] == 2 && p[1] == 4 && p[2] == 1, "grid point 17 is (2, 4, 1)");

	SHIM_TRY();
	SearchGridPoint(&space, 18, p);
	SHIM_END_TRY();
	tap_ok(shim_error_raised, "grid index past the end is an error");

	/* a continuous range cannot be enumerated */
	dims[1] = Range("learning_rate", SEARCH_LOG_UNIFORM, 0.01, 0.3);
	SHIM_TRY();
	(void) SearchGridSize(&space);
	SHIM_END_TRY();
	tap_ok(shim_error_raised &&
		   shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE &&
		   strstr(shim_error.message, "learning_rate") != NULL &&
		   strstr(shim_error.hint, "[0.01, 0.1, 1]") != NULL,
		   "grid over a log_uniform range: 22023, names the key, hints to list values (%s / %s)",
		   shim_error.message, shim_error.hint);
	dims[1] = Range("reg_lambda", SEARCH_UNIFORM, 0, 10);
	SHIM_TRY();
	(void) SearchGridSize(&space);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "grid over a uniform range: 22023");

	/* a grid too large to count */
	{
		SearchDim	big[3];
		SearchSpace bs = {3, big};

		for (int d = 0; d < 3; d++)
			big[d] = Range("n", SEARCH_INT, 0, 4e6);
		SHIM_TRY();
		(void) SearchGridSize(&bs);
		SHIM_END_TRY();
		tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED,
			   "a grid of 6.4e19 points is a clean error, not an overflow");
	}
}

static void
TestRandom(void)
{
	SearchDim	dims[4];
	SearchSpace space = {4, dims};
	double	   *logs = palloc(sizeof(double) * N);
	double	   *p = palloc(sizeof(double) * 4);
	int			int_counts[5] = {0};
	int			choice_counts[3] = {0};
	double		usum = 0;
	bool		valid = true;
	bool		counts_ok = true;
	AifRng		rng;
	double		med;

	dims[0] = Range("u", SEARCH_UNIFORM, -2, 6);
	dims[1] = Range("lr", SEARCH_LOG_UNIFORM, 1e-3, 1);
	dims[2] = Range("k", SEARCH_INT, 3, 7);
	dims[3] = Choice("c", 3);
	AifRngSeed(&rng, 7);
	for (int i = 0; i < N; i++)
	{
		SearchRandomPoint(&space, &rng, p);
		valid &= PointValid(&space, p);
		usum += p[0];
		logs[i] = log10(p[1]);
		int_counts[(int) p[2] - 3]++;
		choice_counts[(int) p[3]]++;
	}
	tap_ok(valid, "random: %d points in bounds, INT integral, CHOICE a valid index", N);
	tap_ok(fabs(usum / N - 2) < 0.05, "random: uniform on [-2, 6] has mean 2 (%.4f)", usum / N);
	med = Median(logs, N);
	/* 5 sigma of the median of N uniforms on [-3, 0] is about 0.053 */
	tap_ok(fabs(med + 1.5) < 0.05,
		   "random: log-uniform on [1e-3, 1] has median 10^-1.5 (10^%.4f)", med);
	tap_ok(logs[N / 4] > -2.3 && logs[N / 4] < -2.2 && logs[3 * N / 4] > -0.8 &&
		   logs[3 * N / 4] < -0.7,
		   "random: log-uniform quartiles at 10^-2.25 and 10^-0.75 (10^%.3f, 10^%.3f)",
		   logs[N / 4], logs[3 * N / 4]);
	for (int k = 0; k < 5; k++)
		counts_ok &= abs(int_counts[k] - N / 5) < N / 5 / 10;
	tap_ok(counts_ok && int_counts[0] > 0 && int_counts[4] > 0,
		   "random: INT [3, 7] hits both ends, each value ~1/5 (%d %d %d %d %d)",
		   int_counts[0], int_counts[1], int_counts[2], int_counts[3], int_counts[4]);
	counts_ok = true;
	for (int k = 0; k < 3; k++)
		counts_ok &= abs(choice_counts[k] - N / 3) < N / 3 / 10;
	tap_ok(counts_ok, "random: CHOICE of 3 uniform (%d %d %d)",
		   choice_counts[0], choice_counts[1], choice_counts[2]);

	/* INT of two values: both ends */
	{
		SearchDim	b = Range("flag", SEARCH_INT, 0, 1);
		SearchSpace bs = {1, &b};
		int			c[2] = {0};

		for (int i = 0; i < 1000; i++)
		{
			SearchRandomPoint(&bs, &rng, p);
			c[(int) p[0]]++;
		}
		tap_ok(c[0] + c[1] == 1000 && c[0] > 400 && c[1] > 400,
			   "random: INT [0, 1] gives both 0 and 1 (%d, %d)", c[0], c[1]);
	}

	/* reproducibility */
	{
		double		a[40 * 4];
		double		b[40 * 4];
		double		c[40 * 4];
		double		s[40];

		RunSearch(false, 42, 40, NULL, a, s, false);
		RunSearch(false, 42, 40, NULL, b, s, false);
		RunSearch(false, 43, 40, NULL, c, s, false);
		tap_ok(memcmp(a, b, sizeof(a)) == 0, "random: the same seed gives the same 40 points");
		tap_ok(memcmp(a, c, sizeof(a)) != 0, "random: another seed gives other points");
	}
	pfree(logs);
	pfree(p);
}

static void
TestTpe(void)
{
	double		a[T * 4];
	double		b[T * 4];
	double		c[T * 4];
	double		r[T * 4];
	double		sa[T];
	double		sb[T];
	bool		valid = true;
	TpeOptions	opts;
	TpeOptions	maxopts;

	SearchTpeDefaultOptions(&opts);
	tap_ok(opts.n_startup_trials == 10 && opts.n_ei_candidates == 24 && !opts.maximize,
		   "TPE defaults are Optuna's: 10 start-up trials, 24 EI candidates, minimize");

	RunSearch(true, 42, T, NULL, a, sa, false);
	RunSearch(true, 42, T, NULL, b, sb, false);
	RunSearch(true, 43, T, NULL, c, sb, false);
	tap_ok(memcmp(a, b, sizeof(a)) == 0, "TPE: the same seed gives the same %d points", T);
	tap_ok(memcmp(a + 10 * 4, c + 10 * 4, sizeof(double) * (T - 10) * 4) != 0,
		   "TPE: another seed gives other points after the start-up");
	RunSearch(false, 42, T, NULL, r, sb, false);
	tap_ok(memcmp(a, r, sizeof(double) * 10 * 4) == 0,
		   "TPE: the 10 start-up trials are random search's with the same rng");
	tap_ok(memcmp(a + 10 * 4, r + 10 * 4, sizeof(double) * 4) != 0,
		   "TPE: trial 11 is TPE's own, not random's");

	/* maximizing -f ranks the trials as minimizing f: the same points */
	maxopts = opts;
	maxopts.maximize = true;
	RunSearch(true, 42, T, &maxopts, b, sb, true);
	tap_ok(memcmp(a, b, sizeof(a)) == 0,
		   "TPE: maximize on -f suggests exactly what minimize on f does");

	/* startup 0: TPE from the very first trial (prior only) still valid */
	{
		TpeOptions	o = opts;

		o.n_startup_trials = 0;
		RunSearch(true, 5, T, &o, b, sb, false);
		for (int t = 0; t < T; t++)
			valid &= PointValid(&bench_space, b + t * 4);
	}

	/* TPE against random search on the benchmark */
	{
		double		best_tpe[SEEDS];
		double		best_rnd[SEEDS];
		double		med_tpe;
		double		med_rnd;
		int			wins = 0;

		for (int s = 0; s < SEEDS; s++)
		{
			best_tpe[s] = RunSearch(true, 1000 + s, T, NULL, a, sa, false);
			best_rnd[s] = RunSearch(false, 1000 + s, T, NULL, r, sb, false);
			wins += best_tpe[s] < best_rnd[s];
			for (int t = 0; t < T; t++)
				valid &= PointValid(&bench_space, a + t * 4);
		}
		tap_ok(valid, "TPE: every suggestion in bounds, INT integral, CHOICE a valid index");
		med_tpe = Median(best_tpe, SEEDS);
		med_rnd = Median(best_rnd, SEEDS);
		tap_diag("best of %d trials over %d seeds: median TPE %.4f, random %.4f; TPE better on %d",
				 T, SEEDS, med_tpe, med_rnd, wins);

		/*
		 * Measured while developing: median best 0.059 for TPE against 0.218
		 * for random search (ratio 0.27), TPE better on 36 of these 50
		 * seeds.  Over 20 other sets of 50 seeds the ratio ranged from 0.21
		 * to 0.44 and the wins from 32 to 44, so the bounds below hold for
		 * any stream of draws, yet fail if TPE were no better than random
		 * (ratio ~1, ~25 wins).
		 */
		tap_ok(med_tpe < 0.55 * med_rnd,
			   "TPE's median best (%.4f) is below 0.55 x random search's (%.4f)",
			   med_tpe, med_rnd);
		tap_ok(wins >= 30, "TPE beats random search on at least 30 of 50 seeds (%d)", wins);
	}

	/* a NaN score (a failed trial) never counts among the best */
	{
		SearchDim	d = Range("x", SEARCH_UNIFORM, 0, 1);
		SearchSpace sp = {1, &d};
		double		pts[20];
		double		sc[20];
		double		p;
		AifRng		rng;
		bool		near = true;

		/* 19 trials at x = i / 20 scored |x - 0.2|, one NaN at 0.9 */
		for (int i = 0; i < 20; i++)
		{
			pts[i] = i / 20.0;
			sc[i] = fabs(pts[i] - 0.2);
		}
		pts[19] = 0.9;
		sc[19] = NAN;
		AifRngSeed(&rng, 3);
		for (int k = 0; k < 10; k++)
		{
			SearchTpeSuggest(&sp, pts, sc, 20, NULL, &rng, &p);
			near &= fabs(p - 0.2) < 0.25;
		}
		tap_ok(near, "TPE: suggestions stay near the two best (0.15, 0.2, 0.25), a NaN score is not best");
	}
}

static void
TestHalving(void)
{
	SearchRung	r[SEARCH_MAX_RUNGS];
	int			n;

	n = SearchHalvingSchedule(27, 1, 27, 3, r);
	tap_ok(n == 4 && r[0].n_candidates == 27 && r[0].resource == 1 &&
		   r[1].n_candidates == 9 && r[1].resource == 3 &&
		   r[2].n_candidates == 3 && r[2].resource == 9 &&
		   r[3].n_candidates == 1 && r[3].resource == 27,
		   "halving (27, 1..27, 3): 27@1, 9@3, 3@9, 1@27");

	/* max_resource caps: 27 would go on to 1@27 but only 10 is allowed */
	n = SearchHalvingSchedule(27, 1, 10, 3, r);
	tap_ok(n == 3 && r[0].n_candidates == 27 && r[0].resource == 1 &&
		   r[1].n_candidates == 9 && r[1].resource == 3 &&
		   r[2].n_candidates == 3 && r[2].resource == 9,
		   "halving (27, 1..10, 3): max_resource stops it at 27@1, 9@3, 3@9");

	/* candidates run out first: stop once fewer than factor remain */
	n = SearchHalvingSchedule(10, 1, 100, 3, r);
	tap_ok(n == 3 && r[0].n_candidates == 10 && r[1].n_candidates == 4 &&
		   r[2].n_candidates == 2 && r[2].resource == 9,
		   "halving (10, 1..100, 3): 10@1, 4@3, 2@9 as sklearn");

	/* trees: ceil at every rung */
	n = SearchHalvingSchedule(100, 10, 500, 3, r);
	tap_ok(n == 4 && r[0].n_candidates == 100 && r[0].resource == 10 &&
		   r[1].n_candidates == 34 && r[1].resource == 30 &&
		   r[2].n_candidates == 12 && r[2].resource == 90 &&
		   r[3].n_candidates == 4 && r[3].resource == 270,
		   "halving (100, 10..500, 3): 100@10, 34@30, 12@90, 4@270");

	n = SearchHalvingSchedule(1, 5, 5, 3, r);
	tap_ok(n == 1 && r[0].n_candidates == 1 && r[0].resource == 5,
		   "halving of one candidate: one rung at min_resource");

	n = SearchHalvingSchedule(64, 1, 1000, 2, r);
	tap_ok(n == 7 && r[6].n_candidates == 1 && r[6].resource == 64,
		   "halving (64, 1..1000, 2): 7 rungs down to 1@64");

	n = SearchHalvingSchedule(PG_INT32_MAX, 1, PG_INT32_MAX, 2, r);
	tap_ok(n == 31 && r[30].n_candidates == 2 && r[30].resource == 1 << 30,
		   "halving at INT_MAX, factor 2: 31 rungs down to 2@2^30, no overflow");

	{
		int			bad = 0;

		SHIM_TRY();
		SearchHalvingSchedule(0, 1, 10, 3, r);
		SHIM_END_TRY();
		bad += shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE;
		SHIM_TRY();
		SearchHalvingSchedule(10, 0, 10, 3, r);
		SHIM_END_TRY();
		bad += shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE;
		SHIM_TRY();
		SearchHalvingSchedule(10, 20, 10, 3, r);
		SHIM_END_TRY();
		bad += shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE;
		SHIM_TRY();
		SearchHalvingSchedule(10, 1, 10, 1, r);
		SHIM_END_TRY();
		bad += shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE;
		tap_ok(bad == 4, "halving: no candidates, min 0, min > max, factor 1 are clean errors");
	}
}

int
main(void)
{
	BenchInit();
	TestGrid();
	TestRandom();
	TestTpe();
	TestHalving();
	return tap_done();
}
