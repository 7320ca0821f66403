# libdsql — the README's commands. Each target installs what is missing first.
#   make run    build, start a throwaway PostgreSQL, run the main example, stop it
#   make test   Debug build with ASan+UBSan (and TSan for the pool), every test via CTest;
#               the Release build (tests included) must compile without warnings too
#   make bench  benchmarks side by side (see bench/)
#   make fuzz   every libFuzzer target for FUZZ_SECONDS (default 60) each (docs/reliability.md)
#   make install [PREFIX=/usr/local]   make clean   make format

PREFIX      ?= /usr/local
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CC          ?= cc
BUILD       := build/release
DEBUG_BUILD := build/debug
TSAN_BUILD  := build/tsan
RELCHECK_BUILD := build/release-check
CMAKE_FLAGS ?=

.PHONY: soak all build deps run test test-debug test-tsan bench fuzz install clean format

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	  -DDSQL_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

# The build's output goes to a log (shown only when the build fails), so what `make run`
# prints is the target and the examples' lines. ARGS="--sync -v" passes flags on.
run: deps
	@mkdir -p build
	@echo "building (log: build/run-build.log)..."
	@$(MAKE) --no-print-directory build >build/run-build.log 2>&1 || \
	  { tail -n 40 build/run-build.log; echo "make run: the build failed" >&2; exit 1; }
	@scripts/run-example.sh $(BUILD) $(ARGS)

test: deps
	@cmake -S . -B $(DEBUG_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDSQL_SANITIZE=address,undefined \
	  $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(DEBUG_BUILD) -j $(JOBS)
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDSQL_SANITIZE=thread \
	  -DDSQL_BUILD_EXAMPLES=OFF -DDSQL_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	@# The optimised build with its tests, compiled only: gcc -O3 warns about things -O1
	@# does not see, and `make run` / `make install` build this way.
	@cmake -S . -B $(RELCHECK_BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELCHECK_BUILD) -j $(JOBS)
	@LOCALPG_DIR=$(CURDIR)/build/localpg-test DSQL_LOCAL_BIN=$(CURDIR)/$(DEBUG_BUILD)/bin/dsql-local \
	  scripts/with-dsql-local.sh scripts/run-tests.sh $(DEBUG_BUILD) $(TSAN_BUILD) $(RELCHECK_BUILD)
	@# A real cluster (CLUSTER_ENDPOINT set): its test runs in the caller's own environment
	@# (AWS credentials, profile), not the local endpoint's.
	@if [ -n "$$CLUSTER_ENDPOINT" ]; then \
	  echo "make test: the Aurora DSQL cluster $$CLUSTER_ENDPOINT"; \
	  DSQL_TEST_CLUSTER_ENDPOINT="$$CLUSTER_ENDPOINT" \
	  DSQL_TEST_CLUSTER_REGION="$${CLUSTER_REGION:-$$REGION}" \
	  DSQL_TEST_CLUSTER_USER="$$CLUSTER_USER" \
	  ctest --test-dir $(DEBUG_BUILD) -R '^integration/test_dsql_cluster$$' --output-on-failure; \
	fi

bench: build
	@scripts/deps.sh bench
	@LOCALPG_DIR=$(CURDIR)/build/localpg-bench scripts/with-localpg.sh bench/run.sh $(BUILD)
	@LOCALPG_DIR=$(CURDIR)/build/localpg-bench-local DSQL_LOCAL_BIN=$(CURDIR)/$(BUILD)/bin/dsql-local \
	  scripts/with-dsql-local.sh bench/local.sh $(BUILD)

# The bank workload under injected faults for SOAK_SECONDS (default 300): every cent kept,
# every unknown outcome reconciled (docs/reliability.md).
soak: deps
	@cmake -S . -B $(DEBUG_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDSQL_SANITIZE=address,undefined \
	  $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(DEBUG_BUILD) -j $(JOBS) --target test_bank_soak_tsan dsql-local
	@LOCALPG_DIR=$(CURDIR)/build/localpg-soak DSQL_LOCAL_BIN=$(CURDIR)/$(DEBUG_BUILD)/bin/dsql-local \
	  scripts/with-dsql-local.sh scripts/soak.sh $(DEBUG_BUILD)

fuzz: deps
	@scripts/fuzz.sh $(FUZZ_TARGETS)

# ldconfig: the loader only finds a new library in /usr/local/lib once its cache is rebuilt.
install: build
	@cmake --install $(BUILD)
	@if [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then ldconfig; fi

clean:
	@if [ -x scripts/localpg.sh ]; then \
	  for d in build/localpg build/localpg-*; do [ -e "$$d" ] && LOCALPG_DIR=$(CURDIR)/$$d scripts/localpg.sh stop || true; done; fi
	rm -rf build

format:
	@scripts/deps.sh format
	@git ls-files '*.c' '*.h' | xargs clang-format -i
