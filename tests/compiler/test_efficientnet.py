"""The bundled EfficientNet-Lite0 compiles, matches onnxruntime, and classifies the bundled photos."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from helpers import onnxruntime_outputs
from ronn_aot import models


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):
    import ronn_aot
    import ronn_runtime

    out = tmp_path_factory.mktemp("eff") / "efficientnet_lite0.so"
    ronn_aot.compile(models.default_model_path(), ronn_aot.CompileOptions().with_output(out))
    return ronn_runtime.InferenceSession(str(out), num_threads=2)


@pytest.mark.parametrize("photo,label", [("chelsea", "Egyptian cat"), ("coffee", "espresso"), ("rocket", "missile")])
def test_matches_onnxruntime_and_labels(session, photo: str, label: str) -> None:
    x = models.preprocess(models.bundled_image_paths()[photo])
    (logits,) = session.run(None, {"input": x})
    (expected,) = onnxruntime_outputs(onnx.load(str(models.default_model_path())), {"input": x})
    np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-3)
    assert models.top_k(logits, 1)[0][1] == label
