# Golden TVMScript for cpu.elementwise on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(4), T.int64(64)), "float32"), b: T.Buffer((T.int64(4), T.int64(64)), "float32"), fast_sigmoid_intermediate: T.Buffer((T.int64(4), T.int64(64)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    T_add_intermediate = T.sblock_alloc_buffer((T.int64(4), T.int64(64)))
    compute = T.sblock_alloc_buffer((T.int64(4), T.int64(64)))
    T_fast_exp = T.sblock_alloc_buffer((T.int64(4), T.int64(64)))
    for ax0, ax1 in T.grid(T.int64(4), T.int64(64)):
        with T.sblock("T_add"):
            v_ax0, v_ax1 = T.axis.remap("SS", [ax0, ax1])
            T.reads(x[v_ax0, v_ax1], b[v_ax0, v_ax1])
            T.writes(T_add_intermediate[v_ax0, v_ax1])
            T_add_intermediate[v_ax0, v_ax1] = x[v_ax0, v_ax1] + b[v_ax0, v_ax1]
    for i0, i1 in T.grid(T.int64(4), T.int64(64)):
        with T.sblock("compute"):
            v_i0, v_i1 = T.axis.remap("SS", [i0, i1])
            T.reads(T_add_intermediate[v_i0, v_i1])
            T.writes(compute[v_i0, v_i1])
            compute[v_i0, v_i1] = T_add_intermediate[v_i0, v_i1] * T.float32(-1.0)
    for ax0, ax1 in T.grid(T.int64(4), T.int64(64)):
        with T.sblock("T_fast_exp"):
            v_ax0, v_ax1 = T.axis.remap("SS", [ax0, ax1])
            T.reads(compute[v_ax0, v_ax1])
            T.writes(T_fast_exp[v_ax0, v_ax1])
            T_fast_exp[v_ax0, v_ax1] = T.max(T.reinterpret("float32", T.Cast("int32", T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) + T.float32(127.0)) << 23) * ((((((T.float32(0.00019875691214110702) * (T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.0013981999363750219)) * (T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.008333452045917511)) * (T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.041665796190500259)) * (T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.1666666567325592)) * (T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.5)) * (T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) * (T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + (T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min(compute[v_ax0, v_ax1], T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(1.0)), compute[v_ax0, v_ax1])
    for i0, i1 in T.grid(T.int64(4), T.int64(64)):
        with T.sblock("fast_sigmoid"):
            v_i0, v_i1 = T.axis.remap("SS", [i0, i1])
            T.reads(T_fast_exp[v_i0, v_i1])
            T.writes(fast_sigmoid_intermediate[v_i0, v_i1])
            fast_sigmoid_intermediate[v_i0, v_i1] = T.float32(1.0) / (T.float32(1.0) + T_fast_exp[v_i0, v_i1])
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(x: T.Buffer((T.int64(4), T.int64(64)), "float32"), b: T.Buffer((T.int64(4), T.int64(64)), "float32"), fast_sigmoid_intermediate: T.Buffer((T.int64(4), T.int64(64)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    for i0_i1_fused_0 in range(T.int64(8)):
        for i0_i1_fused_1 in T.vectorized(T.int64(32)):
            with T.sblock("fast_sigmoid"):
                v_i0 = T.axis.spatial(T.int64(4), (i0_i1_fused_0 * T.int64(32) + i0_i1_fused_1) // T.int64(64))
                v_i1 = T.axis.spatial(T.int64(64), (i0_i1_fused_0 * T.int64(32) + i0_i1_fused_1) % T.int64(64))
                T.reads(x[v_i0, v_i1], b[v_i0, v_i1])
                T.writes(fast_sigmoid_intermediate[v_i0, v_i1])
                fast_sigmoid_intermediate[v_i0, v_i1] = T.float32(1.0) / (T.float32(1.0) + T.max(T.reinterpret("float32", T.Cast("int32", T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) + T.float32(127.0)) << 23) * ((((((T.float32(0.00019875691214110702) * (T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.0013981999363750219)) * (T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.008333452045917511)) * (T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.041665796190500259)) * (T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.1666666567325592)) * (T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(0.5)) * (T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) * (T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + (T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) - T.floor(T.max(T.min((x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0), T.float32(88.376266479492188)), T.float32(-88.376258850097656)) * T.float32(1.4426950216293335) + T.float32(0.5)) * T.float32(0.69314718246459961)) + T.float32(1.0)), (x[v_i0, v_i1] + b[v_i0, v_i1]) * T.float32(-1.0)))
