/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  Reading and writing the registry tables through SPI.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "core/model.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "registry/registry.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#define SCHEMA "aifactory"

/*
 * The extension's owner, who owns the registry tables.  Looked up each
 * time: writes are rare, and a cached value would outlive a DROP and
 * CREATE EXTENSION by another role.
 */
static Oid
registry_owner(void)
{
	int			rc;
	bool		isnull;

	rc = SPI_execute("SELECT extowner FROM pg_catalog.pg_extension "
					 "WHERE extname OPERATOR(pg_catalog.=) 'aifactory'", true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"aifactory\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION aifactory.")));
	return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Run a registry write as the extension's owner.  The caller has been
 * checked already; the statement is fixed text with parameters.
 */
int
RegistryExecAsOwner(const char *sql, int nargs, Oid *types, Datum *values,
					const char *nulls, int expect)
{
	Oid			save_userid;
	int			save_sec;
	Oid			owner = registry_owner();
	volatile int rc = 0;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	if (rc != expect)
		elog(ERROR, "registry statement failed: SPI error %d", rc);
	return rc;
}

/*
 * Registry reads see this transaction's own earlier writes (a fresh
 * snapshot after a command-counter increment), except in parallel workers,
 * which never write and may not advance the command counter.
 */
static int
exec_read(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, nulls,
										   IsInParallelMode(), 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "registry query failed: SPI error %d", rc);
	return rc;
}

Jsonb *
JsonbFromCString(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

void
RegistryCheckProjectName(const char *name)
{
	if (name == NULL || name[0] == '\0' || strlen(name) > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid project name \"%s\"", name ? name : ""),
				 errhint("A project name has 1 to 63 characters.")));
}

/* Copy a value out of the SPI result into the caller's context. */
static Datum
spi_value(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

bool
RegistryFindProject(const char *name, ProjectInfo *project)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	char	   *task;

	values[0] = CStringGetTextDatum(name);
	exec_read("SELECT id, name, task, owner::pg_catalog.oid FROM " SCHEMA ".projects "
			  "WHERE name OPERATOR(pg_catalog.=) $1",
			  1, types, values, NULL);
	if (SPI_processed == 0)
		return false;
	project->id = DatumGetInt64(spi_value(0, 1, &isnull));
	project->name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	task = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (!TaskFromName(task, &project->task))
		elog(ERROR, "project \"%s\" has an unknown task \"%s\"", name, task);
	project->owner = DatumGetObjectId(spi_value(0, 4, &isnull));
	return true;
}

void
RegistryGetProject(const char *name, ProjectInfo *project)
{
	if (!RegistryFindProject(name, project))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("project \"%s\" does not exist", name),
				 errhint("Projects are created by aifactory.train(); see SELECT name FROM aifactory.projects.")));
}

/*
 * Only the project's owner (a member of the owning role) or a superuser
 * may change what a project serves.
 */
void
RegistryCheckOwner(const ProjectInfo *project, const char *action)
{
	if (superuser() || has_privs_of_role(GetUserId(), project->owner))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s in project \"%s\"", action, project->name),
			 errdetail("Project \"%s\" is owned by role \"%s\".", project->name,
					   GetUserNameFromId(project->owner, false)),
			 errhint("Ask its owner to grant you membership in that role.")));
}

void
RegistryCreateProject(const char *name, TaskKind task, ProjectInfo *project)
{
	Oid			types[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		values[3];
	bool		isnull;

	RegistryCheckProjectName(name);
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(TaskName(task));
	values[2] = ObjectIdGetDatum(GetUserId());
	RegistryExecAsOwner("INSERT INTO " SCHEMA ".projects (name, task, owner) "
				  "VALUES ($1, $2, $3::pg_catalog.regrole) "
				  "ON CONFLICT (name) DO NOTHING RETURNING id",
				  3, types, values, NULL, SPI_OK_INSERT_RETURNING);
	if (SPI_processed == 0)
	{
		/*
		 * A concurrent transaction created the project first (the insert
		 * waited for it to commit): join it as any later caller would.
		 */
		if (!RegistryFindProject(name, project))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("project \"%s\" was created concurrently", name),
					 errhint("Retry the transaction.")));
		if (project->task != task)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("project \"%s\" is a %s project, not %s", name,
							TaskName(project->task), TaskName(task))));
		RegistryCheckOwner(project, "add models");
		return;
	}
	project->id = DatumGetInt64(spi_value(0, 1, &isnull));
	project->name = pstrdup(name);
	project->task = task;
	project->owner = GetUserId();
	RegistryAudit("create_project", name, 0,
				  psprintf("{\"task\": \"%s\"}", TaskName(task)));
}

/*
 * Register the next version of a project.  The project row is locked
 * first, so concurrent trainings of one project get distinct versions.
 */
/*
 * Serialize changes to one project (new versions, deployments, drops):
 * whoever comes second waits for the first to commit, then reads the
 * registry afresh.
 */
void
RegistryLockProject(const ProjectInfo *project)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(project->id);
	RegistryExecAsOwner("SELECT 1 FROM " SCHEMA ".projects WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
				  1, types, values, NULL, SPI_OK_SELECT);
}

int
RegistryInsertModel(const ProjectInfo *project, const NewModel *m, int64 *model_id)
{
	Oid			types[13] = {INT8OID, TEXTOID, JSONBOID, JSONBOID, JSONBOID,
	TEXTOID, TEXTOID, INT8OID, FLOAT8OID, BYTEAOID, TEXTOID, JSONBOID, BYTEAOID};
	Datum		values[13];
	char		nulls[13];
	bool		isnull;
	int			version;
	RegistryLockProject(project);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(project->id);
	values[1] = CStringGetTextDatum(m->algorithm);
	values[2] = JsonbPGetDatum(m->hyperparams);
	values[3] = JsonbPGetDatum(m->metrics);
	values[4] = JsonbPGetDatum(m->features);
	if (m->source)
		values[5] = CStringGetTextDatum(m->source);
	else
		nulls[5] = 'n';
	if (m->target)
		values[6] = CStringGetTextDatum(m->target);
	else
		nulls[6] = 'n';
	values[7] = Int64GetDatum(m->train_rows);
	values[8] = Float8GetDatum(m->fit_seconds);
	values[9] = PointerGetDatum(m->bytes);
	values[10] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	if (m->lineage)
		values[11] = JsonbPGetDatum(m->lineage);
	else
		nulls[11] = 'n';
	if (m->baseline)
		values[12] = PointerGetDatum(m->baseline);
	else
		nulls[12] = 'n';

	RegistryExecAsOwner("INSERT INTO " SCHEMA ".models (project_id, version, algorithm, hyperparams, "
				  "metrics, features, source, target, train_rows, fit_seconds, model, created_by, lineage, baseline) "
				  "SELECT $1, COALESCE(pg_catalog.max(version), 0) OPERATOR(pg_catalog.+) 1, "
				  "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 "
				  "FROM " SCHEMA ".models WHERE project_id OPERATOR(pg_catalog.=) $1 "
				  "RETURNING id, version",
				  13, types, values, nulls, SPI_OK_INSERT_RETURNING);
	*model_id = DatumGetInt64(spi_value(0, 1, &isnull));
	version = DatumGetInt32(spi_value(0, 2, &isnull));
	return version;
}

void
RegistryModelVersion(int64 model_id, int *version, char **algorithm)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;

	values[0] = Int64GetDatum(model_id);
	exec_read("SELECT version, algorithm FROM " SCHEMA ".models WHERE id OPERATOR(pg_catalog.=) $1",
			  1, types, values, NULL);
	if (SPI_processed != 1)
		elog(ERROR, "model %lld not found", (long long) model_id);
	*version = DatumGetInt32(spi_value(0, 1, &isnull));
	*algorithm = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
}

/*
 * A model's drift baseline (train/baseline.h), copied into the caller's
 * memory context (SPI connected), or NULL when the model has none.
 */
bytea *
RegistryGetBaseline(int64 model_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(model_id);
	exec_read("SELECT baseline FROM " SCHEMA ".models WHERE id OPERATOR(pg_catalog.=) $1",
			  1, types, values, NULL);
	if (SPI_processed != 1)
		elog(ERROR, "model %lld not found", (long long) model_id);
	d = spi_value(0, 1, &isnull);
	if (isnull)
		return NULL;
	/* detoasted here, then copied out of SPI's memory */
	return (bytea *) DatumGetPointer(SPI_datumTransfer(PointerGetDatum(DatumGetByteaP(d)),
													   false, -1));
}

int64
RegistryDeployedModelId(int64 project_id)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		isnull;

	values[0] = Int64GetDatum(project_id);
	values[1] = CStringGetTextDatum(DEFAULT_ALIAS);
	exec_read("SELECT model_id FROM " SCHEMA ".deployments "
			  "WHERE project_id OPERATOR(pg_catalog.=) $1 AND alias OPERATOR(pg_catalog.=) $2 "
			  "ORDER BY id DESC LIMIT 1",
			  2, types, values, NULL);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(spi_value(0, 1, &isnull));
}

void
RegistryGetModel(const ProjectInfo *project, int version, bool need_bytes,
				 ModelRow *row)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(project->id);
	if (version <= 0)
	{
		int64		model_id = RegistryDeployedModelId(project->id);

		if (model_id == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("project \"%s\" has no deployed model", project->name),
					 errhint("Deploy a version with aifactory.deploy('%s', version).", project->name)));
		values[0] = Int64GetDatum(model_id);
		exec_read("SELECT id, version, algorithm, status, model FROM " SCHEMA ".models "
				  "WHERE id OPERATOR(pg_catalog.=) $1",
				  1, types, values, NULL);
	}
	else
	{
		values[1] = Int32GetDatum(version);
		exec_read("SELECT id, version, algorithm, status, model FROM " SCHEMA ".models "
				  "WHERE project_id OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
				  2, types, values, NULL);
	}
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("project \"%s\" has no version %d", project->name, version),
				 errhint("See SELECT version FROM aifactory.model_metrics WHERE project = '%s'.",
						 project->name)));
	row->id = DatumGetInt64(spi_value(0, 1, &isnull));
	row->version = DatumGetInt32(spi_value(0, 2, &isnull));
	row->algorithm = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	row->status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	row->bytes = NULL;
	if (need_bytes)
	{
		d = spi_value(0, 5, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("version %d of project \"%s\" was dropped", row->version,
							project->name),
					 errhint("Use another version.")));
		row->bytes = DatumGetByteaPCopy(d);
	}
}

void
RegistryDeploy(const ProjectInfo *project, int64 model_id, const char *strategy)
{
	Oid			types[4] = {INT8OID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[4];

	values[0] = Int64GetDatum(project->id);
	values[1] = Int64GetDatum(model_id);
	values[2] = CStringGetTextDatum(strategy);
	values[3] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	RegistryExecAsOwner("INSERT INTO " SCHEMA ".deployments (project_id, model_id, strategy, deployed_by) "
				  "VALUES ($1, $2, $3, $4)",
				  4, types, values, NULL, SPI_OK_INSERT);
}

/*
 * The ready model with the best key metric (ties: the newer), or 0.
 */
int64
RegistryBestModelId(const ProjectInfo *project)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	const char *metric;

	switch (project->task)
	{
		case TASK_REGRESSION:
			metric = "r2";
			break;
		case TASK_CLASSIFICATION:
			metric = "f1";
			break;
		case TASK_CLUSTERING:
			metric = "silhouette";
			break;
		default:
			metric = "explained_variance";
			break;
	}
	values[0] = Int64GetDatum(project->id);
	values[1] = CStringGetTextDatum(metric);
	exec_read("SELECT id FROM " SCHEMA ".models WHERE project_id OPERATOR(pg_catalog.=) $1 "
			  "AND status OPERATOR(pg_catalog.=) 'ready' "
			  "ORDER BY (metrics OPERATOR(pg_catalog.->>) $2)::float8 DESC NULLS LAST, version DESC LIMIT 1",
			  2, types, values, NULL);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(spi_value(0, 1, &isnull));
}

void
RegistryAudit(const char *action, const char *project, int version,
			  const char *detail_json)
{
	Oid			types[5] = {TEXTOID, TEXTOID, INT4OID, JSONBOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(action);
	if (project)
		values[1] = CStringGetTextDatum(project);
	else
		nulls[1] = 'n';
	if (version > 0)
		values[2] = Int32GetDatum(version);
	else
		nulls[2] = 'n';
	values[3] = JsonbPGetDatum(JsonbFromCString(detail_json ? detail_json : "{}"));
	values[4] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	RegistryExecAsOwner("INSERT INTO " SCHEMA ".audit_log (action, project, version, detail, role) "
				  "VALUES ($1, $2, $3, $4, $5)",
				  5, types, values, nulls, SPI_OK_INSERT);
}

void
RegistryDropModel(int64 model_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(model_id);
	RegistryExecAsOwner("UPDATE " SCHEMA ".models SET status = 'dropped', model = NULL "
				  "WHERE id OPERATOR(pg_catalog.=) $1",
				  1, types, values, NULL, SPI_OK_UPDATE);
}
