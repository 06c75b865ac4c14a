"""The main job: compile the bundled EfficientNet-Lite0, classify a photo through runtime_min,
and compare with onnxruntime on the same input and thread count."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import models
from .bench import cpu_count
from ..options import DEFAULT_OPT_LEVEL, CompileOptions
from .peer_isa import groups_unhidden
from .timing import Engine, RoundPlan, ratio, time_engines


def runtime_library_path() -> Path:
    import ronn_runtime

    return Path(ronn_runtime.library_path())


def run_demo(image: str | None = None, target: str = "host", threads: int = 0, opt_level: int = DEFAULT_OPT_LEVEL,
             repeat: int = 20) -> int:
    from .. import compile as compile_model

    image_path = Path(image) if image else models.bundled_image_paths()["chelsea"]
    model_path = models.default_model_path()
    t0 = time.perf_counter()
    art = compile_model(model_path, CompileOptions().with_target(target).with_optimization_level(opt_level))
    compile_s = time.perf_counter() - t0
    x = models.preprocess(image_path)
    sess = art.session(num_threads=threads)
    input_name = sess.get_inputs()[0].name
    logits = sess.run(None, {input_name: x})[0]

    print(f"model:    {model_path.name} -> {art.path} (compiled in {compile_s:.1f} s, -O{opt_level}, {art.target})")
    print(f"photo:    {image_path.name}")
    print("top-5:")
    for idx, name, prob in models.top_k(logits, 5):
        print(f"  {prob:7.2%}  {name} ({idx})")

    import onnxruntime as ort

    so = ort.SessionOptions()
    n = threads or cpu_count()
    so.intra_op_num_threads = n
    so.inter_op_num_threads = 1
    ref = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    ref_logits = ref.run(None, {input_name: x})[0]
    diff = float(np.max(np.abs(ref_logits - logits)))
    del sess, ref  # timed in processes of their own: two thread pools in one process distort each other
    plan = RoundPlan(rounds=3, min_runs=repeat, min_seconds=0.5)
    t, _ = time_engines([Engine("ronn-aot", "ronn", art.path), Engine("onnxruntime", "ort", model_path)],
                        {input_name: x}, n, plan)
    ours, theirs = t["ronn-aot"].median, t["onnxruntime"].median
    print(f"latency:  ronn-aot {ours:.2f} ms, onnxruntime {theirs:.2f} ms ({n} threads, each in its own "
          f"process, median of {plan.rounds} alternating rounds; ratio {ratio(t['ronn-aot'], t['onnxruntime']):.2f}; "
          f"onnxruntime on {t['onnxruntime'].peers})")
    lacking = groups_unhidden(art.target)
    if lacking:
        # The demo times onnxruntime as it runs here; an artifact for a target without these
        # instructions is compared fairly by `bench`, which hides them from onnxruntime.
        print(f"          {art.target} devices lack {', '.join(lacking)}, which onnxruntime used here; "
              f"`ronn-aot bench {model_path} --target {art.target}` compares without it")
    print(f"accuracy: max |ronn-aot - onnxruntime| = {diff:.2e} on the logits")
    lib = runtime_library_path()
    print(f"sizes:    artifact {art.path.stat().st_size} bytes (code {art.footer.code_size}, "
          f"weights {art.footer.weights_size}, arena {art.arena_size}); runtime {lib.name} "
          f"{lib.stat().st_size} bytes")
    return 0

