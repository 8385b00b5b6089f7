/*-------------------------------------------------------------------------
 *
 * predlog.c
 *	  The backend's buffer of logged predictions and its flush into
 *	  aifactory.prediction_log.
 *
 * A keyed prediction is not written when it is made: one INSERT per row
 * would cost more than the prediction.  It is appended to a buffer in
 * backend memory, and the buffer is written with one INSERT ... SELECT
 * FROM unnest(...) per flush, as the extension's owner:
 *
 *   - at the end of every statement run by the executor (an ExecutorEnd
 *     hook, installed when this backend logs its first prediction), so a
 *     statement's predictions are in the table for the next statement;
 *   - when the buffer holds LOG_FLUSH_ROWS rows, from the predicting call
 *     itself, so memory stays bounded;
 *   - before commit (XACT_EVENT_PRE_COMMIT), for predictions made by
 *     expressions that never pass through ExecutorEnd (PL/pgSQL's simple
 *     expressions).
 *
 * Nothing is written while the backend is in parallel mode (writes are
 * not allowed there); those rows wait for the next flush point.  Rows
 * belong to the (sub)transaction that made them: an abort discards them,
 * so the log holds exactly the predictions of committed work.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#define LOG_FLUSH_ROWS 10000

typedef struct LogRow
{
	int64		project_id;
	int32		version;
	int			nest_level;		/* subtransaction that made it */
	bool		has_value;
	double		value;
	TimestampTz at;
	text	   *key;
	text	   *inputs;
	text	   *class_label;	/* or NULL */
	text	   *proba;			/* float8[] as text, or NULL */
} LogRow;

static MemoryContext log_mcxt = NULL;
static LogRow *rows = NULL;
static int	nrows = 0;
static int	capacity = 0;
static bool flushing = false;
static bool hooks_installed = false;
static ExecutorEnd_hook_type prev_executor_end = NULL;

static void
discard_all(void)
{
	nrows = 0;
	capacity = 0;
	rows = NULL;
	if (log_mcxt)
		MemoryContextReset(log_mcxt);
}

static void
log_executor_end(QueryDesc *queryDesc)
{
	if (nrows > 0 && !flushing)
		PredictionLogFlush();
	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
log_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (nrows > 0)
				PredictionLogFlush();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			flushing = false;
			discard_all();
			break;
		default:
			break;
	}
}

/* An aborted subtransaction takes its rows along; a committed one hands them up. */
static void
log_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			kept = 0;

	if (nrows == 0)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		flushing = false;
		for (int i = 0; i < nrows; i++)
			if (rows[i].nest_level < level)
				rows[kept++] = rows[i];
		nrows = kept;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = 0; i < nrows; i++)
			if (rows[i].nest_level >= level)
				rows[i].nest_level = level - 1;
	}
}

static void
install_hooks(void)
{
	if (hooks_installed)
		return;
	log_mcxt = AllocSetContextCreate(TopMemoryContext, "aifactory prediction log",
									 ALLOCSET_DEFAULT_SIZES);
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = log_executor_end;
	RegisterXactCallback(log_xact_callback, NULL);
	RegisterSubXactCallback(log_subxact_callback, NULL);
	hooks_installed = true;
}

void
PredictionLogCheckWritable(const char *project)
{
	if (IsParallelWorker())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot log predictions of project \"%s\" in a parallel worker", project),
				 errdetail("predict() with a key writes to aifactory.prediction_log when logging is on."),
				 errhint("Do not call it from a function marked PARALLEL SAFE.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot log predictions of project \"%s\" in a read-only transaction", project),
				 errhint("Predict without a key, or turn logging off with aifactory.set_logging('%s', false).",
						 project)));
}

static text *
copy_text(const char *s, int len)
{
	text	   *t = (text *) palloc(VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), s, len);
	return t;
}

void
PredictionLogAppend(const LoggedPrediction *p)
{
	MemoryContext old;
	LogRow	   *r;

	install_hooks();
	old = MemoryContextSwitchTo(log_mcxt);
	if (nrows == capacity)
	{
		capacity = capacity == 0 ? 256 : capacity * 2;
		rows = rows == NULL ? palloc(sizeof(LogRow) * capacity) :
			repalloc_huge(rows, sizeof(LogRow) * capacity);
	}
	r = &rows[nrows];
	r->project_id = p->project_id;
	r->version = p->version;
	r->nest_level = GetCurrentTransactionNestLevel();
	r->has_value = p->has_value;
	r->value = p->value;
	r->at = GetCurrentStatementStartTimestamp();
	r->key = copy_text(p->key, p->keylen);
	r->inputs = cstring_to_text(p->inputs);
	r->class_label = p->class_label ? cstring_to_text(p->class_label) : NULL;
	r->proba = NULL;
	if (p->proba)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		for (int c = 0; c < p->nproba; c++)
		{
			char	   *s = float8out_internal(p->proba[c]);

			if (c > 0)
				appendStringInfoChar(&buf, ',');
			appendStringInfoString(&buf, s);
			pfree(s);
		}
		appendStringInfoChar(&buf, '}');
		r->proba = cstring_to_text(buf.data);
		pfree(buf.data);
	}
	nrows++;
	MemoryContextSwitchTo(old);

	if (nrows >= LOG_FLUSH_ROWS)
		PredictionLogFlush();
}

static Datum
array_of(Datum *values, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, type,
											  typlen, typbyval, typalign));
}

/*
 * Write every buffered row with one statement, as the extension's owner.
 * Skipped while in parallel mode (rows wait for the next flush point).
 */
void
PredictionLogFlush(void)
{
	int			n = nrows;
	Datum	   *d;
	bool	   *nulls;
	Datum		values[9];
	Oid			types[9] = {INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	FLOAT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	MemoryContext tmp;
	MemoryContext old;
	bool		pushed = false;

	if (n == 0 || flushing || IsInParallelMode())
		return;
	flushing = true;
	tmp = AllocSetContextCreate(CurrentMemoryContext, "prediction log flush",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(tmp);
	d = palloc(sizeof(Datum) * n);
	nulls = palloc0(sizeof(bool) * n);

#define COLUMN(i, type, expr, isnull) \
	do { \
		for (int j = 0; j < n; j++) \
		{ \
			LogRow	   *r = &rows[j]; \
			nulls[j] = (isnull); \
			d[j] = nulls[j] ? (Datum) 0 : (expr); \
		} \
		values[i] = array_of(d, nulls, n, type); \
	} while (0)

	COLUMN(0, INT8OID, Int64GetDatum(r->project_id), false);
	COLUMN(1, INT4OID, Int32GetDatum(r->version), false);
	COLUMN(2, TEXTOID, PointerGetDatum(r->key), false);
	COLUMN(3, TEXTOID, PointerGetDatum(r->inputs), false);
	COLUMN(4, FLOAT8OID, Float8GetDatum(r->value), !r->has_value);
	COLUMN(5, TEXTOID, PointerGetDatum(r->class_label), r->class_label == NULL);
	COLUMN(6, TEXTOID, PointerGetDatum(r->proba), r->proba == NULL);
	COLUMN(7, TIMESTAMPTZOID, TimestampTzGetDatum(r->at), false);
#undef COLUMN

	/* at the end of a top-level statement, or before commit, none is set */
	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	SPI_connect();
	RegistryExecAsOwner("INSERT INTO aifactory.prediction_log "
						"(project_id, version, key, inputs, prediction, predicted_class, "
						"probabilities, logged_at) "
						"SELECT u.p, u.v, u.k, u.i::pg_catalog.jsonb, u.y, u.c, "
						"u.pr::pg_catalog.float8[], u.t "
						"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
						"pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
						"pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8)) "
						"AS u(p, v, k, i, y, c, pr, t)",
						8, types, values, NULL, SPI_OK_INSERT);
	SPI_finish();
	if (pushed)
		PopActiveSnapshot();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	flushing = false;

	/* rows appended meanwhile cannot exist: the flush runs no prediction */
	discard_all();
}
