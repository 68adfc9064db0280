#!/usr/bin/env bash
# ab-eval.sh [RUNS] [SPIN]: measures benchreport ab itself. In a detached
# worktree of HEAD it runs `benchreport ab -base HEAD` RUNS times on the
# unchanged tree (every flagged regression is a false alarm), then patches a
# slowdown of SPIN loop iterations (12: about +12% on a 64 ns call; 6: +5.3% on
# today's 80 ns call, measured over 640 paired rounds, and 2 only +1.6%: a
# loop's cost is not linear in its iterations, so measure a new SPIN before
# relying on it) into the dlopen backend's Min and runs it RUNS times again
# (every run should flag a dlopen row).
# Prints each run's verdict, the measured delta, the rows flagged and the time it
# took; a slowed run counts as caught if a dlopen row is flagged, and a row of
# another backend flagged, in either kind of run, is a false alarm.
# Environment: ROUNDS, BENCHTIME and FILTER set ab's -rounds, -benchtime and
# -bench; GATE adds gate flags (e.g. GATE='-tolerance 2%'); KEEP=DIR keeps
# every run's base.txt, new.txt and gate output in DIR, to gate them again
# offline; PHASES='slowed' skips the runs on the unchanged tree.
set -euo pipefail
runs=${1:-10}
spin=${2:-12}
rounds=${ROUNDS:-8}
benchtime=${BENCHTIME:-100ms}
filter=${FILTER:-'^BenchmarkCall$/^op=min$/^backend=(static|dlopen|wasm)$/'}
gate=${GATE:-}
keep=${KEEP:-}
phases=${PHASES:-unchanged slowed}

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
	# shellcheck disable=SC2086 # $gate is a list of flags
	out=$("$work/benchreport" ab -base HEAD -bench "$filter" -benchtime "$benchtime" -rounds "$rounds" \
		-o "$work/out-$1-$2" -filter '.unit:sec/op' $gate 2>"$work/err-$1-$2")
	code=$?
	set -e
	end=$(date +%s)
	local dl flagged
	dl=$(printf '%s\n' "$out" | awk '/backend=dlopen/ {for (i = 1; i <= NF; i++) if ($i ~ /^[+-][0-9.]+%$/) {print $i; exit}}')
	# The rows flagged, by backend and fixture.
	flagged=$(printf '%s\n' "$out" | awk '$1 == "REGRESSION" {n = split($2, k, "/"); printf "%s%s/%s", sep, k[3], k[4]; sep = ","}')
	printf '%-9s run %2d: exit %d (%s), dlopen delta %s, %ds%s\n' "$1" "$2" "$code" \
		"$([ $code = 0 ] && echo pass || ([ $code = 1 ] && echo REGRESSION || echo error))" "${dl:-?}" "$((end - start))" \
		"${flagged:+, flagged: $flagged}"
	[ $code -le 1 ] || { cat "$work/err-$1-$2" >&2; exit 2; }
	# A slowed run is caught if a dlopen row is flagged; a row of another
	# backend flagged, in any run, is a false alarm.
	case ",$flagged" in *,backend=dlopen*) echo caught >>"$work/caught-$1" ;; esac
	case ",$flagged" in *,backend=[!d]*) echo alarm >>"$work/alarms-$1" ;; esac
	echo "$code" >>"$work/codes-$1"
	if [ -n "$keep" ]; then
		mkdir -p "$keep/$1-$2"
		cp "$work/out-$1-$2"/*.txt "$keep/$1-$2/"
		printf '%s\n' "$out" >"$keep/$1-$2/gate.txt"
	fi
}

echo "ab-eval: $runs runs each, slowdown of $spin iterations, -rounds $rounds -benchtime $benchtime -bench '$filter'${gate:+ $gate}"
case " $phases " in *" unchanged "*) for i in $(seq "$runs"); do run unchanged "$i"; done ;; esac

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
case " $phases " in *" slowed "*) for i in $(seq "$runs"); do run slowed "$i"; done ;; esac

count() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
if [ -f "$work/codes-unchanged" ]; then
	echo "ab-eval: unchanged tree flagged in $(grep -c '^1$' "$work/codes-unchanged" || true) of $runs runs (target 0)"
fi
if [ -f "$work/codes-slowed" ]; then
	echo "ab-eval: slowdown caught in $(count "$work/caught-slowed") of $runs runs (target $runs);" \
		"another row flagged beside it in $(count "$work/alarms-slowed") (target 0)"
fi
