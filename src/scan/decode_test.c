/*-------------------------------------------------------------------------
 *
 * decode_test.c
 *		  An SQL entry point into decode.c for the tests only.
 *
 * The extension script does not create esi_test_decode: a test declares it
 * (CREATE FUNCTION ... AS 'esi_fdw', 'esi_test_decode' LANGUAGE C), which
 * only a superuser can do, and it checks for a superuser again, as
 * src/sso/sso_test.c's functions do.  sql/sim_decoder.sql declares it and
 * fuzzes the decoder's groups mode with it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "decode.h"

PG_FUNCTION_INFO_V1(esi_test_decode);

/*
 * esi_test_decode(body text, shape text, records_key text) returns setof record
 *		The records decode.c reads from body, into the columns of the
 *		caller's column definition list, each filled from the JSON field of
 *		its name; shape is array, object, values or value (as a foreign
 *		table's option), or groups or groups_values (an object of arrays of
 *		objects, or of values: esi_decoder_init_groups, records_key being
 *		its only_key), where a column named _group receives the member's
 *		name.  ESI route names in messages are "test".
 */
Datum
esi_test_decode(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *body;
	char	   *shape;
	char	   *records_key;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	EsiDecodeColumn *cols;
	int			ncols = 0;
	int			group_att = -1;
	Datum	   *values;
	bool	   *nulls;
	EsiDecoder	d;
	MemoryContext old;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to use esi_fdw's test functions")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize) || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("esi_test_decode needs a column definition list")));
	body = text_to_cstring(PG_GETARG_TEXT_PP(0));
	shape = text_to_cstring(PG_GETARG_TEXT_PP(1));
	records_key = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(rsinfo->expectedDesc);
	store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);

	cols = palloc0(sizeof(EsiDecodeColumn) * Max(tupdesc->natts, 1));
	values = palloc0(sizeof(Datum) * Max(tupdesc->natts, 1));
	nulls = palloc0(sizeof(bool) * Max(tupdesc->natts, 1));
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		EsiDecodeColumn *c;

		if (strcmp(NameStr(att->attname), "_group") == 0)
		{
			if (att->atttypid != TEXTOID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column _group must be of type text")));
			group_att = i;
			continue;
		}
		c = &cols[ncols++];
		c->field = pstrdup(NameStr(att->attname));
		c->fieldlen = strlen(c->field);
		c->attidx = i;
		c->colname = c->field;
		esi_decode_column_set_type(c, att->atttypid, att->atttypmod,
								   fcinfo->flinfo->fn_mcxt);
	}

	if (strcmp(shape, "groups") == 0)
		esi_decoder_init_groups(&d, ESI_SHAPE_ARRAY, records_key, cols, ncols, "test");
	else if (strcmp(shape, "groups_values") == 0)
		esi_decoder_init_groups(&d, ESI_SHAPE_VALUES, records_key, cols, ncols, "test");
	else
		esi_decoder_init(&d,
						 strcmp(shape, "object") == 0 ? ESI_SHAPE_OBJECT :
						 strcmp(shape, "values") == 0 ? ESI_SHAPE_VALUES :
						 strcmp(shape, "value") == 0 ? ESI_SHAPE_VALUE : ESI_SHAPE_ARRAY,
						 records_key, cols, ncols, "test");
	esi_decoder_begin_page(&d, body, strlen(body));
	for (;;)
	{
		for (int i = 0; i < tupdesc->natts; i++)
			nulls[i] = true;
		if (!esi_decoder_next(&d, values, nulls))
			break;
		if (group_att >= 0 && d.group)
		{
			values[group_att] = CStringGetTextDatum(d.group);
			nulls[group_att] = false;
		}
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}
