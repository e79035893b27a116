# Anomaly detection: scans a synthetic dynamic spectrum for bursts brighter
# than five robust standard deviations (a few seconds of CPU); writes the
# candidates to $HORIZONS_OUTPUT_DIR/candidates-attempt-$HORIZONS_ATTEMPT.txt.
awk -v channels=256 -v times="${HORIZONS_TIME_SAMPLES:-30000}" 'BEGIN {
  srand(11)
  for (t = 1; t <= times; t++) {
    sum = 0; sumsq = 0
    for (c = 1; c <= channels; c++) {
      x = rand() + rand() + rand() - 1.5
      if (t % 500 == 0 && c > 100 && c < 140) x += 3   # an injected burst
      sum += x; sumsq += x * x
    }
    mean = sum / channels; power[t] = mean
    total += mean; totalsq += mean * mean
  }
  mu = total / times; sigma = sqrt(totalsq / times - mu * mu)
  for (t = 1; t <= times; t++) if ((power[t] - mu) / sigma > 5) printf "burst at sample %d, %.1f sigma\n", t, (power[t] - mu) / sigma
}' >"$HORIZONS_OUTPUT_DIR/candidates-attempt-$HORIZONS_ATTEMPT.txt"
echo "horizons: anomaly detection found $(wc -l <"$HORIZONS_OUTPUT_DIR/candidates-attempt-$HORIZONS_ATTEMPT.txt") candidates"
