# restic-manager — one non-recursive GNU Makefile.
#   make          release-ish build in build/
#   make check    deps + ASan/UBSan build in build/asan + unit, fuzz-replay, e2e tests
#   make demo     deps + build + server + local agent + first snapshot
#   make bench    benchmarks (bench/), not part of check
#   make fuzz     libFuzzer targets with clang (build/fuzz)
#   make deb      .deb packages for server and agent (build/deb)
SHELL := /bin/bash
.DEFAULT_GOAL := all

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
COMMIT  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
BUILD_DATE := $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)

# B: build root (helpers and parallel builds may use their own, e.g. make B=build-x)
B ?= build
CC ?= cc
# Link lists per binary: each links only what it uses. The agent needs no SQLite and no
# zlib, and libcurl only at enrollment, where it is dlopen'd (headers only at build time).
COMMON_PKGS := libsodium jansson
AGENT_PKGS  := $(COMMON_PKGS) libwebsockets libuv openssl
# the server speaks HTTP/WebSocket itself (src/server/http): no libwebsockets; libcurl only
# for outbound requests (OIDC provider: engine/oidc_http.c, run in the thread pool) and
# alert deliveries (engine/channels*.c: webhook, ntfy, SMTP via curl_multi on the loop)
SERVER_PKGS := $(COMMON_PKGS) libuv sqlite3 libcrypto zlib libcurl
PKGS := $(sort $(AGENT_PKGS) $(SERVER_PKGS) libcurl)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
COMMON_LIBS = $(shell pkg-config --libs $(COMMON_PKGS) 2>/dev/null) -lpthread
AGENT_LIBS  = $(shell pkg-config --libs $(AGENT_PKGS) 2>/dev/null)
SERVER_LIBS = $(shell pkg-config --libs $(SERVER_PKGS) 2>/dev/null)
SERVER_TEST_LIBS = $(SERVER_LIBS)

WARN := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wformat-security -Wvla -Wpointer-arith \
        -Wno-unused-parameter -Wno-missing-field-initializers
DEFS := -D_GNU_SOURCE -DRM_VERSION='"$(VERSION)"' -DRM_COMMIT='"$(COMMIT)"' \
        -DRM_BUILD_DATE='"$(BUILD_DATE)"'
BASE_CFLAGS := -std=c17 $(WARN) $(DEFS) -Isrc -MMD -MP

# variant: rel (build/) or asan (build/asan/)
REL_CFLAGS  := -O2 -g
# RM_TEST_BUILD: test-only switches (e.g. RM_ARGON2_CHEAP) exist in this build only
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -DRM_TEST_BUILD
ASAN_LDFLAGS := -fsanitize=address,undefined

COMMON_SRC := $(sort $(wildcard src/common/*.c))
SERVER_SRC := $(sort $(shell find src/server -name '*.c' 2>/dev/null)) $(B)/gen/web_assets.c
AGENT_SRC  := $(sort $(shell find src/agent -name '*.c' 2>/dev/null))
SERVER_LIB_SRC := $(filter-out src/server/main.c,$(SERVER_SRC))
AGENT_LIB_SRC  := $(filter-out src/agent/main.c,$(AGENT_SRC))

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

# ---------------------------------------------------------------- web bundle
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/build.mjs $(wildcard deploy/install.sh)
node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@
$(B)/web/.stamp: $(WEB_SRC) node_modules/.stamp
	node web/build.mjs $(B)/web
	@touch $@
$(B)/gen/web_assets.c: $(B)/web/.stamp tools/embed-assets.mjs
	@mkdir -p $(B)/gen
	node tools/embed-assets.mjs $(B)/web $@

# version info is compiled into main.o; rebuild it when the commit changes
.PHONY: FORCE
$(B)/version.stamp: FORCE
	@mkdir -p $(B); v='$(VERSION) $(COMMIT) $(BUILD_DATE)'; echo "$$v" | cmp -s - $@ || echo "$$v" > $@

# ---------------------------------------------------------------- variants
define variant
# $(1)=dir $(2)=cflags $(3)=ldflags
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $(2) $$(PKG_CFLAGS) -c $$< -o $$@
$(1)/obj/$(B)/gen/%.o: $(B)/gen/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $(2) -Wno-overlength-strings -c $$< -o $$@
$(1)/obj/src/server/main.o $(1)/obj/src/agent/main.o: $(B)/version.stamp
$(1)/libcommon.a: $$(patsubst %.c,$(1)/obj/%.o,$$(COMMON_SRC))
	@rm -f $$@; ar rcs $$@ $$^
$(1)/libserver.a: $$(patsubst %.c,$(1)/obj/%.o,$$(SERVER_LIB_SRC))
	@rm -f $$@; ar rcs $$@ $$^
$(1)/libagent.a: $$(patsubst %.c,$(1)/obj/%.o,$$(AGENT_LIB_SRC))
	@rm -f $$@; ar rcs $$@ $$^
$(1)/restic-manager-server: $(1)/obj/src/server/main.o $(1)/libserver.a $(1)/libcommon.a
	$$(CC) $(3) -o $$@ $$^ $$(SERVER_LIBS) -lm
$(1)/restic-manager-agent: $(1)/obj/src/agent/main.o $(1)/libagent.a $(1)/libcommon.a
	$$(CC) $(3) -o $$@ $$^ $$(AGENT_LIBS) -lm
$(1)/tests/test_common_%: $(1)/obj/tests/unit/test_common_%.o $(1)/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(3) -o $$@ $$^ $$(COMMON_LIBS) -lm
$(1)/tests/test_server_%: $(1)/obj/tests/unit/test_server_%.o $(1)/libserver.a $(1)/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(3) -o $$@ $$^ $$(SERVER_TEST_LIBS) -lm
$(1)/tests/test_agent_%: $(1)/obj/tests/unit/test_agent_%.o $(1)/libagent.a $(1)/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(3) -o $$@ $$^ $$(AGENT_LIBS) -lm
# fuzz targets replayed over their corpus with a plain main (no libFuzzer needed)
$(1)/tests/replay_%: $(1)/obj/tests/fuzz/%.o $(1)/obj/tests/fuzz/replay_main.o $(1)/libagent.a $(1)/libserver.a $(1)/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(3) -o $$@ $$^ $$(PKG_LIBS) -lm
endef
$(eval $(call variant,$(B),$(REL_CFLAGS),))
$(eval $(call variant,$(B)/asan,$(ASAN_CFLAGS),$(ASAN_LDFLAGS)))

BINS      := $(B)/restic-manager-server $(B)/restic-manager-agent
ASAN_BINS := $(B)/asan/restic-manager-server $(B)/asan/restic-manager-agent
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_SRC))
REPLAY_BINS := $(patsubst tests/fuzz/%.c,$(B)/asan/tests/replay_%,$(FUZZ_SRC))

.PHONY: all deps check unit fuzz-replay fuzz-smoke e2e demo bench fuzz clean format asan lint-layers \
        lint lint-format lint-calls lint-size deb
# keep objects of chained pattern rules (test and replay objects)
.SECONDARY:
all: $(BINS) $(B)/restic-manager-agent.manifest
asan: $(ASAN_BINS)

# C6 agent updates: a DEVELOPMENT release key (made once in $(B)/dev-release; never for
# production: real releases are signed offline, docs/deployment.md "Release signing") signs
# the build's agent, so the server in $(B) (demo) offers a signed release.
DEV_RELEASE := $(B)/dev-release
$(B)/agent-release.pub: | $(B)/restic-manager-server
	@mkdir -p $(DEV_RELEASE)
	@[ -f $(DEV_RELEASE)/agent-release.key ] || \
	  $(B)/restic-manager-server release-key --generate $(DEV_RELEASE) >/dev/null
	cp $(DEV_RELEASE)/agent-release.pub $@
$(B)/restic-manager-agent.manifest: $(B)/restic-manager-agent $(B)/agent-release.pub
	$(B)/restic-manager-server sign-agent --key $(DEV_RELEASE)/agent-release.key \
	  --version $(VERSION) $< >/dev/null

deps:
	@scripts/install-deps.sh

# ASan: lws loads its libuv backend with dlopen; keep leak checks on.
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS ?= suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0

check: deps
	$(MAKE) lint
	$(MAKE) asan $(UNIT_BINS) $(REPLAY_BINS) $(BINS)
	$(MAKE) unit fuzz-replay fuzz-smoke e2e

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "# $$t"; $$t; done

# Seeds kept elsewhere: the restic output parser's corpus includes the parser tests'
# captured fixtures (tests/data/restic), not copies of them.
FUZZ_SEEDS_restic_output := tests/data/restic
fuzz-replay: $(REPLAY_BINS)
	@set -e; for t in $(REPLAY_BINS); do n=$${t##*/replay_fuzz_}; echo "# replay $$n"; \
	  $$t tests/fuzz/corpus/$$n $(FUZZ_SEEDS_restic_output:%=$$([ $$n = restic_output ] && echo %)); done

# The latency/memory figures of the hostile-client tests need the machine to themselves;
# everything else runs two files at a time (each test starts its own servers on free ports;
# the long C2 outage tests mostly wait). E2E_JOBS=1 runs them one by one.
E2E_JOBS ?= 2
E2E_ALONE := tests/e2e/hardening.test.mjs
E2E_REST = $(filter-out $(E2E_ALONE),$(sort $(wildcard tests/e2e/*.test.mjs)))
e2e: $(ASAN_BINS) $(BINS)
	RM_BIN_DIR=$(CURDIR)/$(B)/asan RM_REL_BIN_DIR=$(CURDIR)/$(B) node --test \
	  --test-concurrency=1 $(E2E_ALONE)
	RM_BIN_DIR=$(CURDIR)/$(B)/asan RM_REL_BIN_DIR=$(CURDIR)/$(B) node --test \
	  --test-concurrency=$(E2E_JOBS) $(E2E_REST)

# includes must follow the layer map in docs/internals/architecture.md (no upward
# includes, no cycles)
lint-layers:
	node tools/check-layers.mjs

# make lint: the tree's style and structure, checked (run by make check)
C_FILES = $(shell find src tests/unit tests/fuzz bench -name '*.[ch]' 2>/dev/null)
lint: lint-format lint-calls lint-layers lint-size
lint-format:
	@clang-format --dry-run --Werror $(C_FILES) && echo "lint-format: ok ($(words $(C_FILES)) files)"
# calls that are easy to get wrong (unbounded copies, silent number parsing, hidden state)
BANNED := strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|tmpnam|mktemp
lint-calls:
	@if grep -rnE '\b($(BANNED))\s*\(' src | grep -vE '\b(snprintf|vsnprintf)\s*\('; then \
	  echo "lint-calls: banned call (use snprintf, rm_strlcpy, rm_parse_i64, strtok_r ...)"; exit 1; \
	else echo "lint-calls: ok"; fi
lint-size:
	node tools/check-size.mjs

# Debian packages (dpkg-deb, no debhelper) of the release binaries into $(B)/deb; checked
# by tests/e2e/c6_deb.test.mjs (lintian + unpack into a scratch dpkg root).
deb: $(BINS)
	scripts/build-deb.sh $(B) $(B)/deb $(VERSION) $(COMMIT)

demo:
	@scripts/install-deps.sh --demo
	$(MAKE) $(BINS) $(B)/restic-manager-agent.manifest
	scripts/demo.sh

bench: deps
	$(MAKE) $(BINS) $(B)/bench/agentsim
	bench/run.sh

$(B)/bench/agentsim: bench/agentsim.c $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(REL_CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer,address,undefined
# server parsers that fuzz targets reach without the HTTP/DB layers
FUZZ_SERVER_SRC := src/server/config.c src/server/http/proxy.c src/server/http/parse.c \
                   src/server/engine/channels.c \
                   src/server/http/wsframe.c src/server/engine/jwt.c
# Every source the targets share is compiled once (coverage-instrumented, no libFuzzer main)
# into one archive; each target links its own file against it.
FUZZ_OBJ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB_SRC := $(COMMON_SRC) $(filter-out src/agent/main.c,$(AGENT_SRC)) $(FUZZ_SERVER_SRC)
FUZZ_LIB_OBJ := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_CC = clang -std=c17 $(DEFS) -D_GNU_SOURCE -Isrc -MMD -MP $(PKG_CFLAGS)

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_OBJ_CFLAGS) -c $< -o $@

$(B)/fuzz/libfuzzdeps.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(B)/fuzz/libfuzzdeps.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(B)/fuzz/libfuzzdeps.a $(PKG_LIBS) -lm

fuzz: $(FUZZ_BINS)
	@echo "run e.g.: $(B)/fuzz/fuzz_envelope -max_total_time=60 tests/fuzz/corpus/envelope"

# bounded coverage-guided run of every target (new inputs go to a temp dir, not the repo)
FUZZ_SECONDS ?= 10
fuzz-smoke: fuzz
	@set -e; for f in $(FUZZ_SRC); do n=$$(basename $$f .c); c=tests/fuzz/corpus/$${n#fuzz_}; \
	  t=$$(mktemp -d); echo "# fuzz $$n for $(FUZZ_SECONDS) s"; \
	  x=; [ $$n = fuzz_restic_output ] && x=$(FUZZ_SEEDS_restic_output); \
	  $(B)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$t $$c $$x 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' ; \
	  st=$${PIPESTATUS[0]}; rm -rf $$t; [ $$st -eq 0 ] || { echo "fuzz $$n failed"; exit 1; }; done

format:
	clang-format -i $$(find src tests bench -name '*.[ch]')

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
