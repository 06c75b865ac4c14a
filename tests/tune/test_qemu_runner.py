"""tools/qemu_runner.py: MetaSchedule's builder and runner for targets measured under qemu-user
(aarch64 here): candidates cross-linked, executed by the harness under the counting plugin, ranked
by guest instructions per call (reported as nominal seconds, 1 ns each)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from ronn_aot.errors import ToolchainError
from ronn_aot.targets import get_target
from ronn_aot.tools import qemu_runner

TARGET = get_target("aarch64")


@pytest.fixture(scope="module")
def tools() -> qemu_runner.QemuTools:
    """qemu, the cross toolchain, the harness and the plugin; skips where qemu or the toolchain is
    missing (as tests/cross does)."""
    try:
        return qemu_runner.QemuTools(TARGET)
    except ToolchainError as e:
        pytest.skip(str(e))


def _vector_add(n: int):
    import tvm
    from tvm.script import tirx as T

    @T.prim_func(s_tir=True)
    def main(a: T.Buffer((n,), "float32"), b: T.Buffer((n,), "float32"), c: T.Buffer((n,), "float32")):
        for i in range(n):
            with T.sblock("c"):
                vi = T.axis.spatial(n, i)
                c[vi] = a[vi] + b[vi] * T.float32(2)

    return tvm.IRModule({"main": main})


def test_counts_instructions_of_a_kernel_under_qemu(tools: qemu_runner.QemuTools) -> None:
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.builder import BuilderInput
    from tvm.s_tir.meta_schedule.runner import RunnerInput

    tvm_target = TARGET.tvm_target(2)
    mods = [_vector_add(4096), _vector_add(8192)]
    # The builder tune uses: the compile's TIR pipeline, linked by the cross compiler.
    builds = qemu_runner.cross_builder(TARGET, 1).build([BuilderInput(m, tvm_target) for m in mods])
    assert [b.error_msg for b in builds] == [None, None]
    runner = qemu_runner.qemu_runner(TARGET)
    futures = runner.run([RunnerInput(b.artifact_path, "cpu", ArgInfo.from_prim_func(m["main"]))
                          for b, m in zip(builds, mods)])
    results = [f.result() for f in futures]
    assert [r.error_msg for r in results] == [None, None]
    small, large = (float(r.run_secs[0]) / qemu_runner.SECONDS_PER_INSTRUCTION for r in results)
    # 4096 elements are at least 1024 4-lane adds; twice the elements, about twice the work (the
    # call's fixed cost is small), and start-up is not in either count.
    assert 1024 < small < 20 * 4096
    assert 1.8 * small < large < 2.2 * small
    # The candidates stay for MetaSchedule's RemoveBuildArtifact callback (which fails on a missing
    # folder), and the count is deterministic: the same again.
    again = tools.instructions_per_call(str(builds[0].artifact_path), ["float32:4096"] * 3)
    assert again == pytest.approx(small, rel=1e-6)
    for b in builds:
        shutil.rmtree(Path(b.artifact_path).parent)


def test_a_failing_candidate_is_a_failed_trial_not_an_exception(tools: qemu_runner.QemuTools,
                                                                tmp_path: Path) -> None:
    from tvm.s_tir.meta_schedule.runner import RunnerInput

    missing = tmp_path / "nothing.so"
    (future,) = qemu_runner.qemu_runner(TARGET).run([RunnerInput(str(missing), "cpu", [])])
    result = future.result()
    assert result.run_secs is None and "dlopen failed" in result.error_msg


def test_missing_qemu_names_the_package() -> None:
    absent = dataclasses.replace(TARGET, run=dataclasses.replace(TARGET.run, qemu="qemu-aarch64-not-installed"))
    with pytest.raises(ToolchainError, match="apt-get install qemu-user"):
        qemu_runner.QemuTools(absent)


def test_runner_follows_the_targets_run_mode() -> None:
    assert qemu_runner.uses_qemu(get_target("aarch64")) and qemu_runner.uses_qemu(get_target("aarch64-dotprod"))
    assert not qemu_runner.uses_qemu(get_target("x86_64-avx2"))
    assert qemu_runner.qemu_cpu(get_target("aarch64")) == "cortex-a72"
    assert qemu_runner.qemu_cpu(get_target("aarch64-dotprod")) == "cortex-a76"
