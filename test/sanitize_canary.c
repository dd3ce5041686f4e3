/*
 * test/sanitize_canary.c - a module with two deliberate bugs, built with the
 * sanitizers by test/sanitize.sh to show, in the very cluster the stage
 * runs, that a report is written where the stage looks and ends the
 * backend; not part of the extension.
 */
#include "postgres.h"

#include <stdlib.h>

#include "fmgr.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(sanitize_canary);

/*
 * sanitize_canary(kind text) - 'asan': writes one byte past a malloc'd
 * block; 'ubsan': shifts an int by 40 bits
 */
Datum
sanitize_canary(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	volatile int n = 8;
	int			result = 0;

	if (strcmp(kind, "asan") == 0)
	{
		volatile char *p = malloc(n);

		p[n] = 1;
		free((void *) p);
	}
	else if (strcmp(kind, "ubsan") == 0)
		result = 1 << (n * 5);
	PG_RETURN_INT32(result);
}
