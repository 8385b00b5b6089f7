/*-------------------------------------------------------------------------
 *
 * source.c
 *	  Training sources: a table or view name, or a query.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "utils/rel.h"
#include "catalog/namespace.h"
#include "core/source.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

/* Does the text start with a keyword that begins a query? */
static bool
looks_like_query(const char *s)
{
	static const char *const keywords[] = {"select", "with", "values", "table", "("};

	while (isspace((unsigned char) *s))
		s++;
	for (int i = 0; i < lengthof(keywords); i++)
	{
		size_t		n = strlen(keywords[i]);

		if (pg_strncasecmp(s, keywords[i], n) == 0 &&
			(keywords[i][0] == '(' || s[n] == '\0' ||
			 isspace((unsigned char) s[n]) || s[n] == '('))
			return true;
	}
	return false;
}

char *
SourceFromClause(const char *source, Oid *relid_out)
{
	if (source == NULL || source[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must not be empty"),
				 errhint("Give a table or view name, or a SELECT query.")));

	if (relid_out)
		*relid_out = InvalidOid;
	if (looks_like_query(source))
	{
		char	   *q = pstrdup(source);
		int			n = strlen(q);

		/* a trailing semicolon would end the subquery early */
		while (n > 0 && (isspace((unsigned char) q[n - 1]) || q[n - 1] == ';'))
			q[--n] = '\0';
		return psprintf("(%s)", q);
	}
	else
	{
		List	   *names;
		RangeVar   *rv;
		Oid			relid;
		List	   *parts;

		/* neither a query nor a (qualified) name: say what a source is */
		if (!SplitIdentifierString(pstrdup(source), '.', &parts) ||
			list_length(parts) < 1 || list_length(parts) > 3)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("source \"%s\" is neither a table or view name nor a query", source),
					 errhint("Give a table or view name (optionally schema-qualified), or a query starting with SELECT, WITH, VALUES or TABLE.")));
		names = stringToQualifiedNameList(source);
		rv = makeRangeVarFromNameList(names);
		relid = RangeVarGetRelid(rv, NoLock, true);
		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s\" does not exist", source),
					 errhint("The source is a table or view name (optionally schema-qualified) or a SELECT query.")));
		if (relid_out)
			*relid_out = relid;
		return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										  get_rel_name(relid));
	}
}

/*
 * The columns of a source.  A relation is described from the catalog, so
 * that a caller with SELECT on only some of its columns can still train
 * on those; a query is described by planning it.
 */
TupleDesc
SourceDescribe(const char *from_clause, Oid relid)
{
	char	   *sql;
	int			rc;

	if (OidIsValid(relid))
	{
		Relation	rel = relation_open(relid, AccessShareLock);
		TupleDesc	desc = CreateTupleDescCopy(RelationGetDescr(rel));

		relation_close(rel, NoLock);
		return desc;
	}
	sql = psprintf("SELECT * FROM %s AS aif_source LIMIT 0", from_clause);
	rc = SPI_execute(sql, true, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not describe the source: SPI error %d", rc);
	return SPI_tuptable->tupdesc;
}

int
SourceColumn(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	return -1;
}

char *
SourceColumnList(TupleDesc desc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, NameStr(att->attname));
	}
	return buf.data;
}
