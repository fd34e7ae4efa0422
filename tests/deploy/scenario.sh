# tests/deploy/scenario.sh - the deployment smoke scenario and the web
# server runners, sourced by tests/deploy/smoke.sh (the build tree behind
# the shipped configurations) and tests/deb/run.sh (the installed Debian
# packages).  Needs script/lib/stack.sh sourced first.
#
# Callers set: SRC (source tree: the dashboard's bytes to compare with,
# ws_probe.py), STACK_DIR (scratch directory and logs), HTTP_PORT, SERVER
# (a label for messages), ECCRCTL (the eccrctl to mint the token with) and
# ECCR_CONF (its configuration).  The runners set SERVER_PID.

fail() {
	echo "deploy [$SERVER]: $*" >&2
	exit 1
}

# lighttpd with the site file $1 included in a main file as Debian's has
# it (a document root the site replaces, index files, MIME types); further
# arguments are lines added to the main file.
lighttpd_run() {  # SITE [LINE...]
	local site=$1
	shift
	{
		cat <<EOC
server.modules = ( "mod_indexfile", "mod_access", "mod_alias", "mod_redirect" )
server.document-root = "$STACK_DIR/www"
index-file.names = ( "index.php", "index.html" )
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
server.bind = "127.0.0.1"
server.port = $HTTP_PORT
server.errorlog = "$STACK_DIR/lighttpd-error.log"
EOC
		printf '%s\n' "$@"
		echo "include \"$site\""
	} >"$STACK_DIR/lighttpd.conf"
	mkdir -p "$STACK_DIR/www"
	lighttpd -tt -f "$STACK_DIR/lighttpd.conf" >>"$STACK_DIR/lighttpd-error.log" 2>&1 ||
		fail "lighttpd -tt: $(tail -5 "$STACK_DIR/lighttpd-error.log")"
	lighttpd -D -f "$STACK_DIR/lighttpd.conf" >>"$STACK_DIR/eccr-fcgi.log" 2>&1 &
	SERVER_PID=$!
}

# nginx with the http-level file $1 (server blocks) included.
nginx_run() {  # FILE
	cp /etc/nginx/fastcgi_params "$STACK_DIR/"   # the site includes it relative to the main file
	mkdir -p "$STACK_DIR/nginx"
	cat >"$STACK_DIR/nginx.conf" <<EOC
daemon off;
# The objects belong to root here (0640); in a deployment nginx's user is
# put in the eccr group instead (see etc/nginx/eccr.conf).
user root;
worker_processes 1;
pid $STACK_DIR/nginx.pid;
error_log $STACK_DIR/nginx-error.log;
events { worker_connections 256; }
http {
	include /etc/nginx/mime.types;
	access_log $STACK_DIR/nginx-access.log;
	client_body_temp_path $STACK_DIR/nginx/body;
	fastcgi_temp_path $STACK_DIR/nginx/fastcgi;
	proxy_temp_path $STACK_DIR/nginx/proxy;
	include $1;
}
EOC
	nginx -t -p "$STACK_DIR/nginx" -c "$STACK_DIR/nginx.conf" >>"$STACK_DIR/nginx-error.log" 2>&1 ||
		fail "nginx -t: $(tail -5 "$STACK_DIR/nginx-error.log")"
	nginx -p "$STACK_DIR/nginx" -c "$STACK_DIR/nginx.conf" >>"$STACK_DIR/nginx-error.log" 2>&1 &
	SERVER_PID=$!
}

# Apache with the site in $APACHE_SITE (default $STACK_DIR/apache-site.conf);
# the arguments are the lines (modules, settings) one variant adds to the
# common ones.
apache_run() {
	{
		cat <<EOC
ServerRoot /etc/apache2
PidFile $STACK_DIR/apache.pid
Listen 127.0.0.1:$HTTP_PORT
ErrorLog $STACK_DIR/apache-error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_wstunnel_module /usr/lib/apache2/modules/mod_proxy_wstunnel.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so
TypesConfig /etc/mime.types
EOC
		printf '%s\n' "$@"
		echo "Include ${APACHE_SITE:-$STACK_DIR/apache-site.conf}"
	} >"$STACK_DIR/apache.conf"
	APACHE_RUN_DIR="$STACK_DIR" apache2 -f "$STACK_DIR/apache.conf" -DFOREGROUND \
		>>"$STACK_DIR/apache-error.log" 2>&1 &
	SERVER_PID=$!
}

wait_up() {
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/health" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "did not come up"
}

# Every value of header NAME (any case) in a curl -D file, one a line.
header_values() {  # FILE NAME
	awk -v name="$2" '{ sub(/\r$/, "") }
		tolower(substr($0, 1, length(name) + 1)) == tolower(name) ":" {
			v = substr($0, length(name) + 2); sub(/^[ \t]+/, "", v); print v }' "$1"
}

# The file content at URL comes with exactly these headers, whoever sent
# the bytes: eccr-fcgi, or the server itself (storage.sendfile), which must
# neither drop nor override what eccr-fcgi said.
check_content_headers() {  # URL CONTENT-TYPE CONTENT-DISPOSITION
	local h="$STACK_DIR/content-headers.txt" name want got
	curl -fsS -D "$h" -o /dev/null "$1" || fail "download $1"
	for name in Content-Type X-Content-Type-Options Content-Security-Policy Content-Disposition; do
		case $name in
		Content-Type) want=$2 ;;
		X-Content-Type-Options) want=nosniff ;;
		Content-Security-Policy) want=sandbox ;;
		Content-Disposition) want=$3 ;;
		esac
		got=$(header_values "$h" "$name")
		[ "$got" = "$want" ] || fail "$name is \"$got\", not \"$want\" (headers: $(tr -d '\r' <"$h" | tr '\n' '|'))"
	done
}

# The dashboard at /: its page and one of its modules, each with its
# type and the Content-Security-Policy that keeps any other code out.
dashboard() {  # BASE
	local path want hdr file
	for path in / /js/app.js /vendor/preact/preact.module.js; do
		case $path in
		/) want='text/html' ;;
		*) want='(text|application)/javascript' ;;
		esac
		hdr=$(curl -fsS -D - -o "$STACK_DIR/static.out" "$1$path") || fail "GET $path"
		grep -qiE "^content-type: $want" <<<"$hdr" || fail "GET $path: not $want: $hdr"
		grep -qi "^content-security-policy: default-src 'self'; connect-src 'self' ws: wss:" <<<"$hdr" ||
			fail "GET $path: no Content-Security-Policy: $hdr"
		file="$SRC/www$path"
		[ "$path" != / ] || file="$SRC/www/index.html"
		cmp -s "$STACK_DIR/static.out" "$file" || fail "GET $path: not the file's bytes"
	done
	# A file that is not there is a 404 from the server, not eccr-fcgi's.
	[ "$(curl -sS -o /dev/null -w '%{http_code}' "$1/js/nothing.js")" = 404 ] || fail "a missing file is not 404"
	echo "deploy [$SERVER]: the dashboard at / (page and modules, with the CSP)"
}

# The same story through every server.
scenario() {
	local base="http://127.0.0.1:$HTTP_PORT" api token auth ep fid url job st i body probe

	api="$base/api/v1"
	token=$("$ECCRCTL" -c "$ECCR_CONF" token --sub smoke --role admin --name Smoke)
	auth="Authorization: Bearer $token"

	[ "$(curl -fsS "$base/health" | jq -r .status)" = ok ] || fail "health"
	dashboard "$base"
	ep=$(curl -fsS -H "$auth" -H 'Content-Type: application/json' \
		-d '{"title":"Smoke test","categories":["smoke"]}' "$api/episodes" | jq -r .id)
	[ -n "$ep" ] && [ "$ep" != null ] || fail "create episode"
	[ "$(curl -fsS -H "$auth" "$api/episodes/$ep" | jq -r .title)" = "Smoke test" ] || fail "read episode"
	st=$(curl -sS -o /dev/null -w '%{http_code}' "$api/episodes/$ep")
	[ "$st" = 401 ] || fail "no token gave $st"
	st=$(curl -sS -o /dev/null -w '%{http_code}' -H "$auth" "$api/episodes/a%2Fb")
	[ "$st" = 400 ] || fail "an encoded slash gave $st"

	# A WebSocket client through the server's /ws proxy sees the change.
	"$SRC/tests/deploy/ws_probe.py" "ws://127.0.0.1:$HTTP_PORT/ws?token=$token" \
		"episode:$ep" episode_updated "$ep" >"$STACK_DIR/ws-probe.out" 2>&1 &
	probe=$!
	for i in $(seq 1 100); do
		grep -q ready "$STACK_DIR/ws-probe.out" 2>/dev/null && break
		kill -0 "$probe" 2>/dev/null || break
		sleep 0.1
	done
	curl -fsS -o /dev/null -X PATCH -H "$auth" -H 'Content-Type: application/json' \
		-d '{"title":"Smoke test, live"}' "$api/episodes/$ep" || fail "patch episode"
	wait "$probe" || fail "WebSocket: $(cat "$STACK_DIR/ws-probe.out")"
	echo "deploy [$SERVER]: WebSocket through /ws: $(tail -1 "$STACK_DIR/ws-probe.out")"

	# Random bytes behind a fixed start: never by chance an executable's
	# or a script's first bytes, which uploads refuse.
	{ printf 'ECCR'; head -c 299996 /dev/urandom; } >"$STACK_DIR/upload.bin"
	fid=$(curl -fsS -H "$auth" -H 'Content-Type: application/octet-stream' \
		--data-binary @"$STACK_DIR/upload.bin" "$api/episodes/$ep/files?name=smoke.bin" | jq -r .id)
	[ -n "$fid" ] && [ "$fid" != null ] || fail "upload"
	# A client that goes away mid-upload leaves no file, whether the server
	# buffers the body (lighttpd, Apache) or streams it (nginx).
	/usr/bin/python3 - "$HTTP_PORT" "/api/v1/episodes/$ep/files?name=cut.bin" "$token" <<'EOP'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 300000\r\n\r\n"
           % (sys.argv[2], sys.argv[3])).encode() + b"x" * 100000)
time.sleep(0.3)
s.close()
EOP
	sleep 0.5
	[ "$(curl -fsS -H "$auth" "$api/episodes/$ep/files" | jq '[.items[] | select(.name == "cut.bin")] | length')" = 0 ] ||
		fail "a cut-short upload was kept as a file"
	url=$(curl -fsS -H "$auth" "$api/files/$fid/url" | jq -r .url)
	curl -fsS -o "$STACK_DIR/download.bin" "$url" || fail "download"
	cmp -s "$STACK_DIR/upload.bin" "$STACK_DIR/download.bin" || fail "downloaded bytes differ"
	body=$(curl -fsS -H 'Range: bytes=10-19' "$url" | od -An -tx1 | tr -d ' \n')
	[ "$body" = "$(dd if="$STACK_DIR/upload.bin" bs=1 skip=10 count=10 2>/dev/null | od -An -tx1 | tr -d ' \n')" ] ||
		fail "range request"

	# Content headers: a binary is an attachment, an mp3 inline, both
	# with nosniff and the sandbox CSP.
	check_content_headers "$url" application/octet-stream \
		"attachment; filename=\"smoke.bin\"; filename*=UTF-8''smoke.bin"
	{ printf 'ID3\004\000\000\000\000\000\000\377\373\220\144'; head -c 50000 /dev/urandom; } \
		>"$STACK_DIR/upload.mp3"
	fid=$(curl -fsS -H "$auth" -H 'Content-Type: audio/mpeg' --data-binary @"$STACK_DIR/upload.mp3" \
		"$api/episodes/$ep/files?name=smoke%20take.mp3" | jq -r .id)
	[ -n "$fid" ] && [ "$fid" != null ] || fail "mp3 upload"
	url=$(curl -fsS -H "$auth" "$api/files/$fid/url" | jq -r .url)
	check_content_headers "$url" audio/mpeg \
		"inline; filename=\"smoke take.mp3\"; filename*=UTF-8''smoke%20take.mp3"
	# Uploads refused by content: HTML declared as text/plain.
	st=$(curl -sS -o /dev/null -w '%{http_code}' -H "$auth" -H 'Content-Type: text/plain' \
		--data-binary '<html><script>alert(1)</script>' "$api/episodes/$ep/files?name=x.txt")
	[ "$st" = 415 ] || fail "HTML declared as text/plain gave $st"
	echo "deploy [$SERVER]: content headers ok"

	job=$(curl -fsS -H "$auth" -H 'Content-Type: application/json' \
		-d "{\"type\":\"noop\",\"episode_id\":\"$ep\",\"payload\":{\"sleep_ms\":50}}" "$api/jobs" | jq -r .id)
	for i in $(seq 1 100); do
		st=$(curl -fsS -H "$auth" "$api/jobs/$job" | jq -r .status)
		[ "$st" = succeeded ] && break
		sleep 0.1
	done
	[ "$st" = succeeded ] || fail "job ended $st"

	for i in $(seq 1 50); do
		n=$(curl -fsS -H "$auth" "$api/episodes/$ep/activity" | jq '.items | length')
		[ "$n" -ge 2 ] && break
		sleep 0.1
	done
	[ "$n" -ge 2 ] || fail "activity trail has $n entries"

	# /metrics through the server: admin only, counting this scenario.
	st=$(curl -sS -o /dev/null -w '%{http_code}' "$base/metrics")
	[ "$st" = 401 ] || fail "/metrics without a token gave $st"
	body=$(curl -fsS -H "$auth" "$base/metrics") || fail "/metrics"
	grep -q '^eccr_http_requests_total{method="POST",route="/api/v1/episodes",status="201"} [1-9]' \
		<<<"$body" || fail "/metrics does not count the episode created"
	echo "deploy [$SERVER]: ok"
}
