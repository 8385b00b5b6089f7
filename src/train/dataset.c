/*-------------------------------------------------------------------------
 *
 * dataset.c
 *	  A training source loaded into memory, for the iterative algorithms:
 *	  canonical row order, the split, imputation and standardization.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "aifactory.h"
#include "core/bigmem.h"
#include "core/prefault.h"
#include "core/threads.h"
#include "miscadmin.h"
#include "train/dataset.h"
#include "utils/memutils.h"

/* below this many values a thread's start costs more than it saves */
#define DATASET_THREAD_MIN_VALUES	(1024 * 1024)

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

Size
DatasetLoadBudget(void)
{
	return AifTrainMemoryBytes() / 2;
}

/*
 * The imputation value of one numeric column from its non-missing
 * training values (sorted in place): the mean, the median, or the most
 * frequent value (the smallest among ties, as scikit-learn).
 */
static double
impute_value(double *v, int64 n, ImputeStrategy strategy)
{
	if (strategy == IMPUTE_MEAN)
	{
		double		sum = 0;

		for (int64 i = 0; i < n; i++)
			sum += v[i];
		return sum / n;
	}
	qsort(v, n, sizeof(double), compare_double);
	if (strategy == IMPUTE_MEDIAN)
		return (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
	else
	{
		double		best = v[0];
		int64		bestrun = 0;

		for (int64 i = 0; i < n;)
		{
			int64		j = i;

			while (j < n && v[j] == v[i])
				j++;
			if (j - i > bestrun)
			{
				bestrun = j - i;
				best = v[i];
			}
			i = j;
		}
		return best;
	}
}

/*
 * Imputation values, and the NaNs of the matrices replaced by them.
 * trsum and tesum are each design column's sums over the training and the
 * test rows, as DatasetBuild added them while filling the matrices (per
 * chunk of loaded rows in row order, then the chunks' sums in chunk
 * order): a column whose sums are not NaN has no missing value, and the
 * mean of its training rows is trsum / ntrain, so such a column needs no
 * further pass over its values unless a median or mode is wanted.
 */
static void
impute(Dataset *ds, Model *model, ImputeStrategy strategy,
	   const double *trsum, const double *tesum)
{
	double	   *buf = NULL;

	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];
		double	   *tr;
		double	   *te;
		int64		n = 0;
		int64		missing = 0;

		if (f->kind != FEATURE_NUMERIC)
			continue;
		if (!isnan(trsum[f->design_offset]) && !isnan(tesum[f->design_offset]) &&
			ds->ntrain > 0 &&
			(strategy == IMPUTE_MEAN || strategy == IMPUTE_ERROR ||
			 strategy == IMPUTE_NONE))
		{
			/* nothing missing: only the value a NULL gets at prediction */
			if (strategy == IMPUTE_MEAN)
				f->impute = trsum[f->design_offset] / ds->ntrain;
			else
			{
				f->impute = NAN;
				if (strategy == IMPUTE_NONE)
					f->keep_missing = true;
			}
			continue;
		}
		tr = ds->Xtrain + (Size) f->design_offset * ds->ntrain;
		te = ds->Xtest + (Size) f->design_offset * ds->ntest;
		if (buf == NULL)
			buf = MemoryContextAllocHuge(CurrentMemoryContext,
										 sizeof(double) * Max(ds->ntrain, 1));
		for (int64 r = 0; r < ds->ntrain; r++)
		{
			if (isnan(tr[r]))
				missing++;
			else
				buf[n++] = tr[r];
		}
		for (int64 r = 0; r < ds->ntest; r++)
			if (isnan(te[r]))
				missing++;
		if (missing > 0 && strategy == IMPUTE_ERROR)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("feature \"%s\" is NULL in %lld rows", f->name, (long long) missing),
					 errhint("The model's imputation is \"error\"; choose mean, median or most_frequent, or filter the rows out.")));
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("feature \"%s\" is NULL in every training row", f->name),
					 errhint("Leave it out with features => ARRAY[...].")));
		CHECK_FOR_INTERRUPTS();
		if (strategy == IMPUTE_NONE)
		{
			/* the model routes missing values itself */
			f->impute = NAN;
			f->keep_missing = true;
			continue;
		}
		if (strategy == IMPUTE_ERROR)
		{
			/* NaN: prediction refuses a NULL too */
			f->impute = NAN;
			continue;
		}
		f->impute = impute_value(buf, n, strategy);
		if (missing == 0)
			continue;
		for (int64 r = 0; r < ds->ntrain; r++)
			if (isnan(tr[r]))
				tr[r] = f->impute;
		for (int64 r = 0; r < ds->ntest; r++)
			if (isnan(te[r]))
				te[r] = f->impute;
	}
	if (buf)
		pfree(buf);
}

/* The k-th smallest (0-based) of n values, by quickselect; v is reordered. */
static uint64
kth_smallest(uint64 *v, int64 n, int64 k)
{
	int64		lo = 0;
	int64		hi = n - 1;

	while (lo < hi)
	{
		uint64		pivot = v[lo + (hi - lo) / 2];
		int64		i = lo;
		int64		j = hi;

		while (i <= j)
		{
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
			{
				uint64		t = v[i];

				v[i] = v[j];
				v[j] = t;
				i++;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/* top bits of a split hash that bucket it while the thresholds are found */
#define SPLIT_BUCKET_BITS	12
#define SPLIT_BUCKETS		(1 << SPLIT_BUCKET_BITS)
/* classes up to which the buckets are counted per class (K x 32 kB) */
#define SPLIT_BUCKET_MAX_CLASSES 64

/*
 * The stratified split's per-class cut: in class c (of cls, n rows), the
 * quota = round(test_size * n_c) rows (at most n_c - 1) with the smallest
 * split hashes are test rows.  threshold[c] is the quota-th smallest hash;
 * ties[c] how many of the rows whose hash equals it are test rows too (the
 * first ones in row order).  Hashes are uniform, so their top bits bucket
 * them evenly: one pass counts each class's buckets, a second collects the
 * few hashes of the bucket that holds the quota-th, and a quickselect
 * among them finishes.  With many classes, each class's hashes are
 * selected among all of them.
 */
static void
stratified_thresholds(const uint64 *hash, const int *cls, int64 n, int K,
					  double test_size, uint64 *threshold, int64 *ties)
{
	int64	   *count = palloc0(sizeof(int64) * K);
	int64	   *quota = palloc0(sizeof(int64) * K);
	int64	   *before = palloc0(sizeof(int64) * K);	/* in lower buckets */
	int		   *bucket = palloc0(sizeof(int) * K);
	int64	   *size = palloc0(sizeof(int64) * K);	/* of the chosen bucket */
	uint64	  **members = palloc0(sizeof(uint64 *) * K);
	int64	   *fill = palloc0(sizeof(int64) * K);
	bool		buckets = K <= SPLIT_BUCKET_MAX_CLASSES;
	int64	   *hist = NULL;

	if (buckets)
		hist = MemoryContextAllocZero(CurrentMemoryContext,
									  sizeof(int64) * (Size) K * SPLIT_BUCKETS);
	for (int64 at = 0; at < n; at++)
	{
		count[cls[at]]++;
		if (buckets)
			hist[(Size) cls[at] * SPLIT_BUCKETS + (hash[at] >> (64 - SPLIT_BUCKET_BITS))]++;
	}
	CHECK_FOR_INTERRUPTS();
	for (int c = 0; c < K; c++)
	{
		quota[c] = Min((int64) floor(test_size * count[c] + 0.5), Max(count[c] - 1, 0));
		if (quota[c] == 0)
			continue;
		if (!buckets)
		{
			/* every hash of the class is a candidate */
			bucket[c] = -1;
			size[c] = count[c];
			continue;
		}
		for (int b = 0; b < SPLIT_BUCKETS; b++)
		{
			int64		in = hist[(Size) c * SPLIT_BUCKETS + b];

			if (before[c] + in >= quota[c])
			{
				bucket[c] = b;
				size[c] = in;
				break;
			}
			before[c] += in;
		}
	}
	for (int c = 0; c < K; c++)
		if (quota[c] > 0)
			members[c] = MemoryContextAllocHuge(CurrentMemoryContext,
												sizeof(uint64) * Max(size[c], 1));
	for (int64 at = 0; at < n; at++)
	{
		int			c = cls[at];

		if (quota[c] > 0 &&
			(bucket[c] < 0 || (int) (hash[at] >> (64 - SPLIT_BUCKET_BITS)) == bucket[c]))
			members[c][fill[c]++] = hash[at];
	}
	for (int c = 0; c < K; c++)
	{
		int64		below = before[c];

		CHECK_FOR_INTERRUPTS();
		if (quota[c] == 0)
			continue;
		/* the quota-th smallest: rows below it, enough of those at it */
		threshold[c] = kth_smallest(members[c], size[c], quota[c] - 1 - before[c]);
		for (int64 i = 0; i < size[c]; i++)
			if (members[c][i] < threshold[c])
				below++;
		ties[c] = quota[c] - below;
		pfree(members[c]);
	}
	if (hist)
		pfree(hist);
	pfree(count);
	pfree(quota);
	pfree(before);
	pfree(bucket);
	pfree(size);
	pfree(members);
	pfree(fill);
}

/*
 * The stash keeps its newest chunk first: the rows in the order the scan
 * delivered them come from the list reversed.
 */
static StashChunk **
chunks_in_scan_order(PassState *st, int *nchunks)
{
	int			n = 0;
	StashChunk **list;

	for (StashChunk *c = st->stash; c != NULL; c = c->next)
		n++;
	list = palloc(sizeof(StashChunk *) * Max(n, 1));
	*nchunks = n;
	for (StashChunk *c = st->stash; c != NULL; c = c->next)
		list[--n] = c;
	return list;
}

/*
 * DatasetBuild's work on one chunk of loaded rows, an item of AifRunItems:
 * chunk i starts at row first[i]; in the copy, before it come ntrain_before[i]
 * training and first[i] - ntrain_before[i] test rows.
 */
typedef struct BuildTask
{
	StashChunk **chunks;
	const int64 *first;
	int			width;
	int			p;
	bool		stratified;
	uint64	   *hash;			/* per row */
	int		   *cls;			/* per row, when stratified */
	const bool *is_test;		/* per row */
	const int64 *ntrain_before;
	Dataset    *ds;
	double	   *sums;			/* per chunk: p training sums, p test sums */
	const DatasetLabels *labels;	/* label hashes to classes, or NULL */
	bool		unknown_label;	/* a label hash not among them */
} BuildTask;

/* up to this many classes, a label hash is found by a scan */
#define LABEL_SCAN_MAX 16

/* The class of a label hash, or -1. */
static inline int
label_class(const DatasetLabels *labels, uint64 h)
{
	int			lo = 0;
	int			hi = labels->nclasses - 1;

	if (labels->nclasses <= LABEL_SCAN_MAX)
	{
		/* a few classes: a scan beats a search's branches */
		for (int k = 0; k < labels->nclasses; k++)
			if (labels->hash[k] == h)
				return labels->cls[k];
		return -1;
	}
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (labels->hash[mid] == h)
			return labels->cls[mid];
		if (labels->hash[mid] < h)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Every row's split hash, and its class when the split is stratified; with
 * labels, first the row's label hash replaced by its class, in place (in
 * the chunk's side values when it has them, which the copy then reads).
 */
static void
build_hash_chunk(void *arg, int64 item)
{
	BuildTask  *t = (BuildTask *) arg;
	StashChunk *c = t->chunks[item];
	double	   *row = c->rows;
	int64		at = t->first[item];
	int			stride = StashRowStride(t->width, c);

	for (int r = 0; r < c->nrows; r++, row += stride, at++)
	{
		/* a load's chunk has them side by side; else in the row */
		double	   *y = c->side ? &c->side[r] : &row[t->p];

		if (t->labels)
		{
			uint64		h;
			int			cls;

			memcpy(&h, y, sizeof(h));
			cls = label_class(t->labels, h);
			if (unlikely(cls < 0))
			{
				/* reported by the backend after the threads are done */
				__atomic_store_n(&t->unknown_label, true, __ATOMIC_RELAXED);
				cls = 0;
			}
			*y = cls;
		}
		if (c->side)
			memcpy(&t->hash[at], &c->side[c->capacity + r], sizeof(uint64));
		else
			t->hash[at] = PassRowHash(row, t->width);
		if (t->stratified)
			t->cls[at] = (int) *y;
	}
}

/*
 * The chunk's rows into the column-major matrices, in row order, summing
 * each column of its training and of its test rows on the way.
 */
static void
build_copy_chunk(void *arg, int64 item)
{
	BuildTask  *t = (BuildTask *) arg;
	const StashChunk *c = t->chunks[item];
	Dataset    *ds = t->ds;
	int			p = t->p;
	const double *row = c->rows;
	int64		at = t->first[item];
	int64		itr = t->ntrain_before[item];
	int64		ite = at - itr;
	double	   *trsum = t->sums + (Size) item * 2 * p;
	double	   *tesum = trsum + p;
	int			stride = StashRowStride(t->width, c);

	memset(trsum, 0, sizeof(double) * 2 * p);
	for (int r = 0; r < c->nrows; r++, row += stride, at++)
	{
		if (t->is_test[at])
		{
			double	   *X = ds->Xtest + ite;

			for (int j = 0; j < p; j++)
			{
				X[(Size) j * ds->ntest] = row[j];
				tesum[j] += row[j];
			}
			ds->ytest[ite++] = c->side ? c->side[r] : row[p];
		}
		else
		{
			double	   *X = ds->Xtrain + itr;

			for (int j = 0; j < p; j++)
			{
				X[(Size) j * ds->ntrain] = row[j];
				trsum[j] += row[j];
			}
			ds->ytrain[itr++] = c->side ? c->side[r] : row[p];
		}
	}
}

/*
 * The loaded rows are copied: their memory -- the load's slabs, which the
 * dataset takes over from the state, and any chunk of the state's own --
 * goes back to the kernel when DatasetRelease or DatasetReleaseLoaded
 * says, from helper threads.
 */
static void
keep_chunks_for_release(Dataset *ds, PassState *st, StashChunk **chunks, int nchunks)
{
	int			n = 0;

	ds->nslabs = st->nslabs;
	ds->slabs = palloc(sizeof(void *) * Max(st->nslabs, 1));
	for (int i = 0; i < st->nslabs; i++)
		ds->slabs[i] = st->slabs[i];
	st->nslabs = 0;
	st->slab_free = 0;

	ds->loaded_cxt = st->mcxt;
	ds->loaded = palloc(sizeof(void *) * Max(nchunks, 1));
	ds->loaded_len = palloc(sizeof(Size) * Max(nchunks, 1));
	for (int i = 0; i < nchunks; i++)
	{
		if (chunks[i]->in_slab)
			continue;
		ds->loaded[n] = chunks[i];
		ds->loaded_len[n++] = PassChunkBytes(st, chunks[i]);
	}
	ds->nloaded = n;
}

/*
 * Build the dataset (see dataset.h).  The loaded rows (row-major, in
 * chunks) are read twice: once for the split hashes and classes, once to
 * copy them into the matrices; each row's side of the split is decided
 * once, from the compact arrays of the first pass.  Both passes take the
 * chunks as items in two threads on large data (core/threads.h); the
 * column sums are summed per chunk and the chunks' sums added in chunk
 * order, so nothing depends on the number of threads.
 */
Dataset *
DatasetBuild(PassState *st, Model *model, double test_size, ImputeStrategy strategy,
			 const DatasetLabels *labels)
{
	Dataset    *ds = palloc0(sizeof(Dataset));
	int			p = model->pre.ndesign;
	int			width = st->stash_width;
	int			nchunks;
	StashChunk **chunks = chunks_in_scan_order(st, &nchunks);
	bool		stratified = test_size > 0 && model->task == TASK_CLASSIFICATION;
	int64		nrows = 0;
	uint64	   *hash;
	int		   *cls = NULL;
	bool	   *is_test;
	double	   *trsum;
	double	   *tesum;
	int64		at;
	int64	   *first;
	int64	   *ntrain_before;
	BuildTask	t;
	int			threads;
	double	   *X;

	if (width != p + 2)
		elog(ERROR, "loaded rows have width %d, expected %d", width, p + 2);
	ds->p = p;
	first = palloc(sizeof(int64) * Max(nchunks, 1));
	for (int i = 0; i < nchunks; i++)
	{
		first[i] = nrows;
		nrows += chunks[i]->nrows;
	}
	threads = nrows * width >= DATASET_THREAD_MIN_VALUES ? AIF_ITEM_THREADS : 1;

	/*
	 * The matrices, then the targets, training rows first, in one
	 * allocation: the one the load made resident as its rows came
	 * (PassLoadMatrix), or a new one.
	 */
	X = PassLoadMatrix(st, nrows);
	if (X == NULL)
		X = AifBigAlloc(CurrentMemoryContext, sizeof(double) * Max(nrows * (p + 1), 1));

	/* every row's split hash, and its class when the split is stratified */
	hash = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64) * Max(nrows, 1));
	if (stratified)
		cls = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int) * Max(nrows, 1));
	memset(&t, 0, sizeof(t));
	t.chunks = chunks;
	t.first = first;
	t.width = width;
	t.p = p;
	t.stratified = stratified;
	t.hash = hash;
	t.cls = cls;
	t.labels = labels;
	AifRunItems(nchunks, build_hash_chunk, &t, threads);
	if (t.unknown_label)
		elog(ERROR, "a row's label is not among the classes");

	/*
	 * The split.  A row's split hash is a seeded random number: a
	 * regression holds out the rows whose hash falls below test_size (as
	 * the one-pass scans do); a classifier holds out, in each class, the
	 * round(test_size * n_c) rows with the smallest hashes (leaving each
	 * class at least one training row): an exactly stratified split.  Of
	 * the rows whose hash equals a class's threshold, the first ones in
	 * row order fill the quota.
	 */
	is_test = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * Max(nrows, 1));
	if (stratified)
	{
		int			K = model->nclasses;
		uint64	   *threshold = palloc0(sizeof(uint64) * K);
		int64	   *ties = palloc0(sizeof(int64) * K);

		stratified_thresholds(hash, cls, nrows, K, test_size, threshold, ties);
		for (at = 0; at < nrows; at++)
		{
			int			c = cls[at];
			bool		t = hash[at] < threshold[c];

			if (!t && hash[at] == threshold[c] && ties[c] > 0)
			{
				ties[c]--;
				t = true;
			}
			is_test[at] = t;
			ds->ntest += t;
		}
		pfree(cls);
	}
	else
	{
		for (at = 0; at < nrows; at++)
		{
			bool		t = test_size > 0 && PassHashFraction(hash[at]) < test_size;

			is_test[at] = t;
			ds->ntest += t;
		}
	}
	pfree(hash);
	ds->ntrain = nrows - ds->ntest;

	/*
	 * Copy the rows into column-major matrices, in row order, summing each
	 * column on the way (for impute: a NaN sum means a missing value).
	 * Rows before each chunk: training ones, and so test ones.
	 */
	ds->Xtrain = X;
	ds->Xtest = X + (Size) ds->ntrain * p;
	ds->ytrain = X + (Size) nrows * p;
	ds->ytest = ds->ytrain + ds->ntrain;
	ntrain_before = palloc(sizeof(int64) * Max(nchunks, 1));
	at = 0;
	for (int i = 0; i < nchunks; i++)
	{
		int64		ntest_in = 0;

		ntrain_before[i] = at;
		for (int64 r = first[i]; r < first[i] + chunks[i]->nrows; r++)
			ntest_in += is_test[r];
		at += chunks[i]->nrows - ntest_in;
	}
	if (at != ds->ntrain)
		elog(ERROR, "dataset split counted %lld training rows but placed %lld",
			 (long long) ds->ntrain, (long long) at);
	t.is_test = is_test;
	t.ntrain_before = ntrain_before;
	t.ds = ds;
	t.sums = palloc(sizeof(double) * 2 * Max(p, 1) * Max(nchunks, 1));
	trsum = palloc0(sizeof(double) * Max(p, 1));
	tesum = palloc0(sizeof(double) * Max(p, 1));
	/* the copy of every chunk; then their sums, in chunk order */
	AifRunItems(nchunks, build_copy_chunk, &t, threads);
	for (int i = 0; i < nchunks; i++)
	{
		const double *cs = t.sums + (Size) i * 2 * p;

		for (int j = 0; j < p; j++)
		{
			trsum[j] += cs[j];
			tesum[j] += cs[p + j];
		}
	}
	keep_chunks_for_release(ds, st, chunks, nchunks);
	pfree(t.sums);
	pfree(first);
	pfree(ntrain_before);
	pfree(is_test);
	st->stash = NULL;
	st->stash_rows = 0;

	impute(ds, model, strategy, trsum, tesum);
	pfree(trsum);
	pfree(tesum);
	return ds;
}

/* DatasetStandardize's work on one column: an item of AifRunItems. */
typedef struct StandardizeTask
{
	Dataset    *ds;
	bool		center_columns;
	double	   *center;
	double	   *scale;
} StandardizeTask;

static void
standardize_column(void *arg, int64 item)
{
	StandardizeTask *t = (StandardizeTask *) arg;
	Dataset    *ds = t->ds;
	int			j = (int) item;
	double	   *tr = ds->Xtrain + (Size) j * ds->ntrain;
	double	   *te = ds->Xtest + (Size) j * ds->ntest;
	double		sum = 0;
	double		ss = 0;
	double		mean;
	double		c;
	double		inv;

	/* two passes: the mean, then squared deviations from it */
	for (int64 r = 0; r < ds->ntrain; r++)
		sum += tr[r];
	mean = ds->ntrain > 0 ? sum / ds->ntrain : 0;
	for (int64 r = 0; r < ds->ntrain; r++)
	{
		double		d = tr[r] - mean;

		ss += d * d;
	}
	t->center[j] = t->center_columns ? mean : 0.0;
	t->scale[j] = ds->ntrain > 0 ? sqrt(ss / ds->ntrain) : 0;
	if (!(t->scale[j] > 0) || !isfinite(t->scale[j]))
		t->scale[j] = 1.0;
	c = t->center[j];
	inv = 1.0 / t->scale[j];
	for (int64 r = 0; r < ds->ntrain; r++)
		tr[r] = (tr[r] - c) * inv;
	for (int64 r = 0; r < ds->ntest; r++)
		te[r] = (te[r] - c) * inv;
}

/*
 * Columns are independent: on large data they are taken by two threads
 * (core/threads.h), each column computed exactly as by one.
 */
void
DatasetStandardize(Dataset *ds, bool center_columns, double *center, double *scale)
{
	StandardizeTask t;

	t.ds = ds;
	t.center_columns = center_columns;
	t.center = center;
	t.scale = scale;
	AifRunItems(ds->p, standardize_column, &t,
				(ds->ntrain + ds->ntest) * ds->p >= DATASET_THREAD_MIN_VALUES ?
				AIF_ITEM_THREADS : 1);
}

/*
 * The dataset is dead: its matrices, and the loaded rows, are unmapped by
 * a detached helper (core/bigmem.h) while the caller goes on -- on the
 * benchmark's 1M x 20, ~35 ms of unmapping that would otherwise run in
 * this thread, or that it would wait for when its context goes.  ds must
 * not be used again.
 */
void
DatasetRelease(Dataset *ds)
{
	if (ds->Xtrain != NULL)
	{
		void	   *X = ds->Xtrain;

		AifBigFreeAsync(&X, 1);
	}
	DatasetReleaseLoaded(ds);
	ds->Xtrain = ds->Xtest = ds->ytrain = ds->ytest = NULL;
}

void
DatasetReleaseLoaded(Dataset *ds)
{
	AifBigFreeAsync(ds->slabs, ds->nslabs);
	ds->nslabs = 0;
	if (ds->nloaded > 0)
		(void) AifReleaseStart(ds->loaded_cxt, ds->loaded, ds->loaded_len, ds->nloaded);
	ds->nloaded = 0;
}
