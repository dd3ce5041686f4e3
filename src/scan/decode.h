/*-------------------------------------------------------------------------
 *
 * decode.h
 *		  Streaming decoder from ESI JSON pages straight into tuple datums.
 *
 * ESI's big replies are arrays of flat objects.  Building a json-c tree or
 * a jsonb per record costs more than the rest of the scan together, so the
 * decoder walks the page text once, validates it, and converts only the
 * fields the query needs directly into the slot's values/nulls arrays, one
 * record per call.  Nested values are handed to jsonb_in as raw text.
 *
 * The page buffer must stay valid and unchanged until the page is done and
 * must be NUL-terminated (buf[len] == '\0').  Datums are allocated in
 * CurrentMemoryContext (the caller's per-tuple context).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_DECODE_H
#define ESI_DECODE_H

#include "fmgr.h"

#include "option.h"				/* EsiShape: how the reply is laid out */

/* How a column's value is produced from JSON (the column's SQL type) */
typedef enum EsiValueKind
{
	ESI_V_INT2,
	ESI_V_INT4,
	ESI_V_INT8,
	ESI_V_FLOAT4,
	ESI_V_FLOAT8,
	ESI_V_NUMERIC,
	ESI_V_TEXT,					/* also varchar/bpchar through OTHER if typmod */
	ESI_V_BOOL,
	ESI_V_TIMESTAMPTZ,
	ESI_V_TIMESTAMP,
	ESI_V_DATE,
	ESI_V_JSONB,
	ESI_V_JSON,
	ESI_V_OTHER					/* any other type: its input function */
} EsiValueKind;

/* One wanted field: where its value goes and how to convert it */
typedef struct EsiDecodeColumn
{
	const char *field;			/* JSON key, NUL-terminated */
	int			fieldlen;		/* strlen(field) */
	int			attidx;			/* index into values[] / nulls[] */
	EsiValueKind kind;
	Oid			typoid;			/* column type */
	int32		typmod;
	Oid			typioparam;		/* for the input function */
	FmgrInfo	inputfn;		/* input function of typoid (always set) */
	const char *colname;		/* SQL column name, for error context */
} EsiDecodeColumn;

/* Decoder state; lives as long as the scan, reused page after page */
typedef struct EsiDecoder
{
	/* set once by esi_decoder_init */
	EsiShape	shape;
	const char *records_key;	/* envelope key holding the records, or NULL */
	EsiDecodeColumn *cols;
	int			ncols;
	const char *route;			/* route template, for messages */
	const char *layout_hint;	/* errhint of a reply of another layout
								 * (NULL: a foreign table's options) */
	const char *syntax_hint;	/* errhint of a reply that is not JSON
								 * (NULL: run the query again) */

	/* per page */
	const char *buf;
	const char *end;
	const char *pos;
	int			state;			/* private to decode.c */
	int			hint;			/* private: next column expected */
	int64		nrecords;		/* records returned from this page so far */

	/* envelope extras found on this page (palloc'd, or NULL) */
	char	   *cursor_before;	/* "cursor": {"before": ..} */

	/*
	 * Groups (esi_decoder_init_groups): the reply is an object whose
	 * members each hold an array of records; group is the name of the
	 * member the last record came from (palloc'd, database encoding).
	 */
	bool		groups;
	char	   *group;
} EsiDecoder;

/* Prepare a decoder; cols/route must outlive it */
extern void esi_decoder_init(EsiDecoder *d, EsiShape shape,
							 const char *records_key,
							 EsiDecodeColumn *cols, int ncols,
							 const char *route);

/*
 * Prepare a decoder for replies that are an object of record arrays, as
 * POST /universe/ids answers: {"characters": [{..}], "systems": [{..}]}.
 * shape is that of each member's array: ESI_SHAPE_ARRAY (objects) or
 * ESI_SHAPE_VALUES (scalars).  Members are read in the reply's order and
 * each member's records in its order; a null member holds no records.
 * With only_key, the other members are skipped unread but validated.
 * Any member read that is not an array or null is an error.
 */
extern void esi_decoder_init_groups(EsiDecoder *d, EsiShape shape,
									const char *only_key,
									EsiDecodeColumn *cols, int ncols,
									const char *route);

/* Fill a column's kind, typmod, typioparam and inputfn from its type */
extern void esi_decode_column_set_type(EsiDecodeColumn *col, Oid typoid,
									   int32 typmod, MemoryContext fn_mcxt);

/*
 * Prepare a column for a reader of a few fields of one reply (not a table):
 * field's value of type typoid goes into values[attidx]; the column is
 * named after the field in messages.  field must outlive the decoder.
 */
extern void esi_decode_column_field(EsiDecodeColumn *col, const char *field,
									int attidx, Oid typoid);

/*
 * Start decoding one page.  ESI_SHAPE_ARRAY accepts a bare array, or an
 * object holding the records under records_key (or, without records_key,
 * under its first array-valued member); such an envelope's "cursor" object
 * fills cursor_before (the token of the page before).  Raises ERROR on a
 * malformed page.
 */
extern void esi_decoder_begin_page(EsiDecoder *d, const char *buf, size_t len);

/*
 * Decode the next record into values/nulls (only the attidx slots of the
 * decoder's columns are written; absent fields and JSON null become NULL).
 * Returns false when the page has no more records, after checking that
 * nothing but whitespace follows the JSON text.  Raises ERROR
 * (ERRCODE_FDW_INVALID_STRING_FORMAT) on malformed JSON, naming the route
 * and the byte offset; a value that does not convert raises the type's own
 * error with a context line naming the route, JSON field and column.
 */
extern bool esi_decoder_next(EsiDecoder *d, Datum *values, bool *nulls);
/* (In groups, d->group names the member of the record just returned.) */

#endif							/* ESI_DECODE_H */
