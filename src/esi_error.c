/*-------------------------------------------------------------------------
 *
 * esi_error.c
 *		  ESI's HTTP failures turned into errors a PostgreSQL user can act on.
 *
 * ESI explains itself in a JSON body ({"error": "..."}); that text goes into
 * DETAIL, the HINT says what to do about it.  The request is shown as
 * path?query only: the base URL stays out of messages.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include <json-c/json.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "esi_error.h"

/*
 * printable
 *		A short, single-line, valid-UTF-8 copy of untrusted text.
 */
static char *
printable(const char *s, size_t len)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (size_t i = 0; i < len && buf.len < 300; i++)
	{
		unsigned char ch = (unsigned char) s[i];

		if (ch < 0x20 || ch >= 0x7f)
			appendStringInfoChar(&buf, ch == '\n' || ch == '\r' || ch == '\t' ? ' ' : '?');
		else
			appendStringInfoChar(&buf, ch);
	}
	return buf.data;
}

/*
 * esi_error_text
 *		The "error" member of an ESI error body, or the body itself.
 */
char *
esi_error_text(const char *body, size_t len)
{
	json_tokener *tok;
	json_object *volatile obj = NULL;
	char	   *volatile result = NULL;

	if (body == NULL || len == 0)
		return pstrdup("(empty reply)");

	tok = json_tokener_new();
	if (tok == NULL)
		return printable(body, len);
	PG_TRY();
	{
		json_object *err;

		obj = json_tokener_parse_ex(tok, body, (int) Min(len, (size_t) INT_MAX));
		if (obj && json_object_is_type(obj, json_type_object) &&
			json_object_object_get_ex(obj, "error", &err) &&
			json_object_is_type(err, json_type_string))
		{
			const char *s = json_object_get_string(err);

			result = printable(s, strlen(s));
		}
		else
			result = printable(body, len);
	}
	PG_FINALLY();
	{
		if (obj)
			json_object_put(obj);
		json_tokener_free(tok);
	}
	PG_END_TRY();
	return result;
}

/*
 * esi_report_http_error
 *		An HTTP status that ends the scan.
 */
void
esi_report_http_error(EsiRoute *route, EsiTransfer *t)
{
	char	   *text = esi_error_text(t->buf, t->len);
	int			code;
	const char *hint;

	switch (t->status)
	{
		case 400:
		case 422:
			code = ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE;
			hint = "Check the values the query gives to the table's parameter columns.";
			break;
		case 401:
		case 403:
			code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
			hint = route->scope ?
				psprintf("This route needs an SSO token with scope %s.", route->scope) :
				"This route should be public; check the server's base_url option.";
			break;
		case 404:
			code = ERRCODE_FDW_ERROR;
			hint = "Check the ids in the query's conditions, and the server's compatibility_date option.";
			break;
		case 420:
			code = ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION;
			hint = t->error_limit_reset >= 0 ?
				psprintf("ESI's error limit is exhausted; try again in %d seconds.", t->error_limit_reset) :
				"ESI's error limit is exhausted; try again in a minute.";
			break;
		case 429:
			code = ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION;
			hint = t->retry_after >= 0 ?
				psprintf("ESI's rate limit is exhausted; try again in %d seconds (esi_fdw.max_retry_after sets how long a scan waits by itself).", t->retry_after) :
				"ESI's rate limit is exhausted; try again later.";
			break;
		default:
			code = t->status >= 500 ? ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION : ERRCODE_FDW_ERROR;
			hint = t->status >= 500 ?
				psprintf("ESI is failing; esi_fdw gave up after %d attempt%s (esi_fdw.max_retries). Try again later.",
						 t->attempt + 1, t->attempt ? "s" : "") :
				"See ESI's message above.";
			break;
	}

	ereport(ERROR,
			(errcode(code),
			 errmsg("ESI returned HTTP %ld for GET %s (foreign table \"%s\")",
					t->status, t->display, route->relname),
			 errdetail("ESI said: %s", text),
			 errhint("%s", hint)));
}

/*
 * esi_report_transport_error
 *		No HTTP reply at all, after the retries.
 */
void
esi_report_transport_error(EsiRoute *route, EsiTransfer *t)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 errmsg("could not read GET %s from ESI (foreign table \"%s\")",
					t->display, route->relname),
			 errdetail("%s (%d attempt%s).", t->curl_error, t->attempt + 1,
					   t->attempt ? "s" : ""),
			 errhint("Check the server's base_url option and the network; esi_fdw.max_retries and esi_fdw.request_timeout control retrying.")));
}
