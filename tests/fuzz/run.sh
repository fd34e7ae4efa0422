#!/bin/sh
# tests/fuzz/run.sh [SECONDS] - build the libFuzzer targets with clang
# (ASan+UBSan) and run each for a short while; a crash fails the run and
# leaves the input that caused it in tests/fuzz/crashes/.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-30}
out=$(mktemp -d /tmp/eccr-fuzz.XXXXXX)
trap 'rm -rf "$out"' EXIT
mkdir -p tests/fuzz/crashes
for target in tests/fuzz/fuzz_*.c; do
	name=$(basename "$target" .c)
	mkdir -p "$out/corpus-$name"
	clang -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Isrc/lib "$target" src/lib/multipart.c -o "$out/$name"
	echo "fuzz: $name for ${seconds}s"
	if ! "$out/$name" -max_total_time="$seconds" -artifact_prefix=tests/fuzz/crashes/ \
	    "$out/corpus-$name" >"$out/$name.log" 2>&1; then
		tail -40 "$out/$name.log" >&2
		echo "fuzz: $name found a crash (input saved in tests/fuzz/crashes/)" >&2
		exit 1
	fi
	tail -1 "$out/$name.log"
done
