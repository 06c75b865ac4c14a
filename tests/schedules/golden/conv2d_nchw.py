# Golden TVMScript for cpu.conv2d_nchw on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(8), T.int64(10), T.int64(10)), "float32"), param_0: T.Buffer((T.int64(16), T.int64(8), T.int64(3), T.int64(3)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(16), T.int64(1), T.int64(1)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(16), T.int64(10), T.int64(10)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(8), T.int64(12), T.int64(12)))
    conv2d_nchw_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(16), T.int64(10), T.int64(10)))
    T_add_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(16), T.int64(10), T.int64(10)))
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(8), T.int64(12), T.int64(12)):
        with T.sblock("pad_temp"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(x[v_i0, v_i1, v_i2 - T.int64(1), v_i3 - T.int64(1)])
            T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
            pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i2 and v_i2 < T.int64(11) and T.int64(1) <= v_i3 and v_i3 < T.int64(11), x[v_i0, v_i1, v_i2 - T.int64(1), v_i3 - T.int64(1)], T.float32(0.0))
    for nn, ff, yy, xx, rc, ry, rx in T.grid(T.int64(1), T.int64(16), T.int64(10), T.int64(10), T.int64(8), T.int64(3), T.int64(3)):
        with T.sblock("conv2d_nchw"):
            v_nn, v_ff, v_yy, v_xx, v_rc, v_ry, v_rx = T.axis.remap("SSSSRRR", [nn, ff, yy, xx, rc, ry, rx])
            T.reads(pad_temp[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx], param_0[v_ff, v_rc, v_ry, v_rx])
            T.writes(conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx])
            with T.init():
                conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] = T.float32(0.0)
            conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] = conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] + pad_temp[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx] * param_0[v_ff, v_rc, v_ry, v_rx]
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(16), T.int64(10), T.int64(10)):
        with T.sblock("T_add"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(conv2d_nchw_intermediate[v_ax0, v_ax1, v_ax2, v_ax3], param_1[v_ax0, v_ax1, T.int64(0), T.int64(0)])
            T.writes(T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
            T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = conv2d_nchw_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] + param_1[v_ax0, v_ax1, T.int64(0), T.int64(0)]
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(16), T.int64(10), T.int64(10)):
        with T.sblock("compute"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(T_add_intermediate[v_i0, v_i1, v_i2, v_i3])
            T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
            compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(T_add_intermediate[v_i0, v_i1, v_i2, v_i3], T.float32(0.0))
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(8), T.int64(10), T.int64(10)), "float32"), param_0: T.Buffer((T.int64(16), T.int64(8), T.int64(3), T.int64(3)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(16), T.int64(1), T.int64(1)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(16), T.int64(10), T.int64(10)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(8), T.int64(12), T.int64(12)))
    conv2d_nchw_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(16), T.int64(10), T.int64(10)))
    for i0_i1_i2_i3_fused_0 in range(T.int64(36)):
        for i0_i1_i2_i3_fused_1 in T.vectorized(T.int64(32)):
            with T.sblock("pad_temp"):
                v_i0 = T.axis.spatial(T.int64(1), T.int64(0))
                v_i1 = T.axis.spatial(T.int64(8), (i0_i1_i2_i3_fused_0 * T.int64(32) + i0_i1_i2_i3_fused_1) // T.int64(144))
                v_i2 = T.axis.spatial(T.int64(12), (i0_i1_i2_i3_fused_0 * T.int64(32) + i0_i1_i2_i3_fused_1) % T.int64(144) // T.int64(12))
                v_i3 = T.axis.spatial(T.int64(12), (i0_i1_i2_i3_fused_0 * T.int64(32) + i0_i1_i2_i3_fused_1) % T.int64(12))
                T.reads(x[v_i0, v_i1, v_i2 - T.int64(1), v_i3 - T.int64(1)])
                T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
                pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i2 and v_i2 < T.int64(11) and T.int64(1) <= v_i3 and v_i3 < T.int64(11), x[v_i0, v_i1, v_i2 - T.int64(1), v_i3 - T.int64(1)], T.float32(0.0))
    for nn_ff_0_yy_0_xx_0_fused in T.parallel(T.int64(40)):
        for ff_1_init in T.unroll(T.int64(8)):
            for yy_1_init in T.unroll(T.int64(1)):
                for xx_1_init in T.vectorized(T.int64(5)):
                    with T.sblock("conv2d_nchw_init"):
                        v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                        v_ff = T.axis.spatial(T.int64(16), nn_ff_0_yy_0_xx_0_fused // T.int64(20) * T.int64(8) + ff_1_init)
                        v_yy = T.axis.spatial(T.int64(10), nn_ff_0_yy_0_xx_0_fused % T.int64(20) // T.int64(2) + yy_1_init)
                        v_xx = T.axis.spatial(T.int64(10), nn_ff_0_yy_0_xx_0_fused % T.int64(2) * T.int64(5) + xx_1_init)
                        T.reads()
                        T.writes(conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx])
                        conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] = T.float32(0.0)
        for rc, ry, rx in T.grid(T.int64(8), T.int64(3), T.int64(3)):
            for ff_1 in T.unroll(T.int64(8)):
                for yy_1 in T.unroll(T.int64(1)):
                    for xx_1 in T.vectorized(T.int64(5)):
                        with T.sblock("conv2d_nchw_update"):
                            v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                            v_ff = T.axis.spatial(T.int64(16), nn_ff_0_yy_0_xx_0_fused // T.int64(20) * T.int64(8) + ff_1)
                            v_yy = T.axis.spatial(T.int64(10), nn_ff_0_yy_0_xx_0_fused % T.int64(20) // T.int64(2) + yy_1)
                            v_xx = T.axis.spatial(T.int64(10), nn_ff_0_yy_0_xx_0_fused % T.int64(2) * T.int64(5) + xx_1)
                            v_rc, v_ry, v_rx = T.axis.remap("RRR", [rc, ry, rx])
                            T.reads(conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx], pad_temp[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx], param_0[v_ff, v_rc, v_ry, v_rx])
                            T.writes(conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx])
                            conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] = conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] + pad_temp[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx] * param_0[v_ff, v_rc, v_ry, v_rx]
        for ax0 in T.unroll(T.int64(8)):
            for ax1 in T.vectorized(T.int64(5)):
                with T.sblock("compute"):
                    v_i0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v_i1 = T.axis.spatial(T.int64(16), nn_ff_0_yy_0_xx_0_fused // T.int64(20) * T.int64(8) + ax0)
                    v_i2 = T.axis.spatial(T.int64(10), nn_ff_0_yy_0_xx_0_fused % T.int64(20) // T.int64(2))
                    v_i3 = T.axis.spatial(T.int64(10), nn_ff_0_yy_0_xx_0_fused % T.int64(2) * T.int64(5) + ax1)
                    T.reads(conv2d_nchw_intermediate[v_i0, v_i1, v_i2, v_i3], param_1[v_i0, v_i1, T.int64(0), T.int64(0)])
                    T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
                    compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(conv2d_nchw_intermediate[v_i0, v_i1, v_i2, v_i3] + param_1[v_i0, v_i1, T.int64(0), T.int64(0)], T.float32(0.0))
