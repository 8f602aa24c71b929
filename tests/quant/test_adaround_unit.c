/* AdaRound on one fixed-seed random layer (src/quant/adaround.c): the learned
 * rounding reconstructs the layer's output on held-out inputs better than
 * round-to-nearest by a clear margin, every weight stays within one grid step
 * of its nearest value, and the result is the same on a second run. The
 * reference errors are computed here directly from the input rows, not from
 * the Gram matrix the optimiser sees. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "quant/adaround.h"
#include "qc_test.h"

enum { ROWS = 24, K = 72, LATENT = 6, N_TRAIN = 2048, N_TEST = 2048 };

static uint64_t rng_state = 12345;
static double uniform(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double gaussian(void) { return sqrt(-2.0 * log(uniform())) * cos(2.0 * M_PI * uniform()); }

/* Rows x = relu(A z + 0.3 e): correlated, non-negative, as after a Conv + Relu. */
static void make_inputs(const double *a, float *x, int n) {
  for (int i = 0; i < n; i++) {
    double z[LATENT];
    for (int l = 0; l < LATENT; l++)
      z[l] = gaussian();
    for (int c = 0; c < K; c++) {
      double v = 0.3 * gaussian();
      for (int l = 0; l < LATENT; l++)
        v += a[c * LATENT + l] * z[l];
      x[(size_t)i * K + c] = (float)(v > 0 ? v : 0);
    }
  }
}

/* Mean over rows of || (s q - w) x ||^2, in double from the rows themselves. */
static double output_error(const float *w, const float *scale, const int8_t *q, const float *x, int n) {
  double total = 0;
  for (int i = 0; i < n; i++)
    for (int r = 0; r < ROWS; r++) {
      double e = 0;
      for (int c = 0; c < K; c++)
        e += ((double)scale[r] * q[r * K + c] - w[r * K + c]) * x[(size_t)i * K + c];
      total += e * e;
    }
  return total / n;
}

int main(void) {
  static double a[K * LATENT];
  static float w[ROWS * K], scale[ROWS], train[(size_t)N_TRAIN * K], test[(size_t)N_TEST * K], gram[K * K];
  static int8_t q[ROWS * K], q2[ROWS * K], nearest[ROWS * K];
  for (int i = 0; i < K * LATENT; i++)
    a[i] = gaussian();
  for (int r = 0; r < ROWS; r++) { /* per-channel symmetric scales, as the QDQ pass computes them */
    float mx = 0;
    for (int c = 0; c < K; c++) {
      w[r * K + c] = (float)(0.05 * gaussian());
      mx = fabsf(w[r * K + c]) > mx ? fabsf(w[r * K + c]) : mx;
    }
    scale[r] = mx / 127.0f;
  }
  make_inputs(a, train, N_TRAIN);
  make_inputs(a, test, N_TEST);
  for (int i = 0; i < K; i++) /* G = X^T X / n, plainly */
    for (int j = 0; j < K; j++) {
      double s = 0;
      for (int n = 0; n < N_TRAIN; n++)
        s += (double)train[(size_t)n * K + i] * train[(size_t)n * K + j];
      gram[i * K + j] = (float)(s / N_TRAIN);
    }
  for (int i = 0; i < ROWS * K; i++) {
    float v = nearbyintf(w[i] / scale[i / K]);
    nearest[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
  }

  qc_adaround_opts o;
  qc_adaround_opts_default(&o);
  double err_nearest, err_learned;
  CHECK_OK(qc_adaround_layer(w, ROWS, K, scale, gram, &o, q, &err_nearest, &err_learned));
  int moved = 0, far = 0;
  for (int i = 0; i < ROWS * K; i++) {
    moved += q[i] != nearest[i];
    far += abs(q[i] - nearest[i]) > 1;
  }
  CHECK(far == 0, "%d weights moved by more than one grid step", far);
  CHECK(moved > 0, "no weight moved");

  double test_nearest = output_error(w, scale, nearest, test, N_TEST);
  double test_learned = output_error(w, scale, q, test, N_TEST);
  double train_nearest = output_error(w, scale, nearest, train, N_TRAIN);
  printf("moved %d of %d weights; held-out error %.4g -> %.4g (%.1f %%), learning rows %.4g -> %.4g\n", moved,
         ROWS * K, test_nearest, test_learned, 100.0 * (test_learned / test_nearest - 1.0), err_nearest,
         err_learned);
  CHECK(test_learned < 0.7 * test_nearest, "held-out error %.4g vs nearest %.4g", test_learned, test_nearest);
  CHECK(err_learned < err_nearest, "learning-rows error %.4g vs nearest %.4g", err_learned, err_nearest);
  /* The optimiser's tr(D G D^T) is the rows' mean squared output error. */
  CHECK(fabs(err_nearest - train_nearest) <= 1e-3 * train_nearest, "tr(DGD^T) %.6g vs direct %.6g", err_nearest,
        train_nearest);

  CHECK_OK(qc_adaround_layer(w, ROWS, K, scale, gram, &o, q2, NULL, NULL));
  CHECK(memcmp(q, q2, sizeof q) == 0, "a second run differs");

  /* Per-tensor scales (one scale for every row) learn as well. */
  float one[ROWS];
  float mx = 0;
  for (int r = 0; r < ROWS; r++)
    mx = scale[r] > mx ? scale[r] : mx;
  for (int r = 0; r < ROWS; r++)
    one[r] = mx;
  CHECK_OK(qc_adaround_layer(w, ROWS, K, one, gram, &o, q2, &err_nearest, &err_learned));
  CHECK(err_learned < 0.8 * err_nearest, "per tensor: %.4g vs nearest %.4g", err_learned, err_nearest);
  return qc_test_finish("adaround_unit");
}
