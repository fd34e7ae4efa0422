#!/bin/bash
# tests/scale/run.sh BUILD_DIR [TEST...] - ECCR on several hosts: builds the
# cluster of tests/scale/cluster.sh (network namespaces on a private bridge,
# all inside this machine), starts PostgreSQL, two application hosts and an
# nginx balancer, and runs the scenarios of test_scale.py from a client
# host.  Needs root (namespaces), nginx, memcached, lighttpd, PostgreSQL.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR [TEST...]}" && pwd)
shift
TOP=$(mktemp -d /tmp/eccr-scale.XXXXXX)
chmod 755 "$TOP"
# Namespace names are per run, so a run never touches another's.
NS_PREFIX=eccr$$
export TOP SRC BUILD NS_PREFIX
# shellcheck source=cluster.sh
. "$SRC/tests/scale/cluster.sh"

cleanup() {
	rc=$?
	cluster_destroy
	if [ "$rc" -ne 0 ]; then
		echo "scale: FAILED; logs kept in $TOP" >&2
		for f in "$TOP"/app*/*.log "$TOP"/front/error.log "$TOP"/db/postgresql.log; do
			[ -s "$f" ] || continue
			echo "--- $f" >&2
			tail -15 "$f" >&2
		done
	else
		rm -rf "$TOP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cluster_create
db_init
db_start
in_ns db runuser -u postgres -- "$PG_BIN/createdb" -h "$DB_ADDR" -U postgres eccr
shared_setup
app_config app1
app_config app2
in_ns app1 "$BUILD/src/ctl/eccrctl" -c "$TOP/app1/eccr.conf" migrate up \
	--dir "$SRC/db/migrations" >/dev/null
app_start app1
app_start app2
front_start

# What the scenarios call to act on the cluster: $TOP/ctl FUNCTION ARGS.
{
	echo "#!/bin/bash"
	echo "set -eu"
	printf 'TOP=%q SRC=%q BUILD=%q NS_PREFIX=%q\n' "$TOP" "$SRC" "$BUILD" "$NS_PREFIX"
	echo ". \"\$SRC/tests/scale/cluster.sh\""
	echo '"$@"'
} >"$TOP/ctl"
chmod +x "$TOP/ctl"

export ECCR_TEST_URL="http://$FRONT_ADDR/api/v1"
export ECCR_TEST_ROOT="http://$FRONT_ADDR"
export ECCR_TEST_CONFIG="$TOP/app1/eccr.conf"
export ECCR_TEST_ECCRCTL="$BUILD/src/ctl/eccrctl"
export ECCR_SCALE_CTL="$TOP/ctl"
export ECCR_SCALE_TOP="$TOP"
export ECCR_SCALE_APPS="$APP_ADDRS"
export ECCR_SCALE_DB="host=$DB_ADDR port=5432 dbname=eccr user=postgres"
in_ns cli /usr/bin/python3 "$SRC/tests/scale/test_scale.py" "$@"
