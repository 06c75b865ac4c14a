"""Bundled default model (EfficientNet-Lite0, ImageNet-1k) and its assets.

Everything here needs only numpy and Pillow, so the compiler and its tests can
feed the bundled model real images without torch or TVM installed.

Assets (all in this folder):
- ``efficientnet_lite0.onnx``: opset 18, input ``input`` float32 [1,3,224,224],
  output ``logits`` float32 [1,1000]; regenerate with
  ``export_efficientnet_lite0.py``.
- ``imagenet_classes.txt``: the 1000 ImageNet-1k class names in index order.
- ``images/``: sample photos from scikit-image's data (CC0 / public domain).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "INPUT_SIZE",
    "RESIZE_SHORTER",
    "bundled_image_paths",
    "class_names",
    "default_model_path",
    "preprocess",
    "top_k",
]

_HERE = Path(__file__).resolve().parent

#: Side of the square network input.
INPUT_SIZE = 224
#: The shorter image side is resized to this before the centre crop
#: (the usual 224/256 = 0.875 crop fraction for ImageNet evaluation).
RESIZE_SHORTER = 256
# EfficientNet-Lite was trained on pixels mapped to [-1, 1) with these constants
# (the TF reference uses MEAN_RGB = 127.0 and STDDEV_RGB = 128.0 for every channel).
_MEAN = 127.0
_STD = 128.0


def default_model_path() -> Path:
    """Path of the bundled EfficientNet-Lite0 ONNX model."""
    return _HERE / "efficientnet_lite0.onnx"


@lru_cache(maxsize=1)
def _class_names() -> tuple[str, ...]:
    text = (_HERE / "imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(text.splitlines())
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt has {len(names)} lines, expected 1000")
    return names


def class_names() -> list[str]:
    """The 1000 ImageNet-1k class names; index i is the model's logit i."""
    # A fresh list each call so callers cannot mutate the cached copy.
    return list(_class_names())


def bundled_image_paths() -> dict[str, Path]:
    """Sample photos by name (file stem), e.g. ``{"chelsea": ..., "coffee": ...}``."""
    image_dir = _HERE / "images"
    return {
        p.stem: p
        for p in sorted(image_dir.iterdir())
        if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    }


def preprocess(image_path: str | Path) -> np.ndarray:
    """Load an image as the model's input: float32 [1, 3, 224, 224], RGB, NCHW.

    Steps (identical to torchvision's ``Resize(256)``, ``CenterCrop(224)`` on a
    PIL image, followed by ``(x - 127) / 128``):
    1. decode and convert to RGB (drops alpha, expands greyscale);
    2. resize so the shorter side is 256 with Pillow's BILINEAR filter, which is
       what torchvision's Resize uses for PIL images (Pillow's bilinear
       antialiases when downscaling); the longer side is truncated to int as
       torchvision does;
    3. centre crop 224x224, rounding the offset as torchvision does;
    4. scale each channel to (x - 127) / 128.
    """
    with Image.open(image_path) as img:
        rgb = img.convert("RGB")
    width, height = rgb.size
    if width <= height:
        new_w, new_h = RESIZE_SHORTER, int(RESIZE_SHORTER * height / width)
    else:
        new_w, new_h = int(RESIZE_SHORTER * width / height), RESIZE_SHORTER
    resized = rgb.resize((new_w, new_h), Image.Resampling.BILINEAR)
    left = int(round((new_w - INPUT_SIZE) / 2.0))
    top = int(round((new_h - INPUT_SIZE) / 2.0))
    cropped = resized.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))
    hwc = np.asarray(cropped, dtype=np.float32)
    chw = (hwc - _MEAN) / _STD
    return np.ascontiguousarray(chw.transpose(2, 0, 1)[np.newaxis])


def top_k(logits: np.ndarray, k: int = 5) -> list[tuple[int, str, float]]:
    """The k most probable classes as (index, name, softmax probability), best first.

    ``logits`` is one image's scores: shape [1000] or [1, 1000].
    """
    scores = np.asarray(logits, dtype=np.float64).reshape(-1)
    names = _class_names()
    if scores.shape[0] != len(names):
        raise ValueError(f"expected {len(names)} logits for one image, got shape {np.shape(logits)}")
    # Subtract the max before exp so large logits cannot overflow.
    exp = np.exp(scores - scores.max())
    probs = exp / exp.sum()
    # Stable sort on -probs keeps ties in index order, so results are deterministic.
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(i), names[i], float(probs[i])) for i in order]
