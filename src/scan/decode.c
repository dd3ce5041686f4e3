/*-------------------------------------------------------------------------
 *
 * decode.c
 *		  Streaming decoder from ESI JSON pages straight into tuple datums.
 *
 * A market sweep is hundreds of pages of a thousand flat objects each, and
 * the foreign scan has to beat COPY from CSV, so this is a hand-written,
 * single-pass scanner: no token objects, no tree, no per-field allocation
 * except the datum itself.  Each call of esi_decoder_next() walks exactly
 * one record, validating all of it (RFC 8259, including UTF-8, escapes and
 * surrogate pairs), converting the wanted fields in place and skipping the
 * others.
 *
 * The page buffer is NUL-terminated (buf[len] == '\0').  Every scanning
 * loop stops at a NUL byte because NUL is never valid where a loop keeps
 * going, so loops need no end-of-buffer test to stay in bounds; when one
 * stops, comparing the position with the end tells an embedded NUL from
 * the end of the text.  No byte is read unless the byte before it was
 * found not to be NUL (the one loop that reads ahead checks the end).
 *
 * Fields are matched to columns by a hint (the column after the one
 * matched last), because ESI emits keys in a stable order; a miss falls
 * back to a scan of the columns comparing lengths first.  When a key
 * appears twice in a record, the last occurrence wins (as in jsonb).
 *
 * Conversions have fast paths for what ESI actually sends (integers,
 * short decimals, "YYYY-MM-DDTHH:MM:SSZ", plain ASCII strings); anything
 * else goes through the column type's input function, which raises the
 * type's own errors.  Only those slow paths install an error context
 * callback naming the route, field and column.
 *
 * The same decoder reads the replies of ESI's POST, PUT and DELETE routes
 * (calls/call.c, and calls/modify.c for writable tables), among them
 * objects whose members each hold a list of records (POST /universe/ids):
 * esi_decoder_init_groups; and the few fields that client/bearer.c and
 * client/esi_error.c take from a character's lookup and an error body
 * (esi_decode_column_field).  EVE SSO's replies are not ESI's (sso/).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "decode.h"

/* Containers nested deeper than this are rejected (the envelope counts) */
#define ESI_MAX_DEPTH 64

/*
 * Decoder states (d->state).  ST_ENVELOPE is or'ed into the array states
 * when the records array sits inside an envelope object, which begin_page
 * has already validated to its end; ST_GROUPS when it is a member of a
 * groups object (esi_decoder_init_groups), read as it comes: at the end of
 * the array the decoder goes on to the object's next member.
 */
#define ST_DONE			0
#define ST_ARRAY_FIRST	1		/* after '[': an element or ']' */
#define ST_ARRAY_NEXT	2		/* after an element: ',' or ']' */
#define ST_OBJECT		3		/* at the '{' of the single record */
#define ST_VALUE		4		/* at the single scalar */
#define ST_MEMBER_FIRST	5		/* groups, after '{': a member or '}' */
#define ST_MEMBER_NEXT	6		/* groups, after a member: ',' or '}' */
#define ST_KIND_MASK	0x0F
#define ST_ENVELOPE		0x10
#define ST_GROUPS		0x20

/* What scan_string() saw inside a string */
#define STR_ESCAPED		0x01	/* has backslash escapes */
#define STR_HIGHBIT		0x02	/* has bytes >= 0x80 (valid UTF-8) */

/* Longest error snippet, and how much of it precedes the error position */
#define SNIPPET_LEN		30
#define SNIPPET_BEFORE	10

/* Tokens up to this size are NUL-terminated on the stack, not palloc'd */
#define STACK_TOKEN_LEN 64

/*
 * Bytes that end a run of plain string content: control characters
 * (including the NUL sentinel), '"', '\\' and every byte >= 0x80, which
 * starts a UTF-8 sequence to validate.
 */
static const unsigned char str_special[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Powers of ten that a double (and a float, up to 1e10) holds exactly */
static const double exact_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};
static const float exact_pow10f[] = {
	1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f
};

/* Argument of the error context callback used around conversions */
typedef struct DecodeErrorContext
{
	const EsiDecoder *d;
	const EsiDecodeColumn *col;
} DecodeErrorContext;

static void json_error(const EsiDecoder *d, const char *at,
					   const char *what) pg_attribute_noreturn();
static const char *skip_value(EsiDecoder *d, const char *p, int depth);

#define IS_DIGIT(c)		((unsigned char) ((c) - '0') <= 9)

/*
 * The hint of an error about a reply of another layout than expected: the
 * caller's (d->layout_hint), or what a foreign table's owner can change.
 */
static const char *
layout_hint(const EsiDecoder *d)
{
	if (d->layout_hint)
		return d->layout_hint;
	return "Check the foreign table's shape and records_key options against the route's reply, or recreate the table with IMPORT FOREIGN SCHEMA.";
}

/*
 * Report malformed JSON at position "at", with the byte offset and a short
 * printable snippet around it.  Kept out of line: it is never on a hot path.
 */
static pg_noinline void
json_error(const EsiDecoder *d, const char *at, const char *what)
{
	size_t		len = d->end - d->buf;
	const char *from;
	const char *to;
	char		snippet[SNIPPET_LEN + 1];
	int			n = 0;

	/* running into the end of the text is the usual truncation symptom */
	if (at >= d->end)
	{
		at = d->end;
		what = "unexpected end of input";
	}

	from = (at - d->buf > SNIPPET_BEFORE) ? at - SNIPPET_BEFORE : d->buf;
	to = (d->end - from > SNIPPET_LEN) ? from + SNIPPET_LEN : d->end;
	for (; from < to; from++)
	{
		unsigned char c = (unsigned char) *from;

		/* keep the message plain ASCII: no controls, no partial UTF-8 */
		snippet[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char) c;
	}
	snippet[n] = '\0';

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
			 errmsg("invalid JSON in ESI reply for route %s", d->route),
			 errdetail("%s at byte %zu of %zu, near \"%.*s\".",
					   what, (size_t) (at - d->buf), len, n, snippet),
			 errhint("%s", d->syntax_hint ? d->syntax_hint :
					 "ESI or a proxy sent a broken reply; run the query again, and check the server's base_url option if it persists.")));
}

/*
 * Name the JSON type of the value starting at p, for shape errors.  The
 * value has been validated by the caller.
 */
static const char *
json_type_name(const char *p)
{
	switch (*p)
	{
		case '{':
			return "object";
		case '[':
			return "array";
		case '"':
			return "string";
		case 't':
		case 'f':
			return "boolean";
		case 'n':
			return "null";
		default:
			return "number";
	}
}

/*
 * Error context callback for value conversions: names the route, the JSON
 * field (when records are objects) and the column.
 */
static void
decode_error_context(void *arg)
{
	DecodeErrorContext *ctx = (DecodeErrorContext *) arg;
	const EsiDecoder *d = ctx->d;
	const EsiDecodeColumn *col = ctx->col;
	bool		has_field = (d->shape == ESI_SHAPE_ARRAY ||
							 d->shape == ESI_SHAPE_OBJECT) && col->field;

	if (has_field && col->colname)
		errcontext("ESI route %s, JSON field \"%s\", column %s",
				   d->route, col->field, col->colname);
	else if (has_field)
		errcontext("ESI route %s, JSON field \"%s\"", d->route, col->field);
	else if (col->colname)
		errcontext("ESI route %s, column %s", d->route, col->colname);
	else
		errcontext("ESI route %s", d->route);
}

/* Install / remove the conversion error context (slow paths only) */
#define PUSH_ERROR_CONTEXT(cb, ctx, dec, column) \
	do { \
		(ctx).d = (dec); \
		(ctx).col = (column); \
		(cb).callback = decode_error_context; \
		(cb).arg = &(ctx); \
		(cb).previous = error_context_stack; \
		error_context_stack = &(cb); \
	} while (0)
#define POP_ERROR_CONTEXT(cb) (error_context_stack = (cb).previous)

/*
 * Skip JSON whitespace.  ESI sends compact JSON, so the loop usually ends
 * at the first test.
 */
static pg_attribute_always_inline const char *
skip_ws(const char *p)
{
	while ((unsigned char) *p <= ' ' &&
		   (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/*
 * Make sure nothing but whitespace follows the top-level value.
 */
static void
check_trailing(const EsiDecoder *d, const char *p)
{
	p = skip_ws(p);
	if (p != d->end)
		json_error(d, p, "unexpected data after the JSON value");
}

/*
 * Read the four hex digits of a \u escape at p; -1 if they are not that.
 * Stops at the first non-hex byte, so it never reads past the sentinel.
 */
static int
hex4(const char *p)
{
	int			v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		char		c = p[i];

		if (c >= '0' && c <= '9')
			v = (v << 4) | (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (v << 4) | (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = (v << 4) | (c - 'A' + 10);
		else
			return -1;
	}
	return v;
}

/*
 * Validate the escape sequence at p (a backslash) and return the position
 * after it.  Surrogates must come as a high/low pair, so that unescaping
 * later can trust the text and never produces invalid UTF-8.
 */
static pg_noinline const char *
scan_escape(const EsiDecoder *d, const char *p)
{
	int			cp;

	switch (p[1])
	{
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			return p + 2;
		case 'u':
			cp = hex4(p + 2);
			if (cp < 0)
				json_error(d, p, "invalid \\u escape");
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				json_error(d, p, "Unicode low surrogate without a high surrogate");
			if (cp >= 0xD800 && cp <= 0xDBFF)
			{
				int			lo;

				if (p[6] != '\\' || p[7] != 'u' ||
					(lo = hex4(p + 8)) < 0xDC00 || lo > 0xDFFF)
					json_error(d, p, "Unicode high surrogate without a low surrogate");
				return p + 12;
			}
			return p + 6;
		default:
			json_error(d, p, "invalid escape sequence");
	}
}

/*
 * Validate the UTF-8 sequence starting at p (a byte >= 0x80) and return the
 * position after it.  Accepts exactly the well-formed sequences of RFC 3629
 * (no overlong forms, no surrogates, nothing above U+10FFFF), like
 * PostgreSQL's own UTF-8 verification, so that strings checked here need
 * no second verification before they become text.
 */
static const char *
scan_utf8(const EsiDecoder *d, const char *p)
{
	const unsigned char *s = (const unsigned char *) p;
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	int			ncont;

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		ncont = 1;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
	{
		ncont = 2;
		if (s[0] == 0xE0)
			lo = 0xA0;			/* no overlong forms */
		else if (s[0] == 0xED)
			hi = 0x9F;			/* no UTF-16 surrogates */
	}
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
	{
		ncont = 3;
		if (s[0] == 0xF0)
			lo = 0x90;			/* no overlong forms */
		else if (s[0] == 0xF4)
			hi = 0x8F;			/* nothing above U+10FFFF */
	}
	else
		json_error(d, p, "invalid UTF-8 byte sequence");

	/* the second byte has the narrowed range; the NUL sentinel fails it */
	if (s[1] < lo || s[1] > hi)
		json_error(d, p, "invalid UTF-8 byte sequence");
	if (ncont >= 2 && (s[2] < 0x80 || s[2] > 0xBF))
		json_error(d, p, "invalid UTF-8 byte sequence");
	if (ncont >= 3 && (s[3] < 0x80 || s[3] > 0xBF))
		json_error(d, p, "invalid UTF-8 byte sequence");
	return p + 1 + ncont;
}

/*
 * Scan the body of a string, p being just after the opening quote, and
 * return the address of the closing quote.  *flags collects STR_ESCAPED and
 * STR_HIGHBIT so that callers know whether the raw bytes can be used as
 * they are.  The plain-ASCII run is the hot loop of the whole decoder.
 */
static pg_attribute_always_inline const char *
scan_string(const EsiDecoder *d, const char *p, int *flags)
{
	for (;;)
	{
		unsigned char c;

		/*
		 * Four bytes at a time while at least four remain before the end.
		 * (Eight-byte word tricks and a plain byte loop both measured slower
		 * on ESI's short keys and values.)
		 */
		while (d->end - p >= 4 &&
			   !(str_special[(unsigned char) p[0]] |
				 str_special[(unsigned char) p[1]] |
				 str_special[(unsigned char) p[2]] |
				 str_special[(unsigned char) p[3]]))
			p += 4;
		while (!str_special[(unsigned char) *p])
			p++;

		c = (unsigned char) *p;
		if (likely(c == '"'))
			return p;
		if (c == '\\')
		{
			*flags |= STR_ESCAPED;
			p = scan_escape(d, p);
		}
		else if (c >= 0x80)
		{
			*flags |= STR_HIGHBIT;
			p = scan_utf8(d, p);
		}
		else if (p >= d->end)
			json_error(d, p, "unterminated string");
		else
			json_error(d, p, "unescaped control character in string");
	}
}

/*
 * Scan a number token at p and return the position after it; *is_int
 * tells whether it has neither fraction nor exponent.  What follows the
 * token is the caller's business (a delimiter, or an error).
 */
static pg_attribute_always_inline const char *
scan_number(const EsiDecoder *d, const char *p, bool *is_int)
{
	const char *start = p;

	*is_int = true;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
	{
		do
			p++;
		while (IS_DIGIT(*p));
	}
	else
		json_error(d, start, "invalid number");

	if (*p == '.')
	{
		p++;
		if (!IS_DIGIT(*p))
			json_error(d, start, "invalid number");
		do
			p++;
		while (IS_DIGIT(*p));
		*is_int = false;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!IS_DIGIT(*p))
			json_error(d, start, "invalid number");
		do
			p++;
		while (IS_DIGIT(*p));
		*is_int = false;
	}
	return p;
}

/*
 * Scan true, false or null at p; returns the position after it and sets
 * *which to 1, 0 or -1 respectively.  Compares byte by byte so that a
 * mismatch at the NUL sentinel stops the reading.
 */
static pg_attribute_always_inline const char *
scan_literal(const EsiDecoder *d, const char *p, int *which)
{
	if (p[0] == 't' && p[1] == 'r' && p[2] == 'u' && p[3] == 'e')
	{
		*which = 1;
		return p + 4;
	}
	if (p[0] == 'f' && p[1] == 'a' && p[2] == 'l' && p[3] == 's' && p[4] == 'e')
	{
		*which = 0;
		return p + 5;
	}
	if (p[0] == 'n' && p[1] == 'u' && p[2] == 'l' && p[3] == 'l')
	{
		*which = -1;
		return p + 4;
	}
	json_error(d, p, "invalid literal");
}

/*
 * Skip (and validate) the members of an object, p being at its '{', which
 * opens nesting level "level".  Returns the position after the '}'.
 */
static const char *
skip_object(EsiDecoder *d, const char *p, int level)
{
	if (level > ESI_MAX_DEPTH)
		json_error(d, p, "JSON nested too deeply");

	p = skip_ws(p + 1);
	if (*p == '}')
		return p + 1;
	for (;;)
	{
		int			flags = 0;

		if (*p != '"')
			json_error(d, p, "expected a string as object key");
		p = scan_string(d, p + 1, &flags) + 1;
		p = skip_ws(p);
		if (*p != ':')
			json_error(d, p, "expected ':' after object key");
		p = skip_value(d, skip_ws(p + 1), level);
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p == '}')
			return p + 1;
		else
			json_error(d, p, "expected ',' or '}' after object member");
	}
}

/*
 * Skip (and validate) the elements of an array, p being at its '[', which
 * opens nesting level "level".  Returns the position after the ']'.
 */
static const char *
skip_array(EsiDecoder *d, const char *p, int level)
{
	if (level > ESI_MAX_DEPTH)
		json_error(d, p, "JSON nested too deeply");

	p = skip_ws(p + 1);
	if (*p == ']')
		return p + 1;
	for (;;)
	{
		p = skip_ws(skip_value(d, p, level));
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p == ']')
			return p + 1;
		else
			json_error(d, p, "expected ',' or ']' after array element");
	}
}

/*
 * Skip (and validate) the value at p, which is enclosed by "depth"
 * containers; returns the position after it.  Used for unknown keys,
 * count(*) scans and to find the extent of raw values.
 */
static const char *
skip_value(EsiDecoder *d, const char *p, int depth)
{
	int			flags = 0;
	int			which;
	bool		is_int;

	switch (*p)
	{
		case '"':
			return scan_string(d, p + 1, &flags) + 1;
		case '{':
			return skip_object(d, p, depth + 1);
		case '[':
			return skip_array(d, p, depth + 1);
		case 't':
		case 'f':
		case 'n':
			return scan_literal(d, p, &which);
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			return scan_number(d, p, &is_int);
		default:
			json_error(d, p, "expected a JSON value");
	}
}

/*
 * Append code point cp to dst as UTF-8; returns the new end.
 */
static char *
put_utf8(char *dst, int cp)
{
	if (cp < 0x80)
		*dst++ = (char) cp;
	else if (cp < 0x800)
	{
		*dst++ = (char) (0xC0 | (cp >> 6));
		*dst++ = (char) (0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		*dst++ = (char) (0xE0 | (cp >> 12));
		*dst++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*dst++ = (char) (0x80 | (cp & 0x3F));
	}
	else
	{
		*dst++ = (char) (0xF0 | (cp >> 18));
		*dst++ = (char) (0x80 | ((cp >> 12) & 0x3F));
		*dst++ = (char) (0x80 | ((cp >> 6) & 0x3F));
		*dst++ = (char) (0x80 | (cp & 0x3F));
	}
	return dst;
}

/*
 * Unescape the string body s..e (already validated by scan_string) into
 * dst, which has room for e - s bytes: no escape grows when decoded.
 * Returns the decoded length.  \u0000 cannot be part of text or of a C
 * string, so it is refused unless nul_ok (keys, which are only compared).
 */
static int
unescape_string(const char *s, const char *e, char *dst, bool nul_ok)
{
	char	   *out = dst;

	while (s < e)
	{
		const char *bs = memchr(s, '\\', e - s);
		int			cp;

		if (bs == NULL)
			bs = e;
		memcpy(out, s, bs - s);
		out += bs - s;
		if (bs == e)
			break;

		switch (bs[1])
		{
			case 'b':
				*out++ = '\b';
				break;
			case 'f':
				*out++ = '\f';
				break;
			case 'n':
				*out++ = '\n';
				break;
			case 'r':
				*out++ = '\r';
				break;
			case 't':
				*out++ = '\t';
				break;
			case 'u':
				cp = hex4(bs + 2);
				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					/* scan_escape made sure a low surrogate follows */
					cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(bs + 8) - 0xDC00);
					bs += 6;
				}
				if (cp == 0 && !nul_ok)
					ereport(ERROR,
							(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
							 errmsg("unsupported Unicode escape sequence"),
							 errdetail("\\u0000 cannot be converted to text.")));
				out = put_utf8(out, cp);
				s = bs + 6;
				continue;
			default:			/* '"', '\\' and '/' stand for themselves */
				*out++ = bs[1];
				break;
		}
		s = bs + 2;
	}
	return out - dst;
}

/*
 * Compare len bytes of a key with a field name.  Keys are short, and a
 * libc memcmp call per field showed up in profiles, so lengths up to 16
 * are compared as two overlapping words (both ranges are readable: the
 * key lies in the page, the field name is a C string of that length).
 */
static pg_attribute_always_inline bool
key_eq(const char *a, const char *b, int len)
{
	if (len >= 8)
	{
		uint64		a0,
					a1,
					b0,
					b1;

		if (len > 16)
			return memcmp(a, b, len) == 0;
		memcpy(&a0, a, 8);
		memcpy(&b0, b, 8);
		memcpy(&a1, a + len - 8, 8);
		memcpy(&b1, b + len - 8, 8);
		return a0 == b0 && a1 == b1;
	}
	if (len >= 4)
	{
		uint32		a0,
					a1,
					b0,
					b1;

		memcpy(&a0, a, 4);
		memcpy(&b0, b, 4);
		memcpy(&a1, a + len - 4, 4);
		memcpy(&b1, b + len - 4, 4);
		return a0 == b0 && a1 == b1;
	}
	while (len-- > 0)
	{
		if (*a++ != *b++)
			return false;
	}
	return true;
}

/*
 * Find the column for the key ks..ks+klen (raw, unescaped bytes).  The
 * hint makes a stable key order cost one comparison per field.
 */
static pg_attribute_always_inline EsiDecodeColumn *
match_column(EsiDecoder *d, const char *ks, int klen)
{
	EsiDecodeColumn *cols = d->cols;
	int			ncols = d->ncols;
	int			i = d->hint;

	if (likely(i < ncols) &&
		cols[i].fieldlen == klen &&
		key_eq(cols[i].field, ks, klen))
	{
		d->hint = (i + 1 < ncols) ? i + 1 : 0;
		return &cols[i];
	}
	for (i = 0; i < ncols; i++)
	{
		if (cols[i].fieldlen == klen && key_eq(cols[i].field, ks, klen))
		{
			d->hint = (i + 1 < ncols) ? i + 1 : 0;
			return &cols[i];
		}
	}
	return NULL;
}

/*
 * Column matching for a key written with escapes: unescape it first.
 */
static pg_noinline EsiDecodeColumn *
match_escaped_key(EsiDecoder *d, const char *ks, const char *ke)
{
	char		stackbuf[STACK_TOKEN_LEN];
	char	   *buf = (ke - ks <= STACK_TOKEN_LEN) ? stackbuf : palloc(ke - ks);
	int			len = unescape_string(ks, ke, buf, true);
	EsiDecodeColumn *col = match_column(d, buf, len);

	if (buf != stackbuf)
		pfree(buf);
	return col;
}

/*
 * Does the key ks..ke (raw, possibly escaped) equal name?  For the few
 * envelope keys; not on the per-record path.
 */
static bool
key_equals(const char *ks, const char *ke, int flags, const char *name)
{
	size_t		namelen = strlen(name);
	char	   *buf;
	int			len;
	bool		result;

	if (!(flags & STR_ESCAPED))
		return (size_t) (ke - ks) == namelen && memcmp(ks, name, namelen) == 0;

	buf = palloc(ke - ks);
	len = unescape_string(ks, ke, buf, true);
	result = (size_t) len == namelen && memcmp(buf, name, len) == 0;
	pfree(buf);
	return result;
}

/*
 * Turn the UTF-8 bytes s..s+len into a palloc'd NUL-terminated string in
 * the database encoding.  ASCII and UTF-8 databases need a copy only; the
 * scanner has verified the UTF-8 already.
 */
static char *
utf8_to_server_cstring(const char *s, int len, bool maybe_high)
{
	char	   *result;

	if (maybe_high && GetDatabaseEncoding() != PG_UTF8)
	{
		result = pg_any_to_server(s, len, PG_UTF8);
		if (result != s)
			return result;		/* converted, palloc'd and terminated */
	}
	result = palloc(len + 1);
	memcpy(result, s, len);
	result[len] = '\0';
	return result;
}

/*
 * Build a text datum from UTF-8 bytes s..s+len that need no unescaping.
 * The fast path (ASCII, or a UTF-8 database) is one palloc and a memcpy.
 */
static pg_attribute_always_inline Datum
text_from_bytes(const char *s, int len, bool maybe_high)
{
	text	   *t;

	if (unlikely(maybe_high) && GetDatabaseEncoding() != PG_UTF8)
	{
		char	   *conv = pg_any_to_server(s, len, PG_UTF8);

		if (conv != s)
		{
			s = conv;
			len = strlen(conv);
		}
	}
	t = (text *) palloc(VARHDRSZ + len);
	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), s, len);
	return PointerGetDatum(t);
}

/*
 * Text datum from a string body with escapes, or that needs an encoding
 * conversion: the slow path, so it carries the error context (\u0000 and
 * unconvertible characters fail here).
 */
static pg_noinline Datum
text_from_string_slow(EsiDecoder *d, EsiDecodeColumn *col,
					  const char *s, const char *e, int flags)
{
	ErrorContextCallback cb;
	DecodeErrorContext ctx;
	Datum		result;

	PUSH_ERROR_CONTEXT(cb, ctx, d, col);
	if (flags & STR_ESCAPED)
	{
		text	   *t = (text *) palloc(VARHDRSZ + (e - s));
		int			len = unescape_string(s, e, VARDATA(t), false);

		SET_VARSIZE(t, VARHDRSZ + len);
		result = PointerGetDatum(t);

		/* \u escapes may have produced non-ASCII; convert if need be */
		if (GetDatabaseEncoding() != PG_UTF8)
			result = text_from_bytes(VARDATA(t), len, true);
	}
	else
		result = text_from_bytes(s, e - s, true);
	POP_ERROR_CONTEXT(cb);
	return result;
}

/* Two decimal digits at p as a number, or -1 */
#define TWO_DIGITS(p) \
	((IS_DIGIT((p)[0]) && IS_DIGIT((p)[1])) ? \
	 ((p)[0] - '0') * 10 + ((p)[1] - '0') : -1)

static bool parse_ymd(const char *s, int *days);

/*
 * iso8601_parse
 *		Parse ISO 8601 as ESI writes it, "YYYY-MM-DD" or
 *		"YYYY-MM-DDTHH:MM:SS[.fff...][Z|+HH:MM|-HH:MM|+HHMM|+HH]", into
 *		microseconds since the PostgreSQL epoch, in UTC.  A time without a
 *		zone is UTC too: ESI's times are, and the result must not depend on
 *		the session's TimeZone.  Fractions are rounded to microseconds.
 *		*date_only says the text had no time.  False for anything else:
 *		unlike the types' input functions, this never accepts "now",
 *		"epoch", "today" or a DateStyle-dependent 01/02/2024.  *overflow
 *		tells a well-formed text with a field out of range (2024-13-01),
 *		which gets the SQLSTATE timestamptz_in would give it.
 */
static bool
iso8601_parse(const char *s, int64 *result, bool *date_only, bool *overflow)
{
	size_t		len = strlen(s);
	const char *p;
	int			days = 0,
				year,
				mon,
				mday,
				hour,
				min,
				sec;
	int64		usec = 0;
	int64		offset = 0;		/* seconds east of UTC */
	bool		range_ok = true;

	*overflow = false;
	if (len < 10 || TWO_DIGITS(s) < 0 || TWO_DIGITS(s + 2) < 0 ||
		s[4] != '-' || s[7] != '-' || TWO_DIGITS(s + 5) < 0 || TWO_DIGITS(s + 8) < 0)
		return false;
	year = TWO_DIGITS(s) * 100 + TWO_DIGITS(s + 2);
	mon = TWO_DIGITS(s + 5);
	mday = TWO_DIGITS(s + 8);
	if (year < 1 || mon < 1 || mon > 12 || mday < 1 ||
		mday > day_tab[isleap(year)][mon - 1])
		range_ok = false;
	else
		days = date2j(year, mon, mday) - POSTGRES_EPOCH_JDATE;
	*date_only = (len == 10);
	if (len == 10)
	{
		*result = (int64) days * USECS_PER_DAY;
		*overflow = !range_ok;
		return range_ok;
	}
	if (len < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':')
		return false;
	hour = TWO_DIGITS(s + 11);
	min = TWO_DIGITS(s + 14);
	sec = TWO_DIGITS(s + 17);
	if (hour < 0 || min < 0 || sec < 0)
		return false;
	/* second 60 is a leap second; it rolls over as timestamptz_in does */
	if (hour > 23 || min > 59 || sec > 60)
		range_ok = false;

	p = s + 19;
	if (*p == '.' || *p == ',')
	{
		int			ndig = 0;
		bool		round_up = false;

		for (p++; IS_DIGIT(*p); p++, ndig++)
		{
			if (ndig < 6)
				usec = usec * 10 + (*p - '0');
			else if (ndig == 6)
				round_up = (*p >= '5');
		}
		if (ndig == 0)
			return false;
		for (int i = ndig; i < 6; i++)
			usec *= 10;
		if (round_up)
			usec++;
	}

	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			oh = TWO_DIGITS(p + 1);
		int			om = 0;

		if (oh < 0)
			return false;
		p += 3;
		if (*p == ':')
			p++;
		if (IS_DIGIT(*p))
		{
			om = TWO_DIGITS(p);
			if (om < 0)
				return false;
			p += 2;
		}
		if (oh > 23 || om > 59)
			range_ok = false;
		offset = sign * (oh * SECS_PER_HOUR + om * SECS_PER_MINUTE);
	}
	if (*p != '\0')
		return false;
	if (!range_ok)
	{
		*overflow = true;
		return false;
	}

	*result = ((int64) days * SECS_PER_DAY + hour * SECS_PER_HOUR +
			   min * SECS_PER_MINUTE + sec - offset) * USECS_PER_SEC + usec;
	return true;
}

/*
 * iso8601_datum
 *		A date, timestamp or timestamptz column's value from ESI's text,
 *		independent of DateStyle and TimeZone.  Anything that is not ISO
 *		8601 is an error.
 */
static Datum
iso8601_datum(EsiDecodeColumn *col, const char *str)
{
	int64		ts;
	bool		date_only;
	bool		overflow;
	bool		ok = iso8601_parse(str, &ts, &date_only, &overflow);

	if (ok && col->kind == ESI_V_DATE)
	{
		/* a date column takes a date; a full time is its UTC day */
		int64		days = ts / USECS_PER_DAY - (ts < 0 && ts % USECS_PER_DAY != 0);

		if (days >= INT_MIN && days <= INT_MAX && IS_VALID_DATE((int32) days))
			return DateADTGetDatum((DateADT) days);
		overflow = true;
	}
	else if (ok)
	{
		Timestamp	t = ts;

		if (col->typmod >= 0)
			AdjustTimestampForTypmod(&t, col->typmod);
		if (IS_VALID_TIMESTAMP(t))
			return col->kind == ESI_V_TIMESTAMPTZ ? TimestampTzGetDatum(t) :
				TimestampGetDatum(t);
		overflow = true;
	}

	if (overflow)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s out of range in ESI reply: \"%.64s\"",
						col->kind == ESI_V_DATE ? "date" : "timestamp", str)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
			 errmsg("invalid ISO 8601 %s in ESI reply: \"%.64s\"",
					col->kind == ESI_V_DATE ? "date" : "timestamp", str),
			 errdetail("ESI writes dates as YYYY-MM-DD and times as YYYY-MM-DDTHH:MM:SSZ; esi_fdw reads nothing else, whatever DateStyle and TimeZone say."),
			 errhint("Check that the server's base_url points at ESI, or declare the column text to see the raw value.")));
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * Call the column's input function on a NUL-terminated string, with the
 * error context installed so that its errors name route, field and column.
 */
static Datum
input_call(EsiDecoder *d, EsiDecodeColumn *col, char *str)
{
	ErrorContextCallback cb;
	DecodeErrorContext ctx;
	Datum		result;

	PUSH_ERROR_CONTEXT(cb, ctx, d, col);
	if (col->kind == ESI_V_TIMESTAMPTZ || col->kind == ESI_V_TIMESTAMP ||
		col->kind == ESI_V_DATE)
		result = iso8601_datum(col, str);
	else
		result = InputFunctionCall(&col->inputfn, str, col->typioparam,
								   col->typmod);
	POP_ERROR_CONTEXT(cb);
	return result;
}

/*
 * Input function on raw JSON text s..e (a number token, a literal, or the
 * whole text of an object, array or quoted string).  Short ASCII tokens are
 * terminated on the stack; input functions do not keep their argument.
 */
static pg_noinline Datum
input_from_raw(EsiDecoder *d, EsiDecodeColumn *col,
			   const char *s, const char *e, bool maybe_high)
{
	int			len = e - s;
	char		stackbuf[STACK_TOKEN_LEN];
	char	   *str;

	if (!maybe_high && len < STACK_TOKEN_LEN)
	{
		memcpy(stackbuf, s, len);
		stackbuf[len] = '\0';
		return input_call(d, col, stackbuf);
	}
	else
	{
		ErrorContextCallback cb;
		DecodeErrorContext ctx;

		/* encoding conversion can fail too */
		PUSH_ERROR_CONTEXT(cb, ctx, d, col);
		str = utf8_to_server_cstring(s, len, maybe_high);
		POP_ERROR_CONTEXT(cb);
		return input_call(d, col, str);
	}
}

/*
 * Input function on the decoded contents of the string body s..e.
 */
static pg_noinline Datum
input_from_string(EsiDecoder *d, EsiDecodeColumn *col,
				  const char *s, const char *e, int flags)
{
	ErrorContextCallback cb;
	DecodeErrorContext ctx;
	char	   *str;
	int			len;

	if (!(flags & STR_ESCAPED))
		return input_from_raw(d, col, s, e, (flags & STR_HIGHBIT) != 0);

	PUSH_ERROR_CONTEXT(cb, ctx, d, col);
	str = palloc(e - s + 1);
	len = unescape_string(s, e, str, false);
	str[len] = '\0';
	if (GetDatabaseEncoding() != PG_UTF8)
		str = utf8_to_server_cstring(str, len, true);
	POP_ERROR_CONTEXT(cb);
	return input_call(d, col, str);
}

/*
 * Parse a validated integer token s..e into *result; false when it does
 * not fit an int64 (the caller then lets the input function complain).
 */
static pg_attribute_always_inline bool
parse_int64(const char *s, const char *e, int64 *result)
{
	bool		neg = false;
	uint64		v = 0;

	if (*s == '-')
	{
		neg = true;
		s++;
	}
	/* 19 digits cannot overflow a uint64; longer ones cannot be an int64 */
	if (e - s > 19)
		return false;
	while (s < e)
		v = v * 10 + (*s++ - '0');
	if (neg)
	{
		if (v > (uint64) PG_INT64_MAX + 1)
			return false;
		*result = (v == (uint64) PG_INT64_MAX + 1) ? PG_INT64_MIN : -(int64) v;
	}
	else
	{
		if (v > (uint64) PG_INT64_MAX)
			return false;
		*result = (int64) v;
	}
	return true;
}

/*
 * Scan and convert a plain integer token at p for an integer column in one
 * pass (ids make up most of an ESI record).  Returns the position after it,
 * or NULL when the token is anything else (fraction, exponent, 19 digits
 * or more, out of the type's range, not a number at all), in which case the
 * caller takes the general path from p again.
 */
static pg_attribute_always_inline const char *
scan_integer(const char *p, EsiValueKind kind, Datum *result)
{
	const char *q = p;
	const char *digits;
	bool		neg = false;
	uint64		v;
	int64		i;

	if (*q == '-')
	{
		neg = true;
		q++;
	}
	digits = q;
	if (*q == '0')
	{
		v = 0;
		q++;
	}
	else if (*q >= '1' && *q <= '9')
	{
		v = *q++ - '0';
		/* may wrap for very long tokens; those are rejected below */
		while (IS_DIGIT(*q))
			v = v * 10 + (*q++ - '0');
	}
	else
		return NULL;

	/* up to 18 digits always fit an int64 */
	if (*q == '.' || *q == 'e' || *q == 'E' || q - digits > 18)
		return NULL;
	i = neg ? -(int64) v : (int64) v;
	switch (kind)
	{
		case ESI_V_INT8:
			*result = Int64GetDatum(i);
			return q;
		case ESI_V_INT4:
			if (i < PG_INT32_MIN || i > PG_INT32_MAX)
				return NULL;
			*result = Int32GetDatum((int32) i);
			return q;
		default:
			if (i < PG_INT16_MIN || i > PG_INT16_MAX)
				return NULL;
			*result = Int16GetDatum((int16) i);
			return q;
	}
}

/*
 * Split a validated number token into an integer mantissa and a power of
 * ten.  False when the mantissa needs more than 19 significant digits or
 * the exponent is unreasonably long, which the exact paths cannot use.
 */
static pg_attribute_always_inline bool
decompose_number(const char *p, const char *e, bool *neg,
				 uint64 *mantissa, int *exp10)
{
	uint64		m = 0;
	int			sig = 0;
	int			ex = 0;

	*neg = (*p == '-');
	if (*neg)
		p++;
	for (; p < e && IS_DIGIT(*p); p++)
	{
		if (m != 0 || *p != '0')
		{
			if (++sig > 19)
				return false;
			m = m * 10 + (*p - '0');
		}
	}
	if (p < e && *p == '.')
	{
		for (p++; p < e && IS_DIGIT(*p); p++)
		{
			if (m != 0 || *p != '0')
			{
				if (++sig > 19)
					return false;
				m = m * 10 + (*p - '0');
			}
			ex--;
		}
	}
	if (p < e)					/* exponent */
	{
		bool		eneg = false;
		int			x = 0;
		int			ndig = 0;

		p++;
		if (*p == '+' || *p == '-')
			eneg = (*p++ == '-');
		for (; p < e; p++)
		{
			if (++ndig > 5)
				return false;
			x = x * 10 + (*p - '0');
		}
		ex += eneg ? -x : x;
	}
	*mantissa = m;
	*exp10 = ex;
	return true;
}

/*
 * Exact decimal-to-double conversion for the common case.  When the
 * mantissa m is at most 2^53 and |exp10| <= 22, both m and 10^|exp10| are
 * exactly representable doubles, so a single IEEE multiplication or
 * division yields the correctly rounded value of m * 10^exp10, which is
 * what a correct strtod() returns too.  That requires arithmetic in plain
 * double precision (FLT_EVAL_METHOD 0, i.e. SSE2 or any 64-bit target);
 * elsewhere everything goes to strtod().
 */
static pg_attribute_always_inline bool
fast_float8(const char *s, const char *e, double *result)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
	bool		neg;
	uint64		m;
	int			ex;
	double		v;

	if (!decompose_number(s, e, &neg, &m, &ex) || m > (UINT64CONST(1) << 53))
		return false;
	if (m == 0)
		v = 0.0;
	else if (ex == 0)
		v = (double) m;
	else if (ex > 0 && ex <= 22)
		v = (double) m * exact_pow10[ex];
	else if (ex < 0 && ex >= -22)
		v = (double) m / exact_pow10[-ex];
	else
		return false;
	*result = neg ? -v : v;
	return true;
#else
	return false;
#endif
}

/*
 * The same for float4: m <= 2^24 and |exp10| <= 10 are exact in a float.
 */
static bool
fast_float4(const char *s, const char *e, float *result)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
	bool		neg;
	uint64		m;
	int			ex;
	float		v;

	if (!decompose_number(s, e, &neg, &m, &ex) || m > (UINT64CONST(1) << 24))
		return false;
	if (m == 0)
		v = 0.0f;
	else if (ex == 0)
		v = (float) m;
	else if (ex > 0 && ex <= 10)
		v = (float) m * exact_pow10f[ex];
	else if (ex < 0 && ex >= -10)
		v = (float) m / exact_pow10f[-ex];
	else
		return false;
	*result = neg ? -v : v;
	return true;
#else
	return false;
#endif
}

/*
 * Datum for a number token s..e.  Integer and float columns are converted
 * here; anything unusual (a fraction for an integer column, overflow,
 * underflow) goes to the input function, which raises the type's error.
 */
static pg_attribute_always_inline Datum
number_datum(EsiDecoder *d, EsiDecodeColumn *col,
			 const char *s, const char *e, bool is_int)
{
	int64		i;

	switch (col->kind)
	{
		case ESI_V_INT8:
			if (is_int && parse_int64(s, e, &i))
				return Int64GetDatum(i);
			break;
		case ESI_V_INT4:
			if (is_int && parse_int64(s, e, &i) &&
				i >= PG_INT32_MIN && i <= PG_INT32_MAX)
				return Int32GetDatum((int32) i);
			break;
		case ESI_V_INT2:
			if (is_int && parse_int64(s, e, &i) &&
				i >= PG_INT16_MIN && i <= PG_INT16_MAX)
				return Int16GetDatum((int16) i);
			break;
		case ESI_V_FLOAT8:
			{
				double		f;
				char	   *endptr;

				if (fast_float8(s, e, &f))
					return Float8GetDatum(f);
				/* the token ends at a delimiter, so strtod stops there */
				errno = 0;
				f = strtod(s, &endptr);
				if (endptr == e && errno == 0)
					return Float8GetDatum(f);
				break;
			}
		case ESI_V_FLOAT4:
			{
				float		f;
				char	   *endptr;

				if (fast_float4(s, e, &f))
					return Float4GetDatum(f);
				errno = 0;
				f = strtof(s, &endptr);
				if (endptr == e && errno == 0)
					return Float4GetDatum(f);
				break;
			}
		case ESI_V_TEXT:
			return text_from_bytes(s, e - s, false);
		default:
			break;
	}
	return input_from_raw(d, col, s, e, false);
}

/*
 * Parse "YYYY-MM-DD" at s into days since the PostgreSQL epoch; false if
 * it is not exactly that with a valid date in years 1..9999.
 */
static pg_attribute_always_inline bool
parse_ymd(const char *s, int *days)
{
	int			y1 = TWO_DIGITS(s);
	int			y2 = TWO_DIGITS(s + 2);
	int			mon = TWO_DIGITS(s + 5);
	int			mday = TWO_DIGITS(s + 8);
	int			year;

	if (y1 < 0 || y2 < 0 || s[4] != '-' || s[7] != '-' || mon < 1 ||
		mon > 12 || mday < 1)
		return false;
	year = y1 * 100 + y2;
	if (year < 1 || mday > day_tab[isleap(year)][mon - 1])
		return false;
	*days = date2j(year, mon, mday) - POSTGRES_EPOCH_JDATE;
	return true;
}

/*
 * Fast path for ISO 8601 timestamps as ESI writes them:
 * "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+00:00)", the zone being optional for
 * timestamp without time zone (which ignores a zone, as timestamp_in
 * does).  Returns false for anything else or out of range, so that the
 * input function decides; a fraction with a typmod also goes there, for
 * its rounding.
 */
static bool
parse_timestamp(const char *s, int len, bool with_tz, int32 typmod,
				int64 *result)
{
	const char *e = s + len;
	const char *p;
	int			days;
	int			hour;
	int			min;
	int			sec;
	int64		usec = 0;

	if (len < 19 || !parse_ymd(s, &days) || (s[10] != 'T' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':')
		return false;
	hour = TWO_DIGITS(s + 11);
	min = TWO_DIGITS(s + 14);
	sec = TWO_DIGITS(s + 17);
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
		return false;

	p = s + 19;
	if (p < e && *p == '.')
	{
		int			ndig = 0;

		if (typmod >= 0)
			return false;
		for (p++; p < e && IS_DIGIT(*p); p++)
		{
			if (++ndig > 6)
				return false;	/* needs rounding: input function */
			usec = usec * 10 + (*p - '0');
		}
		if (ndig == 0)
			return false;
		while (ndig++ < 6)
			usec *= 10;
	}
	if (p == e)
	{
		if (with_tz)
			return false;		/* the session time zone applies */
	}
	else if (!((e - p == 1 && *p == 'Z') ||
			   (e - p == 6 && memcmp(p, "+00:00", 6) == 0)))
		return false;

	*result = ((int64) days * SECS_PER_DAY +
			   hour * SECS_PER_HOUR + min * SECS_PER_MINUTE + sec) *
		USECS_PER_SEC + usec;
	return true;
}

/*
 * Datum for the string whose body is s..e (quotes at s[-1] and e[0]).
 */
static pg_attribute_always_inline Datum
string_datum(EsiDecoder *d, EsiDecodeColumn *col,
			 const char *s, const char *e, int flags)
{
	int64		ts;
	int			days;

	switch (col->kind)
	{
		case ESI_V_TEXT:
			if (likely(flags == 0))
				return text_from_bytes(s, e - s, false);
			if (flags == STR_HIGHBIT && GetDatabaseEncoding() == PG_UTF8)
				return text_from_bytes(s, e - s, false);
			return text_from_string_slow(d, col, s, e, flags);
		case ESI_V_TIMESTAMPTZ:
			if (flags == 0 && parse_timestamp(s, e - s, true, col->typmod, &ts))
				return TimestampTzGetDatum(ts);
			break;
		case ESI_V_TIMESTAMP:
			if (flags == 0 && parse_timestamp(s, e - s, false, col->typmod, &ts))
				return TimestampGetDatum(ts);
			break;
		case ESI_V_DATE:
			if (flags == 0 && e - s == 10 && parse_ymd(s, &days))
				return DateADTGetDatum(days);
			break;
		case ESI_V_JSONB:
		case ESI_V_JSON:
			/* the quoted JSON text itself */
			return input_from_raw(d, col, s - 1, e + 1,
								  (flags & STR_HIGHBIT) != 0);
		default:
			break;
	}
	return input_from_string(d, col, s, e, flags);
}

/*
 * Convert the value at p into col's slot; returns the position after the
 * value.  "depth" is the number of containers around the value.
 */
static pg_attribute_always_inline const char *
convert_value(EsiDecoder *d, EsiDecodeColumn *col, const char *p,
			  int depth, Datum *values, bool *nulls)
{
	int			attidx = col->attidx;
	const char *e;
	int			flags = 0;
	int			which;
	bool		is_int;

	switch (*p)
	{
		case '"':
			e = scan_string(d, p + 1, &flags);
			values[attidx] = string_datum(d, col, p + 1, e, flags);
			nulls[attidx] = false;
			return e + 1;
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			if (col->kind == ESI_V_INT8 || col->kind == ESI_V_INT4 ||
				col->kind == ESI_V_INT2)
			{
				e = scan_integer(p, col->kind, &values[attidx]);
				if (likely(e != NULL))
				{
					nulls[attidx] = false;
					return e;
				}
			}
			e = scan_number(d, p, &is_int);
			values[attidx] = number_datum(d, col, p, e, is_int);
			nulls[attidx] = false;
			return e;
		case 't':
		case 'f':
		case 'n':
			e = scan_literal(d, p, &which);
			if (which < 0)
			{
				values[attidx] = (Datum) 0;
				nulls[attidx] = true;
				return e;
			}
			if (col->kind == ESI_V_BOOL)
				values[attidx] = BoolGetDatum(which != 0);
			else if (col->kind == ESI_V_TEXT)
				values[attidx] = text_from_bytes(p, e - p, false);
			else
				values[attidx] = input_from_raw(d, col, p, e, false);
			nulls[attidx] = false;
			return e;
		case '{':
		case '[':
			/* nested: validate it, then hand its text over */
			e = skip_value(d, p, depth);
			if (col->kind == ESI_V_TEXT)
			{
				ErrorContextCallback cb;
				DecodeErrorContext ctx;

				PUSH_ERROR_CONTEXT(cb, ctx, d, col);
				values[attidx] = text_from_bytes(p, e - p, true);
				POP_ERROR_CONTEXT(cb);
			}
			else
				values[attidx] = input_from_raw(d, col, p, e, true);
			nulls[attidx] = false;
			return e;
		default:
			json_error(d, p, "expected a JSON value");
	}
}

/*
 * Decode the object at p (its '{', opening nesting level "level") as one
 * record.  Returns the position after the '}'.
 */
static const char *
decode_record(EsiDecoder *d, const char *p, int level,
			  Datum *values, bool *nulls)
{
	EsiDecodeColumn *cols = d->cols;
	int			ncols = d->ncols;
	int			i;

	if (ncols == 0)
		return skip_object(d, p, level);

	/* absent fields are NULL */
	for (i = 0; i < ncols; i++)
	{
		values[cols[i].attidx] = (Datum) 0;
		nulls[cols[i].attidx] = true;
	}

	p = skip_ws(p + 1);
	if (*p == '}')
		return p + 1;
	for (;;)
	{
		const char *ks;
		const char *ke;
		int			flags = 0;
		EsiDecodeColumn *col;

		if (unlikely(*p != '"'))
			json_error(d, p, "expected a string as object key");
		ks = p + 1;
		ke = scan_string(d, ks, &flags);
		p = ke + 1;
		if (unlikely(*p != ':'))
		{
			p = skip_ws(p);
			if (*p != ':')
				json_error(d, p, "expected ':' after object key");
		}
		p = skip_ws(p + 1);

		if (likely(!(flags & STR_ESCAPED)))
			col = match_column(d, ks, ke - ks);
		else
			col = match_escaped_key(d, ks, ke);
		if (col)
			p = convert_value(d, col, p, level, values, nulls);
		else
			p = skip_value(d, p, level);

		if (likely(*p == ','))
			p = skip_ws(p + 1);
		else
		{
			p = skip_ws(p);
			if (*p == ',')
				p = skip_ws(p + 1);
			else if (*p == '}')
				return p + 1;
			else
				json_error(d, p, "expected ',' or '}' after object member");
		}
	}
}

/*
 * Decode a lone value at p (an element of a VALUES array, or a VALUE body)
 * into the first column.  Returns the position after it.
 */
static const char *
decode_single(EsiDecoder *d, const char *p, int depth,
			  Datum *values, bool *nulls)
{
	int			i;

	if (d->ncols == 0)
		return skip_value(d, p, depth);

	/* other columns cannot get a value from a scalar */
	for (i = 1; i < d->ncols; i++)
	{
		values[d->cols[i].attidx] = (Datum) 0;
		nulls[d->cols[i].attidx] = true;
	}
	return convert_value(d, &d->cols[0], p, depth, values, nulls);
}

/*
 * Complain that the reply (or one record of it) is valid JSON of the wrong
 * kind.  The value at p is validated first, so that a syntax error in it is
 * reported as such.
 */
static void
shape_error(EsiDecoder *d, const char *p, int depth, bool element)
	pg_attribute_noreturn();

static void
shape_error(EsiDecoder *d, const char *p, int depth, bool element)
{
	const char *found = json_type_name(p);
	const char *e = skip_value(d, p, depth);

	if (element)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("unexpected JSON %s in ESI reply for route %s",
						found, d->route),
				 errdetail("Element %lld of the records array is a JSON %s, but records must be objects.",
						   (long long) d->nrecords + 1, found),
			 errhint("%s", layout_hint(d))));

	check_trailing(d, e);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("unexpected JSON %s in ESI reply for route %s",
					found, d->route),
			 errdetail("The reply was expected to be %s.",
					   d->groups ? "an object whose members are arrays" :
					   d->shape == ESI_SHAPE_ARRAY ?
					   "an array of objects, or an object holding one" :
					   d->shape == ESI_SHAPE_OBJECT ? "an object" :
					   "an array of values"),
			 errhint("%s", layout_hint(d))));
}

/*
 * Read the key of an object member at p (its '"') and the ':' after it:
 * the key's raw body is *ks..*ke, scan_string's flags in *kflags.  Returns
 * the position of the member's value.  For the envelope, cursor and
 * groups objects; records have their own, faster loop.
 */
static const char *
scan_member_key(const EsiDecoder *d, const char *p, const char **ks,
				const char **ke, int *kflags)
{
	if (*p != '"')
		json_error(d, p, "expected a string as object key");
	*ks = p + 1;
	*ke = scan_string(d, *ks, kflags);
	p = skip_ws(*ke + 1);
	if (*p != ':')
		json_error(d, p, "expected ':' after object key");
	return skip_ws(p + 1);
}

/*
 * Copy a cursor string (body s..e) into a palloc'd C string.  Cursors go
 * back to ESI verbatim, so they stay in UTF-8.
 */
static char *
cursor_string(const char *s, const char *e)
{
	char	   *str = palloc(e - s + 1);
	int			len = unescape_string(s, e, str, false);

	str[len] = '\0';
	return str;
}

/*
 * Scan the envelope's "cursor" object at p (its '{', at nesting level 2)
 * for its "before" and "after" strings.  Returns the position after it.
 */
static const char *
scan_cursor(EsiDecoder *d, const char *p)
{
	p = skip_ws(p + 1);
	if (*p == '}')
		return p + 1;
	for (;;)
	{
		const char *ks;
		const char *ke;
		int			kflags = 0;
		bool		is_before;

		p = scan_member_key(d, p, &ks, &ke, &kflags);
		is_before = key_equals(ks, ke, kflags, "before");
		if (*p == '"' && is_before)
		{
			int			vflags = 0;
			const char *ve = scan_string(d, p + 1, &vflags);

			/* a repeated key: the last one wins, as for record fields */
			d->cursor_before = cursor_string(p + 1, ve);
			p = ve + 1;
		}
		else
			p = skip_value(d, p, 2);
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p == '}')
			return p + 1;
		else
			json_error(d, p, "expected ',' or '}' after object member");
	}
}

/*
 * Pre-scan an envelope object at p: validate all of it, find the records
 * array (the member named records_key, or the first array-valued member)
 * and the cursor, wherever they are, then position the decoder at the
 * first record.
 */
static void
scan_envelope(EsiDecoder *d, const char *p)
{
	const char *records = NULL;
	bool		have_records = false;

	p = skip_ws(p + 1);
	if (*p != '}')
	{
		for (;;)
		{
			const char *ks;
			const char *ke;
			int			kflags = 0;

			p = scan_member_key(d, p, &ks, &ke, &kflags);

			if (d->records_key ?
				key_equals(ks, ke, kflags, d->records_key) :
				(!have_records && *p == '['))
			{
				/* a null records member means no records */
				if (*p != '[' && *p != 'n')
				{
					const char *found = json_type_name(p);

					skip_value(d, p, 1);
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
							 errmsg("unexpected JSON %s in ESI reply for route %s",
									found, d->route),
							 errdetail("Member \"%s\" of the reply object is a JSON %s, not an array of records.",
									   d->records_key, found),
			 errhint("%s", layout_hint(d))));
				}
				records = (*p == '[') ? p : NULL;
				have_records = true;
				p = skip_value(d, p, 1);
			}
			else if (*p == '{' && key_equals(ks, ke, kflags, "cursor"))
				p = scan_cursor(d, p);
			else
				p = skip_value(d, p, 1);

			p = skip_ws(p);
			if (*p == ',')
				p = skip_ws(p + 1);
			else if (*p == '}')
				break;
			else
				json_error(d, p, "expected ',' or '}' after object member");
		}
	}
	check_trailing(d, p + 1);

	if (!have_records)
	{
		if (d->records_key)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("unexpected JSON object in ESI reply for route %s",
							d->route),
					 errdetail("The reply object has no member \"%s\" holding the records.",
							   d->records_key),
			 errhint("%s", layout_hint(d))));
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("unexpected JSON object in ESI reply for route %s",
							d->route),
					 errdetail("The reply was expected to be an array of objects, or an object with an array-valued member holding them."),
			 errhint("%s", layout_hint(d))));
	}
	if (records)
	{
		d->pos = records + 1;
		d->state = ST_ARRAY_FIRST | ST_ENVELOPE;
	}
	else
		d->state = ST_DONE;
}

/*
 * Prepare a decoder for a scan; see decode.h.
 */
void
esi_decoder_init(EsiDecoder *d, EsiShape shape, const char *records_key,
				 EsiDecodeColumn *cols, int ncols, const char *route)
{
	memset(d, 0, sizeof(EsiDecoder));
	d->shape = shape;
	/* an empty records_key option means none, not a member named "" */
	d->records_key = (records_key && records_key[0]) ? records_key : NULL;
	d->cols = cols;
	d->ncols = ncols;
	d->route = route;
	d->state = ST_DONE;
}

/*
 * Prepare a decoder for an object of record arrays; see decode.h.  The
 * records' shape stays in d->shape, so that the per-record path is the
 * scan's; only_key takes the place of records_key.
 */
void
esi_decoder_init_groups(EsiDecoder *d, EsiShape shape, const char *only_key,
						EsiDecodeColumn *cols, int ncols, const char *route)
{
	Assert(shape == ESI_SHAPE_ARRAY || shape == ESI_SHAPE_VALUES);
	esi_decoder_init(d, shape, only_key, cols, ncols, route);
	d->groups = true;
}

/*
 * Set up how a column's value is produced, from its SQL type.  Types
 * without a fast path (varchar, bpchar, domains, ...) use their input
 * function, which also enforces typmods and domain constraints.
 */
void
esi_decode_column_set_type(EsiDecodeColumn *col, Oid typoid, int32 typmod,
						   MemoryContext fn_mcxt)
{
	Oid			infunc;

	switch (typoid)
	{
		case INT2OID:
			col->kind = ESI_V_INT2;
			break;
		case INT4OID:
			col->kind = ESI_V_INT4;
			break;
		case INT8OID:
			col->kind = ESI_V_INT8;
			break;
		case FLOAT4OID:
			col->kind = ESI_V_FLOAT4;
			break;
		case FLOAT8OID:
			col->kind = ESI_V_FLOAT8;
			break;
		case NUMERICOID:
			col->kind = ESI_V_NUMERIC;
			break;
		case TEXTOID:
			col->kind = ESI_V_TEXT;
			break;
		case BOOLOID:
			col->kind = ESI_V_BOOL;
			break;
		case TIMESTAMPTZOID:
			col->kind = ESI_V_TIMESTAMPTZ;
			break;
		case TIMESTAMPOID:
			col->kind = ESI_V_TIMESTAMP;
			break;
		case DATEOID:
			col->kind = ESI_V_DATE;
			break;
		case JSONBOID:
			col->kind = ESI_V_JSONB;
			break;
		case JSONOID:
			col->kind = ESI_V_JSON;
			break;
		default:
			col->kind = ESI_V_OTHER;
			break;
	}
	col->typoid = typoid;
	col->typmod = typmod;
	getTypeInputInfo(typoid, &infunc, &col->typioparam);
	fmgr_info_cxt(infunc, &col->inputfn, fn_mcxt);
}

/*
 * Prepare a column for one field of a reply read outside a scan (a write's
 * answer, a character's lookup, an error body); see decode.h.
 */
void
esi_decode_column_field(EsiDecodeColumn *col, const char *field, int attidx,
						Oid typoid)
{
	memset(col, 0, sizeof(EsiDecodeColumn));
	col->field = field;
	col->fieldlen = strlen(field);
	col->attidx = attidx;
	col->colname = field;
	esi_decode_column_set_type(col, typoid, -1, CurrentMemoryContext);
}

/*
 * Start decoding a page; see decode.h.  Finds where the records are and,
 * for an envelope, validates the whole of it and picks up the cursor.
 */
void
esi_decoder_begin_page(EsiDecoder *d, const char *buf, size_t len)
{
	const char *p;

	Assert(buf[len] == '\0');
	d->buf = buf;
	d->end = buf + len;
	d->pos = buf;
	d->state = ST_DONE;
	d->hint = 0;
	d->nrecords = 0;
	d->cursor_before = NULL;
	d->group = NULL;

	p = skip_ws(buf);
	d->pos = p;
	if (d->groups)
	{
		if (*p != '{')
			shape_error(d, p, 0, false);
		d->pos = p + 1;
		d->state = ST_MEMBER_FIRST;
		return;
	}
	switch (d->shape)
	{
		case ESI_SHAPE_ARRAY:
			if (*p == '[')
			{
				d->pos = p + 1;
				d->state = ST_ARRAY_FIRST;
			}
			else if (*p == '{')
				scan_envelope(d, p);
			else
				shape_error(d, p, 0, false);
			break;
		case ESI_SHAPE_VALUES:
			if (*p != '[')
				shape_error(d, p, 0, false);
			d->pos = p + 1;
			d->state = ST_ARRAY_FIRST;
			break;
		case ESI_SHAPE_OBJECT:
			if (*p != '{')
				shape_error(d, p, 0, false);
			d->state = ST_OBJECT;
			break;
		case ESI_SHAPE_VALUE:
			d->state = ST_VALUE;
			break;
	}
}

/*
 * The group whose key is ks..ke (raw, validated; flags from scan_string)
 * as a palloc'd string in the database encoding.
 */
static char *
group_name(const char *ks, const char *ke, int flags)
{
	char	   *buf = palloc(ke - ks + 1);
	int			len = ke - ks;

	if (flags & STR_ESCAPED)
		len = unescape_string(ks, ke, buf, false);
	else
		memcpy(buf, ks, len);
	return utf8_to_server_cstring(buf, len, (flags & STR_HIGHBIT) != 0);
}

/*
 * Groups: go on to the next member of the object that holds records, from
 * d->pos (after the '{' or after a member's value), and decode its first
 * record.  Members skipped (another key than only_key, null, an empty
 * array) are validated on the way.  Returns false at the object's end,
 * after checking that nothing but whitespace follows it.
 */
static bool
next_group(EsiDecoder *d, Datum *values, bool *nulls)
{
	const char *p = skip_ws(d->pos);
	bool		first = (d->state & ST_KIND_MASK) == ST_MEMBER_FIRST;

	for (;;)
	{
		const char *ks;
		const char *ke;
		int			kflags = 0;

		if (*p == '}')
		{
			check_trailing(d, p + 1);
			d->pos = p + 1;
			d->state = ST_DONE;
			return false;
		}
		if (!first)
		{
			if (*p != ',')
				json_error(d, p, "expected ',' or '}' after object member");
			p = skip_ws(p + 1);
		}
		first = false;

		p = scan_member_key(d, p, &ks, &ke, &kflags);

		if ((d->records_key && !key_equals(ks, ke, kflags, d->records_key)) ||
			*p == 'n')
		{
			/* not wanted, or null: no records */
			p = skip_ws(skip_value(d, p, 1));
			continue;
		}
		if (*p != '[')
		{
			const char *found = json_type_name(p);
			char	   *name = group_name(ks, ke, kflags);

			skip_value(d, p, 1);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("unexpected JSON %s in ESI reply for route %s",
							found, d->route),
					 errdetail("Member \"%s\" of the reply object is a JSON %s, not an array of records.",
							   name, found),
					 errhint("%s", layout_hint(d))));
		}
		p = skip_ws(p + 1);
		if (*p == ']')
		{
			/* an empty array */
			p = skip_ws(p + 1);
			continue;
		}

		/* the group's first record: not ']', so no recursion below */
		d->group = group_name(ks, ke, kflags);
		d->pos = p;
		d->state = ST_ARRAY_FIRST | ST_GROUPS;
		return esi_decoder_next(d, values, nulls);
	}
}

/*
 * Decode the next record into values/nulls; see decode.h.
 */
bool
esi_decoder_next(EsiDecoder *d, Datum *values, bool *nulls)
{
	const char *p = d->pos;
	int			state = d->state & ST_KIND_MASK;
	int			envelope = d->state & (ST_ENVELOPE | ST_GROUPS);

	if (likely(state == ST_ARRAY_NEXT || state == ST_ARRAY_FIRST))
	{
		/* containers around an element: the array, and the envelope */
		int			depth = envelope ? 2 : 1;

		if (likely(*p == ',') && state == ST_ARRAY_NEXT)
			p = skip_ws(p + 1);
		else
		{
			p = skip_ws(p);
			if (*p == ']')
			{
				if (unlikely(envelope & ST_GROUPS))
				{
					/* the group's end: on to the next member */
					d->pos = p + 1;
					d->state = ST_MEMBER_NEXT;
					return next_group(d, values, nulls);
				}
				/* an envelope was checked to its end by begin_page */
				if (!envelope)
					check_trailing(d, p + 1);
				d->pos = p + 1;
				d->state = ST_DONE;
				return false;
			}
			if (state == ST_ARRAY_NEXT)
			{
				if (*p != ',')
					json_error(d, p, "expected ',' or ']' after array element");
				p = skip_ws(p + 1);
			}
		}

		if (d->shape == ESI_SHAPE_ARRAY)
		{
			if (unlikely(*p != '{'))
				shape_error(d, p, depth, true);
			p = decode_record(d, p, depth + 1, values, nulls);
		}
		else
			p = decode_single(d, p, depth, values, nulls);

		d->pos = p;
		d->state = ST_ARRAY_NEXT | envelope;
		d->nrecords++;
		return true;
	}

	if (state == ST_OBJECT)
		p = decode_record(d, p, 1, values, nulls);
	else if (state == ST_VALUE)
		p = decode_single(d, p, 0, values, nulls);
	else if (state == ST_MEMBER_FIRST || state == ST_MEMBER_NEXT)
		return next_group(d, values, nulls);
	else
		return false;

	check_trailing(d, p);
	d->pos = p;
	d->state = ST_DONE;
	d->nrecords++;
	return true;
}
