"""--report writers: the JSON parses with `json` and has the documented keys
in order, the CSV parses with `csv` (RFC 4180 quoting), the .txt is the stdout
summary plus the tensor table; odd names (quotes, commas, newlines, control
characters, Unicode, invalid UTF-8) and NaN/Inf ranges survive; unknown
extensions and unwritable targets fail cleanly without leaving temp files.
argv[1]: report_tool."""
import csv
import json
import math
import os
import subprocess
import sys

import numpy as np

import qc_test as T
from qc_test import check

TOOL = sys.argv[1]
def run(*args):
    p = subprocess.run([TOOL, *args], capture_output=True)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def f32(x):
    return float(np.float32(x))


# Expected content of report_tool's report (names as decoded UTF-8).
NAN = float("nan")
INF = float("inf")
TENSORS = [
    ("plain", -1.5, 2.25, f32(0.0147058824), 102, "uint8", 0),
    ('with "quotes"', 0.0, 6.0, f32(0.0235294122), 0, "uint8", 0),
    ("a,b,c", -3.0, 3.0, f32(0.0236220472), 0, "int8", 0),
    ("line1\nline2\r\nend", f32(-0.1), f32(0.1), f32(0.000787401571), 0, "int8", 0),
    ("tab\there back\\slash", f32(1e-30), f32(3.4e38), f32(1.33e36), -128, "int8", 0),
    ("ünïcødé→名😀", -2.0, 2.0, f32(0.0157), 128, "uint8", 0),
    ("ctl\x01\x1fx", -1.0, 1.0, f32(0.0078), 128, "uint8", 0),
    ("bad\ufffdutf8\ufffd", -1.0, 1.0, f32(0.0078), 128, "uint8", 0),
    ("nan_range", NAN, INF, NAN, 0, "uint8", 12345678901234),
    (" spaced ", -INF, 0.0, 1.0, 0, "int8", 7),
    ("=cmd|' /C calc'!A0", -7.25, 1.0, f32(0.0078), 128, "uint8", 0),
    ("+1", -1.0, 1.0, f32(0.0078), 128, "uint8", 0),
    ("-2", -2.0, 2.0, f32(0.0157), 0, "int8", 0),
    ("@SUM(1)", -1.0, 1.0, f32(0.0078), 128, "uint8", 0),
    ("  =spaced(1)", -1.0, 1.0, f32(0.0078), 128, "uint8", 0),
    ("\tcmd", -1.0, 1.0, f32(0.0078), 128, "uint8", 0),
    ("\x1b[31mred\x1b[0m", -1.0, 1.0, f32(0.0078), 128, "uint8", 0),
    ("cr\rover", -1.0, 1.0, f32(0.0078), 128, "uint8", 0),
]
JSON_KEYS = ["model", "output", "fp32_bytes", "quantized_bytes", "size_ratio", "nodes_total",
             "nodes_quantized", "observer", "percentile", "activation_type", "weight_type",
             "per_channel", "weight_only", "calibration_samples", "calibration_seconds",
             "total_seconds", "threads", "ops", "tensors", "warnings"]
TENSOR_KEYS = ["name", "rmin", "rmax", "scale", "zero_point", "qtype", "nonfinite"]
OP_KEYS = ["op_type", "params", "fp32_bytes", "quantized_bytes", "nodes", "nodes_quantized"]


def shown(name):
    """A name as the .txt and .csv reports show it: control characters escaped."""
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return "".join(named.get(c, "\\x%02X" % ord(c)) if ord(c) < 0x20 or ord(c) == 0x7F else c for c in name)


def csv_cell(name):
    """docs/report.md: the shown name, with a ' in front if it would start like a formula."""
    text = shown(name)
    return "'" + text if text.lstrip(" ")[:1] in ("=", "+", "-", "@") else text


def same_float(got, want):
    if math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return got == want


def json_value(v):
    """What the JSON holds for a float: null for NaN/Inf, the float32 otherwise."""
    return None if not math.isfinite(v) else v


root = T.mkdtemp("qc_report_")
paths = {ext: os.path.join(root, "report" + ext) for ext in (".json", ".csv", ".txt")}
rc, out, err = run("write", *paths.values())
check(rc == 0, f"write all formats: rc={rc} err={err}")

# ---- JSON ----
with open(paths[".json"], "rb") as f:
    raw = f.read()
text = raw.decode("utf-8")  # must be valid UTF-8 even with an invalid-UTF-8 name
check(all(ord(c) >= 0x20 or c == "\n" for c in text), "json: raw control characters in output")
doc = json.loads(text, parse_constant=lambda c: check(False, f"json: bare {c}"))
check(list(doc) == JSON_KEYS, f"json: key order {list(doc)}")
check(doc["model"] == 'models/m"odel.onnx', f"json: model {doc['model']!r}")
check(doc["output"] == "out/model.int8.onnx", "json: output")
check(doc["fp32_bytes"] == 426803 and doc["quantized_bytes"] == 110899, "json: sizes")
check(abs(doc["size_ratio"] - 426803 / 110899) < 1e-6, f"json: size_ratio {doc['size_ratio']}")
check(doc["nodes_total"] == 52 and doc["nodes_quantized"] == 14, "json: node counts")
check(doc["observer"] == "percentile" and doc["percentile"] == 99.999, "json: observer")
check(doc["activation_type"] == "uint8" and doc["weight_type"] == "int8", "json: types")
check(doc["per_channel"] is True and doc["weight_only"] is False, "json: booleans")
check(doc["calibration_samples"] == 100 and doc["calibration_seconds"] == 3.25, "json: calibration")
check(doc["total_seconds"] == 5.5 and doc["threads"] == 4, "json: total/threads")
check([list(o) for o in doc["ops"]] == [OP_KEYS] * 3, "json: op keys")
check([(o["op_type"], o["params"], o["fp32_bytes"], o["quantized_bytes"], o["nodes"],
        o["nodes_quantized"]) for o in doc["ops"]] ==
      [("Conv", 104000, 416000, 104520, 12, 12), ("MatMul", 51200, 204800, 51456, 2, 2),
       ("Relu", 0, 0, 0, 12, 0)], "json: op values")
check(len(doc["tensors"]) == len(TENSORS), "json: tensor count")
for t, want in zip(doc["tensors"], TENSORS):
    check(list(t) == TENSOR_KEYS, f"json: tensor keys {list(t)}")
    name, rmin, rmax, scale, zp, qtype, nonfinite = want
    check(t["name"] == name, f"json: name {t['name']!r} != {name!r}")
    for key, v in (("rmin", rmin), ("rmax", rmax), ("scale", scale)):
        got = t[key]
        exp = json_value(v)
        ok = got is None if exp is None else (got is not None and f32(got) == exp)
        check(ok, f"json: {name!r} {key} {got!r} != {exp!r}")
    check(t["zero_point"] == zp and t["qtype"] == qtype and t["nonfinite"] == nonfinite,
          f"json: {name!r} zero_point/qtype/nonfinite")
check(doc["warnings"] == ["node 'softmax_1': Softmax kept in float",
                          "tensor 'nan_range': 12345678901234 NaN/Inf values\nexcluded"],
      f"json: warnings {doc['warnings']!r}")
check("\\u0001" in text and '\\"quotes\\"' in text and "back\\\\slash" in text,
      "json: escapes")
check("名😀" in text, "json: UTF-8 passed through unescaped")

# ---- CSV ----
with open(paths[".csv"], "rb") as f:
    raw_csv = f.read()
check(raw_csv.startswith(b"name,rmin,rmax,scale,zero_point,qtype,nonfinite\r\n"), "csv: header")
with open(paths[".csv"], newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f, strict=True))
check(rows[0] == TENSOR_KEYS, f"csv: header {rows[0]}")
check(len(rows) == 1 + len(TENSORS), f"csv: {len(rows)} rows")
for row, want in zip(rows[1:], TENSORS):
    name, rmin, rmax, scale, zp, qtype, nonfinite = want
    check(len(row) == 7, f"csv: row width {row!r}")
    check(row[0] == csv_cell(name), f"csv: name {row[0]!r} != {csv_cell(name)!r}")
    for got, v, key in zip(row[1:4], (rmin, rmax, scale), ("rmin", "rmax", "scale")):
        check(same_float(f32(float(got)), v), f"csv: {name!r} {key} {got!r} != {v!r}")
    check(row[4:] == [str(zp), qtype, str(nonfinite)], f"csv: {name!r} tail {row[4:]}")

# Spreadsheet safety: no raw control characters besides the CRLF line ends; every text cell
# quoted; numbers (also negative ones) unquoted, so they stay numbers.
csv_text = raw_csv.decode("utf-8")
check(all(ord(c) >= 0x20 or c in "\r\n" for c in csv_text) and "\r\n" not in csv_text.replace("\r\n", ""),
      "csv: raw control characters")
check(csv_text.count("\r\n") == 1 + len(TENSORS), "csv: a CR or LF inside a cell")
for line in csv_text.split("\r\n")[1:-1]:
    row = next(csv.reader([line], strict=True))
    cells = line.rsplit(",", 6)
    check(cells[0].startswith('"') and cells[5].startswith('"'), f"csv: text cell not quoted {line!r}")
    check(not any(c.startswith('"') for c in cells[1:5] + cells[6:]), f"csv: number quoted {line!r}")
    check(not row[0].lstrip(" ")[:1] in ("=", "+", "-", "@", "\t", "\r"), f"csv: formula-like cell {row[0]!r}")
check("\r\n\"'=cmd|' /C calc'!A0\",-7.25,1," in csv_text, "csv: injection row")

# ---- TXT and stdout summary ----
rc, printed, err = run("print")
check(rc == 0, "print: rc")
with open(paths[".txt"], encoding="utf-8") as f:
    txt = f.read()
check(txt.startswith(printed), "txt: does not start with the stdout summary")
for needle in ["416.8 KiB → 108.3 KiB (3.85× smaller)", "14 of 52 quantized", "%d calibrated" % len(TENSORS),
               "percentile (99.999%)", "activations uint8, weights int8 per-channel",
               "100 samples in 3.25 s", "5.50 s on 4 threads", "warnings (2):",
               "values\\nexcluded"]:
    check(needle in printed, f"print: missing {needle!r}")
lines = printed.splitlines()
header = next((l for l in lines if l.split()[:1] == ["op"]), None)
check(header is not None and header.split() == ["op", "type", "nodes", "params", "fp32", "quantized"],
      f"print: op table header {header!r}")
conv = next((l for l in lines if l.strip().startswith("Conv ")), "")
check(conv.split() == ["Conv", "12/12", "104.0k", "406.2", "KiB", "102.1", "KiB"], f"print: Conv row {conv!r}")
op_rows = [l for l in lines if l.split()[:1] in (["Conv"], ["MatMul"], ["Relu"], ["total"])
           and "/" in l.split()[1]]
check(len(op_rows) == 4 and len({len(l) for l in op_rows + [header or ""]}) == 1,
      f"print: op table columns not aligned {op_rows}")
check(lines.index(header) < lines.index("warnings (2):"), "print: warnings not at the end")
table = txt[len(printed):]
check("calibrated tensors (%d):" % len(TENSORS) in table, "txt: tensor table title")
tlines = table.splitlines()
thead = next((l for l in tlines if "nonfinite" in l), "")
check(thead.split() == ["rmin", "rmax", "scale", "zp", "qtype", "nonfinite", "name"], f"txt: {thead!r}")
for shown in ["plain", 'with "quotes"', "a,b,c", "line1\\nline2\\r\\nend", "tab\\there back\\slash",
              "ünïcødé→名😀", "ctl\\x01\\x1Fx", "bad\ufffdutf8\ufffd", "nan_range"]:
    row = next((l for l in tlines if l.endswith("  " + shown)), None)
    check(row is not None, f"txt: no row for {shown!r}")
    if row is not None:
        check(len(row) - len(shown) == len(thead) - len("name"), f"txt: row misaligned {row!r}")
nanrow = next((l for l in tlines if l.endswith("nan_range")), "")
check(nanrow.split()[:3] == ["nan", "inf", "nan"], f"txt: nan row {nanrow!r}")

# ---- empty report: nulls, no crash ----
empty_json = os.path.join(root, "empty.json")
rc, _, err = run("--empty", "write", empty_json, os.path.join(root, "empty.csv"),
                 os.path.join(root, "empty.txt"))
check(rc == 0, f"empty: rc={rc} {err}")
with open(empty_json) as f:
    e = json.load(f)
check(list(e) == JSON_KEYS and e["size_ratio"] is None and e["model"] is None and
      e["percentile"] is None and e["tensors"] == [] and e["ops"] == [], f"empty: {e}")
with open(os.path.join(root, "empty.csv"), newline="") as f:
    check(list(csv.reader(f)) == [TENSOR_KEYS], "empty: csv is the header only")

# ---- format dispatch ----
for path, want in [("a.json", "1"), ("dir.x/b.CSV", "1"), ("c.txt", "1"), ("d.xyz", "0"),
                   ("noext", "0"), (".json", "0"), ("dir.json/file", "0")]:
    rc, out, _ = run("supported", path)
    check(out.strip() == want, f"supported({path!r}) = {out.strip()!r}, want {want}")
rc, _, err = run("write", os.path.join(root, "r.xyz"))
check(rc == 2 and "unknown report format '.xyz' (use .json, .csv, .txt, .html or .png)" in err,
      f"unknown extension: rc={rc} {err!r}")
check(not os.path.exists(os.path.join(root, "r.xyz")), "unknown extension: file created")
rc, _, err = run("write", os.path.join(root, "noext"))
check(rc == 2 and "--report" in err and "noext" in err, f"no extension: rc={rc} {err!r}")

# ---- failures leave nothing behind ----
before = set(os.listdir(root))
rc, _, err = run("write", os.path.join(root, "missing", "r.json"))
check(rc == 2 and "missing" in err, f"missing dir: rc={rc} {err!r}")
os.mkdir(os.path.join(root, "taken.json"))  # the target is a directory: rename fails
rc, _, err = run("write", os.path.join(root, "taken.json"))
check(rc == 2 and "taken.json" in err, f"target is a directory: rc={rc} {err!r}")
after = set(os.listdir(root)) - {"taken.json"}
check(after == before, f"leftover files after failures: {after - before}")
check(os.listdir(os.path.join(root, "taken.json")) == [], "target directory modified")
check(len(err.strip().splitlines()) == 1, f"error is not one line: {err!r}")

T.finish("report_writers")
