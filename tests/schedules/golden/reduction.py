# Golden TVMScript for cpu.reduction on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(8), T.int64(64)), "float32"), T_softmax_norm: T.Buffer((T.int64(8), T.int64(64)), "float32")):
    T.func_attr({"op_pattern": 4, "tirx.noalias": True})
    # with T.sblock("root"):
    T_softmax_maxelem = T.sblock_alloc_buffer((T.int64(8),))
    T_softmax_exp = T.sblock_alloc_buffer((T.int64(8), T.int64(64)))
    T_softmax_expsum = T.sblock_alloc_buffer((T.int64(8),))
    for i0, k in T.grid(T.int64(8), T.int64(64)):
        with T.sblock("T_softmax_maxelem"):
            v_i0, v_k = T.axis.remap("SR", [i0, k])
            T.reads(x[v_i0, v_k])
            T.writes(T_softmax_maxelem[v_i0])
            with T.init():
                T_softmax_maxelem[v_i0] = T.float32(-340282346638528859811704183484516925440.0)
            T_softmax_maxelem[v_i0] = T.max(T_softmax_maxelem[v_i0], x[v_i0, v_k])
    for i0, i1 in T.grid(T.int64(8), T.int64(64)):
        with T.sblock("T_softmax_exp"):
            v_i0, v_i1 = T.axis.remap("SS", [i0, i1])
            T.reads(x[v_i0, v_i1], T_softmax_maxelem[v_i0])
            T.writes(T_softmax_exp[v_i0, v_i1])
            T_softmax_exp[v_i0, v_i1] = T.exp(x[v_i0, v_i1] - T_softmax_maxelem[v_i0])
    for i0, k in T.grid(T.int64(8), T.int64(64)):
        with T.sblock("T_softmax_expsum"):
            v_i0, v_k = T.axis.remap("SR", [i0, k])
            T.reads(T_softmax_exp[v_i0, v_k])
            T.writes(T_softmax_expsum[v_i0])
            with T.init():
                T_softmax_expsum[v_i0] = T.float32(0.0)
            T_softmax_expsum[v_i0] = T_softmax_expsum[v_i0] + T_softmax_exp[v_i0, v_k]
    for i0, i1 in T.grid(T.int64(8), T.int64(64)):
        with T.sblock("T_softmax_norm"):
            v_i0, v_i1 = T.axis.remap("SS", [i0, i1])
            T.reads(T_softmax_exp[v_i0, v_i1], T_softmax_expsum[v_i0])
            T.writes(T_softmax_norm[v_i0, v_i1])
            T.sblock_attr({"axis": 1})
            T_softmax_norm[v_i0, v_i1] = T_softmax_exp[v_i0, v_i1] / T_softmax_expsum[v_i0]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(8), T.int64(64)), "float32"), T_softmax_norm: T.Buffer((T.int64(8), T.int64(64)), "float32")):
    T.func_attr({"op_pattern": 4, "tirx.noalias": True})
    # with T.sblock("root"):
    T_softmax_maxelem = T.sblock_alloc_buffer((T.int64(8),))
    T_softmax_exp = T.sblock_alloc_buffer((T.int64(8), T.int64(64)))
    T_softmax_expsum = T.sblock_alloc_buffer((T.int64(8),))
    for ax0 in T.parallel(T.int64(8)):
        for ax0_1, ax1_0 in T.grid(T.int64(1), T.int64(4)):
            for ax1_1 in T.serial(T.int64(16), annotations={"pragma_auto_unroll_max_step": 16, "pragma_unroll_explicit": 1}):
                with T.sblock("T_softmax_maxelem"):
                    v0 = T.axis.spatial(T.int64(8), ax0 + ax0_1)
                    v1 = T.axis.reduce(T.int64(64), ax1_0 * T.int64(16) + ax1_1)
                    T.reads(x[v0, v1])
                    T.writes(T_softmax_maxelem[v0])
                    with T.init():
                        T_softmax_maxelem[v0] = T.float32(-340282346638528859811704183484516925440.0)
                    T_softmax_maxelem[v0] = T.max(T_softmax_maxelem[v0], x[v0, v1])
        for ax0_1, ax1_0 in T.grid(T.int64(1), T.int64(4)):
            for ax1_1 in T.vectorized(T.int64(16)):
                with T.sblock("T_softmax_exp"):
                    v0 = T.axis.spatial(T.int64(8), ax0 + ax0_1)
                    v1 = T.axis.spatial(T.int64(64), ax1_0 * T.int64(16) + ax1_1)
                    T.reads(x[v0, v1], T_softmax_maxelem[v0])
                    T.writes(T_softmax_exp[v0, v1])
                    T_softmax_exp[v0, v1] = T.exp(x[v0, v1] - T_softmax_maxelem[v0])
        for ax0_1, ax1_0 in T.grid(T.int64(1), T.int64(4)):
            for ax1_1 in T.serial(T.int64(16), annotations={"pragma_auto_unroll_max_step": 16, "pragma_unroll_explicit": 1}):
                with T.sblock("T_softmax_expsum"):
                    v0 = T.axis.spatial(T.int64(8), ax0 + ax0_1)
                    v1 = T.axis.reduce(T.int64(64), ax1_0 * T.int64(16) + ax1_1)
                    T.reads(T_softmax_exp[v0, v1])
                    T.writes(T_softmax_expsum[v0])
                    with T.init():
                        T_softmax_expsum[v0] = T.float32(0.0)
                    T_softmax_expsum[v0] = T_softmax_expsum[v0] + T_softmax_exp[v0, v1]
        for ax1_0 in range(T.int64(4)):
            for ax1_1 in T.vectorized(T.int64(16)):
                with T.sblock("T_softmax_norm"):
                    v0 = T.axis.spatial(T.int64(8), ax0)
                    v1 = T.axis.spatial(T.int64(64), ax1_0 * T.int64(16) + ax1_1)
                    T.reads(T_softmax_exp[v0, v1], T_softmax_expsum[v0])
                    T.writes(T_softmax_norm[v0, v1])
                    T.sblock_attr({"axis": 1})
                    T_softmax_norm[v0, v1] = T_softmax_exp[v0, v1] / T_softmax_expsum[v0]
