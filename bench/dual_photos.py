"""Real photos as ImageNet-model inputs for agreement-based routing (no labels): scikit-image's
`skimage/data` pictures and scikit-learn's china.jpg / flower.jpg, each expanded into distinct
inputs by deterministic random crops, scales, flips and colour jitter, then preprocessed as
EfficientNet-Lite0 wants them (ronn_aot.models.preprocess: shorter side 256, centre crop 224,
(x - 127) / 128; the jitter happens before it, on the photo).

Calibration and held-out inputs come from different photos (`split`), so that no held-out input
is a near-copy of a calibration one: the router's threshold is tested on scenes it never saw.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

# Photos that are one scene (a stereo pair) count as one source.
_SAME_SCENE = {"motorcycle_right": "motorcycle_left"}
# Not photos, or too small / duplicated to be inputs (a greyscale copy of chessboard_RGB, a 14x25 gif,
# a 10x15 tif).
_SKIP = {"chessboard_GRAY", "no_time_for_that_tiny", "multipage", "multipage_rgb"}


@dataclass(frozen=True)
class Photo:
    name: str  # the file stem (scene of several files: the first file's stem)
    paths: tuple[Path, ...]


def photos() -> list[Photo]:
    """Every usable photo, by scene name (sorted)."""
    try:
        import skimage
        import sklearn
    except ImportError as e:
        raise SystemExit(f"bench.dual_photos needs scikit-image and scikit-learn ({e}): "
                         "`pip install scikit-image==0.26.0 scikit-learn`") from None
    files = []
    data = Path(os.path.dirname(skimage.__file__)) / "data"
    files += [p for p in data.iterdir() if p.suffix in (".png", ".jpg") and p.stem not in _SKIP]
    files += sorted((Path(os.path.dirname(sklearn.__file__)) / "datasets" / "images").glob("*.jpg"))
    scenes: dict[str, list[Path]] = {}
    for p in sorted(files):
        scenes.setdefault(_SAME_SCENE.get(p.stem, p.stem), []).append(p)
    return [Photo(k, tuple(v)) for k, v in sorted(scenes.items())]


# The scenes by kind, so that both halves of the split hold every kind: the model is confident on
# everyday colour photos and far less on greyscale textures and drawings.
KINDS = {
    "colour photo": ("astronaut", "chelsea", "china", "coffee", "flower", "motorcycle_left", "rocket"),
    "science": ("hubble_deep_field", "ihc", "retina"),
    "synthetic": ("chessboard_RGB", "color", "horse", "logo", "phantom"),
    "greyscale": ("brick", "camera", "cell", "clock_motion", "coins", "grass", "gravel", "microaneurysms",
                  "moon", "page", "text"),
}


def split(scenes: list[Photo]) -> tuple[list[Photo], list[Photo]]:
    """(calibration, held-out): within each kind of KINDS (then the unlisted), alternate scenes in
    name order, even positions calibrating."""
    by_name = {p.name: p for p in scenes}
    listed = {n for names in KINDS.values() for n in names}
    groups = [[by_name[n] for n in sorted(names) if n in by_name] for names in KINDS.values()]
    groups.append([p for p in scenes if p.name not in listed])
    cal = [p for g in groups for p in g[0::2]]
    held = [p for g in groups for p in g[1::2]]
    return cal, held


def _variant(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One random view of a photo: a crop of 55-100% of its area (aspect 3:4..4:3), a flip, and
    brightness / contrast / saturation in 0.7..1.3."""
    from PIL import ImageEnhance, ImageOps

    w, h = img.size
    area = rng.uniform(0.55, 1.0) * w * h
    aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
    cw, ch = min(w, int(round((area * aspect) ** 0.5))), min(h, int(round((area / aspect) ** 0.5)))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = img.crop((x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        out = enhance(out).enhance(float(rng.uniform(0.7, 1.3)))
    return out


def _preprocess(img: Image.Image) -> np.ndarray:
    """ronn_aot.models.preprocess on an already decoded image."""
    import io

    from ronn_aot.models import preprocess

    buf = io.BytesIO()
    img.save(buf, format="BMP")  # uncompressed: quick, lossless
    buf.seek(0)
    return preprocess(buf)


def inputs(scenes: list[Photo], per_photo: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """`per_photo` inputs per scene ([S, 1, 3, 224, 224] float32; the first of each scene is the
    photo itself, plainly preprocessed) and the scene of each. Deterministic for a seed; a
    scene's inputs do not depend on which other scenes are asked for."""
    from PIL import Image

    xs, names = [], []
    for photo in scenes:
        rng = np.random.default_rng([seed, *photo.name.encode()])
        for k in range(per_photo):
            with Image.open(photo.paths[k % len(photo.paths)]) as f:
                img = f.convert("RGB")
            xs.append(_preprocess(img if k < len(photo.paths) else _variant(img, rng)))
            names.append(photo.name)
    return np.stack(xs).astype(np.float32), names
