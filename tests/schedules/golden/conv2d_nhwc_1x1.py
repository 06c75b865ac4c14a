# Golden TVMScript for cpu.conv2d_nhwc on x86_64-avx2; regenerate with tests/schedules/kernels.py
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
    conv2d_nhwc_global = T.sblock_alloc_buffer((T.int64(1), T.int64(8), T.int64(8), T.int64(24)))
    for nn_yy_0_xx_0_fused in T.parallel(T.int64(16)):
        for ff_0 in range(T.int64(1)):
            for yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 in range(T.int64(4)):
                for yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1 in T.vectorized(T.int64(24)):
                    with T.sblock("conv2d_nhwc_init"):
                        v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                        v_yy = T.axis.spatial(T.int64(8), nn_yy_0_xx_0_fused // T.int64(2))
                        v_xx = T.axis.spatial(T.int64(8), nn_yy_0_xx_0_fused % T.int64(2) * T.int64(4) + (yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 * T.int64(24) + yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1) // T.int64(24))
                        v_ff = T.axis.spatial(T.int64(24), ff_0 * T.int64(24) + (yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_0 * T.int64(24) + yy_1_init_xx_1_init_ff_1_init_ff_2_init_fused_1) % T.int64(24))
                        T.reads()
                        T.writes(conv2d_nhwc_global[v_nn, v_yy, v_xx, v_ff])
                        conv2d_nhwc_global[v_nn, v_yy, v_xx, v_ff] = T.float32(0.0)
            for ry, rx, rc in T.grid(T.int64(1), T.int64(1), T.int64(16)):
                for yy_1 in T.unroll(T.int64(1)):
                    for xx_1 in T.unroll(T.int64(4)):
                        for ff_1 in T.unroll(T.int64(3)):
                            for ff_2 in T.vectorized(T.int64(8)):
                                with T.sblock("conv2d_nhwc_update"):
                                    v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                                    v_yy = T.axis.spatial(T.int64(8), nn_yy_0_xx_0_fused // T.int64(2) + yy_1)
                                    v_xx = T.axis.spatial(T.int64(8), nn_yy_0_xx_0_fused % T.int64(2) * T.int64(4) + xx_1)
                                    v_ff = T.axis.spatial(T.int64(24), ff_0 * T.int64(24) + ff_1 * T.int64(8) + ff_2)
                                    v_ry, v_rx, v_rc = T.axis.remap("RRR", [ry, rx, rc])
                                    T.reads(conv2d_nhwc_global[v_nn, v_yy, v_xx, v_ff], lv[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc], B[v_ry, v_rx, v_rc, v_ff])
                                    T.writes(conv2d_nhwc_global[v_nn, v_yy, v_xx, v_ff])
                                    conv2d_nhwc_global[v_nn, v_yy, v_xx, v_ff] = conv2d_nhwc_global[v_nn, v_yy, v_xx, v_ff] + lv[v_nn, v_yy + v_ry, v_xx + v_rx, v_rc] * B[v_ry, v_rx, v_rc, v_ff]
            for ax0 in T.unroll(T.int64(1)):
                for ax1 in T.unroll(T.int64(1)):
                    for ax2 in T.unroll(T.int64(4)):
                        for ax3 in T.vectorized(T.int64(24)):
                            with T.sblock("conv2d_nhwc_global"):
                                v0 = T.axis.spatial(T.int64(1), ax0)
                                v1 = T.axis.spatial(T.int64(8), nn_yy_0_xx_0_fused // T.int64(2) + ax1)
                                v2 = T.axis.spatial(T.int64(8), nn_yy_0_xx_0_fused % T.int64(2) * T.int64(4) + ax2)
                                v3 = T.axis.spatial(T.int64(24), ax3)
                                T.reads(conv2d_nhwc_global[v0, v1, v2, v3])
                                T.writes(conv2d_nhwc[v0, v1, v2, v3])
                                conv2d_nhwc[v0, v1, v2, v3] = conv2d_nhwc_global[v0, v1, v2, v3]
