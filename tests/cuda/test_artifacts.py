"""CUDA artifacts build for sm_80 and sm_90 and have the right structure: a cubin for the target's
architecture and PTX, a complete kernel table, device records only where device kernels run,
and a host side that links no CUDA library. Runs without a GPU."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import onnx
import pytest

from cuda_helpers import CUDA_TARGETS, EFFICIENTNET, EM_CUDA, LIGHT, ptx_entries, read_cubin
from graphs import attention_block
from ronn_aot.artifact.format import ImageFormat, Storage, StepKind, read_device_module, read_plan
from ronn_aot.targets import get_target

ALLOWED_NEEDED = re.compile(r"(libc|libm|libpthread|libdl)\.so\.\d+|ld-linux[-\w.]*\.so\.\d+")
# Small light-zoo models in the default run; the other ones (some with hundreds of MB of
# weights) only with -m slow.
DEFAULT_ZOO = {"squeezenet": "cuda-sm90", "shufflenet": "cuda-sm80"}
ALL_ZOO = sorted(p.stem.removeprefix("light_") for p in LIGHT.glob("light_*.onnx"))


def check_artifact(art: Any, target_name: str) -> None:
    """Every structural property a CUDA artifact must have."""
    spec = get_target(target_name).cuda
    assert spec is not None
    module = read_device_module(art.path)
    assert module is not None, f"{art.path.name} has no device module"
    plan = read_plan(art.path)

    # A cubin for exactly the target's architecture, and PTX for newer GPUs.
    cubin_image = module.image(ImageFormat.CUBIN)
    ptx_image = module.image(ImageFormat.PTX)
    assert cubin_image is not None and ptx_image is not None
    assert cubin_image.arch == spec.sm and ptx_image.arch == spec.sm
    cubin = read_cubin(cubin_image.data)
    assert cubin.machine == EM_CUDA, f"cubin e_machine {cubin.machine}, expected EM_CUDA"
    assert cubin.has_arch(spec.sm), f"cubin e_flags {cubin.flags:#x} do not name sm_{spec.sm}"
    ptx_target, ptx_kernels = ptx_entries(ptx_image.data)
    assert ptx_target == spec.arch

    # Kernel table complete: every device kernel is in the cubin and in the PTX, and every kernel
    # step on device records belongs to a kernel with device functions.
    names = {k.name for k in module.kernels}
    assert names and names <= cubin.functions, f"missing in the cubin: {names - cubin.functions}"
    assert names <= ptx_kernels, f"missing in the PTX: {names - ptx_kernels}"
    device_kernels = {int(re.match(r"ronn_k(\d+)_", n).group(1)) for n in names}  # type: ignore[union-attr]
    host_kernels = set(art.schedule_report.device_of) - art.schedule_report.on_device()
    for step in plan.steps:
        storages = {plan.tensors[a].storage for a in step.args}
        if step.kind == StepKind.KERNEL and step.kernel in device_kernels:
            assert storages <= {Storage.DEVICE_ARENA, Storage.DEVICE_WEIGHTS}, (step.name, storages)
        elif step.kind == StepKind.KERNEL:
            assert step.name in host_kernels and not any(s.on_device for s in storages), step.name
    for t in plan.tensors:
        if t.storage == Storage.DEVICE_ARENA:
            assert t.offset % 64 == 0 and t.offset + t.nbytes <= module.arena_size
    for k in module.kernels:
        assert k.launch, f"{k.name} has no launch dimensions"

    # The host side links only the C library family and calls no CUDA API: the runtime dlopens
    # the driver and launches through the device hooks.
    out = subprocess.run(["readelf", "-d", str(art.path)], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    assert all(ALLOWED_NEEDED.fullmatch(n) for n in needed), needed
    symbols = subprocess.run(["readelf", "--dyn-syms", "-W", str(art.path)], capture_output=True, text=True,
                             check=True).stdout
    undefined = {line.split()[-1] for line in symbols.splitlines() if " UND " in line and line.split()[-1] != "UND"}
    assert not {u for u in undefined if u.startswith("cu")}, undefined


@pytest.mark.parametrize("target", CUDA_TARGETS)
def test_transformer_block(cuda_compile: Any, target: str) -> None:
    model, _ = attention_block()
    art = cuda_compile("attention", model, target)
    check_artifact(art, target)
    # Everything runs on the GPU: the input goes up once and the output comes down once.
    assert art.schedule_report.on_device() == set(art.schedule_report.device_of)
    assert (art.placement.copies_to_device, art.placement.copies_to_host) == (1, 1)


@pytest.mark.parametrize("target", CUDA_TARGETS)
def test_efficientnet_lite0(cuda_compile: Any, target: str) -> None:
    art = cuda_compile("efficientnet_lite0", str(EFFICIENTNET), target)
    check_artifact(art, target)
    assert len(art.schedule_report.on_device()) == art.num_kernels


@pytest.mark.parametrize("name", sorted(DEFAULT_ZOO))
def test_light_zoo_default(cuda_compile: Any, name: str) -> None:
    target = DEFAULT_ZOO[name]
    check_artifact(cuda_compile(name, onnx.load(str(LIGHT / f"light_{name}.onnx")), target), target)


@pytest.mark.slow
@pytest.mark.parametrize("target", CUDA_TARGETS)
@pytest.mark.parametrize("name", ALL_ZOO)
def test_light_zoo(cuda_compile: Any, name: str, target: str) -> None:
    check_artifact(cuda_compile(name, onnx.load(str(LIGHT / f"light_{name}.onnx")), target), target)


def test_report_says_where_kernels_run(cuda_compile: Any) -> None:
    from ronn_aot.tools.report import format_compile_report

    model, _ = attention_block()
    report = format_compile_report(cuda_compile("attention", model, "cuda-sm90"))
    assert re.search(r"device: \d+ kernel\(s\) on the GPU, 0 on the host", report)
    assert "softmax" in report and "cubin 90" in report
