# esi_fdw: PostgreSQL foreign data wrapper for EVE Online's ESI
EXTENSION = esi_fdw
MODULE_big = esi_fdw
OBJS = \
	src/esi_fdw.o \
	src/settings/guc.o \
	src/settings/valid.o \
	src/settings/option.o \
	src/scan/route.o \
	src/scan/request.o \
	src/scan/paging.o \
	src/scan/decode.o \
	src/scan/decode_test.o \
	src/http/http.o \
	src/client/crawl.o \
	src/client/scan_report.o \
	src/client/bearer.o \
	src/client/esi_error.o \
	src/client/cache.o \
	src/client/throttle.o \
	src/client/stats.o \
	src/client/progress.o \
	src/sso/crypto.o \
	src/sso/jwt.o \
	src/sso/sso_test.o \
	src/sso/sso.o \
	src/sso/tokens.o \
	src/sso/logins.o \
	src/sso/token_worker.o \
	src/calls/call.o \
	src/calls/modify.o \
	src/refresh/refresh_worker.o \
	src/refresh/bulk_load.o \
	src/catalog/catalog.o \
	src/catalog/esi_catalog_data.o \
	src/server/shmem.o \
	src/server/worker_db.o \
	src/server/privileged_sql.o \
	src/server/own_xact.o

# The SQL scripts (doc/development.md, "The SQL scripts"): the released ones, frozen,
# in src/ (listed in src/sql/released), and the current version's, built by
# src/sql/build.sh from the sources in src/sql/ into src/sql/built/.  The
# script runs on every make: it also fails when a released script changed.
SQL_BUILT := $(shell sh src/sql/build.sh outputs)
DATA = $(wildcard src/esi_fdw--*.sql)
DATA_built = $(SQL_BUILT)
PGFILEDESC = "esi_fdw - foreign data wrapper for EVE Online ESI"

# pg_regress suite (sql/ + expected/); needs ESI_SIM_URL, see test/run_tests.sh
REGRESS = setup options definitions security market pushdown pushdown_exact paging explain errors catalog planner sim_contract sim_decoder sim_lang cache crypto writes writes_character writes_tables bi_views bulk_load
REGRESS_OPTS = 

# libdeflate inflates gzip replies; plain -ldeflate where it was installed
# without its pkg-config file
DEFLATE_CFLAGS := $(shell pkg-config --cflags libdeflate 2>/dev/null)
DEFLATE_LIBS := $(shell pkg-config --libs libdeflate 2>/dev/null || echo -ldeflate)
# one folder a subsystem (doc/development.md, "Layout"); headers are included by name
ESI_SUBDIRS = settings http scan client sso refresh calls catalog server
PG_CPPFLAGS = -I$(srcdir)/src $(addprefix -I$(srcdir)/src/,$(ESI_SUBDIRS)) $(shell pkg-config --cflags libcurl json-c libcrypto) $(DEFLATE_CFLAGS)
SHLIB_LINK = $(shell pkg-config --libs libcurl json-c libcrypto) $(DEFLATE_LIBS)
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
# the test suite builds with WERROR=1; a plain "make" must not fail on a
# newer compiler's new warning
ifeq ($(WERROR),1)
PG_CFLAGS += -Werror
endif

# SANITIZE=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer
# for the test suite's sanitizer stage (test/sanitize.sh; see doc/development.md's
# "Memory checks").  Every report ends the process (no recovery), so none
# can scroll by unseen; the postmaster needs libasan preloaded, as postgres
# itself is not instrumented.
ifeq ($(SANITIZE),1)
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
PG_CFLAGS += $(SANITIZE_FLAGS)
PG_LDFLAGS += $(SANITIZE_FLAGS)
endif

# JIT bitcode is of no use for an extension that waits on HTTP
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: rebuild everything when one changes
ESI_HEADERS = $(wildcard $(srcdir)/src/*.h $(srcdir)/src/*/*.h)
$(OBJS): $(ESI_HEADERS)

# the current version's SQL scripts, and the checks of the released ones
all: sql-scripts
.PHONY: sql-scripts
sql-scripts:
	sh src/sql/build.sh build
$(SQL_BUILT): sql-scripts ;

# Every header compiles on its own, twice (its include guard), right after
# postgres.h, which only .c files include (PostgreSQL's rule); run by
# test/t/004_headers.sh
.PHONY: check-headers
check-headers:
	@status=0; \
	for h in $$(grep -l '^#include "postgres.h"' $(ESI_HEADERS)); do \
		echo "$$h includes postgres.h: only .c files may"; status=1; \
	done; \
	for h in $(ESI_HEADERS); do \
		b=$$(basename $$h); \
		printf '#include "postgres.h"\n#include "%s"\n#include "%s"\n' $$b $$b | \
			$(CC) $(CPPFLAGS) $(CFLAGS) -fsyntax-only -x c - || \
			{ echo "$$b does not compile alone after postgres.h"; status=1; }; \
	done; exit $$status
