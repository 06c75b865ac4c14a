"""The device check, on a GPU machine (no TVM, no onnx, no package registry): run every prepared
CUDA artifact through runtime_min with the prepared inputs, compare with the onnxruntime (CPU)
references, and time the marked models against PyTorch eager on the same GPU.

    python tests/device/check.py --payload tests/device/payload --runtime BUILD/libronn_runtime.so

(tests/device/run.sh builds runtime_min and calls this.) Exits non-zero when an artifact fails or
differs from its reference; prints a table and writes results.json into the payload folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "runtime_min" / "python"))
sys.path.insert(0, str(HERE))


def median_ms(fn: Callable[[], Any], repeat: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def check_case(c: dict[str, Any], payload: Path) -> dict[str, Any]:
    import ronn_runtime

    feeds = {k: np.load(payload / v) for k, v in c["inputs"].items()}
    refs = [np.load(payload / r) for r in c["references"]]
    result: dict[str, Any] = {"case": c["case"], "target": c["target"]}
    t0 = time.perf_counter()
    sess = ronn_runtime.InferenceSession(str(payload / c["artifact"]))
    result["session_ms"] = (time.perf_counter() - t0) * 1e3
    first = sess.run(None, feeds)
    second = sess.run(None, feeds)  # weights are uploaded once: a second run must agree
    errors = [float(np.max(np.abs(a.astype(np.float64) - r))) if a.size else 0.0 for a, r in zip(first, refs)]
    result["max_abs_err"] = max(errors) if errors else 0.0
    result["ok"] = (len(first) == len(refs)
                    and all(a.shape == r.shape and np.allclose(a, r, rtol=c["rtol"], atol=c["atol"])
                            for a, r in zip(first, refs))
                    and all(np.array_equal(a, b) for a, b in zip(first, second)))
    if c.get("torch_model"):
        result["ronn_ms"] = median_ms(lambda: sess.run(None, feeds), repeat=200, warmup=20)
    sess.close()
    return result


def time_torch(c: dict[str, Any], payload: Path, prefix: str) -> dict[str, Any]:
    import torch

    from torch_eager import EagerGraph

    # fp32 as ours: cuDNN's default TF32 convolutions are faster but miss the fp32 reference
    # (EfficientNet-Lite0 on an H200 by more than 2e-3), which would not be the same computation.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    graph = EagerGraph(payload / prefix)
    feeds = [np.load(payload / c["inputs"][name]) for name in graph.inputs]
    refs = [np.load(payload / r) for r in c["references"]]
    dev = [torch.from_numpy(x).cuda() for x in feeds]
    out = [o.cpu().numpy() for o in graph(*dev)]
    torch_ok = all(np.allclose(a, r, rtol=c["rtol"], atol=c["atol"]) for a, r in zip(out, refs))
    torch_err = max(float(np.abs(a - r).max()) for a, r in zip(out, refs))

    def on_device() -> None:  # inputs already on the GPU, outputs left there
        graph(*dev)
        torch.cuda.synchronize()

    def host_to_host() -> None:  # what a ronn_runtime run does: copy in, compute, copy out
        [o.cpu() for o in graph(*[torch.from_numpy(x).cuda() for x in feeds])]

    return {"torch_ok": torch_ok, "torch_max_abs_err": torch_err, "torch_device_ms": median_ms(on_device, 200, 20),
            "torch_host_ms": median_ms(host_to_host, 200, 20), "torch_version": torch.__version__,
            "gpu": torch.cuda.get_device_name(0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payload", type=Path, default=HERE / "payload")
    parser.add_argument("--runtime", type=Path, required=True, help="libronn_runtime.so built on this machine")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch timings")
    args = parser.parse_args()
    os.environ["RONN_RUNTIME_LIBRARY"] = str(args.runtime)
    manifest = json.loads((args.payload / "manifest.json").read_text())
    results, failed = [], 0
    for c in manifest["cases"]:
        try:
            r = check_case(c, args.payload)
        except Exception as e:  # report every case, then fail at the end
            traceback.print_exc()
            r = {"case": c["case"], "target": c["target"], "ok": False, "error": f"{type(e).__name__}: {e}"}
        if c.get("torch_model") and r.get("ok") and not args.no_torch:
            try:
                r.update(time_torch(c, args.payload, manifest["torch_models"][c["torch_model"]]))
            except Exception as e:
                traceback.print_exc()
                r["torch_error"] = f"{type(e).__name__}: {e}"
        failed += not r["ok"]
        results.append(r)
        status = "ok" if r["ok"] else "FAILED " + r.get("error", "(outputs differ)")
        print(f"{r['case']:<28} {status:<10} max|err| {r.get('max_abs_err', float('nan')):.2e}  "
              f"session {r.get('session_ms', float('nan')):.0f} ms", flush=True)
    print("\nlatency at batch 1, median of 200 runs (ms):")
    print(f"{'model':<28}{'ronn-aot':>10}{'torch (dev)':>13}{'torch (h2h)':>13}")
    for r in results:
        if "ronn_ms" in r:
            print(f"{r['case']:<28}{r['ronn_ms']:>10.3f}{r.get('torch_device_ms', float('nan')):>13.3f}"
                  f"{r.get('torch_host_ms', float('nan')):>13.3f}"
                  + ("" if r.get("torch_ok", True) else "  (torch baseline differs from the reference!)"))
    (args.payload / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{len(results) - failed}/{len(results)} artifacts match their references; "
          f"results in {args.payload / 'results.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
