#!/usr/bin/env bash
# ab-eval.sh [RUNS] [SPIN]: measures benchreport ab itself. In a detached
# worktree of HEAD it runs `benchreport ab -base HEAD` RUNS times on the
# unchanged tree (every flagged regression is a false alarm), then patches a
# slowdown of SPIN loop iterations (12: about +11% on a 64 ns call here) into the dlopen
# backend's Min and runs it RUNS times again (every run should flag it).
# Prints each run's verdict, the measured delta and the time it took.
set -euo pipefail
runs=${1:-10}
spin=${2:-12}
rounds=${ROUNDS:-8}
benchtime=${BENCHTIME:-100ms}
filter=${FILTER:-'^BenchmarkCall$/^op=min$/^backend=(static|dlopen|wasm)$/'}

top=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
cleanup() { git -C "$top" worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
git -C "$top" worktree add --detach "$work/tree" HEAD >/dev/null
(cd "$top" && go build -o "$work/benchreport" ./cmd/benchreport)
cd "$work/tree"
# Both sides load the same artifacts: build them once, not in every process.
make -s fixtures >/dev/null
export PLUGBENCH_FIXTURES="$work/tree/fixtures/build"

run() { # kind i
	local start end code out
	start=$(date +%s)
	set +e
	out=$("$work/benchreport" ab -base HEAD -bench "$filter" -benchtime "$benchtime" -rounds "$rounds" \
		-o "$work/out-$1-$2" -filter '.unit:sec/op' 2>"$work/err-$1-$2")
	code=$?
	set -e
	end=$(date +%s)
	local dl
	dl=$(printf '%s\n' "$out" | awk '/backend=dlopen/ {for (i = 1; i <= NF; i++) if ($i ~ /^[+-][0-9.]+%$/) {print $i; exit}}')
	printf '%-9s run %2d: exit %d (%s), dlopen delta %s, %ds\n' "$1" "$2" "$code" \
		"$([ $code = 0 ] && echo pass || ([ $code = 1 ] && echo REGRESSION || echo error))" "${dl:-?}" "$((end - start))"
	[ $code -le 1 ] || { cat "$work/err-$1-$2" >&2; exit 2; }
	echo "$code" >>"$work/codes-$1"
}

echo "ab-eval: $runs runs each, -rounds $rounds -benchtime $benchtime -bench '$filter'"
for i in $(seq "$runs"); do run unchanged "$i"; done

# The injected slowdown: a few loop iterations before dlopen's Min.
cat >backends/dlopen/slowdown.go <<GO
package dlopen

var slowSink uint64

//go:noinline
func slowdown() {
	for i := range $spin {
		slowSink += uint64(i)
	}
}
GO
sed -i 's/^func (p \*Plugin) Min(a, b int32) (int32, error) {$/&\n\tslowdown()/' backends/dlopen/dlopen.go
grep -q 'slowdown()' backends/dlopen/dlopen.go || { echo "ab-eval: could not inject the slowdown" >&2; exit 2; }
for i in $(seq "$runs"); do run slowed "$i"; done

false_alarms=$(grep -c '^1$' "$work/codes-unchanged" || true)
caught=$(grep -c '^1$' "$work/codes-slowed" || true)
echo "ab-eval: unchanged tree flagged in $false_alarms of $runs runs (target 0); slowdown caught in $caught of $runs runs (target $runs)"
