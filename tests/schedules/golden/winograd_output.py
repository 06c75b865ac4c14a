# Golden TVMScript for cpu.winograd_output on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv1: T.Buffer((T.int64(16), T.int64(25), T.int64(128)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(10), T.int64(10), T.int64(128)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    winograd_cols = T.sblock_alloc_buffer((T.int64(2), T.int64(4), T.int64(25), T.int64(128)))
    winograd_output_intermediate = T.sblock_alloc_buffer((T.int64(1), T.int64(10), T.int64(10), T.int64(128)))
    for a, nu, t, ch in T.grid(T.int64(2), T.int64(4), T.int64(25), T.int64(128)):
        with T.sblock("winograd_cols"):
            v_a, v_nu, v_t, v_ch = T.axis.remap("SSSS", [a, nu, t, ch])
            T.reads(lv1[v_nu:v_nu + T.int64(13), v_t, v_ch])
            T.writes(winograd_cols[v_a, v_nu, v_t, v_ch])
            winograd_cols[v_a, v_nu, v_t, v_ch] = T.Select(v_a == T.int64(0), lv1[v_nu, v_t, v_ch] + lv1[v_nu + T.int64(4), v_t, v_ch] + lv1[v_nu + T.int64(8), v_t, v_ch], lv1[v_nu + T.int64(4), v_t, v_ch] - lv1[v_nu + T.int64(8), v_t, v_ch] - lv1[v_nu + T.int64(12), v_t, v_ch])
    for n, y, xx, ch in T.grid(T.int64(1), T.int64(10), T.int64(10), T.int64(128)):
        with T.sblock("winograd_output"):
            v_n, v_y, v_xx, v_ch = T.axis.remap("SSSS", [n, y, xx, ch])
            T.reads(winograd_cols[v_y % T.int64(2), T.int64(0):T.int64(4), v_y // T.int64(2) * T.int64(5) + v_xx // T.int64(2), v_ch])
            T.writes(winograd_output_intermediate[v_n, v_y, v_xx, v_ch])
            winograd_output_intermediate[v_n, v_y, v_xx, v_ch] = T.Select(v_xx % T.int64(2) == T.int64(0), winograd_cols[v_y % T.int64(2), T.int64(0), v_y // T.int64(2) * T.int64(5) + v_xx // T.int64(2), v_ch] + winograd_cols[v_y % T.int64(2), T.int64(1), v_y // T.int64(2) * T.int64(5) + v_xx // T.int64(2), v_ch] + winograd_cols[v_y % T.int64(2), T.int64(2), v_y // T.int64(2) * T.int64(5) + v_xx // T.int64(2), v_ch], winograd_cols[v_y % T.int64(2), T.int64(1), v_y // T.int64(2) * T.int64(5) + v_xx // T.int64(2), v_ch] - winograd_cols[v_y % T.int64(2), T.int64(2), v_y // T.int64(2) * T.int64(5) + v_xx // T.int64(2), v_ch] - winograd_cols[v_y % T.int64(2), T.int64(3), v_y // T.int64(2) * T.int64(5) + v_xx // T.int64(2), v_ch])
    for i0, i1, i2, i3 in T.grid(T.int64(1), T.int64(10), T.int64(10), T.int64(128)):
        with T.sblock("compute"):
            v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
            T.reads(winograd_output_intermediate[v_i0, v_i1, v_i2, v_i3])
            T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
            compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(winograd_output_intermediate[v_i0, v_i1, v_i2, v_i3], T.float32(0.0))
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv1: T.Buffer((T.int64(16), T.int64(25), T.int64(128)), "float32"), compute_intermediate: T.Buffer((T.int64(1), T.int64(10), T.int64(10), T.int64(128)), "float32")):
    T.func_attr({"tirx.noalias": True})
    # with T.sblock("root"):
    for i0_i1_0_i2_0_fused in T.parallel(T.int64(25)):
        for i3_0 in range(T.int64(16)):
            for i1_1 in T.unroll(T.int64(2)):
                for i2_1 in T.unroll(T.int64(2)):
                    for i3_1 in T.vectorized(T.int64(8)):
                        with T.sblock("compute"):
                            v_i0 = T.axis.spatial(T.int64(1), T.int64(0))
                            v_i1 = T.axis.spatial(T.int64(10), i0_i1_0_i2_0_fused // T.int64(5) * T.int64(2) + i1_1)
                            v_i2 = T.axis.spatial(T.int64(10), i0_i1_0_i2_0_fused % T.int64(5) * T.int64(2) + i2_1)
                            v_i3 = T.axis.spatial(T.int64(128), i3_0 * T.int64(8) + i3_1)
                            T.reads(lv1[T.int64(0):T.int64(16), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3])
                            T.writes(compute_intermediate[v_i0, v_i1, v_i2, v_i3])
                            compute_intermediate[v_i0, v_i1, v_i2, v_i3] = T.max(T.Select(v_i2 % T.int64(2) == T.int64(0), T.Select(v_i1 % T.int64(2) == T.int64(0), lv1[T.int64(0), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(0), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(0), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3], lv1[T.Add(T.int64(0), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(0), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(0), T.int64(12)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3]) + T.Select(v_i1 % T.int64(2) == T.int64(0), lv1[T.int64(1), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(1), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(1), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3], lv1[T.Add(T.int64(1), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(1), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(1), T.int64(12)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3]) + T.Select(v_i1 % T.int64(2) == T.int64(0), lv1[T.int64(2), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(2), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(2), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3], lv1[T.Add(T.int64(2), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(2), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(2), T.int64(12)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3]), T.Select(v_i1 % T.int64(2) == T.int64(0), lv1[T.int64(1), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(1), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(1), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3], lv1[T.Add(T.int64(1), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(1), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(1), T.int64(12)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3]) - T.Select(v_i1 % T.int64(2) == T.int64(0), lv1[T.int64(2), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(2), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(2), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3], lv1[T.Add(T.int64(2), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(2), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(2), T.int64(12)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3]) - T.Select(v_i1 % T.int64(2) == T.int64(0), lv1[T.int64(3), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(3), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] + lv1[T.Add(T.int64(3), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3], lv1[T.Add(T.int64(3), T.int64(4)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(3), T.int64(8)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3] - lv1[T.Add(T.int64(3), T.int64(12)), v_i1 // T.int64(2) * T.int64(5) + v_i2 // T.int64(2), v_i3])), T.float32(0.0))
