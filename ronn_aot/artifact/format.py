"""Byte layout of ronn-aot artifacts: the plan blob and the file footer.

This module mirrors ``runtime_min/include/ronn/artifact_abi.h`` (ABI v1) in pure Python. It
imports neither TVM nor the rest of the compiler, so inspection tools and runtime tests can use
it on any machine, including for artifacts built for another CPU architecture.

Artifacts for a GPU target also carry the optional device module (a pointer-free blob in the ELF
section ``.ronn_device``: cubin/PTX images and one launch descriptor per device kernel); CPU
artifacts are byte-for-byte what they were before it existed.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from ..errors import ArtifactError

ABI_VERSION = 1
PLAN_MAGIC = 0x4E4C5052  # "RPLN"
FOOTER_MAGIC = b"RONNAOT1"
ALIGN = 64  # kernels assume 64-byte aligned tensor data

_HEADER = struct.Struct("<IIQIIIIIIIIIIIIII")  # ronn_plan_header_v1, 72 bytes
_TENSOR = struct.Struct("<IBBBBHHIIIQQ")  # ronn_plan_tensor_v1, 40 bytes
_STEP = struct.Struct("<IIIIII")  # ronn_plan_step_v1, 24 bytes
_FOOTER = struct.Struct("<8sIIQQQQQQ32s")  # ronn_artifact_footer_v1, 96 bytes
assert _HEADER.size == 72 and _TENSOR.size == 40 and _STEP.size == 24 and _FOOTER.size == 96

FOOTER_SIZE = _FOOTER.size


class Storage(IntEnum):
    ARENA = 0
    WEIGHTS = 1
    INPUT = 2
    OUTPUT = 3
    DEVICE_ARENA = 4  # the device arena (artifacts with a device module only)
    DEVICE_WEIGHTS = 5  # the device's copy of the weights blob, same offsets

    @property
    def on_device(self) -> bool:
        return self in (Storage.DEVICE_ARENA, Storage.DEVICE_WEIGHTS)


class StepKind(IntEnum):
    KERNEL = 0
    COPY = 1


class ArtifactFormatError(ArtifactError, ValueError):
    """The bytes do not follow the artifact format (truncated, corrupted or another version)."""


# DLPack type codes, with the numpy spelling of each supported element type.
_DTYPES: dict[str, tuple[int, int]] = {
    "float16": (2, 16), "float32": (2, 32), "float64": (2, 64), "bfloat16": (4, 16),
    "int8": (0, 8), "int16": (0, 16), "int32": (0, 32), "int64": (0, 64),
    "uint8": (1, 8), "uint16": (1, 16), "uint32": (1, 32), "uint64": (1, 64), "bool": (6, 8),
}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}


def dtype_to_dl(dtype: str) -> tuple[int, int]:
    """(DLPack code, bits) of a dtype name such as 'float32'."""
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ArtifactFormatError(
            f"dtype {dtype!r} cannot be stored in an artifact; supported: {sorted(_DTYPES)}"
        ) from None


def dl_to_dtype(code: int, bits: int) -> str:
    try:
        return _DTYPE_NAMES[(code, bits)]
    except KeyError:
        raise ArtifactFormatError(f"unknown DLPack dtype code={code} bits={bits}") from None


def align_up(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


def tensor_nbytes(dtype: str, shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n * dtype_to_dl(dtype)[1] // 8


@dataclass
class PlanTensor:
    name: str
    storage: Storage
    dtype: str
    shape: tuple[int, ...]
    offset: int = 0
    index: int = 0
    # Graph inputs only: the byte alignment the kernels reading this tensor assume, 0 for ALIGN.
    # A caller's input aligned to it is read in place; any other is staged (see input_alignment).
    align: int = 0

    @property
    def nbytes(self) -> int:
        return tensor_nbytes(self.dtype, self.shape)


@dataclass
class PlanStep:
    kind: StepKind
    args: list[int]
    name: str
    kernel: int = 0


@dataclass
class Plan:
    """The execution plan: what the runtime runs, in order, and where every tensor lives."""

    tensors: list[PlanTensor]
    steps: list[PlanStep]
    inputs: list[int]
    outputs: list[int]
    arena_size: int
    stages: list[int]  # arena offsets staging each input, then each output
    metadata: dict[str, Any] = field(default_factory=dict)


class _Strings:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")  # offset 0 is the empty string
        self.index: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self.index[s]


def encode_plan(plan: Plan) -> bytes:
    """Serialize a Plan into the ABI v1 plan blob."""
    strings = _Strings()
    shapes: list[int] = []
    tensor_bytes = bytearray()
    for t in plan.tensors:
        code, bits = dtype_to_dl(t.dtype)
        shape_index = len(shapes)
        shapes.extend(t.shape)
        tensor_bytes += _TENSOR.pack(strings.add(t.name), int(t.storage), code, bits, len(t.shape),
                                     1, t.align, t.index, shape_index, 0, t.offset, t.nbytes)
    args: list[int] = []
    step_bytes = bytearray()
    for s in plan.steps:
        step_bytes += _STEP.pack(int(s.kind), s.kernel, len(s.args), len(args), strings.add(s.name), 0)
        args.extend(s.args)
    metadata = strings.add(json.dumps(plan.metadata, sort_keys=True))

    def u32s(xs: list[int]) -> bytes:
        return struct.pack(f"<{len(xs)}I", *xs)

    sections: list[bytes] = [
        bytes(tensor_bytes), bytes(step_bytes), u32s(plan.inputs), u32s(plan.outputs), u32s(args),
        struct.pack(f"<{len(shapes)}q", *shapes), struct.pack(f"<{len(plan.stages)}Q", *plan.stages),
        bytes(strings.data),
    ]
    offsets = []
    pos = _HEADER.size
    body = bytearray()
    for sec in sections:
        pad = align_up(pos, 8) - pos
        body += b"\0" * pad
        pos += pad
        offsets.append(pos)
        body += sec
        pos += len(sec)
    t_off, s_off, i_off, o_off, a_off, sh_off, st_off, str_off = offsets
    header = _HEADER.pack(PLAN_MAGIC, ABI_VERSION, plan.arena_size, len(plan.tensors), len(plan.steps),
                          len(plan.inputs), len(plan.outputs), t_off, s_off, i_off, o_off, a_off,
                          sh_off, str_off, len(strings.data), metadata, st_off)
    return header + bytes(body)


def decode_plan(blob: bytes) -> Plan:
    """Parse a plan blob, checking bounds; raises ArtifactFormatError on any inconsistency."""
    if len(blob) < _HEADER.size:
        raise ArtifactFormatError("plan blob is shorter than its header")
    (magic, version, arena, nt, ns, ni, no, t_off, s_off, i_off, o_off, a_off, sh_off, str_off,
     str_size, meta_off, st_off) = _HEADER.unpack_from(blob, 0)
    if magic != PLAN_MAGIC:
        raise ArtifactFormatError("plan blob has a bad magic number")
    if version != ABI_VERSION:
        raise ArtifactFormatError(f"plan is ABI version {version}, this tool reads {ABI_VERSION}")
    try:
        strings = blob[str_off:str_off + str_size]

        def string(off: int) -> str:
            end = strings.index(b"\0", off)
            return strings[off:end].decode()

        tensors = []
        for i in range(nt):
            (name, storage, code, bits, ndim, _lanes, align, index, shape_i, _r1, offset,
             _nbytes) = _TENSOR.unpack_from(blob, t_off + i * _TENSOR.size)
            shape = struct.unpack_from(f"<{ndim}q", blob, sh_off + 8 * shape_i)
            tensors.append(PlanTensor(string(name), Storage(storage), dl_to_dtype(code, bits),
                                      tuple(shape), offset, index, align))
        steps = []
        for i in range(ns):
            kind, kernel, nargs, args_i, name, _r = _STEP.unpack_from(blob, s_off + i * _STEP.size)
            args = list(struct.unpack_from(f"<{nargs}I", blob, a_off + 4 * args_i))
            steps.append(PlanStep(StepKind(kind), args, string(name), kernel))
        inputs = list(struct.unpack_from(f"<{ni}I", blob, i_off))
        outputs = list(struct.unpack_from(f"<{no}I", blob, o_off))
        stages = list(struct.unpack_from(f"<{ni + no}Q", blob, st_off))
        metadata = json.loads(string(meta_off))
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as e:
        raise ArtifactFormatError(f"plan blob is corrupted: {e}") from e
    return Plan(tensors, steps, inputs, outputs, arena, stages, metadata)


@dataclass(frozen=True)
class Footer:
    abi_version: int
    payload_size: int
    plan_file_offset: int
    plan_size: int
    weights_file_offset: int
    weights_size: int
    code_size: int
    sha256: bytes


def _sha256_of_prefix(path: Path, size: int) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = size
        while remaining:
            chunk = f.read(min(remaining, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            remaining -= len(chunk)
    return h.digest()


def append_footer(path: Path, plan_range: tuple[int, int], weights_range: tuple[int, int],
                  code_size: int) -> Footer:
    """Append the integrity footer to a finished (linked and stripped) artifact."""
    path = Path(path)
    payload = path.stat().st_size
    footer = Footer(ABI_VERSION, payload, plan_range[0], plan_range[1], weights_range[0],
                    weights_range[1], code_size, _sha256_of_prefix(path, payload))
    with open(path, "ab") as f:
        f.write(_FOOTER.pack(FOOTER_MAGIC, footer.abi_version, FOOTER_SIZE, footer.payload_size,
                             footer.plan_file_offset, footer.plan_size, footer.weights_file_offset,
                             footer.weights_size, footer.code_size, footer.sha256))
    return footer


def read_footer(path: Path, verify: bool = True) -> Footer:
    """Read (and by default verify) an artifact's footer; raises ArtifactFormatError."""
    path = Path(path)
    size = path.stat().st_size
    if size < FOOTER_SIZE:
        raise ArtifactFormatError(f"{path} is too small to be a ronn-aot artifact ({size} bytes)")
    with open(path, "rb") as f:
        f.seek(size - FOOTER_SIZE)
        raw = f.read(FOOTER_SIZE)
    magic, abi, fsize, payload, p_off, p_size, w_off, w_size, code, digest = _FOOTER.unpack(raw)
    if magic != FOOTER_MAGIC:
        raise ArtifactFormatError(
            f"{path} has no ronn-aot footer: not an artifact, or truncated; recompile it")
    if abi != ABI_VERSION:
        raise ArtifactFormatError(f"{path} is artifact ABI {abi}; this tool reads ABI {ABI_VERSION}")
    if fsize != FOOTER_SIZE or payload != size - FOOTER_SIZE:
        raise ArtifactFormatError(f"{path} is truncated or padded: footer sizes disagree with the file")
    if p_off + p_size > payload or w_off + w_size > payload:
        raise ArtifactFormatError(f"{path}: footer points outside the file")
    footer = Footer(abi, payload, p_off, p_size, w_off, w_size, code, digest)
    if verify and _sha256_of_prefix(path, payload) != digest:
        raise ArtifactFormatError(
            f"{path} failed its SHA-256 integrity check: the file was modified or corrupted")
    return footer


def read_plan(path: Path, footer: Footer | None = None) -> Plan:
    """Read the plan blob of an artifact file without loading the library."""
    footer = footer or read_footer(path)
    with open(path, "rb") as f:
        f.seek(footer.plan_file_offset)
        return decode_plan(f.read(footer.plan_size))


# ---------------------------------------------------------------------------------------------
# Device module (optional): ronn_device_header_v1 and friends in artifact_abi.h
# ---------------------------------------------------------------------------------------------

DEVICE_MAGIC = 0x56454452  # "RDEV"
DEVICE_VERSION = 1
DEVICE_SECTION = ".ronn_device"  # ELF section holding the blob in a linked artifact
DL_CUDA = 2  # DLPack kDLCUDA: the device type of CUDA device modules

_DEV_HEADER = struct.Struct("<IIIIIIIIIIIIQ")  # ronn_device_header_v1, 56 bytes
_DEV_IMAGE = struct.Struct("<IIQQ")  # ronn_device_image_v1, 24 bytes
_DEV_KERNEL = struct.Struct("<IIIIII")  # ronn_device_kernel_v1, 24 bytes
assert _DEV_HEADER.size == 56 and _DEV_IMAGE.size == 24 and _DEV_KERNEL.size == 24


class ImageFormat(IntEnum):
    CUBIN = 1  # an ELF cubin for exactly one SM architecture (same major, >= minor)
    PTX = 2  # PTX text, NUL-terminated, JIT-compiled by the driver for newer GPUs


class ParamKind(IntEnum):
    """How a kernel parameter is passed to cuLaunchKernel."""
    POINTER = 1  # a device address
    INT32 = 2
    INT64 = 3
    FLOAT32 = 4
    FLOAT64 = 5


class LaunchTag(IntEnum):
    """What each launch value of a device kernel sets (TVM's launch_param_tags)."""
    GRID_X = 0  # blockIdx.x extent
    GRID_Y = 1
    GRID_Z = 2
    BLOCK_X = 3  # threadIdx.x extent
    BLOCK_Y = 4
    BLOCK_Z = 5
    DYN_SHARED = 6  # dynamic shared memory bytes (tir.use_dyn_shared_memory)

    @classmethod
    def from_tvm(cls, tag: str) -> LaunchTag:
        names = {"blockIdx.x": cls.GRID_X, "blockIdx.y": cls.GRID_Y, "blockIdx.z": cls.GRID_Z,
                 "threadIdx.x": cls.BLOCK_X, "threadIdx.y": cls.BLOCK_Y, "threadIdx.z": cls.BLOCK_Z,
                 "tir.use_dyn_shared_memory": cls.DYN_SHARED}
        if tag not in names:
            raise ArtifactFormatError(f"unknown kernel launch parameter {tag!r}; known: {sorted(names)}")
        return names[tag]


@dataclass
class DeviceImage:
    format: ImageFormat
    arch: int  # 90 for sm_90 / compute_90
    data: bytes


@dataclass
class DeviceKernel:
    """One device function: launched by the host code with its params, then its launch values."""
    name: str
    params: list[ParamKind]
    launch: list[LaunchTag]


@dataclass
class DeviceModule:
    device_type: int
    images: list[DeviceImage]
    kernels: list[DeviceKernel]
    arena_size: int  # bytes of the per-session device arena

    def image(self, fmt: ImageFormat) -> DeviceImage | None:
        return next((i for i in self.images if i.format == fmt), None)


def encode_device_module(module: DeviceModule) -> bytes:
    """Serialize a DeviceModule into the device blob (ronn_device_header_v1 first)."""
    strings = _Strings()
    pool = bytearray()
    kernel_bytes = bytearray()
    for k in module.kernels:
        params_at = len(pool)
        pool += bytes(int(p) for p in k.params)
        launch_at = len(pool)
        pool += bytes(int(t) for t in k.launch)
        kernel_bytes += _DEV_KERNEL.pack(strings.add(k.name), len(k.params), params_at, len(k.launch),
                                         launch_at, 0)
    pos = _DEV_HEADER.size + _DEV_IMAGE.size * len(module.images)
    kernels_at = align_up(pos, 8)
    pool_at = kernels_at + len(kernel_bytes)
    strings_at = pool_at + len(pool)
    end = strings_at + len(strings.data)
    image_records = bytearray()
    image_data = bytearray()
    for img in module.images:
        start = align_up(end + len(image_data))
        image_data += b"\0" * (start - end - len(image_data))
        image_records += _DEV_IMAGE.pack(int(img.format), img.arch, start, len(img.data))
        image_data += img.data
    header = _DEV_HEADER.pack(DEVICE_MAGIC, DEVICE_VERSION, module.device_type, len(module.images),
                              _DEV_HEADER.size, len(module.kernels), kernels_at, pool_at, len(pool),
                              strings_at, len(strings.data), 0, module.arena_size)
    head = header + bytes(image_records)
    return (head + b"\0" * (kernels_at - len(head)) + bytes(kernel_bytes) + bytes(pool)
            + bytes(strings.data) + bytes(image_data))


def decode_device_module(blob: bytes) -> DeviceModule:
    """Parse a device blob, checking bounds; raises ArtifactFormatError."""
    if len(blob) < _DEV_HEADER.size:
        raise ArtifactFormatError("device module is shorter than its header")
    (magic, version, device_type, n_img, img_off, n_k, k_off, pool_off, pool_size, str_off, str_size,
     _r, arena) = _DEV_HEADER.unpack_from(blob, 0)
    if magic != DEVICE_MAGIC:
        raise ArtifactFormatError("device module has a bad magic number")
    if version != DEVICE_VERSION:
        raise ArtifactFormatError(f"device module is version {version}, this tool reads {DEVICE_VERSION}")
    try:
        strings = blob[str_off:str_off + str_size]
        pool = blob[pool_off:pool_off + pool_size]
        images = []
        for i in range(n_img):
            fmt, arch, off, size = _DEV_IMAGE.unpack_from(blob, img_off + i * _DEV_IMAGE.size)
            if off + size > len(blob):
                raise ArtifactFormatError(f"device image {i} lies outside the device module")
            images.append(DeviceImage(ImageFormat(fmt), arch, bytes(blob[off:off + size])))
        kernels = []
        for i in range(n_k):
            name, n_p, p_at, n_l, l_at, _ = _DEV_KERNEL.unpack_from(blob, k_off + i * _DEV_KERNEL.size)
            if p_at + n_p > len(pool) or l_at + n_l > len(pool):
                raise ArtifactFormatError(f"device kernel {i}: descriptors lie outside the byte pool")
            kernels.append(DeviceKernel(strings[name:strings.index(b"\0", name)].decode(),
                                        [ParamKind(b) for b in pool[p_at:p_at + n_p]],
                                        [LaunchTag(b) for b in pool[l_at:l_at + n_l]]))
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as e:
        raise ArtifactFormatError(f"device module is corrupted: {e}") from e
    return DeviceModule(device_type, images, kernels, arena)


def read_device_module(path: Path) -> DeviceModule | None:
    """The device module of an artifact file (found by its ELF section), None for CPU artifacts."""
    from .elf import read_sections

    sections = read_sections(Path(path))
    sec = sections.get(DEVICE_SECTION)
    if sec is None:
        return None
    with open(path, "rb") as f:
        f.seek(sec.offset)
        return decode_device_module(f.read(sec.size))
