# Golden TVMScript for cpu.pooling on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(4), T.int64(18), T.int64(18)), "float32"), pool_max: T.Buffer((T.int64(1), T.int64(4), T.int64(18), T.int64(18)), "float32")):
    T.func_attr({"op_pattern": 4, "tirx.noalias": True})
    # with T.sblock("root"):
    pad_temp = T.sblock_alloc_buffer((T.int64(1), T.int64(4), T.int64(20), T.int64(20)))
    for ax0, ax1, ax2, ax3 in T.grid(T.int64(1), T.int64(4), T.int64(20), T.int64(20)):
        with T.sblock("pad_temp"):
            v_ax0, v_ax1, v_ax2, v_ax3 = T.axis.remap("SSSS", [ax0, ax1, ax2, ax3])
            T.reads(x[v_ax0, v_ax1, v_ax2 - T.int64(1), v_ax3 - T.int64(1)])
            T.writes(pad_temp[v_ax0, v_ax1, v_ax2, v_ax3])
            pad_temp[v_ax0, v_ax1, v_ax2, v_ax3] = T.if_then_else(T.int64(1) <= v_ax2 and v_ax2 < T.int64(19) and T.int64(1) <= v_ax3 and v_ax3 < T.int64(19), x[v_ax0, v_ax1, v_ax2 - T.int64(1), v_ax3 - T.int64(1)], T.float32(-340282346638528859811704183484516925440.0))
    for ax0, ax1, ax2, ax3, rv0, rv1 in T.grid(T.int64(1), T.int64(4), T.int64(18), T.int64(18), T.int64(3), T.int64(3)):
        with T.sblock("pool_max"):
            v_ax0, v_ax1, v_ax2, v_ax3, v_rv0, v_rv1 = T.axis.remap("SSSSRR", [ax0, ax1, ax2, ax3, rv0, rv1])
            T.reads(pad_temp[v_ax0, v_ax1, v_ax2 + v_rv0, v_ax3 + v_rv1])
            T.writes(pool_max[v_ax0, v_ax1, v_ax2, v_ax3])
            T.sblock_attr({"schedule_rule": "meta_schedule.pool_max"})
            with T.init():
                pool_max[v_ax0, v_ax1, v_ax2, v_ax3] = T.float32(-340282346638528859811704183484516925440.0)
            pool_max[v_ax0, v_ax1, v_ax2, v_ax3] = T.max(pool_max[v_ax0, v_ax1, v_ax2, v_ax3], pad_temp[v_ax0, v_ax1, v_ax2 + v_rv0, v_ax3 + v_rv1])
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(1), T.int64(4), T.int64(18), T.int64(18)), "float32"), pool_max: T.Buffer((T.int64(1), T.int64(4), T.int64(18), T.int64(18)), "float32")):
    T.func_attr({"op_pattern": 4, "tirx.noalias": True})
    # with T.sblock("root"):
    for ax0_ax1_ax2_ax3_0_fused in range(T.int64(216)):
        for ax3_1_init in T.vectorized(T.int64(6)):
            with T.sblock("pool_max_init"):
                v_ax0 = T.axis.spatial(T.int64(1), T.int64(0))
                v_ax1 = T.axis.spatial(T.int64(4), ax0_ax1_ax2_ax3_0_fused // T.int64(54))
                v_ax2 = T.axis.spatial(T.int64(18), ax0_ax1_ax2_ax3_0_fused % T.int64(54) // T.int64(3))
                v_ax3 = T.axis.spatial(T.int64(18), ax0_ax1_ax2_ax3_0_fused % T.int64(3) * T.int64(6) + ax3_1_init)
                T.reads()
                T.writes(pool_max[v_ax0, v_ax1, v_ax2, v_ax3])
                T.sblock_attr({"schedule_rule": "meta_schedule.pool_max"})
                pool_max[v_ax0, v_ax1, v_ax2, v_ax3] = T.float32(-340282346638528859811704183484516925440.0)
        for rv0, rv1 in T.grid(T.int64(3), T.int64(3)):
            for ax3_1 in T.vectorized(T.int64(6)):
                with T.sblock("pool_max_update"):
                    v_ax0 = T.axis.spatial(T.int64(1), T.int64(0))
                    v_ax1 = T.axis.spatial(T.int64(4), ax0_ax1_ax2_ax3_0_fused // T.int64(54))
                    v_ax2 = T.axis.spatial(T.int64(18), ax0_ax1_ax2_ax3_0_fused % T.int64(54) // T.int64(3))
                    v_ax3 = T.axis.spatial(T.int64(18), ax0_ax1_ax2_ax3_0_fused % T.int64(3) * T.int64(6) + ax3_1)
                    v_rv0, v_rv1 = T.axis.remap("RR", [rv0, rv1])
                    T.reads(pool_max[v_ax0, v_ax1, v_ax2, v_ax3], x[v_ax0, v_ax1, v_ax2 + v_rv0 - T.int64(1), v_ax3 + v_rv1 - T.int64(1)])
                    T.writes(pool_max[v_ax0, v_ax1, v_ax2, v_ax3])
                    T.sblock_attr({"schedule_rule": "meta_schedule.pool_max"})
                    pool_max[v_ax0, v_ax1, v_ax2, v_ax3] = T.max(pool_max[v_ax0, v_ax1, v_ax2, v_ax3], T.if_then_else(T.int64(1) <= v_ax2 + v_rv0 and v_ax2 + v_rv0 < T.int64(19) and T.int64(1) <= v_ax3 + v_rv1 and v_ax3 + v_rv1 < T.int64(19), x[v_ax0, v_ax1, v_ax2 + v_rv0 - T.int64(1), v_ax3 + v_rv1 - T.int64(1)], T.float32(-340282346638528859811704183484516925440.0)))
