/* Branch-free float exp/tanh/erf that gcc auto-vectorises (libm's are scalar
 * calls). Accuracy: exp within ~2 ulp over [-87, 88]; tanh and erf within a
 * few 1e-7 absolute and ~1e-6 relative. NaN inputs give NaN. */
#ifndef QC_VMATH_H
#define QC_VMATH_H

#include <stdint.h>
#include <string.h>

static inline float qc_vexpf(float x) {
  /* Clamp keeps the exponent bits in range; comparisons let NaN through. */
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365447504f ? -87.3365447504f : x;
  /* x = n*ln2 + r with |r| <= ln2/2; n rounded via the 1.5*2^23 trick. */
  float n = x * 1.44269504088896341f + 12582912.0f;
  n -= 12582912.0f;
  float r = x - n * 0.693359375f;
  r -= n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  /* NaN has no integer value: scale by 1 and let p carry the NaN. The shift
   * is unsigned: n + 127 is in [1, 254] for every other x. */
  n = n == n ? n : 0.0f;
  uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

static inline float qc_vsigmoidf(float x) { return 1.0f / (1.0f + qc_vexpf(-x)); }

static inline float qc_vtanhf(float x) {
  float ax = x < 0 ? -x : x;
  /* Small |x|: odd Taylor series (avoids the cancellation in 1 - 2/(e+1)). */
  float x2 = x * x;
  float small = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * (-0.0539682540f +
                x2 * (0.0218694885f + x2 * (-0.00886323552f + x2 * 0.00359212803f))))));
  float big = 1.0f - 2.0f / (qc_vexpf(2.0f * ax) + 1.0f);
  big = x < 0 ? -big : big;
  return ax < 0.5f ? small : big;
}

static inline float qc_verff(float x) {
  float ax = x < 0 ? -x : x;
  /* Small |x|: Maclaurin series; otherwise Abramowitz-Stegun 7.1.26. */
  float x2 = x * x;
  float small = 1.12837916709551f * x *
                (1.0f + x2 * (-0.333333333f + x2 * (0.1f + x2 * (-0.0238095238f + x2 * (0.00462962963f +
                x2 * -0.000757575758f)))));
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  float big = 1.0f - poly * qc_vexpf(-ax * ax);
  big = x < 0 ? -big : big;
  return ax < 0.5f ? small : big;
}

#endif
