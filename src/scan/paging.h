/*-------------------------------------------------------------------------
 *
 * paging.h
 *		  What the next request of a walk through a paged result is.
 *
 * ESI pages results three ways: X-Pages (page=N, the count in a header of
 * page 1), cursors (a "before" token in each reply's body) and from_id (the
 * smallest id of a page asks for the next).  An EsiWalk follows one
 * request's result through its pages, whatever the style: it is told each
 * reply's headers and what the decoder found on each page, and says which
 * page to ask for next.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_PAGING_H
#define ESI_PAGING_H

#include "request.h"
#include "route.h"

/* Which page of a walk one request asks for */
typedef struct EsiPageKey
{
	int			page;			/* X-Pages walks: 1..n; 0 otherwise */
	char	   *token;			/* before= token or from_id= value; NULL on
								 * the first page */
	int64		from_id;		/* from_id walks: token as a number */
} EsiPageKey;

/* What the scan found on a decoded page */
typedef struct EsiPageFacts
{
	int64		records;		/* records on the page */
	int64		rows;			/* rows the scan returned from them */
	const char *cursor_before;	/* the reply's "cursor": {"before": ..} */
	bool		have_min_id;	/* from_id walks: smallest id among the rows */
	int64		min_id;
} EsiPageFacts;

typedef struct EsiWalk EsiWalk;

extern EsiWalk *esi_walk_begin(EsiRoute *route, EsiRequest *req);
extern bool esi_walk_next(EsiWalk *w, EsiPageKey *key);
extern bool esi_walk_finished(EsiWalk *w);
extern void esi_walk_reply(EsiWalk *w, const EsiPageKey *key,
						   const char *x_pages, const char *last_modified);
extern bool esi_walk_matches(EsiWalk *w, const EsiPageKey *key,
							 const char *x_pages, const char *last_modified);
extern void esi_walk_page_done(EsiWalk *w, const EsiPageKey *key,
							   const EsiPageFacts *facts);

extern bool esi_paging_keep_record(const EsiPageKey *key, EsiPageFacts *facts,
								   int64 id);
extern char *esi_paging_display(EsiRoute *route, EsiRequest *req,
								const EsiPageKey *key);

#endif							/* ESI_PAGING_H */
