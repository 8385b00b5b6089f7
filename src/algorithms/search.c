/*-------------------------------------------------------------------------
 *
 * search.c
 *	  Hyperparameter search strategies: grid, random, TPE and the schedule
 *	  of successive halving.
 *
 * The TPE follows Optuna 3.x (optuna/samplers/_tpe/sampler.py,
 * parzen_estimator.py and probability_distributions.py with the sampler's
 * defaults), estimator by estimator: the same split into below/above, the
 * same centers, bandwidths, weights and prior, truncated normals on the
 * internal scale and the unit-cell mass for integers.  The differences are
 * where Optuna's own randomness lives: numpy's RandomState is replaced by
 * the project's xoshiro256**, a CHOICE candidate is drawn from the mixed
 * distribution in one step (the same distribution Optuna draws from in
 * two: a component, then a choice), and truncated normals are drawn by
 * inverting the normal CDF on whichever tail keeps the precision.
 *
 * The special functions (log of the normal CDF, the normal quantile) are
 * local and only as accurate as the sampler needs: log Phi to ~1e-12
 * relative in the far tail, the quantile to full double precision after
 * one Halley step on Acklam's approximation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <string.h>

#include "algorithms/search.h"

#define TPE_PRIOR_WEIGHT	1.0
#define TPE_GAMMA_MAX		25		/* gamma(n) = min(ceil(0.1 n), 25) */
#define TPE_FLAT_WEIGHTS	25		/* newest observations at full weight */

#define LOG_SQRT_2PI	0.91893853320467274178	/* log(sqrt(2 pi)) */

/*
 * One dimension's Parzen estimator on the internal scale.  Numeric: a
 * mixture of normals (mus, sigmas) truncated to [lo, hi]; discrete means
 * an INT dimension, whose values are the integers of [lo + 0.5, hi - 0.5].
 * CHOICE: probs over the choices.
 */
typedef struct Parzen
{
	bool		categorical;
	int			ncomp;
	double	   *weights;		/* ncomp, sum 1 */
	double	   *mus;
	double	   *sigmas;
	double		lo;
	double		hi;
	bool		discrete;
	int			nchoices;
	double	   *probs;			/* nchoices, sum 1 */
} Parzen;

static double StdNormalCdf(double z);
static double LogNormalCdf(double z);
static double LogGaussMass(double a, double b);
static double NormalQuantile(double p);
static double TruncNormSample(AifRng *rng, double mu, double sigma, double lo, double hi);
static void DefaultWeights(int n, double *w);
static void ParzenBuild(const SearchDim *dim, const double *obs, int n, Parzen *pe);
static double ParzenSample(const Parzen *pe, AifRng *rng);
static double ParzenLogPdf(const Parzen *pe, double x);
static void ParzenFree(Parzen *pe);
static void SortIndexes(int *idx, int n, const double *key, bool descending);

void
SearchTpeDefaultOptions(TpeOptions *opts)
{
	opts->n_startup_trials = TPE_DEFAULT_N_STARTUP_TRIALS;
	opts->n_ei_candidates = TPE_DEFAULT_N_EI_CANDIDATES;
	opts->maximize = false;
}

/*
 * How many grid values a dimension has; continuous ranges have none, and
 * saying so here gives the user the one error message for it.
 */
static int64
DimGridCount(const SearchDim *dim)
{
	switch (dim->kind)
	{
		case SEARCH_CHOICE:
			return dim->nchoices;
		case SEARCH_INT:
			return (int64) (dim->high - dim->low) + 1;
		case SEARCH_UNIFORM:
		case SEARCH_LOG_UNIFORM:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("grid search cannot enumerate the continuous range of \"%s\"",
							dim->name),
					 errhint("List the values to try, e.g. {\"%s\": [0.01, 0.1, 1]}, "
							 "or use strategy 'random' or 'tpe'.", dim->name)));
	}
	elog(ERROR, "unknown search dimension kind %d", (int) dim->kind);
	return 0;					/* keep compiler quiet */
}

/*
 * The product of the dimensions' counts, checked for overflow: a grid too
 * large to count is also far too large to run.
 */
int64
SearchGridSize(const SearchSpace *space)
{
	int64		size = 1;

	for (int d = 0; d < space->ndims; d++)
	{
		int64		count = DimGridCount(&space->dims[d]);

		if (count < 1)
			elog(ERROR, "search dimension \"%s\" has no values", space->dims[d].name);
		if (size > PG_INT64_MAX / count)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the search grid has more than %lld points",
							(long long) PG_INT64_MAX)));
		size *= count;
	}
	return size;
}

/*
 * Decode index in the mixed radix of the counts, least significant digit
 * in the last dimension: workers can then take any index independently.
 */
void
SearchGridPoint(const SearchSpace *space, int64 index, double *point)
{
	int64		rest = index;

	if (index < 0)
		elog(ERROR, "grid index %lld out of range", (long long) index);
	for (int d = space->ndims - 1; d >= 0; d--)
	{
		const SearchDim *dim = &space->dims[d];
		int64		count = DimGridCount(dim);
		int64		digit = rest % count;

		rest /= count;
		point[d] = dim->kind == SEARCH_INT ? dim->low + (double) digit : (double) digit;
	}
	if (rest != 0)
		elog(ERROR, "grid index %lld out of range", (long long) index);
}

/*
 * One draw per dimension, in order, so that TPE's start-up trials consume
 * the stream exactly as random search does.
 */
void
SearchRandomPoint(const SearchSpace *space, AifRng *rng, double *point)
{
	for (int d = 0; d < space->ndims; d++)
	{
		const SearchDim *dim = &space->dims[d];
		double		x;

		switch (dim->kind)
		{
			case SEARCH_CHOICE:
				point[d] = (double) AifRngBelow(rng, (uint64) dim->nchoices);
				break;
			case SEARCH_UNIFORM:
				x = dim->low + AifRngDouble(rng) * (dim->high - dim->low);
				point[d] = Min(Max(x, dim->low), dim->high);
				break;
			case SEARCH_LOG_UNIFORM:
				{
					double		a = log(dim->low);
					double		b = log(dim->high);

					x = exp(a + AifRngDouble(rng) * (b - a));
					point[d] = Min(Max(x, dim->low), dim->high);
				}
				break;
			case SEARCH_INT:
				point[d] = dim->low +
					(double) AifRngBelow(rng, (uint64) (dim->high - dim->low) + 1);
				break;
		}
	}
}

/* A dimension's value on the estimators' scale. */
static double
ToInternal(const SearchDim *dim, double x)
{
	switch (dim->kind)
	{
		case SEARCH_CHOICE:
			if (!(x >= 0 && x < dim->nchoices) || x != floor(x))
				elog(ERROR, "choice index %g of \"%s\" out of range", x, dim->name);
			return x;
		case SEARCH_UNIFORM:
			return Min(Max(x, dim->low), dim->high);
		case SEARCH_LOG_UNIFORM:
			return log(Min(Max(x, dim->low), dim->high));
		case SEARCH_INT:
			return Min(Max(rint(x), dim->low), dim->high);
	}
	return x;
}

/* Back from the estimators' scale, inside the bounds despite rounding. */
static double
FromInternal(const SearchDim *dim, double v)
{
	if (dim->kind == SEARCH_LOG_UNIFORM)
		return Min(Max(exp(v), dim->low), dim->high);
	return v;
}

/*
 * TPE: split the finished trials once, then for each dimension compare
 * the density of the good trials with that of the others at candidates
 * drawn from the good ones (Bergstra et al. 2011, as Optuna does it).
 */
void
SearchTpeSuggest(const SearchSpace *space, const double *points,
				 const double *scores, int ntrials,
				 const TpeOptions *opts, AifRng *rng, double *point)
{
	TpeOptions	defaults;
	int		   *order;
	bool	   *is_below;
	int			n_below;
	int			n_above;
	double	   *obs_below;
	double	   *obs_above;

	if (opts == NULL)
	{
		SearchTpeDefaultOptions(&defaults);
		opts = &defaults;
	}
	if (ntrials < 0 || opts->n_ei_candidates < 1)
		elog(ERROR, "invalid TPE arguments: %d trials, %d candidates",
			 ntrials, opts->n_ei_candidates);
	if (ntrials < opts->n_startup_trials)
	{
		SearchRandomPoint(space, rng, point);
		return;
	}

	/* the gamma(n) best, by a stable sort so that ties keep trial order */
	n_below = Min((ntrials + 9) / 10, TPE_GAMMA_MAX);
	n_above = ntrials - n_below;
	order = palloc(sizeof(int) * Max(ntrials, 1));
	is_below = palloc0(sizeof(bool) * Max(ntrials, 1));
	for (int t = 0; t < ntrials; t++)
		order[t] = t;
	SortIndexes(order, ntrials, scores, opts->maximize);
	for (int r = 0; r < n_below; r++)
		is_below[order[r]] = true;

	obs_below = palloc(sizeof(double) * Max(n_below, 1));
	obs_above = palloc(sizeof(double) * Max(n_above, 1));
	for (int d = 0; d < space->ndims; d++)
	{
		const SearchDim *dim = &space->dims[d];
		int			nb = 0;
		int			na = 0;
		Parzen		below;
		Parzen		above;
		double		best_x = 0;
		double		best_score = -INFINITY;

		/* observations in trial order, as Optuna's weights expect */
		for (int t = 0; t < ntrials; t++)
		{
			double		v = ToInternal(dim, points[(Size) t * space->ndims + d]);

			if (is_below[t])
				obs_below[nb++] = v;
			else
				obs_above[na++] = v;
		}
		ParzenBuild(dim, obs_below, nb, &below);
		ParzenBuild(dim, obs_above, na, &above);
		for (int c = 0; c < opts->n_ei_candidates; c++)
		{
			double		x = ParzenSample(&below, rng);
			double		s = ParzenLogPdf(&below, x) - ParzenLogPdf(&above, x);

			/* the first best wins, as np.argmax; NaN never wins */
			if (c == 0 || s > best_score)
			{
				best_x = x;
				best_score = isnan(s) ? -INFINITY : s;
			}
		}
		point[d] = FromInternal(dim, best_x);
		ParzenFree(&below);
		ParzenFree(&above);
	}
	pfree(obs_below);
	pfree(obs_above);
	pfree(order);
	pfree(is_below);
}

/*
 * Successive halving's rungs.  The counts come from integer arithmetic
 * (multiplying up instead of taking logarithms), so powers of factor land
 * exactly: 27 candidates at factor 3 make 4 rungs, not 3 by a rounding of
 * log(27)/log(3).
 */
int
SearchHalvingSchedule(int n_candidates, int min_resource, int max_resource,
					  int factor, SearchRung *rungs)
{
	int			possible = 0;	/* rungs that fit under max_resource */
	int			required = 0;	/* rungs until fewer than factor remain */
	int			nrungs;
	int64		r;

	if (n_candidates < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("successive halving needs at least one candidate")));
	if (min_resource < 1 || max_resource < min_resource)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("successive halving needs 1 <= min_resource <= max_resource (got %d and %d)",
						min_resource, max_resource)));
	if (factor < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("successive halving needs a factor of at least 2 (got %d)", factor)));

	for (r = min_resource; r <= max_resource; r *= factor)
		possible++;
	for (r = 1; r <= n_candidates; r *= factor)
		required++;
	nrungs = Min(possible, required);
	if (nrungs > SEARCH_MAX_RUNGS)
		elog(ERROR, "successive halving with %d rungs should not happen", nrungs);

	{
		int64		power = 1;

		for (int i = 0; i < nrungs; i++)
		{
			int64		res = (int64) min_resource * power;

			rungs[i].n_candidates = (int) ((n_candidates + power - 1) / power);
			rungs[i].resource = (int) Min(res, (int64) max_resource);
			power *= factor;
		}
	}
	return nrungs;
}

/*
 * Optuna's default_weights: old observations fade linearly once there are
 * more than 25, so the estimator follows where the search has moved.
 */
static void
DefaultWeights(int n, double *w)
{
	int			nramp = n - TPE_FLAT_WEIGHTS;

	if (n < TPE_FLAT_WEIGHTS)
	{
		for (int i = 0; i < n; i++)
			w[i] = 1.0;
		return;
	}
	/* np.linspace(1 / n, 1, n - 25) */
	for (int i = 0; i < nramp; i++)
		w[i] = nramp == 1 ? 1.0 / n :
			1.0 / n + (double) i * (1.0 - 1.0 / n) / (double) (nramp - 1);
	for (int i = nramp; i < n; i++)
		w[i] = 1.0;
}

/*
 * Build the estimator of one dimension from n observations (internal
 * scale, trial order): the components Optuna's _ParzenEstimator makes,
 * plus the prior last.
 */
static void
ParzenBuild(const SearchDim *dim, const double *obs, int n, Parzen *pe)
{
	double		total = 0;

	memset(pe, 0, sizeof(*pe));
	pe->ncomp = n + 1;
	pe->weights = palloc(sizeof(double) * pe->ncomp);
	DefaultWeights(n, pe->weights);
	pe->weights[n] = TPE_PRIOR_WEIGHT;
	for (int k = 0; k <= n; k++)
		total += pe->weights[k];
	for (int k = 0; k <= n; k++)
		pe->weights[k] /= total;

	if (dim->kind == SEARCH_CHOICE)
	{
		int			nc = dim->nchoices;
		double		smooth = TPE_PRIOR_WEIGHT / (n + 1);	/* per choice and kernel */
		double		rowsum = smooth * nc + 1.0;

		pe->categorical = true;
		pe->nchoices = nc;
		pe->probs = palloc(sizeof(double) * nc);
		for (int c = 0; c < nc; c++)
			pe->probs[c] = pe->weights[n] / nc;
		for (int k = 0; k < n; k++)
		{
			for (int c = 0; c < nc; c++)
				pe->probs[c] += pe->weights[k] * smooth / rowsum;
			pe->probs[(int) obs[k]] += pe->weights[k] / rowsum;
		}
		return;
	}

	/* numeric: the range on the internal scale */
	if (dim->kind == SEARCH_LOG_UNIFORM)
	{
		pe->lo = log(dim->low);
		pe->hi = log(dim->high);
	}
	else if (dim->kind == SEARCH_INT)
	{
		pe->lo = dim->low - 0.5;
		pe->hi = dim->high + 0.5;
		pe->discrete = true;
	}
	else
	{
		pe->lo = dim->low;
		pe->hi = dim->high;
	}

	{
		double		range = pe->hi - pe->lo;
		double		prior_mu = 0.5 * (pe->lo + pe->hi);
		int			m = n + 1;	/* observations and the prior's center */
		double	   *sorted = palloc(sizeof(double) * (m + 2));
		double	   *mus = palloc(sizeof(double) * m);
		int		   *idx = palloc(sizeof(int) * m);
		double		minsigma = range / Min(100.0, 1.0 + m);

		pe->mus = palloc(sizeof(double) * m);
		pe->sigmas = palloc(sizeof(double) * m);
		for (int k = 0; k < n; k++)
			mus[k] = obs[k];
		mus[n] = prior_mu;
		for (int k = 0; k < m; k++)
			idx[k] = k;
		SortIndexes(idx, m, mus, false);

		/* sorted centers between the range's ends */
		sorted[0] = pe->lo;
		for (int j = 0; j < m; j++)
			sorted[j + 1] = mus[idx[j]];
		sorted[m + 1] = pe->hi;
		for (int j = 0; j < m; j++)
		{
			double		left = sorted[j + 1] - sorted[j];
			double		right = sorted[j + 2] - sorted[j + 1];
			double		s = Max(left, right);

			/* consider_endpoints=False: the outermost look inwards only */
			if (m >= 2 && j == 0)
				s = right;
			else if (m >= 2 && j == m - 1)
				s = left;
			if (idx[j] < n)
				pe->sigmas[idx[j]] = Min(Max(s, minsigma), range);
		}
		for (int k = 0; k < n; k++)
			pe->mus[k] = obs[k];
		pe->mus[n] = prior_mu;
		pe->sigmas[n] = range;
		pfree(sorted);
		pfree(mus);
		pfree(idx);
	}
}

/* Draw one value: a component by weight, then from its truncated normal. */
static double
ParzenSample(const Parzen *pe, AifRng *rng)
{
	double		u = AifRngDouble(rng);
	double		acc = 0;
	int			k;

	if (pe->categorical)
	{
		for (k = 0; k < pe->nchoices - 1; k++)
		{
			acc += pe->probs[k];
			if (u < acc)
				break;
		}
		return (double) k;
	}
	for (k = 0; k < pe->ncomp - 1; k++)
	{
		acc += pe->weights[k];
		if (u < acc)
			break;
	}
	{
		double		x = TruncNormSample(rng, pe->mus[k], pe->sigmas[k], pe->lo, pe->hi);

		if (pe->discrete)
		{
			/* np.round is half-to-even, as rint in the default mode */
			double		low = pe->lo + 0.5;

			x = Min(Max(low + rint(x - low), low), pe->hi - 0.5);
		}
		return x;
	}
}

/*
 * log of the mixture's density at x (internal scale); for INT the mass of
 * x's unit cell, for CHOICE the probability of the choice.
 */
static double
ParzenLogPdf(const Parzen *pe, double x)
{
	double	   *terms;
	double		max = -INFINITY;
	double		sum = 0;

	if (pe->categorical)
		return log(pe->probs[(int) x]);

	terms = palloc(sizeof(double) * pe->ncomp);
	for (int k = 0; k < pe->ncomp; k++)
	{
		double		mu = pe->mus[k];
		double		sigma = pe->sigmas[k];
		double		a = (pe->lo - mu) / sigma;
		double		b = (pe->hi - mu) / sigma;
		double		lp;

		if (pe->discrete)
		{
			double		xl = Max(x - 0.5, pe->lo);
			double		xu = Min(x + 0.5, pe->hi);

			lp = LogGaussMass((xl - mu) / sigma, (xu - mu) / sigma) - LogGaussMass(a, b);
		}
		else
		{
			double		z = (x - mu) / sigma;

			lp = -0.5 * z * z - LOG_SQRT_2PI - log(sigma) - LogGaussMass(a, b);
		}
		terms[k] = lp + log(pe->weights[k]);
		if (terms[k] > max)
			max = terms[k];
	}
	if (isinf(max))
	{
		pfree(terms);
		return max;
	}
	for (int k = 0; k < pe->ncomp; k++)
		sum += exp(terms[k] - max);
	pfree(terms);
	return max + log(sum);
}

static void
ParzenFree(Parzen *pe)
{
	if (pe->weights)
		pfree(pe->weights);
	if (pe->mus)
		pfree(pe->mus);
	if (pe->sigmas)
		pfree(pe->sigmas);
	if (pe->probs)
		pfree(pe->probs);
}

/* Whether key x sorts strictly before y; NaN sorts last either way. */
static bool
KeyBefore(double x, double y, bool descending)
{
	if (isnan(y))
		return !isnan(x);
	if (isnan(x))
		return false;
	return descending ? x > y : x < y;
}

/*
 * Stable bottom-up merge sort of indexes by key: stability is what makes
 * ties keep trial order, as Python's sorted() does in Optuna (and numpy's
 * argsort, an insertion sort at these sizes, for the bandwidths).
 */
static void
SortIndexes(int *idx, int n, const double *key, bool descending)
{
	int		   *tmp;

	if (n < 2)
		return;
	tmp = palloc(sizeof(int) * n);
	for (int width = 1; width < n; width *= 2)
	{
		for (int lo = 0; lo < n; lo += 2 * width)
		{
			int			mid = Min(lo + width, n);
			int			hi = Min(lo + 2 * width, n);
			int			i = lo;
			int			j = mid;
			int			o = lo;

			while (i < mid && j < hi)
			{
				/* take from the right only when strictly before: stable */
				if (KeyBefore(key[idx[j]], key[idx[i]], descending))
					tmp[o++] = idx[j++];
				else
					tmp[o++] = idx[i++];
			}
			while (i < mid)
				tmp[o++] = idx[i++];
			while (j < hi)
				tmp[o++] = idx[j++];
		}
		memcpy(idx, tmp, sizeof(int) * n);
	}
	pfree(tmp);
}

/* Phi(z) without cancellation on either side. */
static double
StdNormalCdf(double z)
{
	return 0.5 * erfc(-z * M_SQRT1_2);
}

/*
 * log Phi(z): direct while erfc is representable, the asymptotic series
 * beyond (relative error below 2e-12 at z = -30).
 */
static double
LogNormalCdf(double z)
{
	if (z > 0)
		return log1p(-0.5 * erfc(z * M_SQRT1_2));
	if (z > -30)
		return log(StdNormalCdf(z));
	{
		double		r = 1.0 / (z * z);
		double		series = 1 - r * (1 - 3 * r * (1 - 5 * r * (1 - 7 * r)));

		return -0.5 * z * z - log(-z) - LOG_SQRT_2PI + log(series);
	}
}

/*
 * log(Phi(b) - Phi(a)) for a < b, computed in the tail where the mass is
 * small so that cells far from a center still get a finite log density.
 */
static double
LogGaussMass(double a, double b)
{
	if (!(a < b))
		return -INFINITY;
	if (b <= 0)
	{
		double		lb = LogNormalCdf(b);
		double		la = LogNormalCdf(a);

		return lb + log1p(-exp(la - lb));
	}
	if (a >= 0)
		return LogGaussMass(-b, -a);
	return log1p(-StdNormalCdf(a) - StdNormalCdf(-b));
}

/*
 * The standard normal quantile: Acklam's rational approximation (relative
 * error 1.15e-9) refined by one Halley step against erfc.
 */
static double
NormalQuantile(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
		-2.759285104469687e+02, 1.383577518672690e+02,
	-3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
		-1.556989798598866e+02, 6.680131188771972e+01,
	-1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
		-2.400758277161838e+00, -2.549732539343734e+00,
	4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
	2.445134137142996e+00, 3.754408661907416e+00};
	double		x;

	if (!(p > 0))
		return -INFINITY;
	if (!(p < 1))
		return INFINITY;
	if (p > 0.5)
		return -NormalQuantile(1 - p);
	if (p < 0.02425)
	{
		double		q = sqrt(-2 * log(p));

		x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	else
	{
		double		q = p - 0.5;
		double		r = q * q;

		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
			(((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
	}
	{
		double		e = StdNormalCdf(x) - p;
		double		u = e * sqrt(2 * M_PI) * exp(0.5 * x * x);

		if (isfinite(u))
			x = x - u / (1 + 0.5 * x * u);
	}
	return x;
}

/*
 * A normal(mu, sigma) draw truncated to [lo, hi] by inverting the CDF,
 * on the lower tail when the quantile is below 1/2 and on the upper tail
 * otherwise, so that neither end loses precision to 1 - p.
 */
static double
TruncNormSample(AifRng *rng, double mu, double sigma, double lo, double hi)
{
	double		a = (lo - mu) / sigma;
	double		b = (hi - mu) / sigma;
	double		u = AifRngDouble(rng);
	double		z;

	if (a >= 0)
	{
		/* all mass above the center: mirror it onto the lower tail */
		double		pa = StdNormalCdf(-b);
		double		pb = StdNormalCdf(-a);

		z = -NormalQuantile(pa + u * (pb - pa));
	}
	else if (b <= 0)
	{
		double		pa = StdNormalCdf(a);
		double		pb = StdNormalCdf(b);

		z = NormalQuantile(pa + u * (pb - pa));
	}
	else
	{
		double		pa = StdNormalCdf(a);
		double		qb = StdNormalCdf(-b);
		double		mass = 1 - pa - qb;
		double		p = pa + u * mass;

		z = p <= 0.5 ? NormalQuantile(p) : -NormalQuantile(qb + (1 - u) * mass);
	}
	if (isnan(z))
		z = 0;					/* degenerate bounds: stay at the center */
	z = Min(Max(z, a), b);
	return Min(Max(mu + sigma * z, lo), hi);
}
