#!/usr/bin/env bash
# browser-check.sh REPORT.html SHOT.png: the report's check in real headless
# Chromium. Installs Debian's chromium where it is missing and playwright-core
# (pinned by package-lock.json, driving that chromium; it downloads no browser).
set -euo pipefail
report=${1:?usage: browser-check.sh REPORT.html SHOT.png}
shot=${2:?usage: browser-check.sh REPORT.html SHOT.png}
here=$(cd "$(dirname "$0")/browser" && pwd)
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
CHROMIUM=$(command -v chromium) node "$here/check.mjs" "$report" "$shot"
