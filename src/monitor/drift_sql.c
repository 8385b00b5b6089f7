/*-------------------------------------------------------------------------
 *
 * drift_sql.c
 *	  aifactory.drift(): a model's stored baseline (train/baseline.h)
 *	  against current data, per feature, for the predictions, and as a
 *	  dataset verdict (algorithms/drift.h does the statistics).
 *
 * The source is read with the caller's privileges by one query, the
 * parallel-safe aggregate _drift_pass (drift_pass.h), which summarizes
 * the current rows as a baseline summarizes the training rows; each model
 * feature is looked up by name and converted as training converts it
 * (core/preprocess.h).  Up to DRIFT_CURRENT_K current rows every
 * statistic uses every row; beyond, the current side is a bottom-k sample
 * too (sketch.h gives the error).  Predictions are made on the encoded
 * rows (NULL numerics imputed as in predict()); a row with a NaN or
 * infinite feature has no prediction and counts as a missing one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/drift.h"
#include "catalog/pg_type.h"
#include "core/preprocess.h"
#include "core/source.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "monitor/drift_pass.h"
#include "registry/registry.h"
#include "train/baseline.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(aifactory_drift);

#define PREDICTION_NAME			"(prediction)"
#define DATASET_NAME			"(dataset)"

/* A jsonb argument that must be an object (or NULL: none). */
static Jsonb *
object_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	Jsonb	   *j;

	if (PG_ARGISNULL(argno))
		return NULL;
	j = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(j) || JB_ROOT_IS_SCALAR(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", what),
				 errhint("Map feature names (or \"*\" for every feature) to values, e.g. '{\"x1\": \"psi\", \"*\": \"wasserstein\"}'.")));
	return j;
}

/* The value of key in an object, falling back to "*"; NULL if neither. */
static JsonbValue *
lookup(Jsonb *j, const char *key, bool fallback, JsonbValue *res)
{
	if (j == NULL)
		return NULL;
	if (getKeyJsonValueFromContainer(&j->root, key, strlen(key), res))
		return res;
	if (fallback && getKeyJsonValueFromContainer(&j->root, "*", 1, res))
		return res;
	return NULL;
}

/*
 * Every key of an override object must name a feature, "(prediction)",
 * "*" (or for thresholds "(dataset)"), so that a misspelt name is an
 * error rather than an override silently ignored; methods must be
 * strings naming a method, thresholds numbers.
 */
static void
check_overrides(Jsonb *j, const Baseline *b, bool methods)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (j == NULL)
		return;
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		bool		known;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		known = strcmp(key, "*") == 0 || strcmp(key, PREDICTION_NAME) == 0 ||
			(!methods && strcmp(key, DATASET_NAME) == 0);
		for (int i = 0; !known && i < b->nfeatures; i++)
			known = strcmp(key, b->features[i].name) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("drift %s names \"%s\", which is not a feature of the model",
							methods ? "methods" : "thresholds", key),
					 errhint("Use the model's feature names, \"(prediction)\"%s or \"*\".",
							 methods ? "" : ", \"(dataset)\"")));
		tok = JsonbIteratorNext(&it, &v, true);
		if (methods && v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the drift method for \"%s\" must be a string", key),
					 errhint("Known methods: auto, ks, wasserstein, chisquare, jensenshannon, psi.")));
		if (methods)
			(void) DriftMethodFromName(pnstrdup(v.val.string.val, v.val.string.len));
		if (!methods && v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the drift threshold for \"%s\" must be a number", key)));
	}
}

/*
 * The method for a feature: its own override, else "*"'s -- which skips
 * the features it does not apply to (KS and Wasserstein on a categorical
 * one): they keep the automatic choice.
 */
static DriftMethod
method_for(Jsonb *methods, const char *name, int kind)
{
	JsonbValue	v;
	DriftMethod m;

	if (lookup(methods, name, false, &v) != NULL)
		return DriftMethodFromName(pnstrdup(v.val.string.val, v.val.string.len));
	if (lookup(methods, "*", false, &v) == NULL)
		return DRIFT_METHOD_AUTO;
	m = DriftMethodFromName(pnstrdup(v.val.string.val, v.val.string.len));
	if (kind == FEATURE_CATEGORICAL &&
		(m == DRIFT_METHOD_KS || m == DRIFT_METHOD_WASSERSTEIN))
		return DRIFT_METHOD_AUTO;
	return m;
}

static double
threshold_for(Jsonb *thresholds, const char *name, bool fallback)
{
	JsonbValue	v;

	if (lookup(thresholds, name, fallback, &v) == NULL)
		return NAN;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v.val.numeric)));
}

static void
put_row(ReturnSetInfo *rsinfo, const char *feature, const char *kind,
		const char *method, double statistic, double pvalue, double threshold,
		bool drifted, double psi)
{
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};

	values[0] = CStringGetTextDatum(feature);
	values[1] = CStringGetTextDatum(kind);
	values[2] = CStringGetTextDatum(method);
	values[3] = Float8GetDatum(statistic);
	nulls[3] = isnan(statistic);
	values[4] = Float8GetDatum(pvalue);
	nulls[4] = isnan(pvalue);
	values[5] = Float8GetDatum(threshold);
	nulls[5] = isnan(threshold);
	values[6] = BoolGetDatum(drifted);
	values[7] = Float8GetDatum(psi);
	nulls[7] = isnan(psi);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static const char *
kind_name(int kind)
{
	return kind == FEATURE_NUMERIC ? "numeric" : "categorical";
}

/* One summary against the other, with the per-call overrides. */
static bool
compare(ReturnSetInfo *rsinfo, const char *name, int kind, NumSketch *refn,
		CatSketch *refc, NumSketch *curn, CatSketch *curc, Jsonb *methods,
		Jsonb *thresholds)
{
	DriftResult r;
	DriftMethod method = method_for(methods, name, kind);
	double		threshold = threshold_for(thresholds, name, true);

	if (kind == FEATURE_NUMERIC)
		DriftNumeric(refn, curn, method, threshold, &r);
	else
		DriftCategorical(refc, curc, method, threshold, &r);
	put_row(rsinfo, name, kind_name(kind), DriftMethodName(r.method), r.statistic,
			r.pvalue, r.threshold, r.drifted, r.psi);
	return r.drifted;
}

/*
 * Run the drift scan (in SPI, with the caller's privileges, in parallel
 * workers when the planner chooses them: no row limit, read-only) and
 * take its summary of the current rows, handed over in memory.
 */
static Baseline *
scan_current(const char *sql, bytea *model_bytes, const Model *model, MemoryContext work)
{
	Oid			types[1] = {BYTEAOID};
	Datum		values[1];
	volatile int rc = 0;
	Baseline   *volatile cur = NULL;

	values[0] = PointerGetDatum(model_bytes);
	DriftPassHandoffBegin(work);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, 1, types, values, NULL, true, 0);
	}
	PG_FINALLY();
	{
		cur = DriftPassHandoffEnd();
	}
	PG_END_TRY();
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "the drift scan failed: SPI error %d", rc);
	MemoryContextSwitchTo(work);
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		/*
		 * The summary came in memory only if our aggregate returned the
		 * marker; otherwise (no rows, or another _drift_pass in the source
		 * took the hand-off) the value is NULL or the summary's bytes.
		 */
		if (isnull)
			cur = DriftCurrentCreate(model);
		else if (cur == NULL || !DriftPassIsHandoffMarker(DatumGetByteaPP(d)))
			cur = DriftCurrentDeserialize(DatumGetByteaPP(d));
	}
	return cur;
}

/*
 * drift(project, source, version, methods, thresholds): see the comment
 * at the top of the file and docs/reference.md.
 */
Datum
aifactory_drift(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work;
	MemoryContext old;
	char	   *name;
	char	   *source;
	int			version = 0;
	Jsonb	   *methods;
	Jsonb	   *thresholds;
	ProjectInfo project;
	ModelRow	row;
	Model	   *model;
	bytea	   *bytes;
	Baseline   *base;
	char	   *from;
	Oid			relid;
	TupleDesc	desc;
	int			nf;
	Baseline   *cur;
	StringInfoData sql;
	int			ndrifted = 0;
	double		share_threshold;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("project and source must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
	{
		version = PG_GETARG_INT32(2);
		if (version <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("version must be positive"),
					 errhint("Leave the version out (or NULL) for the deployed model.")));
	}
	methods = object_arg(fcinfo, 3, "methods");
	thresholds = object_arg(fcinfo, 4, "thresholds");
	InitMaterializedSRF(fcinfo, 0);

	work = AllocSetContextCreate(CurrentMemoryContext, "aifactory drift",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);

	SPI_connect();
	/* what outlives SPI_finish lives in work, not in SPI's memory */
	MemoryContextSwitchTo(work);
	RegistryGetProject(name, &project);
	RegistryGetModel(&project, version, true, &row);
	model = ModelDeserialize(row.bytes, work);
	bytes = RegistryGetBaseline(row.id);
	MemoryContextSwitchTo(work);	/* each SPI call leaves SPI's context */
	if (bytes == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of project \"%s\" has no drift baseline", row.version, name),
				 errdetail("Least squares trained with test_size 0 and PCA fitted in one pass store none."),
				 strcmp(row.algorithm, "pca") == 0 ?
				 errhint("A PCA fitted in memory (hyperparams '{\"impute\": \"median\"}') stores one.") :
				 errhint("Retrain the model with test_size > 0 to store a baseline.")));
	base = BaselineDeserialize(bytes);
	nf = model->pre.nfeatures;
	if (base->nfeatures != nf)
		elog(ERROR, "the baseline has %d features, the model %d", base->nfeatures, nf);
	for (int i = 0; i < nf; i++)
		if (strcmp(base->features[i].name, model->pre.features[i].name) != 0 ||
			base->features[i].kind != model->pre.features[i].kind)
			elog(ERROR, "the baseline's feature %d does not match the model's", i + 1);
	check_overrides(methods, base, true);
	check_overrides(thresholds, base, false);

	/* the source's columns, by the model's feature names */
	from = SourceFromClause(source, &relid);
	desc = SourceDescribe(from, relid);
	MemoryContextSwitchTo(work);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT aifactory._drift_pass($1");
	for (int i = 0; i < nf; i++)
	{
		FeatureSpec *f = &model->pre.features[i];
		int			c = SourceColumn(desc, f->name);
		Oid			typid;

		if (c < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of the model is not in the source", f->name),
					 errhint("The source has: %s.", SourceColumnList(desc))));
		typid = TupleDescAttr(desc, c)->atttypid;
		if (f->kind == FEATURE_NUMERIC && !TypeIsNumericFeature(typid))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" is %s in the source, but the model's feature is numeric",
							f->name, format_type_be(typid)),
					 errhint("Cast it to a number in a query source.")));
		appendStringInfo(&sql, ", %s", quote_identifier(f->name));
	}
	if (nf == 0)
		appendStringInfoString(&sql, ", 0");
	appendStringInfo(&sql, ") FROM %s AS aif_source", from);

	cur = scan_current(sql.data, row.bytes, model, work);
	SPI_finish();

	/* the rows: each feature, the predictions, the dataset */
	for (int i = 0; i < nf; i++)
	{
		BaselineFeature *bf = &base->features[i];

		if (compare(rsinfo, bf->name, bf->kind, bf->num, bf->cat, cur->features[i].num,
					cur->features[i].cat, methods, thresholds))
			ndrifted++;
	}
	if (base->pred_kind != 0)
		(void) compare(rsinfo, PREDICTION_NAME, base->pred_kind, base->pred_num,
					   base->pred_cat, cur->pred_num, cur->pred_cat, methods, thresholds);
	share_threshold = threshold_for(thresholds, DATASET_NAME, false);
	if (isnan(share_threshold))
		share_threshold = DRIFT_DATASET_SHARE;
	put_row(rsinfo, DATASET_NAME, "dataset", "share",
			nf > 0 ? (double) ndrifted / nf : NAN, NAN, share_threshold,
			DriftDatasetDrifted(ndrifted, nf, share_threshold), NAN);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	return (Datum) 0;
}
