#!/usr/bin/env bash
# Regenerates the golden interop corpus, tests/interop/corpus/events.{jsonl,hex}, from the built CLI.
#
#   cmake -S . -B build/interop -G Ninja -DCMAKE_BUILD_TYPE=Debug && ninja -C build/interop
#   tests/interop/make_corpus.sh [path/to/horizons]      # default: build/interop/bin/horizons
#   git diff --stat tests/interop/corpus/                # review before committing
#
# Tests never run this script: the corpus is the fixed reference that the encoding is held to.
# Regenerate it only for a deliberate change of the contract (a schema, the framing, the JSON
# convention or the sampler), and say so in the commit; a diff here after a codec-only change is a bug.
#
# What goes in, in this order (line i of events.jsonl is line i of events.hex):
#   1. valid range: 4 events of every event type, seed 1000 + the type's position in `events types`;
#   2. extreme range: 120 events cycling through every type (seed 2026), minus those python-avro
#      cannot hold (timestamps outside years 1-9999, which Horizons spells as integer microseconds);
#   3. hand-made corners (check_interop.py edge-cases): year 1 and 9999, before 1970, -0.0, NaN,
#      +-Infinity, subnormals, int/long min and max, empty strings and keys, NUL and other escapes,
#      2-, 3- and 4-byte UTF-8.
# Everything is encoded with `events encode --hex --skip-validation`, and the JSON lines are what
# `events decode --hex` prints for those bytes, so both files are Horizons' own canonical text.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
horizons=${1:-$root/build/interop/bin/horizons}
python=/usr/bin/python3   # Debian's python3-avro is installed for this interpreter only
check=("$python" "$here/check_interop.py")

[[ -x $horizons ]] || { echo "make_corpus.sh: no horizons binary at $horizons (build it first)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

position=0
while read -r type; do
  "$horizons" events sample --type "$type" --count 4 --seed $((1000 + position)) >> "$work/valid.jsonl"
  position=$((position + 1))
done < <("$horizons" events types)

"$horizons" events sample --range extreme --count 120 --seed 2026 \
  | "${check[@]}" representable "$horizons" "$root" > "$work/extreme.jsonl"

"${check[@]}" edge-cases "$horizons" "$root" < "$work/valid.jsonl" > "$work/edges.jsonl"

cat "$work/valid.jsonl" "$work/extreme.jsonl" "$work/edges.jsonl" > "$work/all.jsonl"
mkdir -p "$here/corpus"
"$horizons" events encode --hex --skip-validation < "$work/all.jsonl" > "$work/events.hex"
"$horizons" events decode --hex < "$work/events.hex" > "$work/events.jsonl"
[[ $(wc -l < "$work/events.hex") == $(wc -l < "$work/all.jsonl") ]] \
  || { echo "make_corpus.sh: encode dropped records" >&2; exit 1; }
mv "$work/events.hex" "$here/corpus/events.hex"
mv "$work/events.jsonl" "$here/corpus/events.jsonl"

# The new corpus must pass what the tests check, and keep its corners.
"${check[@]}" golden-bytes "$horizons" "$root"
"${check[@]}" coverage "$horizons" "$root"
wc -lc "$here/corpus/events.jsonl" "$here/corpus/events.hex"
