/*-------------------------------------------------------------------------
 *
 * esi_error.c
 *		  ESI's HTTP failures turned into errors a PostgreSQL user can act on.
 *
 * ESI explains itself in a JSON body, the OpenAPI description's Error:
 * {"error": "...", "status": n, "details": [{"location", "message",
 * "value"}]}, where "details" says which value it refused and why.  That
 * text goes into DETAIL, the HINT says what to do about it.  The request is
 * shown as path?query only: the base URL stays out of messages.
 *
 * A compatibility date ESI does not take (in the future, or older than the
 * oldest it keeps) is refused with a 400 about X-Compatibility-Date: the
 * error names the setting that chose the date, not the table's values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type_d.h"
#include "utils/builtins.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "decode.h"
#include "esi_catalog.h"
#include "esi_error.h"
#include "guc.h"
#include "sso.h"

/* at most this many of ESI's "details" go into a message */
#define ESI_ERROR_MAX_DETAILS 5

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
 * mentions_compat_date
 *		Whether text speaks of the compatibility date (X-Compatibility-Date,
 *		compatibility_date, "compatibility date"), in any case.
 */
static bool
mentions_compat_date(const char *text)
{
	static const char *const words[] = {"compatibility-date", "compatibility_date",
	"compatibility date"};

	for (const char *p = text; *p; p++)
		for (int i = 0; i < lengthof(words); i++)
			if (pg_strncasecmp(p, words[i], strlen(words[i])) == 0)
				return true;
	return false;
}

/*
 * text_of
 *		A decoded text or json column's value as a C string, or NULL.
 */
static char *
text_of(Datum v, bool isnull)
{
	return isnull ? NULL : TextDatumGetCString(v);
}

/*
 * append_details
 *		ESI's "details" (details, the array's JSON text), each as
 *		"; location: message (value V)", the value as JSON (a string in
 *		quotes), at most ESI_ERROR_MAX_DETAILS of them.  Sets *about_compat
 *		when a location is the compatibility date.  Raises the decoder's
 *		error when a member is not an object (error_text catches it).
 */
static void
append_details(StringInfo buf, char *details, bool *about_compat)
{
	EsiDecoder	d;
	EsiDecodeColumn cols[3];
	Datum		v[3];
	bool		isnull[3];
	int64		n = 0;

	esi_decode_column_field(&cols[0], "location", 0, TEXTOID);
	esi_decode_column_field(&cols[1], "message", 1, TEXTOID);
	esi_decode_column_field(&cols[2], "value", 2, JSONOID);
	esi_decoder_init(&d, ESI_SHAPE_ARRAY, NULL, cols, 3, "(error details)");
	esi_decoder_begin_page(&d, details, strlen(details));
	for (;;)
	{
		char	   *loc;
		char	   *msg;
		char	   *val;

		isnull[0] = isnull[1] = isnull[2] = true;
		if (!esi_decoder_next(&d, v, isnull))
			break;
		if (++n > ESI_ERROR_MAX_DETAILS)
			continue;
		loc = text_of(v[0], isnull[0]);
		msg = text_of(v[1], isnull[1]);
		val = text_of(v[2], isnull[2]);
		appendStringInfoString(buf, "; ");
		if (loc)
		{
			appendStringInfo(buf, "%s: ", printable(loc, strlen(loc)));
			if (mentions_compat_date(loc))
				*about_compat = true;
		}
		appendStringInfoString(buf, msg ? printable(msg, strlen(msg)) : "(no message)");
		if (val)
			appendStringInfo(buf, " (value %s)", printable(val, strlen(val)));
	}
	if (n > ESI_ERROR_MAX_DETAILS)
		appendStringInfo(buf, "; and " INT64_FORMAT " more", n - ESI_ERROR_MAX_DETAILS);
}

/*
 * error_object
 *		ESI's message from an error body that is its Error object: "error",
 *		then each of "details"; NULL when the body is JSON but not such an
 *		object (no "error").  Raises the decoder's error for a body that is
 *		not JSON or not an object (error_text catches it).
 */
static char *
error_object(const char *body, size_t len, bool *about_compat)
{
	EsiDecoder	d;
	EsiDecodeColumn cols[2];
	Datum		v[2];
	bool		isnull[2] = {true, true};
	Datum		v_end[2];
	bool		isnull_end[2];
	char	   *copy = palloc(len + 1);
	char	   *err;
	char	   *details;
	StringInfoData buf;

	/* the decoder reads a NUL-terminated text */
	memcpy(copy, body, len);
	copy[len] = '\0';
	esi_decode_column_field(&cols[0], "error", 0, TEXTOID);
	esi_decode_column_field(&cols[1], "details", 1, JSONOID);
	esi_decoder_init(&d, ESI_SHAPE_OBJECT, NULL, cols, 2, "(error body)");
	esi_decoder_begin_page(&d, copy, len);
	if (!esi_decoder_next(&d, v, isnull))
		return NULL;
	(void) esi_decoder_next(&d, v_end, isnull_end);
	err = text_of(v[0], isnull[0]);
	if (err == NULL)
		return NULL;
	initStringInfo(&buf);
	appendStringInfoString(&buf, printable(err, strlen(err)));
	if (mentions_compat_date(err))
		*about_compat = true;
	details = text_of(v[1], isnull[1]);
	/* ESI's details are an array; anything else is left out */
	if (details && details[strspn(details, " \t\r\n")] == '[')
		append_details(&buf, details, about_compat);
	return buf.data;
}

/*
 * error_text
 *		ESI's message from an error body: "error", then each of "details"
 *		("error; location: message (value V); ..."); or the body itself
 *		when it is no such object (HTML from a proxy, a cut reply, ...).
 *		*about_compat tells whether ESI spoke of the compatibility date.
 *
 *		Never raises for what the body holds: the body is read with the
 *		scan's decoder (decode.c), whose errors (broken JSON, another
 *		layout, a text the database encoding cannot hold) are caught here
 *		and give the body itself.  That is safe because decoding only
 *		allocates memory and converts text (no locks, buffers or files),
 *		and error_text runs before any ereport of the report it serves,
 *		with no error in progress.  A cancel or an out-of-memory error is
 *		raised again.
 */
static char *
error_text(const char *body, size_t len, bool *about_compat)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *volatile result = NULL;

	*about_compat = false;
	if (body == NULL || len == 0)
		return pstrdup("(empty reply)");

	PG_TRY();
	{
		result = error_object(body, len, about_compat);
	}
	PG_CATCH();
	{
		int			code = geterrcode();

		if (code == ERRCODE_QUERY_CANCELED || code == ERRCODE_ADMIN_SHUTDOWN ||
			code == ERRCODE_OUT_OF_MEMORY)
			PG_RE_THROW();
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		result = NULL;
	}
	PG_END_TRY();
	if (result == NULL)
	{
		*about_compat = false;
		result = printable(body, len);
	}
	return result;
}

/*
 * esi_error_text
 *		ESI's message from an error body: its "error" and "details", or the
 *		body itself.
 */
char *
esi_error_text(const char *body, size_t len)
{
	bool		about_compat;

	return error_text(body, len, &about_compat);
}

/*
 * esi_report_http_error
 *		An HTTP status that ends the scan, after attempts tries.
 */
void
esi_report_http_error(EsiRoute *route, EsiTransfer *t, int attempts)
{
	size_t		len;
	const char *body = esi_http_body(t, &len);

	esi_report_http_reply(route, esi_http_status(t), esi_http_display(t),
						  body, len,
						  esi_http_header(t, ESI_HDR_ERROR_LIMIT_RESET),
						  esi_http_header(t, ESI_HDR_RETRY_AFTER), attempts);
}

/*
 * esi_report_write_unanswered
 *		A write (what: "POST /path?query") got no reply it could read: lost
 *		after the request went out, or too large or out of memory to read
 *		(ESI answered, whatever it did), both SQLSTATE 08007 "may have
 *		happened"; or it could not be sent at all ("did not happen").
 */
void
esi_report_write_unanswered(const char *what, EsiTransfer *t)
{
	switch (esi_http_result(t))
	{
		case ESI_XFER_TOO_LARGE:
		case ESI_XFER_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN),
					 errmsg("the reply of ESI to %s could not be read", what),
					 errdetail("ESI answered (status %ld): the write happened, or was refused; its reply is lost.",
							   esi_http_status(t)),
					 errhint("Check with the matching GET route before sending it again.")));
			break;
		default:
			if (esi_http_request_sent(t))
				ereport(ERROR,
						(errcode(ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN),
						 errmsg("the reply of ESI to %s was lost: the write may have happened", what),
						 errdetail("The request was sent, then: %s.  It is not sent again.",
								   esi_http_failure(t)),
						 errhint("Check with the matching GET route before sending it again.")));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not send %s to ESI: the write did not happen", what),
					 errdetail("%s.", esi_http_failure(t)),
					 errhint("%s", esi_http_failure_hint(t))));
	}
	pg_unreachable();
}

/*
 * esi_report_write_gateway
 *		A gateway's answer to a write (ESI's 502 "No reply within 10
 *		seconds", 504 "Timeout contacting tranquility", a 500 or 520 from
 *		the game server): the request may have been passed on and done.
 *		(Only 501, 503 (downtime) and 505 say it was not taken.)
 */
void
esi_report_write_gateway(const char *what, EsiTransfer *t)
{
	size_t		len;
	const char *body = esi_http_body(t, &len);
	/* read before the report starts (error_text catches errors) */
	char	   *said = esi_error_text(body, len);

	ereport(ERROR,
			(errcode(ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN),
			 errmsg("ESI answered %s with HTTP %ld: the write may have happened", what,
					esi_http_status(t)),
			 errdetail("ESI said: %s.  A gateway's error comes after the request was passed on; it is not sent again.",
					   said),
			 errhint("Check with the matching GET route before sending it again.")));
	pg_unreachable();
}

/*
 * esi_reply_refuses_token
 *		Whether a finished transfer's 401 or 403 refuses the access token
 *		itself (expired early, revoked, or SSO could not vouch for it), not
 *		the character: a fresh token may pass, so the request is sent once
 *		more with one, and the refusal is not remembered.  sso.c knows
 *		ESI's refusals.
 */
bool
esi_reply_refuses_token(EsiTransfer *t, long status)
{
	return esi_sso_token_refused(t, status);
}

/*
 * report_compat_date
 *		ESI refused the compatibility date: name the setting that chose it
 *		(the server's option, or esi_fdw.compatibility_date) and how to
 *		set one ESI takes.
 */
static void
report_compat_date(EsiRoute *route, long status, const char *display,
				   const char *text)
{
	EsiServerOptions *opts = route->opts;
	const char *date = opts ? opts->compat_date : esi_guc_compat_date;
	char	   *by;
	char	   *hint;

	if (opts == NULL)
	{
		by = pstrdup("the server's option compatibility_date or esi_fdw.compatibility_date");
		hint = psprintf("SET esi_fdw.compatibility_date = '%s'; or ALTER SERVER ... OPTIONS (SET compatibility_date '%s');",
						esi_catalog_version, esi_catalog_version);
	}
	else if (opts->compat_date_option)
	{
		by = psprintf("option compatibility_date of server \"%s\"", opts->server_name);
		hint = psprintf("ALTER SERVER %s OPTIONS (SET compatibility_date '%s');",
						quote_identifier(opts->server_name), esi_catalog_version);
	}
	else
	{
		by = psprintf("esi_fdw.compatibility_date (server \"%s\" has no compatibility_date option)",
					  opts->server_name);
		hint = psprintf("SET esi_fdw.compatibility_date = '%s'; or ALTER SERVER %s OPTIONS (ADD compatibility_date '%s');",
						esi_catalog_version, quote_identifier(opts->server_name),
						esi_catalog_version);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("ESI does not accept the compatibility date \"%s\" of %s",
					date ? date : "?", by),
			 errdetail("ESI answered HTTP %ld to %s %s (%s) and said: %s",
					   status, esi_route_method(route), display,
					   esi_route_subject(route), text),
			 errhint("ESI takes dates from the oldest it keeps up to its current day, which starts at 11:00 UTC; esi_fdw's tables are made for %s: %s",
					 esi_catalog_version, hint)));
	pg_unreachable();
}

/*
 * esi_report_http_reply
 *		The same, from the parts of a reply: a 404 remembered by the cache
 *		raises exactly what the reply itself raised.
 */
void
esi_report_http_reply(EsiRoute *route, long status, const char *display,
					  const char *body, size_t len, const char *reset,
					  const char *retry_after, int attempts)
{
	bool		about_compat;
	char	   *text = error_text(body, len, &about_compat);
	int64		secs;
	int			code;
	const char *hint;

	if ((status == 400 || status == 422) && about_compat)
		report_compat_date(route, status, display, text);

	switch (status)
	{
		case 400:
		case 422:
			code = ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE;
			hint = route->is_function ?
				"Check the arguments given to the function." :
				route->method ?
				"Check the values the statement writes to the table's columns." :
				"Check the values the query gives to the table's parameter columns.";
			break;
		case 401:
		case 403:
			code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
			/* the token's trouble, a missing scope or role: sso.c knows */
			hint = esi_sso_refusal_hint(route, status, body, len);
			break;
		case 404:
			code = ERRCODE_FDW_ERROR;
			hint = route->method ?
				"Check the ids given to the function, and the server's compatibility_date option." :
				"Check the ids in the query's conditions, and the server's compatibility_date option.";
			break;
		case 420:
			code = ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION;
			/* a malformed or absurd reset time is left out, not trusted */
			hint = esi_http_parse_count(reset, &secs) &&
				secs <= 3600 ?
				psprintf("ESI's error limit is exhausted; try again in %d seconds.", (int) secs) :
				"ESI's error limit is exhausted; try again in a minute.";
			break;
		case 429:
			code = ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION;
			if (!esi_http_parse_retry_after(retry_after, &secs))
				secs = -1;
			if (secs > esi_guc_max_retry_after)
				hint = psprintf("ESI's rate limit is exhausted; try again in %lld seconds (esi_fdw.max_retry_after sets how long a scan waits by itself).",
								(long long) secs);
			else if (attempts > 1)
				hint = psprintf("ESI's rate limit stayed exhausted; esi_fdw gave up after %d attempts (esi_fdw.max_retries). Try again later.",
								attempts);
			else
				hint = "ESI's rate limit is exhausted; try again later.";
			break;
		default:
			code = status >= 500 ? ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION : ERRCODE_FDW_ERROR;
			hint = status >= 500 ?
				psprintf("ESI is failing; esi_fdw gave up after %d attempt%s (esi_fdw.max_retries). Try again later.",
						 attempts, attempts > 1 ? "s" : "") :
				"See ESI's message above.";
			break;
	}

	ereport(ERROR,
			(errcode(code),
			 errmsg("ESI returned HTTP %ld for %s %s (%s)",
					status, esi_route_method(route), display, esi_route_subject(route)),
			 errdetail("ESI said: %s", text),
			 errhint("%s", hint)));
	pg_unreachable();
}

/*
 * esi_report_transport_error
 *		No HTTP reply at all, after attempts tries.
 */
void
esi_report_transport_error(EsiRoute *route, EsiTransfer *t, int attempts)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 errmsg("could not read %s %s from ESI (%s)",
					esi_route_method(route), esi_http_display(t), esi_route_subject(route)),
			 errdetail("%s (%d attempt%s).", esi_http_failure(t), attempts,
					   attempts > 1 ? "s" : ""),
			 errhint("%s", esi_http_failure_hint(t))));
	pg_unreachable();
}

/*
 * esi_report_too_large
 *		A reply larger than esi_fdw.max_reply_size (the transfer was cut off
 *		there, and its connection closed).
 */
void
esi_report_too_large(EsiRoute *route, EsiTransfer *t)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("ESI's reply to %s %s is larger than esi_fdw.max_reply_size (%d kB) (%s)",
					esi_route_method(route), esi_http_display(t), esi_guc_max_reply_size_kb,
					esi_route_subject(route)),
			 errdetail("esi_fdw stopped reading the reply at the limit; a scan holds up to twice esi_fdw.max_connections replies of that size."),
			 errhint("Add conditions that make the reply smaller, or raise the limit: SET esi_fdw.max_reply_size = '%dMB';",
					 Min(Max(esi_guc_max_reply_size_kb / 1024 * 4, 1), 1023))));
	pg_unreachable();
}
