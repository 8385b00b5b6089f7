/*-------------------------------------------------------------------------
 *
 * forest.c
 *	  Random forests on the histogram tree builder, with scikit-learn's
 *	  RandomForestClassifier / RandomForestRegressor semantics.
 *
 * Each tree sees a bootstrap sample (the draw counts become row weights)
 * and, at each node, tries features in a fresh random order until
 * max_features of them that are not constant in the node have been
 * searched.  Classification splits by Gini impurity on per-bin class
 * weights and its leaves hold class frequencies; regression splits by
 * squared error on (w * y, w) pairs, the same histograms boosting uses,
 * and its leaves hold means.  Trees grow until pure, max_depth, or
 * min_samples_leaf (counted in bootstrap weight) stops them.
 *
 * Deep trees have many small nodes, for which a full histogram (every bin
 * of every feature) costs more than the rows themselves; below
 * FOREST_SPARSE_FRACTION of the histogram size a node is searched from
 * its rows sorted by code instead, which finds the same split.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "algorithms/gbdt.h"
#include "algorithms/rng.h"
#include "algorithms/treebuild.h"

/* Nodes with fewer rows than total_bins / this are searched sparsely. */
#define FOREST_SPARSE_FRACTION 8

void
ForestDefaultOptions(ForestOptions *opts)
{
	memset(opts, 0, sizeof(ForestOptions));
	opts->nclasses = 0;
	opts->n_estimators = FOREST_DEFAULT_N_ESTIMATORS;
	opts->max_depth = 0;
	opts->min_samples_leaf = FOREST_DEFAULT_MIN_SAMPLES_LEAF;
	opts->max_features = 1.0;
	opts->bootstrap = true;
	opts->seed = 0;
}

typedef struct ForestState
{
	const TreeBins *bins;
	const ForestOptions *opts;
	const double *y;
	int64		n;
	int			p;
	int			K;				/* classes; 0 for regression */
	int			S;				/* histogram stats per bin */
	double	   *gh;				/* regression: (w * y, w) per row */
	int32	   *cls;			/* classification: class of each row */
	float	   *wt;				/* classification: weight of each row */
	int32	   *rows;
	int64		nrows;
	int32	   *scratch;
	int32	   *perm;
	int			mtry;
	AifRng		rng;
	Size		hist_len;
	double	  **hist_pool;
	int			hist_free;
	int			hist_cap;
	int64		sparse_limit;	/* nodes with fewer rows go sparse */
	int32	   *scodes;			/* sparse search: codes of the node's rows */
	int32	   *sorder;			/* sparse search: positions by code */
	int32	   *scount;			/* sparse search: counting sort buckets */
	int32	   *ecodes;			/* sparse search: entry codes */
	double	   *estats;			/* sparse search: entry stats */
	double	   *counts;			/* per tree node: K class weights */
	int32		counts_cap;
	double	   *values;			/* per leaf: K frequencies */
	int32		nvalues;
	int32		values_cap;
	double	   *cscratch;		/* 2K */
	double	   *lcounts;
	double	   *rcounts;
} ForestState;

static double *
ForestHistGet(ForestState *st)
{
	double	   *h;

	if (st->hist_free > 0)
		h = st->hist_pool[--st->hist_free];
	else
		h = palloc(sizeof(double) * st->hist_len);
	memset(h, 0, sizeof(double) * st->hist_len);
	return h;
}

static void
ForestHistPut(ForestState *st, double *h)
{
	if (h == NULL)
		return;
	if (st->hist_free == st->hist_cap)
	{
		st->hist_cap *= 2;
		st->hist_pool = repalloc(st->hist_pool, sizeof(double *) * st->hist_cap);
	}
	st->hist_pool[st->hist_free++] = h;
}

static void
ForestHistBuild(ForestState *st, const int32 *rows, int64 m, double *hist)
{
	if (st->K > 0)
		HistBuildClasses(st->bins, rows, m, st->cls, st->wt, st->K, hist);
	else
		HistBuildPairs(st->bins, rows, m, st->gh, hist);
}

/* Room for node `id`'s class weights. */
static double *
ForestCounts(ForestState *st, int32 id)
{
	if (id >= st->counts_cap)
	{
		while (id >= st->counts_cap)
			st->counts_cap *= 2;
		st->counts = repalloc(st->counts, sizeof(double) * (Size) st->counts_cap * st->K);
	}
	return st->counts + (Size) id * st->K;
}

/*
 * The split search of a small node: per feature, its rows sorted by code
 * (a counting sort) and summed per distinct code give the non-empty bins
 * of the histogram, which the same scans as for full histograms search.
 */
static void
ForestSparseSearch(ForestState *st, const BuildNode *nd, const double *node_counts,
				   SplitChoice *best)
{
	const TreeBins *bins = st->bins;
	const int32 *rows = st->rows + nd->begin;
	int64		m = nd->end - nd->begin;
	int			S = st->S;
	int			nonconstant = 0;
	double	   *miss = st->cscratch + 2 * (Size) S;

	for (int fi = 0; fi < st->p; fi++)
	{
		int			j = st->perm[fi];
		int			missing_code = bins->has_missing[j] ? bins->nbins[j] : -1;
		int			ncodes = bins->nbins[j] + 1;
		int			ne = 0;
		bool		any_missing = false;
		int64		i;

		memset(st->scount, 0, sizeof(int32) * (ncodes + 1));
		for (i = 0; i < m; i++)
		{
			st->scodes[i] = TreeBinsCode(bins, rows[i], j);
			st->scount[st->scodes[i] + 1]++;
		}
		for (int b = 0; b < ncodes; b++)
			st->scount[b + 1] += st->scount[b];
		for (i = 0; i < m; i++)
			st->sorder[st->scount[st->scodes[i]]++] = (int32) i;
		memset(miss, 0, sizeof(double) * S);
		for (i = 0; i < m; i++)
		{
			int32		pos = st->sorder[i];
			int			code = st->scodes[pos];
			int32		r = rows[pos];
			double	   *dst;

			if (code == missing_code)
			{
				any_missing = true;
				dst = miss;
			}
			else
			{
				if (ne == 0 || st->ecodes[ne - 1] != code)
				{
					st->ecodes[ne] = code;
					memset(st->estats + (Size) ne * S, 0, sizeof(double) * S);
					ne++;
				}
				dst = st->estats + (Size) (ne - 1) * S;
			}
			if (st->K > 0)
				dst[st->cls[r]] += st->wt[r];
			else
			{
				dst[0] += st->gh[2 * (Size) r];
				dst[1] += st->gh[2 * (Size) r + 1];
			}
		}
		if (ne + (any_missing ? 1 : 0) < 2)
			continue;
		if (st->K > 0)
			SplitScanClasses(best, j, st->estats, st->ecodes, ne,
							 any_missing ? miss : NULL, st->K, node_counts,
							 st->opts->min_samples_leaf, st->cscratch,
							 st->lcounts, st->rcounts);
		else
			SplitScanPairs(best, j, st->estats, st->ecodes, ne, miss[0], miss[1],
						   nd->sum_g, nd->sum_h, 0.0, st->opts->min_samples_leaf, true);
		if (++nonconstant >= st->mtry)
			break;
	}
}

/* True when the node's rows all have one class or one target value. */
static bool
ForestNodePure(ForestState *st, const BuildNode *nd, const double *node_counts)
{
	if (st->K > 0)
	{
		int			present = 0;

		for (int k = 0; k < st->K; k++)
			if (node_counts[k] > 0.0)
				present++;
		return present <= 1;
	}
	else
	{
		double		lo = st->y[st->rows[nd->begin]];
		double		hi = lo;

		for (int64 i = nd->begin + 1; i < nd->end; i++)
		{
			double		v = st->y[st->rows[i]];

			lo = Min(lo, v);
			hi = Max(hi, v);
		}
		return lo == hi;
	}
}

/* Turn a node into a leaf: the mean, or the class frequencies. */
static void
ForestMakeLeaf(ForestState *st, BuildNode *nd, const double *node_counts)
{
	nd->left = -1;
	if (st->K == 0)
	{
		nd->value = nd->sum_g / nd->sum_h;
		return;
	}
	if (st->nvalues == st->values_cap)
	{
		st->values_cap *= 2;
		st->values = repalloc(st->values, sizeof(double) * (Size) st->values_cap * st->K);
	}
	nd->value_index = st->nvalues++;
	nd->value = 0.0;
	for (int k = 0; k < st->K; k++)
		st->values[(Size) nd->value_index * st->K + k] = node_counts[k] / nd->sum_h;
}

typedef struct ForestItem
{
	int32		node;
	double	   *hist;			/* NULL: search sparsely */
} ForestItem;

/* Whether a node may still be split (before looking at its rows). */
static bool
ForestMaySplit(const ForestState *st, const BuildNode *nd)
{
	return (st->opts->max_depth == 0 || nd->depth < st->opts->max_depth) &&
		nd->sum_h >= 2.0 * st->opts->min_samples_leaf &&
		nd->end - nd->begin >= 2;
}

/* Grow one tree on st->rows[0..nrows), depth first. */
static void
ForestGrowTree(ForestState *st, BuildTree *tree)
{
	int			cap = 64;
	ForestItem *stack = palloc(sizeof(ForestItem) * cap);
	int			top = 0;
	BuildNode  *root;
	int			K = st->K;

	BuildTreeInit(tree);
	st->nvalues = 0;
	root = &tree->nodes[0];
	root->begin = 0;
	root->end = st->nrows;
	if (K > 0)
	{
		double	   *c = ForestCounts(st, 0);

		memset(c, 0, sizeof(double) * K);
		for (int64 i = 0; i < st->nrows; i++)
			c[st->cls[st->rows[i]]] += st->wt[st->rows[i]];
		for (int k = 0; k < K; k++)
			root->sum_h += c[k];
	}
	else
	{
		for (int64 i = 0; i < st->nrows; i++)
		{
			root->sum_g += st->gh[2 * (Size) st->rows[i]];
			root->sum_h += st->gh[2 * (Size) st->rows[i] + 1];
		}
	}
	stack[0].node = 0;
	stack[0].hist = NULL;
	if (st->nrows >= st->sparse_limit && ForestMaySplit(st, root))
	{
		stack[0].hist = ForestHistGet(st);
		ForestHistBuild(st, st->rows, st->nrows, stack[0].hist);
	}
	top = 1;

	while (top > 0)
	{
		ForestItem	item = stack[--top];
		BuildNode  *nd = &tree->nodes[item.node];
		double	   *counts = K > 0 ? ForestCounts(st, item.node) : NULL;
		SplitChoice best;
		int64		nl;
		int32		c;
		BuildNode  *kid[2];
		bool		dense[2];

		CHECK_FOR_INTERRUPTS();
		if (!ForestMaySplit(st, nd) || ForestNodePure(st, nd, counts))
		{
			ForestHistPut(st, item.hist);
			ForestMakeLeaf(st, nd, counts);
			continue;
		}

		/* a fresh feature order for this node */
		for (int j = st->p - 1; j > 0; j--)
		{
			int			r = (int) AifRngBelow(&st->rng, (uint64) (j + 1));
			int32		t = st->perm[j];

			st->perm[j] = st->perm[r];
			st->perm[r] = t;
		}
		memset(&best, 0, sizeof(best));
		best.gain = -INFINITY;
		if (item.hist == NULL)
			ForestSparseSearch(st, nd, counts, &best);
		else if (K > 0)
			SplitFindClasses(st->bins, item.hist, K, st->perm, st->p, st->mtry,
							 counts, st->opts->min_samples_leaf, &best,
							 st->lcounts, st->rcounts, st->cscratch);
		else
			SplitFindPairs(st->bins, item.hist, st->perm, st->p, st->mtry,
						   nd->sum_g, nd->sum_h, 0.0, st->opts->min_samples_leaf,
						   true, &best);
		if (!best.found)
		{
			ForestHistPut(st, item.hist);
			ForestMakeLeaf(st, nd, counts);
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
		nd->gain = Max(best.gain, 0.0);
		kid[0] = &tree->nodes[c];
		kid[1] = &tree->nodes[c + 1];
		kid[0]->depth = kid[1]->depth = nd->depth + 1;
		kid[0]->begin = nd->begin;
		kid[0]->end = kid[1]->begin = nd->begin + nl;
		kid[1]->end = nd->end;
		kid[0]->sum_g = best.left_g;
		kid[0]->sum_h = best.left_h;
		kid[1]->sum_g = best.right_g;
		kid[1]->sum_h = best.right_h;
		if (K > 0)
		{
			/* make room first: ForestCounts may move st->counts */
			double	   *rc = ForestCounts(st, c + 1);
			double	   *lc = rc - K;

			memcpy(lc, st->lcounts, sizeof(double) * K);
			memcpy(rc, st->rcounts, sizeof(double) * K);
		}

		for (int s = 0; s < 2; s++)
			dense[s] = item.hist != NULL &&
				kid[s]->end - kid[s]->begin >= st->sparse_limit &&
				ForestMaySplit(st, kid[s]);

		if (top + 2 > cap)
		{
			cap *= 2;
			stack = repalloc(stack, sizeof(ForestItem) * cap);
		}
		stack[top].node = c;
		stack[top].hist = NULL;
		stack[top + 1].node = c + 1;
		stack[top + 1].hist = NULL;
		if (dense[0] || dense[1])
		{
			int			small = (kid[0]->end - kid[0]->begin) <= (kid[1]->end - kid[1]->begin) ? 0 : 1;
			double	   *sh = ForestHistGet(st);

			ForestHistBuild(st, st->rows + kid[small]->begin,
							kid[small]->end - kid[small]->begin, sh);
			HistSubtract(item.hist, sh, st->hist_len);
			stack[top + small].hist = sh;
			stack[top + 1 - small].hist = item.hist;
			for (int s = 0; s < 2; s++)
				if (!dense[s])
				{
					ForestHistPut(st, stack[top + s].hist);
					stack[top + s].hist = NULL;
				}
		}
		else
			ForestHistPut(st, item.hist);
		top += 2;
	}
	pfree(stack);
}

static void
ForestCheck(const ForestOptions *opts, const double *y, int64 n)
{
	const char *bad = NULL;

	if (opts->nclasses < 0 || opts->nclasses == 1)
		bad = "a classification forest needs at least 2 classes";
	else if (opts->n_estimators < 1)
		bad = "n_estimators must be at least 1";
	else if (opts->max_depth < 0)
		bad = "max_depth must not be negative (0 means unlimited)";
	else if (opts->min_samples_leaf < 1)
		bad = "min_samples_leaf must be at least 1";
	else if (!(opts->max_features > 0.0 && opts->max_features <= 1.0))
		bad = "max_features must be a fraction in (0, 1]";
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", bad)));
	for (int64 i = 0; i < n; i++)
	{
		double		v = y[i];

		if (!isfinite(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the target has a missing or infinite value")));
		if (opts->nclasses > 0 && (v != floor(v) || v < 0 || v >= opts->nclasses))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("forest classification needs class indexes 0 to %d, not %g",
							opts->nclasses - 1, v)));
	}
}

/*
 * The trees' rows: a bootstrap sample (n draws with replacement, counts as
 * weights, drawn rows in increasing order) or every row with weight 1.
 */
static void
ForestSampleRows(ForestState *st, uint32 *draws)
{
	int64		n = st->n;
	int64		got = 0;

	if (st->opts->bootstrap)
	{
		memset(draws, 0, sizeof(uint32) * (Size) n);
		for (int64 i = 0; i < n; i++)
			draws[AifRngBelow(&st->rng, (uint64) n)]++;
	}
	for (int64 i = 0; i < n; i++)
	{
		double		w = st->opts->bootstrap ? (double) draws[i] : 1.0;

		if (w == 0.0)
			continue;
		st->rows[got++] = (int32) i;
		if (st->K > 0)
			st->wt[i] = (float) w;
		else
		{
			st->gh[2 * i] = w * st->y[i];
			st->gh[2 * i + 1] = w;
		}
	}
	st->nrows = got;
}

TreeEnsemble *
ForestFit(const TreeBins *bins, const double *y, const ForestOptions *opts)
{
	ForestState st;
	EnsembleBuilder eb;
	uint32	   *draws = NULL;
	BuildTree	tree;
	int			K = opts->nclasses;

	ForestCheck(opts, y, bins->n);
	memset(&st, 0, sizeof(st));
	st.bins = bins;
	st.opts = opts;
	st.y = y;
	st.n = bins->n;
	st.p = bins->p;
	st.K = K;
	st.S = K > 0 ? K : 2;
	st.rows = TreeAllocHuge(sizeof(int32) * (Size) st.n);
	st.scratch = TreeAllocHuge(sizeof(int32) * (Size) st.n);
	st.perm = palloc(sizeof(int32) * st.p);
	for (int j = 0; j < st.p; j++)
		st.perm[j] = j;
	st.mtry = Max(1, (int) floor(opts->max_features * st.p + 1e-9));
	st.mtry = Min(st.mtry, st.p);
	AifRngSeed(&st.rng, opts->seed);
	st.hist_len = (Size) st.S * bins->total_bins;
	st.hist_cap = 16;
	st.hist_pool = palloc(sizeof(double *) * st.hist_cap);
	st.sparse_limit = Max(bins->total_bins / FOREST_SPARSE_FRACTION, 2);
	st.scodes = palloc(sizeof(int32) * st.sparse_limit);
	st.sorder = palloc(sizeof(int32) * st.sparse_limit);
	{
		int			maxcodes = 0;

		for (int j = 0; j < st.p; j++)
			maxcodes = Max(maxcodes, bins->nbins[j] + 1);
		st.scount = palloc(sizeof(int32) * (maxcodes + 1));
	}
	st.ecodes = palloc(sizeof(int32) * st.sparse_limit);
	st.estats = palloc(sizeof(double) * st.sparse_limit * st.S);
	st.cscratch = palloc(sizeof(double) * 3 * st.S);
	st.lcounts = palloc(sizeof(double) * Max(K, 1));
	st.rcounts = palloc(sizeof(double) * Max(K, 1));
	if (K > 0)
	{
		st.cls = TreeAllocHuge(sizeof(int32) * (Size) st.n);
		st.wt = TreeAllocHuge(sizeof(float) * (Size) st.n);
		for (int64 i = 0; i < st.n; i++)
			st.cls[i] = (int32) y[i];
		st.counts_cap = 256;
		st.counts = palloc(sizeof(double) * st.counts_cap * K);
		st.values_cap = 128;
		st.values = palloc(sizeof(double) * st.values_cap * K);
	}
	else
		st.gh = TreeAllocHuge(sizeof(double) * 2 * (Size) st.n);
	if (opts->bootstrap)
		draws = TreeAllocHuge(sizeof(uint32) * (Size) st.n);

	if (K > 0)
		EnsembleBuilderInit(&eb, TREES_FOREST, TREE_CLASS_PROBABILITY, st.p, K, K);
	else
		EnsembleBuilderInit(&eb, TREES_FOREST, TREE_SQUARED_ERROR, st.p, 1, 1);

	for (int t = 0; t < opts->n_estimators; t++)
	{
		CHECK_FOR_INTERRUPTS();
		ForestSampleRows(&st, draws);
		ForestGrowTree(&st, &tree);
		EnsembleBuilderAddTree(&eb, bins, &tree, 0, st.values);
		pfree(tree.nodes);
	}

	for (int i = 0; i < st.hist_free; i++)
		pfree(st.hist_pool[i]);
	pfree(st.hist_pool);
	pfree(st.rows);
	pfree(st.scratch);
	pfree(st.perm);
	pfree(st.scodes);
	pfree(st.sorder);
	pfree(st.scount);
	pfree(st.ecodes);
	pfree(st.estats);
	pfree(st.cscratch);
	pfree(st.lcounts);
	pfree(st.rcounts);
	if (K > 0)
	{
		pfree(st.cls);
		pfree(st.wt);
		pfree(st.counts);
		pfree(st.values);
	}
	else
		pfree(st.gh);
	if (draws)
		pfree(draws);
	return eb.ens;
}
