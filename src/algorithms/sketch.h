/*-------------------------------------------------------------------------
 *
 * sketch.h
 *	  Compact, mergeable baseline summaries of a feature's distribution,
 *	  stored with each model for drift detection (drift.h).
 *
 * NUMERIC FEATURES: NumSketch
 *
 * A bottom-k sample: every row brings a 64-bit hash of its identity
 * (supplied by the caller, e.g. SketchHash64 of the row's split hash),
 * and the sketch keeps the k (value, hash) pairs with the smallest hashes,
 * ordered by (hash, value bits).  Beside the sample it keeps, exactly:
 * the number of finite values, the number of missing ones (NULL, NaN and
 * +-Infinity, which Evidently drops before testing), min, max, the sums
 * of x and x^2 in an exact fixed-point accumulator, and the distinct
 * values with their counts as long as there are at most
 * NUMSKETCH_DISCRETE_MAX of them.
 *
 * Why bottom-k and not KLL, t-digest or an equi-depth histogram:
 *	- exact merge.  The k smallest hashes of a union are the k smallest of
 *	  the inputs' k smallest, so merging partial sketches of any split of
 *	  the rows, in any order, gives the byte-identical sketch one pass over
 *	  all rows gives.  KLL and t-digest compactions depend on the order of
 *	  merges (their error bounds hold, their bytes do not), and an
 *	  equi-depth histogram cannot be merged without a second pass.  The
 *	  training aggregates run in parallel workers, and a baseline that
 *	  depends on how the planner split the scan would be a reproducibility
 *	  bug.
 *	- a real sample.  KS, Wasserstein, PSI and the histogram for the JS
 *	  distance are computed on the sample by the very code that computes
 *	  them on raw data, so "agrees with scipy" is literal: the statistic is
 *	  scipy's statistic of (baseline sample, current data).  With a
 *	  quantile sketch each statistic would need its own approximation.
 *	- exact below k rows: when a feature has at most k rows the sample is
 *	  all of them and every statistic is scipy's on the full data.
 *	- deterministic given the hashes, hence reproducible.
 *	The price is a rank error of order 1/sqrt(k) instead of KLL's 1/k at
 *	equal memory; k = 8192 makes that small next to the tests' thresholds.
 *
 * ERROR of a k-sample against the full reference of N rows (N > k):
 *	- ranks (and so KS): the sample is uniform without replacement, and by
 *	  the Dvoretzky-Kiefer-Wolfowitz inequality (Massart's constant),
 *	  P(sup_x |F_k(x) - F_N(x)| > e) <= 2 exp(-2 k e^2); sampling without
 *	  replacement only tightens it.  So with 95% probability the sample's
 *	  CDF is within e95 = sqrt(ln(2/0.05) / (2k)) = 1.358/sqrt(k) of the
 *	  full data's everywhere (0.0150 at k = 8192; the typical error is
 *	  about 0.87/sqrt(k) = 0.0096).  The KS statistic of (sample, current)
 *	  is therefore within e95 of that of (full reference, current).
 *	- KS p-value: drift.c reports ks_2samp(sample, current), an exact
 *	  two-sample test in its own right (the sample is a random sample of
 *	  the reference), so its false-alarm rate is exactly the nominal one;
 *	  what the sampling costs is power: the test behaves as if the
 *	  reference had k rows, i.e. n_eff = k m / (k + m) instead of
 *	  N m / (N + m) -- for m = 1000 current rows, 891 instead of ~1000.
 *	- Wasserstein: |W(F_k, G) - W(F_N, G)| <= W(F_k, F_N), whose expectation
 *	  is at most (1/sqrt(k)) * integral sqrt(F (1 - F)) dx (Bobkov and
 *	  Ledoux 2019, Thm 3.5); for a normal reference that is
 *	  1.13 sigma / sqrt(k), so the normed Wasserstein distance is off by
 *	  about 0.0125 at k = 8192, against the 0.1 threshold.  The norm (the
 *	  reference's standard deviation) is exact.
 *	- PSI and binned JS: the bin edges are exact (they depend only on the
 *	  exact min, max and counts); each reference bin share has standard
 *	  error sqrt(p (1 - p) / k) and all of them are within 2 e95 at once.
 *	- discrete features (at most NUMSKETCH_DISCRETE_MAX distinct values)
 *	  are summarized exactly by their value counts, and PSI, chi-square,
 *	  JS and Wasserstein use those: no sampling error at all.
 *
 * The exact moments cost about as much as everything else an addition
 * does; a sketch that will never be asked for its mean or standard
 * deviation (drift()'s current side: only the reference's norms the
 * Wasserstein distance) can drop them with NumSketchNoMoments.  Its
 * serialized sums are zero, and a reader that knows it must drop them
 * again after deserializing.
 *
 * Memory: 16 bytes per sample entry, with room for 2k while building
 * (k = 8192: 256 kB; serialized 16 k + ~1.5 kB).
 *
 * CATEGORICAL FEATURES: CatSketch
 *
 * Exact counts per level (levels are byte strings) while the feature has
 * at most maxlevels distinct levels (CATSKETCH_DEFAULT_LEVELS = 1000).
 * Beyond that it keeps the maxlevels levels with the smallest hash of the
 * label, each with its exact count, and lumps every other row in one
 * "other" cell -- bottom-k over levels, so again exactly mergeable.  Note
 * the kept levels are a uniform hash-chosen subset, not the most frequent
 * ones: keeping the top levels by frequency (Misra-Gries, SpaceSaving)
 * cannot be merged exactly, so a feature with more than 1000 levels is
 * compared on 1001 cells whose choice does not favor heavy levels.  Labels
 * longer than CATSKETCH_MAX_LABEL bytes are kept truncated and identified
 * by the 64-bit hash of the full label (a collision needs 2^32 long
 * distinct labels to become likely).
 *
 * Serialized forms are flat byte arrays, little-endian, starting with a
 * magic number and a version; the readers check every length, count and
 * ordering and raise ERRCODE_DATA_CORRUPTED rather than trust them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_SKETCH_H
#define AIF_SKETCH_H

#include <math.h>

#include "algorithms/doubledouble.h"

#define NUMSKETCH_DEFAULT_K		8192
#define NUMSKETCH_MAX_K			(1 << 22)
#define NUMSKETCH_DISCRETE_MAX	20	/* Evidently bins above 20 distinct */

#define CATSKETCH_DEFAULT_LEVELS 1000
#define CATSKETCH_MAX_LEVELS	100000
#define CATSKETCH_MAX_LABEL		256

/*
 * Exact sum of doubles: radix-2^32 digits in int64 cells covering every
 * double's exponent range (2^-1126 .. 2^2303), with carries deferred.
 * The normalized form is canonical, so the sum of a multiset of values
 * does not depend on the order or grouping of the additions.
 */
#define EXACTSUM_CELLS			72
typedef struct ExactSum
{
	int64		cell[EXACTSUM_CELLS];
	int32		pending;		/* additions since the last normalization */
	bool		overflow;		/* a term was not finite */
} ExactSum;

typedef struct NumSketchEntry
{
	uint64		hash;
	double		value;
} NumSketchEntry;

typedef struct NumSketch
{
	int32		k;				/* capacity of the sample */
	int32		nsample;		/* entries in sample; = Min(count, k) when
								 * canonical */
	NumSketchEntry *sample;		/* 2k slots, in arrival order; the k
								 * smallest sorted descending when
								 * canonical */
	bool		canonical;		/* pruned to k and sorted descending */
	bool		limited;		/* limit is set: k entries were kept */
	NumSketchEntry limit;		/* the k-th smallest entry at the last
								 * pruning: nothing at or above it enters */
	int64		count;			/* finite values */
	int64		nmissing;		/* NULL, NaN, +-Infinity */
	double		min;			/* of the finite values (+Inf if none) */
	double		max;
	bool		moments;		/* sum and sumsq kept (see NumSketchNoMoments) */
	int32		ndistinct;		/* distinct values, -1 if more than
								 * NUMSKETCH_DISCRETE_MAX */
	/* everything NumSketchAdd reads on its common path is above */
	ExactSum	sum;			/* sum of x */
	ExactSum	sumsq;			/* sum of x^2 (each as an exact fma pair) */
	double		dvalue[NUMSKETCH_DISCRETE_MAX]; /* ascending */
	int64		dcount[NUMSKETCH_DISCRETE_MAX];
} NumSketch;

typedef struct CatSketchLevel
{
	uint64		hash;			/* SketchHashBytes of the full label */
	int64		count;
	int32		len;			/* bytes kept in label */
	char	   *label;			/* not NUL-terminated */
} CatSketchLevel;

typedef struct CatSketch
{
	int32		maxlevels;
	int32		nlevels;
	CatSketchLevel *levels;		/* ascending by (hash, label) */
	bool		saturated;		/* more than maxlevels levels were seen */
	int64		count;			/* non-missing rows */
	int64		nmissing;		/* NULL rows */
	int64		other;			/* rows whose level is not kept */
} CatSketch;

/*
 * Hashes: stable across platforms and releases (they are stored).
 * SketchHash64 is the splitmix64 finalizer, a bijection that scatters row
 * identities.
 */
static inline uint64
SketchHash64(uint64 x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xBF58476D1CE4E5B9);
	x ^= x >> 27;
	x *= UINT64_C(0x94D049BB133111EB);
	x ^= x >> 31;
	return x;
}

extern uint64 SketchHashBytes(const char *data, Size len);

/* Sorting doubles ascending (a radix sort; NaN not expected). */
extern void SketchSortDoubles(double *x, int64 n);

/* Exact sums. */
extern void ExactSumInit(ExactSum *s);
extern void ExactSumAdd(ExactSum *s, double x);
extern void ExactSumMerge(ExactSum *dst, const ExactSum *src);
extern DD	ExactSumValue(ExactSum *s);

/* Numeric summaries. */
extern NumSketch *NumSketchCreate(int k);
extern void NumSketchNoMoments(NumSketch *s);
extern void NumSketchFree(NumSketch *s);
extern void NumSketchAddRest(NumSketch *s, double value, uint64 rowhash);
extern void NumSketchAddMissing(NumSketch *s);
extern void NumSketchMerge(NumSketch *dst, NumSketch *src);
extern void NumSketchCanonicalize(NumSketch *s);
extern bool NumSketchIsExact(const NumSketch *s);
extern double NumSketchMean(NumSketch *s);
extern double NumSketchStd(NumSketch *s);
extern double *NumSketchSortedSample(NumSketch *s, int *n);
extern double NumSketchKsErrorBound(const NumSketch *s, double alpha);
extern char *NumSketchSerialize(NumSketch *s, Size *len);
extern NumSketch *NumSketchDeserialize(const char *data, Size len);

/*
 * Add one row's value.  Non-finite values count as missing, as Evidently
 * drops them; -0 is stored as +0 so that the two zeros are one value
 * everywhere.  Inline, because drift() adds every value of every current
 * row: past the first rows of a continuous feature without moments, an
 * addition ends here, at the counts, the range and one comparison of the
 * row's hash with the sample's limit.
 */
static inline void
NumSketchAdd(NumSketch *s, double value, uint64 rowhash)
{
	if (unlikely(!isfinite(value)))
	{
		s->nmissing++;
		return;
	}
	if (value == 0)
		value = 0.0;
	s->count++;
	if (value < s->min)
		s->min = value;
	if (value > s->max)
		s->max = value;
	if (s->moments || s->ndistinct >= 0 || !s->limited || rowhash <= s->limit.hash)
		NumSketchAddRest(s, value, rowhash);
}

/* Categorical summaries. */
extern CatSketch *CatSketchCreate(int maxlevels);
extern void CatSketchFree(CatSketch *s);
extern void CatSketchAdd(CatSketch *s, const char *label, Size len);
extern void CatSketchAddCount(CatSketch *s, const char *label, Size len, int64 count);
extern void CatSketchAddCountHashed(CatSketch *s, const char *label, Size len,
									uint64 hash, int64 count);
extern void CatSketchAddMissing(CatSketch *s);
extern void CatSketchMerge(CatSketch *dst, const CatSketch *src);
extern int	CatSketchCompareKey(uint64 ha, const char *la, int32 lena,
								uint64 hb, const char *lb, int32 lenb);
extern char *CatSketchSerialize(const CatSketch *s, Size *len);
extern CatSketch *CatSketchDeserialize(const char *data, Size len);

#endif							/* AIF_SKETCH_H */
