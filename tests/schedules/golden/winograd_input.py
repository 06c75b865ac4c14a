# Golden TVMScript for x86.winograd_input on x86_64-avx2; regenerate with tests/schedules/kernels.py
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(10), T.int64(10), T.int64(128)), "float32"), winograd_input: T.Buffer((T.int64(16), T.int64(25), T.int64(128)), "float32")):
    T.func_attr({"op_pattern": 8, "tirx.noalias": True})
    # with T.sblock("root"):
    winograd_rows = T.sblock_alloc_buffer((T.int64(4), T.int64(5), T.int64(12), T.int64(128)))
    for a, th, xx, ch in T.grid(T.int64(4), T.int64(5), T.int64(12), T.int64(128)):
        with T.sblock("winograd_rows"):
            v_a, v_th, v_xx, v_ch = T.axis.remap("SSSS", [a, th, xx, ch])
            T.reads(lv[T.int64(0), v_th * T.int64(2) - T.int64(1):v_th * T.int64(2) - T.int64(1) + T.int64(4), v_xx - T.int64(1), v_ch])
            T.writes(winograd_rows[v_a, v_th, v_xx, v_ch])
            winograd_rows[v_a, v_th, v_xx, v_ch] = T.Select(v_a == T.int64(0), T.if_then_else(T.int64(1) <= v_th and v_th <= T.int64(5) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) - T.int64(1), v_xx - T.int64(1), v_ch], T.float32(0.0)) - T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) + T.int64(1), v_xx - T.int64(1), v_ch], T.float32(0.0)), T.Select(v_a == T.int64(1), T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2), v_xx - T.int64(1), v_ch], T.float32(0.0)) + T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) + T.int64(1), v_xx - T.int64(1), v_ch], T.float32(0.0)), T.Select(v_a == T.int64(2), T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) + T.int64(1), v_xx - T.int64(1), v_ch], T.float32(0.0)) - T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2), v_xx - T.int64(1), v_ch], T.float32(0.0)), T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2), v_xx - T.int64(1), v_ch], T.float32(0.0)) - T.if_then_else(T.int64(-1) <= v_th and v_th <= T.int64(3) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) + T.int64(2), v_xx - T.int64(1), v_ch], T.float32(0.0)))))
    for ab, t, ch in T.grid(T.int64(16), T.int64(25), T.int64(128)):
        with T.sblock("winograd_input"):
            v_ab, v_t, v_ch = T.axis.remap("SSS", [ab, t, ch])
            T.reads(winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2):v_t % T.int64(5) * T.int64(2) + T.int64(4), v_ch])
            T.writes(winograd_input[v_ab, v_t, v_ch])
            winograd_input[v_ab, v_t, v_ch] = T.Select(v_ab % T.int64(4) == T.int64(0), winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2), v_ch] - winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(2), v_ch], T.Select(v_ab % T.int64(4) == T.int64(1), winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(1), v_ch] + winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(2), v_ch], T.Select(v_ab % T.int64(4) == T.int64(2), winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(2), v_ch] - winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(1), v_ch], winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(1), v_ch] - winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(3), v_ch])))
# ---- expected ----
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@T.prim_func(private=True, s_tir=True)
def main(lv: T.Buffer((T.int64(1), T.int64(10), T.int64(10), T.int64(128)), "float32"), winograd_input: T.Buffer((T.int64(16), T.int64(25), T.int64(128)), "float32")):
    T.func_attr({"op_pattern": 8, "tirx.noalias": True})
    # with T.sblock("root"):
    winograd_rows = T.sblock_alloc_buffer((T.int64(4), T.int64(5), T.int64(12), T.int64(128)))
    for th_xx_fused in T.parallel(T.int64(60)):
        for ch_0 in range(T.int64(16)):
            for a in T.unroll(T.int64(4)):
                for ch_1 in T.vectorized(T.int64(8)):
                    with T.sblock("winograd_rows"):
                        v_a = T.axis.spatial(T.int64(4), a)
                        v_th = T.axis.spatial(T.int64(5), th_xx_fused // T.int64(12))
                        v_xx = T.axis.spatial(T.int64(12), th_xx_fused % T.int64(12))
                        v_ch = T.axis.spatial(T.int64(128), ch_0 * T.int64(8) + ch_1)
                        T.reads(lv[T.int64(0), v_th * T.int64(2) - T.int64(1):v_th * T.int64(2) - T.int64(1) + T.int64(4), v_xx - T.int64(1), v_ch])
                        T.writes(winograd_rows[v_a, v_th, v_xx, v_ch])
                        winograd_rows[v_a, v_th, v_xx, v_ch] = T.Select(v_a == T.int64(0), T.if_then_else(T.int64(1) <= v_th and v_th <= T.int64(5) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) - T.int64(1), v_xx - T.int64(1), v_ch], T.float32(0.0)) - T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) + T.int64(1), v_xx - T.int64(1), v_ch], T.float32(0.0)), T.Select(v_a == T.int64(1), T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2), v_xx - T.int64(1), v_ch], T.float32(0.0)) + T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) + T.int64(1), v_xx - T.int64(1), v_ch], T.float32(0.0)), T.Select(v_a == T.int64(2), T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) + T.int64(1), v_xx - T.int64(1), v_ch], T.float32(0.0)) - T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2), v_xx - T.int64(1), v_ch], T.float32(0.0)), T.if_then_else(T.int64(0) <= v_th and v_th <= T.int64(4) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2), v_xx - T.int64(1), v_ch], T.float32(0.0)) - T.if_then_else(T.int64(-1) <= v_th and v_th <= T.int64(3) and T.int64(1) <= v_xx and v_xx <= T.int64(10), lv[T.int64(0), v_th * T.int64(2) + T.int64(2), v_xx - T.int64(1), v_ch], T.float32(0.0)))))
    for t in T.parallel(T.int64(25)):
        for ch_0 in range(T.int64(16)):
            for ab in T.unroll(T.int64(16)):
                for ch_1 in T.vectorized(T.int64(8)):
                    with T.sblock("winograd_input"):
                        v_ab, v_t = T.axis.remap("SS", [ab, t])
                        v_ch = T.axis.spatial(T.int64(128), ch_0 * T.int64(8) + ch_1)
                        T.reads(winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2):v_t % T.int64(5) * T.int64(2) + T.int64(4), v_ch])
                        T.writes(winograd_input[v_ab, v_t, v_ch])
                        winograd_input[v_ab, v_t, v_ch] = T.Select(v_ab % T.int64(4) == T.int64(0), winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2), v_ch] - winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(2), v_ch], T.Select(v_ab % T.int64(4) == T.int64(1), winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(1), v_ch] + winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(2), v_ch], T.Select(v_ab % T.int64(4) == T.int64(2), winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(2), v_ch] - winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(1), v_ch], winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(1), v_ch] - winograd_rows[v_ab // T.int64(4), v_t // T.int64(5), v_t % T.int64(5) * T.int64(2) + T.int64(3), v_ch])))
