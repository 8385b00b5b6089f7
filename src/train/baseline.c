/*-------------------------------------------------------------------------
 *
 * baseline.c
 *	  A model's drift baseline (see baseline.h): built from the rows a fit
 *	  holds, serialized into models.baseline, read back by drift().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "core/threads.h"
#include "miscadmin.h"
#include "train/baseline.h"
#include "train/dataset.h"
#include "train/train_internal.h"

#define BASELINE_MAGIC		"AIFB"
#define BASELINE_VERSION	1

int
BaselinePredictionKind(const Model *model)
{
	switch (model->task)
	{
		case TASK_REGRESSION:
			return FEATURE_NUMERIC;
		case TASK_CLASSIFICATION:
		case TASK_CLUSTERING:
			return FEATURE_CATEGORICAL;
		case TASK_DECOMPOSITION:
			break;
	}
	return 0;
}

Baseline *
BaselineCreate(const Model *model, bool from_test_rows)
{
	return BaselineCreateSized(model, from_test_rows, NUMSKETCH_DEFAULT_K, true);
}

/*
 * An empty summary with numeric samples of k values, keeping exact
 * moments or not (drift()'s current side: no moments, its own k).
 */
Baseline *
BaselineCreateSized(const Model *model, bool from_test_rows, int k, bool moments)
{
	Baseline   *b = palloc0(sizeof(Baseline));

	b->from_test_rows = from_test_rows;
	b->nfeatures = model->pre.nfeatures;
	b->features = palloc0(sizeof(BaselineFeature) * Max(b->nfeatures, 1));
	for (int i = 0; i < b->nfeatures; i++)
	{
		const FeatureSpec *f = &model->pre.features[i];

		b->features[i].name = pstrdup(f->name);
		b->features[i].kind = f->kind;
		if (f->kind == FEATURE_NUMERIC)
		{
			b->features[i].num = NumSketchCreate(k);
			if (!moments)
				NumSketchNoMoments(b->features[i].num);
		}
		else
			b->features[i].cat = CatSketchCreate(CATSKETCH_DEFAULT_LEVELS);
	}
	b->pred_kind = BaselinePredictionKind(model);
	if (b->pred_kind == FEATURE_NUMERIC)
	{
		b->pred_num = NumSketchCreate(k);
		if (!moments)
			NumSketchNoMoments(b->pred_num);
	}
	else if (b->pred_kind == FEATURE_CATEGORICAL)
		b->pred_cat = CatSketchCreate(CATSKETCH_DEFAULT_LEVELS);
	return b;
}

/* A categorical feature's level from its one-hot design columns x. */
static void
baseline_add_level(Baseline *b, int i, const FeatureSpec *f, const double *x)
{
	int			level = -1;

	for (int j = 0; j < f->ncols; j++)
		if (x[j] != 0)
		{
			level = j + (f->drop_first ? 1 : 0);
			break;
		}
	if (level < 0 && f->drop_first && f->nlevels > 0)
		level = 0;
	if (level < 0 || level >= f->nlevels)
		CatSketchAddMissing(b->features[i].cat);
	else
		CatSketchAdd(b->features[i].cat, f->levels[level], strlen(f->levels[level]));
}

/*
 * One encoded row's raw features: a numeric design value (NaN missing),
 * or the level whose one-hot column is 1 (all zeros: missing, or the
 * reference level under drop_first).
 */
void
BaselineAddRow(Baseline *b, const Model *model, const double *design, int64 position)
{
	uint64		hash = SketchHash64((uint64) position);

	b->rows++;
	for (int i = 0; i < b->nfeatures; i++)
	{
		const FeatureSpec *f = &model->pre.features[i];
		const double *x = design + f->design_offset;

		if (f->kind == FEATURE_NUMERIC)
		{
			if (isnan(x[0]))
				NumSketchAddMissing(b->features[i].num);
			else
				NumSketchAdd(b->features[i].num, x[0], hash);
		}
		else
			baseline_add_level(b, i, f, x);
	}
}

void
BaselinePredict(const Model *model, const double *design, NumSketch *num,
				CatSketch *cat, uint64 hash)
{
	if (num != NULL)
		NumSketchAdd(num, ModelPredictDesign(model, design), hash);
	else if (cat != NULL && model->task == TASK_CLASSIFICATION)
	{
		const char *label = model->classes[ModelPredictClass(model, design, NULL)];

		CatSketchAdd(cat, label, strlen(label));
	}
	else if (cat != NULL)
	{
		char		buf[32];
		int			len = snprintf(buf, sizeof(buf), "%d",
								   (int) ModelPredictDesign(model, design));

		CatSketchAdd(cat, buf, len);
	}
}

void
BaselineAddPrediction(Baseline *b, const Model *model, const double *design, int64 position)
{
	BaselinePredict(model, design, b->pred_num, b->pred_cat, SketchHash64((uint64) position));
}

/* ---- serialized form ---- */

static void
put_u32(StringInfo buf, uint32 v)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char) (v >> (8 * i));
	appendBinaryStringInfo(buf, (char *) b, 4);
}

static void
put_u64(StringInfo buf, uint64 v)
{
	put_u32(buf, (uint32) v);
	put_u32(buf, (uint32) (v >> 32));
}

static void
put_bytes(StringInfo buf, const char *data, Size len)
{
	put_u32(buf, (uint32) len);
	appendBinaryStringInfo(buf, data, len);
}

static void
put_num(StringInfo buf, NumSketch *s)
{
	Size		len;
	char	   *data = NumSketchSerialize(s, &len);

	put_bytes(buf, data, len);
	pfree(data);
}

static void
put_cat(StringInfo buf, const CatSketch *s)
{
	Size		len;
	char	   *data = CatSketchSerialize(s, &len);

	put_bytes(buf, data, len);
	pfree(data);
}

bytea *
BaselineSerialize(const Baseline *b)
{
	StringInfoData buf;
	bytea	   *result;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, BASELINE_MAGIC, 4);
	put_u32(&buf, BASELINE_VERSION);
	put_u32(&buf, b->from_test_rows ? 1 : 0);
	put_u64(&buf, (uint64) b->rows);
	put_u32(&buf, (uint32) b->nfeatures);
	for (int i = 0; i < b->nfeatures; i++)
	{
		const BaselineFeature *f = &b->features[i];
		char		kind = (char) f->kind;

		CHECK_FOR_INTERRUPTS();
		put_bytes(&buf, f->name, strlen(f->name));
		appendBinaryStringInfo(&buf, &kind, 1);
		if (f->kind == FEATURE_NUMERIC)
			put_num(&buf, f->num);
		else
			put_cat(&buf, f->cat);
	}
	{
		char		kind = (char) b->pred_kind;

		appendBinaryStringInfo(&buf, &kind, 1);
		if (b->pred_kind == FEATURE_NUMERIC)
			put_num(&buf, b->pred_num);
		else if (b->pred_kind == FEATURE_CATEGORICAL)
			put_cat(&buf, b->pred_cat);
	}
	result = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
	return result;
}

typedef struct Reader
{
	const unsigned char *p;
	Size		len;
	Size		at;
} Reader;

static void
corrupt(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the model's drift baseline is corrupt"),
			 errdetail("%s", detail),
			 errhint("Retrain the model to store a new baseline.")));
}

static const unsigned char *
take(Reader *r, Size n)
{
	const unsigned char *p;

	if (n > r->len - r->at)
		corrupt("It ends early.");
	p = r->p + r->at;
	r->at += n;
	return p;
}

static uint32
get_u32(Reader *r)
{
	const unsigned char *b = take(r, 4);

	return (uint32) b[0] | ((uint32) b[1] << 8) | ((uint32) b[2] << 16) | ((uint32) b[3] << 24);
}

static uint64
get_u64(Reader *r)
{
	uint64		lo = get_u32(r);

	return lo | ((uint64) get_u32(r) << 32);
}

static const char *
get_bytes(Reader *r, Size *len)
{
	*len = get_u32(r);
	return (const char *) take(r, *len);
}

Baseline *
BaselineDeserialize(const bytea *bytes)
{
	Reader		r;
	Baseline   *b = palloc0(sizeof(Baseline));
	const char *data;
	Size		len;
	uint32		n;

	r.p = (const unsigned char *) VARDATA_ANY(bytes);
	r.len = VARSIZE_ANY_EXHDR(bytes);
	r.at = 0;
	if (memcmp(take(&r, 4), BASELINE_MAGIC, 4) != 0)
		corrupt("The magic number is missing.");
	if (get_u32(&r) != BASELINE_VERSION)
		corrupt("Its format version is unknown.");
	b->from_test_rows = get_u32(&r) != 0;
	b->rows = (int64) get_u64(&r);
	n = get_u32(&r);
	if (n > r.len)
		corrupt("Its feature count is too large.");
	b->nfeatures = (int) n;
	b->features = palloc0(sizeof(BaselineFeature) * Max(n, 1));
	for (uint32 i = 0; i < n; i++)
	{
		BaselineFeature *f = &b->features[i];
		char		kind;

		data = get_bytes(&r, &len);
		f->name = pnstrdup(data, len);
		kind = (char) *take(&r, 1);
		data = get_bytes(&r, &len);
		if (kind == FEATURE_NUMERIC)
			f->num = NumSketchDeserialize(data, len);
		else if (kind == FEATURE_CATEGORICAL)
			f->cat = CatSketchDeserialize(data, len);
		else
			corrupt("A feature's kind is unknown.");
		f->kind = (FeatureKind) kind;
	}
	b->pred_kind = *take(&r, 1);
	if (b->pred_kind == FEATURE_NUMERIC || b->pred_kind == FEATURE_CATEGORICAL)
	{
		data = get_bytes(&r, &len);
		if (b->pred_kind == FEATURE_NUMERIC)
			b->pred_num = NumSketchDeserialize(data, len);
		else
			b->pred_cat = CatSketchDeserialize(data, len);
	}
	else if (b->pred_kind != 0)
		corrupt("The prediction summary's kind is unknown.");
	if (r.at != r.len)
		corrupt("It has trailing bytes.");
	return b;
}

/* ---- from the fits ---- */

/*
 * Rows a baseline summarizes: all of them up to BASELINE_MAX_ROWS, else a
 * seeded sample of about that many (by a hash of the position, so the
 * features and the predictions come from the same rows).  The sketches
 * keep a sample of 8192 values anyway, which is what KS, Wasserstein and
 * PSI use; summarizing a million rows value by value (exact moments, the
 * bottom-k heap, and a prediction per row) would add half a second to a
 * logistic regression's whole call, for a reference standard deviation
 * known to 0.6 % instead of exactly.
 */
#define BASELINE_MAX_ROWS 16384

static inline bool
baseline_row_kept(int64 r, int64 n)
{
	if (n <= BASELINE_MAX_ROWS)
		return true;
	return (double) (SketchHash64((uint64) r ^ UINT64CONST(0x6261736520726f77)) >> 11) *
		(1.0 / 9007199254740992.0) < (double) BASELINE_MAX_ROWS / n;
}

/* BaselineFeatures' work on one numeric feature: an item of AifRunItems. */
typedef struct BaselineTask
{
	Baseline   *b;
	const Model *model;
	const Dataset *ds;
	const int  *numeric;		/* the feature of each item */
	const int64 *rows;			/* the kept training rows, ascending */
	const uint64 *hashes;		/* their sketch hashes */
	int64		nrows;
} BaselineTask;

/* The first kept row of n at or after r, or n. */
static inline int64
baseline_next_kept(int64 r, int64 n)
{
	while (r < n && !baseline_row_kept(r, n))
		r++;
	return r;
}

/* kept rows ahead of the one being added whose values are prefetched */
#define BASELINE_PREFETCH 16

/* NumSketchAdd is pure arithmetic: fit for a helper thread. */
static void
baseline_numeric_feature(void *arg, int64 item)
{
	BaselineTask *t = (BaselineTask *) arg;
	int			i = t->numeric[item];
	const FeatureSpec *f = &t->model->pre.features[i];
	const double *col = t->ds->Xtrain + (Size) f->design_offset * t->ds->ntrain;
	NumSketch  *s = t->b->features[i].num;

	for (int64 k = 0; k < t->nrows; k++)
	{
		double		x = col[t->rows[k]];

		/* the kept rows are scattered: a cache miss each, unless fetched ahead */
		if (k + BASELINE_PREFETCH < t->nrows)
			__builtin_prefetch(col + t->rows[k + BASELINE_PREFETCH], 0, 0);

		if (isnan(x))
			NumSketchAddMissing(s);
		else
			NumSketchAdd(s, x, t->hashes[k]);
	}
}

/*
 * In-memory fits, right after loading: the training rows' features (all,
 * or a sample beyond BASELINE_MAX_ROWS), before any standardization
 * changes the matrix.  Each feature's sketch takes the kept rows in row
 * order, as BaselineAddRow would give them: the numeric features in two
 * threads on large data (core/threads.h), the categorical ones (whose
 * sketches allocate) in this one.
 */
void
BaselineFeatures(TrainRun *run, const Dataset *ds)
{
	Model	   *model = run->model;
	Baseline   *b = BaselineCreate(model, false);
	BaselineTask t;
	int64		cap = Min(ds->ntrain, (int64) BASELINE_MAX_ROWS + 1024);
	int64	   *rows = palloc(sizeof(int64) * Max(cap, 1));
	uint64	   *hashes;
	int		   *numeric = palloc(sizeof(int) * Max(b->nfeatures, 1));
	int			nnumeric = 0;
	int64		nrows = 0;

	for (int64 r = 0; r < ds->ntrain; r++)
	{
		if ((r & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!baseline_row_kept(r, ds->ntrain))
			continue;
		if (nrows == cap)
		{
			cap *= 2;
			rows = repalloc(rows, sizeof(int64) * cap);
		}
		rows[nrows++] = r;
	}
	hashes = palloc(sizeof(uint64) * Max(nrows, 1));
	for (int64 k = 0; k < nrows; k++)
		hashes[k] = SketchHash64((uint64) rows[k]);
	b->rows = nrows;

	for (int i = 0; i < b->nfeatures; i++)
		if (model->pre.features[i].kind == FEATURE_NUMERIC)
			numeric[nnumeric++] = i;
	t.b = b;
	t.model = model;
	t.ds = ds;
	t.numeric = numeric;
	t.rows = rows;
	t.hashes = hashes;
	t.nrows = nrows;
	AifRunItems(nnumeric, baseline_numeric_feature, &t,
				nrows * nnumeric >= 65536 ? AIF_ITEM_THREADS : 1);

	if (nnumeric < b->nfeatures)
	{
		double	   *x = palloc(sizeof(double) * Max(ds->p, 1));

		for (int64 k = 0; k < nrows; k++)
		{
			if ((k & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			for (int i = 0; i < b->nfeatures; i++)
			{
				const FeatureSpec *f = &model->pre.features[i];

				if (f->kind == FEATURE_NUMERIC)
					continue;
				for (int j = 0; j < f->ncols; j++)
					x[j] = ds->Xtrain[(Size) (f->design_offset + j) * ds->ntrain + rows[k]];
				baseline_add_level(b, i, f, x);
			}
		}
		pfree(x);
	}
	pfree(rows);
	pfree(hashes);
	pfree(numeric);
	run->baseline_state = b;
}

/*
 * In-memory fits, after fitting: the model's predictions on the training
 * rows (back on the original scale when ds was standardized: center and
 * scale, else NULL), and the baseline serialized into run->baseline.
 * Nothing when BaselineFeatures did not run (the folds of tune()).
 */
void
BaselinePredictions(TrainRun *run, const Dataset *ds, const double *center,
					const double *scale)
{
	Baseline   *b = run->baseline_state;
	int			p = ds->p;
	double	   *row;

	if (b == NULL)
		return;
	row = palloc(sizeof(double) * Max(p, 1));
	if (b->pred_kind != 0)
	{
		int64		r = baseline_next_kept(0, ds->ntrain);

		while (r < ds->ntrain)
		{
			int64		next = baseline_next_kept(r + 1, ds->ntrain);

			CHECK_FOR_INTERRUPTS();
			/* the kept rows are scattered: fetch the next one's values ahead */
			if (next < ds->ntrain)
				for (int j = 0; j < p; j++)
					__builtin_prefetch(ds->Xtrain + (Size) j * ds->ntrain + next, 0, 0);
			for (int j = 0; j < p; j++)
			{
				double		x = ds->Xtrain[(Size) j * ds->ntrain + r];

				row[j] = scale ? x * scale[j] + center[j] : x;
			}
			BaselineAddPrediction(b, run->model, row, r);
			r = next;
		}
	}
	pfree(row);
	run->baseline = BaselineSerialize(b);
	run->baseline_state = NULL;
}

/*
 * One-pass fits, after fitting: the rows the scan kept (held-out test
 * rows; [design | target], width st->stash_width).  No rows, no baseline.
 */
void
BaselineFromStash(TrainRun *run, PassState *st)
{
	Model	   *model = run->model;
	Baseline   *b;
	int64		pos = 0;

	if (st->stash == NULL || st->stash_overflow || st->stash_rows == 0)
		return;
	b = BaselineCreate(model, st->rows_test > 0);
	for (StashChunk *c = st->stash; c != NULL; c = c->next)
	{
		CHECK_FOR_INTERRUPTS();
		for (int r = 0; r < c->nrows; r++, pos++)
		{
			double	   *row = c->rows + (Size) r * st->stash_width;

			if (!baseline_row_kept(pos, st->stash_rows))
				continue;
			BaselineAddRow(b, model, row, pos);
			BaselineAddPrediction(b, model, row, pos);
		}
	}
	run->baseline = BaselineSerialize(b);
}
