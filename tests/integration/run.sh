#!/bin/bash
# tests/integration/run.sh BUILD_DIR [NAME] - run the integration suite against a
# real PostgreSQL and a real lighttpd + eccr-fcgi, all started here in a
# temporary directory on loopback ports nobody else uses, and all stopped
# again however the run ends.  Fails if a sanitizer reported anything.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
STACK_DIR=$(mktemp -d /tmp/eccr-test.XXXXXX)
chmod 755 "$STACK_DIR"
# shellcheck source=../../script/lib/stack.sh
. "$SRC/script/lib/stack.sh"

sanitizer_env

cleanup() {
	rc=$?
	wsd_stop
	worker_stop
	# Workers the tests started and left behind.
	pkill -TERM -f "$BUILD/src/worker/eccr-worker" 2>/dev/null || true
	lighttpd_stop
	pg_stop
	smtp_stop
	webhook_stop
	for port in ${MEMCACHED_PORTS:-}; do memcached_stop "$port"; done
	stack_finish "$rc" integration 40 "$STACK_DIR/eccr-fcgi.log" "$STACK_DIR/lighttpd-error.log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port)
HTTP_PORT=$(free_port "$PG_PORT")
WSD_PORT=$(free_port "$PG_PORT" "$HTTP_PORT")
WSD2_PORT=$(free_port "$PG_PORT" "$HTTP_PORT" "$WSD_PORT")
SMTP_PORT=$(free_port "$PG_PORT" "$HTTP_PORT" "$WSD_PORT" "$WSD2_PORT")
WEBHOOK_PORT=$(free_port "$PG_PORT" "$HTTP_PORT" "$WSD_PORT" "$WSD2_PORT" "$SMTP_PORT")
pg_init
pg_start
pg_createdb eccr_test
write_pg_scripts
smtp_start "$SMTP_PORT" eccr
webhook_start "$WEBHOOK_PORT"
printf 'X-ECCR-Test: crm\n# a comment line\n' >"$STACK_DIR/webhook-headers"

# Two memcached servers, so presence keys are spread over several.
# Each is listening before the next port is picked, so they differ.
MEMCACHED_PORTS=""
for _ in 1 2; do
	port=$(free_port "$PG_PORT" "$HTTP_PORT" "$WSD_PORT" "$WSD2_PORT" "$SMTP_PORT")
	memcached_start "$port"
	MEMCACHED_PORTS="$MEMCACHED_PORTS $port"
done
# shellcheck disable=SC2086
write_memcached_scripts $MEMCACHED_PORTS
plugins_dir_setup
touch "$STACK_DIR/sink-dead.fail"
# Every sink the pipeline tests watch, with short retry delays so retries
# and the worker's sweep happen within a test's patience.
# A short Idempotency-Key TTL, so that test_idempotency sees keys expire.
STORAGE_EXTRA="max_upload_bytes = 1048576" SERVER_EXTRA="max_body_bytes = 262144
idempotency_ttl_s = 10" write_config eccr_test <<EOC

[plugins]
dir = $STACK_DIR/plugins
load = activity-pg, sink-jsonl, sink-flaky, sink-dead=sink-flaky, job-noop, job-checksum, job-results
; the list goes on (load lines add up)
load = broadcast-ws, notify-email, presence-memcache, crm=webhook-http, chat=webhook-http

[plugin.sink-jsonl]
path = $STACK_DIR/events.jsonl
; every event but notification_created: those repeat the episode's id and
; title, which the pipeline tests count lines of
events = [!n]*

[plugin.sink-flaky]
path = $STACK_DIR/flaky.jsonl
fail_times = 2
; one event of a batch refused for good (test_pipeline.c)
fail_match = poison-pill
events = episode_created

[plugin.sink-dead]
path = $STACK_DIR/dead.jsonl
mode = fail
fail_while = $STACK_DIR/sink-dead.fail
events = episode_deleted

; Two instances of one plugin (test_webhooks.py), each with its endpoint,
; events and retries.
[plugin.crm]
url = http://127.0.0.1:$WEBHOOK_PORT/crm
secret_file = $STACK_DIR/webhook-secret
headers_file = $STACK_DIR/webhook-headers
events = episode_*
connect_timeout_ms = 1000
timeout_ms = 2000

[plugin.chat]
url = http://127.0.0.1:$WEBHOOK_PORT/chat
secret_file = $STACK_DIR/webhook-secret
events = file_uploaded, job_completed
timeout_ms = 2000

[wsd]
; small, so the realtime suite can overflow a stalled client's queue
send_queue_bytes = 65536

[plugin.notify-email]
events = notification_created
smtp_url = smtp://127.0.0.1:$SMTP_PORT
from = eccr@test.invalid
from_name = ECCR Tëst
starttls = required
ca_file = $STACK_DIR/smtp-cert.pem
username = eccr
password_file = $STACK_DIR/smtp-password
timeout_ms = 3000
subject_file_uploaded = [ECCR] {actor} uploaded {name} to “{episode}”

[plugin.presence-memcache]
servers = $(echo $MEMCACHED_PORTS | sed 's/\([0-9]*\)/127.0.0.1:\1/g; s/ /, /g')
ttl_s = 2
retry_s = 1
; eccr-worker's sweep announces an expiry within a second of it
sweep_s = 1
events = episode_deleted

[outbox]
grace_ms = 1000
; high: the e-mail suite keeps its SMTP server down for a minute, and every
; message must still arrive through the backoff (capped at retry_max_ms)
max_attempts = 1000
retry_base_ms = 200
retry_max_ms = 800

[worker]
poll_interval_ms = 100
lease_s = 2
retry_base_ms = 200
retry_max_ms = 1000
EOC
migrate >/dev/null
lighttpd_start
worker_start
# Two hubs: every event must reach the clients of both.
wsd_start "$WSD_PORT" wsd
wsd_start "$WSD2_PORT" wsd2
write_wsd_scripts "$WSD_PORT" wsd

export ECCR_TEST_URL="http://127.0.0.1:$HTTP_PORT/api/v1"
export ECCR_TEST_ROOT="http://127.0.0.1:$HTTP_PORT"
export ECCR_TEST_CONFIG="$STACK_DIR/eccr.conf"
export ECCR_TEST_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=eccr_test user=postgres"
export ECCR_TEST_JWT_SECRET_FILE="$STACK_DIR/jwt-secret"
export ECCR_TEST_ECCRCTL="$BUILD/src/ctl/eccrctl"
export ECCR_TEST_PG_STOP="$STACK_DIR/pg-stop"
export ECCR_TEST_PG_START="$STACK_DIR/pg-start"
export ECCR_TEST_MEMCACHED_STOP="$STACK_DIR/memcached-stop"
export ECCR_TEST_MEMCACHED_START="$STACK_DIR/memcached-start"
export ECCR_TEST_MEMCACHED_PORTS="$MEMCACHED_PORTS"
export ECCR_SRCDIR="$SRC"
export ECCR_TEST_STACK_DIR="$STACK_DIR"
export ECCR_TEST_BUILD="$BUILD"
export ECCR_TEST_WORKER="$BUILD/src/worker/eccr-worker"
export ECCR_TEST_WORKER_PID="$WORKER_PID"
export ECCR_TEST_WSD_URLS="ws://127.0.0.1:$WSD_PORT/ws ws://127.0.0.1:$WSD2_PORT/ws"
export ECCR_TEST_SMTP_STOP="$STACK_DIR/smtp-stop"
export ECCR_TEST_SMTP_START="$STACK_DIR/smtp-start"
export ECCR_TEST_MAIL_DIR="$STACK_DIR/mail"
export ECCR_TEST_WEBHOOK_DIR="$STACK_DIR/webhooks"
export ECCR_TEST_WEBHOOK_STOP="$STACK_DIR/webhook-stop"
export ECCR_TEST_WEBHOOK_START="$STACK_DIR/webhook-start"
# The hub lighttpd proxies /ws to (the dashboard's), to stop and start.
export ECCR_TEST_WSD_STOP="$STACK_DIR/wsd-stop"
export ECCR_TEST_WSD_START="$STACK_DIR/wsd-start"

failed=0
only=${2:-}
for t in "$BUILD"/tests/integration/test_*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	# test_s3 needs s3rver and a stack with backend = s3: tests/integration/s3.sh.
	[ "$(basename "$t")" != test_s3 ] || continue
	[ -z "$only" ] || [ "$(basename "$t")" = "$only" ] || continue
	echo "integration: $(basename "$t")"
	# One test at a time: the outage suite stops the shared PostgreSQL.
	"$t" --jobs=1 2>&1 | tee -a "$STACK_DIR/tests.log" || failed=1
done
if [ -z "$only" ] || [ "$only" = test_realtime ]; then
	echo "integration: test_realtime (WebSocket clients, Python)"
	/usr/bin/python3 "$SRC/tests/integration/test_realtime.py" 2>&1 |
		tee -a "$STACK_DIR/tests.log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
fi
if [ -z "$only" ] || [ "$only" = test_webhooks ]; then
	echo "integration: test_webhooks (a real HTTP receiver, Python)"
	/usr/bin/python3 "$SRC/tests/integration/test_webhooks.py" 2>&1 |
		tee -a "$STACK_DIR/tests.log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
fi
if [ -z "$only" ] || [ "$only" = test_browser ]; then
	echo "integration: test_browser (the dashboard in headless Chromium)"
	# Last, on the same stack with two keys changed: uploads up to 16 MiB
	# (the suite sends 5 MiB; the C suites test the 1 MiB limit) and a
	# presence TTL of 60 s (the default, which the page's 20 s heartbeat
	# is made for; the C suites use 2 s to see expiries quickly).
	sed -i -e 's/^max_upload_bytes = .*/max_upload_bytes = 16777216/' \
	    -e 's/^ttl_s = 2$/ttl_s = 60/' "$STACK_DIR/eccr.conf"
	lighttpd_stop
	lighttpd_start
	worker_stop
	worker_start
	# Screenshots of the main screens, kept in the build tree.
	export ECCR_BROWSER_SHOTS="${ECCR_BROWSER_SHOTS:-$BUILD/tests/browser/screenshots}"
	"$SRC/tests/browser/run.sh" 2>&1 | tee -a "$STACK_DIR/tests.log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
fi
if [ -z "$only" ] || [ "$only" = sdk ]; then
	echo "integration: the plugin SDK, out of tree"
	"$SRC/tests/integration/sdk.sh" "$BUILD" || failed=1
fi
exit "$failed"
