# Golden TVMScript for cpu.fallback on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(64), T.int64(3)), "float32"), x_red: T.Buffer((T.int64(3),), "float32")):
    T.func_attr({"op_pattern": 3, "tirx.noalias": True})
    # with T.sblock("root"):
    for ax0, k0 in T.grid(T.int64(3), T.int64(64)):
        with T.sblock("x_red"):
            v_ax0, v_k0 = T.axis.remap("SR", [ax0, k0])
            T.reads(x[v_k0, v_ax0])
            T.writes(x_red[v_ax0])
            with T.init():
                x_red[v_ax0] = T.float32(0.0)
            x_red[v_ax0] = x_red[v_ax0] + x[v_k0, v_ax0]
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(64), T.int64(3)), "float32"), x_red: T.Buffer((T.int64(3),), "float32")):
    T.func_attr({"op_pattern": 3, "tirx.noalias": True})
    # with T.sblock("root"):
    for ax0, k0 in T.grid(T.int64(3), T.int64(64)):
        with T.sblock("x_red"):
            v_ax0, v_k0 = T.axis.remap("SR", [ax0, k0])
            T.reads(x[v_k0, v_ax0])
            T.writes(x_red[v_ax0])
            with T.init():
                x_red[v_ax0] = T.float32(0.0)
            x_red[v_ax0] = x_red[v_ax0] + x[v_k0, v_ax0]
