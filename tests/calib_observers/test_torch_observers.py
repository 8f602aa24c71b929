"""Against PyTorch MinMaxObserver and MovingAverageMinMaxObserver
(averaging_constant=0.01), fed one sample per forward. Skips (77) without torch."""
import math
import os
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

try:
    import torch
    from torch.ao.quantization.observer import MinMaxObserver, MovingAverageMinMaxObserver
except Exception as exc:  # noqa: BLE001
    print("skip: torch unavailable:", exc)
    sys.exit(77)


def main():
    failures = []
    rng = np.random.default_rng(5)
    data = {
        "gauss": rng.standard_normal((80, 600)).astype(np.float32),
        "relu_drift": np.maximum(rng.standard_normal((80, 600)) + np.linspace(-1, 2, 80)[:, None], 0)
        .astype(np.float32),
        "scaled": (rng.standard_normal((50, 300)) * np.linspace(0.1, 5, 50)[:, None]).astype(np.float32),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, arr in data.items():
            out = C.run_tool(C.write_npy(tmp, name, arr), "--segments", 3)
            mm = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
            ema = MovingAverageMinMaxObserver(averaging_constant=0.01, dtype=torch.quint8,
                                              qscheme=torch.per_tensor_affine)
            for sample in arr:
                t = torch.from_numpy(sample.copy())
                mm(t)
                ema(t)
            tmin, tmax = float(mm.min_val), float(mm.max_val)
            if (out["min"], out["max"]) != (tmin, tmax):
                failures.append(f"{name}: minmax {out['min']},{out['max']} vs torch {tmin},{tmax}")
            emin, emax = float(ema.min_val), float(ema.max_val)
            # torch accumulates in float32; ours is double.
            for ours, theirs, what in [(out["ema_min"], emin, "min"), (out["ema_max"], emax, "max")]:
                if not math.isclose(ours, theirs, rel_tol=2e-5, abs_tol=1e-6):
                    failures.append(f"{name}: ema {what} {ours} vs torch {theirs}")
            # quint8 affine qparams agree with ORT's for the same range (reference table).
            scale, zp = mm.calculate_qparams()
            r = out["results"]["uint8"]["minmax"]
            if not (math.isclose(r["scale"], float(scale), rel_tol=1e-6) and r["zp"] == int(zp)):
                failures.append(f"{name}: uint8 qparams {r['scale']},{r['zp']} vs torch {float(scale)},{int(zp)}")
            print(f"{name}: minmax ({tmin}, {tmax}) ema ({emin:.6g}, {emax:.6g}) vs ours "
                  f"({out['ema_min']:.6g}, {out['ema_max']:.6g})")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
