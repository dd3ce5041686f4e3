/*-------------------------------------------------------------------------
 *
 * scan_report.c
 *		  What this backend's scans sent to ESI and read from it, for the
 *		  snapshot refresh that runs them (see scan_report.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "scan_report.h"

/* since the last esi_scan_report_reset (or the backend's start) */
static EsiScanReport report = {0, DT_NOEND};

/*
 * esi_scan_report_request
 *		A scan sent a request to ESI.
 */
void
esi_scan_report_request(void)
{
	report.requests++;
}

/*
 * esi_scan_report_expiry
 *		A scan read a reply that is fresh until expires.
 */
void
esi_scan_report_expiry(TimestampTz expires)
{
	if (expires < report.expires)
		report.expires = expires;
}

/*
 * esi_scan_report_reset
 *		Start the report afresh (a refresh begins).
 */
void
esi_scan_report_reset(void)
{
	report.requests = 0;
	report.expires = DT_NOEND;
}

/*
 * esi_scan_report
 *		The report so far.
 */
EsiScanReport
esi_scan_report(void)
{
	return report;
}
