/*-------------------------------------------------------------------------
 *
 * test_gbdt.c
 *	  Unit tests of the histogram tree builders: binning (treebins.c),
 *	  boosting (gbdt.c) and forests (forest.c).
 *
 * Known answers: a step learned by one stump, XOR at depth 2, a planted
 * interaction (y = x0 * x1) that depth 2 learns and depth 1 cannot, missing values routed by a
 * learned default direction, separable softmax, forests that fit their
 * training data, early stopping, reproducible sampling, thresholds that
 * separate the training values, the flat bin block re-attached, option
 * errors, and the first two trees of a small regression against XGBoost
 * 1.7.4 node by node (splits, default directions, gains, covers, leaves).
 *
 * The tests predict with a small local walk of the ensemble, so they do
 * not depend on trees.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "algorithms/gbdt.h"
#include "algorithms/rng.h"
#include "algorithms/treebuild.h"
#include "tap.h"

/* Raw outputs of row i of column-major X (n rows) into out[noutputs]. */
static void
Predict(const TreeEnsemble *ens, const double *X, int64 n, int64 i, double *out)
{
	for (int k = 0; k < ens->noutputs; k++)
		out[k] = ens->kind == TREES_BOOSTED ? ens->base_score[k] : 0.0;
	for (int t = 0; t < ens->ntrees; t++)
	{
		const TreeNode *nd = &ens->nodes[ens->roots[t]];

		while (!TREE_IS_LEAF(nd))
		{
			double		x = X[(Size) (nd->split & TREE_FEATURE_MASK) * n + i];
			bool		left = isnan(x) ? (nd->split & TREE_DEFAULT_LEFT) != 0 : x < nd->value;

			nd = &ens->nodes[left ? nd->left : nd->left + 1];
		}
		if (ens->nvalues > 1)
			for (int k = 0; k < ens->nvalues; k++)
				out[k] += ens->leaf_values[(Size) TREE_LEAF_NUMBER(nd) * ens->nvalues + k];
		else
			out[ens->tree_output[t]] += nd->value;
	}
	if (ens->kind == TREES_FOREST)
		for (int k = 0; k < ens->noutputs; k++)
			out[k] /= ens->ntrees;
}

static double
Predict1(const TreeEnsemble *ens, const double *X, int64 n, int64 i)
{
	double		out[16];

	Predict(ens, X, n, i, out);
	return out[0];
}

static int
ArgMax(const double *v, int K)
{
	int			best = 0;

	for (int k = 1; k < K; k++)
		if (v[k] > v[best])
			best = k;
	return best;
}

static bool
SameEnsemble(const TreeEnsemble *a, const TreeEnsemble *b)
{
	if (a->ntrees != b->ntrees || a->nnodes != b->nnodes || a->nleaves != b->nleaves)
		return false;
	for (int i = 0; i < a->nnodes; i++)
		if (a->nodes[i].value != b->nodes[i].value || a->nodes[i].split != b->nodes[i].split ||
			a->nodes[i].left != b->nodes[i].left || a->cover[i] != b->cover[i] ||
			a->gain[i] != b->gain[i])
			return false;
	return memcmp(a->roots, b->roots, sizeof(int32) * a->ntrees) == 0;
}

/* Structural soundness, as TreeEnsembleValidate will check it. */
static bool
Sound(const TreeEnsemble *ens)
{
	int			leaves = 0;

	for (int i = 0; i < ens->nnodes; i++)
	{
		const TreeNode *nd = &ens->nodes[i];

		if (TREE_IS_LEAF(nd))
		{
			if (TREE_LEAF_NUMBER(nd) != leaves)
				return false;
			leaves++;
		}
		else if (nd->left <= i || nd->left + 1 >= ens->nnodes ||
				 (int) (nd->split & TREE_FEATURE_MASK) >= ens->nfeatures)
			return false;
	}
	return leaves == ens->nleaves;
}

static void
TestStep(void)
{
	int			n = 100;
	double	   *X = palloc(sizeof(double) * n);
	double	   *y = palloc(sizeof(double) * n);
	TreeBins   *bins;
	GbdtOptions o;
	TreeEnsemble *ens;
	bool		exact = true;

	for (int i = 0; i < n; i++)
	{
		X[i] = i;
		y[i] = i < 37 ? 2.0 : 12.0;
	}
	bins = TreeBinsBuild(X, n, 1, 256);
	GbdtDefaultOptions(&o);
	o.n_estimators = 1;
	o.max_depth = 1;
	o.learning_rate = 1.0;
	o.reg_lambda = 0.0;
	ens = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	tap_ok(ens->ntrees == 1 && ens->nnodes == 3 && ens->nleaves == 2 && Sound(ens),
		   "step: one stump");
	tap_ok(ens->nodes[0].value == 37.0 && (ens->nodes[0].split & TREE_FEATURE_MASK) == 0,
		   "step: threshold x < 37 (got %g)", ens->nodes[0].value);
	for (int i = 0; i < n; i++)
		exact &= fabs(Predict1(ens, X, n, i) - y[i]) < 1e-12;
	tap_ok(exact, "step: learned exactly");
	tap_ok(fabs(ens->base_score[0] - 8.3) < 1e-12, "step: base score is the mean of y");
	tap_ok(ens->cover[0] == 100 && ens->cover[1] == 37 && ens->cover[2] == 63,
		   "step: cover is the hessian sum");
}

static void
TestXor(void)
{
	/* cells (x0, x1) with unequal counts, so the first split gains */
	int			counts[4] = {40, 20, 30, 10};
	int			n = 100;
	double	   *X = palloc(sizeof(double) * 2 * n);
	double	   *y = palloc(sizeof(double) * n);
	TreeBins   *bins;
	GbdtOptions o;
	TreeEnsemble *ens;
	bool		exact = true;
	int			i = 0;

	for (int c = 0; c < 4; c++)
		for (int r = 0; r < counts[c]; r++, i++)
		{
			X[i] = c / 2;
			X[n + i] = c % 2;
			y[i] = (c / 2) ^ (c % 2);
		}
	bins = TreeBinsBuild(X, n, 2, 256);
	GbdtDefaultOptions(&o);
	o.n_estimators = 1;
	o.max_depth = 2;
	o.learning_rate = 1.0;
	o.reg_lambda = 0.0;
	o.min_child_weight = 0.0;
	ens = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	for (i = 0; i < n; i++)
		exact &= fabs(Predict1(ens, X, n, i) - y[i]) < 1e-12;
	tap_ok(exact && ens->nleaves == 4, "xor: learned exactly by one depth-2 tree");
}

static void
TestInteraction(void)
{
	int			n = 4000;
	int			p = 3;
	double	   *X = palloc(sizeof(double) * p * n);
	double	   *y = palloc(sizeof(double) * n);
	AifRng		rng;
	TreeBins   *bins;
	GbdtOptions o;
	double		sse[2] = {0, 0};
	double		sst = 0;
	double		mean = 0;
	double		imp[3] = {0, 0, 0};

	AifRngSeed(&rng, 7);
	for (int i = 0; i < n; i++)
	{
		for (int j = 0; j < p; j++)
			X[j * n + i] = AifRngDouble(&rng) * 2 - 1;
		y[i] = X[i] * X[n + i];
		mean += y[i] / n;
	}
	bins = TreeBinsBuild(X, n, p, 256);
	for (int d = 1; d <= 2; d++)
	{
		TreeEnsemble *ens;

		GbdtDefaultOptions(&o);
		o.n_estimators = 100;
		o.max_depth = d;
		ens = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
		for (int i = 0; i < n; i++)
		{
			double		e = Predict1(ens, X, n, i) - y[i];

			sse[d - 1] += e * e;
		}
		if (d == 2)
			for (int t = 0; t < ens->nnodes; t++)
				if (!TREE_IS_LEAF(&ens->nodes[t]))
					imp[ens->nodes[t].split & TREE_FEATURE_MASK] += ens->gain[t];
	}
	for (int i = 0; i < n; i++)
		sst += (y[i] - mean) * (y[i] - mean);
	tap_ok(1 - sse[1] / sst > 0.95, "interaction: depth 2 learns it (R^2 %.4f)", 1 - sse[1] / sst);
	tap_ok(1 - sse[0] / sst < 0.1, "interaction: depth 1 cannot (R^2 %.4f)", 1 - sse[0] / sst);
	tap_ok(imp[2] < 0.01 * (imp[0] + imp[1]), "interaction: the noise column has little gain");
}

/*
 * Missing values that carry signal: rows with x missing behave like the
 * low (left) side, resp. the high (right) side; the learned default
 * direction must send NaN there.
 */
static void
TestMissing(void)
{
	int			n = 1000;

	for (int side = 0; side < 2; side++)
	{
		double	   *X = palloc(sizeof(double) * n);
		double	   *y = palloc(sizeof(double) * n);
		TreeBins   *bins;
		GbdtOptions o;
		TreeEnsemble *ens;
		double		nan = NAN;
		double		pn;

		for (int i = 0; i < n; i++)
		{
			if (i % 4 == 0)
			{
				X[i] = NAN;
				y[i] = side;
			}
			else
			{
				X[i] = i % 100;
				y[i] = X[i] < 50 ? 0 : 1;
			}
		}
		bins = TreeBinsBuild(X, n, 1, 256);
		GbdtDefaultOptions(&o);
		o.objective = TREE_LOGISTIC;
		o.n_estimators = 20;
		o.max_depth = 1;
		ens = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
		pn = Predict1(ens, &nan, 1, 0);
		tap_ok(((ens->nodes[0].split & TREE_DEFAULT_LEFT) != 0) == (side == 0) &&
			   ens->nodes[0].value == 50.0,
			   "missing: default direction %s learned", side == 0 ? "left" : "right");
		tap_ok(side == 0 ? pn < -2 : pn > 2, "missing: NaN predicted as class %d (margin %.3f)",
			   side, pn);
	}
}

static void
TestSoftmax(void)
{
	int			n = 600;
	int			p = 2;
	double	   *X = palloc(sizeof(double) * p * n);
	double	   *y = palloc(sizeof(double) * n);
	AifRng		rng;
	TreeBins   *bins;
	GbdtOptions o;
	TreeEnsemble *ens;
	int			right = 0;
	bool		outputs = true;

	AifRngSeed(&rng, 11);
	for (int i = 0; i < n; i++)
	{
		X[i] = AifRngDouble(&rng) * 3;
		X[n + i] = AifRngDouble(&rng);
		y[i] = floor(X[i]);
	}
	bins = TreeBinsBuild(X, n, p, 256);
	GbdtDefaultOptions(&o);
	o.objective = TREE_SOFTMAX;
	o.nclasses = 3;
	o.n_estimators = 10;
	ens = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	for (int i = 0; i < n; i++)
	{
		double		out[3];

		Predict(ens, X, n, i, out);
		right += ArgMax(out, 3) == (int) y[i];
	}
	for (int t = 0; t < ens->ntrees; t++)
		outputs &= ens->tree_output[t] == t % 3;
	tap_ok(ens->ntrees == 30 && ens->noutputs == 3 && ens->nvalues == 1 && outputs && Sound(ens),
		   "softmax: 3 trees a round, one per class");
	tap_ok(right == n, "softmax: separable classes learned (%d of %d)", right, n);
	tap_ok(fabs(ens->base_score[0] - log(1.0 / 3)) < 0.2, "softmax: base score is the log prior");
}

static void
TestForest(void)
{
	int			n = 500;
	int			p = 4;
	double	   *X = palloc(sizeof(double) * p * n);
	double	   *y = palloc(sizeof(double) * n);
	double	   *yr = palloc(sizeof(double) * n);
	AifRng		rng;
	TreeBins   *bins;
	ForestOptions o;
	TreeEnsemble *ens;
	int			right = 0;
	bool		exact = true;
	bool		sums = true;
	double		sse = 0;

	AifRngSeed(&rng, 3);
	for (int i = 0; i < n; i++)
	{
		for (int j = 0; j < p; j++)
			X[j * n + i] = AifRngDouble(&rng);
		y[i] = ((X[i] > 0.5) ^ (X[n + i] > 0.5)) + (X[2 * n + i] > 0.8 ? 1 : 0);
		yr[i] = 10 * X[i] + (X[n + i] > 0.3 ? 5 : 0);
	}
	bins = TreeBinsBuild(X, n, p, 1024);

	/* one tree, no bootstrap, all features: fits the training rows */
	ForestDefaultOptions(&o);
	o.nclasses = 3;
	o.n_estimators = 1;
	o.bootstrap = false;
	ens = ForestFit(bins, y, &o);
	for (int i = 0; i < n; i++)
	{
		double		out[3];

		Predict(ens, X, n, i, out);
		exact &= out[(int) y[i]] == 1.0;
	}
	tap_ok(exact && Sound(ens) && ens->kind == TREES_FOREST &&
		   ens->objective == TREE_CLASS_PROBABILITY && ens->nvalues == 3,
		   "forest: a full tree fits its training classes");

	/* a forest: class frequencies that sum to one, good accuracy */
	o.n_estimators = 50;
	o.bootstrap = true;
	o.max_features = 0.5;
	o.seed = 5;
	ens = ForestFit(bins, y, &o);
	for (int i = 0; i < n; i++)
	{
		double		out[3];

		Predict(ens, X, n, i, out);
		sums &= fabs(out[0] + out[1] + out[2] - 1.0) < 1e-9;
		right += ArgMax(out, 3) == (int) y[i];
	}
	tap_ok(sums, "forest: class probabilities sum to 1");
	tap_ok(right > 0.97 * n, "forest: training accuracy %d of %d", right, n);
	tap_ok(ens->cover[ens->roots[0]] == n && ens->gain[ens->roots[0]] > 0,
		   "forest: root cover is the bootstrap weight");

	/* regression: one full tree fits; a forest is close */
	ForestDefaultOptions(&o);
	o.n_estimators = 1;
	o.bootstrap = false;
	ens = ForestFit(bins, yr, &o);
	exact = true;
	for (int i = 0; i < n; i++)
		exact &= fabs(Predict1(ens, X, n, i) - yr[i]) < 1e-9;
	tap_ok(exact && ens->objective == TREE_SQUARED_ERROR && ens->nvalues == 1,
		   "forest: a full regression tree fits its training targets");
	o.n_estimators = 30;
	o.bootstrap = true;
	o.min_samples_leaf = 3;
	ens = ForestFit(bins, yr, &o);
	for (int i = 0; i < n; i++)
	{
		double		e = Predict1(ens, X, n, i) - yr[i];

		sse += e * e;
	}
	tap_ok(sqrt(sse / n) < 0.6, "forest: regression rmse %.3f", sqrt(sse / n));

	/* a stump: the split a stump must find on the step */
	o.n_estimators = 1;
	o.bootstrap = false;
	o.max_depth = 1;
	o.min_samples_leaf = 1;
	ens = ForestFit(bins, yr, &o);
	tap_ok(ens->nnodes == 3 && (ens->nodes[0].split & TREE_FEATURE_MASK) == 0,
		   "forest: max_depth 1 gives a stump on the strongest feature");
}

static void
TestEarlyStopping(void)
{
	int			n = 2000;
	int			nv = 500;
	double	   *X = palloc(sizeof(double) * n);
	double	   *y = palloc(sizeof(double) * n);
	double	   *Xv = palloc(sizeof(double) * nv);
	double	   *yv = palloc(sizeof(double) * nv);
	AifRng		rng;
	TreeBins   *bins;
	GbdtOptions o;
	GbdtFitInfo info;
	TreeEnsemble *ens;
	double		loss = 0;

	AifRngSeed(&rng, 13);
	for (int i = 0; i < n; i++)
	{
		X[i] = AifRngDouble(&rng);
		y[i] = X[i] + (AifRngDouble(&rng) - 0.5);
	}
	for (int i = 0; i < nv; i++)
	{
		Xv[i] = AifRngDouble(&rng);
		yv[i] = Xv[i] + (AifRngDouble(&rng) - 0.5);
	}
	bins = TreeBinsBuild(X, n, 1, 256);
	GbdtDefaultOptions(&o);
	o.n_estimators = 200;
	o.early_stopping_rounds = 5;
	ens = GbdtFit(bins, y, &o, Xv, nv, yv, &info);
	for (int i = 0; i < nv; i++)
	{
		double		e = Predict1(ens, Xv, nv, i) - yv[i];

		loss += e * e;
	}
	loss = sqrt(loss / nv);
	tap_ok(info.best_round < 50 && info.n_rounds == info.best_round &&
		   ens->ntrees == info.best_round && Sound(ens),
		   "early stopping: truncated to the best round (%d)", info.best_round);
	tap_ok(fabs(loss - info.best_valid_loss) < 1e-9,
		   "early stopping: the kept trees give the best validation rmse");
}

static void
TestSampling(void)
{
	int			n = 3000;
	int			p = 5;
	double	   *X = palloc(sizeof(double) * p * n);
	double	   *y = palloc(sizeof(double) * n);
	AifRng		rng;
	TreeBins   *bins;
	GbdtOptions o;
	ForestOptions fo;
	TreeEnsemble *a;
	TreeEnsemble *b;
	TreeEnsemble *c;

	AifRngSeed(&rng, 17);
	for (int i = 0; i < n; i++)
	{
		double		s = 0;

		for (int j = 0; j < p; j++)
		{
			X[j * n + i] = AifRngDouble(&rng);
			s += X[j * n + i] * (j + 1);
		}
		y[i] = s > 7.5 ? 1 : 0;
	}
	bins = TreeBinsBuild(X, n, p, 64);
	GbdtDefaultOptions(&o);
	o.objective = TREE_LOGISTIC;
	o.n_estimators = 10;
	o.subsample = 0.5;
	o.colsample_bytree = 0.6;
	o.seed = 99;
	a = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	b = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	o.seed = 100;
	c = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	tap_ok(SameEnsemble(a, b), "sampling: boosting with one seed is reproducible");
	tap_ok(!SameEnsemble(a, c), "sampling: another seed gives other trees");
	tap_ok(a->cover[a->roots[0]] < 0.26 * n, "sampling: subsample 0.5 uses half the rows");

	ForestDefaultOptions(&fo);
	fo.nclasses = 2;
	fo.n_estimators = 5;
	fo.max_features = 0.4;
	fo.seed = 1;
	a = ForestFit(bins, y, &fo);
	b = ForestFit(bins, y, &fo);
	fo.seed = 2;
	c = ForestFit(bins, y, &fo);
	tap_ok(SameEnsemble(a, b) && !SameEnsemble(a, c),
		   "sampling: forests are reproducible by seed");
}

/* Every training value lies in its bin: bounds[code] <= x < bounds[code + 1]. */
static void
TestBins(void)
{
	int64		n = 250000;		/* above the sketch's sample size */
	int			p = 3;
	double	   *X = palloc(sizeof(double) * p * n);
	AifRng		rng;
	TreeBins   *bins;
	bool		ok = true;
	bool		missing_ok = true;
	const void *data;
	Size		bytes;
	TreeBins   *copy;
	void	   *block;

	AifRngSeed(&rng, 19);
	for (int64 i = 0; i < n; i++)
	{
		X[i] = AifRngDouble(&rng) * 1000 - 500;
		X[n + i] = (i % 10 == 0) ? NAN : floor(AifRngDouble(&rng) * 20);
		X[2 * n + i] = exp(AifRngDouble(&rng) * 20);
	}
	bins = TreeBinsBuild(X, n, p, 256);
	tap_ok(bins->nbins[0] <= 256 && bins->nbins[0] > 200 && bins->nbins[1] == 20 &&
		   bins->has_missing[1] && !bins->has_missing[0] && bins->code_bytes == 1,
		   "bins: quantile bins, distinct values, a missing bin");
	for (int j = 0; j < p; j++)
		for (int64 i = 0; i < n; i++)
		{
			double		x = X[j * n + i];
			int			code = TreeBinsCode(bins, i, j);

			if (isnan(x))
			{
				missing_ok &= code == bins->nbins[j];
				continue;
			}
			ok &= code < bins->nbins[j] &&
				x < TreeBinsThreshold(bins, j, code) &&
				(code == 0 || !(x < TreeBinsThreshold(bins, j, code - 1)));
		}
	tap_ok(ok, "bins: thresholds separate the training values exactly");
	tap_ok(missing_ok, "bins: NaN has the missing code");
	tap_ok(TreeBinsMemory(n, p, 256) >= bins->hdr->bytes, "bins: TreeBinsMemory is an upper bound");

	/* the flat block copied and re-attached gives the same fit */
	TreeBinsFlat(bins, &data, &bytes);
	block = palloc(bytes);
	memcpy(block, data, bytes);
	copy = TreeBinsAttach(block, bytes);
	{
		double	   *y = palloc(sizeof(double) * n);
		GbdtOptions o;

		for (int64 i = 0; i < n; i++)
			y[i] = X[i] > 0 ? 1 : 0;
		GbdtDefaultOptions(&o);
		o.n_estimators = 3;
		o.max_depth = 3;
		tap_ok(TreeBinsRows(copy) == n && TreeBinsFeatures(copy) == p &&
			   SameEnsemble(GbdtFit(bins, y, &o, NULL, 0, NULL, NULL),
							GbdtFit(copy, y, &o, NULL, 0, NULL, NULL)),
			   "bins: TreeBinsFlat -> TreeBinsAttach fits the same");
	}
	SHIM_TRY();
	TreeBinsAttach(block, bytes - 16);
	SHIM_END_TRY();
	tap_ok(shim_error_raised, "bins: a truncated block is refused");

	/*
	 * Subsets (cross-validation folds): every row in order is the same
	 * matrix; every third row keeps each row's codes and the cuts.
	 */
	{
		int64	   *all = palloc(sizeof(int64) * n);
		int64	   *third = palloc(sizeof(int64) * n);
		int64		m = 0;
		double	   *y = palloc(sizeof(double) * n);
		double	   *ysub = palloc(sizeof(double) * n);
		GbdtOptions o;
		TreeBins   *same;
		TreeBins   *sub;
		bool		codes_ok = true;

		for (int64 i = 0; i < n; i++)
		{
			all[i] = i;
			y[i] = X[i] > 0 ? 1 : 0;
			if (i % 3 == 1)
			{
				ysub[m] = y[i];
				third[m++] = i;
			}
		}
		same = TreeBinsSubset(bins, all, n);
		sub = TreeBinsSubset(bins, third, m);
		for (int j = 0; j < p; j++)
		{
			codes_ok &= sub->nbins[j] == bins->nbins[j] &&
				TreeBinsThreshold(sub, j, 0) == TreeBinsThreshold(bins, j, 0);
			for (int64 r = 0; r < m; r++)
				codes_ok &= TreeBinsCode(sub, r, j) == TreeBinsCode(bins, third[r], j) &&
					sub->codes8[r * p + j] == bins->codes8[third[r] * p + j];
		}
		GbdtDefaultOptions(&o);
		o.n_estimators = 3;
		o.max_depth = 3;
		tap_ok(SameEnsemble(GbdtFit(bins, y, &o, NULL, 0, NULL, NULL),
							GbdtFit(same, y, &o, NULL, 0, NULL, NULL)),
			   "bins: a subset of every row in order fits the same");
		tap_ok(TreeBinsRows(sub) == m && codes_ok,
			   "bins: a subset keeps its rows' codes (both layouts) and the cuts");
		tap_ok(Sound(GbdtFit(sub, ysub, &o, NULL, 0, NULL, NULL)),
			   "bins: a subset fits a sound ensemble");
		SHIM_TRY();
		third[0] = n;
		TreeBinsSubset(bins, third, 1);
		SHIM_END_TRY();
		tap_ok(shim_error_raised, "bins: a subset row out of range is refused");
	}
}

/*
 * The first two trees of a small regression against XGBoost 1.7.4, node by
 * node in preorder (left subtree first).  Produced with /usr/bin/python3
 * and Debian's python3-xgboost 1.7.4:
 *
 *	n = 200; X[i] = (i % 7, NaN if i % 9 == 0 else (3i) % 11, (5i) % 4)
 *	y[i] = 0.5 x0^2 + (3 if x1 > 5 else 1.5 if x1 missing else 0) + x2
 *	       + ((7i) % 13) * 0.1
 *	xgb.train({'tree_method': 'hist', 'nthread': 1, 'max_depth': 3,
 *	           'eta': 0.3, 'reg_lambda': 1, 'min_child_weight': 1,
 *	           'base_score': mean(y), 'objective': 'reg:squarederror',
 *	           'max_bin': 256}, DMatrix(X, y, missing=nan), 2)
 *	get_dump(dump_format='json', with_stats=True), walked in preorder.
 *
 * Rows: {leaf, feature, threshold, default_left, gain, cover} for splits,
 * {leaf, 0, 0, 0, value, cover} for leaves.  Splits, directions and covers
 * must be equal; gains and leaf values agree to XGBoost's float32
 * gradients (relative 1e-5, absolute 1e-6).
 */
typedef struct XgbNode
{
	int			leaf;
	int			feature;
	double		threshold;
	int			default_left;
	double		gain_or_value;
	double		cover;
} XgbNode;

static const XgbNode xgb_tree0[] = {
	{0, 0, 4, 0, 5798.38672, 200},
	{0, 0, 3, 0, 307.322998, 116},
	{0, 1, 6, 0, 112.325684, 87},
	{1, 0, 0, 0, -2.03308225, 41},
	{1, 0, 0, 0, -1.27333403, 46},
	{0, 1, 6, 1, 42.4982071, 29},
	{1, 0, 0, 0, -0.814305961, 16},
	{1, 0, 0, 0, -0.0863464326, 13},
	{0, 0, 6, 0, 978.181152, 84},
	{0, 0, 5, 0, 210.571411, 56},
	{1, 0, 0, 0, 0.518255174, 28},
	{1, 0, 0, 0, 1.69860017, 28},
	{1, 0, 0, 0, 3.31032443, 28}
};

static const XgbNode xgb_tree1[] = {
	{0, 0, 4, 0, 2917.24805, 200},
	{0, 0, 3, 0, 151.266113, 116},
	{0, 2, 2, 0, 88.7307129, 87},
	{1, 0, 0, 0, -1.473634, 44},
	{1, 0, 0, 0, -0.82599318, 43},
	{0, 2, 2, 0, 24.8939896, 29},
	{1, 0, 0, 0, -0.633928597, 14},
	{1, 0, 0, 0, -0.0811061934, 15},
	{0, 0, 6, 0, 493.580322, 84},
	{0, 0, 5, 0, 106.252228, 56},
	{1, 0, 0, 0, 0.368139893, 28},
	{1, 0, 0, 0, 1.20659184, 28},
	{0, 1, 6, 0, 6.96533203, 28},
	{1, 0, 0, 0, 1.85573685, 15},
	{1, 0, 0, 0, 2.75006342, 13}
};

/* Compare the tree at node id with ref[*pos...] in preorder. */
static bool
MatchXgb(const TreeEnsemble *ens, int id, const XgbNode *ref, int nref, int *pos)
{
	const TreeNode *nd = &ens->nodes[id];
	const XgbNode *r;
	bool		same;

	if (*pos >= nref)
		return false;
	r = &ref[(*pos)++];
	if (TREE_IS_LEAF(nd) != (r->leaf == 1) || fabs(ens->cover[id] - r->cover) > 1e-4)
		return false;
	if (TREE_IS_LEAF(nd))
		return fabs(nd->value - r->gain_or_value) < 1e-6;
	same = (int) (nd->split & TREE_FEATURE_MASK) == r->feature &&
		nd->value == r->threshold &&
		((nd->split & TREE_DEFAULT_LEFT) != 0) == (r->default_left == 1) &&
		fabs(ens->gain[id] - r->gain_or_value) < 1e-5 * Max(1, fabs(r->gain_or_value));
	return same && MatchXgb(ens, nd->left, ref, nref, pos) &&
		MatchXgb(ens, nd->left + 1, ref, nref, pos);
}

static void
TestAgainstXgboost(void)
{
	int			n = 200;
	double	   *X = palloc(sizeof(double) * 3 * n);
	double	   *y = palloc(sizeof(double) * n);
	TreeBins   *bins;
	GbdtOptions o;
	TreeEnsemble *ens;
	int			pos;

	for (int i = 0; i < n; i++)
	{
		X[i] = i % 7;
		X[n + i] = i % 9 == 0 ? NAN : (i * 3) % 11;
		X[2 * n + i] = (i * 5) % 4;
		y[i] = 0.5 * X[i] * X[i] +
			(i % 9 == 0 ? 1.5 : (X[n + i] > 5 ? 3.0 : 0.0)) + X[2 * n + i] +
			((i * 7) % 13) * 0.1;
	}
	bins = TreeBinsBuild(X, n, 3, 256);
	GbdtDefaultOptions(&o);
	o.n_estimators = 2;
	o.max_depth = 3;
	ens = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	tap_ok(fabs(ens->base_score[0] - 9.8715000000000011) < 1e-12, "xgboost: same base score");
	pos = 0;
	tap_ok(MatchXgb(ens, ens->roots[0], xgb_tree0, lengthof(xgb_tree0), &pos) &&
		   pos == lengthof(xgb_tree0),
		   "xgboost: first tree matches node by node");
	pos = 0;
	tap_ok(MatchXgb(ens, ens->roots[1], xgb_tree1, lengthof(xgb_tree1), &pos) &&
		   pos == lengthof(xgb_tree1),
		   "xgboost: second tree matches node by node");
}

static void
TestGamma(void)
{
	int			n = 100;
	double	   *X = palloc(sizeof(double) * n);
	double	   *y = palloc(sizeof(double) * n);
	TreeBins   *bins;
	GbdtOptions o;
	TreeEnsemble *ens;

	for (int i = 0; i < n; i++)
	{
		X[i] = i;
		y[i] = (i < 50 ? 0.0 : 1.0) + (i % 2) * 0.01;
	}
	bins = TreeBinsBuild(X, n, 1, 256);
	GbdtDefaultOptions(&o);
	o.n_estimators = 1;
	o.max_depth = 3;
	o.gamma = 1.0;
	ens = GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	tap_ok(ens->nnodes == 3 && ens->nodes[0].value == 50.0,
		   "gamma: weak splits pruned, the strong one kept");
}

static void
TestErrors(void)
{
	double		X[4] = {1, 2, 3, 4};
	double		y[4] = {0, 1, 0, 2};
	TreeBins   *bins = TreeBinsBuild(X, 4, 1, 256);
	GbdtOptions o;
	ForestOptions fo;

	GbdtDefaultOptions(&o);
	o.max_depth = 0;
	SHIM_TRY();
	GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "errors: max_depth 0 refused (%s)", shim_error.message);

	GbdtDefaultOptions(&o);
	o.objective = TREE_LOGISTIC;
	SHIM_TRY();
	GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "errors: label 2 refused for logistic (%s)", shim_error.message);

	GbdtDefaultOptions(&o);
	o.early_stopping_rounds = 3;
	SHIM_TRY();
	GbdtFit(bins, y, &o, NULL, 0, NULL, NULL);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "errors: early stopping without validation rows refused");

	ForestDefaultOptions(&fo);
	fo.nclasses = 2;
	SHIM_TRY();
	ForestFit(bins, y, &fo);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "errors: class 2 of 2 refused by the forest");

	SHIM_TRY();
	TreeBinsBuild(X, 4, 1, 1);
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
		   "errors: max_bin 1 refused");
}

int
main(void)
{
	TestStep();
	TestXor();
	TestInteraction();
	TestMissing();
	TestSoftmax();
	TestForest();
	TestEarlyStopping();
	TestSampling();
	TestBins();
	TestAgainstXgboost();
	TestGamma();
	TestErrors();
	return tap_done();
}
