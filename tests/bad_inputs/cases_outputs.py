"""Catalogue cases: destinations and the write phase (issue 12, defects 3-6, 8, 10, 12, S2, S5).

Every run either commits all its outputs or none: no destination may be an input file (the model,
its external data, calibration/evaluation samples, loaded statistics) under any name, special files
are written through or refused but never replaced, and a failure or signal at any point leaves
neither an output nor a temp file. Cases that need root (mknod, mount) say "skip" without it."""
import json
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import onnx

from catalogue import (DEMO, QC, ROOT, conv_model, demo_fixture, expect_error, pngs, report, run, sha, world_traversable,
                       signal_and_wait, tmp_leftovers, wanted)

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from e2e_util import read_stats  # noqa: E402

IS_ROOT = os.geteuid() == 0


def snapshot(paths):
    """What each path is now: file type, device number and content hash (None when absent)."""
    out = {}
    for p in paths:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            out[p] = None
            continue
        out[p] = (stat.S_IFMT(st.st_mode), st.st_rdev, sha(p) if stat.S_ISREG(st.st_mode) else None)
    return out


def contract(r, code, needles=(), before=None, absent=(), dirs=(), present=()):
    """The problems of a finished run against the catalogue contract (catalogue.py)."""
    problems = ["%s was not written" % os.path.basename(p) for p in present if not os.path.isfile(p)]
    if r.returncode != code:
        problems.append("exit %d, want %d" % (r.returncode, code))
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    errs = [l for l in lines if l.startswith("qconvert: error:")]
    if code != 0 and len(errs) != 1:
        problems.append("%d 'qconvert: error:' lines, want 1" % len(errs))
    if code == 0 and errs:
        problems.append("error printed on success")
    others = [l for l in lines if not l.startswith("qconvert: error:") and not l.startswith("preprocessing:")
              and "warning" not in l]
    if code != 0 and others:
        problems.append("unexpected stderr lines %r" % others[:3])
    for n in needles:
        if not errs or n.lower() not in errs[0].lower():
            problems.append("error line lacks %r" % n)
    for p, was in (before or {}).items():
        if snapshot([p])[p] != was:
            problems.append("%s changed" % os.path.basename(p))
    for p in absent:
        if os.path.lexists(p):
            problems.append("%s was written" % os.path.basename(p))
    for d in dirs:
        if tmp_leftovers(d):
            problems.append("temp files left: %r" % tmp_leftovers(d))
    return problems


def case(name, args, code=2, needles=(), unchanged=(), absent=(), dirs=(), present=(), expected=None, **kw):
    """Runs qconvert with args and records the case; returns the run (None when not selected)."""
    if not wanted(name):
        return None
    before = snapshot(unchanged)
    for p in absent:
        if os.path.isfile(p) and not os.path.islink(p):
            os.remove(p)  # left by an earlier case that (wrongly) succeeded
    r = run(list(args), **kw)
    report(name, contract(r, code, needles, before, absent, dirs, present), r, expected or (
        "exit 0, written through" if code == 0 else "exit %d, one error line, nothing written" % code))
    return r


class FifoReader(threading.Thread):
    """Reads a FIFO to its end in the background, as a consumer of `qconvert -o FIFO` would."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.data = path, None
        self.start()

    def run(self):
        with open(self.path, "rb") as f:
            self.data = f.read()

    def finish(self):
        """Waits for the data; if the writer never opened the FIFO, releases the blocked open (a
        FIFO renamed over is gone: its reader stays blocked in a daemon thread)."""
        if self.is_alive():
            if not stat.S_ISFIFO(os.lstat(self.path).st_mode):
                return None
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        self.join(60)
        return self.data


def wchan(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def external_model(d):
    """The demo CNN saved with every initializer in one external-data file."""
    path, weights = os.path.join(d, "ext.onnx"), os.path.join(d, "ext.weights")
    onnx.save_model(onnx.load(DEMO), path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.weights", size_threshold=0)
    return path, weights


def subdir(top, name):
    d = os.path.join(top, name)
    os.makedirs(d, exist_ok=True)
    return d


def cases(top):
    calib, model = demo_fixture(top)
    out = os.path.join(top, "out.onnx")
    base = [model, "--calib", calib, "--quiet", "--threads", "1"]

    inputs_are_never_outputs(top, calib, model, out, base)
    special_files(top, calib, model, base)
    failed_runs_leave_nothing(top, calib, model, out, base)
    names_and_sizes(top, calib, model, base)
    statistics(top, calib, model, out)
    input_shapes(model, calib, out)
    signal_during_write(top, calib, model)


def own_inputs(top, name):
    """A directory with its own model and calibration images: a case that (wrongly) overwrites an
    input must not spoil the inputs of the cases after it."""
    d = subdir(top, name)
    model = os.path.join(d, "model.onnx")
    shutil.copy(DEMO, model)
    return d, model, pngs(os.path.join(d, "calib"), 4)


def inputs_are_never_outputs(top, calib, model, out, base):
    # Defect 3: the model's external-data file, under its own name, a hard link or a symlink.
    d = subdir(top, "extdata")
    ext, weights = external_model(d)
    ext_base = [ext, "--calib", calib, "--quiet", "--threads", "1"]
    case("inputs: external data model quantizes", ext_base + ["-o", os.path.join(d, "ext.int8.onnx")], 0,
         unchanged=[ext, weights], dirs=[d], present=[os.path.join(d, "ext.int8.onnx")])
    for tag, opt, alias in (("-o names the model's external-data file", "-o", None),
                            ("-o is a hard link to the external-data file", "-o", os.link),
                            ("-o is a symlink to the external-data file", "-o", os.symlink),
                            ("--save-stats names the external-data file", "--save-stats", None)):
        d = subdir(top, "extdata-" + tag.split()[0].strip("-") + "-" + (alias.__name__ if alias else "same"))
        ext, weights = external_model(d)
        dest = weights
        if alias:
            dest = os.path.join(d, "alias.bin")
            alias(weights if alias is os.link else "ext.weights", dest)
        o = os.path.join(d, "x.onnx")
        args = [ext, "--calib", calib, "--quiet", "--threads", "1"] + (["-o", o] if opt != "-o" else [])
        case("inputs: " + tag, args + [opt, dest], 2, [opt, os.path.basename(dest), "refusing to overwrite"],
             unchanged=[ext, weights, dest], absent=[o], dirs=[d])

    # Defect 4: --save-stats / --report naming an input, in every command that writes.
    d, m, c = own_inputs(top, "save-stats-model")
    case("inputs: --save-stats names the input model", [m, "--calib", c, "-o", out, "--save-stats", m, "--quiet"],
         2, ["--save-stats", "model.onnx"], unchanged=[m], absent=[out], dirs=[d, top])
    d, m, c = own_inputs(top, "report-calib")
    img = os.path.join(c, "img0000.png")
    case("inputs: --report names a calibration image", [m, "--calib", c, "-o", out, "--report", img, "--quiet"],
         2, ["--report", "img0000.png"], unchanged=[img], absent=[out], dirs=[top, c])
    d, m, c = own_inputs(top, "report-list")
    lst = os.path.join(d, "calib.txt")
    open(lst, "w").write("calib/img0001.png\ncalib/img0002.png\n")
    case("inputs: --report names the --calib LIST.txt (.txt report)",
         [m, "--calib", lst, "-o", out, "--report", lst, "--quiet"], 2, ["calib.txt"], unchanged=[lst],
         absent=[out], dirs=[top, d])
    d, m, c = own_inputs(top, "report-eval")
    ev = pngs(os.path.join(d, "eval"), 4, seed=3)
    evimg = os.path.join(ev, "img0001.png")
    case("inputs: --report names an --eval image", [m, "--calib", c, "-o", out, "--eval", ev, "--report", evimg,
                                                    "--quiet"],
         2, ["img0001.png"], unchanged=[evimg], absent=[out], dirs=[top, ev])
    d, m, c = own_inputs(top, "compare-report-calib")
    img = os.path.join(c, "img0000.png")
    case("inputs: compare --report names a calibration image",
         ["compare", m, "--calib", c, "--observers", "minmax", "--report", img, "--quiet"], 2,
         ["img0000.png"], unchanged=[img], dirs=[c])
    d, m, c = own_inputs(top, "eval-report-data")
    img = os.path.join(c, "img0001.png")
    case("inputs: eval --report names an evaluation image",
         ["eval", m, "--data", c, "--report", img, "--quiet"], 2, ["img0001.png"], unchanged=[img], dirs=[c])
    d, m, c = own_inputs(top, "save-stats-load-stats")
    stats = os.path.join(d, "in.stats")
    case("inputs: saving statistics for the next case", [m, "--calib", c, "-o", out, "--save-stats", stats,
                                                         "--quiet"], 0, dirs=[d], present=[stats])
    case("inputs: --save-stats names a --load-stats file",
         [m, "--load-stats", stats, "--save-stats", stats, "-o", out, "--quiet"], 2, ["in.stats"],
         unchanged=[stats], absent=[out], dirs=[top, d])


def special_files(top, calib, model, base):
    # Defect 5: special files are written through (character devices, FIFOs) or refused (sockets),
    # never renamed over. Only device nodes made here are used: never the system's /dev/null.
    d = subdir(top, "special")
    if IS_ROOT:
        nodes = [os.path.join(d, n) for n in ("null", "null1", "null1.json", "null1.stats", "null2")]
        for p in nodes:
            os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        case("special: -o a character device (a /dev/null twin made with mknod)", base + ["-o", nodes[0]], 0,
             unchanged=[nodes[0]], dirs=[d])
        case("special: -o, --report and --save-stats into character devices",
             base + ["-o", nodes[1], "--report", nodes[2], "--save-stats", nodes[3]], 0, unchanged=nodes[1:4],
             dirs=[d])
        link = os.path.join(d, "stdout-like")
        os.symlink("null2", link)
        case("special: -o a symlink to a character device (like /dev/stdout)", base + ["-o", link], 0,
             unchanged=[link, nodes[4]], dirs=[d])
    else:
        print("skip special: character devices (mknod needs root)")

    name = "special: -o a FIFO with a reader gets the whole model"
    if wanted(name):
        fifo, rep = os.path.join(d, "model.fifo"), os.path.join(d, "fifo-report.json")
        os.mkfifo(fifo)
        before = snapshot([fifo])
        reader = FifoReader(fifo)
        r = run(base + ["-o", fifo, "--report", rep])
        data = reader.finish()
        problems = contract(r, 0, before=before, dirs=[d])
        if data is None:
            problems.append("the reader got nothing")
        else:
            try:
                onnx.load_from_string(data)
            except Exception as e:  # noqa: BLE001 - any parse error is the finding
                problems.append("the FIFO did not carry a model: %s" % e)
            if os.path.isfile(rep) and json.load(open(rep))["quantized_bytes"] != len(data):
                problems.append("report says %s bytes, the FIFO carried %d" %
                                (json.load(open(rep))["quantized_bytes"], len(data)))
        report(name, problems, r, "exit 0, model streamed, FIFO kept")

    sock_path = os.path.join(d, "sock.json")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(sock_path)
    try:
        case("special: --report names a socket", base + ["-o", os.path.join(d, "s.onnx"), "--report", sock_path],
             2, ["socket"], unchanged=[sock_path], absent=[os.path.join(d, "s.onnx")], dirs=[d])
    finally:
        sock.close()
    dangling = os.path.join(d, "dangling.onnx")
    os.symlink("missing-target.onnx", dangling)
    case("special: -o a dangling symlink", base + ["-o", dangling], 2, ["dangling.onnx", "missing"],
         unchanged=[dangling], absent=[os.path.join(d, "missing-target.onnx")], dirs=[d])


def failed_runs_leave_nothing(top, calib, model, out, base):
    # Defect 6: anything that fails leaves no output, also after the model was complete.
    expect_error("failed run: --eval missing directory", model, calib, out, ["no-such-eval"],
                 extra=["--eval", os.path.join(top, "no-such-eval")])
    empty = subdir(top, "eval-empty")
    expect_error("failed run: --eval empty directory", model, calib, out, ["eval-empty"], extra=["--eval", empty])
    repdir = subdir(top, "rep.json")
    case("failed run: --report names a directory", base + ["-o", out, "--report", repdir], 2, ["rep.json"],
         absent=[out], dirs=[top])
    # As root access(2) says yes to /proc; creating a file there fails.
    case("failed run: --report inside /proc", base + ["-o", out, "--report", "/proc/qc-bad-inputs-report.json"],
         2, ["/proc"], absent=[out, "/proc/qc-bad-inputs-report.json"], dirs=[top])
    ro = subdir(top, "readonly-reports")
    os.chmod(ro, 0o555)
    if IS_ROOT and shutil.which("setpriv") and not (world_traversable(top) and world_traversable(QC)):
        print("skip failed run: --report in an unwritable directory (as uid 65534): uid 65534 cannot reach "
              f"{top} or {QC}")
    elif IS_ROOT and shutil.which("setpriv"):
        os.chmod(model, 0o644)
        name = "failed run: --report in an unwritable directory (as uid 65534)"
        if wanted(name):
            open_dir = subdir(top, "world-writable")
            os.chmod(open_dir, 0o777)
            o = os.path.join(open_dir, "o.onnx")
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", QC] + base +
                               ["-o", o, "--report", os.path.join(ro, "r.json")], capture_output=True, text=True,
                               timeout=120)
            report(name, contract(r, 2, ["readonly-reports"], absent=[o], dirs=[open_dir, ro]), r)
    elif not IS_ROOT:
        case("failed run: --report in an unwritable directory", base + ["-o", out, "--report",
                                                                      os.path.join(ro, "r.json")],
             2, ["readonly-reports"], absent=[out], dirs=[top, ro])

    # A full disk: the report (or the model) cannot be written; nothing may remain.
    mnt = subdir(top, "small-tmpfs")
    mounted = IS_ROOT and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt],
                                         capture_output=True).returncode == 0
    if not mounted:
        print("skip failed run: ENOSPC cases (mounting a small tmpfs needs root)")
        return
    try:
        fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        os.close(fd)
        case("failed run: a report hits ENOSPC", base + ["-o", out, "--report", os.path.join(mnt, "r.json")], 2,
             ["r.json", "no space"], absent=[out, os.path.join(mnt, "r.json")], dirs=[top, mnt])
        case("failed run: the model hits ENOSPC", base + ["-o", os.path.join(mnt, "o.onnx"), "--report",
                                                          os.path.join(top, "enospc.json")], 2,
             ["o.onnx", "no space"], absent=[os.path.join(mnt, "o.onnx"), os.path.join(top, "enospc.json")],
             dirs=[top, mnt])
    finally:
        subprocess.run(["umount", mnt], capture_output=True)

    # Defect 8: a file-size limit (ulimit -f) is an error line, not death by SIGXFSZ.
    def small_fsize():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    case("failed run: ulimit -f below the model size", base + ["-o", out], 2, ["out.onnx", "file too large"],
         absent=[out], dirs=[top], preexec_fn=small_fsize)


def names_and_sizes(top, calib, model, base):
    # Defect 12: temp names stay within NAME_MAX; too long a name is refused before calibrating.
    d = subdir(top, "names")
    long_out = os.path.join(d, "m" * 240 + ".onnx")
    case("names: a 245-character output name", base + ["-o", long_out], 0, dirs=[d], present=[long_out])
    case("names: a 256-character output name is refused before calibration",
         [model, "--calib", os.path.join(top, "no-such-calib"), "-o", os.path.join(d, "n" * 251 + ".onnx")], 2,
         ["255"], dirs=[d])
    case("names: two --report name one file", base + ["-o", os.path.join(d, "o.onnx"), "--report",
                                                      os.path.join(d, "r.json"), "--report", d + "/./r.json"],
         2, ["r.json"], absent=[os.path.join(d, "o.onnx"), os.path.join(d, "r.json")], dirs=[d])

    # S5: two runs writing one destination each report the size they wrote, not the other's.
    name = "sizes: two concurrent writers report their own sizes"
    if not wanted(name):
        return
    small = conv_model(os.path.join(d, "small.onnx"), 1, dims=[1, 1, 28, 28])
    ev = pngs(os.path.join(d, "eval"), 60, seed=5)
    solo = {}
    for tag, m in (("a", model), ("b", small)):
        p = os.path.join(d, tag + "-solo.onnx")
        subprocess.run([QC, m, "--calib", calib, "-o", p, "--quiet"], capture_output=True, timeout=120)
        solo[tag] = os.path.getsize(p) if os.path.isfile(p) else -1
    shared, rep_a, rep_b = (os.path.join(d, n) for n in ("shared.onnx", "a.json", "b.json"))
    # A evaluates after writing; B runs start to end while A is stopped in that window.
    pa = subprocess.Popen([QC] + base + ["-o", shared, "--eval", ev, "--report", rep_a],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    while pa.poll() is None and not os.path.exists(shared):
        time.sleep(0.001)
    stopped = pa.poll() is None
    if stopped:
        pa.send_signal(signal.SIGSTOP)
    rb = run([small, "--calib", calib, "-o", shared, "--report", rep_b, "--quiet"])
    if stopped:
        pa.send_signal(signal.SIGCONT)
    so, se = pa.communicate(timeout=300)
    ra = subprocess.CompletedProcess(pa.args, pa.returncode, so, se)
    problems = contract(ra, 0, dirs=[d]) + ["B: " + p for p in contract(rb, 0)]
    for tag, rep in (("a", rep_a), ("b", rep_b)):
        got = json.load(open(rep))["quantized_bytes"] if os.path.isfile(rep) else None
        if got != solo[tag]:
            problems.append("%s reports %s bytes, it writes %d" % (tag.upper(), got, solo[tag]))
    report(name, problems, ra, "each reports the bytes it wrote")


def statistics(top, calib, model, out):
    # Defect 10: --save-stats with --load-stats saves the merged statistics.
    name = "stats: --load-stats twice with --save-stats writes the merged file"
    if not wanted(name):
        return
    d = subdir(top, "stats")
    shards = [pngs(os.path.join(d, "shard%d" % i), 4, seed=10 + i) for i in (1, 2)]
    files = [os.path.join(d, "s%d.stats" % i) for i in (1, 2)]
    for s, f in zip(shards, files):
        run([model, "--calib", s, "-o", os.path.join(d, "o.onnx"), "--save-stats", f, "--quiet"])
    merged = os.path.join(d, "merged.stats")
    r = run([model, "--load-stats", files[0], "--load-stats", files[1], "--save-stats", merged,
             "-o", os.path.join(d, "m.onnx"), "--quiet"])
    problems = contract(r, 0, dirs=[d])
    if not os.path.isfile(merged):
        problems.append("no merged statistics file")
    else:
        m, a, b = read_stats(merged), read_stats(files[0]), read_stats(files[1])
        if m["__fingerprint__"] != a["__fingerprint__"]:
            problems.append("fingerprint differs")
        names = [n for n in a if not n.startswith("__") and a[n]["count"]]
        if not names or set(names) - set(m):
            problems.append("tensors missing from the merged file")
        for n in names:
            x, y, z = m.get(n, {}), a[n], b[n]
            want = dict(count=y["count"] + z["count"], samples=y["samples"] + z["samples"],
                        zeros=y["zeros"] + z["zeros"], min=min(y["min"], z["min"]), max=max(y["max"], z["max"]),
                        hist_total=sum(y["counts"]) + sum(z["counts"]))
            have = dict(x, hist_total=sum(x.get("counts", ())))
            bad = [k for k in want if have.get(k) != want[k]]
            if bad:
                problems.append("%s: %s differ" % (n, ", ".join(bad)))
                break
    report(name, problems, r, "exit 0, merged statistics written")


def input_shapes(model, calib, out):
    # S2: malformed --input-shape values are refused.
    for shape in ("1x1x28x28x", "1x1x+28x28", "1xx1x28x28", "1x1x28x 28"):
        expect_error("options: --input-shape %r" % shape, model, calib, out, ["--input-shape", shape],
                     extra=["--input-shape", shape])


def signal_during_write(top, calib, model):
    # SIGTERM while the outputs are being committed (blocked on a FIFO nobody reads): nothing remains.
    name = "signal: SIGTERM during the write phase"
    if not wanted(name):
        return
    d = subdir(top, "sigterm")
    fifo, rep, st = (os.path.join(d, n) for n in ("model.fifo", "r.json", "s.stats"))
    os.mkfifo(fifo)
    before = snapshot([fifo, model])
    p = subprocess.Popen([QC, model, "--calib", calib, "-o", fifo, "--report", rep, "--save-stats", st,
                          "--threads", "1", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    blocked = False
    while p.poll() is None and not blocked:
        blocked = wchan(p.pid) == "wait_for_partner"  # the FIFO's open waits for a reader
        time.sleep(0.005)
    r = signal_and_wait(p, signal.SIGTERM, send=blocked)
    problems = [] if blocked else ["never waited on the FIFO (replaced or not reached)"]
    problems += contract(r, 130, before=before, absent=[rep, st], dirs=[d])
    report(name, problems, r, "exit 130, one error line, nothing written")
