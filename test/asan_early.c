/*
 * test/asan_early.c - preloaded after libasan into the sanitizer stage's
 * postmaster (test/sanitize.sh); not part of the extension.
 *
 * postgres is not built with ASan, so the preloaded runtime initializes on
 * the first malloc() it intercepts.  In Debian 12's postgres that first
 * malloc() comes from libgpg-error's ELF constructor (through libsystemd and
 * libgcrypt), inside glibc's bindtextdomain() while it holds the gettext
 * lock for writing; ASan's initialization calls dlerror(), which translates
 * its message and so takes the same lock: the process hangs before main().
 * This bindtextdomain() initializes the runtime first (one malloc outside
 * the lock), then calls glibc's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

char	   *bindtextdomain(const char *domainname, const char *dirname);

/*
 * bindtextdomain - glibc's, once the ASan runtime is initialized
 */
char *
bindtextdomain(const char *domainname, const char *dirname)
{
	static char *(*next) (const char *, const char *);
	void	   *volatile p;

	/* ASan initializes here, outside the lock (volatile: not optimized out) */
	p = malloc(1);

	free(p);
	if (next == NULL)
		next = (char *(*) (const char *, const char *)) dlsym(RTLD_NEXT, "bindtextdomain");
	return next(domainname, dirname);
}
