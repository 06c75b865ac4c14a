"""The BitNet kernels are tunable: their design spaces (the rules' schedules with sampled tiles,
loop order, vector width and unrolling) are bit-exact at every point, and `ronn-aot tune --bitnet` records a
schedule that `compile` then applies."""

from __future__ import annotations

import json

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import helper

import ronn_aot
import ronn_aot.stages.records as records
import ronn_aot.tools.tune as tune_mod
from graphs import make_model
from helpers import cpu_has_vnni, run_artifact
from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet import reference as R
from ronn_aot.bitnet.kernels import SPEC_ATTR, LayerSpec, bitserial_kernel, pack_kernel
from ronn_aot.bitnet.schedule import design_space
from ronn_aot.targets import get_target


def _random_points(func: Any, count: int) -> list[Any]:
    """`count` schedules of the kernel's design space with freshly sampled decisions, postprocessed
    as MetaSchedule does before measuring a candidate."""
    from tvm import s_tir
    from tvm.s_tir import meta_schedule as ms

    mod = records.workload_of(func)
    target = get_target("host").tvm_target(2)
    ctx = ms.TuneContext(mod=mod, target=target, space_generator=ms.space_generator.ScheduleFn(design_space),
                         task_name="bitnet").clone()
    spaces = ctx.space_generator.generate_design_space(mod)
    points = []
    for i in range(count):
        sch = s_tir.Schedule(mod, seed=i + 1)
        spaces[i % len(spaces)].trace.apply_to_schedule(sch, remove_postproc=True,
                                                        decision_provider=lambda *_: None)
        sch.enter_postproc()
        assert all(p.apply(sch) for p in ctx.space_generator.postprocs)
        points.append(sch.mod["main"])
    return points


def _run(func: Any, args: list[np.ndarray], outs: list[tuple[tuple[int, ...], str]]) -> list[np.ndarray]:
    import tvm

    lib = tvm.compile(tvm.IRModule({"main": func}), target=get_target("host").tvm_target())
    dev = tvm.cpu()
    out = [tvm.runtime.tensor(np.zeros(s, d), dev) for s, d in outs]
    lib["main"](*[tvm.runtime.tensor(a, dev) for a in args], *out)
    return [o.numpy() for o in out]


@pytest.mark.parametrize("weights,bits", [("ternary", 8), ("binary", 8), ("binary", 1)])
def test_design_space_points_are_bit_exact(weights: str, bits: int) -> None:
    rng = np.random.default_rng(bits)
    m, k, n = 4, 100, 40
    x = rng.standard_normal((m, k)).astype(np.float32)
    packed = Q.pack_weights(rng.standard_normal((n, k)).astype(np.float32), weights)
    spec = LayerSpec(m, k, n, weights, bits, packed.word_bits)
    stats = R.activation_stats(x, bits)
    codes = R.quantize_activations(x, bits, stats)
    acts = [R.pack_activations(codes, bits, spec.word_bits), stats.vector(bits)]
    acts += [codes.sum(axis=1).astype(np.int32)] if spec.needs_rowsum else []

    outs = [(a.shape, str(a.dtype)) for a in acts]
    for func in _random_points(pack_kernel(spec), 1):
        for got, want in zip(_run(func, [x], outs), acts):
            np.testing.assert_array_equal(got, want)
    weights_args = [packed.planes, packed.scale] + ([packed.wsum] if spec.xnor else [])
    for func in _random_points(bitserial_kernel(spec), 2):  # one per loop order
        y = _run(func, acts + weights_args, [(spec.out_shape, "float32")])[0]
        np.testing.assert_array_equal(y, R.dense(x, packed, bits))


@pytest.mark.parametrize("target,kernel", [
    # x86_64-avx2 popcount kernels: ~2 min, behind -m slow (the default run keeps the vnni search
    # where the CPU has VNNI, and the bit-exactness of every design-space point below)
    pytest.param("host", "bitserial", marks=pytest.mark.slow),
    pytest.param("x86_64-avx512", "vnni", marks=pytest.mark.skipif(not cpu_has_vnni(), reason="no AVX-512 VNNI here")),
])
def test_tune_bitserial_then_compile_applies_record(target: str, kernel: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "SCHEDULES_DIR", tmp_path / "schedules")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 256)).astype(np.float32)
    wt = (rng.standard_normal((256, 64)) / 16).astype(np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": wt})
    options = ronn_aot.CompileOptions().with_target(target).with_bitnet("ternary", 8, layers="all")

    summary = tune_mod.tune(model, options, trials=8)
    assert summary.untunable == [] and summary.tuned_now == summary.kernels
    database = records.open_database(get_target(target))
    assert database is not None
    tuned = [str(r.workload.mod["main"].attrs[SPEC_ATTR]) for r in database.get_all_tuning_records()
             if r.run_secs is not None and SPEC_ATTR in r.workload.mod["main"].attrs.keys()]
    assert any(kind.startswith(f"{kernel}:") for kind in tuned)

    # tune also measured the kernels' rule schedules; a record applies only if it beat its rule,
    # which 8 trials need not do, and only if the model check did not reject it (which a record
    # that won its pair by chance may meet): make the rules "slow" and drop any rejection, so that
    # the records are what is checked.
    baselines = tmp_path / "schedules" / get_target(target).name / "rule_baselines.json"
    measured = json.loads(baselines.read_text())
    assert measured and all(0 < v["seconds"] < 1 for v in measured.values())
    slow = {k: {**{f: x for f, x in v.items() if f != "rejected"}, "seconds": 1e3} for k, v in measured.items()}
    baselines.write_text(json.dumps(slow))
    art = ronn_aot.compile(model, options.with_output(tmp_path / "m.so"))
    assert set(art.schedule_report.rule_of.values()) == {"tuned"}
    y = run_artifact(art.path, {"x": x}, threads=2)[0]
    np.testing.assert_array_equal(y, R.dense(x, Q.pack_weights(wt.T, "ternary"), 8))
    from ronn_aot.artifact.inspect import inspect_artifact

    assert inspect_artifact(art.path).to_dict()["bitnet"]["kernel"] == \
        ("vnni" if kernel == "vnni" else "popcount")
