/*-------------------------------------------------------------------------
 *
 * treebuild.c
 *	  The parts of histogram tree growing that boosting and forests share:
 *	  histogram building, split search, row partitioning, and turning a
 *	  grown tree into TreeEnsemble nodes.
 *
 * Histogram building is where training spends its time: for every row of
 * a node, p bin codes (one cache line, row-major) select p histogram slots
 * that receive the row's statistics.  The builders only ever build the
 * smaller child of a split and get the other by subtraction from the
 * parent, so a level costs at most half the rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "algorithms/treebuild.h"

/* Rows ahead whose codes and statistics are prefetched. */
#define HIST_PREFETCH	16

/* A (g, h) pair as one 16-byte vector, 8-byte aligned (palloc'd memory). */
typedef double PairVec __attribute__((vector_size(16), aligned(8)));

void
BuildTreeInit(BuildTree *tree)
{
	tree->capacity = 64;
	tree->nodes = palloc(sizeof(BuildNode) * tree->capacity);
	tree->nnodes = 1;
	memset(&tree->nodes[0], 0, sizeof(BuildNode));
	tree->nodes[0].left = -1;
	tree->nodes[0].value_index = -1;
}

/* Two new nodes side by side; returns the first.  May move tree->nodes. */
int32
BuildTreeAddPair(BuildTree *tree)
{
	int32		first = tree->nnodes;

	if (tree->nnodes + 2 > tree->capacity)
	{
		if (tree->capacity > PG_INT32_MAX / 4)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("tree has too many nodes")));
		tree->capacity *= 2;
		tree->nodes = repalloc(tree->nodes, sizeof(BuildNode) * tree->capacity);
	}
	memset(&tree->nodes[first], 0, 2 * sizeof(BuildNode));
	tree->nodes[first].left = -1;
	tree->nodes[first + 1].left = -1;
	tree->nodes[first].value_index = -1;
	tree->nodes[first + 1].value_index = -1;
	tree->nnodes += 2;
	return first;
}

/*
 * The pair histogram of rows[0..nrows), one version per code width.  Four
 * rows go through each feature together, so a feature's slot offset is
 * loaded once for four updates and the four adds overlap; their loads and
 * stores stay in row order, so two rows in one bin still add up.
 * Prefetching the codes and pairs of rows ahead hides the gather over a
 * sparse row list.
 */
#define HIST_PAIRS_BODY(CODE_T, codes) \
	do { \
		const uint32 *off = bins->offset; \
		int			p = bins->p; \
		int64		i = 0; \
		for (; i + 4 <= nrows; i += 4) \
		{ \
			const CODE_T *c0 = (codes) + (Size) rows[i] * p; \
			const CODE_T *c1 = (codes) + (Size) rows[i + 1] * p; \
			const CODE_T *c2 = (codes) + (Size) rows[i + 2] * p; \
			const CODE_T *c3 = (codes) + (Size) rows[i + 3] * p; \
			PairVec		g0 = *(const PairVec *) (gh + 2 * (Size) rows[i]); \
			PairVec		g1 = *(const PairVec *) (gh + 2 * (Size) rows[i + 1]); \
			PairVec		g2 = *(const PairVec *) (gh + 2 * (Size) rows[i + 2]); \
			PairVec		g3 = *(const PairVec *) (gh + 2 * (Size) rows[i + 3]); \
			if (i + HIST_PREFETCH + 4 <= nrows) \
			{ \
				for (int q = 0; q < 4; q++) \
				{ \
					int32		rp = rows[i + HIST_PREFETCH + q]; \
					__builtin_prefetch((codes) + (Size) rp * p); \
					__builtin_prefetch((codes) + (Size) rp * p + p - 1); \
					__builtin_prefetch(gh + 2 * (Size) rp); \
				} \
			} \
			for (int j = 0; j < p; j++) \
			{ \
				PairVec    *h = (PairVec *) (hist + 2 * (Size) off[j]); \
				h[c0[j]] += g0; \
				h[c1[j]] += g1; \
				h[c2[j]] += g2; \
				h[c3[j]] += g3; \
			} \
		} \
		for (; i < nrows; i++) \
		{ \
			const CODE_T *c = (codes) + (Size) rows[i] * p; \
			PairVec		g = *(const PairVec *) (gh + 2 * (Size) rows[i]); \
			for (int j = 0; j < p; j++) \
				((PairVec *) (hist + 2 * (Size) off[j]))[c[j]] += g; \
		} \
	} while (0)

void
HistBuildPairs(const TreeBins *bins, const int32 *rows, int64 nrows,
			   const double *gh, double *hist)
{
	if (bins->code_bytes == 1)
		HIST_PAIRS_BODY(uint8, bins->codes8);
	else
		HIST_PAIRS_BODY(uint16, bins->codes16);
}

#define HIST_CLASSES_BODY(CODE_T, codes) \
	do { \
		const uint32 *off = bins->offset; \
		int			p = bins->p; \
		for (int64 i = 0; i < nrows; i++) \
		{ \
			int32		r = rows[i]; \
			const CODE_T *c = (codes) + (Size) r * p; \
			double		w = wt[r]; \
			int			k = cls[r]; \
			if (i + HIST_PREFETCH < nrows) \
			{ \
				int32		rp = rows[i + HIST_PREFETCH]; \
				__builtin_prefetch((codes) + (Size) rp * p); \
				__builtin_prefetch((codes) + (Size) rp * p + p - 1); \
			} \
			for (int j = 0; j < p; j++) \
				hist[(Size) (off[j] + c[j]) * K + k] += w; \
		} \
	} while (0)

void
HistBuildClasses(const TreeBins *bins, const int32 *rows, int64 nrows,
				 const int32 *cls, const float *wt, int K, double *hist)
{
	if (bins->code_bytes == 1)
		HIST_CLASSES_BODY(uint8, bins->codes8);
	else
		HIST_CLASSES_BODY(uint16, bins->codes16);
}

/* big -= small: the larger child's histogram from its parent's. */
void
HistSubtract(double *big, const double *small, Size len)
{
	for (Size i = 0; i < len; i++)
		big[i] -= small[i];
}

static inline double
PairScore(double g, double h, double lambda)
{
	return g * g / (h + lambda);
}

/*
 * Record a candidate if it beats the best so far (strictly: ties keep the
 * earlier feature and bin, as XGBoost's SplitEntry::Update does when
 * features are visited in order).
 */
static inline void
SplitConsider(SplitChoice *best, double gain, int feature, int bin, bool default_left,
			   double lg, double lh, double rg, double rh)
{
	if (gain > best->gain)
	{
		best->found = true;
		best->gain = gain;
		best->feature = feature;
		best->bin = bin;
		best->default_left = default_left;
		best->left_g = lg;
		best->left_h = lh;
		best->right_g = rg;
		best->right_h = rh;
	}
}

/*
 * XGBoost's EnumerateSplit over one feature's value entries, forwards
 * (missing right) and, when the node has missing values there, backwards
 * (missing left).  Entries are bins in increasing code order: all of the
 * feature's bins (codes == NULL) or only those present in a small node.
 */
void
SplitScanPairs(SplitChoice *best, int j, const double *h, const int32 *codes, int ne,
			   double miss_g, double miss_h, double sum_g, double sum_h,
			   double lambda, double min_child_weight, bool missing_to_larger)
{
	double		parent = PairScore(sum_g, sum_h, lambda);
	double		gl = 0.0;
	double		hl = 0.0;
	bool		has_miss = miss_h > 0.0;
	int			e;

	(void) miss_g;

	/* forward: entries 0..e left, missing right */
	for (e = 0; e < ne - (has_miss ? 0 : 1); e++)
	{
		double		gr;
		double		hr;

		gl += h[2 * e];
		hl += h[2 * e + 1];
		gr = sum_g - gl;
		hr = sum_h - hl;
		if (hl >= min_child_weight && hr >= min_child_weight)
		{
			double		gain = PairScore(gl, hl, lambda) + PairScore(gr, hr, lambda) - parent;
			bool		dl = false;

			if (missing_to_larger && !has_miss)
				dl = hl >= hr;
			SplitConsider(best, gain, j, codes ? codes[e] : e, dl, gl, hl, gr, hr);
		}
	}

	/* backward: entries e..ne-1 right, missing left */
	if (has_miss)
	{
		double		gr = 0.0;
		double		hr = 0.0;

		for (e = ne - 1; e >= 0; e--)
		{
			gr += h[2 * e];
			hr += h[2 * e + 1];
			gl = sum_g - gr;
			hl = sum_h - hr;
			if (hl >= min_child_weight && hr >= min_child_weight)
			{
				double		gain = PairScore(gl, hl, lambda) + PairScore(gr, hr, lambda) - parent;

				SplitConsider(best, gain, j, e == 0 ? -1 : (codes ? codes[e - 1] : e - 1),
							  true, gl, hl, gr, hr);
			}
		}
	}
}

/* Number of non-empty entries, up to 2: fewer means a constant feature. */
static int
NonEmptyBins(const double *h, int nb, int stride, int stat, double miss_w)
{
	int			used = miss_w > 0.0 ? 1 : 0;

	for (int b = 0; b < nb && used < 2; b++)
		if (h[(Size) stride * b + stat] > 0.0)
			used++;
	return used;
}

void
SplitFindPairs(const TreeBins *bins, const double *hist,
			   const int32 *features, int nfeat, int nonconstant_needed,
			   double sum_g, double sum_h, double lambda,
			   double min_child_weight, bool missing_to_larger,
			   SplitChoice *best)
{
	int			nonconstant = 0;

	for (int fi = 0; fi < nfeat; fi++)
	{
		int			j = features[fi];
		int			nb = bins->nbins[j];
		const double *h = hist + 2 * (Size) bins->offset[j];
		double		miss_g = bins->has_missing[j] ? h[2 * nb] : 0.0;
		double		miss_h = bins->has_missing[j] ? h[2 * nb + 1] : 0.0;

		if (nonconstant_needed > 0 && NonEmptyBins(h, nb, 2, 1, miss_h) < 2)
			continue;
		SplitScanPairs(best, j, h, NULL, nb, miss_g, miss_h, sum_g, sum_h,
					   lambda, min_child_weight, missing_to_larger);
		if (nonconstant_needed > 0 && ++nonconstant >= nonconstant_needed)
			break;
	}
}

static inline double
SumSquares(const double *c, int K, double *total)
{
	double		s = 0.0;
	double		t = 0.0;

	for (int k = 0; k < K; k++)
	{
		s += c[k] * c[k];
		t += c[k];
	}
	*total = t;
	return s;
}

/*
 * Gini over one feature's entries: after each entry (and before the
 * first), the missing values going right and, when the node has some,
 * left; with none, missing go with the heavier child as in scikit-learn.
 * scratch holds 2K doubles.
 */
void
SplitScanClasses(SplitChoice *best, int j, const double *h, const int32 *codes, int ne,
				 const double *miss, int K, const double *node_counts,
				 double min_weight, double *scratch, double *left_counts,
				 double *right_counts)
{
	double		W;
	double		parent = SumSquares(node_counts, K, &W) / W;
	double	   *cl = scratch;
	double	   *lt = scratch + K;
	double		wm = 0.0;

	if (miss)
		SumSquares(miss, K, &wm);
	memset(cl, 0, sizeof(double) * K);
	for (int e = -1; e < ne; e++)
	{
		if (e >= 0)
			for (int k = 0; k < K; k++)
				cl[k] += h[(Size) K * e + k];

		/* side 0: missing right; side 1: missing left */
		for (int side = 0; side < (wm > 0.0 ? 2 : 1); side++)
		{
			double		wl;
			double		wr = 0.0;
			double		sl;
			double		sr = 0.0;
			double		gain;

			for (int k = 0; k < K; k++)
			{
				double		r;

				lt[k] = cl[k] + (side ? miss[k] : 0.0);
				r = node_counts[k] - lt[k];
				sr += r * r;
				wr += r;
			}
			wl = W - wr;
			if (wl < min_weight || wr < min_weight || wl <= 0.0 || wr <= 0.0)
				continue;
			sl = SumSquares(lt, K, &wl);
			gain = sl / wl + sr / wr - parent;
			if (gain > best->gain)
			{
				bool		dl = side == 1 || (wm <= 0.0 && wl >= wr);
				int			bin = e < 0 ? -1 : (codes ? codes[e] : e);

				SplitConsider(best, gain, j, bin, dl, 0.0, wl, 0.0, wr);
				for (int k = 0; k < K; k++)
				{
					left_counts[k] = lt[k];
					right_counts[k] = node_counts[k] - lt[k];
				}
			}
		}
	}
}

void
SplitFindClasses(const TreeBins *bins, const double *hist, int K,
				 const int32 *features, int nfeat, int nonconstant_needed,
				 const double *node_counts, double min_weight,
				 SplitChoice *best, double *left_counts,
				 double *right_counts, double *scratch)
{
	int			nonconstant = 0;

	for (int fi = 0; fi < nfeat; fi++)
	{
		int			j = features[fi];
		int			nb = bins->nbins[j];
		const double *h = hist + (Size) K * bins->offset[j];
		const double *miss = bins->has_missing[j] ? h + (Size) K * nb : NULL;

		if (nonconstant_needed > 0)
		{
			double		wm = 0.0;
			int			used;

			if (miss)
				SumSquares(miss, K, &wm);
			used = wm > 0.0 ? 1 : 0;
			for (int b = 0; b < nb && used < 2; b++)
			{
				double		t;

				SumSquares(h + (Size) K * b, K, &t);
				if (t > 0.0)
					used++;
			}
			if (used < 2)
				continue;
		}
		SplitScanClasses(best, j, h, NULL, nb, miss, K, node_counts, min_weight,
						 scratch, left_counts, right_counts);
		if (nonconstant_needed > 0 && ++nonconstant >= nonconstant_needed)
			break;
	}
}

#define PARTITION_BODY(CODE_T, colcodes) \
	do { \
		const CODE_T *col = (colcodes) + (Size) feature * bins->n; \
		for (int64 i = begin; i < end; i++) \
		{ \
			int32		r = rows[i]; \
			int			c = col[r]; \
			bool		left = (c <= bin) | (dl & (c == miss)); \
			rows[nl] = r; \
			scratch[nr] = r; \
			nl += left; \
			nr += !left; \
		} \
	} while (0)

/*
 * Stable, so each node's rows stay in increasing order and the histogram
 * sweeps read the code matrix forwards.
 */
int64
PartitionRows(const TreeBins *bins, int32 *rows, int64 begin, int64 end,
			  int feature, int bin, bool default_left, int32 *scratch)
{
	int64		nl = begin;
	int64		nr = 0;
	/* the missing code is above every value bin, so never "c <= bin" */
	int			miss = bins->has_missing[feature] ? bins->nbins[feature] : -1;
	bool		dl = default_left;

	if (bins->code_bytes == 1)
		PARTITION_BODY(uint8, bins->colcodes8);
	else
		PARTITION_BODY(uint16, bins->colcodes16);
	memcpy(rows + nl, scratch, sizeof(int32) * nr);
	return nl - begin;
}

int32
BuildTreeLeafOfRow(const TreeBins *bins, const BuildTree *tree, int64 i)
{
	int32		id = 0;

	while (tree->nodes[id].left >= 0)
	{
		const BuildNode *nd = &tree->nodes[id];
		int			c = TreeBinsCode(bins, i, nd->feature);
		bool		left;

		if (bins->has_missing[nd->feature] && c == bins->nbins[nd->feature])
			left = nd->default_left;
		else
			left = c <= nd->bin;
		id = left ? nd->left : nd->left + 1;
	}
	return id;
}

void
EnsembleBuilderInit(EnsembleBuilder *eb, TreeEnsembleKind kind,
					TreeObjective objective, int nfeatures,
					int noutputs, int nvalues)
{
	TreeEnsemble *ens = palloc0(sizeof(TreeEnsemble));

	ens->kind = kind;
	ens->objective = objective;
	ens->nfeatures = nfeatures;
	ens->noutputs = noutputs;
	ens->nvalues = nvalues;
	eb->cap_trees = 16;
	eb->cap_nodes = 1024;
	eb->cap_leaves = 512;
	ens->roots = palloc(sizeof(int32) * eb->cap_trees);
	ens->tree_output = palloc(sizeof(int32) * eb->cap_trees);
	ens->nodes = palloc(sizeof(TreeNode) * eb->cap_nodes);
	ens->cover = palloc(sizeof(double) * eb->cap_nodes);
	ens->gain = palloc(sizeof(double) * eb->cap_nodes);
	ens->leaf_values = nvalues > 1 ?
		palloc(sizeof(double) * (Size) eb->cap_leaves * nvalues) : NULL;
	ens->base_score = palloc0(sizeof(double) * noutputs);
	eb->ens = ens;
}

/* Grow the ensemble's arrays for `nodes` more nodes and one more tree. */
static void
EnsembleBuilderReserve(EnsembleBuilder *eb, int64 nodes)
{
	TreeEnsemble *ens = eb->ens;

	if ((int64) ens->nnodes + nodes > PG_INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tree ensemble has too many nodes")));
	if (ens->ntrees + 1 > eb->cap_trees)
	{
		eb->cap_trees *= 2;
		ens->roots = repalloc(ens->roots, sizeof(int32) * eb->cap_trees);
		ens->tree_output = repalloc(ens->tree_output, sizeof(int32) * eb->cap_trees);
	}
	if (ens->nnodes + nodes > eb->cap_nodes)
	{
		while (ens->nnodes + nodes > eb->cap_nodes)
			eb->cap_nodes *= 2;
		ens->nodes = repalloc(ens->nodes, sizeof(TreeNode) * eb->cap_nodes);
		ens->cover = repalloc(ens->cover, sizeof(double) * eb->cap_nodes);
		ens->gain = repalloc(ens->gain, sizeof(double) * eb->cap_nodes);
	}
	if (ens->nleaves + nodes > eb->cap_leaves)
	{
		while (ens->nleaves + nodes > eb->cap_leaves)
			eb->cap_leaves *= 2;
		if (ens->nvalues > 1)
			ens->leaf_values = repalloc(ens->leaf_values,
										sizeof(double) * (Size) eb->cap_leaves * ens->nvalues);
	}
}

/*
 * Copy the reachable part of a grown tree breadth-first: a node's slot is
 * its place in the queue, so children reserved together land side by side
 * and always after their parent.
 */
void
EnsembleBuilderAddTree(EnsembleBuilder *eb, const TreeBins *bins,
					   const BuildTree *tree, int32 output,
					   const double *values)
{
	TreeEnsemble *ens;
	int32	   *queue = palloc(sizeof(int32) * tree->nnodes);
	int32		head = 0;
	int32		tail = 0;
	int32		root;

	EnsembleBuilderReserve(eb, tree->nnodes);
	ens = eb->ens;
	root = ens->nnodes;
	queue[tail++] = 0;
	while (head < tail)
	{
		const BuildNode *bn = &tree->nodes[queue[head]];
		int32		slot = root + head;
		TreeNode   *tn = &ens->nodes[slot];

		head++;
		ens->cover[slot] = bn->sum_h;
		if (bn->left >= 0)
		{
			tn->value = TreeBinsThreshold(bins, bn->feature, bn->bin);
			tn->split = (uint32) bn->feature | (bn->default_left ? TREE_DEFAULT_LEFT : 0);
			tn->left = root + tail;
			ens->gain[slot] = bn->gain;
			queue[tail++] = bn->left;
			queue[tail++] = bn->left + 1;
		}
		else
		{
			int32		leaf = ens->nleaves++;

			tn->value = bn->value;
			tn->split = 0;
			tn->left = -1 - leaf;
			ens->gain[slot] = 0.0;
			if (ens->nvalues > 1)
				memcpy(ens->leaf_values + (Size) leaf * ens->nvalues,
					   values + (Size) bn->value_index * ens->nvalues,
					   sizeof(double) * ens->nvalues);
		}
	}
	ens->nnodes = root + tail;
	ens->roots[ens->ntrees] = root;
	ens->tree_output[ens->ntrees] = output;
	ens->ntrees++;
	pfree(queue);
}

void
EnsembleBuilderTruncate(EnsembleBuilder *eb, int ntrees)
{
	TreeEnsemble *ens = eb->ens;
	int32		nleaves = 0;

	if (ntrees >= ens->ntrees)
		return;
	ens->nnodes = ens->roots[ntrees];
	ens->ntrees = ntrees;
	for (int32 i = 0; i < ens->nnodes; i++)
		if (TREE_IS_LEAF(&ens->nodes[i]))
			nleaves++;
	ens->nleaves = nleaves;
}
