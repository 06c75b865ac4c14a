"""Broken artifacts are refused with the right status and message, and never crash the process:
missing, truncated, corrupted, wrong ABI, and plans whose offsets and indices are out of bounds."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import make_fixture
import pytest
import ronn_runtime
from runtime_helpers import RuntimeBuild, random_input
from ronn_aot.artifact.format import FOOTER_SIZE, append_footer, read_footer

# ronn_plan_header_v1 field offsets (artifact_abi.h)
VERSION, ARENA_SIZE, NUM_TENSORS = 4, 8, 16
TENSORS_OFFSET, STEPS_OFFSET, ARGS_OFFSET, STRINGS_SIZE, METADATA, STAGES_OFFSET = 32, 36, 48, 60, 64, 68
# ronn_plan_tensor_v1 (40 bytes) and ronn_plan_step_v1 (24 bytes) field offsets
T_STORAGE, T_NDIM, T_ALIGN, T_INDEX, T_SHAPE, T_OFFSET, T_NBYTES = 4, 7, 10, 12, 16, 24, 32
S_KIND, S_KERNEL, S_NUM_ARGS = 0, 4, 8


def load_error(path: Path, verify: bool = True) -> ronn_runtime.RonnRuntimeError:
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        ronn_runtime.InferenceSession(path, verify_integrity=verify)
    return err.value


def test_missing_file(tmp_path: Path, runtime: RuntimeBuild) -> None:
    err = load_error(tmp_path / "nope.so")
    assert err.code == "NOT_FOUND"
    assert "nope.so" in err.message and "No such file" in err.message


def test_directory_is_not_an_artifact(tmp_path: Path, runtime: RuntimeBuild) -> None:
    assert load_error(tmp_path).code == "IO_ERROR"


@pytest.mark.parametrize("keep", [0, 1, 95, 96, 4096, -1, -96, -97])
def test_truncated_file(artifact: Path, keep: int) -> None:
    data = artifact.read_bytes()
    artifact.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    err = load_error(artifact)
    assert err.code == "CORRUPT_ARTIFACT"
    assert "truncated" in err.message


def test_truncated_file_without_hash_check_is_still_refused(artifact: Path) -> None:
    data = artifact.read_bytes()
    artifact.write_bytes(data[:len(data) // 2] + data[-FOOTER_SIZE:])
    err = load_error(artifact, verify=False)
    assert err.code == "CORRUPT_ARTIFACT"
    assert "truncated or extended" in err.message


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_flipped_weight_byte_fails_the_hash(artifact: Path) -> None:
    footer = read_footer(artifact)
    flip(artifact, footer.weights_file_offset + 100)
    err = load_error(artifact)
    assert err.code == "CORRUPT_ARTIFACT"
    assert "SHA-256 mismatch" in err.message
    # The hash is what catches it: without it the model loads and computes with the bad weight.
    with ronn_runtime.InferenceSession(artifact, verify_integrity=False) as sess:
        x = random_input()
        y, _, _ = sess.run(None, {"x": x})
    assert (y != make_fixture.reference(x)[0]).any()


def test_bad_footer_magic(artifact: Path) -> None:
    flip(artifact, artifact.stat().st_size - FOOTER_SIZE)
    err = load_error(artifact)
    assert err.code == "CORRUPT_ARTIFACT"
    assert "bad magic" in err.message


def test_plain_shared_library_is_not_an_artifact(runtime: RuntimeBuild) -> None:
    err = load_error(runtime.library)
    assert err.code == "CORRUPT_ARTIFACT"


def test_footer_abi_mismatch(artifact: Path) -> None:
    data = bytearray(artifact.read_bytes())
    struct.pack_into("<I", data, len(data) - FOOTER_SIZE + 8, 2)
    artifact.write_bytes(bytes(data))
    err = load_error(artifact)
    assert err.code == "ABI_MISMATCH"
    assert "ABI version 2" in err.message and "recompile" in err.message


def test_artifact_speaking_another_abi(tmp_path: Path, runtime: RuntimeBuild) -> None:
    refuses = make_fixture.build(tmp_path / "abi2.so", defines=("FIXTURE_ABI_VERSION=2",))
    err = load_error(refuses)
    assert err.code == "ABI_MISMATCH"
    assert "does not speak artifact ABI version 1" in err.message
    answers = make_fixture.build(tmp_path / "abi2any.so",
                                 defines=("FIXTURE_ABI_VERSION=2", "FIXTURE_QUERY_ANY"))
    err = load_error(answers)
    assert err.code == "ABI_MISMATCH"
    assert "descriptor has ABI version 2" in err.message


def test_library_for_another_architecture(tmp_path: Path, runtime: RuntimeBuild) -> None:
    # An aarch64 ELF passes the footer checks and is refused by the dynamic loader.
    import shutil

    if shutil.which("aarch64-linux-gnu-gcc") is None:
        pytest.skip("aarch64-linux-gnu-gcc is not installed")
    path = make_fixture.build(tmp_path / "arm.so", cc="aarch64-linux-gnu-gcc",
                              strip="aarch64-linux-gnu-strip")
    err = load_error(path)
    assert err.code == "LOAD_FAILED"
    assert "another CPU architecture" in err.message


def patch_plan(path: Path, patches: list[tuple[int, str, int]]) -> None:
    """Write struct-packed values into the plan blob and re-seal the footer, so that only the
    plan checks (not the hash) can catch the corruption."""
    footer = read_footer(path)
    data = bytearray(path.read_bytes()[:-FOOTER_SIZE])
    for offset, fmt, value in patches:
        struct.pack_into(fmt, data, footer.plan_file_offset + offset, value)
    path.write_bytes(bytes(data))
    append_footer(path, (footer.plan_file_offset, footer.plan_size),
                  (footer.weights_file_offset, footer.weights_size), footer.code_size)


def plan_header(path: Path) -> dict[str, int]:
    footer = read_footer(path)
    blob = path.read_bytes()[footer.plan_file_offset:footer.plan_file_offset + footer.plan_size]
    names = ["magic", "version", "arena_size", "num_tensors", "num_steps", "num_inputs", "num_outputs",
             "tensors", "steps", "inputs", "outputs", "args", "shapes", "strings", "strings_size",
             "metadata", "stages"]
    return dict(zip(names, struct.unpack_from("<IIQIIIIIIIIIIIIII", blob)))


def tensor(h: dict[str, int], i: int, field: int) -> int:
    return h["tensors"] + 40 * i + field


def step(h: dict[str, int], i: int, field: int) -> int:
    return h["steps"] + 24 * i + field


CORRUPTIONS = {
    "magic": (lambda h: [(0, "<I", 0x12345678)], "bad magic"),
    "tensor count": (lambda h: [(NUM_TENSORS, "<I", 0xFFFFFFFF)], "tensor table"),
    "tensors offset": (lambda h: [(TENSORS_OFFSET, "<I", 0xFFFFFF00)], "tensor table"),
    "arena offset": (lambda h: [(tensor(h, 3, T_OFFSET), "<Q", h["arena_size"])], "outside the arena"),
    "arena nbytes": (lambda h: [(ARENA_SIZE, "<Q", 64)], "outside the arena"),
    "weights offset": (lambda h: [(tensor(h, 2, T_OFFSET), "<Q", 1 << 62)], "outside the weights"),
    "unaligned offset": (lambda h: [(tensor(h, 3, T_OFFSET), "<Q", 4)], "not 64-byte aligned"),
    "ndim": (lambda h: [(tensor(h, 0, T_NDIM), "<B", 200)], "dimensions"),
    "shape index": (lambda h: [(tensor(h, 5, T_SHAPE), "<I", 0x7FFFFFFF)], "shape pool"),
    "nbytes": (lambda h: [(tensor(h, 5, T_NBYTES), "<Q", 8)], "does not match its shape"),
    "storage": (lambda h: [(tensor(h, 3, T_STORAGE), "<B", 9)], "unknown storage kind 9"),
    "io index": (lambda h: [(tensor(h, 4, T_INDEX), "<I", 7)], "not stored as that graph input/output"),
    "kernel index": (lambda h: [(step(h, 0, S_KERNEL), "<I", 7)], "calls kernel 7"),
    "step kind": (lambda h: [(step(h, 1, S_KIND), "<I", 5)], "unknown kind 5"),
    "arg count": (lambda h: [(step(h, 2, S_NUM_ARGS), "<I", 0x10000000)], "outside the args pool"),
    "arg tensor": (lambda h: [(h["args"] + 4, "<I", 99)], "argument tensor 99 is out of range"),
    "copy into weights": (lambda h: [(h["args"] + 4 * 5, "<I", 1)], "read-only"),
    "string offset": (lambda h: [(METADATA, "<I", h["strings_size"] + 3)], "NUL-terminated"),
    "string pool size": (lambda h: [(STRINGS_SIZE, "<I", 0xFFFFFF)], "string table"),
    "stage": (lambda h: [(h["stages"] + 8, "<Q", 8)], "staging area"),
    "input alignment": (lambda h: [(tensor(h, 0, T_ALIGN), "<H", 12)], "alignment 12"),
    "input alignment over 64": (lambda h: [(tensor(h, 0, T_ALIGN), "<H", 128)], "alignment 128"),
    "arena alignment": (lambda h: [(tensor(h, 3, T_ALIGN), "<H", 4)], "of a graph input"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corrupted_plan_is_refused(artifact: Path, name: str) -> None:
    patches, message = CORRUPTIONS[name]
    patch_plan(artifact, patches(plan_header(artifact)))
    err = load_error(artifact)
    assert err.code == "CORRUPT_ARTIFACT", err
    assert "invalid execution plan" in err.message and message in err.message, err.message


def test_plan_version_mismatch(artifact: Path) -> None:
    patch_plan(artifact, [(VERSION, "<I", 2)])
    err = load_error(artifact)
    assert err.code == "ABI_MISMATCH"
    assert "execution plan version 2" in err.message


FUZZ = textwrap.dedent("""
    import os, sys, numpy as np
    sys.path.insert(0, sys.argv[4])
    import ronn_runtime
    src, workdir, (start, size) = sys.argv[1], sys.argv[2], map(int, sys.argv[3].split(","))
    original = open(src, "rb").read()
    x = np.zeros((4, 256), np.float32)
    outcomes = {}
    for i in range(start, start + size):
        if start + 11 <= i < start + 16:
            continue  # an arena_size of gigabytes is valid, only slow to allocate and clear
        data = bytearray(original)
        data[i] ^= 0xFF
        path = os.path.join(workdir, f"m{i}.so")
        open(path, "wb").write(data)
        try:
            with ronn_runtime.InferenceSession(path, num_threads=2, verify_integrity=False) as s:
                s.run(None, {"x": x})
            outcome = "ran"
        except ronn_runtime.RonnRuntimeError as e:
            outcome = e.code
        os.unlink(path)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(outcomes)
""")


def test_every_flipped_plan_byte_is_survived(artifact: Path, tmp_path: Path, runtime: RuntimeBuild) -> None:
    """With the hash check off, flip each byte of the plan in turn: loading and running must
    end in success or an error status, never a crash."""
    footer = read_footer(artifact)
    env = dict(os.environ, RONN_RUNTIME_LIBRARY=str(runtime.library))
    proc = subprocess.run([sys.executable, "-c", FUZZ, str(artifact), str(tmp_path),
                           f"{footer.plan_file_offset},{footer.plan_size}",
                           str(make_fixture.REPO / "runtime_min" / "python")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"crashed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    outcomes = eval(proc.stdout)
    assert outcomes.get("CORRUPT_ARTIFACT", 0) > footer.plan_size // 4, outcomes
