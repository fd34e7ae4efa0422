#!/bin/bash
# tests/deploy/smoke.sh BUILD_DIR - deployment smoke tests: the shipped
# web server configurations (etc/lighttpd: spawned and external socket;
# etc/nginx; etc/apache2: mod_proxy_fcgi and mod_fcgid), with their paths
# substituted into a temporary directory, each in front of a real
# eccr-fcgi, PostgreSQL, eccr-worker and eccr-wsd, driven through the same
# end-to-end scenario with curl and a WebSocket client (ws_probe.py)
# connected through the server's /ws proxy.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: smoke.sh BUILD_DIR}" && pwd)
STACK_DIR=$(mktemp -d /tmp/eccr-deploy.XXXXXX)
chmod 755 "$STACK_DIR"
# shellcheck source=../../script/lib/stack.sh
. "$SRC/script/lib/stack.sh"
# shellcheck source=scenario.sh
. "$SRC/tests/deploy/scenario.sh"
ECCRCTL=$BUILD/src/ctl/eccrctl
ECCR_CONF=$STACK_DIR/eccr.conf

SERVER_PID=""
FCGI_PID=""
sanitizer_env

stop_server() {
	for pid in $SERVER_PID $FCGI_PID; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	SERVER_PID=""
	FCGI_PID=""
	pkill -TERM -f "$BUILD/src/fcgi/eccr-fcgi" 2>/dev/null || true
	pkill -TERM -f "$STACK_DIR/bin/eccr-fcgi" 2>/dev/null || true
	sleep 0.3
}

cleanup() {
	rc=$?
	stop_server
	wsd_stop
	worker_stop
	pg_stop
	stack_finish "$rc" deploy 20 "$STACK_DIR"/*.log
}
trap cleanup EXIT

# The shipped file with its well-known paths moved into the stack.
substitute() {
	sed -e "s|/run/eccr/fcgi.sock|$STACK_DIR/fcgi.sock|g" \
	    -e "s|/usr/local/sbin/eccr-fcgi|$BUILD/src/fcgi/eccr-fcgi|g" \
	    -e "s|/etc/eccr/eccr.conf|$STACK_DIR/eccr.conf|g" \
	    -e "s|/var/lib/eccr/files|$STACK_DIR/files|g" \
	    -e "s|/usr/local/share/eccr/www|$STACK_DIR/dashboard|g" \
	    -e "s|127.0.0.1:3002|127.0.0.1:$WSD_PORT|g" \
	    -e "s|\"port\" => 3002|\"port\" => $WSD_PORT|g" \
	    -e "s|<Directory /usr/local/sbin>|<Directory $STACK_DIR/bin>|" \
	    -e "s|listen 80;|listen 127.0.0.1:$HTTP_PORT;|" \
	    -e "s|<VirtualHost \*:80>|<VirtualHost *:$HTTP_PORT>|" "$1"
}

configure() {
	STORAGE_EXTRA="sendfile = $1" write_config eccr <<EOC

[plugins]
dir = $STACK_DIR/plugins
load = activity-pg, broadcast-ws, job-noop

[wsd]
listen = 127.0.0.1:$WSD_PORT

[worker]
poll_interval_ms = 100
EOC
}

# eccr-fcgi on its own socket (nginx, Apache), world-connectable in this
# throw-away directory so the servers' unprivileged workers reach it.
start_fcgi() {
	FCGI_MODE=$1
	rm -f "$STACK_DIR/fcgi.sock"
	if [ "$1" = spawn-fcgi ]; then
		spawn-fcgi -n -s "$STACK_DIR/fcgi.sock" -M 0666 -- "$BUILD/src/fcgi/eccr-fcgi" \
			-c "$STACK_DIR/eccr.conf" >>"$STACK_DIR/eccr-fcgi.log" 2>&1 &
	else
		"$BUILD/src/fcgi/eccr-fcgi" -c "$STACK_DIR/eccr.conf" -s "$STACK_DIR/fcgi.sock" \
			>>"$STACK_DIR/eccr-fcgi.log" 2>&1 &
	fi
	FCGI_PID=$!
	for _ in $(seq 1 50); do
		[ -S "$STACK_DIR/fcgi.sock" ] && break
		sleep 0.1
	done
	chmod 666 "$STACK_DIR/fcgi.sock"
}

start_lighttpd() {  # [eccr-socket.conf: eccr-fcgi on its own socket]
	if [ "${1:-}" = eccr-socket.conf ]; then
		start_fcgi direct
	fi
	substitute "$SRC/etc/lighttpd/${1:-eccr.conf}" >"$STACK_DIR/lighttpd-site.conf"
	lighttpd_run "$STACK_DIR/lighttpd-site.conf"
}

start_nginx() {
	start_fcgi direct
	substitute "$SRC/etc/nginx/eccr.conf" >"$STACK_DIR/nginx-site.conf"
	nginx_run "$STACK_DIR/nginx-site.conf"
}

start_apache() {
	start_fcgi spawn-fcgi
	substitute "$SRC/etc/apache2/eccr.conf" >"$STACK_DIR/apache-site.conf"
	apache_run \
		"LoadModule setenvif_module /usr/lib/apache2/modules/mod_setenvif.so" \
		"LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so"
}

# mod_fcgid starts eccr-fcgi as Apache's user (www-data), which must read
# the binary, plugins, configuration and secrets, and write the files,
# the metrics and (sanitizer build) its reports: hand them over.  Last in
# the run, since the other servers' eccr-fcgi runs as root.
start_apache_fcgid() {
	mkdir -p "$STACK_DIR/bin" "$STACK_DIR/fcgid" "$STACK_DIR/metrics"
	cp "$BUILD/src/fcgi/eccr-fcgi" "$STACK_DIR/bin/eccr-fcgi"
	for so in "$STACK_DIR"/plugins/*.so; do
		cp --remove-destination "$(readlink -f "$so")" "$so"
	done
	chown -R www-data "$STACK_DIR/files" "$STACK_DIR/metrics" "$STACK_DIR/fcgid" \
		"$STACK_DIR/jwt-secret" "$STACK_DIR/url-secret"
	chgrp www-data "$STACK_DIR"
	chmod 775 "$STACK_DIR"
	sed -e "s|/usr/local/sbin/eccr-fcgi|$STACK_DIR/bin/eccr-fcgi|g" "$SRC/etc/apache2/eccr-fcgid.conf" |
		substitute /dev/stdin >"$STACK_DIR/apache-site.conf"
	apache_run \
		"LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so" \
		"LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so" \
		"FcgidIPCDir $STACK_DIR/fcgid" \
		"FcgidProcessTableFile $STACK_DIR/fcgid/shm" \
		"FcgidInitialEnv ASAN_OPTIONS \"$ASAN_OPTIONS\"" \
		"FcgidInitialEnv UBSAN_OPTIONS \"$UBSAN_OPTIONS\""
}

# eccr-fcgi on its own socket stops cleanly on SIGTERM (exit 0) and the
# server reaches the new one without being touched.
restart_fcgi() {
	local rc=0
	[ -n "$FCGI_PID" ] || return 0
	kill -TERM "$FCGI_PID"
	wait "$FCGI_PID" || rc=$?
	[ "$rc" = 0 ] || fail "eccr-fcgi exited $rc on SIGTERM"
	start_fcgi "$FCGI_MODE"
	wait_up
	echo "deploy [$SERVER]: eccr-fcgi restarted"
}

PG_PORT=$(free_port)
HTTP_PORT=$(free_port "$PG_PORT")
WSD_PORT=$(free_port "$HTTP_PORT")
pg_init
pg_start
pg_createdb eccr
plugins_dir_setup
# The dashboard's files where make install would put them, readable by
# the servers' unprivileged users.
cp -r "$SRC/www" "$STACK_DIR/dashboard"
chmod -R a+rX "$STACK_DIR/dashboard"
configure none
migrate >/dev/null
worker_start
wsd_start "$WSD_PORT"

for SERVER in lighttpd lighttpd-socket nginx apache apache-fcgid; do
	case $SERVER in
	lighttpd) configure x-lighttpd-send-file; start_lighttpd ;;
	lighttpd-socket) configure x-lighttpd-send-file; start_lighttpd eccr-socket.conf ;;
	nginx) configure x-accel-redirect; start_nginx ;;
	apache) configure none; start_apache ;;
	apache-fcgid) configure none; start_apache_fcgid ;;
	esac
	wait_up
	scenario
	restart_fcgi
	stop_server
done
