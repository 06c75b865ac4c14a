# Golden TVMScript for cpu.transpose on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(5), T.int64(16), T.int64(64)), "float32"), T_transpose: T.Buffer((T.int64(1), T.int64(64), T.int64(5), T.int64(16)), "float32")):
    T.func_attr({"op_pattern": 2, "tirx.noalias": True})
    # with T.sblock("root"):
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(64), T.int64(5), T.int64(16)):
        with T.sblock("T_transpose"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(x[v_ax0, v_ax2, v_ax3, v_ax1])
            T.writes(T_transpose[v_ax0, v_ax1, v_ax2, v_ax3])
            T_transpose[v_ax0, v_ax1, v_ax2, v_ax3] = x[v_ax0, v_ax2, v_ax3, v_ax1]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(5), T.int64(16), T.int64(64)), "float32"), T_transpose: T.Buffer((T.int64(1), T.int64(64), T.int64(5), T.int64(16)), "float32")):
    T.func_attr({"op_pattern": 2, "tirx.noalias": True})
    # with T.sblock("root"):
    for ax0_ax1_0_ax2_ax3_0_fused in range(T.int64(20)):
        for ax1_1 in T.unroll(T.int64(32)):
            for ax3_1 in T.vectorized(T.int64(8)):
                with T.sblock("T_transpose"):
                    v_ax0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v_ax1 = T.axis.spatial(T.int64(64), ax0_ax1_0_ax2_ax3_0_fused // T.int64(10) * T.int64(32) + ax1_1)
                    v_ax2 = T.axis.spatial(T.int64(5), ax0_ax1_0_ax2_ax3_0_fused % T.int64(10) // T.int64(2))
                    v_ax3 = T.axis.spatial(T.int64(16), ax0_ax1_0_ax2_ax3_0_fused % T.int64(2) * T.int64(8) + ax3_1)
                    T.reads(x[v_ax0, v_ax2, v_ax3, v_ax1])
                    T.writes(T_transpose[v_ax0, v_ax1, v_ax2, v_ax3])
                    T_transpose[v_ax0, v_ax1, v_ax2, v_ax3] = x[v_ax0, v_ax2, v_ax3, v_ax1]
