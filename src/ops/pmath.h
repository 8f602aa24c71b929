/* Portable elementary functions for the element-wise ops.
 *
 * glibc picks different implementations of expf, logf, powf, sinf, exp,
 * log, pow, sin, ... by CPU feature at load time (ifunc), and their last
 * bits may differ. These are built from IEEE +, -, *, /, sqrt and exact
 * bit operations (frexp, ldexp, floor) only, so every machine gets the same
 * bits. Double precision throughout, relative error around 1e-15, so the
 * float versions are correctly rounded except in rare near-tie cases.
 * Special values (NaN, infinities, signed zeros, domain errors) follow C99
 * Annex F. */
#ifndef QC_PMATH_H
#define QC_PMATH_H

double qc_exp_d(double x);
double qc_expm1_d(double x);
double qc_log_d(double x);
double qc_log1p_d(double x);
double qc_pow_d(double x, double y);
double qc_tanh_d(double x);
double qc_atan_d(double x);

/* Float functions that need more than double polynomials: sin, cos and tan
 * reduce their argument exactly (Payne-Hanek for |x| >= 2^19). */
float qc_sin_f(float x);
float qc_cos_f(float x);
float qc_tan_f(float x);
float qc_asin_f(float x);
float qc_acos_f(float x);
float qc_sinh_f(float x);
float qc_cosh_f(float x);
float qc_asinh_f(float x);
float qc_acosh_f(float x);
float qc_atanh_f(float x);

#endif
