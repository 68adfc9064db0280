#!/usr/bin/env bash
# browser-check.sh REPORT.html SHOT.png: the report's check in real headless
# Chromium (browser/check.mjs: console errors, charts drawn, no chart text
# overlapping another or spilling out of its chart, the choosing table
# sorting by every column both ways, every row's worst fault on the first
# screen). Installs Debian's
# chromium where it is missing and playwright-core (pinned by
# package-lock.json, driving that chromium; it downloads no browser).
#
# browser-check.sh -selftest: the check must fail on browser/overlap.html, a
# chart made to overlap and a choosing table that sorts wrongly and sits
# below the first screen, naming each defect; exits 0 if it does.
set -euo pipefail
usage="usage: browser-check.sh REPORT.html SHOT.png | browser-check.sh -selftest"
here=$(cd "$(dirname "$0")/browser" && pwd)
selftest=
if [ "${1:-}" = -selftest ]; then
	selftest=1
	report=$here/overlap.html
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	shot=$tmp/overlap.png
else
	report=${1:?$usage}
	shot=${2:?$usage}
fi
[ -f "$report" ] || { echo "browser-check: $report: no such file (make report first)" >&2; exit 2; }
if ! command -v chromium >/dev/null; then
	echo "browser-check: installing chromium (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "browser-check: installing nodejs and npm (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
	(cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi
if [ -z "$selftest" ]; then
	CHROMIUM=$(command -v chromium) node "$here/check.mjs" "$report" "$shot"
	exit
fi
status=0
CHROMIUM=$(command -v chromium) node "$here/check.mjs" "$report" "$shot" >"$tmp/out" 2>&1 || status=$?
fail() { cat "$tmp/out" >&2; echo "browser-check -selftest: $*" >&2; exit 1; }
[ "$status" = 1 ] || fail "check.mjs exited $status on a chart made to overlap, want 1"
grep -q 'text "wasmtime (go)" overlaps text "wasm-interp (rust)"' "$tmp/out" || fail "the two overlapping labels are not named"
grep -q 'text "a legend entry that runs off the edge" spills out of its chart' "$tmp/out" || fail "the spilling legend entry is not named"
grep -q 'choosing table, column "a call" (ascending): a cell without a value sorts before one with' "$tmp/out" || fail "the choosing table's wrong order is not named"
grep -q 'first screen: the worst fault of "wasm (c)" is off the first screen at 1280×900' "$tmp/out" || fail "the worst fault off the first screen is not named"
echo "browser-check -selftest: check.mjs fails on $report, naming the overlap, the spill, the wrong sort and the worst fault off the first screen:"
sed 's/^/	/' "$tmp/out"
