#!/bin/sh
# debian/paths.sh SRC DEST PLUGINDIR - called by debian/rules after
# make install into DEST (debian/tmp): put the shipped etc/ files into the
# package with the packaged paths.
#   - etc/eccr.conf (installed by make install): the keys a package
#     install needs set (database, public URL, the secrets postinst makes,
#     the core plugins), the rest left at their commented defaults;
#   - etc/apache2/eccr.conf  -> /etc/apache2/conf-available/eccr.conf
#     etc/lighttpd/eccr-socket.conf -> /etc/lighttpd/conf-available/50-eccr.conf
#     etc/nginx/eccr.conf (its server block's body) -> /etc/nginx/snippets/eccr.conf
#   - etc/systemd/* -> /lib/systemd/system
# Every edit is of a whole line that must be there: if a shipped file
# changes, the build fails here instead of packaging a stale path.
set -eu

SRC=$1
DEST=$2
PLUGINDIR=$3

die() {
	echo "debian/paths.sh: $*" >&2
	exit 1
}

# Replace the line that is exactly OLD with NEW; with SECTION (an INI
# "[section]" line), only within that section.  It must be there once.
edit_line() {  # FILE OLD NEW [SECTION]
	OLD=$2 NEW=$3 SECTION=${4:-} awk '
		BEGIN { in_s = (ENVIRON["SECTION"] == "") }
		ENVIRON["SECTION"] != "" && /^\[/ { in_s = ($0 == ENVIRON["SECTION"]) }
		in_s && $0 == ENVIRON["OLD"] { n++; print ENVIRON["NEW"]; next }
		{ print }
		END { if (n != 1) { print n + 0 > "/dev/stderr"; exit 1 } }' "$1" >"$1.new" ||
		die "$1: expected one line \"$2\" ${4:+in $4}"
	mv "$1.new" "$1"
}

# From the make-install paths (prefix /usr/local) to the packaged ones.
packaged_paths() {  # FILE
	sed -e 's|/usr/local/sbin/|/usr/sbin/|g' \
	    -e 's|<Directory /usr/local/sbin>|<Directory /usr/sbin>|g' \
	    -e 's|/usr/local/share/eccr/www|/usr/share/eccr/www|g' \
	    -e "s|/usr/local/lib/eccr/plugins|$PLUGINDIR|g" "$1"
}

no_local() {  # FILE
	! grep -n '/usr/local' "$1" >&2 || die "$1 still names /usr/local"
}

# ---------------------------------------------------------------- eccr.conf
conf=$DEST/etc/eccr/eccr.conf
[ -f "$conf" ] || die "$conf was not installed"
edit_line "$conf" "; Reference: man 5 eccr.conf" "; Reference: man 5 eccr.conf
;
; Debian: the eccr package set database.conninfo, server.public_url,
; auth.jwt_secret_file, storage.url_secret_file (both made by the package,
; 0640 root:eccr) and plugins.load below; the programs run as the eccr
; user (systemd units), which PostgreSQL knows by peer authentication
; after: sudo -u postgres createuser eccr; sudo -u postgres createdb -O eccr eccr.
; See /usr/share/doc/eccr/deploy.md, \"Install from the package\"."
edit_line "$conf" ";conninfo =" "conninfo = dbname=eccr" "[database]"
edit_line "$conf" ";public_url = http://127.0.0.1:8080" "public_url = http://localhost"
edit_line "$conf" ";jwt_secret_file =" "jwt_secret_file = jwt-secret"
edit_line "$conf" ";url_secret_file =" "url_secret_file = url-secret"
edit_line "$conf" ";dir = /usr/local/lib/eccr/plugins" ";dir = $PLUGINDIR"
edit_line "$conf" ";load =" "load = activity-pg, broadcast-ws, job-noop, job-checksum" "[plugins]"
no_local "$conf"

# ---------------------------------------------------------------- web servers
install -d "$DEST/etc/apache2/conf-available" "$DEST/etc/lighttpd/conf-available" \
	"$DEST/etc/nginx/snippets"

out=$DEST/etc/apache2/conf-available/eccr.conf
packaged_paths "$SRC/etc/apache2/eccr.conf" >"$out"
grep -q '^	DocumentRoot /usr/share/eccr/www$' "$out" || die "$out: no DocumentRoot"
no_local "$out"

out=$DEST/etc/lighttpd/conf-available/50-eccr.conf
packaged_paths "$SRC/etc/lighttpd/eccr-socket.conf" >"$out"
grep -q '^server.document-root := "/usr/share/eccr/www"$' "$out" || die "$out: no document-root"
no_local "$out"

# nginx: the body of the shipped server block, without its listen and
# server_name, for the operator's own server block to include.
out=$DEST/etc/nginx/snippets/eccr.conf
{
	cat <<'EOH'
# ECCR behind nginx: the locations of etc/nginx/eccr.conf, for a server
# block of yours, e.g. /etc/nginx/sites-available/eccr:
#   server {
#       listen 80 default_server;
#       server_name _;
#       include snippets/eccr.conf;
#   }
# eccr-fcgi listens on /run/eccr/fcgi.sock (systemctl enable --now
# eccr-fcgi.socket) and eccr-wsd on 127.0.0.1:3002 (eccr-wsd.service).
EOH
	packaged_paths "$SRC/etc/nginx/eccr.conf" | awk '
		/^server \{$/ { inside = 1; next }
		inside && /^}$/ { inside = 0; next }
		inside && /^\t(listen|server_name) / { next }
		inside { sub(/^\t/, ""); print }'
} >"$out"
grep -q '	fastcgi_pass unix:/run/eccr/fcgi.sock;$' "$out" || die "$out: no fastcgi_pass"
grep -q '^root /usr/share/eccr/www;$' "$out" || die "$out: no root"
no_local "$out"

# ---------------------------------------------------------------- systemd
install -d "$DEST/lib/systemd/system"
for unit in "$SRC"/etc/systemd/*.service "$SRC"/etc/systemd/*.socket; do
	out=$DEST/lib/systemd/system/$(basename "$unit")
	packaged_paths "$unit" >"$out"
	no_local "$out"
done
