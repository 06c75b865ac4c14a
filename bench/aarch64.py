"""ronn-aot's aarch64 artifact against onnxruntime's own aarch64 build, both under qemu-user:
instructions executed per inference (a TCG plugin counts them), emulated wall time, and whether
two threads are really used.

    python -m bench.aarch64 MODEL.onnx [--threads 1] [--runs 2] [--target aarch64] [--cpu cortex-a72]

Everything it needs installs itself into ~/.cache/ronn-aot/aarch64 ($RONN_AARCH64_CACHE) on
first use: an aarch64 Python sysroot extracted from Debian's arm64 packages (needs root once, to
`dpkg --add-architecture arm64`), onnxruntime's and numpy's aarch64 wheels (pip --platform),
the instruction counter (ronn_aot/tools/qemu_icount.c) and runtime_min's aarch64 build (ronn-run).

Instructions per inference = (count with 2N runs - count with N runs) / N: start-up, loading and
the session's set-up cancel. Counts are taken with one intra-op thread, where both engines infer
on the calling thread: that thread's own count (a shared counter loses increments when threads
race, and onnxruntime's start-up threads do an amount of work that varies run to run). The
thread check runs --threads T with a counter per guest thread: each thread's share of the
instructions per inference (two threads both working: about 50% / 50%; onnxruntime's spinning
workers count too), and qemu's cpu/wall time per inference (only meaningful on an idle host, where
qemu gets its threads' worth of cores, and with --runs of a few: it is a difference of two wall
times). Both engines run under the same `-cpu` model, so onnxruntime picks the kernels it would
pick on that core (cortex-a72: NEON, no dotprod). onnxruntime's CPU detection reads
/proc/cpuinfo, which under qemu-user is the x86 host's: it sees an Arm one, bind-mounted in a
private mount namespace (unshare -m).

Neither number is a board's latency: instructions are work (a 4-lane NEON FMA counts once, as a
scalar one does; no memory stalls), and emulated time penalises NEON, which TCG runs through
helpers. The instruction count is the fair proxy for a narrow Arm core.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SUPPORT = HERE / "aarch64"
CACHE = Path(os.environ.get("RONN_AARCH64_CACHE", Path.home() / ".cache" / "ronn-aot" / "aarch64"))
ORT_VERSION = "1.32.0"
PYTHON = "python3.11"
# What an aarch64 python3.11 with numpy and onnxruntime loads (Debian bookworm's arm64 packages).
DEBS = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libexpat1", "zlib1g",
        "libffi8", "libssl3", "libbz2-1.0", "liblzma5", "libstdc++6", "libgcc-s1", "libuuid1",
        "libncursesw6", "libtinfo6", "libsqlite3-0", "libcrypt1", "libc6")
# An Arm /proc/cpuinfo for onnxruntime's CPU detection (cpuinfo's parser): Cortex-A72 cores.
CPUINFO_CORE = """processor\t: {i}
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

"""
CPUINFO_CORES = 4


def _run(cmd: list[str], what: str, **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise SystemExit(f"bench.aarch64: {what} failed ({' '.join(cmd[:4])} ...):\n"
                         f"{(proc.stderr or proc.stdout).strip()[-3000:]}")
    return proc


def ensure_sysroot() -> Path:
    """An aarch64 root with python3.11, from Debian's arm64 packages (extracted, not installed)."""
    root = CACHE / "root"
    if (root / "usr" / "bin" / PYTHON).exists():
        return root
    if "arm64" not in subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True,
                                     text=True).stdout.split():
        if os.geteuid() != 0:
            raise SystemExit("bench.aarch64: the arm64 package architecture is not enabled; run once as root:\n"
                             "  dpkg --add-architecture arm64 && apt-get update")
        _run(["dpkg", "--add-architecture", "arm64"], "enabling arm64 packages")
        _run(["apt-get", "update"], "apt-get update")
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    _run(["apt-get", "download", *(f"{d}:arm64" for d in DEBS)], "downloading the arm64 packages", cwd=debs)
    tmp = CACHE / "root.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for deb in sorted(debs.glob("*.deb")):
        _run(["dpkg-deb", "-x", str(deb), str(tmp)], f"extracting {deb.name}")
    tmp.rename(root)
    return root


def ensure_site() -> Path:
    """numpy and onnxruntime's aarch64 wheels for Python 3.11, unpacked into one folder."""
    site = CACHE / f"site-ort{ORT_VERSION}"
    if (site / "onnxruntime").is_dir():
        return site
    tmp = site.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--platform", "manylinux2014_aarch64",
          "--platform", "manylinux_2_28_aarch64", "--python-version", "3.11", "--only-binary=:all:",
          "--target", str(tmp), f"onnxruntime=={ORT_VERSION}", "numpy"], "downloading onnxruntime's aarch64 wheel")
    tmp.rename(site)
    return site


def ensure_counter() -> Path:
    """The TCG plugin that counts guest instructions, compiled from ronn_aot/tools/qemu_icount.c
    (package data: `ronn-aot tune` counts candidates' instructions with it too)."""
    src = Path(__file__).resolve().parents[1] / "ronn_aot" / "tools" / "qemu_icount.c"
    lib = CACHE / "icount.so"
    if not lib.exists() or lib.stat().st_mtime < src.stat().st_mtime:
        CACHE.mkdir(parents=True, exist_ok=True)
        _run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(lib), str(src)], "compiling the qemu plugin")
    return lib


def ensure_cpuinfo() -> Path:
    path = CACHE / "cpuinfo"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(CPUINFO_CORE.format(i=i) for i in range(CPUINFO_CORES)))
    return path


def ensure_ronn_run(target_name: str) -> Path:
    """runtime_min's ronn-run, cross-built with the target's toolchain (incremental make)."""
    from ronn_aot.tools.runtime_build import build_runtime
    from ronn_aot.targets import get_target

    return build_runtime(get_target(target_name), CACHE / "runtime" / target_name).ronn_run


@dataclass
class Measured:
    engine: str
    instructions: float  # per inference, one thread
    emulated_ms: float  # wall time per inference under qemu, one thread
    threads: int
    thread_shares: list[float]  # at `threads`: each guest thread's share of the instructions per inference
    cpu_over_wall: float  # at `threads`: qemu's user+sys over wall time per inference (a loaded host lowers it)


class Engine:
    """One way of running the model under qemu: `argv(runs, threads, out_dir)` is the guest command."""

    name = ""

    def __init__(self, cpu: str, counter: Path) -> None:
        self.cpu, self.counter = cpu, counter

    def guest(self, runs: int, threads: int, out_dir: Path) -> list[str]:
        raise NotImplementedError

    def sysroot(self) -> Path:
        raise NotImplementedError

    def wrap(self, qemu: list[str]) -> list[str]:
        return qemu

    def run(self, runs: int, threads: int, out_dir: Path, count: Path | None = None,
            per_thread: bool = False, blocks: Path | None = None) -> tuple[float, float]:
        """(wall seconds, user+sys seconds) of one emulated process; its count in `count` (with
        `per_thread`, also each guest thread's; with `blocks`, each executed block's, by file
        offset: bench.aarch64_profile)."""
        qemu = ["qemu-aarch64", "-cpu", self.cpu, "-L", str(self.sysroot())]
        if count is not None:
            qemu += ["-plugin", f"{self.counter},out={count}" + (",threads=on" if per_thread else "")
                     + (f",blocks={blocks}" if blocks is not None else "")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        _run(self.wrap(qemu + self.guest(runs, threads, out_dir)), f"{self.name} under qemu")
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu


class RonnEngine(Engine):
    name = "ronn-aot"

    def __init__(self, cpu: str, counter: Path, ronn_run: Path, artifact: Path, inputs: list[tuple[str, Path]],
                 route: str | None = None) -> None:
        super().__init__(cpu, counter)
        self.ronn_run, self.artifact, self.inputs, self.route = ronn_run, artifact, inputs, route

    def sysroot(self) -> Path:
        return Path("/usr/aarch64-linux-gnu")

    def guest(self, runs: int, threads: int, out_dir: Path) -> list[str]:
        args = [str(self.ronn_run), str(self.artifact), "--threads", str(threads), "--repeat", str(runs),
                "--output-dir", str(out_dir)]
        for name, path in self.inputs:
            args += ["--input", f"{name}={path}"]
        if self.route is not None:  # a dual artifact's System 1 ("fast") or System 2 ("full")
            args += ["--route", self.route]
        return args


class OrtEngine(Engine):
    name = "onnxruntime"

    def __init__(self, cpu: str, counter: Path, root: Path, site: Path, cpuinfo: Path, model: Path,
                 input_dir: Path) -> None:
        super().__init__(cpu, counter)
        self.root, self.site, self.cpuinfo, self.model, self.input_dir = root, site, cpuinfo, model, input_dir

    def sysroot(self) -> Path:
        return self.root

    def wrap(self, qemu: list[str]) -> list[str]:
        # A private mount namespace in which /proc/cpuinfo describes Arm cores (see the docstring).
        quoted = " ".join(f"'{a}'" for a in qemu)
        return ["unshare", "-m", "sh", "-c", f"mount --bind '{self.cpuinfo}' /proc/cpuinfo && exec {quoted}"]

    def guest(self, runs: int, threads: int, out_dir: Path) -> list[str]:
        # A fixed hash seed: with random ones, start-up's instruction count differs from process to
        # process by millions (1251-1264M for a one-matmul model; within 2M with a fixed seed),
        # which the 2N - N difference does not cancel.
        return ["-E", f"PYTHONPATH={self.site}", "-E", "PYTHONDONTWRITEBYTECODE=1", "-E", "PYTHONHASHSEED=0",
                str(self.root / "usr" / "bin" / PYTHON), str(SUPPORT / "ort_runner.py"), str(self.model),
                str(self.input_dir), str(out_dir), str(runs), str(threads)]


def measure(engine: Engine, runs: int, threads: int, work: Path, wall: bool = True) -> Measured:
    """Instructions and emulated time per inference (one thread; `wall` False: no time), and the
    thread check."""
    tag = engine.name
    c1, c2 = work / f"{tag}-n.txt", work / f"{tag}-2n.txt"
    # Counted per guest thread, and only the main thread's count is used: at one intra-op thread
    # both engines infer on the calling thread. onnxruntime's process runs other threads during
    # start-up (one executes ~174 M instructions), whose work a process that exits sooner cuts
    # short (MiniLM's per-inference difference over all threads read 430 M in one try, 516 M in
    # others; the main thread's, 516.3 M every time), and a shared inline counter loses the
    # increments that race (MobileNet-v2: 169 M, 177 M and 21 M in three tries; 180.7 M per thread).
    engine.run(runs, 1, work / f"{tag}-out", c1, per_thread=True)
    engine.run(2 * runs, 1, work / f"{tag}-out", c2, per_thread=True)
    per = (_per_thread(c2).get(MAIN_THREAD, 0) - _per_thread(c1).get(MAIN_THREAD, 0)) / runs
    w1 = w2 = 0.0
    if wall:
        w1, _ = engine.run(runs, 1, work / f"{tag}-out")
        w2, _ = engine.run(2 * runs, 1, work / f"{tag}-out")
    shares: list[float] = []
    ratio = 0.0
    if threads > 1:
        # Per inference as well (the 2N - N differences): start-up and loading run on one thread.
        t1, t2 = work / f"{tag}-t-n.txt", work / f"{tag}-t-2n.txt"
        wall1, cpu1 = engine.run(runs, threads, work / f"{tag}-out-t", t1, per_thread=True)
        wall2, cpu2 = engine.run(2 * runs, threads, work / f"{tag}-out-t", t2, per_thread=True)
        # A difference of two wall times: on a loaded host the longer run can take barely longer
        # (or less) than the shorter, and the quotient means nothing: reported as nan.
        ratio = (cpu2 - cpu1) / (wall2 - wall1) if wall2 - wall1 > 0.25 * wall1 else float("nan")
        n1, n2 = _per_thread(t1), _per_thread(t2)
        work_of = {v: n2[v] - n1.get(v, 0) for v in n2}
        total = sum(work_of.values()) or 1
        shares = sorted((w / total for w in work_of.values() if w / total >= 0.01), reverse=True)
    emulated = 1000 * (w2 - w1) / runs if w2 - w1 > 0.25 * w1 else float("nan")
    return Measured(tag, per, emulated if wall else 0.0, threads, shares, ratio)


MAIN_THREAD = 0  # qemu-user's vCPU index of the process's first thread


def _per_thread(path: Path) -> dict[int, int]:
    """{guest thread: instructions} from the counter's threads=on report."""
    found = {}
    for line in path.read_text().splitlines()[1:]:
        _, vcpu, count = line.split()
        found[int(vcpu)] = int(count)
    return found


def make_inputs(model_path: Path, work: Path, seed: int = 0) -> list[tuple[str, Path]]:
    """Seeded random inputs for the model's graph inputs (static shapes), as INDEX.npy files."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    rng = np.random.default_rng(seed)
    files = []
    for i, inp in enumerate(x for x in model.graph.input if x.name not in inits):
        t = inp.type.tensor_type
        shape = [d.dim_value for d in t.shape.dim]
        if any(d <= 0 for d in shape):
            raise SystemExit(f"bench.aarch64: input {inp.name!r} has a symbolic shape {shape}; "
                             "give the benchmark a model with static input shapes")
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        arr = (rng.standard_normal(shape).astype(dtype) if np.issubdtype(dtype, np.floating)
               else np.zeros(shape, dtype))
        path = work / "inputs" / f"{i}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, arr)
        files.append((inp.name, path))
    return files


def compile_artifact(model: Path, target: str, out: Path) -> Path:
    import ronn_aot

    opts = ronn_aot.CompileOptions().with_target(target).with_output(out)
    art = ronn_aot.compile(str(model), opts)
    rules = art.schedule_report.kernels_by_rule()
    print(f"compiled {model.name} for {target}: {art.num_kernels} kernels; rules: "
          + ", ".join(f"{r} {len(k)}" for r, k in sorted(rules.items())), flush=True)
    return Path(art.path)


def compare_outputs(model_path: Path, work: Path, suffix: str = "out") -> float:
    """Largest |ronn - onnxruntime| over the outputs of the runs whose outputs went to
    `<engine>-<suffix>` (one thread: out; the thread check: out-t; both aarch64)."""
    import onnx

    names = [o.name for o in onnx.load(str(model_path), load_external_data=False).graph.output]
    worst = 0.0
    for i, name in enumerate(names):
        ours = np.load(work / f"ronn-aot-{suffix}" / f"{name.replace('/', '_')}.npy")
        ref = np.load(work / f"onnxruntime-{suffix}" / f"{i}.npy")
        worst = max(worst, float(np.max(np.abs(ours.astype(np.float64) - ref))) if ref.size else 0.0)
    return worst


def run_model(model: Path, target: str = "aarch64", cpu: str = "cortex-a72", runs: int = 2, threads: int = 2,
              counts_only: bool = False, artifact: Path | None = None, ronn_run: Path | None = None,
              skip_ort: bool = False, route: str | None = None) -> dict[str, object]:
    """Both engines on `model` (see the module docstring); the summary bench.aarch64 prints and
    writes with --json: each engine's Measured, and with both engines the instruction ratio and the
    outputs' largest difference (one thread; and at `threads`)."""
    if shutil.which("qemu-aarch64") is None:
        raise SystemExit("bench.aarch64: qemu-aarch64 not found; install it with: apt-get install qemu-user")
    work = CACHE / "runs" / f"{model.stem}-{target}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    counter = ensure_counter()
    inputs = make_inputs(model, work)
    artifact = artifact or compile_artifact(model, target, work / f"{model.stem}.so")
    engines: list[Engine] = [RonnEngine(cpu, counter, ronn_run or ensure_ronn_run(target), artifact, inputs, route)]
    if not skip_ort:
        engines.append(OrtEngine(cpu, counter, ensure_sysroot(), ensure_site(), ensure_cpuinfo(), model.resolve(),
                                 work / "inputs"))
    results = [measure(e, runs, threads, work, not counts_only) for e in engines]
    summary: dict[str, object] = {"model": model.name, "target": target, "cpu": cpu, "runs": runs,
                                  "threads": threads, "results": [asdict(r) for r in results]}
    if len(results) == 2:
        summary.update(ratio=results[0].instructions / results[1].instructions,
                       max_abs_diff=compare_outputs(model, work))
        if threads > 1:
            summary.update(max_abs_diff_threads=compare_outputs(model, work, "out-t"))
    return summary


def print_summary(summary: dict[str, object]) -> None:
    results = [Measured(**r) for r in summary["results"]]  # type: ignore[attr-defined]
    threads = summary["threads"]
    print(f"\n{summary['model']}, qemu-aarch64 -cpu {summary['cpu']}, per inference, one thread "
          f"(N = {summary['runs']}; emulated, not a board's latency):")
    print(f"  {'engine':<12} {'instructions':>14} {'emulated ms':>12}   at {threads} threads: work per thread, cpu/wall")
    for r in results:
        check = (" / ".join(f"{s:.0%}" for s in r.thread_shares) + f", {r.cpu_over_wall:.2f}") if r.threads > 1 else "-"
        print(f"  {r.engine:<12} {r.instructions / 1e6:>13.1f}M {r.emulated_ms:>12.0f}   {check}")
    if "ratio" in summary:
        line = (f"  ronn-aot / onnxruntime instructions: {summary['ratio']:.2f}; outputs' largest |difference|: "
                f"{summary['max_abs_diff']:.2e}")
        if "max_abs_diff_threads" in summary:
            line += f" (at {threads} threads: {summary['max_abs_diff_threads']:.2e})"
        print(line)


def suite_row(name: str, summary: dict[str, object]) -> str:
    """One markdown row of `bench.suite --target aarch64` (see suite_header)."""
    ours, ort = (Measured(**r) for r in summary["results"])  # type: ignore[attr-defined]

    def shares(m: Measured) -> str:
        return " / ".join(f"{s:.0%}" for s in m.thread_shares) + f", {m.cpu_over_wall:.2f}"

    wall = (f" | {ours.emulated_ms:.0f} | {ort.emulated_ms:.0f}" if ours.emulated_ms else " | - | -")
    return (f"| {name} | {ours.instructions / 1e6:.1f} | {ort.instructions / 1e6:.1f} | {summary['ratio']:.2f}"
            f"{wall} | {shares(ours)} | {shares(ort)} | {summary['max_abs_diff']:.1e}, "
            f"{summary.get('max_abs_diff_threads', float('nan')):.1e} |")


def suite_header(target: str, cpu: str, threads: int, runs: int) -> list[str]:
    return [f"| model | ronn-aot M instr | onnxruntime M instr | ratio | ronn-aot emulated ms | onnxruntime emulated ms "
            f"| ronn-aot at {threads} threads: work per thread, cpu/wall | onnxruntime at {threads} threads "
            f"| max abs diff (1, {threads} threads) |  ({target} under qemu-aarch64 -cpu {cpu}, onnxruntime "
            f"{ORT_VERSION}'s aarch64 build; instructions per inference on one thread, (2N - N) / N with "
            f"N = {runs}; emulated, neither is a board's latency)",
            "|---|---|---|---|---|---|---|---|---|"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.aarch64", description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--target", default="aarch64", help="ronn-aot target (default aarch64)")
    ap.add_argument("--artifact", type=Path, help="an artifact compiled already (default: compile the model)")
    ap.add_argument("--ronn-run", type=Path,
                    help="a ronn-run built for the target already (default: build runtime_min's into the cache)")
    ap.add_argument("--cpu", default="cortex-a72", help="qemu -cpu model for both engines (default cortex-a72)")
    ap.add_argument("--runs", type=int, default=2, help="N of the 2N - N difference (default 2)")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads of the thread check (each thread's share of the instructions, qemu's "
                         "cpu/wall time, the outputs compared again); 1 skips it (the counts always use one thread)")
    ap.add_argument("--skip-ort", action="store_true", help="measure ronn-aot only")
    ap.add_argument("--route", choices=["auto", "fast", "full"],
                    help="a dual artifact (--artifact): run this route (ronn-run --route)")
    ap.add_argument("--counts-only", action="store_true", help="no emulated time (saves 3N runs per engine)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    summary = run_model(args.model, args.target, args.cpu, args.runs, args.threads, args.counts_only,
                        args.artifact, args.ronn_run, args.skip_ort, args.route)
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
