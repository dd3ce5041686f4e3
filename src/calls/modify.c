/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  Writable foreign tables: a character's contacts and fittings.
 *
 * The tables of GET /characters/{character_id}/contacts and .../fittings
 * take INSERT, UPDATE and DELETE, sent as ESI's writes through call.c
 * (esi_call_write: the character's token and write scope, sent once, a
 * lost reply reported as "may have happened"):
 *
 *	contacts	INSERT	POST   /characters/{id}/contacts?standing=&label_ids=&watched= [ids]
 *				UPDATE	PUT    (the same)
 *				DELETE	DELETE /characters/{id}/contacts?contact_ids=
 *	fittings	INSERT	POST   /characters/{id}/fittings {...} -> fitting_id
 *				DELETE	DELETE /characters/{id}/fittings/{fitting_id}
 *
 * ESI's contact routes take lists.  Rows are gathered into requests per
 * character and settings (standing, label_ids, is_watched) of at most ESI's
 * maximum (100 ids, 20 for a DELETE).  A DELETE's request is sent as soon
 * as it is full; an INSERT's or UPDATE's are all sent at the end of the
 * statement, so that a contact given two different settings is refused
 * before anything is sent.  A statement that fails sends nothing it still
 * holds, and every error says how many rows earlier requests already wrote.
 * A row is returned (RETURNING, the row count) when it is gathered: its
 * values are all known then, and an error at the end still fails the whole
 * statement.  A table with row triggers is written row by row, so that
 * AFTER triggers never see a row ESI has not taken yet.  Fittings go one
 * request per row, as ESI takes them, and INSERT returns ESI's fitting_id.
 * ESI's replies (the contact ids it added, the fitting_id) are read with
 * the scan's decoder (decode.c); one that cannot be read fails as a
 * function's write does, with the CONTEXT that the write happened.
 *
 * Each key (a character's contact or fitting) is written once a statement,
 * however many rows of a join name it.  A row that repeats a key with the
 * same settings (a DELETE's always do) is skipped, and not counted, as
 * PostgreSQL skips a local table's row already changed by the statement;
 * one that gives it other settings is refused (SQLSTATE 21000, as MERGE
 * refuses), where PostgreSQL would keep one of the two, which one depending
 * on the plan.
 *
 * UPDATE and DELETE find their rows by a scan of the table (esi_fdw.c),
 * which carries the character and the contact or fitting id of each row as
 * row-identity columns.  Other tables are read-only, with a HINT naming
 * ESI's write functions for their route.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "call.h"
#include "decode.h"
#include "esi_error.h"
#include "guc.h"
#include "modify.h"
#include "route.h"
#include "tokens.h"

/* what a table writes */
typedef enum WriteKind
{
	WRITE_NONE,
	WRITE_CONTACTS,
	WRITE_FITTINGS
} WriteKind;

#define CONTACTS_ROUTE	"/characters/{character_id}/contacts"
#define FITTINGS_ROUTE	"/characters/{character_id}/fittings"

/*
 * DELETE /characters/{id}/contacts: the description's maxItems of its
 * contact_ids query list (the catalog keeps only a body list's).
 */
#define CONTACT_DELETE_MAX	20

/* row-identity columns UPDATE and DELETE read from the scan */
#define JUNK_CHARACTER	"esi_character_id"
#define JUNK_KEY		"esi_row_id"

/* contacts gathered for one request */
typedef struct ContactGroup
{
	char	   *character_id;
	char	   *standing;		/* query values, NULL when omitted */
	char	   *label_ids;
	char	   *watched;
	List	   *ids;			/* contact ids (char *) */
	bool		sent;			/* its request went out */
} ContactGroup;

/*
 * A key written by the statement: "character_id/contact_id" or
 * "character_id/fitting_id" (ids print in at most 20 characters).
 */
#define KEY_LEN		64
typedef struct WrittenKey
{
	char		key[KEY_LEN];	/* hash key: must be first */
	ContactGroup *group;		/* a contact's request, NULL for a fitting */
} WrittenKey;

/* one table's writes in one statement */
typedef struct ModifyState
{
	char	   *relname;
	WriteKind	kind;
	CmdType		op;
	bool		explain_only;
	EsiRoute   *route;			/* the table's (GET) route */
	EsiCallRoute *cr;			/* the write's route */
	/* columns, by the JSON field they hold; 0 when the table lacks one */
	AttrNumber	att_character;
	AttrNumber	att_contact;
	AttrNumber	att_standing;
	AttrNumber	att_labels;
	AttrNumber	att_watched;
	AttrNumber	att_blocked;
	AttrNumber	att_fitting;
	AttrNumber	att_name;
	AttrNumber	att_description;
	AttrNumber	att_ship;
	AttrNumber	att_items;
	/* UPDATE, DELETE: the scan's row-identity columns */
	AttrNumber	junk_character;
	AttrNumber	junk_key;
	AttrNumber	junk_wholerow;	/* DELETE ... RETURNING: the old row */
	int			batch_max;		/* ids a request takes */
	bool		send_when_full; /* else a full request waits for the end */
	HTAB	   *keys;			/* WrittenKey: each key of the statement */
	List	   *groups;			/* ContactGroup, in the order they were begun */
	List	   *checked;		/* characters whose token was checked */
	MemoryContext cxt;			/* groups, for the statement */
	MemoryContext tmp_cxt;		/* one request */
	int64		requests;		/* requests ESI answered */
	int64		written;		/* rows in them */
	int64		pending;		/* rows gathered, not sent yet */
} ModifyState;

static const char *const op_names[] = {
	[CMD_INSERT] = "INSERT",[CMD_UPDATE] = "UPDATE",[CMD_DELETE] = "DELETE"
};

/* ---------------------------------------------------------------------
 * Which tables write, and what
 * ---------------------------------------------------------------------
 */

/* the route option of a foreign table, or NULL (never an error) */
static char *
route_option(Oid relid)
{
	ForeignTable *ft = GetForeignTable(relid);
	ListCell   *lc;

	foreach(lc, ft->options)
	{
		DefElem    *d = lfirst(lc);

		if (strcmp(d->defname, "route") == 0)
			return defGetString(d);
	}
	return NULL;
}

static WriteKind
write_kind(const char *route)
{
	if (route && strcmp(route, CONTACTS_ROUTE) == 0)
		return WRITE_CONTACTS;
	if (route && strcmp(route, FITTINGS_ROUTE) == 0)
		return WRITE_FITTINGS;
	return WRITE_NONE;
}

/* the catalog function an operation on a table of kind k is sent as */
static const char *
write_function(WriteKind k, CmdType op)
{
	if (k == WRITE_CONTACTS)
		return op == CMD_INSERT ? "post_character_contacts" :
			op == CMD_UPDATE ? "put_character_contacts" : "delete_character_contacts";
	return op == CMD_INSERT ? "post_character_fittings" : "delete_character_fitting";
}

/*
 * refuse_read_only
 *		The table reads a GET route that is not writable: say so, and name
 *		the functions of ESI's writes on the same path, if any.
 */
static void
refuse_read_only(Oid relid, CmdType op)
{
	char	   *route = route_option(relid);
	StringInfoData fns;
	size_t		len = route ? strlen(route) : 0;

	initStringInfo(&fns);
	for (int i = 0; route && i < esi_catalog_ncalls; i++)
	{
		const EsiCatalogCall *cc = &esi_catalog_calls[i];

		if (cc->writes && strncmp(cc->path, route, len) == 0 &&
			(cc->path[len] == '\0' || cc->path[len] == '/'))
			appendStringInfo(&fns, "%sesi.%s()", fns.len ? ", " : "", cc->function_name);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot %s foreign table \"%s\": it is read-only",
					op == CMD_INSERT ? "insert into" : op == CMD_UPDATE ? "update" : "delete from",
					get_rel_name(relid)),
			 errdetail("It reads GET %s; of ESI's routes, only a character's contacts (%s) and fittings (%s) are writable tables.",
					   route ? route : "(no route)", CONTACTS_ROUTE, FITTINGS_ROUTE),
			 fns.len ?
			 errhint("ESI's writes on this route are functions: %s; see esi.catalog().", fns.data) :
			 errhint("ESI has no write on this route; esi.catalog() lists the functions that write.")));
}

static void
refuse_fitting_update(const char *relname)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot update foreign table \"%s\": ESI cannot change a saved fitting", relname),
			 errdetail("ESI saves fittings (POST %s) and deletes them (DELETE %s/{fitting_id}), nothing else.",
					   FITTINGS_ROUTE, FITTINGS_ROUTE),
			 errhint("DELETE the fitting and INSERT it again with the new values; ESI gives it a new fitting_id (INSERT ... RETURNING fitting_id).")));
}

/* the column holding a JSON field of the route, or 0 */
static AttrNumber
field_att(EsiRoute *route, const char *field)
{
	for (int i = 0; i < route->natts; i++)
		if (route->fields[i] && strcmp(route->fields[i], field) == 0)
			return i + 1;
	return InvalidAttrNumber;
}

static AttrNumber
character_att(EsiRoute *route)
{
	int			k = esi_route_character_param(route);

	return k < 0 ? InvalidAttrNumber : route->params[k].attnum;
}

/* a column the operation cannot do without */
static AttrNumber
needed_att(EsiRoute *route, AttrNumber att, const char *what)
{
	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no column for %s", route->relname, what),
				 errhint("Create the table with IMPORT FOREIGN SCHEMA, which gives it every column of the route.")));
	return att;
}

/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

static void
add_identity(PlannerInfo *root, Index rtindex, Relation rel, AttrNumber att,
			 const char *name)
{
	Form_pg_attribute a = TupleDescAttr(RelationGetDescr(rel), att - 1);

	add_row_identity_var(root, makeVar(rtindex, att, a->atttypid, a->atttypmod,
									   a->attcollation, 0),
						 rtindex, name);
}

/*
 * esiAddForeignUpdateTargets
 *		FDW callback: UPDATE and DELETE need each row's character and its
 *		contact or fitting id; DELETE ... RETURNING also the old row.
 */
static void
esiAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						   RangeTblEntry *target_rte, Relation target_relation)
{
	Oid			relid = RelationGetRelid(target_relation);
	WriteKind	k = write_kind(route_option(relid));
	CmdType		op = root->parse->commandType;
	EsiRoute   *route;

	if (k == WRITE_NONE)
		refuse_read_only(relid, op);
	if (k == WRITE_FITTINGS && op == CMD_UPDATE)
		refuse_fitting_update(RelationGetRelationName(target_relation));
	route = esi_get_route(relid);
	add_identity(root, rtindex, target_relation,
				 needed_att(route, character_att(route), "character_id"), JUNK_CHARACTER);
	add_identity(root, rtindex, target_relation,
				 needed_att(route, field_att(route, k == WRITE_CONTACTS ? "contact_id" : "fitting_id"),
							k == WRITE_CONTACTS ? "contact_id" : "fitting_id"),
				 JUNK_KEY);
	if (op == CMD_DELETE && root->parse->returningList != NIL)
		add_row_identity_var(root, makeWholeRowVar(target_rte, rtindex, 0, false),
							 rtindex, "wholerow");
}

/*
 * esiPlanForeignModify
 *		FDW callback: refuse what ESI cannot do before anything runs (a
 *		read-only table, ON CONFLICT, an UPDATE of a column ESI does not
 *		change); fdw_private holds the table's kind.
 */
static List *
esiPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					 int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	WriteKind	k = write_kind(route_option(rte->relid));
	CmdType		op = plan->operation;

	if (k == WRITE_NONE)
		refuse_read_only(rte->relid, op);
	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT ... ON CONFLICT is not supported on foreign table \"%s\"",
						get_rel_name(rte->relid)),
				 errdetail("ESI does not report conflicts: adding a contact that exists changes it.")));
	if (op == CMD_UPDATE && k == WRITE_FITTINGS)
		refuse_fitting_update(get_rel_name(rte->relid));
	if (op == CMD_UPDATE)
	{
		EsiRoute   *route = esi_get_route(rte->relid);
		Bitmapset  *cols = get_rel_all_updated_cols(root, find_base_rel(root, resultRelation));
		int			x = -1;

		while ((x = bms_next_member(cols, x)) >= 0)
		{
			AttrNumber	att = x + FirstLowInvalidHeapAttributeNumber;
			const char *f = att > 0 ? route->fields[att - 1] : NULL;

			if (f && (strcmp(f, "standing") == 0 || strcmp(f, "label_ids") == 0 ||
					  strcmp(f, "is_watched") == 0))
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated",
							att > 0 ? get_attname(rte->relid, att, false) : "?", route->relname),
					 errdetail("PUT %s changes the standing, label_ids and is_watched of contacts, nothing else.",
							   CONTACTS_ROUTE),
					 f && strcmp(f, "contact_id") == 0 ?
					 errhint("DELETE the contact and INSERT the other one.") :
					 f == NULL ?
					 errhint("DELETE the contact and INSERT it for the other character.") :
					 errhint("ESI sets it.")));
		}
	}
	return list_make1(makeInteger(k));
}

/*
 * esiIsForeignRelUpdatable
 *		FDW callback (information_schema): contacts take INSERT, UPDATE and
 *		DELETE; fittings INSERT and DELETE; every other table nothing.
 */
static int
esiIsForeignRelUpdatable(Relation rel)
{
	switch (write_kind(route_option(RelationGetRelid(rel))))
	{
		case WRITE_CONTACTS:
			return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
		case WRITE_FITTINGS:
			return (1 << CMD_INSERT) | (1 << CMD_DELETE);
		default:
			return 0;
	}
}

/* ---------------------------------------------------------------------
 * Execution: set up
 * ---------------------------------------------------------------------
 */

/* the context line of every error while a table is written */
static void
modify_context(void *arg)
{
	ModifyState *ms = arg;

	if (ms->written == 0 && ms->pending == 0)
		errcontext("%s on foreign table \"%s\"", op_names[ms->op], ms->relname);
	else
		errcontext("%s on foreign table \"%s\": " INT64_FORMAT " row(s) already written at ESI by earlier requests of this statement (an error does not undo them), " INT64_FORMAT " row(s) not sent",
				   op_names[ms->op], ms->relname, ms->written, ms->pending);
}

#define MODIFY_CONTEXT_PUSH(ms) \
	ErrorContextCallback errcb; \
	errcb.callback = modify_context; \
	errcb.arg = (ms); \
	errcb.previous = error_context_stack; \
	error_context_stack = &errcb
#define MODIFY_CONTEXT_POP() \
	error_context_stack = errcb.previous

static bool
has_row_triggers(Relation rel)
{
	TriggerDesc *t = rel->trigdesc;

	return t && (t->trig_insert_after_row || t->trig_update_after_row ||
				 t->trig_delete_after_row || t->trig_insert_before_row ||
				 t->trig_update_before_row || t->trig_delete_before_row);
}

/*
 * modify_begin
 *		The state of one table's writes: its columns, the write's route
 *		(whose server USAGE is checked), the batch size.  Writes are refused
 *		inside a transaction block as the write functions are.
 */
static ModifyState *
modify_begin(EState *estate, ResultRelInfo *rinfo, CmdType op, Plan *subplan,
			 bool explain_only)
{
	Relation	rel = rinfo->ri_RelationDesc;
	Oid			relid = RelationGetRelid(rel);
	ModifyState *ms = palloc0(sizeof(ModifyState));
	const EsiCatalogCall *cc;
	ForeignServer *server;

	ms->kind = write_kind(route_option(relid));
	if (ms->kind == WRITE_NONE)
		refuse_read_only(relid, op);
	if (ms->kind == WRITE_FITTINGS && op == CMD_UPDATE)
		refuse_fitting_update(RelationGetRelationName(rel));
	ms->op = op;
	ms->explain_only = explain_only;
	ms->route = esi_get_route(relid);
	ms->relname = ms->route->relname;
	ms->att_character = needed_att(ms->route, character_att(ms->route), "character_id");
	ms->att_contact = field_att(ms->route, "contact_id");
	ms->att_standing = field_att(ms->route, "standing");
	ms->att_labels = field_att(ms->route, "label_ids");
	ms->att_watched = field_att(ms->route, "is_watched");
	ms->att_blocked = field_att(ms->route, "is_blocked");
	ms->att_fitting = field_att(ms->route, "fitting_id");
	ms->att_name = field_att(ms->route, "name");
	ms->att_description = field_att(ms->route, "description");
	ms->att_ship = field_att(ms->route, "ship_type_id");
	ms->att_items = field_att(ms->route, "items");
	if (subplan && op != CMD_INSERT)
	{
		ms->junk_character = ExecFindJunkAttributeInTlist(subplan->targetlist, JUNK_CHARACTER);
		ms->junk_key = ExecFindJunkAttributeInTlist(subplan->targetlist, JUNK_KEY);
		ms->junk_wholerow = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
		if (!AttributeNumberIsValid(ms->junk_character) || !AttributeNumberIsValid(ms->junk_key))
			elog(ERROR, "esi_fdw: the row-identity columns of \"%s\" are missing", ms->relname);
	}

	cc = esi_call_find(write_function(ms->kind, op));
	if (cc == NULL)
		elog(ERROR, "esi_fdw: %s is not in the catalog", write_function(ms->kind, op));
	if (ms->kind == WRITE_FITTINGS || has_row_triggers(rel))
		ms->batch_max = 1;
	else if (op == CMD_DELETE)
		ms->batch_max = CONTACT_DELETE_MAX;
	else
		ms->batch_max = cc->body_max_items > 0 ? cc->body_max_items : 1;
	/* a contact's second settings are found before anything is sent */
	ms->send_when_full = op == CMD_DELETE || ms->batch_max <= 1;
	ms->cxt = AllocSetContextCreate(estate->es_query_cxt, "esi_fdw modify",
									ALLOCSET_SMALL_SIZES);
	ms->tmp_cxt = AllocSetContextCreate(estate->es_query_cxt, "esi_fdw write",
										ALLOCSET_SMALL_SIZES);
	if (explain_only)
	{
		/* what EXPLAIN prints needs only the catalog */
		ms->cr = palloc0(sizeof(EsiCallRoute));
		ms->cr->cc = cc;
		return ms;
	}
	{
		HASHCTL		hctl;

		hctl.keysize = KEY_LEN;
		hctl.entrysize = sizeof(WrittenKey);
		hctl.hcxt = ms->cxt;
		ms->keys = hash_create("esi_fdw written keys", 256, &hctl,
							   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}

	if (!esi_guc_writes_in_transaction_block && IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s on foreign table \"%s\" cannot run inside a transaction block",
						op_names[op], ms->relname),
				 errdetail("It sends %s %s to ESI, which acts at once; rolling the transaction back would not undo it.",
						   cc->method, cc->path),
				 IsSubTransaction() ?
				 errhint("Run it outside BEGIN ... COMMIT and outside PL/pgSQL blocks with EXCEPTION (they run it in a subtransaction), or SET esi_fdw.writes_in_transaction_block = on to allow it.") :
				 errhint("Run it outside BEGIN ... COMMIT, or SET esi_fdw.writes_in_transaction_block = on to allow it.")));
	server = GetForeignServer(GetForeignTable(relid)->serverid);
	ms->cr = esi_call_route(cc, server->servername);
	/* messages (the token's scope among them) name the table */
	ms->cr->route->relname = ms->relname;
	ms->cr->route->is_function = false;
	return ms;
}

/*
 * esiBeginForeignModify
 *		FDW callback: INSERT, UPDATE or DELETE on a writable table.
 */
static void
esiBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					  List *fdw_private, int subplan_index, int eflags)
{
	rinfo->ri_FdwState = modify_begin(mtstate->ps.state, rinfo, mtstate->operation,
									  outerPlanState(mtstate)->plan,
									  (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0);
}

/*
 * esiBeginForeignInsert
 *		FDW callback: COPY into the table, or rows routed to it as a
 *		partition.
 */
static void
esiBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = modify_begin(mtstate->ps.state, rinfo, CMD_INSERT, NULL, false);
}

/* ---------------------------------------------------------------------
 * Values of a row
 * ---------------------------------------------------------------------
 */

/* a column's value as ESI reads it, or NULL */
static char *
value_text(ModifyState *ms, Datum d, bool isnull, Oid typoid, const char *colname)
{
	Oid			out;
	bool		isvarlena;

	if (isnull)
		return NULL;
	if (typoid == FLOAT8OID || typoid == FLOAT4OID)
	{
		double		v = typoid == FLOAT8OID ? DatumGetFloat8(d) : DatumGetFloat4(d);

		if (isnan(v) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column %s of foreign table \"%s\" must be a finite number",
							colname, ms->relname)));
	}
	if (typoid == BOOLOID)
		return pstrdup(DatumGetBool(d) ? "true" : "false");
	getTypeOutputInfo(typoid, &out, &isvarlena);
	return OidOutputFunctionCall(out, d);
}

static const char *
att_name(ModifyState *ms, TupleTableSlot *slot, AttrNumber att)
{
	return NameStr(TupleDescAttr(slot->tts_tupleDescriptor, att - 1)->attname);
}

/* a column of a row being inserted or updated, as text, or NULL */
static char *
slot_text(ModifyState *ms, TupleTableSlot *slot, AttrNumber att, bool required)
{
	char	   *t;

	if (att == InvalidAttrNumber)
		return NULL;
	t = value_text(ms, slot->tts_values[att - 1], slot->tts_isnull[att - 1],
				   TupleDescAttr(slot->tts_tupleDescriptor, att - 1)->atttypid,
				   att_name(ms, slot, att));
	if (t == NULL && required)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("column %s of foreign table \"%s\" must not be NULL",
						att_name(ms, slot, att), ms->relname),
				 errdetail("ESI needs it for %s %s.", ms->cr->cc->method, ms->cr->cc->path)));
	return t;
}

/* a row-identity column of UPDATE and DELETE, as text */
static char *
junk_text(ModifyState *ms, TupleTableSlot *planSlot, AttrNumber junk, AttrNumber att)
{
	bool		isnull;
	Datum		d = ExecGetJunkAttribute(planSlot, junk, &isnull);
	char	   *t = value_text(ms, d, isnull,
							   TupleDescAttr(planSlot->tts_tupleDescriptor, junk - 1)->atttypid,
							   "?");

	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a row of foreign table \"%s\" has no %s", ms->relname,
						att == ms->att_character ? "character_id" :
						ms->kind == WRITE_CONTACTS ? "contact_id" : "fitting_id")));
	return t;
}

/* a JSON text (a jsonb column's, or text holding JSON) parsed */
static Jsonb *
json_value(const char *text)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

/* label_ids (a JSON array of integers) as the query's comma list */
static char *
label_list(ModifyState *ms, TupleTableSlot *slot)
{
	char	   *text = slot_text(ms, slot, ms->att_labels, false);
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData out;

	if (text == NULL)
		return NULL;
	jb = json_value(text);
	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		goto bad;
	initStringInfo(&out);
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *n;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvNumeric)
			goto bad;
		n = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		if (strspn(n, "-0123456789") != strlen(n))
			goto bad;
		appendStringInfo(&out, "%s%s", out.len ? "," : "", n);
	}
	return out.len ? out.data : NULL;

bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("column %s of foreign table \"%s\" must be a JSON array of label ids",
					att_name(ms, slot, ms->att_labels), ms->relname),
			 errdetail("It holds %s.", text),
			 errhint("For example '[1, 2]'; esi.character_contact_labels lists a character's labels.")));
	return NULL;				/* not reached */
}

/* ---------------------------------------------------------------------
 * Requests
 * ---------------------------------------------------------------------
 */

/* set the value of a write route's parameter by its name */
static void
set_param(EsiCallRoute *cr, char **values, const char *param, char *value)
{
	for (int k = 0; k < cr->route->nparams; k++)
		if (strcmp(cr->route->params[k].param, param) == 0)
			values[k] = value;
}

/* the token check of a character, once per statement, before any send */
static void
check_character(ModifyState *ms, const char *character_id)
{
	ListCell   *lc;
	MemoryContext old;

	foreach(lc, ms->checked)
		if (strcmp(lfirst(lc), character_id) == 0)
			return;
	esi_token_check(ms->cr->opts, strtoi64(character_id, NULL, 10),
					ms->cr->route->scope, esi_route_subject(ms->cr->route));
	old = MemoryContextSwitchTo(ms->cxt);
	ms->checked = lappend(ms->checked, pstrdup(character_id));
	MemoryContextSwitchTo(old);
}

/*
 * reply_decoder
 *		A decoder of the reply to req, a write ESI accepted, as shape with
 *		the one column col (a field of type typoid into values[0]); the
 *		error context that says the write happened is pushed on cb (the
 *		caller pops it).  A reply that is not JSON raises the scan's error
 *		(HV00A), one of another layout HV004, as call.c's writes do.
 */
static void
reply_decoder(EsiDecoder *d, EsiDecodeColumn *col, ErrorContextCallback *cb,
			  EsiCallRoute *cr, EsiRequest *req, EsiWriteReply *reply,
			  EsiShape shape, const char *field, Oid typoid)
{
	esi_call_accepted_push(cb, cr, req);
	esi_decode_column_field(col, field, 0, typoid);
	esi_decoder_init(d, shape, NULL, col, 1, cr->cc->path);
	d->layout_hint = "ESI or a proxy sent a reply of another layout than ESI documents for the route; check with the matching GET route before sending the write again.";
	d->syntax_hint = "ESI or a proxy broke the reply to a write ESI took; check with the matching GET route before sending the write again.";
	/* reply->body is NUL-terminated (esi_call_write) */
	esi_decoder_begin_page(d, reply->body, reply->len);
}

/*
 * report_not_added
 *		WARNING naming the ids ESI left out of a POST's reply, the array of
 *		the contact ids it added (it adds only known entities).
 */
static void
report_not_added(ModifyState *ms, ContactGroup *g, EsiRequest *req,
				 EsiWriteReply *reply)
{
	EsiDecoder	d;
	EsiDecodeColumn col;
	ErrorContextCallback cb;
	Datum		v;
	bool		isnull;
	List	   *added = NIL;
	StringInfoData missing;
	int			n = 0;
	ListCell   *lc;

	if (reply->len == 0)
		return;
	reply_decoder(&d, &col, &cb, ms->cr, req, reply, ESI_SHAPE_VALUES,
				  "contact_id", INT8OID);
	for (;;)
	{
		isnull = true;
		if (!esi_decoder_next(&d, &v, &isnull))
			break;
		if (!isnull)
			added = lappend(added, psprintf(INT64_FORMAT, DatumGetInt64(v)));
	}
	error_context_stack = cb.previous;

	initStringInfo(&missing);
	foreach(lc, g->ids)
	{
		ListCell   *m;
		bool		found = false;

		foreach(m, added)
			if (strcmp(lfirst(m), lfirst(lc)) == 0)
				found = true;
		if (!found)
		{
			appendStringInfo(&missing, "%s%s", n ? ", " : "", (char *) lfirst(lc));
			n++;
		}
	}
	if (n > 0)
		ereport(WARNING,
				(errmsg("ESI added %d of the %d contacts sent for character %s",
						list_length(g->ids) - n, list_length(g->ids), g->character_id),
				 errdetail("Not added: %s.", missing.data),
				 errhint("ESI adds only characters, corporations, alliances and factions, and not the character itself.")));
}

/*
 * send_group
 *		One request for the contacts of a group: POST or PUT with the ids as
 *		the body, or DELETE with them in the query.
 */
static void
send_group(ModifyState *ms, ContactGroup *g)
{
	MemoryContext old = MemoryContextSwitchTo(ms->tmp_cxt);
	EsiCallRoute *cr = ms->cr;
	char	  **values = palloc0(sizeof(char *) * (cr->route->nparams + 1));
	StringInfoData ids;
	EsiRequest *req;
	EsiWriteReply reply;
	ListCell   *lc;
	int			n = list_length(g->ids);

	initStringInfo(&ids);
	foreach(lc, g->ids)
		appendStringInfo(&ids, "%s%s", foreach_current_index(lc) ? "," : "", (char *) lfirst(lc));
	set_param(cr, values, "character_id", g->character_id);
	if (ms->op == CMD_DELETE)
		set_param(cr, values, "contact_ids", ids.data);
	else
	{
		set_param(cr, values, "standing", g->standing);
		set_param(cr, values, "label_ids", g->label_ids);
		set_param(cr, values, "watched", g->watched);
	}
	req = esi_request_build(cr->route, values);
	if (ms->op != CMD_DELETE)
		req->body = psprintf("[%s]", ids.data);

	ms->pending -= n;
	g->sent = true;
	esi_call_write(cr, req, &reply);
	ms->requests++;
	ms->written += n;
	if (ms->op == CMD_INSERT)
		report_not_added(ms, g, req, &reply);
	MemoryContextSwitchTo(old);
	MemoryContextReset(ms->tmp_cxt);
}

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* a contact's settings, as an error names them */
static char *
settings_text(const char *standing, const char *labels, const char *watched)
{
	return psprintf("standing %s, label_ids %s, is_watched %s",
					standing ? standing : "NULL",
					labels ? psprintf("[%s]", labels) : "NULL",
					watched ? watched : "NULL");
}

/*
 * key_seen
 *		Remember a key (a character's contact or fitting) written by the
 *		statement; returns its entry, and whether it was there already.
 */
static WrittenKey *
key_seen(ModifyState *ms, const char *character_id, const char *id, bool *found)
{
	char		key[KEY_LEN];

	if (snprintf(key, sizeof(key), "%s/%s", character_id, id) >= (int) sizeof(key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a row of foreign table \"%s\" has no valid id", ms->relname),
				 errdetail("Character %.30s, %s %.30s...", character_id,
						   ms->kind == WRITE_CONTACTS ? "contact" : "fitting", id)));
	return hash_search(ms->keys, key, HASH_ENTER, found);
}

/*
 * add_contact
 *		Gather a contact into a request of its character and settings.  A
 *		contact already written by the statement is not gathered again:
 *		false when it had the same settings (the row is skipped), an error
 *		when it had others.  A full request is sent at once for a DELETE
 *		(and row by row), else it waits for the end of the statement.
 */
static bool
add_contact(ModifyState *ms, char *character_id, char *standing, char *labels,
			char *watched, char *contact_id)
{
	ListCell   *lc;
	ContactGroup	   *g = NULL;
	MemoryContext old;
	WrittenKey *wk;
	bool		found;

	check_character(ms, character_id);
	wk = key_seen(ms, character_id, contact_id, &found);
	if (found)
	{
		ContactGroup	   *first = wk->group;

		if (same_text(first->standing, standing) && same_text(first->label_ids, labels) &&
			same_text(first->watched, watched))
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("%s on foreign table \"%s\" cannot change contact %s of character %s a second time",
						op_names[ms->op], ms->relname, contact_id, character_id),
				 errdetail("Two rows of the statement give it different settings: %s, then %s.  ESI would keep the one sent last, which depends on the plan.  %s",
						   settings_text(first->standing, first->label_ids, first->watched),
						   settings_text(standing, labels, watched),
						   first->sent ?
						   "The first was already sent (a table with row triggers is written row by row); the second is not." :
						   "Neither is sent."),
				 ms->op == CMD_UPDATE ?
				 errhint("Make the FROM clause match each contact at most once, for example with DISTINCT ON (contact_id) or an aggregate in a subquery.") :
				 errhint("Give each contact once in the statement.")));
	}
	foreach(lc, ms->groups)
	{
		ContactGroup	   *x = lfirst(lc);

		if (list_length(x->ids) < ms->batch_max &&
			strcmp(x->character_id, character_id) == 0 && same_text(x->standing, standing) &&
			same_text(x->label_ids, labels) && same_text(x->watched, watched))
		{
			g = x;
			break;
		}
	}
	old = MemoryContextSwitchTo(ms->cxt);
	if (g == NULL)
	{
		g = palloc0(sizeof(ContactGroup));
		g->character_id = pstrdup(character_id);
		g->standing = standing ? pstrdup(standing) : NULL;
		g->label_ids = labels ? pstrdup(labels) : NULL;
		g->watched = watched ? pstrdup(watched) : NULL;
		ms->groups = lappend(ms->groups, g);
	}
	g->ids = lappend(g->ids, pstrdup(contact_id));
	wk->group = g;
	MemoryContextSwitchTo(old);
	ms->pending++;
	if (ms->send_when_full && list_length(g->ids) >= ms->batch_max)
	{
		ms->groups = list_delete_ptr(ms->groups, g);
		send_group(ms, g);
	}
	return true;
}

/* send every group still gathered, in the order they were begun */
static void
flush_groups(ModifyState *ms)
{
	while (ms->groups != NIL)
	{
		ContactGroup	   *g = linitial(ms->groups);

		ms->groups = list_delete_first(ms->groups);
		send_group(ms, g);
	}
}

/* store a value into one column of a slot's row */
static void
slot_set(TupleTableSlot *slot, AttrNumber att, const char *text)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	Form_pg_attribute a = TupleDescAttr(desc, att - 1);
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	Oid			in;
	Oid			ioparam;

	slot_getallattrs(slot);
	memcpy(values, slot->tts_values, sizeof(Datum) * desc->natts);
	memcpy(nulls, slot->tts_isnull, sizeof(bool) * desc->natts);
	getTypeInputInfo(a->atttypid, &in, &ioparam);
	values[att - 1] = OidInputFunctionCall(in, (char *) text, ioparam, a->atttypmod);
	nulls[att - 1] = false;
	ExecForceStoreHeapTuple(heap_form_tuple(desc, values, nulls), slot, true);
}

/*
 * insert_fitting
 *		POST one fitting; ESI's fitting_id goes into the row (RETURNING).
 */
static void
insert_fitting(ModifyState *ms, TupleTableSlot *slot)
{
	EsiCallRoute *cr = ms->cr;
	char	   *character_id = slot_text(ms, slot, ms->att_character, true);
	char	   *name = slot_text(ms, slot, needed_att(ms->route, ms->att_name, "name"), true);
	char	   *description = slot_text(ms, slot, ms->att_description, false);
	char	   *ship = slot_text(ms, slot, needed_att(ms->route, ms->att_ship, "ship_type_id"), true);
	char	   *items = slot_text(ms, slot, needed_att(ms->route, ms->att_items, "items"), true);
	char	  **values = palloc0(sizeof(char *) * (cr->route->nparams + 1));
	StringInfoData body;
	Jsonb	   *jb;
	EsiRequest *req;
	EsiWriteReply reply;
	char	   *fitting_id = NULL;

	if (ms->att_fitting != InvalidAttrNumber && !slot->tts_isnull[ms->att_fitting - 1])
		ereport(ERROR,
				(errcode(ERRCODE_GENERATED_ALWAYS),
				 errmsg("column %s of foreign table \"%s\" is given by ESI",
						att_name(ms, slot, ms->att_fitting), ms->relname),
				 errhint("Leave it out; INSERT ... RETURNING %s shows the id ESI gives the fitting.",
						 att_name(ms, slot, ms->att_fitting))));
	jb = json_value(items);
	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column %s of foreign table \"%s\" must be a JSON array of items",
						att_name(ms, slot, ms->att_items), ms->relname),
				 errhint("For example '[{\"flag\": \"HiSlot0\", \"quantity\": 1, \"type_id\": 2873}]'.")));
	initStringInfo(&body);
	appendStringInfoString(&body, "{\"description\":");
	escape_json(&body, description ? description : "");
	appendStringInfo(&body, ",\"items\":%s,\"name\":", JsonbToCString(NULL, &jb->root, VARSIZE(jb)));
	escape_json(&body, name);
	appendStringInfo(&body, ",\"ship_type_id\":%s}", ship);

	check_character(ms, character_id);
	set_param(cr, values, "character_id", character_id);
	req = esi_request_build(cr->route, values);
	req->body = (char *) pg_server_to_any(body.data, body.len, PG_UTF8);
	esi_call_write(cr, req, &reply);
	ms->requests++;
	ms->written++;

	if (reply.len > 0)
	{
		EsiDecoder	d;
		EsiDecodeColumn col;
		ErrorContextCallback cb;
		Datum		v;
		bool		isnull = true;
		Datum		v_end;
		bool		isnull_end;

		reply_decoder(&d, &col, &cb, cr, req, &reply, ESI_SHAPE_OBJECT,
					  "fitting_id", INT8OID);
		/* one record, then the end (nothing may follow it) */
		if (esi_decoder_next(&d, &v, &isnull) &&
			!isnull)
			fitting_id = psprintf(INT64_FORMAT, DatumGetInt64(v));
		(void) esi_decoder_next(&d, &v_end, &isnull_end);
		error_context_stack = cb.previous;
	}
	if (fitting_id == NULL)
		ereport(WARNING,
				(errmsg("ESI saved the fitting but its reply holds no fitting_id"),
				 errdetail("Reply: %.200s", reply.len ? reply.body : "(empty)")));
	else if (ms->att_fitting != InvalidAttrNumber)
		slot_set(slot, ms->att_fitting, fitting_id);
}

/*
 * delete_fitting
 *		DELETE one fitting; false (nothing sent) when the statement deleted
 *		it already.
 */
static bool
delete_fitting(ModifyState *ms, char *character_id, char *fitting_id)
{
	EsiCallRoute *cr = ms->cr;
	char	  **values = palloc0(sizeof(char *) * (cr->route->nparams + 1));
	EsiWriteReply reply;
	WrittenKey *wk;
	bool		found;

	check_character(ms, character_id);
	wk = key_seen(ms, character_id, fitting_id, &found);
	if (found)
		return false;
	wk->group = NULL;
	set_param(cr, values, "character_id", character_id);
	set_param(cr, values, "fitting_id", fitting_id);
	esi_call_write(cr, esi_request_build(cr->route, values), &reply);
	ms->requests++;
	ms->written++;
	return true;
}

/* ---------------------------------------------------------------------
 * Execution: rows
 * ---------------------------------------------------------------------
 */

static ModifyState *
state_of(ResultRelInfo *rinfo)
{
	ModifyState *ms = rinfo->ri_FdwState;

	if (ms == NULL || ms->explain_only)
		elog(ERROR, "esi_fdw: foreign table \"%s\" was not set up for writing",
			 RelationGetRelationName(rinfo->ri_RelationDesc));
	return ms;
}

/*
 * esiExecForeignInsert
 *		FDW callback: a contact is gathered (sent at the end; row by row
 *		on a table with row triggers), a repeat of one skipped (NULL: not
 *		counted); a fitting is sent now, and gets ESI's fitting_id.
 */
static TupleTableSlot *
esiExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					 TupleTableSlot *planSlot)
{
	ModifyState *ms = state_of(rinfo);
	MemoryContext old = MemoryContextSwitchTo(ms->tmp_cxt);
	bool		added = true;

	MODIFY_CONTEXT_PUSH(ms);
	slot_getallattrs(slot);
	if (ms->kind == WRITE_FITTINGS)
	{
		MemoryContextSwitchTo(old);
		insert_fitting(ms, slot);
	}
	else
	{
		char	   *character_id = slot_text(ms, slot, ms->att_character, true);
		char	   *contact_id = slot_text(ms, slot, needed_att(ms->route, ms->att_contact, "contact_id"), true);
		char	   *standing = slot_text(ms, slot, needed_att(ms->route, ms->att_standing, "standing"), true);
		char	   *labels = label_list(ms, slot);
		char	   *watched = slot_text(ms, slot, ms->att_watched, false);
		char	   *blocked = slot_text(ms, slot, ms->att_blocked, false);

		/* contact_type is ESI's to say (from the id); blocking it cannot do */
		if (blocked && strcmp(blocked, "true") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ESI cannot block a contact"),
					 errdetail("Contact %s of foreign table \"%s\" has %s = true.", contact_id,
							   ms->relname, att_name(ms, slot, ms->att_blocked)),
					 errhint("Block it in the game client; leave %s NULL or false.",
							 att_name(ms, slot, ms->att_blocked))));
		MemoryContextSwitchTo(old);
		added = add_contact(ms, character_id, standing, labels, watched, contact_id);
	}
	MODIFY_CONTEXT_POP();
	MemoryContextReset(ms->tmp_cxt);
	return added ? slot : NULL;
}

/*
 * esiExecForeignUpdate
 *		FDW callback: the contact's new settings, gathered like an INSERT;
 *		a second row of a join with the same settings is skipped (NULL: not
 *		counted, as PostgreSQL counts a local table's row once), one with
 *		other settings refused.
 */
static TupleTableSlot *
esiExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					 TupleTableSlot *planSlot)
{
	ModifyState *ms = state_of(rinfo);
	MemoryContext old = MemoryContextSwitchTo(ms->tmp_cxt);
	char	   *character_id;
	char	   *contact_id;
	char	   *standing;
	char	   *labels;
	char	   *watched;
	bool		added;

	MODIFY_CONTEXT_PUSH(ms);
	slot_getallattrs(slot);
	character_id = junk_text(ms, planSlot, ms->junk_character, ms->att_character);
	contact_id = junk_text(ms, planSlot, ms->junk_key, ms->att_contact);
	standing = slot_text(ms, slot, needed_att(ms->route, ms->att_standing, "standing"), true);
	labels = label_list(ms, slot);
	watched = slot_text(ms, slot, ms->att_watched, false);
	MemoryContextSwitchTo(old);
	added = add_contact(ms, character_id, standing, labels, watched, contact_id);
	MODIFY_CONTEXT_POP();
	MemoryContextReset(ms->tmp_cxt);
	return added ? slot : NULL;
}

/*
 * esiExecForeignDelete
 *		FDW callback: a contact is gathered; a fitting is deleted now.  A
 *		key the statement deleted already (a join's second row) is not sent
 *		again, and its row not counted (NULL).  For RETURNING the slot gets
 *		the old row the scan read.
 */
static TupleTableSlot *
esiExecForeignDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					 TupleTableSlot *planSlot)
{
	ModifyState *ms = state_of(rinfo);
	MemoryContext old = MemoryContextSwitchTo(ms->tmp_cxt);
	char	   *character_id;
	char	   *key;
	bool		added;

	MODIFY_CONTEXT_PUSH(ms);
	character_id = junk_text(ms, planSlot, ms->junk_character, ms->att_character);
	key = junk_text(ms, planSlot, ms->junk_key, InvalidAttrNumber);
	MemoryContextSwitchTo(old);
	if (ms->kind == WRITE_FITTINGS)
		added = delete_fitting(ms, character_id, key);
	else
		added = add_contact(ms, character_id, NULL, NULL, NULL, key);
	MODIFY_CONTEXT_POP();
	MemoryContextReset(ms->tmp_cxt);
	if (!added)
		return NULL;

	if (AttributeNumberIsValid(ms->junk_wholerow))
	{
		bool		isnull;
		Datum		d = ExecGetJunkAttribute(planSlot, ms->junk_wholerow, &isnull);

		if (!isnull)
		{
			HeapTupleHeader th = DatumGetHeapTupleHeader(d);
			HeapTupleData tup;

			tup.t_len = HeapTupleHeaderGetDatumLength(th);
			ItemPointerSetInvalid(&tup.t_self);
			tup.t_tableOid = RelationGetRelid(rinfo->ri_RelationDesc);
			tup.t_data = th;
			/* the slot keeps the tuple: a copy, not this frame's */
			ExecForceStoreHeapTuple(heap_copytuple(&tup), slot, true);
		}
	}
	return slot;
}

/*
 * esiEndForeignModify
 *		FDW callback: send the contacts still gathered.  (Not called when
 *		the statement fails: what it held is then not sent.)
 */
static void
esiEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	ModifyState *ms = rinfo->ri_FdwState;

	if (ms == NULL || ms->explain_only)
		return;
	{
		MODIFY_CONTEXT_PUSH(ms);
		flush_groups(ms);
		MODIFY_CONTEXT_POP();
	}
}

/*
 * esiExplainForeignModify
 *		FDW callback: the requests a write sends, and how rows are batched.
 *		EXPLAIN ANALYZE sends what is still gathered first (it prints before
 *		the statement ends), so that its counts are complete.
 */
static void
esiExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index, ExplainState *es)
{
	ModifyState *ms = rinfo->ri_FdwState;
	const EsiCatalogCall *cc;
	char	   *what;
	char	   *batching;

	if (ms == NULL)
		return;
	cc = ms->cr->cc;
	if (ms->kind == WRITE_FITTINGS)
		what = ms->op == CMD_INSERT ?
			psprintf("%s %s {description, items, name, ship_type_id}, fitting_id from the reply",
					 cc->method, cc->path) :
			psprintf("%s %s", cc->method, cc->path);
	else if (ms->op == CMD_DELETE)
		what = psprintf("%s %s?contact_ids={contact_id},...", cc->method, cc->path);
	else
		what = psprintf("%s %s?standing={standing}&label_ids={label_ids}&watched={is_watched} [{contact_id}, ...]",
						cc->method, cc->path);
	if (ms->batch_max <= 1)
		batching = pstrdup("one request per row");
	else
		batching = psprintf("one request per character_id%s, at most %d rows, sent %s",
							ms->op == CMD_DELETE ? "" : ", standing, label_ids and is_watched",
							ms->batch_max,
							ms->send_when_full ? "when full and at the end of the statement" :
							"at the end of the statement");
	ExplainPropertyText("ESI Write", what, es);
	ExplainPropertyText("ESI Write Batching", batching, es);
	if (es->analyze && !ms->explain_only)
	{
		MODIFY_CONTEXT_PUSH(ms);
		flush_groups(ms);
		MODIFY_CONTEXT_POP();
		ExplainPropertyInteger("ESI Write Requests", NULL, ms->requests, es);
		ExplainPropertyInteger("ESI Rows Written", NULL, ms->written, es);
	}
}

/*
 * esi_modify_routines
 *		The wrapper's modify callbacks.
 */
void
esi_modify_routines(FdwRoutine *r)
{
	r->AddForeignUpdateTargets = esiAddForeignUpdateTargets;
	r->PlanForeignModify = esiPlanForeignModify;
	r->BeginForeignModify = esiBeginForeignModify;
	r->ExecForeignInsert = esiExecForeignInsert;
	r->ExecForeignUpdate = esiExecForeignUpdate;
	r->ExecForeignDelete = esiExecForeignDelete;
	r->EndForeignModify = esiEndForeignModify;
	r->BeginForeignInsert = esiBeginForeignInsert;
	r->EndForeignInsert = esiEndForeignModify;
	r->IsForeignRelUpdatable = esiIsForeignRelUpdatable;
	r->ExplainForeignModify = esiExplainForeignModify;
}
