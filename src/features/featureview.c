/*-------------------------------------------------------------------------
 *
 * featureview.c
 *	  Feature views: create_feature_view, drop_feature_view, feature_stats,
 *	  and reading the feature_views catalog.
 *
 * A feature view names the columns of a source table or view: the entity
 * keys, the event time, optionally a created (ingestion) time that breaks
 * ties between events at one instant, the features, and a time to live.
 * Every name is checked against the source, with its type, when the view
 * is created; every later use resolves the source again, so a source that
 * changed underneath is a clean error, not a wrong answer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "core/preprocess.h"
#include "core/source.h"
#include "executor/spi.h"
#include "features/features.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "parser/parse_oper.h"
#include "registry/registry.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(aifactory_create_feature_view);
PG_FUNCTION_INFO_V1(aifactory_drop_feature_view);
PG_FUNCTION_INFO_V1(aifactory_feature_stats);

#define SCHEMA "aifactory"

/* ---- helpers shared by the feature store ---- */

bool
FeatureIsTimeType(Oid typid)
{
	return typid == TIMESTAMPOID || typid == TIMESTAMPTZOID || typid == DATEOID;
}

/* The elements of a text[] datum; a NULL element is an error. */
char	  **
FeatureTextArray(Datum array, int *n)
{
	ArrayType  *arr = DatumGetArrayTypeP(array);
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("column lists must be one-dimensional arrays")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("column lists must not contain NULL")));
		out[i] = TextDatumGetCString(elems[i]);
	}
	return out;
}

/*
 * "OPERATOR(schema.=)" comparing a value of ltype with one of rtype with
 * no conversion but a binary-compatible one (so that a btree index on
 * either side serves it), or NULL when the two types do not compare so.
 */
char *
FeatureEqualityOperator(Oid ltype, Oid rtype)
{
	Operator	op;
	Form_pg_operator form;
	char	   *result = NULL;

	op = oper(NULL, list_make1(makeString("=")), ltype, rtype, true, -1);
	if (op == NULL)
		return NULL;
	form = (Form_pg_operator) GETSTRUCT(op);
	if (form->oprresult == BOOLOID && op_mergejoinable(form->oid, form->oprleft) &&
		IsBinaryCoercible(ltype, form->oprleft) && IsBinaryCoercible(rtype, form->oprright))
		result = psprintf("OPERATOR(%s.=)",
						  quote_identifier(get_namespace_name(form->oprnamespace)));
	ReleaseSysCache(op);
	return result;
}

/*
 * The schema generated objects go to: the one named, else the caller's
 * current schema (the first existing schema of search_path), as an
 * unqualified CREATE would choose.  Returns the quoted name.
 */
char *
FeatureCreationSchema(const char *schema)
{
	Oid			nsp;

	if (schema != NULL)
	{
		nsp = get_namespace_oid(schema, true);
		if (!OidIsValid(nsp))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_SCHEMA),
					 errmsg("schema \"%s\" does not exist", schema)));
		return pstrdup(quote_identifier(schema));
	}
	{
		List	   *path = fetch_search_path(false);

		nsp = path != NIL ? linitial_oid(path) : InvalidOid;
	}
	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("no schema has been selected to create in"),
				 errhint("Set search_path, or pass schema => '...'.")));
	return pstrdup(quote_identifier(get_namespace_name(nsp)));
}

/*
 * Only the owner of a feature view or training set (a member of the
 * owning role) or a superuser may change or drop it.
 */
void
FeatureCheckOwner(const char *kind, const char *name, Oid owner, const char *action)
{
	if (superuser() || has_privs_of_role(GetUserId(), owner))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s %s \"%s\"", action, kind, name),
			 errdetail("%s \"%s\" is owned by role \"%s\".", kind, name,
					   GetUserNameFromId(owner, false)),
			 errhint("Ask its owner to grant you membership in that role.")));
}

/* Attribute number, type and typmod of a column, or 0 when missing. */
static AttrNumber
column_type(Relation rel, const char *name, Oid *type, int32 *typmod)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i = SourceColumn(desc, name);
	Form_pg_attribute att;

	if (i < 0)
		return 0;
	att = TupleDescAttr(desc, i);
	*type = att->atttypid;
	*typmod = att->atttypmod;
	return att->attnum;
}

/* A named column of the source: it must exist and the caller read it. */
static void
source_column(Relation rel, const char *what, const char *name, Oid *type, int32 *typmod)
{
	AttrNumber	attnum = column_type(rel, name, type, typmod);

	if (attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s column \"%s\" does not exist in \"%s\"", what, name,
						RelationGetRelationName(rel)),
				 errhint("Its columns are: %s.", SourceColumnList(RelationGetDescr(rel)))));
	if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck(RelationGetRelid(rel), attnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for column \"%s\" of \"%s\"", name,
						RelationGetRelationName(rel)),
				 errhint("A feature view's source is read with its user's privileges.")));
}

/*
 * Open a source relation by OID (AccessShareLock until the end of the
 * transaction); only relations whose rows can be read qualify.
 */
static Relation
open_source(Oid relid, const char *what)
{
	Relation	rel;
	char		kind;

	kind = get_rel_relkind(relid);
	if (kind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s relation with OID %u does not exist", what, relid)));
	if (kind != RELKIND_RELATION && kind != RELKIND_VIEW && kind != RELKIND_MATVIEW &&
		kind != RELKIND_PARTITIONED_TABLE && kind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s \"%s\" is not a table or view", what, get_rel_name(relid))));
	rel = relation_open(relid, AccessShareLock);
	return rel;
}

static bool
contains(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/*
 * Resolve and check every named column of fv against its source (fv->relid
 * set): keys that compare by btree equality, a date or timestamp event time
 * and created time, features that exist and are none of those.  Fills the
 * types.  Used at creation and at every later use.
 */
static void
resolve_columns(FeatureView *fv)
{
	Relation	rel = open_source(fv->relid, "source");

	if (fv->nkeys > INDEX_MAX_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_COLUMNS),
				 errmsg("a feature view has at most %d entity keys", INDEX_MAX_KEYS)));
	fv->key_types = palloc(sizeof(Oid) * fv->nkeys);
	fv->key_typmods = palloc(sizeof(int32) * fv->nkeys);
	for (int i = 0; i < fv->nkeys; i++)
	{
		TypeCacheEntry *tc;

		if (contains(fv->keys, i, fv->keys[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("entity key \"%s\" is listed twice", fv->keys[i])));
		source_column(rel, "entity key", fv->keys[i], &fv->key_types[i], &fv->key_typmods[i]);
		tc = lookup_type_cache(fv->key_types[i], TYPECACHE_EQ_OPR | TYPECACHE_BTREE_OPFAMILY);
		if (!OidIsValid(tc->eq_opr) || !OidIsValid(tc->btree_opf))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("entity key \"%s\" is of type %s, which has no btree equality",
							fv->keys[i], format_type_be(fv->key_types[i])),
					 errhint("Entity keys are compared by equality and indexed: use an integer, text, uuid or similar column.")));
	}

	source_column(rel, "event time", fv->event_time, &fv->event_type, &fv->event_typmod);
	if (!FeatureIsTimeType(fv->event_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event time column \"%s\" is of type %s", fv->event_time,
						format_type_be(fv->event_type)),
				 errhint("The event time is a timestamp, timestamptz or date column.")));
	if (contains(fv->keys, fv->nkeys, fv->event_time))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" cannot be both an entity key and the event time",
						fv->event_time)));

	if (fv->created_time != NULL)
	{
		source_column(rel, "created time", fv->created_time, &fv->created_type,
					  &fv->created_typmod);
		if (!FeatureIsTimeType(fv->created_type))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("created time column \"%s\" is of type %s", fv->created_time,
							format_type_be(fv->created_type)),
					 errhint("The created time is a timestamp, timestamptz or date column.")));
		if (contains(fv->keys, fv->nkeys, fv->created_time) ||
			strcmp(fv->created_time, fv->event_time) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("created time column \"%s\" must differ from the entity keys and the event time",
							fv->created_time)));
	}

	/* no features given: every other column of the source */
	if (fv->features == NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);

		fv->features = palloc(sizeof(char *) * Max(desc->natts, 1));
		fv->nfeatures = 0;
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			char	   *name = NameStr(att->attname);

			if (att->attisdropped || contains(fv->keys, fv->nkeys, name) ||
				strcmp(name, fv->event_time) == 0 ||
				(fv->created_time && strcmp(name, fv->created_time) == 0))
				continue;
			fv->features[fv->nfeatures++] = pstrdup(name);
		}
	}
	if (fv->nfeatures == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature view \"%s\" has no features", fv->name),
				 errhint("Name at least one column besides the entity keys and times.")));
	fv->feature_types = palloc(sizeof(Oid) * fv->nfeatures);
	fv->feature_typmods = palloc(sizeof(int32) * fv->nfeatures);
	for (int i = 0; i < fv->nfeatures; i++)
	{
		const char *f = fv->features[i];

		if (contains(fv->features, i, f))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("feature \"%s\" is listed twice", f)));
		if (contains(fv->keys, fv->nkeys, f) || strcmp(f, fv->event_time) == 0 ||
			(fv->created_time && strcmp(f, fv->created_time) == 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" is an entity key or a time, not a feature", f),
					 errhint("Leave the keys and times out of features.")));
		source_column(rel, "feature", f, &fv->feature_types[i], &fv->feature_typmods[i]);
	}
	relation_close(rel, NoLock);
}

/* ---- the catalog ---- */

#define FV_COLUMNS "id, name, source, entity_keys, event_time, features, ttl::pg_catalog.text, " \
	"created_time, owner::pg_catalog.oid"

/*
 * Read a feature view and resolve its source and columns; false when no
 * feature view has that name.
 */
bool
FeatureViewFind(const char *name, FeatureView *fv)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	List	   *names;

	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT " FV_COLUMNS " FROM " SCHEMA ".feature_views "
							  "WHERE name OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read aifactory.feature_views");
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(fv, 0, sizeof(FeatureView));
	fv->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	fv->name = SPI_getvalue(tup, desc, 2);
	fv->source = SPI_getvalue(tup, desc, 3);
	fv->keys = FeatureTextArray(SPI_getbinval(tup, desc, 4, &isnull), &fv->nkeys);
	fv->event_time = SPI_getvalue(tup, desc, 5);
	fv->features = FeatureTextArray(SPI_getbinval(tup, desc, 6, &isnull), &fv->nfeatures);
	fv->ttl = SPI_getvalue(tup, desc, 7);
	fv->created_time = SPI_getvalue(tup, desc, 8);
	fv->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 9, &isnull));

	names = stringToQualifiedNameList(fv->source);
	fv->relid = RangeVarGetRelid(makeRangeVarFromNameList(names), AccessShareLock, true);
	if (!OidIsValid(fv->relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source %s of feature view \"%s\" does not exist", fv->source, fv->name),
				 errhint("Drop the feature view with aifactory.drop_feature_view('%s') and create it again.",
						 fv->name)));
	resolve_columns(fv);
	return true;
}

void
FeatureViewGet(const char *name, FeatureView *fv)
{
	if (!FeatureViewFind(name, fv))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" does not exist", name),
				 errhint("See SELECT name FROM aifactory.feature_views.")));
}

/* ---- create_feature_view ---- */

static Datum
text_array_datum(char **names, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(names[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * create_feature_view(name, source regclass, entity_keys text[], event_time
 * text, features text[] default null, ttl interval default null,
 * created_time text default null) returns the feature_views row.
 */
Datum
aifactory_create_feature_view(PG_FUNCTION_ARGS)
{
	FeatureView fv;
	Oid			types[8] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, TEXTARRAYOID,
	INTERVALOID, TEXTOID, OIDOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	HeapTupleHeader result;
	Relation	rel;
	StringInfoData detail;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL",
							i == 0 ? "name" : i == 1 ? "source" : i == 2 ? "entity_keys" : "event_time")));
	memset(&fv, 0, sizeof(fv));
	fv.name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (fv.name[0] == '\0' || strlen(fv.name) > FEATURE_VIEW_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid feature view name \"%s\"", fv.name),
				 errhint("A feature view name has 1 to %d characters.", FEATURE_VIEW_NAME_MAX)));
	fv.relid = PG_GETARG_OID(1);
	fv.keys = FeatureTextArray(PG_GETARG_DATUM(2), &fv.nkeys);
	if (fv.nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a feature view needs at least one entity key")));
	fv.event_time = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (!PG_ARGISNULL(4))
		fv.features = FeatureTextArray(PG_GETARG_DATUM(4), &fv.nfeatures);
	if (!PG_ARGISNULL(5))
	{
		Interval   *ttl = PG_GETARG_INTERVAL_P(5);
		Interval	zero;

		memset(&zero, 0, sizeof(zero));
		if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(ttl),
											  IntervalPGetDatum(&zero))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ttl must be positive"),
					 errhint("Pass NULL for features that never expire.")));
	}
	if (!PG_ARGISNULL(6))
		fv.created_time = text_to_cstring(PG_GETARG_TEXT_PP(6));

	rel = open_source(fv.relid, "source");
	fv.source = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										   RelationGetRelationName(rel));
	relation_close(rel, NoLock);
	resolve_columns(&fv);

	SPI_connect();
	values[0] = CStringGetTextDatum(fv.name);
	values[1] = CStringGetTextDatum(fv.source);
	values[2] = text_array_datum(fv.keys, fv.nkeys);
	values[3] = CStringGetTextDatum(fv.event_time);
	values[4] = text_array_datum(fv.features, fv.nfeatures);
	if (PG_ARGISNULL(5))
		nulls[5] = 'n';
	else
		values[5] = PG_GETARG_DATUM(5);
	if (fv.created_time)
		values[6] = CStringGetTextDatum(fv.created_time);
	else
		nulls[6] = 'n';
	values[7] = ObjectIdGetDatum(GetUserId());
	RegistryExecAsOwner("INSERT INTO " SCHEMA ".feature_views (name, source, entity_keys, "
						"event_time, features, ttl, created_time, owner) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.regrole) "
						"ON CONFLICT (name) DO NOTHING RETURNING *",
						8, types, values, nulls, SPI_OK_INSERT_RETURNING);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("feature view \"%s\" already exists", fv.name),
				 errhint("Drop it first with aifactory.drop_feature_view('%s'), or choose another name.",
						 fv.name)));
	result = SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"feature_view\": ");
	escape_json(&detail, fv.name);
	appendStringInfoString(&detail, ", \"source\": ");
	escape_json(&detail, fv.source);
	appendStringInfoChar(&detail, '}');
	RegistryAudit("create_feature_view", NULL, 0, detail.data);
	SPI_finish();
	PG_RETURN_HEAPTUPLEHEADER(result);
}

/* ---- drop_feature_view ---- */

Datum
aifactory_drop_feature_view(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Oid			owner;
	int64		id;
	StringInfoData detail;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature view name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	/* the row is locked: a concurrent materialize or drop waits */
	RegistryExecAsOwner("SELECT id, owner::pg_catalog.oid FROM " SCHEMA ".feature_views "
						"WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
						1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" does not exist", name),
				 errhint("See SELECT name FROM aifactory.feature_views.")));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	FeatureCheckOwner("feature view", name, owner, "drop");

	if (SPI_execute_with_args("SELECT name FROM " SCHEMA ".training_sets "
							  "WHERE feature_views OPERATOR(pg_catalog.@>) ARRAY[$1] ORDER BY name",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read aifactory.training_sets");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("feature view \"%s\" is used by training set \"%s\"", name,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errhint("Drop the training set first with aifactory.drop_training_set().")));

	/* the online table is the caller's object: dropped with their rights */
	values[0] = Int64GetDatum(id);
	types[0] = INT8OID;
	if (SPI_execute_with_args("SELECT relation FROM " SCHEMA ".online_tables "
							  "WHERE feature_view_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read aifactory.online_tables");
	if (SPI_processed > 0)
	{
		char	   *rel = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (SPI_execute(psprintf("DROP TABLE IF EXISTS %s", rel), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not drop online table %s", rel);
	}
	RegistryExecAsOwner("DELETE FROM " SCHEMA ".feature_views WHERE id OPERATOR(pg_catalog.=) $1",
						1, types, values, NULL, SPI_OK_DELETE);
	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"feature_view\": ");
	escape_json(&detail, name);
	appendStringInfoChar(&detail, '}');
	RegistryAudit("drop_feature_view", NULL, 0, detail.data);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---- feature_stats ---- */

#define STAT_QUANTILES "ARRAY[0.05, 0.25, 0.5, 0.75, 0.95]::pg_catalog.float8[]"

/*
 * feature_stats(feature_view) -> TABLE(feature, type, count, nulls, mean,
 * std, min, max, quantiles, distinct_count).  One scan of the source for
 * every feature at once; the numeric statistics only for numeric features
 * (and booleans, counted as 0/1).
 */
Datum
aifactory_feature_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FeatureView fv;
	StringInfoData sql;
	MemoryContext caller = CurrentMemoryContext;
	HeapTuple	tup;
	TupleDesc	desc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature view name must not be NULL")));
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	FeatureViewGet(text_to_cstring(PG_GETARG_TEXT_PP(0)), &fv);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT pg_catalog.count(*)");
	for (int i = 0; i < fv.nfeatures; i++)
	{
		const char *col = quote_identifier(fv.features[i]);
		Oid			t = fv.feature_types[i];
		bool		numeric = TypeIsNumericFeature(t) || t == BOOLOID;
		TypeCacheEntry *tc = lookup_type_cache(t, TYPECACHE_LT_OPR | TYPECACHE_EQ_OPR);
		char	   *x = numeric ? psprintf("f.%s::pg_catalog.int4::pg_catalog.float8", col) :
			NULL;

		if (t != BOOLOID && numeric)
			x = psprintf("f.%s::pg_catalog.float8", col);
		appendStringInfo(&sql, ", pg_catalog.count(f.%s)", col);
		if (numeric)
			appendStringInfo(&sql, ", pg_catalog.avg(%s), pg_catalog.stddev_samp(%s), "
							 "pg_catalog.min(%s), pg_catalog.max(%s), "
							 "pg_catalog.percentile_cont(" STAT_QUANTILES ") WITHIN GROUP (ORDER BY %s)",
							 x, x, x, x, x);
		else
			appendStringInfoString(&sql, ", NULL::pg_catalog.float8, NULL::pg_catalog.float8, "
								   "NULL::pg_catalog.float8, NULL::pg_catalog.float8, "
								   "NULL::pg_catalog.float8[]");
		if (OidIsValid(tc->lt_opr) && OidIsValid(tc->eq_opr))
			appendStringInfo(&sql, ", pg_catalog.count(DISTINCT f.%s)", col);
		else
			appendStringInfoString(&sql, ", NULL::pg_catalog.int8");
	}
	appendStringInfo(&sql, " FROM %s AS f", fv.source);
	if (SPI_execute(sql.data, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not compute the statistics of feature view \"%s\"", fv.name);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	for (int i = 0; i < fv.nfeatures; i++)
	{
		Datum		values[10];
		bool		nulls[10];
		int			base = 2 + i * 7;
		bool		isnull;
		int64		total = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		int64		count = DatumGetInt64(SPI_getbinval(tup, desc, base, &isnull));
		MemoryContext spi = MemoryContextSwitchTo(caller);

		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(fv.features[i]);
		values[1] = CStringGetTextDatum(format_type_be(fv.feature_types[i]));
		values[2] = Int64GetDatum(count);
		values[3] = Int64GetDatum(total - count);
		for (int k = 0; k < 6; k++)
		{
			values[4 + k] = SPI_getbinval(tup, desc, base + 1 + k, &nulls[4 + k]);
			if (!nulls[4 + k] && k == 4)
				values[4 + k] = PointerGetDatum(DatumGetArrayTypePCopy(values[4 + k]));
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return (Datum) 0;
}
