//! Finite differences, and the one way tapegrad compares two gradients.
//!
//! A central difference estimates a directional derivative from two evaluations:
//!
//! ```text
//! ⟨∇f(x), v⟩ ≈ (f(x + εv) − f(x − εv)) / 2ε
//! ```
//!
//! Its error has two sources. Truncation: the Taylor terms it ignores, `ε²·f'''/6`, shrink as `ε`
//! does. Round-off: `f` is only known to about `ε_mach·|f|`, and that error is divided by `2ε`,
//! so it grows as `ε` shrinks. The sum is smallest near `ε = ∛ε_mach` (about 6e-6 for `f64`,
//! 5e-3 for `f32`), which is [`default_step`].
//!
//! Two modes: *exhaustive* ([`fd_gradient`]) perturbs every coordinate, `x ± ε·e_i`, and so
//! estimates the whole gradient; *directional* ([`fd_directional`]) perturbs along one random
//! unit direction `v` ([`random_direction`]) and is compared with `⟨g, v⟩`, as
//! `torch.autograd.gradcheck(fast_mode=True)` does: two evaluations instead of `2n`.
//!
//! Every comparison uses [`relative_error`] and ends in a [`Verdict`].

use crate::case::Case;
use crate::error::{Error, Result, shape_str};
use crate::loss::Head;
use crate::matrix::Matrix;
use crate::rnn::{Forward, Gradients, StepGrads};
use crate::scalar::Scalar;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::borrow::Cow;
use std::fmt;

/// The finite-difference step `ε = ∛ε_mach` (≈ 6.06e-6 for `f64`, ≈ 4.92e-3 for `f32`).
pub fn default_step<T: Scalar>() -> T {
    T::epsilon().cbrt()
}

/// The relative error between two arrays, the one formula used everywhere in tapegrad:
///
/// ```text
/// rel(a, b) = max_i |a_i − b_i| / max(max_i |a_i|, max_i |b_i|, f_min)
/// ```
///
/// i.e. the largest difference measured against the largest magnitude of either side (the
/// ∞-norm relative error). `f_min` is the smallest normal number of the float type (2.2e-308
/// for f64, 1.2e-38 for f32): a gradient that has vanished below it is *subnormal* and keeps
/// fewer significant digits, down to one, so two correct computations of it differ in their
/// first digit; against `f_min` such differences measure as the round-off they are. It is 0
/// when both are all zeros, and +∞ when either side holds NaN or infinity, or when the shapes
/// differ, so that such a gradient can never pass.
pub fn relative_error<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>) -> f64 {
    if a.shape() != b.shape() {
        return f64::INFINITY;
    }
    relative_error_of(a.as_slice(), b.as_slice())
}

/// [`relative_error`] on plain slices (+∞ when their lengths differ: they cannot agree).
pub fn relative_error_of<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64(), y.as_f64());
        if !x.is_finite() || !y.is_finite() {
            return f64::INFINITY;
        }
        diff = diff.max((x - y).abs());
        scale = scale.max(x.abs()).max(y.abs());
    }
    diff / scale.max(T::min_positive_value().as_f64())
}

/// The largest absolute difference `max_i |a_i − b_i|` (+∞ if either side is not finite, or
/// if the lengths differ).
pub fn abs_error_of<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let mut diff = 0.0f64;
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64(), y.as_f64());
        if !x.is_finite() || !y.is_finite() {
            return f64::INFINITY;
        }
        diff = diff.max((x - y).abs());
    }
    diff
}

/// How many rounding errors of `f` a central difference is assumed to divide by `2ε`.
///
/// The loss is a long chain of operations, so its computed value can be off by several units
/// in the last place; 16 is a generous count that still keeps the floor far below any gradient
/// worth checking.
const NOISE_ULPS: f64 = 16.0;

/// The smallest absolute error a central difference with step `eps` can resolve on a function
/// whose value is about `f_value`: `δ = 16·ε_mach·max(|f|, 1) / 2ε`.
///
/// A difference between a finite-difference estimate and a gradient that is no larger than
/// this is round-off of the estimate, not evidence against the gradient.
pub fn resolution<T: Scalar>(f_value: T, eps: T) -> f64 {
    NOISE_ULPS * T::epsilon().as_f64() * f_value.as_f64().abs().max(1.0) / (2.0 * eps.as_f64())
}

/// The outcome of one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Agreement within the tolerance.
    Ok,
    /// The two differ by more than the tolerance and by more than finite differences can
    /// explain, or one of them is NaN or infinite.
    Fail,
    /// Finite differences differ by more than the tolerance but by no more than their own
    /// noise floor ([`resolution`]): they can neither confirm nor refute the gradient.
    BelowResolution,
}

impl Verdict {
    /// Decides a comparison: `rel` and `abs` are [`relative_error`] and [`abs_error_of`] of the
    /// pair, `tol` the relative tolerance, `floor` the finite-difference [`resolution`] (0 when
    /// neither side is a finite-difference estimate).
    pub fn decide(rel: f64, abs: f64, tol: f64, floor: f64) -> Verdict {
        if !rel.is_finite() || !abs.is_finite() {
            Verdict::Fail
        } else if rel <= tol {
            Verdict::Ok
        } else if abs <= floor {
            Verdict::BelowResolution
        } else {
            Verdict::Fail
        }
    }

    /// True unless the verdict is [`Verdict::Fail`].
    pub fn passed(self) -> bool {
        self != Verdict::Fail
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Ok => "ok",
            Verdict::Fail => "FAIL",
            Verdict::BelowResolution => "below-res",
        })
    }
}

/// Exhaustive central differences: `G_ij ≈ (f(X + εE_ij) − f(X − εE_ij)) / 2ε` for every entry,
/// where `E_ij` is 1 at `(i, j)` and 0 elsewhere. Costs `2·rows·cols` evaluations of `f`.
pub fn fd_gradient<T: Scalar>(
    x: &Matrix<T>,
    eps: T,
    mut f: impl FnMut(&Matrix<T>) -> T,
) -> Matrix<T> {
    let mut probe = x.clone();
    let two_eps = eps + eps;
    Matrix::from_fn(x.rows(), x.cols(), |i, j| {
        let original = probe[(i, j)];
        probe[(i, j)] = original + eps;
        let plus = f(&probe);
        probe[(i, j)] = original - eps;
        let minus = f(&probe);
        probe[(i, j)] = original;
        (plus - minus) / two_eps
    })
}

/// Directional central difference `(f(X + εV) − f(X − εV)) / 2ε ≈ ⟨∇f(X), V⟩`.
pub fn fd_directional<T: Scalar>(
    x: &Matrix<T>,
    v: &Matrix<T>,
    eps: T,
    mut f: impl FnMut(&Matrix<T>) -> T,
) -> T {
    let shifted = |sign: T| {
        x.zip_map(v, "fd_directional", |x, v| x + sign * eps * v)
            .expect("fd_directional: the direction must have the shape of the point")
    };
    let plus = f(&shifted(T::one()));
    let minus = f(&shifted(-T::one()));
    (plus - minus) / (eps + eps)
}

/// A random direction of unit Frobenius norm: standard normal entries, divided by their norm,
/// so every direction is equally likely.
pub fn random_direction<T: Scalar>(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Matrix<T> {
    let v = Matrix::from_fn(rows, cols, |_, _| {
        let z: f64 = StandardNormal.sample(rng);
        T::from_f64(z)
    });
    let n = v.norm();
    if n > T::zero() {
        v.scale(T::one() / n)
    } else {
        v
    }
}

/// The seeded, portable random stream used for directions: the same seed gives the same
/// directions on every machine.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

// =============================================================================================
// The per-step three-way check (DESIGN §2).

/// The per-step quantities, in the order errors are looked for within a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantity {
    /// `dh[t] = ∂L/∂h_t` (total derivative).
    Dh,
    /// `da[t] = ∂L/∂a_t`.
    Da,
    /// `dx[t] = ∂L/∂x_t`.
    Dx,
    /// Step t's contribution `dW_x[t]`.
    DwX,
    /// Step t's contribution `dW_h[t]`.
    DwH,
    /// Step t's contribution `db[t]`.
    Db,
}

impl Quantity {
    /// All per-step quantities, in checking order.
    pub const ALL: [Quantity; 6] = [
        Quantity::Dh,
        Quantity::Da,
        Quantity::Dx,
        Quantity::DwX,
        Quantity::DwH,
        Quantity::Db,
    ];

    /// The key used in JSON and tables: `dh`, `da`, `dx`, `dw_x`, `dw_h`, `db`.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Dh => "dh",
            Quantity::Da => "da",
            Quantity::Dx => "dx",
            Quantity::DwX => "dw_x",
            Quantity::DwH => "dw_h",
            Quantity::Db => "db",
        }
    }

    /// This quantity's value in step t's record.
    pub fn of<T>(self, step: &StepGrads<T>) -> &Matrix<T> {
        match self {
            Quantity::Dh => &step.dh,
            Quantity::Da => &step.da,
            Quantity::Dx => &step.dx,
            Quantity::DwX => &step.dw_x,
            Quantity::DwH => &step.dw_h,
            Quantity::Db => &step.db,
        }
    }
}

/// A gradient that is not per step: a total of a shared weight, `∂L/∂h_0`, or a head parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Total {
    /// `dW_x = Σ_t dW_x[t]`.
    WX,
    /// `dW_h = Σ_t dW_h[t]`.
    WH,
    /// `db = Σ_t db[t]`.
    B,
    /// `dh[0] = ∂L/∂h_0`.
    H0,
    /// `∂L/∂W_out` (softmax head).
    WOut,
    /// `∂L/∂b_out` (softmax head).
    BOut,
}

impl Total {
    /// Every total, in the order of `grads --json`.
    pub const ALL: [Total; 6] = [
        Total::WX,
        Total::WH,
        Total::B,
        Total::H0,
        Total::WOut,
        Total::BOut,
    ];

    /// The key used in JSON (`grads.w_x`, …) and tables.
    pub fn name(self) -> &'static str {
        match self {
            Total::WX => "w_x",
            Total::WH => "w_h",
            Total::B => "b",
            Total::H0 => "h0",
            Total::WOut => "w_out",
            Total::BOut => "b_out",
        }
    }

    /// This total in a set of gradients, if the case has it.
    pub fn of<T>(self, g: &Gradients<T>) -> Option<&Matrix<T>> {
        match self {
            Total::WX => Some(&g.w_x),
            Total::WH => Some(&g.w_h),
            Total::B => Some(&g.b),
            Total::H0 => Some(&g.dh0),
            Total::WOut => g.head.as_ref().map(|(w, _)| w),
            Total::BOut => g.head.as_ref().map(|(_, b)| b),
        }
    }
}

/// Exhaustive (every coordinate) or directional (one random unit direction per quantity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `2n` loss evaluations per quantity of `n` entries; compares whole arrays.
    Exhaustive,
    /// Two loss evaluations per quantity, along directions drawn from ChaCha8 with this seed;
    /// compares `(L(q + εv) − L(q − εv))/2ε` with `⟨g, v⟩`.
    Directional {
        /// Seed of the direction stream.
        seed: u64,
    },
}

impl Mode {
    /// `"exhaustive"` or `"directional"`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Exhaustive => "exhaustive",
            Mode::Directional { .. } => "directional",
        }
    }
}

/// The two tolerances of DESIGN §2, for one number type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// Hand BPTT against the tape: the same arithmetic in another order, so round-off only.
    pub hand_tape: f64,
    /// Either against finite differences.
    pub fd: f64,
}

impl Tolerances {
    /// f64: `1e-12` and `1e-6`. f32: `1e-5` and `1e-2` (about 7 significant digits, and a
    /// finite-difference step of `∛ε_mach ≈ 5e-3`).
    pub fn for_type<T: Scalar>() -> Tolerances {
        if T::epsilon().as_f64() < 1e-10 {
            Tolerances {
                hand_tape: 1e-12,
                fd: 1e-6,
            }
        } else {
            Tolerances {
                hand_tape: 1e-5,
                fd: 1e-2,
            }
        }
    }
}

/// One comparison of two gradients: [`relative_error`], the largest absolute difference, and
/// the verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// [`relative_error`] of the pair.
    pub rel: f64,
    /// `max_i |a_i − b_i|`.
    pub abs: f64,
    /// What the numbers mean against the tolerance and the resolution.
    pub verdict: Verdict,
}

impl Comparison {
    /// Compares `a` with `b` (same length) at tolerance `tol` and finite-difference floor
    /// `floor` (0 when neither side is a finite-difference estimate).
    pub fn of<T: Scalar>(a: &[T], b: &[T], tol: f64, floor: f64) -> Comparison {
        let rel = relative_error_of(a, b);
        let abs = abs_error_of(a, b);
        Comparison {
            rel,
            abs,
            verdict: Verdict::decide(rel, abs, tol, floor),
        }
    }
}

/// One quantity checked three ways: hand vs tape, hand vs finite differences, tape vs finite
/// differences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Triple {
    /// Hand BPTT against the tape.
    pub hand_tape: Comparison,
    /// Hand BPTT against finite differences.
    pub hand_fd: Comparison,
    /// The tape against finite differences.
    pub tape_fd: Comparison,
}

impl Triple {
    /// The worst of the three verdicts (`FAIL` over `below-res` over `ok`).
    pub fn verdict(&self) -> Verdict {
        let all = [
            self.hand_tape.verdict,
            self.hand_fd.verdict,
            self.tape_fd.verdict,
        ];
        if all.contains(&Verdict::Fail) {
            Verdict::Fail
        } else if all.contains(&Verdict::BelowResolution) {
            Verdict::BelowResolution
        } else {
            Verdict::Ok
        }
    }
}

/// The per-step check of one case.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// How finite differences were taken.
    pub mode: Mode,
    /// The finite-difference step `ε`.
    pub eps: f64,
    /// The loss `L` of the case (by the tape).
    pub loss: f64,
    /// The finite-difference noise floor used for the verdicts: the [`resolution`] formula at
    /// this loss and step, or twice the largest spread measured between estimates at `ε` and
    /// `2ε`, whichever is larger.
    pub resolution: f64,
    /// The tolerances applied.
    pub tolerances: Tolerances,
    /// One row per step, `t = 1..=T` at index `t − 1`: each quantity checked three ways. The
    /// row of a step that was not checked (see [`check_steps`]) is empty.
    pub steps: Vec<Vec<(Quantity, Triple)>>,
    /// The totals, `∂L/∂h_0`, and the head's parameters.
    pub totals: Vec<(Total, Triple)>,
    /// The first NaN or infinity met in the forward pass, the loss, or either backward pass
    /// ([`first_non_finite`]); a report that has one never passes.
    pub first_non_finite: Option<NonFiniteAt>,
}

impl Report {
    /// True when nothing failed (`ok` and `below-res` both pass) and nothing computed was NaN
    /// or infinite.
    pub fn passed(&self) -> bool {
        self.first_non_finite.is_none()
            && self
                .steps
                .iter()
                .flatten()
                .map(|(_, c)| c)
                .chain(self.totals.iter().map(|(_, c)| c))
                .all(|c| c.verdict().passed())
    }

    /// The steps that were checked, `t = 1..=T`: every step for [`check_case`] and
    /// [`check_gradients`], the chosen ones for [`check_steps`], none for [`check_totals`].
    pub fn checked_steps(&self) -> Vec<usize> {
        (1..=self.steps.len())
            .filter(|&t| !self.steps[t - 1].is_empty())
            .collect()
    }

    /// The first failure walking backward from `t = T`, and in a step in the order of
    /// [`Quantity::ALL`]: where an error in a backward pass *enters*.
    pub fn first_failure(&self) -> Option<(usize, Quantity)> {
        (1..=self.steps.len()).rev().find_map(|t| {
            self.steps[t - 1]
                .iter()
                .find(|(_, c)| c.verdict() == Verdict::Fail)
                .map(|(q, _)| (t, *q))
        })
    }
}

/// Where a finite-difference perturbation is applied inside the forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    /// The state `h_t` (`t = 0..=T`): steps `t+1..` are recomputed from it.
    H(usize),
    /// The pre-activation `a_t`: `h_t = φ(a_t)`, then steps `t+1..`.
    A(usize),
    /// The input `x_t`: steps `t..`.
    X(usize),
    /// Step t's copy of `W_x`: steps `t..`, only step t using the copy.
    WxAt(usize),
    /// Step t's copy of `W_h`.
    WhAt(usize),
    /// Step t's copy of `b`.
    BAt(usize),
    /// A whole total (every step's copy at once) or a head parameter.
    Total(Total),
}

/// What every finite-difference evaluation of one case shares: the case, its plain forward
/// pass, and each step's `x_t·W_x`, which a perturbation elsewhere leaves unchanged.
struct Context<'a, T> {
    case: &'a Case<T>,
    fwd: &'a Forward<T>,
    /// `x_t·W_x` at index `t − 1`.
    x_w_x: Vec<Matrix<T>>,
}

impl<'a, T: Scalar> Context<'a, T> {
    fn new(case: &'a Case<T>, fwd: &'a Forward<T>) -> Context<'a, T> {
        let invariant = "invariant: the case's shapes were checked";
        let x_w_x = case
            .x
            .iter()
            .map(|x_t| x_t.matmul(&case.rnn.w_x).expect(invariant))
            .collect();
        Context { case, fwd, x_w_x }
    }
}

/// The loss with the value at `site` replaced by `v`, recomputing only the steps after it.
///
/// Each recomputed step is `a = x_s·W_x + h_{s−1}·W_h + b`, `h_s = φ(a)`, summed in that order
/// as [`crate::rnn::Rnn::step_with`] sums it, with `x_s·W_x` taken from the context unless the
/// perturbation reaches it. Only the state being carried forward is kept, unless the head
/// reads every state (`mse_all`).
fn loss_at<T: Scalar>(ctx: &Context<'_, T>, site: Site, v: &Matrix<T>) -> T {
    let (case, fwd) = (ctx.case, ctx.fwd);
    let rnn = &case.rnn;
    let steps = case.x.len();
    let invariant = "invariant: a perturbation keeps the quantity's shape";
    // The state h_{first−1} the recomputation starts from; the steps before it are unchanged.
    let (start, first) = match site {
        Site::H(t) => (Cow::Borrowed(v), t + 1),
        Site::A(t) => {
            let mut h = v.clone();
            rnn.activation.apply_in_place(h.as_mut_slice());
            (Cow::Owned(h), t + 1)
        }
        Site::X(t) | Site::WxAt(t) | Site::WhAt(t) | Site::BAt(t) => {
            (Cow::Borrowed(fwd.h(t - 1)), t)
        }
        Site::Total(Total::H0) => (Cow::Borrowed(v), 1),
        Site::Total(Total::WX | Total::WH | Total::B) => (Cow::Borrowed(&case.h0), 1),
        Site::Total(Total::WOut | Total::BOut) => (Cow::Borrowed(fwd.h(steps)), steps + 1),
    };
    // Every head but mse_all reads h_T alone.
    let keep_all = match case.head {
        Head::MseAll { .. } => true,
        Head::SumLast | Head::SoftmaxCe { .. } | Head::MseLast { .. } => false,
    };
    let mut states = if keep_all {
        fwd.states()[..first - 1].to_vec()
    } else {
        Vec::new()
    };
    let mut h_prev = start;
    for s in first..=steps {
        // Step s uses the perturbed value where the site says so, the case's own elsewhere.
        let pick = |hit: bool, own| if hit { v } else { own };
        let x_hit = site == Site::X(s);
        let w_x_hit = site == Site::WxAt(s) || site == Site::Total(Total::WX);
        let w_h = pick(
            site == Site::WhAt(s) || site == Site::Total(Total::WH),
            &rnn.w_h,
        );
        let b = pick(
            site == Site::BAt(s) || site == Site::Total(Total::B),
            &rnn.b,
        );
        let x_w_x = if x_hit || w_x_hit {
            let x_s = pick(x_hit, &case.x[s - 1]);
            let w_x = pick(w_x_hit, &rnn.w_x);
            Cow::Owned(x_s.matmul(w_x).expect(invariant))
        } else {
            Cow::Borrowed(&ctx.x_w_x[s - 1])
        };
        let mut h = h_prev.matmul(w_h).expect(invariant);
        // h_{s−1}·W_h + x_s·W_x is x_s·W_x + h_{s−1}·W_h: addition is commutative, bit for bit.
        h.add_assign(&x_w_x).expect(invariant);
        h.add_row_in_place(b).expect(invariant);
        rnn.activation.apply_in_place(h.as_mut_slice());
        if keep_all {
            states.push(h_prev.into_owned());
        }
        h_prev = Cow::Owned(h);
    }
    states.push(h_prev.into_owned());
    // The head fits the states: the check verified it before taking any difference, and this
    // runs once per probe, where checking again would cost a tenth of a small case's time.
    match (site, &case.head) {
        (Site::Total(Total::WOut), Head::SoftmaxCe { b_out, labels, .. }) => Head::SoftmaxCe {
            w_out: v.clone(),
            b_out: b_out.clone(),
            labels: labels.clone(),
        }
        .loss_of(&states),
        (Site::Total(Total::BOut), Head::SoftmaxCe { w_out, labels, .. }) => Head::SoftmaxCe {
            w_out: w_out.clone(),
            b_out: v.clone(),
            labels: labels.clone(),
        }
        .loss_of(&states),
        (_, head) => head.loss_of(&states),
    }
}

/// Checks every per-step quantity and every total of `case` three ways: hand BPTT, the tape,
/// and central finite differences taken where each quantity lives (DESIGN §2).
///
/// Finite differences perturb `h_t`, `a_t` or `x_t` inside the forward pass, or step t's copy
/// of a weight, and recompute only the steps after the perturbation. Exhaustive mode costs
/// `2n` partial forward passes for a quantity of `n` entries; directional mode costs two.
pub fn check_case<T: Scalar>(case: &Case<T>, mode: Mode) -> Result<Report> {
    check_gradients(case, &case.bptt()?, mode)
}

/// One quantity's numbers before judgement: both gradients and the finite-difference
/// estimates at `ε` and `2ε`, all as seen along the direction (directional mode) or entry by
/// entry (exhaustive mode).
struct Probe<T> {
    hand_tape: Comparison,
    by_hand: Vec<T>,
    by_tape: Vec<T>,
    fd: Vec<T>,
    /// The estimates at `2ε`, where the noise is measured (see [`check_gradients`]).
    coarse: Option<Vec<T>>,
}

/// In directional mode, the number of steps at which the `2ε` estimates are taken.
const NOISE_SAMPLE_STEPS: usize = 8;

/// The check of [`check_case`] with `hand` in the place of hand BPTT: how a backward pass
/// written elsewhere (a student's, or one with a planted mistake) is put on trial.
///
/// The finite-difference noise floor is measured, not only assumed: estimates are taken at `ε`
/// and again at `2ε`. Truncation error grows fourfold from one to the other and round-off
/// halves, so their difference measures how far the estimates at `ε` can be trusted (at
/// `ε = ∛ε_mach` the two errors are of one size). The floor is twice the largest difference
/// over the whole check, or the [`resolution`] formula if larger. One floor serves every
/// quantity: the round-off of `L` is the same wherever it is perturbed, and pooling the spreads
/// of the whole check measures it reliably (floors pooled per kind of quantity, over 8 sampled
/// steps, under-estimated it and failed correct gradients). The price is that one steeply
/// curved quantity's truncation raises the floor for all; hand BPTT against the tape has no
/// floor and still judges every quantity at 1e-12.
///
/// Exhaustive mode takes the `2ε` estimate of everything. Directional mode takes it of every
/// total and of every quantity at `NOISE_SAMPLE_STEPS` (8) evenly spaced steps of those checked
/// (the last among them; all of them when there are no more): a `2ε` estimate costs as much as
/// the estimate itself, and a sample of the spreads measures their maximum well enough, which
/// halves the cost of a long sequence's check.
///
/// Every step is checked. A finite difference at step t reruns the sequence from t on, so
/// the cost grows as `T²`: for long sequences, check a sample of steps with [`check_steps`].
pub fn check_gradients<T: Scalar>(
    case: &Case<T>,
    hand: &Gradients<T>,
    mode: Mode,
) -> Result<Report> {
    let every: Vec<usize> = (1..=case.x.len()).collect();
    check_steps(case, hand, mode, &every)
}

/// The check of [`check_gradients`] on the chosen steps only (`t = 1..=T`, in any order,
/// repeats ignored), and on the totals, which cover every step at once.
///
/// Each checked step costs about as much as one whole sequence per finite difference, so a
/// sample of a long sequence (its first, middle and last steps, say) is checked in time linear
/// in `T`. In directional mode the directions are drawn for the chosen steps only, so they
/// differ from those of a full check with the same seed.
pub fn check_steps<T: Scalar>(
    case: &Case<T>,
    hand: &Gradients<T>,
    mode: Mode,
    steps: &[usize],
) -> Result<Report> {
    let tape = case.tape_gradients()?;
    if hand.steps.len() != tape.steps.len() {
        return Err(Error::bad_shape(
            "gradients to check",
            format!("{} steps, as the case", tape.steps.len()),
            format!("{} steps", hand.steps.len()),
        ));
    }
    let count = tape.steps.len();
    if let Some(bad) = steps.iter().find(|&&t| t == 0 || t > count) {
        return Err(Error::invalid(
            "steps to check",
            format!("step {bad} does not exist: steps are numbered 1 to {count}"),
        ));
    }
    let mut chosen = vec![false; count];
    for &t in steps {
        chosen[t - 1] = true;
    }
    for t in 1..=count {
        for q in Quantity::ALL {
            let (want, got) = (q.of(tape.step(t)).shape(), q.of(hand.step(t)).shape());
            if want != got {
                return Err(Error::bad_shape(
                    format!("{} at step t = {t}", q.name()),
                    shape_str(want),
                    shape_str(got),
                ));
            }
        }
    }
    for total in Total::ALL {
        if let (Some(want), Some(got)) = (total.of(&tape), total.of(hand))
            && want.shape() != got.shape()
        {
            return Err(Error::bad_shape(
                format!("the total {}", total.name()),
                shape_str(want.shape()),
                shape_str(got.shape()),
            ));
        }
    }
    let fwd = case.forward()?;
    let ctx = Context::new(case, &fwd);
    let eps = default_step::<T>();
    let tolerances = Tolerances::for_type::<T>();
    // Where the 2ε estimates are taken (see check_gradients): every checked step in exhaustive
    // mode, evenly spaced ones counted back from the last in directional mode.
    let checked: Vec<usize> = (1..=count).filter(|&t| chosen[t - 1]).collect();
    let stride = checked.len().div_ceil(NOISE_SAMPLE_STEPS).max(1);
    let mut noise_step = vec![false; count];
    for (i, &t) in checked.iter().rev().enumerate() {
        noise_step[t - 1] = mode == Mode::Exhaustive || i.is_multiple_of(stride);
    }
    let noise_at = |t: usize| noise_step[t - 1];
    let mut directions = match mode {
        Mode::Directional { seed } => Some(rng(seed)),
        Mode::Exhaustive => None,
    };

    // Pass 1: every estimate.
    let mut probe =
        |site: Site, point: &Matrix<T>, by_hand: &Matrix<T>, by_tape: &Matrix<T>, noise: bool| {
            let hand_tape = Comparison::of(
                by_hand.as_slice(),
                by_tape.as_slice(),
                tolerances.hand_tape,
                0.0,
            );
            let loss = |v: &Matrix<T>| loss_at(&ctx, site, v);
            match directions.as_mut() {
                None => Probe {
                    hand_tape,
                    by_hand: by_hand.as_slice().to_vec(),
                    by_tape: by_tape.as_slice().to_vec(),
                    fd: fd_gradient(point, eps, loss).as_slice().to_vec(),
                    coarse: Some(fd_gradient(point, eps + eps, loss).as_slice().to_vec()),
                },
                Some(stream) => {
                    let v = random_direction(point.rows(), point.cols(), stream);
                    let along = |g: &Matrix<T>| {
                        vec![g.dot(&v).expect("invariant: v has the gradient's shape")]
                    };
                    Probe {
                        hand_tape,
                        by_hand: along(by_hand),
                        by_tape: along(by_tape),
                        fd: vec![fd_directional(point, &v, eps, loss)],
                        coarse: noise.then(|| vec![fd_directional(point, &v, eps + eps, loss)]),
                    }
                }
            }
        };
    let rnn = &case.rnn;
    let mut step_probes = Vec::with_capacity(case.x.len());
    for t in 1..=case.x.len() {
        if !chosen[t - 1] {
            step_probes.push(Vec::new());
            continue;
        }
        let row: Vec<(Quantity, Probe<T>)> = Quantity::ALL
            .iter()
            .map(|&q| {
                let (site, point) = match q {
                    Quantity::Dh => (Site::H(t), fwd.h(t)),
                    Quantity::Da => (Site::A(t), fwd.a(t)),
                    Quantity::Dx => (Site::X(t), &case.x[t - 1]),
                    Quantity::DwX => (Site::WxAt(t), &rnn.w_x),
                    Quantity::DwH => (Site::WhAt(t), &rnn.w_h),
                    Quantity::Db => (Site::BAt(t), &rnn.b),
                };
                let (by_hand, by_tape) = (q.of(hand.step(t)), q.of(tape.step(t)));
                let p = probe(site, point, by_hand, by_tape, noise_at(t));
                (q, p)
            })
            .collect();
        step_probes.push(row);
    }
    let head_params = match &case.head {
        Head::SoftmaxCe { w_out, b_out, .. } => vec![(Total::WOut, w_out), (Total::BOut, b_out)],
        _ => Vec::new(),
    };
    let shared = [
        (Total::WX, &rnn.w_x),
        (Total::WH, &rnn.w_h),
        (Total::B, &rnn.b),
        (Total::H0, &case.h0),
    ];
    let mut total_probes = Vec::new();
    for (total, point) in shared.into_iter().chain(head_params) {
        let Some(by_tape) = total.of(&tape) else {
            continue;
        };
        // Gradients that lack the head's parameters cannot pass a check of a case that has them.
        let missing = Matrix::filled(by_tape.rows(), by_tape.cols(), T::nan());
        let by_hand = total.of(hand).unwrap_or(&missing);
        let p = probe(Site::Total(total), point, by_hand, by_tape, true);
        total_probes.push((total, p));
    }

    // The floor, from the spread of all estimates.
    let spread = step_probes
        .iter()
        .flatten()
        .map(|(_, p)| p)
        .chain(total_probes.iter().map(|(_, p)| p))
        .filter_map(|p| p.coarse.as_ref().map(|coarse| abs_error_of(&p.fd, coarse)))
        .filter(|s| s.is_finite())
        .fold(0.0, f64::max);
    let floor = resolution(tape.loss, eps).max(2.0 * spread);

    // Pass 2: the verdicts.
    let judge = |p: &Probe<T>| Triple {
        hand_tape: p.hand_tape,
        hand_fd: Comparison::of(&p.by_hand, &p.fd, tolerances.fd, floor),
        tape_fd: Comparison::of(&p.by_tape, &p.fd, tolerances.fd, floor),
    };
    Ok(Report {
        mode,
        eps: eps.as_f64(),
        loss: tape.loss.as_f64(),
        resolution: floor,
        tolerances,
        steps: step_probes
            .iter()
            .map(|row| row.iter().map(|(q, p)| (*q, judge(p))).collect())
            .collect(),
        totals: total_probes.iter().map(|(t, p)| (*t, judge(p))).collect(),
        first_non_finite: first_non_finite(&fwd, tape.loss, &[("hand", hand), ("tape", &tape)]),
    })
}

/// The check of [`check_gradients`] on the totals only (`dW_x`, `dW_h`, `db`, `∂L/∂h_0` and
/// the head's parameters): each costs a few whole sequences per finite difference, so this is
/// the cheapest check of a long sequence, though it cannot say at which step an error enters.
pub fn check_totals<T: Scalar>(case: &Case<T>, hand: &Gradients<T>, mode: Mode) -> Result<Report> {
    check_steps(case, hand, mode, &[])
}

/// Where a computation first produced NaN or infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonFiniteAt {
    /// The step, `1..=T`; 0 for `∂L/∂h_0` and for the totals, which belong to no one step.
    pub t: usize,
    /// What went non-finite: `a` or `h` (the forward pass, `a_t`, `h_t`), `loss`, a per-step
    /// gradient (`dh`, `da`, `dx`, `dw_x`, `dw_h`, `db`) or a total (`w_x`, …, `h0`).
    pub quantity: &'static str,
    /// Which computation: `forward`, or the name given to a set of gradients (`hand`, `tape`).
    pub source: &'static str,
}

impl fmt::Display for NonFiniteAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            t,
            quantity,
            source,
        } = *self;
        match (source, quantity) {
            ("forward", "loss") => write!(f, "the loss L is NaN or infinite"),
            ("forward", _) => write!(
                f,
                "{quantity}_{t} in the forward pass is NaN or infinite (the first step to go \
                 non-finite)"
            ),
            (_, _) if t == 0 => write!(f, "the {source} gradient {quantity} is NaN or infinite"),
            (_, _) => write!(
                f,
                "the {source} gradient {quantity} at step t = {t} is NaN or infinite (the first, \
                 walking back from t = T)"
            ),
        }
    }
}

/// The first NaN or infinity in a forward pass, its loss, and sets of gradients of it, in the
/// order they are computed: `a_t` then `h_t` for `t = 1..=T`; the loss; then the gradients
/// from `t = T` down to 1, within a step each set in turn in the order of [`Quantity::ALL`];
/// then each set's totals. `grads` pairs each set with a name for the report (`"tape"`).
///
/// One pass over everything computed, linear in `T`: the way to learn *where* a long
/// sequence overflowed, which a comparison that reads `inf` as a failure does not say.
pub fn first_non_finite<T: Scalar>(
    fwd: &Forward<T>,
    loss: T,
    grads: &[(&'static str, &Gradients<T>)],
) -> Option<NonFiniteAt> {
    let bad = |m: &Matrix<T>| m.first_non_finite().is_some();
    let at = |t, quantity, source| {
        Some(NonFiniteAt {
            t,
            quantity,
            source,
        })
    };
    for t in 1..=fwd.steps() {
        if bad(fwd.a(t)) {
            return at(t, "a", "forward");
        }
        if bad(fwd.h(t)) {
            return at(t, "h", "forward");
        }
    }
    if !loss.is_finite() {
        return at(fwd.steps(), "loss", "forward");
    }
    for t in (1..=fwd.steps()).rev() {
        for &(source, g) in grads {
            if let Some(q) = Quantity::ALL.into_iter().find(|q| bad(q.of(g.step(t)))) {
                return at(t, q.name(), source);
            }
        }
    }
    for &(source, g) in grads {
        let totals = [
            Total::H0,
            Total::WX,
            Total::WH,
            Total::B,
            Total::WOut,
            Total::BOut,
        ];
        for total in totals {
            if total.of(g).is_some_and(bad) {
                return at(0, total.name(), source);
            }
        }
    }
    None
}

/// Every gradient of `case` by exhaustive central differences alone, each per-step quantity
/// perturbed where it lives: the third method, usable without the other two.
pub fn fd_gradients<T: Scalar>(case: &Case<T>) -> Result<Gradients<T>> {
    let fwd = case.forward()?;
    let eps = default_step::<T>();
    let ctx = Context::new(case, &fwd);
    let fd = |site: Site, point: &Matrix<T>| fd_gradient(point, eps, |v| loss_at(&ctx, site, v));
    let rnn = &case.rnn;
    let steps = (1..=case.x.len())
        .map(|t| StepGrads {
            dh: fd(Site::H(t), fwd.h(t)),
            da: fd(Site::A(t), fwd.a(t)),
            dx: fd(Site::X(t), &case.x[t - 1]),
            dw_x: fd(Site::WxAt(t), &rnn.w_x),
            dw_h: fd(Site::WhAt(t), &rnn.w_h),
            db: fd(Site::BAt(t), &rnn.b),
        })
        .collect();
    let head = match &case.head {
        Head::SoftmaxCe { w_out, b_out, .. } => Some((
            fd(Site::Total(Total::WOut), w_out),
            fd(Site::Total(Total::BOut), b_out),
        )),
        _ => None,
    };
    Ok(Gradients {
        loss: case.head.loss(fwd.states())?,
        steps,
        dh0: fd(Site::Total(Total::H0), &case.h0),
        w_x: fd(Site::Total(Total::WX), &rnn.w_x),
        w_h: fd(Site::Total(Total::WH), &rnn.w_h),
        b: fd(Site::Total(Total::B), &rnn.b),
        head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_is_scale_free_and_never_passes_nan() {
        let a = Matrix::row_vector(&[1.0, -2.0]);
        let b = Matrix::row_vector(&[1.0, -2.002]);
        assert!((relative_error(&a, &b) - 0.002 / 2.002).abs() < 1e-15);
        let tiny = 2f64.powi(-40);
        assert_eq!(
            relative_error(&a.scale(tiny), &b.scale(tiny)),
            relative_error(&a, &b)
        );
        assert_eq!(
            relative_error(&Matrix::<f64>::zeros(1, 2), &Matrix::zeros(1, 2)),
            0.0
        );
        let nan = Matrix::row_vector(&[f64::NAN, -2.0]);
        assert_eq!(relative_error(&nan, &nan), f64::INFINITY);
        assert_eq!(
            Verdict::decide(relative_error(&nan, &nan), 0.0, 1.0, 1.0),
            Verdict::Fail
        );
    }

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::decide(1e-9, 1e-9, 1e-6, 1e-10), Verdict::Ok);
        assert_eq!(
            Verdict::decide(1e-3, 1e-11, 1e-6, 1e-10),
            Verdict::BelowResolution
        );
        assert_eq!(Verdict::decide(1e-3, 1e-9, 1e-6, 1e-10), Verdict::Fail);
        assert_eq!(Verdict::decide(f64::NAN, 0.0, 1e-6, 1e-10), Verdict::Fail);
    }

    #[test]
    fn central_differences_of_a_cubic() {
        // f(X) = Σ x³, ∇f = 3x².
        let x = Matrix::from_rows(&[[0.5, -1.0], [2.0, 0.1]]).unwrap();
        let g = fd_gradient(&x, default_step(), |x| {
            x.as_slice().iter().map(|v| v * v * v).sum()
        });
        let exact = x.map(|v| 3.0 * v * v);
        assert!(relative_error(&g, &exact) < 1e-9, "{g} vs {exact}");
        let v: Matrix<f64> = random_direction(2, 2, &mut rng(7));
        assert!((v.norm() - 1.0).abs() < 1e-15);
        let d = fd_directional(&x, &v, default_step(), |x| {
            x.as_slice().iter().map(|v| v * v * v).sum()
        });
        assert!((d - exact.dot(&v).unwrap()).abs() < 1e-9);
    }
}
