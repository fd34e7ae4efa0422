#!/bin/sh
# www/vendor/update.sh - refresh the vendored view library from its npm
# packages: the built ES module files as published, with their licences,
# and the bare import specifiers ("preact", "preact/hooks",
# "@preact/signals-core") rewritten to relative paths, because a browser
# resolves only URLs and an import map would have to be an inline script,
# which the dashboard's Content-Security-Policy forbids.  Source map
# comments are dropped (the maps are not shipped).  Not part of any build:
# run it by hand to change a version, then commit what it wrote.
set -eu
cd "$(dirname "$0")"

PREACT=10.29.8
HTM=3.1.1
SIGNALS=2.11.4
SIGNALS_CORE=1.14.5

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "preact@$PREACT" "htm@$HTM" \
	"@preact/signals@$SIGNALS" "@preact/signals-core@$SIGNALS_CORE" >/dev/null)
for f in "$tmp"/*.tgz; do
	mkdir -p "${f%.tgz}"
	tar xzf "$f" -C "${f%.tgz}"
done
P="$tmp/preact-$PREACT/package"
H="$tmp/htm-$HTM/package"
S="$tmp/preact-signals-$SIGNALS/package"
C="$tmp/preact-signals-core-$SIGNALS_CORE/package"

strip_map() { sed -e 's|//# sourceMappingURL=[^ ]*$||'; }

mkdir -p preact htm signals
strip_map <"$P/dist/preact.module.js" >preact/preact.module.js
strip_map <"$P/hooks/dist/hooks.module.js" |
	sed -e 's|from"preact"|from"./preact.module.js"|g' >preact/hooks.module.js
cp "$P/LICENSE" preact/LICENSE
strip_map <"$H/dist/htm.module.js" >htm/htm.module.js
cp "$H/LICENSE" htm/LICENSE
strip_map <"$C/dist/signals-core.module.js" >signals/signals-core.module.js
strip_map <"$S/dist/signals.module.js" |
	sed -e 's|from"preact"|from"../preact/preact.module.js"|g' \
	    -e 's|from"preact/hooks"|from"../preact/hooks.module.js"|g' \
	    -e 's|from"@preact/signals-core"|from"./signals-core.module.js"|g' >signals/signals.module.js
cp "$S/LICENSE" signals/LICENSE
cp "$C/LICENSE" signals/LICENSE.signals-core

# Their sources, for the Debian source package (debian/missing-sources/README).
M=../../debian/missing-sources/www/vendor
if [ -d ../../debian ]; then
	srcs() {  # FROM TO: the .js, .mjs and .ts sources, not the typings
		rm -rf "$2"
		mkdir -p "$2"
		(cd "$1" && find . -path ./integrations -prune -o -type f \
			\( -name '*.js' -o -name '*.mjs' -o -name '*.ts' \) ! -name '*.d.ts' -print0 |
			xargs -0 cp --parents -t "$2")
	}
	srcs "$P/src" "$(pwd)/$M/preact/preact.module.js"
	srcs "$P/hooks/src" "$(pwd)/$M/preact/hooks.module.js"
	srcs "$H/src" "$(pwd)/$M/htm/htm.module.js"
	srcs "$S/src" "$(pwd)/$M/signals/signals.module.js"
	srcs "$C/src" "$(pwd)/$M/signals/signals-core.module.js"
fi

cat >VERSIONS <<EOV
preact $PREACT (npm preact: dist/preact.module.js, hooks/dist/hooks.module.js) MIT
htm $HTM (npm htm: dist/htm.module.js) Apache-2.0
@preact/signals $SIGNALS (npm @preact/signals: dist/signals.module.js) MIT
@preact/signals-core $SIGNALS_CORE (npm @preact/signals-core: dist/signals-core.module.js) MIT
EOV
if grep -l 'from"[^.]' preact/*.js signals/*.js htm/*.js; then
	echo "update.sh: a bare import specifier is left in the files above" >&2
	exit 1
fi
echo "update.sh: vendored $(cat VERSIONS | wc -l) packages"
