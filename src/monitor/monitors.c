/*-------------------------------------------------------------------------
 *
 * monitors.c
 *	  Drift monitors: create_monitor(), drop_monitor() and run_monitors(),
 *	  one round over the due monitors, each checked with drift() and
 *	  recorded in drift_reports, with NOTIFY aifactory_alerts on drift
 *	  and, for on_drift 'retrain', a retraining job: retrain() trains a
 *	  challenger on the source and deploys it only if it beats the
 *	  champion on held-out rows.
 *
 * The monitors and drift_reports tables are written only here, as the
 * extension's owner, after the caller's right has been checked.  A
 * monitor's drift() runs as the monitor's owner (the role that created
 * it), whoever runs the round, so that a superuser's round (pg_cron)
 * reads each source with its owner's privileges and no more.  Each
 * monitor runs in a subtransaction: one that fails (its source was
 * dropped, say) records the error in its report and the round goes on.
 *
 * Retraining is not done in the round: on drift, a 'retrain' monitor's
 * round submits retrain(monitor, report) as a background job of the
 * monitor's owner (jobs/), started when the round commits, so that a
 * long training neither holds the round (and every other due monitor)
 * nor its locks.  The job trains the challenger as the owner, scores it
 * against the champion on held-out rows, deploys it only if it wins, and
 * writes the decision to audit_log and to the report.  A failed
 * retraining leaves no challenger and keeps the champion.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "core/source.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "jobs/jobs.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "registry/registry.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(aifactory_create_monitor);
PG_FUNCTION_INFO_V1(aifactory_drop_monitor);
PG_FUNCTION_INFO_V1(aifactory_run_monitors);
PG_FUNCTION_INFO_V1(aifactory_retrain);

#define SCHEMA "aifactory"
#define ALERT_CHANNEL "aifactory_alerts"

/* drifted feature names carried in a notification; the rest are counted */
#define NOTIFY_MAX_FEATURES 50

/*
 * The retraining split, by a stable hash of the row's text: a quarter is
 * held out to compare champion and challenger, the rest trains the
 * challenger.  train() splits that part again as usual (test_size 0.25:
 * its one-pass fits take the drift baseline from their test rows, and a
 * promoted challenger must be monitorable), with a fixed seed, so that a
 * rerun on the same rows gives the same challenger.
 */
#define HOLDOUT_TEST "(pg_catalog.hashtext(s::pg_catalog.text) OPERATOR(pg_catalog.&) 3)"
#define RETRAIN_SEED 42

/* One due monitor, copied out of SPI's result. */
typedef struct DueMonitor
{
	int64		id;
	char	   *project;
	char	   *source;
	Oid			owner;
	bool		retrain;		/* on_drift 'retrain' */
} DueMonitor;

/* What one monitor's drift() said, or the error it raised. */
typedef struct MonitorResult
{
	bool		ok;
	int			version;
	bool		drifted;
	bool		share_null;
	double		share;
	Datum		features;		/* text[] of drifted features */
	Datum		report;			/* jsonb array of drift()'s rows */
	char	   *error;
	char	   *sqlstate;
} MonitorResult;

static void
require_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

/*
 * The source must be readable by the caller now: parsed, planned and
 * opened with LIMIT 0, as train() would read it.
 */
static void
check_source(const char *source)
{
	Oid			relid;
	char	   *from = SourceFromClause(source, &relid);
	int			rc;

	rc = SPI_execute(psprintf("SELECT * FROM %s AS aif_source LIMIT 0", from), true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source of a monitor must be a query returning rows"),
				 errhint("Give a table or view name, or a SELECT query.")));
}

/*
 * create_monitor(project, source, every, on_drift): register a monitor
 * of the project's deployed model over source, due at once.
 */
Datum
aifactory_create_monitor(PG_FUNCTION_ARGS)
{
	char	   *project_name;
	char	   *source;
	Interval   *every;
	Interval   *zero = palloc0(sizeof(Interval));
	char	   *on_drift;
	ProjectInfo project;
	Oid			types[5] = {TEXTOID, TEXTOID, INTERVALOID, TEXTOID, OIDOID};
	Datum		values[5];
	bool		isnull;
	int64		id;
	int			version;
	char	   *algorithm;
	int64		model_id;
	StringInfoData detail;

	require_arg(fcinfo, 0, "project");
	require_arg(fcinfo, 1, "source");
	require_arg(fcinfo, 2, "every");
	require_arg(fcinfo, 3, "on_drift");
	project_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	every = PG_GETARG_INTERVAL_P(2);
	on_drift = text_to_cstring(PG_GETARG_TEXT_PP(3));

	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(every),
										  IntervalPGetDatum(zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every must be a positive interval"),
				 errhint("For example '1 hour' or '15 minutes'.")));
	if (strcmp(on_drift, "alert") != 0 && strcmp(on_drift, "retrain") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown on_drift \"%s\"", on_drift),
				 errhint("Use 'alert' or 'retrain'.")));

	SPI_connect();
	RegistryGetProject(project_name, &project);
	RegistryCheckOwner(&project, "create monitors");
	if (strcmp(on_drift, "retrain") == 0 &&
		project.task != TASK_REGRESSION && project.task != TASK_CLASSIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("on_drift \"retrain\" needs a regression or classification project, and \"%s\" is not",
						project.name),
				 errhint("A challenger is compared with the champion on held-out targets; use 'alert' for clustering and decomposition.")));
	model_id = RegistryDeployedModelId(project.id);
	if (model_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("project \"%s\" has no deployed model", project.name),
				 errhint("Deploy a version with aifactory.deploy('%s', version).", project.name)));
	RegistryModelVersion(model_id, &version, &algorithm);
	check_source(source);

	values[0] = CStringGetTextDatum(project.name);
	values[1] = CStringGetTextDatum(source);
	values[2] = IntervalPGetDatum(every);
	values[3] = CStringGetTextDatum(on_drift);
	values[4] = ObjectIdGetDatum(GetUserId());
	RegistryExecAsOwner("INSERT INTO " SCHEMA ".monitors (project, source, every, on_drift, owner) "
						"VALUES ($1, $2, $3, $4, $5::pg_catalog.regrole) RETURNING id",
						5, types, values, NULL, SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"monitor\": " INT64_FORMAT ", \"source\": ", id);
	escape_json(&detail, source);
	appendStringInfoString(&detail, ", \"every\": ");
	escape_json(&detail, DatumGetCString(DirectFunctionCall1(interval_out,
															 IntervalPGetDatum(every))));
	appendStringInfoString(&detail, ", \"on_drift\": ");
	escape_json(&detail, on_drift);
	appendStringInfoChar(&detail, '}');
	RegistryAudit("create_monitor", project.name, 0, detail.data);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/*
 * drop_monitor(id): its owner's members, the project's owner's members
 * and superusers may drop it; its reports stay.  False if there is no
 * such monitor.
 */
Datum
aifactory_drop_monitor(PG_FUNCTION_ARGS)
{
	int64		id;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	char	   *project_name;
	Oid			owner;
	ProjectInfo project;

	require_arg(fcinfo, 0, "id");
	id = PG_GETARG_INT64(0);
	values[0] = Int64GetDatum(id);

	SPI_connect();
	/* locked, so that a concurrent round or drop waits for us */
	RegistryExecAsOwner("SELECT project, owner::pg_catalog.oid FROM " SCHEMA ".monitors "
						"WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
						1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		SPI_finish();
		PG_RETURN_BOOL(false);
	}
	project_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
										   &isnull));
	if (!has_privs_of_role(GetUserId(), owner))
	{
		if (RegistryFindProject(project_name, &project))
			RegistryCheckOwner(&project, "drop monitors");
		else
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to drop monitor " INT64_FORMAT, id),
					 errdetail("Monitor " INT64_FORMAT " is owned by role \"%s\".", id,
							   GetUserNameFromId(owner, false))));
	}
	RegistryExecAsOwner("DELETE FROM " SCHEMA ".monitors WHERE id OPERATOR(pg_catalog.=) $1",
						1, types, values, NULL, SPI_OK_DELETE);
	RegistryAudit("drop_monitor", project_name, 0,
				  psprintf("{\"monitor\": " INT64_FORMAT "}", id));
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/*
 * The due monitors the caller may run, locked (a concurrent round skips
 * them), oldest first.
 */
static List *
due_monitors(void)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	List	   *due = NIL;

	values[0] = ObjectIdGetDatum(GetUserId());
	RegistryExecAsOwner("SELECT id, project, source, owner::pg_catalog.oid, "
						"on_drift OPERATOR(pg_catalog.=) 'retrain' FROM " SCHEMA ".monitors "
						"WHERE enabled AND next_run OPERATOR(pg_catalog.<=) pg_catalog.now() "
						"AND pg_catalog.pg_has_role($1, owner::pg_catalog.oid, 'USAGE') "
						"ORDER BY next_run, id FOR UPDATE SKIP LOCKED",
						1, types, values, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DueMonitor *m = palloc(sizeof(DueMonitor));
		bool		isnull;

		m->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		m->project = SPI_getvalue(tup, desc, 2);
		m->source = SPI_getvalue(tup, desc, 3);
		m->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		m->retrain = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		due = lappend(due, m);
	}
	return due;
}

/*
 * drift() of the monitor's project over its source, as the monitor's
 * owner; the verdict, drifted features and report are copied into
 * the caller's memory.
 */
static void
run_drift(const DueMonitor *m, MonitorResult *r, MemoryContext keep)
{
	ProjectInfo project;
	int64		model_id;
	char	   *algorithm;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	MemoryContext old;
	Datum		d;

	RegistryGetProject(m->project, &project);
	model_id = RegistryDeployedModelId(project.id);
	if (model_id != 0)
		RegistryModelVersion(model_id, &r->version, &algorithm);

	values[0] = CStringGetTextDatum(m->project);
	values[1] = CStringGetTextDatum(m->source);
	if (SPI_execute_with_args("SELECT "
							  "pg_catalog.bool_or(d.drifted) FILTER (WHERE d.kind OPERATOR(pg_catalog.=) 'dataset'), "
							  "pg_catalog.max(d.statistic) FILTER (WHERE d.kind OPERATOR(pg_catalog.=) 'dataset'), "
							  "COALESCE(pg_catalog.array_agg(d.feature ORDER BY d.feature) "
							  "  FILTER (WHERE d.drifted AND d.kind OPERATOR(pg_catalog.<>) 'dataset' "
							  "          AND d.feature OPERATOR(pg_catalog.<>) '(prediction)'), '{}'), "
							  "pg_catalog.jsonb_agg(pg_catalog.to_jsonb(d.*)) "
							  "FROM " SCHEMA ".drift($1, $2) d",
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "drift query of monitor " INT64_FORMAT " failed", m->id);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	d = SPI_getbinval(tup, desc, 1, &isnull);
	r->drifted = !isnull && DatumGetBool(d);
	d = SPI_getbinval(tup, desc, 2, &isnull);
	r->share_null = isnull;
	r->share = isnull ? 0 : DatumGetFloat8(d);
	old = MemoryContextSwitchTo(keep);
	r->features = datumCopy(SPI_getbinval(tup, desc, 3, &isnull), false, -1);
	d = SPI_getbinval(tup, desc, 4, &isnull);
	r->report = isnull ? JsonbPGetDatum(JsonbFromCString("[]")) : datumCopy(d, false, -1);
	MemoryContextSwitchTo(old);
	r->ok = true;
}

/* A float8 column of SPI's first row, or NaN when NULL. */
static double
spi_float8(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? get_float8_nan() : DatumGetFloat8(d);
}

static void
append_score(StringInfo buf, double score)
{
	if (isnan(score))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.17g", score);
}

/*
 * Train a challenger on the training part of the monitor's source with
 * the champion's algorithm, hyperparameters, target and features, score
 * both on the held-out quarter with the project's key metric, and deploy
 * the challenger only if its score is strictly higher.  Runs as the
 * monitor's owner; returns the decision as JSON.
 */
static char *
retrain_challenger(const DueMonitor *m, const ProjectInfo *project, int64 champion_id,
				   bool *promoted_out, int *deployed_out)
{
	Oid			relid;
	char	   *from = SourceFromClause(m->source, &relid);
	bool		regression = project->task == TASK_REGRESSION;
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTARRAYOID};
	Datum		values[6];
	bool		isnull;
	int			champion;
	int			challenger;
	char	   *target;
	char	   *col;
	char	   *sql;
	int64		holdout_rows;
	double		champion_score;
	double		challenger_score;
	bool		promoted;
	StringInfoData detail;

	/* the champion: what to train again */
	values[0] = Int64GetDatum(champion_id);
	types[0] = INT8OID;
	if (SPI_execute_with_args("SELECT m.version, m.algorithm, m.target, "
							  "pg_catalog.jsonb_strip_nulls(m.hyperparams), "
							  "ARRAY(SELECT e.f OPERATOR(pg_catalog.->>) 'name' "
							  "      FROM pg_catalog.jsonb_array_elements(m.features) WITH ORDINALITY AS e(f, n) "
							  "      ORDER BY e.n) "
							  "FROM " SCHEMA ".models m WHERE m.id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "deployed model " INT64_FORMAT " not found, which should not happen", champion_id);
	champion = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	target = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of project \"%s\" has no target to retrain on",
						champion, project->name)));
	types[0] = TEXTOID;
	values[0] = CStringGetTextDatum(project->name);
	values[1] = CStringGetTextDatum(psprintf("SELECT * FROM %s AS s WHERE " HOLDOUT_TEST
											 " OPERATOR(pg_catalog.<>) 0", from));
	values[2] = CStringGetTextDatum(target);
	values[3] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	values[4] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);
	values[5] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull);

	/* the challenger, never deployed by train() itself */
	if (SPI_execute_with_args("SELECT t.version FROM " SCHEMA ".train($1, $2, $3, $4, $5, $6, "
							  "0.25, " CppAsString2(RETRAIN_SEED) ", 'none') t",
							  6, types, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "train() of monitor " INT64_FORMAT " returned no row, which should not happen", m->id);
	challenger = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/* both scored on the held-out quarter */
	col = psprintf("s.%s", quote_identifier(target));
	if (regression)
		sql = psprintf("WITH h AS ("
					   " SELECT %s::pg_catalog.float8 AS y, "
					   " " SCHEMA ".predict($1, $2, s) AS a, " SCHEMA ".predict($1, $3, s) AS b "
					   " FROM %s AS s WHERE " HOLDOUT_TEST " OPERATOR(pg_catalog.=) 0 AND %s IS NOT NULL), "
					   "t AS (SELECT pg_catalog.avg(h.y) AS ybar FROM h) "
					   "SELECT pg_catalog.count(*), "
					   " 1 OPERATOR(pg_catalog.-) (pg_catalog.sum((h.y OPERATOR(pg_catalog.-) h.a) OPERATOR(pg_catalog.^) 2) "
					   "   OPERATOR(pg_catalog./) NULLIF(pg_catalog.sum((h.y OPERATOR(pg_catalog.-) t.ybar) OPERATOR(pg_catalog.^) 2), 0)), "
					   " 1 OPERATOR(pg_catalog.-) (pg_catalog.sum((h.y OPERATOR(pg_catalog.-) h.b) OPERATOR(pg_catalog.^) 2) "
					   "   OPERATOR(pg_catalog./) NULLIF(pg_catalog.sum((h.y OPERATOR(pg_catalog.-) t.ybar) OPERATOR(pg_catalog.^) 2), 0)) "
					   "FROM h CROSS JOIN t",
					   col, from, col);
	else
		/* macro F1 over the labels each model's confusion matrix has */
		sql = psprintf("WITH h AS ("
					   " SELECT %s::pg_catalog.text AS y, "
					   " " SCHEMA ".predict_class($1, $2, s) AS a, " SCHEMA ".predict_class($1, $3, s) AS b "
					   " FROM %s AS s WHERE " HOLDOUT_TEST " OPERATOR(pg_catalog.=) 0 AND %s IS NOT NULL), "
					   "l AS (SELECT h.y AS label FROM h UNION SELECT h.a FROM h UNION SELECT h.b FROM h), "
					   "f AS (SELECT "
					   " pg_catalog.count(*) FILTER (WHERE h.y OPERATOR(pg_catalog.=) l.label)::pg_catalog.float8 AS ny, "
					   " pg_catalog.count(*) FILTER (WHERE h.a OPERATOR(pg_catalog.=) l.label)::pg_catalog.float8 AS na, "
					   " pg_catalog.count(*) FILTER (WHERE h.b OPERATOR(pg_catalog.=) l.label)::pg_catalog.float8 AS nb, "
					   " pg_catalog.count(*) FILTER (WHERE h.y OPERATOR(pg_catalog.=) l.label "
					   "   AND h.a OPERATOR(pg_catalog.=) l.label)::pg_catalog.float8 AS ta, "
					   " pg_catalog.count(*) FILTER (WHERE h.y OPERATOR(pg_catalog.=) l.label "
					   "   AND h.b OPERATOR(pg_catalog.=) l.label)::pg_catalog.float8 AS tb "
					   " FROM l CROSS JOIN h GROUP BY l.label) "
					   "SELECT (SELECT pg_catalog.count(*) FROM h), "
					   " pg_catalog.avg(2 OPERATOR(pg_catalog.*) f.ta OPERATOR(pg_catalog./) (f.ny OPERATOR(pg_catalog.+) f.na)) "
					   "   FILTER (WHERE f.ny OPERATOR(pg_catalog.+) f.na OPERATOR(pg_catalog.>) 0), "
					   " pg_catalog.avg(2 OPERATOR(pg_catalog.*) f.tb OPERATOR(pg_catalog./) (f.ny OPERATOR(pg_catalog.+) f.nb)) "
					   "   FILTER (WHERE f.ny OPERATOR(pg_catalog.+) f.nb OPERATOR(pg_catalog.>) 0) "
					   "FROM f",
					   col, from, col);
	types[1] = INT4OID;
	types[2] = INT4OID;
	values[1] = Int32GetDatum(champion);
	values[2] = Int32GetDatum(challenger);
	if (SPI_execute_with_args(sql, 3, types, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "scoring query of monitor " INT64_FORMAT " failed", m->id);
	holdout_rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	champion_score = spi_float8(2);
	challenger_score = spi_float8(3);

	/* no score (no held-out rows, a constant target) promotes nothing */
	promoted = !isnan(champion_score) && !isnan(challenger_score) &&
		challenger_score > champion_score;
	if (promoted &&
		SPI_execute_with_args("SELECT 1 FROM " SCHEMA ".deploy($1, $3)",
							  3, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "deploy of monitor " INT64_FORMAT " failed", m->id);

	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"metric\": \"%s\", \"holdout_rows\": " INT64_FORMAT
					 ", \"champion\": {\"version\": %d, \"score\": ",
					 regression ? "r2" : "f1", holdout_rows, champion);
	append_score(&detail, champion_score);
	appendStringInfo(&detail, "}, \"challenger\": {\"version\": %d, \"score\": ", challenger);
	append_score(&detail, challenger_score);
	appendStringInfo(&detail, "}, \"promoted\": %s}", promoted ? "true" : "false");
	*promoted_out = promoted;
	*deployed_out = promoted ? challenger : champion;
	return detail.data;
}

/*
 * In the PG_CATCH of a subtransaction: the error, copied into oldcontext,
 * and the subtransaction rolled back.  A cancel or shutdown is thrown on:
 * it ends the round, not just one monitor or one retraining.
 */
static ErrorData *
subxact_failed(MemoryContext oldcontext, ResourceOwner oldowner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(oldcontext);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
		ReThrowError(edata);
	return edata;
}

/*
 * Retrain after a drift, in a subtransaction of its own inside the
 * monitor's: a failure rolls back the challenger, keeps the champion and
 * becomes the decision's error.  The decision is audited as
 * monitor_retrain and returned (allocated in keep) for drift_reports.
 */
static char *
run_retrain(const DueMonitor *m, MemoryContext keep, bool *promoted, int *deployed)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ProjectInfo project;
	int64		champion_id;
	int			champion = 0;
	char	   *algorithm;
	char	   *detail = NULL;

	*promoted = false;

	RegistryGetProject(m->project, &project);
	champion_id = RegistryDeployedModelId(project.id);
	if (champion_id != 0)
		RegistryModelVersion(champion_id, &champion, &algorithm);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		char	   *d;

		if (champion_id == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("project \"%s\" has no deployed model", project.name)));
		d = retrain_challenger(m, &project, champion_id, promoted, deployed);
		detail = MemoryContextStrdup(keep, d);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		StringInfoData buf;

		edata = subxact_failed(oldcontext, oldowner);
		*promoted = false;
		*deployed = champion;
		initStringInfo(&buf);
		appendStringInfo(&buf, "{\"metric\": \"%s\", \"champion\": {\"version\": %d}, "
						 "\"promoted\": false, \"error\": ",
						 project.task == TASK_REGRESSION ? "r2" : "f1", champion);
		escape_json(&buf, edata->message ? edata->message : "unknown error");
		appendStringInfoString(&buf, ", \"sqlstate\": ");
		escape_json(&buf, unpack_sql_state(edata->sqlerrcode));
		appendStringInfoChar(&buf, '}');
		detail = MemoryContextStrdup(keep, buf.data);
		FreeErrorData(edata);
	}
	PG_END_TRY();

	/* the same detail, with the monitor's id in front */
	RegistryAudit("monitor_retrain", project.name, champion,
				  psprintf("{\"monitor\": " INT64_FORMAT ", %s", m->id, detail + 1));
	return detail;
}

/*
 * One monitor in a subtransaction, as its owner: an error is caught,
 * rolled back and kept in r, as PL/Python's subtransactions do; a query
 * cancel is raised again, so that it stops the whole round.
 */
static void
run_one(const DueMonitor *m, MonitorResult *r)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;

	memset(r, 0, sizeof(*r));
	GetUserIdAndSecContext(&save_userid, &save_sec);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		SetUserIdAndSecContext(m->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		run_drift(m, r, oldcontext);
		SetUserIdAndSecContext(save_userid, save_sec);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		SetUserIdAndSecContext(save_userid, save_sec);
		edata = subxact_failed(oldcontext, oldowner);
		r->ok = false;
		r->error = edata->message ? pstrdup(edata->message) : pstrdup("unknown error");
		r->sqlstate = pstrdup(unpack_sql_state(edata->sqlerrcode));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * Record the report, move the monitor's schedule on and, on drift,
 * queue the alert (sent when the transaction commits).  Returns the
 * action taken.
 */
static const char *
record(const DueMonitor *m, const MonitorResult *r, int64 *report_id)
{
	Oid			types[9] = {INT8OID, TEXTOID, INT4OID, BOOLOID, FLOAT8OID, TEXTARRAYOID,
	JSONBOID, TEXTOID, JSONBOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	const char *action = !(r->ok && r->drifted) ? "none" : m->retrain ? "retrain" : "alert";
	char	   *payload;

	values[0] = Int64GetDatum(m->id);
	values[1] = CStringGetTextDatum(m->project);
	values[2] = Int32GetDatum(r->version);
	if (r->version <= 0)
		nulls[2] = 'n';
	values[3] = BoolGetDatum(r->drifted);
	values[4] = Float8GetDatum(r->share);
	values[5] = r->features;
	values[6] = r->report;
	values[7] = CStringGetTextDatum(action);
	if (r->ok)
		values[8] = JsonbPGetDatum(JsonbFromCString("{}"));
	else
	{
		StringInfoData detail;

		initStringInfo(&detail);
		appendStringInfoString(&detail, "{\"error\": ");
		escape_json(&detail, r->error);
		appendStringInfoString(&detail, ", \"sqlstate\": ");
		escape_json(&detail, r->sqlstate);
		appendStringInfoChar(&detail, '}');
		values[8] = JsonbPGetDatum(JsonbFromCString(detail.data));
		nulls[3] = nulls[5] = nulls[6] = 'n';
	}
	if (!r->ok || r->share_null)
		nulls[4] = 'n';

	/* the payload is small whatever the model: at most 50 feature names */
	RegistryExecAsOwner("INSERT INTO " SCHEMA ".drift_reports "
						"(monitor_id, project, version, drifted, share, drifted_features, report, action, detail) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
						"RETURNING pg_catalog.jsonb_build_object("
						"'monitor', monitor_id, 'project', project, 'version', version, "
						"'share', share, 'drifted_features', drifted_features[1:" CppAsString2(NOTIFY_MAX_FEATURES) "], "
						"'drifted_count', pg_catalog.cardinality(drifted_features), "
						"'report', id, 'at', run_at)::text, id",
						9, types, values, nulls, SPI_OK_INSERT_RETURNING);
	payload = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	{
		bool		isnull;

		*report_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 2, &isnull));
	}

	RegistryExecAsOwner("UPDATE " SCHEMA ".monitors SET last_run = pg_catalog.now(), "
						"next_run = pg_catalog.now() OPERATOR(pg_catalog.+) every "
						"WHERE id OPERATOR(pg_catalog.=) $1",
						1, types, values, NULL, SPI_OK_UPDATE);
	if (strcmp(action, "none") != 0)
		Async_Notify(ALERT_CHANNEL, payload);
	return action;
}

/*
 * A retrain report's detail: the job submitted, then the decision; the
 * report keeps the id of the job that made the decision.
 */
static void
write_report_detail(int64 report_id, const char *json)
{
	Oid			types[2] = {INT8OID, JSONBOID};
	Datum		values[2];

	values[0] = Int64GetDatum(report_id);
	values[1] = JsonbPGetDatum(JsonbFromCString(json));
	RegistryExecAsOwner("UPDATE " SCHEMA ".drift_reports SET detail = CASE "
						"WHEN detail OPERATOR(pg_catalog.?) 'job' THEN $2 OPERATOR(pg_catalog.||) "
						"pg_catalog.jsonb_build_object('job', detail OPERATOR(pg_catalog.->) 'job') "
						"ELSE $2 END WHERE id OPERATOR(pg_catalog.=) $1",
						2, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * A drifted 'retrain' monitor: submit retrain(monitor, report) as a job of
 * the monitor's owner, which starts when the round commits (a round that
 * rolls back leaves no job).  The report's detail says which job, or why
 * none could start (no free worker slot, say), in which case the champion
 * stays.  The job writes its decision over that detail.
 */
static void
submit_retrain(const DueMonitor *m, int64 report_id)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	StringInfoData detail;

	initStringInfo(&detail);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int64		job;

		SetUserIdAndSecContext(m->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		job = JobSubmitRetrain(m->id, report_id);
		SetUserIdAndSecContext(save_userid, save_sec);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		appendStringInfo(&detail, "{\"job\": " INT64_FORMAT "}", job);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		SetUserIdAndSecContext(save_userid, save_sec);
		edata = subxact_failed(oldcontext, oldowner);
		appendStringInfoString(&detail, "{\"promoted\": false, \"error\": ");
		escape_json(&detail, edata->message ? edata->message : "unknown error");
		appendStringInfoString(&detail, ", \"sqlstate\": ");
		escape_json(&detail, unpack_sql_state(edata->sqlerrcode));
		appendStringInfoChar(&detail, '}');
		FreeErrorData(edata);
	}
	PG_END_TRY();
	write_report_detail(report_id, detail.data);
}

/*
 * run_monitors(): one round over the due monitors the caller may run.
 */
Datum
aifactory_run_monitors(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *due;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	due = due_monitors();
	foreach(lc, due)
	{
		DueMonitor *m = (DueMonitor *) lfirst(lc);
		MonitorResult r;
		const char *action;
		int64		report_id;
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		CHECK_FOR_INTERRUPTS();
		run_one(m, &r);
		action = record(m, &r, &report_id);
		if (strcmp(action, "retrain") == 0)
			submit_retrain(m, report_id);

		values[0] = Int64GetDatum(m->id);
		values[1] = CStringGetTextDatum(m->project);
		values[2] = Int32GetDatum(r.version);
		nulls[2] = r.version <= 0;
		values[3] = BoolGetDatum(r.drifted);
		nulls[3] = !r.ok;
		values[4] = Float8GetDatum(r.share);
		nulls[4] = !r.ok || r.share_null;
		values[5] = CStringGetTextDatum(action);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/* run_retrain as the monitor's owner, as the monitor's own drift() runs */
static char *
retrain_as_owner(const DueMonitor *m, MemoryContext keep, bool *promoted, int *deployed)
{
	Oid			save_userid;
	int			save_sec;
	char	   *volatile detail = NULL;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(m->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		detail = run_retrain(m, keep, promoted, deployed);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	return detail;
}

/*
 * retrain(monitor, report): train a challenger on the monitor's source and
 * deploy it only if it beats the deployed champion on the held-out rows.
 * The decision is audited (monitor_retrain) and, given a report of that
 * monitor, written to the report's detail; it is returned too.  The
 * monitor's owner (or a member of that role) may run it, and it runs as
 * the owner.  A drifted 'retrain' monitor submits it as a job.
 */
Datum
aifactory_retrain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext keep = CurrentMemoryContext;
	int64		monitor_id;
	int64		report_id = 0;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	DueMonitor	m;
	bool		promoted = false;
	int			deployed = 0;
	char	   *detail;
	char	   *project;

	require_arg(fcinfo, 0, "monitor");
	monitor_id = PG_GETARG_INT64(0);
	if (!PG_ARGISNULL(1))
		report_id = PG_GETARG_INT64(1);
	PreventCommandIfReadOnly("retrain()");
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	values[0] = Int64GetDatum(monitor_id);
	RegistryExecAsOwner("SELECT id, project, source, owner::pg_catalog.oid FROM " SCHEMA ".monitors "
						"WHERE id OPERATOR(pg_catalog.=) $1",
						1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("monitor " INT64_FORMAT " does not exist", monitor_id)));
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		m.id = monitor_id;
		m.project = MemoryContextStrdup(keep, SPI_getvalue(tup, desc, 2));
		m.source = MemoryContextStrdup(keep, SPI_getvalue(tup, desc, 3));
		m.owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		m.retrain = true;
	}
	if (!has_privs_of_role(GetUserId(), m.owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to retrain monitor " INT64_FORMAT, monitor_id),
				 errhint("Only the monitor's owner, or a member of that role, may retrain it.")));
	if (report_id != 0)
	{
		values[0] = Int64GetDatum(report_id);
		values[1] = Int64GetDatum(monitor_id);
		RegistryExecAsOwner("SELECT 1 FROM " SCHEMA ".drift_reports WHERE id OPERATOR(pg_catalog.=) $1 "
							"AND monitor_id OPERATOR(pg_catalog.=) $2",
							2, types, values, NULL, SPI_OK_SELECT);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("drift report " INT64_FORMAT " is not a report of monitor " INT64_FORMAT,
							report_id, monitor_id),
					 errhint("Give one of the monitor's drift_reports ids, or NULL.")));
	}

	detail = retrain_as_owner(&m, keep, &promoted, &deployed);

	if (report_id != 0)
		write_report_detail(report_id, detail);
	SPI_finish();

	project = m.project;
	values[0] = CStringGetTextDatum(project);
	values[1] = Int32GetDatum(deployed);
	nulls[1] = deployed <= 0;
	values[2] = BoolGetDatum(promoted);
	values[3] = JsonbPGetDatum(JsonbFromCString(detail));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
