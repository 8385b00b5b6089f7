/*-------------------------------------------------------------------------
 *
 * source.h
 *	  Training sources: a table or view name, or a query.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_SOURCE_H
#define AIF_SOURCE_H

#include "postgres.h"

#include "access/tupdesc.h"

/*
 * SQL that can stand after FROM for the source (a quoted relation name or
 * a parenthesized query).  The relation or query is read later through SPI
 * with the caller's privileges.
 */
extern char *SourceFromClause(const char *source, Oid *relid);

/* The columns of a source (SPI must be connected). */
extern TupleDesc SourceDescribe(const char *from_clause, Oid relid);

/* Column number (0-based) of a name, or -1. */
extern int	SourceColumn(TupleDesc desc, const char *name);

/* "a, b, c" for hints. */
extern char *SourceColumnList(TupleDesc desc);

#endif							/* AIF_SOURCE_H */
