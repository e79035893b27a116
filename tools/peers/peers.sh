#!/usr/bin/env bash
# Independent programs the tests talk to, installed from the project's own pinned files into the
# build tree (never into the system, never by hand):
#   python  a virtualenv with tools/peers/requirements.txt (confluent-kafka with its Avro and
#           schema-registry extras, opentelemetry-proto, prometheus_client; every package pinned)
#   node    node_modules from tools/peers/package.json and package-lock.json via `npm ci`
#           (kafkajs, @kafkajs/confluent-schema-registry, playwright-core)
#
#   tools/peers/peers.sh install   install what is missing or out of date (idempotent)
#   tools/peers/peers.sh status    say what is installed; exit 1 when something is missing
#   tools/peers/peers.sh python    print the virtualenv's python (after install)
#   tools/peers/peers.sh node-path print the node_modules directory (for NODE_PATH)
#   tools/peers/peers.sh clean     remove both
#
# Where: $HORIZONS_PEERS_DIR, default build/peers. A stamp file holds the hash of the pinned files
# each install was made from; a changed file reinstalls from scratch.
set -euo pipefail

readonly here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly repo_dir=$(cd "$here/../.." && pwd)
readonly peers_dir=${HORIZONS_PEERS_DIR:-$repo_dir/build/peers}
readonly venv=$peers_dir/venv
readonly node_dir=$peers_dir/node
readonly system_python=/usr/bin/python3

say() { printf 'peers: %s\n' "$*"; }
die() { printf 'peers: error: %s\n' "$*" >&2; exit 1; }

python_hash() { sha256sum "$here/requirements.txt" | cut -d' ' -f1; }
node_hash() { cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1; }
current() { [[ -f $1/.stamp && $(cat "$1/.stamp") == "$2" ]]; }

install_python() {
  local hash
  hash=$(python_hash)
  if current "$venv" "$hash"; then say "python: up to date ($venv)"; return 0; fi
  say "python: creating $venv from tools/peers/requirements.txt"
  rm -rf "$venv"
  "$system_python" -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  local log=$peers_dir/pip.log
  if ! "$venv/bin/pip" install --no-input --disable-pip-version-check --require-virtualenv \
      -r "$here/requirements.txt" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "pip install failed; log: $log"
  fi
  echo "$hash" >"$venv/.stamp"
  say "python: installed ($("$venv/bin/python" -c 'import confluent_kafka; print("confluent-kafka", confluent_kafka.__version__)'))"
}

install_node() {
  local hash
  hash=$(node_hash)
  if current "$node_dir" "$hash"; then say "node: up to date ($node_dir/node_modules)"; return 0; fi
  command -v npm >/dev/null || die "npm is not on PATH (Node.js 20 with npm is needed)"
  say "node: npm ci in $node_dir from tools/peers/package-lock.json"
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
  local log=$peers_dir/npm.log
  if ! (cd "$node_dir" && npm ci --no-audit --no-fund) >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "npm ci failed; log: $log"
  fi
  echo "$hash" >"$node_dir/.stamp"
  say "node: installed"
}

case ${1:-} in
  install)
    mkdir -p "$peers_dir"
    # Two test processes may ask at once (ctest -j): one installs, the other waits for it.
    exec 9>"$peers_dir/.lock"
    flock 9
    install_python
    install_node
    ;;
  status)
    ok=true
    if current "$venv" "$(python_hash)"; then say "python: installed ($venv)"; else say "python: missing or out of date"; ok=false; fi
    if current "$node_dir" "$(node_hash)"; then say "node: installed ($node_dir)"; else say "node: missing or out of date"; ok=false; fi
    $ok
    ;;
  python) echo "$venv/bin/python" ;;
  node-path) echo "$node_dir/node_modules" ;;
  clean) rm -rf "$venv" "$node_dir"; say "removed $venv and $node_dir" ;;
  *) die "usage: peers.sh install|status|python|node-path|clean" ;;
esac
