# Image reconstruction: grids synthetic visibilities of two point sources and
# forms a dirty image by a direct Fourier transform (a few seconds of CPU);
# writes the image as a PGM to $HORIZONS_OUTPUT_DIR/image-attempt-$HORIZONS_ATTEMPT.pgm.
awk -v size="${HORIZONS_IMAGE_SIZE:-64}" -v samples=1500 'BEGIN {
  srand(7); pi = 3.14159265358979
  for (k = 1; k <= samples; k++) {
    u[k] = (rand() - 0.5) * 20; v[k] = (rand() - 0.5) * 20
    re[k] = cos(2 * pi * (u[k] * 0.1 + v[k] * 0.05)) + 0.5 * cos(2 * pi * (u[k] * -0.2 + v[k] * 0.15))
    im[k] = sin(2 * pi * (u[k] * 0.1 + v[k] * 0.05)) + 0.5 * sin(2 * pi * (u[k] * -0.2 + v[k] * 0.15))
  }
  lo = 1e9; hi = -1e9
  for (y = 0; y < size; y++) for (x = 0; x < size; x++) {
    l = (x - size / 2) / size; m = (y - size / 2) / size; s = 0
    for (k = 1; k <= samples; k++) { phase = 2 * pi * (u[k] * l + v[k] * m); s += re[k] * cos(phase) - im[k] * sin(phase) }
    pixel[x, y] = s; if (s < lo) lo = s; if (s > hi) hi = s
  }
  printf "P2\n%d %d\n255\n", size, size
  for (y = 0; y < size; y++) { for (x = 0; x < size; x++) printf "%d ", (pixel[x, y] - lo) / (hi - lo) * 255; printf "\n" }
}' >"$HORIZONS_OUTPUT_DIR/image-attempt-$HORIZONS_ATTEMPT.pgm"
echo "horizons: image reconstruction wrote $(head -c 64 "$HORIZONS_OUTPUT_DIR/image-attempt-$HORIZONS_ATTEMPT.pgm" | sed -n 2p) pixels"
