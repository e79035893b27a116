# The tests' "other" pipeline: does what the job's dataset id says.
#   exit:N               exits with N
#   sleep:N              sleeps N seconds (past its --time: TIMEOUT)
#   fail-first-attempt   exits 1 on attempt 0, succeeds on the retry
case "$HORIZONS_DATASET_ID" in
  exit:*) exit "${HORIZONS_DATASET_ID#exit:}" ;;
  sleep:*) sleep "${HORIZONS_DATASET_ID#sleep:}" ;;
  fail-first-attempt) [[ $HORIZONS_ATTEMPT == 0 ]] && exit 1 ;;
esac
echo "horizons: test pipeline done"
