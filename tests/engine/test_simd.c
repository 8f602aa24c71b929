/* The per-ISA kernels against a scalar reference written from their
 * contract (src/ops/simd.h), bit for bit:
 *   - qc_fma_soft (the exact FMA emulation of the portable path) against
 *     the C library's fmaf on random bit patterns, near-ties and specials;
 *   - every available path's GEMM micro-kernel (full and partial tiles),
 *     depthwise row kernel (fixed and generic windows) and epilogue against
 *     the same operations done one element at a time with fmaf;
 *   - the epilogue's fake quantization against QuantizeLinear ->
 *     DequantizeLinear written as the scalar kernels do it.
 * Paths the CPU lacks are skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/simd.h"
#include "qc_test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t next_u64(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Du;
}
static float bits_f(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static uint32_t f_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
static float rnd_normal(void) { /* values around 1 with a random sign */
  return ((float)(next_u64() >> 40) / (float)(1 << 24) - 0.5f) * 4.0f;
}
static int same(float a, float b) { return (isnan(a) && isnan(b)) || f_bits(a) == f_bits(b); }

static void check_fma_soft(void) {
  long bad = 0, n = 0;
  for (long i = 0; i < 20000000; i++, n++) {
    float a, b, c;
    switch (i % 4) {
    case 0: /* any bit pattern: subnormals, infinities, NaN */
      a = bits_f((uint32_t)next_u64());
      b = bits_f((uint32_t)next_u64());
      c = bits_f((uint32_t)next_u64());
      break;
    case 1: /* similar magnitudes: cancellation */
      a = rnd_normal();
      b = rnd_normal();
      c = -a * b * (1.0f + (float)(int)(next_u64() % 64 - 32) * 0x1p-23f);
      break;
    case 2: { /* c near a float tie of a*b: one bit past float precision */
      a = bits_f(0x3F800000u | (uint32_t)(next_u64() & 0x7FFFFF));
      b = bits_f(0x3F800000u | (uint32_t)(next_u64() & 0x7FFFFF));
      const float hi = a * b;
      c = (next_u64() & 1 ? 1.0f : -1.0f) * ldexpf(1.0f, ilogbf(hi) - 24 - (int)(next_u64() % 30));
      break;
    }
    default: /* tiny and huge scales */
      a = ldexpf(rnd_normal(), (int)(next_u64() % 260) - 130);
      b = ldexpf(rnd_normal(), (int)(next_u64() % 260) - 130);
      c = ldexpf(rnd_normal(), (int)(next_u64() % 300) - 150);
      break;
    }
    const float want = fmaf(a, b, c), got = qc_fma_soft(a, b, c);
    if (!same(want, got) && bad++ < 5)
      fprintf(stderr, "FAIL fma_soft(%a, %a, %a) = %a, fmaf gives %a\n", a, b, c, got, want);
  }
  printf("%s qc_fma_soft: %ld of %ld differ from fmaf\n", bad ? "FAIL" : "ok  ", bad, n);
  CHECK(bad == 0, "qc_fma_soft");
}

static int cpu_has(const char *isa) {
  __builtin_cpu_init();
  if (strcmp(isa, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (strcmp(isa, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
  return 1;
}

static void check_ukernel(const qc_simd_ops *ops) {
  const int MR = ops->mr, NR = ops->nr;
  enum { KC = 37, LDB = 80, LDC = 90 };
  float *a = malloc(sizeof(float) * KC * MR), *b = malloc(sizeof(float) * KC * LDB);
  float *c = malloc(sizeof(float) * MR * LDC), *ref = malloc(sizeof(float) * MR * LDC);
  long bad = 0;
  for (int trial = 0; trial < 200; trial++) {
    const int mr = trial % 3 == 0 ? MR : 1 + (int)(next_u64() % (unsigned)MR);
    const int nr = trial % 2 == 0 ? NR : 1 + (int)(next_u64() % (unsigned)NR);
    const int kc = trial % 5 == 0 ? 0 : 1 + (int)(next_u64() % KC);
    for (int i = 0; i < KC * MR; i++)
      a[i] = (i % MR) < mr ? rnd_normal() : 0.0f; /* packed A is zero past mr */
    for (int i = 0; i < KC * LDB; i++)
      b[i] = rnd_normal();
    for (int i = 0; i < MR * LDC; i++)
      c[i] = ref[i] = rnd_normal();
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++)
        for (int k = 0; k < kc; k++)
          ref[i * LDC + j] = fmaf(a[k * MR + i], b[k * LDB + j], ref[i * LDC + j]);
    ops->ukernel(kc, a, b, LDB, c, LDC, mr, nr);
    for (int i = 0; i < MR * LDC; i++)
      bad += !same(c[i], ref[i]); /* elements outside the tile must be untouched */
  }
  printf("%s %s micro-kernel (%dx%d): %ld differences\n", bad ? "FAIL" : "ok  ", ops->name, MR, NR, bad);
  CHECK(bad == 0, "%s micro-kernel", ops->name);
  free(a);
  free(b);
  free(c);
  free(ref);
}

static void check_dw_row(const qc_simd_ops *ops) {
  enum { ROW = 90, ROWS = 9, OW = 37 };
  float xp[ROW * ROWS], w[49], y[OW], ref[OW];
  long bad = 0;
  const int shapes[][5] = {/* KH, KW, sw, dh, dw */
                           {3, 3, 1, 1, 1}, {3, 3, 2, 1, 1}, {5, 5, 1, 1, 1}, {5, 5, 2, 1, 1}, {7, 7, 1, 1, 1},
                           {3, 3, 1, 2, 2}, {1, 1, 1, 1, 1}, {3, 1, 2, 1, 1}, {2, 4, 1, 1, 2}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const int KH = shapes[s][0], KW = shapes[s][1], sw = shapes[s][2], dh = shapes[s][3], dw = shapes[s][4];
    for (int i = 0; i < ROW * ROWS; i++)
      xp[i] = rnd_normal();
    for (int i = 0; i < KH * KW; i++)
      w[i] = rnd_normal();
    for (int i = 0; i < OW; i++)
      y[i] = ref[i] = rnd_normal();
    for (int ow = 0; ow < OW; ow++)
      for (int kh = 0; kh < KH; kh++)
        for (int kw = 0; kw < KW; kw++)
          ref[ow] = fmaf(w[kh * KW + kw], xp[kh * dh * ROW + ow * sw + kw * dw], ref[ow]);
    ops->dw_row(xp, ROW, w, KH, KW, sw, dh, dw, y, OW);
    for (int i = 0; i < OW; i++)
      bad += !same(y[i], ref[i]);
  }
  printf("%s %s depthwise rows: %ld differences\n", bad ? "FAIL" : "ok  ", ops->name, bad);
  CHECK(bad == 0, "%s depthwise rows", ops->name);
}

static void check_post_row(const qc_simd_ops *ops) {
  enum { N = 301 };
  float x[N], r[N], y[N];
  long bad = 0;
#define ACT(K, A, B) {.kind = K, .a = A, .b = B}
  const qc_act acts[] = {ACT(QC_ACT_NONE, 0, 0),         ACT(QC_ACT_RELU, 0, 0),
                         ACT(QC_ACT_CLIP, -0.5f, 1.5f),  ACT(QC_ACT_LEAKY_RELU, 0.1f, 0),
                         ACT(QC_ACT_HARD_SIGMOID, 0.2f, 0.5f), ACT(QC_ACT_HARD_SWISH, 0, 0),
                         ACT(QC_ACT_SIGMOID, 0, 0)};
#undef ACT
  for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
    for (int with_res = 0; with_res < 2; with_res++) {
      for (int i = 0; i < N; i++) {
        x[i] = rnd_normal() * 8.0f;
        r[i] = rnd_normal();
      }
      x[0] = NAN;
      x[1] = -0.0f;
      x[2] = INFINITY;
      ops->post_row(x, with_res ? r : NULL, y, N, &acts[a]);
      for (int i = 0; i < N; i++)
        bad += !same(y[i], qc_act1(&acts[a], with_res ? x[i] + r[i] : x[i]));
    }
  printf("%s %s epilogue: %ld differences\n", bad ? "FAIL" : "ok  ", ops->name, bad);
  CHECK(bad == 0, "%s epilogue", ops->name);
}

/* QuantizeLinear then DequantizeLinear as the scalar kernels write them
 * (quantize_one, the DequantizeLinear loop in quantize.c). */
static float fake_quant_ref(float x, const qc_fake_quant *f) {
  float v = nearbyintf(x / f->scale) + f->zero_point;
  if (!(v >= f->qmin))
    v = isnan(v) ? f->zero_point : f->qmin;
  if (v > f->qmax)
    v = f->qmax;
  return (float)((int32_t)v - (int32_t)f->zero_point) * f->dq_scale;
}

/* The fused fake quantization (qc_act.fq; post_row multiplies by 1 / s and
 * divides only near rounding boundaries) against the reference, on values
 * at and a few ulps around the ties x / s = k + 0.5, ordinary values,
 * saturation and specials, for awkward scales; alone and after a Relu. */
static void check_fake_quant(const qc_simd_ops *ops) {
  enum { N = 1 << 15 };
  static float x[N], y[N];
  const float scales[] = {0.0371f, 1.0f / 3.0f, 0.1f, 7.3e-3f, 0x1p-10f, 3.0f, 0.0117647f, 1e-6f};
  long bad = 0;
  for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++)
    for (int u8 = 0; u8 < 2; u8++) {
      const float sc = scales[si];
      const qc_fake_quant fq = {.on = 1, .scale = sc, .zero_point = u8 ? 128.0f : -3.0f,
                                .qmin = u8 ? 0.0f : -128.0f, .qmax = u8 ? 255.0f : 127.0f,
                                .dq_scale = si % 2 ? sc : sc * 0.75f};
      for (int i = 0; i < N; i++) {
        const int k = (int)(next_u64() % 300) - 150;
        if (i % 3 == 0) { /* a tie, then nudged by up to 3 ulps either way */
          float v = ((float)k + 0.5f) * sc;
          const int nudge = (int)(next_u64() % 7) - 3;
          for (int j = 0; j < (nudge < 0 ? -nudge : nudge); j++)
            v = nextafterf(v, nudge < 0 ? -INFINITY : INFINITY);
          x[i] = v;
        } else {
          x[i] = rnd_normal() * 80.0f * sc;
        }
      }
      x[0] = NAN, x[1] = INFINITY, x[2] = -INFINITY, x[3] = -0.0f, x[4] = 1e30f, x[5] = -1e30f;
      for (int relu = 0; relu < 2; relu++) {
        const qc_act act = {.kind = relu ? QC_ACT_RELU : QC_ACT_NONE, .fq = fq};
        ops->post_row(x, NULL, y, N, &act);
        for (int i = 0; i < N; i++)
          bad += !same(y[i], fake_quant_ref(relu ? qc_relu1(x[i]) : x[i], &fq));
      }
    }
  printf("%s %s fake quantization: %ld differences\n", bad ? "FAIL" : "ok  ", ops->name, bad);
  CHECK(bad == 0, "%s fake quantization", ops->name);
}

int main(void) {
  check_fma_soft();
  const qc_simd_ops *paths[] = {&qc_simd_default,
#if defined(__x86_64__) && defined(__GNUC__)
                                &qc_simd_avx2, &qc_simd_avx512
#endif
  };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    if (!cpu_has(paths[i]->name)) {
      printf("skip %s: not supported by this CPU\n", paths[i]->name);
      continue;
    }
    check_ukernel(paths[i]);
    check_dw_row(paths[i]);
    check_post_row(paths[i]);
    check_fake_quant(paths[i]);
  }
  printf("active path: %s\n", qc_isa_name(qc_simd_isa()));
  return qc_test_finish("simd");
}
