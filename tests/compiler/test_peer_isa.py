"""Benchmarks hide from onnxruntime and numpy what the target's devices lack (ronn_aot/tools/peer_isa.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ronn_aot.errors import RonnError
from ronn_aot.tools.peer_isa import HIDE_ENV, _host_flags, describe, masked_env

FLAGS = _host_flags()
needs_mask = pytest.mark.skipif(not {"avx512f", "cpuid_fault"} <= FLAGS,
                                reason="needs an AVX-512 host with CPUID faulting")

# What a child sees: numpy's own CPU detection, and CPUID executed after Python's faulthandler has
# installed its SIGSEGV handler (which must not swallow the faulted CPUIDs).
PROBE = """
import ctypes, faulthandler, numpy
faulthandler.enable()
from ronn_aot.tools.peer_isa import describe
feats = numpy._core._multiarray_umath.__cpu_features__
print(feats["AVX512F"], feats["AVX2"], ctypes.CDLL(None).ronn_cpuid_avx512f(), describe())
"""


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@needs_mask
def test_avx2_target_hides_avx512_from_the_peers() -> None:
    env = masked_env("x86_64-avx2")
    assert env is not None and env[HIDE_ENV] == "avx512"
    proc = _python(PROBE, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:3] == ["False", "True", "0"]
    assert "without avx512" in proc.stdout
    plain = _python("import numpy; print(numpy._core._multiarray_umath.__cpu_features__['AVX512F'])",
                    dict(os.environ))
    assert plain.stdout.strip() == "True"


@needs_mask
def test_real_faults_still_reach_the_other_handlers() -> None:
    env = masked_env("x86_64-avx2")
    assert env is not None
    proc = _python("import ctypes, faulthandler; faulthandler.enable(); ctypes.string_at(0)", env)
    assert proc.returncode == -11
    assert "Segmentation fault" in proc.stderr  # faulthandler's report: it got the fault


def test_no_child_when_nothing_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HIDE_ENV, raising=False)
    assert masked_env("x86_64-avx512") is None
    assert masked_env("x86_64-avx2", "host") is None
    with pytest.raises(RonnError, match="peer ISA must be one of"):
        masked_env("x86_64-avx2", "native")


def test_hiding_asked_for_but_not_in_effect_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HIDE_ENV, "avx512")  # as in a child whose LD_PRELOAD was lost
    with pytest.raises(RonnError, match="--peer-isa host"):
        describe()
    assert masked_env("x86_64-avx2") is None  # and no grandchild: the marker stops the recursion
