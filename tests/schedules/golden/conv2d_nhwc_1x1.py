# Golden TVMScript for x86.conv2d_nhwc on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(16)), "float32"), B: T.Buffer((T.int64(1), T.int64(1), T.int64(16), T.int64(24)), "float32"), conv2d_nhwc: T.Buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(24)), "float32")):
    T.func_attr({"op_pattern": 4, "tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(16)))
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(8), T.int64(8), T.int64(16)):
        with T.sblock("pad_temp"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(lv[v_i0, v_i1, v_i2, v_i3])
            T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
            pad_temp[v_i0, v_i1, v_i2, v_i3] = lv[v_i0, v_i1, v_i2, v_i3]
    for nn, yy, xx, ff, ry, rx, rc in T.grid(T.int64(1), T.int64(8), T.int64(8), T.int64(24), T.int64(1), T.int64(1), T.int64(16)):
        with T.sblock("conv2d_nhwc"):
            v_nn, v_yy, v_xx, v_ff, v_ry, v_rx, v_rc = T.axis.remap("SSSSRRR", [nn, yy, xx, ff, ry, rx, rc])
            T.reads(pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc], B[v_ry, v_rx, v_rc, v_ff])
            T.writes(conv2d_nhwc[v_nn, v_yy, v_xx, v_ff])
            with T.init():
                conv2d_nhwc[v_nn, v_yy, v_xx, v_ff] = T.float32(0.0)
            conv2d_nhwc[v_nn, v_yy, v_xx, v_ff] = conv2d_nhwc[v_nn, v_yy, v_xx, v_ff] + pad_temp[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc] * B[v_ry, v_rx, v_rc, v_ff]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(16)), "float32"), B: T.Buffer((T.int64(1), T.int64(1), T.int64(16), T.int64(24)), "float32"), conv2d_nhwc: T.Buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(24)), "float32")):
    T.func_attr({"op_pattern": 4, "tirx.noalias": True})
    # with T.sblock("root"):
    conv2d_nhwc_global = T.sblock_alloc_buffer((T.int64(1), T.int64(64), T.int64(24)))
    for ax0_ax1_0_ax2_0_fused, ax2_1, ax1_1 in T.grid(T.int64(4), T.int64(1), T.int64(4)):
        for ax1_2_init in T.unroll(T.int64(4)):
            for ax2_2_0_init in T.unroll(T.int64(3)):
                for ax2_2_1_init in T.vectorized(T.int64(8)):
                    with T.sblock("conv2d_nhwc_init"):
                        v0 = T.axis.spatial(T.int64(1), T.int64(0))
                        v1 = T.axis.spatial(T.int64(64), ax0_ax1_0_ax2_0_fused * T.int64(16) + ax1_1 * T.int64(4) + ax1_2_init)
                        v2 = T.axis.spatial(T.int64(24), ax2_1 * T.int64(24) + ax2_2_0_init * T.int64(8) + ax2_2_1_init)
                        v3 = T.axis.spatial(T.int64(1), T.int64(0))
                        v4 = T.axis.spatial(T.int64(1), T.int64(0))
                        T.reads()
                        T.writes(conv2d_nhwc_global[v0, v1, v2])
                        conv2d_nhwc_global[v0, v1, v2] = T.float32(0.0)
        for ax3_ax4_ax5_fused_0 in range(T.int64(4)):
            for ax3_ax4_ax5_fused_1 in T.unroll(T.int64(4)):
                for ax1_2 in T.unroll(T.int64(4)):
                    for ax2_2_0 in T.unroll(T.int64(3)):
                        for ax2_2_1 in T.vectorized(T.int64(8)):
                            with T.sblock("conv2d_nhwc_update"):
                                v0 = T.axis.spatial(T.int64(1), T.int64(0))
                                v1 = T.axis.spatial(T.int64(64), ax0_ax1_0_ax2_0_fused * T.int64(16) + ax1_1 * T.int64(4) + ax1_2)
                                v2 = T.axis.spatial(T.int64(24), ax2_1 * T.int64(24) + ax2_2_0 * T.int64(8) + ax2_2_1)
                                v3 = T.axis.spatial(T.int64(1), T.int64(0))
                                v4 = T.axis.spatial(T.int64(1), T.int64(0))
                                v5 = T.axis.reduce(T.int64(16), ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1)
                                T.reads(conv2d_nhwc_global[v0, v1, v2], lv[v0, v1 // T.int64(8), v1 % T.int64(8), v5], B[v3, v4, v5, v2])
                                T.writes(conv2d_nhwc_global[v0, v1, v2])
                                conv2d_nhwc_global[v0, v1, v2] = conv2d_nhwc_global[v0, v1, v2] + lv[v0, v1 // T.int64(8), v1 % T.int64(8), v5] * B[v3, v4, v5, v2]
        for ax0, ax1_0 in T.grid(T.int64(4), T.int64(3)):
            for ax1_1_1 in T.vectorized(T.int64(8)):
                with T.sblock("conv2d_nhwc_global"):
                    v0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v1 = T.axis.spatial(T.int64(64), ax0_ax1_0_ax2_0_fused * T.int64(16) + ax1_1 * T.int64(4) + ax0)
                    v2 = T.axis.spatial(T.int64(24), ax1_0 * T.int64(8) + ax1_1_1)
                    T.reads(conv2d_nhwc_global[v0, v1, v2])
                    T.writes(conv2d_nhwc[v0, v1 // T.int64(8), v1 % T.int64(8), v2])
                    conv2d_nhwc[v0, v1 // T.int64(8), v1 % T.int64(8), v2] = conv2d_nhwc_global[v0, v1, v2]
