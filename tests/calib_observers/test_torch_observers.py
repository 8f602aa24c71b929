"""Against PyTorch MinMaxObserver and MovingAverageMinMaxObserver
(averaging_constant=0.01), fed one sample per forward. Skips (77) without torch."""
import math

import numpy as np

import common as C
from qc_test import check, finish, skip, tempdir

try:
    import torch
    from torch.ao.quantization.observer import MinMaxObserver, MovingAverageMinMaxObserver
except Exception as exc:  # noqa: BLE001
    skip(f"torch unavailable: {exc}")


def main():
    rng = np.random.default_rng(5)
    data = {
        "gauss": rng.standard_normal((80, 600)).astype(np.float32),
        "relu_drift": np.maximum(rng.standard_normal((80, 600)) + np.linspace(-1, 2, 80)[:, None], 0)
        .astype(np.float32),
        "scaled": (rng.standard_normal((50, 300)) * np.linspace(0.1, 5, 50)[:, None]).astype(np.float32),
    }
    with tempdir("qc_obs_") as tmp:
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
            check((out["min"], out["max"]) == (tmin, tmax), f"{name}: minmax {out['min']},{out['max']} vs torch {tmin},{tmax}")
            emin, emax = float(ema.min_val), float(ema.max_val)
            # torch accumulates in float32; ours is double.
            for ours, theirs, what in [(out["ema_min"], emin, "min"), (out["ema_max"], emax, "max")]:
                check(math.isclose(ours, theirs, rel_tol=2e-5, abs_tol=1e-6), f"{name}: ema {what} {ours} vs torch {theirs}")
            # quint8 affine qparams agree with ORT's for the same range (reference table).
            scale, zp = mm.calculate_qparams()
            r = out["results"]["uint8"]["minmax"]
            check(math.isclose(r["scale"], float(scale), rel_tol=1e-6) and r["zp"] == int(zp),
                  f"{name}: uint8 qparams {r['scale']},{r['zp']} vs torch {float(scale)},{int(zp)}")
            print(f"{name}: minmax ({tmin}, {tmax}) ema ({emin:.6g}, {emax:.6g}) vs ours "
                  f"({out['ema_min']:.6g}, {out['ema_max']:.6g})")
    finish("torch_observers")


if __name__ == "__main__":
    main()
