"""Independent float64 reference gradients for the LSTM and GRU samples in `cases/`.

Written from the equations alone, in numpy, and differentiated by HIPS autograd (reverse mode
on numpy code, `pip install autograd`), so that nothing here shares code or derivation with
tapegrad. Per-step quantities come from the usual device: every step gets its own copy of each
weight and a zero added to each value whose gradient is asked for (h_t, c_t, a_t, ...), and the
gradient with respect to that copy or that zero is the step's quantity.

    python3 scripts/reference_cells.py        # rewrites cases/{lstm,gru}_*.{case,grads}.json
"""

import json
import random

import autograd.numpy as np
from autograd import grad

B, T, F, H, CLASSES = 2, 3, 3, 2, 3


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_run(x, p, eps, order):
    """States h_0..h_T of an LSTM; eps holds the per-step zeros and weight copies."""
    h, c = p["h0"], p["c0"]
    hs = [h]
    for t in range(T):
        a = np.dot(x[:, t, :], eps["w_x"][t]) + np.dot(h, eps["w_h"][t]) + eps["b"][t]
        a = a + eps["a"][t]
        part = {g: a[:, k * H:(k + 1) * H] for k, g in enumerate(order)}
        i, f, o, g = sigmoid(part["i"]), sigmoid(part["f"]), sigmoid(part["o"]), np.tanh(part["g"])
        c = f * c + i * g + eps["c"][t]
        h = o * np.tanh(c) + eps["h"][t]
        hs.append(h)
    return hs


def gru_run(x, p, eps, reset):
    """States h_0..h_T of a GRU, the reset gate after the recurrent product (PyTorch) or
    before it (Cho et al., d2l: n = tanh(x·W_xn + b_xn + (r ⊙ h)·W_hn))."""
    h = p["h0"]
    hs = [h]
    for t in range(T):
        a_x = np.dot(x[:, t, :], eps["w_x"][t]) + eps["b_x"][t] + eps["a_x"][t]
        a_h = np.dot(h, eps["w_h"][t]) + eps["b_h"][t] + eps["a_h"][t]
        r = sigmoid(a_x[:, :H] + a_h[:, :H])
        z = sigmoid(a_x[:, H:2 * H] + a_h[:, H:2 * H])
        if reset == "before":
            w_hn = eps["w_h"][t][:, 2 * H:]
            n = np.tanh(a_x[:, 2 * H:] + np.dot(r * h, w_hn) + eps["b_h"][t][2 * H:])
        else:
            n = np.tanh(a_x[:, 2 * H:] + r * a_h[:, 2 * H:])
        h = (1.0 - z) * n + z * h + eps["h"][t]
        hs.append(h)
    return hs


def loss_of(hs, head):
    kind = head["kind"]
    if kind == "sum_last":
        return np.sum(hs[-1])
    if kind == "softmax_ce":
        z = np.dot(hs[-1], head["w_out"]) + head["b_out"]
        z = z - np.max(z, axis=1, keepdims=True)
        logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return -np.mean(logp[np.arange(B), head["labels"]])
    if kind == "mse_all":
        return 0.5 * sum(np.sum((hs[t + 1] - head["targets"][:, t, :]) ** 2) for t in range(T))
    if kind == "mse_last":
        return np.sum((hs[-1] - head["target"]) ** 2) / B
    raise ValueError(kind)


CELLS = {
    "lstm": {
        "run": lstm_run,
        "params": {"w_x": (F, 4 * H), "w_h": (H, 4 * H), "b": (4 * H,)},
        "states": ["h0", "c0"],
        "zeros": {"h": H, "c": H, "a": 4 * H},
        "steps": ["dh", "dc", "da", "dx", "dw_x", "dw_h", "db"],
    },
    "gru": {
        "run": gru_run,
        "params": {"w_x": (F, 3 * H), "w_h": (H, 3 * H), "b_x": (3 * H,), "b_h": (3 * H,)},
        "states": ["h0"],
        "zeros": {"h": H, "a_x": 3 * H, "a_h": 3 * H},
        "steps": ["dh", "da_x", "da_h", "dx", "dw_x", "dw_h", "db_x", "db_h"],
    },
}


def sample(rng, shape, scale):
    return np.array([round(rng.gauss(0.0, scale), 3) for _ in range(int(np.prod(shape)))]).reshape(shape)


def make(cell, kind, order, seed):
    spec = CELLS[cell]
    rng = random.Random(seed)
    x = sample(rng, (B, T, F), 1.0)
    p = {k: sample(rng, shape, 0.6) for k, shape in spec["params"].items()}
    for s in spec["states"]:
        p[s] = sample(rng, (B, H), 0.3)
    if order == "before":
        p["b_h"] = np.zeros(3 * H)
    head = {"kind": kind}
    if kind == "softmax_ce":
        head.update(w_out=sample(rng, (H, CLASSES), 0.7), b_out=sample(rng, (CLASSES,), 0.1),
                    labels=np.array([rng.randrange(CLASSES) for _ in range(B)]))
    if kind == "mse_all":
        head["targets"] = sample(rng, (B, T, H), 0.5)
    if kind == "mse_last":
        head["target"] = sample(rng, (B, H), 0.5)

    def eps_of(p):
        eps = {k: [p[k]] * T for k in spec["params"]}
        eps.update({k: [np.zeros((B, w))] * T for k, w in spec["zeros"].items()})
        return eps

    def per_step(eps, x):
        return loss_of(spec["run"](x, p, eps, order), head)

    def total(p, x, head_params):
        return loss_of(spec["run"](x, p, eps_of(p), order), dict(head, **head_params))

    head_params = {k: head[k] for k in ("w_out", "b_out") if k in head}

    eps = eps_of(p)
    g_eps = grad(per_step, 0)(eps, x)
    g_x = grad(per_step, 1)(eps, x)
    g_p = grad(total, 0)(p, x, head_params)
    g_head = grad(total, 2)(p, x, head_params) if head_params else {}
    steps = []
    for t in range(T):
        step = {"t": t + 1}
        for q in spec["steps"]:
            # dx from x's gradient; the others from step t's zero or weight copy: dw_x from
            # the copy of w_x, dh from the zero added to h_t.
            step[q] = g_x[:, t, :].tolist() if q == "dx" else g_eps[q[1:]][t].tolist()
        steps.append(step)
    grads = {k: g_p[k].tolist() for k in list(spec["params"]) + spec["states"]}
    grads.update({k: v.tolist() for k, v in g_head.items()})
    grads["x"] = g_x.tolist()
    case = {"cell": cell, "x": x.tolist()}
    if cell == "lstm":
        case["gate_order"] = order
    if cell == "gru":
        case["reset"] = order
    case.update({k: v.tolist() for k, v in p.items()})
    case["loss"] = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in head.items()}
    return case, {"loss": float(total(p, x, head_params)), "grads": grads, "steps": steps}


if __name__ == "__main__":
    runs = [("lstm", "sum_last", "ifog"), ("lstm", "softmax_ce", "ifgo"), ("lstm", "mse_all", "ifog"),
            ("lstm", "mse_last", "ifgo"), ("gru", "sum_last", "after"), ("gru", "softmax_ce", "after"),
            ("gru", "mse_all", "after"), ("gru", "mse_last", "after"),
            ("gru", "softmax_ce", "before")]
    for seed, (cell, kind, order) in enumerate(runs):
        case, grads = make(cell, kind, order, seed)
        name = f"cases/{cell}_{kind}" if order != "before" else f"cases/gru_reset_before_{kind}"
        with open(name + ".case.json", "w") as f:
            json.dump(case, f, indent=1)
        with open(name + ".grads.json", "w") as f:
            json.dump(grads, f, indent=1)
        print(name, grads["loss"])
