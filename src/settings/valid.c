/*-------------------------------------------------------------------------
 *
 * valid.c
 *		  The rules for values that reach ESI's wire: text sent in a header
 *		  or a URL, compatibility dates, base URLs, URL paths and query text.
 *
 * One set of rules, checked by the settings' check hooks (guc.c) and by the
 * options' validator (option.c) alike, so that a value refused as an
 * option is refused as a setting too.  Depends on nothing of esi_fdw.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "valid.h"

/*
 * esi_check_wire_text
 *		Text sent in a header or a URL may not hold control characters
 *		(below 0x20, and 0x7F): CR and LF would start a new header line.
 */
const char *
esi_check_wire_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || (unsigned char) *s == 0x7F)
			return "The value contains a control character (such as a line break or a tab), which cannot be sent in an HTTP request.";
	return NULL;
}

/*
 * esi_check_date
 *		A real calendar date written YYYY-MM-DD, as ESI's
 *		X-Compatibility-Date takes it.
 */
const char *
esi_check_date(const char *s)
{
	int			y,
				m,
				d;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *bad = "ESI compatibility dates are real dates written YYYY-MM-DD, from the year 2000.";

	if (esi_check_wire_text(s) != NULL)
		return esi_check_wire_text(s);
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return bad;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !(s[i] >= '0' && s[i] <= '9'))
			return bad;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 2000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return bad;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return bad;
	return NULL;
}

/*
 * is_hex
 *		True for a hexadecimal digit.
 */
static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * esi_url_char_len
 *		Length of the URL character at s: 3 for a %XX escape, 1 for a
 *		character allowed unencoded in a path segment (RFC 3986 pchar) or,
 *		with in_query, in a query string (also '/' and '?'), 0 for anything
 *		else.  refuse lists further characters to refuse ('&' and '=' in a
 *		query).
 */
int
esi_url_char_len(const char *s, bool in_query, const char *refuse)
{
	unsigned char c = (unsigned char) *s;

	if (c == '%')
		return (is_hex(s[1]) && is_hex(s[2])) ? 3 : 0;
	if (c == '\0' || strchr(refuse, c))
		return 0;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	if (strchr("-._~!$&'()*+,;=:@", c))
		return 1;
	if (in_query && (c == '/' || c == '?'))
		return 1;
	return 0;
}

/*
 * esi_url_dot_segment
 *		True if the path segment s[0..len) is "." or "..", also written with
 *		%2E: servers and libcurl resolve those to another path.
 */
bool
esi_url_dot_segment(const char *s, int len)
{
	int			dots = 0;

	for (int i = 0; i < len;)
	{
		if (s[i] == '.')
			i++;
		else if (s[i] == '%' && i + 2 < len && s[i + 1] == '2' &&
				 (s[i + 2] == 'e' || s[i + 2] == 'E'))
			i += 3;
		else
			return false;
		dots++;
	}
	return dots == 1 || dots == 2;
}

/*
 * check_path
 *		A URL path (possibly empty) made of percent-encoded segments with no
 *		"." or ".." segment, no query string and no fragment.
 */
static const char *
check_path(const char *s)
{
	const char *seg = s;

	for (;;)
	{
		if (*s == '/' || *s == '\0')
		{
			if (esi_url_dot_segment(seg, s - seg))
				return "A path may not contain \".\" or \"..\" segments.";
			if (*s == '\0')
				return NULL;
			seg = ++s;
			continue;
		}
		if (*s == '?' || *s == '#')
			return "A path may not contain '?' or '#': it has no query string or fragment.";
		if (esi_url_char_len(s, false, "") == 0)
			return "A path may only contain letters, digits, -._~!$&'()*+,;=:@ and %XX escapes.";
		s += esi_url_char_len(s, false, "");
	}
}

/*
 * esi_check_base_url
 *		An http or https URL of a host, with an optional port and path, no
 *		user name or password, query string or fragment.
 */
const char *
esi_check_base_url(const char *s)
{
	const char *p;
	const char *host;

	if ((p = esi_check_wire_text(s)) != NULL)
		return p;
	if (strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else
		return "Only http and https URLs are allowed.";

	/* user:password@ would hide the real host from a quick look */
	if (memchr(p, '@', strcspn(p, "/")) != NULL)
		return "A base URL may not hold a user name or password.";
	host = p;
	if (*p == '[')
	{
		/* an IPv6 address */
		for (p++; is_hex(*p) || *p == ':' || *p == '.'; p++)
			;
		if (*p != ']' || p == host + 1)
			return "The URL's host is not a valid IPv6 address in brackets.";
		p++;
	}
	else
	{
		for (; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'; p++)
			;
		if (p == host)
			return "The URL has no host name.";
	}
	if (*p == ':')
	{
		long		port = 0;
		const char *digits = ++p;

		for (; *p >= '0' && *p <= '9' && p - digits < 6; p++)
			port = port * 10 + (*p - '0');
		if (p == digits || port < 1 || port > 65535)
			return "The URL's port is not a number from 1 to 65535.";
	}
	if (*p != '\0' && *p != '/')
		return "A base URL is scheme://host[:port][/path], with no user name, password, query string or fragment.";
	return check_path(p);
}
