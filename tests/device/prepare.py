"""Prepare the GPU device check (runs on the build machine: TVM, nvcc, onnx, onnxruntime; no GPU).

    .venv/bin/python tests/device/prepare.py [--out tests/device/payload]

Writes into the payload folder (git-ignored, kept under 44 MB: with the ~20 MB of tracked files
it must fit the device tool's 64 MiB):
  artifacts/<case>.so          CUDA artifacts (cuda-sm90: the cubin path on H100/H200; cuda-sm80:
                               the PTX path, JIT-compiled by the driver there)
  data/<case>/in_<i>.npy       inputs, and ref_<j>.npy: onnxruntime (CPU) reference outputs
  torch/<model>.json + .npz    the ONNX graph as a node list plus its initializers (or the path of
                               the tracked .onnx that holds them), which tests/device/torch_eager.py
                               runs with plain PyTorch ops (the GPU machine has no onnx2torch)
  manifest.json                cases, tolerances, which ones are timed against PyTorch eager
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "cuda"))

from cuda_helpers import EFFICIENTNET  # noqa: E402
from graphs import attention_block  # noqa: E402
from helpers import onnxruntime_outputs, zoo_case  # noqa: E402

# The device tool carries the working tree and the payload together, at most 64 MiB.
PAYLOAD_LIMIT = 44_000_000
REAL = Path(onnx.__file__).parent / "backend" / "test" / "data" / "real"


def cases() -> list[dict[str, Any]]:
    """(case name, model, feeds, target, rtol, atol, timed) for everything the device check runs."""
    att_model, att_feeds = attention_block()
    big_model, big_feeds = attention_block(seq=128, dim=256, heads=8)
    eff = onnx.load(str(EFFICIENTNET))
    eff_feeds = {"input": np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)}
    out: list[dict[str, Any]] = [
        dict(case="attention-sm90", model=att_model, feeds=att_feeds, target="cuda-sm90", rtol=1e-4, atol=1e-4),
        dict(case="attention-sm80", model=att_model, feeds=att_feeds, target="cuda-sm80", rtol=1e-4, atol=1e-4),
        dict(case="attention_s128_d256-sm90", model=big_model, feeds=big_feeds, target="cuda-sm90",
             rtol=1e-3, atol=1e-3, timed="attention_s128_d256"),
        dict(case="efficientnet_lite0-sm90", model=eff, feeds=eff_feeds, target="cuda-sm90",
             rtol=1e-3, atol=2e-3, timed="efficientnet_lite0", source=EFFICIENTNET),
    ]
    for name, target in (("squeezenet", "cuda-sm90"), ("shufflenet", "cuda-sm90")):
        model, feeds, _, rtol, atol = zoo_case(name)
        out.append(dict(case=f"{name}-{target.split('-')[1]}", model=model, feeds=feeds, target=target,
                        rtol=max(rtol, 1e-3), atol=max(atol, 1e-4)))
    return out


def _attr(a: onnx.AttributeProto) -> Any:
    value = onnx.helper.get_attribute_value(a)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value).tolist()
    return list(value) if isinstance(value, (list, tuple)) or hasattr(value, "__len__") else value


def export_for_torch(model: onnx.ModelProto, out: Path, name: str, source: Path | None = None) -> None:
    """The graph as JSON nodes + an .npz of initializers, for tests/device/torch_eager.py. A model
    whose ONNX file is tracked in the repository (`source`) travels to the GPU machine anyway, so
    its weights are read from that file there (with onnx, which the GPU image has) instead of
    being written again: EfficientNet's 19 MB twice put the working tree over the 64 MiB a device
    call may carry."""
    weights = {f"w{i}": numpy_helper.to_array(t) for i, t in enumerate(model.graph.initializer)}
    names = {t.name: f"w{i}" for i, t in enumerate(model.graph.initializer)}
    nodes = [{"op": n.op_type, "inputs": list(n.input), "outputs": list(n.output),
              "attrs": {a.name: _attr(a) for a in n.attribute}} for n in model.graph.node]
    graph = {"inputs": [i.name for i in model.graph.input if i.name not in names],
             "outputs": [o.name for o in model.graph.output], "initializers": names, "nodes": nodes}
    if source is not None:
        graph["weights_onnx"] = str(source.resolve().relative_to(REPO))
    (out / f"{name}.json").write_text(json.dumps(graph))
    if source is None:
        np.savez(out / f"{name}.npz", **weights)


def prepare(out: Path) -> dict[str, Any]:
    import ronn_aot

    if out.exists():
        shutil.rmtree(out)
    (out / "artifacts").mkdir(parents=True)
    (out / "torch").mkdir()
    manifest: dict[str, Any] = {"cases": [], "torch_models": {}}
    for c in cases():
        t0 = time.perf_counter()
        art = ronn_aot.compile(c["model"], ronn_aot.CompileOptions().with_target(c["target"])
                               .with_output(out / "artifacts" / f"{c['case']}.so"))
        refs = onnxruntime_outputs(c["model"], c["feeds"])
        data = out / "data" / c["case"]
        data.mkdir(parents=True)
        inputs = {}
        for i, (k, v) in enumerate(c["feeds"].items()):
            np.save(data / f"in_{i}.npy", v)
            inputs[k] = f"data/{c['case']}/in_{i}.npy"
        outputs = []
        for j, r in enumerate(refs):
            np.save(data / f"ref_{j}.npy", r)
            outputs.append(f"data/{c['case']}/ref_{j}.npy")
        entry = {"case": c["case"], "artifact": f"artifacts/{c['case']}.so", "target": c["target"],
                 "inputs": inputs, "references": outputs, "rtol": c["rtol"], "atol": c["atol"],
                 "device_kernels": len(art.schedule_report.on_device()), "kernels": art.num_kernels}
        if c.get("timed"):
            entry["torch_model"] = c["timed"]
            if c["timed"] not in manifest["torch_models"]:
                export_for_torch(c["model"], out / "torch", c["timed"], c.get("source"))
                manifest["torch_models"][c["timed"]] = f"torch/{c['timed']}"
        manifest["cases"].append(entry)
        print(f"{c['case']}: {art.path.stat().st_size / 1e6:.1f} MB, {entry['device_kernels']}/{art.num_kernels} "
              f"kernels on the GPU, {time.perf_counter() - t0:.0f} s", flush=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"payload: {out} ({total / 1e6:.1f} MB)")
    if total > PAYLOAD_LIMIT:
        raise SystemExit(f"the payload is {total / 1e6:.1f} MB, over the {PAYLOAD_LIMIT / 1e6:.0f} MB limit")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "payload")
    prepare(parser.parse_args().out)


if __name__ == "__main__":
    main()
