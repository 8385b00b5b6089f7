/*-------------------------------------------------------------------------
 *
 * inspect.c
 *	  Reading a model: model_info() and coefficients().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/distributions.h"
#include "catalog/pg_type.h"
#include "core/model.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "registry/registry.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(aifactory_model_info);
PG_FUNCTION_INFO_V1(aifactory_coefficients);

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

Datum
aifactory_model_info(PG_FUNCTION_ARGS)
{
	char	   *name;
	ProjectInfo project;
	ModelRow	row;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Datum		result;
	int			version;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	version = version_arg(fcinfo, 1);

	SPI_connect();
	RegistryGetProject(name, &project);
	RegistryGetModel(&project, version, false, &row);
	values[0] = Int64GetDatum(row.id);
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
							  "'model_bytes', pg_catalog.octet_length(m.model)) "
							  "FROM aifactory.models m JOIN aifactory.projects p "
							  "ON p.id OPERATOR(pg_catalog.=) m.project_id "
							  "WHERE m.id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read model %lld", (long long) row.id);
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

static void
put_coefficient(ReturnSetInfo *rsinfo, const char *feature, double estimate,
				bool has_se, double se, double df)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

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
	MemoryContext caller = CurrentMemoryContext;
	char	   *name;
	ProjectInfo project;
	ModelRow	row;
	Model	   *model;
	int			version;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("project must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	version = version_arg(fcinfo, 1);
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	RegistryGetProject(name, &project);
	RegistryGetModel(&project, version, true, &row);
	model = ModelDeserialize(row.bytes, caller);
	SPI_finish();

	if (model->algorithm != ALGO_LINEAR && model->algorithm != ALGO_RIDGE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of project \"%s\" is a %s model, which has no coefficients",
						row.version, name, AlgorithmName(model->algorithm))));

	if (model->fit_intercept)
		put_coefficient(rsinfo, "intercept", model->intercept, model->has_stats,
						model->intercept_se, model->df_resid);
	for (int i = 0; i < model->pre.nfeatures; i++)
	{
		FeatureSpec *f = &model->pre.features[i];

		for (int c = 0; c < f->ncols; c++)
		{
			int			j = f->design_offset + c;
			char	   *label = f->kind == FEATURE_NUMERIC ? f->name :
				psprintf("%s=%s", f->name, f->levels[c + (f->drop_first ? 1 : 0)]);

			put_coefficient(rsinfo, label, model->coef[j], model->has_stats,
							model->has_stats ? model->coef_se[j] : NAN, model->df_resid);
		}
	}
	MemoryContextDelete(model->mcxt);
	return (Datum) 0;
}
