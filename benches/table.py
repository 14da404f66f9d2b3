"""The README's performance section, from one run of the bench and of the peers script.

    cargo run --release --example bench -- --json > bench.json
    python3 benches/peers.py --out peers.json
    python3 benches/peers.py --table bench.json peers.json

Every figure it prints is read from those two files; every goal is judged from them.
"""

import json

LARGEST = (64, 128, 64, 256)
# The cases the check goals name, both timed against torch.autograd.gradcheck.
CHECK_CASES = ("8,16,8,16", "16,32,16,32")


def label(size):
    return ",".join(str(v) for v in size)


def size_of(row):
    return (row["B"], row["T"], row["F"], row["H"])


def dtype_of(name):
    return {"f64": "float64", "f32": "float32"}.get(name, name)


def times(x):
    return f"{x:.2f}×" if x is not None else "-"


def micro(x):
    if x is None:
        return "-"
    return f"{x:.1f}" if x < 1000 else f"{x:,.0f}"


class Goals:
    def __init__(self):
        self.lines = []

    def judge(self, text, met, measured):
        mark = "**met**" if met else ("**not met**" if met is not None else "not measured")
        self.lines.append(f"- {text}: {mark} ({measured})")


def main(bench_file, peers_file):
    with open(bench_file) as fh:
        bench = json.load(fh)
    with open(peers_file) as fh:
        peers = json.load(fh)
    m = peers["machine"]
    own = bench["gemm_peak_gflops"]
    blas = {k: v["gflops"] for k, v in peers.get("numpy_gemm_peak_gflops", {}).items()}
    peak = {d: max(own[d], blas.get(dtype_of(d), 0.0)) for d in ("f64", "f32")}

    def rows(path, dtype):
        return {size_of(r): r for r in bench["results"] if r["path"] == path and r["dtype"] == dtype}

    def peer(name, dtype, cell=None):
        return {
            size_of(r): r
            for r in peers.get(name, [])
            if r["dtype"] == dtype_of(dtype) and r.get("cell", cell) == cell
        }

    out = []
    out.append(f"Measured on {m['cpu']} ({m['cores']} cores): numpy {m.get('numpy')}, JAX {m.get('jax')}, "
               f"torch {m.get('torch')}, each peer in a process pinned to one core with one thread; tapegrad's "
               "training steps on one thread. Medians of repeated runs, and ratios within the one run.\n")
    out.append("Single-thread GEMM peak (the best of square products of side 256, 512 and 1024), GFLOP/s: tapegrad's kernel "
               f"{own['f64']:.1f} (f64) and {own['f32']:.1f} (f32); numpy's BLAS "
               f"{blas.get('float64', float('nan')):.1f} and {blas.get('float32', float('nan')):.1f}. "
               "`%peak` below is a share of the higher of the two.\n")
    goals = Goals()

    # The tanh RNN's training step.
    out.append("One training step of a tanh RNN (loss Σ h_T, every gradient), median µs:\n")
    out.append("| B,T,F,H | dtype | bptt | tape | %peak (bptt) | numpy | ×numpy | JAX jit | ×JAX | torch nn.RNN |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst_numpy_small, worst_numpy_large, worst_jax = [], [], []
    tape_over_hand = []
    for dtype in ("f64", "f32"):
        bptt, tape = rows("bptt", dtype), rows("tape", dtype)
        numpy, jax, torch = peer("numpy", dtype), peer("jax", dtype), peer("torch", dtype, "rnn")
        for size in sorted(bptt, key=lambda s: s[0] * s[1] * s[3]):
            b, t = bptt[size]["median_us"], tape[size]["median_us"]
            fastest = min(b, t)
            n = numpy.get(size, {}).get("median_us")
            j = jax.get(size, {}).get("median_us")
            th = torch.get(size, {}).get("median_us")
            share = 100.0 * bptt[size]["gflops"] / peak[dtype]
            out.append(f"| {label(size)} | {dtype} | {micro(b)} | {micro(t)} | {share:.0f}% | {micro(n)} | "
                       f"{times(n / max(b, t) if n else None)} | {micro(j)} | {times(j / max(b, t) if j else None)} | {micro(th)} |")
            if n:
                (worst_numpy_large if size == LARGEST else worst_numpy_small).append((n / max(b, t), size, dtype))
            if j:
                worst_jax.append((j / max(b, t), size, dtype))
            if size[0] * size[1] * size[3] >= 32 * 32 * 64:
                tape_over_hand.append((t / b, size, dtype))
    out.append("")
    out.append("`×numpy` and `×JAX` divide the peer's time by the slower of tapegrad's two paths.\n")

    largest = [(100.0 * rows(p, d)[LARGEST]["gflops"] / peak[d], p, d) for p in ("bptt", "tape") for d in ("f64", "f32") if LARGEST in rows(p, d)]
    if largest:
        low = min(largest)
        goals.judge("training step at ≥ 90% of the single-thread GEMM peak at the largest size",
                    low[0] >= 90.0, f"lowest {low[0]:.0f}%, {low[1]} {low[2]}")
    else:
        goals.judge("training step at ≥ 90% of the GEMM peak at the largest size", None, "largest size not run")

    def judge_min(text, found, bound):
        if not found:
            goals.judge(text, None, "peer not run")
            return
        low = min(found)
        goals.judge(text, low[0] >= bound, f"lowest {low[0]:.2f}× at {label(low[1])} {low[2]}")

    judge_min("≥ 1.5× numpy's hoisted BPTT at the four smaller sizes, both dtypes", worst_numpy_small, 1.5)
    judge_min("≥ 1.2× numpy at the largest size, both dtypes", worst_numpy_large, 1.2)
    judge_min("faster than JAX jit at every size", worst_jax, 1.0 + 1e-9)
    tiny = (1, 3, 2, 4)
    hand_tiny = rows("bptt", "f64").get(tiny, {}).get("median_us")
    tape_tiny = max((rows("tape", d).get(tiny, {}).get("median_us", 0.0) for d in ("f64", "f32")), default=None)
    hand_tiny = max((rows("bptt", d).get(tiny, {}).get("median_us", 0.0) for d in ("f64", "f32")), default=hand_tiny)
    goals.judge("the tiny case ≤ 1 µs by hand and ≤ 2 µs on the tape",
                hand_tiny is not None and hand_tiny <= 1.0 and tape_tiny <= 2.0,
                f"hand {hand_tiny:.2f} µs, tape {tape_tiny:.2f} µs, slower dtype")
    if tape_over_hand:
        high = max(tape_over_hand)
        goals.judge("the tape ≤ 1.1× the hand path at the three largest sizes", high[0] <= 1.1,
                    f"highest {high[0]:.2f}× at {label(high[1])} {high[2]}")

    # The check.
    out.append("The per-step check against `torch.autograd.gradcheck` on the same case files (float64;"
               " inputs x, W_x, W_h, b, h_0), seconds:\n")
    out.append("| B,T,F,H | mode | tapegrad, 1 core | tapegrad, 2 cores | gradcheck | ratio, 1 core | ratio, 2 cores |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    cli = {(c["case"], c["mode"], c.get("cores", 1)): c["seconds"] for c in peers.get("tapegrad_check", [])}
    torch_check = {(c["case"], c["fast_mode"]): c["seconds"] for c in peers.get("gradcheck", [])}
    exhaustive_ratios, directional_ratios = [], []
    fmt = lambda x: f"{x:.3f}" if x is not None else "-"
    cases = {c for c, _ in torch_check} | {c for c, _, _ in cli}
    for case in sorted(cases, key=lambda c: [int(v) for v in c.split(",")]):
        for mode, fast_mode, ratios in (("exhaustive", False, exhaustive_ratios), ("directional", True, directional_ratios)):
            one, two = cli.get((case, mode, 1)), cli.get((case, mode, 2))
            torch_s = torch_check.get((case, fast_mode))
            r1 = torch_s / one if one and torch_s else None
            r2 = torch_s / two if two and torch_s else None
            if r2 or r1:
                ratios.append((r2 or r1, case, r1))
            torch_name = "full" if not fast_mode else "fast_mode"
            out.append(f"| {case} | {mode} (gradcheck {torch_name}) | {fmt(one)} | {fmt(two)} | {fmt(torch_s)} | "
                       f"{times(r1)} | {times(r2)} |")
    out.append("")
    out.append("tapegrad's figures are the wall time of `tapegrad check --steps all` on the file, the process's start "
               "included; the check splits its work in two parts and runs them at once on two cores. Ratios are "
               "torch's time (one thread) over tapegrad's.\n")
    def one_core(r1):
        return f", {r1:.2f}× on one core" if r1 else ""

    def judge_check(text, ratios, bound):
        # The goal names both cases: a run that skipped one (`--quick`) cannot meet it.
        if not ratios:
            return
        low = min(ratios)
        measured = f"lowest {low[0]:.2f}× on two cores at {low[1]}{one_core(low[2])}"
        missing = [c for c in CHECK_CASES if c not in {r[1] for r in ratios}]
        met = low[0] >= bound
        if met and missing:
            met, measured = None, f"{measured}; {', '.join(missing)} not run"
        goals.judge(text, met, measured)

    judge_check("the exhaustive per-step check ≥ 5× faster than torch's full gradcheck", exhaustive_ratios, 5.0)
    judge_check("the directional check at least as fast as gradcheck's fast_mode", directional_ratios, 1.0)
    big = [c for c in bench.get("checks", []) if c["case"] == "32,64,32,128" and c["mode"] == "directional"]
    if big:
        goals.judge("the directional check of 32,64,32,128 under 0.5 s", big[0]["seconds"] < 0.5,
                    f"{big[0]['seconds']:.3f} s in the bench")

    # The gated cells.
    out.append("One training step of an LSTM and a GRU by tapegrad's two paths (gated::Bptt and gated::tape_totals) and by torch, median µs:\n")
    out.append("| B,T,F,H | dtype | LSTM bptt | LSTM tape | nn.LSTM | ×torch | %peak | GRU bptt | GRU tape | nn.GRU | ×torch | %peak |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    gated_small, gated_large = [], []
    for dtype in ("f64", "f32"):
        cells = {}
        for cell in ("lstm", "gru"):
            cells[cell] = (rows(f"{cell} bptt", dtype), rows(f"{cell} tape", dtype), peer("torch", dtype, cell))
        for size in sorted(cells["lstm"][0], key=lambda s: s[0] * s[1] * s[3]):
            line = f"| {label(size)} | {dtype} |"
            for cell in ("lstm", "gru"):
                b, t, th = cells[cell]
                hb, ht = b[size]["median_us"], t.get(size, {}).get("median_us")
                tt = th.get(size, {}).get("median_us")
                ratio = tt / max(hb, ht or hb) if tt else None
                share = 100.0 * b[size]["gflops"] / peak[dtype]
                line += f" {micro(hb)} | {micro(ht)} | {micro(tt)} | {times(ratio)} | {share:.0f}% |"
                if size[0] * size[1] * size[3] >= 32 * 64 * 128:
                    gated_large.append((share, size, f"{cell} {dtype}"))
                elif ratio:
                    gated_small.append((ratio, size, f"{cell} {dtype}"))
            out.append(line)
    out.append("")
    if gated_small:
        judge_min("LSTM and GRU ≥ 2× faster than torch at the three smaller sizes", gated_small, 2.0)
    if gated_large:
        low = min(gated_large)
        goals.judge("LSTM and GRU at ≥ 85% of the GEMM peak at the two larger sizes", low[0] >= 85.0,
                    f"lowest {low[0]:.0f}% at {label(low[1])} {low[2]}")

    # Memory.
    ratios = [(r["fused_tape_bytes_per_step"] / r["activation_bytes_per_step"], size_of(r)) for r in bench["memory"]]
    if ratios:
        high = max(ratios)
        goals.judge("tape memory per step ≤ 1.25× the activations BPTT keeps, at every size", high[0] <= 1.25,
                    f"highest {high[0]:.2f}× at {label(high[1])}")

    out.append("Goals:\n")
    out.extend(goals.lines)
    if peers.get("skipped"):
        out.append("")
        out.append("Not run: " + "; ".join(f"{k} ({v})" for k, v in peers["skipped"].items()) + ".")
    print("\n".join(out))
