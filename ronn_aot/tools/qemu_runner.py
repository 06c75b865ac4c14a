"""Measuring kernels of a target this machine cannot run natively: MetaSchedule's builder and a
runner that executes each candidate under qemu-user and ranks it by guest *instruction count*.

Selected by the target's run mode (`[run] mode = "qemu"` in targets/*.toml, `uses_qemu`): `tune`
(tune._builder_runner) and the rule baselines (baselines.measure) take these for qemu targets and
MetaSchedule's LocalBuilder/LocalRunner for native ones.

- **Builder**: MetaSchedule's LocalBuilder with the compile's TIR pipeline (tir_pipeline), exporting
  each candidate as a shared library linked by the target's cross compiler (`[toolchain] cc`).
- **Runner** (`QemuRunner`): a tiny aarch64 program (qemu_harness.c, cross-compiled once into the
  cache) loads the candidate, gives it buffers of its parameters' shapes and calls it N and 2N
  times, each in its own `qemu-<arch> -plugin qemu_icount.so` process; (count(2N) - count(N)) / N
  is the kernel's instructions per call, start-up, loading and first-call effects cancelled.
  Parallel loops run as one task on the calling thread, as runtime_min runs them at one thread
  (the instructions per inference that `python -m bench.aarch64` reports).
- **The cost**: MetaSchedule's database, cost model and our rule baselines all hold *seconds*, so
  the count is reported as seconds at a nominal rate of one instruction per nanosecond
  (`SECONDS_PER_INSTRUCTION`): a record's `run_secs` of 1.234e-3 means 1,234,000 instructions per
  call. It is not a time: TCG emulation does not model a core's pipeline or memory; instructions
  are the work a narrow in-order Arm core does, a fair proxy for ranking schedules of one kernel.
  Counts are deterministic (the machine's load does not change them), so one repeat suffices.

Instruction counts are additive over the kernels of a model, so a record that wins its pair wins
in the model too (what the model check of native tuning, tune._confirm_in_model, guards against
with times: caches shared with neighbours, is not in a count).

To tune on a real board instead, see docs/aarch64.md ("Tuning"): MetaSchedule's RPCRunner with a
tracker and `tvm.exec.rpc_server` on the board.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import ToolchainError
from ..targets import Target

HERE = Path(__file__).resolve().parent
HARNESS_SOURCE = HERE / "qemu_harness.c"
PLUGIN_SOURCE = HERE / "qemu_icount.c"
CACHE_ENV = "RONN_QEMU_RUNNER_CACHE"  # where the harness and the plugin are built (default below)

# The nominal rate the instruction count is reported at, as MetaSchedule's "seconds".
SECONDS_PER_INSTRUCTION = 1e-9
# N of the (2N - N) difference: kernels are deterministic, one call per step is enough.
CALLS = 1
# qemu CPU models by the target's LLVM mcpu; a generic Armv8-A target runs as a Cortex-A72 (what
# bench/aarch64.py runs onnxruntime as). The count does not depend on the model, only which
# instructions are legal does; an mcpu qemu does not know runs as "max".
QEMU_CPUS = {"generic": "cortex-a72", "": "cortex-a72", "cortex-a53": "cortex-a53", "cortex-a57": "cortex-a57",
             "cortex-a72": "cortex-a72", "cortex-a76": "cortex-a76", "neoverse-n1": "neoverse-n1",
             "a64fx": "a64fx"}


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ronn-aot" / "qemu-runner"


def uses_qemu(target: Target) -> bool:
    """Whether `target`'s kernels are measured under qemu here (its [run] mode)."""
    return target.run.mode == "qemu"


def qemu_cpu(target: Target) -> str:
    return QEMU_CPUS.get(str(target.llvm.get("mcpu", "")), "max")


class QemuTools:
    """What measuring one target's kernels under qemu needs, checked and built (cached by source
    and compiler): the qemu argv prefix, the cross-built harness, the counting plugin."""

    def __init__(self, target: Target) -> None:
        prefix = target.run.command_prefix(target.arch)
        if prefix is None:
            raise ToolchainError(
                f"{target.run.qemu!r} was not found on PATH: tuning for {target.name} runs each candidate "
                f"kernel under qemu-user; install it with: apt-get install {target.run.qemu_package or 'qemu-user'}"
                " (or tune on a board over TVM's RPC: docs/aarch64.md)")
        self.cc, _ = target.toolchain.require()
        self.qemu = [*prefix, "-cpu", qemu_cpu(target)]
        self.harness = _built(HARNESS_SOURCE, [self.cc, "-O2", "-std=c11", "-rdynamic", "-o", "{out}", "{src}", "-ldl"],
                              f"harness-{target.arch}", target.toolchain.package)
        host_cc = shutil.which("gcc") or shutil.which("cc")
        if host_cc is None:
            raise ToolchainError("no host C compiler (gcc) to build the qemu instruction-counting plugin; "
                                 "install it with: apt-get install gcc")
        self.plugin = _built(PLUGIN_SOURCE, [host_cc, "-shared", "-fPIC", "-O2", "-o", "{out}", "{src}"],
                             "icount.so", "gcc")

    def count(self, artifact: str, arg_specs: list[str], calls: int, timeout: float) -> int:
        """Guest instructions of one harness process calling the kernel `calls` times."""
        with tempfile.TemporaryDirectory(prefix="ronn-qemu-count-") as tmp:
            out = Path(tmp) / "count.txt"
            cmd = [*self.qemu, "-plugin", f"{self.plugin},out={out}", str(self.harness), artifact, str(calls),
                   *arg_specs]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"the kernel failed under qemu (exit {proc.returncode}): "
                                   f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
            return int(out.read_text().split()[0])

    def instructions_per_call(self, artifact: str, arg_specs: list[str], calls: int = CALLS,
                              timeout: float = 300.0) -> float:
        """(count with 2N calls - count with N calls) / N."""
        n = self.count(artifact, arg_specs, calls, timeout)
        n2 = self.count(artifact, arg_specs, 2 * calls, timeout)
        return (n2 - n) / calls


def _built(source: Path, argv: list[str], name: str, package: str) -> Path:
    """`source` compiled by `argv` ({src}, {out}) into the cache, once per source and compiler."""
    key = hashlib.sha256(source.read_bytes() + "\0".join(argv).encode()).hexdigest()[:12]
    out = cache_dir() / f"{Path(name).stem}-{key}{Path(name).suffix}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.partial")
    proc = subprocess.run([a.format(src=source, out=tmp) for a in argv], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"building {source.name} failed ({argv[0]}): {proc.stderr.strip()[-2000:]}; "
                             f"check that {package} is installed")
    tmp.replace(out)
    return out


def arg_spec(arg_info: Any) -> str:
    """The harness's DTYPE:D0,D1,... for one MetaSchedule ArgInfo (a tensor parameter)."""
    kind, dtype, shape = arg_info.as_json()
    if str(kind) != "TENSOR":
        raise ValueError(f"the qemu harness passes tensors only, not {kind}")
    return f"{dtype}:" + ",".join(str(int(d)) for d in shape)


BUILD_PREFIX = "ronn-qemu-build-"  # the folder of one exported candidate


def export_cross(mod: Any, cc: str) -> str:
    """MetaSchedule builder export: the candidate's object file linked into a shared library by the
    target's cross compiler (MetaSchedule's default export tars it for the host's linker)."""
    out = Path(tempfile.mkdtemp(prefix=BUILD_PREFIX))
    obj, lib = out / "kernel.o", out / "kernel.so"
    mod.write_to_file(str(obj))
    proc = subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(obj), "-Wl,-z,max-page-size=4096", "-lm"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"linking the candidate with {cc} failed: {proc.stderr.strip()[-2000:]}")
    obj.unlink()
    return str(lib)


def _runner_classes() -> tuple[type, type]:
    """QemuRunner and its future, made on first use (TVM is imported lazily)."""
    global _CLASSES
    if _CLASSES is not None:
        return _CLASSES
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.runner import PyRunner, PyRunnerFuture, RunnerResult

    @derived_object
    class QemuRunnerFuture(PyRunnerFuture):
        def __init__(self, future: concurrent.futures.Future) -> None:
            super().__init__()
            self.future = future

        def done(self) -> bool:
            return self.future.done()

        def result(self) -> Any:
            try:
                instructions = self.future.result()
            except Exception as e:  # a failed trial, recorded as such, not the end of the search
                return RunnerResult(None, f"QemuRunner: {type(e).__name__}: {e}")
            if instructions <= 0:
                return RunnerResult(None, f"QemuRunner: {instructions} instructions per call")
            return RunnerResult([instructions * SECONDS_PER_INSTRUCTION], None)

    @derived_object
    class QemuRunner(PyRunner):
        """Runs each candidate under qemu-user and reports its instructions per call as seconds
        (SECONDS_PER_INSTRUCTION). `max_workers` qemu processes at a time (default 1)."""

        def __init__(self, target: Target, max_workers: int = 1, timeout_sec: float = 300.0) -> None:
            super().__init__()
            self.tools = QemuTools(target)
            self.timeout_sec = timeout_sec
            self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers)

        def run(self, runner_inputs: list[Any]) -> list[Any]:
            futures = []
            for inp in runner_inputs:
                specs = [arg_spec(a) for a in inp.args_info]
                # The candidate stays: MetaSchedule's RemoveBuildArtifact callback removes its
                # folder after the batch (and fails if it is gone); baselines.measure removes its own.
                futures.append(QemuRunnerFuture(self.pool.submit(self.tools.instructions_per_call,
                                                                 str(inp.artifact_path), specs, CALLS,
                                                                 self.timeout_sec)))
            return futures

    _CLASSES = (QemuRunner, QemuRunnerFuture)
    return _CLASSES


_CLASSES: tuple[type, type] | None = None


def qemu_runner(target: Target, max_workers: int = 1, timeout_sec: float = 300.0) -> Any:
    """A MetaSchedule runner measuring candidates of `target` under qemu (instruction counts);
    ToolchainError when qemu or the cross toolchain is missing."""
    return _runner_classes()[0](target, max_workers, timeout_sec)


def cross_builder(target: Target, max_workers: int) -> Any:
    """MetaSchedule's LocalBuilder with the compile's TIR pipeline, exporting with the target's cross
    compiler."""
    from tvm.s_tir import meta_schedule as ms

    from ..backends import tir_pipeline

    cc, _ = target.toolchain.require()
    return ms.builder.LocalBuilder(max_workers=max_workers, timeout_sec=300, f_build=tir_pipeline.METASCHEDULE_BUILD,
                                   f_export=partial(export_cross, cc=cc),
                                   initializer=tir_pipeline.register_metaschedule_build)
