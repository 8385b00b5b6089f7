/*-------------------------------------------------------------------------
 *
 * keyed.c
 *	  predict(project, features, key), predict_class(..., key) and
 *	  predict_proba(..., key): route by the key, predict, and log.
 *
 * The key routes the call through the project's traffic split (or to the
 * deployed model when there is none) and, when the project has logging
 * on, the prediction is logged under it for record_outcome() to find.
 * Because they may write, these forms are VOLATILE and PARALLEL UNSAFE;
 * the unkeyed forms (predict.c) stay STABLE and PARALLEL SAFE and always
 * serve the deployed model.
 *
 * Per call site, fn_extra keeps the project's serving settings (checked
 * for changes once per statement) and one prediction cache per version of
 * the split, each resolved once like the unkeyed forms' model.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "predict/predict.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "core/preprocess.h"

PG_FUNCTION_INFO_V1(aifactory_predict_key_array);
PG_FUNCTION_INFO_V1(aifactory_predict_key_row);
PG_FUNCTION_INFO_V1(aifactory_predict_class_key_array);
PG_FUNCTION_INFO_V1(aifactory_predict_class_key_row);
PG_FUNCTION_INFO_V1(aifactory_predict_proba_key_array);
PG_FUNCTION_INFO_V1(aifactory_predict_proba_key_row);

typedef enum KeyedKind
{
	KEYED_PREDICT,
	KEYED_CLASS,
	KEYED_PROBA
} KeyedKind;

/* How one row column is written into the logged inputs. */
typedef struct ColumnOut
{
	char		kind;			/* 'n' number, 'b' boolean, 's' string */
	FmgrInfo	out;
} ColumnOut;

typedef struct KeyedSlot
{
	PredictCache *pc;
	int64		model_id;		/* the model `version` was looked up for */
	int			version;		/* what the log records */
	TupleDesc	desc;			/* the row mapping `cols` was built for */
	ColumnOut  *cols;			/* per feature */
} KeyedSlot;

typedef struct KeyedCache
{
	char	   *project;
	TimestampTz checked_at;
	uint64		generation;
	ServingInfo info;
	int			nslots;			/* the split's versions, or 1: deployed */
	KeyedSlot  *slots;
} KeyedCache;

static void
load_settings(FunctionCallInfo fcinfo, KeyedCache *kc)
{
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;

	ServingGet(kc->project, mcxt, &kc->info);
	kc->nslots = Max(kc->info.nsplit, 1);
	kc->slots = MemoryContextAllocZero(mcxt, sizeof(KeyedSlot) * kc->nslots);
}

static KeyedCache *
keyed_cache(FunctionCallInfo fcinfo, text *project)
{
	KeyedCache *kc = (KeyedCache *) fcinfo->flinfo->fn_extra;
	int			len = VARSIZE_ANY_EXHDR(project);

	if (kc != NULL && strncmp(kc->project, VARDATA_ANY(project), len) == 0 &&
		kc->project[len] == '\0')
	{
		uint64		gen = ServingCheck(&kc->checked_at);

		if (gen != kc->generation)
		{
			/* a split or logging changed: resolve everything again */
			kc->generation = gen;
			load_settings(fcinfo, kc);
		}
		return kc;
	}
	kc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(KeyedCache));
	kc->project = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, text_to_cstring(project));
	kc->generation = ServingCheck(&kc->checked_at);
	load_settings(fcinfo, kc);
	fcinfo->flinfo->fn_extra = kc;
	return kc;
}

/* The slot of a routed version (its position in the split). */
static int
slot_of(KeyedCache *kc, int version)
{
	for (int i = 0; i < kc->info.nsplit; i++)
		if (kc->info.versions[i] == version)
			return i;
	return 0;
}

/* ---- the logged inputs ---- */

static void
json_number(StringInfo buf, double v)
{
	char	   *s = float8out_internal(v);

	appendStringInfoString(buf, s);
	pfree(s);
}

static char *
inputs_from_array(ArrayType *arr)
{
	StringInfoData buf;
	int			n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	double	   *x = (double *) ARR_DATA_PTR(arr);
	bits8	   *bitmap = ARR_NULLBITMAP(arr);
	int			k = 0;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		if (bitmap && !(bitmap[i / 8] & (1 << (i % 8))))
			appendStringInfoString(&buf, "null");
		else
			json_number(&buf, x[k++]);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

static void
map_columns(FunctionCallInfo fcinfo, KeyedSlot *slot)
{
	PredictCache *pc = slot->pc;
	int			nf = pc->model->pre.nfeatures;

	slot->cols = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(ColumnOut) * Max(nf, 1));
	for (int i = 0; i < nf; i++)
	{
		Oid			typid = TupleDescAttr(pc->desc, pc->attnum[i])->atttypid;
		Oid			outfn;
		bool		varlena;

		slot->cols[i].kind = typid == BOOLOID ? 'b' :
			TypeIsNumericFeature(typid) ? 'n' : 's';
		getTypeOutputInfo(typid, &outfn, &varlena);
		fmgr_info_cxt(outfn, &slot->cols[i].out, fcinfo->flinfo->fn_mcxt);
	}
	slot->desc = pc->desc;
}

/* The model's features of the row, as a JSON object (raw values). */
static char *
inputs_from_row(FunctionCallInfo fcinfo, KeyedSlot *slot)
{
	PredictCache *pc = slot->pc;
	StringInfoData buf;

	if (slot->desc != pc->desc)
		map_columns(fcinfo, slot);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < pc->model->pre.nfeatures; i++)
	{
		int			a = pc->attnum[i];

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, pc->model->pre.features[i].name);
		appendStringInfoString(&buf, ": ");
		if (pc->nulls[a])
			appendStringInfoString(&buf, "null");
		else if (slot->cols[i].kind == 'b')
			appendStringInfoString(&buf, DatumGetBool(pc->values[a]) ? "true" : "false");
		else
		{
			char	   *s = OutputFunctionCall(&slot->cols[i].out, pc->values[a]);

			if (slot->cols[i].kind == 'n')
				appendStringInfoString(&buf, s);
			else
				escape_json(&buf, s);
		}
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* The version number the log records for a slot's current model. */
static int
logged_version(KeyedSlot *slot, int routed)
{
	if (routed > 0)
		return routed;
	if (slot->model_id != slot->pc->model_id)
	{
		char	   *algorithm;

		SPI_connect();
		RegistryModelVersion(slot->pc->model_id, &slot->version, &algorithm);
		SPI_finish();
		slot->model_id = slot->pc->model_id;
	}
	return slot->version;
}

static Datum
keyed(FunctionCallInfo fcinfo, KeyedKind kind, bool row)
{
	text	   *project;
	text	   *key;
	KeyedCache *kc;
	KeyedSlot  *slot;
	PredictCache *pc;
	Model	   *model;
	int			version;
	const double *x;
	Datum		features;
	LoggedPrediction lp;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key must not be NULL"),
				 errhint("Pass the key that identifies the prediction, or predict without a key.")));
	project = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(2);
	kc = keyed_cache(fcinfo, project);

	version = TrafficRoute(&kc->info, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
	slot = &kc->slots[slot_of(kc, version)];
	features = row ? PointerGetDatum(PG_GETARG_HEAPTUPLEHEADER(1)) :
		PointerGetDatum(PG_GETARG_ARRAYTYPE_P(1));
	x = PredictSlotDesign(fcinfo->flinfo->fn_mcxt, &slot->pc, project, version, features, row);
	pc = slot->pc;
	model = pc->model;

	memset(&lp, 0, sizeof(lp));
	if (model->task == TASK_CLASSIFICATION)
	{
		int			cls = ModelPredictClass(model, x, pc->out);

		lp.value = pc->label_values[cls];
		lp.has_value = !isnan(lp.value);
		lp.class_label = model->classes[cls];
		lp.proba = pc->out;
		lp.nproba = model->nclasses;
	}
	else if (kind != KEYED_PREDICT)
		PredictRequireClassifier(pc, kind == KEYED_CLASS ? "predict_class" : "predict_proba");
	else
	{
		lp.value = ModelPredictDesign(model, x);
		lp.has_value = true;
	}
	if (kind == KEYED_PREDICT && !lp.has_value)
		PredictTextLabelsError(pc);

	if (kc->info.logging)
	{
		PredictionLogCheckWritable(kc->project);
		lp.project_id = kc->info.project_id;
		lp.version = logged_version(slot, version);
		lp.key = VARDATA_ANY(key);
		lp.keylen = VARSIZE_ANY_EXHDR(key);
		lp.inputs = row ? inputs_from_row(fcinfo, slot) :
			inputs_from_array(DatumGetArrayTypeP(features));
		PredictionLogAppend(&lp);
	}

	switch (kind)
	{
		case KEYED_PREDICT:
			PG_RETURN_FLOAT8(lp.value);
		case KEYED_CLASS:
			PG_RETURN_TEXT_P(cstring_to_text(lp.class_label));
		case KEYED_PROBA:
			return PredictFloat8Array(pc->out, model->nclasses);
	}
	return (Datum) 0;
}

Datum
aifactory_predict_key_array(PG_FUNCTION_ARGS)
{
	return keyed(fcinfo, KEYED_PREDICT, false);
}

Datum
aifactory_predict_key_row(PG_FUNCTION_ARGS)
{
	return keyed(fcinfo, KEYED_PREDICT, true);
}

Datum
aifactory_predict_class_key_array(PG_FUNCTION_ARGS)
{
	return keyed(fcinfo, KEYED_CLASS, false);
}

Datum
aifactory_predict_class_key_row(PG_FUNCTION_ARGS)
{
	return keyed(fcinfo, KEYED_CLASS, true);
}

Datum
aifactory_predict_proba_key_array(PG_FUNCTION_ARGS)
{
	return keyed(fcinfo, KEYED_PROBA, false);
}

Datum
aifactory_predict_proba_key_row(PG_FUNCTION_ARGS)
{
	return keyed(fcinfo, KEYED_PROBA, true);
}
