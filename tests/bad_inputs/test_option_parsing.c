/* Preprocessing option parsing: values that must be refused, not wrapped,
 * truncated or turned into non-finite inputs. */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "preprocess.h"
#include "qc_test.h"

static void expect(const char *key, const char *value, int ok) {
  qc_preprocess_opts o;
  memset(&o, 0, sizeof o);
  int rc = qc_preprocess_set_option(&o, key, value);
  int good = ok ? rc == QC_OK : rc == QC_EUSAGE;
  printf("%s %s=%.40s%s -> %s\n", good ? "ok  " : "FAIL", key, value, strlen(value) > 40 ? "..." : "",
         rc == QC_OK ? "accepted" : qc_last_error());
  CHECK(good, "%s=%.40s", key, value);
}

static void expect_size(const char *value, int h, int w) {
  qc_preprocess_opts o;
  memset(&o, 0, sizeof o);
  int rc = qc_preprocess_set_option(&o, "size", value);
  int good = rc == QC_OK && o.height == h && o.width == w;
  printf("%s size=%s -> %dx%d\n", good ? "ok  " : "FAIL", value, o.height, o.width);
  CHECK(good, "size=%s", value);
}

static void expect_resolve(const char *key, const char *value, qc_dtype dt, int ok) {
  qc_preprocess_opts o;
  memset(&o, 0, sizeof o);
  int parsed = qc_preprocess_set_option(&o, key, value) == QC_OK;
  CHECK(parsed, "%s=%s not even parsed: %s", key, value, qc_last_error());
  if (!parsed)
    return;
  qc_input_spec spec = {.name = "x", .dtype = dt, .ndim = 4, .dims = {1, 3, 8, 8}};
  qc_preprocess_cfg cfg;
  int rc = qc_preprocess_resolve(&o, &spec, &cfg);
  int good = ok ? rc == QC_OK : rc == QC_EUSAGE;
  printf("%s resolve %s=%s (%s) -> %s\n", good ? "ok  " : "FAIL", key, value, qc_dtype_name(dt), rc == QC_OK ? "ok" : qc_last_error());
  CHECK(good, "resolve %s=%s", key, value);
}

int main(void) {
  expect_size("224x224", 224, 224);
  expect_size("32,48", 32, 48);
  expect_size("1x32768", 1, 32768);
  expect("size", "4294967297x4", 0); /* wrapped to 1x4 by sscanf("%d") */
  expect("size", "2147483648x5", 0);
  expect("size", "-4294967295x3", 0);
  expect("size", "99999999999999999999x3", 0);
  expect("size", "3x4294967299", 0);
  expect("size", "32769x1", 0);
  expect("size", "0x4", 0);
  expect("size", "4x", 0);
  expect("size", "4", 0);
  expect("size", "4x4x4", 0);
  expect("size", "", 0);
  char longv[400];
  memset(longv, 0, sizeof longv);
  strcpy(longv, "0.");
  memset(longv + 2, '0', 300);
  strcat(longv, "1,0.456,0.406");
  expect("mean", longv, 0); /* was silently truncated to one value */
  expect("mean", "0.485,0.456,0.406", 1);
  expect("mean", "1,2,3,4,5", 0);
  expect("mean", "nan", 0);
  expect("mean", "inf", 0);
  expect("mean", ",", 0);
  expect("std", "0", 0);
  expect("std", "1,0,1", 0);
  expect("scale", "1/0", 0);
  expect("scale", "0/5", 0);
  expect("scale", "1e400", 0);
  expect("pad", "256", 0);
  expect("pad", "1.5", 0);
  expect_resolve("scale", "1e300", QC_DT_FLOAT, 0);
  expect_resolve("std", "1e-300", QC_DT_FLOAT, 0);
  expect_resolve("mean", "-1e39", QC_DT_FLOAT, 0);
  expect_resolve("mean", "-3e38", QC_DT_FLOAT, 1); /* 3e38 < FLT_MAX */
  expect_resolve("std", "1e-5", QC_DT_FLOAT, 1);   /* values up to 1e5: fine in float */
  expect_resolve("std", "1e-5", QC_DT_FLOAT16, 0); /* ... but above float16's 65504 */
  expect_resolve("std", "0.229", QC_DT_FLOAT16, 1);
  return qc_test_finish("option_parsing");
}
