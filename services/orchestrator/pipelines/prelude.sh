# Horizons' pipeline prelude: the start of every batch script the orchestrator
# submits (the pipeline's own script follows it). It measures this job's
# processes from /proc on the node every HORIZONS_SAMPLE_SECONDS and writes
# one line per measurement to the job's output, which the orchestrator turns
# into job.metrics.recorded samples:
#   horizons-metrics interval_s=1.002 cpu_pct=99.0 memory_gb=0.0041 disk_read_mb_per_s=0.000 disk_write_mb_per_s=0.120
# cpu_pct is CPU time over wall time across the job's processes (100: one
# core busy); memory_gb their resident memory; the disk rates from
# /proc/<pid>/io (processes that ended count through their parents).
set -o pipefail

horizons_job_pid=$$
horizons_clock_ticks=$(getconf CLK_TCK)
horizons_page_bytes=$(getconf PAGESIZE)

# horizons_measure SKIP_PID: "cpu_ticks rss_pages read_bytes write_bytes" of the job's process tree,
# leaving out SKIP_PID's subtree (the sampler itself).
horizons_measure() {
  ls /proc | awk -v root="$horizons_job_pid" -v skip="$1" '
    /^[0-9]+$/ {
      if ((getline line < ("/proc/" $0 "/stat")) <= 0) next
      close("/proc/" $0 "/stat")
      # "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields count after the last ")"
      at = 0
      for (i = length(line); i > 0; i--) if (substr(line, i, 1) == ")") { at = i; break }
      n = split(substr(line, at + 2), f, " ")
      if (n < 22) next
      parent[$0] = f[2]; ticks[$0] = f[12] + f[13] + f[14] + f[15]; rss[$0] = f[22]
    }
    END {
      mine[root] = 1
      do {
        grew = 0
        for (p in parent) if (!(p in mine) && (parent[p] in mine) && p != skip) { mine[p] = 1; grew = 1 }
      } while (grew)
      t = 0; m = 0; r = 0; w = 0
      for (p in mine) {
        if (!(p in parent)) continue
        t += ticks[p]; m += rss[p]
        file = "/proc/" p "/io"
        while ((getline line < file) > 0) {
          if (line ~ /^read_bytes:/) { split(line, kv, " "); r += kv[2] }
          if (line ~ /^write_bytes:/) { split(line, kv, " "); w += kv[2] }
        }
        close(file)
      }
      printf "%d %d %d %d\n", t, m, r, w
    }'
}

horizons_sampler() {
  local self=$BASHPID interval=${HORIZONS_SAMPLE_SECONDS:-1}
  local before now ticks pages read written
  read -r ticks pages read written < <(horizons_measure "$self")
  before="$(date +%s.%N) $ticks $read $written"
  while sleep "$interval"; do
    read -r ticks pages read written < <(horizons_measure "$self")
    now="$(date +%s.%N) $ticks $read $written"
    awk -v hz="$horizons_clock_ticks" -v page="$horizons_page_bytes" -v pages="$pages" \
      -v before="$before" -v now="$now" 'BEGIN {
        split(before, b, " "); split(now, a, " "); dt = a[1] - b[1]; if (dt <= 0) exit
        printf "horizons-metrics interval_s=%.3f cpu_pct=%.1f memory_gb=%.4f disk_read_mb_per_s=%.3f disk_write_mb_per_s=%.3f\n",
          dt, (a[2] - b[2]) / hz / dt * 100, pages * page / 1073741824, (a[3] - b[3]) / dt / 1048576, (a[4] - b[4]) / dt / 1048576
      }'
    before=$now
  done
}

horizons_sampler &
horizons_sampler_pid=$!
trap 'kill "$horizons_sampler_pid" 2>/dev/null' EXIT
echo "horizons: job $HORIZONS_JOB_ID attempt $HORIZONS_ATTEMPT ($HORIZONS_PIPELINE) on $(hostname -s), Slurm job ${SLURM_JOB_ID:-?}"
