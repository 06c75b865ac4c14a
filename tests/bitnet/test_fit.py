"""The "output" weight fit (ronn_aot/bitnet/fit.py): each channel's fitted pattern and scale never
reproduce the layer's outputs worse than absmean's, the fitted float weights quantize to exactly the
fit, and a model compiled with the fit runs the fitted weights bit for bit (numpy reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_calibrate import _feeds
from test_compile import reference, small_cnn

import ronn_aot
from ronn_aot.artifact.inspect import inspect_artifact
from ronn_aot.bitnet import ActStats, BitnetConfig
from ronn_aot.bitnet import quantize as Q
from ronn_aot.bitnet.calibrate import calibrate
from ronn_aot.bitnet.fit import fit_channels, fit_module, on_grid
from ronn_aot.bitnet.layers import find_layers
from ronn_aot.errors import RonnError


def _inputs(m: int, k: int, seed: int) -> np.ndarray:
    """Correlated, non-negative layer inputs (post-relu), as a conv's im2col would be."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((k, k)) / np.sqrt(k)
    return np.maximum(rng.standard_normal((m, k)) @ mix + 0.3, 0)


def _errors(w: np.ndarray, v: np.ndarray, q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Per channel ||V w - s V q||^2, computed directly."""
    return (((v @ w.T) - (v @ q.T.astype(np.float64)) * s) ** 2).sum(0)


@pytest.mark.parametrize("kind", ["ternary", "binary"])
def test_fit_is_never_worse_than_absmean(kind: str) -> None:
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((24, 40)) * rng.uniform(0.2, 2, (24, 1))).astype(np.float32)
    v = _inputs(300, 40, 2)
    q, s = fit_channels(w, v.T @ v, kind)
    qa, sa = Q.quantize_weights(w, kind)
    fitted, absmean = _errors(w, v, q, s), _errors(w, v, qa, sa)
    assert np.all(fitted <= absmean * (1 + 1e-9))
    # and clearly better overall on these inputs (binary: the scale alone)
    assert fitted.sum() < (0.8 if kind == "ternary" else 0.95) * absmean.sum()
    if kind == "binary":
        assert np.array_equal(q, qa)  # the sign pattern stays; only the scale is fitted
    # the closed form is the least-squares optimum: no other scale does better on any channel
    for f in (0.9, 1.1):
        assert np.all(fitted <= _errors(w, v, q, s * f))


def test_fitted_weights_quantize_to_the_fit() -> None:
    rng = np.random.default_rng(3)
    q = rng.integers(-1, 2, (10, 37)).astype(np.int8)
    q[4] = 0  # a channel with no nonzero weight
    q[5] = 1  # and one with no zero
    s = rng.uniform(0.01, 3, 10)
    values, scale = Q.quantize_weights(on_grid(q, s), "ternary")
    assert np.array_equal(values, q)
    np.testing.assert_allclose(scale[q.any(1)], s[q.any(1)], rtol=1e-6)
    b = np.where(rng.random((10, 37)) < 0.5, 1, -1).astype(np.int8)
    values, scale = Q.quantize_weights(on_grid(b, s), "binary")
    assert np.array_equal(values, b)
    np.testing.assert_allclose(scale, s, rtol=1e-6)


def test_compiled_fit_runs_the_fitted_weights_exactly(tmp_path: Path) -> None:
    """The compiled model equals the numpy reference run on the weights fit_module wrote, with the
    activation statistics it measured downstream of them; the report shows the fit."""
    from ronn_aot.stages.frontend import import_model

    model, w = small_cnn()
    feeds = _feeds(6)
    config = BitnetConfig("ternary", 8, "all", weight_fit="output")
    fitted, report, stats = fit_module(import_model(model).mod, feeds, config)
    assert [f.index for f in report] == [0, 1, 2, 3]
    assert all(f.fitted_error < f.absmean_error for f in report)
    layers = list(find_layers(fitted[fitted.get_global_var("main")]).values())
    wf = dict(w, w1=layers[0].weight, w2=layers[1].weight, w3=layers[2].weight, w4=layers[3].weight.T)
    # the statistics fit_module measured along the way are the fitted network's own (to float rounding:
    # its probe takes the weights as arguments, calibrate's as constants, which the build may sum in
    # another order)
    np.testing.assert_allclose([s.scale for s in stats], [s.scale for s in calibrate(fitted, feeds, config)],
                               rtol=1e-5)

    opts = ronn_aot.CompileOptions().with_output(tmp_path / "fit.so").with_bitnet("ternary", 8, "all", feeds)
    art = ronn_aot.compile(model, opts)  # weight_fit="auto": the fit, since calibration inputs are given
    x = np.random.default_rng(7).standard_normal((1, 3, 10, 10)).astype(np.float32)
    y = art.session(num_threads=2).run(None, {"x": x})[0]
    np.testing.assert_array_equal(y, reference(x, wf, "ternary", 8, [0, 1, 2, 3], stats))
    meta = inspect_artifact(art.path).to_dict()["bitnet"]
    assert meta["weight_fit"] == "output, fitted on 6 inputs"
    assert [e["layer"] for e in meta["fit_output_error"]] == [0, 1, 2, 3]


def test_fit_brings_outputs_closer_to_float(tmp_path: Path) -> None:
    """End to end on held-out inputs: the fitted artifact's outputs are nearer the float model's."""
    model, w = small_cnn()
    feeds = _feeds(8)
    outs = {}
    for fit in ("absmean", "output"):
        opts = ronn_aot.CompileOptions().with_output(tmp_path / f"{fit}.so").with_bitnet(
            "ternary", 8, None, feeds, weight_fit=fit)
        outs[fit] = ronn_aot.compile(model, opts).session(num_threads=1)
    float_sess = ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "f.so")).session(
        num_threads=1)
    err = {"absmean": 0.0, "output": 0.0}
    for x in _feeds(20, seed=99):
        ref = float_sess.run(None, x)[0]
        for fit, sess in outs.items():
            err[fit] += float(((sess.run(None, x)[0] - ref) ** 2).sum())
    assert err["output"] < 0.7 * err["absmean"], err


def test_fit_errors_are_clear() -> None:
    with pytest.raises(RonnError, match="weight fit must be one of"):
        BitnetConfig("ternary", weight_fit="best")
    model, _ = small_cnn()
    opts = ronn_aot.CompileOptions().with_bitnet("ternary", calibration=[ActStats(1.0)] * 4, weight_fit="output")
    with pytest.raises(RonnError, match="on calibration inputs: give them"):
        ronn_aot.compile(model, opts)


def test_fit_with_no_layer_selected_changes_nothing(tmp_path: Path) -> None:
    """A selection that quantizes nothing compiles as with absmean weights (nothing to fit)."""
    model, _ = small_cnn()
    feeds = _feeds(2)
    x = _feeds(1, seed=5)[0]
    outs = []
    for fit in ("absmean", "output"):
        opts = ronn_aot.CompileOptions().with_output(tmp_path / f"{fit}.so").with_bitnet(
            "ternary", 8, (), feeds, weight_fit=fit)
        outs.append(ronn_aot.compile(model, opts).session(num_threads=1).run(None, x)[0])
    np.testing.assert_array_equal(outs[0], outs[1])
