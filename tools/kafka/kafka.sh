#!/usr/bin/env bash
# A real 3-node Apache Kafka cluster (KRaft, each node broker + controller) on
# 127.0.0.1, from Maven Central jars and the local Java 17. No Docker, no
# Kafka tarball. Used by the `kafka` tests and benchmarks; see README.md here.
#
#   tools/kafka/kafka.sh up                 fetch jars (first run), make certificates, format, start,
#                                           wait until served
#   KAFKA_VERSION=3.9.2 tools/kafka/kafka.sh up   the same with another Kafka release (3.x or 4.x)
#   tools/kafka/kafka.sh status             per node pid / up; exit 1 if any node is not up
#   tools/kafka/kafka.sh kill 2             SIGKILL node 2
#   tools/kafka/kafka.sh start 2            start node 2 again on its existing storage
#   tools/kafka/kafka.sh logs 2 [-f]        tail node 2's server.log
#   tools/kafka/kafka.sh bootstrap          127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094
#   tools/kafka/kafka.sh sasl-bootstrap     the SASL/SCRAM-SHA-512 listeners
#   tools/kafka/kafka.sh ssl-bootstrap      the TLS listeners that require a client certificate
#   tools/kafka/kafka.sh sasl-ssl-bootstrap the SCRAM-SHA-512 over TLS listeners
#   tools/kafka/kafka.sh tls-dir            the folder of the CA, broker and client certificates
#   tools/kafka/kafka.sh lib-dir            the folder of the release's jars (kafka-clients among them)
#   tools/kafka/kafka.sh down               SIGTERM, then SIGKILL after a timeout
#   tools/kafka/kafka.sh reset              down, then delete all data (jars are kept)
#
# Every command may be repeated: `up` on a running cluster only checks it,
# `down` on a stopped one does nothing. KAFKA_VERSION (default: pom.xml's),
# KAFKA_PORT_BASE (19092) and KAFKA_RUN_DIR (.run/kafka-<version>) choose
# the cluster a command acts on.
set -euo pipefail

readonly script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly pom=$script_dir/pom.xml

say() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# shellcheck source-path=SCRIPTDIR source=../lib/java_service.sh
source "$script_dir/../lib/java_service.sh"

# The Kafka release: KAFKA_VERSION, else pom.xml's kafka.version (the default
# release). Each release has its own run folder (jars, storage, certificates),
# so switching releases never needs a reset.
readonly default_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n 1)
readonly version=${KAFKA_VERSION:-$default_version}
[[ $version =~ ^([34])\.[0-9]+\.[0-9]+$ ]] ||
  die "KAFKA_VERSION: expected a Kafka 3.x or 4.x release such as 4.4.0 or 3.9.2, got '$version'"
readonly major=${BASH_REMATCH[1]}
readonly run_dir=${KAFKA_RUN_DIR:-$script_dir/.run/kafka-$version}
readonly lib_dir=$run_dir/lib
readonly lib_stamp=$run_dir/lib.pom.sha256
readonly tls_dir=$run_dir/tls
readonly cluster_id_file=$run_dir/cluster.id
readonly formatted_version_file=$run_dir/formatted-with.version
# Kafka 3.9 logs through log4j 1 (reload4j), Kafka 4 through log4j 2; both
# files are written so that only pom.xml decides the version.
readonly log4j1_config=$run_dir/log4j.properties
readonly log4j2_config=$run_dir/log4j2.properties

readonly nodes=(1 2 3)
readonly host=127.0.0.1
# Fixed ports, one block of 100 per listener from KAFKA_PORT_BASE (19092):
# node N uses <block> + N - 1. Another base lets two clusters (two releases)
# run side by side.
readonly port_base=${KAFKA_PORT_BASE:-19092}
[[ $port_base =~ ^[0-9]+$ ]] && ((port_base >= 1024 && port_base <= 65000)) ||
  die "KAFKA_PORT_BASE: expected a port in 1024..65000, got '$port_base'"
readonly plaintext_port_base=$port_base
readonly sasl_port_base=$((port_base + 100))
readonly controller_port_base=$((port_base + 200))
readonly ssl_port_base=$((port_base + 300))
readonly sasl_ssl_port_base=$((port_base + 400))

# The SCRAM user written into the cluster's bootstrap metadata at format time.
# Changing these only takes effect after `reset`.
readonly sasl_username=horizons
readonly sasl_password=horizons-secret
readonly sasl_mechanism=SCRAM-SHA-512

readonly heap=${KAFKA_HEAP:-512m}
# Sized for a small machine where three brokers share two cores with their clients: the client compiler
# only (C1) and the serial collector. On a freshly started cluster, the optimising compiler's work took
# half of the brokers' CPU during a `horizons run` (README.md here, "Broker settings").
# KAFKA_JVM_FLAGS replaces them (e.g. "-XX:+UseG1GC" for the JVM's own defaults on a bigger machine).
readonly broker_jvm_flags=${KAFKA_JVM_FLAGS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}
readonly up_timeout_s=${KAFKA_UP_TIMEOUT:-120}
readonly stop_timeout_s=${KAFKA_STOP_TIMEOUT:-30}

readonly java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java

plaintext_port() { echo $((plaintext_port_base + $1 - 1)); }
sasl_port() { echo $((sasl_port_base + $1 - 1)); }
controller_port() { echo $((controller_port_base + $1 - 1)); }
ssl_port() { echo $((ssl_port_base + $1 - 1)); }
sasl_ssl_port() { echo $((sasl_ssl_port_base + $1 - 1)); }
node_dir() { echo "$run_dir/node-$1"; }

join_by_comma() { local IFS=,; echo "$*"; }

bootstrap() {  # bootstrap <port function>
  local list=() n
  for n in "${nodes[@]}"; do list+=("$host:$("$1" "$n")"); done
  join_by_comma "${list[@]}"
}
plaintext_bootstrap() { bootstrap plaintext_port; }
sasl_bootstrap() { bootstrap sasl_port; }
ssl_bootstrap() { bootstrap ssl_port; }
sasl_ssl_bootstrap() { bootstrap sasl_ssl_port; }

quorum_voters() {
  local list=() n
  for n in "${nodes[@]}"; do list+=("$n@$host:$(controller_port "$n")"); done
  join_by_comma "${list[@]}"
}

check_node_arg() {
  [[ ${1:-} =~ ^[123]$ ]] || die "expected a node number 1, 2 or 3, got '${1:-}'"
}

# ---------------------------------------------------------------- processes

# Prints node N's pid if its broker process is alive. The pid file alone is
# not trusted: the command line must name this node's server.properties, so a
# recycled pid or a zombie does not count as a running broker.
node_pid() {
  live_pid "$(node_dir "$1")/pid" "*$(node_dir "$1")/server.properties*"
}

# Reads `kcat -L` output on stdin and prints how many partition replicas on
# the given brokers are missing from their partition's ISR (all brokers when
# none are given): 0 means those brokers have caught up.
count_lagging_replicas() {
  awk -v brokers=" $* " '
    /^    partition / {
      split($0, a, "replicas: "); split(a[2], b, ", isrs: ")
      nr = split(b[1], replicas, ","); ni = split(b[2], isr, ",")
      delete in_isr
      for (j = 1; j <= ni; j++) in_isr[isr[j] + 0] = 1
      for (j = 1; j <= nr; j++) {
        id = replicas[j] + 0
        if ((brokers == "  " || index(brokers, " " id " ")) && !(id in in_isr)) lagging++
      }
    }
    END { print lagging + 0 }'
}

# Succeeds when node N answers a metadata request on its plaintext port,
# lists every broker in `want` (default: all nodes), and each of those is in
# the ISR of every partition it holds (a restarted node has caught up).
# kcat uses librdkafka, the client library Horizons uses.
node_serves_metadata() {
  local n=$1; shift
  local want=("$@")
  ((${#want[@]})) || want=("${nodes[@]}")
  local metadata
  metadata=$(timeout 10 kcat -b "$host:$(plaintext_port "$n")" -L -m 3 2>/dev/null) || return 1
  local b
  for b in "${want[@]}"; do
    grep -q "^  broker $b at " <<<"$metadata" || return 1
  done
  [[ $(count_lagging_replicas "${want[@]}" <<<"$metadata") == 0 ]]
}

tail_logs() {
  local n d
  for n in "$@"; do
    d=$(node_dir "$n")
    if [[ ! -f $d/logs/server.log ]]; then
      say "---- node $n: no server.log"
      continue
    fi
    say "---- node $n: last WARN/ERROR lines of $d/logs/server.log"
    grep -E '^\[[^]]*\] (WARN|ERROR|FATAL) ' "$d/logs/server.log" | tail -n 10 >&2 || true
    say "---- node $n: last lines of $d/logs/server.log"
    tail -n 15 "$d/logs/server.log" >&2
    if [[ -s $d/logs/stdout.log ]]; then
      say "---- node $n: last lines of $d/logs/stdout.log"
      tail -n 10 "$d/logs/stdout.log" >&2
    fi
  done
}

# -------------------------------------------------------------- preparation

check_tools() {
  check_java "$java_bin"
  command -v kcat >/dev/null || die "kcat not found; install it (apt-get install kcat): readiness is checked with it"
}

pom_hash() { file_hash "$pom"; }

lib_is_current() {
  [[ -f $lib_stamp && $(<"$lib_stamp") == "$(pom_hash)" ]] && compgen -G "$lib_dir/kafka_2.13-*.jar" >/dev/null
}

# Copies the release's runtime jars into $lib_dir. Maven keeps its own cache
# (~/.m2/repository), so after the first run this needs no network; the copy
# is redone only when pom.xml changes. Kafka 3.x logs through log4j 1, 4.x
# through log4j 2: pom.xml's profile kafka-3 swaps the logging back end.
ensure_lib() {
  lib_is_current && return 0
  local n
  for n in "${nodes[@]}"; do
    if node_pid "$n" >/dev/null; then
      die "pom.xml changed while node $n is running; run 'kafka.sh down' first"
    fi
  done
  command -v mvn >/dev/null || die "mvn not found; install maven"
  say "fetching the jars of Kafka $version with Maven (first run, or pom.xml changed)..."
  rm -rf "$lib_dir.tmp"
  mkdir -p "$run_dir"
  local profile=()
  ((major == 3)) && profile=(-P kafka-3)
  if ! mvn -q -B -Dstyle.color=never -f "$pom" "${profile[@]}" -Dkafka.version="$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib_dir.tmp" \
      >"$run_dir/mvn.log" 2>&1; then
    tail -n 30 "$run_dir/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed for Kafka $version (full output: $run_dir/mvn.log)"
  fi
  compgen -G "$lib_dir.tmp/kafka_2.13-$version.jar" >/dev/null ||
    die "Maven fetched no kafka_2.13-$version.jar (full output: $run_dir/mvn.log)"
  rm -rf "$lib_dir"
  mv "$lib_dir.tmp" "$lib_dir"
  pom_hash >"$lib_stamp"
  say "$(find "$lib_dir" -name '*.jar' | wc -l) jars in $lib_dir"
}

# Storage formatted by one Kafka version is not always readable by another
# (a downgrade never is). Refuse instead of failing deep inside the broker.
check_formatted_version() {
  local current formatted
  current=$version
  [[ -s $formatted_version_file ]] || return 0
  formatted=$(<"$formatted_version_file")
  [[ $formatted == "$current" ]] ||
    die "the storage in $run_dir was formatted by Kafka $formatted, not $current; run 'kafka.sh reset' first (deletes the data)"
}

write_log4j_configs() {
  # Files only, nothing on the terminal. kafka.logs.dir is set per JVM.
  cat >"$log4j1_config.tmp" <<'EOF'
# Written by tools/kafka/kafka.sh; edits are overwritten. (log4j 1 / reload4j: Kafka 3.x)
log4j.rootLogger=INFO, server
log4j.appender.server=org.apache.log4j.RollingFileAppender
log4j.appender.server.File=${kafka.logs.dir}/server.log
log4j.appender.server.MaxFileSize=50MB
log4j.appender.server.MaxBackupIndex=3
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n
# One line per request at DEBUG/TRACE; keep it quiet.
log4j.logger.kafka.request.logger=WARN
EOF
  mv "$log4j1_config.tmp" "$log4j1_config"
  cat >"$log4j2_config.tmp" <<'EOF'
# Written by tools/kafka/kafka.sh; edits are overwritten. (log4j 2: Kafka 4.x)
status = warn
name = horizons-kafka

appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = ${sys:kafka.logs.dir}/server.log
appender.server.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 50MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3

rootLogger.level = info
rootLogger.appenderRef.server.ref = server

# One line per request at DEBUG/TRACE; keep it quiet.
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
  mv "$log4j2_config.tmp" "$log4j2_config"
}

write_server_properties() {
  local n=$1 d
  d=$(node_dir "$n")
  mkdir -p "$d/data" "$d/logs"
  cat >"$d/server.properties.tmp" <<EOF
# Written by tools/kafka/kafka.sh for node $n; edits are overwritten.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(quorum_voters)
controller.listener.names=CONTROLLER

listeners=PLAINTEXT://$host:$(plaintext_port "$n"),SASL_PLAINTEXT://$host:$(sasl_port "$n"),SSL://$host:$(ssl_port "$n"),SASL_SSL://$host:$(sasl_ssl_port "$n"),CONTROLLER://$host:$(controller_port "$n")
advertised.listeners=PLAINTEXT://$host:$(plaintext_port "$n"),SASL_PLAINTEXT://$host:$(sasl_port "$n"),SSL://$host:$(ssl_port "$n"),SASL_SSL://$host:$(sasl_ssl_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT

# Clients may authenticate with SCRAM-SHA-512 on the SASL_PLAINTEXT and
# SASL_SSL listeners; the user is created by 'kafka-storage format
# --add-scram'. No authorizer: an authenticated user may do everything.
sasl.enabled.mechanisms=$sasl_mechanism
listener.name.sasl_plaintext.sasl.enabled.mechanisms=$sasl_mechanism
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.sasl.enabled.mechanisms=$sasl_mechanism
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

# TLS: the node's key and certificate (signed by the tool's own CA, for
# 127.0.0.1 and localhost) in one PEM file; clients are checked against that
# CA. The SSL listener requires a client certificate (mutual TLS); SASL_SSL
# authenticates with SCRAM over a server-authenticated TLS connection.
ssl.keystore.type=PEM
ssl.keystore.location=$tls_dir/node-$n.keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls_dir/ca.pem
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=none

log.dirs=$d/data

# Test-friendly defaults: topics exist only when created on purpose, and
# every topic survives the loss of one node.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
# Fewer internal partitions than the default 50: a 2-core machine creates
# __consumer_offsets (x3 replicas) noticeably faster.
offsets.topic.num.partitions=12
transaction.state.log.num.partitions=12
EOF
  if ((major >= 4)); then
    # Share groups (KIP-932) exist from Kafka 4; 3.9 would warn about unknown keys.
    printf '%s\n' share.coordinator.state.topic.replication.factor=3 \
      share.coordinator.state.topic.min.isr=2 >>"$d/server.properties.tmp"
  fi
  mv "$d/server.properties.tmp" "$d/server.properties"
}

# ------------------------------------------------------------- certificates

# Makes, once per run folder, with openssl: a CA; for each node a key and a
# certificate for 127.0.0.1/localhost, joined into the PEM keystore Kafka
# reads; a client key and certificate for mutual TLS, and the same client key
# encrypted with a password (client-encrypted.key, password in
# client-key.password). Valid for ten years; `reset` deletes them.
ensure_certificates() {
  [[ -s $tls_dir/client-key.password ]] && return 0
  command -v openssl >/dev/null || die "openssl not found; install it (apt-get install openssl): it makes the TLS certificates"
  say "making a CA and TLS certificates in $tls_dir"
  rm -rf "$tls_dir.tmp"
  mkdir -p "$tls_dir.tmp"
  local t=$tls_dir.tmp n log=$tls_dir.tmp/openssl.log
  sign() {  # sign <name> <subject> <extensions>
    openssl req -new -newkey rsa:2048 -nodes -keyout "$t/$1.key" -out "$t/$1.csr" -subj "$2" >>"$log" 2>&1 &&
      openssl x509 -req -in "$t/$1.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 3650 \
        -sha256 -out "$t/$1.pem" -extfile <(printf '%s\n' "$3") >>"$log" 2>&1 && rm -f "$t/$1.csr"
  }
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out "$t/ca.pem" -days 3650 -sha256 \
    -subj "/CN=Horizons tools-kafka test CA" >>"$log" 2>&1 || { cat "$log" >&2; die "openssl could not make the CA"; }
  for n in "${nodes[@]}"; do
    sign "node-$n" "/CN=kafka-node-$n" \
      "subjectAltName=IP:$host,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth" || { cat "$log" >&2; die "openssl could not make node $n's certificate"; }
    cat "$t/node-$n.key" "$t/node-$n.pem" "$t/ca.pem" >"$t/node-$n.keystore.pem"
  done
  sign client "/CN=horizons-client" "extendedKeyUsage=clientAuth" ||
    { cat "$log" >&2; die "openssl could not make the client certificate"; }
  openssl rand -hex 16 >"$t/client-key.password.tmp"
  openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$t/client.key" -out "$t/client-encrypted.key" \
    -passout "file:$t/client-key.password.tmp" >>"$log" 2>&1 || { cat "$log" >&2; die "openssl could not encrypt the client key"; }
  mv "$t/client-key.password.tmp" "$t/client-key.password"
  chmod 600 "$t"/*.key "$t"/*.keystore.pem
  rm -rf "$tls_dir"
  mv "$t" "$tls_dir"
}

jvm_common_args() {
  local logs=$1
  echo "-Dlog4j.configuration=file:$log4j1_config" "-Dlog4j2.configurationFile=$log4j2_config" \
    "-Dkafka.logs.dir=$logs" -Djava.awt.headless=true
}

kafka_tool() {  # kafka_tool <logs dir> <main class> <args...>
  local logs=$1; shift
  mkdir -p "$logs"
  # shellcheck disable=SC2046
  "$java_bin" -Xmx256m -XX:TieredStopAtLevel=1 $(jvm_common_args "$logs") -cp "$lib_dir/*" "$@"
}

ensure_cluster_id() {
  [[ -s $cluster_id_file ]] && return 0
  local id
  id=$(kafka_tool "$run_dir/tool-logs" kafka.tools.StorageTool random-uuid | tail -n 1)
  [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "could not generate a cluster id (got '$id')"
  echo "$id" >"$cluster_id_file"
  say "cluster id $id (stored in $cluster_id_file)"
}

# Formats node N's storage once; an already formatted node is left as it is.
ensure_formatted() {
  local n=$1 d
  d=$(node_dir "$n")
  [[ -f $d/data/meta.properties ]] && return 0
  say "formatting node $n storage in $d/data"
  if ! kafka_tool "$d/logs" kafka.tools.StorageTool format \
      --cluster-id "$(<"$cluster_id_file")" \
      --config "$d/server.properties" \
      --add-scram "$sasl_mechanism=[name=$sasl_username,password=$sasl_password]" \
      --ignore-formatted >"$d/logs/format.log" 2>&1; then
    cat "$d/logs/format.log" >&2
    die "formatting node $n failed"
  fi
  echo "$version" >"$formatted_version_file"
}

prepare() {
  check_tools
  ensure_lib
  check_formatted_version
  mkdir -p "$run_dir"
  write_log4j_configs
  ensure_certificates
  local n
  for n in "${nodes[@]}"; do write_server_properties "$n"; done
  ensure_cluster_id
}

# ------------------------------------------------------------ start / stop

# Fails unless node N is running or all its ports are free.
check_ports_free() {
  local n=$1 port
  node_pid "$n" >/dev/null && return 0
  for port in "$(plaintext_port "$n")" "$(sasl_port "$n")" "$(controller_port "$n")" "$(ssl_port "$n")" \
      "$(sasl_ssl_port "$n")"; do
    if port_open "$host" "$port"; then
      die "port $port (node $n) is already in use by another process"
    fi
  done
}

launch_node() {
  local n=$1 d
  d=$(node_dir "$n")
  if node_pid "$n" >/dev/null; then
    return 0
  fi
  check_ports_free "$n"
  ensure_formatted "$n"
  # setsid: the broker does not belong to the caller's terminal or job, so a
  # Ctrl-C there does not stop it. Not a group leader here, so setsid execs
  # in place and $! is the JVM's pid.
  # shellcheck disable=SC2046
  (
    cd "$d"
    exec setsid "$java_bin" -Xms"$heap" -Xmx"$heap" \
      $broker_jvm_flags -XX:+ExitOnOutOfMemoryError \
      "-Xlog:gc*:file=$d/logs/gc.log:time,tags:filecount=3,filesize=10M" \
      $(jvm_common_args "$d/logs") \
      -cp "$lib_dir/*" kafka.Kafka "$d/server.properties" \
      >>"$d/logs/stdout.log" 2>&1 </dev/null 9>&-  # 9: the run-dir lock stays with us
  ) &
  echo $! >"$d/pid"
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    node_pid "$n" >/dev/null && break
    sleep 0.1
  done
  node_pid "$n" >/dev/null || { tail_logs "$n"; die "node $n exited right after starting"; }
  say "node $n started (pid $(<"$d/pid"))"
}

# Waits until every node in `check` serves metadata listing every node in
# `want`. Prints a dot a second; on timeout shows the logs and fails.
wait_until_served() {
  local -n check_ref=$1 want_ref=$2
  local deadline=$((SECONDS + up_timeout_s)) n pending
  while :; do
    pending=()
    for n in "${check_ref[@]}"; do
      if ! node_pid "$n" >/dev/null; then
        printf '\n' >&2
        tail_logs "$n"
        die "node $n died while starting"
      fi
      node_serves_metadata "$n" "${want_ref[@]}" || pending+=("$n")
    done
    ((${#pending[@]} == 0)) && { printf '\n' >&2; return 0; }
    if ((SECONDS >= deadline)); then
      printf '\n' >&2
      tail_logs "${pending[@]}"
      die "node(s) ${pending[*]} did not serve metadata listing broker(s) ${want_ref[*]} in sync within ${up_timeout_s}s"
    fi
    printf '.' >&2
    sleep 1
  done
}

cmd_up() {
  local started=$SECONDS n
  prepare
  for n in "${nodes[@]}"; do check_ports_free "$n"; done
  for n in "${nodes[@]}"; do ensure_formatted "$n"; done
  for n in "${nodes[@]}"; do launch_node "$n"; done
  say "waiting until all ${#nodes[@]} brokers are in metadata and in sync (up to ${up_timeout_s}s)"
  local all=("${nodes[@]}")
  wait_until_served all all
  say "Kafka $version cluster up in $((SECONDS - started))s: plaintext $(plaintext_bootstrap), sasl $(sasl_bootstrap), ssl (client certificate) $(ssl_bootstrap), sasl_ssl $(sasl_ssl_bootstrap); certificates in $tls_dir"
}

cmd_start() {
  check_node_arg "${1:-}"
  local n=$1 started=$SECONDS pid
  prepare
  if pid=$(node_pid "$n"); then
    say "node $n is already running (pid $pid)"
  else
    launch_node "$n"
  fi
  say "waiting until node $n serves metadata and has caught up (up to ${up_timeout_s}s)"
  local check=("$n") want=("$n")
  wait_until_served check want
  say "node $n up in $((SECONDS - started))s"
}

# SIGTERM the given nodes, wait for them, SIGKILL what is left after the timeout.
stop_nodes() {
  local n pid running=()
  for n in "$@"; do
    if pid=$(node_pid "$n"); then
      kill -TERM "$pid" 2>/dev/null || true
      running+=("$n")
    else
      rm -f "$(node_dir "$n")/pid"
    fi
  done
  ((${#running[@]})) || { say "nothing running"; return 0; }
  say "stopping node(s) ${running[*]} (SIGTERM, SIGKILL after ${stop_timeout_s}s)"
  local deadline=$((SECONDS + stop_timeout_s)) left
  while :; do
    left=()
    for n in "${running[@]}"; do node_pid "$n" >/dev/null && left+=("$n"); done
    ((${#left[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for n in "${left[@]}"; do
        pid=$(node_pid "$n") && kill -KILL "$pid" 2>/dev/null && say "node $n: SIGKILL after ${stop_timeout_s}s"
      done
      sleep 0.5
      break
    fi
    sleep 0.5
  done
  for n in "${running[@]}"; do
    node_pid "$n" >/dev/null && die "node $n is still running"
    rm -f "$(node_dir "$n")/pid"
  done
  say "stopped node(s) ${running[*]}"
}

cmd_down() {
  stop_nodes "${nodes[@]}"
}

cmd_kill() {
  check_node_arg "${1:-}"
  local n=$1 pid
  if ! pid=$(node_pid "$n"); then
    say "node $n is not running"
    return 0
  fi
  kill -KILL "$pid"
  local i
  for i in $(seq 50); do
    node_pid "$n" >/dev/null || break
    sleep 0.1
  done
  node_pid "$n" >/dev/null && die "node $n (pid $pid) survived SIGKILL"
  rm -f "$(node_dir "$n")/pid"
  say "node $n killed (SIGKILL, pid $pid)"
}

cmd_status() {
  local n pid state status_rc=0
  echo "Kafka $version in $run_dir"
  printf '%-5s %-8s %-9s %-16s %-16s %-16s %-16s %s\n' node pid state plaintext sasl ssl sasl_ssl controller
  for n in "${nodes[@]}"; do
    if pid=$(node_pid "$n"); then
      if port_open "$host" "$(plaintext_port "$n")"; then state=up; else state=starting; status_rc=1; fi
    else
      pid=-; state=down; status_rc=1
    fi
    printf '%-5s %-8s %-9s %-16s %-16s %-16s %-16s %s\n' "$n" "$pid" "$state" \
      "$host:$(plaintext_port "$n")" "$host:$(sasl_port "$n")" "$host:$(ssl_port "$n")" \
      "$host:$(sasl_ssl_port "$n")" "$host:$(controller_port "$n")"
  done
  # What a client sees: the brokers in metadata (a killed node disappears
  # once the controller fences it, broker.session.timeout.ms = 9 s).
  if command -v kcat >/dev/null; then
    local metadata brokers
    if metadata=$(timeout 10 kcat -b "$(plaintext_bootstrap)" -L -m 3 2>/dev/null); then
      brokers=$(sed -n 's/^  broker \([0-9]*\) at .*/\1/p' <<<"$metadata" | sort -n | tr '\n' ' ')
      echo "brokers in metadata: ${brokers% }; replicas out of ISR: $(count_lagging_replicas <<<"$metadata")"
    else
      echo "brokers in metadata: none (no node answers)"
    fi
  fi
  [[ -s $cluster_id_file ]] && echo "cluster id: $(<"$cluster_id_file"), run dir: $run_dir"
  return "$status_rc"
}

cmd_logs() {
  check_node_arg "${1:-}"
  local n=$1 file
  file=$(node_dir "$n")/logs/server.log
  [[ -f $file ]] || die "no log yet for node $n ($file)"
  say "$file"
  if [[ ${2:-} == -f ]]; then
    exec tail -n "${KAFKA_LOG_LINES:-100}" -F "$file"
  fi
  tail -n "${KAFKA_LOG_LINES:-100}" "$file"
}

cmd_reset() {
  cmd_down
  local n
  for n in "${nodes[@]}"; do rm -rf "$(node_dir "$n")"; done
  rm -rf "$cluster_id_file" "$formatted_version_file" "$run_dir/tool-logs" "$tls_dir"
  say "deleted all cluster data and certificates under $run_dir (jars kept in $lib_dir)"
}

usage() {
  sed -n '2,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}


main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up | down | kill | start | reset) lock_dir "$run_dir" kafka.sh ;;
  esac
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kill) cmd_kill "$@" ;;
    start) cmd_start "$@" ;;
    logs) cmd_logs "$@" ;;
    bootstrap) plaintext_bootstrap ;;
    sasl-bootstrap) sasl_bootstrap ;;
    ssl-bootstrap) ssl_bootstrap ;;
    sasl-ssl-bootstrap) sasl_ssl_bootstrap ;;
    tls-dir) echo "$tls_dir" ;;
    lib-dir) echo "$lib_dir" ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
