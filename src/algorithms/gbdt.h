/*-------------------------------------------------------------------------
 *
 * gbdt.h
 *	  Histogram tree ensembles: quantile binning, gradient boosting
 *	  (XGBoost's tree_method='hist' with its names and defaults) and random
 *	  forests (scikit-learn's RandomForest names and defaults) on one tree
 *	  builder.
 *
 * Data come in as the Dataset layout: n x p column-major doubles, NaN for
 * a missing value.  Binning turns them once into a compact bin matrix; the
 * builders work on bins only, so a bin matrix can be shared (issue 5:
 * through a DSM segment) by several fits.  The result is a TreeEnsemble
 * (trees.h) whose thresholds are on the original scale of X.
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.  Every
 * long loop calls CHECK_FOR_INTERRUPTS().
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_GBDT_H
#define AIF_GBDT_H

#include "postgres.h"

#include "algorithms/trees.h"

/* XGBoost's defaults */
#define GBDT_DEFAULT_N_ESTIMATORS	100
#define GBDT_DEFAULT_MAX_DEPTH		6
#define GBDT_DEFAULT_LEARNING_RATE	0.3
#define GBDT_DEFAULT_MIN_CHILD_WEIGHT 1.0
#define GBDT_DEFAULT_REG_LAMBDA		1.0
#define GBDT_DEFAULT_GAMMA			0.0
#define GBDT_DEFAULT_SUBSAMPLE		1.0
#define GBDT_DEFAULT_COLSAMPLE		1.0
#define GBDT_DEFAULT_MAX_BIN		256

/* scikit-learn's RandomForest defaults (max_depth 0 = unlimited) */
#define FOREST_DEFAULT_N_ESTIMATORS	100
#define FOREST_DEFAULT_MIN_SAMPLES_LEAF 1

/*
 * The binned matrix: every feature's values cut into at most max_bin
 * quantile bins, missing values in a bin of their own.  The layout is the
 * builder's business (treebuild.h); what others rely on is that it can be
 * copied as one block of `bytes` bytes starting at `data` and re-pointed
 * with TreeBinsAttach.
 *
 * Cuts: a feature's distinct values when it has at most max_bin of them,
 * else quantiles of a sample of at most 200,000 rows (fixed seed, so
 * binning is deterministic).  With max_bin <= 256 codes are one byte, and
 * a feature with missing values then gets at most 255 value bins.  The
 * block holds the codes twice, row-major (histograms) and column-major
 * (partitioning): 2 * n * p bytes for max_bin <= 256, twice that above.
 */
typedef struct TreeBins TreeBins;

/* Bin the n x p column-major matrix X (NaN = missing). */
extern TreeBins *TreeBinsBuild(const double *X, int64 n, int p, int max_bin);

/* Bytes TreeBinsBuild will allocate for n x p at most (memory budget). */
extern Size TreeBinsMemory(int64 n, int p, int max_bin);

extern int64 TreeBinsRows(const TreeBins *bins);
extern int	TreeBinsFeatures(const TreeBins *bins);

/* Some rows of bins, with the same cuts (cross-validation folds). */
extern TreeBins *TreeBinsSubset(const TreeBins *bins, const int64 *rows, int64 nrows);

/* The bins as one flat block (for sharing), and a view over such a block. */
extern void TreeBinsFlat(const TreeBins *bins, const void **data, Size *bytes);
extern TreeBins *TreeBinsAttach(const void *data, Size bytes);

typedef struct GbdtOptions
{
	TreeObjective objective;	/* squared error, logistic or softmax */
	int			nclasses;		/* softmax: K >= 2; else ignored */
	int			n_estimators;	/* boosting rounds */
	int			max_depth;		/* >= 1 */
	double		learning_rate;	/* eta, > 0 */
	double		min_child_weight;	/* minimum hessian sum in a child */
	double		reg_lambda;		/* L2 on leaf weights */
	double		gamma;			/* minimum loss reduction to split */
	double		subsample;		/* row fraction per tree, (0, 1] */
	double		colsample_bytree;	/* feature fraction per tree, (0, 1] */
	int			early_stopping_rounds;	/* 0: off; else stop when the
										 * validation loss has not improved
										 * for this many rounds and keep
										 * the best round's trees */
	uint64		seed;
} GbdtOptions;

typedef struct GbdtFitInfo
{
	int			n_rounds;		/* rounds kept */
	int			best_round;		/* with early stopping: 1-based; else n_rounds */
	double		best_valid_loss;	/* with early stopping, else NaN */
} GbdtFitInfo;

extern void GbdtDefaultOptions(GbdtOptions *opts);

/*
 * Boost on the binned training rows; y is the target (squared error) or
 * the class index 0..K-1 (logistic: 0/1).  With early stopping, Xval
 * (nval x p column-major, NaN = missing) and yval are the validation rows;
 * otherwise they may be NULL.  The ensemble is palloc'd in the current
 * memory context.
 *
 * Where this follows XGBoost 1.7 and where not:
 *	- base_score is estimated, as XGBoost 2.x does, not 0.5: the mean of y
 *	  (squared error), the log-odds of the class-1 rate (logistic), the log
 *	  class priors (softmax); rates are clamped to [1e-6, 1 - 1e-6].
 *	- Gradients: squared error m - y, 1; logistic p - y, max(p(1-p), 1e-16);
 *	  softmax p_k - [y = k], max(2 p_k (1 - p_k), 1e-16) (XGBoost's 2).
 *	- A node's gain (TreeEnsemble.gain, XGBoost's "gain"/total_gain) is
 *	  G_L^2/(H_L+lambda) + G_R^2/(H_R+lambda) - G^2/(H+lambda), without
 *	  the paper's 1/2; a split needs gain > 1e-6 and both children's
 *	  hessian >= min_child_weight.  gamma works as XGBoost's pruner: after
 *	  growth, bottom-up, a split whose children are leaves and whose gain
 *	  is below gamma becomes a leaf.
 *	- Missing values: each split tries them left and right and keeps the
 *	  better; a node without missing values in the feature sends them right.
 *	- subsample draws exactly round(subsample * n) rows per tree without
 *	  replacement (XGBoost draws each row with probability subsample);
 *	  colsample_bytree takes max(1, round(colsample * p)) features per tree.
 *	- Early stopping: validation rmse / logloss / mlogloss after each round;
 *	  strictly lower is an improvement.
 */
extern TreeEnsemble *GbdtFit(const TreeBins *bins, const double *y,
							 const GbdtOptions *opts,
							 const double *Xval, int64 nval, const double *yval,
							 GbdtFitInfo *info);

typedef struct ForestOptions
{
	int			nclasses;		/* 0: regression; else K >= 2 classes */
	int			n_estimators;
	int			max_depth;		/* 0: grow until leaves are pure or small */
	int			min_samples_leaf;
	double		max_features;	/* fraction of the features tried at each
								 * split, (0, 1]; the caller maps sklearn's
								 * 'sqrt' (classification default) and 1.0
								 * (regression default) */
	bool		bootstrap;		/* rows drawn with replacement per tree */
	uint64		seed;
} ForestOptions;

extern void ForestDefaultOptions(ForestOptions *opts);

/*
 * Grow a forest on the binned rows: classification by Gini impurity with
 * leaves holding class frequencies (output: mean class probabilities),
 * regression by squared error (output: mean of the trees).
 *
 * Like scikit-learn: max(1, floor(max_features * p)) features are searched
 * at each node, in a fresh random order, skipping features constant in the
 * node; a node is split while it is impure, even if the best split gains
 * nothing.  Unlike it: min_samples_leaf counts bootstrap weight (draws),
 * not distinct rows; split points are bin boundaries, not midpoints; and
 * missing values are allowed (learned direction, else the heavier child).
 * gain = weighted impurity decrease W*i - W_L*i_L - W_R*i_R (scikit-learn's
 * importance before normalization), cover = bootstrap weight in the node.
 */
extern TreeEnsemble *ForestFit(const TreeBins *bins, const double *y,
							   const ForestOptions *opts);

#endif							/* AIF_GBDT_H */
