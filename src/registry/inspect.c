/*-------------------------------------------------------------------------
 *
 * inspect.c
 *	  Reading a model: model_info(), coefficients() and
 *	  feature_importance().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "algorithms/distributions.h"
#include "catalog/pg_type.h"
#include "core/model.h"
#include "core/preprocess.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "registry/registry.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(aifactory_model_info);
PG_FUNCTION_INFO_V1(aifactory_coefficients);
PG_FUNCTION_INFO_V1(aifactory_feature_importance);

/* Version argument: NULL means the deployed one. */
static int
version_arg(FunctionCallInfo fcinfo, int argno)
{
	int			version;

	if (PG_ARGISNULL(argno))
		return 0;
	version = PG_GETARG_INT32(argno);
	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version must be positive"),
				 errhint("Leave the version out (or NULL) for the deployed model.")));
	return version;
}

/*
 * What only the model bytes know, for model_info(): the class labels of a
 * classifier, the number of clusters or components.
 */
static char *
model_extras(ProjectInfo *project, ModelRow *row)
{
	ModelRow	full;
	Model	   *model;
	StringInfoData buf;

	if (strcmp(row->status, "ready") != 0)
		return "{}";
	RegistryGetModel(project, row->version, true, &full);
	model = ModelDeserialize(full.bytes, CurrentMemoryContext);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (model->task == TASK_CLASSIFICATION)
	{
		appendStringInfoString(&buf, "\"classes\": [");
		for (int i = 0; i < model->nclasses; i++)
		{
			if (i > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, model->classes[i]);
		}
		appendStringInfoChar(&buf, ']');
	}
	else if (model->algorithm == ALGO_KMEANS)
		appendStringInfo(&buf, "\"clusters\": %d", model->k);
	else if (model->algorithm == ALGO_PCA)
		appendStringInfo(&buf, "\"components\": %d", model->ncomp);
	if (model->trees != NULL)
		appendStringInfo(&buf, "%s\"trees\": %d, \"nodes\": %d",
						 buf.len > 1 ? ", " : "", model->trees->ntrees, model->trees->nnodes);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

Datum
aifactory_model_info(PG_FUNCTION_ARGS)
{
	char	   *name;
	ProjectInfo project;
	ModelRow	row;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	Datum		result;
	int			version;
	char	   *extras;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	version = version_arg(fcinfo, 1);

	SPI_connect();
	RegistryGetProject(name, &project);
	RegistryGetModel(&project, version, false, &row);
	extras = model_extras(&project, &row);
	values[0] = Int64GetDatum(row.id);
	values[1] = CStringGetTextDatum(extras);
	if (SPI_execute_with_args(
							  "SELECT pg_catalog.jsonb_build_object("
							  "'project', p.name, 'task', p.task, 'version', m.version, "
							  "'algorithm', m.algorithm, 'status', m.status, "
							  "'deployed', m.id OPERATOR(pg_catalog.=) (SELECT d.model_id FROM aifactory.deployments d "
							  "  WHERE d.project_id OPERATOR(pg_catalog.=) p.id AND d.alias OPERATOR(pg_catalog.=) 'production' "
							  "  ORDER BY d.id DESC LIMIT 1), "
							  "'target', m.target, 'source', m.source, "
							  "'hyperparams', m.hyperparams, 'features', m.features, 'metrics', m.metrics, "
							  "'train_rows', m.train_rows, 'fit_seconds', m.fit_seconds, "
							  "'created_by', m.created_by, 'created_at', m.created_at, "
							  "'model_bytes', pg_catalog.octet_length(m.model), 'lineage', m.lineage, "
							  "'baseline_bytes', pg_catalog.octet_length(m.baseline)) "
							  "OPERATOR(pg_catalog.||) $2::pg_catalog.jsonb "
							  "FROM aifactory.models m JOIN aifactory.projects p "
							  "ON p.id OPERATOR(pg_catalog.=) m.project_id "
							  "WHERE m.id OPERATOR(pg_catalog.=) $1",
							  2, types, values, NULL, IsInParallelMode(), 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read model %lld", (long long) row.id);
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * The model a reading function was called for: project (argument 0, not
 * NULL) and version (argument 1, NULL for the deployed one), deserialized
 * in the caller's memory; the call's result set is initialized.
 */
static Model *
call_model(FunctionCallInfo fcinfo, const char *name, ModelRow *row)
{
	MemoryContext caller = CurrentMemoryContext;
	ProjectInfo project;
	int			version;
	Model	   *model;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("project must not be NULL")));
	version = version_arg(fcinfo, 1);
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	RegistryGetProject(name, &project);
	RegistryGetModel(&project, version, true, row);
	model = ModelDeserialize(row->bytes, caller);
	SPI_finish();
	return model;
}

static void
put_coefficient(ReturnSetInfo *rsinfo, const char *feature, double estimate,
				bool has_se, double se, double df, const char *cls)
{
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	values[0] = CStringGetTextDatum(feature);
	values[1] = Float8GetDatum(estimate);
	if (has_se && !isnan(se))
	{
		double		t = se > 0 ? estimate / se : NAN;

		values[2] = Float8GetDatum(se);
		values[3] = Float8GetDatum(t);
		nulls[3] = isnan(t);
		if (!isnan(t) && df > 0)
			values[4] = Float8GetDatum(StudentTTwoSidedP(t, df));
		else
			nulls[4] = true;
	}
	else
		nulls[2] = nulls[3] = nulls[4] = true;
	if (cls)
		values[5] = CStringGetTextDatum(cls);
	else
		nulls[5] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * One row per coefficient, on the original scale of the features: the
 * intercept first, then each numeric feature and each non-reference level
 * of a categorical one ("color=red").
 */
Datum
aifactory_coefficients(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	ModelRow	row;
	Model	   *model;

	name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	model = call_model(fcinfo, name, &row);

	if (model->algorithm != ALGO_LINEAR && model->algorithm != ALGO_RIDGE &&
		model->algorithm != ALGO_ELASTIC_NET && model->algorithm != ALGO_LOGISTIC)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of project \"%s\" is a %s model, which has no coefficients",
						row.version, name, AlgorithmName(model->algorithm)),
				 errhint("Coefficients belong to linear, ridge, elastic_net and logistic models; model_info() describes the others.")));

	/*
	 * One set per class for multinomial logistic regression; binary
	 * logistic regression's single set is for the second label (the
	 * positive class), as scikit-learn's coef_.
	 */
	for (int k = 0; k < Max(model->nsets, 1); k++)
	{
		const double *coef = model->coef + (Size) k * model->pre.ndesign;
		const char *cls = NULL;

		if (model->algorithm == ALGO_LOGISTIC)
			cls = model->classes[model->nsets == 1 ? 1 : k];
		if (model->fit_intercept)
			put_coefficient(rsinfo, "intercept", model->intercepts ? model->intercepts[k] : model->intercept,
							model->has_stats, model->intercept_se, model->df_resid, cls);
		for (int i = 0; i < model->pre.nfeatures; i++)
		{
			FeatureSpec *f = &model->pre.features[i];

			for (int c = 0; c < f->ncols; c++)
			{
				int			j = f->design_offset + c;
				char	   *label = f->kind == FEATURE_NUMERIC ? f->name :
					psprintf("%s=%s", f->name, f->levels[c + (f->drop_first ? 1 : 0)]);

				put_coefficient(rsinfo, label, coef[j], model->has_stats,
								model->has_stats ? model->coef_se[j] : NAN, model->df_resid, cls);
			}
		}
	}
	MemoryContextDelete(model->mcxt);
	return (Datum) 0;
}

typedef struct Importance
{
	int			column;
	double		gain;
} Importance;

static int
compare_importance(const void *a, const void *b)
{
	const Importance *x = a;
	const Importance *y = b;

	if (x->gain != y->gain)
		return x->gain > y->gain ? -1 : 1;
	return x->column - y->column;
}

/*
 * A tree model's total gain per design column (XGBoost's total_gain; for
 * a forest the impurity decrease weighted by rows, scikit-learn's
 * importance before normalization), largest first; columns never split on
 * show 0.
 */
Datum
aifactory_feature_importance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	ModelRow	row;
	Model	   *model;
	int			p;
	double	   *gain;
	Importance *order;

	name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	model = call_model(fcinfo, name, &row);

	if (model->trees == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of project \"%s\" is a %s model, which has no feature importance",
						row.version, name, AlgorithmName(model->algorithm)),
				 errhint("Feature importance belongs to gbdt and random_forest models; coefficients() describes linear ones.")));

	p = model->pre.ndesign;
	gain = palloc0(sizeof(double) * Max(p, 1));
	order = palloc(sizeof(Importance) * Max(p, 1));
	TreeEnsembleGainImportance(model->trees, gain);
	for (int j = 0; j < p; j++)
	{
		order[j].column = j;
		order[j].gain = gain[j];
	}
	qsort(order, p, sizeof(Importance), compare_importance);
	for (int i = 0; i < p; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(DesignColumnName(model, order[i].column));
		values[1] = Float8GetDatum(order[i].gain);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(model->mcxt);
	return (Datum) 0;
}
