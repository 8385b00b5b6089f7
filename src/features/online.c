/*-------------------------------------------------------------------------
 *
 * online.c
 *	  The online store: materialize(), online_features(), predict_online().
 *
 * materialize() keeps, for each feature view, an ordinary table (the
 * caller's) with the latest row per entity, primary key on the entity
 * keys.  Each run reads only the source rows at or after a watermark: the
 * greatest created time seen by the previous run when the view has a
 * created time (so a late-arriving row, old event time but new created
 * time, is picked up), else the greatest event time (a late row older
 * than that is then missed until a full => true run).  The rows read are
 * reduced to one per entity and merged with INSERT ... ON CONFLICT DO
 * UPDATE, which replaces an entity's row only with a newer one (event
 * time, then created time), so reading a row twice changes nothing.
 *
 * online_features() and predict_online() serve applications one key at a
 * time: each resolves its catalog rows and prepares its statement once per
 * backend, and looks again only after a change to the feature store's
 * catalogs (a relcache invalidation their triggers send on commit) or,
 * for predict_online, to what the project serves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "features/features.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "registry/cache.h"
#include "registry/registry.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(aifactory_materialize);
PG_FUNCTION_INFO_V1(aifactory_online_features);
PG_FUNCTION_INFO_V1(aifactory_predict_online);

#define SCHEMA "aifactory"

/* ---- materialize ---- */

static char *
column_def(const char *name, Oid type, int32 typmod)
{
	return psprintf("%s %s", quote_identifier(name), format_type_with_typemod(type, typmod));
}

/* Create the online table of fv in schema; returns its quoted name. */
static char *
create_online_table(FeatureView *fv, const char *schema)
{
	StringInfoData sql;
	char	   *relation = psprintf("%s.%s", schema,
									quote_identifier(psprintf("%s_online", fv->name)));

	if (OidIsValid(RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(relation)),
									NoLock, true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation %s already exists", relation),
				 errhint("materialize() creates the online table %s: drop or rename the existing one, or pass schema => '...'.",
						 relation)));
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", relation);
	for (int k = 0; k < fv->nkeys; k++)
		appendStringInfo(&sql, "%s NOT NULL, ", column_def(fv->keys[k], fv->key_types[k],
														   fv->key_typmods[k]));
	appendStringInfo(&sql, "%s NOT NULL, ", column_def(fv->event_time, fv->event_type,
													   fv->event_typmod));
	if (fv->created_time)
		appendStringInfo(&sql, "%s, ", column_def(fv->created_time, fv->created_type,
												  fv->created_typmod));
	for (int i = 0; i < fv->nfeatures; i++)
		appendStringInfo(&sql, "%s, ", column_def(fv->features[i], fv->feature_types[i],
												  fv->feature_typmods[i]));
	appendStringInfoString(&sql, "PRIMARY KEY (");
	for (int k = 0; k < fv->nkeys; k++)
		appendStringInfo(&sql, "%s%s", k > 0 ? ", " : "", quote_identifier(fv->keys[k]));
	appendStringInfoString(&sql, "))");
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create online table %s", relation);
	return relation;
}

/*
 * The merge statement: rows of the source at or after the watermark ($1),
 * the latest per entity, upserted where newer.  Returns rows read, rows
 * changed and the new watermark (ISO 8601 text).
 */
static char *
merge_sql(FeatureView *fv, const char *relation, bool incremental)
{
	StringInfoData sql;
	StringInfoData cols;
	StringInfoData keys;
	const char *marker = fv->created_time ? fv->created_time : fv->event_time;
	Oid			marker_type = fv->created_time ? fv->created_type : fv->event_type;
	const char *et = quote_identifier(fv->event_time);

	initStringInfo(&cols);
	initStringInfo(&keys);
	for (int k = 0; k < fv->nkeys; k++)
	{
		appendStringInfo(&keys, "%s%s", k > 0 ? ", " : "", quote_identifier(fv->keys[k]));
		appendStringInfo(&cols, "%s, ", quote_identifier(fv->keys[k]));
	}
	appendStringInfoString(&cols, et);
	if (fv->created_time)
		appendStringInfo(&cols, ", %s", quote_identifier(fv->created_time));
	for (int i = 0; i < fv->nfeatures; i++)
		appendStringInfo(&cols, ", %s", quote_identifier(fv->features[i]));

	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH src AS (SELECT %s FROM %s AS f WHERE f.%s IS NOT NULL",
					 cols.data, fv->source, et);
	for (int k = 0; k < fv->nkeys; k++)
		appendStringInfo(&sql, " AND f.%s IS NOT NULL", quote_identifier(fv->keys[k]));
	if (incremental)
		appendStringInfo(&sql, " AND f.%s OPERATOR(pg_catalog.>=) $1::%s",
						 quote_identifier(marker), format_type_be_qualified(marker_type));
	appendStringInfo(&sql, "), latest AS (SELECT DISTINCT ON (%s) %s FROM src ORDER BY %s, %s DESC",
					 keys.data, cols.data, keys.data, et);
	if (fv->created_time)
		appendStringInfo(&sql, ", %s DESC", quote_identifier(fv->created_time));
	appendStringInfo(&sql, "), up AS (INSERT INTO %s AS o (%s) SELECT %s FROM latest "
					 "ON CONFLICT (%s) DO UPDATE SET %s = excluded.%s",
					 relation, cols.data, cols.data, keys.data, et, et);
	if (fv->created_time)
		appendStringInfo(&sql, ", %s = excluded.%s", quote_identifier(fv->created_time),
						 quote_identifier(fv->created_time));
	for (int i = 0; i < fv->nfeatures; i++)
		appendStringInfo(&sql, ", %s = excluded.%s", quote_identifier(fv->features[i]),
						 quote_identifier(fv->features[i]));
	if (fv->created_time)
		appendStringInfo(&sql, " WHERE excluded.%s OPERATOR(pg_catalog.>) o.%s OR "
						 "(excluded.%s OPERATOR(pg_catalog.=) o.%s AND "
						 "(o.%s IS NULL OR excluded.%s OPERATOR(pg_catalog.>) o.%s))",
						 et, et, et, et,
						 quote_identifier(fv->created_time), quote_identifier(fv->created_time),
						 quote_identifier(fv->created_time));
	else
		appendStringInfo(&sql, " WHERE excluded.%s OPERATOR(pg_catalog.>=) o.%s", et, et);
	appendStringInfo(&sql, " RETURNING 1) SELECT (SELECT pg_catalog.count(*) FROM src), "
					 "(SELECT pg_catalog.count(*) FROM up), "
					 "(SELECT pg_catalog.to_jsonb(pg_catalog.max(%s)) OPERATOR(pg_catalog.#>>) '{}' FROM src)",
					 quote_identifier(marker));
	return sql.data;
}

/*
 * materialize(feature_view, full default false, schema default null) ->
 * (online_table, rows_read, rows_changed, watermark).
 */
Datum
aifactory_materialize(PG_FUNCTION_ARGS)
{
	FeatureView fv;
	char	   *name;
	bool		full;
	char	   *relation = NULL;
	char	   *watermark = NULL;
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int64		rows_read;
	int64		rows_changed;
	char	   *new_mark;
	TupleDesc	tupdesc;
	Datum		result[4];
	bool		rnulls[4] = {false, false, false, false};
	HeapTuple	tuple;
	MemoryContext caller = CurrentMemoryContext;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature view name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	full = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "materialize must return a row");

	SPI_connect();
	FeatureViewGet(name, &fv);
	FeatureCheckOwner("feature view", fv.name, fv.owner, "materialize");
	/* one run at a time per feature view; a drop waits for it */
	values[0] = Int64GetDatum(fv.id);
	RegistryExecAsOwner("SELECT 1 FROM " SCHEMA ".feature_views WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
						1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" was dropped concurrently", name)));

	if (SPI_execute_with_args("SELECT relation, watermark FROM " SCHEMA ".online_tables "
							  "WHERE feature_view_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read aifactory.online_tables");
	if (SPI_processed > 0)
	{
		relation = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		watermark = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		/* dropped by its owner: start over */
		if (!OidIsValid(RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(relation)),
										 NoLock, true)))
			relation = NULL;
	}
	if (relation == NULL)
	{
		relation = create_online_table(&fv, FeatureCreationSchema(PG_ARGISNULL(2) ? NULL :
																   text_to_cstring(PG_GETARG_TEXT_PP(2))));
		watermark = NULL;
	}
	else if (full)
	{
		if (SPI_execute(psprintf("TRUNCATE %s", relation), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not truncate %s", relation);
		watermark = NULL;
	}

	{
		Oid			wtypes[1] = {TEXTOID};
		Datum		wvalues[1];

		wvalues[0] = watermark ? CStringGetTextDatum(watermark) : (Datum) 0;
		if (SPI_execute_with_args(merge_sql(&fv, relation, watermark != NULL),
								  watermark ? 1 : 0, wtypes, wvalues, NULL, false, 0) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not materialize feature view \"%s\"", fv.name);
	}
	rows_read = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	rows_changed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	new_mark = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (new_mark != NULL)
		watermark = new_mark;

	values[0] = Int64GetDatum(fv.id);
	values[1] = CStringGetTextDatum(relation);
	values[2] = CStringGetTextDatum(fv.created_time ? fv.created_time : fv.event_time);
	if (watermark)
		values[3] = CStringGetTextDatum(watermark);
	else
		nulls[3] = 'n';
	values[4] = Int64GetDatum(rows_read);
	values[5] = Int64GetDatum(rows_changed);
	RegistryExecAsOwner("INSERT INTO " SCHEMA ".online_tables AS t (feature_view_id, relation, marker, "
						"watermark, rows_read, rows_changed) VALUES ($1, $2, $3, $4, $5, $6) "
						"ON CONFLICT (feature_view_id) DO UPDATE SET relation = excluded.relation, "
						"marker = excluded.marker, watermark = excluded.watermark, "
						"rows_read = excluded.rows_read, rows_changed = excluded.rows_changed, "
						"materialized_at = pg_catalog.clock_timestamp(), materialized_by = CURRENT_USER",
						6, types, values, nulls, SPI_OK_INSERT);

	MemoryContextSwitchTo(caller);
	result[0] = CStringGetTextDatum(relation);
	result[1] = Int64GetDatum(rows_read);
	result[2] = Int64GetDatum(rows_changed);
	if (watermark)
		result[3] = CStringGetTextDatum(watermark);
	else
		rnulls[3] = true;
	tupdesc = BlessTupleDesc(tupdesc);
	tuple = heap_form_tuple(tupdesc, result, rnulls);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/* ---- the per-backend caches ---- */

static uint64 store_generation = 1;
static bool callback_registered = false;
static Oid	feature_views_relid = InvalidOid;
static Oid	online_tables_relid = InvalidOid;
static TimestampTz checked_at = 0;

/* A change to either catalog (or a full reset) empties the caches. */
static void
store_inval(Datum arg, Oid relid)
{
	if (relid == InvalidOid || !OidIsValid(feature_views_relid) ||
		relid == feature_views_relid || relid == online_tables_relid)
	{
		store_generation++;
		feature_views_relid = InvalidOid;
		online_tables_relid = InvalidOid;
	}
}

/*
 * The current generation of the caches: registers the callback on first
 * use, looks for invalidations once per statement (a long transaction
 * still sees materialize runs committed meanwhile), and learns the
 * catalogs' OIDs again after a reset.
 */
static uint64
store_check(void)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(store_inval, (Datum) 0);
		callback_registered = true;
	}
	if (now != checked_at)
	{
		AcceptInvalidationMessages();
		checked_at = now;
	}
	if (!OidIsValid(feature_views_relid))
	{
		Oid			nsp = get_namespace_oid(SCHEMA, true);

		if (OidIsValid(nsp))
		{
			feature_views_relid = get_relname_relid("feature_views", nsp);
			online_tables_relid = get_relname_relid("online_tables", nsp);
		}
	}
	return store_generation;
}

typedef struct OnlineEntry
{
	char		name[NAMEDATALEN];	/* key: feature view or project */
	uint64		generation;
	int64		model_id;		/* predict_online: the model planned for */
	int			nkeys;
	SPIPlanPtr	plan;

	/*
	 * online_features: the online table's primary key index, probed
	 * directly (no executor) when the caller may read the table and no row
	 * security applies; else the plan above.
	 */
	bool		direct;
	MemoryContext cxt;			/* what the direct lookup keeps */
	Oid			relid;
	Oid			indexid;
	FmgrInfo	key_in[INDEX_MAX_KEYS];	/* text -> key type */
	Oid			key_ioparam[INDEX_MAX_KEYS];
	RegProcedure key_eq[INDEX_MAX_KEYS];	/* the index's equality */
	FmgrInfo	to_jsonb;		/* to_jsonb(online row) */
} OnlineEntry;

static HTAB *online_cache = NULL;
static HTAB *predict_cache = NULL;

static OnlineEntry *
cache_entry(HTAB **htab, const char *name, const char *what)
{
	OnlineEntry *e;
	bool		found;
	char		key[NAMEDATALEN];

	if (*htab == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(OnlineEntry);
		*htab = hash_create(what, 16, &ctl, HASH_ELEM | HASH_STRINGS);
	}
	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"%s\" does not exist", what, name)));
	memset(key, 0, sizeof(key));
	strlcpy(key, name, NAMEDATALEN);
	e = hash_search(*htab, key, HASH_ENTER, &found);
	if (!found)
	{
		e->generation = 0;
		e->plan = NULL;
		e->model_id = 0;
		e->direct = false;
		e->cxt = NULL;
	}
	return e;
}

static void
entry_reset(OnlineEntry *e)
{
	if (e->plan)
		SPI_freeplan(e->plan);
	e->plan = NULL;
	e->generation = 0;
	e->direct = false;
	if (e->cxt)
		MemoryContextDelete(e->cxt);
	e->cxt = NULL;
}

/* The online table's name for a feature view, or an error saying why not. */
static char *
online_relation(const char *view, int64 *id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *relation;

	values[0] = CStringGetTextDatum(view);
	if (SPI_execute_with_args("SELECT fv.id, ot.relation FROM " SCHEMA ".feature_views fv "
							  "LEFT JOIN " SCHEMA ".online_tables ot "
							  "ON ot.feature_view_id OPERATOR(pg_catalog.=) fv.id "
							  "WHERE fv.name OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read aifactory.feature_views");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" does not exist", view),
				 errhint("See SELECT name FROM aifactory.feature_views.")));
	relation = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (relation == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("feature view \"%s\" has no online table", view),
				 errhint("Run SELECT * FROM aifactory.materialize('%s') first.", view)));
	if (id)
	{
		bool		isnull;

		*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	return relation;
}

/* Type of a key column of an online table (an error if it is gone). */
static Oid
online_key_type(const char *relation, const char *view, const char *key)
{
	Oid			relid;
	AttrNumber	attnum;

	relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(relation)),
							 NoLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("online table %s of feature view \"%s\" does not exist", relation, view),
				 errhint("Run SELECT * FROM aifactory.materialize('%s') to create it again.", view)));
	attnum = get_attnum(relid, key);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("online table %s has no key column \"%s\"", relation, key),
				 errhint("Run SELECT * FROM aifactory.materialize('%s', full => true).", view)));
	return get_atttype(relid, attnum);
}

/* The key values of a call: text[] elements, exactly nkeys, none NULL. */
static bool
call_keys(ArrayType *arr, int nkeys, const char *what, const char *name, Datum *values)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != nkeys)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" takes %d key value%s, got %d", what, name, nkeys,
						nkeys == 1 ? "" : "s", n),
				 errhint("Pass one value per entity key, in the order of entity_keys.")));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			return false;
		values[i] = elems[i];
	}
	return true;
}

/* ---- online_features ---- */

/*
 * Prepare the direct lookup of an online table: its primary key index must
 * cover exactly the entity keys, in order (materialize() creates it so).
 * Otherwise e->direct stays false and the prepared statement serves.
 */
static void
plan_direct_lookup(OnlineEntry *e, const char *relation, char **keys)
{
	Oid			relid;
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	Oid			pk = InvalidOid;
	MemoryContext old;

	relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(relation)),
							 AccessShareLock, true);
	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, NoLock);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);

		if (idx->rd_index->indisprimary && idx->rd_index->indnkeyatts == e->nkeys)
		{
			bool		match = true;

			for (int k = 0; k < e->nkeys; k++)
				if (idx->rd_index->indkey.values[k] != get_attnum(relid, keys[k]))
					match = false;
			if (match)
			{
				pk = RelationGetRelid(idx);
				e->cxt = AllocSetContextCreate(TopMemoryContext, "aifactory online lookup",
											   ALLOCSET_SMALL_SIZES);
				old = MemoryContextSwitchTo(e->cxt);
				for (int k = 0; k < e->nkeys; k++)
				{
					Oid			opcintype = idx->rd_opcintype[k];
					Oid			eqop = get_opfamily_member(idx->rd_opfamily[k], opcintype,
														   opcintype, BTEqualStrategyNumber);
					Oid			atttype = get_atttype(relid, idx->rd_index->indkey.values[k]);
					Oid			infunc;

					if (!OidIsValid(eqop) || atttype != opcintype)
					{
						match = false;
						break;
					}
					e->key_eq[k] = get_opcode(eqop);
					getTypeInputInfo(atttype, &infunc, &e->key_ioparam[k]);
					fmgr_info_cxt(infunc, &e->key_in[k], e->cxt);
				}
				if (match)
				{
					/* to_jsonb reads its argument's type from the call expression */
					FuncExpr   *call = makeFuncExpr(F_TO_JSONB, JSONBOID,
													list_make1(makeNullConst(rel->rd_rel->reltype, -1,
																			 InvalidOid)),
													InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);

					fmgr_info_cxt(F_TO_JSONB, &e->to_jsonb, e->cxt);
					fmgr_info_set_expr((Node *) call, &e->to_jsonb);
				}
				MemoryContextSwitchTo(old);
				if (!match)
					pk = InvalidOid;
			}
		}
		index_close(idx, AccessShareLock);
		if (OidIsValid(pk))
			break;
	}
	table_close(rel, NoLock);
	if (OidIsValid(pk))
	{
		e->relid = relid;
		e->indexid = pk;
		e->direct = true;
	}
}

/*
 * The online row of an entity through the primary key index: what the
 * prepared SELECT returns, without an executor per call.  NULL when the
 * entity has no row.
 */
static bool
lookup_direct(OnlineEntry *e, Datum *key_text, Datum *result, bool *isnull)
{
	Relation	heap = try_table_open(e->relid, AccessShareLock);
	Relation	idx;
	ScanKeyData sk[INDEX_MAX_KEYS];
	TupleTableSlot *slot;
	IndexScanDesc scan;

	/* dropped behind the catalogs' back: the statement will say so */
	if (heap == NULL)
		return false;
	idx = try_index_open(e->indexid, AccessShareLock);
	if (idx == NULL)
	{
		table_close(heap, AccessShareLock);
		return false;
	}
	slot = table_slot_create(heap, NULL);

	for (int k = 0; k < e->nkeys; k++)
	{
		Datum		v = InputFunctionCall(&e->key_in[k], TextDatumGetCString(key_text[k]),
										  e->key_ioparam[k], -1);

		ScanKeyInit(&sk[k], k + 1, BTEqualStrategyNumber, e->key_eq[k], v);
	}
	scan = index_beginscan(heap, idx, GetActiveSnapshot(), e->nkeys, 0);
	index_rescan(scan, sk, e->nkeys, NULL, 0);
	*isnull = true;
	*result = (Datum) 0;
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		should_free;
		HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
		Datum		row = heap_copy_tuple_as_datum(tuple, RelationGetDescr(heap));

		*result = FunctionCall1(&e->to_jsonb, row);
		*isnull = false;
		if (should_free)
			heap_freetuple(tuple);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(heap, AccessShareLock);
	return true;
}

static void
plan_online_features(OnlineEntry *e, const char *view)
{
	char	   *relation = online_relation(view, NULL);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	  **keys;
	StringInfoData sql;
	Oid		   *argtypes;
	bool		isnull;
	SPIPlanPtr	plan;

	values[0] = CStringGetTextDatum(view);
	if (SPI_execute_with_args("SELECT entity_keys FROM " SCHEMA ".feature_views "
							  "WHERE name OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read feature view \"%s\"", view);
	keys = FeatureTextArray(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
							&e->nkeys);
	argtypes = palloc(sizeof(Oid) * e->nkeys);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT pg_catalog.to_jsonb(o.*) FROM %s AS o WHERE ", relation);
	for (int k = 0; k < e->nkeys; k++)
	{
		Oid			t = online_key_type(relation, view, keys[k]);

		argtypes[k] = TEXTOID;
		appendStringInfo(&sql, "%so.%s %s $%d::%s", k > 0 ? " AND " : "",
						 quote_identifier(keys[k]), FeatureEqualityOperator(t, t), k + 1,
						 format_type_be_qualified(t));
	}
	plan = SPI_prepare(sql.data, e->nkeys, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the lookup of feature view \"%s\": %s", view,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	e->plan = plan;
	plan_direct_lookup(e, relation, keys);
}

/*
 * online_features(feature_view, VARIADIC keys text[]) -> jsonb: the online
 * row of an entity (keys, event time, created time, features), NULL when
 * the entity has none.  Key values are text, converted to the keys' types.
 */
Datum
aifactory_online_features(PG_FUNCTION_ARGS)
{
	char	   *view = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	OnlineEntry *e;
	uint64		gen = store_check();
	Datum		keys[INDEX_MAX_KEYS];
	Datum		result = (Datum) 0;
	bool		isnull = true;
	int			rc;

	e = cache_entry(&online_cache, view, "feature view");
	if (e->generation != gen || e->plan == NULL)
	{
		SPI_connect();
		entry_reset(e);
		plan_online_features(e, view);
		e->generation = gen;
		SPI_finish();
	}
	if (!call_keys(arr, e->nkeys, "feature view", view, keys))
		PG_RETURN_NULL();

	/*
	 * The direct probe when the caller may read the online table and no row
	 * security filters it; otherwise the statement, whose executor checks
	 * both (and raises the permission error).
	 */
	if (e->direct &&
		pg_class_aclcheck(e->relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK &&
		check_enable_rls(e->relid, InvalidOid, true) != RLS_ENABLED &&
		lookup_direct(e, keys, &result, &isnull))
	{
		if (isnull)
			PG_RETURN_NULL();
		PG_RETURN_DATUM(result);
	}

	SPI_connect();
	rc = SPI_execute_plan(e->plan, keys, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "online lookup of feature view \"%s\" failed: %s", view,
			 SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			result = SPI_datumTransfer(result, false, -1);
	}
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* ---- predict_online ---- */

/*
 * The statement predict_online runs for a model trained on a training set:
 * the design row is built from the online tables of its feature views,
 * with the training set's column names, and handed to predict(project,
 * version, row), so that the row is encoded exactly as predict() would.
 */
static void
plan_predict_online(OnlineEntry *e, const char *project, int64 model_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	char	   *version;
	char	  **keys;
	Oid		   *key_types;
	char	  **views;
	int			nviews;
	StringInfoData sel;
	StringInfoData from;
	Oid		   *argtypes;
	SPIPlanPtr	plan;
	int			ncols;
	char	  **col_names;
	char	  **col_views;
	char	  **col_features;
	char	  **event_times;
	char	  **ttls;

	values[0] = Int64GetDatum(model_id);
	if (SPI_execute_with_args("SELECT m.version::pg_catalog.text, "
							  "ARRAY(SELECT pg_catalog.jsonb_array_elements_text(m.lineage OPERATOR(pg_catalog.->) 'entity_keys')), "
							  "ARRAY(SELECT c OPERATOR(pg_catalog.->>) 'column' FROM pg_catalog.jsonb_array_elements(m.lineage OPERATOR(pg_catalog.->) 'columns') c), "
							  "ARRAY(SELECT c OPERATOR(pg_catalog.->>) 'feature_view' FROM pg_catalog.jsonb_array_elements(m.lineage OPERATOR(pg_catalog.->) 'columns') c), "
							  "ARRAY(SELECT c OPERATOR(pg_catalog.->>) 'feature' FROM pg_catalog.jsonb_array_elements(m.lineage OPERATOR(pg_catalog.->) 'columns') c), "
							  "ARRAY(SELECT v OPERATOR(pg_catalog.->>) 'name' FROM pg_catalog.jsonb_array_elements(m.lineage OPERATOR(pg_catalog.->) 'feature_views') v), "
							  "m.lineage IS NULL, "
							  "ARRAY(SELECT v OPERATOR(pg_catalog.->>) 'event_time' FROM pg_catalog.jsonb_array_elements(m.lineage OPERATOR(pg_catalog.->) 'feature_views') v), "
							  "ARRAY(SELECT COALESCE(v OPERATOR(pg_catalog.->>) 'ttl', '') FROM pg_catalog.jsonb_array_elements(m.lineage OPERATOR(pg_catalog.->) 'feature_views') v) "
							  "FROM " SCHEMA ".models m WHERE m.id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read model %lld", (long long) model_id);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the deployed model of project \"%s\" was not trained on a training set", project),
				 errhint("predict_online needs a model trained with train(project, '<training set>', ...); use predict() otherwise.")));
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int			n;

		version = SPI_getvalue(tup, desc, 1);
		keys = FeatureTextArray(SPI_getbinval(tup, desc, 2, &isnull), &e->nkeys);
		col_names = FeatureTextArray(SPI_getbinval(tup, desc, 3, &isnull), &ncols);
		col_views = FeatureTextArray(SPI_getbinval(tup, desc, 4, &isnull), &n);
		col_features = FeatureTextArray(SPI_getbinval(tup, desc, 5, &isnull), &n);
		views = FeatureTextArray(SPI_getbinval(tup, desc, 6, &isnull), &nviews);
		event_times = FeatureTextArray(SPI_getbinval(tup, desc, 8, &isnull), &n);
		ttls = FeatureTextArray(SPI_getbinval(tup, desc, 9, &isnull), &n);
	}

	if (e->nkeys > INDEX_MAX_KEYS)
		elog(ERROR, "too many entity keys in the lineage of model %lld", (long long) model_id);
	key_types = palloc0(sizeof(Oid) * Max(e->nkeys, 1));
	argtypes = palloc(sizeof(Oid) * Max(e->nkeys, 1));
	initStringInfo(&sel);
	initStringInfo(&from);
	appendStringInfoString(&from, " FROM (VALUES (1)) AS d(x)");
	for (int v = 0; v < nviews; v++)
	{
		char	   *relation = online_relation(views[v], NULL);
		Oid			ktypes[1] = {TEXTOID};
		Datum		kvalues[1];
		char	  **vkeys;
		int			nvkeys;

		kvalues[0] = CStringGetTextDatum(views[v]);
		if (SPI_execute_with_args("SELECT entity_keys FROM " SCHEMA ".feature_views "
								  "WHERE name OPERATOR(pg_catalog.=) $1",
								  1, ktypes, kvalues, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read feature view \"%s\"", views[v]);
		vkeys = FeatureTextArray(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
								 &nvkeys);
		appendStringInfo(&from, " LEFT JOIN %s AS o%d ON ", relation, v + 1);
		for (int j = 0; j < nvkeys; j++)
		{
			Oid			t = online_key_type(relation, views[v], vkeys[j]);
			int			k;

			for (k = 0; k < e->nkeys; k++)
				if (strcmp(keys[k], vkeys[j]) == 0)
					break;
			if (k == e->nkeys)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("feature view \"%s\" now has entity key \"%s\", which the model of project \"%s\" was not trained with",
								views[v], vkeys[j], project),
						 errhint("Train the project again on a training set of the current feature views.")));
			if (!OidIsValid(key_types[k]))
				key_types[k] = t;
			appendStringInfo(&from, "%so%d.%s %s $%d::%s", j > 0 ? " AND " : "", v + 1,
							 quote_identifier(vkeys[j]), FeatureEqualityOperator(t, t), k + 1,
							 format_type_be_qualified(t));
		}
		if (nvkeys == 0)
			appendStringInfoString(&from, "true");
		/* as in the training set at spine time now(): expired features are NULL */
		if (ttls[v][0] != '\0')
			appendStringInfo(&from, " AND o%d.%s OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) %s::pg_catalog.interval)",
							 v + 1, quote_identifier(event_times[v]), quote_literal_cstr(ttls[v]));
	}
	for (int k = 0; k < e->nkeys; k++)
	{
		argtypes[k] = TEXTOID;
		appendStringInfo(&sel, "%s$%d::%s AS %s", k > 0 ? ", " : "", k + 1,
						 format_type_be_qualified(key_types[k]), quote_identifier(keys[k]));
	}
	for (int c = 0; c < ncols; c++)
	{
		int			v;

		for (v = 0; v < nviews; v++)
			if (strcmp(views[v], col_views[c]) == 0)
				break;
		appendStringInfo(&sel, ", o%d.%s AS %s", v + 1, quote_identifier(col_features[c]),
						 quote_identifier(col_names[c]));
	}
	plan = SPI_prepare(psprintf("SELECT " SCHEMA ".predict(%s, %s, r) FROM (SELECT %s%s) AS r",
								quote_literal_cstr(project), version, sel.data, from.data),
					   e->nkeys, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the online prediction of project \"%s\": %s", project,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	e->plan = plan;
	e->model_id = model_id;
}

/*
 * predict_online(project, VARIADIC keys text[]) -> float8: predict() with
 * the project's deployed model on the online features of one entity.  The
 * keys are the entity keys of the model's training set, in order
 * (model_info(project)->'lineage'->'entity_keys').
 */
Datum
aifactory_predict_online(PG_FUNCTION_ARGS)
{
	char	   *project = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	OnlineEntry *e;
	uint64		gen = store_check();
	int64		model_id;
	Datum		keys[INDEX_MAX_KEYS];
	Datum		result = (Datum) 0;
	bool		isnull = true;
	int			rc;

	model_id = DeployedModelGet(project);
	SPI_connect();
	e = cache_entry(&predict_cache, project, "project");
	if (e->generation != gen || e->plan == NULL || e->model_id != model_id)
	{
		entry_reset(e);
		plan_predict_online(e, project, model_id);
		e->generation = gen;
	}
	if (!call_keys(arr, e->nkeys, "project", project, keys))
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	rc = SPI_execute_plan(e->plan, keys, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "online prediction for project \"%s\" failed: %s", project,
			 SPI_result_code_string(rc));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
