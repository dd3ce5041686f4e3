/*-------------------------------------------------------------------------
 *
 * esi_error.h
 *		  ESI's HTTP errors and transport failures turned into ereport()s.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_ESI_ERROR_H
#define ESI_ESI_ERROR_H

#include "http.h"
#include "route.h"

extern void esi_report_http_error(EsiRoute *route, EsiTransfer *t,
								  int attempts) pg_attribute_noreturn();
extern void esi_report_http_reply(EsiRoute *route, long status,
								  const char *display, const char *body,
								  size_t len, const char *reset,
								  const char *retry_after,
								  int attempts) pg_attribute_noreturn();
extern void esi_report_transport_error(EsiRoute *route, EsiTransfer *t,
									   int attempts) pg_attribute_noreturn();
extern void esi_report_too_large(EsiRoute *route,
								 EsiTransfer *t) pg_attribute_noreturn();
extern void esi_report_write_unanswered(const char *what,
										EsiTransfer *t) pg_attribute_noreturn();
extern void esi_report_write_gateway(const char *what,
									 EsiTransfer *t) pg_attribute_noreturn();
extern bool esi_reply_refuses_token(EsiTransfer *t, long status);
extern char *esi_error_text(const char *body, size_t len);

#endif							/* ESI_ESI_ERROR_H */
