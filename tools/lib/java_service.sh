# shellcheck shell=bash
# Shell functions shared by the scripts that run servers on loopback (tools/kafka and
# tools/registry, Java; tools/postgres uses the process helpers). Sourced, not run; the sourcing
# script defines `die`. Locals here
# must not share a name with the scripts' readonly globals (java_bin, pid_file, ...).

# Dies unless `$1` (a java binary) is Java 17 or newer.
check_java() {
  local java=$1 java_version java_major
  command -v "$java" >/dev/null || die "java not found; install openjdk-17-jre-headless"
  java_version=$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)
  java_major=${java_version%%.*}
  [[ $java_major =~ ^[0-9]+$ && $java_major -ge 17 ]] || die "needs Java 17 or newer, $java is '$java_version'"
}

# live_pid <pid file> <pattern>: prints the pid in the file if that process is alive and its
# command line matches the glob pattern, so a recycled pid or a zombie does not count.
live_pid() {
  local file=$1 pattern=$2 pid cmdline
  [[ -f $file ]] || return 1
  pid=$(cat -- "$file" 2>/dev/null) || return 1  # the daemon may delete it between the test and the read
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  # shellcheck disable=SC2053  # the pattern is a glob on purpose
  [[ $cmdline == $pattern ]] || return 1
  echo "$pid"
}

# Succeeds when something accepts connections on host $1, port $2.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

file_hash() { sha256sum "$1" | cut -d' ' -f1; }

# lock_dir <dir> <tool>: holds <dir>/lock (fd 9) until the script exits, so that parallel callers
# (ctest -j fixtures) run one after the other.
lock_dir() {
  mkdir -p "$1"
  exec 9>"$1/lock"
  flock -w 600 9 || die "another $2 command has held $1/lock for 10 minutes"
}
