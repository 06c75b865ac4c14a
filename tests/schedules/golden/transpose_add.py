# Golden TVMScript for cpu.transpose on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(6), T.int64(12), T.int64(24)), "float32"), param_0: T.Buffer((T.int64(24), T.int64(1), T.int64(1)), "float32"), T_add_intermediate: T.Buffer((T.int64(1), T.int64(24), T.int64(6), T.int64(12)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    T_transpose_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(24), T.int64(6), T.int64(12)))
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(24), T.int64(6), T.int64(12)):
        with T.sblock("T_transpose"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(x[v_ax0, v_ax2, v_ax3, v_ax1])
            T.writes(T_transpose_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
            T_transpose_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = x[v_ax0, v_ax2, v_ax3, v_ax1]
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(24), T.int64(6), T.int64(12)):
        with T.sblock("T_add"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(T_transpose_intermediate[v_ax0, v_ax1, v_ax2, v_ax3], param_0[v_ax1, T.int64(0), T.int64(0)])
            T.writes(T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
            T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = T_transpose_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] + param_0[v_ax1, T.int64(0), T.int64(0)]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(6), T.int64(12), T.int64(24)), "float32"), param_0: T.Buffer((T.int64(24), T.int64(1), T.int64(1)), "float32"), T_add_intermediate: T.Buffer((T.int64(1), T.int64(24), T.int64(6), T.int64(12)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    for ax0_ax1_0_ax2_ax3_0_fused in range(T.int64(18)):
        for ax1_1 in T.unroll(T.int64(24)):
            for ax3_1 in T.vectorized(T.int64(4)):
                with T.sblock("T_add"):
                    v_ax0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v_ax1 = T.axis.spatial(T.int64(24), ax1_1)
                    v_ax2 = T.axis.spatial(T.int64(6), ax0_ax1_0_ax2_ax3_0_fused // T.int64(3))
                    v_ax3 = T.axis.spatial(T.int64(12), ax0_ax1_0_ax2_ax3_0_fused % T.int64(3) * T.int64(4) + ax3_1)
                    T.reads(x[v_ax0, v_ax2, v_ax3, v_ax1], param_0[v_ax1, T.int64(0), T.int64(0)])
                    T.writes(T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3])
                    T_add_intermediate[v_ax0, v_ax1, v_ax2, v_ax3] = x[v_ax0, v_ax2, v_ax3, v_ax1] + param_0[v_ax1, T.int64(0), T.int64(0)]
