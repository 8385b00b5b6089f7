/*-------------------------------------------------------------------------
 *
 * trees.c
 *	  Serving a fitted tree ensemble: raw and transformed predictions, exact
 *	  TreeSHAP contributions, gain importance, and the check that a stored
 *	  ensemble is safe to walk.
 *
 * Prediction runs once per row from SQL, over millions of rows, so the walk
 * down a tree is a branch-free step over the flat node array, four trees
 * walked side by side to hide the latency of each dependent load.  Nothing
 * is allocated.
 *
 * TreeSHAP is algorithm 2 of Lundberg, Erion and Lee, "Consistent
 * Individualized Feature Attribution for Tree Ensembles" (2018), written as
 * in the shap package and XGBoost (EXTEND, UNWIND and the unwound path
 * sum), with the node covers as the weights r_j.  It differs from those in
 * four ways that do not change the result (tested against brute-force
 * Shapley values of the same value function, and once against XGBoost's
 * pred_contribs):
 *
 *	  - The recursion is an explicit stack of frames, so a very deep forest
 *		tree cannot overflow the C stack.  Each level's copy of the path
 *		sits right after its parent's in one buffer; a path never holds more
 *		than one entry per distinct feature (plus the root's), so the buffer
 *		is at most (D+1)(D+2)/2 entries for depth D, and usually less.
 *		Frames and path start in a buffer on the C stack (enough for depth
 *		32) and move to palloc'd memory only when a tree is deeper.
 *	  - A child whose weight is zero on both the "feature absent" and
 *		"feature present" sides (a cold child with zero cover) contributes
 *		exactly nothing, and is skipped; that also keeps UNWIND from
 *		dividing by zero.
 *	  - The inner loops keep divisions off their loop-carried chains, which
 *		changes the rounding, not the values.
 *	  - The expected value is accumulated during the same walk as the sum
 *		over leaves of the leaf value times the product of the cover
 *		fractions on the way down, which is exactly the value of the empty
 *		coalition; so sum(phi) equals the prediction even when a builder's
 *		covers are not exactly additive.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <string.h>

#include "algorithms/trees.h"

/* One entry of TreeSHAP's unique path (PathElement in shap/XGBoost). */
typedef struct ShapPathElement
{
	int			feature;		/* design column; -1 for the root entry */
	double		zero_fraction;	/* share of cover flowing this way */
	double		one_fraction;	/* 1 if x follows this way, else 0 */
	double		pweight;		/* weight of subsets of this size */
} ShapPathElement;

/*
 * One level of the depth-first walk.  The fields up to prior describe the
 * node to enter (filled by its parent); the rest are set when the node is
 * entered and remember what its cold child needs.
 */
typedef struct ShapFrame
{
	int32		node;
	int			feature;		/* the parent's split feature (-1 at root) */
	int			depth;			/* unique_depth of this node's path */
	int			path;			/* offset of this node's path in the buffer */
	double		zero_fraction;	/* incoming fractions, for EXTEND */
	double		one_fraction;
	double		prior;			/* product of cover fractions from the root */
	/* set on entry to an internal node */
	bool		entered;
	bool		cold_pending;
	int32		cold;
	int			split_feature;
	int			child_depth;
	double		cold_zero_fraction;
	double		cold_prior;
} ShapFrame;

/* Depth up to which the walk needs no allocation. */
#define SHAP_STACK_DEPTH	32
#define SHAP_STACK_PATH		((SHAP_STACK_DEPTH + 1) * (SHAP_STACK_DEPTH + 2) / 2)

/* The walk's growable buffers: on the C stack first, palloc'd if deeper. */
typedef struct ShapWork
{
	ShapPathElement *path;
	int			path_cap;
	ShapFrame  *frames;
	int			frame_cap;
	bool		path_palloced;
	bool		frames_palloced;
} ShapWork;

static void ShapExtend(ShapPathElement *path, int depth, double zero_fraction,
					   double one_fraction, int feature);
static void ShapUnwind(ShapPathElement *path, int depth, int index);
static double ShapUnwoundSum(const ShapPathElement *path, int depth, int index);
static void ShapReserve(ShapWork *work, int frames, int path);
static double ShapTree(const TreeEnsemble *ens, int32 root, const double *x,
					   int output, double scale, double *phi, ShapWork *work);

/*
 * One step down from node index i, branch-free: a leaf stays where it is
 * (and reads x[0], not whatever its split field holds), x < threshold goes
 * left, anything else right, except NaN under a default-left split.
 * NaN compares false with everything, so !(v < threshold) sends it right
 * and (v != v) picks out the default-left case.
 */
#define TREE_STEP(nodes, x, i) \
	do { \
		const TreeNode *n_ = &(nodes)[i]; \
		uint32		internal_ = -(uint32) (n_->left >= 0); \
		uint32		split_ = n_->split & internal_; \
		double		v_ = (x)[split_ & TREE_FEATURE_MASK]; \
		int32		right_ = !(v_ < n_->value) & !((v_ != v_) & (split_ >> 31)); \
		\
		(i) = (n_->left >= 0) ? n_->left + right_ : (i); \
	} while (0)

/* What the tree t, ended at leaf node, adds to out[] (before scaling). */
static inline void
TreeAddLeaf(const TreeEnsemble *ens, int t, const TreeNode *leaf, double *out)
{
	if (ens->nvalues == 1)
		out[ens->tree_output[t]] += leaf->value;
	else
	{
		const double *lv = ens->leaf_values +
			(Size) TREE_LEAF_NUMBER(leaf) * ens->nvalues;
		int			k;

		for (k = 0; k < ens->nvalues; k++)
			out[k] += lv[k];
	}
}

/*
 * Walk every tree for row x.  This is the per-row hot loop of prediction:
 * a walk is a chain of dependent loads, so four trees are walked side by
 * side, each step branch-free, to keep several chains in flight (for 100
 * trees of depth 6 on 20 features, about 1.5 us a row instead of 2.5 one
 * tree at a time, on one EPYC core).  A tree that reaches its leaf early
 * idles until the other three do.
 */
void
TreeEnsemblePredictRaw(const TreeEnsemble *ens, const double *x, double *out)
{
	const TreeNode *nodes = ens->nodes;
	const int32 *roots = ens->roots;
	int			noutputs = ens->noutputs;
	int			ntrees = ens->ntrees;
	double		scale = (ens->kind == TREES_FOREST) ? 1.0 / ntrees : 1.0;
	int			t;
	int			k;

	for (k = 0; k < noutputs; k++)
		out[k] = 0.0;

	for (t = 0; t + 4 <= ntrees; t += 4)
	{
		int32		i0 = roots[t];
		int32		i1 = roots[t + 1];
		int32		i2 = roots[t + 2];
		int32		i3 = roots[t + 3];

		/* the AND of the left fields is negative once all four are leaves */
		while ((nodes[i0].left & nodes[i1].left &
				nodes[i2].left & nodes[i3].left) >= 0)
		{
			TREE_STEP(nodes, x, i0);
			TREE_STEP(nodes, x, i1);
			TREE_STEP(nodes, x, i2);
			TREE_STEP(nodes, x, i3);
		}
		TreeAddLeaf(ens, t, &nodes[i0], out);
		TreeAddLeaf(ens, t + 1, &nodes[i1], out);
		TreeAddLeaf(ens, t + 2, &nodes[i2], out);
		TreeAddLeaf(ens, t + 3, &nodes[i3], out);
	}
	for (; t < ntrees; t++)
	{
		int32		i = roots[t];

		while (nodes[i].left >= 0)
			TREE_STEP(nodes, x, i);
		TreeAddLeaf(ens, t, &nodes[i], out);
	}

	for (k = 0; k < noutputs; k++)
		out[k] = ens->base_score[k] + scale * out[k];
}

/*
 * Apply the objective's link, in place.  The logistic and softmax forms
 * never call exp() on a large positive argument, so extreme margins give
 * 0 or 1 rather than NaN.
 */
void
TreeEnsembleTransform(const TreeEnsemble *ens, double *out)
{
	switch (ens->objective)
	{
		case TREE_SQUARED_ERROR:
		case TREE_CLASS_PROBABILITY:
			break;
		case TREE_LOGISTIC:
			{
				double		m = out[0];

				if (m >= 0)
					out[0] = 1.0 / (1.0 + exp(-m));
				else
				{
					double		e = exp(m);

					out[0] = e / (1.0 + e);
				}
				break;
			}
		case TREE_SOFTMAX:
			{
				int			K = ens->noutputs;
				double		mx = out[0];
				double		sum = 0.0;
				int			k;

				for (k = 1; k < K; k++)
					if (out[k] > mx)
						mx = out[k];
				for (k = 0; k < K; k++)
				{
					out[k] = exp(out[k] - mx);
					sum += out[k];
				}
				for (k = 0; k < K; k++)
					out[k] /= sum;
				break;
			}
		default:
			elog(ERROR, "unknown tree objective %d", (int) ens->objective);
	}
}

/*
 * EXTEND: add a feature with the given fractions to the path whose last
 * entry is at index depth, updating the weights of every subset size.
 *
 * This and the two functions below are the inner loops of TreeSHAP (a
 * leaf at depth D costs O(D^2)); they are written so that no division
 * sits on the loop-carried chain, which made SHAP about twice as fast
 * as the textbook form.  one_fraction is always 0 or 1 (x either follows
 * a branch or not), so the divisions by it are exact.
 */
static void
ShapExtend(ShapPathElement *path, int depth, double zero_fraction,
		   double one_fraction, int feature)
{
	double		inv = 1.0 / (depth + 1);
	int			i;

	path[depth].feature = feature;
	path[depth].zero_fraction = zero_fraction;
	path[depth].one_fraction = one_fraction;
	path[depth].pweight = (depth == 0) ? 1.0 : 0.0;
	for (i = depth - 1; i >= 0; i--)
	{
		path[i + 1].pweight += one_fraction * path[i].pweight * ((i + 1) * inv);
		path[i].pweight = zero_fraction * path[i].pweight * ((depth - i) * inv);
	}
}

/*
 * UNWIND: undo the EXTEND of entry `index`, so that a feature met again
 * further down can be re-added with its fractions combined.  Entries with
 * both fractions zero never get onto a path (ShapTree skips them), so the
 * divisions are safe.
 */
static void
ShapUnwind(ShapPathElement *path, int depth, int index)
{
	double		one_fraction = path[index].one_fraction;
	double		zero_fraction = path[index].zero_fraction;
	double		inv = 1.0 / (depth + 1);
	int			i;

	if (one_fraction != 0)
	{
		double		next_one_portion = path[depth].pweight;
		double		up = (depth + 1) / one_fraction;

		for (i = depth - 1; i >= 0; i--)
		{
			double		tmp = path[i].pweight;

			path[i].pweight = next_one_portion * (up / (i + 1));
			next_one_portion = tmp - path[i].pweight *
				(zero_fraction * (depth - i) * inv);
		}
	}
	else
	{
		for (i = depth - 1; i >= 0; i--)
			path[i].pweight *= (depth + 1) / (zero_fraction * (depth - i));
	}
	for (i = index; i < depth; i++)
	{
		path[i].feature = path[i + 1].feature;
		path[i].zero_fraction = path[i + 1].zero_fraction;
		path[i].one_fraction = path[i + 1].one_fraction;
	}
}

/*
 * The total weight the path would have with entry `index` unwound, without
 * modifying it: what a leaf credits to that entry's feature.
 */
static double
ShapUnwoundSum(const ShapPathElement *path, int depth, int index)
{
	double		one_fraction = path[index].one_fraction;
	double		zero_fraction = path[index].zero_fraction;
	double		inv = 1.0 / (depth + 1);
	double		total = 0.0;
	int			i;

	if (one_fraction != 0)
	{
		double		next_one_portion = path[depth].pweight;
		double		up = (depth + 1) / one_fraction;

		for (i = depth - 1; i >= 0; i--)
		{
			double		tmp = next_one_portion * (up / (i + 1));

			total += tmp;
			next_one_portion = path[i].pweight - tmp *
				(zero_fraction * (depth - i) * inv);
		}
	}
	else if (zero_fraction != 0)
	{
		for (i = depth - 1; i >= 0; i--)
			total += path[i].pweight * ((depth + 1) / (zero_fraction * (depth - i)));
	}
	return total;
}

/*
 * Make room for `frames` frames and `path` path entries, moving the
 * buffers off the C stack (or to bigger palloc'd ones) when a tree is
 * deeper than any seen so far in this call.
 */
static void
ShapReserve(ShapWork *work, int frames, int path)
{
	if (frames > work->frame_cap)
	{
		int			cap = Max(frames, 2 * work->frame_cap);
		ShapFrame  *f = palloc(sizeof(ShapFrame) * (Size) cap);

		memcpy(f, work->frames, sizeof(ShapFrame) * (Size) work->frame_cap);
		if (work->frames_palloced)
			pfree(work->frames);
		work->frames = f;
		work->frame_cap = cap;
		work->frames_palloced = true;
	}
	if (path > work->path_cap)
	{
		int			cap = Max(path, 2 * work->path_cap);
		ShapPathElement *p = palloc(sizeof(ShapPathElement) * (Size) cap);

		memcpy(p, work->path, sizeof(ShapPathElement) * (Size) work->path_cap);
		if (work->path_palloced)
			pfree(work->path);
		work->path = p;
		work->path_cap = cap;
		work->path_palloced = true;
	}
}

/*
 * TreeSHAP over one tree (the recursion of algorithm 2, unrolled onto
 * work->frames), adding scale * leaf value credits to phi[0..nfeatures-1].
 * Returns the tree's expected value (unscaled): the leaves' values weighted
 * by the products of cover fractions on their paths.
 */
static double
ShapTree(const TreeEnsemble *ens, int32 root, const double *x, int output,
		 double scale, double *phi, ShapWork *work)
{
	const TreeNode *nodes = ens->nodes;
	const double *cover = ens->cover;
	double		expected = 0.0;
	int			level = 0;
	ShapFrame  *f;

	ShapReserve(work, 1, 1);
	f = &work->frames[0];
	f->node = root;
	f->feature = -1;
	f->depth = 0;
	f->path = 0;
	f->zero_fraction = 1.0;
	f->one_fraction = 1.0;
	f->prior = 1.0;
	f->entered = false;

	while (level >= 0)
	{
		f = &work->frames[level];

		if (!f->entered)
		{
			ShapPathElement *path = work->path + f->path;
			const TreeNode *node = &nodes[f->node];
			int			depth = f->depth;
			double		incoming_zero = 1.0;
			double		incoming_one = 1.0;
			double		w;
			double		v;
			double		hot_fraction;
			double		cold_fraction;
			int32		hot;
			int32		cold;
			int			feature;
			int			i;
			ShapFrame  *child;

			/* the parent's path (already unwound), then this node's entry */
			if (level > 0)
				memcpy(path, work->path + work->frames[level - 1].path,
					   sizeof(ShapPathElement) * (Size) depth);
			ShapExtend(path, depth, f->zero_fraction, f->one_fraction,
					   f->feature);

			if (TREE_IS_LEAF(node))
			{
				double		value;

				if (ens->nvalues == 1)
					value = node->value;
				else
					value = ens->leaf_values[(Size) TREE_LEAF_NUMBER(node) *
											 ens->nvalues + output];
				for (i = 1; i <= depth; i++)
				{
					double		sw = ShapUnwoundSum(path, depth, i);

					phi[path[i].feature] += sw * scale * value *
						(path[i].one_fraction - path[i].zero_fraction);
				}
				expected += f->prior * value;
				level--;
				continue;
			}

			feature = (int) (node->split & TREE_FEATURE_MASK);
			v = x[feature];
			if (isnan(v))
				hot = (node->split & TREE_DEFAULT_LEFT) ? node->left : node->left + 1;
			else
				hot = (v < node->value) ? node->left : node->left + 1;
			cold = (hot == node->left) ? node->left + 1 : node->left;

			w = cover[f->node];
			if (w > 0)
			{
				hot_fraction = cover[hot] / w;
				cold_fraction = cover[cold] / w;
			}
			else
				hot_fraction = cold_fraction = 0.5;

			/* a feature met before on this path is unwound and re-added */
			for (i = 1; i <= depth; i++)
				if (path[i].feature == feature)
					break;
			if (i <= depth)
			{
				incoming_zero = path[i].zero_fraction;
				incoming_one = path[i].one_fraction;
				ShapUnwind(path, depth, i);
				depth--;
			}

			f->entered = true;
			f->cold = cold;
			f->split_feature = feature;
			f->child_depth = depth + 1;
			f->cold_zero_fraction = cold_fraction * incoming_zero;
			f->cold_prior = f->prior * cold_fraction;
			f->cold_pending = (f->cold_zero_fraction != 0);

			/* hot child: x follows it, so it keeps the incoming one_fraction */
			if (hot_fraction * incoming_zero == 0 && incoming_one == 0)
				continue;
			ShapReserve(work, level + 2,
						f->path + f->depth + 1 + depth + 2);
			f = &work->frames[level];
			child = &work->frames[level + 1];
			child->node = hot;
			child->feature = feature;
			child->depth = depth + 1;
			child->path = f->path + f->depth + 1;
			child->zero_fraction = hot_fraction * incoming_zero;
			child->one_fraction = incoming_one;
			child->prior = f->prior * hot_fraction;
			child->entered = false;
			level++;
		}
		else if (f->cold_pending)
		{
			ShapFrame  *child;

			/* the cold child's path has the same length as the hot one's */
			f->cold_pending = false;
			ShapReserve(work, level + 2,
						f->path + f->depth + 1 + f->child_depth + 1);
			f = &work->frames[level];
			child = &work->frames[level + 1];
			child->node = f->cold;
			child->feature = f->split_feature;
			child->depth = f->child_depth;
			child->path = f->path + f->depth + 1;
			child->zero_fraction = f->cold_zero_fraction;
			child->one_fraction = 0.0;
			child->prior = f->cold_prior;
			child->entered = false;
			level++;
		}
		else
			level--;
	}

	return expected;
}

/*
 * Exact SHAP values of output `output` for row x, tree by tree: each tree
 * feeding the output adds its credits (divided by ntrees for a forest) and
 * its expected value to phi[nfeatures].  The walk's buffers are shared by
 * all trees of the call and live on the C stack unless a tree is deeper
 * than SHAP_STACK_DEPTH.
 */
void
TreeEnsembleShap(const TreeEnsemble *ens, const double *x, int output,
				 double *phi)
{
	ShapPathElement path_buf[SHAP_STACK_PATH];
	ShapFrame	frame_buf[SHAP_STACK_DEPTH + 1];
	ShapWork	work;
	double		scale = (ens->kind == TREES_FOREST) ? 1.0 / ens->ntrees : 1.0;
	double		expected = 0.0;
	int			t;
	int			j;

	if (output < 0 || output >= ens->noutputs)
		elog(ERROR, "tree ensemble output %d out of range", output);

	work.path = path_buf;
	work.path_cap = SHAP_STACK_PATH;
	work.frames = frame_buf;
	work.frame_cap = SHAP_STACK_DEPTH + 1;
	work.path_palloced = false;
	work.frames_palloced = false;

	for (j = 0; j <= ens->nfeatures; j++)
		phi[j] = 0.0;

	for (t = 0; t < ens->ntrees; t++)
	{
		if (ens->nvalues == 1 && ens->tree_output[t] != output)
			continue;
		expected += ShapTree(ens, ens->roots[t], x, output, scale, phi, &work);
	}
	phi[ens->nfeatures] = ens->base_score[output] + scale * expected;

	if (work.path_palloced)
		pfree(work.path);
	if (work.frames_palloced)
		pfree(work.frames);
}

/* Gain importance as XGBoost's importance_type='total_gain'. */
void
TreeEnsembleGainImportance(const TreeEnsemble *ens, double *gain)
{
	int			i;

	for (i = 0; i < ens->nfeatures; i++)
		gain[i] = 0.0;
	for (i = 0; i < ens->nnodes; i++)
	{
		const TreeNode *node = &ens->nodes[i];

		if (!TREE_IS_LEAF(node))
			gain[node->split & TREE_FEATURE_MASK] += ens->gain[i];
	}
}

/*
 * Everything the walks above take on trust.  Children must come after
 * their parent, so any walk ends within nnodes steps; and no node may be
 * reached twice from the roots (a shared subtree would make TreeSHAP's
 * walk exponential in a crafted payload, and is never built).  Covers must
 * be finite and non-negative, as TreeSHAP divides by them.
 */
const char *
TreeEnsembleValidate(const TreeEnsemble *ens)
{
	const char *fault = NULL;
	bool	   *reached;
	int			i;
	int			t;

	if (ens == NULL)
		return "no ensemble";
	if (ens->kind != TREES_BOOSTED && ens->kind != TREES_FOREST)
		return "unknown ensemble kind";
	if (ens->objective != TREE_SQUARED_ERROR &&
		ens->objective != TREE_LOGISTIC &&
		ens->objective != TREE_SOFTMAX &&
		ens->objective != TREE_CLASS_PROBABILITY)
		return "unknown objective";
	if (ens->nfeatures <= 0)
		return "no features";
	if (ens->noutputs <= 0)
		return "no outputs";
	if ((ens->objective == TREE_SQUARED_ERROR ||
		 ens->objective == TREE_LOGISTIC) && ens->noutputs != 1)
		return "more than one output for a single-output objective";
	if (ens->nvalues != 1 && ens->nvalues != ens->noutputs)
		return "values per leaf neither 1 nor the number of outputs";
	if (ens->ntrees <= 0)
		return "no trees";
	if (ens->nnodes <= 0)
		return "no nodes";
	if (ens->nleaves <= 0)
		return "no leaves";
	if (ens->roots == NULL || ens->tree_output == NULL ||
		ens->nodes == NULL || ens->cover == NULL || ens->gain == NULL ||
		ens->base_score == NULL)
		return "missing array";
	if (ens->nvalues > 1 && ens->leaf_values == NULL)
		return "missing leaf values";

	for (t = 0; t < ens->ntrees; t++)
	{
		if (ens->roots[t] < 0 || ens->roots[t] >= ens->nnodes)
			return "tree root out of range";
		if (ens->nvalues == 1 &&
			(ens->tree_output[t] < 0 || ens->tree_output[t] >= ens->noutputs))
			return "tree output out of range";
	}

	for (i = 0; i < ens->nnodes; i++)
	{
		const TreeNode *node = &ens->nodes[i];

		if (!(ens->cover[i] >= 0) || isinf(ens->cover[i]))
			return "cover negative or not finite";
		if (TREE_IS_LEAF(node))
		{
			if (TREE_LEAF_NUMBER(node) >= ens->nleaves)
				return "leaf number out of range";
			continue;
		}
		if (node->left <= i || node->left >= ens->nnodes - 1)
			return "child index out of range or not after its parent";
		if ((node->split & TREE_FEATURE_MASK) >= (uint32) ens->nfeatures)
			return "split feature out of range";
		if (isnan(node->value))
			return "split threshold is NaN";
	}

	/* parents precede children, so one pass in index order finds sharing */
	reached = palloc0(sizeof(bool) * (Size) ens->nnodes);
	for (t = 0; t < ens->ntrees && fault == NULL; t++)
	{
		if (reached[ens->roots[t]])
			fault = "two trees share a node";
		reached[ens->roots[t]] = true;
	}
	for (i = 0; i < ens->nnodes && fault == NULL; i++)
	{
		const TreeNode *node = &ens->nodes[i];

		if (!reached[i] || TREE_IS_LEAF(node))
			continue;
		if (reached[node->left] || reached[node->left + 1])
			fault = "a node has two parents";
		reached[node->left] = reached[node->left + 1] = true;
	}
	pfree(reached);

	return fault;
}
