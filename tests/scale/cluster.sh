# tests/scale/cluster.sh - a small ECCR cluster on this machine, one network
# namespace per host on a private bridge (sourced by tests/scale/run.sh,
# and by the host-start/host-kill scripts it writes for the scenarios).
#
#   db     10.231.7.10   PostgreSQL
#   app1   10.231.7.11   lighttpd + eccr-fcgi, eccr-worker, eccr-wsd, memcached
#   app2   10.231.7.12   the same
#   front  10.231.7.13   nginx balancing HTTP and /ws over app1 and app2
#   cli    10.231.7.20   where the scenarios run
#
# The bridge lives in a namespace of its own (NS_PREFIX-sw), so nothing of
# the machine's own network changes and no packet can leave the machine:
# none of these namespaces has a route anywhere but the bridge.
#
# Callers set: TOP (the run's directory), SRC, BUILD, NS_PREFIX.

NET=10.231.7
DB_ADDR=$NET.10
APP_ADDRS="$NET.11 $NET.12"
FRONT_ADDR=$NET.13
CLI_ADDR=$NET.20
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

ns() { echo "$NS_PREFIX-$1"; }
in_ns() { local host=$1; shift; ip netns exec "$(ns "$host")" "$@"; }
app_addr() { echo "$NET.1${1#app}"; }   # app1 -> .11
# A program of an application host, in the host's network namespace and
# with the host's name (a UTS namespace of its own: eccr-worker names
# itself host:pid in jobs.locked_by), in a session of its own.
app_exec() {  # NAME PROGRAM ARGS...
	local host=$1; shift
	in_ns "$host" unshare --uts setsid sh -c 'hostname "$0" && exec "$@"' "$host" "$@"
}

# One host: its namespace, a veth whose other end is on the bridge, its
# address, and its own loopback (each host's processes talk to themselves
# on 127.0.0.1 as on a real machine).
host_add() {  # NAME ADDR
	local sw; sw=$(ns sw)
	ip netns add "$(ns "$1")"
	ip -n "$sw" link add "v-$1" type veth peer name eth0 netns "$(ns "$1")"
	ip -n "$sw" link set "v-$1" master br0 up
	ip -n "$(ns "$1")" link set lo up
	host_up "$1" "$2"
}

host_up() {  # NAME ADDR
	ip -n "$(ns "$1")" addr add "$2/24" dev eth0 2>/dev/null || true
	ip -n "$(ns "$1")" link set eth0 up
}

# The host is gone as after a power cut: its link goes down and its
# address away first, so peers see silence (no FIN, no RST, no refusal:
# requests in flight to it hang until their timeouts), then every process
# in it is SIGKILLed.
host_down() {  # NAME
	local pids
	ip -n "$(ns "$1")" link set eth0 down
	ip -n "$(ns "$1")" addr flush dev eth0
	pids=$(ip netns pids "$(ns "$1")")
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	for _ in $(seq 1 50); do
		[ -z "$(ip netns pids "$(ns "$1")")" ] && return 0
		sleep 0.1
	done
}

cluster_create() {
	local sw; sw=$(ns sw)
	ip netns add "$sw"
	ip -n "$sw" link add br0 type bridge
	ip -n "$sw" link set br0 up
	host_add db "$DB_ADDR"
	host_add app1 "$NET.11"
	host_add app2 "$NET.12"
	host_add front "$FRONT_ADDR"
	host_add cli "$CLI_ADDR"
}

cluster_destroy() {
	for h in cli front app2 app1 db sw; do
		local pids
		pids=$(ip netns pids "$(ns "$h")" 2>/dev/null || true)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	done
	sleep 0.2
	for h in cli front app2 app1 db sw; do
		ip netns del "$(ns "$h")" 2>/dev/null || true
	done
}

# ------------------------------------------------------------ the database host

as_pg() { runuser -u postgres -- "$@"; }

db_init() {
	mkdir -p "$TOP/db/pg" "$TOP/db/sock"
	touch "$TOP/db/postgresql.log"
	chown postgres "$TOP/db/pg" "$TOP/db/sock" "$TOP/db/postgresql.log"
	chmod 700 "$TOP/db/pg"
	as_pg "$PG_BIN/initdb" -D "$TOP/db/pg" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 --no-sync >"$TOP/db/initdb.log" 2>&1 ||
		{ cat "$TOP/db/initdb.log" >&2; return 1; }
	echo "host all all $NET.0/24 trust" >>"$TOP/db/pg/pg_hba.conf"
	# The server's side of a dead peer: an application host that vanished
	# leaves its connections open, holding locks of transactions in flight,
	# until TCP tells.  These settings make that seconds, not the kernel's
	# ~15 minutes of retransmissions (docs/scaling.md).
	cat >>"$TOP/db/pg/postgresql.conf" <<EOC
listen_addresses = '$DB_ADDR'
port = 5432
unix_socket_directories = '$TOP/db/sock'
max_connections = 200
fsync = off
full_page_writes = off
synchronous_commit = off
tcp_keepalives_idle = 2
tcp_keepalives_interval = 1
tcp_keepalives_count = 3
tcp_user_timeout = 5000
idle_in_transaction_session_timeout = 10000
EOC
}

db_start() {
	in_ns db runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TOP/db/pg" \
		-l "$TOP/db/postgresql.log" -w -t 60 start >/dev/null
}

db_stop() {
	in_ns db runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TOP/db/pg" -m fast -w stop \
		>/dev/null 2>&1 || true
}

psql_db() { in_ns cli psql -h "$DB_ADDR" -U postgres -d eccr -v ON_ERROR_STOP=1 -qAt "$@"; }

# ------------------------------------------------------------ application hosts

# Shared by both: the secrets, the plugins, and the files (on a real site
# an S3 bucket or an NFS mount: a file uploaded through one host is read
# through the other).
shared_setup() {
	mkdir -p "$TOP/plugins" "$TOP/files"
	head -c 48 /dev/urandom | base64 | tr -d "\n=" >"$TOP/jwt-secret"
	head -c 32 /dev/urandom | base64 | tr -d "\n=" >"$TOP/url-secret"
	chmod 600 "$TOP/jwt-secret" "$TOP/url-secret"
	for so in "$BUILD"/plugins/*/.libs/*.so; do
		ln -sf "$so" "$TOP/plugins/$(basename "$so")"
	done
}

app_config() {  # NAME
	local dir=$TOP/$1
	mkdir -p "$dir/metrics"
	cat >"$dir/eccr.conf" <<EOC
; $1 of the scale test (tests/scale/cluster.sh)
[database]
conninfo = host=$DB_ADDR port=5432 dbname=eccr user=postgres connect_timeout=2

[server]
base_path = /api/v1
public_url = http://$FRONT_ADDR
threads = 4
idempotency_ttl_s = 3600

[auth]
jwt_secret_file = $TOP/jwt-secret

[log]
level = info

[metrics]
dir = $dir/metrics
public = true

[storage]
local_root = $TOP/files
url_secret_file = $TOP/url-secret
max_upload_bytes = 1048576

[plugins]
dir = $TOP/plugins
load = activity-pg, sink-jsonl, broadcast-ws, presence-memcache, job-noop, job-checksum

[plugin.sink-jsonl]
path = $dir/events.jsonl

[plugin.presence-memcache]
servers = $(for a in $APP_ADDRS; do printf '%s:11211, ' "$a"; done | sed 's/, $//')
ttl_s = 10
retry_s = 1
connect_timeout_ms = 200
sweep_s = 1

[outbox]
grace_ms = 1000
retry_base_ms = 200
retry_max_ms = 1000

[worker]
poll_interval_ms = 200
lease_s = 3
retry_base_ms = 200
retry_max_ms = 1000
EOC
}

# Everything an application host runs, started inside its namespace and
# left running when this returns; the host is killed with host_down.
app_start() {  # NAME
	local dir=$TOP/$1 addr
	addr=$(app_addr "$1")
	host_up "$1" "$addr"
	rm -f "$dir"/*.pid "$dir/eccr-fcgi.sock"*
	memcached_start "$1"
	sed -e "s|^server.bind .*|server.bind = \"$addr\"|" -e "s|@PORT@|80|g" \
	    -e "s|@RUNDIR@|$dir|g" -e "s|@WWW@|$SRC/www|g" -e "s|@WSD_PORT@|3002|g" \
	    -e "s|@ECCR_FCGI@|$BUILD/src/fcgi/eccr-fcgi|g" \
	    -e "s|@ECCR_CONFIG@|$dir/eccr.conf|g" \
	    "$SRC/etc/lighttpd/eccr-dev.conf.in" >"$dir/lighttpd.conf"
	app_exec "$1" "$BUILD/src/wsd/eccr-wsd" -c "$dir/eccr.conf" -l 127.0.0.1:3002 \
		>>"$dir/wsd.log" 2>&1 </dev/null &
	app_exec "$1" lighttpd -D -f "$dir/lighttpd.conf" >>"$dir/eccr-fcgi.log" 2>&1 </dev/null &
	app_exec "$1" "$BUILD/src/worker/eccr-worker" -c "$dir/eccr.conf" \
		>>"$dir/worker.log" 2>&1 </dev/null &
	# They belong to the host, not to this shell (no "Killed" notices
	# when the host goes down).
	disown -a
	for _ in $(seq 1 100); do
		# Up when it reaches the database (presence may still say
		# degraded: the other host's memcached may not be there yet).
		if in_ns "$1" curl -sS "http://$addr/health" 2>/dev/null | grep -q '"database":"ok"' &&
		   in_ns "$1" curl -fsS -o /dev/null "http://127.0.0.1:3002/health" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "scale: $1 did not come up" >&2
	tail -20 "$dir"/*.log >&2
	return 1
}

# memcached of an application host alone, killed and started again (the
# rest of the host goes on).
memcached_kill() {  # NAME
	kill -KILL "$(cat "$TOP/$1/memcached.pid")"
}

memcached_start() {  # NAME
	app_exec "$1" memcached -d -l "$(app_addr "$1")" -p 11211 -U 0 -m 16 -c 1024 -u root \
		-P "$TOP/$1/memcached.pid"
}

# ------------------------------------------------------------ the balancer

# nginx from Debian, passive health checks: a host that fails a connect is
# left out for fail_timeout.  POSTs are not passed to the next host once
# sent (nginx's default for non-idempotent requests): clients retry them
# with their Idempotency-Key.
front_start() {
	local dir=$TOP/front ups=""
	mkdir -p "$dir/tmp"
	for a in $APP_ADDRS; do
		ups="$ups		server $a:80 max_fails=1 fail_timeout=3s;
"
	done
	cat >"$dir/nginx.conf" <<EOC
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	client_max_body_size 2m;
	upstream eccr {
$ups		keepalive 32;
	}
	server {
		listen $FRONT_ADDR:80;
		proxy_connect_timeout 1s;
		proxy_read_timeout 30s;
		proxy_next_upstream error timeout;
		proxy_set_header Host \$host;
		location /ws {
			proxy_pass http://eccr;
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_read_timeout 1h;
		}
		location / {
			proxy_pass http://eccr;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_request_buffering off;
		}
	}
}
EOC
	in_ns front nginx -c "$dir/nginx.conf" -p "$dir" -t >/dev/null 2>&1 ||
		{ in_ns front nginx -c "$dir/nginx.conf" -p "$dir" -t; return 1; }
	in_ns front nginx -c "$dir/nginx.conf" -p "$dir"
}
