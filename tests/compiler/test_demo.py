"""The main job (`ronn-aot demo`): the bundled EfficientNet-Lite0 classifies the bundled photo as
a cat, agrees with onnxruntime, and says what onnxruntime ran on."""

from __future__ import annotations

import re

import pytest

from ronn_aot.tools.demo import run_demo
from ronn_aot.tools.peer_isa import groups_to_hide
from ronn_aot.targets import get_target


def test_demo_classifies_the_photo_and_names_the_peers_isa(capsys: pytest.CaptureFixture[str], tmp_path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the demo's artifact goes to ./<model>-<target>.so
    assert run_demo(threads=2, repeat=2) == 0
    out = capsys.readouterr().out
    top = re.search(r"top-5:\n\s+[\d.]+%\s+(.+) \((\d+)\)", out)
    assert top is not None and int(top.group(2)) in (281, 282, 285), out  # tabby / tiger / Egyptian cat
    diff = float(re.search(r"max \|ronn-aot - onnxruntime\| = (\S+)", out).group(1))
    assert diff < 1e-3
    assert "onnxruntime on this CPU's whole instruction set" in out
    target = re.search(r"-O\d, (\S+)\)", out).group(1)
    lacking = groups_to_hide(get_target(target))
    assert (f"{target} devices lack" in out) == bool(lacking)
    if lacking:
        assert f"--target {target}` compares without it" in out
