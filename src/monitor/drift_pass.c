/*-------------------------------------------------------------------------
 *
 * drift_pass.c
 *	  The _drift_pass aggregate (drift_pass.h): transition, combine,
 *	  (de)serialization and final functions.
 *
 * The state is a Baseline of the current rows, allocated in the
 * aggregate's memory context, plus per-backend working memory (the
 * model, the argument readers, one encoded row) that is never
 * serialized: a state deserialized from a worker has none, and only
 * ever meets the transition function of the backend that made it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/sketch.h"
#include "catalog/pg_type.h"
#include "core/preprocess.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "monitor/drift_pass.h"
#include "access/parallel.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(aifactory_drift_transition);
PG_FUNCTION_INFO_V1(aifactory_drift_combine);
PG_FUNCTION_INFO_V1(aifactory_drift_serialize);
PG_FUNCTION_INFO_V1(aifactory_drift_deserialize);
PG_FUNCTION_INFO_V1(aifactory_drift_final);

/* the word a NULL value adds to its row's hash */
#define NULL_WORD		UINT64CONST(0x6e756c6c2076616c)

/* One feature of the current row, laid out for the per-row loop. */
typedef struct DriftInput
{
	bool		numeric;
	bool		float8;			/* numeric and a float8 column */
	int			design_offset;	/* numeric: its design column */
	double		missing;		/* numeric: the design value of a NULL */
	uint64		mult;			/* an odd multiplier of the row hash */
	const FeatureSpec *spec;	/* categorical: for the encoding */
	InputColumn *col;
	NumSketch  *num;			/* the summary it goes to */
	CatSketch  *cat;
	double		val;			/* the current row's value */
	const char *str;			/* ... or text (NULL: missing) */
	int			len;
	uint64		strhash;		/* SketchHashBytes of the text */
} DriftInput;

typedef struct DriftPassState
{
	MemoryContext cxt;			/* cur's memory, and the state's */
	Baseline   *cur;

	/* per backend, set by the first transition call; never serialized */
	Model	   *model;
	int			nargs;
	InputColumn *cols;
	DriftInput *in;				/* per feature */
	double	   *design;			/* the encoded row, for the prediction */
} DriftPassState;

Baseline *
DriftCurrentCreate(const Model *model)
{
	return BaselineCreateSized(model, false, DRIFT_CURRENT_K, false);
}

Baseline *
DriftCurrentDeserialize(const bytea *bytes)
{
	Baseline   *b = BaselineDeserialize(bytes);

	for (int i = 0; i < b->nfeatures; i++)
		if (b->features[i].num)
			NumSketchNoMoments(b->features[i].num);
	if (b->pred_num)
		NumSketchNoMoments(b->pred_num);
	return b;
}

/*
 * A state lives in a memory context of its own under the aggregate's, so
 * that the final function can hand the summary to drift() whole.
 */
static DriftPassState *
drift_state_create(MemoryContext aggcxt)
{
	MemoryContext cxt = AllocSetContextCreate(aggcxt, "aifactory drift pass",
											  ALLOCSET_DEFAULT_SIZES);
	DriftPassState *st = MemoryContextAllocZero(cxt, sizeof(DriftPassState));

	st->cxt = cxt;
	return st;
}

/* First call in a backend: the model, the argument types, the buffers. */
static DriftPassState *
drift_state_start(FunctionCallInfo fcinfo, MemoryContext aggcxt)
{
	DriftPassState *st = drift_state_create(aggcxt);
	MemoryContext old;
	Model	   *model;
	int			nf;

	if (PG_ARGISNULL(1))
		elog(ERROR, "drift pass: the model must not be NULL");
	/* working memory stays with the aggregate, the summary in st->cxt */
	model = ModelDeserialize(PG_GETARG_BYTEA_PP(1), aggcxt);
	old = MemoryContextSwitchTo(st->cxt);
	st->cur = DriftCurrentCreate(model);
	MemoryContextSwitchTo(aggcxt);
	nf = model->pre.nfeatures;
	st->nargs = PG_NARGS() - 2;
	if (st->nargs != Max(nf, 1))
		elog(ERROR, "drift pass got %d inputs for %d features", st->nargs, nf);
	st->model = model;
	st->cols = palloc0(sizeof(InputColumn) * st->nargs);
	for (int i = 0; i < nf; i++)
	{
		Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, i + 2);

		if (!OidIsValid(typid))
			elog(ERROR, "could not determine the type of drift input %d", i + 1);
		if (model->pre.features[i].kind == FEATURE_NUMERIC && !TypeIsNumericFeature(typid))
			elog(ERROR, "feature \"%s\" arrived as a non-numeric type",
				 model->pre.features[i].name);
		InputColumnInit(&st->cols[i], typid, aggcxt);
	}
	st->in = palloc0(sizeof(DriftInput) * Max(nf, 1));
	for (int i = 0; i < nf; i++)
	{
		const FeatureSpec *f = &model->pre.features[i];
		DriftInput *in = &st->in[i];

		in->numeric = f->kind == FEATURE_NUMERIC;
		in->float8 = in->numeric && st->cols[i].typid == FLOAT8OID;
		in->design_offset = f->design_offset;
		in->missing = f->keep_missing ? NAN : f->impute;
		in->mult = SketchHash64(UINT64CONST(0x6d756c7469706c79) + (uint64) i) | 1;
		in->spec = f;
		in->col = &st->cols[i];
		in->num = st->cur->features[i].num;
		in->cat = st->cur->features[i].cat;
	}
	st->design = palloc0(sizeof(double) * Max(model->pre.ndesign, 1));
	MemoryContextSwitchTo(old);
	return st;
}

/*
 * One current row: read and encode every feature, hash the raw values
 * into the row's sample hash, then add the row to the summaries.  The
 * reads run in the per-row context; the summaries grow in the aggregate's.
 *
 * The row hash is sum(word_i * mult_i) mod 2^64, finalized by
 * SketchHash64: the products are independent of one another (a chain of
 * twenty finalizers would be the longest dependency of the row), and two
 * rows differing in one feature always differ before the finalizer, the
 * multipliers being odd.
 */
Datum
aifactory_drift_transition(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	DriftPassState *st;
	Model	   *model;
	Baseline   *cur;
	uint64		hash = UINT64CONST(0x6472696674726f77);
	uint64		sum = 0;
	bool		predictable = true;
	int			nf;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_drift_transition called in non-aggregate context");
	st = PG_ARGISNULL(0) ? drift_state_start(fcinfo, aggcxt) :
		(DriftPassState *) PG_GETARG_POINTER(0);
	model = st->model;
	if (model == NULL)
		elog(ERROR, "drift pass: a combined state cannot take rows");
	cur = st->cur;
	nf = model->pre.nfeatures;

	for (int i = 0; i < nf; i++)
	{
		DriftInput *in = &st->in[i];
		bool		isnull = PG_ARGISNULL(i + 2);
		uint64		word;

		if (in->numeric)
		{
			double		v;

			if (isnull)
			{
				v = NAN;
				word = NULL_WORD;
				st->design[in->design_offset] = in->missing;
			}
			else
			{
				v = in->float8 ? PG_GETARG_FLOAT8(i + 2) :
					InputToDouble(in->col, PG_GETARG_DATUM(i + 2));
				if (v == 0)
					v = 0.0;	/* -0 and +0 are one value */
				if (!isfinite(v))
					predictable = false;
				memcpy(&word, &v, sizeof(word));
				st->design[in->design_offset] = v;
			}
			in->val = v;
		}
		else if (isnull)
		{
			word = NULL_WORD;
			in->str = NULL;
			EncodeCategorical(in->spec, true, NULL, 0, st->design);
		}
		else
		{
			in->str = InputToString(in->col, PG_GETARG_DATUM(i + 2), &in->len);
			in->strhash = SketchHashBytes(in->str, in->len);
			word = in->strhash;
			EncodeCategorical(in->spec, false, in->str, in->len, st->design);
		}
		sum += word * in->mult;
	}
	hash = SketchHash64(hash ^ sum);

	old = MemoryContextSwitchTo(st->cxt);
	cur->rows++;
	for (int i = 0; i < nf; i++)
	{
		DriftInput *in = &st->in[i];

		if (in->numeric)
			NumSketchAdd(in->num, in->val, hash);	/* NaN, infinities: missing */
		else if (in->str == NULL)
			CatSketchAddMissing(in->cat);
		else
			CatSketchAddCountHashed(in->cat, in->str, in->len, in->strhash, 1);
	}
	if (cur->pred_kind == FEATURE_NUMERIC && !predictable)
		NumSketchAddMissing(cur->pred_num);
	else if (cur->pred_kind == FEATURE_CATEGORICAL && !predictable)
		CatSketchAddMissing(cur->pred_cat);
	else if (cur->pred_kind != 0)
		BaselinePredict(model, st->design, cur->pred_num, cur->pred_cat, hash);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

/* a := a and b; b's sketches are consumed. */
static void
drift_state_merge(DriftPassState *a, DriftPassState *b)
{
	Baseline   *x = a->cur;
	Baseline   *y = b->cur;

	if (x->nfeatures != y->nfeatures || x->pred_kind != y->pred_kind)
		elog(ERROR, "cannot combine drift passes of different models");
	x->rows += y->rows;
	for (int i = 0; i < x->nfeatures; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (x->features[i].kind != y->features[i].kind)
			elog(ERROR, "cannot combine drift passes of different models");
		if (x->features[i].num)
			NumSketchMerge(x->features[i].num, y->features[i].num);
		else
			CatSketchMerge(x->features[i].cat, y->features[i].cat);
	}
	if (x->pred_num)
		NumSketchMerge(x->pred_num, y->pred_num);
	else if (x->pred_cat)
		CatSketchMerge(x->pred_cat, y->pred_cat);
}

Datum
aifactory_drift_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	DriftPassState *a;
	DriftPassState *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_drift_combine called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (DriftPassState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
	{
		/* adopt b (a deserialized partial state) rather than copy it */
		MemoryContextSetParent(b->cxt, aggcxt);
		PG_RETURN_POINTER(b);
	}
	a = (DriftPassState *) PG_GETARG_POINTER(0);
	old = MemoryContextSwitchTo(a->cxt);
	drift_state_merge(a, b);
	MemoryContextSwitchTo(old);
	/* b's summary is merged: a deserialized state can go at once */
	if (b->model == NULL)
		MemoryContextDelete(b->cxt);
	PG_RETURN_POINTER(a);
}

Datum
aifactory_drift_serialize(PG_FUNCTION_ARGS)
{
	DriftPassState *st = (DriftPassState *) PG_GETARG_POINTER(0);

	PG_RETURN_BYTEA_P(BaselineSerialize(st->cur));
}

Datum
aifactory_drift_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	DriftPassState *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "aifactory_drift_deserialize called in non-aggregate context");
	st = drift_state_create(aggcxt);
	old = MemoryContextSwitchTo(st->cxt);
	st->cur = DriftCurrentDeserialize(PG_GETARG_BYTEA_PP(0));
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

/* ---- hand-off ---- */

static MemoryContext handoff_cxt = NULL;
static Baseline *handoff_summary = NULL;

#define HANDOFF_MARKER "aifactory: summary handed to drift()"

/*
 * drift() runs the pass in its own backend; returning the summary as
 * bytes would serialize it, copy it into SPI's result and parse it back.
 * Instead, between DriftPassHandoffBegin and DriftPassHandoffEnd, the
 * final function moves the summary's memory context under the context
 * drift() named and returns a marker.  Elsewhere it serializes.
 */
void
DriftPassHandoffBegin(MemoryContext cxt)
{
	handoff_cxt = cxt;
	handoff_summary = NULL;
}

bool
DriftPassIsHandoffMarker(const bytea *value)
{
	return VARSIZE_ANY_EXHDR(value) == strlen(HANDOFF_MARKER) &&
		memcmp(VARDATA_ANY(value), HANDOFF_MARKER, strlen(HANDOFF_MARKER)) == 0;
}

Baseline *
DriftPassHandoffEnd(void)
{
	Baseline   *b = handoff_summary;

	handoff_cxt = NULL;
	handoff_summary = NULL;
	return b;
}

/* The summary, serialized as a baseline; NULL when there were no rows. */
Datum
aifactory_drift_final(PG_FUNCTION_ARGS)
{
	DriftPassState *st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (DriftPassState *) PG_GETARG_POINTER(0);
	if (handoff_cxt != NULL && handoff_summary == NULL && !IsParallelWorker())
	{
		MemoryContextSetParent(st->cxt, handoff_cxt);
		handoff_summary = st->cur;
		PG_RETURN_TEXT_P(cstring_to_text(HANDOFF_MARKER));
	}
	PG_RETURN_BYTEA_P(BaselineSerialize(st->cur));
}
