#!/usr/bin/env bash
# An independent Confluent-compatible schema registry (Apicurio Registry
# 2.6.13.Final, its ccompat API) on 127.0.0.1, from Apicurio's prebuilt server
# on Maven Central and the local Java 17. No Docker. Horizons' schema-registry
# client is tested against it; see README.md here.
#
#   tools/registry/registry.sh up       fetch and unpack the server (first run), start it,
#                                       wait until /health/ready answers
#   tools/registry/registry.sh status   pid and up / starting / down; exit 0 only when up
#   tools/registry/registry.sh url      http://127.0.0.1:18081/apis/ccompat/v7 (the Confluent API)
#   tools/registry/registry.sh logs [-f]  tail the server's log
#   tools/registry/registry.sh down     SIGTERM, then SIGKILL after a timeout; waits until it is gone
#   tools/registry/registry.sh reset    down, then delete its logs and temporary files (the server is kept)
#
# Every command may be repeated: `up` on a running registry only says so,
# `down` on a stopped one does nothing. Schemas live in memory (H2): they,
# and the ids, start afresh with every start. REGISTRY_PORT (18081) chooses
# the registry a command acts on; registries on different ports are
# independent.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
readonly pom=$script_dir/pom.xml

say() { printf 'registry.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# shellcheck source-path=SCRIPTDIR source=../lib/java_service.sh
source "$script_dir/../lib/java_service.sh"

version=$(sed -n 's:.*<apicurio.version>\(.*\)</apicurio.version>.*:\1:p' "$pom" | head -n 1)
readonly version
[[ -n $version ]] || die "no <apicurio.version> in $pom"

readonly host=127.0.0.1
readonly port=${REGISTRY_PORT:-18081}
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1024 || port > 65535)); then
  die "REGISTRY_PORT: expected a port in 1024..65535, got '$port'"
fi
readonly base_url=http://$host:$port
readonly ccompat_url=$base_url/apis/ccompat/v7

# .run/ holds the unpacked server (shared by every port) and one folder per
# port with that registry's pid, log and temporary files.
readonly run_root=${REGISTRY_RUN_DIR:-$script_dir/.run}
readonly dist_dir=$run_root/dist
readonly dist_stamp=$run_root/dist.pom.sha256
readonly state_dir=$run_root/port-$port
readonly pid_file=$state_dir/pid
readonly log_file=$state_dir/registry.log
readonly tmp_dir=$state_dir/tmp

readonly heap=${REGISTRY_HEAP:-256m}
# As tools/kafka: the client compiler only (C1) and the serial collector, for a
# 2-core machine that the registry shares with Kafka and the tests.
# REGISTRY_JVM_FLAGS replaces them.
readonly jvm_flags=${REGISTRY_JVM_FLAGS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}
readonly up_timeout_s=${REGISTRY_UP_TIMEOUT:-60}
readonly stop_timeout_s=${REGISTRY_STOP_TIMEOUT:-30}

readonly java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java

runner_jar() { echo "$dist_dir/apicurio-registry-app-$version-runner.jar"; }

# ---------------------------------------------------------------- processes

# Prints the pid of the registry on port P (default: REGISTRY_PORT's) if it is
# alive. The pid file alone is not trusted: the command line must name this
# run folder's runner jar and that port, so a recycled pid or a zombie does
# not count as a running registry.
registry_pid() {
  local p=${1:-$port}
  live_pid "$run_root/port-$p/pid" "*-Dquarkus.http.port=$p *-jar $(runner_jar)*"
}

# Succeeds when GET /health/ready answers 200. Plain bash (/dev/tcp), so that
# curl is not one more thing to install.
registry_ready() {
  local status
  # shellcheck disable=SC2016  # $1, $2: the inner bash's arguments
  status=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET /health/ready HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n" "$1" "$2" >&3
    IFS= read -r line <&3 && printf "%s" "$line"' _ "$host" "$port" 2>/dev/null) || return 1
  [[ $status =~ ^HTTP/1\.[01]\ 200 ]]
}

tail_log() {
  if [[ ! -s $log_file ]]; then
    say "---- no log in $log_file"
    return 0
  fi
  say "---- last WARN/ERROR lines of $log_file"
  grep -E ' (WARN|ERROR|FATAL) ' "$log_file" | tail -n 10 >&2 || true
  say "---- last lines of $log_file"
  tail -n 25 "$log_file" >&2
}

# -------------------------------------------------------------- preparation

check_tools() { check_java "$java_bin"; }

pom_hash() { file_hash "$pom"; }

dist_is_current() {
  [[ -f $dist_stamp && $(<"$dist_stamp") == "$(pom_hash)" && -f $(runner_jar) ]]
}

# Unpacks the server into $dist_dir. Maven keeps the archive in its own cache
# (~/.m2/repository), so after the first run this needs no network; the
# unpacking is redone only when pom.xml changes.
ensure_dist() {
  dist_is_current && return 0
  local f other
  for f in "$run_root"/port-*/pid; do
    [[ -f $f ]] || continue
    other=${f%/pid}
    other=${other##*/port-}
    if registry_pid "$other" >/dev/null; then
      die "pom.xml changed while the registry on port $other is running; run 'REGISTRY_PORT=$other registry.sh down' first"
    fi
  done
  command -v mvn >/dev/null || die "mvn not found; install maven"
  say "fetching and unpacking Apicurio Registry $version with Maven (first run ~142 MB, or pom.xml changed)..."
  rm -rf "$dist_dir.tmp" "$dist_dir.tmp.markers"
  mkdir -p "$run_root"
  if ! mvn -q -B -Dstyle.color=never -f "$pom" -Dregistry.dist.dir="$dist_dir.tmp" dependency:unpack \
      >"$run_root/mvn.log" 2>&1; then
    tail -n 30 "$run_root/mvn.log" >&2
    die "mvn dependency:unpack failed for Apicurio Registry $version (full output: $run_root/mvn.log)"
  fi
  rm -rf "$dist_dir.tmp.markers"
  [[ -f $dist_dir.tmp/apicurio-registry-app-$version-runner.jar ]] ||
    die "the archive held no apicurio-registry-app-$version-runner.jar (unpacked into $dist_dir.tmp)"
  rm -rf "$dist_dir"
  mv "$dist_dir.tmp" "$dist_dir"
  pom_hash >"$dist_stamp"
  say "server unpacked in $dist_dir ($(find "$dist_dir" -name '*.jar' | wc -l) jars, $(du -sh "$dist_dir" | cut -f1))"
}

# ------------------------------------------------------------ start / stop

launch() {
  mkdir -p "$state_dir" "$tmp_dir"
  port_open "$host" "$port" && die "port $port is already in use by another process; nothing was started (REGISTRY_PORT chooses another)"
  : >"$log_file"
  # quarkus.http.host: without it Quarkus listens on every interface.
  # setsid: the registry does not belong to the caller's terminal or job, so
  # a Ctrl-C there does not stop it. Not a group leader here, so setsid execs
  # in place and $! is the JVM's pid.
  # shellcheck disable=SC2086
  (
    cd "$state_dir"
    exec setsid "$java_bin" -Xms64m -Xmx"$heap" $jvm_flags -XX:+ExitOnOutOfMemoryError \
      -Djava.io.tmpdir="$tmp_dir" -Djava.awt.headless=true \
      -Dquarkus.http.host="$host" -Dquarkus.http.port="$port" \
      -jar "$(runner_jar)" \
      >>"$log_file" 2>&1 </dev/null 9>&-  # 9: the run-dir lock stays with us
  ) &
  local pid=$!
  echo "$pid" >"$pid_file"
  # Until the subshell has exec'd into java, the pid's command line is still
  # bash's; on a loaded machine that has taken over a second. Only a pid that
  # is gone means the JVM failed.
  local deadline=$((SECONDS + 15))
  until registry_pid >/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      tail_log
      die "the registry exited right after starting"
    fi
    sleep 0.1
  done
  say "started Apicurio Registry $version (pid $pid), log $log_file"
}

# Waits until /health/ready answers 200. Prints a dot a second; if the JVM
# dies or the timeout passes, shows the log and fails.
wait_until_ready() {
  local deadline=$((SECONDS + up_timeout_s))
  while :; do
    if ! registry_pid >/dev/null; then
      printf '\n' >&2
      tail_log
      die "the registry died while starting"
    fi
    registry_ready && { printf '\n' >&2; return 0; }
    if ((SECONDS >= deadline)); then
      printf '\n' >&2
      tail_log
      die "the registry (pid $(<"$pid_file")) was not ready within ${up_timeout_s}s; left running for inspection ('registry.sh status', then 'registry.sh down')"
    fi
    printf '.' >&2
    sleep 1
  done
}

cmd_up() {
  local started=$SECONDS pid
  check_tools
  if pid=$(registry_pid) && registry_ready; then
    say "already up (pid $pid): $ccompat_url"
    return 0
  fi
  ensure_dist
  if pid=$(registry_pid); then
    say "already running (pid $pid), not ready yet"
  else
    launch
  fi
  say "waiting until $base_url/health/ready answers (up to ${up_timeout_s}s)"
  wait_until_ready
  say "Apicurio Registry $version up in $((SECONDS - started))s: $ccompat_url"
}

cmd_down() {
  local pid
  if ! pid=$(registry_pid); then
    rm -f "$pid_file"
    say "nothing running"
    return 0
  fi
  say "stopping the registry (pid $pid; SIGTERM, SIGKILL after ${stop_timeout_s}s)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + stop_timeout_s))
  while registry_pid >/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null && say "SIGKILL after ${stop_timeout_s}s"
      for _ in $(seq 50); do
        registry_pid >/dev/null || break
        sleep 0.1
      done
      break
    fi
    sleep 0.2
  done
  registry_pid >/dev/null && die "the registry (pid $pid) is still running"
  rm -f "$pid_file"
  say "stopped (pid $pid)"
}

cmd_status() {
  local pid state status_rc=0
  if pid=$(registry_pid); then
    if registry_ready; then state=up; else state=starting; status_rc=1; fi
  else
    pid=-; state=down; status_rc=1
  fi
  printf '%-8s %-9s %s\n' pid state url
  printf '%-8s %-9s %s\n' "$pid" "$state" "$ccompat_url"
  echo "Apicurio Registry $version, run dir $state_dir"
  return "$status_rc"
}

cmd_logs() {
  [[ -f $log_file ]] || die "no log yet ($log_file)"
  say "$log_file"
  if [[ ${1:-} == -f ]]; then
    exec tail -n "${REGISTRY_LOG_LINES:-100}" -F "$log_file"
  fi
  tail -n "${REGISTRY_LOG_LINES:-100}" "$log_file"
}

cmd_reset() {
  cmd_down
  rm -rf "$state_dir"
  say "deleted $state_dir (the unpacked server in $dist_dir is kept)"
}

usage() {
  sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}


main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up | down | reset) lock_dir "$run_root" registry.sh ;;
  esac
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    url) echo "$ccompat_url" ;;
    logs) cmd_logs "$@" ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
