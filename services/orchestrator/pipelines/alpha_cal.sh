# AlphaCal: solves per-antenna complex gains against a point-source model by
# iterating over synthetic visibilities (a few seconds of CPU), and writes the
# solutions to $HORIZONS_OUTPUT_DIR/gains-attempt-$HORIZONS_ATTEMPT.txt.
awk -v antennas=64 -v iterations="${HORIZONS_ITERATIONS:-600}" 'BEGIN {
  srand(42)
  for (a = 1; a <= antennas; a++) { true_re[a] = 1 + (rand() - 0.5) / 5; true_im[a] = (rand() - 0.5) / 5; g_re[a] = 1; g_im[a] = 0 }
  for (it = 1; it <= iterations; it++) {
    for (a = 1; a <= antennas; a++) {
      num_re = 0; num_im = 0; den = 0
      for (b = 1; b <= antennas; b++) {
        if (a == b) continue
        # visibility V_ab = g_a * conj(g_b) for a unit point source, with noise
        v_re = true_re[a] * true_re[b] + true_im[a] * true_im[b] + (rand() - 0.5) / 100
        v_im = true_im[a] * true_re[b] - true_re[a] * true_im[b] + (rand() - 0.5) / 100
        num_re += v_re * g_re[b] - v_im * g_im[b]; num_im += v_im * g_re[b] + v_re * g_im[b]
        den += g_re[b] * g_re[b] + g_im[b] * g_im[b]
      }
      g_re[a] = (g_re[a] + num_re / den) / 2; g_im[a] = (g_im[a] + num_im / den) / 2
    }
  }
  for (a = 1; a <= antennas; a++) printf "antenna %d gain %.6f %+.6fi\n", a, g_re[a], g_im[a]
}' >"$HORIZONS_OUTPUT_DIR/gains-attempt-$HORIZONS_ATTEMPT.txt"
echo "horizons: AlphaCal wrote $(wc -l <"$HORIZONS_OUTPUT_DIR/gains-attempt-$HORIZONS_ATTEMPT.txt") gain solutions"
