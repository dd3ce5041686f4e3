/*-------------------------------------------------------------------------
 *
 * valid.h
 *		  The rules for values that reach ESI's wire (valid.c), shared by
 *		  the settings (guc.c) and the options (option.c).
 *
 * Each check returns NULL when the value is fine, else a DETAIL sentence
 * saying what is wrong.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_VALID_H
#define ESI_VALID_H

/* no control characters (CR and LF would start a new header line) */
extern const char *esi_check_wire_text(const char *s);

/* a real date, YYYY-MM-DD, from 2000 (X-Compatibility-Date) */
extern const char *esi_check_date(const char *s);

/* scheme://host[:port][/path], http or https, nothing else */
extern const char *esi_check_base_url(const char *s);

/* URL syntax, for the route and query options */
extern int	esi_url_char_len(const char *s, bool in_query, const char *refuse);
extern bool esi_url_dot_segment(const char *s, int len);

#endif							/* ESI_VALID_H */
