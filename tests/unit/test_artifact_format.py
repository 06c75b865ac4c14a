"""The pure-Python artifact format: plan round trip, footer integrity (no TVM needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ronn_aot.artifact.format import (FOOTER_SIZE, ArtifactFormatError, Plan, PlanStep, PlanTensor, StepKind,
                                      Storage, append_footer, decode_plan, encode_plan, read_footer)


def sample_plan() -> Plan:
    tensors = [PlanTensor("x", Storage.INPUT, "float32", (1, 3, 4)),
               PlanTensor("", Storage.WEIGHTS, "int8", (12,), 64),
               PlanTensor("", Storage.ARENA, "float16", (), 128),
               PlanTensor("y", Storage.OUTPUT, "int64", (2, 5), 0, 0)]
    steps = [PlanStep(StepKind.KERNEL, [0, 1, 2], "k0", 0), PlanStep(StepKind.COPY, [2, 3], "c")]
    return Plan(tensors, steps, [0], [3], 4096, [0, 64], {"target": "x", "n": [1, 2]})


def test_plan_round_trip() -> None:
    plan = sample_plan()
    assert decode_plan(encode_plan(plan)) == plan


def test_tensor_nbytes() -> None:
    assert PlanTensor("", Storage.ARENA, "float16", (3, 5)).nbytes == 30
    assert PlanTensor("", Storage.ARENA, "bool", (7,)).nbytes == 7
    assert PlanTensor("", Storage.ARENA, "float32", ()).nbytes == 4


@pytest.mark.parametrize("cut", [0, 10, 71, 100])
def test_truncated_plan_is_rejected(cut: int) -> None:
    with pytest.raises(ArtifactFormatError):
        decode_plan(encode_plan(sample_plan())[:cut])


def test_bad_plan_magic() -> None:
    blob = bytearray(encode_plan(sample_plan()))
    blob[0] ^= 0xFF
    with pytest.raises(ArtifactFormatError, match="magic"):
        decode_plan(bytes(blob))


def test_footer_detects_any_flipped_byte_and_truncation(tmp_path: Path) -> None:
    f = tmp_path / "a.so"
    payload = bytes(range(256)) * 40
    f.write_bytes(payload)
    footer = append_footer(f, (100, 50), (200, 300), 1234)
    assert read_footer(f) == footer
    assert f.stat().st_size == len(payload) + FOOTER_SIZE
    data = bytearray(f.read_bytes())
    data[250] ^= 1
    f.write_bytes(bytes(data))
    with pytest.raises(ArtifactFormatError, match="SHA-256"):
        read_footer(f)
    f.write_bytes(bytes(data[:-10]))
    with pytest.raises(ArtifactFormatError):
        read_footer(f)
