"""`python -m bench.fuzz models|artifacts`: see the package docstring."""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence

from .supervise import CRASH, EXIT_ERROR, HANG, supervise

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "runtime_min"
SANITIZE_FLAGS = "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"


def _at(out: Path, name: str) -> Path:
    """`out / name`, making `out` first: --out appears only when there is a finding to keep."""
    out.mkdir(parents=True, exist_ok=True)
    return out / name


class Tally:
    """Results of one run, printed as counts, with every finding (a result the target must never
    give) kept for the report."""

    def __init__(self, total: int, label: str) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.findings: list[tuple[str, str]] = []
        self.total, self.label, self.start = total, label, time.monotonic()
        self.lock = threading.Lock()

    def add(self, item: str, result: str, bad: bool) -> None:
        with self.lock:
            # "RonnError:ShapeError: ..." counts as RonnError:ShapeError, "BAD:KeyError at ..." as BAD:KeyError
            self.counts[":".join(result.split(" ", 1)[0].split(":")[:2]).rstrip(":")] += 1
            if bad:
                self.findings.append((item, result))
            done = sum(self.counts.values())
            if done % 500 == 0 or done == self.total:
                print(f"  {self.label}: {done}/{self.total} in {time.monotonic() - self.start:.0f} s, "
                      f"{len(self.findings)} findings", file=sys.stderr, flush=True)

    def report(self, out: Path) -> int:
        """Print the counts and the findings (saved in `out`); 1 when there are findings."""
        print(f"{self.label}: {sum(self.counts.values())} cases in {time.monotonic() - self.start:.0f} s")
        for result, n in self.counts.most_common():
            print(f"  {n:6d}  {result}")
        print(f"  findings (crashes, hangs, other exceptions): {len(self.findings)}")
        if self.findings:
            _at(out, "findings.txt").write_text("".join(f"{item}\t{result}\n" for item, result in self.findings))
            for item, result in self.findings[:20]:
                print(f"    {item}: {result[:300]}")
            print(f"  all of them in {out / 'findings.txt'}")
        return 1 if self.findings else 0


def _split(items: list[str], jobs: int) -> list[list[str]]:
    return [items[j::jobs] for j in range(jobs)]


def fuzz_models(args: argparse.Namespace) -> int:
    from .models import case, seeds

    out = Path(args.out)
    tally = Tally(args.count, "models")
    seed_models = seeds()

    def record(item: str, result: str) -> None:
        bad = result.startswith("BAD:") or result in (CRASH, HANG, EXIT_ERROR)
        tally.add(item, result, bad)
        if bad and item.isdigit():  # keep the model that did it
            _at(out, f"model-{args.seed}-{item}.onnx").write_bytes(case(args.seed, int(item), seed_models).data)

    def parse(line: str) -> tuple[str, str] | None:
        item, sep, result = line.partition("\t")
        return (item, result) if sep and item.isdigit() else None

    def run(items: list[str]) -> None:
        command = [sys.executable, "-m", "bench.fuzz.model_worker", str(args.seed)]
        outcome = supervise(items, lambda rest: [*command, *rest], parse, args.timeout, on_result=record,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
        for item, detail in outcome.details.items():
            _at(out, f"model-{args.seed}-{item}.stderr").write_text(detail)

    items = [str(i) for i in range(args.start, args.start + args.count)]
    threads = [threading.Thread(target=run, args=(part,)) for part in _split(items, args.jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally.report(out)


def build_driver(build: Path, sanitize: bool) -> Path:
    flags = [f"CFLAGS={SANITIZE_FLAGS}", "LDFLAGS=-fsanitize=address,undefined", "STRIP=true"] if sanitize \
        else ["CFLAGS=-O1 -g", "STRIP=true"]
    subprocess.run(["make", "-s", "-C", str(RUNTIME), f"BUILD={build}", *flags, "all", "test-drivers"],
                   check=True)
    return build / "tests" / "load_run"


def artifact_seeds(work: Path, extra: Sequence[str]) -> tuple[list[object], Path]:
    """The runtime tests' fixture, a signed copy of it, and any given artifacts; and the public key."""
    sys.path.insert(0, str(REPO / "tests" / "runtime" / "fixtures"))
    import make_fixture

    from ronn_aot.artifact import signing

    from .artifacts import Seed

    fixture = make_fixture.build(work / "fixture.so")
    private, public = signing.keygen(work / "key", force=True)
    signed = work / "signed.so"
    shutil.copyfile(fixture, signed)
    signing.sign(signed, private)
    paths = [(fixture, False), (signed, True)] + [(Path(p), signing.read_signature(p) is not None) for p in extra]
    return [Seed(p, p.read_bytes(), s) for p, s in paths], public


def fuzz_artifacts(args: argparse.Namespace) -> int:
    from .artifacts import mutate

    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix="ronn-fuzz-artifacts-"))
    try:
        driver = build_driver(Path(args.build).resolve() if args.build else work / "build", args.sanitize)
        seeds, public = artifact_seeds(work, args.seed_artifact or [])
        tally = Tally(args.count, "artifacts" + (" (ASan+UBSan)" if args.sanitize else ""))
        env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:allocator_may_return_null=1:exitcode=86",
               "UBSAN_OPTIONS": "print_stacktrace=1"}
        whats: dict[str, str] = {}

        def record(item: str, result: str) -> None:
            bad = result in (CRASH, HANG, EXIT_ERROR)
            tally.add(whats.get(item, item), result, bad)
            if bad and Path(item).is_file():
                shutil.copyfile(item, _at(out, Path(item).name))

        def parse(line: str) -> tuple[str, str] | None:
            path, sep, code = line.rpartition(": ")
            return (path, code) if sep else None

        for batch_start in range(args.start, args.start + args.count, args.batch):
            batch_dir = work / "batch"
            shutil.rmtree(batch_dir, ignore_errors=True)
            batch_dir.mkdir()
            items = []
            for index in range(batch_start, min(batch_start + args.batch, args.start + args.count)):
                rng = random.Random(args.seed * 1_000_003 + index)
                data, what = mutate(rng.choice(seeds), rng)  # type: ignore[arg-type]
                path = batch_dir / f"artifact-{args.seed}-{index}.so"
                path.write_bytes(data)
                items.append(str(path))
                whats[str(path)] = f"{index} ({what})"
            command = [str(driver), "--threads", "2", "--runs", "2", "--trusted-key", str(public)] \
                if batch_start // args.batch % 4 == 3 else [str(driver), "--threads", "2", "--runs", "2"]
            outcome = supervise(items, lambda rest: [*command, *rest], parse, args.timeout, env=env,
                                on_result=record)
            for item, detail in outcome.details.items():
                _at(out, Path(item.split("..")[0]).name + ".stderr").write_text(detail)
        return tally.report(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compiled_seeds(work: Path) -> list[str]:
    """The model fuzzer's seed graphs, compiled for the host (for `inputs` without --seed-artifact)."""
    import ronn_aot

    from .models import seeds

    paths = []
    for i, model in enumerate(seeds()):
        out = work / f"seed{i}.so"
        ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(out))
        paths.append(str(out))
    return paths


def fuzz_inputs(args: argparse.Namespace) -> int:
    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix="ronn-fuzz-inputs-"))
    try:
        artifacts = [str(Path(p).resolve()) for p in args.seed_artifact or []] or compiled_seeds(work)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(RUNTIME / "python")])}
        if args.sanitize:
            build = build_driver(work / "asan", True).parents[1]
            env.update(RONN_RUNTIME_LIBRARY=str(build / "libronn_runtime.so"),
                       LD_PRELOAD=" ".join(subprocess.run(["gcc", f"-print-file-name={lib}"], capture_output=True,
                                                          text=True, check=True).stdout.strip()
                                           for lib in ("libasan.so", "libubsan.so")),
                       ASAN_OPTIONS="detect_leaks=0:exitcode=86", UBSAN_OPTIONS="halt_on_error=1")
        tally = Tally(args.count, "inputs" + (" (ASan+UBSan runtime)" if args.sanitize else ""))

        def record(item: str, result: str) -> None:
            tally.add(item, result, result.startswith("BAD:") or result in (CRASH, HANG, EXIT_ERROR))

        def parse(line: str) -> tuple[str, str] | None:
            item, sep, result = line.partition("\t")
            return (item, result) if sep and item.isdigit() else None

        command = [sys.executable, "-m", "bench.fuzz.inputs", str(args.seed), *artifacts, "--"]
        items = [str(i) for i in range(args.start, args.start + args.count)]
        outcome = supervise(items, lambda rest: [*command, *rest], parse, args.timeout, env=env, on_result=record)
        for item, detail in outcome.details.items():
            _at(out, f"inputs-{args.seed}-{item.split('..')[0]}.stderr").write_text(detail)
        return tally.report(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fuzz", description="Fuzz the compiler or the runtime.")
    sub = p.add_subparsers(dest="what", required=True)
    for name in ("models", "artifacts", "inputs"):
        s = sub.add_parser(name)
        s.add_argument("--count", type=int, default=1000)
        s.add_argument("--start", type=int, default=0, help="first case index (replay: --start I --count 1)")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--out", default=f"fuzz-{name}", help="findings go here")
        s.add_argument("--timeout", type=float, default=30.0 if name == "artifacts" else 120.0,
                       help="seconds a case may take before it counts as a hang")
    models = sub.choices["models"]
    models.add_argument("--jobs", type=int, default=1, help="worker processes")
    artifacts = sub.choices["artifacts"]
    artifacts.add_argument("--sanitize", action="store_true", help="run the runtime built with ASan+UBSan")
    artifacts.add_argument("--build", help="runtime build folder (default: a temporary one)")
    artifacts.add_argument("--batch", type=int, default=250, help="artifacts per child process")
    artifacts.add_argument("--seed-artifact", action="append", metavar="SO",
                           help="also mutate this artifact (e.g. a compiled model)")
    inputs = sub.choices["inputs"]
    inputs.add_argument("--seed-artifact", action="append", metavar="SO",
                        help="artifacts to feed (default: the model fuzzer's seeds, compiled here)")
    inputs.add_argument("--sanitize", action="store_true", help="load runtime_min built with ASan+UBSan")
    args = p.parse_args(argv)
    run = {"models": fuzz_models, "artifacts": fuzz_artifacts, "inputs": fuzz_inputs}[args.what]
    return run(args)
