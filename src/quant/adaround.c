/* AdaRound: the per-layer optimisation (qc_adaround_layer); the layers'
 * input rows come from adaround_layers.c. See adaround.h and
 * docs/quantization.md.
 *
 * The loss is quadratic in the quantized weight W~, so it is computed from
 * the Gram matrix G = X^T X / n of the sampled input rows, once per layer
 * (per group): || (W~ - W) X^T ||^2 / n = tr(D G D^T), gradient 2 D G. A step
 * then costs rows x k^2, whatever the number of rows sampled. */
#include "adaround.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/status.h"

/* Rectified sigmoid h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1). */
#define ZETA 1.1f
#define GAMMA (-0.1f)
#define QMAX 127.0f

void qc_adaround_opts_default(qc_adaround_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_samples = 16;
  o->patches = 2048;
  o->iterations = 1000;
  o->lr = 0.01f;
  o->reg = 0.01f;
  o->beta_start = 20.0f;
  o->beta_end = 2.0f;
  o->warm_start = 0.2f;
  o->nthreads = 1;
}

void qc_weight_rounding_free(qc_weight_rounding *r) {
  for (int i = 0; i < r->n; i++) {
    free(r->weights[i].name);
    free(r->weights[i].scale);
    free(r->weights[i].q);
  }
  free(r->weights);
  memset(r, 0, sizeof *r);
}

uint64_t qc_weight_fingerprint(const qc_tensor *w) {
  const unsigned char *p = w->data;
  size_t n = (size_t)w->numel * qc_dtype_size(w->dtype);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* err = tr(D G D^T) for D = s q - w, with R a rows x k scratch. */
static double recon_error(const float *d, int rows, int k, const float *gram, float *r) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, k, k, 1.0f, d, k, gram, k, 0.0f, r, k);
  double e = 0;
  for (size_t i = 0; i < (size_t)rows * (size_t)k; i++)
    e += (double)d[i] * (double)r[i];
  return e;
}

int qc_adaround_layer(const float *w, int rows, int k, const float *scale, const float *gram,
                      const qc_adaround_opts *o, int8_t *q, double *err_nearest, double *err_learned) {
  size_t n = (size_t)rows * (size_t)k;
  float *buf = malloc(sizeof(float) * n * 8);
  if (!buf)
    return qc_fail(QC_ENOMEM, "out of memory");
  float *v = buf, *fl = buf + n, *adam_m = buf + 2 * n, *adam_v = buf + 3 * n, *d = buf + 4 * n, *r = buf + 5 * n;
  float *sg = buf + 6 * n; /* sigmoid(V) of the current step */
  float *sc = buf + 7 * n; /* each weight's scale */
  /* V starts where h(V) is the fractional part: W~ = W before any step. */
  for (size_t i = 0; i < n; i++) {
    float s = sc[i] = scale[i / (size_t)k], x = w[i] / s, f = floorf(x);
    if (f >= QMAX)
      f = QMAX, x = QMAX;
    if (f < -QMAX)
      f = -QMAX, x = -QMAX;
    float rest = x - f;
    fl[i] = f;
    v[i] = -logf((ZETA - GAMMA) / (rest - GAMMA) - 1.0f);
    adam_m[i] = adam_v[i] = 0.0f;
  }
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  int iters = o->iterations, warm = (int)(o->warm_start * (float)iters);
  float b1t = 1.0f, b2t = 1.0f;
  for (int t = 0; t < iters; t++) {
    int regularise = t >= warm;
    float beta = 0;
    if (regularise) { /* cosine annealing from beta_start to beta_end after the warm start */
      double rel = (double)(t - warm) / (double)(iters - warm);
      beta = (float)(o->beta_end + 0.5 * (o->beta_start - o->beta_end) * (1.0 + cos(rel * M_PI)));
    }
    for (size_t i = 0; i < n; i++) {
      float sig = sg[i] = 1.0f / (1.0f + expf(-v[i]));
      float h = clampf(sig * (ZETA - GAMMA) + GAMMA, 0.0f, 1.0f);
      d[i] = sc[i] * clampf(fl[i] + h, -QMAX, QMAX) - w[i];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, k, k, 1.0f, d, k, gram, k, 0.0f, r, k);
    b1t *= b1;
    b2t *= b2;
    for (size_t i = 0; i < n; i++) {
      float sig = sg[i], hraw = sig * (ZETA - GAMMA) + GAMMA, g = 0.0f;
      if (hraw > 0.0f && hraw < 1.0f) { /* outside, h is clipped: no gradient */
        float qv = fl[i] + hraw;
        float grad_h = qv > -QMAX && qv < QMAX ? 2.0f * r[i] * sc[i] : 0.0f;
        if (regularise) { /* d/dh lambda (1 - |2h - 1|^beta) */
          float u = 2.0f * hraw - 1.0f, au = fabsf(u);
          float dreg = au > 0 ? -2.0f * beta * powf(au, beta - 1.0f) * (u > 0 ? 1.0f : -1.0f) : 0.0f;
          grad_h += o->reg * dreg;
        }
        g = grad_h * (ZETA - GAMMA) * sig * (1.0f - sig);
      }
      adam_m[i] = b1 * adam_m[i] + (1.0f - b1) * g;
      adam_v[i] = b2 * adam_v[i] + (1.0f - b2) * g * g;
      float mhat = adam_m[i] / (1.0f - b1t), vhat = adam_v[i] / (1.0f - b2t);
      v[i] -= o->lr * mhat / (sqrtf(vhat) + eps);
    }
  }
  /* Hard rounding: up where h(V) >= 0.5. */
  for (size_t i = 0; i < n; i++) {
    float sig = 1.0f / (1.0f + expf(-v[i]));
    float h = clampf(sig * (ZETA - GAMMA) + GAMMA, 0.0f, 1.0f);
    q[i] = (int8_t)clampf(fl[i] + (h >= 0.5f ? 1.0f : 0.0f), -QMAX, QMAX);
  }
  if (err_learned) {
    for (size_t i = 0; i < n; i++)
      d[i] = scale[i / (size_t)k] * (float)q[i] - w[i];
    *err_learned = recon_error(d, rows, k, gram, r);
  }
  if (err_nearest) { /* as the QDQ pass rounds */
    for (size_t i = 0; i < n; i++) {
      float s = scale[i / (size_t)k];
      d[i] = s * clampf(nearbyintf(w[i] / s), -QMAX, QMAX) - w[i];
    }
    *err_nearest = recon_error(d, rows, k, gram, r);
  }
  free(buf);
  return QC_OK;
}
