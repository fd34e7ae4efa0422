#!/bin/bash
# tests/integration/s3.sh BUILD_DIR - the files API on the s3 backend,
# against a real S3-compatible store: PostgreSQL, s3rver (npm, with SigV4
# checked by the AWS SDK's signer, see s3/server.mjs), lighttpd + eccr-fcgi
# with storage.backend = s3, and eccr-worker, all on loopback in a
# temporary directory, all stopped however the run ends.  Runs the
# Criterion suite test_s3 (which tests/integration/run.sh leaves alone).
#
# s3rver is installed with npm under BUILD_DIR/s3-server (once).  CI has
# npm, so a missing node/npm or a failed install is a failure, unless
# ECCR_S3_ALLOW_SKIP=1 (then it says SKIP and exits 0).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: s3.sh BUILD_DIR}" && pwd)
S3_SERVER_DIR="$BUILD/s3-server"

unusable() {
	if [ "${ECCR_S3_ALLOW_SKIP:-0}" = 1 ]; then
		echo "SKIP: s3: $1"
		exit 0
	fi
	echo "s3: FAILED: $1 (set ECCR_S3_ALLOW_SKIP=1 to skip instead)" >&2
	exit 1
}

# ---------------------------------------------------------------- s3rver
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
	unusable "node and npm are needed for s3rver"
mkdir -p "$S3_SERVER_DIR"
if [ ! -f "$S3_SERVER_DIR/node_modules/s3rver/package.json" ] ||
    ! cmp -s "$SRC/tests/integration/s3/package.json" "$S3_SERVER_DIR/package.json"; then
	cp "$SRC/tests/integration/s3/package.json" "$S3_SERVER_DIR/package.json"
	echo "s3: npm install in $S3_SERVER_DIR"
	if ! (cd "$S3_SERVER_DIR" && npm install --no-audit --no-fund --loglevel=error) \
	    >"$S3_SERVER_DIR/npm.log" 2>&1; then
		rm -f "$S3_SERVER_DIR/package.json"
		cat "$S3_SERVER_DIR/npm.log" >&2
		unusable "npm install of s3rver failed"
	fi
fi
cp "$SRC/tests/integration/s3/server.mjs" "$S3_SERVER_DIR/server.mjs"

# ---------------------------------------------------------------- the stack
STACK_DIR=$(mktemp -d /tmp/eccr-s3.XXXXXX)
chmod 755 "$STACK_DIR"
# shellcheck source=../../script/lib/stack.sh
. "$SRC/script/lib/stack.sh"
sanitizer_env

cleanup() {
	rc=$?
	worker_stop
	lighttpd_stop
	s3_stop
	pg_stop
	stack_finish "$rc" s3 30 "$STACK_DIR/eccr-fcgi.log" "$STACK_DIR/eccr-worker.log" \
	    "$STACK_DIR/s3rver.log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port)
HTTP_PORT=$(free_port "$PG_PORT")
S3_PORT=$(free_port "$PG_PORT" "$HTTP_PORT")
S3_BUCKET=eccr-test
pg_init
pg_start
pg_createdb eccr_test
s3_start
printf 'S3RVER\n' >"$STACK_DIR/s3-secret"
chmod 600 "$STACK_DIR/s3-secret"
STORAGE_EXTRA="backend = s3
max_upload_bytes = 1048576
s3_endpoint = http://127.0.0.1:$S3_PORT
s3_region = us-east-1
s3_bucket = $S3_BUCKET
s3_access_key_id = S3RVER
s3_secret_key_file = $STACK_DIR/s3-secret
s3_path_style = true" write_config eccr_test <<EOC

[worker]
poll_interval_ms = 100
EOC
migrate >/dev/null
lighttpd_start
worker_start

export ECCR_TEST_URL="http://127.0.0.1:$HTTP_PORT/api/v1"
export ECCR_TEST_ROOT="http://127.0.0.1:$HTTP_PORT"
export ECCR_TEST_CONFIG="$STACK_DIR/eccr.conf"
export ECCR_TEST_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=eccr_test user=postgres"
export ECCR_TEST_JWT_SECRET_FILE="$STACK_DIR/jwt-secret"
export ECCR_TEST_STACK_DIR="$STACK_DIR"
export ECCR_TEST_BUILD="$BUILD"
export ECCR_SRCDIR="$SRC"
export ECCR_TEST_S3_DIR="$STACK_DIR/s3/$S3_BUCKET"
export ECCR_TEST_S3_START="$STACK_DIR/s3-start"
export ECCR_TEST_S3_STOP="$STACK_DIR/s3-stop"

echo "s3: test_s3 (s3rver on 127.0.0.1:$S3_PORT)"
"$BUILD/tests/integration/test_s3" --jobs=1 2>&1 | tee -a "$STACK_DIR/tests.log"
