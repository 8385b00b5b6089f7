/*-------------------------------------------------------------------------
 *
 * tableload.c
 *	  A load read straight from a table's heap, when the source is no more
 *	  than a scan of one table's columns.
 *
 * A load (PASS_LOAD) reads every row of the source in one backend.  Through
 * the executor each row costs a tuple deformation, the evaluation of the
 * aggregate's arguments and a call of its transition function; when the
 * planner turns the load's query into a bare sequential scan -- no filter,
 * no join, no expression, one plain heap table: what training on a table,
 * a training set or a SELECT of some of its columns comes to -- the same
 * rows can be read from the heap directly, in the same order, under the
 * same snapshot, with the permissions checked as the executor checks them.
 * The scan is the executor's heap scan (page at a time: heapgetpage pins a
 * page and lists its visible tuples, as heapgettup_pagemode has it do)
 * without the per-tuple slot store.  Tuples without NULLs whose wanted
 * columns sit at fixed offsets (fixed-width columns before them) are read
 * at those offsets -- float8 features handed over as an array, straight
 * from the tuple when they lie side by side in the model's order; any
 * other tuple is deformed as usual.  Each row goes to the same row intake
 * as the aggregate's (PassAddRow, PassAddFloat8Row), so the state, and the
 * model, are those the aggregate would have made.
 *
 * Anything else -- a view that filters, row-level security, an inheritance
 * tree or partitions, another table access method, a tablesample -- makes
 * a plan that is not a bare scan, and the load runs through the executor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "tcop/tcopprot.h"
#include "train/pass.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/*
 * What the plan of the load's query reads: one table, and which of its
 * columns (or a constant: the target of the unsupervised tasks).
 */
typedef struct TableSource
{
	Oid			relid;
	int			ncols;			/* the query's columns: target, features */
	AttrNumber *attnums;		/* the table column of each, or 0 ... */
	Const	  **consts;			/* ... for a constant */
	List	   *rtable;			/* for the permission check */
} TableSource;

/*
 * Plan sql as the executor would (serially) and say whether the plan is a
 * bare sequential scan of a heap table or materialized view whose output
 * columns are plain columns of it or constants.
 */
static bool
table_source(const char *sql, TableSource *src)
{
	List	   *raw = pg_parse_query(sql);
	List	   *queries;
	Query	   *query;
	PlannedStmt *stmt;
	Plan	   *plan;
	Index		scanrelid;
	RangeTblEntry *rte;
	ListCell   *lc;
	int			i;

	if (list_length(raw) != 1)
		return false;
	queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw), sql,
												 NULL, 0, NULL);
	if (list_length(queries) != 1)
		return false;
	query = linitial_node(Query, queries);
	if (query->commandType != CMD_SELECT || query->utilityStmt != NULL)
		return false;
	stmt = pg_plan_query(query, sql, 0, NULL);	/* no parallel plan */

	plan = stmt->planTree;
	if (plan == NULL || !IsA(plan, SeqScan) || plan->qual != NIL ||
		plan->initPlan != NIL || stmt->subplans != NIL ||
		stmt->rowMarks != NIL || stmt->hasModifyingCTE)
		return false;
	scanrelid = ((Scan *) plan)->scanrelid;
	rte = rt_fetch(scanrelid, stmt->rtable);
	if (rte->rtekind != RTE_RELATION || rte->tablesample != NULL ||
		(rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_MATVIEW))
		return false;

	src->relid = rte->relid;
	src->ncols = 0;
	src->attnums = palloc0(sizeof(AttrNumber) * Max(list_length(plan->targetlist), 1));
	src->consts = palloc0(sizeof(Const *) * Max(list_length(plan->targetlist), 1));
	i = 0;
	foreach(lc, plan->targetlist)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);
		Var		   *var = (Var *) te->expr;

		if (te->resjunk)
			continue;
		if (IsA(te->expr, Const))
			src->consts[i] = (Const *) te->expr;
		else if (IsA(var, Var) && var->varno == scanrelid && var->varattno > 0 &&
				 var->varlevelsup == 0)
			src->attnums[i] = var->varattno;
		else
			return false;
		i++;
	}
	src->ncols = i;
	src->rtable = stmt->rtable;
	return src->ncols > 0;
}

/*
 * Where each wanted column of a tuple without NULLs starts, past t_hoff:
 * known when every column before it is fixed-width (-1 otherwise).
 */
static void
fixed_offsets(TupleDesc desc, const TableSource *src, int *offset)
{
	int			maxatt = 0;
	int		   *at;
	int			off = 0;

	for (int i = 0; i < src->ncols; i++)
		maxatt = Max(maxatt, src->attnums[i]);
	at = palloc(sizeof(int) * Max(maxatt, 1));
	for (int a = 0; a < maxatt; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (off < 0 || att->attlen <= 0)
		{
			/* a varlena or cstring: no fixed offset from here on */
			at[a] = -1;
			off = -1;
			continue;
		}
		off = att_align_nominal(off, att->attalign);
		at[a] = off;
		off += att->attlen;
	}
	for (int i = 0; i < src->ncols; i++)
		offset[i] = src->attnums[i] > 0 ? at[src->attnums[i] - 1] : 0;
	pfree(at);
}

bool
PassLoadFromTable(const char *sql, bytea *plan, MemoryContext cxt, PassState **result)
{
	TableSource src;
	Relation	rel;
	TupleDesc	desc;
	TableScanDesc scan;
	HeapScanDesc hscan;
	TupleTableSlot *slot;
	MemoryContext work;
	MemoryContext rowcxt;
	MemoryContext old;
	PassState  *st = NULL;
	Oid		   *types;
	NullableDatum *in;
	int		   *offset;
	bool	   *byval;
	int16	   *len;
	bool		all_fixed = true;
	bool		float8_rows;
	bool		adjacent;
	double	   *xbuf;
	int			maxatt = 0;
	uint64		nrows = 0;

	*result = NULL;
#if PG_VERSION_NUM >= 160000
	/* the permission check below is PostgreSQL 15's */
	return false;
#endif
	if (!table_source(sql, &src))
		return false;
	rel = table_open(src.relid, AccessShareLock);
	if (rel->rd_tableam != GetHeapamTableAmRoutine())
	{
		table_close(rel, AccessShareLock);
		return false;
	}

	/* what the executor checks before it runs the plan */
	(void) ExecCheckRTPerms(src.rtable, true);

	work = AllocSetContextCreate(CurrentMemoryContext, "aifactory table load",
								 ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(work, "aifactory table load row",
								   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(work);
	desc = RelationGetDescr(rel);
	types = palloc(sizeof(Oid) * src.ncols);
	in = palloc(sizeof(NullableDatum) * src.ncols);
	offset = palloc(sizeof(int) * src.ncols);
	byval = palloc(sizeof(bool) * src.ncols);
	len = palloc(sizeof(int16) * src.ncols);
	fixed_offsets(desc, &src, offset);
	for (int i = 0; i < src.ncols; i++)
	{
		Form_pg_attribute att;

		if (src.consts[i] != NULL)
		{
			/* the same in every row */
			types[i] = src.consts[i]->consttype;
			in[i].value = src.consts[i]->constvalue;
			in[i].isnull = src.consts[i]->constisnull;
			continue;
		}
		att = TupleDescAttr(desc, src.attnums[i] - 1);
		types[i] = att->atttypid;
		byval[i] = att->attbyval;
		len[i] = att->attlen;
		all_fixed &= offset[i] >= 0;
		maxatt = Max(maxatt, src.attnums[i]);
	}
	MemoryContextSwitchTo(old);

	/*
	 * Features all float8 at fixed offsets: a tuple's go to the state as
	 * float8 values, from the tuple itself when they lie side by side in
	 * the state's order (if the state takes float8 rows: see the first row).
	 */
	float8_rows = all_fixed && src.ncols > 1;
	adjacent = true;
	for (int i = 1; i < src.ncols; i++)
	{
		float8_rows &= src.attnums[i] > 0 && types[i] == FLOAT8OID;
		adjacent &= i == 1 || offset[i] == offset[i - 1] + (int) sizeof(double);
	}
	xbuf = MemoryContextAlloc(work, sizeof(double) * Max(src.ncols, 1));

	/* the executor's scan: page at a time, same order (no synchronized start) */
	scan = table_beginscan_strat(rel, GetActiveSnapshot(), 0, NULL, true, false);
	hscan = (HeapScanDesc) scan;
	if (!(scan->rs_flags & SO_ALLOW_PAGEMODE))
	{
		/* not an MVCC snapshot: no list of visible tuples per page */
		table_endscan(scan);
		table_close(rel, AccessShareLock);
		MemoryContextDelete(work);
		return false;
	}
	slot = table_slot_create(rel, NULL);
	for (BlockNumber blk = 0; blk < hscan->rs_nblocks; blk++)
	{
		Page		page;

		/* the page's visible tuples, its buffer pinned (interrupts served) */
		heapgetpage(scan, blk);
		page = BufferGetPage(hscan->rs_cbuf);
		for (int k = 0; k < hscan->rs_ntuples; k++)
		{
			OffsetNumber off = hscan->rs_vistuples[k];
			ItemId		lp = PageGetItemId(page, off);
			HeapTupleHeader th = (HeapTupleHeader) PageGetItem(page, lp);

			pgstat_count_heap_getnext(rel);
			if (st == NULL)
			{
				st = PassStateForRows(plan, types, src.ncols, work);
				float8_rows &= PassTakesFloat8Rows(st);
			}
			if (all_fixed && (th->t_infomask & HEAP_HASNULL) == 0 &&
				HeapTupleHeaderGetNatts(th) >= maxatt)
			{
				const char *tp = (const char *) th + th->t_hoff;

				if (float8_rows)
				{
					/* the features as they lie in the tuple, or gathered */
					const double *x = (const double *) (tp + offset[1]);

					if (src.attnums[0] != 0)
						in[0].value = fetch_att(tp + offset[0], byval[0], len[0]);
					in[0].isnull = false;
					if (!adjacent)
					{
						for (int i = 1; i < src.ncols; i++)
							memcpy(&xbuf[i - 1], tp + offset[i], sizeof(double));
						x = xbuf;
					}
					old = MemoryContextSwitchTo(rowcxt);
					PassAddFloat8Row(st, in, x);
					MemoryContextSwitchTo(old);
					MemoryContextReset(rowcxt);
					nrows++;
					continue;
				}
				for (int i = 0; i < src.ncols; i++)
				{
					if (src.attnums[i] == 0)
						continue;
					in[i].value = fetch_att(tp + offset[i], byval[i], len[i]);
					in[i].isnull = false;
				}
			}
			else
			{
				HeapTupleData tuple;

				tuple.t_data = th;
				tuple.t_len = ItemIdGetLength(lp);
				tuple.t_tableOid = RelationGetRelid(rel);
				ItemPointerSet(&tuple.t_self, blk, off);
				ExecStoreBufferHeapTuple(&tuple, slot, hscan->rs_cbuf);
				slot_getsomeattrs(slot, maxatt);
				for (int i = 0; i < src.ncols; i++)
				{
					if (src.attnums[i] == 0)
						continue;
					in[i].value = slot->tts_values[src.attnums[i] - 1];
					in[i].isnull = slot->tts_isnull[src.attnums[i] - 1];
				}
			}
			old = MemoryContextSwitchTo(rowcxt);
			PassAddRow(st, in);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			nrows++;
		}
		/* the slot may hold a pin on this page's buffer: drop it */
		ExecClearTuple(slot);
	}
	elog(DEBUG1, "load read %llu rows of \"%s\" from its heap",
		 (unsigned long long) nrows, RelationGetRelationName(rel));
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	table_close(rel, NoLock);

	/* the state's data outlives the load; its working memory does not */
	if (st != NULL)
		PassStateDetach(st, cxt);
	MemoryContextDelete(work);
	*result = st;
	return true;
}
