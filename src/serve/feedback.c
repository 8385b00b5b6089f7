/*-------------------------------------------------------------------------
 *
 * feedback.c
 *	  record_outcome() joins the truth into logged predictions;
 *	  live_metrics() scores each version on the outcomes so far.
 *
 * An outcome is stored as text in prediction_log.actual of every logged
 * prediction with its key.  The metrics are those train() stores (report.c)
 * and come from the same code (algorithms/classmetrics.c); labels are
 * compared as numbers when both sides read as numbers ("1.50" is "1.5"),
 * else as text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "algorithms/classmetrics.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "registry/cache.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "train/pass.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(aifactory_record_outcome);
PG_FUNCTION_INFO_V1(aifactory_live_metrics);

/* A finite number read from all of s, or false. */
static bool
read_number(const char *s, double *v)
{
	char	   *end;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	*v = strtod(s, &end);
	while (*end == ' ')
		end++;
	return *end == '\0' && errno == 0 && isfinite(*v);
}

static void
require_supervised(const ProjectInfo *project)
{
	if (project->task != TASK_REGRESSION && project->task != TASK_CLASSIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("project \"%s\" does %s, which has no outcomes", project->name,
						TaskName(project->task)),
				 errhint("Outcomes and live metrics are for regression and classification projects.")));
}

/*
 * record_outcome(project, key, actual): the truth for every logged
 * prediction with this key; returns how many it matched.  The project's
 * owner (or a member, or a superuser) only: outcomes steer live_metrics(),
 * on which deployments are decided.
 */
Datum
aifactory_record_outcome(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *key = PG_GETARG_TEXT_PP(1);
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 2);
	char	   *actual;
	ProjectInfo project;
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	double		v;
	int64		matched;

	if (!OidIsValid(argtype))
		elog(ERROR, "could not determine the type of actual");
	if (argtype == BOOLOID)
		actual = PG_GETARG_BOOL(2) ? "true" : "false";
	else
	{
		Oid			outfn;
		bool		varlena;

		getTypeOutputInfo(argtype, &outfn, &varlena);
		actual = OidOutputFunctionCall(outfn, PG_GETARG_DATUM(2));
	}

	RegistryCheckProjectName(name);
	PredictionLogFlush();		/* this transaction's predictions count too */
	SPI_connect();
	RegistryGetProject(name, &project);
	RegistryCheckOwner(&project, "record outcomes");
	require_supervised(&project);
	if (project.task == TASK_REGRESSION && !read_number(actual, &v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("outcome \"%s\" of regression project \"%s\" is not a finite number",
						actual, name)));
	values[0] = Int64GetDatum(project.id);
	values[1] = PointerGetDatum(key);
	values[2] = CStringGetTextDatum(actual);
	RegistryExecAsOwner("UPDATE aifactory.prediction_log "
						"SET actual = $3, outcome_at = pg_catalog.clock_timestamp() "
						"WHERE project_id OPERATOR(pg_catalog.=) $1 AND key OPERATOR(pg_catalog.=) $2",
						3, types, values, NULL, SPI_OK_UPDATE);
	matched = (int64) SPI_processed;
	SPI_finish();
	PG_RETURN_INT64(matched);
}

/* ---- live_metrics ---- */

typedef struct LiveRow
{
	int			version;
	bool		has_value;
	double		value;
	char	   *predicted;		/* label key, classification */
	double		p1;				/* binary: P(second class); NaN if unknown */
	char	   *actual;
} LiveRow;

typedef struct Labels
{
	int			n;
	int			cap;
	char	  **keys;
} Labels;

/* A label as compared: a number's shortest text when it reads as one. */
static char *
label_key(const char *s)
{
	double		v;

	if (read_number(s, &v))
		return float8out_internal(v + 0.0);	/* -0 reads as 0 */
	return pstrdup(s);
}

static int
label_index(Labels *l, const char *key)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->keys[i], key) == 0)
			return i;
	if (l->n == l->cap)
	{
		l->cap = l->cap == 0 ? 8 : l->cap * 2;
		l->keys = l->keys ? repalloc(l->keys, sizeof(char *) * l->cap) :
			palloc(sizeof(char *) * l->cap);
	}
	l->keys[l->n] = (char *) key;
	return l->n++;
}

static void
put(ReturnSetInfo *rsinfo, int version, int64 n, const char *metric, double value)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = Int32GetDatum(version);
	values[1] = Int64GetDatum(n);
	values[2] = CStringGetTextDatum(metric);
	values[3] = Float8GetDatum(value);
	nulls[3] = isnan(value) || isinf(value);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * r2 on the outcomes' own mean (as train() and sklearn's r2_score), rmse,
 * mae: with the accumulator the training metrics use (train/pass.h).
 */
static void
regression_metrics(ReturnSetInfo *rsinfo, LiveRow *r, int n)
{
	MetricAcc	acc;

	memset(&acc, 0, sizeof(acc));
	for (int i = 0; i < n; i++)
	{
		double		y;

		(void) read_number(r[i].actual, &y);	/* checked when recorded */
		MetricAccAdd(&acc, y, r[i].value);
	}
	put(rsinfo, r[0].version, n, "r2", acc.ym2 > 0 ? 1.0 - acc.sse / acc.ym2 : NAN);
	put(rsinfo, r[0].version, n, "rmse", sqrt(acc.sse / n));
	put(rsinfo, r[0].version, n, "mae", acc.sae / n);
}

/*
 * The second class of a version's model (the positive class of roc_auc
 * and log_loss), as a label key; NULL when the model is not a binary
 * classifier or was dropped.
 */
static char *
positive_label(const ProjectInfo *project, int version, char **negative)
{
	ModelRow	row;
	Model	   *model;

	RegistryGetModel(project, version, false, &row);
	if (strcmp(row.status, "ready") != 0)
		return NULL;
	model = ModelCacheGet(row.id);
	if (model->task != TASK_CLASSIFICATION || model->nclasses != 2)
		return NULL;
	*negative = label_key(model->classes[0]);
	return label_key(model->classes[1]);
}

static void
classification_metrics(ReturnSetInfo *rsinfo, const ProjectInfo *project, LiveRow *r, int n)
{
	Labels		labels = {0, 0, NULL};
	int		   *truth = palloc(sizeof(int) * n);
	int		   *pred = palloc(sizeof(int) * n);
	ClassConfusion *cm;
	ClassMetrics sc;
	char	   *negative = NULL;
	char	   *positive;
	bool		binary;

	for (int i = 0; i < n; i++)
	{
		truth[i] = label_index(&labels, r[i].actual);
		pred[i] = label_index(&labels, r[i].predicted);
	}
	if (labels.n > CLASS_CONFUSION_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the outcomes of version %d of project \"%s\" have more than %d labels",
						r[0].version, project->name, CLASS_CONFUSION_MAX_CLASSES)));
	cm = ClassConfusionCreate(Max(labels.n, 1));
	for (int i = 0; i < n; i++)
		ClassConfusionAdd(cm, truth[i], pred[i]);
	ClassConfusionMetrics(cm, &sc);
	put(rsinfo, r[0].version, n, "accuracy", sc.accuracy);
	put(rsinfo, r[0].version, n, "precision", sc.precision);
	put(rsinfo, r[0].version, n, "recall", sc.recall);
	put(rsinfo, r[0].version, n, "f1", sc.f1);

	positive = positive_label(project, r[0].version, &negative);
	if (positive == NULL)
		return;
	/* roc_auc and log_loss when every outcome is one of the two classes */
	binary = true;
	for (int i = 0; i < n && binary; i++)
		binary = !isnan(r[i].p1) && (strcmp(r[i].actual, positive) == 0 ||
									 strcmp(r[i].actual, negative) == 0);
	if (binary)
	{
		double	   *score = palloc(sizeof(double) * n);
		int		   *y = palloc(sizeof(int) * n);
		LogLossState ll;

		LogLossInit(&ll);
		for (int i = 0; i < n; i++)
		{
			score[i] = r[i].p1;
			y[i] = strcmp(r[i].actual, positive) == 0 ? 1 : 0;
			LogLossAddBinary(&ll, y[i], score[i]);
		}
		put(rsinfo, r[0].version, n, "roc_auc", BinaryRocAuc(score, y, n));
		put(rsinfo, r[0].version, n, "log_loss", LogLossValue(&ll));
	}
	else
	{
		put(rsinfo, r[0].version, n, "roc_auc", NAN);
		put(rsinfo, r[0].version, n, "log_loss", NAN);
	}
}

/*
 * live_metrics(project, since): per version, the metrics of the logged
 * predictions (made at or after since) that have outcomes.  Reads
 * prediction_log as the caller: its row security shows a project's rows
 * to the owner role's members (and superusers) only.
 */
Datum
aifactory_live_metrics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	ProjectInfo project;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	LiveRow    *rows;
	int64		n;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	RegistryCheckProjectName(name);
	InitMaterializedSRF(fcinfo, 0);
	PredictionLogFlush();
	SPI_connect();
	RegistryGetProject(name, &project);
	require_supervised(&project);
	values[0] = Int64GetDatum(project.id);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		values[1] = PG_GETARG_DATUM(1);
	if (SPI_execute_with_args("SELECT version, prediction, predicted_class, "
							  "CASE WHEN pg_catalog.cardinality(probabilities) OPERATOR(pg_catalog.=) 2 "
							  "THEN probabilities[2] END, actual "
							  "FROM aifactory.prediction_log "
							  "WHERE project_id OPERATOR(pg_catalog.=) $1 AND actual IS NOT NULL "
							  "AND ($2 IS NULL OR logged_at OPERATOR(pg_catalog.>=) $2) "
							  "ORDER BY version, id",
							  2, types, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read prediction_log");
	n = (int64) SPI_processed;
	rows = palloc(sizeof(LiveRow) * Max(n, 1));
	for (int64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		rows[i].version = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		rows[i].has_value = !isnull;
		rows[i].value = isnull ? NAN : DatumGetFloat8(d);
		rows[i].predicted = SPI_getvalue(tup, desc, 3);
		if (rows[i].predicted)
			rows[i].predicted = label_key(rows[i].predicted);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		rows[i].p1 = isnull ? NAN : DatumGetFloat8(d);
		rows[i].actual = label_key(SPI_getvalue(tup, desc, 5));
	}
	for (int64 start = 0; start < n;)
	{
		int64		end = start;

		while (end < n && rows[end].version == rows[start].version)
			end++;
		CHECK_FOR_INTERRUPTS();
		if (project.task == TASK_REGRESSION)
			regression_metrics(rsinfo, rows + start, (int) (end - start));
		else
			classification_metrics(rsinfo, &project, rows + start, (int) (end - start));
		start = end;
	}
	SPI_finish();
	return (Datum) 0;
}
