#!/bin/sh
# run.sh BUILD_DIR - cross-check the presigned URLs of src/lib/sigv4.c
# against an independent implementation, the AWS SDK for JavaScript v3
# (@aws-sdk/s3-request-presigner), over keys, regions, expiries, methods,
# endpoints and both addressing styles, at fixed signing dates.
#
# Everything it makes goes to BUILD_DIR/sigv4_crosscheck: node_modules (npm
# install, once), the C driver presign_c (built when missing or older than
# its sources), the cases and both sides' URLs.  Paths are compared as
# they are (encoded); query parameters decoded and sorted, so their order
# does not matter but every value, the signature included, must agree.
# Exits 0 when all agree, 1 with a diff when not, and 0 with "SKIP" when
# node or npm is missing or the SDK can't be installed (offline).
#   CC, CFLAGS   compiler and flags for the driver (cc, -O2)
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
mkdir -p "$1"
work="$(cd "$1" && pwd)/sigv4_crosscheck"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "SKIP: sigv4 cross-check: node and npm are needed"
	exit 0
fi
mkdir -p "$work"

# ---------------------------------------------------------------- the SDK
if [ ! -f "$work/node_modules/@aws-sdk/s3-request-presigner/package.json" ] ||
    ! cmp -s "$here/package.json" "$work/package.json"; then
	cp "$here/package.json" "$work/package.json"
	echo "sigv4 cross-check: npm install in $work"
	if ! (cd "$work" && npm install --no-audit --no-fund --loglevel=error) \
	    >"$work/npm.log" 2>&1; then
		rm -f "$work/package.json"
		echo "SKIP: sigv4 cross-check: npm install failed (offline?), see $work/npm.log"
		exit 0
	fi
fi
cp "$here/presign.mjs" "$work/presign.mjs"   # resolves the SDK from $work

# ---------------------------------------------------------------- our side
drv="$work/presign_c"
# shellcheck disable=SC3013 # -nt: dash, bash and busybox all have it
if [ ! -x "$drv" ] || [ "$here/presign_c.c" -nt "$drv" ] ||
    [ "$top/src/lib/sigv4.c" -nt "$drv" ] || [ "$top/src/lib/sigv4.h" -nt "$drv" ]; then
	crypto=$(pkg-config --cflags --libs libcrypto 2>/dev/null || echo -lcrypto)
	# shellcheck disable=SC2086
	${CC:-cc} -std=gnu11 ${CFLAGS:--O2} -Wall -Wextra -Werror -I"$top/src/lib" \
	    -o "$drv" "$here/presign_c.c" "$top/src/lib/sigv4.c" $crypto
fi

# ---------------------------------------------------------------- the cases
# now: 1369353600 = 2013-05-24T00:00:00Z (AWS's example), 1700000000 =
# 2023-11-14T22:13:20Z, 1767225599 = 2025-12-31T23:59:59Z, 951782400 =
# 2000-02-29T00:00:00Z.  Cases with "error" must be refused by both.
cat >"$work/cases.json" <<'EOF'
[
 {"method":"GET","endpoint":"https://s3.amazonaws.com","region":"us-east-1","bucket":"examplebucket","pathStyle":false,
  "accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","expires":86400,"now":1369353600,
  "key":"test.txt"},
 {"method":"PUT","endpoint":"http://127.0.0.1:4568","region":"us-east-1","bucket":"eccr-files","pathStyle":true,
  "accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","expires":900,"now":1700000000,
  "key":"files/0b6c5a3e-8c1f-4d6e-9a0b-2f3c4d5e6f70/3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"},
 {"method":"GET","endpoint":"http://127.0.0.1:4568","region":"us-east-1","bucket":"eccr-files","pathStyle":true,
  "accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","expires":604800,"now":1700000000,
  "key":"files/0b6c5a3e-8c1f-4d6e-9a0b-2f3c4d5e6f70/3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"},
 {"method":"HEAD","endpoint":"https://s3.eu-central-1.amazonaws.com","region":"eu-central-1","bucket":"eccr-prod","pathStyle":false,
  "accessKeyId":"AKIAEXAMPLE2","secretAccessKey":"se+cr/et==","expires":3600,"now":1767225599,
  "key":"my file (1).txt"},
 {"method":"DELETE","endpoint":"https://minio.example.com:9000","region":"us-west-2","bucket":"media","pathStyle":true,
  "accessKeyId":"minioadmin","secretAccessKey":"minioadmin","expires":60,"now":951782400,
  "key":"a+b=c&d?e#f;g,h:i@j$k!l'm(n)o*p"},
 {"method":"GET","endpoint":"http://localhost:4566","region":"ap-southeast-2","bucket":"local-bucket","pathStyle":false,
  "accessKeyId":"test","secretAccessKey":"test","expires":604800,"now":1700000000,
  "key":"dossier/\u00e9t\u00e9/\u65e5\u672c\u8a9e \u2713/\ud83c\udfb5.mp3"},
 {"method":"PUT","endpoint":"https://s3.example.com:443","region":"auto","bucket":"r2-bucket","pathStyle":true,
  "accessKeyId":"0123456789abcdef","secretAccessKey":"0123456789abcdef0123456789abcdef","expires":1,"now":1767225599,
  "key":"~tilde/semi;colon/quote\"/star*/percent%20/plus+space /"},
 {"method":"GET","endpoint":"https://storage.example.net/","region":"us-east-1","bucket":"dotted.bucket.name","pathStyle":true,
  "accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","expires":7200,"now":1369353600,
  "key":"100%.txt"},
 {"method":"DELETE","endpoint":"https://s3.us-west-2.amazonaws.com","region":"us-west-2","bucket":"eccr-prod","pathStyle":false,
  "accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","expires":300,"now":1700000000,
  "key":"a//double/slash/"},
 {"method":"HEAD","endpoint":"http://s3.local:8080","region":"garage","bucket":"files","pathStyle":true,
  "accessKeyId":"GK31c2f218a2e44f485b94239e","secretAccessKey":"b892c0665f0ada8a4755dae98baa3b133590e11dae3bcc1f9d769d67f16c3835","expires":86399,"now":1767225599,
  "key":"tab\there ctl\u0001 del\u007f"},
 {"method":"GET","endpoint":"https://s3.amazonaws.com","region":"us-east-1","bucket":"examplebucket","pathStyle":false,
  "accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","expires":604801,"now":1369353600,
  "key":"test.txt","error":true},
 {"method":"GET","endpoint":"http://127.0.0.1:4568","region":"us-east-1","bucket":"eccr-files","pathStyle":true,
  "accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","expires":900,"now":1700000000,
  "key":"files/0b6c5a3e-8c1f-4d6e-9a0b-2f3c4d5e6f70/3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c",
  "responseContentDisposition":"attachment; filename=\"caf_ _x_ 100__y.bin\"; filename*=UTF-8''caf%C3%A9%20%22x%22%20100%25%5Cy.bin",
  "responseContentType":"application/octet-stream"},
 {"method":"GET","endpoint":"https://s3.eu-central-1.amazonaws.com","region":"eu-central-1","bucket":"eccr-prod","pathStyle":false,
  "accessKeyId":"AKIAEXAMPLE2","secretAccessKey":"se+cr/et==","expires":3600,"now":1767225599,
  "key":"files/a/b","responseContentDisposition":"inline; filename=\"__.mp3\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.mp3",
  "responseContentType":"audio/mpeg; bitrate=128"},
 {"method":"GET","endpoint":"http://localhost:4566","region":"ap-southeast-2","bucket":"local-bucket","pathStyle":false,
  "accessKeyId":"test","secretAccessKey":"test","expires":60,"now":1700000000,
  "key":"k","responseContentDisposition":"attachment; filename=\"a;b=c,d'e (1)~!*.txt\"; filename*=UTF-8''a%3Bb%3Dc%2Cd%27e%20%281%29~!%2A.txt"}
]
EOF

# ---------------------------------------------------------------- compare
export NODE_NO_WARNINGS=1
if ! node "$work/presign.mjs" <"$work/cases.json" >"$work/sdk.urls"; then
	echo "FAIL: sigv4 cross-check: the SDK side failed (see above)"
	exit 1
fi
node "$work/presign.mjs" --tsv <"$work/cases.json" >"$work/cases.tsv"
"$drv" <"$work/cases.tsv" >"$work/c.urls"
node "$work/presign.mjs" --normalize <"$work/sdk.urls" >"$work/sdk.txt"
node "$work/presign.mjs" --normalize <"$work/c.urls" >"$work/c.txt"

# The SDK, set up as it is, must reproduce AWS's published example (case 1),
# or the comparison would prove nothing.
if ! head -n 1 "$work/sdk.urls" | grep -Eq \
    '[?&]X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404(&|$)'; then
	echo "FAIL: sigv4 cross-check: the SDK does not reproduce AWS's example:"
	head -n 1 "$work/sdk.urls"
	exit 1
fi

ncases=$(grep -c '"method"' "$work/cases.json")
if [ "$(wc -l <"$work/sdk.urls")" -ne "$ncases" ] || [ "$(wc -l <"$work/c.urls")" -ne "$ncases" ]; then
	echo "FAIL: sigv4 cross-check: expected $ncases URLs from each side"
	exit 1
fi
if diff -u --label sdk "$work/sdk.txt" --label sigv4.c "$work/c.txt"; then
	echo "PASS: sigv4 cross-check: $ncases cases agree with @aws-sdk/s3-request-presigner"
	exit 0
fi
echo "FAIL: sigv4 cross-check: src/lib/sigv4.c and the SDK disagree (- sdk, + sigv4.c); files in $work"
exit 1
