//! Finite differences on any function, and the one way tapegrad compares two gradients.
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
//! Every comparison uses [`relative_error`] and ends in a [`Verdict`]. Nothing here knows a
//! cell or a sequence: [`crate::check`] applies these tools at every step of one.

use crate::gradients::Gradients;
use crate::init;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
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

/// The largest [`relative_error`] between two complete sets of gradients of one case (every
/// per-step quantity, every total), and where it is: `dw_h at t = 3`, or a total's key. How
/// tests and examples say that two methods agree everywhere.
pub fn worst_relative_error<T: Scalar>(a: &Gradients<T>, b: &Gradients<T>) -> (f64, String) {
    let mut worst = (0.0, String::new());
    for t in 1..=a.steps.len() {
        for (name, m) in a.step(t) {
            let err = b
                .get(t, name)
                .map_or(f64::INFINITY, |o| relative_error(m, o));
            if err > worst.0 {
                worst = (err, format!("{name} at t = {t}"));
            }
        }
    }
    for (key, m) in &a.totals {
        let err = b.total(key).map_or(f64::INFINITY, |o| relative_error(m, o));
        if err > worst.0 {
            worst = (err, (*key).to_string());
        }
    }
    worst
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

/// The round-off a central difference of a loss near `f_value` is assumed to carry at least:
/// `δ = 8·ε_mach·max(|f|, 1)`, sixteen roundings of the loss between the two evaluations (so
/// the difference is noisy by up to `δ/h`; [`resolution`] is `δ/ε`).
///
/// A loss may round more than that (one summed over 10 000 steps rounds every partial sum
/// anew), so each [`Sweep`] raises `δ` to what its own evaluations show. It may also round
/// less (a vanished gradient changes the later steps below their last bit, and they round
/// identically), but never measurably so: where a perturbation moves a saturated unit by a
/// few dozen ulps, its rounding is a staircase that looks alike at `h` and `4h`, and the
/// spreads cannot see it. So `δ` is never lowered below this floor.
pub fn roundoff<T: Scalar>(f_value: T) -> f64 {
    NOISE_ULPS / 2.0 * T::epsilon().as_f64() * f_value.as_f64().abs().max(1.0)
}

/// The steps [`derivative`] may take: `h_k = first·4^k`, from the largest at most `largest` down
/// to the smallest at least `smallest`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ladder {
    /// The first step tried, `h_0` (with `4·h_0`): [`default_step`].
    pub first: f64,
    /// No step larger than this (0.5: a slope small against the function's value needs steps
    /// this large to rise above its rounding, and the order check refuses the steps at which
    /// a difference measures the function's shape more than its slope).
    pub largest: f64,
    /// No step smaller than this (`64·ε_mach`: below it the perturbation itself is rounded).
    pub smallest: f64,
    /// The number type the function is evaluated in ([`Scalar::NAME`]).
    pub number: &'static str,
}

impl Ladder {
    /// `first = ∛ε_mach`, `largest = 0.5`, `smallest = 64·ε_mach`: rungs from 6.1e-6·4^8 ≈ 0.4
    /// down to 6.1e-6·4^(−14) ≈ 2.3e-14 in f64; from 4.9e-3·4^3 ≈ 0.31 down to 4.9e-3·4^(−4) ≈
    /// 1.9e-5 in f32.
    pub fn for_type<T: Scalar>() -> Ladder {
        Ladder {
            first: default_step::<T>().as_f64(),
            largest: 0.5,
            smallest: 64.0 * T::epsilon().as_f64(),
            number: T::NAME,
        }
    }

    /// The step of rung `k`.
    fn step(&self, k: i32) -> f64 {
        self.first * 4f64.powi(k)
    }

    /// The narrowest bound any estimate on this ladder can reach for a function that rounds
    /// by `noise`: its round-off at the largest step, `(65/60)·noise/h_max`.
    pub fn finest_bound(&self, noise: f64) -> f64 {
        RICHARDSON_NOISE * noise / self.top()
    }

    /// The largest step on the ladder.
    fn top(&self) -> f64 {
        let mut k = 0;
        while self.has(k + 1) {
            k += 1;
        }
        self.step(k)
    }

    /// Whether rung `k` is on the ladder.
    fn has(&self, k: i32) -> bool {
        let h = self.step(k);
        h <= self.largest && h >= self.smallest
    }
}

/// What bounds an [`Estimate`]'s error most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The function's rounding, divided by the step: the derivative is small against the
    /// function's value (a gradient that vanished), or the steps could not grow.
    RoundOff,
    /// The differences at successive steps had not settled: the function curves too much at
    /// every step small enough to be above its rounding.
    Truncation,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::RoundOff => "round-off",
            Limit::Truncation => "truncation",
        })
    }
}

/// A finite-difference estimate of one derivative and a bound on its error, both from the
/// estimate's own evaluations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The Richardson extrapolation of the two central differences it came from.
    pub value: f64,
    /// The bound on `|value − derivative|`: the spread of the differences (or of two
    /// extrapolations that passed the order check) plus the round-off of the finer one.
    pub error: f64,
    /// The finer of the two steps.
    pub step: f64,
    /// How many times the function was evaluated.
    pub evaluations: usize,
    /// Which part of `error` is larger.
    pub limit: Limit,
    /// Whether the bound can be relied on to exclude a gradient: its spreads passed the order
    /// check, the noise was measured by two spreads beneath it, and the estimate beneath agrees
    /// with it within both bounds. A spread of two differences alone bounds the truncation only
    /// once the differences settle into `c·h²`; before that (a step at which the function is
    /// far from its Taylor polynomial, or saturates) the errors at `4h` and `h` may both be
    /// large and alike.
    pub trusted: bool,
    /// The number type the function was evaluated in ([`Scalar::NAME`]): the case's own, or
    /// [`crate::double_double::DoubleDouble`] where the case's rounding hid the change.
    pub number: &'static str,
}

/// How much Richardson's `(16·D(h) − D(4h))/15` amplifies the round-off `δ/h` of `D(h)`:
/// `(16 + 1/4)/15`.
const RICHARDSON_NOISE: f64 = 65.0 / 60.0;

/// How many times the floor `δ/h` a spread of noise may plausibly reach (a loss summed over
/// 10 000 steps reaches about 60): beyond it, a spread is taken for truncation.
const NOISE_PLAUSIBLE: f64 = 1e4;

/// How many times its largest sample the noise is taken to be (see [`Sweep`]).
const NOISE_MARGIN: f64 = 8.0;

/// How many spreads beneath a bound must have measured the noise before the bound is trusted
/// to exclude a gradient ([`Estimate::trusted`]).
const NOISE_SAMPLES: usize = 2;

/// How much noise a difference of two central differences at `4h` and `h` can hold: `δ/4h + δ/h`.
const SPREAD_NOISE: f64 = 1.25;

/// The derivative of a function of one step, `d(h) = (f(x + h) − f(x − h)) / 2h` given as
/// `central`, by central differences that choose their own step, with a bound on the error:
/// the walk stops once the bound is within `tol` of the estimate (see [`Sweep`]).
pub fn derivative(
    ladder: Ladder,
    noise: f64,
    tol: f64,
    mut central: impl FnMut(f64) -> Option<f64>,
) -> Estimate {
    let mut sweep = Sweep::new(ladder, noise);
    let first = sweep.refine(f64::INFINITY, &mut central);
    sweep.refine(tol * first.value.abs(), &mut central)
}

/// Central differences of one function on the ladder of steps `h_k = h_0·4^k` ([`Ladder`]),
/// and the best estimate they allow, with its error bound.
///
/// Central differences err in two ways. Truncation, `c·h²`: from one rung to the next down it
/// shrinks 16-fold. Round-off, `δ/h` with `δ` the rounding of `f`: it grows 4-fold. From two
/// rungs `4h` and `h`:
///
/// ```text
/// R = (16·d(h) − d(4h)) / 15                  Richardson: the h² terms cancel
/// error ≤ |d(4h) − d(h)| + (65/60)·δ/h         the spread bounds what is left of truncation
/// ```
///
/// and with a third rung, when the spreads shrink as they should (a ratio between 4 and 64
/// where 16 is expected: the order check), the spread of two extrapolations replaces the
/// spread of the differences, which is much smaller.
///
/// `δ` is at least `noise` ([`roundoff`]) and at least what the sweep's own finer rungs show: a
/// spread at steps `4h_j, h_j` below the chosen one holds noise, and truncation smaller than the
/// chosen one's unless it is far above the floor (more than `NOISE_PLAUSIBLE` times `noise`: a
/// step still too large to have settled, whose spread measures nothing). A spread that passed
/// the order check is mostly truncation and bounds the noise from above,
/// `|d(4h_j) − d(h_j)|·h_j/1.25`; any other is one random sample of the noise, and counts eight
/// times over (the margin two samples of a random error need, as a t-distribution with one
/// degree of freedom asks about 12.7 for 95% confidence from one). With two such spreads beneath
/// it, the floor drops from sixteen roundings of the loss to four, and only then is the bound
/// trusted to exclude a gradient ([`Estimate::trusted`]): one spread may be small by chance.
/// Nothing is pooled with other sweeps.
///
/// Cheap in the common case: the first two rungs (four evaluations) are enough when their
/// bound is within the target, and they are all a target below the round-off floor at the
/// largest step gets (nothing can reach it). Otherwise [`Sweep::refine`] walks up the ladder
/// when round-off dominates and down when truncation does, a rung at a time, until the bound is
/// within the target, three rungs bring no improvement (a rung's bound improves only once the
/// rung above it settles it), or the ladder ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    ladder: Ladder,
    noise: f64,
    /// `(k, d(h_k))`, sorted by `k`, consecutive.
    rungs: Vec<(i32, f64)>,
    evaluations: usize,
    /// Whether the walk has already ended: refining again changes nothing.
    done: bool,
}

impl Sweep {
    /// A sweep with no rungs yet, on `ladder`, assuming the function rounds by at least `noise`
    /// (`δ`, [`roundoff`]).
    pub fn new(ladder: Ladder, noise: f64) -> Sweep {
        Sweep {
            ladder,
            noise,
            rungs: Vec::new(),
            evaluations: 0,
            done: false,
        }
    }

    /// Takes rung `k` with `central`, which returns `None` for a step it cannot take (one
    /// that rounds away): false when the rung is off the ladder or cannot be taken.
    fn take(&mut self, k: i32, central: &mut impl FnMut(f64) -> Option<f64>) -> bool {
        if !self.ladder.has(k) || self.rungs.iter().any(|&(j, _)| j == k) {
            return false;
        }
        self.evaluations += 2;
        let Some(d) = central(self.ladder.step(k)) else {
            return false;
        };
        let at = self.rungs.partition_point(|&(j, _)| j < k);
        self.rungs.insert(at, (k, d));
        true
    }

    /// The first two rungs if not yet taken, then the walk until the error bound is at most
    /// `target`; the best estimate.
    pub fn refine(
        &mut self,
        target: f64,
        central: &mut impl FnMut(f64) -> Option<f64>,
    ) -> Estimate {
        if self.rungs.is_empty() && !(self.take(1, central) && self.take(0, central)) {
            self.done = true;
        }
        let mut best = self.estimate();
        // The narrowest bound any rung could give is the round-off floor at the largest step:
        // a target below it is out of reach (a gradient that vanished below what the loss's
        // rounding lets any step see), and no walk is taken for it.
        let reachable = target >= self.ladder.finest_bound(self.noise);
        if self.done || best.error <= target || !best.error.is_finite() || !reachable {
            return best;
        }
        let (mut k, dir) = if self.noisy(central) {
            (self.rungs[self.rungs.len() - 1].0 + 1, 1)
        } else {
            (self.rungs[0].0 - 1, -1)
        };
        // Three rungs without improvement end the walk, once a bound can be trusted: before the
        // differences settle, the next rung down may be the first that does.
        let mut stale = 0;
        while stale < 3 && self.take(k, central) {
            let next = self.estimate();
            if (next.trusted, -next.error) > (best.trusted, -best.error) {
                best = next;
                stale = 0;
            } else if best.trusted {
                stale += 1;
            }
            if best.error <= target {
                break;
            }
            k += dir;
        }
        self.done = best.error > target;
        Estimate {
            evaluations: self.evaluations,
            ..best
        }
    }

    /// Takes coarser rungs, then finer ones, until the best bound is trusted
    /// ([`Estimate::trusted`]) or the ladder ends both ways: how a quick estimate that
    /// disagrees with a gradient is followed up before its disagreement counts. Coarser rungs
    /// first, since that is where the differences settle into `c·h²` (the order check a trusted
    /// bound needs); finer ones add samples of the noise.
    pub fn follow_up(&mut self, central: &mut impl FnMut(f64) -> Option<f64>) -> Estimate {
        let mut best = self.estimate();
        while !best.trusted
            && let Some(&(top, _)) = self.rungs.last()
            && self.take(top + 1, central)
        {
            best = self.estimate();
        }
        while !best.trusted
            && let Some(&(bottom, _)) = self.rungs.first()
            && self.take(bottom - 1, central)
        {
            best = self.estimate();
        }
        Estimate {
            evaluations: self.evaluations,
            ..best
        }
    }

    /// Which way to walk from the first two rungs: up (to larger steps) when their spread
    /// looks like noise, down when it looks like truncation. Takes the rung above them to
    /// decide. Truncation if the two spreads shrink 16-fold as they should (the order check);
    /// otherwise noise if the first spread is within `NOISE_PLAUSIBLE` times the floor `δ/h`
    /// (noise grows as steps shrink, so a spread far above the floor is a step too large:
    /// a function that saturates between `h` and `4h` also has spreads that shrink upward).
    fn noisy(&mut self, central: &mut impl FnMut(f64) -> Option<f64>) -> bool {
        let first =
            |rungs: &[(i32, f64)], k: i32| rungs.iter().find(|&&(j, _)| j == k).map(|r| r.1);
        let (Some(d1), Some(d0)) = (first(&self.rungs, 1), first(&self.rungs, 0)) else {
            return false;
        };
        let spread = d1 - d0;
        if self.take(2, central)
            && let Some(d2) = first(&self.rungs, 2)
            && (4.0..=64.0).contains(&((d2 - d1) / spread))
        {
            return false;
        }
        spread.abs() <= NOISE_PLAUSIBLE * self.noise / self.ladder.first
    }

    /// The best estimate of the rungs taken, by the bound above.
    pub fn estimate(&self) -> Estimate {
        let none = Estimate {
            value: f64::NAN,
            error: f64::INFINITY,
            step: self.ladder.first,
            evaluations: self.evaluations,
            limit: Limit::RoundOff,
            trusted: false,
            number: self.ladder.number,
        };
        let rungs = &self.rungs;
        let mut best = none;
        // Round-off measured below rung i, from the spreads of the `samples` pairs beneath it.
        let (mut measured, mut samples) = (0.0f64, 0);
        // The candidate of the pair beneath: its value and bound.
        let mut beneath: Option<(f64, f64)> = None;
        for i in 0..rungs.len().saturating_sub(1) {
            // Once measured twice, the noise may be below the assumed sixteen roundings, down
            // to four.
            let floor = if samples >= NOISE_SAMPLES {
                self.noise / 4.0
            } else {
                self.noise
            };
            let seen = measured.max(floor);
            let ((k, fine), (_, coarse)) = (rungs[i], rungs[i + 1]);
            let h = self.ladder.step(k);
            let spread = coarse - fine;
            let value = fine - spread / 15.0;
            // The order check, with the next pair up; and, when that pair passes it too, the
            // same check one level up: extrapolations err as h⁴, so their spreads shrink about
            // 256-fold, and at least 64-fold bounds what is left of the finer one by its spread
            // over 63.
            let d = |j: usize| rungs[j + 1].1 - rungs[j].1;
            // (A function flat to the last bit, every difference equal, has settled too.)
            let order = |j: usize| {
                j + 2 < rungs.len()
                    && ((4.0..=64.0).contains(&(d(j + 1) / d(j))) || d(j) == 0.0 && d(j + 1) == 0.0)
            };
            let extrapolated = |j: usize| rungs[j].1 - d(j) / 15.0;
            let (truncation, settled) = if !order(i) {
                (spread.abs(), false)
            } else {
                let gap = value - extrapolated(i + 1);
                let shrinks = order(i + 1)
                    && (64.0..=4096.0)
                        .contains(&((extrapolated(i + 1) - extrapolated(i + 2)) / gap));
                (if shrinks { gap.abs() / 63.0 } else { gap.abs() }, true)
            };
            let roundoff = RICHARDSON_NOISE * seen / h;
            let error = truncation + roundoff;
            // Trusted only where the differences have settled into `c·h²` (a spread that does
            // not shrink may be a plateau: at steps so large that the function saturates,
            // `d(4h)` and `d(h)` agree and are both wrong); once the noise has been measured
            // twice beneath it (one sample may be small by chance); and when the estimate
            // beneath agrees with this one within both bounds (where the loss's rounding is
            // chaotic, an exploding recurrence in float32, neighbours disagree by more).
            let consistent =
                beneath.is_some_and(|(v, e): (f64, f64)| (value - v).abs() <= error + e);
            let trusted = settled && samples >= NOISE_SAMPLES && consistent;
            if error.is_finite() {
                beneath = Some((value, error));
            }
            // A trusted bound over any other; then the narrower.
            if error.is_finite() && (trusted, -error) > (best.trusted, -best.error) {
                best = Estimate {
                    value,
                    error,
                    step: h,
                    evaluations: self.evaluations,
                    limit: if roundoff >= truncation {
                        Limit::RoundOff
                    } else {
                        Limit::Truncation
                    },
                    trusted,
                    number: self.ladder.number,
                };
            }
            // A settled spread is mostly truncation, and bounds the noise from above; any other
            // is one sample of the noise, and counts with the margin. A spread far above the
            // floor is neither: it is truncation of a step too large (at smaller steps than
            // the one it would judge, where a function that saturates between them errs more).
            let sample = spread.abs() * h / SPREAD_NOISE;
            if sample <= NOISE_PLAUSIBLE * self.noise {
                let margin = if settled { 1.0 } else { NOISE_MARGIN };
                measured = measured.max(margin * sample);
                samples += 1;
            }
        }
        best
    }
}

/// [`derivative`] for every entry of `x`, `∂f/∂x_i` (row-major), the step realized exactly
/// (the difference `(x + h) − x` as rounded, not `h`, divides). Every entry first takes the
/// first two rungs; then each walks until its bound is within `tol` of the largest estimate of
/// all: the relative error of a whole array is measured against its largest entry
/// ([`relative_error`]), so a small entry need not be known to `tol` of itself.
///
/// `claims` are the gradients the estimates will judge (none, to estimate only). An entry whose
/// bound excludes a claim before it can be trusted is followed up ([`Sweep::follow_up`]): the
/// claim decides how hard the estimate tries, never what it finds.
pub fn adaptive_gradient<T: Scalar>(
    x: &Matrix<T>,
    noise: f64,
    tol: f64,
    claims: &[&[T]],
    mut f: impl FnMut(&Matrix<T>) -> T,
) -> Vec<Estimate> {
    adaptive_gradient_told(x, noise, tol, claims, |_, v| f(v))
}

/// [`adaptive_gradient`] of a function told which entry of `x` each point moves: `f(i, v)` is
/// called with `v` equal to `x` but in entry `i`. The check uses it to rerun only the batch
/// row that entry `i` is in, where the function is a sum over the rows.
pub fn adaptive_gradient_told<T: Scalar>(
    x: &Matrix<T>,
    noise: f64,
    tol: f64,
    claims: &[&[T]],
    f: impl FnMut(usize, &Matrix<T>) -> T,
) -> Vec<Estimate> {
    let every: Vec<usize> = (0..x.len()).collect();
    let target = |first: &[Estimate]| tol * first.iter().fold(0.0f64, |m, e| m.max(e.value.abs()));
    walk_entries(x, &every, noise, target, claims, f)
}

/// [`adaptive_gradient`] again for the entries `which` of `x` alone, in their order, each
/// walking until its bound is within `tol` of the largest estimate (theirs, or `size`, that of
/// the other entries): how the estimates that the loss's rounding left short are made again in
/// a more precise number type, `x` and `f` given in it, against the same claims.
pub fn adaptive_entries<T: Scalar, C: Scalar>(
    x: &Matrix<T>,
    which: &[usize],
    noise: f64,
    tol: f64,
    size: f64,
    claims: &[&[C]],
    mut f: impl FnMut(&Matrix<T>) -> T,
) -> Vec<Estimate> {
    let target = |first: &[Estimate]| tol * first.iter().fold(size, |m, e| m.max(e.value.abs()));
    walk_entries(x, which, noise, target, claims, |_, v| f(v))
}

/// The entries of `estimates` that did not settle their question: a bound wider than `tol` of
/// the largest estimate (what [`Comparison::of_estimates`] needs for `ok`), or one that
/// excludes a claim without being trusted to (what it needs for `FAIL`).
pub fn undecided<C: Scalar>(estimates: &[Estimate], tol: f64, claims: &[&[C]]) -> Vec<usize> {
    let size = estimates.iter().fold(0.0f64, |m, e| m.max(e.value.abs()));
    (0..estimates.len())
        .filter(|&i| {
            let e = estimates[i];
            let claimed = claims.iter().filter_map(|c| c.get(i)).map(|g| g.as_f64());
            // (A NaN bound is undecided too.)
            e.error.is_nan() || e.error > tol * size || e.doubts(claimed)
        })
        .collect()
}

/// The walk of [`adaptive_gradient`] for the entries `which`: the first two rungs of each,
/// then each walks to `target(first estimates)`, and a doubt is followed up.
fn walk_entries<T: Scalar, C: Scalar>(
    x: &Matrix<T>,
    which: &[usize],
    noise: f64,
    target: impl FnOnce(&[Estimate]) -> f64,
    claims: &[&[C]],
    mut f: impl FnMut(usize, &Matrix<T>) -> T,
) -> Vec<Estimate> {
    let ladder = Ladder::for_type::<T>();
    let mut probe = x.clone();
    let mut central = |i: usize, h: f64| {
        let (original, h) = (probe.as_slice()[i], T::from_f64(h));
        probe.as_mut_slice()[i] = original + h;
        let up = probe.as_slice()[i] - original;
        let plus = f(i, &probe);
        probe.as_mut_slice()[i] = original - h;
        let down = original - probe.as_slice()[i];
        let minus = f(i, &probe);
        probe.as_mut_slice()[i] = original;
        // The difference in `T`: in a type more precise than f64, its digits would be lost
        // by rounding each side to f64 first.
        let step = (up + down).as_f64();
        (step > 0.0).then(|| (plus - minus).as_f64() / step)
    };
    let mut sweeps = vec![Sweep::new(ladder, noise); which.len()];
    let first: Vec<Estimate> = which
        .iter()
        .zip(&mut sweeps)
        .map(|(&i, sweep)| sweep.refine(f64::INFINITY, &mut |h| central(i, h)))
        .collect();
    let target = target(&first);
    which
        .iter()
        .zip(&mut sweeps)
        .map(|(&i, sweep)| {
            let e = sweep.refine(target, &mut |h| central(i, h));
            let claimed = claims.iter().filter_map(|c| c.get(i)).map(|g| g.as_f64());
            if e.doubts(claimed) {
                sweep.follow_up(&mut |h| central(i, h))
            } else {
                e
            }
        })
        .collect()
}

impl Estimate {
    /// Whether the bound excludes one of `claims` without being trusted to: a doubt to follow
    /// up.
    fn doubts(&self, mut claims: impl Iterator<Item = f64>) -> bool {
        !self.trusted && claims.any(|g| (g - self.value).abs() > self.error)
    }
}

/// [`derivative`] along the direction `v`: `⟨∇f(x), v⟩`. The perturbed points `x ± h·v` are
/// rounded, which moves the estimate by up to `ε_mach·Σ_i |x_i|·|g_i| / h` for a gradient `g`;
/// `magnitude` is that `Σ_i |x_i|·|g_i|`, added to the noise. `claims` are the directional
/// derivatives it will judge, followed up as in [`adaptive_gradient`].
pub fn adaptive_directional<T: Scalar>(
    x: &Matrix<T>,
    v: &Matrix<T>,
    noise: f64,
    magnitude: f64,
    tol: f64,
    claims: &[T],
    mut f: impl FnMut(&Matrix<T>) -> T,
) -> Estimate {
    let ladder = Ladder::for_type::<T>();
    let noise = noise + T::epsilon().as_f64() * magnitude;
    let mut central = |h: f64| {
        let shifted = |sign: f64| {
            let s = T::from_f64(sign * h);
            x.zip_map(v, "adaptive_directional", |x, v| x + s * v)
                .expect("adaptive_directional: the direction must have the shape of the point")
        };
        // The difference in `T`, as in `adaptive_gradient`.
        let (plus, minus) = (f(&shifted(1.0)), f(&shifted(-1.0)));
        Some((plus - minus).as_f64() / (2.0 * h))
    };
    let mut sweep = Sweep::new(ladder, noise);
    let first = sweep.refine(f64::INFINITY, &mut central);
    let e = sweep.refine(tol * first.value.abs(), &mut central);
    if e.doubts(claims.iter().map(|g| g.as_f64())) {
        sweep.follow_up(&mut central)
    } else {
        e
    }
}

/// The outcome of one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Agreement within the tolerance.
    Ok,
    /// The two differ by more than the tolerance and by more than finite differences can
    /// explain, or one of them is NaN or infinite.
    Fail,
    /// Finite differences can neither confirm nor refute the gradient: their error bound
    /// contains it but is wider than the tolerance (or, for a difference at one fixed step,
    /// they differ from it by no more than their noise floor, [`resolution`]).
    Inconclusive,
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
            Verdict::Inconclusive
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
            Verdict::Inconclusive => "inconclusive",
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
    let v: Matrix<T> = init::normal(rng, rows, cols, 1.0);
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

    /// Compares two exact methods (hand BPTT, the tape, forward mode) at tolerance `tol`,
    /// allowing each entry the round-off of its terms: `|a_i − b_i| ≤ ROUNDOFF · ε_mach ·
    /// scale_i`, where `scale_i` is the magnitude of everything summed to make the entry
    /// ([`crate::bound`]). Where the terms cancel (a gradient that is exactly zero, `1 − h²`
    /// at a saturated `h`), the relative error of two correct results can be 1; their
    /// difference is still within the round-off of the terms, and that is `ok`. A NaN or an
    /// infinity never passes.
    pub fn of_exact<T: Scalar>(a: &[T], b: &[T], tol: f64, scale: &[T]) -> Comparison {
        let mut c = Comparison::of(a, b, tol, 0.0);
        let eps = T::epsilon().as_f64();
        let within_roundoff = a.len() == scale.len()
            && a.iter().zip(b).zip(scale).all(|((&x, &y), &m)| {
                // An infinite scale (its square overflowed) allows nothing.
                let m = m.as_f64();
                m.is_finite() && (x.as_f64() - y.as_f64()).abs() <= ROUNDOFF * eps * m
            });
        if c.verdict == Verdict::Fail && c.rel.is_finite() && c.abs.is_finite() && within_roundoff {
            c.verdict = Verdict::Ok;
        }
        c
    }
}

impl Comparison {
    /// Compares a gradient `g` with finite-difference estimates of it ([`derivative`]), entry by
    /// entry or along one direction: `FAIL` when a trusted estimate's own bound excludes its
    /// entry (`|g_i − fd_i| > 8·error_i`, allowing `g_i` the round-off of its terms, `scale_i`
    /// as in [`Comparison::of_exact`]); `ok` when no bound excludes its entry, `g` agrees with
    /// the estimates to `tol` beyond that round-off (`max_i (|g_i − fd_i| − ROUNDOFF·ε·scale_i)`
    /// over the quantity's size, `max(max_i |g_i|, max_i |fd_i|)`) and every bound is within
    /// `tol` of the quantity, or when gradient and estimates are all exactly zero; `inconclusive` otherwise, and when an estimate could not
    /// be made. A NaN or an infinity in `g` never passes. `rel` and `abs` measure `g` against
    /// the estimates' values as [`Comparison::of`] does.
    pub fn of_estimates<T: Scalar>(g: &[T], fd: &[Estimate], tol: f64, scale: &[T]) -> Comparison {
        let g64: Vec<f64> = g.iter().map(|x| x.as_f64()).collect();
        let values: Vec<f64> = fd.iter().map(|e| e.value).collect();
        let rel = relative_error_of(&g64, &values);
        let abs = abs_error_of(&g64, &values);
        if g.len() != fd.len() {
            let verdict = Verdict::Fail;
            return Comparison { rel, abs, verdict };
        }
        let every = vec![true; g.len()];
        let entries = Entries::of(&g64, fd, scale, &every);
        // An estimate of exactly zero, of a gradient of exactly zero: the loss did not move by
        // one bit at any step tried, and there is nothing smaller to resolve.
        let both_zero = g64.iter().zip(fd).all(|(&x, e)| x == 0.0 && e.value == 0.0);
        let size = entries.size.max(T::min_positive_value().as_f64());
        let verdict = if entries.fail {
            Verdict::Fail
        } else if entries.settled(tol, size) || (both_zero && !entries.unusable) {
            Verdict::Ok
        } else {
            Verdict::Inconclusive
        };
        Comparison { rel, abs, verdict }
    }

    /// [`Comparison::of_estimates`] for a quantity whose entries `checked` were estimated one
    /// by one and the rest, which those estimates could not decide, along one direction `v`
    /// together: `along` estimates `⟨∇, v⟩`, to be compared with `g_v = ⟨g, v⟩`, whose terms'
    /// round-off is `scale_v`. `FAIL` when a checked entry's trusted bound excludes it or the
    /// direction fails; `ok` when the checked entries pass as in `of_estimates` (against the
    /// size of the whole quantity) and the direction is `ok`; `inconclusive` otherwise.
    /// `rel` and `abs` are the larger of the two parts'.
    pub fn of_entries_and_direction<T: Scalar>(
        g: &[T],
        (fd, checked): (&[Estimate], &[bool]),
        scale: &[T],
        (g_v, along, scale_v): (T, Estimate, T),
        tol: f64,
    ) -> Comparison {
        let g64: Vec<f64> = g.iter().map(|x| x.as_f64()).collect();
        let entries = Entries::of(&g64, fd, scale, checked);
        let direction = Comparison::of_estimates(&[g_v], &[along], tol, &[scale_v]);
        let size = entries.size.max(T::min_positive_value().as_f64());
        let verdict = if entries.fail || direction.verdict == Verdict::Fail {
            Verdict::Fail
        } else if entries.settled(tol, size) && direction.verdict == Verdict::Ok {
            Verdict::Ok
        } else {
            Verdict::Inconclusive
        };
        Comparison {
            rel: (entries.difference / size).max(direction.rel),
            abs: entries.difference.max(direction.abs),
            verdict,
        }
    }
}

/// What the estimates of some entries (`mask`) say of a gradient `g`, entry by entry.
struct Entries {
    /// A NaN or an infinity in `g`, or an entry outside its trusted bound.
    fail: bool,
    /// An entry outside its bound, trusted or not: the estimate cannot confirm it.
    doubtful: bool,
    /// An estimate that could not be made (a step that could not be taken, or a NaN loss
    /// beside the point): it says nothing about the gradient.
    unusable: bool,
    /// The widest bound.
    widest: f64,
    /// The largest difference beyond the round-off of the gradient's own terms.
    excess: f64,
    /// The largest difference, `max_i |g_i − fd_i|`.
    difference: f64,
    /// The quantity's size: `max_i |g_i|` over every entry, `max_i |fd_i|` over the masked.
    size: f64,
}

impl Entries {
    fn of<T: Scalar>(g: &[f64], fd: &[Estimate], scale: &[T], mask: &[bool]) -> Entries {
        let eps = T::epsilon().as_f64();
        let mut entries = Entries {
            fail: g.iter().any(|x| !x.is_finite()),
            doubtful: false,
            unusable: false,
            widest: 0.0,
            excess: 0.0,
            difference: 0.0,
            size: largest(g),
        };
        let masked = g.iter().zip(fd).zip(scale).zip(mask).filter(|(_, m)| **m);
        for (((&x, e), &m), _) in masked {
            let difference = (x - e.value).abs();
            let allowed = ROUNDOFF * eps * m.as_f64();
            // Outside the estimate's bound, `EXCLUSION_MARGIN` times over: a bound is an
            // estimate of the error, and where the loss's rounding does not shrink with the
            // step (an exploding recurrence amplifies it alike at every step) it can be short
            // by a factor of two or three. The gradient may be off by the round-off of its own
            // terms (`scale`, as in `of_exact`).
            let outside = difference > EXCLUSION_MARGIN * e.error + allowed;
            entries.fail |= outside && e.trusted;
            entries.doubtful |= outside;
            entries.unusable |= !e.value.is_finite();
            entries.widest = entries.widest.max(e.error);
            // Where the terms cancel (`1 − h²` at a saturated `h`), a correct gradient is
            // itself off from the exact one by more than `tol`, and a precise estimate shows
            // it; what it could not owe to round-off must still be within `tol`.
            entries.excess = entries.excess.max((difference - allowed).max(0.0));
            entries.difference = entries.difference.max(difference);
            entries.size = entries.size.max(e.value.abs());
        }
        entries
    }

    /// Whether the entries confirm the gradient: every bound and every difference beyond
    /// round-off within `tol` of the quantity's `size`, and none outside its bound.
    fn settled(&self, tol: f64, size: f64) -> bool {
        !self.unusable && !self.doubtful && self.widest <= tol * size && self.excess <= tol * size
    }
}

/// `max_i |x_i|` (0 for none).
fn largest(x: &[f64]) -> f64 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// What finite differences could say about one quantity: the widest error bound among its
/// estimates, that bound against the quantity's size (the resolution reached), what limited
/// it, and what it cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evidence {
    /// The widest `error` of the estimates, absolute.
    pub error: f64,
    /// `error` over the quantity's size, `max_i |fd_i|` (or `scale` if larger): the relative
    /// error finite differences can vouch for.
    pub resolution: f64,
    /// What limited the widest bound.
    pub limit: Limit,
    /// The step of the estimate with the widest bound.
    pub step: f64,
    /// Evaluations of the loss, all estimates together.
    pub evaluations: usize,
    /// The number type the widest bound was reached in ([`Estimate::number`]).
    pub number: &'static str,
}

impl Evidence {
    /// Sums up `fd` for a quantity of size at least `size` (the exact gradient's largest
    /// entry, when known).
    pub fn of(fd: &[Estimate], size: f64) -> Evidence {
        let values: Vec<f64> = fd.iter().map(|e| e.value).collect();
        let size = largest(&values).max(size);
        let widest = fd.iter().copied().reduce(|a, b| {
            if b.error > a.error || b.error.is_nan() {
                b
            } else {
                a
            }
        });
        let evaluations = fd.iter().map(|e| e.evaluations).sum();
        match widest {
            Some(w) => Evidence {
                error: w.error,
                resolution: if size > 0.0 {
                    w.error / size
                } else {
                    f64::INFINITY
                },
                limit: w.limit,
                step: w.step,
                evaluations,
                number: w.number,
            },
            None => Evidence {
                error: 0.0,
                resolution: 0.0,
                limit: Limit::RoundOff,
                step: 0.0,
                evaluations,
                number: "none",
            },
        }
    }

    /// Why finite differences said what they said, in words, or `None` when they confirmed
    /// the gradient.
    pub fn reason(&self, verdict: Verdict) -> Option<String> {
        match verdict {
            Verdict::Ok => None,
            Verdict::Fail => Some(format!(
                "the gradient lies outside finite differences' own error bound ({:.1e})",
                self.error
            )),
            Verdict::Inconclusive => Some(format!(
                "{} limits finite differences to {:.1e} of the gradient (step {:.1e}, in {})",
                self.limit, self.resolution, self.step, self.number
            )),
        }
    }
}

/// How many times its own error bound a finite-difference estimate must miss a gradient by to
/// exclude it (see [`Comparison::of_estimates`]).
pub const EXCLUSION_MARGIN: f64 = 8.0;

/// How many `ε_mach` of its terms' magnitude two exact computations of one entry may differ
/// by (see [`Comparison::of_exact`]). A running error bound grows with the length of the
/// longest chain of operations; over the test suite the differences of correct results stay
/// below `0.9·ε_mach` of the magnitude (`1e-7` of it where the terms cancel), and those of the
/// bug zoo's wrong ones reach `1e15`.
pub const ROUNDOFF: f64 = 32.0;

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
            Verdict::Inconclusive
        );
        assert_eq!(Verdict::decide(1e-3, 1e-9, 1e-6, 1e-10), Verdict::Fail);
        assert_eq!(Verdict::decide(f64::NAN, 0.0, 1e-6, 1e-10), Verdict::Fail);
    }

    #[test]
    fn exact_methods_may_differ_by_the_round_off_of_their_terms() {
        // A saturated φ': one method says 0, the other the true 1e-22; the terms were of size 2.
        let zero = Comparison::of_exact(&[0.0], &[1e-22], 1e-12, &[2.0]);
        assert_eq!((zero.rel, zero.verdict), (1.0, Verdict::Ok));
        // Off by more than the round-off: a wrong gradient, however small, fails.
        let wrong = Comparison::of_exact(&[0.0], &[1e-12], 1e-12, &[2.0]);
        assert_eq!(wrong.verdict, Verdict::Fail);
        let nan = Comparison::of_exact(&[f64::NAN], &[f64::NAN], 1e-12, &[f64::INFINITY]);
        assert_eq!(nan.verdict, Verdict::Fail);
    }

    /// Estimates whose true derivatives are known, from the gentle to the steep and the nearly
    /// flat: each bound holds, and reaches the resolution given (relative to the derivative).
    #[test]
    fn sweeps_bound_their_own_error() {
        // (name, f, x, f'(x), the resolution it reaches)
        type Known = (&'static str, fn(f64) -> f64, f64, f64, f64);
        let cases: [Known; 6] = [
            ("sin", f64::sin, 0.7, 0.7f64.cos(), 1e-6),
            (
                "exp(3x)",
                |x| (3.0 * x).exp(),
                0.2,
                3.0 * 0.6f64.exp(),
                1e-6,
            ),
            ("x³", |x| x * x * x, -1.5, 6.75, 1e-6),
            // Steep: the first step leaves the linear regime; the walk goes down.
            (
                "tanh(5e4·x)",
                |x| (5e4 * x).tanh(),
                1e-5,
                5e4 * (1.0 - 0.5f64.tanh().powi(2)),
                1e-6,
            ),
            // A slope 1e-7 of the value: the walk goes up to where round-off is smaller, and
            // stops at the assumed floor of sixteen roundings, 3e-6 of the slope.
            (
                "1 + 1e-7·sin",
                |x| 1.0 + 1e-7 * x.sin(),
                0.3,
                1e-7 * 0.3f64.cos(),
                1e-5,
            ),
            ("a line", |x| 2.0 * x - 1.0, 0.4, 2.0, 1e-6),
        ];
        for (name, f, x, exact, resolution) in cases {
            let e = derivative(Ladder::for_type::<f64>(), roundoff(f(x)), 1e-6, |h| {
                Some((f(x + h) - f(x - h)) / (2.0 * h))
            });
            assert!(
                (e.value - exact).abs() <= e.error,
                "{name}: {e:?} vs {exact}"
            );
            assert!(e.error <= resolution * exact.abs(), "{name}: {e:?}");
        }
    }

    /// A bound trusted to exclude: a claim off by 1e-4 fails, the right one passes, and an
    /// estimate that could not be made says nothing.
    #[test]
    fn estimates_judge_claims() {
        let f = |x: f64| (2.0 * x).sin();
        let (x, exact) = (0.3, 2.0 * 0.6f64.cos());
        let mut sweep = Sweep::new(Ladder::for_type::<f64>(), roundoff(f(x)));
        let mut central = |h: f64| Some((f(x + h) - f(x - h)) / (2.0 * h));
        sweep.refine(0.0, &mut central);
        let e = sweep.follow_up(&mut central);
        assert!(e.trusted, "{e:?}");
        let judge = |g: f64, e: Estimate| Comparison::of_estimates(&[g], &[e], 1e-6, &[g]).verdict;
        assert_eq!(judge(exact, e), Verdict::Ok);
        assert_eq!(judge(exact * (1.0 + 1e-4), e), Verdict::Fail);
        let none = Estimate {
            value: f64::NAN,
            error: f64::INFINITY,
            ..e
        };
        assert_eq!(judge(exact, none), Verdict::Inconclusive);
        assert_eq!(judge(f64::NAN, e), Verdict::Fail);
        // Exactly zero against exactly zero: nothing smaller to resolve.
        let zero = Estimate { value: 0.0, ..e };
        assert_eq!(judge(0.0, zero), Verdict::Ok);
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
