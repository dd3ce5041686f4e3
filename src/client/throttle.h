/*-------------------------------------------------------------------------
 *
 * throttle.h
 *		  ESI's error limit and rate limits, kept for the whole cluster.
 *
 * Before a request is sent it is admitted (or told when to ask again);
 * when its reply arrives the reply's limit headers update the shared state.
 * So every session of the cluster throttles together, before ESI answers
 * 420 or 429, and a 420 or 429 seen by one holds all of them off.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_THROTTLE_H
#define ESI_THROTTLE_H

#include "datatype/timestamp.h"

#include "http.h"

/* a request admitted and not yet answered (counted in flight) */
typedef struct EsiLimitTicket
{
	int			base;			/* slot of the base URL, -1 when not counted */
	int			group;			/* slot of the rate-limit group, or -1 */
	int			cost;			/* tokens it should cost: set by the caller
								 * before esi_limits_admit (0: a 2xx's, 2;
								 * a revalidation, 1 for its 304) */
	bool		paced;			/* its turn was paced: its real cost moves
								 * the group's next turn ... */
	TimestampTz paced_until;	/* ... while that is still the one it set */
} EsiLimitTicket;

/* what a reply costs in a rate-limit bucket (ESI: 2xx 2, 3xx 1, 4xx 5
 * but 429, 5xx 0) */
#define ESI_COST_2XX 2
#define ESI_COST_3XX 1
#define ESI_COST_4XX 5

/* why a request must wait */
typedef enum EsiLimitReason
{
	ESI_LIMIT_NONE,
	ESI_LIMIT_ERROR_WINDOW,		/* few errors left in the error-limit window */
	ESI_LIMIT_ERROR_BLOCKED,	/* after a 420 */
	ESI_LIMIT_RATE_BLOCKED,		/* after a 429 */
	ESI_LIMIT_RATE_PACED		/* the bucket is nearly empty: paced */
} EsiLimitReason;

extern bool esi_limits_admit(const char *base_url, const char *group,
							 const char *who, EsiLimitTicket *ticket,
							 TimestampTz *retry_at, EsiLimitReason *why);
extern void esi_limits_check_deadline(const char *base_url, const char *group,
									  TimestampTz retry_at, EsiLimitReason why,
									  const char *subject);
extern void esi_limits_reply(EsiLimitTicket *ticket, const char *base_url,
							 const char *route_group, const char *who,
							 EsiTransfer *t);
extern void esi_limits_abandon(EsiLimitTicket *ticket);
extern int	esi_limits_error_remain(const char *base_url);

/* its part of shared memory, set up by shmem.c when the server starts */
extern Size esi_limits_shmem_size(void);
extern void esi_limits_shmem_init(void *area, bool found, int tranche);

#endif							/* ESI_THROTTLE_H */
