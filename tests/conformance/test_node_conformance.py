"""onnx's own backend runner (`onnx.backend.test.BackendTest`) drives ronn-aot through its
`onnx.backend.base.Backend` (ronn_aot.backend) over onnx's node conformance cases.

Default run: a fixed subset (DEFAULT_CASES: common operators of every family, each compiled and
compared with onnx's reference outputs at the case's tolerances). `-m conformance`: every node
case and onnx's light model zoo (its "real" models, run from the light files in the onnx wheel with
onnx's generated inputs); the cases in known_failures.txt (written by
`python -m bench.conformance --known-failures`) are expected failures there, so the suite fails on
a regression and reports a case that starts to pass. The per-operator report is
`python -m bench.conformance`.
"""

from __future__ import annotations

import os
import unittest
from pathlib import Path

import onnx.backend.test
import pytest

from ronn_aot.backend import CACHE_ENV, RonnBackend

HERE = Path(__file__).resolve().parent
FULL = os.environ.get("RONN_TEST_CONFORMANCE_FULL") == "1"  # set by tests/conftest.py for -m conformance

# Common operators of each family, all passing: elementwise, activations, reductions, shapes,
# indexing, normalization, convolution/pooling, matmul, casts, control of shapes by inputs
# (frozen by the Backend), and ConvTranspose from our converter registry.
DEFAULT_CASES = [
    "test_abs", "test_add_bcast", "test_sub", "test_mul", "test_div", "test_pow", "test_sqrt", "test_exp",
    "test_log", "test_erf", "test_relu", "test_leakyrelu", "test_sigmoid", "test_tanh", "test_elu",
    "test_selu", "test_softplus", "test_hardsigmoid", "test_gelu_default_1", "test_clip", "test_where_example",
    "test_softmax_axis_1", "test_logsoftmax_axis_1", "test_reduce_mean_keepdims_example",
    "test_reduce_sum_default_axes_keepdims_example", "test_reduce_max_default_axes_keepdim_example",
    "test_argmax_default_axis_example", "test_matmul_2d", "test_matmul_4d", "test_gemm_default_matrix_bias",
    "test_conv_with_strides_padding", "test_conv_with_autopad_same", "test_maxpool_2d_default",
    "test_averagepool_2d_pads", "test_globalaveragepool", "test_batchnorm_example",
    "test_layer_normalization_2d_axis0", "test_instancenorm_example", "test_reshape_negative_dim",
    "test_reshape_reordered_all_dims", "test_transpose_default", "test_concat_2d_axis_1", "test_split_equal_parts_1d_opset18",
    "test_slice", "test_slice_neg_steps", "test_gather_0", "test_gather_elements_0", "test_expand_dim_changed",
    "test_tile", "test_squeeze", "test_unsqueeze_axis_0", "test_flatten_axis1", "test_edge_pad", "test_reflect_pad",
    "test_cast_FLOAT_to_DOUBLE", "test_equal", "test_greater", "test_not_2d", "test_and2d",
    "test_sum_example", "test_depthtospace_crd_mode_example",
    "test_spacetodepth", "test_convtranspose", "test_convtranspose_1d", "test_convtranspose_pads",
    "test_range_float_type_positive_delta", "test_constantofshape_float_ones", "test_einsum_transpose",
    "test_prelu_example", "test_hardmax_axis_1", "test_neg", "test_reciprocal", "test_floor", "test_ceil",
    "test_round", "test_sign", "test_mod_mixed_sign_float32", "test_size", "test_identity",
    "test_tril", "test_triu", "test_lstm_defaults", "test_gru_defaults",
    "test_rnn_seq_length", "test_sce_mean", "test_nllloss_NC", "test_attention_3d", "test_swish", "test_castlike_FLOAT_to_DOUBLE",
    "test_top_k", "test_top_k_smallest", "test_cumsum_1d_reverse_exclusive", "test_cumsum_2d_axis_0",
    "test_onehot_with_negative_axis", "test_isinf_negative", "test_shape_start_1", "test_max_example",
    "test_mean_two_inputs", "test_constant_pad", "test_cumprod_1d_reverse_exclusive", "test_bitcast_float32_to_int32",
    "test_pow_types_float32_int64", "test_rms_normalization_2d_axis0", "test_spacetodepth_crd_mode_example",
    "test_dropout_default_mask_ratio", "test_attention_causal_boolmask_nan_robustness", "test_reduce_max_empty_set",
    "test_mod_float_edge_cases_fmod_0_float32", "test_reduce_max_bool_inputs",
    "test_resize_downsample_scales_linear_antialias", "test_resize_upsample_sizes_nearest_axes_2_3",
    "test_scan9_sum", "test_loop11", "test_center_crop_pad_crop_and_pad", "test_qlinearmatmul_2D_uint8_float32",
    "test_col2im", "test_affine_grid_2d", "test_tensorscatter_circular", "test_det_nd",
]


def _known_failures() -> set[str]:
    path = HERE / "known_failures.txt"
    if not path.is_file():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def _build() -> dict[str, type[unittest.TestCase]]:
    runner = onnx.backend.test.BackendTest(RonnBackend, __name__)
    known = _known_failures()
    if FULL:
        for name in sorted(known):
            runner.xfail(f"^{name}_cpu$")
    cases = runner.test_cases
    wanted = {f"{n}_cpu" for n in DEFAULT_CASES}
    for cls in cases.values():
        for attr in [a for a in vars(cls) if a.startswith("test_")]:
            keep = attr.endswith("_cpu") and (FULL or attr in wanted)
            if FULL and cls.__name__ in ("OnnxBackendPyTorchConvertedModelTest", "OnnxBackendPyTorchOperatorModelTest",
                                         "OnnxBackendSimpleModelTest"):
                keep = False
            if not keep:
                delattr(cls, attr)
    marks = [pytest.mark.conformance] if FULL else []
    return {name: (pytest.mark.usefixtures("_artifact_cache")(cls) if not marks else
                   marks[0](pytest.mark.usefixtures("_artifact_cache")(cls)))
            for name, cls in cases.items() if any(a.startswith("test_") for a in vars(cls))}


@pytest.fixture(scope="session")
def _artifact_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A fresh cache per test session unless the caller chose one (RONN_AOT_CACHE)."""
    if not os.environ.get(CACHE_ENV):
        os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("backend-cache"))


globals().update(_build())


def test_default_cases_exist() -> None:
    """The subset names real cases (a renamed case in a new onnx must not silently drop out)."""
    from onnx.backend.test.loader import load_model_tests

    names = {c.name for c in load_model_tests(kind="node")}
    assert not set(DEFAULT_CASES) - names
