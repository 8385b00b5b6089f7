/*-------------------------------------------------------------------------
 *
 * drift.h
 *	  Two-sample drift statistics as scipy 1.10 and Evidently compute them,
 *	  on raw arrays and on baseline summaries (sketch.h).
 *
 * Raw statistics (each the scipy function named, on the same data):
 *	DriftKs					stats.ks_2samp(ref, cur) (method 'auto')
 *	DriftWasserstein		stats.wasserstein_distance(u, v)
 *	DriftWassersteinWeighted stats.wasserstein_distance(u, v, uw, vw)
 *	DriftWassersteinNormed	Evidently: wasserstein_distance(ref, cur) /
 *							max(np.std(ref), 0.001)
 *	DriftChiSquare			Evidently's chisquare stattest: scipy's
 *							chisquare(f_obs = cur counts, f_exp = ref counts
 *							* sum(cur) / sum(ref)), k - 1 dof
 *	DriftJensenShannon		spatial.distance.jensenshannon(p, q, base)
 *	DriftPsi				Evidently's psi on two share vectors, with its
 *							replacement of zero shares
 *	DriftSturgesEdges / DriftHistogram
 *							np.histogram_bin_edges(x, 'sturges') and
 *							np.histogram(x, edges)[0]
 *
 * On summaries (what drift() calls): DriftNumeric and DriftCategorical
 * follow Evidently's stattests (KS, normed Wasserstein, chi-square,
 * Jensen-Shannon, PSI, with Evidently's binning: Sturges bins over the
 * union when the reference has more than 20 distinct values, the values
 * themselves otherwise) on the baseline's sample and exact counts; their
 * error against the statistic on the full reference is documented in
 * sketch.h.  Differences from Evidently, on purpose:
 *	- AUTO picks the small-sample test (KS, chi-square) when the CURRENT
 *	  data has at most DRIFT_SMALL_SAMPLE_MAX rows, as DESIGN.md says;
 *	  Evidently looks at the reference size, which for a model's training
 *	  set would almost always mean Wasserstein/JS.  Evidently's special
 *	  cases for numeric features with <= 5 distinct values (chi-square,
 *	  z-test, JS) are not made: such features stay KS/Wasserstein unless
 *	  the caller asks for a method.
 *	- Jensen-Shannon uses base 2, as Evidently does (so the distance lies
 *	  in [0, 1] and its 0.1 threshold means what Evidently means); scipy's
 *	  own default is the natural logarithm, available through the base
 *	  argument of DriftJensenShannon.
 *	- Empty current or reference data gives NaN statistics and
 *	  drifted = false rather than an error (scipy raises).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_DRIFT_H
#define AIF_DRIFT_H

#include "algorithms/sketch.h"

typedef enum DriftMethod
{
	DRIFT_METHOD_AUTO = 0,
	DRIFT_METHOD_KS,
	DRIFT_METHOD_WASSERSTEIN,
	DRIFT_METHOD_CHISQUARE,
	DRIFT_METHOD_JENSENSHANNON,
	DRIFT_METHOD_PSI
} DriftMethod;

/* Defaults (Evidently's). */
#define DRIFT_SMALL_SAMPLE_MAX	1000	/* KS / chi-square up to here */
#define DRIFT_DATASET_SHARE		0.5		/* dataset drifts at this share */
#define DRIFT_KS_AUTO_MAX_N		10000	/* ks_2samp's exact p-value limit */

typedef struct DriftResult
{
	DriftMethod method;			/* the method used (never AUTO) */
	double		statistic;		/* KS: p-value's D; others: the statistic */
	double		pvalue;			/* KS and chi-square; NaN otherwise */
	double		threshold;
	bool		drifted;		/* p < threshold, or statistic >= threshold */
	double		psi;			/* PSI, reported for every feature */
	bool		approximate;	/* a side's sample is not all its rows */
	double		ks_error;		/* 95% DKW bound of the reference sample's
								 * CDF error (0 when exact) */
} DriftResult;

/* Methods by name ("auto", "ks", "wasserstein", "chisquare",
 * "jensenshannon", "psi"); an unknown name is an error. */
extern DriftMethod DriftMethodFromName(const char *name);
extern const char *DriftMethodName(DriftMethod method);
extern double DriftDefaultThreshold(DriftMethod method);
extern bool DriftMethodIsPValue(DriftMethod method);

/* Raw statistics; the inputs need not be sorted and are not modified. */
extern void DriftKs(const double *ref, int64 n, const double *cur, int64 m,
					double *stat, double *pvalue);
extern double DriftKsPValue(int64 n, int64 m, double *d);
extern double DriftWasserstein(const double *u, int64 n, const double *v, int64 m);
extern double DriftWassersteinWeighted(const double *u, const double *uw, int64 n,
									   const double *v, const double *vw, int64 m);
extern double DriftWassersteinNormed(const double *ref, int64 n,
									 const double *cur, int64 m);
extern void DriftChiSquare(const double *ref_counts, const double *cur_counts,
						   int k, double *stat, double *pvalue);
extern double DriftJensenShannon(const double *p, const double *q, int k, double base);
extern double DriftPsi(const double *ref_share, const double *cur_share, int k);
extern double *DriftSturgesEdges(double lo, double hi, int64 n, int *nbins);
extern void DriftHistogram(const double *x, const double *w, int64 n,
						   const double *edges, int nbins, double *counts);

/*
 * Baseline against current data, both as summaries (build the current
 * one with a k at least its row count to use every current row).
 * threshold NaN means the method's default.
 */
extern void DriftNumeric(NumSketch *ref, NumSketch *cur, DriftMethod method,
						 double threshold, DriftResult *result);
extern void DriftCategorical(CatSketch *ref, CatSketch *cur, DriftMethod method,
							 double threshold, DriftResult *result);

/* Dataset verdict: drifted features / features >= share (0.5 default). */
extern bool DriftDatasetDrifted(int ndrifted, int nfeatures, double share);

#endif							/* AIF_DRIFT_H */
