"""EfficientNet-Lite0 (bundled, real ImageNet weights): top-1 agreement of ternary / binary
artifacts with the fp32 artifact on the bundled photos.

    .venv/bin/python bench/bitnet/efficientnet_agreement.py [--target host] [--layers default|all|I,J,...]

Only Conv / Gemm layers with groups = 1 are quantizable (the 1x1 expand / project convs, the
stem, the head and the classifier); depthwise convs stay fp32. Default selection: all but the
first (stem) and the last (classifier) quantizable layer. Post-training quantization only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

MODES = {"fp32": None, "ternary": ("ternary", 8), "binary-int8": ("binary", 8), "binary-xnor": ("binary", 1)}


def main() -> None:
    import ronn_aot
    import ronn_runtime
    from ronn_aot.artifact.inspect import inspect_artifact
    from ronn_aot.models import bundled_image_paths, class_names, default_model_path, preprocess

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="host")
    ap.add_argument("--out", type=Path, default=Path("build/bitnet"))
    ap.add_argument("--layers", default="default", help="quantizable layers to quantize: default, all, or I,J,...")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    images = {name: preprocess(path) for name, path in sorted(bundled_image_paths().items())}
    names = class_names()
    top1: dict[str, dict[str, int]] = {}
    for mode, spec in MODES.items():
        opts = ronn_aot.CompileOptions().with_target(args.target).with_output(args.out / f"effnet_{mode}.so")
        if spec is not None:
            opts = opts.with_bitnet(*spec, layers=args.layers)
        art = ronn_aot.compile(default_model_path(), opts)
        sess = ronn_runtime.InferenceSession(str(art.path))
        inp = sess.get_inputs()[0].name
        top1[mode] = {img: int(np.argmax(sess.run(None, {inp: x})[0])) for img, x in images.items()}
        meta = inspect_artifact(art.path).metadata.get("bitnet")
        extra = "" if meta is None else (f"  ({len(meta['quantized_layers'])}/{meta['quantizable_layers']} layers, "
                                         f"weights {meta['float_bytes']} -> {meta['packed_bytes']} B)")
        agree = sum(top1[mode][i] == top1["fp32"][i] for i in images)
        labels = ", ".join(f"{i}: {names[c]}" for i, c in top1[mode].items())
        print(f"{mode:<12} top-1 agreement with fp32 {agree}/{len(images)}  [{labels}]{extra}")


if __name__ == "__main__":
    main()
