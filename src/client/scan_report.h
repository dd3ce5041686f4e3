/*-------------------------------------------------------------------------
 *
 * scan_report.h
 *		  What this backend's scans sent to ESI and read from it, reported
 *		  to the snapshot refresh that runs them (scan_report.c).
 *
 * A refresh (esi._refresh_write, in one backend) resets the report, reads
 * ESI through foreign scans, then logs the requests they sent and schedules
 * its next run at the earliest expiry of the replies they read.  The crawl
 * (crawl.c) fills the report; the refresh reads it through SQL functions
 * (esi._watch_reset, _watch_requests, _watch_expires, in refresh_worker.c).
 * Backend-local: nothing here is shared between sessions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_SCAN_REPORT_H
#define ESI_SCAN_REPORT_H

#include "datatype/timestamp.h"

typedef struct EsiScanReport
{
	int64		requests;		/* HTTP requests sent to ESI */
	TimestampTz expires;		/* earliest expiry of a reply read (from ESI
								 * or the cache); DT_NOEND: none read */
} EsiScanReport;

/* the crawl's side */
extern void esi_scan_report_request(void);
extern void esi_scan_report_expiry(TimestampTz expires);

/* the refresh's side */
extern void esi_scan_report_reset(void);
extern EsiScanReport esi_scan_report(void);

#endif							/* ESI_SCAN_REPORT_H */
