"""The ronn-aot wheel carries what compiling needs (targets, tuning records, the ABI header, every
subpackage) and the runtime library, and compiles and runs from outside the checkout."""

from __future__ import annotations

import platform
import textwrap
from pathlib import Path

import numpy as np
import pytest
from packaging_helpers import (EM_AARCH64, EM_X86_64, REPO, elf_machine, glibc_tag, make_venv, pip_install,
                               platform_tag, run, wheel_names)


def _in_wheel(folder: str, package: str, pattern: str) -> set[str]:
    """Names in the wheel of the checkout's `folder/pattern` files, `folder` mapped to `package`."""
    return {f"{package}/{p.relative_to(REPO / folder)}" for p in (REPO / folder).glob(pattern)}


def test_compiler_wheel_carries_targets_records_header_and_library(compiler_wheel: Path) -> None:
    names = wheel_names(compiler_wheel)
    expected = (_in_wheel("targets", "ronn_aot/targets_data", "*.toml")
                | _in_wheel("schedules", "ronn_aot/schedules", "*/database_*.json")
                | _in_wheel("schedules", "ronn_aot/schedules", "*/rule_baselines.json")
                | _in_wheel("runtime_min/include", "ronn_aot/include", "ronn/*.h")
                # Every subpackage ships: the package list is discovered, not kept by hand.
                | _in_wheel("ronn_aot", "ronn_aot", "**/__init__.py")
                | _in_wheel("schedules", "ronn_aot/schedules", "**/__init__.py")
                | {"ronn_runtime/libronn_runtime.so", "ronn_runtime/__init__.py", "ronn_aot/resources.py"})
    assert any(n.startswith("ronn_aot/targets_data/x86_64-avx2") for n in expected)
    assert not expected - names, f"missing from {compiler_wheel.name}: {sorted(expected - names)}"
    assert glibc_tag(platform_tag(compiler_wheel), platform.machine()), compiler_wheel.name
    assert compiler_wheel.name.split("-")[2:4] == ["py3", "none"]


def _tiny_model(path: Path) -> None:
    from onnx import TensorProto, helper, save

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "r"], ["y"])],
                              "tiny", [x], [y])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.packaging
def test_installed_compiler_compiles_and_runs_outside_the_checkout(compiler_wheel: Path, tmp_path: Path) -> None:
    # TVM, onnx and numpy come from this test's environment (one .pth line, so its editable
    # install of the checkout stays invisible); ronn_aot and ronn_runtime only from the wheel.
    deps = Path(np.__file__).resolve().parents[1]
    python = make_venv(tmp_path / "venv", [deps])
    pip_install(python, compiler_wheel, "--no-deps", "--ignore-installed")
    work = tmp_path / "elsewhere"
    work.mkdir()
    _tiny_model(work / "tiny.onnx")
    ronn_aot_cli = str(python.parent / "ronn-aot")
    for target in ("x86_64-avx2", "aarch64"):
        run([ronn_aot_cli, "compile", "tiny.onnx", "--target", target], cwd=work)
    # The default output is the current folder.
    assert elf_machine(work / "tiny-x86_64-avx2.so") == EM_X86_64
    assert elf_machine(work / "tiny-aarch64.so") == EM_AARCH64
    script = textwrap.dedent("""
        import importlib.resources, numpy as np, ronn_aot, ronn_runtime
        print(ronn_aot.__file__); print(ronn_runtime.library_path())
        print(importlib.resources.files("ronn_aot.schedules") / "x86_64-avx2" / "rule_baselines.json")
        x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)
        (y,) = ronn_runtime.InferenceSession("tiny-x86_64-avx2.so").run(None, {"x": x})
        np.testing.assert_array_equal(y, 2 * np.maximum(x, 0))
    """)
    found = [Path(p).resolve() for p in run([str(python), "-c", script], cwd=work).split()]
    assert all(p.is_file() and p.is_relative_to((tmp_path / "venv").resolve()) for p in found), found
