"""A dual artifact of a suite model (EfficientNet-Lite0, real ImageNet weights) on real photos:
route=full answers bit-identically to the plain fp32 artifact and route=fast to the plain BitNet
artifact; the confidence router reaches its calibrated top-1 agreement with System 2 on its
calibration inputs; the photo split keeps every photo on one side (bench/dual_photos.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ronn_aot
import ronn_runtime
from ronn_aot.artifact.inspect import inspect_artifact
from ronn_aot.dual import signals
from ronn_aot.dual.routers import route_of
from ronn_aot.models import bundled_image_paths, default_model_path, preprocess

LAYERS = (32, 33)  # EfficientNet-Lite0's head 1x1 conv and classifier (of 34 quantizable layers)
MIN_AGREEMENT = 0.9
LATENCY = (1.0, 10.0)  # an assumed System 1 ten times cheaper: the threshold is set by agreement alone


def _calibration() -> np.ndarray:
    """The bundled photos, and a few brightness / flip / crop variants of them (no scikit-image
    needed): 12 inputs."""
    base = [preprocess(p) for p in bundled_image_paths().values()]
    out = []
    for x in base:
        out += [x, x[..., ::-1].copy(), np.clip(x * 0.7 + 0.1, -1, 1).astype(np.float32),
                np.ascontiguousarray(np.pad(x[..., 16:-16, 16:-16], ((0, 0),) * 2 + ((16, 16),) * 2, mode="edge"))]
    return np.stack(out).astype(np.float32)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("suite_dual")
    model = default_model_path()
    base = ronn_aot.CompileOptions().with_optimization_level(2)
    cal = _calibration()
    np.savez(out / "cal.npz", input=cal)
    return {
        "fp32": ronn_aot.compile(model, base.with_output(out / "fp32.so")).path,
        "bitnet": ronn_aot.compile(model, base.with_output(out / "bitnet.so").with_bitnet(
            "ternary", layers=LAYERS)).path,
        "dual": ronn_aot.compile(model, base.with_output(out / "dual.so").with_dual(
            "ternary", "confidence", out / "cal.npz", MIN_AGREEMENT, layers=LAYERS, latency_ms=LATENCY)).path,
        "cal": out / "cal.npz",
    }


def _run(path: Path, x: np.ndarray, route: str | None = None) -> np.ndarray:
    sess = ronn_runtime.InferenceSession(str(path), num_threads=2)
    return sess.run(None, {"input": x}, route=route)[0]


def test_routes_are_bit_identical_to_the_plain_artifacts(built: dict[str, Path]) -> None:
    for name, path in list(bundled_image_paths().items())[:2]:
        x = preprocess(path)
        full, fast = _run(built["dual"], x, "full"), _run(built["dual"], x, "fast")
        assert np.array_equal(full, _run(built["fp32"], x)), name
        assert np.array_equal(fast, _run(built["bitnet"], x)), name
        # and System 1 is not System 2: the quantized head moves the logits
        assert not np.array_equal(full, fast), name


def test_router_reaches_its_calibrated_agreement(built: dict[str, Path]) -> None:
    info = inspect_artifact(built["dual"])
    stats = info.metadata["dual"]["calibration"]
    assert stats["inputs"] == 12 and stats["agreement"] >= MIN_AGREEMENT
    cal = np.load(built["cal"])["input"]
    sess = ronn_runtime.InferenceSession(str(built["dual"]), num_threads=2)
    agree, fast_runs = [], 0
    for x in cal:
        auto = sess.run(None, {"input": x}, route="auto")[0]
        fast = sess.run(None, {"input": x}, route="fast")[0]
        full = sess.run(None, {"input": x}, route="full")[0]
        sess.run(None, {"input": x}, route="auto")
        # route=auto answers as the router's numpy twin decides, from System 1's output
        want = route_of(info.router, x, fast)
        assert np.array_equal(auto, fast if want == "fast" else full)
        fast_runs += want == "fast"
        agree.append(signals.agrees(auto, full))
    assert np.mean(agree) >= MIN_AGREEMENT
    assert np.mean(agree) == pytest.approx(stats["agreement"], abs=1e-9)
    assert fast_runs / len(cal) == pytest.approx(stats["fast_fraction"], abs=1e-9)


def test_photo_split_keeps_each_photo_on_one_side() -> None:
    dual_photos = pytest.importorskip("bench.dual_photos")
    pytest.importorskip("skimage")
    cal, held = dual_photos.split(dual_photos.photos())
    assert not {p.name for p in cal} & {p.name for p in held}
    assert len(cal) >= 10 and len(held) >= 10
    for names in dual_photos.KINDS.values():  # every kind on both sides
        assert {p.name for p in cal} & set(names) and {p.name for p in held} & set(names)
    x1, s1 = dual_photos.inputs(held[:2], 3, seed=0)
    x2, _ = dual_photos.inputs(held[1:2], 3, seed=0)
    assert x1.shape == (6, 1, 3, 224, 224) and x1.dtype == np.float32 and s1 == [held[0].name] * 3 + [held[1].name] * 3
    assert np.array_equal(x1[3:], x2)  # a photo's views do not depend on the others asked for
    assert len({v.tobytes() for v in x1}) == 6  # distinct views
