/*-------------------------------------------------------------------------
 *
 * deploy.c
 *	  SQL functions that change what a project serves: deploy, rollback,
 *	  drop_model.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "registry/registry.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(aifactory_deploy_version);
PG_FUNCTION_INFO_V1(aifactory_deploy_strategy);
PG_FUNCTION_INFO_V1(aifactory_rollback);
PG_FUNCTION_INFO_V1(aifactory_drop_model);

/* The single result row (project, version, algorithm, strategy). */
static Datum
deploy_result(FunctionCallInfo fcinfo, const char *project, int version,
			  const char *algorithm, const char *strategy)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	InitMaterializedSRF(fcinfo, 0);
	values[0] = CStringGetTextDatum(project);
	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(algorithm);
	values[3] = CStringGetTextDatum(strategy);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/*
 * Deploy a model id, audit it, and return the result row.  Caller has
 * checked ownership and that the model is ready.
 */
static Datum
deploy_model(FunctionCallInfo fcinfo, ProjectInfo *project, int64 model_id,
			 const char *strategy)
{
	int			version;
	char	   *algorithm;
	char	   *name;
	Datum		result;

	RegistryDeploy(project, model_id, strategy);
	RegistryModelVersion(model_id, &version, &algorithm);
	RegistryAudit("deploy", project->name, version,
				  psprintf("{\"strategy\": \"%s\"}", strategy));
	/* SPI_palloc allocates in the caller's context, which outlives SPI */
	algorithm = strcpy(SPI_palloc(strlen(algorithm) + 1), algorithm);
	name = strcpy(SPI_palloc(strlen(project->name) + 1), project->name);
	SPI_finish();
	result = deploy_result(fcinfo, name, version, algorithm, strategy);
	return result;
}

/*
 * Connect SPI, find the project, check that the caller may change it, and
 * lock it: concurrent deploys, rollbacks and drops of one project then
 * happen one after the other, each reading the registry afresh.
 */
static void
open_for_change(const char *name, const char *action, ProjectInfo *project)
{
	SPI_connect();
	RegistryGetProject(name, project);
	RegistryCheckOwner(project, action);
	RegistryLockProject(project);
}

Datum
aifactory_deploy_version(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			version = PG_GETARG_INT32(1);
	ProjectInfo project;
	ModelRow	row;

	open_for_change(name, "deploy", &project);
	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version must be positive"),
				 errhint("Versions count 1, 2, 3 ... per project; see aifactory.model_metrics.")));
	RegistryGetModel(&project, version, true, &row);
	return deploy_model(fcinfo, &project, row.id, "version");
}

/*
 * The models the alias serves after replaying its history: a deploy
 * pushes, a rollback pops.  Returns the stack (bottom first).
 */
static int64 *
deployment_stack(const ProjectInfo *project, int *depth)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	int64	   *stack;
	int			n = 0;

	values[0] = Int64GetDatum(project->id);
	values[1] = CStringGetTextDatum(DEFAULT_ALIAS);
	if (SPI_execute_with_args("SELECT d.model_id, d.strategy, m.status "
							  "FROM aifactory.deployments d JOIN aifactory.models m "
							  "ON m.id OPERATOR(pg_catalog.=) d.model_id "
							  "WHERE d.project_id OPERATOR(pg_catalog.=) $1 "
							  "AND d.alias OPERATOR(pg_catalog.=) $2 ORDER BY d.id",
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the deployment history");
	stack = palloc(sizeof(int64) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		model_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		char	   *strategy = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		if (strcmp(strategy, "rollback") == 0)
		{
			/* the row names the model rolled back to: the new top */
			while (n > 0 && stack[n - 1] != model_id)
				n--;
			if (n == 0)
				stack[n++] = model_id;
		}
		else
			stack[n++] = model_id;
	}
	*depth = n;
	return stack;
}

static bool
model_is_ready(int64 model_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(model_id);
	SPI_execute_with_args("SELECT 1 FROM aifactory.models WHERE id OPERATOR(pg_catalog.=) $1 "
						  "AND status OPERATOR(pg_catalog.=) 'ready'",
						  1, types, values, NULL, false, 0);
	return SPI_processed == 1;
}

static Datum
do_rollback(FunctionCallInfo fcinfo, ProjectInfo *project)
{
	int			depth;
	int64	   *stack = deployment_stack(project, &depth);
	int64		current;

	if (depth == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("project \"%s\" has no deployment to roll back", project->name)));
	current = stack[--depth];
	while (depth > 0 && (stack[depth - 1] == current || !model_is_ready(stack[depth - 1])))
		depth--;
	if (depth == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("project \"%s\" has no earlier deployment to roll back to",
						project->name),
				 errhint("Deploy a specific version with aifactory.deploy('%s', version).",
						 project->name)));
	return deploy_model(fcinfo, project, stack[depth - 1], "rollback");
}

Datum
aifactory_deploy_strategy(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *strategy = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ProjectInfo project;
	int64		model_id;

	open_for_change(name, "deploy", &project);

	if (strcmp(strategy, "rollback") == 0)
		return do_rollback(fcinfo, &project);
	if (strcmp(strategy, "best") == 0)
		model_id = RegistryBestModelId(&project);
	else if (strcmp(strategy, "latest") == 0)
	{
		ModelRow	row;

		if (SPI_execute_with_args("SELECT max(version) FROM aifactory.models "
								  "WHERE project_id OPERATOR(pg_catalog.=) $1 "
								  "AND status OPERATOR(pg_catalog.=) 'ready'",
								  1, (Oid[]) {INT8OID},
								  (Datum[]) {Int64GetDatum(project.id)},
								  NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read model versions");
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			model_id = 0;
			if (!isnull)
			{
				RegistryGetModel(&project, DatumGetInt32(d), false, &row);
				model_id = row.id;
			}
		}
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown deployment strategy \"%s\"", strategy),
				 errhint("Strategies are best, latest and rollback; or give a version number.")));

	if (model_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("project \"%s\" has no model to deploy", name)));
	return deploy_model(fcinfo, &project, model_id, strategy);
}

Datum
aifactory_rollback(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ProjectInfo project;

	open_for_change(name, "roll back", &project);
	return do_rollback(fcinfo, &project);
}


/* Is the model one of the versions a traffic split routes keyed predictions to? */
static bool
in_traffic_split(int64 model_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(model_id)};

	if (SPI_execute_with_args("SELECT 1 FROM aifactory.traffic_splits "
							  "WHERE model_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the traffic splits");
	return SPI_processed > 0;
}

/*
 * Dropping removes the bytes but keeps the row, so version numbers are
 * never reused and the history stays readable.  The deployed version
 * cannot be dropped.
 */
Datum
aifactory_drop_model(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			version = PG_GETARG_INT32(1);
	ProjectInfo project;
	ModelRow	row;

	open_for_change(name, "drop models", &project);
	RegistryGetModel(&project, version, false, &row);
	if (strcmp(row.status, "dropped") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of project \"%s\" is already dropped", version, name)));
	if (RegistryDeployedModelId(project.id) == row.id)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("version %d of project \"%s\" is deployed", version, name),
				 errhint("Deploy another version or roll back first.")));
	if (in_traffic_split(row.id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("version %d of project \"%s\" takes part in its traffic split", version, name),
				 errhint("Set a split without it with set_traffic(), or clear the split with set_traffic('%s', NULL).",
						 name)));
	RegistryDropModel(row.id);
	RegistryAudit("drop_model", name, version, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}
