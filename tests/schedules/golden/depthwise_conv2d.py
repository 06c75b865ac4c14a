# Golden TVMScript for cpu.depthwise_conv2d on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(8), T.int64(16), T.int64(16)), "float32"), param_0: T.Buffer((T.int64(8), T.int64(1), T.int64(3), T.int64(3)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(8), T.int64(1), T.int64(1)), "float32"), T_add_intermediate: T.Buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(8)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(8), T.int64(18), T.int64(18)))
    group_conv2d_nchw_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(8)))
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(8), T.int64(18), T.int64(18)):
        with T.sblock("pad_temp"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(x[v_i0, v_i1, v_i2 - T.int64(1), v_i3 - T.int64(1)])
            T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
            pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i2 and v_i2 < T.int64(17) and T.int64(1) <= v_i3 and v_i3 < T.int64(17), x[v_i0, v_i1, v_i2 - T.int64(1), v_i3 - T.int64(1)], T.float32(0.0))
    for nn, ff, yy, xx, rc, ry, rx in T.grid(T.int64(1), T.int64(8), T.int64(8), T.int64(8), T.int64(1), T.int64(3), T.int64(3)):
        with T.sblock("group_conv2d_nchw"):
            v_nn, v_ff, v_yy, v_xx, v_rc, v_ry, v_rx = T.axis.remap("SSSSRRR", [nn, ff, yy, xx, rc, ry, rx])
            T.reads(pad_temp[v_nn, v_ff + v_rc, v_yy * T.int64(2) + v_ry, v_xx * T.int64(2) + v_rx], param_0[v_ff, v_rc, v_ry, v_rx])
            T.writes(group_conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx])
            with T.init():
                group_conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] = T.float32(0.0)
            group_conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] = group_conv2d_nchw_intermediate[v_nn, v_ff, v_yy, v_xx] + pad_temp[v_nn, v_ff + v_rc, v_yy * T.int64(2) + v_ry, v_xx * T.int64(2) + v_rx] * param_0[v_ff, v_rc, v_ry, v_rx]
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(8), T.int64(8), T.int64(8)):
        with T.sblock("T_add"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(group_conv2d_nchw_intermediate[v_ax0, v_ax1, v_ax2, v_ax3], param_1[v_ax0, v_ax1, T.int64(0), T.int64(0)])
            T.writes(T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
            T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = group_conv2d_nchw_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] + param_1[v_ax0, v_ax1, T.int64(0), T.int64(0)]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(8), T.int64(16), T.int64(16)), "float32"), param_0: T.Buffer((T.int64(8), T.int64(1), T.int64(3), T.int64(3)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(8), T.int64(1), T.int64(1)), "float32"), T_add_intermediate: T.Buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(8)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(1), T.int64(18), T.int64(18), T.int64(8)))
    group_conv2d_nchw_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(1), T.int64(8), T.int64(8), T.int64(8)))
    param_0_global = T.sblock_alloc_buffer((T.int64(1), T.int64(1), T.int64(3), T.int64(3), T.int64(8)))
    for nn_ff_0_fused in T.parallel(T.int64(1)):
        for ax1, ax2 in T.grid(T.int64(3), T.int64(3)):
            for ax0 in T.vectorized(T.int64(8)):
                with T.sblock("param_0_global"):
                    v0 = T.axis.spatial(T.int64(8), ax0)
                    v1 = T.axis.spatial(T.int64(1), T.int64(0))
                    v2, v3 = T.axis.remap("SS", [ax1, ax2])
                    T.reads(param_0[v0, v1, v2, v3])
                    T.writes(param_0_global[T.int64(0), v1, v2, v3, v0])
                    param_0_global[T.int64(0), v1, v2, v3, v0] = param_0[v0, v1, v2, v3]
        for ax1, ax2 in T.grid(T.int64(17), T.int64(17)):
            for ax0 in T.unroll(T.int64(8)):
                with T.sblock("pad_temp"):
                    v_i0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v_i1 = T.axis.spatial(T.int64(8), ax0)
                    v_i2 = T.axis.spatial(T.int64(18), ax1)
                    v_i3 = T.axis.spatial(T.int64(18), ax2)
                    T.reads(x[v_i0, v_i1, v_i2 - T.int64(1), v_i3 - T.int64(1)])
                    T.writes(pad_temp[v_i0, T.int64(0), v_i2, v_i3, v_i1])
                    pad_temp[v_i0, T.int64(0), v_i2, v_i3, v_i1] = T.if_then_else(T.int64(1) <= v_i2 and v_i2 < T.int64(17) and T.int64(1) <= v_i3 and v_i3 < T.int64(17), x[v_i0, v_i1, v_i2 - T.int64(1), v_i3 - T.int64(1)], T.float32(0.0))
        for yy_0, xx_0 in T.grid(T.int64(8), T.int64(1)):
            for yy_1_init in T.unroll(T.int64(1)):
                for xx_1_init in T.unroll(T.int64(8)):
                    for ff_1_init in T.vectorized(T.int64(8)):
                        with T.sblock("group_conv2d_nchw_init"):
                            v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                            v_ff = T.axis.spatial(T.int64(8), ff_1_init)
                            v_yy = T.axis.spatial(T.int64(8), yy_0 + yy_1_init)
                            v_xx = T.axis.spatial(T.int64(8), xx_0 * T.int64(8) + xx_1_init)
                            T.reads()
                            T.writes(group_conv2d_nchw_intermediate[v_nn, T.int64(0), v_yy, v_xx, v_ff])
                            group_conv2d_nchw_intermediate[v_nn, T.int64(0), v_yy, v_xx, v_ff] = T.float32(0.0)
            for rc, ry in T.grid(T.int64(1), T.int64(3)):
                for rx in T.unroll(T.int64(3)):
                    for yy_1 in T.unroll(T.int64(1)):
                        for xx_1 in T.unroll(T.int64(8)):
                            for ff_1 in T.vectorized(T.int64(8)):
                                with T.sblock("group_conv2d_nchw_update"):
                                    v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                                    v_ff = T.axis.spatial(T.int64(8), ff_1)
                                    v_yy = T.axis.spatial(T.int64(8), yy_0 + yy_1)
                                    v_xx = T.axis.spatial(T.int64(8), xx_0 * T.int64(8) + xx_1)
                                    v_rc, v_ry, v_rx = T.axis.remap("RRR", [rc, ry, rx])
                                    T.reads(group_conv2d_nchw_intermediate[v_nn, T.int64(0), v_yy, v_xx, v_ff], pad_temp[v_nn, T.int64(0), v_yy * T.int64(2) + v_ry, v_xx * T.int64(2) + v_rx, v_ff], param_0_global[T.int64(0), v_rc, v_ry, v_rx, v_ff])
                                    T.writes(group_conv2d_nchw_intermediate[v_nn, T.int64(0), v_yy, v_xx, v_ff])
                                    group_conv2d_nchw_intermediate[v_nn, T.int64(0), v_yy, v_xx, v_ff] = group_conv2d_nchw_intermediate[v_nn, T.int64(0), v_yy, v_xx, v_ff] + pad_temp[v_nn, T.int64(0), v_yy * T.int64(2) + v_ry, v_xx * T.int64(2) + v_rx, v_ff] * param_0_global[T.int64(0), v_rc, v_ry, v_rx, v_ff]
            for ax0, ax1 in T.grid(T.int64(8), T.int64(8)):
                with T.sblock("T_add"):
                    v_ax0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v_ax1, v_ax2, v_ax3 = T.axis.remap("SSS", [ax0, yy_0, ax1])
                    T.reads(group_conv2d_nchw_intermediate[v_ax0, T.int64(0), v_ax2, v_ax3, v_ax1], param_1[v_ax0, v_ax1, T.int64(0), T.int64(0)])
                    T.writes(T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
                    T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = group_conv2d_nchw_intermediate[v_ax0, T.int64(0), v_ax2, v_ax3, v_ax1] + param_1[v_ax0, v_ax1, T.int64(0), T.int64(0)]
