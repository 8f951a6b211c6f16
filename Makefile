# Amtsbote build.
#
# The README's two commands are `make run` and `make test`; both first install what is missing
# (`make deps`), build, and bring up the private PostgreSQL cluster under ./var/pg.
#
#   make            release build   -> build/release/amtsbote
#   make asan       sanitizer build -> build/asan/amtsbote (+ unit test binaries)
#   make run        serve on 127.0.0.1:8008 with ./var/homeserver.yaml
#   make test       unit + end-to-end tests under ASan/UBSan against the private cluster
#   make bench      benchmarks under tests/bench/ (release build)

SHELL      := /bin/bash
PKGS       := libmicrohttpd jansson libsodium libpq libcurl yaml-0.1 libcrypto
# Debian packages: build, runtime (libvips for thumbnails), tests (libolm for real Olm/Megolm
# keys, matrix-nio for a real client library, clang's runtime for LeakSanitizer, clamd for
# the virus-scanning tests, which start their own with a local EICAR-only signature file).
DEB_PKGS   := build-essential pkg-config libmicrohttpd-dev libjansson-dev libsodium-dev \
              libpq-dev postgresql libcurl4-openssl-dev libssl-dev libyaml-dev libolm-dev python3 \
              libvips-dev \
              python3-matrix-nio python3-olm clamav-daemon
PYTHON     := /usr/bin/python3

WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wformat=2 -Wno-unused-parameter -Wvla
BASE_CFLAGS = -std=c17 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -g -I. -Ibuild/gen $(WARN) \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS        = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lresolv -lpthread -lm
# libvips (thumbnails) is not linked: server/thumbnail.c loads it with dlopen in a child
# process; only that file sees its headers (the glib ones as system headers)
VIPS_CFLAGS = $(shell pkg-config --cflags vips 2>/dev/null | sed 's/-I/-isystem /g')

REL_CFLAGS  = $(BASE_CFLAGS) -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2
ASAN_CFLAGS = $(BASE_CFLAGS) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=all
ASAN_LDFLAGS = -fsanitize=address,undefined

SRCS       := $(wildcard server/*.c api/*.c federation/*.c storage/*.c)
LIB_SRCS   := $(filter-out server/main.c,$(SRCS)) build/gen/migrations.c
MIGRATIONS := $(sort $(wildcard storage/migrations/*.sql))
UNIT_SRCS  := $(wildcard tests/server/*_test.c tests/api/*_test.c tests/storage/*_test.c \
                         tests/federation/*_test.c)

REL_OBJS   := $(patsubst %.c,build/release/%.o,$(LIB_SRCS))
ASAN_OBJS  := $(patsubst %.c,build/asan/%.o,$(LIB_SRCS))
UNIT_BINS  := $(patsubst %.c,build/asan/%,$(UNIT_SRCS))
# C programs the end-to-end tests run against a live server (not unit tests: no _test suffix)
E2E_C_BINS := build/asan/tests/e2e/olm_e2e

.PHONY: all release asan deps run test unit e2e bench clean format pg-start pg-stop fuzz
all: release
release: build/release/amtsbote
asan: build/asan/amtsbote $(UNIT_BINS) $(E2E_C_BINS)

# --- dependencies ---------------------------------------------------------------------------
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

# --- build ------------------------------------------------------------------------------------
build/gen/migrations.c: $(MIGRATIONS) storage/embed_migrations.sh
	@mkdir -p $(@D)
	sh storage/embed_migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

build/release/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

build/release/server/thumbnail.o build/asan/server/thumbnail.o: EXTRA_CFLAGS = $(VIPS_CFLAGS)

build/release/libamtsbote.a: $(REL_OBJS)
	rm -f $@ && ar rcs $@ $^
build/asan/libamtsbote.a: $(ASAN_OBJS)
	rm -f $@ && ar rcs $@ $^

build/release/amtsbote: build/release/server/main.o build/release/libamtsbote.a
	$(CC) -o $@ $^ $(LIBS)
build/asan/amtsbote: build/asan/server/main.o build/asan/libamtsbote.a
	$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LIBS)

build/asan/tests/%: build/asan/tests/%.o build/asan/libamtsbote.a
	$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LIBS) $(if $(findstring olm,$*),-lolm)

$(REL_OBJS) $(ASAN_OBJS) build/release/server/main.o build/asan/server/main.o: | build/gen/migrations.c

-include $(shell find build -name '*.d' 2>/dev/null)

# --- run and test -----------------------------------------------------------------------------
pg-start:
	@deploy/dev/pg.sh start
pg-stop:
	@deploy/dev/pg.sh stop

run: deps
	@$(MAKE) --no-print-directory release
	@deploy/dev/pg.sh start
	@deploy/dev/firstrun.sh build/release/amtsbote
	exec build/release/amtsbote -c var/homeserver.yaml

unit: asan
	$(PYTHON) tests/run.py --unit-only

test: deps
	@$(MAKE) --no-print-directory asan release
	@deploy/dev/pg.sh start
	$(PYTHON) tests/run.py

bench: deps
	@dpkg-query -W -f='$${Status}' wrk 2>/dev/null | grep -q 'install ok installed' || \
	  { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk; }
	@$(MAKE) --no-print-directory release
	@deploy/dev/pg.sh start
	$(PYTHON) tests/bench/run.py

# libFuzzer targets (clang): every parser gets one. FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/*_fuzz.c)
FUZZ_LIB_SRCS := server/cjson.c server/b64.c $(wildcard server/config*.c) server/ids.c \
                 server/accesslog.c server/log.c server/ipfilter.c server/xmatrix.c server/sign.c \
                 server/fedacl.c server/fedresolve.c server/multipart.c
fuzz:
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRCS); do \
	  n=$$(basename $$f .c); \
	  clang -std=c17 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -g -O1 -I. \
	    -fsanitize=fuzzer,address,undefined $$f $(FUZZ_LIB_SRCS) -o build/fuzz/$$n \
	    $(shell pkg-config --libs jansson libsodium yaml-0.1) || exit 1; \
	  mkdir -p build/fuzz/$$n.corpus; \
	  build/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 build/fuzz/$$n.corpus \
	    2>&1 | tail -n 3 || exit 1; \
	done

format:
	clang-format -i $(SRCS) $(wildcard server/*.h api/*.h federation/*.h storage/*.h tests/*.h) $(UNIT_SRCS)

clean:
	rm -rf build
