/*-------------------------------------------------------------------------
 *
 * treebuild.h
 *	  Internals shared by the histogram tree builders: the layout of the
 *	  bin matrix (treebins.c), histograms, split search and row partitioning
 *	  (treebuild.c), used by boosting (gbdt.c) and forests (forest.c).
 *
 * Not part of the public interface: callers outside src/algorithms/ see
 * TreeBins only as the opaque type of gbdt.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_TREEBUILD_H
#define AIF_TREEBUILD_H

#include "postgres.h"

#include "algorithms/gbdt.h"
#include "algorithms/rng.h"
#include "algorithms/trees.h"

/*
 * The flat block, in this order, each part aligned to 16 bytes:
 *
 *	TreeBinsHeader
 *	int32	nbins[p]		value bins of each feature (missing not counted)
 *	int32	has_missing[p]	1 when the feature had a NaN: its code nbins[j]
 *	uint32	offset[p + 1]	first histogram slot of each feature
 *	int64	bound_start[p]	where the feature's bounds start in bounds[]
 *	double	bounds[]		per feature nbins + 1 values: bounds[0] is the
 *							smallest value, bounds[b] (0 < b < nbins) the
 *							smallest value of bin b (the cut), bounds[nbins]
 *							a value above every training value; so "bin <= b"
 *							is exactly "x < bounds[b + 1]"
 *	uint8/uint16 codes[n * p]	row-major: the codes of row i are
 *							codes[i * p .. i * p + p - 1]
 *	uint8/uint16 colcodes[p * n]	the same column-major: feature j's
 *							codes are colcodes[j * n .. j * n + n - 1]
 *
 * Row-major codes make the histogram of a node one sweep over its rows,
 * each row's p codes in one cache line (XGBoost's layout).  Partitioning
 * a node reads one feature of each row; from the row-major matrix that is
 * a cache line per row, from the column-major copy a byte, so both are
 * kept (XGBoost keeps a column matrix for the same reason).
 */
#define TREE_BINS_MAGIC		0x41494642	/* "AIFB" */
#define TREE_BINS_VERSION	1

typedef struct TreeBinsHeader
{
	uint32		magic;
	uint32		version;
	int64		nrows;
	int32		nfeatures;
	int32		max_bin;
	int32		code_bytes;		/* 1 or 2 */
	int32		pad;
	int64		total_bins;		/* histogram slots: sum of nbins + has_missing */
	int64		nbounds;
	uint64		bytes;			/* of the whole block */
	uint64		off_nbins;
	uint64		off_has_missing;
	uint64		off_offset;
	uint64		off_bound_start;
	uint64		off_bounds;
	uint64		off_codes;
	uint64		off_colcodes;
} TreeBinsHeader;

struct TreeBins
{
	const TreeBinsHeader *hdr;	/* the block */
	int64		n;
	int			p;
	int			code_bytes;
	int64		total_bins;
	const int32 *nbins;
	const int32 *has_missing;
	const uint32 *offset;
	const int64 *bound_start;
	const double *bounds;
	const uint8 *codes8;		/* when code_bytes == 1 */
	const uint16 *codes16;		/* when code_bytes == 2 */
	const uint8 *colcodes8;		/* column-major copies */
	const uint16 *colcodes16;
};

/* The code of row i, feature j. */
static inline int
TreeBinsCode(const TreeBins *bins, int64 i, int j)
{
	Size		k = (Size) j * bins->n + i;

	return bins->code_bytes == 1 ? bins->colcodes8[k] : bins->colcodes16[k];
}

/* Allocation that may exceed 1 GB (per-row arrays of big tables). */
extern void *TreeAllocHuge(Size size);

/*
 * A tree while it is grown.  Children are created in pairs (right = left
 * + 1), after their parent; rows[begin, end) of the builder's row array are
 * the node's training rows, and stay so after the children are split off
 * (partitioning happens within the range).
 */
typedef struct BuildNode
{
	int32		left;			/* -1: leaf */
	int32		feature;
	int32		bin;			/* left: codes <= bin (missing aside) */
	bool		default_left;
	int32		depth;
	int64		begin;
	int64		end;
	double		sum_g;			/* stat 0 sum (gradients; forest: sum w*y) */
	double		sum_h;			/* stat 1 sum (hessians; forest: weight) */
	double		gain;
	double		value;			/* leaf output (single-valued trees) */
	int32		value_index;	/* forests with K values: its row in the
								 * builder's value store, else -1 */
} BuildNode;

typedef struct BuildTree
{
	BuildNode  *nodes;
	int32		nnodes;
	int32		capacity;
} BuildTree;

extern void BuildTreeInit(BuildTree *tree);
extern int32 BuildTreeAddPair(BuildTree *tree);

/* The best split of one node, as the search returns it. */
typedef struct SplitChoice
{
	bool		found;
	int32		feature;
	int32		bin;			/* -1: no value bin left (only missing) */
	bool		default_left;
	double		gain;
	double		left_g;
	double		left_h;
	double		right_g;
	double		right_h;
} SplitChoice;

/*
 * Histograms: stats doubles per slot, bins->total_bins slots.
 * Pairs (stats = 2): per row (g, h) from gh[2 * row]; classes (stats = K):
 * per row weight w[row] added to slot's class cls[row].
 */
extern void HistBuildPairs(const TreeBins *bins, const int32 *rows, int64 nrows,
						   const double *gh, double *hist);
extern void HistBuildClasses(const TreeBins *bins, const int32 *rows, int64 nrows,
							 const int32 *cls, const float *w, int K, double *hist);
extern void HistSubtract(double *big, const double *small, Size len);

/*
 * Split search on a pair histogram, XGBoost's hist evaluator: for each
 * feature in features[0..nfeat), forward enumeration (missing right), and
 * backward (missing left) when the node has missing values there; gain
 * G_L^2/(H_L+lambda) + G_R^2/(H_R+lambda) - G^2/(H+lambda); both children
 * need h >= min_child_weight.  A candidate replaces the best only when
 * strictly better, so ties keep the earlier one; best->gain holds the
 * minimum gain to accept on entry.
 * missing_to_larger: when a feature has no missing value in the node, send
 * missing to the child with the larger h (forests) rather than right.
 * nonconstant_needed > 0: skip features constant in the node and stop
 * after that many others (scikit-learn's max_features rule).
 */
extern void SplitFindPairs(const TreeBins *bins, const double *hist,
						   const int32 *features, int nfeat, int nonconstant_needed,
						   double sum_g, double sum_h, double lambda,
						   double min_child_weight, bool missing_to_larger,
						   SplitChoice *best);

/*
 * The same for one feature j given as ne value entries h[2e], h[2e+1] in
 * increasing code order, codes[e] their bin codes (NULL: all bins, e is
 * the code), and the stats of its missing rows.
 */
extern void SplitScanPairs(SplitChoice *best, int j, const double *h, const int32 *codes,
						   int ne, double miss_g, double miss_h, double sum_g,
						   double sum_h, double lambda, double min_child_weight,
						   bool missing_to_larger);

/*
 * Split search on a class-count histogram (K weights per bin) by Gini
 * impurity: gain is sum_k c_Lk^2/W_L + sum_k c_Rk^2/W_R - sum_k c_k^2/W
 * (the weighted impurity decrease); children need weight >= min_weight.
 * The class weights of the chosen children go to left_counts and
 * right_counts (K each), their totals to left_h/right_h.  scratch: 2K.
 */
extern void SplitFindClasses(const TreeBins *bins, const double *hist, int K,
							 const int32 *features, int nfeat, int nonconstant_needed,
							 const double *node_counts, double min_weight,
							 SplitChoice *best, double *left_counts,
							 double *right_counts, double *scratch);

/* The same for one feature's entries (see SplitScanPairs); miss may be NULL. */
extern void SplitScanClasses(SplitChoice *best, int j, const double *h, const int32 *codes,
							 int ne, const double *miss, int K, const double *node_counts,
							 double min_weight, double *scratch, double *left_counts,
							 double *right_counts);

/*
 * Partition rows[begin, end) stably by the split of `node`; returns the
 * number going left.  scratch has room for end - begin rows.
 */
extern int64 PartitionRows(const TreeBins *bins, int32 *rows, int64 begin, int64 end,
						   int feature, int bin, bool default_left, int32 *scratch);

/* Follow a grown tree for training row i (by its codes) to a leaf. */
extern int32 BuildTreeLeafOfRow(const TreeBins *bins, const BuildTree *tree, int64 i);

/* The threshold for a split of feature j after bin b (x < it goes left). */
extern double TreeBinsThreshold(const TreeBins *bins, int j, int b);

/*
 * A growing ensemble: node arrays appended tree by tree.
 */
typedef struct EnsembleBuilder
{
	TreeEnsemble *ens;
	int32		cap_trees;
	int32		cap_nodes;
	int32		cap_leaves;
} EnsembleBuilder;

extern void EnsembleBuilderInit(EnsembleBuilder *eb, TreeEnsembleKind kind,
								TreeObjective objective, int nfeatures,
								int noutputs, int nvalues);

/*
 * Append a grown tree: nodes in breadth-first order (children side by side
 * after their parent), thresholds on the original scale.  values (nvalues
 * per value_index) gives the leaves' values when nvalues > 1.
 */
extern void EnsembleBuilderAddTree(EnsembleBuilder *eb, const TreeBins *bins,
								   const BuildTree *tree, int32 output,
								   const double *values);

/* Keep only the first ntrees trees. */
extern void EnsembleBuilderTruncate(EnsembleBuilder *eb, int ntrees);

#endif							/* AIF_TREEBUILD_H */
