# Golden TVMScript for cpu.conv2d_nhwc on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(4), T.int64(4), T.int64(192)), "float32"), param_0: T.Buffer((T.int64(3), T.int64(3), T.int64(192), T.int64(192)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(1), T.int64(1), T.int64(192)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(4), T.int64(4), T.int64(192)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(6), T.int64(6), T.int64(192)))
    conv2d_nhwc_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(4), T.int64(4), T.int64(192)))
    T_add_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(4), T.int64(4), T.int64(192)))
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(6), T.int64(6), T.int64(192)):
        with T.sblock("pad_temp"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3])
            T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
            pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i1 and v_i1 < T.int64(5) and T.int64(1) <= v_i2 and v_i2 < T.int64(5), lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3], T.float32(0.0))
    for nn, yy, xx, ff, ry, rx, rc in T.grid(T.int64(1), T.int64(4), T.int64(4), T.int64(192), T.int64(3), T.int64(3), T.int64(192)):
        with T.sblock("conv2d_nhwc"):
            v_nn, v_yy, v_xx, v_ff, v_ry, v_rx, v_rc = T.axis.remap("SSSSRRR", [nn, yy, xx, ff, ry, rx, rc])
            T.reads(pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc], param_0[v_ry, v_rx, v_rc, v_ff])
            T.writes(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff])
            with T.init():
                conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = T.float32(0.0)
            conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] + pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc] * param_0[v_ry, v_rx, v_rc, v_ff]
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(4), T.int64(4), T.int64(192)):
        with T.sblock("T_add"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(conv2d_nhwc_intermediate[v_ax0, v_ax1, v_ax2, v_ax3], param_1[v_ax0, T.int64(0), T.int64(0), v_ax3])
            T.writes(T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
            T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = conv2d_nhwc_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] + param_1[v_ax0, T.int64(0), T.int64(0), v_ax3]
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(4), T.int64(4), T.int64(192)):
        with T.sblock("compute"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(T_add_intermediate[v_i0, v_i1, v_i2, v_i3])
            T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
            compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(T_add_intermediate[v_i0, v_i1, v_i2, v_i3], T.float32(0.0))
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(4), T.int64(4), T.int64(192)), "float32"), param_0: T.Buffer((T.int64(3), T.int64(3), T.int64(192), T.int64(192)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(1), T.int64(1), T.int64(192)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(4), T.int64(4), T.int64(192)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(6), T.int64(6), T.int64(192)))
    conv2d_nhwc_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(4), T.int64(4), T.int64(192)))
    for i0_i1_i2_fused in T.parallel(T.int64(36)):
        for i3_0 in range(T.int64(6)):
            for i3_1 in T.vectorized(T.int64(32)):
                with T.sblock("pad_temp"):
                    v_i0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v_i1 = T.axis.spatial(T.int64(6), i0_i1_i2_fused // T.int64(6))
                    v_i2 = T.axis.spatial(T.int64(6), i0_i1_i2_fused % T.int64(6))
                    v_i3 = T.axis.spatial(T.int64(192), i3_0 * T.int64(32) + i3_1)
                    T.reads(lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3])
                    T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
                    pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i1 and v_i1 < T.int64(5) and T.int64(1) <= v_i2 and v_i2 < T.int64(5), lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3], T.float32(0.0))
    for nn_ff_0_fused in T.parallel(T.int64(8)):
        for yy_0_init_xx_0_init_yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 in range(T.int64(16)):
            for yy_0_init_xx_0_init_yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1 in T.vectorized(T.int64(24)):
                with T.sblock("conv2d_nhwc_init"):
                    v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                    v_yy = T.axis.spatial(T.int64(4), (yy_0_init_xx_0_init_yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 * T.int64(24) + yy_0_init_xx_0_init_yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1) // T.int64(96))
                    v_xx = T.axis.spatial(T.int64(4), (yy_0_init_xx_0_init_yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 * T.int64(24) + yy_0_init_xx_0_init_yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1) % T.int64(96) // T.int64(24))
                    v_ff = T.axis.spatial(T.int64(192), nn_ff_0_fused * T.int64(24) + (yy_0_init_xx_0_init_yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 * T.int64(24) + yy_0_init_xx_0_init_yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1) % T.int64(24))
                    T.reads()
                    T.writes(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff])
                    conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = T.float32(0.0)
        for rc_0, yy_0, xx_0, ry, rx, rc_1 in T.grid(T.int64(192), T.int64(4), T.int64(1), T.int64(3), T.int64(3), T.int64(1)):
            for yy_1 in T.unroll(T.int64(1)):
                for xx_1 in T.unroll(T.int64(4)):
                    for ff_1 in T.unroll(T.int64(3)):
                        for ff_2 in T.vectorized(T.int64(8)):
                            with T.sblock("conv2d_nhwc_update"):
                                v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                                v_yy = T.axis.spatial(T.int64(4), yy_0 + yy_1)
                                v_xx = T.axis.spatial(T.int64(4), xx_0 * T.int64(4) + xx_1)
                                v_ff = T.axis.spatial(T.int64(192), nn_ff_0_fused * T.int64(24) + ff_1 * T.int64(8) + ff_2)
                                v_ry, v_rx = T.axis.remap("RR", [ry, rx])
                                v_rc = T.axis.reduce(T.int64(192), rc_0 + rc_1)
                                T.reads(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff], pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc], param_0[v_ry, v_rx, v_rc, v_ff])
                                T.writes(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff])
                                conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] + pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc] * param_0[v_ry, v_rx, v_rc, v_ff]
        for ax0 in T.unroll(T.int64(1)):
            for ax1 in T.unroll(T.int64(4)):
                for ax2 in T.unroll(T.int64(4)):
                    for ax3 in T.vectorized(T.int64(24)):
                        with T.sblock("compute"):
                            v_i0, v_i1, v_i2 = T.axis.remap("SSS", [ax0, ax1, ax2])
                            v_i3 = T.axis.spatial(T.int64(192), nn_ff_0_fused * T.int64(24) + ax3)
                            T.reads(conv2d_nhwc_intermediate[v_i0, v_i1, v_i2, v_i3], param_1[v_i0, T.int64(0), T.int64(0), v_i3])
                            T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
                            compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(conv2d_nhwc_intermediate[v_i0, v_i1, v_i2, v_i3] + param_1[v_i0, T.int64(0), T.int64(0), v_i3], T.float32(0.0))
