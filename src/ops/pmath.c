/* Portable elementary functions (see pmath.h). Series are evaluated with
 * Horner's rule in a fixed order; constants were derived with mpmath. */
#include "pmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define LN2_HI 0x1.62e42fefa3800p-1 /* 42 bits: k * LN2_HI is exact for |k| < 2^11 */
#define LN2_LO 0x1.ef35793c76730p-45
#define INV_LN2 0x1.71547652b82fep+0
#define PI_2 0x1.921fb54442d18p+0
/* pi/2 in three pieces of 33, 33 and 53 bits (Cody-Waite). */
#define PIO2_1 0x1.921fb54400000p+0
#define PIO2_2 0x1.0b4611a600000p-34
#define PIO2_3 0x1.3198a2e037073p-69
#define INV_PIO2 0x1.45f306dc9c883p-1
#define ROUND_SHIFTER 0x1.8p52 /* (v + s) - s rounds v to an integer */

/* sum_{n=0..deg} x^n / n! for |x| <= 0.5, by Horner from the top. */
static double exp_series(double x, int deg) {
  double p = 1.0;
  for (int n = deg; n >= 1; n--)
    p = 1.0 + x * p / (double)n;
  return p;
}

double qc_exp_d(double x) {
  if (x != x)
    return x;
  if (x > 709.782712893384)
    return INFINITY;
  if (x < -745.2)
    return 0.0;
  double k = (x * INV_LN2 + ROUND_SHIFTER) - ROUND_SHIFTER;
  const double r = (x - k * LN2_HI) - k * LN2_LO; /* |r| <= 0.35 */
  return ldexp(exp_series(r, 14), (int)k);
}

double qc_expm1_d(double x) {
  if (x > -0.5 && x < 0.5) { /* x (1 + x/2! + x^2/3! + ...) without cancellation */
    double p = 1.0;
    for (int n = 17; n >= 2; n--)
      p = 1.0 + x * p / (double)n;
    return x * p;
  }
  return qc_exp_d(x) - 1.0;
}

double qc_log_d(double x) {
  if (x != x)
    return x;
  if (x < 0)
    return NAN;
  if (x == 0)
    return -INFINITY;
  if (isinf(x))
    return x;
  int e;
  double m = frexp(x, &e); /* [0.5, 1) */
  if (m < 0x1.6a09e667f3bcdp-1) { /* below sqrt(1/2): use [sqrt(1/2), sqrt(2)) */
    m *= 2.0;
    e -= 1;
  }
  const double f = m - 1.0, s = f / (2.0 + f), s2 = s * s;
  /* log(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| <= 0.172 */
  double p = 1.0 / 23.0;
  for (int n = 21; n >= 1; n -= 2)
    p = 1.0 / (double)n + s2 * p;
  return (double)e * LN2_HI + ((double)e * LN2_LO + 2.0 * s * p);
}

double qc_log1p_d(double x) {
  const double u = 1.0 + x;
  if (u == 1.0)
    return x;
  if (isinf(u) || u <= 0)
    return qc_log_d(u);
  return qc_log_d(u) * (x / (u - 1.0)); /* corrects the rounding of 1 + x */
}

/* |x|^n by binary powering (n >= 0). */
static double pow_int(double x, int n) {
  double r = 1.0;
  while (n) {
    if (n & 1)
      r *= x;
    x *= x;
    n >>= 1;
  }
  return r;
}

double qc_pow_d(double x, double y) {
  if (y == 0 || x == 1.0)
    return 1.0;
  if (x != x || y != y)
    return NAN;
  const int y_int = !isinf(y) && floor(y) == y;
  const int y_odd = y_int && fabs(y) < 0x1p53 && fmod(y, 2.0) != 0;
  if (x == 0) {
    if (y < 0)
      return y_odd ? copysign(INFINITY, x) : INFINITY;
    return y_odd ? x : 0.0;
  }
  if (isinf(y)) {
    const double ax = fabs(x);
    if (ax == 1.0)
      return 1.0;
    return (ax < 1.0) == (y > 0) ? 0.0 : INFINITY;
  }
  if (isinf(x)) {
    if (x > 0)
      return y > 0 ? INFINITY : 0.0;
    if (y > 0)
      return y_odd ? -INFINITY : INFINITY;
    return y_odd ? -0.0 : 0.0;
  }
  if (x < 0 && !y_int)
    return NAN;
  const double ax = fabs(x);
  double r;
  if (y_int && fabs(y) <= 64) {
    r = pow_int(ax, (int)fabs(y));
    if (y < 0)
      r = 1.0 / r;
  } else {
    r = qc_exp_d(y * qc_log_d(ax));
  }
  return x < 0 && y_odd ? -r : r;
}

double qc_tanh_d(double x) {
  if (x != x)
    return x;
  const double ax = fabs(x);
  if (ax > 22.0)
    return copysign(1.0, x);
  const double em1 = qc_expm1_d(2.0 * ax);
  return copysign(em1 / (em1 + 2.0), x);
}

double qc_atan_d(double x) {
  if (x != x)
    return x;
  double ax = fabs(x);
  const int inverted = ax > 1.0;
  if (inverted)
    ax = 1.0 / ax;
  /* atan(t) = 2 atan(t / (1 + sqrt(1 + t^2))), twice: |t| <= tan(pi/16). */
  for (int i = 0; i < 2; i++)
    ax = ax / (1.0 + sqrt(1.0 + ax * ax));
  const double t2 = ax * ax;
  double p = 1.0 / 25.0; /* t - t^3/3 + t^5/5 - ... */
  for (int n = 23; n >= 1; n -= 2)
    p = ((n & 2) ? -1.0 : 1.0) / (double)n + t2 * p;
  double r = 4.0 * ax * p;
  if (inverted)
    r = PI_2 - r;
  return copysign(r, x);
}

/* ---- float trigonometry ---- */

/* 2/pi in 32-bit words from the binary point (mpmath). */
static const uint32_t two_over_pi[10] = {0xA2F9836E, 0x4E441529, 0xFC2757D1, 0xF534DDC0, 0xDB629599,
                                         0x3C439041, 0xFE5163AB, 0xDEBBC561, 0xB7246E3A, 0x424DD2E0};

/* Reduces |x| (a float value, >= 2^19) exactly: returns r in [-pi/4, pi/4]
 * with |x| = r + q * pi/2 (mod 2 pi), quadrant in *q. Payne-Hanek: only
 * the bits of 2/pi that can change x * 2/pi mod 4 are multiplied. */
static double reduce_large(float ax, int *q) {
  uint32_t bits;
  memcpy(&bits, &ax, sizeof bits);
  const uint64_t m = (bits & 0x7FFFFF) | 0x800000;
  const int e = (int)((bits >> 23) & 0xFF) - 127 - 23; /* ax = m * 2^e, e >= -4 */
  /* Bits i <= e - 2 of 2/pi (i = 1 is the first) add multiples of 4. */
  const int i0 = e - 1 > 1 ? e - 1 : 1;
  const int o = i0 - 1, wi = o / 32, bi = o % 32;
  unsigned __int128 w = 0;
  for (int j = 0; j < 4; j++)
    w = (w << 32) | two_over_pi[wi + j];
  if (bi)
    w = (w << bi) | (two_over_pi[wi + 4] >> (32 - bi));
  /* P = m * w (152 bits) = hi * 2^64 + lo; ax * 2/pi = P * 2^(e - i0 - 127). */
  const unsigned __int128 lo_prod = (unsigned __int128)m * (uint64_t)w;
  const unsigned __int128 hi = (unsigned __int128)m * (uint64_t)(w >> 64) + (lo_prod >> 64);
  const uint64_t lo = (uint64_t)lo_prod;
  const int s = i0 + 127 - e, t = s - 64; /* binary point at bit s of P; t in [62, 68] */
  const unsigned __int128 f = t <= 64 ? (hi << (64 - t)) | (t < 64 ? lo >> t : 0) : hi >> (t - 64);
  int quad = (int)((uint64_t)(f >> 64) & 3);
  int64_t frac = (int64_t)(uint64_t)f; /* fraction in [-1/2, 1/2) as 64-bit fixed point */
  if (frac < 0)
    quad = (quad + 1) & 3;
  *q = quad;
  return (double)frac * 0x1p-64 * PI_2;
}

/* r in [-pi/4, pi/4] (roughly) and the quadrant of the float value x. */
static double reduce(float x, int *q) {
  const float ax = fabsf(x);
  double r;
  int quad;
  if (ax < 0x1p19f) {
    const double k = ((double)ax * INV_PIO2 + ROUND_SHIFTER) - ROUND_SHIFTER;
    r = (((double)ax - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
    quad = (int)k & 3;
  } else {
    r = reduce_large(ax, &quad);
  }
  if (x < 0) {
    r = -r;
    quad = (4 - quad) & 3;
  }
  *q = quad;
  return r;
}

static double sin_poly(double r) {
  const double r2 = r * r;
  double p = 1.0;
  for (int n = 17; n >= 3; n -= 2)
    p = 1.0 - r2 * p / ((double)n * (double)(n - 1));
  return r * p;
}

static double cos_poly(double r) {
  const double r2 = r * r;
  double p = 1.0;
  for (int n = 18; n >= 2; n -= 2)
    p = 1.0 - r2 * p / ((double)n * (double)(n - 1));
  return p;
}

float qc_sin_f(float x) {
  if (isnan(x) || isinf(x))
    return x - x;
  if (x == 0)
    return x;
  int q;
  const double r = reduce(x, &q);
  const double v = (q & 1) ? cos_poly(r) : sin_poly(r);
  return (float)(q & 2 ? -v : v);
}

float qc_cos_f(float x) {
  if (isnan(x) || isinf(x))
    return x - x;
  int q;
  const double r = reduce(x, &q);
  const double v = (q & 1) ? sin_poly(r) : cos_poly(r);
  return (float)((q + 1) & 2 ? -v : v);
}

float qc_tan_f(float x) {
  if (isnan(x) || isinf(x))
    return x - x;
  if (x == 0)
    return x;
  int q;
  const double r = reduce(x, &q);
  const double s = sin_poly(r), c = cos_poly(r);
  return (float)((q & 1) ? -c / s : s / c);
}

float qc_asin_f(float x) {
  const double d = x;
  if (isnan(x) || fabs(d) > 1.0)
    return NAN;
  if (fabs(d) == 1.0)
    return (float)copysign(PI_2, d);
  return (float)qc_atan_d(d / sqrt((1.0 - d) * (1.0 + d)));
}

float qc_acos_f(float x) {
  const double d = x;
  if (isnan(x) || fabs(d) > 1.0)
    return NAN;
  return (float)(2.0 * qc_atan_d(sqrt((1.0 - d) / (1.0 + d))));
}

/* ---- float hyperbolic functions ---- */

float qc_sinh_f(float x) {
  const double d = x, ad = fabs(d);
  if (isnan(x) || ad == 0)
    return x;
  if (ad < 0.5) { /* odd series x + x^3/3! + ... avoids the cancellation */
    const double d2 = d * d;
    double p = 1.0;
    for (int n = 17; n >= 3; n -= 2)
      p = 1.0 + d2 * p / ((double)n * (double)(n - 1));
    return (float)(d * p);
  }
  const double e = qc_exp_d(ad);
  return (float)copysign(0.5 * (e - 1.0 / e), d);
}

float qc_cosh_f(float x) {
  const double e = qc_exp_d(fabs((double)x));
  return (float)(0.5 * (e + 1.0 / e));
}

float qc_asinh_f(float x) {
  const double d = x, ad = fabs(d);
  if (isnan(x) || isinf(x) || ad == 0)
    return x;
  const double t = ad * ad;
  return (float)copysign(qc_log1p_d(ad + t / (1.0 + sqrt(1.0 + t))), d);
}

float qc_acosh_f(float x) {
  const double d = x;
  if (isnan(x) || d < 1.0)
    return NAN;
  if (isinf(x))
    return x;
  const double t = d - 1.0;
  return (float)qc_log1p_d(t + sqrt(2.0 * t + t * t));
}

float qc_atanh_f(float x) {
  const double d = x, ad = fabs(d);
  if (isnan(x) || ad > 1.0)
    return NAN;
  if (ad == 1.0)
    return (float)copysign(INFINITY, d);
  return (float)copysign(0.5 * qc_log1p_d(2.0 * ad / (1.0 - ad)), d);
}
