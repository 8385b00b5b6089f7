/*-------------------------------------------------------------------------
 *
 * drift.c
 *	  Drift statistics (see drift.h for what each one matches).
 *
 * The raw statistics transcribe scipy 1.10's arithmetic where the result
 * depends on it: ks_2samp's ECDF differences are the same divisions, its
 * exact p-value the same lattice-path recursions (Hodges 1958; Viehmann
 * 2021 for the "inside" form), its asymptotic branch kstwo.sf at the same
 * rounded n; Evidently's binning is numpy's Sturges edges and histogram
 * rule.  Agreement is then to rounding (~1e-12) rather than to the
 * accuracy of two independent approximations.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdlib.h>

#include "miscadmin.h"

#include "algorithms/distributions.h"
#include "algorithms/drift.h"

#define WASSERSTEIN_MIN_NORM	0.001	/* Evidently's floor on the norm */
#define PSI_ZERO_SHARE			0.0001	/* Evidently's fill for empty bins */

static int
DoubleCmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* A sorted copy. */
static double *
SortedCopy(const double *x, int64 n)
{
	double	   *c = palloc(sizeof(double) * Max(n, 1));

	memcpy(c, x, sizeof(double) * n);
	qsort(c, n, sizeof(double), DoubleCmp);
	return c;
}

static void
CheckSampleSizes(int64 n, int64 m)
{
	if (n <= 0 || m <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a drift statistic needs data on both sides")));
}


/* ---------------------------------------------------------------------
 * Method names and defaults
 * ---------------------------------------------------------------------
 */

static const char *const method_names[] = {
	"auto", "ks", "wasserstein", "chisquare", "jensenshannon", "psi"
};

DriftMethod
DriftMethodFromName(const char *name)
{
	int			i;

	for (i = 0; i < (int) lengthof(method_names); i++)
		if (strcmp(name, method_names[i]) == 0)
			return (DriftMethod) i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown drift method \"%s\"", name),
			 errhint("Known methods: auto, ks, wasserstein, chisquare, jensenshannon, psi.")));
	return DRIFT_METHOD_AUTO;	/* keep the compiler quiet */
}

const char *
DriftMethodName(DriftMethod method)
{
	if ((int) method < 0 || (int) method >= (int) lengthof(method_names))
		elog(ERROR, "drift method %d should not happen", (int) method);
	return method_names[method];
}

/* Evidently's defaults: p < 0.05 for the tests, >= 0.1 for distances. */
double
DriftDefaultThreshold(DriftMethod method)
{
	return DriftMethodIsPValue(method) ? 0.05 : 0.1;
}

bool
DriftMethodIsPValue(DriftMethod method)
{
	return method == DRIFT_METHOD_KS || method == DRIFT_METHOD_CHISQUARE;
}

bool
DriftDatasetDrifted(int ndrifted, int nfeatures, double share)
{
	if (nfeatures <= 0)
		return false;
	return (double) ndrifted / nfeatures >= share;
}


/* ---------------------------------------------------------------------
 * Kolmogorov-Smirnov
 * ---------------------------------------------------------------------
 */

static int64
Gcd(int64 a, int64 b)
{
	while (b != 0)
	{
		int64		t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * P(D_{n,n} >= h/n) = 2 (A0 - A0 A1 + ...), each Ai a product of h
 * ratios, in scipy's Horner-like order (_compute_prob_outside_square).
 */
static double
KsProbOutsideSquare(int64 n, int64 h)
{
	double		P = 0.0;
	int64		k = n / h;

	while (k >= 0)
	{
		double		p1 = 1.0;
		int64		j;

		CHECK_FOR_INTERRUPTS();
		for (j = 0; j < h; j++)
			p1 = (double) (n - k * h - j) * p1 / (double) (n + k * h + j + 1);
		P = p1 * (1.0 - P);
		k--;
	}
	return 2 * P;
}

/*
 * The proportion of lattice paths from (0, 0) to (m, n) that leave the
 * band |x/m - y/n| < h/lcm, computed as 1 - p column by column on a
 * sliding window (scipy's _compute_outer_prob_inside_method, pythran).
 * Returns NaN if an index would leave the window, which scipy's code
 * never does.
 */
static double
KsProbOutsideInside(int64 m, int64 n, int64 g, int64 h)
{
	int64		mg;
	int64		ng;
	int64		minj;
	int64		maxj;
	int64		curlen;
	int64		lenA;
	double	   *A;
	int64		i;
	int64		t;
	double		result;

	if (m < n)
	{
		int64		s = m;

		m = n;
		n = s;
	}
	mg = m / g;
	ng = n / g;
	minj = 0;
	maxj = Min((int64) ceil((double) h / (double) mg), n + 1);
	curlen = maxj - minj;
	lenA = Min(2 * maxj + 2, n + 1);
	A = palloc(sizeof(double) * lenA);
	for (t = 0; t < lenA; t++)
		A[t] = t < maxj ? 0.0 : 1.0;
	for (i = 1; i <= m; i++)
	{
		int64		lastminj = minj;
		int64		lastlen = curlen;
		double		val;
		int64		jj;

		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		minj = Max((int64) floor((double) (ng * i - h) / (double) mg) + 1, 0);
		minj = Min(minj, n);
		maxj = Min((int64) ceil((double) (ng * i + h) / (double) mg), n + 1);
		if (maxj <= minj)
		{
			pfree(A);
			return 1.0;
		}
		val = minj == 0 ? 0.0 : 1.0;
		for (jj = 0; jj < maxj - minj; jj++)
		{
			int64		j = jj + minj;
			int64		src = jj + minj - lastminj;

			if (src < 0 || src >= lenA || jj >= lenA)
			{
				pfree(A);
				return NAN;
			}
			val = (A[src] * i + val * j) / (double) (i + j);
			A[jj] = val;
		}
		curlen = maxj - minj;
		if (lastlen > curlen)
		{
			for (t = maxj - minj; t < maxj - minj + (lastlen - curlen) && t < lenA; t++)
				A[t] = 1.0;
		}
	}
	result = A[maxj - minj - 1];
	pfree(A);
	return result;
}

/*
 * ks_2samp's p-value for samples of n and m rows and statistic *d, with
 * method 'auto': exact when both have at most 10000 rows (and *d is
 * moved onto the lattice h / lcm(n, m) as scipy does), else kstwo.sf at
 * n_eff = round(n m / (n + m)); also the fallback when the exact
 * recursion fails.
 */
double
DriftKsPValue(int64 n, int64 m, double *d)
{
	double		prob = NAN;
	double		big;
	double		small;
	double		en;

	CheckSampleSizes(n, m);
	if (Max(n, m) <= DRIFT_KS_AUTO_MAX_N)
	{
		int64		g = Gcd(n, m);
		int64		lcm = (n / g) * m;
		int64		h = (int64) rint(*d * (double) lcm);

		*d = (double) h / (double) lcm;
		if (h == 0)
			return 1.0;
		if (n == m)
			prob = KsProbOutsideSquare(n, h);
		else
			prob = KsProbOutsideInside(n, m, g, h);
		if (prob >= 0 && prob <= 1)
			return prob;
	}
	big = (double) Max(n, m);
	small = (double) Min(n, m);
	en = big * small / (big + small);
	prob = KolmogorovSf((int64) rint(en), *d);
	if (prob < 0)
		prob = 0;
	if (prob > 1)
		prob = 1;
	return prob;
}

/*
 * The statistic as scipy computes it: at every data point the ECDFs
 * (searchsorted 'right', i.e. after all ties) as count / size, and the
 * largest absolute difference -- the same divisions, so the same bits.
 */
void
DriftKs(const double *ref, int64 n, const double *cur, int64 m,
		double *stat, double *pvalue)
{
	double	   *a;
	double	   *b;
	int64		i = 0;
	int64		j = 0;
	double		maxS = 0;
	double		minS = 0;
	double		d;

	CheckSampleSizes(n, m);
	a = SortedCopy(ref, n);
	b = SortedCopy(cur, m);
	while (i < n || j < m)
	{
		double		x;
		double		diff;

		if ((((i + j) & 65535) == 0))
			CHECK_FOR_INTERRUPTS();
		x = j >= m || (i < n && a[i] <= b[j]) ? a[i] : b[j];
		while (i < n && a[i] <= x)
			i++;
		while (j < m && b[j] <= x)
			j++;
		diff = (double) i / (double) n - (double) j / (double) m;
		if (diff > maxS)
			maxS = diff;
		if (diff < minS)
			minS = diff;
	}
	pfree(a);
	pfree(b);
	minS = Min(-minS, 1.0);
	d = minS > maxS ? minS : maxS;
	*pvalue = DriftKsPValue(n, m, &d);
	*stat = d;
}


/* ---------------------------------------------------------------------
 * Wasserstein
 * ---------------------------------------------------------------------
 */

/*
 * Integral of |U(x) - V(x)| over x for two weighted step CDFs (scipy's
 * _cdf_distance with p = 1): walk the distinct values of both sorted
 * samples, each CDF taken after all values <= x.  u, v sorted ascending;
 * uw, vw NULL for unit weights.
 */
static double
WassersteinSorted(const double *u, const double *uw, int64 n,
				  const double *v, const double *vw, int64 m)
{
	double		utot = 0;
	double		vtot = 0;
	double		ucum = 0;
	double		vcum = 0;
	double		sum = 0;
	int64		i = 0;
	int64		j = 0;

	if (uw)
		for (i = 0; i < n; i++)
			utot += uw[i];
	if (vw)
		for (j = 0; j < m; j++)
			vtot += vw[j];
	i = j = 0;
	while (i < n || j < m)
	{
		double		x = j >= m || (i < n && u[i] <= v[j]) ? u[i] : v[j];
		double		next;
		double		ucdf;
		double		vcdf;

		if ((((i + j) & 65535) == 0))
			CHECK_FOR_INTERRUPTS();
		while (i < n && u[i] <= x)
		{
			ucum += uw ? uw[i] : 1.0;
			i++;
		}
		while (j < m && v[j] <= x)
		{
			vcum += vw ? vw[j] : 1.0;
			j++;
		}
		if (i >= n && j >= m)
			break;
		next = j >= m || (i < n && u[i] <= v[j]) ? u[i] : v[j];
		ucdf = uw ? ucum / utot : (double) i / (double) n;
		vcdf = vw ? vcum / vtot : (double) j / (double) m;
		sum += fabs(ucdf - vcdf) * (next - x);
	}
	return sum;
}

double
DriftWasserstein(const double *u, int64 n, const double *v, int64 m)
{
	return DriftWassersteinWeighted(u, NULL, n, v, NULL, m);
}

/* Weighted form: sorts (value, weight) pairs by value. */
typedef struct WeightedValue
{
	double		x;
	double		w;
} WeightedValue;

static int
WeightedCmp(const void *a, const void *b)
{
	return DoubleCmp(&((const WeightedValue *) a)->x, &((const WeightedValue *) b)->x);
}

static void
SortWeighted(const double *x, const double *w, int64 n, double **xs, double **ws)
{
	WeightedValue *t = palloc(sizeof(WeightedValue) * Max(n, 1));
	int64		i;

	for (i = 0; i < n; i++)
	{
		t[i].x = x[i];
		t[i].w = w[i];
	}
	qsort(t, n, sizeof(WeightedValue), WeightedCmp);
	*xs = palloc(sizeof(double) * Max(n, 1));
	*ws = palloc(sizeof(double) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		(*xs)[i] = t[i].x;
		(*ws)[i] = t[i].w;
	}
	pfree(t);
}

double
DriftWassersteinWeighted(const double *u, const double *uw, int64 n,
						 const double *v, const double *vw, int64 m)
{
	double	   *us;
	double	   *vs;
	double	   *uws = NULL;
	double	   *vws = NULL;
	double		r;

	CheckSampleSizes(n, m);
	if (uw)
		SortWeighted(u, uw, n, &us, &uws);
	else
		us = SortedCopy(u, n);
	if (vw)
		SortWeighted(v, vw, m, &vs, &vws);
	else
		vs = SortedCopy(v, m);
	r = WassersteinSorted(us, uws, n, vs, vws, m);
	pfree(us);
	pfree(vs);
	if (uws)
		pfree(uws);
	if (vws)
		pfree(vws);
	return r;
}

/* Population standard deviation by two passes, as np.std. */
static double
TwoPassStd(const double *x, int64 n)
{
	double		mean = 0;
	double		ss = 0;
	int64		i;

	for (i = 0; i < n; i++)
		mean += x[i];
	mean /= n;
	for (i = 0; i < n; i++)
		ss += (x[i] - mean) * (x[i] - mean);
	return sqrt(ss / n);
}

double
DriftWassersteinNormed(const double *ref, int64 n, const double *cur, int64 m)
{
	CheckSampleSizes(n, m);
	return DriftWasserstein(ref, n, cur, m) / Max(TwoPassStd(ref, n), WASSERSTEIN_MIN_NORM);
}


/* ---------------------------------------------------------------------
 * Frequencies: chi-square, Jensen-Shannon, PSI, histograms
 * ---------------------------------------------------------------------
 */

/*
 * Expected counts are the reference's scaled to the current total; a
 * category the reference never saw has expected 0 and makes the
 * statistic infinite (p = 0), as with scipy.
 */
void
DriftChiSquare(const double *ref_counts, const double *cur_counts, int k,
			   double *stat, double *pvalue)
{
	double		rtot = 0;
	double		ctot = 0;
	double		knorm;
	double		s = 0;
	int			i;

	for (i = 0; i < k; i++)
	{
		rtot += ref_counts[i];
		ctot += cur_counts[i];
	}
	if (k < 1 || !(rtot > 0) || !(ctot > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chi-square needs counts on both sides")));
	knorm = ctot / rtot;
	for (i = 0; i < k; i++)
	{
		double		e = ref_counts[i] * knorm;
		double		dlt = cur_counts[i] - e;

		s += dlt * dlt / e;
	}
	*stat = s;
	*pvalue = ChiSquareSf(s, (double) (k - 1));
}

/* scipy.special.rel_entr */
static double
RelEntr(double x, double y)
{
	if (isnan(x) || isnan(y))
		return NAN;
	if (x > 0 && y > 0)
		return x * log(x / y);
	if (x == 0 && y >= 0)
		return 0;
	return INFINITY;
}

double
DriftJensenShannon(const double *p, const double *q, int k, double base)
{
	double		ps = 0;
	double		qs = 0;
	double		left = 0;
	double		right = 0;
	double		js;
	int			i;

	for (i = 0; i < k; i++)
	{
		ps += p[i];
		qs += q[i];
	}
	for (i = 0; i < k; i++)
	{
		double		pi = p[i] / ps;
		double		qi = q[i] / qs;
		double		mi = (pi + qi) / 2.0;

		left += RelEntr(pi, mi);
		right += RelEntr(qi, mi);
	}
	js = left + right;
	if (base > 0)
		js /= log(base);
	return sqrt(js / 2.0);
}

/* Evidently's fill: the smallest nonzero share / 1e6 if <= 1e-4, else 1e-4. */
static void
FillZeroShares(double *x, int k)
{
	double		mn = INFINITY;
	double		fill;
	int			i;

	for (i = 0; i < k; i++)
		if (x[i] != 0 && x[i] < mn)
			mn = x[i];
	if (isinf(mn))
		return;
	fill = mn <= PSI_ZERO_SHARE ? mn / 1e6 : PSI_ZERO_SHARE;
	for (i = 0; i < k; i++)
		if (x[i] == 0)
			x[i] = fill;
}

double
DriftPsi(const double *ref_share, const double *cur_share, int k)
{
	double	   *r = palloc(sizeof(double) * Max(k, 1));
	double	   *c = palloc(sizeof(double) * Max(k, 1));
	double		psi = 0;
	int			i;

	memcpy(r, ref_share, sizeof(double) * k);
	memcpy(c, cur_share, sizeof(double) * k);
	FillZeroShares(r, k);
	FillZeroShares(c, k);
	for (i = 0; i < k; i++)
		psi += (r[i] - c[i]) * log(r[i] / c[i]);
	pfree(r);
	pfree(c);
	return psi;
}

/*
 * np.histogram_bin_edges over n values spanning [lo, hi] with
 * bins='sturges': width = ptp / (log2 n + 1), ceil(range / width) bins
 * (one bin of [lo - 0.5, hi + 0.5] for constant data), edges by
 * np.linspace: start + i * step, the last edge exactly hi.
 */
double *
DriftSturgesEdges(double lo, double hi, int64 n, int *nbins)
{
	double		first = lo;
	double		last = hi;
	double		width;
	double		step;
	double	   *edges;
	int64		nb;
	int			i;

	if (n <= 0 || !isfinite(lo) || !isfinite(hi) || lo > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("histogram needs finite data")));
	if (first == last)
	{
		first -= 0.5;
		last += 0.5;
	}
	width = (hi - lo) / (log2((double) n) + 1.0);
	if (width != 0)
		nb = (int64) ceil((last - first) / width);
	else
		nb = 1;
	if (nb < 1 || nb > 100000)
		elog(ERROR, "Sturges bin count %lld should not happen", (long long) nb);
	edges = palloc(sizeof(double) * (nb + 1));
	step = (last - first) / (double) nb;
	for (i = 0; i <= nb; i++)
		edges[i] = (double) i * step + first;
	edges[nb] = last;
	*nbins = (int) nb;
	return edges;
}

/*
 * np.histogram(x, edges)[0], optionally weighted: bins [e_i, e_i+1), the
 * last one closed, values outside the edges not counted.
 */
void
DriftHistogram(const double *x, const double *w, int64 n,
			   const double *edges, int nbins, double *counts)
{
	int64		t;
	int			i;

	for (i = 0; i < nbins; i++)
		counts[i] = 0;
	for (t = 0; t < n; t++)
	{
		int			lo = 0;
		int			hi = nbins + 1;

		if ((t & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!(x[t] >= edges[0] && x[t] <= edges[nbins]))
			continue;
		/* largest i with edges[i] <= x */
		while (hi - lo > 1)
		{
			int			mid = (lo + hi) / 2;

			if (edges[mid] <= x[t])
				lo = mid;
			else
				hi = mid;
		}
		if (lo == nbins)
			lo = nbins - 1;
		counts[lo] += w ? w[t] : 1.0;
	}
}


/* ---------------------------------------------------------------------
 * Summaries
 * ---------------------------------------------------------------------
 */

/* A side of a numeric comparison: its values, with weights if exact counts. */
typedef struct NumSide
{
	double	   *x;				/* ascending */
	double	   *w;				/* NULL: unit weights */
	int64		n;
	double		total;			/* sum of weights */
} NumSide;

/*
 * The best description of a sketch's distribution: its exact distinct
 * values with counts when it has few, else its sample.
 */
static void
NumSideFromSketch(NumSketch *s, NumSide *side)
{
	if (s->ndistinct > 0)
	{
		int			i;

		side->n = s->ndistinct;
		side->x = palloc(sizeof(double) * s->ndistinct);
		side->w = palloc(sizeof(double) * s->ndistinct);
		side->total = 0;
		for (i = 0; i < s->ndistinct; i++)
		{
			side->x[i] = s->dvalue[i];
			side->w[i] = (double) s->dcount[i];
			side->total += side->w[i];
		}
	}
	else
	{
		int			n;

		side->x = NumSketchSortedSample(s, &n);
		side->w = NULL;
		side->n = n;
		side->total = n;
	}
}

/* Weight of the values equal to x on a side (sorted; linear merge users). */
static double
NumSideWeightAt(const NumSide *side, double x)
{
	int64		lo = 0;
	int64		hi = side->n;
	double		w = 0;

	while (lo < hi)
	{
		int64		mid = (lo + hi) / 2;

		if (side->x[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < side->n && side->x[lo] == x; lo++)
		w += side->w ? side->w[lo] : 1.0;
	return w;
}

/*
 * Evidently's get_binned_data for a numeric feature: Sturges bins over
 * reference and current together when the reference has more than 20
 * distinct values, else one cell per value of either side.  Returns the
 * number of cells; *rc and *cc receive per-cell weights (counts, or
 * sample counts), to be divided by the side's total.
 */
static int
NumericCells(const NumSketch *ref, const NumSketch *cur, const NumSide *rs,
			 const NumSide *cs, double **rc, double **cc)
{
	int			k;

	if (ref->ndistinct < 0)
	{
		double	   *edges = DriftSturgesEdges(Min(ref->min, cur->min), Max(ref->max, cur->max),
											  ref->count + cur->count, &k);

		*rc = palloc(sizeof(double) * k);
		*cc = palloc(sizeof(double) * k);
		DriftHistogram(rs->x, rs->w, rs->n, edges, k, *rc);
		DriftHistogram(cs->x, cs->w, cs->n, edges, k, *cc);
		pfree(edges);
	}
	else
	{
		/* the union of distinct values of both sides, ascending */
		double	   *keys = palloc(sizeof(double) * (rs->n + cs->n));
		int64		i = 0;
		int64		j = 0;
		int			t;

		k = 0;
		while (i < rs->n || j < cs->n)
		{
			double		x = j >= cs->n || (i < rs->n && rs->x[i] <= cs->x[j]) ? rs->x[i] : cs->x[j];

			keys[k++] = x;
			while (i < rs->n && rs->x[i] <= x)
				i++;
			while (j < cs->n && cs->x[j] <= x)
				j++;
		}
		*rc = palloc(sizeof(double) * k);
		*cc = palloc(sizeof(double) * k);
		for (t = 0; t < k; t++)
		{
			(*rc)[t] = NumSideWeightAt(rs, keys[t]);
			(*cc)[t] = NumSideWeightAt(cs, keys[t]);
		}
		pfree(keys);
	}
	return k;
}

static void
SharesOf(const double *counts, int k, double total, double *share)
{
	int			i;

	for (i = 0; i < k; i++)
		share[i] = counts[i] / total;
}

static void
ResultEmpty(DriftResult *r, DriftMethod method, double threshold)
{
	r->method = method;
	r->statistic = NAN;
	r->pvalue = NAN;
	r->threshold = threshold;
	r->drifted = false;
	r->psi = NAN;
	r->approximate = false;
	r->ks_error = 0;
}

/*
 * The statistics computed from counts (chi-square, Jensen-Shannon on the
 * shares, PSI already in r): the same for binned numbers and categories.
 */
static void
counted_statistic(DriftMethod method, const double *rc, const double *cc,
				  const double *rp, const double *cp, int k, DriftResult *r)
{
	switch (method)
	{
		case DRIFT_METHOD_CHISQUARE:
			DriftChiSquare(rc, cc, k, &r->statistic, &r->pvalue);
			break;
		case DRIFT_METHOD_JENSENSHANNON:
			r->statistic = DriftJensenShannon(rp, cp, k, 2.0);
			break;
		case DRIFT_METHOD_PSI:
			r->statistic = r->psi;
			break;
		default:
			elog(ERROR, "drift method %d should not happen", (int) method);
	}
}

/* Drifted: a p-value below the threshold, or a distance at or above it. */
static void
set_verdict(DriftMethod method, double threshold, DriftResult *r)
{
	if (DriftMethodIsPValue(method))
		r->drifted = r->pvalue < threshold;
	else
		r->drifted = r->statistic >= threshold;
}

/*
 * A numeric feature: the baseline against the current summary.  KS runs
 * on the two samples (scipy's ks_2samp on exactly those values);
 * Wasserstein on the exact value counts where a side has at most 20
 * distinct values, else on its sample, normed by the reference's exact
 * standard deviation; PSI, JS and chi-square on Evidently's cells.
 */
void
DriftNumeric(NumSketch *ref, NumSketch *cur, DriftMethod method,
			 double threshold, DriftResult *r)
{
	NumSide		rs;
	NumSide		cs;
	double	   *rc;
	double	   *cc;
	double	   *rp;
	double	   *cp;
	int			k;

	if (method == DRIFT_METHOD_AUTO)
		method = cur->count <= DRIFT_SMALL_SAMPLE_MAX ?
			DRIFT_METHOD_KS : DRIFT_METHOD_WASSERSTEIN;
	if (isnan(threshold))
		threshold = DriftDefaultThreshold(method);
	ResultEmpty(r, method, threshold);
	if (ref->count == 0 || cur->count == 0)
		return;
	if (method == DRIFT_METHOD_CHISQUARE && (ref->ndistinct < 0 || cur->ndistinct < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chi-square drift needs a numeric feature with at most %d distinct values",
						NUMSKETCH_DISCRETE_MAX),
				 errhint("Use ks, wasserstein, jensenshannon or psi for continuous features.")));
	r->approximate = !NumSketchIsExact(ref) || !NumSketchIsExact(cur);
	r->ks_error = NumSketchKsErrorBound(ref, 0.05);

	NumSideFromSketch(ref, &rs);
	NumSideFromSketch(cur, &cs);
	k = NumericCells(ref, cur, &rs, &cs, &rc, &cc);
	rp = palloc(sizeof(double) * k);
	cp = palloc(sizeof(double) * k);
	SharesOf(rc, k, rs.total, rp);
	SharesOf(cc, k, cs.total, cp);
	r->psi = DriftPsi(rp, cp, k);

	switch (method)
	{
		case DRIFT_METHOD_KS:
			{
				double	   *a;
				double	   *b;
				int			na;
				int			nb;

				a = NumSketchSortedSample(ref, &na);
				b = NumSketchSortedSample(cur, &nb);
				DriftKs(a, na, b, nb, &r->statistic, &r->pvalue);
				pfree(a);
				pfree(b);
				break;
			}
		case DRIFT_METHOD_WASSERSTEIN:
			r->statistic = WassersteinSorted(rs.x, rs.w, rs.n, cs.x, cs.w, cs.n) /
				Max(NumSketchStd(ref), WASSERSTEIN_MIN_NORM);
			break;
		default:
			counted_statistic(method, rc, cc, rp, cp, k, r);
			break;
	}
	set_verdict(method, threshold, r);

	pfree(rs.x);
	if (rs.w)
		pfree(rs.w);
	pfree(cs.x);
	if (cs.w)
		pfree(cs.w);
	pfree(rc);
	pfree(cc);
	pfree(rp);
	pfree(cp);
}

/*
 * Whether a level's key lies at or below a saturated sketch's last kept
 * key, i.e. whether the sketch would have kept it.
 */
static bool
CatCovers(const CatSketch *s, const CatSketchLevel *l)
{
	const CatSketchLevel *last;

	if (!s->saturated)
		return true;
	last = &s->levels[s->nlevels - 1];
	return CatSketchCompareKey(l->hash, l->label, l->len,
							   last->hash, last->label, last->len) <= 0;
}

/*
 * A categorical feature.  Cells are the levels of either side, except
 * that a level one side lumped into "other" (a saturated sketch) is
 * lumped on both sides, plus that "other" cell when it is not empty; with
 * fewer levels than the sketches' capacity this is exactly Evidently's
 * per-level comparison.
 */
void
DriftCategorical(CatSketch *ref, CatSketch *cur, DriftMethod method,
				 double threshold, DriftResult *r)
{
	int			cap = ref->nlevels + cur->nlevels + 1;
	double	   *rc = palloc(sizeof(double) * cap);
	double	   *cc = palloc(sizeof(double) * cap);
	double	   *rp = palloc(sizeof(double) * cap);
	double	   *cp = palloc(sizeof(double) * cap);
	double		rother = (double) ref->other;
	double		cother = (double) cur->other;
	int			k = 0;
	int			i = 0;
	int			j = 0;

	if (method == DRIFT_METHOD_AUTO)
		method = cur->count <= DRIFT_SMALL_SAMPLE_MAX ?
			DRIFT_METHOD_CHISQUARE : DRIFT_METHOD_JENSENSHANNON;
	if (method == DRIFT_METHOD_KS || method == DRIFT_METHOD_WASSERSTEIN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("drift method \"%s\" does not apply to categorical features",
						DriftMethodName(method)),
				 errhint("Use chisquare, jensenshannon or psi.")));
	if (isnan(threshold))
		threshold = DriftDefaultThreshold(method);
	ResultEmpty(r, method, threshold);
	if (ref->count == 0 || cur->count == 0)
		return;
	r->approximate = ref->saturated || cur->saturated;

	while (i < ref->nlevels || j < cur->nlevels)
	{
		const CatSketchLevel *l;
		double		rv = 0;
		double		cv = 0;
		int			c;

		if (i >= ref->nlevels)
			c = 1;
		else if (j >= cur->nlevels)
			c = -1;
		else
			c = CatSketchCompareKey(ref->levels[i].hash, ref->levels[i].label,
									ref->levels[i].len, cur->levels[j].hash,
									cur->levels[j].label, cur->levels[j].len);
		if (c <= 0)
		{
			l = &ref->levels[i++];
			rv = (double) l->count;
			if (c == 0)
				cv = (double) cur->levels[j++].count;
		}
		else
		{
			l = &cur->levels[j++];
			cv = (double) l->count;
		}
		if (CatCovers(ref, l) && CatCovers(cur, l))
		{
			rc[k] = rv;
			cc[k] = cv;
			k++;
		}
		else
		{
			rother += rv;
			cother += cv;
		}
	}
	if (rother > 0 || cother > 0)
	{
		rc[k] = rother;
		cc[k] = cother;
		k++;
	}
	SharesOf(rc, k, (double) ref->count, rp);
	SharesOf(cc, k, (double) cur->count, cp);
	r->psi = DriftPsi(rp, cp, k);
	counted_statistic(method, rc, cc, rp, cp, k, r);
	set_verdict(method, threshold, r);
	pfree(rc);
	pfree(cc);
	pfree(rp);
	pfree(cp);
}
