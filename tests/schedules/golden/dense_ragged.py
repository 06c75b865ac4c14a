# Golden TVMScript for cpu.dense on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(49), T.int64(64)), "float32"), param_0: T.Buffer((T.int64(64), T.int64(32)), "float32"), param_1: T.Buffer((T.int64(32),), "float32"), T_add_intermediate: T.Buffer((T.int64(49), T.int64(32)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    matmul_intermediate = T.sblock_alloc_buffer((T.int64(49), T.int64(32)))
    for i0, i1, k in T.grid(T.int64(49), T.int64(32), T.int64(64)):
        with T.sblock("matmul"):
            v_i0, v_i1, v_k = T.axis.remap("SSR", [i0, i1, k])
            T.reads(x[v_i0, v_k], param_0[v_k, v_i1])
            T.writes(matmul_intermediate[v_i0, v_i1])
            with T.init():
                matmul_intermediate[v_i0, v_i1] = T.float32(0.0)
            matmul_intermediate[v_i0, v_i1] = matmul_intermediate[v_i0, v_i1] + x[v_i0, v_k] * param_0[v_k, v_i1]
    for ax0, ax1 in T.grid(T.int64(49), T.int64(32)):
        with T.sblock("T_add"):
            v_ax0, v_ax1 = T.axis.remap("SS", [ax0, ax1])
            T.reads(matmul_intermediate[v_ax0, v_ax1], param_1[v_ax1])
            T.writes(T_add_intermediate[v_ax0, v_ax1])
            T_add_intermediate[v_ax0, v_ax1] = matmul_intermediate[v_ax0, v_ax1] + param_1[v_ax1]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(49), T.int64(64)), "float32"), param_0: T.Buffer((T.int64(64), T.int64(32)), "float32"), param_1: T.Buffer((T.int64(32),), "float32"), T_add_intermediate: T.Buffer((T.int64(49), T.int64(32)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    matmul_intermediate = T.sblock_alloc_buffer((T.int64(49), T.int64(32)))
    with T.sblock("matmul_i0_0_0_common"):
        T.reads()
        T.writes()
        with T.sblock("matmul_i0_0_00_partition"):
            T.reads()
            T.writes()
            for i0_0_00_i1_0_0_fused in T.parallel(T.int64(4)):
                for i1_0_1, i0_0_1 in T.grid(T.int64(1), T.int64(3)):
                    for i0_1_init in T.unroll(T.int64(6)):
                        for i1_1_init in T.unroll(T.int64(2)):
                            for i1_2_init in T.vectorized(T.int64(8)):
                                with T.sblock("matmul_i0_0_00_init"):
                                    v_i0 = T.axis.spatial(T.int64(49), i0_0_00_i1_0_0_fused // T.int64(2) * T.int64(18) + i0_0_1 * T.int64(6) + i0_1_init)
                                    v_i1 = T.axis.spatial(T.int64(32), i0_0_00_i1_0_0_fused % T.int64(2) * T.int64(16) + i1_0_1 * T.int64(16) + i1_1_init * T.int64(8) + i1_2_init)
                                    T.where((i0_0_00_i1_0_0_fused // T.int64(2) * T.int64(3) + i0_0_1) * T.int64(6) + i0_1_init < T.int64(49))
                                    T.reads()
                                    T.writes(matmul_intermediate[v_i0, v_i1])
                                    matmul_intermediate[v_i0, v_i1] = T.float32(0.0)
                    for k_0 in range(T.int64(16)):
                        for k_1 in T.unroll(T.int64(4)):
                            for i0_1 in T.unroll(T.int64(6)):
                                for i1_1 in T.unroll(T.int64(2)):
                                    for i1_2 in T.vectorized(T.int64(8)):
                                        with T.sblock("matmul_i0_0_00_update"):
                                            v_i0 = T.axis.spatial(T.int64(49), i0_0_00_i1_0_0_fused // T.int64(2) * T.int64(18) + i0_0_1 * T.int64(6) + i0_1)
                                            v_i1 = T.axis.spatial(T.int64(32), i0_0_00_i1_0_0_fused % T.int64(2) * T.int64(16) + i1_0_1 * T.int64(16) + i1_1 * T.int64(8) + i1_2)
                                            v_k = T.axis.reduce(T.int64(64), k_0 * T.int64(4) + k_1)
                                            T.where((i0_0_00_i1_0_0_fused // T.int64(2) * T.int64(3) + i0_0_1) * T.int64(6) + i0_1 < T.int64(49))
                                            T.reads(matmul_intermediate[v_i0, v_i1], x[v_i0, v_k], param_0[v_k, v_i1])
                                            T.writes(matmul_intermediate[v_i0, v_i1])
                                            matmul_intermediate[v_i0, v_i1] = matmul_intermediate[v_i0, v_i1] + x[v_i0, v_k] * param_0[v_k, v_i1]
        with T.sblock("matmul_i0_0_01_partition"):
            T.reads()
            T.writes()
            for i0_0_01 in range(T.int64(2), T.int64(3)):
                for i1_0_0 in T.parallel(T.int64(2)):
                    for i1_0_1 in range(T.int64(1)):
                        with T.sblock("matmul_i0_0_01_i0_0_1_common"):
                            T.reads()
                            T.writes()
                            with T.sblock("matmul_i0_0_01_i0_0_10_partition"):
                                T.reads()
                                T.writes()
                                for i0_0_10 in range(T.int64(2)):
                                    for i0_1_init in T.unroll(T.int64(6)):
                                        for i1_1_init in T.unroll(T.int64(2)):
                                            for i1_2_init in T.vectorized(T.int64(8)):
                                                with T.sblock("matmul_i0_0_01_i0_0_10_init"):
                                                    v_i0 = T.axis.spatial(T.int64(49), i0_0_01 * T.int64(18) + i0_0_10 * T.int64(6) + i0_1_init)
                                                    v_i1 = T.axis.spatial(T.int64(32), i1_0_0 * T.int64(16) + i1_0_1 * T.int64(16) + i1_1_init * T.int64(8) + i1_2_init)
                                                    T.where((i0_0_01 * T.int64(3) + i0_0_10) * T.int64(6) + i0_1_init < T.int64(49))
                                                    T.reads()
                                                    T.writes(matmul_intermediate[v_i0, v_i1])
                                                    matmul_intermediate[v_i0, v_i1] = T.float32(0.0)
                                    for k_0 in range(T.int64(16)):
                                        for k_1 in T.unroll(T.int64(4)):
                                            for i0_1 in T.unroll(T.int64(6)):
                                                for i1_1 in T.unroll(T.int64(2)):
                                                    for i1_2 in T.vectorized(T.int64(8)):
                                                        with T.sblock("matmul_i0_0_01_i0_0_10_update"):
                                                            v_i0 = T.axis.spatial(T.int64(49), i0_0_01 * T.int64(18) + i0_0_10 * T.int64(6) + i0_1)
                                                            v_i1 = T.axis.spatial(T.int64(32), i1_0_0 * T.int64(16) + i1_0_1 * T.int64(16) + i1_1 * T.int64(8) + i1_2)
                                                            v_k = T.axis.reduce(T.int64(64), k_0 * T.int64(4) + k_1)
                                                            T.where((i0_0_01 * T.int64(3) + i0_0_10) * T.int64(6) + i0_1 < T.int64(49))
                                                            T.reads(matmul_intermediate[v_i0, v_i1], x[v_i0, v_k], param_0[v_k, v_i1])
                                                            T.writes(matmul_intermediate[v_i0, v_i1])
                                                            matmul_intermediate[v_i0, v_i1] = matmul_intermediate[v_i0, v_i1] + x[v_i0, v_k] * param_0[v_k, v_i1]
                            with T.sblock("matmul_i0_0_01_i0_0_11_partition"):
                                T.reads()
                                T.writes()
                                for i0_0_11 in range(T.int64(2), T.int64(3)):
                                    for i0_1_init in T.unroll(T.int64(6)):
                                        for i1_1_init in T.unroll(T.int64(2)):
                                            for i1_2_init in T.vectorized(T.int64(8)):
                                                with T.sblock("matmul_i0_0_01_i0_0_11_init"):
                                                    v_i0 = T.axis.spatial(T.int64(49), i0_0_01 * T.int64(18) + i0_0_11 * T.int64(6) + i0_1_init)
                                                    v_i1 = T.axis.spatial(T.int64(32), i1_0_0 * T.int64(16) + i1_0_1 * T.int64(16) + i1_1_init * T.int64(8) + i1_2_init)
                                                    T.where((i0_0_01 * T.int64(3) + i0_0_11) * T.int64(6) + i0_1_init < T.int64(49))
                                                    T.reads()
                                                    T.writes(matmul_intermediate[v_i0, v_i1])
                                                    matmul_intermediate[v_i0, v_i1] = T.float32(0.0)
                                    for k_0 in range(T.int64(16)):
                                        for k_1 in T.unroll(T.int64(4)):
                                            for i0_1 in T.unroll(T.int64(6)):
                                                for i1_1 in T.unroll(T.int64(2)):
                                                    for i1_2 in T.vectorized(T.int64(8)):
                                                        with T.sblock("matmul_i0_0_01_i0_0_11_update"):
                                                            v_i0 = T.axis.spatial(T.int64(49), i0_0_01 * T.int64(18) + i0_0_11 * T.int64(6) + i0_1)
                                                            v_i1 = T.axis.spatial(T.int64(32), i1_0_0 * T.int64(16) + i1_0_1 * T.int64(16) + i1_1 * T.int64(8) + i1_2)
                                                            v_k = T.axis.reduce(T.int64(64), k_0 * T.int64(4) + k_1)
                                                            T.where((i0_0_01 * T.int64(3) + i0_0_11) * T.int64(6) + i0_1 < T.int64(49))
                                                            T.reads(matmul_intermediate[v_i0, v_i1], x[v_i0, v_k], param_0[v_k, v_i1])
                                                            T.writes(matmul_intermediate[v_i0, v_i1])
                                                            matmul_intermediate[v_i0, v_i1] = matmul_intermediate[v_i0, v_i1] + x[v_i0, v_k] * param_0[v_k, v_i1]
    for ax0_ax1_fused_0 in range(T.int64(49)):
        for ax0_ax1_fused_1 in T.vectorized(T.int64(32)):
            with T.sblock("T_add"):
                v_ax0 = T.axis.spatial(T.int64(49), (ax0_ax1_fused_0 * T.int64(32) + ax0_ax1_fused_1) // T.int64(32))
                v_ax1 = T.axis.spatial(T.int64(32), (ax0_ax1_fused_0 * T.int64(32) + ax0_ax1_fused_1) % T.int64(32))
                T.reads(matmul_intermediate[v_ax0, v_ax1], param_1[v_ax1])
                T.writes(T_add_intermediate[v_ax0, v_ax1])
                T_add_intermediate[v_ax0, v_ax1] = matmul_intermediate[v_ax0, v_ax1] + param_1[v_ax1]
