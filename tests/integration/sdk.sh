#!/bin/bash
# tests/integration/sdk.sh BUILD_DIR - prove the plugin SDK works out of tree:
# install the build into a temporary DESTDIR, build examples/sink-count
# against the installed eccr-plugin.pc alone (-Wall -Wextra -Werror), check
# what it exports, have `eccrctl plugin check` describe it, and load it into
# a real `eccr-worker --once` that must deliver an event to it.
#
# Needs the PostgreSQL of tests/integration/run.sh: ECCR_TEST_CONNINFO (a
# superuser connection; the test works in a database of its own, created
# and dropped here, so the stack's running worker never races it for the
# event) and psql.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: sdk.sh BUILD_DIR}" && pwd)
: "${ECCR_TEST_CONNINFO:?sdk.sh: ECCR_TEST_CONNINFO is not set (run it from tests/integration/run.sh)}"

TMP=$(mktemp -d /tmp/eccr-sdk.XXXXXX)
DB="eccr_sdk_$$_$RANDOM"
DB_CREATED=0

fail() {
	echo "sdk: FAIL: $*" >&2
	exit 1
}

cleanup() {
	rc=$?
	if [ "$DB_CREATED" = 1 ]; then
		psql -X -q "$ECCR_TEST_CONNINFO" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
	fi
	if [ "$rc" -ne 0 ]; then
		echo "sdk: FAILED; files kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in make cc pkg-config nm psql; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[ -f "$BUILD/eccr-plugin.pc" ] || fail "$BUILD/eccr-plugin.pc missing: is $BUILD a configured build?"
[ -x "$BUILD/src/ctl/eccrctl" ] || fail "$BUILD/src/ctl/eccrctl missing: build first"
[ -x "$BUILD/src/worker/eccr-worker" ] || fail "$BUILD/src/worker/eccr-worker missing: build first"

# ---------------------------------------------------------------- install
DEST="$TMP/dest"
echo "sdk: make install DESTDIR=$DEST"
make -C "$BUILD" install DESTDIR="$DEST" >"$TMP/install.log" 2>&1 ||
	{ tail -30 "$TMP/install.log" >&2; fail "make install failed (log: $TMP/install.log)"; }

# The generated .pc names the configured prefix (script/build: /usr/local);
# the installed copy lives under DESTDIR.
PREFIX=$(sed -n 's/^prefix=//p' "$BUILD/eccr-plugin.pc")
[ -n "$PREFIX" ] || fail "$BUILD/eccr-plugin.pc has no prefix= line"
LIBDIR=$(PKG_CONFIG_PATH="$BUILD" pkg-config --variable=libdir eccr-plugin)
INCLUDEDIR=$(PKG_CONFIG_PATH="$BUILD" pkg-config --variable=includedir eccr-plugin)
PCDIR="$DEST$LIBDIR/pkgconfig"
[ -f "$PCDIR/eccr-plugin.pc" ] || fail "eccr-plugin.pc not installed in $PCDIR"
[ -f "$DEST$INCLUDEDIR/eccr/plugin.h" ] || fail "eccr/plugin.h not installed in $DEST$INCLUDEDIR"
[ -f "$DEST$PREFIX/share/man/man7/eccr-plugin.7" ] || fail "eccr-plugin.7 not installed"

export PKG_CONFIG_PATH="$PCDIR"
PKG_CONFIG="pkg-config --define-variable=prefix=$DEST$PREFIX"
CFLAGS_SDK=$($PKG_CONFIG --cflags eccr-plugin) || fail "pkg-config does not find eccr-plugin in $PCDIR"
echo "sdk: pkg-config --cflags eccr-plugin: $CFLAGS_SDK"
case " $CFLAGS_SDK " in
*" -I$DEST$INCLUDEDIR "*) ;;
*) fail "the cflags do not point at the installed header ($DEST$INCLUDEDIR)" ;;
esac

# ---------------------------------------------------------------- build out of tree
WORK="$TMP/sink-count"
cp -r "$SRC/examples/sink-count" "$WORK"
rm -f "$WORK/sink-count.so"
echo "sdk: building examples/sink-count with its Makefile"
make -C "$WORK" PKG_CONFIG="$PKG_CONFIG" CFLAGS="-O2 -g -Wall -Wextra -Werror" \
	>"$TMP/example.log" 2>&1 || { cat "$TMP/example.log" >&2; fail "the example does not build"; }
SO="$WORK/sink-count.so"
[ -f "$SO" ] || fail "the example's Makefile made no sink-count.so"

# The one-line build of the header's comment and of docs/plugins.md.
# shellcheck disable=SC2086
cc -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror $CFLAGS_SDK \
	-o "$TMP/one-line.so" "$SRC/examples/sink-count/sink-count.c" ||
	fail "cc -shared -fPIC \$(pkg-config --cflags eccr-plugin) does not build the example"

# docs/plugins.md shows the example in full: it must be the file that
# was just compiled.
if [ -f "$SRC/docs/plugins.md" ]; then
	awk '/^## The example in full/ { f = 1; next }
	    f && /^```c$/ { c = 1; next }
	    c && /^```$/ { exit }
	    c { print }' "$SRC/docs/plugins.md" >"$TMP/guide.c"
	diff -u "$SRC/examples/sink-count/sink-count.c" "$TMP/guide.c" >&2 ||
		fail "docs/plugins.md's full example differs from examples/sink-count/sink-count.c"
fi

# ---------------------------------------------------------------- exports
exports=$(nm -D --defined-only "$SO" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }')
echo "$exports" | grep -qx 'eccr_plugin_entry' || fail "sink-count.so does not export eccr_plugin_entry"
others=$(echo "$exports" | grep -vx 'eccr_plugin_entry' | grep -v '^_' || true)
[ -z "$others" ] || fail "sink-count.so exports more than eccr_plugin_entry: $others"

# ---------------------------------------------------------------- eccrctl plugin check
check=$("$BUILD/src/ctl/eccrctl" plugin check "$SO") || fail "eccrctl plugin check refused $SO"
while IFS= read -r line; do echo "sdk:   $line"; done <<<"$check"
echo "$check" | grep -Eq '^name: +sink-count$' || fail "plugin check: no \"name: sink-count\" line"
echo "$check" | grep -Eq '^kind: +sink$' || fail "plugin check: no \"kind: sink\" line"
echo "$check" | grep -Eq '^version: +1\.0\.0$' || fail "plugin check: no \"version: 1.0.0\" line"
echo "$check" | grep -Eq '^option: +path ' || fail "plugin check: option path not listed"
echo "$check" | grep -Eq '^option: +prefix ' || fail "plugin check: option prefix not listed"

# ---------------------------------------------------------------- a real delivery
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql "$ECCR_TEST_CONNINFO" -c "CREATE DATABASE $DB" >/dev/null || fail "cannot create database $DB"
DB_CREATED=1
# A later dbname= overrides the earlier one in a libpq conninfo.
CONNINFO="$ECCR_TEST_CONNINFO dbname=$DB"

mkdir -p "$TMP/plugins"
cp "$SO" "$TMP/plugins/sink-count.so"
OUT="$TMP/events.txt"
CONF="$TMP/eccr.conf"
cat >"$CONF" <<EOC
; Written by tests/integration/sdk.sh.
[database]
conninfo = $CONNINFO

[log]
target = stderr
level = info

[storage]
local_root = $TMP/files

[plugins]
dir = $TMP/plugins
load = sink-count

[plugin.sink-count]
path = $OUT
prefix = sdk:
events = episode_*

[outbox]
grace_ms = 0
EOC
mkdir -p "$TMP/files"

# The migrations as installed: they are part of what make install ships.
"$BUILD/src/ctl/eccrctl" -c "$CONF" migrate up --dir "$DEST$PREFIX/share/eccr/migrations" \
	>"$TMP/migrate.log" 2>&1 || { cat "$TMP/migrate.log" >&2; fail "eccrctl migrate up failed"; }

rid="sdk-test-$$-$RANDOM"
insert() {
	psql "$CONNINFO" -At -c "INSERT INTO events (type, actor_id, resource_type, resource_id, data, created_at)
	    VALUES ('$1', 'system', '$2', '$rid', '{}', now() - interval '1 minute') RETURNING id"
}
id=$(insert episode_updated episode) || fail "cannot insert the event"
other=$(insert job_created job) || fail "cannot insert the filtered event"
[[ "$id" =~ ^[0-9]+$ ]] || fail "INSERT returned \"$id\", not an id"
echo "sdk: events $id (episode_updated) and $other (job_created, filtered out) inserted"

"$BUILD/src/worker/eccr-worker" -c "$CONF" --once >"$TMP/worker.log" 2>&1 ||
	{ cat "$TMP/worker.log" >&2; fail "eccr-worker --once failed"; }
[ -f "$OUT" ] || { cat "$TMP/worker.log" >&2; fail "the plugin wrote no $OUT"; }
grep -qx "sdk:$id episode_updated" "$OUT" ||
	{ cat "$OUT" "$TMP/worker.log" >&2; fail "$OUT has no line \"sdk:$id episode_updated\""; }
if grep -q "^sdk:$other " "$OUT"; then
	fail "event $other (job_created) reached the sink despite events = episode_*"
fi
grep -q '\[plugin:sink-count\] 1 events written' "$TMP/worker.log" ||
	{ cat "$TMP/worker.log" >&2; fail "the worker did not log the plugin's fini message"; }
undelivered=$(psql "$CONNINFO" -At -c "SELECT count(*) FROM events WHERE delivered_at IS NULL")
[ "$undelivered" = 0 ] || fail "$undelivered events still undelivered after eccr-worker --once"

echo "sdk: ok (sink-count built out of tree, checked, and delivered event $id)"
