/*-------------------------------------------------------------------------
 *
 * test_trees.c
 *	  Unit tests of tree-ensemble serving (src/algorithms/trees.c):
 *	  predictions of hand-built ensembles (a stump, a depth-2 tree, a
 *	  boosted softmax ensemble, a forest with class-frequency leaves), NaN
 *	  routing both ways, the output links, TreeSHAP against brute-force
 *	  Shapley values, SHAP additivity on random ensembles and rows with
 *	  missing values, a tree deeper than the walk's stack buffer, gain
 *	  importance, the detection of corrupted structures, and the time of
 *	  prediction with 100 trees of depth 6.
 *
 * The brute-force reference enumerates every coalition S of features and
 * takes v(S) = E[f(x) | x_S] as TreeSHAP defines it: at a split on a
 * feature in S follow x, otherwise average the two children weighted by
 * their cover.  The Shapley value is then the weighted sum of marginal
 * contributions over all S; it shares no code with the implementation.
 * (While developing, the TreeSHAP values were also checked once against
 * XGBoost's pred_contribs on a 20-tree logistic model with 10% missing
 * values: equal to float precision, 6e-7; the suite does not call Python.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "algorithms/trees.h"
#include "tap.h"

#define MAX_NODES	(1 << 17)
#define MAX_TREES	256
#define MAX_OUT		4

/* An ensemble under construction, with room for everything. */
typedef struct Builder
{
	TreeEnsemble ens;
	int32		roots[MAX_TREES];
	int32		tree_output[MAX_TREES];
	TreeNode   *nodes;
	double	   *cover;
	double	   *gain;
	double	   *leaf_values;
	double		base_score[MAX_OUT];
} Builder;

static void
BuilderInit(Builder *b, TreeEnsembleKind kind, TreeObjective objective,
			int nfeatures, int noutputs, int nvalues)
{
	memset(b, 0, sizeof(Builder));
	b->nodes = palloc0(sizeof(TreeNode) * MAX_NODES);
	b->cover = palloc0(sizeof(double) * MAX_NODES);
	b->gain = palloc0(sizeof(double) * MAX_NODES);
	b->leaf_values = palloc0(sizeof(double) * MAX_NODES * MAX_OUT);
	b->ens.kind = kind;
	b->ens.objective = objective;
	b->ens.nfeatures = nfeatures;
	b->ens.noutputs = noutputs;
	b->ens.nvalues = nvalues;
	b->ens.roots = b->roots;
	b->ens.tree_output = b->tree_output;
	b->ens.nodes = b->nodes;
	b->ens.cover = b->cover;
	b->ens.gain = b->gain;
	b->ens.leaf_values = nvalues > 1 ? b->leaf_values : NULL;
	b->ens.base_score = b->base_score;
}

static void
BuilderFree(Builder *b)
{
	pfree(b->nodes);
	pfree(b->cover);
	pfree(b->gain);
	pfree(b->leaf_values);
}

/* Start a tree; returns its root's index. */
static int
NewTree(Builder *b, int output)
{
	int			t = b->ens.ntrees++;

	b->roots[t] = b->ens.nnodes++;
	b->tree_output[t] = output;
	return b->roots[t];
}

/* Make node i a split; returns the left child's index (right is +1). */
static int
SetSplit(Builder *b, int i, int feature, double threshold, bool default_left,
		 double gain)
{
	int			l = b->ens.nnodes;

	b->ens.nnodes += 2;
	b->nodes[i].value = threshold;
	b->nodes[i].split = (uint32) feature | (default_left ? TREE_DEFAULT_LEFT : 0);
	b->nodes[i].left = l;
	b->gain[i] = gain;
	return l;
}

/* Make node i a leaf with one value (vals == NULL) or nvalues values. */
static void
SetLeaf(Builder *b, int i, double value, const double *vals, double cover)
{
	int			leaf = b->ens.nleaves++;

	b->nodes[i].value = value;
	b->nodes[i].split = 0;
	b->nodes[i].left = -1 - leaf;
	b->cover[i] = cover;
	if (vals != NULL)
		memcpy(b->leaf_values + (Size) leaf * b->ens.nvalues, vals,
			   sizeof(double) * b->ens.nvalues);
}

/* Covers of internal nodes as the sums of their children's. */
static double
FillCover(Builder *b, int i)
{
	if (TREE_IS_LEAF(&b->nodes[i]))
		return b->cover[i];
	b->cover[i] = FillCover(b, b->nodes[i].left) +
		FillCover(b, b->nodes[i].left + 1);
	return b->cover[i];
}

/*
 * A random subtree at node i: splits on random features (repeats on one
 * path are likely with few features), random default sides, leaves with
 * random values and covers, a few of them zero.
 */
static void
RandomSubtree(Builder *b, TestRng *rng, int i, int depth, int maxdepth)
{
	if (depth == maxdepth || (depth > 0 && rng_uniform(rng) < 0.2))
	{
		double		vals[MAX_OUT];
		double		cover = rng_uniform(rng) < 0.1 ? 0.0 : 0.1 + 2.0 * rng_uniform(rng);
		int			k;

		for (k = 0; k < b->ens.nvalues; k++)
			vals[k] = rng_normal(rng);
		SetLeaf(b, i, rng_normal(rng), b->ens.nvalues > 1 ? vals : NULL, cover);
	}
	else
	{
		int			f = (int) (rng_uniform(rng) * b->ens.nfeatures);
		int			l = SetSplit(b, i, f, 0.8 * rng_normal(rng),
								 rng_uniform(rng) < 0.5, rng_uniform(rng));

		RandomSubtree(b, rng, l, depth + 1, maxdepth);
		RandomSubtree(b, rng, l + 1, depth + 1, maxdepth);
	}
}

static void
RandomEnsemble(Builder *b, TestRng *rng, TreeEnsembleKind kind,
			   TreeObjective objective, int nfeatures, int noutputs,
			   int nvalues, int ntrees, int maxdepth)
{
	int			t;
	int			k;

	BuilderInit(b, kind, objective, nfeatures, noutputs, nvalues);
	for (t = 0; t < ntrees; t++)
	{
		int			root = NewTree(b, nvalues == 1 ? t % noutputs : 0);

		RandomSubtree(b, rng, root, 0, maxdepth);
		FillCover(b, root);
	}
	for (k = 0; k < noutputs; k++)
		b->base_score[k] = kind == TREES_BOOSTED ? rng_normal(rng) : 0.0;
}

static void
RandomRow(TestRng *rng, int p, double nan_rate, double *x)
{
	int			j;

	for (j = 0; j < p; j++)
		x[j] = rng_uniform(rng) < nan_rate ? NAN : rng_normal(rng);
}

/* ---- references sharing no code with trees.c ---- */

static double
LeafValue(const TreeEnsemble *ens, const TreeNode *node, int output)
{
	if (ens->nvalues == 1)
		return node->value;
	return ens->leaf_values[(Size) TREE_LEAF_NUMBER(node) * ens->nvalues + output];
}

static int
GoLeft(const TreeNode *node, double v)
{
	if (isnan(v))
		return (node->split & TREE_DEFAULT_LEFT) != 0;
	return v < node->value;
}

/*
 * E[tree(x) | x_S]: follow x at splits on features in mask, else average
 * the children by cover (halves when the parent's cover is zero, as the
 * implementation does).
 */
static double
CondExp(const TreeEnsemble *ens, int i, const double *x, unsigned mask, int output)
{
	const TreeNode *node = &ens->nodes[i];
	int			f;
	double		w;

	if (TREE_IS_LEAF(node))
		return LeafValue(ens, node, output);
	f = (int) (node->split & TREE_FEATURE_MASK);
	if (mask & (1u << f))
		return CondExp(ens, GoLeft(node, x[f]) ? node->left : node->left + 1,
					   x, mask, output);
	w = ens->cover[i];
	if (w > 0)
		return ens->cover[node->left] / w * CondExp(ens, node->left, x, mask, output) +
			ens->cover[node->left + 1] / w * CondExp(ens, node->left + 1, x, mask, output);
	return 0.5 * CondExp(ens, node->left, x, mask, output) +
		0.5 * CondExp(ens, node->left + 1, x, mask, output);
}

/* v(S) of the whole ensemble for output k. */
static double
EnsembleCondExp(const TreeEnsemble *ens, const double *x, unsigned mask, int output)
{
	double		s = 0.0;
	int			t;

	for (t = 0; t < ens->ntrees; t++)
		if (ens->nvalues > 1 || ens->tree_output[t] == output)
			s += CondExp(ens, ens->roots[t], x, mask, output);
	if (ens->kind == TREES_FOREST)
		s /= ens->ntrees;
	return ens->base_score[output] + s;
}

/* Shapley values by enumerating all 2^M coalitions (M <= 10). */
static void
BruteShap(const TreeEnsemble *ens, const double *x, int output, double *phi)
{
	int			M = ens->nfeatures;
	unsigned	nsets = 1u << M;
	double	   *v = palloc(sizeof(double) * nsets);
	double		fact[16];
	unsigned	S;
	int			j;

	fact[0] = 1.0;
	for (j = 1; j <= M; j++)
		fact[j] = fact[j - 1] * j;
	for (S = 0; S < nsets; S++)
		v[S] = EnsembleCondExp(ens, x, S, output);
	for (j = 0; j < M; j++)
	{
		double		s = 0.0;

		for (S = 0; S < nsets; S++)
		{
			int			size;

			if (S & (1u << j))
				continue;
			size = __builtin_popcount(S);
			s += fact[size] * fact[M - size - 1] / fact[M] *
				(v[S | (1u << j)] - v[S]);
		}
		phi[j] = s;
	}
	phi[M] = v[0];
	pfree(v);
}

/* Prediction by the obvious recursion-free walk, one tree at a time. */
static void
RefPredict(const TreeEnsemble *ens, const double *x, double *out)
{
	int			k;
	int			t;

	for (k = 0; k < ens->noutputs; k++)
		out[k] = 0.0;
	for (t = 0; t < ens->ntrees; t++)
	{
		const TreeNode *node = &ens->nodes[ens->roots[t]];

		while (!TREE_IS_LEAF(node))
		{
			double		v = x[node->split & TREE_FEATURE_MASK];

			node = &ens->nodes[GoLeft(node, v) ? node->left : node->left + 1];
		}
		for (k = 0; k < ens->noutputs; k++)
			if (ens->nvalues > 1)
				out[k] += LeafValue(ens, node, k);
			else if (ens->tree_output[t] == k)
				out[k] += node->value;
	}
	for (k = 0; k < ens->noutputs; k++)
		out[k] = ens->base_score[k] +
			(ens->kind == TREES_FOREST ? out[k] / ens->ntrees : out[k]);
}

static double
Sum(const double *a, int n)
{
	double		s = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		s += a[i];
	return s;
}

/* ---- the tests ---- */

static void
TestStump(void)
{
	Builder		b;
	double		x[2];
	double		out;
	double		phi[3];
	int			l;

	BuilderInit(&b, TREES_BOOSTED, TREE_SQUARED_ERROR, 2, 1, 1);
	b.base_score[0] = 0.5;
	l = SetSplit(&b, NewTree(&b, 0), 1, 0.5, false, 7.0);
	SetLeaf(&b, l, -1.0, NULL, 3.0);
	SetLeaf(&b, l + 1, 2.0, NULL, 1.0);
	FillCover(&b, 0);
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "stump: valid");

	x[0] = 100.0;
	x[1] = 0.2;
	TreeEnsemblePredictRaw(&b.ens, x, &out);
	tap_ok(out == -0.5, "stump: x < threshold goes left (%g)", out);
	x[1] = 0.5;
	TreeEnsemblePredictRaw(&b.ens, x, &out);
	tap_ok(out == 2.5, "stump: x == threshold goes right (%g)", out);
	x[1] = NAN;
	TreeEnsemblePredictRaw(&b.ens, x, &out);
	tap_ok(out == 2.5, "stump: NaN goes right by default (%g)", out);
	x[0] = NAN;
	x[1] = -INFINITY;
	TreeEnsemblePredictRaw(&b.ens, x, &out);
	tap_ok(out == -0.5, "stump: -inf goes left, NaN elsewhere ignored (%g)", out);

	/* a leaf's split field is not read, whatever it holds */
	b.nodes[l + 1].split = 0xffffffffu;
	x[1] = 0.7;
	TreeEnsemblePredictRaw(&b.ens, x, &out);
	tap_ok(out == 2.5 && TreeEnsembleValidate(&b.ens) == NULL,
		   "stump: garbage in a leaf's split field is ignored");
	b.nodes[l + 1].split = 0;

	b.nodes[0].split |= TREE_DEFAULT_LEFT;
	x[1] = NAN;
	TreeEnsemblePredictRaw(&b.ens, x, &out);
	tap_ok(out == -0.5, "stump: NaN goes left when the split says so (%g)", out);
	x[1] = 0.7;
	TreeEnsemblePredictRaw(&b.ens, x, &out);
	tap_ok(out == 2.5, "stump: default-left does not change known values (%g)", out);

	/* E = (3 * -1 + 1 * 2) / 4 = -0.25; phi_1 = f(x) - E - base */
	TreeEnsembleShap(&b.ens, x, 0, phi);
	tap_ok(phi[0] == 0.0 && fabs(phi[1] - 2.25) < 1e-15 &&
		   fabs(phi[2] - 0.25) < 1e-15,
		   "stump: SHAP (%g, %g, expected %g)", phi[0], phi[1], phi[2]);
	x[1] = NAN;
	TreeEnsembleShap(&b.ens, x, 0, phi);
	tap_ok(fabs(phi[1] + 0.75) < 1e-15 && fabs(phi[2] - 0.25) < 1e-15,
		   "stump: SHAP of NaN follows the default (left) side (%g)", phi[1]);

	TreeEnsembleGainImportance(&b.ens, phi);
	tap_ok(phi[0] == 0.0 && phi[1] == 7.0, "stump: gain importance");
	BuilderFree(&b);
}

static void
TestDepth2(void)
{
	Builder		b;
	double		x[3];
	double		out;
	int			l;
	int			ll;
	int			rl;
	int			i;
	static const struct
	{
		double		x0,
					x1,
					x2,
					expect;
	}			cases[] = {
		{0.0, 1.0, 9.0, 1.0},	/* left, left */
		{0.0, 2.0, 9.0, 2.0},	/* left, right */
		{0.0, NAN, 9.0, 1.0},	/* left, NaN -> default left */
		{1.0, 9.0, 2.9, 3.0},	/* right, left */
		{5.0, 9.0, 3.0, 4.0},	/* right, right */
		{5.0, 9.0, NAN, 4.0},	/* right, NaN -> default right */
		{NAN, 1.0, 1.0, 3.0},	/* root NaN -> right (default), then left */
	};

	/* f0 < 1 ? (f1 < 2 ? 1 : 2, NaN left) : (f2 < 3 ? 3 : 4, NaN right) */
	BuilderInit(&b, TREES_BOOSTED, TREE_SQUARED_ERROR, 3, 1, 1);
	l = SetSplit(&b, NewTree(&b, 0), 0, 1.0, false, 1.0);
	ll = SetSplit(&b, l, 1, 2.0, true, 2.0);
	rl = SetSplit(&b, l + 1, 2, 3.0, false, 3.0);
	SetLeaf(&b, ll, 1.0, NULL, 1.0);
	SetLeaf(&b, ll + 1, 2.0, NULL, 2.0);
	SetLeaf(&b, rl, 3.0, NULL, 3.0);
	SetLeaf(&b, rl + 1, 4.0, NULL, 4.0);
	FillCover(&b, 0);
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "depth 2: valid");
	for (i = 0; i < (int) lengthof(cases); i++)
	{
		x[0] = cases[i].x0;
		x[1] = cases[i].x1;
		x[2] = cases[i].x2;
		TreeEnsemblePredictRaw(&b.ens, x, &out);
		tap_ok(out == cases[i].expect, "depth 2: row %d -> %g (want %g)",
			   i, out, cases[i].expect);
	}
	TreeEnsembleGainImportance(&b.ens, x);
	tap_ok(x[0] == 1.0 && x[1] == 2.0 && x[2] == 3.0, "depth 2: gain importance");
	BuilderFree(&b);
}

/* Six stumps, two per class, on a boosted softmax ensemble. */
static void
TestSoftmax(void)
{
	Builder		b;
	double		x[2] = {0.3, -1.0};
	double		out[3];
	double		want[3];
	double		phi[3];
	double		mx;
	double		s;
	int			t;
	int			k;

	BuilderInit(&b, TREES_BOOSTED, TREE_SOFTMAX, 2, 3, 1);
	b.base_score[0] = 0.5;
	b.base_score[1] = 0.5;
	b.base_score[2] = 0.5;
	for (t = 0; t < 6; t++)
	{
		int			l = SetSplit(&b, NewTree(&b, t % 3), t / 3, 0.1 * t - 0.2,
								 false, 1.0);

		SetLeaf(&b, l, -0.1 * (t + 1), NULL, 1.0 + t);
		SetLeaf(&b, l + 1, 0.2 * (t + 1), NULL, 2.0);
		FillCover(&b, b.roots[t]);
	}
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "softmax: valid");
	/* trees 0-2 on x0 = 0.3 vs -0.2, -0.1, 0.0: right; 3-5 on x1 = -1: left */
	want[0] = 0.5 + 0.2 * 1 - 0.1 * 4;
	want[1] = 0.5 + 0.2 * 2 - 0.1 * 5;
	want[2] = 0.5 + 0.2 * 3 - 0.1 * 6;
	TreeEnsemblePredictRaw(&b.ens, x, out);
	tap_ok(max_rel_err(out, want, 3, 1.0) < 1e-15,
		   "softmax: raw margins (%g, %g, %g)", out[0], out[1], out[2]);
	TreeEnsembleTransform(&b.ens, out);
	mx = Max(want[0], Max(want[1], want[2]));
	for (s = 0.0, k = 0; k < 3; k++)
		s += exp(want[k] - mx);
	for (k = 0; k < 3; k++)
		want[k] = exp(want[k] - mx) / s;
	tap_ok(max_rel_err(out, want, 3, 1.0) < 1e-15 && fabs(Sum(out, 3) - 1) < 1e-15,
		   "softmax: probabilities (%g, %g, %g)", out[0], out[1], out[2]);

	for (k = 0; k < 3; k++)
	{
		double		raw[3];
		double		ref[3];

		TreeEnsemblePredictRaw(&b.ens, x, raw);
		TreeEnsembleShap(&b.ens, x, k, phi);
		BruteShap(&b.ens, x, k, ref);
		tap_ok(fabs(Sum(phi, 3) - raw[k]) < 1e-14 &&
			   max_rel_err(phi, ref, 3, 1.0) < 1e-14,
			   "softmax: SHAP of class %d adds up and matches brute force", k);
	}

	/* extreme margins must not overflow */
	out[0] = 1000.0;
	out[1] = -1000.0;
	out[2] = 999.0;
	TreeEnsembleTransform(&b.ens, out);
	tap_ok(!isnan(out[0]) && fabs(out[0] - 1.0 / (1.0 + exp(-1.0))) < 1e-15 &&
		   out[1] == 0.0, "softmax: stable at margins of +-1000");
	BuilderFree(&b);
}

static void
TestLogistic(void)
{
	Builder		b;
	double		m;

	BuilderInit(&b, TREES_BOOSTED, TREE_LOGISTIC, 1, 1, 1);
	m = 0.0;
	TreeEnsembleTransform(&b.ens, &m);
	tap_ok(m == 0.5, "logistic: margin 0 -> 0.5");
	m = 2.0;
	TreeEnsembleTransform(&b.ens, &m);
	tap_ok(fabs(m - 0.8807970779778823) < 1e-16, "logistic: margin 2 -> %.17g", m);
	m = -2.0;
	TreeEnsembleTransform(&b.ens, &m);
	tap_ok(fabs(m - 0.11920292202211755) < 1e-16, "logistic: margin -2 -> %.17g", m);
	m = 800.0;
	TreeEnsembleTransform(&b.ens, &m);
	tap_ok(m == 1.0, "logistic: margin 800 -> 1");
	m = -800.0;
	TreeEnsembleTransform(&b.ens, &m);
	tap_ok(m == 0.0, "logistic: margin -800 -> 0, not NaN");
	m = -40.0;
	TreeEnsembleTransform(&b.ens, &m);
	tap_ok(fabs(m / exp(-40.0) - 1) < 1e-15, "logistic: small probabilities keep precision");

	b.ens.objective = TREE_SQUARED_ERROR;
	m = 3.25;
	TreeEnsembleTransform(&b.ens, &m);
	tap_ok(m == 3.25, "squared error: unchanged");
	BuilderFree(&b);
}

/* Two trees with class-frequency leaves, averaged. */
static void
TestForest(void)
{
	Builder		b;
	static const double f1[3] = {1.0, 0.0, 0.0};
	static const double f2[3] = {0.0, 0.5, 0.5};
	static const double f3[3] = {0.25, 0.25, 0.5};
	static const double f4[3] = {0.0, 0.0, 1.0};
	double		x[2];
	double		out[3];
	double		want[3];
	double		phi[3];
	double		ref[3];
	int			l;
	int			k;

	BuilderInit(&b, TREES_FOREST, TREE_CLASS_PROBABILITY, 2, 3, 3);
	l = SetSplit(&b, NewTree(&b, 0), 0, 0.0, true, 5.0);
	SetLeaf(&b, l, 0, f1, 10.0);
	SetLeaf(&b, l + 1, 0, f2, 30.0);
	FillCover(&b, b.roots[0]);
	l = SetSplit(&b, NewTree(&b, 0), 1, 1.0, false, 4.0);
	SetLeaf(&b, l, 0, f3, 25.0);
	SetLeaf(&b, l + 1, 0, f4, 15.0);
	FillCover(&b, b.roots[1]);
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "forest: valid");

	x[0] = -1.0;
	x[1] = 2.0;
	TreeEnsemblePredictRaw(&b.ens, x, out);
	for (k = 0; k < 3; k++)
		want[k] = (f1[k] + f4[k]) / 2;
	tap_ok(max_rel_err(out, want, 3, 1.0) < 1e-16,
		   "forest: mean of class frequencies (%g, %g, %g)", out[0], out[1], out[2]);
	TreeEnsembleTransform(&b.ens, out);
	tap_ok(max_rel_err(out, want, 3, 1.0) < 1e-16, "forest: probabilities unchanged");

	x[0] = NAN;					/* default left */
	x[1] = NAN;					/* default right */
	TreeEnsemblePredictRaw(&b.ens, x, out);
	for (k = 0; k < 3; k++)
		want[k] = (f1[k] + f4[k]) / 2;
	tap_ok(max_rel_err(out, want, 3, 1.0) < 1e-16, "forest: NaN routing in both directions");

	x[0] = 0.5;
	x[1] = 0.5;
	TreeEnsemblePredictRaw(&b.ens, x, out);
	for (k = 0; k < 3; k++)
	{
		TreeEnsembleShap(&b.ens, x, k, phi);
		BruteShap(&b.ens, x, k, ref);
		tap_ok(fabs(Sum(phi, 3) - out[k]) < 1e-15 && max_rel_err(phi, ref, 3, 1.0) < 1e-15,
			   "forest: SHAP of class %d (%g, %g, E %g) adds up and matches brute force",
			   k, phi[0], phi[1], phi[2]);
	}
	/* class 0: E = (10/40 * 1 + 30/40 * 0 + 25/40 * .25 + 15/40 * 0) / 2 */
	TreeEnsembleShap(&b.ens, x, 0, phi);
	tap_ok(fabs(phi[2] - (0.25 + 0.15625) / 2) < 1e-16,
		   "forest: expected value is the cover-weighted mean over trees");
	TreeEnsembleGainImportance(&b.ens, phi);
	tap_ok(phi[0] == 5.0 && phi[1] == 4.0, "forest: gain importance");
	BuilderFree(&b);
}

/*
 * TreeSHAP against brute-force Shapley values on random ensembles of every
 * shape, rows with missing values included; and additivity everywhere.
 */
static void
TestShapRandom(void)
{
	static const struct
	{
		TreeEnsembleKind kind;
		TreeObjective objective;
		int			nfeatures;
		int			noutputs;
		int			nvalues;
		int			ntrees;
		int			maxdepth;
		const char *name;
	}			shapes[] = {
		{TREES_BOOSTED, TREE_SQUARED_ERROR, 1, 1, 1, 3, 4, "boosted, 1 feature"},
		{TREES_BOOSTED, TREE_SQUARED_ERROR, 3, 1, 1, 5, 5, "boosted, 3 features"},
		{TREES_BOOSTED, TREE_LOGISTIC, 6, 1, 1, 8, 6, "boosted, 6 features"},
		{TREES_BOOSTED, TREE_SOFTMAX, 5, 3, 1, 9, 7, "boosted softmax"},
		{TREES_BOOSTED, TREE_SQUARED_ERROR, 4, 1, 1, 2, 12, "boosted, deep"},
		{TREES_FOREST, TREE_SQUARED_ERROR, 6, 1, 1, 6, 8, "forest regression"},
		{TREES_FOREST, TREE_CLASS_PROBABILITY, 5, 3, 3, 6, 8, "forest classes"},
	};
	TestRng		rng;
	int			s;

	rng_seed(&rng, 20240611);
	for (s = 0; s < (int) lengthof(shapes); s++)
	{
		int			rep;
		int			p = shapes[s].nfeatures;
		int			K = shapes[s].noutputs;
		double		worst_brute = 0.0;
		double		worst_sum = 0.0;
		double		worst_pred = 0.0;

		for (rep = 0; rep < 20; rep++)
		{
			Builder		b;
			int			row;

			RandomEnsemble(&b, &rng, shapes[s].kind, shapes[s].objective, p, K,
						   shapes[s].nvalues, shapes[s].ntrees, shapes[s].maxdepth);
			if (TreeEnsembleValidate(&b.ens) != NULL)
			{
				tap_ok(false, "%s: random ensemble invalid: %s", shapes[s].name,
					   TreeEnsembleValidate(&b.ens));
				BuilderFree(&b);
				return;
			}
			for (row = 0; row < 10; row++)
			{
				double		x[8];
				double		out[MAX_OUT];
				double		ref[MAX_OUT];
				double		phi[9];
				double		bphi[9];
				int			k;

				RandomRow(&rng, p, row < 2 ? 0.0 : 0.25, x);
				TreeEnsemblePredictRaw(&b.ens, x, out);
				RefPredict(&b.ens, x, ref);
				worst_pred = Max(worst_pred, max_rel_err(out, ref, K, 1.0));
				for (k = 0; k < K; k++)
				{
					TreeEnsembleShap(&b.ens, x, k, phi);
					BruteShap(&b.ens, x, k, bphi);
					worst_sum = Max(worst_sum, fabs(Sum(phi, p + 1) - out[k]) /
									Max(fabs(out[k]), 1.0));
					worst_brute = Max(worst_brute, max_rel_err(phi, bphi, p + 1, 1.0));
				}
			}
			BuilderFree(&b);
		}
		tap_ok(worst_pred < 1e-14, "%s: predictions match the reference walk (%.1e)",
			   shapes[s].name, worst_pred);
		tap_ok(worst_sum < 1e-12, "%s: sum(phi) = prediction (worst %.1e)",
			   shapes[s].name, worst_sum);
		tap_ok(worst_brute < 1e-10, "%s: TreeSHAP = brute-force Shapley (worst %.1e)",
			   shapes[s].name, worst_brute);
	}
}

/*
 * Additivity on ensembles with more features than brute force can
 * enumerate, and the feature-sum of SHAP over outputs.
 */
static void
TestShapWide(void)
{
	TestRng		rng;
	Builder		b;
	double		worst = 0.0;
	int			row;

	rng_seed(&rng, 77);
	RandomEnsemble(&b, &rng, TREES_BOOSTED, TREE_SOFTMAX, 40, 4, 1, 100, 8);
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "wide: valid");
	for (row = 0; row < 200; row++)
	{
		double		x[40];
		double		out[4];
		double		phi[41];
		int			k;

		RandomRow(&rng, 40, 0.1, x);
		TreeEnsemblePredictRaw(&b.ens, x, out);
		for (k = 0; k < 4; k++)
		{
			TreeEnsembleShap(&b.ens, x, k, phi);
			worst = Max(worst, fabs(Sum(phi, 41) - out[k]) / Max(fabs(out[k]), 1.0));
		}
	}
	tap_ok(worst < 1e-12, "wide: 40 features, 100 trees of depth 8: sum(phi) = prediction (%.1e)",
		   worst);
	BuilderFree(&b);
}

/*
 * A chain 200 splits deep (a leaf on one side of every split, features
 * repeating), beyond the walk's stack buffer: the heap path must give the
 * same values as brute force.
 */
static void
TestShapDeep(void)
{
	TestRng		rng;
	Builder		b;
	double		worst_sum = 0.0;
	double		worst_brute = 0.0;
	int			depth = 200;
	int			node;
	int			d;
	int			row;

	rng_seed(&rng, 5);
	BuilderInit(&b, TREES_FOREST, TREE_SQUARED_ERROR, 5, 1, 1);
	for (int t = 0; t < 2; t++)
	{
		node = NewTree(&b, 0);
		for (d = 0; d < depth; d++)
		{
			int			l = SetSplit(&b, node, (int) (rng_uniform(&rng) * 5),
									 rng_normal(&rng), rng_uniform(&rng) < 0.5, 1.0);
			int			leaf = rng_uniform(&rng) < 0.5 ? l : l + 1;

			SetLeaf(&b, leaf, rng_normal(&rng), NULL, 0.1 + rng_uniform(&rng));
			node = (leaf == l) ? l + 1 : l;
		}
		SetLeaf(&b, node, rng_normal(&rng), NULL, 1.0);
		FillCover(&b, b.roots[t]);
	}
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "deep: valid");
	for (row = 0; row < 20; row++)
	{
		double		x[5];
		double		out;
		double		phi[6];
		double		bphi[6];

		RandomRow(&rng, 5, 0.2, x);
		TreeEnsemblePredictRaw(&b.ens, x, &out);
		TreeEnsembleShap(&b.ens, x, 0, phi);
		BruteShap(&b.ens, x, 0, bphi);
		worst_sum = Max(worst_sum, fabs(Sum(phi, 6) - out) / Max(fabs(out), 1.0));
		worst_brute = Max(worst_brute, max_rel_err(phi, bphi, 6, 1.0));
	}
	tap_ok(worst_sum < 1e-12 && worst_brute < 1e-10,
		   "deep: depth %d chain, sum error %.1e, brute-force error %.1e",
		   depth, worst_sum, worst_brute);
	BuilderFree(&b);
}

/* Each kind of corruption is named; the sound ensemble passes. */
static void
TestValidate(void)
{
	Builder		b;
	TestRng		rng;
	const char *fault;
	TreeNode	saved;
	int32		saved_root;
	int			internal = -1;
	int			leaf = -1;
	int			i;

	rng_seed(&rng, 99);
	RandomEnsemble(&b, &rng, TREES_BOOSTED, TREE_SOFTMAX, 4, 3, 1, 6, 4);
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "validate: sound ensemble passes");
	/* the last split and the first leaf */
	for (i = b.ens.nnodes - 1; i >= 0; i--)
	{
		if (TREE_IS_LEAF(&b.nodes[i]))
			leaf = i;
		else if (internal < 0)
			internal = i;
	}
	if (internal < 0 || leaf < 0)
	{
		tap_ok(false, "validate: test ensemble has no split");
		return;
	}

#define EXPECT_FAULT(what) \
	do { \
		fault = TreeEnsembleValidate(&b.ens); \
		tap_ok(fault != NULL, "validate: %s -> %s", what, fault ? fault : "(passed!)"); \
	} while (0)

	saved = b.nodes[internal];
	b.nodes[internal].left = internal;
	EXPECT_FAULT("child index equal to its parent");
	b.nodes[internal].left = internal - 1;
	EXPECT_FAULT("child index backwards");
	b.nodes[internal].left = 0;
	EXPECT_FAULT("child index 0");
	b.nodes[internal].left = b.ens.nnodes - 1;
	EXPECT_FAULT("right child past the end");
	b.nodes[internal].left = INT32_MAX;
	EXPECT_FAULT("child index huge");
	b.nodes[internal] = saved;
	b.nodes[internal].split = 4;
	EXPECT_FAULT("feature out of range");
	b.nodes[internal].split = 0x7fffffffu | TREE_DEFAULT_LEFT;
	EXPECT_FAULT("feature huge with default bit");
	b.nodes[internal] = saved;
	b.nodes[internal].value = NAN;
	EXPECT_FAULT("NaN threshold");
	b.nodes[internal] = saved;
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "validate: restored ensemble passes");

	saved = b.nodes[leaf];
	b.nodes[leaf].left = -1 - b.ens.nleaves;
	EXPECT_FAULT("leaf number out of range");
	b.nodes[leaf].left = INT32_MIN;
	EXPECT_FAULT("leaf number INT32_MIN");
	b.nodes[leaf] = saved;

	saved_root = b.roots[2];
	b.roots[2] = b.ens.nnodes;
	EXPECT_FAULT("root past the end");
	b.roots[2] = -1;
	EXPECT_FAULT("negative root");
	b.roots[2] = b.roots[1];
	EXPECT_FAULT("two trees sharing a root");
	b.roots[2] = b.nodes[b.roots[0]].left;
	if (!TREE_IS_LEAF(&b.nodes[b.roots[0]]))
		EXPECT_FAULT("a root that is another tree's node");
	b.roots[2] = saved_root;
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "validate: roots restored");

	b.tree_output[3] = 3;
	EXPECT_FAULT("tree output out of range");
	b.tree_output[3] = -1;
	EXPECT_FAULT("negative tree output");
	b.tree_output[3] = 0;

	b.cover[leaf] = -1.0;
	EXPECT_FAULT("negative cover");
	b.cover[leaf] = NAN;
	EXPECT_FAULT("NaN cover");
	b.cover[leaf] = INFINITY;
	EXPECT_FAULT("infinite cover");
	b.cover[leaf] = 1.0;
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "validate: cover restored");

	b.ens.nvalues = 2;
	EXPECT_FAULT("nvalues neither 1 nor noutputs");
	b.ens.nvalues = 3;
	b.ens.leaf_values = NULL;
	EXPECT_FAULT("multi-value leaves without leaf_values");
	b.ens.nvalues = 1;
	b.ens.noutputs = 0;
	EXPECT_FAULT("no outputs");
	b.ens.noutputs = 3;
	b.ens.objective = TREE_LOGISTIC;
	EXPECT_FAULT("logistic with 3 outputs");
	b.ens.objective = 9;
	EXPECT_FAULT("unknown objective");
	b.ens.objective = TREE_SOFTMAX;
	b.ens.kind = 0;
	EXPECT_FAULT("unknown kind");
	b.ens.kind = TREES_BOOSTED;
	b.ens.nfeatures = 0;
	EXPECT_FAULT("no features");
	b.ens.nfeatures = 4;
	b.ens.ntrees = 0;
	EXPECT_FAULT("no trees");
	b.ens.ntrees = 6;
	i = b.ens.nleaves;
	b.ens.nleaves = 0;
	EXPECT_FAULT("no leaves");
	b.ens.nleaves = i;
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "validate: shape restored");
	b.ens.nnodes = 0;
	EXPECT_FAULT("no nodes");
	BuilderFree(&b);

	/* a node with two parents: two splits pointing at the same pair */
	BuilderInit(&b, TREES_BOOSTED, TREE_SQUARED_ERROR, 1, 1, 1);
	i = SetSplit(&b, NewTree(&b, 0), 0, 0.0, false, 1.0);
	SetSplit(&b, i, 0, -1.0, false, 1.0);
	b.nodes[i + 1] = b.nodes[i];	/* the right child shares the left's children */
	SetLeaf(&b, b.nodes[i].left, 1.0, NULL, 1.0);
	SetLeaf(&b, b.nodes[i].left + 1, 2.0, NULL, 1.0);
	EXPECT_FAULT("a node with two parents");
	BuilderFree(&b);
#undef EXPECT_FAULT
}

static void
TestShapErrors(void)
{
	Builder		b;
	double		x[1] = {0.0};
	double		phi[2];

	BuilderInit(&b, TREES_BOOSTED, TREE_SQUARED_ERROR, 1, 1, 1);
	SetLeaf(&b, NewTree(&b, 0), 1.5, NULL, 1.0);
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "single-leaf tree: valid");
	TreeEnsembleShap(&b.ens, x, 0, phi);
	tap_ok(phi[0] == 0.0 && phi[1] == 1.5, "single-leaf tree: all in the expected value");
	SHIM_TRY();
	TreeEnsembleShap(&b.ens, x, 1, phi);
	SHIM_END_TRY();
	tap_ok(shim_error_raised, "SHAP of an output out of range is an error");
	BuilderFree(&b);
}

/* 100 trees of depth 6 over 1M rows: the per-row cost of serving. */
static void
TestSpeed(void)
{
	TestRng		rng;
	Builder		b;
	int			n = 1000000;
	int			p = 20;
	double	   *X = palloc(sizeof(double) * (Size) n * p);
	double		sum = 0.0;
	double		t0;
	double		dt;
	double		phi[21];
	int			i;

	rng_seed(&rng, 1);
	BuilderInit(&b, TREES_BOOSTED, TREE_SQUARED_ERROR, p, 1, 1);
	for (i = 0; i < 100; i++)
	{
		int			root = NewTree(&b, 0);

		/* a complete tree of depth 6, level by level */
		{
			int			level_start = root;
			int			level_n = 1;
			int			d;

			for (d = 0; d < 6; d++)
			{
				int			next_start = b.ens.nnodes;
				int			j;

				for (j = 0; j < level_n; j++)
					SetSplit(&b, level_start + j, (int) (rng_uniform(&rng) * p),
							 rng_normal(&rng), rng_uniform(&rng) < 0.5, 1.0);
				level_start = next_start;
				level_n *= 2;
			}
			for (d = 0; d < level_n; d++)
				SetLeaf(&b, level_start + d, rng_normal(&rng), NULL,
						1.0 + rng_uniform(&rng));
		}
		FillCover(&b, root);
	}
	tap_ok(TreeEnsembleValidate(&b.ens) == NULL, "speed: 100 complete trees of depth 6 valid");
	for (i = 0; i < n * p; i++)
		X[i] = rng_uniform(&rng) < 0.05 ? NAN : rng_normal(&rng);

	t0 = now_seconds();
	for (i = 0; i < n; i++)
	{
		double		out;

		TreeEnsemblePredictRaw(&b.ens, X + (Size) i * p, &out);
		sum += out;
	}
	dt = now_seconds() - t0;
	tap_diag("predict: 1M rows x 100 trees of depth 6 in %.3f s (%.0f ns/row, checksum %g)",
			 dt, dt * 1e9 / n, sum);
	tap_ok(isfinite(sum), "speed: prediction of 1M rows");

	t0 = now_seconds();
	for (i = 0; i < 2000; i++)
		TreeEnsembleShap(&b.ens, X + (Size) i * p, 0, phi);
	dt = now_seconds() - t0;
	tap_diag("shap: 2000 rows x 100 trees of depth 6 in %.3f s (%.0f us/row)",
			 dt, dt * 1e6 / 2000);
	pfree(X);
	BuilderFree(&b);
}

int
main(void)
{
	TestStump();
	TestDepth2();
	TestSoftmax();
	TestLogistic();
	TestForest();
	TestShapRandom();
	TestShapWide();
	TestShapDeep();
	TestValidate();
	TestShapErrors();
	if (getenv("AIF_TEST_QUICK") == NULL)
		TestSpeed();
	return tap_done();
}
