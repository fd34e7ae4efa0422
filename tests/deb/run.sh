#!/bin/bash
# tests/deb/run.sh - the Debian packages, as an operator meets them:
#   1. build them with dpkg-buildpackage -us -uc -b from a clean copy of
#      the tree (the committed and working files git knows, nothing built);
#   2. lintian: no error and no warning that debian/*.lintian-overrides
#      does not justify;
#   3. apt-get install ./*.deb: the eccr user, /var/lib/eccr, the secrets,
#      the units installed but not enabled, eccr not depending on
#      libmemcached;
#   4. a plugin built against the installed eccr-dev with the one cc line
#      of eccr/plugin.h (and the example's Makefile), checked with eccrctl
#      and loaded by the running programs;
#   5. docs/deploy.md's "Install from the package": a database (a private
#      PostgreSQL on loopback, not the system's cluster), eccrctl migrate
#      up with the packaged defaults, the units' programs started as
#      systemd would start them (ExecStart, User, Group, RuntimeDirectory,
#      the socket unit's socket; systemd is not running here), the
#      snippets enabled with a2enconf / lighty-enable-mod and the deploy
#      smoke scenario (tests/deploy/scenario.sh) through Apache, lighttpd
#      and nginx in front of them;
#   6. an upgrade to the same packages under a higher version: the
#      operator's eccr.conf and the secrets stay as they were, and a token
#      minted before still works;
#   7. apt-get purge: nothing of ours is left (files, links, user, group,
#      units' state) but the test's own database directory.
# Whatever happens, the packages are purged at the end (trap), since the
# machine goes on being used.  About 2 minutes on 2 cores, one of them the
# package build (DEB_BUILD_OPTIONS=nocheck: script/test runs the unit tests
# on its own build).  Needs root, and a machine where eccr is not installed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "deb: needs root (it installs and purges packages)" >&2; exit 1; }

# Never run over a real installation: the test purges what it installed.
if dpkg-query -W -f='${Status}\n' 'eccr*' 2>/dev/null | grep -qv 'not-installed$'; then
	echo "deb: eccr packages are installed here; this test installs and purges them: use another machine" >&2
	exit 1
fi
for what in "passwd eccr" "group eccr"; do
	# shellcheck disable=SC2086
	if getent $what >/dev/null; then
		echo "deb: a $what exists already; this test creates and removes it: use another machine" >&2
		exit 1
	fi
done
[ ! -e /etc/eccr ] || { echo "deb: /etc/eccr exists already: use another machine" >&2; exit 1; }

"$SRC/script/bootstrap"

STACK_DIR=$(mktemp -d /tmp/eccr-deb.XXXXXX)
chmod 755 "$STACK_DIR"   # apt's _apt user reads the .debs, PostgreSQL its directory
SET_ASIDE=""
# shellcheck source=../../script/lib/stack.sh
. "$SRC/script/lib/stack.sh"
# shellcheck source=../deploy/scenario.sh
. "$SRC/tests/deploy/scenario.sh"

SERVER=deb
SERVER_PID=""
ECCRCTL=/usr/bin/eccrctl
ECCR_CONF=/etc/eccr/eccr.conf
UNITDIR=/lib/systemd/system
SERVICES="eccr-fcgi.service eccr-worker.service eccr-wsd.service"
PACKAGES="eccr eccr-dev eccr-plugin-presence-memcache eccr-plugin-notify-email eccr-plugin-webhook-http"
PLUGIN_INSTALLED=""
POLICY_MADE=0
START=$(date +%s)

say() {
	echo "deb [$(( $(date +%s) - START ))s]: $*"
}

export DEBIAN_FRONTEND=noninteractive
APT="apt-get -y -q -o Dpkg::Options::=--force-confnew"


# ---------------------------------------------------------------- units
# The value of KEY in the installed UNIT (the last one wins, as in systemd).
unit_get() {  # UNIT KEY
	[ -f "$UNITDIR/$1" ] || fail "$UNITDIR/$1 is not installed"
	sed -n "s/^$2=//p" "$UNITDIR/$1" | tail -1
}

# Start SERVICE as systemd would: its ExecStart in a clean environment as
# its User and Group (with the user's groups), its RuntimeDirectory made
# for that user with RuntimeDirectoryMode, its LimitNOFILE; for
# StandardInput=socket, the socket unit's ListenStream made with its
# SocketUser, SocketGroup and SocketMode and handed over on fd 0, which is
# what spawn-fcgi does.  The hardening directives (ProtectSystem, ...)
# need systemd and are not imitated.
unit_start() {  # SERVICE
	local svc=$1 exec user group mode d nofile sock path
	exec=$(unit_get "$svc" ExecStart)
	user=$(unit_get "$svc" User)
	group=$(unit_get "$svc" Group)
	[ -n "$exec" ] && [ -n "$user" ] && [ -n "$group" ] || fail "$svc: no ExecStart, User or Group"
	mode=$(unit_get "$svc" RuntimeDirectoryMode)
	for d in $(unit_get "$svc" RuntimeDirectory); do
		install -d -m 0755 "$(dirname "/run/$d")"
		install -d -o "$user" -g "$group" -m "${mode:-0755}" "/run/$d"
	done
	nofile=$(unit_get "$svc" LimitNOFILE)
	local -a cmd
	# shellcheck disable=SC2206
	exec=($exec)   # ExecStart lines here have no quoting
	if [ "$(unit_get "$svc" StandardInput)" = socket ]; then
		sock=${svc%.service}.socket
		path=$(unit_get "$sock" ListenStream)
		[ -n "$path" ] || fail "$sock: no ListenStream"
		install -d -m 0755 "$(dirname "$path")"
		rm -f "$path"
		cmd=(spawn-fcgi -n -s "$path" -M "$(unit_get "$sock" SocketMode)"
			-U "$(unit_get "$sock" SocketUser)" -G "$(unit_get "$sock" SocketGroup)"
			-u "$user" -g "$group" -- "${exec[@]}")
	else
		cmd=(setpriv --reuid="$user" --regid="$group" --init-groups -- "${exec[@]}")
	fi
	(
		if [ -n "$nofile" ]; then ulimit -n "$nofile" 2>/dev/null || true; fi
		exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "${cmd[@]}"
	) >>"$STACK_DIR/$svc.log" 2>&1 </dev/null &
	echo $! >"$STACK_DIR/$svc.pid"
}

unit_stop() {  # SERVICE
	local f=$STACK_DIR/$1.pid pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	rm -f "$f"
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

units_start() {
	local svc
	for svc in $SERVICES; do
		unit_start "$svc"
	done
	# eccr-wsd answers /health once it LISTENs; eccr-fcgi has its socket.
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$WSD_PORT/health" 2>/dev/null &&
			[ -S /run/eccr/fcgi.sock ] && return 0
		sleep 0.1
	done
	fail "the units' programs did not come up: $(tail -5 "$STACK_DIR"/*.service.log)"
}

units_stop() {
	local svc
	for svc in $SERVICES; do
		unit_stop "$svc"
	done
}

server_stop() {
	if [ -n "$SERVER_PID" ]; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=""
	fi
}

# ---------------------------------------------------------------- clean-up
installed() {
	dpkg-query -W -f='${Package} ${Status}\n' $PACKAGES 2>/dev/null |
		awk '$NF != "not-installed" { print $1 }'
}

cleanup() {
	rc=$?
	set +e
	server_stop
	units_stop
	# What systemd keeps until a reboot (RuntimeDirectoryPreserve=yes):
	# made by this test's stand-in for it, so removed by it.
	rm -rf /run/eccr
	[ -z "$PLUGIN_INSTALLED" ] || rm -f "$PLUGIN_INSTALLED"
	if [ -n "$(installed)" ]; then
		echo "deb: purging what is left installed: $(installed | tr '\n' ' ')" >&2
		# shellcheck disable=SC2046
		$APT purge $(installed) >>"$STACK_DIR/apt.log" 2>&1 ||
			dpkg --purge --force-all $(installed) >>"$STACK_DIR/apt.log" 2>&1
	fi
	# The safety net for a broken postrm: the checks at the start made
	# sure none of these were here before.
	getent passwd eccr >/dev/null && userdel eccr
	getent group eccr >/dev/null && groupdel eccr
	rm -rf /etc/eccr /var/lib/eccr
	for p in $SET_ASIDE; do
		rm -rf "$p"
		mv "$STACK_DIR/set-aside$p" "$p"
	done
	rm -f /etc/apache2/conf-enabled/eccr.conf /etc/lighttpd/conf-enabled/50-eccr.conf \
		/var/lib/apache2/conf/*/eccr
	[ "$POLICY_MADE" = 0 ] || rm -f /usr/sbin/policy-rc.d
	pg_stop
	# The package build tree is large and of no use for a post-mortem.
	rm -rf "$STACK_DIR/build/eccr-"*/
	say "$([ "$rc" = 0 ] && echo passed || echo FAILED)"
	stack_finish "$rc" deb 30 "$STACK_DIR"/*.log
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Package scripts must not start the distribution's services (apache2's
# helper reloads Apache after a2disconf): the CI machine runs its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	POLICY_MADE=1
fi

# A program run as root with the default storage.local_root or
# metrics.dir (and no eccr installed, as checked above) leaves
# /var/lib/eccr/files/tmp or /run/eccr/metrics behind: set aside while the
# packages and units make their own, and put back at the end.
for p in /var/lib/eccr /run/eccr; do
	if [ -e "$p" ]; then
		mkdir -p "$STACK_DIR/set-aside$(dirname "$p")"
		mv "$p" "$STACK_DIR/set-aside$p"
		SET_ASIDE="$SET_ASIDE $p"
		echo "deb: $p was here (no eccr installed): set aside until the end"
	fi
done

# ---------------------------------------------------------------- 1. build
VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
UPSTREAM=$(sed -n 's/^AC_INIT(\[eccr\], \[\([^]]*\)\].*/\1/p' "$SRC/configure.ac")
case "$VERSION" in
"$UPSTREAM"|"$UPSTREAM"[+~-]*) ;;
*) fail "debian/changelog is at $VERSION but configure.ac at $UPSTREAM" ;;
esac
ARCH=$(dpkg --print-architecture)
TREE=$STACK_DIR/build/eccr-$VERSION
mkdir -p "$TREE"
# What git knows of the work tree (committed, changed or new, not ignored):
# no build products, no _build; dpkg-buildpackage writes ../*.deb.
(cd "$SRC" && git ls-files -z -c -o --exclude-standard |
	while IFS= read -r -d '' f; do
		if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi   # not deleted
	done | xargs -0 cp -P --parents -t "$TREE")
[ -f "$TREE/debian/rules" ] || fail "the copy of the tree has no debian/rules"
# The source package first, from the pristine copy, for lintian.
(cd "$STACK_DIR/build" && dpkg-source -b "eccr-$VERSION") >"$STACK_DIR/build.log" 2>&1 ||
	{ cat "$STACK_DIR/build.log" >&2; fail "dpkg-source -b failed"; }
say "building the packages $VERSION (dpkg-buildpackage -us -uc -b)"
(cd "$TREE" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" \
	dpkg-buildpackage -us -uc -b) >>"$STACK_DIR/build.log" 2>&1 ||
	{ tail -40 "$STACK_DIR/build.log" >&2; fail "dpkg-buildpackage failed (log: $STACK_DIR/build.log)"; }
DEBS=()
for p in $PACKAGES; do
	f=$STACK_DIR/build/${p}_${VERSION}_$ARCH.deb
	[ -f "$f" ] || fail "$p was not built"
	DEBS+=("$f")
done

# ---------------------------------------------------------------- 2. lintian
say "lintian"
lintian --fail-on error,warning --display-info \
	"$STACK_DIR/build/eccr_${VERSION}_$ARCH.changes" "$STACK_DIR/build/eccr_$VERSION.dsc" \
	>"$STACK_DIR/lintian.log" 2>&1 ||
	{ cat "$STACK_DIR/lintian.log" >&2; fail "lintian reports errors or unjustified warnings"; }
grep -E '^[EW]:' "$STACK_DIR/lintian.log" && fail "lintian: see above"
say "lintian (binary and source packages): no error, no warning, $(grep -c '^I:' "$STACK_DIR/lintian.log" || true) infos not overridden"

# eccr uses no library it does not link: libmemcached is the presence
# plugin's alone.
depends=$(dpkg-deb -f "$STACK_DIR/build/eccr_${VERSION}_$ARCH.deb" Depends)
case "$depends" in
*memcached*) fail "eccr depends on libmemcached: $depends" ;;
esac
dpkg-deb -f "$STACK_DIR/build/eccr-plugin-presence-memcache_${VERSION}_$ARCH.deb" Depends |
	grep -q libmemcached || fail "eccr-plugin-presence-memcache does not depend on libmemcached"

# ---------------------------------------------------------------- 3. install
say "apt-get install ./*.deb"
$APT install "${DEBS[@]}" >"$STACK_DIR/apt.log" 2>&1 ||
	{ tail -30 "$STACK_DIR/apt.log" >&2; fail "apt-get install failed"; }
getent passwd eccr >/dev/null || fail "no eccr user"
ECCR_UID=$(id -u eccr)
[ "$(stat -c '%U:%G %a' /var/lib/eccr)" = "eccr:eccr 750" ] ||
	fail "/var/lib/eccr is $(stat -c '%U:%G %a' /var/lib/eccr)"
for s in jwt-secret url-secret; do
	[ -s "/etc/eccr/$s" ] || fail "/etc/eccr/$s missing or empty"
	[ "$(stat -c '%U:%G %a' "/etc/eccr/$s")" = "root:eccr 640" ] ||
		fail "/etc/eccr/$s is $(stat -c '%U:%G %a' "/etc/eccr/$s")"
done
for svc in $SERVICES eccr-fcgi.socket eccr-fcgi-spawn.service; do
	[ -f "$UNITDIR/$svc" ] || fail "$svc not installed"
	grep -q '/usr/local' "$UNITDIR/$svc" && fail "$svc names /usr/local"
done
[ -z "$(find /etc/systemd/system -name 'eccr*' 2>/dev/null)" ] ||
	fail "units enabled by the install: $(find /etc/systemd/system -name 'eccr*')"

# ---------------------------------------------------------------- 4. eccr-dev
say "a plugin built against eccr-dev with the one cc line of eccr/plugin.h"
mkdir -p "$STACK_DIR/sdk"
cp /usr/share/doc/eccr-dev/examples/sink-count/sink-count.c "$STACK_DIR/sdk/my-sink.c"
ccline=$(sed -n 's/^ \*     \(cc -shared .*\)$/\1/p' /usr/include/eccr/plugin.h)
[ -n "$ccline" ] || fail "no cc line in /usr/include/eccr/plugin.h"
(cd "$STACK_DIR/sdk" && bash -ec "$ccline") >"$STACK_DIR/sdk.log" 2>&1 ||
	{ cat "$STACK_DIR/sdk.log" >&2; fail "\"$ccline\" failed"; }
check=$("$ECCRCTL" plugin check "$STACK_DIR/sdk/my-sink.so") || fail "eccrctl plugin check refused my-sink.so"
grep -Eq '^name: +sink-count$' <<<"$check" || fail "plugin check: $check"
# The example's Makefile installs into the .pc file's plugindir, which
# must be the directory the packaged programs load from.
cp -r /usr/share/doc/eccr-dev/examples/sink-count "$STACK_DIR/sdk/make"
PLUGINDIR=$(pkg-config --variable=plugindir eccr-plugin)
[ -f "$PLUGINDIR/activity-pg.so" ] || fail "the .pc's plugindir $PLUGINDIR has no activity-pg.so"
PLUGIN_INSTALLED=$PLUGINDIR/sink-count.so
make -C "$STACK_DIR/sdk/make" CFLAGS="-O2 -Wall -Wextra -Werror" install >>"$STACK_DIR/sdk.log" 2>&1 ||
	{ cat "$STACK_DIR/sdk.log" >&2; fail "the example's Makefile failed"; }
[ -f "$PLUGIN_INSTALLED" ] || fail "make install put no sink-count.so in $PLUGINDIR"

# ---------------------------------------------------------------- 5. deploy
PG_PORT=$(free_port)
HTTP_PORT=$(free_port "$PG_PORT")
# The snippets proxy /ws to eccr-wsd's default 127.0.0.1:3002; on a busy
# machine another port, substituted in the copies the servers read.
if (exec 3<>/dev/tcp/127.0.0.1/3002) 2>/dev/null; then
	WSD_PORT=$(free_port "$PG_PORT" "$HTTP_PORT")
else
	WSD_PORT=3002
fi
say "the database (PostgreSQL on 127.0.0.1:$PG_PORT) and eccrctl migrate up"
pg_init
pg_start
as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE ROLE eccr LOGIN" postgres
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres -O eccr eccr

# The operator's edits of the conffile: where the database is, the public
# URL, the plugin built above.
conf_line() {  # OLD NEW: the exact line OLD of eccr.conf becomes NEW
	grep -qxF -- "$1" "$ECCR_CONF" || fail "eccr.conf has no line \"$1\""
	OLD=$1 NEW=$2 awk '$0 == ENVIRON["OLD"] { print ENVIRON["NEW"]; next } { print }' \
		"$ECCR_CONF" >"$ECCR_CONF.new"
	cat "$ECCR_CONF.new" >"$ECCR_CONF"
	rm -f "$ECCR_CONF.new"
}
conf_line "conninfo = dbname=eccr" "conninfo = host=127.0.0.1 port=$PG_PORT dbname=eccr user=eccr"
conf_line "public_url = http://localhost" "public_url = http://127.0.0.1:$HTTP_PORT"
conf_line "load = activity-pg, broadcast-ws, job-noop, job-checksum" \
	"load = activity-pg, broadcast-ws, job-noop, job-checksum, sink-count"
conf_line ";listen = 127.0.0.1:3002" "listen = 127.0.0.1:$WSD_PORT"
cat >>"$ECCR_CONF" <<EOC

[plugin.sink-count]
path = /var/lib/eccr/sink-count.txt
events = episode_created
EOC

runuser -u eccr -- "$ECCRCTL" migrate up >"$STACK_DIR/migrate.log" 2>&1 ||
	{ cat "$STACK_DIR/migrate.log" >&2; fail "eccrctl migrate up (as eccr, the packaged defaults) failed"; }
# No -c, no --dir: the packaged eccr.conf and migrations are the defaults.
want=$(find /usr/share/eccr/migrations -name '*.up.sql' | wc -l)
got=$(runuser -u eccr -- "$ECCRCTL" migrate status | grep -c ' applied ' || true)
[ "$want" -gt 0 ] && [ "$got" = "$want" ] || fail "$got of the $want packaged migrations applied"

say "the units' programs as systemd would start them"
units_start
[ "$(stat -c '%U:%G %a' /run/eccr/fcgi.sock)" = "eccr:www-data 660" ] ||
	fail "/run/eccr/fcgi.sock is $(stat -c '%U:%G %a' /run/eccr/fcgi.sock)"
ps -o user= -p "$(cat "$STACK_DIR/eccr-fcgi.service.pid")" | grep -qx eccr ||
	fail "eccr-fcgi does not run as eccr"

# The installed snippet as the server reads it, with only its ports
# moved (port 80 and perhaps 3002 may be taken on this machine).
ports() {  # FILE
	sed -e "s|<VirtualHost \*:80>|<VirtualHost *:$HTTP_PORT>|" \
	    -e "s|127.0.0.1:3002|127.0.0.1:$WSD_PORT|g" \
	    -e "s|\"port\" => 3002|\"port\" => $WSD_PORT|g" "$1"
}

a2enconf -q eccr
lighty-enable-mod eccr >/dev/null
[ -L /etc/apache2/conf-enabled/eccr.conf ] || fail "a2enconf eccr did not enable it"
[ -L /etc/lighttpd/conf-enabled/50-eccr.conf ] || fail "lighty-enable-mod eccr did not enable it"

for SERVER in apache lighttpd nginx; do
	say "the deploy scenario through $SERVER"
	case $SERVER in
	apache)
		ports /etc/apache2/conf-enabled/eccr.conf >"$STACK_DIR/apache-eccr.conf"
		APACHE_SITE=$STACK_DIR/apache-eccr.conf apache_run \
			"LoadModule setenvif_module /usr/lib/apache2/modules/mod_setenvif.so" \
			"LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so"
		;;
	lighttpd)
		ports /etc/lighttpd/conf-enabled/50-eccr.conf >"$STACK_DIR/lighttpd-eccr.conf"
		# As Debian's, it runs as www-data, and opens its log after
		# dropping root.
		touch "$STACK_DIR/lighttpd-error.log"
		chown www-data "$STACK_DIR/lighttpd-error.log"
		lighttpd_run "$STACK_DIR/lighttpd-eccr.conf" \
			'server.username = "www-data"' 'server.groupname = "www-data"'
		;;
	nginx)
		ports /etc/nginx/snippets/eccr.conf >"$STACK_DIR/nginx-eccr.conf"
		printf 'server {\n\tlisten 127.0.0.1:%s;\n\tserver_name _;\n\tinclude %s;\n}\n' \
			"$HTTP_PORT" "$STACK_DIR/nginx-eccr.conf" >"$STACK_DIR/nginx-site.conf"
		nginx_run "$STACK_DIR/nginx-site.conf"
		;;
	esac
	wait_up
	scenario
	server_stop
done
SERVER=deb

# The plugin built against eccr-dev heard each scenario's new episode.
n=$(grep -c ' episode_created$' /var/lib/eccr/sink-count.txt 2>/dev/null || true)
[ "${n:-0}" -ge 3 ] || fail "sink-count (built with eccr-dev) recorded ${n:-0} episode_created events, not 3"
say "the eccr-dev plugin was loaded and delivered $n events"

# ---------------------------------------------------------------- 6. upgrade
TOKEN=$("$ECCRCTL" token --sub upgrade --role admin --name Upgrade)
units_stop
conf_sum=$(sha256sum "$ECCR_CONF")
secret_sum=$(cd /etc/eccr && sha256sum jwt-secret url-secret)
NEXT=$VERSION+debtest1
say "upgrade to $NEXT"
mkdir -p "$STACK_DIR/next"
NEXT_DEBS=()
for deb in "${DEBS[@]}"; do
	d=$STACK_DIR/next/$(basename "$deb" .deb)
	dpkg-deb -R "$deb" "$d"
	sed -i -e "s/^Version: .*/Version: $NEXT/" -e "s/(= $VERSION)/(= $NEXT)/g" "$d/DEBIAN/control"
	out=$STACK_DIR/next/$(basename "$deb" | sed "s/_${VERSION}_/_${NEXT}_/")
	dpkg-deb --root-owner-group -b "$d" "$out" >/dev/null
	NEXT_DEBS+=("$out")
done
$APT install "${NEXT_DEBS[@]}" >>"$STACK_DIR/apt.log" 2>&1 ||
	{ tail -30 "$STACK_DIR/apt.log" >&2; fail "the upgrade failed"; }
[ "$(dpkg-query -W -f='${Version}' eccr)" = "$NEXT" ] || fail "eccr is not at $NEXT after the upgrade"
[ "$(sha256sum "$ECCR_CONF")" = "$conf_sum" ] || fail "the upgrade changed the operator's eccr.conf"
ls /etc/eccr/*.dpkg-* 2>/dev/null && fail "the upgrade left dpkg's conffile copies"
[ "$(cd /etc/eccr && sha256sum jwt-secret url-secret)" = "$secret_sum" ] || fail "the upgrade changed the secrets"
for s in jwt-secret url-secret; do
	[ "$(stat -c '%U:%G %a' "/etc/eccr/$s")" = "root:eccr 640" ] || fail "/etc/eccr/$s changed owner or mode"
done
[ "$(id -u eccr)" = "$ECCR_UID" ] || fail "the eccr user changed"
[ -L /etc/apache2/conf-enabled/eccr.conf ] || fail "the upgrade disabled the Apache snippet"
units_start
SERVER=apache
ports /etc/apache2/conf-enabled/eccr.conf >"$STACK_DIR/apache-eccr.conf"
APACHE_SITE=$STACK_DIR/apache-eccr.conf apache_run \
	"LoadModule setenvif_module /usr/lib/apache2/modules/mod_setenvif.so" \
	"LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so"
wait_up
st=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	"http://127.0.0.1:$HTTP_PORT/api/v1/episodes")
[ "$st" = 200 ] || fail "a token minted before the upgrade gave $st after it"
server_stop
SERVER=deb
say "upgrade: eccr.conf and the secrets kept, an old token still valid"

# ---------------------------------------------------------------- 7. remove, reinstall, purge
units_stop
rm -rf /run/eccr
say "apt-get remove, then install again"
# shellcheck disable=SC2086
$APT remove $PACKAGES >>"$STACK_DIR/apt.log" 2>&1 || { tail -30 "$STACK_DIR/apt.log" >&2; fail "apt-get remove failed"; }
[ ! -e /usr/sbin/eccr-fcgi ] || fail "eccr-fcgi is still there after the remove"
[ "$(sha256sum "$ECCR_CONF")" = "$conf_sum" ] || fail "the remove changed the operator's eccr.conf"
[ "$(cd /etc/eccr && sha256sum jwt-secret url-secret)" = "$secret_sum" ] || fail "the remove changed the secrets"
getent passwd eccr >/dev/null || fail "the remove took the eccr user away"
[ ! -e /etc/apache2/conf-enabled/eccr.conf ] || fail "the remove left the Apache snippet enabled"
$APT install "${NEXT_DEBS[@]}" >>"$STACK_DIR/apt.log" 2>&1 ||
	{ tail -30 "$STACK_DIR/apt.log" >&2; fail "the install after the remove failed"; }
[ "$(sha256sum "$ECCR_CONF")" = "$conf_sum" ] || fail "the reinstall changed the operator's eccr.conf"
[ "$(cd /etc/eccr && sha256sum jwt-secret url-secret)" = "$secret_sum" ] || fail "the reinstall changed the secrets"
[ -L /etc/apache2/conf-enabled/eccr.conf ] || fail "the reinstall did not enable the Apache snippet again"
[ -L /etc/lighttpd/conf-enabled/50-eccr.conf ] || fail "the lighttpd snippet is no longer enabled"

rm -f "$PLUGIN_INSTALLED"
PLUGIN_INSTALLED=""
say "apt-get purge"
# shellcheck disable=SC2086
$APT purge $PACKAGES >>"$STACK_DIR/apt.log" 2>&1 || { tail -30 "$STACK_DIR/apt.log" >&2; fail "apt-get purge failed"; }
left=$(dpkg-query -W -f='${Package} ${Status}\n' 'eccr*' 2>/dev/null | grep -v 'not-installed$' || true)
[ -z "$left" ] || fail "dpkg still knows: $left"
getent passwd eccr >/dev/null && fail "the eccr user is left"
getent group eccr >/dev/null && fail "the eccr group is left"
left=$(find /etc /usr /var /lib /run /srv /opt -xdev \( -name eccr -o -name 'eccr[-_.]*' \
	-o -name '*-eccr.conf' -o -name '.made-by-package' -o -uid "$ECCR_UID" \) \
	-not -path '/var/lib/apt/*' -not -path '/var/cache/*' -not -path '/var/log/*' 2>/dev/null |
	grep -v "^$STACK_DIR" || true)
[ -z "$left" ] || fail "left after the purge: $left"
say "purge: nothing of ours left"
