/*-------------------------------------------------------------------------
 *
 * bulk_load.c
 *		  A query's rows written into a table the way COPY FROM writes them.
 *
 * The query runs through SPI with a DestReceiver of ours: each row it
 * produces is converted to the table's row type (by position, with
 * assignment casts and the columns' defaults for the ones the query does
 * not give), checked against the table's constraints and kept in a buffer;
 * a full buffer goes to the table access method's multi_insert in one call,
 * with a BulkInsertState kept across calls, and then to the indexes.  Rows
 * stream: at most one buffer is held.
 *
 * What INSERT ... SELECT does and this does not: row-level security,
 * triggers and rules on INSERT (foreign keys are triggers), values for
 * GENERATED ALWAYS identity columns (OVERRIDING SYSTEM VALUE), partitioned
 * tables (pass the partition), views, foreign tables and ON CONFLICT.  The
 * first ones are refused with an error rather than bypassed; a unique
 * violation is an error, as in COPY.  The caller's INSERT privilege is
 * checked before the table is locked: a role that may not write a table
 * cannot hold a lock on it either.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "bulk_load.h"

PG_FUNCTION_INFO_V1(esi_bulk_insert);

/*
 * A buffer goes to the table when it holds this many rows or this many
 * bytes of row data, whichever comes first: enough to amortise the call and
 * keep the pages hot, small enough that wide rows do not pile up in memory
 * (the same orders of magnitude as COPY FROM).
 */
#define BULK_MAX_ROWS	1000
#define BULK_MAX_BYTES	65535

typedef struct BulkState
{
	DestReceiver pub;			/* must be first */

	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	ProjectionInfo *proj;		/* query row -> table row (proj_slot) */
	TupleTableSlot *proj_slot;
	TupleDesc	query_desc;		/* the row type the projection expects */
	BulkInsertState bistate;
	CommandId	cid;
	int			ti_options;
	int			max_rows;		/* 1 when a default must see earlier rows */
	bool		direct;			/* the query's rows are the table's: no projection */
	bool		has_constr;
	bool		has_generated;
	bool		is_partition;

	TupleTableSlot *slots[BULK_MAX_ROWS];	/* created on first use */
	int			nbuffered;
	Size		nbytes;
	uint64		nwritten;
	MemoryContext batch_cxt;	/* multi_insert and index insertion */
} BulkState;

/*
 * bulk_flush
 *		Writes the buffered rows: one multi_insert, then their index entries.
 */
static void
bulk_flush(BulkState *st)
{
	MemoryContext oldcxt;
	int			i;

	if (st->nbuffered == 0)
		return;
	oldcxt = MemoryContextSwitchTo(st->batch_cxt);
	table_multi_insert(st->rel, st->slots, st->nbuffered, st->cid,
					   st->ti_options, st->bistate);
	for (i = 0; i < st->nbuffered; i++)
	{
		if (st->rri->ri_NumIndices > 0)
		{
			List	   *recheck;

			/* no deferrable constraint here: they are triggers, refused */
			recheck = ExecInsertIndexTuples(st->rri, st->slots[i], st->estate,
											false, false, NULL, NIL);
			list_free(recheck);
			ResetPerTupleExprContext(st->estate);
		}
		ExecClearTuple(st->slots[i]);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(st->batch_cxt);
	st->nwritten += st->nbuffered;
	st->nbuffered = 0;
	st->nbytes = 0;
}

/*
 * bulk_startup
 *		The executor is about to send rows.  The command id is taken here,
 *		after SPI made the query's snapshot: rows written with it stay
 *		invisible to the query itself, as with INSERT ... SELECT (a query
 *		that reads the table it fills does not read its own output).
 */
static void
bulk_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	BulkState  *st = (BulkState *) self;
	int			i;

	/* the plan was checked before it ran; a replan may have changed it */
	if (typeinfo->natts != st->query_desc->natts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the query's columns changed while it was being prepared")));
	for (i = 0; i < typeinfo->natts; i++)
		if (TupleDescAttr(typeinfo, i)->atttypid != TupleDescAttr(st->query_desc, i)->atttypid)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the query's columns changed while it was being prepared")));
	st->cid = GetCurrentCommandId(true);
	st->estate->es_output_cid = st->cid;
}

/*
 * bulk_receive
 *		One row of the query: converted, checked and buffered.
 */
static bool
bulk_receive(TupleTableSlot *slot, DestReceiver *self)
{
	BulkState  *st = (BulkState *) self;
	ExprContext *econtext = GetPerTupleExprContext(st->estate);
	TupleTableSlot *row;
	TupleTableSlot *buf;

	if (st->direct)
		row = slot;
	else
	{
		econtext->ecxt_scantuple = slot;
		row = ExecProject(st->proj);
	}
	if (st->has_generated)
		ExecComputeStoredGenerated(st->rri, st->estate, row, CMD_INSERT);
	if (st->has_constr)
		ExecConstraints(st->rri, row, st->estate);
	if (st->is_partition)
		ExecPartitionCheck(st->rri, row, st->estate, true);

	buf = st->slots[st->nbuffered];
	if (buf == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(st->estate->es_query_cxt);

		buf = st->slots[st->nbuffered] = table_slot_create(st->rel, NULL);
		MemoryContextSwitchTo(oldcxt);
	}
	/* a copy that outlives the query's row and our per-row memory */
	ExecCopySlot(buf, row);
	ExecMaterializeSlot(buf);
	if (TTS_IS_BUFFERTUPLE(buf))
		st->nbytes += ((BufferHeapTupleTableSlot *) buf)->base.tuple->t_len;
	else
	{
		slot_getallattrs(buf);
		st->nbytes += heap_compute_data_size(buf->tts_tupleDescriptor,
											 buf->tts_values, buf->tts_isnull);
	}
	st->nbuffered++;
	ResetExprContext(econtext);

	if (st->nbuffered >= st->max_rows || st->nbytes >= BULK_MAX_BYTES)
		bulk_flush(st);
	return true;
}

/*
 * bulk_shutdown
 *		The query has sent its last row: write what is left, still inside
 *		its execution.
 */
static void
bulk_shutdown(DestReceiver *self)
{
	bulk_flush((BulkState *) self);
}

static void
bulk_destroy(DestReceiver *self)
{
}

/*
 * has_insert_triggers
 *		True when INSERT fires a trigger on rel (foreign keys included).
 */
static bool
has_insert_triggers(Relation rel)
{
	TriggerDesc *td = rel->trigdesc;

	return td != NULL &&
		(td->trig_insert_before_row || td->trig_insert_after_row ||
		 td->trig_insert_instead_row || td->trig_insert_before_statement ||
		 td->trig_insert_after_statement || td->trig_insert_new_table);
}

/*
 * has_insert_rules
 *		True when rel has a rule ON INSERT (DO ALSO, DO INSTEAD, with or
 *		without NOTHING): the rewriter would apply it to an INSERT.
 */
static bool
has_insert_rules(Relation rel)
{
	RuleLock   *rules = rel->rd_rules;
	int			i;

	if (rules == NULL)
		return false;
	for (i = 0; i < rules->numLocks; i++)
		if (rules->rules[i]->event == CMD_INSERT)
			return true;
	return false;
}

/*
 * check_target
 *		Refuses what this path does not do, so nothing is bypassed silently.
 */
static void
check_target(Relation rel)
{
	char		relkind = rel->rd_rel->relkind;

	if (relkind == RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot bulk insert into partitioned table \"%s\"",
						RelationGetRelationName(rel)),
				 errhint("Pass the partition the rows belong to.")));
	if (relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot bulk insert into \"%s\"", RelationGetRelationName(rel)),
				 errdetail("Only plain tables can be bulk loaded.")));
	if (RELATION_IS_OTHER_TEMP(rel))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot access temporary tables of other sessions")));
	if (has_insert_triggers(rel))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot bulk insert into table \"%s\": it has triggers on INSERT",
						RelationGetRelationName(rel)),
				 errdetail("Triggers, including those of foreign keys, are not fired by a bulk insert."),
				 errhint("Use INSERT ... SELECT.")));
	if (has_insert_rules(rel))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot bulk insert into table \"%s\": it has rules on INSERT",
						RelationGetRelationName(rel)),
				 errdetail("Rules are applied by the rewriter, which a bulk insert does not go through."),
				 errhint("Use INSERT ... SELECT.")));
}

/*
 * open_target
 *		Opens relid with INSERT's lock once the caller may insert into it
 *		(into the table or into one of its columns; the exact columns are
 *		checked later, as INSERT checks them).  Checking first means a role
 *		without the privilege never waits for, nor holds, a lock on the
 *		table; a table dropped between the check and the lock is reported
 *		as missing.
 */
static Relation
open_target(Oid relid)
{
	Relation	rel;

	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, GetUserId(), ACL_INSERT, ACLMASK_ANY) != ACLCHECK_OK)
	{
		char	   *name = get_rel_name(relid);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s",
						name ? name : psprintf("with OID %u", relid)),
				 errhint("Ask the table's owner for INSERT on it (GRANT INSERT ON ... TO ...).")));
	}
	rel = try_table_open(relid, RowExclusiveLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errhint("Give the table to fill by name, e.g. 'my_schema.my_table'::regclass.")));
	return rel;
}

/*
 * build_projection
 *		The target list turning a row of the query (desc) into a row of rel:
 *		the query's i-th column goes to rel's i-th column (dropped columns
 *		do not count), cast by assignment when its type differs; columns
 *		past the query's get their defaults.  Sets *inserted to the columns
 *		the query gives (what INSERT privilege is needed on) and reports
 *		whether a default is volatile, and whether the query's row already
 *		is the table's (identity: same columns, same types, none dropped).
 */
static List *
build_projection(Relation rel, TupleDesc desc, Bitmapset **inserted,
				 bool *volatile_default, bool *identity)
{
	TupleDesc	reldesc = RelationGetDescr(rel);
	List	   *tlist = NIL;
	int			next = 0;		/* the query's next column */
	int			live = 0;
	int			attno;

	for (attno = 1; attno <= reldesc->natts; attno++)
		if (!TupleDescAttr(reldesc, attno - 1)->attisdropped)
			live++;
	if (desc->natts > live)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the query returns more columns than table \"%s\" has",
						RelationGetRelationName(rel)),
				 errdetail("The query returns %d columns, the table has %d.", desc->natts, live)));

	*inserted = NULL;
	*volatile_default = false;
	*identity = desc->natts == reldesc->natts;
	for (attno = 1; attno <= reldesc->natts; attno++)
	{
		Form_pg_attribute att = TupleDescAttr(reldesc, attno - 1);
		Expr	   *expr;

		if (att->attisdropped)
		{
			expr = (Expr *) makeNullConst(INT4OID, -1, InvalidOid);
			*identity = false;
		}
		else if (next < desc->natts)
		{
			Form_pg_attribute src = TupleDescAttr(desc, next);

			next++;
			if (att->attgenerated)
				ereport(ERROR,
						(errcode(ERRCODE_GENERATED_ALWAYS),
						 errmsg("cannot insert a non-DEFAULT value into column \"%s\"",
								NameStr(att->attname)),
						 errdetail("Column \"%s\" is a generated column.", NameStr(att->attname)),
						 errhint("Return fewer columns from the query, or reorder the table's.")));
			if (att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
				ereport(ERROR,
						(errcode(ERRCODE_GENERATED_ALWAYS),
						 errmsg("cannot insert a non-DEFAULT value into column \"%s\"",
								NameStr(att->attname)),
						 errdetail("Column \"%s\" is an identity column defined as GENERATED ALWAYS.",
								   NameStr(att->attname)),
						 errhint("Return fewer columns from the query so the column gets its identity value, "
								 "or use INSERT ... OVERRIDING SYSTEM VALUE.")));
			expr = (Expr *) makeVar(1, next, src->atttypid, src->atttypmod,
									src->attcollation, 0);
			if (src->atttypid != att->atttypid ||
				(att->atttypmod >= 0 && src->atttypmod != att->atttypmod))
			{
				Node	   *cast;

				cast = coerce_to_target_type(NULL, (Node *) expr, src->atttypid,
											 att->atttypid, att->atttypmod,
											 COERCION_ASSIGNMENT,
											 COERCE_IMPLICIT_CAST, -1);
				if (cast == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("column \"%s\" is of type %s but the query's column %d is of type %s",
									NameStr(att->attname),
									format_type_be(att->atttypid), next,
									format_type_be(src->atttypid)),
							 errhint("Cast the query's column.")));
				expr = expression_planner((Expr *) cast);
				*identity = false;
			}
			*inserted = bms_add_member(*inserted,
									   attno - FirstLowInvalidHeapAttributeNumber);
		}
		else
		{
			Node	   *def = att->attgenerated ? NULL : build_column_default(rel, attno);

			if (def == NULL)
				expr = (Expr *) makeNullConst(att->atttypid, att->atttypmod,
											  att->attcollation);
			else
			{
				expr = expression_planner((Expr *) def);
				if (contain_volatile_functions_not_nextval((Node *) expr))
					*volatile_default = true;
			}
		}
		tlist = lappend(tlist, makeTargetEntry(expr, attno, NULL, false));
	}
	return tlist;
}

/*
 * esi_bulk_insert_query
 *		See bulk_load.h.
 */
uint64
esi_bulk_insert_query(Oid relid, const char *query)
{
	Relation	rel;
	SPIPlanPtr	plan;
	List	   *sources;
	TupleDesc	desc;
	List	   *tlist;
	Bitmapset  *inserted;
	bool		volatile_default;
	bool		identity;
	RangeTblEntry *rte;
	EState	   *estate;
	ResultRelInfo *rri;
	BulkState  *st;
	SPIExecuteOptions opts;
	int			rc;
	int			i;
	uint64		nwritten;

	/* INSERT's lock, taken once the caller may insert (as COPY does) */
	rel = open_target(relid);
	check_target(rel);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	/* no parallel plan: rows are written while the query runs */
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	if (!SPI_is_cursor_plan(plan) || list_length(sources) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query of a bulk insert must be one statement that returns rows"),
				 errhint("Give a SELECT.")));
	desc = ((CachedPlanSource *) linitial(sources))->resultDesc;

	tlist = build_projection(rel, desc, &inserted, &volatile_default, &identity);

	/* the caller's INSERT privilege on the columns given, as INSERT checks it */
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	rte->insertedCols = inserted;
	ExecCheckRTPerms(list_make1(rte), true);
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot bulk insert into table \"%s\": row-level security applies",
						RelationGetRelationName(rel)),
				 errhint("Use INSERT ... SELECT.")));

	/* the executor state of the writes, as for an INSERT of rel alone */
	estate = CreateExecutorState();
	ExecInitRangeTable(estate, list_make1(rte));
	rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, rri, 1);
	CheckValidResultRel(rri, CMD_INSERT);
	ExecOpenIndices(rri, false);

	st = palloc0(sizeof(BulkState));
	st->pub.receiveSlot = bulk_receive;
	st->pub.rStartup = bulk_startup;
	st->pub.rShutdown = bulk_shutdown;
	st->pub.rDestroy = bulk_destroy;
	st->pub.mydest = DestNone;
	st->rel = rel;
	st->estate = estate;
	st->rri = rri;
	st->query_desc = desc;
	st->proj_slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
	st->proj = ExecBuildProjectionInfo(tlist, GetPerTupleExprContext(estate),
									   st->proj_slot, NULL, desc);
	/* same columns, same types: the query's rows are stored as they come */
	st->direct = identity;
	st->bistate = GetBulkInsertState();
	/* a table created or truncated in this transaction has no free space to look for */
	if (rel->rd_createSubid != InvalidSubTransactionId ||
		rel->rd_firstRelfilenodeSubid != InvalidSubTransactionId)
		st->ti_options |= TABLE_INSERT_SKIP_FSM;
	/* a volatile default may read the table: it must see every earlier row */
	st->max_rows = volatile_default ? 1 : BULK_MAX_ROWS;
	st->has_constr = RelationGetDescr(rel)->constr != NULL;
	st->has_generated = st->has_constr && RelationGetDescr(rel)->constr->has_generated_stored;
	st->is_partition = rel->rd_rel->relispartition;
	st->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "esi_fdw bulk insert batch",
										  ALLOCSET_DEFAULT_SIZES);

	memset(&opts, 0, sizeof(opts));
	opts.read_only = false;
	opts.dest = (DestReceiver *) st;
	rc = SPI_execute_plan_extended(plan, &opts);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(rc));
	Assert(st->nbuffered == 0);
	nwritten = st->nwritten;

	FreeBulkInsertState(st->bistate);
	table_finish_bulk_insert(rel, st->ti_options);
	for (i = 0; i < BULK_MAX_ROWS && st->slots[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(st->slots[i]);
	MemoryContextDelete(st->batch_cxt);
	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);

	SPI_freeplan(plan);
	SPI_finish();
	/* the lock stays until the end of the transaction, as INSERT's does */
	table_close(rel, NoLock);
	return nwritten;
}

/*
 * esi_bulk_insert
 *		SQL: esi._bulk_insert(dest regclass, query text) RETURNS bigint.
 *		An OID that names no relation is refused with a clean error.
 */
Datum
esi_bulk_insert(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(1));

	/* a regclass given as a number may name no relation (not an internal error) */
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errhint("Give the table to fill by name, e.g. 'my_schema.my_table'::regclass.")));
	PG_RETURN_INT64((int64) esi_bulk_insert_query(relid, query));
}
