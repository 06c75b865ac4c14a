"""`ronn-aot compile --sign-key`: the artifact comes out signed, `inspect` names the signer, and
runtime_min loads it only under the matching trusted key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from ronn_aot.artifact import signing
from ronn_aot.cli import main


def test_compile_with_sign_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import ronn_runtime

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])])
    model = tmp_path / "relu.onnx"
    model.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    key, public = signing.keygen(tmp_path / "release")
    _, other_public = signing.keygen(tmp_path / "other")
    out = tmp_path / "relu.so"
    assert main(["compile", str(model), "-o", str(out), "--sign-key", str(key)]) == 0
    assert "signed" in capsys.readouterr().out
    assert main(["inspect", "--json", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["signer_key_id"] == signing.key_id(signing.load_public_key(public))
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)
    with ronn_runtime.InferenceSession(out, trusted_keys=[public], require_signature=True) as sess:
        np.testing.assert_array_equal(sess.run(None, {"x": x})[0], np.maximum(x, 0))
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        ronn_runtime.InferenceSession(out, trusted_keys=[other_public])
    assert err.value.code == "UNTRUSTED_SIGNER"
