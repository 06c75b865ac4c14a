# Golden TVMScript for cpu.dense on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(2), T.int64(32)), "float32"), param_0: T.Buffer((T.int64(32), T.int64(48)), "float32"), param_1: T.Buffer((T.int64(48),), "float32"), T_add_intermediate: T.Buffer((T.int64(2), T.int64(48)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    matmul_intermediate = T.sblock_alloc_buffer((T.int64(2), T.int64(48)))
    for i0, i1, k in T.grid(T.int64(2), T.int64(48), T.int64(32)):
        with T.sblock("matmul"):
            v_i0, v_i1, v_k = T.axis.remap("SSR", [i0, i1, k])
            T.reads(x[v_i0, v_k], param_0[v_k, v_i1])
            T.writes(matmul_intermediate[v_i0, v_i1])
            with T.init():
                matmul_intermediate[v_i0, v_i1] = T.float32(0.0)
            matmul_intermediate[v_i0, v_i1] = matmul_intermediate[v_i0, v_i1] + x[v_i0, v_k] * param_0[v_k, v_i1]
    for ax0, ax1 in T.grid(T.int64(2), T.int64(48)):
        with T.sblock("T_add"):
            v_ax0, v_ax1 = T.axis.remap("SS", [ax0, ax1])
            T.reads(matmul_intermediate[v_ax0, v_ax1], param_1[v_ax1])
            T.writes(T_add_intermediate[v_ax0, v_ax1])
            T_add_intermediate[v_ax0, v_ax1] = matmul_intermediate[v_ax0, v_ax1] + param_1[v_ax1]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(2), T.int64(32)), "float32"), param_0: T.Buffer((T.int64(32), T.int64(48)), "float32"), param_1: T.Buffer((T.int64(48),), "float32"), T_add_intermediate: T.Buffer((T.int64(2), T.int64(48)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    matmul_intermediate = T.sblock_alloc_buffer((T.int64(2), T.int64(48)))
    for i0_0_i1_0_0_fused, i1_0_1, i0_1 in T.grid(T.int64(2), T.int64(1), T.int64(1)):
        for i0_2_init in T.unroll(T.int64(2)):
            for i1_1_init in T.unroll(T.int64(3)):
                for i1_2_init in T.vectorized(T.int64(8)):
                    with T.sblock("matmul_init"):
                        v_i0 = T.axis.spatial(T.int64(2), i0_1 * T.int64(2) + i0_2_init)
                        v_i1 = T.axis.spatial(T.int64(48), i0_0_i1_0_0_fused * T.int64(24) + i1_0_1 * T.int64(24) + i1_1_init * T.int64(8) + i1_2_init)
                        T.reads()
                        T.writes(matmul_intermediate[v_i0, v_i1])
                        matmul_intermediate[v_i0, v_i1] = T.float32(0.0)
        for k_0 in range(T.int64(8)):
            for k_1 in T.unroll(T.int64(4)):
                for i0_2 in T.unroll(T.int64(2)):
                    for i1_1 in T.unroll(T.int64(3)):
                        for i1_2 in T.vectorized(T.int64(8)):
                            with T.sblock("matmul_update"):
                                v_i0 = T.axis.spatial(T.int64(2), i0_1 * T.int64(2) + i0_2)
                                v_i1 = T.axis.spatial(T.int64(48), i0_0_i1_0_0_fused * T.int64(24) + i1_0_1 * T.int64(24) + i1_1 * T.int64(8) + i1_2)
                                v_k = T.axis.reduce(T.int64(32), k_0 * T.int64(4) + k_1)
                                T.reads(matmul_intermediate[v_i0, v_i1], x[v_i0, v_k], param_0[v_k, v_i1])
                                T.writes(matmul_intermediate[v_i0, v_i1])
                                matmul_intermediate[v_i0, v_i1] = matmul_intermediate[v_i0, v_i1] + x[v_i0, v_k] * param_0[v_k, v_i1]
        for ax0, ax1_0 in T.grid(T.int64(2), T.int64(3)):
            for ax1_1 in T.vectorized(T.int64(8)):
                with T.sblock("T_add"):
                    v_ax0 = T.axis.spatial(T.int64(2), ax0)
                    v_ax1 = T.axis.spatial(T.int64(48), i0_0_i1_0_0_fused * T.int64(24) + ax1_0 * T.int64(8) + ax1_1)
                    T.reads(matmul_intermediate[v_ax0, v_ax1], param_1[v_ax1])
                    T.writes(T_add_intermediate[v_ax0, v_ax1])
                    T_add_intermediate[v_ax0, v_ax1] = matmul_intermediate[v_ax0, v_ax1] + param_1[v_ax1]
