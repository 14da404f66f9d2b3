#!/usr/bin/env python3
"""What users would pick instead of tapegrad, timed on this machine, one thread each.

    python3 benches/peers.py [--quick] [--tapegrad PATH] [--out peers.json]
    python3 benches/peers.py --table bench.json peers.json     # the README's table

It times, on the bench's five sizes (B, T, F, H) and a seeded random tanh RNN with loss
L = sum(h_T), as `cargo run --release --example bench` builds them:

- numpy: hand BPTT with the input and weight products hoisted out of the time loop (as CS231n's
  solutions do), f64 and f32, and numpy's own GEMM peak on a square 1024 product; each in a fresh
  process, with the machine's OPENBLAS_* settings and without them, keeping the faster;
- JAX: `jit(value_and_grad)` of the same forward pass written with `lax.scan`;
- torch: `nn.RNN`, `nn.LSTM` and `nn.GRU`, forward and backward to every parameter and input;
- `torch.autograd.gradcheck` of the RNN written as a homework loop, full and `fast_mode=True`, on
  case files it writes; and `tapegrad check` on those same files, exhaustive (every step) and
  directional, through the command line, on one core and on two.

Every figure is a median of repeated runs (at least 7, and at least half a second) in a process
pinned to one core with one thread. A peer that is not installed is skipped and named in the
output: `pip install numpy jax torch` installs them all (the CPU build of each is enough).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

SIZES = [(1, 3, 2, 4), (8, 16, 8, 16), (32, 32, 16, 64), (32, 64, 32, 128), (64, 128, 64, 256)]
# The sizes gradcheck is timed on: full gradcheck of the larger takes half a minute.
CHECK_SIZES = [(8, 16, 8, 16), (16, 32, 16, 32)]
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


def median_seconds(f, min_runs=7, min_seconds=0.5):
    """The median wall time of f(), after one untimed call."""
    f()
    times, start = [], time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < min_seconds and len(times) < 100000):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def flops(b, t, f, h, gates=1):
    """6·B·T·(F+H)·G·H: forward 2·B·(F+H)·G·H per step, backward twice that."""
    return 6.0 * b * t * (f + h) * gates * h


def case_arrays(size, seed=1):
    """The benchmark's case: W_x ~ N(0, 1/F), W_h ~ N(0, 1/H), b and h_0 ~ N(0, 0.1²), x ~ N(0, 1)."""
    import numpy as np

    b, t, f, h = size
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(0.0, 1.0, (b, t, f)),
        "w_x": rng.normal(0.0, 1.0 / np.sqrt(f), (f, h)),
        "w_h": rng.normal(0.0, 1.0 / np.sqrt(h), (h, h)),
        "b": rng.normal(0.0, 0.1, (h,)),
        "h0": rng.normal(0.0, 0.1, (b, h)),
    }


# --- the workers: each runs in its own pinned process ---------------------------------------


def numpy_bptt(size, dtype):
    """Loss, dx, dW_x, dW_h, db, dh_0 by hand, the products hoisted out of the time loop."""
    import numpy as np

    c = {k: v.astype(dtype) for k, v in case_arrays(size).items()}
    x, w_x, w_h, b, h0 = c["x"], c["w_x"], c["w_h"], c["b"], c["h0"]
    B, T, F, H = size

    def step():
        a_in = (x.reshape(B * T, F) @ w_x).reshape(B, T, H) + b  # every x_t·W_x at once
        hs = np.empty((B, T + 1, H), dtype)
        hs[:, 0] = h0
        for t in range(T):
            hs[:, t + 1] = np.tanh(a_in[:, t] + hs[:, t] @ w_h)
        loss = hs[:, T].sum()
        da = np.empty((B, T, H), dtype)
        dh = np.ones((B, H), dtype)
        for t in range(T - 1, -1, -1):
            da[:, t] = dh * (1.0 - hs[:, t + 1] ** 2)
            dh = da[:, t] @ w_h.T
        da2 = da.reshape(B * T, H)
        dw_x = x.reshape(B * T, F).T @ da2
        dw_h = hs[:, :T].reshape(B * T, H).T @ da2
        return loss, (da2 @ w_x.T).reshape(B, T, F), dw_x, dw_h, da2.sum(0), dh

    return median_seconds(step)


def numpy_gemm(dtype):
    """numpy's best GFLOP/s over square products of side 256, 512 and 1024, as the bench's."""
    import numpy as np

    best = 0.0
    for n in (256, 512, 1024):
        a = np.random.default_rng(0).normal(size=(n, n)).astype(dtype)
        best = max(best, 2.0 * n**3 / median_seconds(lambda: a @ a) / 1e9)
    return best


def jax_bptt(size, dtype):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    c = {k: jnp.asarray(v.astype(dtype)) for k, v in case_arrays(size).items()}

    def loss(x, w_x, w_h, b, h0):
        a_in = jnp.einsum("btf,fh->bth", x, w_x) + b

        def step(h, a_t):
            h = jnp.tanh(a_t + h @ w_h)
            return h, None

        h_T, _ = jax.lax.scan(step, h0, jnp.swapaxes(a_in, 0, 1))
        return h_T.sum()

    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3, 4)))
    args = (c["x"], c["w_x"], c["w_h"], c["b"], c["h0"])
    return median_seconds(lambda: jax.block_until_ready(f(*args)))


def torch_cell(size, dtype, cell):
    import torch

    torch.set_num_threads(1)
    B, T, F, H = size
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    torch.manual_seed(1)
    net = kind(F, H, batch_first=True).to(tdtype)
    x = torch.randn(B, T, F, dtype=tdtype, requires_grad=True)

    def step():
        net.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = net(x)
        out[:, -1].sum().backward()

    return median_seconds(step)


def torch_gradcheck(case_file, fast_mode):
    """torch.autograd.gradcheck of the RNN as a homework loop, on a case file's arrays (float64)."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    with open(case_file) as fh:
        c = json.load(fh)
    args = tuple(torch.tensor(np.array(c[k]), dtype=torch.float64, requires_grad=True) for k in ("x", "w_x", "w_h", "b", "h0"))

    def loss(x, w_x, w_h, b, h0):
        h = h0
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ w_x + h @ w_h + b)
        return h.sum()

    # One untimed fast check first: torch's first call pays for its own start-up.
    ok = torch.autograd.gradcheck(loss, args, fast_mode=True)
    check = lambda: torch.autograd.gradcheck(loss, args, fast_mode=fast_mode)
    if fast_mode:
        return median_seconds(check, min_runs=5, min_seconds=0.0), bool(ok)
    t = time.perf_counter()
    ok = check()
    return time.perf_counter() - t, bool(ok)


def worker(job):
    """Runs one job in this (pinned, one-thread) process and prints its result as JSON."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    kind = job["kind"]
    size = tuple(job.get("size", ()))
    if kind == "numpy":
        return {"seconds": numpy_bptt(size, job["dtype"])}
    if kind == "numpy_gemm":
        return {"gflops": numpy_gemm(job["dtype"])}
    if kind == "jax":
        return {"seconds": jax_bptt(size, job["dtype"])}
    if kind == "torch":
        return {"seconds": torch_cell(size, job["dtype"], job["cell"])}
    if kind == "gradcheck":
        seconds, ok = torch_gradcheck(job["case_file"], job["fast_mode"])
        return {"seconds": seconds, "passed": ok}
    raise ValueError(f"unknown job {kind}")


def run_job(job, env_extra=None):
    """Runs `job` in a fresh process; None if its peer is not installed (with the reason)."""
    env = dict(os.environ, **ONE_THREAD, **(env_extra or {}))
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return None, last
    return json.loads(out.stdout.strip().splitlines()[-1]), None


# --- the run ----------------------------------------------------------------------------------


def write_case(size, directory):
    """A case file of the benchmark's case, in tapegrad's JSON format."""
    c = case_arrays(size)
    path = os.path.join(directory, "rnn_{}_{}_{}_{}.case.json".format(*size))
    with open(path, "w") as fh:
        json.dump({k: v.tolist() for k, v in c.items()}, fh)
    return path


def tapegrad_check(binary, case_file, mode, cores):
    """Wall seconds of `tapegrad check` on a case file, every step (process start included), on
    `cores` cores: the check splits its work in two parts and runs them at once where it can.
    A check under a second is the median of seven more runs after the first, as the peers'
    figures are; a longer one is timed once."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = set(available[:cores])
    command = [binary, "check", "--case", case_file, "--mode", mode, "--steps", "all", "--json"]

    def run():
        # The child inherits this thread's affinity. Setting it here rather than in a
        # `preexec_fn` matters: with one, Python forks this process (numpy, JAX and torch are
        # loaded) instead of spawning, and the fork alone took 30 ms, twice the check it timed.
        if pin:
            os.sched_setaffinity(0, pin)
        try:
            t = time.perf_counter()
            out = subprocess.run(command, env=dict(os.environ, **ONE_THREAD), capture_output=True, text=True)
            return time.perf_counter() - t, out
        finally:
            if available:
                os.sched_setaffinity(0, set(available))

    seconds, out = run()
    ok = out.returncode == 0 and json.loads(out.stdout).get("ok") is True
    if seconds < 1.0:
        times = []
        for _ in range(7):
            s, again = run()
            ok = ok and again.returncode == 0 and json.loads(again.stdout).get("ok") is True
            times.append(s)
        seconds = sorted(times)[len(times) // 2]
    return seconds, ok


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for name in ("numpy", "jax", "torch"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), **versions}


def main_run(args):
    sizes = SIZES[:4] if args.quick else SIZES
    result = {"machine": machine(), "skipped": {}, "numpy": [], "numpy_gemm_peak_gflops": {},
              "jax": [], "torch": [], "gradcheck": [], "tapegrad_check": []}
    # The machine's OPENBLAS_* settings, and none: the faster is kept.
    machine_blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") and k != "OPENBLAS_NUM_THREADS"}
    variants = [("machine's OPENBLAS_* settings", {})]
    if machine_blas:
        variants.append(("no OPENBLAS_* settings", {k: "" for k in machine_blas}))

    def note(peer, why):
        result["skipped"].setdefault(peer, why)
        print(f"peers: {peer} skipped: {why}", file=sys.stderr)

    for dtype in ("float64", "float32"):
        best = None
        for name, env in variants:
            r, why = run_job({"kind": "numpy_gemm", "dtype": dtype}, env)
            if r is None:
                note("numpy", why)
                break
            if best is None or r["gflops"] > best[0]:
                best = (r["gflops"], name)
        if best:
            result["numpy_gemm_peak_gflops"][dtype] = {"gflops": best[0], "env": best[1]}
    for size in sizes:
        for dtype in ("float64", "float32"):
            row = {"B": size[0], "T": size[1], "F": size[2], "H": size[3], "dtype": dtype}
            times = [(run_job({"kind": "numpy", "size": size, "dtype": dtype}, env), name) for name, env in variants]
            ok = [(r["seconds"], name) for (r, _), name in times if r]
            if ok:
                s, name = min(ok)
                result["numpy"].append(dict(row, median_us=s * 1e6, gflops=flops(*size) / s / 1e9, env=name))
            else:
                note("numpy", times[0][0][1])
            r, why = run_job({"kind": "jax", "size": size, "dtype": dtype})
            if r:
                result["jax"].append(dict(row, median_us=r["seconds"] * 1e6, gflops=flops(*size) / r["seconds"] / 1e9))
            else:
                note("jax", why)
            for cell, gates in (("rnn", 1), ("lstm", 4), ("gru", 3)):
                r, why = run_job({"kind": "torch", "size": size, "dtype": dtype, "cell": cell})
                if r:
                    g = flops(*size, gates=gates) / r["seconds"] / 1e9
                    result["torch"].append(dict(row, cell=cell, median_us=r["seconds"] * 1e6, gflops=g))
                else:
                    note("torch", why)
            print(f"peers: {size} {dtype} done", file=sys.stderr)
    with tempfile.TemporaryDirectory() as directory:
        for size in CHECK_SIZES:
            case_file = write_case(size, directory)
            label = "{},{},{},{}".format(*size)
            for fast_mode in (False, True):
                if args.quick and size == CHECK_SIZES[-1] and not fast_mode:
                    continue
                r, why = run_job({"kind": "gradcheck", "case_file": case_file, "fast_mode": fast_mode})
                if r:
                    result["gradcheck"].append({"case": label, "fast_mode": fast_mode, **r})
                else:
                    note("torch", why)
            if args.tapegrad and os.path.exists(args.tapegrad):
                for mode in ("exhaustive", "directional"):
                    for cores in (1, 2):
                        seconds, ok = tapegrad_check(args.tapegrad, case_file, mode, cores)
                        result["tapegrad_check"].append(
                            {"case": label, "mode": mode, "cores": cores, "seconds": seconds, "passed": ok}
                        )
            else:
                note("tapegrad check", f"no binary at {args.tapegrad} (cargo build --release)")
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the four smaller sizes only")
    parser.add_argument("--tapegrad", default="target/release/tapegrad", help="the tapegrad binary")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--table", nargs=2, metavar=("BENCH_JSON", "PEERS_JSON"), help="print the README's table")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
    elif args.table:
        import table  # benches/table.py, beside this file

        table.main(*args.table)
    else:
        main_run(args)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
