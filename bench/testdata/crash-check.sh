#!/usr/bin/env bash
# crash-check: a shared object whose min segfaults, put in through
# PLUGBENCH_FIXTURES, costs the rows that load it (cgo's and dlopen's) and
# nothing else: every other row is printed, the dlopen row is marked crashed with SIGSEGV,
# the run exits non-zero, and no temporary folder is left behind.
# Usage: bash bench/testdata/crash-check.sh [go test flags…]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tmp="$dir/tmp"
mkdir -p "$tmp"
make -s fixtures BUILD="$dir/fixtures" >/dev/null
cp "$dir/fixtures/plugbench-c-segv.so" "$dir/fixtures/plugbench-c.so"
set +e
TMPDIR="$tmp" PLUGBENCH_FIXTURES="$dir/fixtures" go test ./bench -run '^$' -bench 'BenchmarkCall/op=min' -benchtime=100x "$@" >"$dir/out.txt" 2>&1
code=$?
set -e
cat "$dir/out.txt"
fail() { echo "crash-check: $*" >&2; exit 1; }
[ "$code" -ne 0 ] || fail "the run exited 0 with a crashing plugin"
# Every row that does not load the C shared object (cgo's and dlopen's do).
for row in backend=static/fixture=builtin backend=cgo/fixture=rust backend=dlopen/fixture=rust backend=goplugin/fixture=go \
	backend=wasm/fixture=c backend=wasm/fixture=go backend=wasm/fixture=rust \
	backend=wasm-interp/fixture=c backend=wasm-interp/fixture=rust backend=wasm-bounded/fixture=c \
	backend=wasmtime/fixture=c backend=wasmtime/fixture=go backend=wasmtime/fixture=rust \
	backend=extism/fixture=c backend=extism-bounded/fixture=c backend=yaegi/fixture=go \
	backend=subprocess/fixture=c backend=subprocess/fixture=go backend=shm/fixture=c backend=shm/fixture=go \
	backend=hashicorp-grpc/fixture=go backend=hashicorp-netrpc/fixture=go; do
	grep -q "^BenchmarkCall/op=min/$row-*[0-9]* .* ns/op" "$dir/out.txt" || fail "no result for $row"
done
grep -q '^--- FAIL: BenchmarkCall/op=min/backend=dlopen/fixture=c' "$dir/out.txt" || fail "the dlopen row is not marked failed"
grep -q 'crashed: signal SIGSEGV' "$dir/out.txt" || fail "the dlopen row does not name SIGSEGV"
left=$(find "$tmp" -mindepth 1 -maxdepth 1 | head -5)
[ -z "$left" ] || fail "left behind in TMPDIR: $left"
echo "crash-check: the dlopen row crashed with SIGSEGV (exit $code); every other row ran; nothing left behind"
