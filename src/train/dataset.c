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
#include "miscadmin.h"
#include "train/dataset.h"
#include "utils/memutils.h"

typedef struct RowRef
{
	uint64		hash;
	const double *row;			/* design (p), target, hash */
} RowRef;

/*
 * Sort rows by hash: an LSD radix sort, four passes of 16 bits, stable
 * (rows with equal hashes keep their order: such rows hold identical
 * values, so which comes first does not matter).
 */
static void
sort_by_hash(RowRef *refs, int64 n)
{
	RowRef	   *tmp = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(RowRef) * Max(n, 1));
	int64	   *count = palloc(sizeof(int64) * 65536);
	RowRef	   *src = refs;
	RowRef	   *dst = tmp;

	for (int pass = 0; pass < 4; pass++)
	{
		int			shift = pass * 16;
		int64		sum = 0;
		RowRef	   *t;

		CHECK_FOR_INTERRUPTS();
		memset(count, 0, sizeof(int64) * 65536);
		for (int64 i = 0; i < n; i++)
			count[(src[i].hash >> shift) & 0xffff]++;
		for (int d = 0; d < 65536; d++)
		{
			int64		c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (int64 i = 0; i < n; i++)
			dst[count[(src[i].hash >> shift) & 0xffff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	/* four passes: the sorted rows are back in refs */
	pfree(tmp);
	pfree(count);
}

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

static void
impute(Dataset *ds, Model *model, ImputeStrategy strategy)
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

Dataset *
DatasetBuild(PassState *st, Model *model, double test_size, ImputeStrategy strategy)
{
	Dataset    *ds = palloc0(sizeof(Dataset));
	int			p = model->pre.ndesign;
	int			width = st->stash_width;
	int64		n = st->stash_rows;
	RowRef	   *refs;
	bool	   *is_test;
	int64		k = 0;
	int64		itr = 0;
	int64		ite = 0;

	if (width != p + 2)
		elog(ERROR, "loaded rows have width %d, expected %d", width, p + 2);
	ds->p = p;

	/* canonical order: by the rows' split hash, whatever the scan order */
	refs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(RowRef) * Max(n, 1));
	for (StashChunk *c = st->stash; c != NULL; c = c->next)
		for (int r = 0; r < c->nrows; r++)
		{
			const double *row = c->rows + (Size) r * width;

			refs[k].row = row;
			refs[k].hash = PassRowHash(row, width);
			k++;
		}
	sort_by_hash(refs, n);

	/* the split */
	is_test = palloc0(sizeof(bool) * Max(n, 1));
	if (test_size > 0 && model->task == TASK_CLASSIFICATION)
	{
		/*
		 * Stratified: in each class, the rows with the smallest hashes are
		 * its round(test_size * n_c) test rows (leaving it one training
		 * row).  The hash order makes this a seeded random choice.
		 */
		int			K = model->nclasses;
		int64	   *count = palloc0(sizeof(int64) * K);
		int64	   *quota = palloc0(sizeof(int64) * K);

		for (int64 i = 0; i < n; i++)
			count[(int) refs[i].row[p]]++;
		for (int c = 0; c < K; c++)
			quota[c] = Min((int64) floor(test_size * count[c] + 0.5), Max(count[c] - 1, 0));
		for (int64 i = 0; i < n; i++)
		{
			int			c = (int) refs[i].row[p];

			if (quota[c] > 0)
			{
				is_test[i] = true;
				quota[c]--;
			}
		}
	}
	else if (test_size > 0)
	{
		for (int64 i = 0; i < n; i++)
			is_test[i] = PassHashFraction(refs[i].hash) < test_size;
	}
	for (int64 i = 0; i < n; i++)
	{
		if (is_test[i])
			ds->ntest++;
		else
			ds->ntrain++;
	}

	/* column-major matrices */
	ds->Xtrain = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(ds->ntrain * p, 1));
	ds->Xtest = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(ds->ntest * p, 1));
	ds->ytrain = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(ds->ntrain, 1));
	ds->ytest = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(ds->ntest, 1));
	for (int64 i = 0; i < n; i++)
	{
		const double *row = refs[i].row;
		double	   *X;
		int64		nr;
		int64		r;

		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (is_test[i])
		{
			X = ds->Xtest;
			nr = ds->ntest;
			r = ite++;
			ds->ytest[r] = row[p];
		}
		else
		{
			X = ds->Xtrain;
			nr = ds->ntrain;
			r = itr++;
			ds->ytrain[r] = row[p];
		}
		for (int j = 0; j < p; j++)
			X[(Size) j * nr + r] = row[j];
	}
	pfree(refs);
	pfree(is_test);

	/* the loaded rows are no longer needed */
	for (StashChunk *c = st->stash; c != NULL;)
	{
		StashChunk *next = c->next;

		pfree(c);
		c = next;
	}
	st->stash = NULL;
	st->stash_rows = 0;

	impute(ds, model, strategy);
	return ds;
}

void
DatasetStandardize(Dataset *ds, bool center_columns, double *center, double *scale)
{
	int			p = ds->p;

	for (int j = 0; j < p; j++)
	{
		double	   *tr = ds->Xtrain + (Size) j * ds->ntrain;
		double	   *te = ds->Xtest + (Size) j * ds->ntest;
		double		mean = 0;
		double		m2 = 0;

		/* Welford: one pass, no cancellation */
		for (int64 r = 0; r < ds->ntrain; r++)
		{
			double		d = tr[r] - mean;

			mean += d / (r + 1);
			m2 += d * (tr[r] - mean);
		}
		center[j] = center_columns ? mean : 0.0;
		scale[j] = ds->ntrain > 0 ? sqrt(m2 / ds->ntrain) : 0;
		if (!(scale[j] > 0) || !isfinite(scale[j]))
			scale[j] = 1.0;
		mean = center[j];
		for (int64 r = 0; r < ds->ntrain; r++)
			tr[r] = (tr[r] - mean) / scale[j];
		for (int64 r = 0; r < ds->ntest; r++)
			te[r] = (te[r] - mean) / scale[j];
		CHECK_FOR_INTERRUPTS();
	}
}
