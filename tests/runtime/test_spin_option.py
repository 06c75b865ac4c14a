"""The spin option of a session (ronn_session_options.spin, InferenceSession(spin=), ronn-run
--spin): off makes waiting threads sleep at once, so an idle gap between runs costs no CPU, and
it overrides RONN_SPIN either way. Results are the same in every mode."""

from __future__ import annotations

import ctypes
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import ronn_runtime
from make_fixture import reference
from ronn_runtime import _capi
from runtime_helpers import RuntimeBuild, random_input


def cpu_seconds(session: ronn_runtime.InferenceSession, runs: int = 200) -> float:
    """CPU time of this process (all threads) over runs separated by 2 ms idle gaps."""
    x = random_input(1)
    session.run(None, {"x": x})
    start = time.process_time()
    for _ in range(runs):
        session.run(None, {"x": x})
        time.sleep(0.002)
    return time.process_time() - start


@pytest.mark.parametrize("spin", [None, True, False])
def test_every_mode_computes_the_same(fixture_so: Path, spin: bool | None) -> None:
    x = random_input(2)
    with ronn_runtime.InferenceSession(fixture_so, 2, spin=spin) as sess:
        for _ in range(20):
            outputs = sess.run(None, {"x": x})
    for got, want in zip(outputs, reference(x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_no_spinning_burns_less_cpu_between_runs(fixture_so: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured here: ~0.17 s of CPU over 200 runs with spinning (workers poll ~1 ms after each
    parallel region), ~0.03 s without. RONN_SPIN=0 does not stop an explicit spin=True."""
    monkeypatch.setenv("RONN_SPIN", "0")
    with ronn_runtime.InferenceSession(fixture_so, 2, spin=True) as spinning:
        spun = cpu_seconds(spinning)
    monkeypatch.delenv("RONN_SPIN")
    with ronn_runtime.InferenceSession(fixture_so, 2, spin=False) as sleeping:
        slept = cpu_seconds(sleeping)
    assert slept < 0.7 * spun, f"CPU over 200 runs: {slept:.3f} s without spinning, {spun:.3f} s with"


def test_unknown_spin_mode_is_refused(fixture_so: Path) -> None:
    lib = _capi.library()
    model, session = ctypes.c_void_p(), ctypes.c_void_p()
    _capi.check(lib, lib.ronn_model_load(str(fixture_so).encode(), None, ctypes.byref(model)))
    try:
        options = _capi.SessionOptions()
        lib.ronn_session_options_initialize(ctypes.byref(options))
        assert options.spin == _capi.SPIN_AUTO
        options.spin = 7
        with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
            _capi.check(lib, lib.ronn_session_create(model, ctypes.byref(options), ctypes.byref(session)))
        assert err.value.code == "INVALID_ARGUMENT" and "spin" in err.value.message
        assert not session.value
    finally:
        lib.ronn_model_release(model)


def test_ronn_run_spin_flag(runtime: RuntimeBuild, fixture_so: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", random_input(3))
    for mode in ("auto", "on", "off"):
        proc = subprocess.run([str(runtime.ronn_run), str(fixture_so), "--input", f"x={tmp_path / 'x.npy'}",
                               "--threads", "2", "--spin", mode, "--repeat", "5"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    bad = subprocess.run([str(runtime.ronn_run), str(fixture_so), "--spin", "fast"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--spin needs auto, on or off" in bad.stderr


def test_ronn_aot_run_spin_flag(fixture_so: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ronn-aot run --spin auto|on|off` is InferenceSession(spin=None|True|False)."""
    from ronn_aot.cli import main

    seen: list[bool | None] = []
    real = ronn_runtime.InferenceSession

    def recording(*args: object, spin: bool | None = None, **kwargs: object) -> ronn_runtime.InferenceSession:
        seen.append(spin)
        return real(*args, spin=spin, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ronn_runtime, "InferenceSession", recording)
    np.save(tmp_path / "x.npy", random_input(5))
    for mode in ("auto", "on", "off"):
        assert main(["run", str(fixture_so), "--input", f"x={tmp_path / 'x.npy'}", "--threads", "2",
                     "--spin", mode]) == 0
    assert seen == [None, True, False]
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(fixture_so), "--spin", "fast"])
    assert exit_.value.code == 2
