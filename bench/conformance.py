"""onnx's node conformance cases through ronn-aot AND onnxruntime, in the same run.

    .venv/bin/python -m bench.conformance [--only REGEX] [--sample N] [--jobs 2]
        [--out docs/conformance.md] [--readme]

Every case (`onnx.backend.test.loader.load_model_tests(kind="node")`, 1,884 with onnx 1.23) is
compiled for the host through `ronn_aot.backend` (inputs that decide shapes frozen, artifacts
cached) and run through runtime_min, then run by onnxruntime; both are compared with onnx's
reference outputs by onnx's own runner check (`Runner.assert_similar_outputs`, the case's rtol and
atol). Each result is one of:

    pass     outputs match the reference
    wrong    outputs differ from the reference
    refused  a clean refusal: a RonnError (for onnxruntime: any error it raised)
    error    ronn-aot raised something that is not a RonnError (a bug: every failure must be clean)
    crashed  the worker process died or hung on the case (it is restarted)

Cases run in worker processes (`--jobs`), so a crash is recorded, not fatal. Writes a table per
operator and the totals into `--out`; `--readme` also puts the totals into the README (bench/readme.py).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ("pass", "wrong", "refused", "error", "crashed")
CASE_TIMEOUT_S = 300
WORKER_CASES = 150  # a worker is replaced after this many cases (TVM's caches grow)


def _cases() -> dict[str, Any]:
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {c.name: c for c in load_model_tests(kind="node")}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def operator_of(case_name: str, op_names: Iterable[str]) -> str:
    """The operator a case tests, from its name (test_reduce_sum_keepdims -> ReduceSum): the
    longest operator whose snake-case name prefixes it."""
    rest = case_name.removeprefix("test_")
    best = ""
    for op in op_names:
        s = _snake(op)
        if (rest == s or rest.startswith(s + "_")) and len(s) > len(_snake(best) if best else ""):
            best = op
    return best or rest.split("_")[0]


# --- the worker: one case per line on stdin, one JSON result per line on stdout ---------------

def _check(case: Any, run: Any) -> tuple[str, str]:
    from onnx.backend.test.runner import Runner
    from ronn_runtime import RonnRuntimeError

    from ronn_aot.errors import RonnError

    try:
        for inputs, ref_outputs in case.data_sets:
            from onnx import numpy_helper

            norm = [numpy_helper.to_array(x) if hasattr(x, "raw_data") else x for x in inputs]
            refs = [numpy_helper.to_array(x) if hasattr(x, "raw_data") else x for x in ref_outputs]
            outputs = run(norm)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    Runner.assert_similar_outputs(refs, list(outputs), rtol=case.rtol, atol=case.atol)
            except AssertionError as e:
                return "wrong", str(e).strip().splitlines()[0][:200] if str(e).strip() else "mismatch"
        return "pass", ""
    except (RonnError, RonnRuntimeError, _OrtRefused) as e:  # status errors and onnxruntime's own are refusals
        return "refused", f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}"
    except Exception as e:  # noqa: BLE001 - the report's point is to count these
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        return "error", f"{type(e).__name__}: {msg}"


def _run_ronn(case: Any) -> tuple[str, str]:
    from ronn_aot.backend import prepare

    rep: list[Any] = []

    def run(inputs: list[Any]) -> Any:
        if not rep:
            rep.append(prepare(case.model))
        return rep[0].run(inputs)

    return _check(case, run)


def _run_ort(case: Any) -> tuple[str, str]:
    import onnxruntime as ort

    from ronn_aot.stages.freeze import graph_inputs

    sess: list[Any] = []

    def run(inputs: list[Any]) -> Any:
        if not sess:
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.log_severity_level = 4
            try:
                sess.append(ort.InferenceSession(case.model.SerializeToString(), so,
                                                 providers=["CPUExecutionProvider"]))
            except Exception as e:  # noqa: BLE001 - onnxruntime refusing a model is its "refused"
                raise _OrtRefused(str(e)) from None
        names = [i.name for i in graph_inputs(case.model)]
        try:
            return sess[0].run(None, dict(zip(names, inputs)))
        except Exception as e:  # noqa: BLE001
            raise _OrtRefused(str(e)) from None

    return _check(case, run)


class _OrtRefused(Exception):
    """onnxruntime refused the model or its inputs (its "refused" in the report)."""


def worker() -> int:
    cases = _cases()
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        case = cases[name]
        t0 = time.perf_counter()
        ronn = _run_ronn(case)
        t1 = time.perf_counter()
        theirs = _run_ort(case)
        print(json.dumps({"case": name, "ronn": ronn[0], "ronn_detail": ronn[1], "ort": theirs[0],
                          "ort_detail": theirs[1], "ronn_s": round(t1 - t0, 3)}), flush=True)
    return 0


# --- the driver ------------------------------------------------------------------------------

class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.conformance", "--worker"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.done = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, name: str) -> dict[str, Any] | None:
        """The case's result, or None when the worker died or hung on it (then it is killed)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(name + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None
        deadline = time.monotonic() + CASE_TIMEOUT_S
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                return None
            if line is None:
                return None
            if line.startswith("{"):
                self.done += 1
                return json.loads(line)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def run_cases(names: list[str], jobs: int, progress: bool = True) -> list[dict[str, Any]]:
    todo: queue.Queue[str] = queue.Queue()
    for n in names:
        todo.put(n)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def loop() -> None:
        w = _Worker()
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                break
            r = w.run(name)
            if r is None:
                r = {"case": name, "ronn": "crashed", "ronn_detail": "worker died or hung", "ort": "?",
                     "ort_detail": ""}
                w.kill()
                w = _Worker()
            elif w.done >= WORKER_CASES:
                w.close()
                w = _Worker()
            with lock:
                results.append(r)
                if progress:
                    print(f"[{len(results)}/{len(names)}] {name}: ronn-aot {r['ronn']}, onnxruntime {r['ort']}",
                          file=sys.stderr, flush=True)
        w.close()

    threads = [threading.Thread(target=loop) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results, key=lambda r: r["case"])


def report(results: list[dict[str, Any]], op_names: Iterable[str], header: str) -> tuple[str, str]:
    """(the per-operator markdown document, the totals table)."""
    ops = list(op_names)
    by_op: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    total: collections.Counter[str] = collections.Counter()
    for r in results:
        op = operator_of(r["case"], ops)
        by_op[op][r["ronn"]] += 1
        by_op[op]["ort_pass"] += r["ort"] == "pass"
        by_op[op]["cases"] += 1
        total[r["ronn"]] += 1
        total["ort_pass"] += r["ort"] == "pass"
        total["cases"] += 1
    totals = ("| cases | ronn-aot pass | wrong | refused | error | crashed | onnxruntime pass |\n"
              "|---|---|---|---|---|---|---|\n"
              f"| {total['cases']} | {total['pass']} | {total['wrong']} | {total['refused']} | {total['error']} "
              f"| {total['crashed']} | {total['ort_pass']} |\n")
    rows = ["| operator | cases | pass | wrong | refused | error | crashed | onnxruntime pass |",
            "|---|---|---|---|---|---|---|---|"]
    for op in sorted(by_op):
        c = by_op[op]
        rows.append(f"| {op} | {c['cases']} | {c['pass']} | {c['wrong']} | {c['refused']} | {c['error']} "
                    f"| {c['crashed']} | {c['ort_pass']} |")
    worse = [r for r in results if r["ronn"] != "pass" and r["ort"] == "pass"]
    wrong_right = [r for r in worse if r["ronn"] in ("wrong", "error", "crashed")]
    reasons = collections.Counter(re.sub(r"'[^']*'|\d+", "_", r["ronn_detail"])[:120]
                                  for r in results if r["ronn"] == "refused")
    doc = [f"# Node conformance: ronn-aot and onnxruntime\n", header, "\n## Totals\n", totals,
           "\n## Wrong, error or crashed where onnxruntime passes\n"]
    doc += [f"- `{r['case']}`: {r['ronn']}: {r['ronn_detail']}" for r in wrong_right] or ["- none"]
    doc += ["\n## Most common refusals\n"]
    doc += [f"- {n} x {reason}" for reason, n in reasons.most_common(25)]
    doc += ["\n## Per operator\n", "\n".join(rows), ""]
    return "\n".join(doc), totals


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--only", metavar="REGEX", help="cases whose name matches")
    p.add_argument("--sample", type=int, metavar="N", help="a random sample of N cases (--seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--out", default=str(ROOT / "docs" / "conformance.md"))
    p.add_argument("--json", help="also write every case's result here")
    p.add_argument("--readme", action="store_true", help="write the totals into README.md")
    p.add_argument("--known-failures", metavar="FILE",
                   help="write the cases ronn-aot does not pass, one per line (tests/conformance/known_failures.txt: "
                        "the expected failures of pytest -m conformance)")
    args = p.parse_args(argv)
    if args.worker:
        return worker()

    import onnx
    import onnxruntime

    names = sorted(_cases())
    if args.only:
        names = [n for n in names if re.search(args.only, n)]
    if args.sample:
        names = sorted(random.Random(args.seed).sample(names, min(args.sample, len(names))))
    t0 = time.time()
    results = run_cases(names, args.jobs)
    ops = {s.name for s in onnx.defs.get_all_schemas_with_history()}
    chosen = ([f"matching {args.only}"] if args.only else []) + (
        [f"a random sample, seed {args.seed}"] if args.sample else [])
    what = f"{len(names)} ({', '.join(chosen)})" if chosen else f"all {len(names)}"
    header = (f"onnx {onnx.__version__} node cases: {what}; ronn-aot on the host target through "
              f"`ronn_aot.backend`, onnxruntime {onnxruntime.__version__} (CPU) in the same run; "
              f"{time.time() - t0:.0f} s. Regenerate: `python -m bench.conformance --jobs 2 --readme`.")
    doc, totals = report(results, ops, header)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.known_failures:
        failing = [r["case"] for r in results if r["ronn"] != "pass"]
        Path(args.known_failures).write_text(
            f"# Node cases ronn-aot does not pass yet (python -m bench.conformance --known-failures FILE);\n"
            f"# expected failures of pytest -m conformance. {len(failing)} of {len(results)}.\n"
            + "".join(f"{n}\n" for n in failing))
    if args.readme:
        from bench.readme import replace_block

        replace_block("conformance", f"{header}\n\n{totals}")
    print(totals)
    print(f"per operator: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
