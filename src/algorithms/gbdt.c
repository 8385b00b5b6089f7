/*-------------------------------------------------------------------------
 *
 * gbdt.c
 *	  Gradient boosting on the histogram tree builder: XGBoost's
 *	  tree_method='hist' with depth-wise growth.
 *
 * Each round computes every row's gradient and hessian from the current
 * margins and grows one tree per output (softmax: one per class) on the
 * bin matrix.  A node's split is the best over the histogram of its rows
 * (treebuild.c); the smaller child's histogram is built, the larger one's
 * is its parent's minus it.  Splits are chosen with XGBoost's gain (no
 * 1/2 factor: the number XGBoost reports as gain), accepted when it
 * exceeds 1e-6, and after growth a split whose children are both leaves
 * and whose gain is below gamma is pruned, bottom-up, as XGBoost's prune
 * updater does.  Leaf weight is -G/(H+lambda) * learning_rate.
 *
 * Growth order does not change the tree (every decision is local to a
 * node), so nodes are grown depth-first, which keeps at most about
 * max_depth histograms alive.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "algorithms/gbdt.h"
#include "algorithms/rng.h"
#include "algorithms/treebuild.h"

/* XGBoost's kRtEps: a split must gain more than this. */
#define GBDT_MIN_SPLIT_GAIN 1e-6

/* Smallest hessian, as XGBoost clamps it for logistic and softmax. */
#define GBDT_MIN_HESSIAN	1e-16

#define GBDT_MAX_DEPTH_LIMIT 30

void
GbdtDefaultOptions(GbdtOptions *opts)
{
	memset(opts, 0, sizeof(GbdtOptions));
	opts->objective = TREE_SQUARED_ERROR;
	opts->nclasses = 0;
	opts->n_estimators = GBDT_DEFAULT_N_ESTIMATORS;
	opts->max_depth = GBDT_DEFAULT_MAX_DEPTH;
	opts->learning_rate = GBDT_DEFAULT_LEARNING_RATE;
	opts->min_child_weight = GBDT_DEFAULT_MIN_CHILD_WEIGHT;
	opts->reg_lambda = GBDT_DEFAULT_REG_LAMBDA;
	opts->gamma = GBDT_DEFAULT_GAMMA;
	opts->subsample = GBDT_DEFAULT_SUBSAMPLE;
	opts->colsample_bytree = GBDT_DEFAULT_COLSAMPLE;
	opts->early_stopping_rounds = 0;
	opts->seed = 0;
}

/* What one fit needs while growing its trees. */
typedef struct GbdtState
{
	const TreeBins *bins;
	const GbdtOptions *opts;
	int64		n;
	int			p;
	double	   *gh;				/* 2n: gradient, hessian per row */
	int32	   *rows;			/* the tree's rows, partitioned per node */
	int64		nrows;
	int32	   *scratch;
	int32	   *features;		/* the tree's columns */
	int			nfeatures;
	Size		hist_len;		/* doubles per histogram */
	double	  **hist_pool;		/* free histograms */
	int			hist_free;
	int			hist_allocated;
} GbdtState;

static double *
HistGet(GbdtState *st)
{
	if (st->hist_free > 0)
		return st->hist_pool[--st->hist_free];
	st->hist_allocated++;
	return palloc(sizeof(double) * st->hist_len);
}

static void
HistPut(GbdtState *st, double *hist)
{
	st->hist_pool[st->hist_free++] = hist;
}

typedef struct GrowItem
{
	int32		node;
	double	   *hist;			/* NULL when the node cannot split */
} GrowItem;

/*
 * Grow one tree on st->rows[0..nrows) with the gradient pairs in st->gh.
 * Nodes that will never be split (at max_depth, or too light for two
 * children) get no histogram.
 */
static void
GbdtGrowTree(GbdtState *st, BuildTree *tree)
{
	const GbdtOptions *opts = st->opts;
	GrowItem   *stack = palloc(sizeof(GrowItem) * (2 * GBDT_MAX_DEPTH_LIMIT + 4));
	int			top = 0;
	double		g = 0.0;
	double		h = 0.0;
	BuildNode  *root;

	BuildTreeInit(tree);
	for (int64 i = 0; i < st->nrows; i++)
	{
		g += st->gh[2 * (Size) st->rows[i]];
		h += st->gh[2 * (Size) st->rows[i] + 1];
	}
	root = &tree->nodes[0];
	root->begin = 0;
	root->end = st->nrows;
	root->sum_g = g;
	root->sum_h = h;
	stack[top].node = 0;
	stack[top].hist = NULL;
	if (opts->max_depth > 0 && h >= 2.0 * opts->min_child_weight)
	{
		stack[top].hist = HistGet(st);
		memset(stack[top].hist, 0, sizeof(double) * st->hist_len);
		HistBuildPairs(st->bins, st->rows, st->nrows, st->gh, stack[top].hist);
	}
	top++;

	while (top > 0)
	{
		GrowItem	item = stack[--top];
		BuildNode  *nd = &tree->nodes[item.node];
		SplitChoice best;
		int64		nl;
		int32		c;
		BuildNode  *lc;
		BuildNode  *rc;
		bool		left_smaller;
		bool		need_hist;

		CHECK_FOR_INTERRUPTS();
		if (item.hist == NULL)
			continue;
		memset(&best, 0, sizeof(best));
		best.gain = GBDT_MIN_SPLIT_GAIN;
		SplitFindPairs(st->bins, item.hist, st->features, st->nfeatures, 0,
					   nd->sum_g, nd->sum_h, opts->reg_lambda,
					   opts->min_child_weight, false, &best);
		if (!best.found)
		{
			HistPut(st, item.hist);
			continue;
		}

		nl = PartitionRows(st->bins, st->rows, nd->begin, nd->end,
						   best.feature, best.bin, best.default_left, st->scratch);
		c = BuildTreeAddPair(tree);
		nd = &tree->nodes[item.node];
		nd->left = c;
		nd->feature = best.feature;
		nd->bin = best.bin;
		nd->default_left = best.default_left;
		nd->gain = best.gain;
		lc = &tree->nodes[c];
		rc = &tree->nodes[c + 1];
		lc->depth = rc->depth = nd->depth + 1;
		lc->begin = nd->begin;
		lc->end = rc->begin = nd->begin + nl;
		rc->end = nd->end;
		lc->sum_g = best.left_g;
		lc->sum_h = best.left_h;
		rc->sum_g = best.right_g;
		rc->sum_h = best.right_h;

		need_hist = lc->depth < opts->max_depth &&
			(lc->sum_h >= 2.0 * opts->min_child_weight ||
			 rc->sum_h >= 2.0 * opts->min_child_weight);
		if (!need_hist)
		{
			HistPut(st, item.hist);
			continue;
		}

		/* the smaller child's histogram; the parent's becomes the larger's */
		{
			BuildNode  *small;
			double	   *sh = HistGet(st);
			int32		small_id;
			int32		large_id;

			left_smaller = (lc->end - lc->begin) <= (rc->end - rc->begin);
			small_id = left_smaller ? c : c + 1;
			large_id = left_smaller ? c + 1 : c;
			small = &tree->nodes[small_id];
			memset(sh, 0, sizeof(double) * st->hist_len);
			HistBuildPairs(st->bins, st->rows + small->begin,
						   small->end - small->begin, st->gh, sh);
			HistSubtract(item.hist, sh, st->hist_len);

			stack[top].node = large_id;
			stack[top].hist = item.hist;
			if (tree->nodes[large_id].sum_h < 2.0 * opts->min_child_weight)
			{
				HistPut(st, item.hist);
				stack[top].hist = NULL;
			}
			top++;
			stack[top].node = small_id;
			stack[top].hist = sh;
			if (small->sum_h < 2.0 * opts->min_child_weight)
			{
				HistPut(st, sh);
				stack[top].hist = NULL;
			}
			top++;
		}
	}
	pfree(stack);
}

/*
 * Gamma as XGBoost applies it: after growth, bottom-up, a split with two
 * leaf children and gain below gamma becomes a leaf.  Children come after
 * their parent, so one backward pass sees children first.  Then every
 * leaf gets its weight.
 */
static void
GbdtFinishTree(BuildTree *tree, const GbdtOptions *opts)
{
	for (int32 id = tree->nnodes - 1; id >= 0; id--)
	{
		BuildNode  *nd = &tree->nodes[id];

		if (nd->left >= 0 && opts->gamma > 0.0 &&
			tree->nodes[nd->left].left < 0 && tree->nodes[nd->left + 1].left < 0 &&
			nd->gain < opts->gamma)
			nd->left = -1;
	}
	for (int32 id = 0; id < tree->nnodes; id++)
	{
		BuildNode  *nd = &tree->nodes[id];

		if (nd->left < 0)
		{
			double		w = 0.0;

			if (nd->sum_h > 0.0 && nd->sum_h >= opts->min_child_weight &&
				nd->sum_h + opts->reg_lambda > 0.0)
				w = -nd->sum_g / (nd->sum_h + opts->reg_lambda);
			nd->value = w * opts->learning_rate;
		}
	}
}

/*
 * Add the tree to the training margins of output k: rows in the tree's
 * sample through their leaves' row ranges, the others (subsampling) by
 * walking their codes.
 */
static void
GbdtUpdateMargins(GbdtState *st, const BuildTree *tree, double *margin, int K, int k,
				  const bool *in_sample)
{
	int32	   *stack = palloc(sizeof(int32) * (tree->nnodes + 1));
	int			top = 0;

	stack[top++] = 0;
	while (top > 0)
	{
		const BuildNode *nd = &tree->nodes[stack[--top]];

		if (nd->left >= 0)
		{
			stack[top++] = nd->left;
			stack[top++] = nd->left + 1;
			continue;
		}
		for (int64 i = nd->begin; i < nd->end; i++)
			margin[(Size) st->rows[i] * K + k] += nd->value;
	}
	pfree(stack);
	if (in_sample != NULL)
	{
		for (int64 i = 0; i < st->n; i++)
		{
			if (in_sample[i])
				continue;
			margin[(Size) i * K + k] +=
				tree->nodes[BuildTreeLeafOfRow(st->bins, tree, i)].value;
			if ((i & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	}
}

/* The leaf of validation row i (raw values, column-major) in a grown tree. */
static const BuildNode *
GbdtLeafOfRaw(const TreeBins *bins, const BuildTree *tree, const double *X,
			  int64 nval, int64 i)
{
	const BuildNode *nd = &tree->nodes[0];

	while (nd->left >= 0)
	{
		double		x = X[(Size) nd->feature * nval + i];
		bool		left;

		if (isnan(x))
			left = nd->default_left;
		else
			left = x < TreeBinsThreshold(bins, nd->feature, nd->bin);
		nd = &tree->nodes[left ? nd->left : nd->left + 1];
	}
	return nd;
}

/* The validation loss of the margins: rmse, logloss or mlogloss. */
static double
GbdtValidLoss(TreeObjective obj, const double *margin, const double *y, int64 n, int K)
{
	double		loss = 0.0;

	for (int64 i = 0; i < n; i++)
	{
		if (obj == TREE_SQUARED_ERROR)
		{
			double		d = margin[i] - y[i];

			loss += d * d;
		}
		else if (obj == TREE_LOGISTIC)
		{
			double		pr = 1.0 / (1.0 + exp(-margin[i]));

			pr = Min(Max(pr, 1e-16), 1.0 - 1e-16);
			loss -= y[i] > 0.5 ? log(pr) : log(1.0 - pr);
		}
		else
		{
			const double *m = margin + (Size) i * K;
			double		mx = m[0];
			double		s = 0.0;
			int			c = (int) y[i];

			for (int k = 1; k < K; k++)
				mx = Max(mx, m[k]);
			for (int k = 0; k < K; k++)
				s += exp(m[k] - mx);
			loss -= Max(m[c] - mx - log(s), log(1e-16));
		}
	}
	loss /= (double) n;
	return obj == TREE_SQUARED_ERROR ? sqrt(loss) : loss;
}

/* Check the options and the targets; errors speak to the user. */
static void
GbdtCheck(const GbdtOptions *opts, const double *y, int64 n, const double *Xval,
		  int64 nval, const double *yval)
{
	const char *bad = NULL;

	if (opts->objective != TREE_SQUARED_ERROR && opts->objective != TREE_LOGISTIC &&
		opts->objective != TREE_SOFTMAX)
		elog(ERROR, "unknown boosting objective %d", (int) opts->objective);
	if (opts->objective == TREE_SOFTMAX && opts->nclasses < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("softmax needs at least 2 classes, not %d", opts->nclasses)));
	if (opts->n_estimators < 1)
		bad = "n_estimators must be at least 1";
	else if (opts->max_depth < 1 || opts->max_depth > GBDT_MAX_DEPTH_LIMIT)
		bad = "max_depth must be between 1 and 30";
	else if (!(opts->learning_rate > 0.0) || isinf(opts->learning_rate))
		bad = "learning_rate must be positive";
	else if (!(opts->min_child_weight >= 0.0) || isinf(opts->min_child_weight))
		bad = "min_child_weight must not be negative";
	else if (!(opts->reg_lambda >= 0.0) || isinf(opts->reg_lambda))
		bad = "reg_lambda must not be negative";
	else if (!(opts->gamma >= 0.0) || isinf(opts->gamma))
		bad = "gamma must not be negative";
	else if (!(opts->subsample > 0.0 && opts->subsample <= 1.0))
		bad = "subsample must be in (0, 1]";
	else if (!(opts->colsample_bytree > 0.0 && opts->colsample_bytree <= 1.0))
		bad = "colsample_bytree must be in (0, 1]";
	else if (opts->early_stopping_rounds < 0)
		bad = "early_stopping_rounds must not be negative";
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", bad)));
	if (opts->early_stopping_rounds > 0 && (Xval == NULL || yval == NULL || nval < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("early stopping needs validation rows"),
				 errhint("Set early_stopping_rounds to 0, or give a validation set.")));

	for (int pass = 0; pass < 2; pass++)
	{
		const double *t = pass == 0 ? y : yval;
		int64		m = pass == 0 ? n : (opts->early_stopping_rounds > 0 ? nval : 0);

		for (int64 i = 0; i < m; i++)
		{
			double		v = t[i];

			if (!isfinite(v))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the target has a missing or infinite value")));
			if (opts->objective == TREE_LOGISTIC && v != 0.0 && v != 1.0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("binary logistic boosting needs labels 0 and 1, not %g", v)));
			if (opts->objective == TREE_SOFTMAX &&
				(v != floor(v) || v < 0 || v >= opts->nclasses))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("softmax boosting needs class indexes 0 to %d, not %g",
								opts->nclasses - 1, v)));
		}
	}
}

/*
 * The intercepts (see gbdt.h): mean of y, log-odds of the class-1 rate,
 * log class priors; rates are kept in [1e-6, 1 - 1e-6] so a class absent
 * from training does not give an infinite margin.
 */
static void
GbdtBaseScore(const GbdtOptions *opts, const double *y, int64 n, int K, double *base)
{
	if (opts->objective == TREE_SQUARED_ERROR)
	{
		double		s = 0.0;

		for (int64 i = 0; i < n; i++)
			s += y[i];
		base[0] = s / (double) n;
	}
	else if (opts->objective == TREE_LOGISTIC)
	{
		double		s = 0.0;
		double		r;

		for (int64 i = 0; i < n; i++)
			s += y[i];
		r = Min(Max(s / (double) n, 1e-6), 1.0 - 1e-6);
		base[0] = log(r / (1.0 - r));
	}
	else
	{
		double	   *cnt = palloc0(sizeof(double) * K);

		for (int64 i = 0; i < n; i++)
			cnt[(int) y[i]] += 1.0;
		for (int k = 0; k < K; k++)
			base[k] = log(Min(Max(cnt[k] / (double) n, 1e-6), 1.0 - 1e-6));
		pfree(cnt);
	}
}

/*
 * The rows of this round's trees: all, or round(subsample * n) of them
 * chosen without replacement by selection sampling (Knuth's algorithm S),
 * which yields them in increasing order.
 */
static void
GbdtSampleRows(GbdtState *st, AifRng *rng, bool *in_sample)
{
	int64		n = st->n;

	if (in_sample == NULL)
	{
		for (int64 i = 0; i < n; i++)
			st->rows[i] = (int32) i;
		st->nrows = n;
		return;
	}
	else
	{
		int64		want = (int64) llround(st->opts->subsample * (double) n);
		int64		got = 0;

		want = Max(want, 1);
		for (int64 i = 0; i < n; i++)
		{
			bool		take = (double) (n - i) * AifRngDouble(rng) < (double) (want - got);

			in_sample[i] = take;
			if (take)
				st->rows[got++] = (int32) i;
		}
		st->nrows = got;
	}
}

/* The tree's columns: all, or round(colsample * p) by a partial shuffle. */
static void
GbdtSampleFeatures(GbdtState *st, AifRng *rng)
{
	int			p = st->p;
	int			want = (int) lround(st->opts->colsample_bytree * p);

	for (int j = 0; j < p; j++)
		st->features[j] = j;
	want = Min(Max(want, 1), p);
	if (want < p)
	{
		for (int j = 0; j < want; j++)
		{
			int			r = j + (int) AifRngBelow(rng, (uint64) (p - j));
			int32		t = st->features[j];

			st->features[j] = st->features[r];
			st->features[r] = t;
		}
		/* in column order, so ties go to the first column as in XGBoost */
		for (int a = 1; a < want; a++)
			for (int b = a; b > 0 && st->features[b - 1] > st->features[b]; b--)
			{
				int32		t = st->features[b];

				st->features[b] = st->features[b - 1];
				st->features[b - 1] = t;
			}
	}
	st->nfeatures = want;
}

/*
 * Gradient and hessian of every row for output k from the margins:
 * squared error m - y, 1; logistic p - y, p(1 - p); softmax p_k - [y = k],
 * 2 p_k (1 - p_k) (XGBoost's factor 2), from the probabilities in prob.
 */
static void
GbdtGradients(GbdtState *st, TreeObjective obj, const double *y, const double *margin,
			  const double *prob, int K, int k)
{
	double	   *gh = st->gh;
	int64		n = st->n;

	CHECK_FOR_INTERRUPTS();

	if (obj == TREE_SQUARED_ERROR)
	{
		for (int64 i = 0; i < n; i++)
		{
			gh[2 * i] = margin[i] - y[i];
			gh[2 * i + 1] = 1.0;
		}
	}
	else if (obj == TREE_LOGISTIC)
	{
		for (int64 i = 0; i < n; i++)
		{
			double		pr = 1.0 / (1.0 + exp(-margin[i]));

			gh[2 * i] = pr - y[i];
			gh[2 * i + 1] = Max(pr * (1.0 - pr), GBDT_MIN_HESSIAN);
		}
	}
	else
	{
		for (int64 i = 0; i < n; i++)
		{
			double		pr = prob[(Size) i * K + k];

			gh[2 * i] = pr - ((int) y[i] == k ? 1.0 : 0.0);
			gh[2 * i + 1] = Max(2.0 * pr * (1.0 - pr), GBDT_MIN_HESSIAN);
		}
	}
}

/* Softmax probabilities of every row from the margins, into prob. */
static void
GbdtSoftmax(const double *margin, int64 n, int K, double *prob)
{
	for (int64 i = 0; i < n; i++)
	{
		const double *m = margin + (Size) i * K;
		double	   *pr = prob + (Size) i * K;
		double		mx = m[0];
		double		s = 0.0;

		for (int k = 1; k < K; k++)
			mx = Max(mx, m[k]);
		for (int k = 0; k < K; k++)
		{
			pr[k] = exp(m[k] - mx);
			s += pr[k];
		}
		for (int k = 0; k < K; k++)
			pr[k] /= s;
	}
}

TreeEnsemble *
GbdtFit(const TreeBins *bins, const double *y, const GbdtOptions *opts,
		const double *Xval, int64 nval, const double *yval, GbdtFitInfo *info)
{
	GbdtState	st;
	EnsembleBuilder eb;
	TreeEnsemble *ens;
	int64		n = bins->n;
	int			K = opts->objective == TREE_SOFTMAX ? opts->nclasses : 1;
	bool		early = opts->early_stopping_rounds > 0;
	double	   *margin;
	double	   *prob = NULL;
	double	   *vmargin = NULL;
	bool	   *in_sample = NULL;
	AifRng		rng;
	double		best_loss = NAN;
	int			best_round = 0;
	int			round;
	BuildTree	tree;

	GbdtCheck(opts, y, n, Xval, nval, yval);

	memset(&st, 0, sizeof(st));
	st.bins = bins;
	st.opts = opts;
	st.n = n;
	st.p = bins->p;
	st.gh = TreeAllocHuge(sizeof(double) * 2 * (Size) n);
	st.rows = TreeAllocHuge(sizeof(int32) * (Size) n);
	st.scratch = TreeAllocHuge(sizeof(int32) * (Size) n);
	st.features = palloc(sizeof(int32) * st.p);
	st.hist_len = 2 * (Size) bins->total_bins;
	st.hist_pool = palloc(sizeof(double *) * (2 * GBDT_MAX_DEPTH_LIMIT + 8));
	if (opts->subsample < 1.0)
		in_sample = TreeAllocHuge(sizeof(bool) * (Size) n);
	AifRngSeed(&rng, opts->seed);

	EnsembleBuilderInit(&eb, TREES_BOOSTED, opts->objective, st.p, K, 1);
	ens = eb.ens;
	GbdtBaseScore(opts, y, n, K, ens->base_score);

	margin = TreeAllocHuge(sizeof(double) * (Size) n * K);
	for (int64 i = 0; i < n; i++)
		for (int k = 0; k < K; k++)
			margin[(Size) i * K + k] = ens->base_score[k];
	if (K > 1)
		prob = TreeAllocHuge(sizeof(double) * (Size) n * K);
	if (early)
	{
		vmargin = TreeAllocHuge(sizeof(double) * (Size) nval * K);
		for (int64 i = 0; i < nval; i++)
			for (int k = 0; k < K; k++)
				vmargin[(Size) i * K + k] = ens->base_score[k];
	}

	for (round = 1; round <= opts->n_estimators; round++)
	{
		if (K > 1)
			GbdtSoftmax(margin, n, K, prob);
		for (int k = 0; k < K; k++)
		{
			CHECK_FOR_INTERRUPTS();
			GbdtGradients(&st, opts->objective, y, margin, prob, K, k);
			GbdtSampleRows(&st, &rng, in_sample);
			GbdtSampleFeatures(&st, &rng);
			GbdtGrowTree(&st, &tree);
			GbdtFinishTree(&tree, opts);
			GbdtUpdateMargins(&st, &tree, margin, K, k, in_sample);
			if (early)
			{
				for (int64 i = 0; i < nval; i++)
					vmargin[(Size) i * K + k] +=
						GbdtLeafOfRaw(bins, &tree, Xval, nval, i)->value;
			}
			EnsembleBuilderAddTree(&eb, bins, &tree, k, NULL);
			pfree(tree.nodes);
		}
		if (early)
		{
			double		loss = GbdtValidLoss(opts->objective, vmargin, yval, nval, K);

			if (best_round == 0 || loss < best_loss)
			{
				best_loss = loss;
				best_round = round;
			}
			else if (round - best_round >= opts->early_stopping_rounds)
				break;
		}
	}

	if (early)
		EnsembleBuilderTruncate(&eb, best_round * K);
	else
		best_round = opts->n_estimators;
	ens = eb.ens;
	if (info)
	{
		info->n_rounds = best_round;
		info->best_round = best_round;
		info->best_valid_loss = early ? best_loss : NAN;
	}

	for (int i = 0; i < st.hist_free; i++)
		pfree(st.hist_pool[i]);
	pfree(st.hist_pool);
	pfree(st.gh);
	pfree(st.rows);
	pfree(st.scratch);
	pfree(st.features);
	pfree(margin);
	if (prob)
		pfree(prob);
	if (vmargin)
		pfree(vmargin);
	if (in_sample)
		pfree(in_sample);
	return ens;
}
