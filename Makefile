# plugbench: the main job is `make bench-quick`; the tests are `make test`.
GO      ?= go
CC      := $(shell $(GO) env CC)
CLANG   ?= clang
BUILD   := fixtures/build
RESULTS := results

# The committed wasm32 module: freestanding clang, no libc, exports by name.
# A 16 KiB stack and one 64 KiB page of initial memory keep instantiation cheap.
WASM_FLAGS := --target=wasm32 -O2 -nostdlib -ffreestanding -fvisibility=hidden \
	'-DPLUGBENCH_BACKEND="wasm"' -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-debug \
	-Wl,-z,stack-size=16384 -Wl,--initial-memory=65536
SO_FLAGS := -O2 -fPIC -shared -fvisibility=hidden '-DPLUGBENCH_BACKEND="dlopen"'

# Benchmark runs. BenchmarkSetup's setup-heavy rows and the rest share one run.
BENCH_QUICK := -run '^$$' -bench . -benchtime=50ms -count=1
BENCH_FULL  := -run '^$$' -bench . -benchtime=500ms -count=10 -timeout=60m

.PHONY: all fixtures wasm wasm-check test bench bench-quick clean

all: test

## fixtures: build every artifact into fixtures/build (used by PLUGBENCH_FIXTURES)
fixtures: $(BUILD)/plugbench-c.so $(BUILD)/plugbench-c.wasm $(BUILD)/plugbench-go.wasm

$(BUILD)/plugbench-c.so: fixtures/c/plugbench.c fixtures/c/plugbench.h
	@mkdir -p $(BUILD)
	$(CC) $(SO_FLAGS) -o $@ fixtures/c/plugbench.c

$(BUILD)/plugbench-c.wasm: fixtures/c/plugbench.wasm
	@mkdir -p $(BUILD)
	cp $< $@

$(BUILD)/plugbench-go.wasm: fixtures/go/main.go
	@mkdir -p $(BUILD)
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -buildmode=c-shared -trimpath -o $@ ./fixtures/go

## wasm: rebuild the committed C wasm module (Debian: apt-get install clang lld)
wasm: fixtures/c/plugbench.wasm

fixtures/c/plugbench.wasm: fixtures/c/plugbench.c fixtures/c/plugbench.h
	$(CLANG) $(WASM_FLAGS) -o $@ fixtures/c/plugbench.c

## wasm-check: rebuild the C wasm module and fail if its bytes differ from the committed one
wasm-check:
	@tmp=$$(mktemp -d) && \
	$(CLANG) $(WASM_FLAGS) -o $$tmp/plugbench.wasm fixtures/c/plugbench.c && \
	if cmp -s $$tmp/plugbench.wasm fixtures/c/plugbench.wasm; then \
		echo "wasm-check: fixtures/c/plugbench.wasm is reproducible"; rm -rf $$tmp; \
	else \
		echo "wasm-check: fixtures/c/plugbench.wasm differs from a fresh build ($$($(CLANG) --version | head -1)); run make wasm and commit it" >&2; \
		rm -rf $$tmp; exit 1; \
	fi

## test: the tests, as README gives them
test:
	$(GO) test ./...

## bench-quick: the main job: a short run that covers every row
bench-quick:
	@mkdir -p $(RESULTS)
	$(GO) test ./bench $(BENCH_QUICK) | tee $(RESULTS)/latest.txt

## bench: the full run (-count=10), raw output to results/latest.txt
bench:
	@mkdir -p $(RESULTS)
	$(GO) test ./bench $(BENCH_FULL) | tee $(RESULTS)/latest.txt

clean:
	rm -rf $(BUILD)
