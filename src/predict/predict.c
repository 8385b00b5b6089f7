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
#include "registry/cache.h"
#include "utils/array.h"
#include "utils/inval.h"
#include "utils/timestamp.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(aifactory_predict_array);
PG_FUNCTION_INFO_V1(aifactory_predict_version_array);
PG_FUNCTION_INFO_V1(aifactory_predict_row);
PG_FUNCTION_INFO_V1(aifactory_predict_version_row);

typedef struct PredictCache
{
	char	   *project;
	int			version;		/* 0: the deployed one */
	int64		model_id;
	Model	   *model;
	uint64		generation;
	uint64		deploy_generation;	/* DeploymentGeneration when resolved */
	TimestampTz stmt_start;		/* statement that last checked for invalidations */
	double	   *design;
	bool		numeric_only;	/* design columns are the features, in order */

	/* row form: mapping of the row type to features */
	Oid			tuptype;
	int32		tuptypmod;
	int			natts;
	TupleDesc	desc;			/* a copy, in fn_mcxt */
	int		   *attnum;			/* per feature: 0-based column */
	InputColumn *cols;			/* per feature */
	Datum	   *values;
	bool	   *nulls;
} PredictCache;

double
ModelPredictDesign(const Model *model, const double *x)
{
	switch (model->algorithm)
	{
		case ALGO_LINEAR:
		case ALGO_RIDGE:
			{
				double		s = model->intercept;
				int			n = model->pre.ndesign;
				const double *c = model->coef;

				for (int j = 0; j < n; j++)
					s += c[j] * x[j];
				return s;
			}
	}
	elog(ERROR, "cannot predict with algorithm %d", model->algorithm);
	return 0.0;
}

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
predict_cache(FunctionCallInfo fcinfo, text *project, int version)
{
	PredictCache *pc = (PredictCache *) fcinfo->flinfo->fn_extra;
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
		pc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PredictCache));
	else
	{
		pfree(pc->project);
		if (pc->design)
			pfree(pc->design);
		memset(pc, 0, sizeof(PredictCache));
	}
	pc->project = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, name);
	pc->version = version;
	pc->stmt_start = GetCurrentStatementStartTimestamp();
	pc->deploy_generation = DeploymentGeneration;
	pc->model_id = version > 0 ? VersionModelGet(name, version) : DeployedModelGet(name);
	pc->model = ModelCacheGet(pc->model_id);
	pc->generation = ModelCacheGeneration;
	pc->design = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
										sizeof(double) * Max(pc->model->pre.ndesign, 1));
	pc->numeric_only = true;
	for (int i = 0; i < pc->model->pre.nfeatures; i++)
		if (pc->model->pre.features[i].kind != FEATURE_NUMERIC)
			pc->numeric_only = false;
	fcinfo->flinfo->fn_extra = pc;
	return pc;
}

static double
predict_array(FunctionCallInfo fcinfo, PredictCache *pc, ArrayType *arr)
{
	Model	   *model = pc->model;
	int			n;
	double	   *x;
	bits8	   *bitmap;
	double		y;

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
	if (bitmap != NULL)
	{
		/* NULL elements take the training imputation value */
		double	   *d = pc->design;
		int			k = 0;

		for (int i = 0; i < n; i++)
		{
			if (bitmap[i / 8] & (1 << (i % 8)))
				d[i] = x[k++];
			else
				d[i] = model->pre.features[i].impute;
		}
		x = d;
	}

	y = ModelPredictDesign(model, x);
	if (unlikely(isnan(y) || isinf(y)))
	{
		for (int i = 0; i < n; i++)
			CheckFinite(x[i], psprintf("feature \"%s\"", model->pre.features[i].name));
	}
	return y;
}

/* Map the row type's columns to the model's features, once. */
static void
map_row_type(FunctionCallInfo fcinfo, PredictCache *pc, Oid tuptype, int32 tuptypmod)
{
	Model	   *model = pc->model;
	TupleDesc	desc = lookup_rowtype_tupdesc(tuptype, tuptypmod);
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
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

static double
predict_row(FunctionCallInfo fcinfo, PredictCache *pc, HeapTupleHeader rec)
{
	Model	   *model = pc->model;
	Oid			tuptype = HeapTupleHeaderGetTypeId(rec);
	int32		tuptypmod = HeapTupleHeaderGetTypMod(rec);
	HeapTupleData tuple;

	if (pc->attnum == NULL || pc->tuptype != tuptype || pc->tuptypmod != tuptypmod)
		map_row_type(fcinfo, pc, tuptype, tuptypmod);

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
	return ModelPredictDesign(model, pc->design);
}

Datum
aifactory_predict_array(PG_FUNCTION_ARGS)
{
	PredictCache *pc = predict_cache(fcinfo, PG_GETARG_TEXT_PP(0), 0);

	PG_RETURN_FLOAT8(predict_array(fcinfo, pc, PG_GETARG_ARRAYTYPE_P(1)));
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

Datum
aifactory_predict_version_array(PG_FUNCTION_ARGS)
{
	PredictCache *pc = predict_cache(fcinfo, PG_GETARG_TEXT_PP(0),
									 checked_version(PG_GETARG_INT32(1)));

	PG_RETURN_FLOAT8(predict_array(fcinfo, pc, PG_GETARG_ARRAYTYPE_P(2)));
}

Datum
aifactory_predict_row(PG_FUNCTION_ARGS)
{
	PredictCache *pc = predict_cache(fcinfo, PG_GETARG_TEXT_PP(0), 0);

	PG_RETURN_FLOAT8(predict_row(fcinfo, pc, PG_GETARG_HEAPTUPLEHEADER(1)));
}

Datum
aifactory_predict_version_row(PG_FUNCTION_ARGS)
{
	PredictCache *pc = predict_cache(fcinfo, PG_GETARG_TEXT_PP(0),
									 checked_version(PG_GETARG_INT32(1)));

	PG_RETURN_FLOAT8(predict_row(fcinfo, pc, PG_GETARG_HEAPTUPLEHEADER(2)));
}
