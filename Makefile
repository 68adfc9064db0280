# plugbench: the main job is `make report`; the tests are `go test ./...` (make test).
SHELL   := /bin/bash
.SHELLFLAGS := -o pipefail -ec
GO      ?= go
CC      := $(shell $(GO) env CC)
CLANG   ?= clang
# Debian's rustc, not a rustup one on PATH: the committed Rust modules are
# what this compiler makes (make wasm-check).
RUSTC   ?= /usr/bin/rustc
BUILD   := fixtures/build
RESULTS := results

# The committed wasm32 module: freestanding clang, no libc, exports by name.
# A 16 KiB stack and one 64 KiB page of initial memory keep instantiation cheap.
WASM_FLAGS := --target=wasm32 -O2 -nostdlib -ffreestanding -fvisibility=hidden \
	'-DPLUGBENCH_BACKEND="wasm"' -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-debug \
	-Wl,-z,stack-size=16384 -Wl,--initial-memory=65536
SO_FLAGS := -O2 -fPIC -shared -fvisibility=hidden '-DPLUGBENCH_BACKEND="dlopen"'
# The fault fixtures: the same source with -DPLUGBENCH_FAULT=NAME, whose min
# misbehaves (fixtures/c/plugbench.c says how); in the order of fixtures.Faults.
FAULTS     := segv abort loop bomb startloop
FAULT_WASM := $(FAULTS:%=fixtures/c/faults/plugbench-%.wasm)
# The Extism guest: plugbench.c inside fixtures/c/extism.c's Extism layer,
# the same flags with the extism backend's identity; faults as above.
EXTISM_WASM_FLAGS := $(subst BACKEND="wasm",BACKEND="extism",$(WASM_FLAGS))
EXTISM_FAULT_WASM := $(FAULTS:%=fixtures/c/faults/plugbench-extism-%.wasm)
EXTISM_SRC := fixtures/c/extism.c fixtures/c/plugbench.c fixtures/c/plugbench.h

# The Rust guest (fixtures/rust/plugbench.rs, core only): the flags of
# fixtures/rust.go (rustFlags, rustWasmFlags), which builds the shared object
# at test time. Rust has no macro naming its compiler: the identity's
# toolchain key (rustc-1.63.0) comes from PLUGBENCH_TOOLCHAIN. Faults are
# selected with --cfg 'plugbench_fault="NAME"'.
RUST_FLAGS := --edition 2021 --crate-type cdylib --crate-name plugbench \
	-C opt-level=2 -C panic=abort -C codegen-units=1 -C lto -C strip=debuginfo
RUST_WASM_FLAGS := $(RUST_FLAGS) --target wasm32-unknown-unknown \
	-C link-arg=-zstack-size=16384 -C link-arg=--initial-memory=65536
RUST_ENV = PLUGBENCH_TOOLCHAIN=rustc-$(word 2,$(shell $(RUSTC) --version 2>/dev/null))
RUST_FAULT_WASM := $(FAULTS:%=fixtures/rust/faults/plugbench-%.wasm)
RUST_SRC := fixtures/rust/plugbench.rs

# The committed wasm modules, embedded by package fixtures. `make fixtures`
# only copies them; `make wasm` alone rebuilds them, `make wasm-check` proves
# a rebuild gives the same bytes.
COMMITTED_WASM := fixtures/c/plugbench.wasm $(FAULT_WASM) fixtures/c/plugbench-extism.wasm $(EXTISM_FAULT_WASM) \
	fixtures/rust/plugbench.wasm $(RUST_FAULT_WASM)
# $(call build_wasm,ROOT): builds every committed module afresh under ROOT, at
# its committed path (ROOT=. overwrites them): each guest, then each fault.
build_wasm = set -e; mkdir -p $(1)/fixtures/c/faults $(1)/fixtures/rust/faults; \
	for fault in "" $(FAULTS); do \
		c=plugbench; x=plugbench-extism; r=plugbench; def=; cfg=; \
		if [ -n "$$fault" ]; then \
			c=faults/plugbench-$$fault; x=faults/plugbench-extism-$$fault; r=faults/plugbench-$$fault; \
			def=-DPLUGBENCH_FAULT=$$fault; cfg="plugbench_fault=\"$$fault\""; \
		fi; \
		$(CLANG) $(WASM_FLAGS) $$def -o $(1)/fixtures/c/$$c.wasm fixtures/c/plugbench.c; \
		$(CLANG) $(EXTISM_WASM_FLAGS) $$def -o $(1)/fixtures/c/$$x.wasm fixtures/c/extism.c; \
		$(RUST_ENV) $(RUSTC) $(RUST_WASM_FLAGS) $${cfg:+--cfg "$$cfg"} -o $(1)/fixtures/rust/$$r.wasm $(RUST_SRC); \
	done

# The quick run takes 6 samples of every row, the fewest that give a report
# confidence intervals and p-values, of 500 µs each; the full run 10 samples
# of 120 ms. RATIONALE.md ("Why 500 µs and 120 ms samples?") has the budget.
# make report links one test binary (BENCH_BIN) while make fixtures builds
# the artifacts and the C and Rust fault variants (PLUGBENCH_FIXTURES and
# PLUGBENCH_FAULT_BUILD, one fresh folder), once for both of its runs; the
# runs build the rest of the variants there, once.
# The quick run measures memory at 10 instances of every target; the full
# run at 1, 10, 100 and 1000 of every target and 10 000 where it fits
# (BenchmarkMemory), in 6 samples of 20 ms, not 10 of 150: a row's memory
# is one reading per sample and moves by pages, and a thousand Go guests or
# go-plugin processes take 5 to 10 s a sample however short it is asked to
# be (RATIONALE.md, "Why are a memory row's instances closed in batches…").
# A quick row's samples share one instance (-shared-instances; RATIONALE.md,
# "Why do the quick run's samples share an instance?"). The flags are
# spelt as the test binary takes them (-test.*), which go test takes too.
BENCH_QUICK := -test.run '^$$' -test.bench . -test.benchtime=500us -test.count=6 -instances=10 -shared-instances
BENCH_FULL  := -run '^$$' -bench . -skip '^BenchmarkMemory$$' -benchtime=120ms -count=10 -timeout=60m
BENCH_FULL_MEMORY := -run '^$$' -bench '^BenchmarkMemory$$' -benchtime=20ms -count=6 -timeout=30m

# BENCH_BIN, when set, is a test binary of ./bench (go test -c) that
# bench-quick and faults run instead of go test, in bench/ as go test
# would: make report links one for both of its runs.
BENCH_RUN = $(if $(BENCH_BIN),env -C bench $(BENCH_BIN) -test.timeout=10m,$(GO) test ./bench)

BENCHREPORT := $(GO) run ./cmd/benchreport
# The runs show where they are, not their output: benchreport progress
# writes the output whole to the results file, and prints the group, the
# rows done of those planned (an earlier run's: the last quick run's, or
# the committed full run's), the time and what is left, on one updating
# line on a terminal and a line a group in a log; failures with their
# context.
PROGRESS := $(BENCHREPORT) progress
QUICK_PLAN = $(firstword $(wildcard $(RESULTS)/latest.txt) $(RESULTS)/baseline.txt)
# The gate's run: enough samples for Mann-Whitney U (6), short enough for CI.
BENCH_GATE_RUN := -run '^$$' -benchtime=100ms -count=6 -timeout=30m -instances=100
BENCH_GATE  := $(BENCH_GATE_RUN) -bench .
# What the gate flags, it runs again (-rerun, with RERUN_BENCH set to those
# rows and their static references), and only what regresses in both runs
# fails: a burst of load on a shared machine slows all of one row's samples
# at once, which the test reads as significant, and seldom hits the same row
# twice; a slower build is slower both times (RATIONALE.md, "Why does
# make gate rerun what it flags?"). The rerun's results stay in
# results/gate-rerun*.txt.
GATE_RERUN = -rerun "$(GO) test ./bench $(BENCH_GATE_RUN) -bench \"\$$RERUN_BENCH\" | tee $(RESULTS)/$(1).txt"
# Time is compared as a ratio to the static rows of the same run, so that a
# baseline recorded on one machine gates another: every row is divided by one
# factor, the geometric mean of the static rows' new/base ratios
# (-normalize-scope run), because one static row alone is too noisy (static's
# min is 2.0 or 3.8 ns from one process to the next). It fails at 2×: two gate
# runs of unchanged code flagged 17 and 8 rows at +41% to +85% against the
# re-recorded baseline (RATIONALE.md); allocs/op exactly. Finer changes are
# for `benchreport ab`, which interleaves the two builds.
# A pipeline's B/op is left out: a batch is one op, so the testing package's
# own few allocations show as 0 → 5 B/op; its allocs/op are gated exactly.
# Recover rows time process starts and 100 MB memory bombs, Isolation rows
# repeat BenchmarkCall's: neither has a static row to normalize by. shm's
# slow-waits is the machine's state, not the code's.
GATE_FLAGS  := -normalize backend=static -normalize-ignore fixture,cache,transport -normalize-scope run -tolerance 100% \
	-filter "-.name:Ref -.name:Recover -.name:Isolation -.name:Memory -(.name:Pipeline .unit:B/op) -.unit:peak-B -.unit:artifact-B -.unit:slow-waits" -thresholds results/gate-thresholds.txt
# Memory is gated apart, not divided by anything: a resident byte is one on
# any machine. The gate measures 100 instances (the baseline has every count
# that fits); its tolerances are the thresholds file's first lines. A load's
# peak (peak-B) is not gated: one reading per sample, and for a load of
# microseconds it is whatever the collector did then (4 KiB to 250 KiB).
# An in-process native or Go plugin's instance is a few hundred bytes of Go
# heap (gated as heap-B/instance): its resident growth reads 0 or one page,
# so it is left out (a CI run flagged cgo's 0 → 287 B as +inf).
GATE_MEM_FLAGS := -tolerance 50% -allow-missing '^Memory/.*/instances=(1|10|1000|10000)(-[0-9]+)?$$' \
	-filter '.name:Memory -(.unit:host-B/instance /backend:/^(static|cgo|dlopen|goplugin|yaegi|starlark|lua|goja)$$/)' \
	-thresholds results/gate-thresholds.txt

.PHONY: help all tools fixtures wasm wasm-check wasm-tools rust-tools test test-shuffle bench bench-quick faults crash-check report report-full report-check readme baseline gate ab-eval clean

# Plain make lists the targets: the main job takes minutes, and says so.
.DEFAULT_GOAL := help

## help: list the targets, from the comments above each (plain make does this)
help:
	@echo "plugbench: make TARGET, one of:"
	@awk '/^## [a-z][a-z-]*:/ { line = substr($$0, 4); t = line; sub(/:.*/, "", t); sub(/^[^:]*: */, "", line); \
		printf "  %-13s %s\n", t, line; next } \
		/^## / { printf "  %-13s   %s\n", "", substr($$0, 4) }' $(firstword $(MAKEFILE_LIST))
	@echo "README.md says more of each; the main job is make report, the tests make test."

## all: the tests (make test)
all: test

## fixtures: build every artifact into fixtures/build (used by PLUGBENCH_FIXTURES)
fixtures: $(BUILD)/plugbench-c.so $(BUILD)/plugbench-c.wasm $(BUILD)/plugbench-go.wasm \
	$(BUILD)/plugbench-c-extism.wasm \
	$(BUILD)/plugbench-rust.so $(BUILD)/plugbench-rust.wasm \
	$(FAULTS:%=$(BUILD)/plugbench-c-%.so) $(FAULTS:%=$(BUILD)/plugbench-c-%.wasm) \
	$(FAULTS:%=$(BUILD)/plugbench-rust-%.so) $(FAULTS:%=$(BUILD)/plugbench-rust-%.wasm)

$(BUILD)/plugbench-c.so: fixtures/c/plugbench.c fixtures/c/plugbench.h
	@mkdir -p $(BUILD)
	$(CC) $(SO_FLAGS) -o $@ fixtures/c/plugbench.c

$(BUILD)/plugbench-c.wasm: fixtures/c/plugbench.wasm
	@mkdir -p $(BUILD)
	cp $< $@

$(BUILD)/plugbench-c-extism.wasm: fixtures/c/plugbench-extism.wasm
	@mkdir -p $(BUILD)
	cp $< $@

$(BUILD)/plugbench-go.wasm: fixtures/go/main.go fixtures/go/guest/guest.go
	@mkdir -p $(BUILD)
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -buildmode=c-shared -trimpath -o $@ ./fixtures/go

# The Rust guest's shared objects need Debian's rustc (make tools installs it
# where it can); without it they are left out, as the suite's Rust rows say.
$(BUILD)/plugbench-rust.so: $(RUST_SRC) | tools
	@mkdir -p $(BUILD)
	@if [ -x $(RUSTC) ]; then set -x; $(RUST_ENV) $(RUSTC) $(RUST_FLAGS) -o $@ $(RUST_SRC); \
	else echo "fixtures: no $(RUSTC): $@ not built (the Rust guest's native rows skip and say why)" >&2; fi

$(BUILD)/plugbench-rust.wasm: fixtures/rust/plugbench.wasm
	@mkdir -p $(BUILD)
	cp $< $@

$(BUILD)/plugbench-rust-%.so: $(RUST_SRC) | tools
	@mkdir -p $(BUILD)
	@if [ -x $(RUSTC) ]; then set -x; $(RUST_ENV) $(RUSTC) $(RUST_FLAGS) --cfg 'plugbench_fault="$*"' -o $@ $(RUST_SRC); \
	else echo "fixtures: no $(RUSTC): $@ not built" >&2; fi

$(BUILD)/plugbench-rust-%.wasm: fixtures/rust/faults/plugbench-%.wasm
	@mkdir -p $(BUILD)
	cp $< $@

## wasm: rebuild the committed wasm modules (C's, Extism's and Rust's, with their faults)
## with Debian's clang, lld and rustc, installed with apt-get where missing
# Only this target writes them, whatever the files' times say: a clone's
# times are the checkout's, and a committed artifact is never rebuilt behind
# the user's back (make fixtures copies them as they are).
wasm: | wasm-tools rust-tools
	@$(call build_wasm,.)
	@echo "wasm: rebuilt $(words $(COMMITTED_WASM)) modules ($$($(CLANG) --version | head -1); $$($(RUSTC) --version)); git diff shows what changed"

## tools: install what rows need beyond Go and gcc (Debian's rustc), where it can
## (if it cannot, the Rust guest's native rows skip and say why)
tools:
	@$(MAKE) -s rust-tools || echo "tools: could not install rustc (apt-get); the Rust guest's native rows will skip and say why" >&2

## rust-tools: install Debian's rustc and its wasm32 standard library (apt-get) where missing
rust-tools:
	@if [ ! -x $(RUSTC) ] || [ ! -d "$$($(RUSTC) --print sysroot 2>/dev/null)/lib/rustlib/wasm32-unknown-unknown/lib" ]; then \
		echo "rust-tools: installing rustc libstd-rust-dev-wasm32 (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq rustc libstd-rust-dev-wasm32 >/dev/null; \
	fi

# The fault fixtures for make fixtures: shared objects built here, the wasm
# modules copied from the committed ones.
$(BUILD)/plugbench-c-%.so: fixtures/c/plugbench.c fixtures/c/plugbench.h
	@mkdir -p $(BUILD)
	$(CC) $(SO_FLAGS) -DPLUGBENCH_FAULT=$* -o $@ fixtures/c/plugbench.c

$(BUILD)/plugbench-c-%.wasm: fixtures/c/faults/plugbench-%.wasm
	@mkdir -p $(BUILD)
	cp $< $@

## wasm-check: fail if a rebuild of the committed wasm modules differs from them
## (built into a temporary folder)
wasm-check: | wasm-tools rust-tools
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(call build_wasm,$$tmp); \
	bad=0; \
	for want in $(COMMITTED_WASM); do \
		if cmp -s $$tmp/$$want $$want; then \
			echo "wasm-check: $$want is reproducible"; \
		else \
			echo "wasm-check: $$want differs from a fresh build ($$($(CLANG) --version | head -1); $$($(RUSTC) --version)); run make wasm and commit it" >&2; \
			bad=1; \
		fi; \
	done; \
	exit $$bad

## wasm-tools: install Debian's clang and lld (apt-get) where clang or wasm-ld is missing
wasm-tools:
	@if ! command -v $(CLANG) >/dev/null || ! command -v wasm-ld >/dev/null; then \
		echo "wasm-tools: installing clang lld (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq clang lld >/dev/null; \
	fi

# The protobuf code of backends/hashicorp (gRPC) and backends/knqyf263
# (knqyf263/go-plugin): protoc from Debian's protobuf-compiler
# (PROTOC_VERSION; `make proto-check` refuses another), and the Go plugins
# at the versions the tool directives pin, built into a temporary folder:
# protoc-gen-go and protoc-gen-go-grpc in go.mod, protoc-gen-go-plugin in
# KNQ_GEN's go.mod (RATIONALE.md, "Why does the knqyf263 generator have a
# go.mod of its own?").
PROTOC         ?= protoc
PROTOC_VERSION := 3.21.12
PROTO_DIR      := backends/hashicorp/protocol
PROTO_SRC      := $(PROTO_DIR)/plugbench.proto
KNQ_DIR        := backends/knqyf263/protocol
KNQ_SRC        := $(KNQ_DIR)/plugbench.proto
KNQ_GEN        := $(KNQ_DIR)/gen
PROTO_GEN      := $(PROTO_DIR)/plugbench.pb.go $(PROTO_DIR)/plugbench_grpc.pb.go \
	$(addprefix $(KNQ_DIR)/plugbench,.pb.go _vtproto.pb.go _host.pb.go _options.pb.go _plugin.pb.go)
# $(call protoc,OUT): generate the Go code of $(PROTO_SRC) and $(KNQ_SRC)
# under the folder OUT (the Go files land in OUT/<their folder>); the
# plugins are built into $$tmp.
protoc = $(GO) build -o $$tmp/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go && \
	$(GO) build -o $$tmp/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc && \
	$(GO) build -C $(KNQ_GEN) -o $$tmp/protoc-gen-go-plugin github.com/knqyf263/go-plugin/cmd/protoc-gen-go-plugin && \
	$(PROTOC) --plugin=protoc-gen-go=$$tmp/protoc-gen-go --plugin=protoc-gen-go-grpc=$$tmp/protoc-gen-go-grpc \
		--go_out=$(1) --go_opt=paths=source_relative --go-grpc_out=$(1) --go-grpc_opt=paths=source_relative $(PROTO_SRC) && \
	$(PROTOC) --plugin=protoc-gen-go-plugin=$$tmp/protoc-gen-go-plugin \
		--go-plugin_out=$(1) --go-plugin_opt=paths=source_relative $(KNQ_SRC)

.PHONY: proto proto-check proto-tools

## proto: regenerate backends/hashicorp's gRPC code and backends/knqyf263's plugin code
## (Debian's protoc, installed where missing; the Go plugins at their tool versions)
proto: | proto-tools
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(call protoc,.); \
	echo "proto: regenerated $(PROTO_GEN) ($$($(PROTOC) --version))"

## proto-check: fail if a regeneration of the committed protobuf code differs from it
## (or if protoc is not the version that made it)
proto-check: | proto-tools
	@have=$$($(PROTOC) --version | awk '{print $$2}'); \
	if [ "$$have" != "$(PROTOC_VERSION)" ]; then \
		echo "proto-check: protoc $$have, the committed code is protoc $(PROTOC_VERSION)'s (Debian's protobuf-compiler)" >&2; \
		exit 1; \
	fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	mkdir -p $$tmp/out; \
	$(call protoc,$$tmp/out); \
	bad=0; \
	for f in $(PROTO_GEN); do \
		if cmp -s $$tmp/out/$$f $$f; then \
			echo "proto-check: $$f is reproducible"; \
		else \
			echo "proto-check: $$f differs from a fresh generation; run make proto and commit it" >&2; \
			diff -u $$f $$tmp/out/$$f | head -40 >&2 || true; \
			bad=1; \
		fi; \
	done; \
	exit $$bad

## proto-tools: install Debian's protobuf-compiler (apt-get) where protoc is missing
proto-tools:
	@if ! command -v $(PROTOC) >/dev/null; then \
		echo "proto-tools: installing protobuf-compiler (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null; \
	fi

## test: the tests, as README gives them
test: tools
	$(GO) test ./...

# The packages whose tests take seconds: all but the suite's (bench), the
# fixtures' builds and go-plugin's process starts.
SHUFFLE_PKGS = $$($(GO) list ./... | grep -v -e '/bench$$' -e '/fixtures$$' -e '/backends/hashicorp$$')

## test-shuffle: the fast packages' tests twice, shuffled (-shuffle=on -count=2); CI runs it
## (what a test leaves behind for the next, or needs of the one before, fails here)
test-shuffle: tools
	$(GO) test -shuffle=on -count=2 $(SHUFFLE_PKGS)

## bench-quick: the quick run: every row, 6 samples of 500 µs, into results/latest.txt
bench-quick: tools
	@mkdir -p $(RESULTS)
	$(BENCH_RUN) $(BENCH_QUICK) | $(PROGRESS) -plan $(QUICK_PLAN) -o $(RESULTS)/latest.txt

## bench: the full run (10 samples of 120 ms; memory 6 of 20 ms) into results/latest.txt
bench: tools
	@mkdir -p $(RESULTS)
	$(GO) test ./bench $(BENCH_FULL) | $(PROGRESS) -plan $(RESULTS)/baseline.txt -skip '^BenchmarkMemory$$' -o $(RESULTS)/latest.txt
	$(GO) test ./bench $(BENCH_FULL_MEMORY) | $(PROGRESS) -plan $(RESULTS)/baseline.txt -groups '^BenchmarkMemory$$' -append -o $(RESULTS)/latest.txt

# The fault table runs each cell FAULT_TRIALS times, each in a new host
# process: 5 for the committed table (make faults, 72 s here),
# 1 in make report's quick run (RATIONALE.md, "Why trials, and why one in
# the quick run?").
FAULT_TRIALS ?= 5
# How many cells run at once: 4 for the committed table, whose detection
# times are read; 8 in make report's quick one, whose cells mostly wait on
# their deadlines (3 s less here).
FAULT_PARALLEL ?= 4

## faults: the fault table into results/faults-latest.json: every backend x fault,
## FAULT_TRIALS (5) times each, each in a new host process
faults: tools
	@mkdir -p $(RESULTS)
	$(BENCH_RUN) -test.run '^TestFaultTable$$' -test.count=1 -fault-parallel $(FAULT_PARALLEL) -test.timeout 30m -fault-trials $(FAULT_TRIALS) -faults $(CURDIR)/$(RESULTS)/faults-latest.json

## crash-check: check that a segfaulting .so costs its row, not the run; CI runs it
crash-check:
	bash bench/testdata/crash-check.sh

# make report writes here, a folder git ignores: the main job leaves the
# tree as it was. The committed report (results/REPORT.md, report.html,
# charts/) is the full run's: make baseline records it, make report-full
# redraws it from the committed data.
LATEST := $(RESULTS)/latest

## report: the main job: the quick run, the fault table (each cell once) and their report in
## results/latest/ (report.html, REPORT.md, charts/), which git ignores; under 3 min (2m40s–2m47s idle)
report: tools
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) test -c -o $$tmp/bench.test ./bench & link=$$!; \
	{ $(MAKE) -s -j2 fixtures BUILD=$$tmp/fixtures >$$tmp/fixtures.log 2>&1 || { cat $$tmp/fixtures.log; false; }; } & fix=$$!; \
	wait $$link; wait $$fix; \
	PLUGBENCH_FIXTURES=$$tmp/fixtures PLUGBENCH_FAULT_BUILD=$$tmp/fixtures $(MAKE) --no-print-directory bench-quick faults FAULT_TRIALS=1 FAULT_PARALLEL=8 BENCH_BIN=$$tmp/bench.test
	@mkdir -p $(LATEST)
	@$(BENCHREPORT) report -faults $(RESULTS)/faults-latest.json -o $(LATEST)/REPORT.md $(RESULTS)/latest.txt
	@$(BENCHREPORT) report -warnings 0 -faults $(RESULTS)/faults-latest.json -format html -o $(LATEST)/report.html $(RESULTS)/latest.txt
	@echo "report: $(LATEST)/report.html (open it in a browser) and $(LATEST)/REPORT.md; the raw results are $(RESULTS)/latest.txt and $(RESULTS)/faults-latest.json"

## report-full: draw the committed report (results/REPORT.md, report.html, charts/) again
## from the committed full run (results/baseline.txt, results/faults.json)
report-full:
	$(BENCHREPORT) report -faults $(RESULTS)/faults.json -o $(RESULTS)/REPORT.md $(RESULTS)/baseline.txt
	$(BENCHREPORT) report -faults $(RESULTS)/faults.json -format html -o $(RESULTS)/report.html $(RESULTS)/baseline.txt

## baseline: record the full run as the committed one (about 40 min): make bench and make
## faults, then results/baseline.txt, results/faults.json, the report and README's table
baseline: bench faults
	cp $(RESULTS)/latest.txt $(RESULTS)/baseline.txt
	cp $(RESULTS)/faults-latest.json $(RESULTS)/faults.json
	$(MAKE) --no-print-directory report-full readme
	@echo "baseline: recorded; git diff results README.md shows what moved"

## readme: write README's generated parts from the committed results/baseline.txt and
## results/faults.json (a test fails when README differs from what they give)
readme:
	$(BENCHREPORT) choose -faults $(RESULTS)/faults.json -readme README.md $(RESULTS)/baseline.txt

# report-check checks make report's page when there is one, else the
# committed one; REPORT_HTML=FILE names another.
REPORT_HTML ?= $(if $(wildcard $(LATEST)/report.html),$(LATEST)/report.html,$(RESULTS)/report.html)

## report-check: check the report's page in headless Chromium: no console error, no chart
## text overlapping or spilling, every column sorting, every row's worst fault on the first
## screen; screenshots beside it. results/latest/report.html after make report, else the
## committed one (REPORT_HTML=FILE for another); it first fails a page made to fail
report-check:
	bash cmd/benchreport/testdata/browser-check.sh -selftest
	bash cmd/benchreport/testdata/browser-check.sh $(REPORT_HTML) $(dir $(REPORT_HTML))report.png

## gate: the regression gate: a 6-sample run against results/baseline.txt; CI runs it
gate: tools
	@mkdir -p $(RESULTS)
	$(GO) test ./bench $(BENCH_GATE) > $(RESULTS)/gate.txt
	$(BENCHREPORT) gate $(GATE_FLAGS) $(call GATE_RERUN,gate-rerun) $(RESULTS)/baseline.txt $(RESULTS)/gate.txt
	$(BENCHREPORT) gate $(GATE_MEM_FLAGS) $(call GATE_RERUN,gate-rerun-memory) $(RESULTS)/baseline.txt $(RESULTS)/gate.txt

## ab-eval: how often benchreport ab flags an unchanged tree, and catches a slowdown
## of dlopen's call (AB_SLOWDOWN=10, the default, or 5: results/ab-eval*.txt)
AB_SLOWDOWN ?= 10
AB_EVAL_10 := bash cmd/benchreport/testdata/ab-eval.sh 10 12
AB_EVAL_5 := FILTER='^BenchmarkCall$$/^op=min$$/^backend=(static|dlopen)$$/' ROUNDS=64 GATE='-tolerance 3%' \
	bash cmd/benchreport/testdata/ab-eval.sh 10 6
ab-eval:
	@test -n "$(AB_EVAL_$(AB_SLOWDOWN))" || { echo "ab-eval: AB_SLOWDOWN=$(AB_SLOWDOWN): want 10 or 5" >&2; exit 2; }
	$(AB_EVAL_$(AB_SLOWDOWN))

## clean: remove what the targets build and write that git ignores (fixtures/build, results/latest)
clean:
	rm -rf $(BUILD) $(LATEST)
