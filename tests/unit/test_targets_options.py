"""Targets are data; options are immutable builders."""

from __future__ import annotations

import platform

import pytest

from ronn_aot import CompileOptions, RonnError, UnknownTargetError
from ronn_aot.options import parse_input_shape
from ronn_aot.targets import all_targets, get_target


def test_required_targets_are_described() -> None:
    names = set(all_targets())
    assert {"x86_64-avx2", "x86_64-avx512", "aarch64"} <= names


def test_unknown_target_lists_known() -> None:
    with pytest.raises(UnknownTargetError, match="known targets: .*aarch64.*x86_64-avx2"):
        get_target("mips")


def test_host_alias() -> None:
    if platform.machine() == "x86_64":
        assert get_target("host").name == "x86_64-avx2"


def test_avx2_target_never_enables_avx512() -> None:
    t = get_target("x86_64-avx2")
    assert t.llvm["mcpu"] == "haswell" and "-avx512f" in t.llvm["mattr"]
    tvm_target = t.tvm_target()
    assert str(tvm_target.attrs["mtriple"]) == "x86_64-linux-gnu"


def test_aarch64_runs_under_qemu() -> None:
    t = get_target("aarch64")
    assert t.run.mode == "qemu" and t.llvm["mtriple"] == "aarch64-linux-gnu"


def test_options_builder_is_immutable() -> None:
    base = CompileOptions()
    o = base.with_target("aarch64").with_optimization_level(1).with_input_shape("x", [1, 2])
    assert (base.target, base.opt_level, dict(base.input_shapes)) == ("host", 3, {})
    assert (o.target, o.opt_level, dict(o.input_shapes)) == ("aarch64", 1, {"x": (1, 2)})


@pytest.mark.parametrize("text,expected", [("x=1,3,224,224", ("x", (1, 3, 224, 224))),
                                           ("a=b=2", ("a=b", (2,)))])
def test_parse_input_shape(text: str, expected: tuple) -> None:
    assert parse_input_shape(text) == expected


@pytest.mark.parametrize("text", ["x", "x=", "=1,2", "x=1,a"])
def test_parse_input_shape_errors(text: str) -> None:
    with pytest.raises(RonnError, match="NAME=D0,D1"):
        parse_input_shape(text)


def test_nonpositive_shape_rejected() -> None:
    with pytest.raises(RonnError, match="positive"):
        CompileOptions().with_input_shape("x", [1, 0])
