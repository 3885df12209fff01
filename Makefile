# nexios-cpp — the two commands of the quick start:
#   make demo   install what is missing, build, serve the chat example on http://127.0.0.1:8000
#   make test   install what is missing, build, run every test
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
CMAKE_FLAGS ?=
# Seconds each fuzz target runs: a smoke run in `make test`, longer with `make fuzz`.
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_SECONDS ?= 600

.PHONY: all deps configure build demo test test-sanitizers fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@echo "nexios demo: the chat example on http://$(DEMO_HOST):$(DEMO_PORT) (open it in two browser windows; Ctrl-C stops it)"
	@$(BUILD_DIR)/bin/chat --host $(DEMO_HOST) --port $(DEMO_PORT)

# Every test: unit, integration, Python/Node/browser clients, conformance, abuse, corpus replays,
# then each fuzz target for a short smoke run.
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

clean:
	@rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
