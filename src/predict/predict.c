/*-------------------------------------------------------------------------
 *
 * predict.c
 *	  predict(project, features) and predict(project, row), with and
 *	  without an explicit version.
 *
 * These run once per row of any query, so everything that can be done once
 * per statement is: the model is resolved on the first call and kept in
 * fn_extra (which lives as long as the statement's expression state), the
 * row type's mapping to features is built once, and the per-row work is
 * conversion plus a dot product.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "core/model.h"
#include "core/preprocess.h"
#include "fmgr.h"
#include "predict/predict.h"
#include "registry/cache.h"
#include "utils/array.h"
#include "utils/inval.h"
#include "utils/timestamp.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"


/*
 * Has the deployed model of pc's project possibly changed since it was
 * resolved?  fn_extra usually lives for one statement, but PL/pgSQL keeps
 * a simple expression's state for the whole transaction, and a READ
 * COMMITTED transaction's next statement must see deployments committed
 * meanwhile: so once per statement, look for invalidations (cheap when
 * there are none), and re-resolve when a deployment changed.
 */
static bool
deployment_changed(PredictCache *pc)
{
	TimestampTz now;
	uint64		gen;
	int64		model_id;

	if (pc->version > 0)
		return false;
	now = GetCurrentStatementStartTimestamp();
	if (pc->stmt_start != now)
	{
		AcceptInvalidationMessages();
		pc->stmt_start = now;
	}
	if (pc->deploy_generation == DeploymentGeneration)
		return false;
	gen = DeploymentGeneration;
	model_id = DeployedModelGet(pc->project);
	if (model_id != pc->model_id)
		return true;
	pc->deploy_generation = gen;
	return false;
}

/*
 * The statement's model: resolve on first use, re-fetch only if the
 * backend cache evicted it meanwhile.
 */
static PredictCache *
predict_cache_slot(MemoryContext mcxt, PredictCache **slot, text *project, int version)
{
	PredictCache *pc = *slot;
	char	   *name;

	if (pc != NULL && pc->version == version)
	{
		int			len = VARSIZE_ANY_EXHDR(project);

		if (strncmp(pc->project, VARDATA_ANY(project), len) == 0 &&
			pc->project[len] == '\0' && !deployment_changed(pc))
		{
			if (pc->generation != ModelCacheGeneration)
			{
				pc->model = ModelCacheGet(pc->model_id);
				pc->generation = ModelCacheGeneration;
			}
			return pc;
		}
	}

	name = text_to_cstring(project);
	if (pc == NULL)
		pc = MemoryContextAllocZero(mcxt, sizeof(PredictCache));
	else
	{
		pfree(pc->project);
		if (pc->design)
			pfree(pc->design);
		memset(pc, 0, sizeof(PredictCache));
	}
	pc->project = MemoryContextStrdup(mcxt, name);
	pc->version = version;
	pc->stmt_start = GetCurrentStatementStartTimestamp();
	pc->deploy_generation = DeploymentGeneration;
	pc->model_id = version > 0 ? VersionModelGet(name, version) : DeployedModelGet(name);
	pc->model = ModelCacheGet(pc->model_id);
	pc->generation = ModelCacheGeneration;
	pc->design = MemoryContextAllocZero(mcxt,
										sizeof(double) * Max(pc->model->pre.ndesign, 1));
	{
		Model	   *m = pc->model;
		int			nout = Max(Max(m->nclasses, m->ncomp), Max(m->k, 1));

		pc->out = MemoryContextAlloc(mcxt, sizeof(double) * nout);
		if (m->task == TASK_CLASSIFICATION)
		{
			pc->label_values = MemoryContextAlloc(mcxt,
												  sizeof(double) * m->nclasses);
			for (int c = 0; c < m->nclasses; c++)
				pc->label_values[c] = m->label_kind == LABEL_BOOL ?
					(strcmp(m->classes[c], "true") == 0 ? 1.0 : 0.0) :
					m->label_kind == LABEL_NUMBER ? strtod(m->classes[c], NULL) : NAN;
		}
	}
	pc->numeric_only = true;
	for (int i = 0; i < pc->model->pre.nfeatures; i++)
		if (pc->model->pre.features[i].kind != FEATURE_NUMERIC)
			pc->numeric_only = false;
	*slot = pc;
	return pc;
}

static PredictCache *
predict_cache(FunctionCallInfo fcinfo, text *project, int version)
{
	return predict_cache_slot(fcinfo->flinfo->fn_mcxt,
							  (PredictCache **) &fcinfo->flinfo->fn_extra, project, version);
}

/*
 * The design row of a float8[] input: the array's own data when nothing
 * needs imputing, else a copy in pc->design.
 */
static const double *
design_from_array(PredictCache *pc, ArrayType *arr)
{
	Model	   *model = pc->model;
	int			n;
	double	   *x;
	bits8	   *bitmap;

	if (!pc->numeric_only)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("project \"%s\" has categorical features", pc->project),
				 errhint("Pass a row instead: aifactory.predict('%s', t) FROM t.", pc->project)));
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features must be a one-dimensional array")));
	n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	if (n != model->pre.nfeatures)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("project \"%s\" expects %d features, got %d",
						pc->project, model->pre.nfeatures, n),
				 errhint("Pass the features in training order; model_info('%s') lists them.",
						 pc->project)));

	x = (double *) ARR_DATA_PTR(arr);
	bitmap = ARR_NULLBITMAP(arr);
	if (bitmap == NULL)
	{
		for (int i = 0; i < n; i++)
			if (unlikely(isnan(x[i]) || isinf(x[i])))
				CheckFinite(x[i], psprintf("feature \"%s\"", model->pre.features[i].name));
		return x;
	}
	else
	{
		/*
		 * NULL elements take the training imputation value, or stay missing
		 * (NaN) for models that route missing values (trees)
		 */
		double	   *d = pc->design;
		int			k = 0;

		for (int i = 0; i < n; i++)
		{
			const FeatureSpec *f = &model->pre.features[i];

			if (bitmap[i / 8] & (1 << (i % 8)))
			{
				d[i] = x[k++];
				if (unlikely(isnan(d[i]) || isinf(d[i])))
					CheckFinite(d[i], psprintf("feature \"%s\"", f->name));
			}
			else
			{
				if (unlikely(isnan(f->impute)) && !f->keep_missing)
					NullFeatureError(f);
				d[i] = f->impute;
			}
		}
		return d;
	}
}

/* Map the row type's columns to the model's features, once. */
static void
map_row_type(MemoryContext mcxt, PredictCache *pc, Oid tuptype, int32 tuptypmod)
{
	Model	   *model = pc->model;
	TupleDesc	desc = lookup_rowtype_tupdesc(tuptype, tuptypmod);
	int			nf = model->pre.nfeatures;

	pc->tuptype = tuptype;
	pc->tuptypmod = tuptypmod;
	pc->natts = desc->natts;
	pc->attnum = MemoryContextAlloc(mcxt, sizeof(int) * Max(nf, 1));
	pc->cols = MemoryContextAlloc(mcxt, sizeof(InputColumn) * Max(nf, 1));
	pc->values = MemoryContextAlloc(mcxt, sizeof(Datum) * Max(desc->natts, 1));
	pc->nulls = MemoryContextAlloc(mcxt, sizeof(bool) * Max(desc->natts, 1));

	for (int i = 0; i < nf; i++)
	{
		FeatureSpec *f = &model->pre.features[i];
		int			found = -1;

		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), f->name) == 0)
			{
				found = a;
				break;
			}
		}
		if (found < 0)
		{
			ReleaseTupleDesc(desc);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" needed by project \"%s\" is missing from the row",
							f->name, pc->project),
					 errhint("The row must have a column for every feature; model_info('%s') lists them.",
							 pc->project)));
		}
		if (f->kind == FEATURE_NUMERIC &&
			!TypeIsNumericFeature(TupleDescAttr(desc, found)->atttypid))
		{
			Oid			typid = TupleDescAttr(desc, found)->atttypid;

			ReleaseTupleDesc(desc);
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" is of type %s but the model expects a number",
							f->name, format_type_be(typid)),
					 errhint("Cast the column to a numeric type in the query.")));
		}
		pc->attnum[i] = found;
		InputColumnInit(&pc->cols[i], TupleDescAttr(desc, found)->atttypid, mcxt);
	}
	{
		MemoryContext old = MemoryContextSwitchTo(mcxt);

		pc->desc = CreateTupleDescCopy(desc);
		MemoryContextSwitchTo(old);
	}
	ReleaseTupleDesc(desc);
}

static const double *
design_from_row(MemoryContext mcxt, PredictCache *pc, HeapTupleHeader rec)
{
	Model	   *model = pc->model;
	Oid			tuptype = HeapTupleHeaderGetTypeId(rec);
	int32		tuptypmod = HeapTupleHeaderGetTypMod(rec);
	HeapTupleData tuple;

	if (pc->attnum == NULL || pc->tuptype != tuptype || pc->tuptypmod != tuptypmod)
		map_row_type(mcxt, pc, tuptype, tuptypmod);

	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	heap_deform_tuple(&tuple, pc->desc, pc->values, pc->nulls);

	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		int			a = pc->attnum[i];

		EncodeFeature(&model->pre.features[i], &pc->cols[i],
					  pc->values[a], pc->nulls[a], pc->design);
	}
	return pc->design;
}

static int
checked_version(int32 version)
{
	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version must be positive"),
				 errhint("Leave the version out to use the deployed model.")));
	return version;
}

/*
 * The model and design row of a call of any of the forms
 * f(project, features), f(project, version, features) with features a
 * float8[] or a row.
 */
const double *
PredictCallDesign(FunctionCallInfo fcinfo, bool versioned, bool row, PredictCache **pcp)
{
	int			version = versioned ? checked_version(PG_GETARG_INT32(1)) : 0;
	PredictCache *pc = predict_cache(fcinfo, PG_GETARG_TEXT_PP(0), version);
	int			argno = versioned ? 2 : 1;

	*pcp = pc;
	if (row)
		return design_from_row(fcinfo->flinfo->fn_mcxt, pc, PG_GETARG_HEAPTUPLEHEADER(argno));
	return design_from_array(pc, PG_GETARG_ARRAYTYPE_P(argno));
}

/*
 * The same for a caller that keeps several models per call site (the keyed
 * forms in serve/, one per version of a traffic split): *slot is that
 * version's cache, allocated in mcxt; version 0 is the deployed model.
 */
const double *
PredictSlotDesign(MemoryContext mcxt, PredictCache **slot, text *project, int version,
				  Datum features, bool row)
{
	PredictCache *pc = predict_cache_slot(mcxt, slot, project, version);

	if (row)
		return design_from_row(mcxt, pc, DatumGetHeapTupleHeader(features));
	return design_from_array(pc, DatumGetArrayTypeP(features));
}

void
PredictRequireClassifier(PredictCache *pc, const char *function)
{
	if (pc->model->task != TASK_CLASSIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s() needs a classifier, but project \"%s\" does %s",
						function, pc->project, TaskName(pc->model->task)),
				 errhint("Use aifactory.predict() for regression and clustering, transform() for pca.")));
}

/* predict(): the value, the class label as a number, or the cluster. */
static Datum
do_predict(FunctionCallInfo fcinfo, bool versioned, bool row)
{
	PredictCache *pc;
	const double *x = PredictCallDesign(fcinfo, versioned, row, &pc);
	double		y = ModelPredictDesign(pc->model, x);

	if (pc->model->task == TASK_CLASSIFICATION)
	{
		if (pc->model->label_kind == LABEL_TEXT)
			PredictTextLabelsError(pc);
		y = pc->label_values[(int) y];
	}
	PG_RETURN_FLOAT8(y);
}

/* predict() of a classifier with text labels: it has no number to return. */
void
PredictTextLabelsError(PredictCache *pc)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("project \"%s\" predicts text labels", pc->project),
			 errhint("Use aifactory.predict_class(), which returns the label as text.")));
}

Datum
PredictFloat8Array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, sizeof(float8),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* predict_proba(): one probability per class, in the order of the labels. */
static Datum
do_predict_proba(FunctionCallInfo fcinfo, bool versioned, bool row)
{
	PredictCache *pc;
	const double *x = PredictCallDesign(fcinfo, versioned, row, &pc);

	PredictRequireClassifier(pc, "predict_proba");
	ModelPredictClass(pc->model, x, pc->out);
	return PredictFloat8Array(pc->out, pc->model->nclasses);
}

/* predict_class(): the label, as text, whatever the target's type. */
static Datum
do_predict_class(FunctionCallInfo fcinfo, bool versioned, bool row)
{
	PredictCache *pc;
	const double *x = PredictCallDesign(fcinfo, versioned, row, &pc);
	int			cls;

	PredictRequireClassifier(pc, "predict_class");
	cls = ModelPredictClass(pc->model, x, NULL);
	PG_RETURN_TEXT_P(cstring_to_text(pc->model->classes[cls]));
}

/* transform(): PCA coordinates, or k-means distances to the centers. */
static Datum
do_transform(FunctionCallInfo fcinfo, bool versioned, bool row)
{
	PredictCache *pc;
	const double *x = PredictCallDesign(fcinfo, versioned, row, &pc);
	int			n = pc->model->algorithm == ALGO_PCA ? pc->model->ncomp :
		pc->model->algorithm == ALGO_KMEANS ? pc->model->k : 0;

	ModelTransform(pc->model, x, pc->out);
	return PredictFloat8Array(pc->out, n);
}

#define PREDICT_FORMS(sqlname, impl) \
PG_FUNCTION_INFO_V1(aifactory_##sqlname##_array); \
PG_FUNCTION_INFO_V1(aifactory_##sqlname##_version_array); \
PG_FUNCTION_INFO_V1(aifactory_##sqlname##_row); \
PG_FUNCTION_INFO_V1(aifactory_##sqlname##_version_row); \
Datum aifactory_##sqlname##_array(PG_FUNCTION_ARGS) { return impl(fcinfo, false, false); } \
Datum aifactory_##sqlname##_version_array(PG_FUNCTION_ARGS) { return impl(fcinfo, true, false); } \
Datum aifactory_##sqlname##_row(PG_FUNCTION_ARGS) { return impl(fcinfo, false, true); } \
Datum aifactory_##sqlname##_version_row(PG_FUNCTION_ARGS) { return impl(fcinfo, true, true); }

PREDICT_FORMS(predict, do_predict)
PREDICT_FORMS(predict_proba, do_predict_proba)
PREDICT_FORMS(predict_class, do_predict_class)
PREDICT_FORMS(transform, do_transform)
