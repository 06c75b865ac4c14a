# Golden TVMScript for cpu.conv2d_nhwc on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(14), T.int64(14), T.int64(16)), "float32"), param_0: T.Buffer((T.int64(3), T.int64(3), T.int64(16), T.int64(32)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(1), T.int64(1), T.int64(32)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(7), T.int64(7), T.int64(32)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(16), T.int64(16), T.int64(16)))
    conv2d_nhwc_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(7), T.int64(7), T.int64(32)))
    T_add_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(7), T.int64(7), T.int64(32)))
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(16), T.int64(16), T.int64(16)):
        with T.sblock("pad_temp"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3])
            T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
            pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i1 and v_i1 < T.int64(15) and T.int64(1) <= v_i2 and v_i2 < T.int64(15), lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3], T.float32(0.0))
    for nn, yy, xx, ff, ry, rx, rc in T.grid(T.int64(1), T.int64(7), T.int64(7), T.int64(32), T.int64(3), T.int64(3), T.int64(16)):
        with T.sblock("conv2d_nhwc"):
            v_nn, v_yy, v_xx, v_ff, v_ry, v_rx, v_rc = T.axis.remap("SSSSRRR", [nn, yy, xx, ff, ry, rx, rc])
            T.reads(pad_temp[v_nn, v_yy * T.int64(2) + v_ry, v_xx * T.int64(2) + v_rx, v_rc], param_0[v_ry, v_rx, v_rc, v_ff])
            T.writes(conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff])
            with T.init():
                conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = T.float32(0.0)
            conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] = conv2d_nhwc_intermediate[v_nn, v_yy, v_xx, v_ff] + pad_temp[v_nn, v_yy * T.int64(2) + v_ry, v_xx * T.int64(2) + v_rx, v_rc] * param_0[v_ry, v_rx, v_rc, v_ff]
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(7), T.int64(7), T.int64(32)):
        with T.sblock("T_add"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(conv2d_nhwc_intermediate[v_ax0, v_ax1, v_ax2, v_ax3], param_1[v_ax0, T.int64(0), T.int64(0), v_ax3])
            T.writes(T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
            T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = conv2d_nhwc_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] + param_1[v_ax0, T.int64(0), T.int64(0), v_ax3]
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(7), T.int64(7), T.int64(32)):
        with T.sblock("compute"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(T_add_intermediate[v_i0, v_i1, v_i2, v_i3])
            T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
            compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(T_add_intermediate[v_i0, v_i1, v_i2, v_i3], T.float32(0.0))
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(14), T.int64(14), T.int64(16)), "float32"), param_0: T.Buffer((T.int64(3), T.int64(3), T.int64(16), T.int64(32)), "float32"), param_1: T.Buffer((T.int64(1), T.int64(1), T.int64(1), T.int64(32)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(7), T.int64(7), T.int64(32)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(16), T.int64(16), T.int64(16)))
    conv2d_nhwc_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(49), T.int64(32)))
    for i0_i1_i2_fused in T.parallel(T.int64(256)):
        for i3_0 in range(T.int64(1)):
            for i3_1 in T.vectorized(T.int64(16)):
                with T.sblock("pad_temp"):
                    v_i0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v_i1 = T.axis.spatial(T.int64(16), i0_i1_i2_fused // T.int64(16))
                    v_i2 = T.axis.spatial(T.int64(16), i0_i1_i2_fused % T.int64(16))
                    v_i3 = T.axis.spatial(T.int64(16), i3_0 * T.int64(16) + i3_1)
                    T.reads(lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3])
                    T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
                    pad_temp[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(T.int64(1) <= v_i1 and v_i1 < T.int64(15) and T.int64(1) <= v_i2 and v_i2 < T.int64(15), lv[v_i0, v_i1 - T.int64(1), v_i2 - T.int64(1), v_i3], T.float32(0.0))
    with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_0_common"):
        T.reads()
        T.writes()
        with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_00_partition"):
            T.reads()
            T.writes()
            for ax0_ax1_fused_0_00_ax2_0_0_fused in T.parallel(T.int64(4)):
                for ax2_0_1, ax0_ax1_fused_0_1 in T.grid(T.int64(1), T.int64(3)):
                    for ax0_ax1_fused_1_init in T.unroll(T.int64(6)):
                        for ax2_1_init in T.unroll(T.int64(2)):
                            for ax2_2_init in T.vectorized(T.int64(8)):
                                with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_00_init"):
                                    v0 = T.axis.spatial(T.int64(1), T.int64(0))
                                    v1 = T.axis.spatial(T.int64(49), ax0_ax1_fused_0_00_ax2_0_0_fused // T.int64(2) * T.int64(18) + ax0_ax1_fused_0_1 * T.int64(6) + ax0_ax1_fused_1_init)
                                    v2 = T.axis.spatial(T.int64(32), ax0_ax1_fused_0_00_ax2_0_0_fused % T.int64(2) * T.int64(16) + ax2_0_1 * T.int64(16) + ax2_1_init * T.int64(8) + ax2_2_init)
                                    T.where((ax0_ax1_fused_0_00_ax2_0_0_fused // T.int64(2) * T.int64(3) + ax0_ax1_fused_0_1) * T.int64(6) + ax0_ax1_fused_1_init < T.int64(49))
                                    T.reads()
                                    T.writes(conv2d_nhwc_intermediate[v0, v1, v2])
                                    conv2d_nhwc_intermediate[v0, v1, v2] = T.float32(0.0)
                    for ax3_ax4_ax5_fused_0 in range(T.int64(36)):
                        for ax3_ax4_ax5_fused_1 in T.unroll(T.int64(4)):
                            for ax0_ax1_fused_1 in T.unroll(T.int64(6)):
                                for ax2_1 in T.unroll(T.int64(2)):
                                    for ax2_2 in T.vectorized(T.int64(8)):
                                        with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_00_update"):
                                            v0 = T.axis.spatial(T.int64(1), T.int64(0))
                                            v1 = T.axis.spatial(T.int64(49), ax0_ax1_fused_0_00_ax2_0_0_fused // T.int64(2) * T.int64(18) + ax0_ax1_fused_0_1 * T.int64(6) + ax0_ax1_fused_1)
                                            v2 = T.axis.spatial(T.int64(32), ax0_ax1_fused_0_00_ax2_0_0_fused % T.int64(2) * T.int64(16) + ax2_0_1 * T.int64(16) + ax2_1 * T.int64(8) + ax2_2)
                                            v3 = T.axis.reduce(T.int64(3), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) // T.int64(48))
                                            v4 = T.axis.reduce(T.int64(3), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) % T.int64(48) // T.int64(16))
                                            v5 = T.axis.reduce(T.int64(16), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) % T.int64(16))
                                            T.where((ax0_ax1_fused_0_00_ax2_0_0_fused // T.int64(2) * T.int64(3) + ax0_ax1_fused_0_1) * T.int64(6) + ax0_ax1_fused_1 < T.int64(49))
                                            T.reads(conv2d_nhwc_intermediate[v0, v1, v2], pad_temp[v0, v1 // T.int64(7) * T.int64(2) + v3, v1 % T.int64(7) * T.int64(2) + v4, v5], param_0[v3, v4, v5, v2])
                                            T.writes(conv2d_nhwc_intermediate[v0, v1, v2])
                                            conv2d_nhwc_intermediate[v0, v1, v2] = conv2d_nhwc_intermediate[v0, v1, v2] + pad_temp[v0, v1 // T.int64(7) * T.int64(2) + v3, v1 % T.int64(7) * T.int64(2) + v4, v5] * param_0[v3, v4, v5, v2]
        with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_01_partition"):
            T.reads()
            T.writes()
            for ax0_ax1_fused_0_01 in range(T.int64(2), T.int64(3)):
                for ax2_0_0 in T.parallel(T.int64(2)):
                    for ax2_0_1 in range(T.int64(1)):
                        with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_01_ax0_ax1_fused_0_1_common"):
                            T.reads()
                            T.writes()
                            with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_01_ax0_ax1_fused_0_10_partition"):
                                T.reads()
                                T.writes()
                                for ax0_ax1_fused_0_10 in range(T.int64(2)):
                                    for ax0_ax1_fused_1_init in T.unroll(T.int64(6)):
                                        for ax2_1_init in T.unroll(T.int64(2)):
                                            for ax2_2_init in T.vectorized(T.int64(8)):
                                                with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_01_ax0_ax1_fused_0_10_init"):
                                                    v0 = T.axis.spatial(T.int64(1), T.int64(0))
                                                    v1 = T.axis.spatial(T.int64(49), ax0_ax1_fused_0_01 * T.int64(18) + ax0_ax1_fused_0_10 * T.int64(6) + ax0_ax1_fused_1_init)
                                                    v2 = T.axis.spatial(T.int64(32), ax2_0_0 * T.int64(16) + ax2_0_1 * T.int64(16) + ax2_1_init * T.int64(8) + ax2_2_init)
                                                    T.where((ax0_ax1_fused_0_01 * T.int64(3) + ax0_ax1_fused_0_10) * T.int64(6) + ax0_ax1_fused_1_init < T.int64(49))
                                                    T.reads()
                                                    T.writes(conv2d_nhwc_intermediate[v0, v1, v2])
                                                    conv2d_nhwc_intermediate[v0, v1, v2] = T.float32(0.0)
                                    for ax3_ax4_ax5_fused_0 in range(T.int64(36)):
                                        for ax3_ax4_ax5_fused_1 in T.unroll(T.int64(4)):
                                            for ax0_ax1_fused_1 in T.unroll(T.int64(6)):
                                                for ax2_1 in T.unroll(T.int64(2)):
                                                    for ax2_2 in T.vectorized(T.int64(8)):
                                                        with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_01_ax0_ax1_fused_0_10_update"):
                                                            v0 = T.axis.spatial(T.int64(1), T.int64(0))
                                                            v1 = T.axis.spatial(T.int64(49), ax0_ax1_fused_0_01 * T.int64(18) + ax0_ax1_fused_0_10 * T.int64(6) + ax0_ax1_fused_1)
                                                            v2 = T.axis.spatial(T.int64(32), ax2_0_0 * T.int64(16) + ax2_0_1 * T.int64(16) + ax2_1 * T.int64(8) + ax2_2)
                                                            v3 = T.axis.reduce(T.int64(3), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) // T.int64(48))
                                                            v4 = T.axis.reduce(T.int64(3), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) % T.int64(48) // T.int64(16))
                                                            v5 = T.axis.reduce(T.int64(16), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) % T.int64(16))
                                                            T.where((ax0_ax1_fused_0_01 * T.int64(3) + ax0_ax1_fused_0_10) * T.int64(6) + ax0_ax1_fused_1 < T.int64(49))
                                                            T.reads(conv2d_nhwc_intermediate[v0, v1, v2], pad_temp[v0, v1 // T.int64(7) * T.int64(2) + v3, v1 % T.int64(7) * T.int64(2) + v4, v5], param_0[v3, v4, v5, v2])
                                                            T.writes(conv2d_nhwc_intermediate[v0, v1, v2])
                                                            conv2d_nhwc_intermediate[v0, v1, v2] = conv2d_nhwc_intermediate[v0, v1, v2] + pad_temp[v0, v1 // T.int64(7) * T.int64(2) + v3, v1 % T.int64(7) * T.int64(2) + v4, v5] * param_0[v3, v4, v5, v2]
                            with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_01_ax0_ax1_fused_0_11_partition"):
                                T.reads()
                                T.writes()
                                for ax0_ax1_fused_0_11 in range(T.int64(2), T.int64(3)):
                                    for ax0_ax1_fused_1_init in T.unroll(T.int64(6)):
                                        for ax2_1_init in T.unroll(T.int64(2)):
                                            for ax2_2_init in T.vectorized(T.int64(8)):
                                                with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_01_ax0_ax1_fused_0_11_init"):
                                                    v0 = T.axis.spatial(T.int64(1), T.int64(0))
                                                    v1 = T.axis.spatial(T.int64(49), ax0_ax1_fused_0_01 * T.int64(18) + ax0_ax1_fused_0_11 * T.int64(6) + ax0_ax1_fused_1_init)
                                                    v2 = T.axis.spatial(T.int64(32), ax2_0_0 * T.int64(16) + ax2_0_1 * T.int64(16) + ax2_1_init * T.int64(8) + ax2_2_init)
                                                    T.where((ax0_ax1_fused_0_01 * T.int64(3) + ax0_ax1_fused_0_11) * T.int64(6) + ax0_ax1_fused_1_init < T.int64(49))
                                                    T.reads()
                                                    T.writes(conv2d_nhwc_intermediate[v0, v1, v2])
                                                    conv2d_nhwc_intermediate[v0, v1, v2] = T.float32(0.0)
                                    for ax3_ax4_ax5_fused_0 in range(T.int64(36)):
                                        for ax3_ax4_ax5_fused_1 in T.unroll(T.int64(4)):
                                            for ax0_ax1_fused_1 in T.unroll(T.int64(6)):
                                                for ax2_1 in T.unroll(T.int64(2)):
                                                    for ax2_2 in T.vectorized(T.int64(8)):
                                                        with T.sblock("conv2d_nhwc_ax0_ax1_fused_0_01_ax0_ax1_fused_0_11_update"):
                                                            v0 = T.axis.spatial(T.int64(1), T.int64(0))
                                                            v1 = T.axis.spatial(T.int64(49), ax0_ax1_fused_0_01 * T.int64(18) + ax0_ax1_fused_0_11 * T.int64(6) + ax0_ax1_fused_1)
                                                            v2 = T.axis.spatial(T.int64(32), ax2_0_0 * T.int64(16) + ax2_0_1 * T.int64(16) + ax2_1 * T.int64(8) + ax2_2)
                                                            v3 = T.axis.reduce(T.int64(3), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) // T.int64(48))
                                                            v4 = T.axis.reduce(T.int64(3), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) % T.int64(48) // T.int64(16))
                                                            v5 = T.axis.reduce(T.int64(16), (ax3_ax4_ax5_fused_0 * T.int64(4) + ax3_ax4_ax5_fused_1) % T.int64(16))
                                                            T.where((ax0_ax1_fused_0_01 * T.int64(3) + ax0_ax1_fused_0_11) * T.int64(6) + ax0_ax1_fused_1 < T.int64(49))
                                                            T.reads(conv2d_nhwc_intermediate[v0, v1, v2], pad_temp[v0, v1 // T.int64(7) * T.int64(2) + v3, v1 % T.int64(7) * T.int64(2) + v4, v5], param_0[v3, v4, v5, v2])
                                                            T.writes(conv2d_nhwc_intermediate[v0, v1, v2])
                                                            conv2d_nhwc_intermediate[v0, v1, v2] = conv2d_nhwc_intermediate[v0, v1, v2] + pad_temp[v0, v1 // T.int64(7) * T.int64(2) + v3, v1 % T.int64(7) * T.int64(2) + v4, v5] * param_0[v3, v4, v5, v2]
    for ax0_ax1_ax2_fused_0 in range(T.int64(49)):
        for ax0_ax1_ax2_fused_1 in T.vectorized(T.int64(32)):
            with T.sblock("compute"):
                v0 = T.axis.spatial(T.int64(1), T.int64(0))
                v1 = T.axis.spatial(T.int64(49), (ax0_ax1_ax2_fused_0 * T.int64(32) + ax0_ax1_ax2_fused_1) // T.int64(32))
                v2 = T.axis.spatial(T.int64(32), (ax0_ax1_ax2_fused_0 * T.int64(32) + ax0_ax1_ax2_fused_1) % T.int64(32))
                T.reads(conv2d_nhwc_intermediate[v0, v1, v2], param_1[v0, T.int64(0), T.int64(0), v2])
                T.writes(compute_intermediate[v0, v1 // T.int64(7), v1 % T.int64(7), v2])
                compute_intermediate[v0, v1 // T.int64(7), v1 % T.int64(7), v2] = T.max(conv2d_nhwc_intermediate[v0, v1, v2] + param_1[v0, T.int64(0), T.int64(0), v2], T.float32(0.0))
