#!/usr/bin/env bash
# A PostgreSQL 15 server for tests on 127.0.0.1, from Debian's postgresql-15
# package (/usr/lib/postgresql/15/bin). No Docker. See README.md here.
#
#   tools/postgres/postgres.sh up         initdb (first run), start, wait until it accepts
#                                         connections, create the database horizons
#   tools/postgres/postgres.sh status     pid and up / starting / down; exit 0 only when up
#   tools/postgres/postgres.sh url        postgresql://horizons@127.0.0.1:15432/horizons; exit 1 when not running
#   tools/postgres/postgres.sh logs [-f]  tail the server's log
#   tools/postgres/postgres.sh down       fast shutdown (SIGINT), immediate (SIGQUIT) after a timeout;
#                                         waits until it is gone
#   tools/postgres/postgres.sh reset      down, then delete the data directory and the log
#                                         (`clean` is the same command)
#
# Every command may be repeated: `up` on a running server only says so,
# `down` on a stopped one does nothing. The data survives `down` and `up`;
# only `reset` deletes it. Superuser horizons without a password (trust, TCP
# on loopback only): a test server, never exposed. PostgreSQL refuses to run
# as root, so as root the server runs as the system user postgres (created if
# missing). One server per folder: HORIZONS_POSTGRES_DIR (build/postgres, or
# a folder in $TMPDIR when that user cannot enter build/), on port
# HORIZONS_POSTGRES_PORT (15432).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
repo_dir=$(cd "$script_dir/../.." && pwd)
readonly repo_dir

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# live_pid, port_open and lock_dir; check_java is not used here.
# shellcheck source-path=SCRIPTDIR source=../lib/java_service.sh
source "$script_dir/../lib/java_service.sh"

readonly pg_major=15
readonly bin_dir=/usr/lib/postgresql/$pg_major/bin

readonly host=127.0.0.1
readonly port=${HORIZONS_POSTGRES_PORT:-15432}
if ! [[ $port =~ ^[1-9][0-9]*$ ]] || ((port < 1024 || port > 65535)); then
  die "HORIZONS_POSTGRES_PORT: expected a port in 1024..65535, got '$port' (PostgreSQL cannot pick a free port itself: 0 is not supported)"
fi
readonly db_user=horizons
readonly db_name=horizons
readonly url=postgresql://$db_user@$host:$port/$db_name

readonly up_timeout_s=${HORIZONS_POSTGRES_UP_TIMEOUT:-30}
readonly stop_timeout_s=${HORIZONS_POSTGRES_STOP_TIMEOUT:-30}

# The account the server runs as: the caller, or, when the caller is root, the
# system user HORIZONS_POSTGRES_USER (postgres, which Debian's package creates).
if ((EUID == 0)); then
  readonly server_user=${HORIZONS_POSTGRES_USER:-postgres}
else
  server_user=$(id -un)
  readonly server_user
fi

# Set by resolve_dirs (they depend on the server user being able to reach build/).
base_dir='' data_dir='' socket_dir='' log_file='' pid_file=''
# The command prefix that runs a program as the server user (empty unless root).
as_server=()

# ------------------------------------------------------------- the user

server_user_exists() { id -u "$server_user" >/dev/null 2>&1; }

ensure_server_user() {
  ((EUID == 0)) || return 0
  server_user_exists && return 0
  command -v useradd >/dev/null || die "no user '$server_user' to run the server as, and no useradd to create it"
  say "creating the system user '$server_user' to run the server as (PostgreSQL refuses to run as root)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "Horizons test PostgreSQL" "$server_user" || die "useradd '$server_user' failed"
}

set_as_server() {
  as_server=()
  if ((EUID == 0)) && server_user_exists; then
    command -v setpriv >/dev/null || die "setpriv not found (util-linux); run tools/install-deps.sh"
    # setpriv execs in place (su and runuser fork), so a background launch's $! is the server's pid.
    as_server=(setpriv --reuid="$(id -u "$server_user")" --regid="$(id -g "$server_user")" --init-groups --)
  fi
}

# ------------------------------------------------------------- the folders

# Succeeds when the server user can enter folder $1 or, if $1 does not exist
# yet, the nearest existing folder above it (up creates what is missing with
# mode 755). Without the user (root, before the first up) nothing can be
# running, and the answer does not matter.
server_can_reach() {
  local d=$1
  until [[ -e $d ]]; do d=$(dirname "$d"); done
  [[ -d $d ]] || return 1
  ((EUID == 0)) && ! server_user_exists && return 0
  (cd / && "${as_server[@]}" test -x "$d") 2>/dev/null
}

# A Unix socket's path holds at most 107 bytes.
socket_path() { echo "$1/socket/.s.PGSQL.$port"; }
socket_fits() { local s; s=$(socket_path "$1"); ((${#s} <= 107)); }

# HORIZONS_POSTGRES_DIR, else build/postgres if the server user can enter it
# (as root: can postgres traverse the checkout?) and the socket path is short
# enough, else a folder of the caller's in $TMPDIR, one per checkout.
resolve_dirs() {
  local fallback
  fallback=${TMPDIR:-/tmp}/horizons-postgres-$EUID-$(cksum <<<"$repo_dir" | cut -d' ' -f1)
  if [[ -n ${HORIZONS_POSTGRES_DIR:-} ]]; then
    base_dir=$HORIZONS_POSTGRES_DIR
    [[ $base_dir == /* ]] || base_dir=$PWD/$base_dir
  elif server_can_reach "$repo_dir/build/postgres" && socket_fits "$repo_dir/build/postgres"; then
    base_dir=$repo_dir/build/postgres
  else
    base_dir=$fallback
  fi
  base_dir=${base_dir%/}
  data_dir=$base_dir/data
  socket_dir=$base_dir/socket
  log_file=$base_dir/postgres.log
  pid_file=$base_dir/pid
}

# Creates folder $1 (mode $2) for the server user.
make_server_dir() {
  mkdir -p "$1"
  ((EUID == 0)) && chown "$server_user:" "$1"
  chmod "$2" "$1"
}

# Makes the base folder (the caller's, mode 755) and checks that the server
# can use it.
prepare_base_dir() {
  if [[ $base_dir == "${TMPDIR:-/tmp}"/horizons-postgres-* && -e $base_dir ]]; then
    # A predictable name in a shared folder: it must be ours.
    [[ ! -L $base_dir && -d $base_dir && -O $base_dir ]] ||
      die "$base_dir exists but is not a folder of uid $EUID; remove it or set HORIZONS_POSTGRES_DIR"
  fi
  (umask 022 && mkdir -p "$base_dir") || die "cannot create $base_dir"
  server_can_reach "$base_dir" ||
    die "the user '$server_user' the server runs as cannot enter $base_dir (PostgreSQL cannot run as root); set HORIZONS_POSTGRES_DIR to a folder it can reach"
  socket_fits "$base_dir" ||
    die "the socket path $(socket_path "$base_dir") is longer than 107 bytes; set HORIZONS_POSTGRES_DIR to a shorter folder"
}

# ---------------------------------------------------------------- processes

check_tools() {
  local t
  for t in initdb postgres pg_isready psql; do
    [[ -x $bin_dir/$t ]] ||
      die "PostgreSQL $pg_major is not installed ($bin_dir/$t is missing); run tools/install-deps.sh"
  done
}

pg_version() { "$bin_dir/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([0-9.]*\).*/\1/p'; }

# Prints the server's pid if it is alive. The pid file alone is not trusted:
# the command line must be this data directory's postmaster, so a recycled pid
# or a zombie does not count as a running server.
server_pid() {
  live_pid "$pid_file" "$bin_dir/postgres -D $data_dir -p *"
}

# Prints the port the server with pid $1 was started on.
server_port() {
  local cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmdline =~ \ -p\ ([0-9]+)\  ]] && echo "${BASH_REMATCH[1]}"
}

# Succeeds when the server on $port accepts connections.
server_ready() {
  "$bin_dir/pg_isready" -q -h "$host" -p "$port" -U "$db_user" -d postgres -t 5 >/dev/null 2>&1
}

tail_log() {
  if [[ ! -s $log_file ]]; then
    say "---- no log in $log_file"
    return 0
  fi
  say "---- last ERROR/FATAL/PANIC lines of $log_file"
  grep -E '(ERROR|FATAL|PANIC): ' "$log_file" | tail -n 10 >&2 || true
  say "---- last lines of $log_file"
  tail -n 25 "$log_file" >&2
}

# After the server died: names the port if that was the cause.
die_after_start() {
  tail_log
  if grep -qE 'could not bind IPv4 address|could not create any TCP/IP sockets' "$log_file" 2>/dev/null; then
    die "port $port is already in use by another process (HORIZONS_POSTGRES_PORT chooses another)"
  fi
  die "$1"
}

# -------------------------------------------------------------- preparation

# initdb once: superuser horizons, trust, UTF8 with the C locale (the same on
# every machine). pg_hba.conf then admits TCP from 127.0.0.1 only.
ensure_initialized() {
  if [[ -f $data_dir/PG_VERSION ]]; then
    local v
    v=$(<"$data_dir/PG_VERSION")
    [[ $v == "$pg_major" ]] ||
      die "$data_dir was made by PostgreSQL $v, not $pg_major; 'postgres.sh reset' deletes it"
    local owner
    owner=$(stat -c %U "$data_dir")
    if [[ $owner != "$server_user" ]]; then
      ((EUID == 0)) || die "$data_dir belongs to '$owner', and the server would run as '$server_user'"
      say "giving $data_dir to '$server_user' (it belonged to '$owner')"
      chown -R "$server_user:" "$data_dir"
    fi
    return 0
  fi
  if [[ -d $data_dir && -n $(ls -A "$data_dir") ]]; then
    die "$data_dir is not empty and is no PostgreSQL data directory (no PG_VERSION); remove it or set HORIZONS_POSTGRES_DIR"
  fi
  make_server_dir "$data_dir" 700
  say "initdb: a new cluster in $data_dir (superuser $db_user, trust on loopback), as user '$server_user'"
  if ! (cd "$base_dir" && "${as_server[@]}" "$bin_dir/initdb" -D "$data_dir" -U "$db_user" --auth=trust \
      --encoding=UTF8 --locale=C --no-instructions) >"$base_dir/initdb.log" 2>&1; then
    tail -n 20 "$base_dir/initdb.log" >&2
    die "initdb failed (full output: $base_dir/initdb.log)"
  fi
  # The file exists (the server user's); rewriting it keeps its owner.
  cat >"$data_dir/pg_hba.conf" <<'EOF'
# Written by tools/postgres/postgres.sh at initdb. A test server: every
# connection is trusted, without a password, except the role
# horizons_password's, which must log in with its password (so that tests
# can see a login refused). The server listens on 127.0.0.1 only, and its
# Unix socket is in the socket/ folder next to data/.
# TYPE  DATABASE     USER               ADDRESS        METHOD
host    all          horizons_password  127.0.0.1/32   scram-sha-256
local   all          all                               trust
host    all          all                127.0.0.1/32   trust
local   replication  all                  trust
host    replication  all   127.0.0.1/32   trust
EOF
}

# A postmaster on this data directory that this script did not start (by hand,
# pg_ctl) would make ours fail on the lock file; say so instead.
check_foreign_postmaster() {
  local other
  [[ -f $data_dir/postmaster.pid ]] || return 0
  other=$(head -n 1 "$data_dir/postmaster.pid")
  [[ $other =~ ^[0-9]+$ ]] || return 0
  if [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$other/cmdline") == *postgres* ]]; then
    die "a PostgreSQL server that postgres.sh did not start (pid $other) uses $data_dir; stop it first ($bin_dir/pg_ctl stop -D $data_dir)"
  fi
}

# ------------------------------------------------------------ start / stop

launch() {
  check_foreign_postmaster
  make_server_dir "$socket_dir" 755
  : >"$log_file"
  ((EUID == 0)) && chown "$server_user:" "$log_file"
  # listen_addresses: TCP on 127.0.0.1 only. -k: the Unix socket in our own
  # folder (/var/run/postgresql may be missing or not writable).
  # setsid: the server does not belong to the caller's terminal or job, so a
  # Ctrl-C there does not stop it. Not a group leader here, so setsid execs
  # in place, and so does setpriv: $! is the postmaster's pid.
  (
    cd "$base_dir"
    exec setsid "${as_server[@]}" "$bin_dir/postgres" -D "$data_dir" -p "$port" \
      -c listen_addresses="$host" -k "$socket_dir" \
      >>"$log_file" 2>&1 </dev/null 9>&-  # 9: the lock stays with us
  ) &
  local pid=$!
  echo "$pid" >"$pid_file"
  # Until the subshell has exec'd into postgres, the pid's command line is
  # still bash's. Only a pid that is gone means the server failed.
  local deadline=$((SECONDS + 15))
  until server_pid >/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      die_after_start "the server exited right after starting"
    fi
    sleep 0.1
  done
  say "started PostgreSQL $(pg_version) (pid $pid) as user '$server_user', log $log_file"
}

# Waits until pg_isready succeeds. Prints a dot a second; if the server dies,
# or the timeout passes, shows the log and fails.
wait_until_ready() {
  local deadline=$((SECONDS + up_timeout_s))
  while :; do
    if ! server_pid >/dev/null; then
      printf '\n' >&2
      die_after_start "the server died while starting"
    fi
    server_ready && { printf '\n' >&2; return 0; }
    if ((SECONDS >= deadline)); then
      printf '\n' >&2
      tail_log
      die "the server (pid $(<"$pid_file")) did not accept connections within ${up_timeout_s}s; left running for inspection ('postgres.sh status', then 'postgres.sh down')"
    fi
    printf '.' >&2
    sleep 1
  done
}

psql_admin() {
  "$bin_dir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "postgresql://$db_user@$host:$port/postgres" "$@"
}

ensure_database() {
  local exists
  exists=$(psql_admin -c "select 1 from pg_database where datname = '$db_name'") ||
    die "cannot query the server on port $port"
  if [[ $exists != 1 ]]; then
    psql_admin -c "create database $db_name" || die "create database $db_name failed"
    say "created the database $db_name"
  fi
  # A role that logs in only with its password (pg_hba.conf above), for tests of a refused login.
  exists=$(psql_admin -c "select 1 from pg_roles where rolname = 'horizons_password'") ||
    die "cannot query the server on port $port"
  [[ $exists == 1 ]] ||
    psql_admin -c "create role horizons_password login password 'horizons-password'" ||
    die "create role horizons_password failed"
}

# Dies if the server of this folder (pid $1) listens on another port than $port.
check_same_port() {
  local running
  running=$(server_port "$1") || running=unknown
  [[ $running == "$port" ]] ||
    die "the server in $base_dir (pid $1) listens on port $running, not $port; 'postgres.sh down' stops it, HORIZONS_POSTGRES_DIR chooses another folder for a second server"
}

cmd_up() {
  local started=$SECONDS pid
  if pid=$(server_pid); then
    check_same_port "$pid"
    if server_ready; then
      ensure_database
      say "already up (pid $pid): $url"
      return 0
    fi
    say "already running (pid $pid), not ready yet"
  else
    port_open "$host" "$port" &&
      die "port $port is already in use by another process; nothing was started (HORIZONS_POSTGRES_PORT chooses another)"
    ensure_initialized
    launch
  fi
  say "waiting until it accepts connections on $host:$port (up to ${up_timeout_s}s)"
  wait_until_ready
  ensure_database
  say "PostgreSQL $(pg_version) up in $((SECONDS - started))s: $url"
  say "psql \"\$(tools/postgres/postgres.sh url)\"; data in $data_dir"
}

cmd_down() {
  local pid
  if ! pid=$(server_pid); then
    rm -f "$pid_file"
    say "nothing running (in $base_dir)"
    return 0
  fi
  say "stopping PostgreSQL (pid $pid; fast shutdown, immediate after ${stop_timeout_s}s)"
  kill -INT "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + stop_timeout_s))
  while server_pid >/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -QUIT "$pid" 2>/dev/null && say "immediate shutdown (SIGQUIT) after ${stop_timeout_s}s"
      for _ in $(seq 100); do
        server_pid >/dev/null || break
        sleep 0.1
      done
      server_pid >/dev/null && kill -KILL "$pid" 2>/dev/null && say "SIGKILL"
      for _ in $(seq 50); do
        server_pid >/dev/null || break
        sleep 0.1
      done
      break
    fi
    sleep 0.2
  done
  server_pid >/dev/null && die "the server (pid $pid) is still running"
  rm -f "$pid_file"
  say "stopped (pid $pid)"
}

cmd_status() {
  local pid state status_rc=0 shown_url=$url note=
  if pid=$(server_pid); then
    local running
    running=$(server_port "$pid") || running=$port
    if [[ $running != "$port" ]]; then
      shown_url=postgresql://$db_user@$host:$running/$db_name
      note=" (listens on $running, not HORIZONS_POSTGRES_PORT $port)"
      state='other-port'; status_rc=1
    elif server_ready; then
      state=up
    else
      state=starting; status_rc=1
    fi
  else
    pid=-; state=down; status_rc=1
  fi
  printf '%-8s %-10s %s\n' pid state url
  printf '%-8s %-10s %s\n' "$pid" "$state" "$shown_url"
  echo "PostgreSQL $(pg_version) as user '$server_user', folder $base_dir$note"
  return "$status_rc"
}

cmd_url() {
  local pid
  pid=$(server_pid) || die "not running (in $base_dir); 'postgres.sh up' starts it"
  check_same_port "$pid"
  echo "$url"
}

cmd_logs() {
  [[ -f $log_file ]] || die "no log yet ($log_file)"
  say "$log_file"
  if [[ ${1:-} == -f ]]; then
    exec tail -n "${HORIZONS_POSTGRES_LOG_LINES:-100}" -F "$log_file"
  fi
  tail -n "${HORIZONS_POSTGRES_LOG_LINES:-100}" "$log_file"
}

cmd_reset() {
  cmd_down
  if [[ ! -d $base_dir ]]; then
    say "nothing to delete ($base_dir does not exist)"
    return 0
  fi
  if [[ -d $data_dir && ! -f $data_dir/PG_VERSION && -n $(ls -A "$data_dir") ]]; then
    die "not deleting $data_dir: it is no PostgreSQL data directory (no PG_VERSION)"
  fi
  rm -rf "$data_dir" "$socket_dir" "$log_file" "$base_dir/initdb.log" "$pid_file"
  say "deleted the data directory $data_dir and the logs (the next up runs initdb again)"
}

usage() {
  sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}


main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up | down | status | url | logs | reset | clean) ;;
    -h | --help | help) usage; return 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  case $cmd in
    up) check_tools; ensure_server_user ;;
    status) check_tools ;;
  esac
  set_as_server
  resolve_dirs
  case $cmd in
    up) prepare_base_dir; lock_dir "$base_dir" postgres.sh ;;
    down | reset | clean) if [[ -d $base_dir ]]; then lock_dir "$base_dir" postgres.sh; fi ;;
  esac
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    url) cmd_url ;;
    logs) cmd_logs "$@" ;;
    reset | clean) cmd_reset ;;
  esac
}

main "$@"
