/*-------------------------------------------------------------------------
 *
 * search.h
 *	  Hyperparameter search strategies: grid, random, TPE and the schedule
 *	  of successive halving.
 *
 * A search space is a list of dimensions, each a hyperparameter:
 *
 *	  SEARCH_CHOICE		  a finite list of JSON values (numbers, strings,
 *						  booleans, null)
 *	  SEARCH_UNIFORM	  a real in [low, high], uniform
 *	  SEARCH_LOG_UNIFORM  a real in [low, high], 0 < low, uniform in log(x)
 *	  SEARCH_INT		  an integer in [low, high], both ends included
 *
 * A point of the space is a double[ndims]: for a CHOICE dimension the
 * index (0 .. nchoices-1) of the choice, for the others the value itself
 * (integral for INT).  tune/space.c builds a space from jsonb and turns a
 * point back into JSON; everything here is plain numerics.
 *
 * The strategies and the references they follow:
 *
 *	  grid		every combination of the CHOICE and INT dimensions, in a fixed
 *				order (the last dimension varies fastest)
 *	  random	independent draws per dimension (as Optuna's RandomSampler)
 *	  tpe		Optuna 3.x's TPESampler with its defaults (independent per
 *				dimension, multivariate=False): see SearchTpeSuggest
 *	  halving	the rungs of scikit-learn 1.2's HalvingRandomSearchCV with
 *				aggressive_elimination=False: see SearchHalvingSchedule
 *
 * All randomness comes from the caller's AifRng, so a seed gives the same
 * sequence of points on every platform (not Optuna's or numpy's sequence:
 * the generators differ).
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_SEARCH_H
#define AIF_SEARCH_H

#include "postgres.h"

#include "algorithms/rng.h"

typedef enum SearchDimKind
{
	SEARCH_CHOICE,
	SEARCH_UNIFORM,
	SEARCH_LOG_UNIFORM,
	SEARCH_INT
} SearchDimKind;

typedef struct SearchDim
{
	char	   *name;			/* the hyperparameter */
	SearchDimKind kind;
	double		low;			/* UNIFORM, LOG_UNIFORM, INT: low < high; */
	double		high;			/* INT: integral, both included */
	int			nchoices;		/* CHOICE: >= 1 */
	char	  **choices;		/* CHOICE: each choice as JSON text */
	bool		numeric_choices;	/* CHOICE: every choice is a number */
	double	   *choice_values;	/* CHOICE: their values when numeric_choices,
								 * else NULL */
} SearchDim;

typedef struct SearchSpace
{
	int			ndims;
	SearchDim  *dims;
} SearchSpace;

/* Optuna 3.x's TPESampler defaults */
#define TPE_DEFAULT_N_STARTUP_TRIALS	10
#define TPE_DEFAULT_N_EI_CANDIDATES		24

typedef struct TpeOptions
{
	int			n_startup_trials;	/* random points until this many trials */
	int			n_ei_candidates;	/* candidates drawn from l(x), >= 1 */
	bool		maximize;		/* higher scores are better */
} TpeOptions;

/* One rung of successive halving. */
typedef struct SearchRung
{
	int			n_candidates;	/* candidates evaluated at this rung */
	int			resource;		/* e.g. trees or iterations for each */
} SearchRung;

#define SEARCH_MAX_RUNGS	32

/* n_startup_trials 10, n_ei_candidates 24, minimize. */
extern void SearchTpeDefaultOptions(TpeOptions *opts);

/*
 * The number of grid points: the product over the dimensions of their
 * choice counts (high - low + 1 for an INT dimension).  A UNIFORM or
 * LOG_UNIFORM dimension has no grid and is an error
 * (ERRCODE_INVALID_PARAMETER_VALUE, with a hint to list values), as is a
 * product beyond PG_INT64_MAX.
 */
extern int64 SearchGridSize(const SearchSpace *space);

/*
 * Grid point number index (0 .. SearchGridSize - 1) into point: index
 * written in the mixed radix of the dimensions' sizes, the last dimension
 * the least significant digit, so consecutive indexes differ first in the
 * last dimension.  INT digit d is the value low + d.
 */
extern void SearchGridPoint(const SearchSpace *space, int64 index, double *point);

/*
 * A uniformly random point: CHOICE a uniform index, UNIFORM uniform in
 * [low, high], LOG_UNIFORM exp of a uniform in [log low, log high], INT a
 * uniform integer in [low, high].  Dimensions are drawn in order, one
 * draw each, so the stream of points depends only on the rng's state.
 */
extern void SearchRandomPoint(const SearchSpace *space, AifRng *rng, double *point);

/*
 * The next point to try by the Tree-structured Parzen Estimator, given the
 * finished trials: points (ntrials x ndims, row-major, in the order the
 * trials were started) and their scores.  Follows Optuna 3.x's TPESampler
 * with its defaults (consider_prior, prior_weight 1.0, consider_magic_clip,
 * consider_endpoints=False, multivariate=False):
 *
 *	  - While ntrials < n_startup_trials the point is SearchRandomPoint's
 *		(same rng draws, so the start-up trials equal random search's).
 *	  - Otherwise the trials are split into the gamma(n) = min(ceil(0.1 n),
 *		25) best ("below"; ties keep trial order, NaN scores count as the
 *		worst) and the rest ("above").  Each dimension then, independently
 *		and in order, gets Parzen estimators l(x) from the below trials and
 *		g(x) from the above trials, draws n_ei_candidates candidates from
 *		l and takes the first maximizing log l(x) - log g(x).
 *	  - Numeric dimensions work on an internal scale: log(x) for
 *		LOG_UNIFORM, [low - 0.5, high + 0.5] for INT (a candidate is drawn
 *		continuously and rounded; its density is the mass of its unit
 *		cell).  An estimator over n observations is a mixture of normals
 *		truncated to the range: one per observation centered on it, and a
 *		prior centered on the middle with sigma = range.  An observation's
 *		sigma is the larger distance to its neighbours among the sorted
 *		observations, the prior's center and the range's ends (the lowest
 *		and highest centers use their inner neighbour only), clipped to
 *		[range / min(100, n + 2), range].  Weights: 1 each for n < 25,
 *		else a linear ramp from 1/n to 1 over the oldest n - 25 and 1 for
 *		the newest 25; the prior weighs 1.
 *	  - CHOICE dimensions: each observation is a kernel over the choices,
 *		1 on its own choice plus 1/(n + 1) on every choice, normalized; the
 *		prior kernel is uniform; mixed with the same weights.
 *
 * opts NULL means SearchTpeDefaultOptions.  Deterministic for a given rng
 * state.  Observed numeric values outside their range are clamped into
 * it; a CHOICE index out of range is an internal error.
 */
extern void SearchTpeSuggest(const SearchSpace *space, const double *points,
							 const double *scores, int ntrials,
							 const TpeOptions *opts, AifRng *rng, double *point);

/*
 * The rungs of successive halving over n_candidates candidates, as
 * scikit-learn 1.2's HalvingRandomSearchCV(n_candidates, min_resources,
 * max_resources, factor, aggressive_elimination=False) runs them: rung i
 * (from 0) evaluates ceil(n_candidates / factor^i) candidates (the best of
 * the previous rung) with resource min_resource * factor^i, and there are
 *
 *	  min(1 + floor(log_factor(max_resource / min_resource)),
 *		  1 + floor(log_factor(n_candidates)))
 *
 * rungs (computed exactly, in integers): as many as fit under
 * max_resource, and no more than it takes to come down to fewer than
 * factor candidates.  So the last rung reaches max_resource only when
 * max_resource / min_resource is a power of factor; otherwise max_resource
 * limits the number of rungs, and the last rung runs at the largest
 * min_resource * factor^i not above it (scikit-learn then refits the best
 * candidate with max_resource; tune() trains the winner on the full
 * training split).  The last rung may hold more than one candidate: 10
 * candidates with factor 3 and resources to spare give rungs of 10, 4 and
 * 2, since 2 is already fewer than factor; the caller keeps the best.
 *
 * rungs must hold SEARCH_MAX_RUNGS entries; returns the number written.
 * n_candidates >= 1, 1 <= min_resource <= max_resource and factor >= 2,
 * else an error.
 */
extern int	SearchHalvingSchedule(int n_candidates, int min_resource, int max_resource,
								  int factor, SearchRung *rungs);

#endif							/* AIF_SEARCH_H */
