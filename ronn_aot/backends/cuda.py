"""Stage 6b, codegen for CUDA targets: the device kernels become CUDA C (TVM's codegen), then PTX
(nvcc) and a cubin for the target's architecture (ptxas), both compiled here at build time; the
host side of each kernel (argument checks, then one launch per device function) is LLVM code for
the host, calling the launch hooks that runtime_min provides.

Nothing here links against a CUDA library: the artifact only embeds the images and the launch
descriptors (`artifact_format.DeviceModule`), and the runtime loads the driver with dlopen.
"""

from __future__ import annotations

import importlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifact.format import DL_CUDA, DeviceImage, DeviceKernel, DeviceModule, ImageFormat, LaunchTag, ParamKind
from .llvm_cpu import kernel_symbol
from ..errors import CompilationError, ToolchainError
from ..targets import CudaSpec

_SCALAR_KINDS = {"int32": ParamKind.INT32, "int64": ParamKind.INT64, "float32": ParamKind.FLOAT32,
                 "float64": ParamKind.FLOAT64}


@dataclass
class DeviceBuild:
    host_object: Path  # the launch glue of every device kernel (LLVM, host target)
    module: DeviceModule  # images and launch descriptors; arena_size is set by the caller
    cuda_source: str


def _param_kind(param: Any, kernel: str) -> ParamKind:
    import tvm

    if isinstance(param.ty, tvm.ir.PointerType):
        return ParamKind.POINTER
    dtype = str(param.ty.dtype)
    if dtype not in _SCALAR_KINDS:
        raise CompilationError(f"device kernel {kernel}: parameter {param.name} has type {dtype}, "
                               f"which launches cannot pass (supported: pointers, {sorted(_SCALAR_KINDS)})")
    return _SCALAR_KINDS[dtype]


def _lower(funcs: dict[Any, Any], target: Any) -> tuple[Any, Any]:
    """TVM's own TIR pipeline for the target, split into (host module, device module)."""
    import tvm

    build_mod = importlib.import_module("tvm.tirx.build")  # `tvm.tirx.build` is the function
    mod = tvm.tirx.transform.BindTarget(target.with_host(target.host))(tvm.IRModule(funcs))
    pipeline, finalize_host, finalize_device = tvm.tirx.get_default_tir_pipeline(target)
    mod = pipeline(mod)
    host_mod, device_mods = build_mod.split_host_device_mods(mod)
    if len(device_mods) != 1:
        raise CompilationError(f"expected one device module after splitting, got {len(device_mods)}")
    (device_mod,) = device_mods.values()
    return finalize_host()(host_mod), finalize_device()(device_mod)


def _kernels(device_mod: Any) -> list[DeviceKernel]:
    kernels = []
    for gv, func in sorted(device_mod.functions.items(), key=lambda kv: kv[0].name_hint):
        name = str(func.attrs.get("global_symbol", gv.name_hint))
        tags = [LaunchTag.from_tvm(str(t)) for t in func.attrs.get("tirx.kernel_launch_params", [])]
        kernels.append(DeviceKernel(name, [_param_kind(p, name) for p in func.params], tags))
    return kernels


def _legal_names(source: str, device_mod: Any) -> str:
    """Rename kernel parameters that are not C identifiers in the CUDA source.

    TVM's CUDA codegen prints parameter names as they are, and they come from ONNX tensor names
    ("gpu_0/data_0" becomes `float* gpu_0/data_0_ptr`); LLVM does not mind, nvcc does."""
    taken = set(re.findall(r"[A-Za-z_]\w*", source))
    for func in device_mod.functions.values():
        for param in func.params:
            name = str(param.name)
            if re.fullmatch(r"[A-Za-z_]\w*", name):
                continue
            legal = re.sub(r"\W", "_", name)
            while legal in taken:
                legal += "_"
            taken.add(legal)
            source = re.sub(rf"(?<![\w/.]){re.escape(name)}(?![\w/.])", legal, source)
    return source


def _run(cmd: list[str], what: str, cwd: Path) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if "error" in line] or proc.stderr.splitlines()
        raise ToolchainError(f"{what} failed ({' '.join(cmd[:4])} ...):\n" + "\n".join(errors[:20]))


def compile_cuda_images(source: str, spec: CudaSpec, workdir: Path) -> list[DeviceImage]:
    """PTX with nvcc, then a cubin for `spec.arch` with ptxas; PTX is kept when `spec.ptx` is set."""
    nvcc, ptxas = spec.require()
    cu, ptx, cubin = workdir / "kernels.cu", workdir / "kernels.ptx", workdir / "kernels.cubin"
    cu.write_text(source)
    virtual = spec.ptx or spec.arch.replace("sm_", "compute_")
    _run([nvcc, "-ptx", f"-arch={virtual}", "-O3", "-o", str(ptx), str(cu)],
         f"compiling the device kernels to PTX with {spec.nvcc}", workdir)
    _run([ptxas, f"-arch={spec.arch}", "-O3", "-o", str(cubin), str(ptx)],
         f"assembling the {spec.arch} cubin with ptxas", workdir)
    images = [DeviceImage(ImageFormat.CUBIN, spec.sm, cubin.read_bytes())]
    if spec.ptx:
        images.append(DeviceImage(ImageFormat.PTX, int(virtual.removeprefix("compute_").rstrip("a")),
                                  ptx.read_bytes() + b"\0"))
    return images


def compile_device_kernels(mod: Any, kernel_names: list[str], on_device: set[str], target: Any,
                           spec: CudaSpec, workdir: Path) -> DeviceBuild:
    """Build the device kernels among `kernel_names` (kernel-table order gives their symbols)."""
    import tvm

    funcs = {}
    for i, name in enumerate(kernel_names):
        if name in on_device:
            sym = kernel_symbol(i, name)
            funcs[tvm.ir.GlobalVar(sym)] = mod[mod.get_global_var(name)].with_attr("global_symbol", sym)
    try:
        with target, tvm.transform.PassContext(opt_level=3):
            host_mod, device_mod = _lower(funcs, target)
            host_lib = tvm.get_global_func("target.build.llvm")(host_mod, target.host)
            source = _legal_names(tvm.get_global_func("target.build.cuda")(device_mod, target).inspect_source(),
                                  device_mod)
    except CompilationError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise CompilationError(f"CUDA code generation failed: {msg}") from e
    host_obj = workdir / "device_launch.o"
    host_lib.write_to_file(str(host_obj))
    module = DeviceModule(DL_CUDA, compile_cuda_images(source, spec, workdir), _kernels(device_mod), 0)
    return DeviceBuild(host_obj, module, source)


def lowering_error(func: Any, target: Any) -> str | None:
    """Why TVM's CUDA pipeline refuses a scheduled kernel (e.g. a loop not bound to GPU threads),
    or None when it lowers: the schedule stage's test of whether a kernel can run on the device."""
    import tvm

    try:
        with target, tvm.transform.PassContext(opt_level=3):
            _lower({tvm.ir.GlobalVar("probe"): func.with_attr("global_symbol", "probe")}, target)
    except Exception as e:
        return str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return None
