"""Homework-shaped samples for `cases/`, each as JSON and as numpy's own .npz, with float64
reference gradients computed independently of tapegrad.

Each sample is written in the layout its course uses and differentiated there by HIPS autograd
(reverse mode on numpy code, `pip install autograd numpy`), from the course's own equations:

- cs231n_rnn_backward: CS231n's rnn_forward / rnn_backward(dout, cache) set-up, row vectors,
  x (N, T, D), the upstream gradient dout given for every step ("kind": "upstream");
- coursera_rnn_backward: Coursera's rnn_backward(da, caches), column vectors,
  a_t = tanh(Wax·x_t + Waa·a_(t-1) + ba), x (n_x, m, T_x), ba (n_a, 1) ("weights": "column");
- time_major_mse_all: x (T, batch, features) and targets (T, batch, hidden), steps first
  ("layout": "time_major");
- cs231n_temporal_softmax: CS231n's temporal_softmax_loss on every state, with a mask
  ("kind": "softmax_ce_all").

Per-step quantities come from the usual device: every step gets its own copy of each weight
and a zero added to each state, and the gradient with respect to that copy or that zero is the
step's quantity. The .grads.npz files hold the per-step quantities stacked, steps first
(`steps.dh` of shape (T, …)); one of them starts with dh_0 (T + 1 entries).

    python3 scripts/homework_samples.py      # rewrites cases/{cs231n,coursera,time_major}_*

It also writes the CS231n sample's gradients rounded to float32 and its case in Fortran order.
"""

import json
import random

import autograd.numpy as np
import numpy
from autograd import grad


def draw(rng, shape, scale):
    """Seeded values rounded to 3 decimals, so that the files are short and exact."""
    size = int(numpy.prod(shape))
    return np.array([round(rng.gauss(0.0, scale), 3) for _ in range(size)]).reshape(shape)


def rows_run(x, h0, copies, zeros, batch_axis_first=True):
    """States h_0..h_T of a tanh RNN in row vectors: h_t = tanh(x_t·Wx + h_(t-1)·Wh + b)."""
    h, hs = h0, [h0]
    steps = x.shape[1] if batch_axis_first else x.shape[0]
    for t in range(steps):
        x_t = x[:, t, :] if batch_axis_first else x[t]
        a = np.dot(x_t, copies["w_x"][t]) + np.dot(h, copies["w_h"][t]) + copies["b"][t]
        h = np.tanh(a + zeros["a"][t]) + zeros["h"][t]
        hs.append(h)
    return hs


def columns_run(x, a0, copies, zeros):
    """Coursera's rnn_forward: a_t = tanh(Wax·x_t + Waa·a_(t-1) + ba), x (n_x, m, T_x)."""
    a, states = a0, [a0]
    for t in range(x.shape[2]):
        z = np.dot(copies["w_x"][t], x[:, :, t]) + np.dot(copies["w_h"][t], a) + copies["b"][t]
        a = np.tanh(z + zeros["a"][t]) + zeros["h"][t]
        states.append(a)
    return states


def reference(run, loss, x, params, state_shape, steps, initial):
    """Loss, totals and per-step gradients by autograd, per-step ones through copies and zeros."""
    def copies_of(p):
        return {k: [p[k]] * steps for k in ("w_x", "w_h", "b")}

    def zeros_of():
        return {"a": [np.zeros(state_shape)] * steps, "h": [np.zeros(state_shape)] * steps}

    def per_step(copies, zeros, x):
        return loss(run(x, params[initial], copies, zeros))

    def total(p, x):
        return loss(run(x, p[initial], copies_of(p), zeros_of()))

    copies, zeros = copies_of(params), zeros_of()
    g_copies = grad(per_step, 0)(copies, zeros, x)
    g_zeros = grad(per_step, 1)(copies, zeros, x)
    g_x = grad(per_step, 2)(copies, zeros, x)
    g_p = grad(total, 0)(params, x)
    steps_out = []
    for t in range(steps):
        steps_out.append({
            "dh": g_zeros["h"][t], "da": g_zeros["a"][t],
            "dw_x": g_copies["w_x"][t], "dw_h": g_copies["w_h"][t], "db": g_copies["b"][t],
        })
    return float(total(params, x)), g_p, g_x, steps_out


def write(name, case, npz_case, loss, totals, steps, dx_per_step, dh_0=None):
    """cases/NAME.case.{json,npz} and cases/NAME.grads.{json,npz}."""
    def plain(v):
        return v.tolist() if hasattr(v, "tolist") else v

    with open(f"cases/{name}.case.json", "w") as f:
        json.dump({k: ({kk: plain(vv) for kk, vv in v.items()} if isinstance(v, dict) else plain(v))
                   for k, v in case.items()}, f, indent=1)
    flat = {}
    for k, v in npz_case.items():
        if isinstance(v, dict):
            flat.update({f"{k}.{kk}": numpy.array(vv) for kk, vv in v.items()})
        else:
            flat[k] = numpy.array(v)
    numpy.savez(f"cases/{name}.case.npz", **flat)
    grads = {"loss": loss, "grads": {k: plain(v) for k, v in totals.items()},
             "steps": [dict({"t": t + 1}, **{k: plain(v) for k, v in s.items()},
                            dx=plain(dx_per_step[t]))
                       for t, s in enumerate(steps)]}
    with open(f"cases/{name}.grads.json", "w") as f:
        json.dump(grads, f, indent=1)
    stacked = {f"grads.{k}": numpy.array(v) for k, v in totals.items()}
    for q in steps[0]:
        values = [numpy.array(s[q]) for s in steps]
        if q == "dh" and dh_0 is not None:
            values = [numpy.array(dh_0)] + values
            del stacked["grads.h0"]
        stacked[f"steps.{q}"] = numpy.stack(values)
    stacked["loss"] = numpy.array(loss)
    numpy.savez_compressed(f"cases/{name}.grads.npz", **stacked)
    print(name, loss)


def cs231n():
    rng = random.Random(231)
    N, T, D, H = 2, 4, 3, 5
    x, h0 = draw(rng, (N, T, D), 1.0), draw(rng, (N, H), 0.5)
    p = {"w_x": draw(rng, (D, H), 0.4), "w_h": draw(rng, (H, H), 0.4), "b": draw(rng, (H,), 0.2),
         "h0": h0}
    dout = draw(rng, (N, T, H), 1.0)

    def loss(hs):
        return sum(np.sum(dout[:, t, :] * hs[t + 1]) for t in range(T))

    value, g_p, g_x, steps = reference(rows_run, loss, x, p, (N, H), T, "h0")
    case = {"x": x, **p, "loss": {"kind": "upstream", "dh": dout}}
    totals = {k: g_p[k] for k in ("w_x", "w_h", "b", "h0")}
    totals["x"] = g_x
    write("cs231n_rnn_backward", case, case, value, totals, steps,
          [g_x[:, t, :] for t in range(T)], dh_0=g_p["h0"])


def coursera():
    rng = random.Random(1)
    n_x, m, T_x, n_a = 3, 2, 4, 5
    x, a0 = draw(rng, (n_x, m, T_x), 1.0), draw(rng, (n_a, m), 0.5)
    p = {"w_x": draw(rng, (n_a, n_x), 0.4), "w_h": draw(rng, (n_a, n_a), 0.4),
         "b": draw(rng, (n_a, 1), 0.2), "h0": a0}
    da = draw(rng, (n_a, m, T_x), 1.0)

    def loss(states):
        return sum(np.sum(da[:, :, t] * states[t + 1]) for t in range(T_x))

    value, g_p, g_x, steps = reference(columns_run, loss, x, p, (n_a, m), T_x, "h0")
    case = {"weights": "column", "x": x, **p, "loss": {"kind": "upstream", "dh": da}}
    totals = {k: g_p[k] for k in ("w_x", "w_h", "b", "h0")}
    totals["x"] = g_x
    write("coursera_rnn_backward", case, case, value, totals, steps,
          [g_x[:, :, t] for t in range(T_x)])


def time_major():
    rng = random.Random(7)
    T, B, F, H = 3, 2, 2, 4
    x, y = draw(rng, (T, B, F), 1.0), draw(rng, (T, B, H), 0.5)
    p = {"w_x": draw(rng, (F, H), 0.5), "w_h": draw(rng, (H, H), 0.5), "b": draw(rng, (H,), 0.2),
         "h0": numpy.zeros((B, H))}

    def run(x, h0, copies, zeros):
        return rows_run(x, h0, copies, zeros, batch_axis_first=False)

    def loss(hs):
        return 0.5 * sum(np.sum((hs[t + 1] - y[t]) ** 2) for t in range(T))

    value, g_p, g_x, steps = reference(run, loss, x, p, (B, H), T, "h0")
    case = {"layout": "time_major", "x": x, "w_x": p["w_x"], "w_h": p["w_h"], "b": p["b"],
            "loss": {"kind": "mse_all", "targets": y}}
    totals = {k: g_p[k] for k in ("w_x", "w_h", "b", "h0")}
    totals["x"] = g_x
    write("time_major_mse_all", case, case, value, totals, steps, list(g_x))


def temporal_softmax():
    rng = random.Random(3)
    N, T, D, H, V = 3, 4, 2, 3, 5
    x, h0 = draw(rng, (N, T, D), 1.0), draw(rng, (N, H), 0.5)
    p = {"w_x": draw(rng, (D, H), 0.6), "w_h": draw(rng, (H, H), 0.6), "b": draw(rng, (H,), 0.2),
         "h0": h0}
    w_out, b_out = draw(rng, (H, V), 0.8), draw(rng, (V,), 0.1)
    labels = numpy.array([[rng.randrange(V) for _ in range(T)] for _ in range(N)])
    mask = numpy.array([[t < length for t in range(T)] for length in (4, 2, 3)])

    def temporal_softmax_loss(hs, w, bias):
        # CS231n's: -sum(mask * log p[label]) / N over all (n, t).
        total = 0.0
        for t in range(T):
            z = np.dot(hs[t + 1], w) + bias
            z = z - np.max(z, axis=1, keepdims=True)
            logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
            total = total - np.sum(mask[:, t] * logp[np.arange(N), labels[:, t]])
        return total / N

    def loss(hs):
        return temporal_softmax_loss(hs, w_out, b_out)

    value, g_p, g_x, steps = reference(rows_run, loss, x, p, (N, H), T, "h0")

    def head_total(w, bias):
        copies = {k: [p[k]] * T for k in ("w_x", "w_h", "b")}
        zeros = {"a": [np.zeros((N, H))] * T, "h": [np.zeros((N, H))] * T}
        return temporal_softmax_loss(rows_run(x, h0, copies, zeros), w, bias)

    totals = {k: g_p[k] for k in ("w_x", "w_h", "b", "h0")}
    totals["w_out"] = grad(head_total, 0)(w_out, b_out)
    totals["b_out"] = grad(head_total, 1)(w_out, b_out)
    totals["x"] = g_x
    head = {"kind": "softmax_ce_all", "w_out": w_out, "b_out": b_out, "labels": labels,
            "mask": mask}
    case = {"x": x, **p, "loss": head}
    write("cs231n_temporal_softmax", case, case, value, totals, steps,
          [g_x[:, t, :] for t in range(T)])


def float32_and_fortran():
    """The CS231n sample's gradients as float32 homework computes them (rounded to float32),
    and its case with every array in Fortran order (np.asfortranarray), as .npz."""
    with numpy.load("cases/cs231n_rnn_backward.grads.npz") as g:
        numpy.savez("cases/cs231n_rnn_backward.grads_float32.npz",
                    **{k: (g[k].astype(numpy.float32) if g[k].dtype == numpy.float64 else g[k])
                       for k in g.files})
    with numpy.load("cases/cs231n_rnn_backward.case.npz") as c:
        numpy.savez("cases/cs231n_rnn_backward.fortran.case.npz",
                    **{k: (numpy.asfortranarray(c[k]) if c[k].ndim >= 2 else c[k])
                       for k in c.files})
    print("cs231n_rnn_backward float32 gradients, Fortran-order case")


if __name__ == "__main__":
    cs231n()
    coursera()
    time_major()
    temporal_softmax()
    float32_and_fortran()
