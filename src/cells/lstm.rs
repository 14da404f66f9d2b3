//! The LSTM cell, with its backward step derived by hand.
//!
//! ```text
//! a_t = x_t·W_x + h_(t-1)·W_h + b          W_x (F, 4H), W_h (H, 4H), b (4H,)
//! i, f, o, g = the four H-column blocks of a_t, in the gate order
//! i_t = σ(a_t[i]),  f_t = σ(a_t[f]),  o_t = σ(a_t[o]),  g_t = tanh(a_t[g])
//! c_t = f_t ⊙ c_(t-1) + i_t ⊙ g_t
//! h_t = o_t ⊙ tanh(c_t)
//! ```
//!
//! The state has two parts, `h` and the cell state `c` (`h_0`, `c_0` zeros unless given). The
//! gate order is CS231n's `ifog` by default; PyTorch stacks its weights `ifgo`
//! (`"gate_order": "ifgo"`).
//!
//! # The backward step, derived
//!
//! Write `dh_t = ∂L/∂h_t` and `dc_t = ∂L/∂c_t` for the *total* derivatives: every path from the
//! value to `L`.
//!
//! 1. **The cell state's total.** `c_t` reaches `L` through `c_(t+1) = f_(t+1) ⊙ c_t + …` and
//!    through `h_t = o_t ⊙ tanh(c_t)`, so
//!
//!    ```text
//!    dc_t = dc_(t+1) ⊙ f_(t+1) + dh_t ⊙ o_t ⊙ (1 − tanh²(c_t))
//!    ```
//!
//!    (at `t = T` the first term is absent: the head reads `h` only). The second term is
//!    [`Cell::complete_state_grads`]; the first is what step t + 1 hands back.
//!
//! 2. **Into the gates**, each through its own nonlinearity (`σ' = σ(1 − σ)`, `tanh' = 1 − tanh²`,
//!    written from the gate's *output*):
//!
//!    ```text
//!    da_t[i] = dc_t ⊙ g_t ⊙ i_t(1 − i_t)
//!    da_t[f] = dc_t ⊙ c_(t-1) ⊙ f_t(1 − f_t)
//!    da_t[o] = dh_t ⊙ tanh(c_t) ⊙ o_t(1 − o_t)
//!    da_t[g] = dc_t ⊙ i_t ⊙ (1 − g_t²)
//!    ```
//!
//!    and `da_t` is the four blocks put back in the gate order they were taken out in.
//!
//! 3. **Through the affine map**, exactly as the RNN's (the same [`affine_backward`]):
//!    `dx_t = da_t·W_xᵀ`, `dW_x[t] = x_tᵀ·da_t`, `dW_h[t] = h_(t-1)ᵀ·da_t`, `db[t] = Σ_batch da_t`.
//!
//! 4. **Back in time**: `dh_(t-1) = da_t·W_hᵀ + ∂ℓ/∂h_(t-1)`, and the cell-state path, which
//!    passes through no squashing function and is why the LSTM's gradients vanish slowly:
//!
//!    ```text
//!    dc_(t-1) ← dc_t ⊙ f_t
//!    ```

use crate::activation::Activation;
use crate::cell::{
    Agreed, Cell, Dim, Internal, Param, Pointwise, Quantity, RecordedStep, Site, State, StepBack,
};
use crate::cells::rnn::affine_backward;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::tape::Var;

/// The order of the four gates' blocks in `a_t`, `W_x`, `W_h` and `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GateOrder {
    /// `i, f, o, g`: CS231n's assignment.
    #[default]
    Ifog,
    /// `i, f, g, o`: how PyTorch's `nn.LSTM` stacks `weight_ih_l0`.
    Ifgo,
}

impl GateOrder {
    /// The block of each gate, `[i, f, o, g]`.
    fn blocks(self) -> [usize; 4] {
        match self {
            GateOrder::Ifog => [0, 1, 2, 3],
            GateOrder::Ifgo => [0, 1, 3, 2],
        }
    }

    /// The four blocks of a stacked row, in the order they are stored, put in the order
    /// `[i, f, o, g]`.
    fn in_order<X>(self, stacked: [X; 4]) -> [X; 4] {
        let [a, b, c, d] = stacked;
        match self {
            GateOrder::Ifog => [a, b, c, d],
            GateOrder::Ifgo => [a, b, d, c],
        }
    }

    /// Its value in a case file: `"ifog"`.
    pub fn name(self) -> &'static str {
        match self {
            GateOrder::Ifog => "ifog",
            GateOrder::Ifgo => "ifgo",
        }
    }
}

/// The LSTM cell: all it holds is the gate order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Lstm {
    /// The order of the gates' blocks.
    pub gate_order: GateOrder,
}

const SHAPES: &str = "invariant: the sequence checked every shape before the step";

/// The four gates of one step, each `batch × H`.
pub struct Gates<T> {
    /// The input gate `i_t = σ(a_t[i])`.
    pub i: Matrix<T>,
    /// The forget gate `f_t = σ(a_t[f])`.
    pub f: Matrix<T>,
    /// The output gate `o_t = σ(a_t[o])`.
    pub o: Matrix<T>,
    /// The candidate `g_t = tanh(a_t[g])`.
    pub g: Matrix<T>,
}

impl Lstm {
    /// The cell with the gates stacked in `gate_order`.
    pub fn new(gate_order: GateOrder) -> Lstm {
        Lstm { gate_order }
    }

    /// Gate `k` of `[i, f, o, g]`'s block of `a` (of `4H` columns), before its nonlinearity.
    pub fn block<T: Scalar>(&self, a: &Matrix<T>, k: usize) -> Matrix<T> {
        let hidden = a.cols() / 4;
        a.col_block(self.gate_order.blocks()[k] * hidden, hidden)
            .expect(SHAPES)
    }

    /// `i, f, o = σ(·)` and `g = tanh(·)` of their blocks of `a_t`.
    pub fn gates<T: Scalar>(&self, a: &Matrix<T>) -> Gates<T> {
        let squash = |k: usize, phi: Activation| {
            let mut m = self.block(a, k);
            phi.apply_in_place(m.as_mut_slice());
            m
        };
        Gates {
            i: squash(0, Activation::Sigmoid),
            f: squash(1, Activation::Sigmoid),
            o: squash(2, Activation::Sigmoid),
            g: squash(3, Activation::Tanh),
        }
    }

    /// `[i, f, o, g]` blocks put back side by side in the gate order: `da_t` from its gates'.
    pub fn unblock<T: Scalar>(&self, blocks: [Matrix<T>; 4]) -> Matrix<T> {
        let rows = blocks[0].rows();
        let mut placed: [Option<Matrix<T>>; 4] = [None, None, None, None];
        for (k, m) in blocks.into_iter().enumerate() {
            placed[self.gate_order.blocks()[k]] = Some(m);
        }
        let placed: Vec<Matrix<T>> = placed
            .into_iter()
            .map(|m| m.expect("invariant: a gate order places each gate once"))
            .collect();
        Matrix::stack_cols(&placed, rows)
    }
}

/// `tanh(c)`.
fn tanh_of<T: Scalar>(c: &Matrix<T>) -> Matrix<T> {
    let mut t = c.clone();
    Activation::Tanh.apply_in_place(t.as_mut_slice());
    t
}

/// `a ⊙ b`.
fn times<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>) -> Matrix<T> {
    a.hadamard(b).expect(SHAPES)
}

impl Cell for Lstm {
    const KIND: &'static str = "lstm";
    const PARAMS: &'static [Param] = &[
        Param {
            key: "w_x",
            shown: "W_x",
            grad: "dw_x",
            rows: Dim::Features,
            cols: Dim::Hidden(4),
            projected: true,
        },
        Param {
            key: "w_h",
            shown: "W_h",
            grad: "dw_h",
            rows: Dim::Hidden(1),
            cols: Dim::Hidden(4),
            projected: false,
        },
        Param {
            key: "b",
            shown: "b",
            grad: "db",
            rows: Dim::One,
            cols: Dim::Hidden(4),
            projected: false,
        },
    ];
    const STATES: &'static [State] = &[
        State {
            key: "h",
            initial: "h0",
            grad: "dh",
        },
        State {
            key: "c",
            initial: "c0",
            grad: "dc",
        },
    ];
    const INTERNALS: &'static [Internal] = &[Internal {
        key: "a",
        grad: "da",
        cols: Dim::Hidden(4),
    }];
    const OPTIONS: &'static [(&'static str, &'static str)] =
        &[("gate_order", "\"ifog\" (CS231n) or \"ifgo\" (PyTorch)")];

    fn from_options(option: &dyn Fn(&str) -> Option<String>) -> Result<Lstm> {
        let gate_order = match option("gate_order").as_deref() {
            None | Some("ifog") => GateOrder::Ifog,
            Some("ifgo") => GateOrder::Ifgo,
            Some(other) => {
                return Err(Error::invalid(
                    "gate_order",
                    format!(
                        "unknown gate order {other:?}; expected \"ifog\" (CS231n) or \"ifgo\" \
                         (PyTorch)"
                    ),
                ));
            }
        };
        Ok(Lstm { gate_order })
    }

    fn title(&self) -> String {
        format!("LSTM (gates {})", self.gate_order.name())
    }

    fn equations(&self) -> String {
        format!(
            "a_t = x_t·W_x + h_(t-1)·W_h + b,  i, f, o, g = σ, σ, σ, tanh of a_t's blocks \
             ({}),  c_t = f ⊙ c_(t-1) + i ⊙ g,  h_t = o ⊙ tanh(c_t)",
            self.gate_order.name()
        )
    }

    /// `x_t·W_x`.
    fn project<T: Scalar>(&self, p: &[&Matrix<T>], x: &Matrix<T>) -> Matrix<T> {
        x.matmul(p[0]).expect(SHAPES)
    }

    /// `a_t = x_t·W_x + h_(t-1)·W_h + b`: `h_(t-1)·W_h` first and the projection added to it,
    /// as the RNN's (addition commutes exactly, so these are the tape's numbers).
    fn pre<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        projected: &Matrix<T>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        let ([_, w_h, b], [h_prev, _]) = (p, prev) else {
            unreachable!("{SHAPES}: the LSTM has three parameters and two states")
        };
        let mut a = h_prev.matmul(w_h).expect(SHAPES);
        a.add_assign(projected).expect(SHAPES);
        a.add_row_in_place(b).expect(SHAPES);
        vec![a]
    }

    /// `c_t = f ⊙ c_(t-1) + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.
    fn post<T: Scalar>(
        &self,
        _p: &[&Matrix<T>],
        internals: Vec<Matrix<T>>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        let Gates { i, f, o, g } = self.gates(&internals[0]);
        let mut c = times(&f, prev[1]);
        c.add_assign(&times(&i, &g)).expect(SHAPES);
        let h = times(&o, &tanh_of(&c));
        vec![h, c]
    }

    /// `i_t, f_t, o_t, g_t`.
    fn trace_gates<T: Scalar>(&self, internals: &[&Matrix<T>]) -> Vec<(&'static str, Matrix<T>)> {
        let Gates { i, f, o, g } = self.gates(internals[0]);
        vec![("i", i), ("f", f), ("o", o), ("g", g)]
    }

    /// A changed `c_t` changes `h_t = o_t ⊙ tanh(c_t)` with it.
    fn restate<T: Scalar>(
        &self,
        internals: &[&Matrix<T>],
        part: usize,
        value: &Matrix<T>,
    ) -> Option<Vec<Matrix<T>>> {
        (part == 1).then(|| {
            let o = self.gates(internals[0]).o;
            vec![times(&o, &tanh_of(value)), value.clone()]
        })
    }

    /// Step 1 of the derivation: `dc_t += dh_t ⊙ o_t ⊙ (1 − tanh²(c_t))`.
    fn complete_state_grads<T: Scalar>(
        &self,
        internals: &[&Matrix<T>],
        state: &[&Matrix<T>],
        d_state: &mut [Matrix<T>],
    ) {
        let o = self.gates(internals[0]).o;
        let d_tanh = tanh_of(state[1]).map(|t| T::one() - t * t);
        let through_h = times(&times(&d_state[0], &o), &d_tanh);
        d_state[1].add_assign(&through_h).expect(SHAPES);
    }

    fn record<'t, T: Scalar>(
        &self,
        p: &[Var<'t, T>],
        x: Var<'t, T>,
        prev: &[Var<'t, T>],
        t: usize,
    ) -> Result<RecordedStep<'t, T>> {
        let (&[w_x, w_h, b], &[h_prev, c_prev]) = (p, prev) else {
            return Err(Error::invalid(
                "LSTM step",
                "expected the three parameters w_x, w_h, b and two states h, c",
            ));
        };
        let a = x
            .matmul(w_x)?
            .add(h_prev.matmul(w_h)?)?
            .add_bias(b)?
            .named(&format!("a_{t}"));
        let hidden = a.shape().1 / 4;
        let block = |k: usize| a.columns(self.gate_order.blocks()[k] * hidden, hidden);
        let i = block(0)?.sigmoid().named(&format!("i_{t}"));
        let f = block(1)?.sigmoid().named(&format!("f_{t}"));
        let o = block(2)?.sigmoid().named(&format!("o_{t}"));
        let g = block(3)?.tanh().named(&format!("g_{t}"));
        let c = f.mul(c_prev)?.add(i.mul(g)?)?.named(&format!("c_{t}"));
        let h = o.mul(c.tanh())?.named(&format!("h_{t}"));
        Ok(RecordedStep {
            internals: vec![a],
            state: vec![h, c],
        })
    }

    /// The derivation's steps 2 to 4, given the totals `dh_t` and `dc_t` (step 1).
    fn backward<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        x: &Matrix<T>,
        prev: &[&Matrix<T>],
        internals: &[&Matrix<T>],
        state: &[&Matrix<T>],
        d_state: &[&Matrix<T>],
    ) -> StepBack<T> {
        let Gates { i, f, o, g } = self.gates(internals[0]);
        let (dh, dc) = (d_state[0], d_state[1]);
        let sigma_prime = |s: &Matrix<T>| s.map(|s| s * (T::one() - s));
        let da_i = times(&times(dc, &g), &sigma_prime(&i));
        let da_f = times(&times(dc, prev[1]), &sigma_prime(&f));
        let da_o = times(&times(dh, &tanh_of(state[1])), &sigma_prime(&o));
        let da_g = times(&times(dc, &i), &g.map(|g| T::one() - g * g));
        let da = self.unblock([da_i, da_f, da_o, da_g]);
        let mut back = affine_backward(p, x, prev[0], da);
        back.to_prev.push(times(dc, &f));
        back
    }

    fn equation(&self, q: &Quantity, t: usize, steps: usize) -> String {
        let next = t + 1;
        match q.site {
            Site::State(0) if t == 0 => "da_1·W_hᵀ".into(),
            Site::State(0) if t == steps => format!("∂L/∂h_{t}"),
            Site::State(0) => format!("da_{next}·W_hᵀ + ∂ℓ/∂h_{t}"),
            Site::State(_) if t == 0 => "dc_1 ⊙ f_1".into(),
            Site::State(_) if t == steps => format!("dh_{t} ⊙ o_{t} ⊙ (1 − tanh²(c_{t}))"),
            Site::State(_) => {
                format!("dc_{next} ⊙ f_{next} + dh_{t} ⊙ o_{t} ⊙ (1 − tanh²(c_{t}))")
            }
            Site::Internal(_) => format!(
                "[dc_{t} ⊙ g_{t} ⊙ i_{t}(1 − i_{t}) | dc_{t} ⊙ c_{} ⊙ f_{t}(1 − f_{t}) | \
                 dh_{t} ⊙ tanh(c_{t}) ⊙ o_{t}(1 − o_{t}) | dc_{t} ⊙ i_{t} ⊙ (1 − g_{t}²)] as \
                 i | f | o | g, stacked {}",
                t - 1,
                self.gate_order.name()
            ),
            Site::Input => format!("da_{t}·W_xᵀ"),
            Site::Param(0) => format!("x_{t}ᵀ·da_{t}"),
            Site::Param(1) => format!("h_{}ᵀ·da_{t}", t - 1),
            Site::Param(_) => format!("Σ_batch da_{t}"),
        }
    }

    fn explain(
        &self,
        q: &Quantity,
        t: usize,
        steps: usize,
        agreed: Agreed<'_>,
    ) -> (String, String) {
        let equation = |name: &str| format!("{name}_{t} = {}", self.equation(q, t, steps));
        let given = |name: &str, at: usize| agreed(at, name) == Some(true);
        match q.site {
            Site::State(0) if t == steps => (
                equation("dh"),
                "the gradient of the loss with respect to the last state: check the head's \
                 derivative, with the same 1/B as the loss's mean over the batch"
                    .to_string(),
            ),
            Site::State(0) => (
                equation("dh"),
                if given("da", t + 1) {
                    format!(
                        "da_{} is right, so the recurrence into h is wrong: W_hᵀ (not W_h), \
                         all four gates' blocks of da_{}, and the head's term only where the \
                         loss reads h_{t}",
                        t + 1,
                        t + 1
                    )
                } else {
                    format!(
                        "da_{} was not given, so the error may have entered there",
                        t + 1
                    )
                },
            ),
            Site::State(_) if t == steps => (
                equation("dc"),
                if given("dh", t) {
                    format!(
                        "dh_{t} is right, so the path through h_{t} = o_{t} ⊙ tanh(c_{t}) is                          wrong: nothing comes from a step {}, but dc_{t} is not zero, and it                          takes tanh of the cell state, squared, not c_{t}²",
                        t + 1
                    )
                } else {
                    format!("dh_{t} was not given, so the error may be in dh_{t} instead")
                },
            ),
            Site::State(_) => (
                equation("dc"),
                if given("dh", t) {
                    format!(
                        "dh_{t} is right, so the cell state's gradient is wrong: the path from \
                         the next step, dc_{} ⊙ f_{} (the forget gate of step {}, and not \
                         forgotten), plus the path through h_{t}, dh_{t} ⊙ o_{t} ⊙ (1 − \
                         tanh²(c_{t})): tanh of the cell state, squared, not c_{t}²",
                        t + 1,
                        t + 1,
                        t + 1
                    )
                } else {
                    format!("dh_{t} was not given, so the error may be in dh_{t} instead")
                },
            ),
            Site::Internal(_) => (
                equation("da"),
                if given("dc", t) && given("dh", t) {
                    format!(
                        "dh_{t} and dc_{t} are right, so a gate's derivative is wrong: σ' and \
                         tanh' from the gates' outputs (i(1 − i), not σ'(i) of the output again, \
                         not of the pre-activation), c_{} (the old cell state) in the forget \
                         gate's block, tanh(c_{t}) in the output gate's, and the four blocks \
                         stacked back in the order {} they were taken out in",
                        t - 1,
                        self.gate_order.name()
                    )
                } else {
                    format!("dh_{t} or dc_{t} was not given, so the error may be there instead")
                },
            ),
            Site::Input => (
                equation("dx"),
                "da is right (or not given), so look at this product: da times W_x transposed"
                    .to_string(),
            ),
            Site::Param(0) => (
                format!("dW_x[{t}] = x_{t}ᵀ·da_{t}"),
                format!("da_{t} is right (or not given): x_{t} of this very step, transposed"),
            ),
            Site::Param(1) => (
                format!("dW_h[{t}] = h_{}ᵀ·da_{t}", t - 1),
                format!(
                    "da_{t} is right (or not given): h_{} (the state that went into step {t}), \
                     not h_{t}",
                    t - 1
                ),
            ),
            Site::Param(_) => (
                format!("db[{t}] = Σ_batch da_{t}"),
                "da is right (or not given): a sum over the batch axis (axis 0), not a mean"
                    .to_string(),
            ),
        }
    }
}

/// The LSTM step row by row, for the training paths of [`crate::gated`]: `p^x = x_t·W_x + b`,
/// `p^h = h_(t-1)·W_h`, `a_t = p^x + p^h`. A row keeps `[i | f | o | g | tanh(c_t)]`, the
/// gates in that order whatever the gate order of `a_t`, so that `i, f, o` take one `σ` call.
impl Pointwise for Lstm {
    const STEP: &'static str = "lstm_step";
    const WIDTH: usize = 4;
    const KEPT: usize = 5;
    const BIASES: (usize, Option<usize>) = (2, None);

    /// `c_t = f ⊙ c_(t-1) + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`, with `i, f, o, g` squashed from
    /// their blocks of `a_t = p^x + p^h`.
    fn forward_row<T: Scalar>(
        &self,
        px: &[T],
        ph: &[T],
        prev: &[T],
        next: &mut [T],
        kept: &mut [T],
    ) {
        let h = next.len() / 2;
        let (gates, tanh_c) = kept.split_at_mut(4 * h);
        let order = self.gate_order;
        let blocks = order
            .in_order(split4(px, h))
            .into_iter()
            .zip(order.in_order(split4(ph, h)));
        for (gate, (x, y)) in gates.chunks_exact_mut(h).zip(blocks) {
            for ((gate, &x), &y) in gate.iter_mut().zip(x).zip(y) {
                *gate = x + y;
            }
        }
        Activation::Sigmoid.apply_in_place(&mut gates[..3 * h]);
        Activation::Tanh.apply_in_place(&mut gates[3 * h..]);
        let [i, f, o, g] = split4(gates, h);
        let (h_next, c_next) = next.split_at_mut(h);
        let c_prev = &prev[h..2 * h];
        for j in 0..h {
            c_next[j] = f[j] * c_prev[j] + i[j] * g[j];
        }
        tanh_c.copy_from_slice(c_next);
        Activation::Tanh.apply_in_place(tanh_c);
        for ((h_next, &o), &tc) in h_next.iter_mut().zip(o).zip(&*tanh_c) {
            *h_next = o * tc;
        }
    }

    /// Steps 1 and 2 of the derivation, and the cell-state path of step 4: `dc_t` completed
    /// with `dh_t ⊙ o_t ⊙ (1 − tanh²(c_t))`, the four blocks of `da_t` (both `dp^x` and
    /// `dp^h`, since `a_t` is their sum), and `dc_(t-1) ← dc_t ⊙ f_t` left in `d_state`.
    fn backward_row<T: Scalar>(
        &self,
        kept: &[T],
        prev: &[T],
        d_state: &mut [T],
        dpx: &mut [T],
        dph: &mut [T],
    ) {
        let h = d_state.len() / 2;
        let one = T::one();
        let (gates, tanh_c) = kept.split_at(4 * h);
        let [i, f, o, g] = split4(gates, h);
        let (tc, c_prev) = (&tanh_c[..h], &prev[h..2 * h]);
        let [da_i, da_f, da_o, da_g] = self.gate_order.in_order(split4_mut(dpx, h));
        let (dh, dc) = d_state.split_at_mut(h);
        let (dh, dc) = (&mut dh[..h], &mut dc[..h]);
        // Plain scalar code, about a tenth of a training step's time: the machine code shows no
        // vector instruction in this loop, which indexes many slices by `j`, nor did it when
        // wrapped in `kernel::wide` (whose closure the compiler left as a call).
        for j in 0..h {
            let dc_j = dc[j] + dh[j] * o[j] * (one - tc[j] * tc[j]);
            da_i[j] = dc_j * g[j] * i[j] * (one - i[j]);
            da_f[j] = dc_j * c_prev[j] * f[j] * (one - f[j]);
            da_o[j] = dh[j] * tc[j] * o[j] * (one - o[j]);
            da_g[j] = dc_j * i[j] * (one - g[j] * g[j]);
            dc[j] = dc_j * f[j];
            dh[j] = T::zero();
        }
        dph.copy_from_slice(dpx);
    }
}

/// The four `h`-wide blocks of `m`.
fn split4<T>(m: &[T], h: usize) -> [&[T]; 4] {
    let (a, rest) = m.split_at(h);
    let (b, rest) = rest.split_at(h);
    let (c, d) = rest.split_at(h);
    [a, b, c, &d[..h]]
}

/// The four `h`-wide blocks of `m`, to write.
fn split4_mut<T>(m: &mut [T], h: usize) -> [&mut [T]; 4] {
    let (a, rest) = m.split_at_mut(h);
    let (b, rest) = rest.split_at_mut(h);
    let (c, d) = rest.split_at_mut(h);
    [a, b, c, &mut d[..h]]
}
