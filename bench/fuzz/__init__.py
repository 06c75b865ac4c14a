"""Fuzzing the compiler and the runtime (issue 19).

    python -m bench.fuzz models --count 10000 [--jobs 2] [--seed 0] [--out DIR]
    python -m bench.fuzz artifacts --count 10000 [--sanitize] [--seed 0] [--out DIR]
    python -m bench.fuzz inputs --count 10000 [--sanitize] [--seed-artifact SO]...

`models` feeds mutated ONNX models (structure-aware edits of small seed graphs, and raw byte flips)
to ronn_aot.compile: the only acceptable outcomes are an artifact or a RonnError; another exception
type, a crash or a hang (a model compiling for longer than --timeout) is a finding. `artifacts`
mutates and re-seals the plan, footer and signature of artifacts (the fixture of tests/runtime and
any --seed-artifact) and loads and runs them through runtime_min's load_run driver (built here,
with ASan+UBSan when --sanitize) in batches of child processes: the only acceptable outcome is a
status code. `inputs` feeds compiled artifacts (the seeds, compiled, or --seed-artifact) random
inputs through the Python binding: extreme values, wrong shapes, dtypes and names, misaligned and
non-contiguous arrays; only outputs or a RonnRuntimeError may come out. Findings are saved in --out with a line saying how to reproduce them; the exit code is
1 when there is any. Each case is a pure function of (--seed, its index), so `--start I --count 1`
replays case I.
"""
