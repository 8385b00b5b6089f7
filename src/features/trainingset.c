/*-------------------------------------------------------------------------
 *
 * trainingset.c
 *	  Point-in-time training sets: create_training_set, drop_training_set,
 *	  and the lineage train() records when it trains on one.
 *
 * A training set joins to every row of a spine (entity keys, a time, and
 * usually the label) the latest row of each feature view as of that time,
 * so that no feature ever comes from the spine row's future.  It is written
 * as one LATERAL subquery per feature view:
 *
 *	  LEFT JOIN LATERAL (SELECT f.features FROM source f
 *						 WHERE f.key = s.key AND f.event_time <= s.spine_time
 *						   [AND f.event_time >= s.spine_time - ttl]
 *						 ORDER BY f.event_time DESC [, f.created_time DESC]
 *						 LIMIT 1) fvN ON true
 *
 * which an index on the source's (keys..., event_time[, created_time])
 * answers with one short backward index scan per spine row, instead of
 * sorting or windowing every event.
 *
 * Column names: the spine's columns first, as they are; then each feature
 * view's features in order, named as the feature, or "<view>__<feature>"
 * when that name is also a spine column or a feature of another view of
 * the set.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "core/source.h"
#include "executor/spi.h"
#include "features/features.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "registry/registry.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(aifactory_create_training_set);
PG_FUNCTION_INFO_V1(aifactory_drop_training_set);

#define SCHEMA "aifactory"

/* One output column of a training set. */
typedef struct OutColumn
{
	char	   *name;			/* as it appears in the training set */
	int			view;			/* index of its feature view, -1: spine */
	char	   *feature;		/* the feature (or spine column) */
} OutColumn;

static void
check_name(const char *name)
{
	if (name == NULL || name[0] == '\0' || strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid training set name \"%s\"", name ? name : ""),
				 errhint("A training set name has 1 to %d characters.", NAMEDATALEN - 1)));
}

/* The spine's column of that name (type, typmod), or an error. */
static void
spine_column(Relation spine, const char *name, const char *why, Oid *type)
{
	TupleDesc	desc = RelationGetDescr(spine);
	int			col = SourceColumn(desc, name);

	if (col < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("spine \"%s\" has no column \"%s\"%s",
						RelationGetRelationName(spine), name, why),
				 errhint("Its columns are: %s.", SourceColumnList(desc))));
	*type = TupleDescAttr(desc, col)->atttypid;
}

/* Is name taken by a spine column or a feature of a view other than self? */
static bool
name_taken(TupleDesc spine, FeatureView *views, int nviews, int self, const char *name)
{
	if (SourceColumn(spine, name) >= 0)
		return true;
	for (int v = 0; v < nviews; v++)
	{
		if (v == self)
			continue;
		for (int i = 0; i < views[v].nfeatures; i++)
			if (strcmp(views[v].features[i], name) == 0)
				return true;
	}
	return false;
}

/*
 * The point-in-time query (see the file header).  Fills the output
 * columns; spine columns come first, then the features.
 */
static char *
training_set_query(Relation spine, const char *spine_name, const char *spine_time,
				   FeatureView *views, int nviews, OutColumn **cols_out, int *ncols_out)
{
	TupleDesc	desc = RelationGetDescr(spine);
	StringInfoData sql;
	OutColumn  *cols;
	int			ncols = 0;
	int			total = desc->natts;

	for (int v = 0; v < nviews; v++)
		total += views[v].nfeatures;
	cols = palloc0(sizeof(OutColumn) * Max(total, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		cols[ncols].name = pstrdup(NameStr(att->attname));
		cols[ncols].view = -1;
		cols[ncols].feature = cols[ncols].name;
		ncols++;
	}
	for (int v = 0; v < nviews; v++)
		for (int i = 0; i < views[v].nfeatures; i++)
		{
			char	   *f = views[v].features[i];
			char	   *name = f;

			if (name_taken(desc, views, nviews, v, f))
			{
				name = psprintf("%s__%s", views[v].name, f);
				if (strlen(name) >= NAMEDATALEN)
					ereport(ERROR,
							(errcode(ERRCODE_NAME_TOO_LONG),
							 errmsg("column name \"%s\" for feature \"%s\" of feature view \"%s\" is too long",
									name, f, views[v].name),
							 errhint("Rename the feature or the feature view: the prefixed name must have fewer than %d characters.",
									 NAMEDATALEN)));
				for (int c = 0; c < ncols; c++)
					if (strcmp(cols[c].name, name) == 0)
						ereport(ERROR,
								(errcode(ERRCODE_DUPLICATE_COLUMN),
								 errmsg("training set column \"%s\" would appear twice", name),
								 errhint("Rename the spine column or the feature.")));
			}
			cols[ncols].name = name;
			cols[ncols].view = v;
			cols[ncols].feature = f;
			ncols++;
		}

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int c = 0; c < ncols; c++)
	{
		if (c > 0)
			appendStringInfoString(&sql, ", ");
		if (cols[c].view < 0)
			appendStringInfo(&sql, "s.%s", quote_identifier(cols[c].name));
		else
			appendStringInfo(&sql, "fv%d.%s AS %s", cols[c].view + 1,
							 quote_identifier(cols[c].feature), quote_identifier(cols[c].name));
	}
	appendStringInfo(&sql, "\nFROM %s AS s", spine_name);
	for (int v = 0; v < nviews; v++)
	{
		FeatureView *fv = &views[v];
		const char *et = quote_identifier(fv->event_time);
		const char *st = quote_identifier(spine_time);

		appendStringInfoString(&sql, "\nLEFT JOIN LATERAL (SELECT ");
		for (int i = 0; i < fv->nfeatures; i++)
			appendStringInfo(&sql, "%sf.%s", i > 0 ? ", " : "", quote_identifier(fv->features[i]));
		appendStringInfo(&sql, " FROM %s AS f WHERE ", fv->source);
		for (int k = 0; k < fv->nkeys; k++)
		{
			Oid			spine_type;
			char	   *op;

			spine_column(spine, fv->keys[k],
						 psprintf(", an entity key of feature view \"%s\"", fv->name), &spine_type);
			op = FeatureEqualityOperator(fv->key_types[k], spine_type);
			if (op == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("entity key \"%s\" is of type %s in the spine but %s in feature view \"%s\"",
								fv->keys[k], format_type_be(spine_type),
								format_type_be(fv->key_types[k]), fv->name),
						 errhint("Cast the spine's column in a view over the spine, or fix its type.")));
			appendStringInfo(&sql, "f.%s %s s.%s AND ", quote_identifier(fv->keys[k]), op,
							 quote_identifier(fv->keys[k]));
		}
		appendStringInfo(&sql, "f.%s OPERATOR(pg_catalog.<=) s.%s", et, st);
		if (fv->ttl)
			appendStringInfo(&sql, " AND f.%s OPERATOR(pg_catalog.>=) (s.%s OPERATOR(pg_catalog.-) %s::pg_catalog.interval)",
							 et, st, quote_literal_cstr(fv->ttl));
		appendStringInfo(&sql, " ORDER BY f.%s DESC", et);
		if (fv->created_time)
			appendStringInfo(&sql, ", f.%s DESC", quote_identifier(fv->created_time));
		appendStringInfo(&sql, " LIMIT 1) AS fv%d ON true", v + 1);
	}
	*cols_out = cols;
	*ncols_out = ncols;
	return sql.data;
}

/*
 * create_training_set(name, spine regclass, spine_time, feature_views
 * text[], label default null, materialized default false, schema default
 * null) -> regclass: a view (or table) named like the training set, in the
 * given schema or the caller's current one, owned by the caller.
 */
Datum
aifactory_create_training_set(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			spine_relid;
	char	   *spine_time;
	char	  **view_names;
	int			nviews;
	char	   *label = NULL;
	bool		materialized;
	char	   *schema;
	char	   *relation;
	char	   *spine_name;
	Relation	spine;
	Oid			type;
	FeatureView *views;
	OutColumn  *cols;
	int			ncols;
	char	   *query;
	Oid			relid;
	StringInfoData keys;
	StringInfoData colsjson;
	StringInfoData detail;
	Oid			types[11] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID,
	BOOLOID, JSONBOID, TEXTOID, OIDOID, JSONBOID};
	Datum		values[11];
	char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL",
							i == 0 ? "name" : i == 1 ? "spine" : i == 2 ? "spine_time" : "feature_views")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_name(name);
	spine_relid = PG_GETARG_OID(1);
	spine_time = text_to_cstring(PG_GETARG_TEXT_PP(2));
	view_names = FeatureTextArray(PG_GETARG_DATUM(3), &nviews);
	if (nviews == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a training set needs at least one feature view")));
	if (!PG_ARGISNULL(4))
		label = text_to_cstring(PG_GETARG_TEXT_PP(4));
	materialized = PG_ARGISNULL(5) ? false : PG_GETARG_BOOL(5);

	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT 1 FROM " SCHEMA ".training_sets WHERE name OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read aifactory.training_sets");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("training set \"%s\" already exists", name),
				 errhint("Drop it first with aifactory.drop_training_set('%s'), or choose another name.",
						 name)));

	/* where the view goes */
	schema = FeatureCreationSchema(PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6)));
	relation = psprintf("%s.%s", schema, quote_identifier(name));
	if (OidIsValid(RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(relation)),
									NoLock, true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation %s already exists", relation),
				 errhint("The training set's view is named like the training set: choose another name or schema.")));

	/* the spine */
	if (get_rel_relkind(spine_relid) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("spine relation with OID %u does not exist", spine_relid)));
	spine = relation_open(spine_relid, AccessShareLock);
	spine_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(spine)),
											RelationGetRelationName(spine));
	spine_column(spine, spine_time, ", the spine time", &type);
	if (!FeatureIsTimeType(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("spine time column \"%s\" is of type %s", spine_time, format_type_be(type)),
				 errhint("The spine time is a timestamp, timestamptz or date column.")));
	if (label)
		spine_column(spine, label, ", the label", &type);

	/* the feature views, each resolved against its source now */
	views = palloc0(sizeof(FeatureView) * nviews);
	initStringInfo(&keys);
	for (int v = 0; v < nviews; v++)
	{
		for (int w = 0; w < v; w++)
			if (strcmp(view_names[w], view_names[v]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature view \"%s\" is listed twice", view_names[v])));
		FeatureViewGet(view_names[v], &views[v]);
		for (int k = 0; k < views[v].nkeys; k++)
		{
			bool		seen = false;

			for (int w = 0; w < v && !seen; w++)
				for (int j = 0; j < views[w].nkeys; j++)
					if (strcmp(views[w].keys[j], views[v].keys[k]) == 0)
						seen = true;
			for (int j = 0; j < k && !seen; j++)
				if (strcmp(views[v].keys[j], views[v].keys[k]) == 0)
					seen = true;
			if (!seen)
			{
				if (keys.len > 0)
					appendStringInfoString(&keys, ", ");
				escape_json(&keys, views[v].keys[k]);
			}
		}
	}
	query = training_set_query(spine, spine_name, spine_time, views, nviews, &cols, &ncols);
	relation_close(spine, NoLock);

	/* the relation, the caller's own */
	if (SPI_execute(psprintf("CREATE %s %s AS\n%s", materialized ? "TABLE" : "VIEW", relation, query),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create training set relation %s", relation);
	relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(relation)),
							 NoLock, false);

	initStringInfo(&colsjson);
	appendStringInfoChar(&colsjson, '[');
	for (int c = 0; c < ncols; c++)
	{
		if (cols[c].view < 0)
			continue;
		if (colsjson.len > 1)
			appendStringInfoString(&colsjson, ", ");
		appendStringInfoString(&colsjson, "{\"column\": ");
		escape_json(&colsjson, cols[c].name);
		appendStringInfoString(&colsjson, ", \"feature_view\": ");
		escape_json(&colsjson, views[cols[c].view].name);
		appendStringInfoString(&colsjson, ", \"feature\": ");
		escape_json(&colsjson, cols[c].feature);
		appendStringInfoChar(&colsjson, '}');
	}
	appendStringInfoChar(&colsjson, ']');

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(relation);
	values[2] = CStringGetTextDatum(spine_name);
	values[3] = CStringGetTextDatum(spine_time);
	values[4] = PG_GETARG_DATUM(3);
	if (label)
		values[5] = CStringGetTextDatum(label);
	else
		nulls[5] = 'n';
	values[6] = BoolGetDatum(materialized);
	values[7] = JsonbPGetDatum(JsonbFromCString(colsjson.data));
	values[8] = CStringGetTextDatum(query);
	values[9] = ObjectIdGetDatum(GetUserId());
	values[10] = JsonbPGetDatum(JsonbFromCString(psprintf("[%s]", keys.data)));
	RegistryExecAsOwner("INSERT INTO " SCHEMA ".training_sets (name, relation, spine, spine_time, "
						"feature_views, label, materialized, columns, query, owner, entity_keys) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::pg_catalog.regrole, "
						"ARRAY(SELECT pg_catalog.jsonb_array_elements_text($11)))",
						11, types, values, nulls, SPI_OK_INSERT);

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"training_set\": ");
	escape_json(&detail, name);
	appendStringInfoString(&detail, ", \"relation\": ");
	escape_json(&detail, relation);
	appendStringInfoChar(&detail, '}');
	RegistryAudit("create_training_set", NULL, 0, detail.data);
	SPI_finish();
	PG_RETURN_OID(relid);
}

/* drop_training_set(name): its relation (if still there) and its row. */
Datum
aifactory_drop_training_set(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Oid			owner;
	char	   *relation;
	bool		materialized;
	StringInfoData detail;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("training set name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	RegistryExecAsOwner("SELECT owner::pg_catalog.oid, relation, materialized FROM " SCHEMA ".training_sets "
						"WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
						1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("training set \"%s\" does not exist", name),
				 errhint("See SELECT name FROM aifactory.training_sets.")));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	relation = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	materialized = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	FeatureCheckOwner("training set", name, owner, "drop");
	if (SPI_execute(psprintf("DROP %s IF EXISTS %s", materialized ? "TABLE" : "VIEW", relation),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not drop %s", relation);
	RegistryExecAsOwner("DELETE FROM " SCHEMA ".training_sets WHERE name OPERATOR(pg_catalog.=) $1",
						1, types, values, NULL, SPI_OK_DELETE);
	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"training_set\": ");
	escape_json(&detail, name);
	appendStringInfoChar(&detail, '}');
	RegistryAudit("drop_training_set", NULL, 0, detail.data);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---- train() on a training set ---- */

#define LINEAGE_SQL \
	"SELECT pg_catalog.jsonb_build_object(" \
	"'training_set', ts.name, 'relation', ts.relation, 'materialized', ts.materialized, " \
	"'spine', ts.spine, 'spine_time', ts.spine_time, 'label', ts.label, " \
	"'entity_keys', ts.entity_keys, 'columns', ts.columns, " \
	"'feature_views', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"  'name', fv.name, 'source', fv.source, 'entity_keys', fv.entity_keys, " \
	"  'event_time', fv.event_time, 'features', fv.features, 'ttl', fv.ttl, " \
	"  'created_time', fv.created_time) ORDER BY u.ord) " \
	"  FROM pg_catalog.unnest(ts.feature_views) WITH ORDINALITY AS u(n, ord) " \
	"  JOIN " SCHEMA ".feature_views fv ON fv.name OPERATOR(pg_catalog.=) u.n))::pg_catalog.text, " \
	"ARRAY(SELECT c OPERATOR(pg_catalog.->>) 'column' " \
	"      FROM pg_catalog.jsonb_array_elements(ts.columns) c), ts.relation " \
	"FROM " SCHEMA ".training_sets ts WHERE "

char *
TrainingSetSource(const char *source, Oid *relid, char **lineage, ArrayType **features)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *from = NULL;
	bool		isnull;
	char	   *relation;

	*lineage = NULL;
	*features = NULL;
	*relid = InvalidOid;
	if (source == NULL || source[0] == '\0')
		return SourceFromClause(source, relid);

	values[0] = CStringGetTextDatum(source);
	if (SPI_execute_with_args(LINEAGE_SQL "ts.name OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read aifactory.training_sets");
	if (SPI_processed == 0)
	{
		/* a relation: the training set's own, when named by its relation */
		from = SourceFromClause(source, relid);
		if (!OidIsValid(*relid))
			return from;
		values[0] = CStringGetTextDatum(from);
		if (SPI_execute_with_args(LINEAGE_SQL "ts.relation OPERATOR(pg_catalog.=) $1",
								  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read aifactory.training_sets");
		if (SPI_processed == 0)
			return from;
	}
	*lineage = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*features = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 2, &isnull));
	relation = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	*relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(relation)),
							  NoLock, true);
	if (!OidIsValid(*relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation %s of training set \"%s\" does not exist", relation, source),
				 errhint("Drop the training set with aifactory.drop_training_set() and create it again.")));
	return relation;
}
