/*-------------------------------------------------------------------------
 *
 * pass.c
 *	  The _train_pass aggregate: transition, combine, (de)serialization.
 *
 * See pass.h for what the three kinds of pass compute.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/parallel.h"
#include "common/hashfn.h"
#include "algorithms/splithash.h"
#include "core/bigmem.h"
#include "core/blas.h"
#include "core/prefault.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "train/pass.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(aifactory_train_transition);
PG_FUNCTION_INFO_V1(aifactory_train_final);
PG_FUNCTION_INFO_V1(aifactory_train_combine);
PG_FUNCTION_INFO_V1(aifactory_train_serialize);
PG_FUNCTION_INFO_V1(aifactory_train_deserialize);

#define PLAN_MAGIC 0x41495050	/* "AIPP" */

/* training rows before the first pilot fit; each next one after twice as many */
#define FIRST_PILOT_ROWS 5000

/* ---- plan ---- */

bytea *
PassPlanSerialize(const PassPlan *plan)
{
	StringInfoData buf;
	bytea	   *model = ModelSerialize(plan->model);

	pq_begintypsend(&buf);
	pq_sendint32(&buf, PLAN_MAGIC);
	pq_sendint32(&buf, plan->mode);
	pq_sendint64(&buf, (int64) plan->seed);
	pq_sendfloat8(&buf, plan->test_size);
	pq_sendbyte(&buf, plan->impute_known ? 1 : 0);
	pq_sendint64(&buf, plan->stash_limit);
	pq_sendbyte(&buf, plan->pilots ? 1 : 0);
	pq_sendbyte(&buf, plan->fit_intercept ? 1 : 0);
	pq_sendfloat8(&buf, plan->alpha);
	pq_sendbyte(&buf, plan->standardize ? 1 : 0);
	pq_sendint32(&buf, VARSIZE_ANY_EXHDR(model));
	pq_sendbytes(&buf, VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model));
	return pq_endtypsend(&buf);
}

PassPlan *
PassPlanDeserialize(bytea *bytes)
{
	StringInfoData buf;
	PassPlan   *plan = palloc0(sizeof(PassPlan));
	int			modellen;
	bytea	   *model;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;

	if (buf.len < 8 || pq_getmsgint(&buf, 4) != PLAN_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid training plan"),
				 errhint("aifactory._train_pass is internal to aifactory.train().")));
	plan->mode = pq_getmsgint(&buf, 4);
	if (plan->mode < PASS_PROFILE || plan->mode > PASS_COV)
		elog(ERROR, "unknown training pass mode %d", plan->mode);
	plan->seed = (uint64) pq_getmsgint64(&buf);
	plan->test_size = pq_getmsgfloat8(&buf);
	plan->impute_known = pq_getmsgbyte(&buf) != 0;
	plan->stash_limit = pq_getmsgint64(&buf);
	plan->pilots = pq_getmsgbyte(&buf) != 0;
	plan->fit_intercept = pq_getmsgbyte(&buf) != 0;
	plan->alpha = pq_getmsgfloat8(&buf);
	plan->standardize = pq_getmsgbyte(&buf) != 0;
	modellen = pq_getmsgint(&buf, 4);
	if (modellen < 0 || modellen > buf.len - buf.cursor)
		elog(ERROR, "training plan is truncated");
	model = palloc(VARHDRSZ + modellen);
	SET_VARSIZE(model, VARHDRSZ + modellen);
	memcpy(VARDATA(model), pq_getmsgbytes(&buf, modellen), modellen);
	plan->model = ModelDeserializeExt(model, CurrentMemoryContext, true);
	return plan;
}

/* ---- metrics ---- */

void
MetricAccAdd(MetricAcc *acc, double y, double yhat)
{
	double		err = y - yhat;
	double		delta;

	acc->n++;
	acc->sse += err * err;
	acc->sae += fabs(err);
	delta = y - acc->ymean;
	acc->ymean += delta / acc->n;
	acc->ym2 += delta * (y - acc->ymean);
}

/* Chan et al.'s pairwise update of mean and M2. */
void
MetricAccMerge(MetricAcc *into, const MetricAcc *from)
{
	int64		n;
	double		delta;

	if (from->n == 0)
		return;
	if (into->n == 0)
	{
		*into = *from;
		return;
	}
	n = into->n + from->n;
	delta = from->ymean - into->ymean;
	into->ym2 += from->ym2 + delta * delta * ((double) into->n * from->n / n);
	into->ymean += delta * from->n / n;
	into->sse += from->sse;
	into->sae += from->sae;
	into->n = n;
}

/* ---- level dictionaries ---- */

static LevelDict *
level_dict_create(void)
{
	LevelDict  *d = palloc0(sizeof(LevelDict));

	d->capacity = 16;
	d->keys = palloc0(sizeof(char *) * d->capacity);
	d->lens = palloc0(sizeof(int) * d->capacity);
	d->hashes = palloc0(sizeof(uint32) * d->capacity);
	d->counts = palloc0(sizeof(int64) * d->capacity);
	return d;
}

static int	level_dict_add(LevelDict *d, const char *s, int len, int64 count);

static void
level_dict_grow(LevelDict *d)
{
	LevelDict	old = *d;

	d->capacity *= 2;
	d->nentries = 0;
	d->keys = palloc0(sizeof(char *) * d->capacity);
	d->lens = palloc0(sizeof(int) * d->capacity);
	d->hashes = palloc0(sizeof(uint32) * d->capacity);
	d->counts = palloc0(sizeof(int64) * d->capacity);
	for (int i = 0; i < old.capacity; i++)
		if (old.keys[i])
			level_dict_add(d, old.keys[i], old.lens[i], old.counts[i]);
	pfree(old.keys);
	pfree(old.lens);
	pfree(old.hashes);
	pfree(old.counts);
}

/*
 * Count `count` occurrences of a value; open addressing, linear probing.
 * Past PASS_MAX_LEVELS distinct values the dictionary only remembers that
 * it overflowed: train() then refuses the column with a hint.  Returns the
 * value's slot, or -1 when it was not counted (overflow) or the slots
 * have just moved (the dictionary grew).
 */
static int
level_dict_add(LevelDict *d, const char *s, int len, int64 count)
{
	uint32		h = hash_bytes((const unsigned char *) s, len);
	int			mask = d->capacity - 1;
	int			i = h & mask;

	while (d->keys[i] != NULL)
	{
		if (d->hashes[i] == h && d->lens[i] == len &&
			memcmp(d->keys[i], s, len) == 0)
		{
			d->counts[i] += count;
			return i;
		}
		i = (i + 1) & mask;
	}
	if (d->overflow)
		return -1;
	if (d->nentries >= PASS_MAX_LEVELS)
	{
		d->overflow = true;
		return -1;
	}
	d->keys[i] = pnstrdup(s, len);
	d->lens[i] = len;
	d->hashes[i] = h;
	d->counts[i] = count;
	d->nentries++;
	if (d->nentries * 2 > d->capacity)
	{
		level_dict_grow(d);
		return -1;
	}
	return i;
}

/* ---- class labels ---- */

static const Model *lookup_model;

static int
compare_class_bytes(const void *a, const void *b)
{
	return strcmp(lookup_model->classes[*(const int *) a],
				  lookup_model->classes[*(const int *) b]);
}

/*
 * Class labels are kept in their natural order (numbers numerically), so a
 * lookup by the label's text needs its own order: class indices sorted by
 * the labels' bytes.
 */
int *
ClassLookup(const Model *model)
{
	int		   *lookup = palloc(sizeof(int) * Max(model->nclasses, 1));

	for (int i = 0; i < model->nclasses; i++)
		lookup[i] = i;
	lookup_model = model;
	qsort(lookup, model->nclasses, sizeof(int), compare_class_bytes);
	lookup_model = NULL;
	return lookup;
}

int
ClassIndex(const Model *model, const int *lookup, const char *s, int len)
{
	int			lo = 0;
	int			hi = model->nclasses - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const char *label = model->classes[lookup[mid]];
		int			cmp = strncmp(label, s, len);

		if (cmp == 0)
			cmp = (label[len] == '\0') ? 0 : 1;
		if (cmp == 0)
			return lookup[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* A 64-bit hash as a fraction in [0, 1): below test_size means a test row. */
double
PassHashFraction(uint64 h)
{
	return (double) (h >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- state ---- */

/*
 * A state's data lives in a context of its own under `parent`, so that the
 * final function can hand the whole state over to train() without a copy.
 */
static PassState *
pass_state_create(MemoryContext parent, PassMode mode, int nfeatures)
{
	MemoryContext mcxt = AllocSetContextCreate(parent, "aifactory train pass",
											   ALLOCSET_DEFAULT_SIZES);
	PassState  *st = MemoryContextAllocZero(mcxt, sizeof(PassState));

	st->mcxt = mcxt;
	st->mode = mode;
	st->nfeatures = nfeatures;
	st->nonnull = MemoryContextAllocZero(mcxt, sizeof(int64) * Max(nfeatures, 1));
	st->sum = MemoryContextAllocZero(mcxt, sizeof(double) * Max(nfeatures, 1));
	st->dicts = MemoryContextAllocZero(mcxt, sizeof(LevelDict *) * Max(nfeatures, 1));
	return st;
}

/*
 * Set up a state for the plan, whose inputs (target first, then the
 * features) have the given types.  The state's data goes into a context of
 * its own under cxt, its per-backend working memory into cxt itself.
 */
static PassState *
pass_state_setup(PassPlan *plan, const Oid *types, int nargs, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PassState  *st;
	Model	   *model = plan->model;

	if (nargs != model->pre.nfeatures + 1)
		elog(ERROR, "training pass got %d inputs for %d features",
			 nargs, model->pre.nfeatures);

	st = pass_state_create(cxt, plan->mode, model->pre.nfeatures);
	st->plan = plan;
	st->stash_limit = plan->stash_limit;
	st->cols = palloc(sizeof(InputColumn) * nargs);
	for (int i = 0; i < nargs; i++)
	{
		if (!OidIsValid(types[i]))
			elog(ERROR, "could not determine the type of training input %d", i);
		InputColumnInit(&st->cols[i], types[i], cxt);
		if (i > 0 && model->pre.features[i - 1].kind == FEATURE_NUMERIC &&
			!TypeIsNumericFeature(types[i]))
			elog(ERROR, "feature \"%s\" arrived as a non-numeric type",
				 model->pre.features[i - 1].name);
	}
	st->all_numeric = true;
	for (int i = 0; i < st->nfeatures; i++)
	{
		if (model->pre.features[i].kind != FEATURE_NUMERIC)
			st->all_numeric = false;
		if (plan->mode == PASS_PROFILE &&
			model->pre.features[i].kind == FEATURE_CATEGORICAL)
			st->dicts[i] = level_dict_create();
	}
	/* float8 features in design order: the transition's short way */
	st->all_float8 = st->all_numeric;
	for (int i = 0; i < st->nfeatures; i++)
		if (st->cols[i + 1].conv != CONV_FLOAT8 ||
			model->pre.features[i].design_offset != i)
			st->all_float8 = false;
	st->salts = palloc(sizeof(uint64) * (st->nfeatures + 1));
	for (int i = 0; i <= st->nfeatures; i++)
		st->salts[i] = plan->seed + (uint64) (i + 1) * UINT64CONST(0x9E3779B97F4A7C15);
	if (model->task == TASK_CLASSIFICATION)
	{
		/* a by-value label's text, hash and class follow from its Datum */
		if (get_typbyval(st->cols[0].typid))
			st->label_cache = palloc0(sizeof(LabelCacheEntry) * PASS_LABEL_CACHE);
		/* the labels are collected by a profile, or on the way by a load */
		if (plan->mode == PASS_PROFILE ||
			(plan->mode == PASS_LOAD && model->nclasses == 0))
			st->target_dict = level_dict_create();
		else
		{
			if (model->nclasses < 2)
				elog(ERROR, "training pass for a classifier without classes");
			st->class_lookup = ClassLookup(model);
		}
	}

	st->vals = palloc0(sizeof(double) * Max(st->nfeatures, 1));
	st->isnull = palloc0(sizeof(bool) * Max(st->nfeatures, 1));
	st->strs = palloc0(sizeof(char *) * Max(st->nfeatures, 1));
	st->lens = palloc0(sizeof(int) * Max(st->nfeatures, 1));
	st->row = palloc0(sizeof(double) * (model->pre.ndesign + 3));
	st->row[0] = 1.0;
	st->words = palloc0(sizeof(uint64) * (st->nfeatures + 1));
	if (plan->mode == PASS_REFINE)
	{
		st->ngrad = model->pre.ndesign + 1;
		st->grad = MemoryContextAllocZero(st->mcxt, sizeof(DD) * st->ngrad);
	}
	if (plan->mode == PASS_LSQ)
	{
		AifBlasPrepare();
		MemoryContextSwitchTo(st->mcxt);
		st->lsq = LsqCreate(model->pre.ndesign + 2);
		st->stash_width = model->pre.ndesign + 1;
		if (plan->pilots && plan->test_size > 0)
		{
			st->abserr = AbsErrCreate(model->pre.ndesign + 1);
			st->next_pilot = FIRST_PILOT_ROWS;
		}
	}
	else if (plan->mode == PASS_NB)
	{
		MemoryContextSwitchTo(st->mcxt);
		st->nb = NbCreate(model->nclasses, model->pre.ndesign);
		st->stash_width = model->pre.ndesign + 1;
	}
	else if (plan->mode == PASS_COV)
	{
		AifBlasPrepare();
		MemoryContextSwitchTo(st->mcxt);
		st->cov = CovCreate(Max(model->pre.ndesign, 1));
	}
	else if (plan->mode == PASS_LOAD)
		st->stash_width = model->pre.ndesign + 2;	/* design, target, hash */
	MemoryContextSwitchTo(old);
	return st;
}

/*
 * The aggregate's first call in a backend: the plan and the argument
 * types come from the call.
 */
static PassState *
pass_state_start(FunctionCallInfo fcinfo, MemoryContext aggcxt)
{
	int			nargs = PG_NARGS() - 2;
	Oid		   *types;
	PassPlan   *plan;
	MemoryContext old;

	if (PG_ARGISNULL(1))
		elog(ERROR, "training plan must not be NULL");
	old = MemoryContextSwitchTo(aggcxt);
	plan = PassPlanDeserialize(PG_GETARG_BYTEA_PP(1));
	MemoryContextSwitchTo(old);
	types = palloc(sizeof(Oid) * Max(nargs, 1));
	for (int i = 0; i < nargs; i++)
		types[i] = get_fn_expr_argtype(fcinfo->flinfo, i + 2);
	return pass_state_setup(plan, types, nargs, aggcxt);
}

PassState *
PassStateForRows(bytea *plan_bytes, const Oid *types, int nargs, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PassPlan   *plan = PassPlanDeserialize(plan_bytes);

	MemoryContextSwitchTo(old);
	return pass_state_setup(plan, types, nargs, cxt);
}

/*
 * Move a finished state's data under parent and forget its working memory,
 * which stays behind in the context it was set up in.
 */
void
PassStateDetach(PassState *st, MemoryContext parent)
{
	MemoryContextSetParent(st->mcxt, parent);
	st->plan = NULL;
	st->cols = NULL;
	st->row = NULL;
	st->vals = NULL;
	st->isnull = NULL;
	st->strs = NULL;
	st->lens = NULL;
	st->words = NULL;
	st->salts = NULL;
	st->class_lookup = NULL;
	st->label_cache = NULL;
}

static void
stash_drop(PassState *st)
{
	StashChunk *c = st->stash;

	while (c != NULL)
	{
		StashChunk *next = c->next;

		if (!c->in_slab)
			pfree(c);
		c = next;
	}
	st->stash = NULL;
	st->stash_rows = 0;
	if (st->spare)
	{
		AifPrefaultWait(st->spare_pf);
		st->spare = NULL;
	}
	for (int i = 0; i < st->nslabs; i++)
		AifBigFree(st->slabs[i]);
	st->nslabs = 0;
	st->slab_free = 0;
	if (st->matrix)
	{
		AifBigFree(st->matrix);
		st->matrix = NULL;
		st->matrix_rows = 0;
	}
}

/*
 * The bytes of a chunk of capacity rows: stash_width doubles a row either
 * way (a load's chunk keeps two of them on the side).
 */
static inline Size
stash_chunk_bytes(const PassState *st, int capacity, bool side)
{
	return offsetof(StashChunk, rows) + sizeof(double) * (Size) capacity * st->stash_width;
}

/*
 * A load's full-size chunks are carved from slabs of LOAD_SLAB_CHUNKS
 * chunks: each slab a buffer mapped for itself (core/bigmem.h), which a
 * helper unmaps once the dataset is built.  Chunks of a megabyte or two
 * palloc'd one by one came, after the first few, from the brk heap (glibc
 * raises its mmap threshold as mapped chunks are freed), and freeing a
 * hundred of them at the end of train() made the backend trim the heap a
 * hundred times.
 */
#define LOAD_SLAB_CHUNKS 24

static StashChunk *
stash_alloc_chunk(PassState *st, int capacity, bool side)
{
	Size		bytes = MAXALIGN(stash_chunk_bytes(st, capacity, side));
	StashChunk *c;

	if (st->mode == PASS_LOAD && side && capacity == STASH_CHUNK_ROWS)
	{
		if (st->slab_free < bytes)
		{
			if (st->slabs == NULL)
				st->slabs = MemoryContextAlloc(st->mcxt, sizeof(char *) * 8);
			else if (st->nslabs % 8 == 0)
				st->slabs = repalloc(st->slabs, sizeof(char *) * (st->nslabs + 8));
			st->slabs[st->nslabs++] = AifBigAlloc(st->mcxt, bytes * LOAD_SLAB_CHUNKS);
			st->slab_free = bytes * LOAD_SLAB_CHUNKS;
		}
		c = (StashChunk *) (st->slabs[st->nslabs - 1] + bytes * LOAD_SLAB_CHUNKS -
							st->slab_free);
		st->slab_free -= bytes;
		c->in_slab = true;
	}
	else
	{
		c = MemoryContextAlloc(st->mcxt, bytes);
		c->in_slab = false;
	}
	c->capacity = capacity;
	c->side = side ? c->rows + (Size) capacity * (st->stash_width - 2) : NULL;
	return c;
}

Size
PassSlabBytes(const PassState *st)
{
	return MAXALIGN(stash_chunk_bytes(st, STASH_CHUNK_ROWS, true)) * LOAD_SLAB_CHUNKS;
}

Size
PassChunkBytes(const PassState *st, const StashChunk *c)
{
	return stash_chunk_bytes(st, c->capacity, c->side != NULL);
}

/*
 * A load keeps every row, and the dataset built from them needs as much
 * room again (dataset.c): while a chunk fills, a helper makes the next
 * chunk resident, and the matrix rows of the next chunk's rows
 * (core/prefault.h), on the CPU the scan leaves idle.  The matrix grows by
 * doubling; a large one is moved by the kernel, not copied.
 */
static void
stash_prefault_next(PassState *st)
{
	Size		rowbytes = sizeof(double) * st->stash_width;
	int			mwidth = st->stash_width - 1;	/* design and target */
	int64		need = st->stash_rows + 2 * STASH_CHUNK_ROWS;

	if ((Size) need * rowbytes > (Size) st->stash_limit)
		return;
	if (need > st->matrix_rows)
	{
		/* doubling, but never past what the budget lets the stash hold */
		int64		rows = Min(Max(st->matrix_rows * 2, 4 * STASH_CHUNK_ROWS),
							   st->stash_limit / (int64) rowbytes);
		Size		bytes = sizeof(double) * (Size) rows * mwidth;

		if (st->matrix == NULL)
			st->matrix = AifBigAlloc(st->mcxt, bytes);
		else
			st->matrix = AifBigResize(st->matrix, bytes);
		st->matrix_rows = rows;
	}
	st->spare = stash_alloc_chunk(st, STASH_CHUNK_ROWS, true);
	st->spare_pf =
		AifPrefaultStartPair(st->mcxt, st->spare,
							 stash_chunk_bytes(st, STASH_CHUNK_ROWS, true),
							 st->matrix + (Size) (st->stash_rows + STASH_CHUNK_ROWS) * mwidth,
							 sizeof(double) * (Size) STASH_CHUNK_ROWS * mwidth);
}

static StashChunk *
stash_new_chunk(PassState *st, int capacity, bool side)
{
	StashChunk *c;

	if (st->spare && capacity == STASH_CHUNK_ROWS && side)
	{
		c = st->spare;
		AifPrefaultWait(st->spare_pf);
		st->spare = NULL;
	}
	else
		c = stash_alloc_chunk(st, capacity, side);
	/* from the second chunk on: a small load is not worth a helper */
	if (side && capacity == STASH_CHUNK_ROWS && st->stash_rows >= STASH_CHUNK_ROWS)
		stash_prefault_next(st);
	c->nrows = 0;
	c->next = st->stash;
	st->stash = c;
	return c;
}

double *
PassLoadMatrix(PassState *st, int64 nrows)
{
	double	   *m = st->matrix;
	int64		rows = st->matrix_rows;
	int			mwidth = st->stash_width - 1;

	if (st->spare)
	{
		/* a slab's chunk, freed with its slab */
		AifPrefaultWait(st->spare_pf);
		st->spare = NULL;
	}
	st->matrix = NULL;
	st->matrix_rows = 0;
	if (m == NULL)
		return NULL;
	if (rows < Max(nrows, 1) || mwidth <= 0)
	{
		AifBigFree(m);
		return NULL;
	}
	/* the room never used goes back (the kernel shrinks it in place) */
	return AifBigResize(m, sizeof(double) * (Size) Max(nrows, 1) * mwidth);
}

/* Keep an encoded test row, unless the budget is spent. */
static void
stash_row(PassState *st, const double *design_and_y)
{
	Size		rowbytes = sizeof(double) * st->stash_width;
	StashChunk *c = st->stash;

	if (st->stash_overflow)
		return;
	if (c == NULL || c->nrows == STASH_CHUNK_ROWS)
	{
		if ((Size) (st->stash_rows + STASH_CHUNK_ROWS) * rowbytes > (Size) st->stash_limit)
		{
			/* over budget: give the rows up; train() scans once more */
			stash_drop(st);
			st->stash_overflow = true;
			return;
		}
		c = stash_new_chunk(st, STASH_CHUNK_ROWS, st->mode == PASS_LOAD);
	}
	if (c->side)
	{
		int			p = st->stash_width - 2;

		memcpy(c->rows + (Size) c->nrows * p, design_and_y, sizeof(double) * p);
		c->side[c->nrows] = design_and_y[p];
		c->side[c->capacity + c->nrows] = design_and_y[p + 1];
	}
	else
		memcpy(c->rows + (Size) c->nrows * st->stash_width, design_and_y, rowbytes);
	c->nrows++;
	st->stash_rows++;
}

static inline uint64
mix64(uint64 h)
{
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/* Word i of a row (0: the target) mixed into its share of the split hash. */
static inline uint64
split_word(const PassState *st, int i, uint64 word)
{
	return SplitHashTerm(st->salts[i], word);
}


/*
 * Fit a pilot on the training rows seen so far (this process's share) and
 * start a new error-sum group with it.  tau is an estimate, with a margin,
 * of how far the final fit will move a prediction from the pilot's: 1.25
 * times the sum over columns of a large value (mean + 2.5 standard
 * deviations) times the coefficient's standard error (the bounds met on
 * the reference benchmark stay under half of it).  It need not be right: train()
 * checks the real bound and scans once more when it fails.
 */
static void
fit_pilot(PassState *st)
{
	PassPlan   *plan = st->plan;
	int			k = plan->model->pre.ndesign;
	LsqOptions	opts;
	LsqFit		fit;
	LsqFit		ols;
	double	   *scale = NULL;
	double	   *pilot;
	double		tau;
	MemoryContext old;

	st->next_pilot *= 2;
	LsqFlush(st->lsq);
	if (plan->alpha > 0 && plan->standardize)
	{
		scale = palloc(sizeof(double) * Max(k, 1));
		for (int j = 0; j < k; j++)
		{
			double		sd = LsqColumnStd(st->lsq, j + 1);

			scale[j] = (sd > 0 && isfinite(sd)) ? sd : 1.0;
		}
	}
	memset(&opts, 0, sizeof(opts));
	opts.intercept = plan->fit_intercept;
	opts.alpha = plan->alpha;
	opts.penalty_scale = scale;
	LsqSolve(st->lsq, &opts, &fit);
	opts.alpha = 0;
	opts.penalty_scale = NULL;
	opts.want_stderr = true;
	LsqSolve(st->lsq, &opts, &ols);
	if (fit.rank_deficient_col >= 0 || ols.rank_deficient_col >= 0 || ols.se == NULL)
		return;
	tau = plan->fit_intercept ? ols.intercept_se : 0;
	for (int j = 0; j < k; j++)
		tau += (fabs(LsqColumnMean(st->lsq, j + 1)) + 2.5 * LsqColumnStd(st->lsq, j + 1)) * ols.se[j];
	tau *= 1.25;
	if (!(tau > 0) || !isfinite(tau))
		return;
	pilot = palloc(sizeof(double) * (k + 1));
	pilot[0] = plan->fit_intercept ? fit.intercept : 0;
	for (int j = 0; j < k; j++)
		pilot[j + 1] = fit.beta[j];
	old = MemoryContextSwitchTo(st->mcxt);
	AbsErrPilot(st->abserr, pilot, tau);
	MemoryContextSwitchTo(old);
}

/* The converted inputs of the current row into st->row[1 .. ndesign]. */
static void
encode_row(PassState *st)
{
	Model	   *model = st->plan->model;
	double	   *design = st->row + 1;

	/* numeric values are in place already; only NULLs and levels remain */
	if (st->all_numeric && !st->row_has_null)
		return;
	for (int i = 0; i < st->nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		if (f->kind == FEATURE_NUMERIC)
		{
			/* a present value was written while converting it */
			if (st->isnull[i])
				design[f->design_offset] = f->impute;
		}
		else
			EncodeCategorical(f, st->isnull[i], st->strs[i], st->lens[i], design);
	}
}

static inline int
label_cache_index(Datum value)
{
	return (int) (((uint64) value * UINT64CONST(0x9E3779B97F4A7C15)) >> 60);
}

/*
 * The transition's shortcut for a classification target of a by-value
 * type (integers, booleans, enums, ...), whose few distinct values repeat
 * row after row: a label's text is a function of its Datum, so its split-
 * hash word, its class (or, in a load, its hash) and its slot in the
 * label dictionary are remembered per Datum, and a repeated label costs
 * no conversion to text, no hashing of the text and no dictionary probe.
 * The results are exactly those of the long way.  An entry's slot is
 * valid while the dictionary does not grow, so a growth (which changes
 * its capacity) forgets every entry.
 */
static inline bool
label_cache_lookup(PassState *st, Datum value, double *y)
{
	LabelCacheEntry *e = &st->label_cache[label_cache_index(value)];

	if (st->target_dict && st->target_dict->capacity != st->label_cache_capacity)
	{
		memset(st->label_cache, 0, sizeof(LabelCacheEntry) * PASS_LABEL_CACHE);
		st->label_cache_capacity = st->target_dict->capacity;
		return false;
	}
	if (!e->valid || e->value != value)
		return false;
	st->words[0] = e->word;
	*y = e->y;
	if (st->target_dict)
		st->target_dict->counts[e->slot]++;
	return true;
}

/*
 * One row of the source: in[0] is the target, in[1 .. nfeatures] the
 * features -- or, with x, the features are the nfeatures float8 values x
 * (none NULL; only for a state that takes float8 rows) and in[0] alone is
 * read.  Runs in memory that is reset after the row.
 */
static void
pass_add_row(PassState *st, const NullableDatum *in, const double *x)
{
	PassPlan   *plan = st->plan;
	Model	   *model = plan->model;
	double		y;
	uint64		h;
	bool		is_test;
	bool		fast;
	bool		missing = false;
	int			nf = st->nfeatures;

	/* rows without a target teach nothing */
	if (in[0].isnull)
	{
		st->rows_null_target++;
		return;
	}
	if (model->task == TASK_CLASSIFICATION && st->label_cache &&
		label_cache_lookup(st, in[0].value, &y))
	{
		/* a label seen before: its word, class and count, from the cache */
	}
	else if (model->task == TASK_CLASSIFICATION)
	{
		int			len;
		const char *label;
		int			slot = -1;

		if (TypeIsNumericFeature(st->cols[0].typid))
		{
			double		v = InputToDouble(&st->cols[0], in[0].value);

			if (unlikely(isnan(v) || isinf(v)))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("target column \"%s\" contains %s", model->target,
								isnan(v) ? "NaN" : "Infinity"),
						 errhint("Filter such rows out, or make the target NULL: rows without a target are skipped.")));
		}
		label = InputToString(&st->cols[0], in[0].value, &len);

		st->words[0] = hash_bytes_extended((const unsigned char *) label, len, 0);
		if (st->target_dict)
		{
			MemoryContext old = MemoryContextSwitchTo(st->mcxt);

			slot = level_dict_add(st->target_dict, label, len, 1);
			MemoryContextSwitchTo(old);
			/* a load keeps the label's hash; train() maps it to the class */
			memcpy(&y, &st->words[0], sizeof(y));
		}
		else
		{
			int			cls = ClassIndex(model, st->class_lookup, label, len);

			if (cls < 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("class \"%.*s\" appeared in the source between two scans", len, label),
						 errhint("Train on data that does not change while it is read.")));
			y = cls;
		}
		if (st->label_cache)
		{
			LabelCacheEntry *e = &st->label_cache[label_cache_index(in[0].value)];

			e->value = in[0].value;
			e->word = st->words[0];
			e->y = y;
			e->slot = slot;
			e->valid = st->target_dict == NULL || slot >= 0;
		}
	}
	else
	{
		y = InputToDoubleFast(&st->cols[0], in[0].value);
		if (unlikely(isnan(y) || isinf(y)))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("target column \"%s\" contains %s", model->target,
							isnan(y) ? "NaN" : "Infinity"),
					 errhint("Filter such rows out, or make the target NULL: rows without a target are skipped.")));
		st->words[0] = SplitHashDoubleWord(y);
	}

	/*
	 * Convert every input once: numerics to double, categoricals to their
	 * string (then to a level index when levels are known).  The split is
	 * a seeded hash of these raw values: each word mixed on its own (salted
	 * by seed and position) and the results summed, so that there is no
	 * chain of dependent multiplies per row.  Rows of float8 features
	 * without a NULL, the common case, take a short way to the same values
	 * and the same hash.
	 */
	fast = false;
	if (st->all_float8)
	{
		const double *vals = x;
		bool		anynull = false;
		bool		bad;

		if (vals == NULL)
		{
			/* a NULL's Datum is no value: such a row takes the long way below */
			for (int i = 0; i < nf; i++)
			{
				st->vals[i] = DatumGetFloat8(in[i + 1].value);
				anynull |= in[i + 1].isnull;
			}
			vals = st->vals;
		}
		else if (st->mode != PASS_LOAD)
			memcpy(st->vals, x, sizeof(double) * nf);	/* the sums below read them */
		h = split_word(st, 0, st->words[0]) +
			SplitHashFloat8(st->salts + 1, vals, nf, &bad);
		memcpy(st->row + 1, vals, sizeof(double) * nf);
		fast = !anynull;
		if (fast && unlikely(bad))
			for (int i = 0; i < nf; i++)
				CheckFinite(vals[i], psprintf("feature \"%s\"", model->pre.features[i].name));
	}
	if (!fast)
	{
		for (int i = 0; i < nf; i++)
		{
			const NullableDatum *arg = &in[i + 1];
			FeatureSpec *f = &model->pre.features[i];

			st->isnull[i] = arg->isnull;
			if (st->isnull[i])
			{
				st->words[i + 1] = UINT64CONST(0x9e3779b97f4a7c15);
				if (f->kind == FEATURE_NUMERIC)
					missing = true;
				continue;
			}
			if (f->kind == FEATURE_NUMERIC)
			{
				double		v = InputToDoubleFast(&st->cols[i + 1], arg->value);

				if (unlikely(isnan(v) || isinf(v)))
					CheckFinite(v, psprintf("feature \"%s\"", f->name));
				st->vals[i] = v;
				st->row[1 + f->design_offset] = v;	/* encode_row skips these */
				st->words[i + 1] = SplitHashDoubleWord(v);
			}
			else
			{
				st->strs[i] = InputToString(&st->cols[i + 1], arg->value,
											&st->lens[i]);
				st->words[i + 1] = hash_bytes_extended((const unsigned char *) st->strs[i],
													   st->lens[i], 0);
			}
		}
		h = 0;
		for (int i = 0; i <= nf; i++)
			h += split_word(st, i, st->words[i]);
	}
	st->row_has_null = missing;
	is_test = plan->test_size > 0 &&
		(double) (mix64(h) >> 11) * (1.0 / 9007199254740992.0) < plan->test_size;

	if (is_test)
		st->rows_test++;
	else
		st->rows_train++;

	/* counts, sums and levels: only while imputation values are unknown */
	if (!is_test && (st->mode == PASS_PROFILE ||
					 ((st->mode == PASS_LSQ || st->mode == PASS_NB ||
					   st->mode == PASS_COV) && !plan->impute_known)))
	{
		if (st->all_numeric && !missing)
		{
			/* the common case, without a branch per feature */
			for (int i = 0; i < nf; i++)
			{
				st->nonnull[i]++;
				st->sum[i] += st->vals[i];
			}
		}
		else for (int i = 0; i < nf; i++)
		{
			if (st->isnull[i])
				continue;
			if (model->pre.features[i].kind == FEATURE_NUMERIC)
			{
				st->nonnull[i]++;
				st->sum[i] += st->vals[i];
			}
			else if (st->dicts[i])
			{
				/* the transition runs in per-row memory; the dict lives on */
				MemoryContext old = MemoryContextSwitchTo(st->mcxt);

				level_dict_add(st->dicts[i], st->strs[i], st->lens[i], 1);
				MemoryContextSwitchTo(old);
			}
		}
	}

	switch (st->mode)
	{
		case PASS_PROFILE:
			break;
		case PASS_LSQ:
			if (missing && !plan->impute_known)
			{
				/* test rows too: their metrics need the imputed values */
				st->rows_skipped_missing++;
				break;
			}
			encode_row(st);
			st->row[model->pre.ndesign + 1] = y;
			if (is_test)
			{
				/* every test row counts in the target's variance */
				MetricAccAdd(&st->acc, y, y);
				if (st->abserr == NULL || !AbsErrAdd(st->abserr, st->row, y))
					stash_row(st, st->row + 1);
			}
			else
			{
				LsqAddRow(st->lsq, st->row);
				if (st->abserr && st->lsq->nrows >= st->next_pilot)
					fit_pilot(st);
			}
			break;
		case PASS_REFINE:
			if (!is_test)
			{
				/*
				 * The residual in double-double: y and X b nearly cancel
				 * on an ill-conditioned design, and the refinement step
				 * is only as good as this difference.
				 */
				DD			r = {y, 0.0};
				double	   *x = st->row + 1;
				int			k = model->pre.ndesign;

				encode_row(st);
				if (model->fit_intercept)
					r = dd_add(r, dd_two_sum(-model->intercept, 0.0));
				for (int j = 0; j < k; j++)
					r = dd_add_prod(r, -model->coef[j], x[j]);
				st->grad[0] = dd_add(st->grad[0], r);
				for (int j = 0; j < k; j++)
					st->grad[j + 1] = dd_add(st->grad[j + 1], dd_mul_d(r, x[j]));
			}
			break;
		case PASS_LOAD:
			/* every row; a missing numeric value stays NaN (imputed later) */
			encode_row(st);
			st->row[model->pre.ndesign + 1] = y;
			{
				uint64		mixed = mix64(h);	/* what is_test was decided by */

				memcpy(&st->row[model->pre.ndesign + 2], &mixed, sizeof(mixed));
			}
			stash_row(st, st->row + 1);
			break;
		case PASS_NB:
			if (missing && !plan->impute_known)
			{
				st->rows_skipped_missing++;
				break;
			}
			encode_row(st);
			/* with nothing held out, the metrics are on the training rows */
			if (is_test || plan->test_size <= 0)
			{
				st->row[model->pre.ndesign + 1] = y;
				stash_row(st, st->row + 1);
			}
			if (!is_test)
				NbAdd(st->nb, (int) y, st->row + 1);
			break;
		case PASS_COV:
			if (missing && !plan->impute_known)
			{
				st->rows_skipped_missing++;
				break;
			}
			encode_row(st);
			CovAddRow(st->cov, st->row + 1);
			break;
		case PASS_EVAL:
			if (is_test || plan->test_size <= 0)
			{
				encode_row(st);
				MetricAccAdd(&st->acc, y, ModelPredictDesign(model, st->row + 1));
			}
			break;
	}
}

void
PassAddRow(PassState *st, const NullableDatum *in)
{
	pass_add_row(st, in, NULL);
}

bool
PassTakesFloat8Rows(const PassState *st)
{
	return st->all_float8;
}

void
PassAddFloat8Row(PassState *st, const NullableDatum *target, const double *x)
{
	Assert(st->all_float8);
	pass_add_row(st, target, x);
}

Datum
aifactory_train_transition(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	PassState  *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_train_transition called in non-aggregate context");

	st = PG_ARGISNULL(0) ? pass_state_start(fcinfo, aggcxt) :
		(PassState *) PG_GETARG_POINTER(0);
	PassAddRow(st, &fcinfo->args[2]);
	PG_RETURN_POINTER(st);
}

/* ---- combine ---- */

Datum
aifactory_train_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	PassState  *a;
	PassState  *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_train_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (PassState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
	{
		/* adopt b (a deserialized partial state) rather than copy it */
		MemoryContextSetParent(b->mcxt, aggcxt);
		PG_RETURN_POINTER(b);
	}
	a = (PassState *) PG_GETARG_POINTER(0);
	if (a->mode != b->mode || a->nfeatures != b->nfeatures)
		elog(ERROR, "cannot combine different training passes");

	old = MemoryContextSwitchTo(a->mcxt);
	AifBlasPrepare();
	a->rows_train += b->rows_train;
	a->rows_test += b->rows_test;
	a->rows_null_target += b->rows_null_target;
	a->rows_skipped_missing += b->rows_skipped_missing;
	for (int i = 0; i < a->nfeatures; i++)
	{
		a->nonnull[i] += b->nonnull[i];
		a->sum[i] += b->sum[i];
		if (b->dicts[i])
		{
			if (!a->dicts[i])
				a->dicts[i] = level_dict_create();
			for (int k = 0; k < b->dicts[i]->capacity; k++)
				if (b->dicts[i]->keys[k])
					level_dict_add(a->dicts[i], b->dicts[i]->keys[k],
								   b->dicts[i]->lens[k], b->dicts[i]->counts[k]);
			a->dicts[i]->overflow |= b->dicts[i]->overflow;
		}
	}
	if (b->lsq)
	{
		if (!a->lsq)
			a->lsq = LsqCreate(b->lsq->d);
		LsqMerge(a->lsq, b->lsq);
	}
	if (b->abserr)
	{
		if (!a->abserr)
			a->abserr = AbsErrCreate(b->abserr->m);
		AbsErrMerge(a->abserr, b->abserr);
	}
	a->stash_limit = Max(a->stash_limit, b->stash_limit);
	if (b->stash_overflow || a->stash_overflow ||
		(a->stash_rows + b->stash_rows) * sizeof(double) * Max(a->stash_width, b->stash_width) >
		(Size) a->stash_limit)
	{
		stash_drop(a);
		a->stash_overflow = true;
	}
	else if (b->stash_rows > 0)
	{
		/*
		 * Take b's chunks over without copying them: b's memory context
		 * becomes a child of a's, so the chunks live (and are handed off)
		 * with a.
		 */
		StashChunk *last = b->stash;

		while (last->next != NULL)
			last = last->next;
		last->next = a->stash;
		a->stash = b->stash;
		a->stash_rows += b->stash_rows;
		a->stash_width = b->stash_width;
		b->stash = NULL;
		b->stash_rows = 0;
		MemoryContextSetParent(b->mcxt, a->mcxt);
	}
	MetricAccMerge(&a->acc, &b->acc);
	if (b->target_dict)
	{
		if (!a->target_dict)
			a->target_dict = level_dict_create();
		for (int k = 0; k < b->target_dict->capacity; k++)
			if (b->target_dict->keys[k])
				level_dict_add(a->target_dict, b->target_dict->keys[k],
							   b->target_dict->lens[k], b->target_dict->counts[k]);
		a->target_dict->overflow |= b->target_dict->overflow;
	}
	if (b->nb)
	{
		if (!a->nb)
			a->nb = NbCreate(b->nb->nclasses, b->nb->p);
		NbMerge(a->nb, b->nb);
	}
	if (b->cov)
	{
		if (!a->cov)
			a->cov = CovCreate(b->cov->p);
		CovMerge(a->cov, b->cov);
	}
	if (b->ngrad > 0)
	{
		if (a->ngrad == 0)
		{
			a->ngrad = b->ngrad;
			a->grad = palloc0(sizeof(DD) * a->ngrad);
		}
		for (int j = 0; j < a->ngrad; j++)
			a->grad[j] = dd_add(a->grad[j], b->grad[j]);
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(a);
}

/* ---- serialization ---- */

static void
send_dict(StringInfo buf, LevelDict *d)
{
	if (d == NULL)
	{
		pq_sendint32(buf, -1);
		return;
	}
	pq_sendint32(buf, d->nentries);
	pq_sendbyte(buf, d->overflow ? 1 : 0);
	for (int k = 0; k < d->capacity; k++)
	{
		if (d->keys[k] == NULL)
			continue;
		pq_sendint32(buf, d->lens[k]);
		pq_sendbytes(buf, d->keys[k], d->lens[k]);
		pq_sendint64(buf, d->counts[k]);
	}
}

/* Counterpart of send_dict; the caller's memory context receives it. */
static LevelDict *
get_dict(StringInfo buf)
{
	int			n = pq_getmsgint(buf, 4);
	LevelDict  *d;

	if (n < 0)
		return NULL;
	d = level_dict_create();
	d->overflow = pq_getmsgbyte(buf) != 0;
	for (int k = 0; k < n; k++)
	{
		int			len = pq_getmsgint(buf, 4);
		const char *s = pq_getmsgbytes(buf, len);
		int64		count = pq_getmsgint64(buf);

		level_dict_add(d, s, len, count);
	}
	return d;
}

/* A nested state as (length, bytes); length 0 for none. */
static void
send_blob(StringInfo buf, const char *data, Size len)
{
	pq_sendint64(buf, len);
	if (len > 0)
		pq_sendbytes(buf, data, len);
}

Datum
aifactory_train_serialize(PG_FUNCTION_ARGS)
{
	PassState  *st = (PassState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	Size		estimate = 1024 + st->nfeatures * 32;

	/* size the buffer once: the test rows can be hundreds of megabytes */
	if (st->lsq)
		estimate += LsqSerializedSize(st->lsq->d);
	estimate += (Size) st->stash_rows * st->stash_width * sizeof(double);
	for (int i = 0; i < st->nfeatures; i++)
		if (st->dicts[i])
			estimate += st->dicts[i]->nentries * 32;

	pq_begintypsend(&buf);
	enlargeStringInfo(&buf, Min(estimate, MaxAllocSize - 64));
	pq_sendint32(&buf, st->mode);
	pq_sendint32(&buf, st->nfeatures);
	pq_sendint64(&buf, st->rows_train);
	pq_sendint64(&buf, st->rows_test);
	pq_sendint64(&buf, st->rows_null_target);
	pq_sendint64(&buf, st->rows_skipped_missing);
	for (int i = 0; i < st->nfeatures; i++)
	{
		LevelDict  *d = st->dicts[i];

		pq_sendint64(&buf, st->nonnull[i]);
		pq_sendfloat8(&buf, st->sum[i]);
		send_dict(&buf, d);
	}
	if (st->lsq)
	{
		Size		n = LsqSerializedSize(st->lsq->d);
		char	   *tmp = palloc(n);

		LsqSerialize(st->lsq, tmp);
		pq_sendint32(&buf, st->lsq->d);
		pq_sendint64(&buf, n);
		pq_sendbytes(&buf, tmp, n);
		pfree(tmp);
	}
	else
		pq_sendint32(&buf, 0);
	if (st->abserr)
	{
		Size		n = AbsErrSerializedSize(st->abserr);
		char	   *tmp = palloc(n);

		AbsErrSerialize(st->abserr, tmp);
		send_blob(&buf, tmp, n);
		pfree(tmp);
	}
	else
		send_blob(&buf, NULL, 0);
	pq_sendbyte(&buf, st->stash_overflow ? 1 : 0);
	pq_sendint64(&buf, st->stash_limit);
	pq_sendint32(&buf, st->stash_width);
	pq_sendint64(&buf, st->stash_rows);
	for (StashChunk *c = st->stash; c != NULL; c = c->next)
	{
		int			p = st->stash_width - 2;

		if (c->side == NULL)
		{
			pq_sendbytes(&buf, (char *) c->rows,
						 (Size) c->nrows * st->stash_width * sizeof(double));
			continue;
		}
		/* a load's chunk: each row whole, as the other chunks' */
		for (int r = 0; r < c->nrows; r++)
		{
			pq_sendbytes(&buf, (char *) (c->rows + (Size) r * p), sizeof(double) * p);
			pq_sendbytes(&buf, (char *) &c->side[r], sizeof(double));
			pq_sendbytes(&buf, (char *) &c->side[c->capacity + r], sizeof(double));
		}
	}
	pq_sendint64(&buf, st->acc.n);
	pq_sendfloat8(&buf, st->acc.sse);
	pq_sendfloat8(&buf, st->acc.sae);
	pq_sendfloat8(&buf, st->acc.ymean);
	pq_sendfloat8(&buf, st->acc.ym2);
	pq_sendint32(&buf, st->ngrad);
	for (int j = 0; j < st->ngrad; j++)
	{
		pq_sendfloat8(&buf, st->grad[j].hi);
		pq_sendfloat8(&buf, st->grad[j].lo);
	}
	send_dict(&buf, st->target_dict);
	if (st->nb)
	{
		Size		n = NbSerializedSize(st->nb);
		char	   *tmp = palloc(n);

		NbSerialize(st->nb, tmp);
		send_blob(&buf, tmp, n);
		pfree(tmp);
	}
	else
		send_blob(&buf, NULL, 0);
	if (st->cov)
	{
		Size		n = CovSerializedSize(st->cov->p);
		char	   *tmp = palloc(n);

		CovSerialize(st->cov, tmp);
		send_blob(&buf, tmp, n);
		pfree(tmp);
	}
	else
		send_blob(&buf, NULL, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PassState *
PassStateDeserialize(bytea *bytes, MemoryContext mcxt)
{
	StringInfoData buf;
	MemoryContext old = MemoryContextSwitchTo(mcxt);
	PassState  *st;
	int			mode;
	int			nfeatures;
	int			d;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;

	mode = pq_getmsgint(&buf, 4);
	nfeatures = pq_getmsgint(&buf, 4);
	if (mode < PASS_PROFILE || mode > PASS_COV || nfeatures < 0 || nfeatures > 100000)
		elog(ERROR, "invalid training pass state");
	st = pass_state_create(mcxt, mode, nfeatures);
	MemoryContextSwitchTo(st->mcxt);
	st->rows_train = pq_getmsgint64(&buf);
	st->rows_test = pq_getmsgint64(&buf);
	st->rows_null_target = pq_getmsgint64(&buf);
	st->rows_skipped_missing = pq_getmsgint64(&buf);
	for (int i = 0; i < nfeatures; i++)
	{
		st->nonnull[i] = pq_getmsgint64(&buf);
		st->sum[i] = pq_getmsgfloat8(&buf);
		st->dicts[i] = get_dict(&buf);
	}
	d = pq_getmsgint(&buf, 4);
	if (d > 0)
	{
		int64		n = pq_getmsgint64(&buf);

		st->lsq = LsqDeserialize(pq_getmsgbytes(&buf, n), n);
	}
	{
		int64		n = pq_getmsgint64(&buf);

		if (n > 0)
			st->abserr = AbsErrDeserialize(pq_getmsgbytes(&buf, n), n);
	}
	st->stash_overflow = pq_getmsgbyte(&buf) != 0;
	st->stash_limit = pq_getmsgint64(&buf);
	st->stash_width = pq_getmsgint(&buf, 4);
	st->stash_rows = pq_getmsgint64(&buf);
	if (st->stash_rows > 0)
	{
		Size		n = st->stash_rows * st->stash_width * sizeof(double);

		/* one chunk holding every row; MaxAllocSize bounds it, like the bytes */
		stash_new_chunk(st, st->stash_rows, false);
		memcpy(st->stash->rows, pq_getmsgbytes(&buf, n), n);
		st->stash->nrows = st->stash_rows;
	}
	st->acc.n = pq_getmsgint64(&buf);
	st->acc.sse = pq_getmsgfloat8(&buf);
	st->acc.sae = pq_getmsgfloat8(&buf);
	st->acc.ymean = pq_getmsgfloat8(&buf);
	st->acc.ym2 = pq_getmsgfloat8(&buf);
	st->ngrad = pq_getmsgint(&buf, 4);
	if (st->ngrad < 0 || st->ngrad > LSQ_MAX_COLS)
		elog(ERROR, "invalid training pass state");
	if (st->ngrad > 0)
	{
		st->grad = palloc0(sizeof(DD) * st->ngrad);
		for (int j = 0; j < st->ngrad; j++)
		{
			st->grad[j].hi = pq_getmsgfloat8(&buf);
			st->grad[j].lo = pq_getmsgfloat8(&buf);
		}
	}
	st->target_dict = get_dict(&buf);
	{
		int64		n = pq_getmsgint64(&buf);

		if (n > 0)
			st->nb = NbDeserialize(pq_getmsgbytes(&buf, n), n);
		n = pq_getmsgint64(&buf);
		if (n > 0)
			st->cov = CovDeserialize(pq_getmsgbytes(&buf, n), n);
	}
	pq_getmsgend(&buf);
	MemoryContextSwitchTo(old);
	return st;
}

Datum
aifactory_train_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_train_deserialize called in non-aggregate context");
	PG_RETURN_POINTER(PassStateDeserialize(PG_GETARG_BYTEA_PP(0), aggcxt));
}

/* ---- hand-off ---- */

static MemoryContext handoff_cxt = NULL;
static PassState *handoff_state = NULL;

#define HANDOFF_MARKER "aifactory: state handed to train()"

/*
 * train() runs the pass in its own backend and wants the final state, test
 * rows included.  Returning it as bytes would copy it three times (the
 * serialization, SPI's result tuple, the deserialization); instead the
 * final function moves the state's memory context under a context that
 * train() named here.  Outside train() the final function serializes.
 */
void
PassHandoffBegin(MemoryContext cxt)
{
	handoff_cxt = cxt;
	handoff_state = NULL;
}

bool
PassIsHandoffMarker(const bytea *value)
{
	return VARSIZE_ANY_EXHDR(value) == strlen(HANDOFF_MARKER) &&
		memcmp(VARDATA_ANY(value), HANDOFF_MARKER, strlen(HANDOFF_MARKER)) == 0;
}

PassState *
PassHandoffEnd(void)
{
	PassState  *st = handoff_state;

	handoff_cxt = NULL;
	handoff_state = NULL;
	return st;
}

Datum
aifactory_train_final(PG_FUNCTION_ARGS)
{
	PassState  *st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (PassState *) PG_GETARG_POINTER(0);
	if (handoff_cxt != NULL && handoff_state == NULL && !IsParallelWorker())
	{
		/* working memory stays with the aggregate and goes away with it */
		PassStateDetach(st, handoff_cxt);
		handoff_state = st;
		PG_RETURN_TEXT_P(cstring_to_text(HANDOFF_MARKER));
	}
	return DirectFunctionCall1(aifactory_train_serialize, PG_GETARG_DATUM(0));
}
