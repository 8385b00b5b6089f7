/*-------------------------------------------------------------------------
 *
 * trees.h
 *	  A fitted tree ensemble in the flat form it is served from: prediction,
 *	  exact TreeSHAP contributions and gain importance.
 *
 * Every tree of the ensemble lives in one array of 16-byte nodes, children
 * stored side by side (right = left + 1), so that walking a tree touches a
 * few cache lines.  Gradient-boosted ensembles (gbdt.c) add their trees'
 * outputs to a base score; forests (forest.c) average theirs.  The
 * builders fill this structure; core/modelbytes.c stores it field by field.
 *
 * Pure numerics: palloc/ereport only, no SPI, no catalog access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_TREES_H
#define AIF_TREES_H

#include "postgres.h"

/* A split sends missing values (NaN) left when its feature has this bit. */
#define TREE_DEFAULT_LEFT	0x80000000u
#define TREE_FEATURE_MASK	0x7fffffffu

typedef struct TreeNode
{
	/*
	 * Internal node: the threshold; x < value goes left, x >= value right,
	 * NaN to the default side.  Leaf: its output when the ensemble has one
	 * value per leaf (nvalues == 1); unused otherwise.
	 */
	double		value;

	/* internal node: design column, | TREE_DEFAULT_LEFT; leaf: 0 */
	uint32		split;

	/*
	 * Internal node: index of the left child in nodes[] (the right child is
	 * left + 1).  Leaf: -1 - leaf number, the leaf's values then being
	 * leaf_values[leaf * nvalues ...] when nvalues > 1.
	 */
	int32		left;
} TreeNode;

#define TREE_IS_LEAF(node)		((node)->left < 0)
#define TREE_LEAF_NUMBER(node)	(-1 - (node)->left)

typedef enum TreeEnsembleKind
{
	TREES_BOOSTED = 1,			/* output = base_score + sum of trees */
	TREES_FOREST = 2			/* output = mean of trees */
} TreeEnsembleKind;

/* What the raw outputs are; the link is applied by TreeEnsembleTransform. */
typedef enum TreeObjective
{
	TREE_SQUARED_ERROR = 1,		/* one output, the value itself */
	TREE_LOGISTIC = 2,			/* one output, a log-odds margin */
	TREE_SOFTMAX = 3,			/* K outputs, margins */
	TREE_CLASS_PROBABILITY = 4	/* K outputs, probabilities (forests) */
} TreeObjective;

typedef struct TreeEnsemble
{
	TreeEnsembleKind kind;
	TreeObjective objective;
	int			nfeatures;		/* design columns the splits index */
	int			noutputs;		/* 1, or K classes (softmax, forest classes) */
	int			nvalues;		/* values per leaf: 1 or noutputs */
	int			ntrees;
	int			nnodes;
	int			nleaves;
	int32	   *roots;			/* ntrees: root node of each tree */
	int32	   *tree_output;	/* ntrees: the output a one-value tree adds
								 * to (the class, for softmax; else 0) */
	TreeNode   *nodes;			/* nnodes */
	double	   *cover;			/* nnodes: training weight reaching the node
								 * (hessian sum for boosting, rows for
								 * forests); TreeSHAP's weights */
	double	   *gain;			/* nnodes: loss reduction of the split, 0 at
								 * leaves */
	double	   *leaf_values;	/* nleaves x nvalues when nvalues > 1, else
								 * NULL */
	double	   *base_score;		/* noutputs: margin before any tree (0 for
								 * forests) */
} TreeEnsemble;

/*
 * Raw outputs for one row x (nfeatures values, NaN = missing) into
 * out[noutputs]: base_score plus the sum of the trees (boosting), or the
 * mean of the trees (forests).
 */
extern void TreeEnsemblePredictRaw(const TreeEnsemble *ens, const double *x, double *out);

/*
 * Raw outputs to what users see, in place: squared error unchanged;
 * logistic -> probability of class 1 (out[0]); softmax -> probabilities;
 * class probabilities unchanged.
 */
extern void TreeEnsembleTransform(const TreeEnsemble *ens, double *out);

/*
 * Exact TreeSHAP (Lundberg et al. 2018, algorithm 2) for output `output`
 * of row x: phi[j] for each design column j (nfeatures values) and
 * phi[nfeatures], the expected value.  sum(phi) equals the raw output
 * (TreeEnsemblePredictRaw) to rounding.  Missing values follow the default
 * direction, as in prediction.
 */
extern void TreeEnsembleShap(const TreeEnsemble *ens, const double *x, int output,
							 double *phi);

/* Total gain of the splits on each design column, into gain[nfeatures]. */
extern void TreeEnsembleGainImportance(const TreeEnsemble *ens, double *gain);

/*
 * Check a structure read from storage before it is used: children in
 * range and after their parent (so no walk can loop), leaf numbers in
 * range, features < nfeatures.  Returns NULL when sound, else a
 * description of the first fault (a static string).
 */
extern const char *TreeEnsembleValidate(const TreeEnsemble *ens);

#endif							/* AIF_TREES_H */
