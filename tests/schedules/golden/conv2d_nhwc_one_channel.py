# Golden TVMScript for cpu.conv2d_nhwc_shallow on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(12), T.int64(10), T.int64(1)), "float32"), param_0: T.Buffer((T.int64(3), T.int64(3), T.int64(1), T.int64(16)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(1), T.int64(1), T.int64(16)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(12), T.int64(10), T.int64(16)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(14), T.int64(12), T.int64(1)))
    conv2d_nhwc_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(12), T.int64(10), T.int64(16)))
    T_add_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(12), T.int64(10), T.int64(16)))
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(14), T.int64(12), T.int64(1)):
        with T.sblock("pad_temp"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3])
            T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
            pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i1 and v_i1 < T.int64(13) and T.int64(1) <= v_i2 and v_i2 < T.int64(11), lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3], T.float32(0.0))
    for nn, yy, xx, ff, ry, rx, rc in T.grid(T.int64(1), T.int64(12), T.int64(10), T.int64(16), T.int64(3), T.int64(3), T.int64(1)):
        with T.sblock("conv2d_nhwc"):
            v_nn, v_yy, v_xx, v_ff, v_ry, v_rx, v_rc = T.axis.remap("SSSSRRR", [nn, yy, xx, ff, ry, rx, rc])
            T.reads(pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc], param_0[v_ry, v_rx, v_rc, v_ff])
            T.writes(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff])
            with T.init():
                conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = T.float32(0.0)
            conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] + pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc] * param_0[v_ry, v_rx, v_rc, v_ff]
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(12), T.int64(10), T.int64(16)):
        with T.sblock("T_add"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(conv2d_nhwc_intermediate[v_ax0, v_ax1, v_ax2, v_ax3], param_1[v_ax0, T.int64(0), T.int64(0), v_ax3])
            T.writes(T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
            T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = conv2d_nhwc_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] + param_1[v_ax0, T.int64(0), T.int64(0), v_ax3]
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(12), T.int64(10), T.int64(16)):
        with T.sblock("compute"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(T_add_intermediate[v_i0, v_i1, v_i2, v_i3])
            T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
            compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(T_add_intermediate[v_i0, v_i1, v_i2, v_i3], T.float32(0.0))
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(12), T.int64(10), T.int64(1)), "float32"), param_0: T.Buffer((T.int64(3), T.int64(3), T.int64(1), T.int64(16)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(1), T.int64(1), T.int64(16)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(12), T.int64(10), T.int64(16)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(14), T.int64(12), T.int64(1)))
    conv2d_nhwc_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(12), T.int64(10), T.int64(16)))
    for nn_yy_0_fused in range(T.int64(4)):
        for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(5), T.int64(12), T.int64(1)):
            with T.sblock("pad_temp"):
                v_i0 = T.axis.spatial(T.int64(1), ax0)
                v_i1 = T.axis.spatial(T.int64(14), nn_yy_0_fused * T.int64(3) + ax1)
                v_i2, v_i3 = T.axis.remap("SS", [ax2, ax3])
                T.reads(lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3])
                T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
                pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i1 and v_i1 < T.int64(13) and T.int64(1) <= v_i2 and v_i2 < T.int64(11), lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3], T.float32(0.0))
        for xx_0, ff_0 in T.grid(T.int64(5), T.int64(1)):
            for yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 in range(T.int64(6)):
                for yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1 in T.vectorized(T.int64(16)):
                    with T.sblock("conv2d_nhwc_init"):
                        v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                        v_yy = T.axis.spatial(T.int64(12), nn_yy_0_fused * T.int64(3) + (yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 * T.int64(16) + yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1) // T.int64(32))
                        v_xx = T.axis.spatial(T.int64(10), xx_0 * T.int64(2) + (yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 * T.int64(16) + yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1) % T.int64(32) // T.int64(16))
                        v_ff = T.axis.spatial(T.int64(16), ff_0 * T.int64(16) + (yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 * T.int64(16) + yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1) % T.int64(16))
                        T.reads()
                        T.writes(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff])
                        conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = T.float32(0.0)
            for ry, rx, rc in T.grid(T.int64(3), T.int64(3), T.int64(1)):
                for yy_1 in T.unroll(T.int64(3)):
                    for xx_1 in T.unroll(T.int64(2)):
                        for ff_1 in T.unroll(T.int64(2)):
                            for ff_2 in T.vectorized(T.int64(8)):
                                with T.sblock("conv2d_nhwc_update"):
                                    v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                                    v_yy = T.axis.spatial(T.int64(12), nn_yy_0_fused * T.int64(3) + yy_1)
                                    v_xx = T.axis.spatial(T.int64(10), xx_0 * T.int64(2) + xx_1)
                                    v_ff = T.axis.spatial(T.int64(16), ff_0 * T.int64(16) + ff_1 * T.int64(8) + ff_2)
                                    v_ry, v_rx, v_rc = T.axis.remap("RRR", [ry, rx, rc])
                                    T.reads(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff], pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc], param_0[v_ry, v_rx, v_rc, v_ff])
                                    T.writes(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff])
                                    conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] + pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc] * param_0[v_ry, v_rx, v_rc, v_ff]
            for ax0 in T.unroll(T.int64(1)):
                for ax1 in T.unroll(T.int64(3)):
                    for ax2 in T.unroll(T.int64(2)):
                        for ax3 in T.vectorized(T.int64(16)):
                            with T.sblock("compute"):
                                v_i0 = T.axis.spatial(T.int64(1), ax0)
                                v_i1 = T.axis.spatial(T.int64(12), nn_yy_0_fused * T.int64(3) + ax1)
                                v_i2 = T.axis.spatial(T.int64(10), xx_0 * T.int64(2) + ax2)
                                v_i3 = T.axis.spatial(T.int64(16), ax3)
                                T.reads(conv2d_nhwc_intermediate[v_i0, v_i1, v_i2, v_i3], param_1[v_i0, T.int64(0), T.int64(0), v_i3])
                                T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
                                compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(conv2d_nhwc_intermediate[v_i0, v_i1, v_i2, v_i3] + param_1[v_i0, T.int64(0), T.int64(0), v_i3], T.float32(0.0))
