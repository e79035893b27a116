#!/usr/bin/env bash
# A single-node Slurm 22.05 cluster on loopback, from Debian 12's packages
# (slurm-wlm, munge, slurm-client). No Docker, no systemd, no cgroups: munged,
# slurmctld and slurmd run as root with every file in one run folder.
# See README.md here.
#
#   tools/slurm/slurm.sh up               (root) install the packages if missing, write slurm.conf,
#                                         start munged, slurmctld and slurmd (each unless running),
#                                         wait until the node is usable; prints SLURM_CONF=<path>
#   tools/slurm/slurm.sh status           pids and up/down of the three daemons, the node's state;
#                                         exit 0 only when all three run and sinfo answers
#   tools/slurm/slurm.sh conf             the slurm.conf path; exit 1 when not up
#   tools/slurm/slurm.sh stop-controller  stop slurmctld only (tests of "the controller is down")
#   tools/slurm/slurm.sh down             cancel every job, then stop slurmd, slurmctld, munged
#   tools/slurm/slurm.sh reset            down, then delete the run folder's contents
#                                         (`clean` is the same command)
#
# Every command may be repeated: `up` on a running cluster only prints the
# line, `down` on a stopped one does nothing. Jobs and their states survive
# `down` and `up` (slurmctld's state save); only `reset` deletes them. One
# cluster per run folder HORIZONS_SLURM_DIR (build/slurm), slurmctld on port
# HORIZONS_SLURM_PORT (16817), slurmd on that port + 1. Clients need only
# SLURM_CONF: export "$(tools/slurm/slurm.sh up)"
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
repo_dir=$(cd "$script_dir/../.." && pwd)
readonly repo_dir

say() { printf 'slurm.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# live_pid, port_open and lock_dir; check_java is not used here.
# shellcheck source-path=SCRIPTDIR source=../lib/java_service.sh
source "$script_dir/../lib/java_service.sh"

readonly host=127.0.0.1
readonly port=${HORIZONS_SLURM_PORT:-16817}
if ! [[ $port =~ ^[1-9][0-9]*$ ]] || ((port < 1024 || port > 65534)); then
  die "HORIZONS_SLURM_PORT: expected a port in 1024..65534 (slurmd uses the next one), got '$port'"
fi
((port == 6817 || port == 6818 || port == 6816)) &&
  die "HORIZONS_SLURM_PORT: $port would clash with a system Slurm's default ports 6817/6818; choose another"
readonly slurmd_port=$((port + 1))

readonly up_timeout_s=${HORIZONS_SLURM_UP_TIMEOUT:-30}
readonly stop_timeout_s=${HORIZONS_SLURM_STOP_TIMEOUT:-15}
readonly message_timeout_s=${HORIZONS_SLURM_MESSAGE_TIMEOUT:-10}
[[ $message_timeout_s =~ ^[1-9][0-9]*$ ]] ||
  die "HORIZONS_SLURM_MESSAGE_TIMEOUT: expected seconds (1 or more), got '$message_timeout_s'"
[[ $up_timeout_s =~ ^[0-9]+$ ]] || die "HORIZONS_SLURM_UP_TIMEOUT: expected seconds, got '$up_timeout_s'"
[[ $stop_timeout_s =~ ^[0-9]+$ ]] || die "HORIZONS_SLURM_STOP_TIMEOUT: expected seconds, got '$stop_timeout_s'"

base_dir=${HORIZONS_SLURM_DIR:-$repo_dir/build/slurm}
[[ $base_dir == /* ]] || base_dir=$PWD/$base_dir
base_dir=${base_dir%/}
readonly base_dir
readonly conf=$base_dir/slurm.conf
readonly munge_dir=$base_dir/munge
readonly munge_socket=$munge_dir/munge.sock
readonly munge_key=$munge_dir/munge.key
readonly munge_log=$munge_dir/munged.log
readonly munge_pid_file=$munge_dir/munged.pid
readonly munge_seed=$munge_dir/munged.seed
readonly state_dir=$base_dir/state
readonly spool_dir=$base_dir/spool
readonly ctld_pid_file=$base_dir/slurmctld.pid
readonly slurmd_pid_file=$base_dir/slurmd.pid
readonly ctld_log=$base_dir/slurmctld.log
readonly slurmd_log=$base_dir/slurmd.log
readonly jobcomp_log=$base_dir/jobcomp.log
readonly killed_jobs=$base_dir/killed-jobs

node_name=$(hostname -s)
readonly node_name

readonly munged_bin=/usr/sbin/munged
readonly slurmctld_bin=/usr/sbin/slurmctld
readonly slurmd_bin=/usr/sbin/slurmd

# ---------------------------------------------------------------- processes

# Each daemon's pid if it is alive and its command line is this folder's
# (see live_pid): a recycled pid, a zombie or another folder's daemon does
# not count. The daemons delete their pid files as they exit; live_pid runs
# in a subshell because bash under `set -e` exits when `$(<file)` finds the
# file gone between its test and its read.
daemon_pid() { (live_pid "$1" "$2") 2>/dev/null; }
munged_pid() { daemon_pid "$munge_pid_file" "$munged_bin --force --socket=$munge_socket *"; }
ctld_pid() { daemon_pid "$ctld_pid_file" "$slurmctld_bin -f $conf *"; }
slurmd_pid() { daemon_pid "$slurmd_pid_file" "$slurmd_bin -f $conf *"; }

# Slurm's clients on this cluster, whatever SLURM_* the caller has set (a
# caller inside a job of another cluster has several).
slurm_client() {
  env -u SLURM_CLUSTERS -u SLURM_JOB_ID -u SLURM_JOBID SLURM_CONF="$conf" timeout 20 "$@"
}

munge_works() {
  munge -n -S "$munge_socket" 2>/dev/null | unmunge -S "$munge_socket" 2>/dev/null | grep -q '^STATUS: *Success'
}

# The node's state as sinfo prints it (idle, mixed, idle*, down*, ...); fails
# when the controller does not answer.
node_state() {
  local out
  out=$(slurm_client sinfo -h -o %T 2>/dev/null) || return 1
  [[ -n $out ]] || return 1
  echo "${out%%$'\n'*}"
}

# The node is usable: it answers and is not down, drained or unknown.
# (Jobs left running over a stop-controller make it mixed or allocated.)
node_usable() { [[ $1 =~ ^(idle|mixed|allocated|completing|planned)$ ]]; }

# Fails when the controller of this folder does not answer.
ctld_answers() {
  ctld_pid >/dev/null || return 1
  slurm_client squeue -h -o %i >/dev/null 2>&1
}

all_running() { munged_pid >/dev/null && ctld_pid >/dev/null && slurmd_pid >/dev/null; }

tail_logs() {
  local f
  for f in "$munge_log" "$ctld_log" "$slurmd_log"; do
    if [[ -s $f ]]; then
      say "---- last lines of $f"
      tail -n 15 "$f" >&2
    else
      say "---- no log in $f"
    fi
  done
}

# stop_daemon <name> <pid function>: SIGTERM, wait until it is gone, SIGKILL
# after HORIZONS_SLURM_STOP_TIMEOUT. Does nothing if it is not running.
stop_daemon() {
  local name=$1 get_pid=$2 pid
  pid=$($get_pid) || return 0
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + stop_timeout_s))
  while $get_pid >/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null && say "$name (pid $pid): SIGKILL after ${stop_timeout_s}s"
      for _ in $(seq 50); do
        $get_pid >/dev/null || break
        sleep 0.1
      done
      break
    fi
    sleep 0.1
  done
  $get_pid >/dev/null && die "$name (pid $pid) is still running"
  return 0
}

# The slurmstepd processes of this cluster: their command line starts with
# "slurmstepd:" and their environment (slurmd's, which we start with
# SLURM_CONF set) names this folder's slurm.conf.
our_stepds() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ $cmd == slurmstepd:* ]] || continue
    tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "SLURM_CONF=$conf" || continue
    echo "${p#/proc/}"
  done
}

# Every descendant of the pids given (the job's processes under a slurmstepd).
descendants() {
  local -A children=()
  local p ppid stat
  for p in /proc/[0-9]*; do
    stat=$(cat "$p/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    ppid=$(cut -d' ' -f2 <<<"$stat")
    children[$ppid]+=" ${p#/proc/}"
  done
  local queue=("$@") out=() c
  while ((${#queue[@]})); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for c in ${children[$p]:-}; do
      out+=("$c")
      queue+=("$c")
    done
  done
  ((${#out[@]})) && printf '%s\n' "${out[@]}"
  return 0
}

# Once slurmd is gone: the slurmstepd processes it left (jobs the controller
# could not cancel, because it was stopped) and their jobs' processes. Their
# job ids go to killed-jobs: the saved state still has those jobs RUNNING,
# and the next up cancels them.
kill_leftover_stepds() {
  local stepds victims p cmd ids=()
  mapfile -t stepds < <(our_stepds)
  ((${#stepds[@]})) || return 0
  for p in "${stepds[@]}"; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
    [[ $cmd =~ ^slurmstepd:\ \[([0-9]+) ]] && ids+=("${BASH_REMATCH[1]}")
  done
  mapfile -t victims < <(descendants "${stepds[@]}")
  say "killing ${#stepds[@]} slurmstepd process(es) of this cluster (pids ${stepds[*]}; job(s) ${ids[*]:-?}) and ${#victims[@]} job process(es)"
  kill -KILL "${stepds[@]}" "${victims[@]}" 2>/dev/null || true
  for p in "${ids[@]}"; do
    echo "$p" >>"$killed_jobs"
    rm -f "$spool_dir/${node_name}_$p".*
  done
}

# After up: cancels the jobs an earlier down killed without the controller.
cancel_killed_jobs() {
  [[ -s $killed_jobs ]] || { rm -f "$killed_jobs"; return 0; }
  local ids
  ids=$(sort -un "$killed_jobs" | tr '\n' ' ')
  say "cancelling job(s) ${ids% } (killed by a down while slurmctld was stopped; the saved state had them running)"
  # shellcheck disable=SC2086  # one argument per job id
  slurm_client scancel $ids >&2 || true
  rm -f "$killed_jobs"
}

# ------------------------------------------------------------ preparation

check_tools() {
  local t
  for t in "$munged_bin" "$slurmctld_bin" "$slurmd_bin"; do
    [[ -x $t ]] || return 1
  done
  for t in munge unmunge sbatch scontrol squeue sinfo scancel; do
    command -v "$t" >/dev/null 2>&1 || return 1
  done
}

ensure_packages() {
  check_tools && return 0
  command -v apt-get >/dev/null || die "Slurm is not installed and there is no apt-get; install slurm-wlm munge slurm-client"
  say "installing slurm-wlm munge slurm-client (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends slurm-wlm munge slurm-client >&2 ||
    die "apt-get install slurm-wlm munge slurm-client failed"
  check_tools || die "Slurm's programs are still missing after installing slurm-wlm munge slurm-client"
}

# A Unix socket's path holds at most 107 bytes: munged's, and slurmstepd's in
# the spool folder (<node>_<job id>.<step id>).
check_socket_paths() {
  ((${#munge_socket} <= 107)) ||
    die "the munge socket path $munge_socket is longer than 107 bytes; set HORIZONS_SLURM_DIR to a shorter folder"
  local stepd_socket=$spool_dir/${node_name}_4294967294.4294967294
  ((${#stepd_socket} <= 107)) ||
    die "slurmstepd's socket paths in $spool_dir would be longer than 107 bytes; set HORIZONS_SLURM_DIR to a shorter folder"
}

# 80% of the machine's memory in MB, for the node's RealMemory.
real_memory() {
  local total
  total=$(free -m | awk '/^Mem:/ {print $2}')
  [[ $total =~ ^[0-9]+$ ]] || die "cannot read the memory size from free -m"
  echo $((total * 80 / 100))
}

conf_text() {
  local cpus mem
  cpus=$(nproc)
  mem=$(real_memory)
  cat <<EOF
# Written by tools/slurm/slurm.sh at every up; changes here are lost.
# A single-node test cluster: every path is in $base_dir.
ClusterName=horizons
SlurmctldHost=$node_name($host)
SlurmctldPort=$port
SlurmdPort=$slurmd_port
# slurmd listens on NodeAddr only (slurmctld still on every address).
CommunicationParameters=NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$state_dir
SlurmdSpoolDir=$spool_dir
SlurmctldPidFile=$ctld_pid_file
SlurmdPidFile=$slurmd_pid_file
SlurmctldLogFile=$ctld_log
SlurmdLogFile=$slurmd_log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$jobcomp_log
MinJobAge=3600
ReturnToService=2
MailProg=/bin/true
KillWait=2
EnforcePartLimits=ALL
InactiveLimit=0
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# Also how long a client tries to reach a stopped slurmctld (MessageTimeout - 1 s).
MessageTimeout=$message_timeout_s
# Without it a job gets the whole node's memory and jobs run one at a time.
DefMemPerCPU=$((mem / (4 * cpus)))
NodeName=$node_name NodeAddr=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=normal Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
}

# Rewrites slurm.conf. A daemon still running on an older, different file
# would not see the change: refuse instead.
write_conf() {
  local text
  text=$(conf_text)
  if [[ -f $conf ]] && [[ $(<"$conf") != "$text" ]]; then
    if ctld_pid >/dev/null || slurmd_pid >/dev/null; then
      die "the daemons in $base_dir run with another slurm.conf (port, cpus, memory or timeout changed?); 'slurm.sh down' first, or choose another HORIZONS_SLURM_DIR for a second cluster"
    fi
  fi
  printf '%s\n' "$text" >"$conf.tmp"
  chmod 644 "$conf.tmp"
  mv -f "$conf.tmp" "$conf"
}

prepare_dirs() {
  (umask 022 && mkdir -p "$base_dir" "$munge_dir" "$spool_dir") || die "cannot create $base_dir"
  chmod 755 "$base_dir" "$munge_dir"
  (umask 077 && mkdir -p "$state_dir")
  if [[ ! -s $munge_key ]]; then
    rm -f "$munge_key"
    if [[ -x /usr/sbin/mungekey ]]; then
      /usr/sbin/mungekey --create --keyfile="$munge_key" >&2 || die "mungekey --create failed"
    else
      (umask 077 && dd if=/dev/urandom of="$munge_key" bs=1 count=1024 status=none) || die "cannot write $munge_key"
    fi
    say "created the munge key $munge_key"
  fi
  chown root:root "$munge_key"
  chmod 0400 "$munge_key"
}

# ------------------------------------------------------------ start

# Dies when something else listens on port $1 (which daemon's: $2).
check_port_free() {
  if port_open "$host" "$1"; then
    die "port $1 (for $2) is already in use by another process; nothing was started (HORIZONS_SLURM_PORT chooses another pair of ports)"
  fi
  return 0
}

# start_daemon <name> <pid function> <log> <command...>: runs the command
# (it forks into the background itself and writes its pid file), then waits
# until the pid file names a live daemon.
start_daemon() {
  local name=$1 get_pid=$2 log=$3
  shift 3
  # setsid: not in the caller's session, so a Ctrl-C there does not reach it.
  # 9>&-: the lock stays with us. SLURM_CONF: slurmd passes its environment
  # on to slurmstepd, which lets down find the ones it left.
  if ! (cd / && exec env SLURM_CONF="$conf" setsid "$@" </dev/null >>"$base_dir/daemons.out" 2>&1 9>&-); then
    tail -n 10 "$base_dir/daemons.out" >&2 2>/dev/null || true
    [[ -s $log ]] && tail -n 15 "$log" >&2
    die "$name did not start (its output: $base_dir/daemons.out, its log: $log)"
  fi
  local deadline=$((SECONDS + 15)) pid
  until pid=$($get_pid); do
    if ((SECONDS >= deadline)); then
      [[ -s $log ]] && tail -n 15 "$log" >&2
      die "$name wrote no pid file naming a live process within 15s (log: $log)"
    fi
    sleep 0.1
  done
  say "started $name (pid $pid), log $log"
}

start_munged() {
  rm -f "$munge_socket" "$munge_socket.lock"
  start_daemon munged munged_pid "$munge_log" "$munged_bin" --force --socket="$munge_socket" \
    --key-file="$munge_key" --log-file="$munge_log" --pid-file="$munge_pid_file" --seed-file="$munge_seed"
  local deadline=$((SECONDS + 10))
  until munge_works; do
    ((SECONDS >= deadline)) && { tail_logs; die "munged runs but munge/unmunge on $munge_socket fail"; }
    sleep 0.1
  done
}

# Waits until the node is usable (sinfo says idle, or mixed/allocated with
# jobs that outlived the controller). On timeout, shows the logs and fails.
wait_until_ready() {
  local deadline=$((SECONDS + up_timeout_s)) state=''
  while :; do
    local d
    for d in munged_pid ctld_pid slurmd_pid; do
      $d >/dev/null || { tail_logs; die "${d%_pid} died while starting"; }
    done
    if state=$(node_state) && node_usable "$state"; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      tail_logs
      [[ $state == drain* ]] &&
        say "the node is drained; SLURM_CONF=$conf scontrol update nodename=$node_name state=resume returns it"
      die "the node is not usable within ${up_timeout_s}s (sinfo: '${state:-no answer}'); daemons left running for inspection ('slurm.sh status', then 'slurm.sh down')"
    fi
    sleep 0.2
  done
}

cmd_up() {
  ((EUID == 0)) ||
    die "up must run as root: munged, slurmctld and slurmd run as root (slurmd starts each job as the user who submitted it); clients such as sbatch and squeue need no root"
  local started=$SECONDS
  check_socket_paths
  (umask 022 && mkdir -p "$base_dir") || die "cannot create $base_dir"
  lock_dir "$base_dir" slurm.sh
  ensure_packages
  prepare_dirs
  write_conf
  local state
  if all_running && state=$(node_state) && node_usable "$state"; then
    say "already up (munged $(munged_pid), slurmctld $(ctld_pid), slurmd $(slurmd_pid); node $state)"
    echo "SLURM_CONF=$conf"
    return 0
  fi
  # The ports of the daemons to start must be free (a running daemon of
  # this folder holds its own), before anything starts.
  local start_ctld=false start_slurmd=false
  ctld_pid >/dev/null || { check_port_free "$port" slurmctld; start_ctld=true; }
  slurmd_pid >/dev/null || { check_port_free "$slurmd_port" slurmd; start_slurmd=true; }
  munged_pid >/dev/null || start_munged
  if $start_ctld; then
    start_daemon slurmctld ctld_pid "$ctld_log" "$slurmctld_bin" -f "$conf"
  fi
  if $start_slurmd; then
    start_daemon slurmd slurmd_pid "$slurmd_log" "$slurmd_bin" -f "$conf"
  fi
  say "waiting until node $node_name is usable (sinfo: idle, or mixed/allocated; up to ${up_timeout_s}s)"
  wait_until_ready
  cancel_killed_jobs
  say "Slurm $("$slurmctld_bin" -V | awk '{print $2}') up in $((SECONDS - started))s: slurmctld on $host:$port, slurmd on $host:$slurmd_port, folder $base_dir"
  echo "SLURM_CONF=$conf"
}

# ------------------------------------------------------------ stop

# Cancels every job the controller knows of and waits up to 10 s until none
# is pending or running.
cancel_jobs() {
  local ids
  ids=$(slurm_client squeue -h -o %i 2>/dev/null) || return 0
  [[ -n $ids ]] || return 0
  # shellcheck disable=SC2086  # one argument per job id
  say "cancelling job(s) $(echo $ids)"
  # shellcheck disable=SC2086
  slurm_client scancel $ids >&2 || say "scancel failed; stopping the daemons anyway"
  local deadline=$((SECONDS + 10))
  while ids=$(slurm_client squeue -h -o %i 2>/dev/null) && [[ -n $ids ]]; do
    if ((SECONDS >= deadline)); then
      # shellcheck disable=SC2086
      say "job(s) $(echo $ids) still not finished after 10s; stopping the daemons anyway"
      return 0
    fi
    sleep 0.2
  done
}

cmd_down() {
  if ! munged_pid >/dev/null && ! ctld_pid >/dev/null && ! slurmd_pid >/dev/null; then
    rm -f "$munge_pid_file" "$ctld_pid_file" "$slurmd_pid_file"
    kill_leftover_stepds
    say "nothing running (in $base_dir)"
    return 0
  fi
  ctld_answers && cancel_jobs
  stop_daemon slurmd slurmd_pid
  kill_leftover_stepds
  stop_daemon slurmctld ctld_pid
  stop_daemon munged munged_pid
  rm -f "$munge_pid_file" "$ctld_pid_file" "$slurmd_pid_file"
  say "stopped (in $base_dir)"
}

cmd_stop_controller() {
  if ! ctld_pid >/dev/null; then
    say "slurmctld is not running (in $base_dir)"
    return 0
  fi
  stop_daemon slurmctld ctld_pid
  say "slurmctld stopped; munged and slurmd still run ('slurm.sh up' starts it again)"
}

cmd_status() {
  local rc=0 d pid state
  printf '%-10s %-8s %s\n' daemon pid state
  for d in munged slurmctld slurmd; do
    case $d in
      munged) pid=$(munged_pid) || pid=- ;;
      slurmctld) pid=$(ctld_pid) || pid=- ;;
      slurmd) pid=$(slurmd_pid) || pid=- ;;
    esac
    if [[ $pid == - ]]; then state=down; rc=1; else state=up; fi
    printf '%-10s %-8s %s\n' "$d" "$pid" "$state"
  done
  if ctld_pid >/dev/null && state=$(node_state); then
    echo "node $node_name: $state"
  else
    echo "node $node_name: no answer from the controller"
    rc=1
  fi
  echo "folder $base_dir, slurmctld port $port, slurmd port $slurmd_port, SLURM_CONF=$conf"
  return "$rc"
}

cmd_conf() {
  [[ -f $conf ]] && all_running || die "not up (in $base_dir); 'slurm.sh up' starts it"
  echo "$conf"
}

cmd_reset() {
  cmd_down
  if [[ ! -d $base_dir || -z $(find "$base_dir" -mindepth 1 -maxdepth 1 ! -name lock) ]]; then
    say "nothing to delete (in $base_dir)"
    return 0
  fi
  # The lock file stays: a caller waiting for it holds it open, and a new
  # file would let the next caller run beside it.
  find "$base_dir" -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} +
  say "deleted the state, spool, logs, munge key and slurm.conf in $base_dir"
}

usage() {
  sed -n '2,23s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up | down | status | conf | stop-controller | reset | clean) ;;
    -h | --help | help) usage; return 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  # up takes the lock itself (after making the folder); the others only if
  # the folder exists (nothing can run without it). The daemons and the lock
  # are root's: another user may read (status, conf), not stop.
  if [[ $cmd != up && -d $base_dir ]]; then
    if ((EUID == 0)) || [[ -w $base_dir/lock ]]; then
      lock_dir "$base_dir" slurm.sh
    elif [[ $cmd != status && $cmd != conf ]]; then
      die "$cmd must run as root: the daemons in $base_dir are root's"
    fi
  fi
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    conf) cmd_conf ;;
    stop-controller) cmd_stop_controller ;;
    reset | clean) cmd_reset ;;
  esac
}

main "$@"
