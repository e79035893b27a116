#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each (default 60) and prints what each
# did: executions, coverage (libFuzzer's edges `cov` and features `ft`), corpus size, peak memory.
# New inputs go to build/fuzz/work/<target> (the committed corpus under fuzz/corpus is read, not
# written); a crash, leak, timeout or memory blow-up is saved under build/fuzz/artifacts/<target>/
# and fails the run, naming the file and how to replay it.
#
#   make fuzz                                  # builds the fuzz preset (clang), then this
#   FUZZ_SECONDS=600 fuzz/run.sh avro_framed   # one target, longer
#   fuzz/run.sh --merge                        # minimise fuzz/corpus/<target> from the work corpus
#
# Memory: each input may allocate at most MALLOC_LIMIT_MB at once (-malloc_limit_mb: 16 MB for the
# decoders, whose inputs are at most 64 KiB, so no decoder may allocate more than 256 bytes per
# input byte in one piece) and the process at most 2 GB (-rss_limit_mb).
set -euo pipefail
readonly repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly bin=$repo/build/fuzz/bin
readonly out=$repo/build/fuzz
readonly seconds=${FUZZ_SECONDS:-60}
readonly all=(avro_framed avro_resolution avro_schema json_event config_file dead_letter job_submission
              http_jobs http_dashboard http_registry)

merge=false
if [[ ${1:-} == --merge ]]; then merge=true; shift; fi
targets=("${@:-${all[@]}}")
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "fuzz: FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2; }

# malloc limit (MB) per target: the decoders tight, the HTTP targets (a Kafka client and cluster
# in the process) looser.
malloc_limit() { [[ $1 == http_* ]] && echo 256 || echo 16; }
dictionary() {
  case $1 in
    http_*) echo "$repo/fuzz/http.dict" ;;
    json_event | job_submission | avro_schema) echo "$repo/fuzz/json.dict" ;;
    *) echo "" ;;
  esac
}

failed=()
printf '%-16s %12s %9s %7s %7s %8s %8s  %s\n' target executions exec/s cov ft corpus rss_mb result
for target in "${targets[@]}"; do
  [[ -x $bin/fuzz_$target ]] || { echo "fuzz: $bin/fuzz_$target is missing: build the fuzz preset (make fuzz)" >&2; exit 2; }
  work=$out/work/$target artifacts=$out/artifacts/$target log=$out/logs/$target.log
  mkdir -p "$work" "$artifacts" "$out/logs"
  if $merge; then
    tmp=$(mktemp -d)
    "$bin/fuzz_$target" -merge=1 "$tmp" "$repo/fuzz/corpus/$target" "$work" > "$log" 2>&1
    rm -f "$repo/fuzz/corpus/$target"/*
    cp "$tmp"/* "$repo/fuzz/corpus/$target"/ && rm -rf "$tmp"
    echo "$target: corpus merged, $(ls "$repo/fuzz/corpus/$target" | wc -l) inputs"
    continue
  fi
  dict=$(dictionary "$target")
  result=ok
  (cd "$out" && "$bin/fuzz_$target" "$work" "$repo/fuzz/corpus/$target" "$repo/fuzz/regressions/$target" \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb="$(malloc_limit "$target")" -max_len=65536 -artifact_prefix="$artifacts/" \
    ${dict:+-dict="$dict"}) > "$log" 2>&1 || result=FOUND
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  field() { sed -n "s/.* $1: \([0-9]*\).*/\1/p" <<<"$last"; }
  printf '%-16s %12s %9s %7s %7s %8s %8s  %s\n' "$target" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "$(field cov)" "$(field ft)" "$(field corp | head -1)" "$(stat peak_rss_mb)" "$result"
  if [[ $result != ok ]]; then
    failed+=("$target")
    grep -E 'ERROR|SUMMARY|property broken|Test unit written' "$log" | sed 's/^/    /' | head -5 || true
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: found something in: ${failed[*]}. Replay an input with build/fuzz/bin/fuzz_<target> <file>;" \
       "once fixed, commit it under fuzz/regressions/<target>/. Logs: $out/logs/" >&2
  exit 1
fi
