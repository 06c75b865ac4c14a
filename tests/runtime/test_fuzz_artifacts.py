"""A fast subset of `python -m bench.fuzz artifacts`: mutated and re-sealed artifacts (plan,
footer, signature, weights, truncation) into runtime_min through its load_run driver in child
processes; only status codes may come out, never a crash or a hang. The long run is
`python -m bench.fuzz artifacts --count 10000 --sanitize`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import ronn_runtime
from ronn_aot.artifact.format import FOOTER_SIZE

from bench.fuzz.cli import main

COUNT = int(os.environ.get("RONN_FUZZ_ARTIFACTS", "300"))


def test_mutated_artifacts_give_only_status_codes(runtime: object, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["artifacts", "--count", str(COUNT), "--seed", "7", "--out", str(tmp_path / "findings"),
                 "--build", str(tmp_path / "build"), "--batch", "100"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "findings (crashes, hangs, other exceptions): 0" in out
    assert "CORRUPT_ARTIFACT" in out and "OK" in out  # refused ones, and harmless edits that run


def test_truncated_resealed_artifact_is_refused_before_dlopen(artifact: Path) -> None:
    """The dynamic loader maps segments without checking the file's size: touching one past the
    end of a truncated file would raise SIGBUS inside dlopen. The runtime checks the program
    headers first."""
    data = bytearray(artifact.read_bytes())
    cut = (len(data) - FOOTER_SIZE) * 2 // 3
    footer = data[-FOOTER_SIZE:]
    footer[16:24] = cut.to_bytes(8, "little")
    footer[-32:] = hashlib.sha256(bytes(data[:cut])).digest()
    artifact.write_bytes(bytes(data[:cut] + footer))
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        ronn_runtime.InferenceSession(artifact)
    assert err.value.code == "CORRUPT_ARTIFACT"
    assert "truncated" in err.value.message or "ELF" in err.value.message


def test_arena_bomb_is_refused_before_allocating(artifact: Path) -> None:
    """A re-sealed plan asking for a 4 GiB arena its tensors never reach: refused at load (a
    session would otherwise allocate and clear it; the fuzzer found this as a 14-second 'hang')."""
    from ronn_aot.artifact.format import read_footer

    data = bytearray(artifact.read_bytes())
    plan = read_footer(artifact).plan_file_offset
    data[plan + 8:plan + 16] = (1 << 32).to_bytes(8, "little")  # ronn_plan_header_v1.arena_size
    data[-32:] = hashlib.sha256(bytes(data[:-FOOTER_SIZE])).digest()
    artifact.write_bytes(bytes(data))
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        ronn_runtime.InferenceSession(artifact)
    assert err.value.code == "CORRUPT_ARTIFACT" and "refused before allocating" in err.value.message


def test_kernel_writing_into_the_weights_is_refused(artifact: Path) -> None:
    """Kernels take their outputs last; a re-sealed plan pointing a kernel's last argument at the
    weights (mapped read-only from the file) crashed the process with a write fault (found by
    the 10,000-artifact run on a compiled embedding model)."""
    import struct

    from ronn_aot.artifact.format import Storage, decode_plan, read_footer

    data = bytearray(artifact.read_bytes())
    footer = read_footer(artifact)
    base = footer.plan_file_offset
    plan = decode_plan(bytes(data[base:base + footer.plan_size]))
    weights = next(i for i, t in enumerate(plan.tensors) if t.storage == Storage.WEIGHTS)
    steps_offset = struct.unpack_from("<I", data, base + 36)[0]
    args_offset = struct.unpack_from("<I", data, base + 48)[0]
    kind, _kernel, num_args, first = struct.unpack_from("<IIII", data, base + steps_offset)
    assert kind == 0 and num_args > 0
    struct.pack_into("<I", data, base + args_offset + 4 * (first + num_args - 1), weights)
    data[-32:] = hashlib.sha256(bytes(data[:-FOOTER_SIZE])).digest()
    artifact.write_bytes(bytes(data))
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        ronn_runtime.InferenceSession(artifact)
    assert err.value.code == "CORRUPT_ARTIFACT" and "read-only" in err.value.message
