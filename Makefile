# Makefile: the two commands a newcomer needs (run, test) and a few wrappers around CMake.
BUILD    ?= build
ASAN_BUILD ?= build-asan
JOBS     ?= $(shell nproc)
DATA_DIR ?= ./data
ARGS     ?=

.PHONY: all deps test-deps web-deps build run test test-unit test-sanitize test-build-types bench fuzz clean

all: build

deps:
	@scripts/deps.sh

# npm_ci: `npm ci` in directory $(1) ($(2) says what for), only when $(1)/node_modules is
# missing or older than the lock file or package.json. Install scripts never run
# (--ignore-scripts; npm 11 skips them by default anyway): nothing installed here needs them,
# so npm 9 (Debian) and npm 11 install the same tree.
define npm_ci
@set -e; stamp=$(1)/node_modules/.package-lock.json; \
if [ ! -e $$stamp ] || [ $(1)/package-lock.json -nt $$stamp ] || [ $(1)/package.json -nt $$stamp ]; then \
  echo "npm ci in $(1)/ ($(2))"; \
  (cd $(1) && npm ci --no-audit --no-fund --ignore-scripts) && touch $$stamp; \
fi
endef

# test-deps: what the integration tests need besides the build: redis-server, chromium,
# docker-compose (scripts/deps.sh --test), then dynalite and s3rver from tests/package-lock.json
# into tests/node_modules.
test-deps:
	@scripts/deps.sh --test
	$(call npm_ci,tests,dynalite and s3rver)

# web-deps: uPlot from web/package-lock.json into web/node_modules; the build embeds its files
# into diamondd (the graph page at GET /), so every build needs it.
web-deps: deps
	$(call npm_ci,web,uPlot for the graph page)

build: web-deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/diamondd --data-dir $(DATA_DIR) $(ARGS)

# test-deps first, then build (in that order also under make -j: two apt-get runs at once
# would fight over the dpkg lock).
test: test-deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

test-sanitize: test-deps web-deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDM_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Every other build type a user may pick (-O3 and -Os find warnings -O2 does not): each is
# built with -Werror, and the unit tests run in Release.
test-build-types: web-deps
	@set -e; for t in Release MinSizeRel Debug; do \
	  echo "build type $$t"; \
	  cmake -S . -B build-$$t -DCMAKE_BUILD_TYPE=$$t >/dev/null; \
	  cmake --build build-$$t -j $(JOBS); \
	done
	cd build-Release && ctest --output-on-failure -j $(JOBS) -L unit

# bench: bench/$(BENCH).sh on $(BUILD): run (the default), remote or graphite
BENCH ?= run
bench:
	@test -x bench/$(BENCH).sh || { echo "make bench: BENCH=run, remote or graphite" >&2; exit 2; }
	@scripts/deps.sh --bench
	@$(MAKE) --no-print-directory build
	bench/$(BENCH).sh $(BUILD)

# fuzz: every tests/fuzz/fuzz_*.c, built with clang + libFuzzer + ASan/UBSan against the
# parsers' sources (core, codec, ingest, as one archive: each target links what it uses), run
# FUZZ_SECONDS each over a corpus in $(FUZZ_BUILD)/corpus/<name>, seeded from
# tests/fuzz/corpus/<name>. Crashes land in $(FUZZ_BUILD)/artifacts/. Not part of `make test`.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CFLAGS  ?= -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIBS    ?= -lyajl -linih -llz4 -lm -lpthread

fuzz:
	@scripts/deps.sh --fuzz
	@set -e; rm -rf $(FUZZ_BUILD)/obj; mkdir -p $(FUZZ_BUILD)/obj $(FUZZ_BUILD)/artifacts; \
	echo "fuzz: building into $(FUZZ_BUILD)"; \
	ls src/core/*.c src/codec/*.c src/ingest/*.c | xargs -P $(JOBS) -I{} sh -c \
	  '$(FUZZ_CC) $(FUZZ_CFLAGS) -c {} -o $(FUZZ_BUILD)/obj/$$(echo {} | tr / _).o'; \
	rm -f $(FUZZ_BUILD)/libdm_fuzz.a; ar rcs $(FUZZ_BUILD)/libdm_fuzz.a $(FUZZ_BUILD)/obj/*.o; \
	for f in tests/fuzz/fuzz_*.c; do \
	  t=$$(basename $$f .c); \
	  $(FUZZ_CC) $(FUZZ_CFLAGS) $$f $(FUZZ_BUILD)/libdm_fuzz.a $(FUZZ_LIBS) -o $(FUZZ_BUILD)/$$t; \
	done; \
	failed=""; \
	for f in tests/fuzz/fuzz_*.c; do \
	  t=$$(basename $$f .c); n=$${t#fuzz_}; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s (log $(FUZZ_BUILD)/$$t.log)"; \
	  if $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	       -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	       $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n >$(FUZZ_BUILD)/$$t.log 2>&1; then \
	    grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_BUILD)/$$t.log | tail -1; \
	  else \
	    tail -40 $(FUZZ_BUILD)/$$t.log; failed="$$failed $$t"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then \
	  echo "fuzz: FAILED:$$failed (inputs in $(FUZZ_BUILD)/artifacts/)"; exit 1; \
	fi; \
	echo "fuzz: all targets ran $(FUZZ_SECONDS)s without a finding"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-Release build-MinSizeRel build-Debug
