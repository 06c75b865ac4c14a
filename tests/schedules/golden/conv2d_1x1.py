# Golden TVMScript for cpu.conv2d_nchw on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(16), T.int64(8), T.int64(8)), "float32"), B: T.Buffer((T.int64(24), T.int64(16), T.int64(1), T.int64(1)), "float32"), conv2d_nchw: T.Buffer((T.int64(1), T.int64(24), T.int64(8), T.int64(8)), "float32")):
    T.func_attr({"op_pattern": 4, "tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(16), T.int64(8), T.int64(8)))
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(16), T.int64(8), T.int64(8)):
        with T.sblock("pad_temp"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(x[v_i0, v_i1, v_i2, v_i3])
            T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
            pad_temp[v_i0, v_i1, v_i2, v_i3] = x[v_i0, v_i1, v_i2, v_i3]
    for nn, ff, yy, xx, rc, ry, rx in T.grid(T.int64(1), T.int64(24), T.int64(8), T.int64(8), T.int64(16), T.int64(1), T.int64(1)):
        with T.sblock("conv2d_nchw"):
            v_nn, v_ff, v_yy, v_xx, v_rc, v_ry, v_rx = T.axis.remap("SSSSRRR", [nn, ff, yy, xx, rc, ry, rx])
            T.reads(pad_temp[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx], B[v_ff, v_rc, v_ry, v_rx])
            T.writes(conv2d_nchw[v_nn, v_ff, v_yy, v_xx])
            with T.init():
                conv2d_nchw[v_nn, v_ff, v_yy, v_xx] = T.float32(0.0)
            conv2d_nchw[v_nn, v_ff, v_yy, v_xx] = conv2d_nchw[v_nn, v_ff, v_yy, v_xx] + pad_temp[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx] * B[v_ff, v_rc, v_ry, v_rx]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(16), T.int64(8), T.int64(8)), "float32"), B: T.Buffer((T.int64(24), T.int64(16), T.int64(1), T.int64(1)), "float32"), conv2d_nchw: T.Buffer((T.int64(1), T.int64(24), T.int64(8), T.int64(8)), "float32")):
    T.func_attr({"op_pattern": 4, "tirx.noalias": True})
    # with T.sblock("root"):
    conv2d_nchw_global = T.sblock_alloc_buffer((T.int64(1), T.int64(24), T.int64(8), T.int64(8)))
    for nn_ff_0_yy_0_xx_0_fused in T.parallel(T.int64(16)):
        for ff_1_init in T.unroll(T.int64(12)):
            for yy_1_init in T.unroll(T.int64(1)):
                for xx_1_init in T.vectorized(T.int64(8)):
                    with T.sblock("conv2d_nchw_init"):
                        v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                        v_ff = T.axis.spatial(T.int64(24), nn_ff_0_yy_0_xx_0_fused // T.int64(8) * T.int64(12) + ff_1_init)
                        v_yy = T.axis.spatial(T.int64(8), nn_ff_0_yy_0_xx_0_fused % T.int64(8) + yy_1_init)
                        v_xx = T.axis.spatial(T.int64(8), xx_1_init)
                        T.reads()
                        T.writes(conv2d_nchw_global[v_nn, v_ff, v_yy, v_xx])
                        conv2d_nchw_global[v_nn, v_ff, v_yy, v_xx] = T.float32(0.0)
        for rc, ry, rx in T.grid(T.int64(16), T.int64(1), T.int64(1)):
            for ff_1 in T.unroll(T.int64(12)):
                for yy_1 in T.unroll(T.int64(1)):
                    for xx_1 in T.vectorized(T.int64(8)):
                        with T.sblock("conv2d_nchw_update"):
                            v_nn = T.axis.spatial(T.int64(1), T.int64(0))
                            v_ff = T.axis.spatial(T.int64(24), nn_ff_0_yy_0_xx_0_fused // T.int64(8) * T.int64(12) + ff_1)
                            v_yy = T.axis.spatial(T.int64(8), nn_ff_0_yy_0_xx_0_fused % T.int64(8) + yy_1)
                            v_xx, v_rc, v_ry, v_rx = T.axis.remap("SRRR", [xx_1, rc, ry, rx])
                            T.reads(conv2d_nchw_global[v_nn, v_ff, v_yy, v_xx], x[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx], B[v_ff, v_rc, v_ry, v_rx])
                            T.writes(conv2d_nchw_global[v_nn, v_ff, v_yy, v_xx])
                            conv2d_nchw_global[v_nn, v_ff, v_yy, v_xx] = conv2d_nchw_global[v_nn, v_ff, v_yy, v_xx] + x[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx] * B[v_ff, v_rc, v_ry, v_rx]
        for ax0 in T.unroll(T.int64(12)):
            for ax1 in T.vectorized(T.int64(8)):
                with T.sblock("conv2d_nchw_global"):
                    v0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v1 = T.axis.spatial(T.int64(24), nn_ff_0_yy_0_xx_0_fused // T.int64(8) * T.int64(12) + ax0)
                    v2 = T.axis.spatial(T.int64(8), nn_ff_0_yy_0_xx_0_fused % T.int64(8))
                    v3 = T.axis.spatial(T.int64(8), ax1)
                    T.reads(conv2d_nchw_global[v0, v1, v2, v3])
                    T.writes(conv2d_nchw[v0, v1, v2, v3])
                    conv2d_nchw[v0, v1, v2, v3] = conv2d_nchw_global[v0, v1, v2, v3]
