#!/bin/bash
# tests/browser/run.sh - the dashboard's suite (dashboard.test.mjs) in
# Debian's headless Chromium, driven by playwright-core from npm (never a
# downloaded browser build).  Run by tests/integration/run.sh, which
# starts the stack and exports its addresses (ECCR_TEST_*).  Bounded in
# time; exits non-zero on any failed expectation or console error.
set -euo pipefail
cd "$(dirname "$0")"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "browser: $CHROMIUM is missing (script/bootstrap installs Debian's chromium)" >&2
	exit 1
fi
# playwright-core at the version package-lock.json pins, installed once
# (again when the lock file changes); its own browser download is off.
if ! cmp -s package-lock.json node_modules/.package-lock.json.orig 2>/dev/null ||
	[ ! -d node_modules/playwright-core ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.package-lock.json.orig
fi
export CHROMIUM
exec timeout --kill-after=10 600 node dashboard.test.mjs
