//! Sites: where each gradient the check compares lives, and the loss with the value there
//! replaced.
//!
//! A per-step quantity is the gradient of a value at one step (the state `h_t`, an internal
//! value such as `a_t`, the input `x_t`, or step t's copy of a weight); a total is the gradient
//! of a shared weight (every step's copy at once), of an initial state, or of a head parameter.
//! `loss_at` recomputes only the steps after the site, with the cell's own `project`, `pre`
//! and `post`, generic over the number type: finite differences call it on perturbed values,
//! forward mode ([`crate::forward`]) on dual numbers.

use crate::case::Case;
use crate::cell::{Cell, Site, quantities};
use crate::gradients::Gradients;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::sequence::Forward;
use std::borrow::Cow;

/// What a total is the gradient of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TotalOf {
    /// Parameter `i` of the cell, over every step at once (`dW_h = Σ_t dW_h[t]`).
    Param(usize),
    /// Part `s` of the initial state (`∂L/∂h_0`); `grad` is its per-step key (`dh`), under
    /// which tables show it at `t = 0`.
    Initial {
        /// The part of the state.
        state: usize,
        /// Its per-step key, `dh`.
        grad: &'static str,
    },
    /// Parameter `i` of the head (`W_out`).
    Head(usize),
}

/// A gradient that is not per step: a shared weight's total, an initial state's gradient, or a
/// head parameter's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Total {
    /// Its key in `grads --json` and `check --json`: `w_x`, `h0`, `w_out`.
    pub key: &'static str,
    /// What it is the gradient of.
    pub of: TotalOf,
}

/// The totals of `case`, in the order of `grads --json`: the cell's parameters, the initial
/// state, the head's parameters.
pub fn totals<T: Scalar, C: Cell>(case: &Case<T, C>) -> Vec<Total> {
    let params = C::PARAMS.iter().enumerate().map(|(i, p)| Total {
        key: p.key,
        of: TotalOf::Param(i),
    });
    let initial = C::STATES.iter().enumerate().map(|(s, state)| Total {
        key: state.initial,
        of: TotalOf::Initial {
            state: s,
            grad: state.grad,
        },
    });
    let head = case
        .head
        .params()
        .into_iter()
        .enumerate()
        .map(|(i, (p, _))| Total {
            key: p.key,
            of: TotalOf::Head(i),
        });
    params.chain(initial).chain(head).collect()
}

/// Where a finite-difference perturbation is applied inside the forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// A per-step quantity's site at step t: the steps from t (an input or a weight's copy) or
    /// from t + 1 (a state, an internal value) on are recomputed.
    Step(usize, Site),
    /// A whole total (every step's copy at once), an initial state, or a head parameter.
    Total(TotalOf),
}

/// What every finite-difference evaluation of one case shares: the case, its plain forward
/// pass, and each step's projected input (`x_t·W_x`), which a perturbation elsewhere leaves
/// as it was.
pub(crate) struct Context<'a, T, C> {
    case: &'a Case<T, C>,
    fwd: &'a Forward<T>,
    /// The case's parameters, as the steps take them.
    params: Vec<&'a Matrix<T>>,
    /// [`Cell::project`] of `x_t` at index `t − 1`.
    projected: Vec<Matrix<T>>,
}

impl<'a, T: Scalar, C: Cell> Context<'a, T, C> {
    pub(crate) fn new(case: &'a Case<T, C>, fwd: &'a Forward<T>) -> Self {
        let params = case.param_refs();
        let projected = case
            .x
            .iter()
            .map(|x| case.cell.project(&params, x))
            .collect();
        Context {
            case,
            fwd,
            params,
            projected,
        }
    }

    /// The case the context belongs to.
    pub(crate) fn case(&self) -> &'a Case<T, C> {
        self.case
    }

    /// The case's plain forward pass.
    pub(crate) fn forward(&self) -> &'a Forward<T> {
        self.fwd
    }

    /// The state after step t, borrowed from the forward pass, with part `s` replaced by `v`
    /// when `replace` says so.
    fn state(&self, t: usize, replace: Option<(usize, &'a Matrix<T>)>) -> Vec<Cow<'a, Matrix<T>>> {
        (0..C::STATES.len())
            .map(|s| match replace {
                Some((part, v)) if part == s => Cow::Borrowed(v),
                _ => Cow::Borrowed(self.fwd.state(s, t)),
            })
            .collect()
    }
}

/// The loss of the context's case with the value at `at` replaced by `v`, recomputing only the
/// steps after it.
///
/// Each recomputed step is the cell's own `project` (unless the perturbation leaves it as the
/// context has it), `pre` and `post`. Only the state being carried forward is kept, unless the
/// head reads every state (`mse_all`).
pub(crate) fn loss_at<'a, T: Scalar, C: Cell>(
    ctx: &Context<'a, T, C>,
    at: At,
    v: &'a Matrix<T>,
) -> T {
    let (start, first) = restart(ctx, at, v);
    let states = recompute(ctx, at, v, start, first..=ctx.case.x.len()).head_states();
    // The head fits the states: the check verified it before taking any difference, and this
    // runs once per probe, where checking again would cost a tenth of a small case's time.
    match at {
        At::Total(TotalOf::Head(i)) => ctx.case.head.with_param(i, v).loss_of(&states),
        _ => ctx.case.head.loss_of(&states),
    }
}

/// What a recomputation ends with: the state after its last step, and the states before it
/// when the head reads every state.
pub(crate) struct Ending<T> {
    /// Every part of the state after the last step recomputed.
    pub(crate) state: Vec<Matrix<T>>,
    /// `h_0 … h_(last−1)` when the head reads every state (`mse_all`), otherwise empty.
    pub(crate) earlier: Vec<Matrix<T>>,
}

impl<T: Scalar> Ending<T> {
    /// The states the head reads: every `h_t`, or `[h_T]` alone for a head that reads the last.
    pub(crate) fn head_states(mut self) -> Vec<Matrix<T>> {
        self.earlier.push(self.state.swap_remove(0));
        self.earlier
    }
}

/// Where a recomputation with the value at `at` replaced by `v` starts: the state it starts
/// from, and the first step it recomputes.
pub(crate) fn restart<'a, T: Scalar, C: Cell>(
    ctx: &Context<'a, T, C>,
    at: At,
    v: &'a Matrix<T>,
) -> (Vec<Cow<'a, Matrix<T>>>, usize) {
    let (cell, fwd) = (&ctx.case.cell, ctx.fwd);
    match at {
        At::Step(t, Site::State(s)) => match cell.restate(&fwd.internals_at(t), s, v) {
            Some(state) => (state.into_iter().map(Cow::Owned).collect(), t + 1),
            None => (ctx.state(t, Some((s, v))), t + 1),
        },
        At::Step(t, Site::Internal(i)) => {
            let mut inside: Vec<Matrix<T>> = fwd.internals_at(t).into_iter().cloned().collect();
            inside[i] = v.clone();
            let state = cell.post(&ctx.params, inside, &fwd.state_at(t - 1));
            (state.into_iter().map(Cow::Owned).collect(), t + 1)
        }
        At::Step(t, Site::Input | Site::Param(_)) => (ctx.state(t - 1, None), t),
        At::Total(TotalOf::Initial { state, .. }) => (ctx.state(0, Some((state, v))), 1),
        At::Total(TotalOf::Param(_)) => (ctx.state(0, None), 1),
        At::Total(TotalOf::Head(_)) => {
            let steps = ctx.case.x.len();
            (ctx.state(steps, None), steps + 1)
        }
    }
}

/// Steps `range` of the context's case recomputed from `start`, with the value at `at`
/// replaced by `v` where the steps read it (an input, or a weight's copy or the whole weight).
pub(crate) fn recompute<'a, T: Scalar, C: Cell>(
    ctx: &Context<'a, T, C>,
    at: At,
    v: &'a Matrix<T>,
    start: Vec<Cow<'a, Matrix<T>>>,
    range: std::ops::RangeInclusive<usize>,
) -> Ending<T> {
    let (case, fwd) = (ctx.case, ctx.fwd);
    let cell = &case.cell;
    let shared = &ctx.params;
    // The parameters with the perturbed one in place, for the steps the perturbation reaches:
    // only step t for step t's copy, every step for a whole total.
    let hit = match at {
        At::Step(_, Site::Param(i)) | At::Total(TotalOf::Param(i)) => Some(i),
        _ => None,
    };
    let reaches = |s: usize| match at {
        At::Step(t, Site::Param(_)) => s == t,
        At::Total(TotalOf::Param(_)) => true,
        _ => false,
    };
    let perturbed: Vec<&Matrix<T>> = match hit {
        Some(i) => (0..shared.len())
            .map(|j| if j == i { v } else { shared[j] })
            .collect(),
        None => Vec::new(),
    };
    let keep_all = case.head.reads_every_state();
    let mut earlier: Vec<Matrix<T>> = if keep_all {
        fwd.states()[..range.start() - 1].to_vec()
    } else {
        Vec::new()
    };
    let mut prev = start;
    for s in range {
        // Step s uses the perturbed value where the site says so, the case's own elsewhere.
        let p = if reaches(s) { &perturbed } else { shared };
        let reprojected = hit.is_some_and(|i| C::PARAMS[i].projected) && reaches(s);
        let fresh = match at {
            At::Step(t, Site::Input) if t == s => Some(cell.project(p, v)),
            _ if reprojected => Some(cell.project(p, &case.x[s - 1])),
            _ => None,
        };
        let projected = fresh.as_ref().unwrap_or(&ctx.projected[s - 1]);
        let next = with_refs(&prev, |before| {
            cell.post(p, cell.pre(p, projected, before), before)
        });
        // The new state takes the old one's places; a head that reads every state keeps
        // h_(s-1), the first part.
        for (part, (slot, new)) in prev.iter_mut().zip(next).enumerate() {
            let old = std::mem::replace(slot, Cow::Owned(new));
            if keep_all && part == 0 {
                earlier.push(old.into_owned());
            }
        }
    }
    Ending {
        state: prev.into_iter().map(Cow::into_owned).collect(),
        earlier,
    }
}

/// The most parts a cell's state may have for [`with_refs`]: an LSTM has two.
const MAX_STATE_PARTS: usize = 4;

/// Calls `f` with references to the parts of `state`, gathered on the stack: this runs at
/// every step of every finite-difference probe, where collecting them into a `Vec` was a
/// tenth of a small case's check.
fn with_refs<T, R>(state: &[Cow<'_, Matrix<T>>], f: impl FnOnce(&[&Matrix<T>]) -> R) -> R
where
    T: Scalar,
{
    assert!(
        (1..=MAX_STATE_PARTS).contains(&state.len()),
        "invariant: a cell's state has 1 to {MAX_STATE_PARTS} parts"
    );
    let mut refs = [state[0].as_ref(); MAX_STATE_PARTS];
    for (r, part) in refs.iter_mut().zip(state) {
        *r = part.as_ref();
    }
    f(&refs[..state.len()])
}

/// The value at a quantity's site at step t: where its finite difference perturbs.
pub(crate) fn site_value<'a, T: Scalar, C: Cell>(
    case: &'a Case<T, C>,
    fwd: &'a Forward<T>,
    site: Site,
    t: usize,
) -> &'a Matrix<T> {
    match site {
        Site::State(s) => fwd.state(s, t),
        Site::Internal(i) => fwd.internal(i, t),
        Site::Input => &case.x[t - 1],
        Site::Param(i) => &case.params[i],
    }
}

/// The value a total is the gradient of.
pub(crate) fn total_value<T: Scalar, C: Cell>(case: &Case<T, C>, of: TotalOf) -> &Matrix<T> {
    match of {
        TotalOf::Param(i) => &case.params[i],
        TotalOf::Initial { state, .. } => &case.initial[state],
        TotalOf::Head(i) => case.head.params()[i].1,
    }
}

/// The value at `at`, where its gradient is taken: the state, internal value, input or weight
/// copy of a step, or a whole weight, initial state or head parameter.
pub(crate) fn point_at<'a, T: Scalar, C: Cell>(ctx: &Context<'a, T, C>, at: At) -> &'a Matrix<T> {
    match at {
        At::Step(t, site) => site_value(ctx.case, ctx.fwd, site, t),
        At::Total(of) => total_value(ctx.case, of),
    }
}

/// Gradients with the value `estimate(at, point)` for every site: each per-step quantity of
/// every step, then every total, `point` being the value at the site. How finite differences
/// and forward mode each fill a whole [`Gradients`], by their own estimate.
pub(crate) fn every_site<'a, T: Scalar, C: Cell, U: Scalar>(
    ctx: &Context<'a, T, C>,
    loss: U,
    mut estimate: impl FnMut(At, &'a Matrix<T>) -> Matrix<U>,
) -> Gradients<U> {
    let (case, fwd) = (ctx.case, ctx.fwd);
    let qs = quantities::<C>();
    let steps = (1..=case.x.len())
        .map(|t| {
            qs.iter()
                .map(|q| {
                    let point = site_value(case, fwd, q.site, t);
                    (q.name, estimate(At::Step(t, q.site), point))
                })
                .collect()
        })
        .collect();
    let totals = totals(case)
        .into_iter()
        .map(|total| {
            let point = total_value(case, total.of);
            (total.key, estimate(At::Total(total.of), point))
        })
        .collect();
    Gradients {
        loss,
        steps,
        totals,
    }
}
