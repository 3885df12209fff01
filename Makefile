# nexios-cpp — the two commands of the quick start:
#   make demo   install what the demo needs, build the chat example, serve it on http://127.0.0.1:8000
#   make test   install the test dependencies, build everything, run every test
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
CMAKE_FLAGS ?=
# Seconds each fuzz target runs: a smoke run in `make test`, longer with `make fuzz`.
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_SECONDS ?= 600
# Seconds of churn in `make soak` (the chaos test of tests/chaos/, run for as long as asked);
# SOAK_ARGS adds options of tests/chaos/chaos.py (e.g. --only churn, --workers 4).
SOAK_SECONDS ?= 600
SOAK_ARGS ?=

.PHONY: all deps deps-demo configure build demo test test-sanitizers fuzz soak clean

all: build

# scripts/install-deps.sh profiles: `test` is everything, `demo` only what building needs.
deps:
	@bash scripts/install-deps.sh test

deps-demo:
	@bash scripts/install-deps.sh demo

# The full build: library, examples and tests (ON also for a tree first configured by `make demo`).
configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DNEXIOS_BUILD_TESTS=ON -DNEXIOS_BUILD_EXAMPLES=ON $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The demo builds the library and the chat example only. A new build dir is configured without
# the tests (so GTest and Node are not needed); an existing one keeps its settings.
demo: deps-demo
	@if [ -f $(BUILD_DIR)/CMakeCache.txt ]; then \
	  cmake -S . -B $(BUILD_DIR) -DNEXIOS_BUILD_EXAMPLES=ON $(CMAKE_FLAGS) >/dev/null; \
	else \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	    -DNEXIOS_BUILD_TESTS=OFF -DNEXIOS_BUILD_EXAMPLES=ON $(CMAKE_FLAGS) >/dev/null; \
	fi
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target nexios_example_chat
	@echo "nexios demo: the chat example on http://$(DEMO_HOST):$(DEMO_PORT) (open it in two browser windows; Ctrl-C stops it)"
	@$(BUILD_DIR)/bin/chat --host $(DEMO_HOST) --port $(DEMO_PORT)

# Every test: unit, integration, Python/Node/browser clients, conformance, abuse, packaging
# (install/find_package, add_subdirectory, pkg-config), corpus replays, then each fuzz target for
# a short smoke run.
test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600
	@bash fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, the multi-threaded tests
# under ThreadSanitizer (CI runs this after `make test`).
test-sanitizers: deps
	@bash scripts/test-sanitizers.sh all

# Longer fuzzing; crashes are saved under fuzz/regressions/ and replayed by `make test`.
fuzz: deps
	@bash fuzz/run.sh $(FUZZ_SECONDS)

# The chaos test for SOAK_SECONDS: examples/chat under churn with healthy and hostile clients
# (the hostile ones again every 120 s),
# then the summary table (clients, messages, holes, reorders, duplicates, ghosts, bad frames,
# warnings, memory baseline/peak/after, exit code). Fails if any check fails.
# A configured build directory is kept as it is (only the chat example is built); a new one is
# configured as `make build` does.
soak:
	@if [ ! -f $(BUILD_DIR)/CMakeCache.txt ]; then $(MAKE) configure; fi
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target nexios_example_chat
	@/usr/bin/python3 tests/chaos/chaos.py --binary $(BUILD_DIR)/bin/chat --seconds $(SOAK_SECONDS) --hostile-every 120 $(SOAK_ARGS)

clean:
	@rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
