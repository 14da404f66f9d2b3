//! What a recurrent cell is, to the rest of the crate: the [`Cell`] trait.
//!
//! A cell is one step of a recurrent network, `state_t = step(x_t, state_(t-1))`, with named
//! parameters shared by every step. For the tanh RNN of the tutorial:
//!
//! ```text
//! a_t = x_t·W_x + h_(t-1)·W_h + b          parameters w_x, w_h, b; internal value a
//! h_t = φ(a_t)                             state h
//! ```
//!
//! Everything that runs a sequence (the forward pass over `T` steps, the BPTT loop, the heads,
//! finite differences, the check, the diagnosis, the traces, the case files) is written once,
//! over the names a cell declares here, and never lists `W_x, W_h, b` itself. A cell lives in
//! one file of [`crate::cells`].
//!
//! A step is split in three: `project` (what reads the input alone, `x_t·W_x`), `pre` (with
//! the previous state, to the step's *internal* values, the RNN's `a_t`) and `post` (from the
//! internal values to the new state). Each split is a place a finite difference perturbs or
//! reuses: `a_t` is checked as much as `h_t` is, and a perturbation after step t leaves every
//! `x_s·W_x` as it was.

use crate::error::Result;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::tape::Var;
use std::fmt;

/// One dimension of a parameter's shape, in terms of the case's sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// `F`, the number of input features.
    Features,
    /// `k·H`, a multiple of the number of hidden units (`k = 4` for an LSTM's stacked gates).
    Hidden(usize),
    /// 1: the parameter is a row, which numpy stores as a 1-D array (`b` of shape `(H,)`).
    One,
}

impl Dim {
    /// The size, for `features` inputs and `hidden` units.
    pub fn size(self, features: usize, hidden: usize) -> usize {
        match self {
            Dim::Features => features,
            Dim::Hidden(k) => k * hidden,
            Dim::One => 1,
        }
    }

    /// The dimension in words, as messages print it: `features`, `hidden`, `4·hidden`.
    pub fn words(self) -> String {
        match self {
            Dim::Features => "features".into(),
            Dim::Hidden(1) => "hidden".into(),
            Dim::Hidden(k) => format!("{k}·hidden"),
            Dim::One => "1".into(),
        }
    }
}

/// A parameter of a cell, shared by every step: `W_x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its key in case files and `grads.…`: `"w_x"`.
    pub key: &'static str,
    /// Its name in traces and on the tape: `"W_x"`.
    pub shown: &'static str,
    /// The key of step t's contribution to its gradient, `∂L/∂W_x[t]`: `"dw_x"`.
    pub grad: &'static str,
    /// Its rows.
    pub rows: Dim,
    /// Its columns.
    pub cols: Dim,
    /// True when [`Cell::project`] reads it (`W_x`): a perturbation of it changes the projected
    /// input, which must then be computed again.
    pub projected: bool,
}

impl Param {
    /// The shape for `features` inputs and `hidden` units.
    pub fn shape(&self, features: usize, hidden: usize) -> (usize, usize) {
        (
            self.rows.size(features, hidden),
            self.cols.size(features, hidden),
        )
    }

    /// True for a row that numpy stores as a 1-D array (`b`).
    pub fn is_row(&self) -> bool {
        self.rows == Dim::One
    }

    /// The shape in numpy's words: `(features, hidden)`, `(hidden,)`.
    pub fn words(&self) -> String {
        if self.is_row() {
            format!("({},)", self.cols.words())
        } else {
            format!("({}, {})", self.rows.words(), self.cols.words())
        }
    }
}

/// A part of a cell's state, carried from step to step: `h` (and an LSTM's `c`). Every state is
/// `batch × hidden`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    /// Its key in `forward --json` and in traces: `"h"` (so `h_t`).
    pub key: &'static str,
    /// The key of the initial state in case files and of its gradient in `grads.…`: `"h0"`.
    pub initial: &'static str,
    /// The key of its per-step gradient, the total `∂L/∂h_t`: `"dh"`.
    pub grad: &'static str,
}

/// A value computed inside a step that the check perturbs: the RNN's pre-activation `a_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Internal {
    /// Its key in `forward --json` and in traces: `"a"` (so `a_t`).
    pub key: &'static str,
    /// The key of its gradient `∂L/∂a_t`: `"da"`.
    pub grad: &'static str,
    /// Its columns (its rows are the batch).
    pub cols: Dim,
}

/// What a per-step quantity is the gradient of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// State `i` after the step, `h_t`: its total gradient `dh[t]`.
    State(usize),
    /// Internal value `i` of the step, `a_t`: `da[t]`.
    Internal(usize),
    /// The input `x_t`: `dx[t]`.
    Input,
    /// Step t's untied copy of parameter `i`, `W_h[t]`: its gradient `dW_h[t]`, step t's
    /// contribution to the shared weight's.
    Param(usize),
}

/// A per-step quantity: its key (`"dh"`) and what it is the gradient of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    /// The key in `grads --json`'s steps, `check --json` and tables: `"dw_h"`.
    pub name: &'static str,
    /// What it is the gradient of.
    pub site: Site,
}

/// The key of the input's gradient at every step.
pub const DX: &str = "dx";

/// The per-step quantities of `C`, in the order a backward step computes them and the
/// diagnosis looks for errors within a step: the states' total gradients (`dh`), the internal
/// values' (`da`), the input's (`dx`), then each parameter's per-step copy (`dw_x`, `dw_h`,
/// `db`).
pub fn quantities<C: Cell>() -> Vec<Quantity> {
    let states = C::STATES.iter().enumerate().map(|(i, s)| Quantity {
        name: s.grad,
        site: Site::State(i),
    });
    let internals = C::INTERNALS.iter().enumerate().map(|(i, v)| Quantity {
        name: v.grad,
        site: Site::Internal(i),
    });
    let input = std::iter::once(Quantity {
        name: DX,
        site: Site::Input,
    });
    let params = C::PARAMS.iter().enumerate().map(|(i, p)| Quantity {
        name: p.grad,
        site: Site::Param(i),
    });
    states.chain(internals).chain(input).chain(params).collect()
}

/// Where in the crate's notation a per-step quantity is printed: `dh_3`, `dW_h[3]`.
pub fn quantity_label<C: Cell>(q: &Quantity, t: usize) -> String {
    match q.site {
        Site::State(i) => format!("d{}_{t}", C::STATES[i].key),
        Site::Internal(i) => format!("d{}_{t}", C::INTERNALS[i].key),
        Site::Input => format!("dx_{t}"),
        Site::Param(i) => format!("d{}[{t}]", C::PARAMS[i].shown),
    }
}

/// What one backward step of a cell hands back: the gradients of the step's internal values,
/// of `x_t` and of the step's copies of the parameters, and the gradient that flows on to the
/// previous state.
#[derive(Clone, Debug, PartialEq)]
pub struct StepBack<T> {
    /// `∂L/∂` each internal value (`da_t`), in the order of [`Cell::INTERNALS`].
    pub internals: Vec<Matrix<T>>,
    /// `dx_t = ∂L/∂x_t`.
    pub dx: Matrix<T>,
    /// Step t's contribution to each parameter's gradient (`dW_x[t]`, …), in the order of
    /// [`Cell::PARAMS`].
    pub params: Vec<Matrix<T>>,
    /// What flows back into each part of the previous state through this step (`da_t·W_hᵀ`);
    /// the BPTT loop adds the head's direct gradient to it.
    pub to_prev: Vec<Matrix<T>>,
}

/// The nodes one step recorded on a tape.
#[derive(Clone, Debug)]
pub struct RecordedStep<'t, T> {
    /// The internal values (`a_t`), in the order of [`Cell::INTERNALS`].
    pub internals: Vec<Var<'t, T>>,
    /// The new state (`h_t`), in the order of [`Cell::STATES`].
    pub state: Vec<Var<'t, T>>,
}

/// What a diagnosis knows of the quantities around a wrong one: whether `quantity` at step `t`
/// was given and agreed (`Some(true)`), was given and disagreed (`Some(false)`), or was not
/// given (`None`).
pub type Agreed<'a> = &'a dyn Fn(usize, &str) -> Option<bool>;

/// One recurrent cell: its named parameters, state and per-step quantities, one step forward
/// (plain and on a tape), and its hand-derived backward step.
///
/// Shapes: `x_t` is `batch × features`, every state `batch × hidden`, and the parameters have
/// the shapes [`Cell::PARAMS`] gives them. The sequence code checks every shape before it calls
/// a step, so the steps may assume them. A step treats the rows of the batch independently
/// (row `i` of every output reads row `i` of the inputs and the parameters alone), as every
/// recurrent cell does: forward mode ([`crate::forward`]) stacks copies of the batch on it.
/// A cell is `Send + Sync`, plain data, because a check runs its parts on threads
/// ([`crate::check::PARTS`]).
pub trait Cell: Clone + fmt::Debug + PartialEq + Send + Sync {
    /// The value of `"cell"` in a case file: `"rnn"`.
    const KIND: &'static str;
    /// The parameters, in the order every list of them follows. The first is the input's weight,
    /// `features × k·hidden` (`W_x`): case files read the number of hidden units from it.
    const PARAMS: &'static [Param];
    /// The parts of the state. The first is `h` (initial `h0`, gradient `dh`): the heads read
    /// it, and gradient files and [`crate::gradients::Gradients::dh`] name it so.
    const STATES: &'static [State];
    /// The values inside a step that are checked too (the RNN's `a_t`).
    const INTERNALS: &'static [Internal];
    /// The case-file keys of the cell's options, each with the values it takes in words (the
    /// RNN's `"activation"`: `"tanh", "sigmoid" or "identity"`).
    const OPTIONS: &'static [(&'static str, &'static str)];

    /// Builds the cell from its options in a case file: `option(key)` is the string given for
    /// `key` (one of [`Cell::OPTIONS`]), or `None` where the file says nothing.
    fn from_options(option: &dyn Fn(&str) -> Option<String>) -> Result<Self>;

    /// The cell in a few words, for headers: `tanh RNN`.
    fn title(&self) -> String;

    /// The forward equations in the tutorial's notation, for the forward trace.
    fn equations(&self) -> String;

    /// The part of a step that reads the input alone, `x_t·W_x` for the RNN. `p` holds the
    /// parameters in the order of [`Cell::PARAMS`]. It does not depend on the past, so a
    /// finite difference that perturbs a state, or a later step, reuses it.
    fn project<T: Scalar>(&self, p: &[&Matrix<T>], x: &Matrix<T>) -> Matrix<T>;

    /// The internal values of one step from its projected input and the previous state `prev`:
    /// `a_t = x_t·W_x + h_(t-1)·W_h + b` for the RNN, `projected` being `x_t·W_x`.
    fn pre<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        projected: &Matrix<T>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>>;

    /// The new state from the step's internal values: `h_t = φ(a_t)` for the RNN. It takes
    /// the internal values by value, so that a step whose record is not kept (a finite
    /// difference reruns thousands of them) can reuse their memory; the forward pass that keeps
    /// them hands over a copy.
    fn post<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        internals: Vec<Matrix<T>>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>>;

    /// Refuses parameters of the right shapes that the cell's convention has no place for (a
    /// GRU with the reset gate before the product and a nonzero `b_h`), naming the entry: what
    /// a case file that mixes two conventions gets. The command line calls it on every case
    /// file; the library computes with any value (a nonzero `b_h` is then one more bias). The
    /// default accepts every value.
    fn check_params<T: Scalar>(&self, _p: &[&Matrix<T>]) -> Result<()> {
        Ok(())
    }

    /// The values inside a step that a forward trace shows beside the internal ones, with their
    /// names: an LSTM's gates `i, f, o, g`, a GRU's `r, z, n`. They are not checked on their
    /// own (their gradients are blocks of `da_t`'s); the default shows none.
    fn trace_gates<T: Scalar>(&self, _internals: &[&Matrix<T>]) -> Vec<(&'static str, Matrix<T>)> {
        Vec::new()
    }

    /// Step t's state with part `part` set to `value`, where another part of the state is
    /// computed from it within the step: the LSTM's `h_t = o_t ⊙ tanh(c_t)` follows a changed
    /// `c_t`. This is what a finite difference or forward mode perturbs for that part's
    /// quantity, so that `dc_t` is the total `∂L/∂c_t`, through `h_t` as well as `c_(t+1)`, as
    /// the tape's is. `None` (the default): the part changes alone.
    fn restate<T: Scalar>(
        &self,
        _internals: &[&Matrix<T>],
        _part: usize,
        _value: &Matrix<T>,
    ) -> Option<Vec<Matrix<T>>> {
        None
    }

    /// Step t's total state gradients from what reaches the state from outside the step (the
    /// head's direct gradient and what step t + 1 hands back), adding the paths between parts
    /// of the state within the step: for the LSTM, `dc_t += dh_t ⊙ o_t ⊙ (1 − tanh²(c_t))`. The
    /// counterpart of [`Cell::restate`] in hand BPTT; the default adds nothing.
    fn complete_state_grads<T: Scalar>(
        &self,
        _internals: &[&Matrix<T>],
        _state: &[&Matrix<T>],
        _d_state: &mut [Matrix<T>],
    ) {
    }

    /// The same step recorded on a tape, with `p` the step's own copies of the parameters;
    /// its nodes are named for step `t` (`a_t`, `h_t`).
    fn record<'t, T: Scalar>(
        &self,
        p: &[Var<'t, T>],
        x: Var<'t, T>,
        prev: &[Var<'t, T>],
        t: usize,
    ) -> Result<RecordedStep<'t, T>>;

    /// The hand-derived backward step: given the step's forward values and `d_state`, the
    /// total gradients `∂L/∂state_t` (`dh_t`), the gradients of everything the step read.
    fn backward<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        x: &Matrix<T>,
        prev: &[&Matrix<T>],
        internals: &[&Matrix<T>],
        state: &[&Matrix<T>],
        d_state: &[&Matrix<T>],
    ) -> StepBack<T>;

    /// The equation that computes `quantity` at step `t` of `steps`, as the backward trace
    /// prints it after `dh_t = `; `t = 0` asks for a state's initial gradient (`dh_0`).
    fn equation(&self, quantity: &Quantity, t: usize, steps: usize) -> String;

    /// Why `quantity` at step `t` can be wrong when it is the first error walking back from
    /// `t = steps`: the equation that computes it and what to look at, in words. `agreed`
    /// tells what the diagnosis found for the quantities around it.
    fn explain(
        &self,
        quantity: &Quantity,
        t: usize,
        steps: usize,
        agreed: Agreed<'_>,
    ) -> (String, String);
}

/// A cell whose step is two products and, between them, a part that reads each batch row on its
/// own: the shape of every gated cell.
///
/// ```text
/// p^x_t = x_t·W_x + b_x          (all T steps at once: one product of the stacked inputs)
/// p^h_t = h_(t-1)·W_h [+ b_h]
/// state_t, kept_t = gates(p^x_t, p^h_t, state_(t-1))       row by row
/// ```
///
/// The training paths of [`crate::gated`] run the products on the packed kernel and call the
/// cell for the rest, one batch row at a time. A row's state is its parts side by side,
/// `[h | c]` for the LSTM; `kept` is what the backward step needs of the forward one (the
/// gates after their squashing functions, and the LSTM's `tanh(c_t)`), so that the backward
/// pass recomputes nothing. The hand BPTT of [`Cell::backward`] stays the readable reference:
/// tests hold the two to 1e-12.
pub trait Pointwise: Cell + 'static {
    /// The name of the fused step on a tape and in traces: `"lstm_step"`.
    const STEP: &'static str;
    /// `G`: the products have `G·H` columns (4 for the LSTM, 3 for the GRU).
    const WIDTH: usize;
    /// How many numbers of each batch row a step keeps for its backward step, in units of `H`.
    const KEPT: usize;
    /// The index in [`Cell::PARAMS`] of the bias added to `p^x` (`b`, `b_x`), and of the one
    /// added to `p^h` where there is one (`b_h`). The weights are `PARAMS[0]` (`W_x`) and
    /// `PARAMS[1]` (`W_h`).
    const BIASES: (usize, Option<usize>);

    /// Refuses options whose step is not of this shape, in words (a GRU with the reset gate
    /// before the product multiplies by `W_hn` after the gates). The default accepts all.
    fn pointwise(&self) -> Result<()> {
        Ok(())
    }

    /// One row of the step: from `px` and `ph` (`G·H` each) and the row's previous state
    /// `prev` (`S·H`, the parts side by side), the new state `next` and what the backward
    /// step keeps, `kept` (`KEPT·H`).
    fn forward_row<T: Scalar>(
        &self,
        px: &[T],
        ph: &[T],
        prev: &[T],
        next: &mut [T],
        kept: &mut [T],
    );

    /// One row of the backward step. `d_state` holds, on entry, what reaches `state_t` from
    /// outside the step (the head's `∂ℓ/∂h_t` and what step t + 1 handed back); the cell adds
    /// the paths between parts within the step, writes `dpx = ∂L/∂p^x_t` and
    /// `dph = ∂L/∂p^h_t`, and leaves in `d_state` what flows straight into `state_(t-1)`
    /// without a product (the LSTM's `dc_t ⊙ f_t`, the GRU's `dh_t ⊙ z_t`). `prev` and `kept`
    /// are the forward step's.
    fn backward_row<T: Scalar>(
        &self,
        kept: &[T],
        prev: &[T],
        d_state: &mut [T],
        dpx: &mut [T],
        dph: &mut [T],
    );
}
