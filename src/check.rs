//! The per-step check: every per-step quantity and every total of a case, by hand BPTT, by the
//! tape, by forward mode, and by central finite differences taken where the quantity lives,
//! compared pair by pair.
//!
//! A finite difference of a per-step quantity perturbs its *site* inside the forward pass (the
//! state `h_t`, an internal value such as `a_t`, the input `x_t`, or step t's copy of a weight)
//! and recomputes only the steps after it. The sites are the cell's own
//! ([`crate::cell::Site`]), so the check is written once for every cell. The tools it uses,
//! finite differences, the relative error and verdicts, are in [`crate::fd`].

use crate::case::Case;
use crate::cell::{Cell, Site, quantities};
use crate::double_double::DoubleDouble;
use crate::dual::Dual;
use crate::error::{Error, Result, shape_str};
use crate::fd::{
    Comparison, Estimate, Evidence, Ladder, Verdict, adaptive_directional, adaptive_entries,
    adaptive_gradient, adaptive_gradient_told, default_step, random_direction, rng, roundoff,
    undecided,
};
use crate::forward;
use crate::gradients::{Gradients, Keep};
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::sequence::Forward;
use crate::sites::{
    At, Context, Total, TotalOf, every_site, loss_at, point_at, site_value, total_value, totals,
};
use std::fmt;

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

/// The two tolerances of the check, for one number type.
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

/// One quantity checked four ways, pair by pair: hand BPTT, the tape, forward mode, and finite
/// differences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparisons {
    /// Hand BPTT against the tape.
    pub hand_tape: Comparison,
    /// Hand BPTT against forward mode ([`crate::forward`]).
    pub hand_forward: Comparison,
    /// The tape against forward mode.
    pub tape_forward: Comparison,
    /// Hand BPTT against finite differences ([`Comparison::of_estimates`]).
    pub hand_fd: Comparison,
    /// The tape against finite differences.
    pub tape_fd: Comparison,
    /// What finite differences could vouch for: their error bound and resolution.
    pub fd: Evidence,
}

impl Comparisons {
    /// The worst of the verdicts (`FAIL` over `inconclusive` over `ok`).
    pub fn verdict(&self) -> Verdict {
        worst(&[
            self.hand_tape.verdict,
            self.hand_forward.verdict,
            self.tape_forward.verdict,
            self.hand_fd.verdict,
            self.tape_fd.verdict,
        ])
    }

    /// What finite differences said, the worse of hand–fd and tape–fd.
    pub fn fd_verdict(&self) -> Verdict {
        worst(&[self.hand_fd.verdict, self.tape_fd.verdict])
    }
}

/// `FAIL` over `inconclusive` over `ok`.
fn worst(all: &[Verdict]) -> Verdict {
    if all.contains(&Verdict::Fail) {
        Verdict::Fail
    } else if all.contains(&Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else {
        Verdict::Ok
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
    /// The round-off floor of a central difference at the first step `ε`: `δ/ε`, with `δ` the
    /// loss's round-off ([`crate::fd::roundoff`]), where every estimate's own bound starts.
    pub resolution: f64,
    /// The case's number type ([`Scalar::NAME`]), in which finite differences are first taken.
    pub number: &'static str,
    /// Whether double-double's work ran out, or an estimate would have taken too much of it
    /// ([`PRECISE_WORK`]): those estimates kept their bounds in the case's own type.
    pub precise_exhausted: bool,
    /// The tolerances applied.
    pub tolerances: Tolerances,
    /// One row per step, `t = 1..=T` at index `t − 1`: each quantity, by key, checked three
    /// ways. The row of a step that was not checked (see [`check_steps`]) is empty.
    pub steps: Vec<Vec<(&'static str, Comparisons)>>,
    /// The totals, the initial state's gradient, and the head's parameters.
    pub totals: Vec<(Total, Comparisons)>,
    /// The first NaN or infinity met in the forward pass, the loss, or either backward pass
    /// ([`first_non_finite`]); a report that has one never passes.
    pub first_non_finite: Option<NonFiniteAt>,
}

impl Report {
    /// True when nothing failed (`ok` and `inconclusive` both pass) and nothing computed was NaN
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

    /// The first failure walking backward from `t = T`, and in a step in the cell's order of
    /// quantities: where an error in a backward pass *enters*.
    pub fn first_failure(&self) -> Option<(usize, &'static str)> {
        (1..=self.steps.len()).rev().find_map(|t| {
            self.steps[t - 1]
                .iter()
                .find(|(_, c)| c.verdict() == Verdict::Fail)
                .map(|(q, _)| (t, *q))
        })
    }
}

/// Checks every per-step quantity and every total of `case` four ways: hand BPTT, the tape,
/// forward mode (exact, [`crate::forward`]) and central finite differences taken where each
/// quantity lives. The three exact methods must agree to `1e-12`, or entry by entry to the
/// round-off of its terms ([`Comparison::of_exact`]); finite differences choose their own
/// steps and bound their own error ([`crate::fd::Sweep`]): `ok` when the bound contains the
/// gradient and is within `1e-6` of it, `FAIL` when it excludes the gradient, `inconclusive`
/// otherwise.
///
/// Finite differences perturb `h_t`, `a_t` or `x_t` inside the forward pass, or step t's copy
/// of a weight, and recompute only the steps after the perturbation. Exhaustive mode costs
/// at least `4n` partial forward passes for a quantity of `n` entries; directional mode at
/// least four.
pub fn check_case<T: Scalar, C: Cell>(case: &Case<T, C>, mode: Mode) -> Result<Report> {
    check_gradients(case, &case.bptt()?, mode)
}

/// One quantity's numbers before judgement: both gradients, forward mode's and the
/// finite-difference estimates, all as seen along the direction (directional mode) or entry
/// by entry (exhaustive mode).
struct Probe<T> {
    hand_tape: Comparison,
    by_hand: Vec<T>,
    by_tape: Vec<T>,
    /// Forward mode's, exact: entry by entry, or along the direction.
    by_forward: Vec<T>,
    /// The magnitude of the terms of each entry ([`crate::bound`]): how far exact methods
    /// may differ by round-off.
    scale: Vec<T>,
    fd: Vec<Estimate>,
    /// In exhaustive mode, the entries that `fd` could not decide, checked together along one
    /// direction in double-double.
    along: Option<Along<T>>,
}

/// Exhaustive mode's check of the entries that f64 finite differences could not decide, along
/// one random direction `v` over them, in double-double
/// ([`Comparison::of_entries_and_direction`]).
struct Along<T> {
    /// The entries decided one by one (the rest are `v`'s).
    checked: Vec<bool>,
    /// `⟨g, v⟩` for hand BPTT's `g`.
    by_hand: T,
    /// `⟨g, v⟩` for the tape's `g`.
    by_tape: T,
    /// `Σ |v_i|·scale_i`: the round-off of `⟨g, v⟩`.
    scale: T,
    /// The estimate of `⟨∇L, v⟩`.
    fd: Estimate,
}

impl<T: Scalar> Probe<T> {
    /// The gradient `g` (hand BPTT's or the tape's, `along_g` picking the same one's `⟨g, v⟩`)
    /// against finite differences.
    fn fd_comparison(&self, g: &[T], along_g: impl Fn(&Along<T>) -> T, tol: f64) -> Comparison {
        match &self.along {
            None => Comparison::of_estimates(g, &self.fd, tol, &self.scale),
            Some(a) => Comparison::of_entries_and_direction(
                g,
                (&self.fd, &a.checked),
                &self.scale,
                (along_g(a), a.fd, a.scale),
                tol,
            ),
        }
    }

    /// What finite differences reached: over the entries decided one by one and the direction
    /// that took the others, with every evaluation counted.
    fn evidence(&self, size: f64) -> Evidence {
        let Some(a) = &self.along else {
            return Evidence::of(&self.fd, size);
        };
        let mut used: Vec<Estimate> = (self.fd.iter().zip(&a.checked))
            .filter(|(_, checked)| **checked)
            .map(|(e, _)| *e)
            .collect();
        used.push(a.fd);
        Evidence {
            evaluations: self.fd.iter().map(|e| e.evaluations).sum::<usize>() + a.fd.evaluations,
            ..Evidence::of(&used, size)
        }
    }
}

/// The seed of exhaustive mode's directions over the entries f64 cannot decide.
const UNDECIDED_SEED: u64 = 0;

/// True when the value at `at` moves one row of the batch per entry: a state, an internal
/// value or an input of a step, or the initial state (not a weight, which every row reads).
fn moves_one_row(at: At) -> bool {
    matches!(
        at,
        At::Step(_, Site::State(_) | Site::Internal(_) | Site::Input)
            | At::Total(TotalOf::Initial { .. })
    )
}

/// A random unit direction over the entries `which` of a matrix of `point`'s shape (zero
/// elsewhere).
fn direction_over<T: Scalar>(
    which: &[usize],
    point: &Matrix<T>,
    stream: &mut rand::rngs::ChaCha8Rng,
) -> Matrix<T> {
    let mut v = random_direction::<T>(point.rows(), point.cols(), stream);
    for (i, x) in v.as_mut_slice().iter_mut().enumerate() {
        if !which.contains(&i) {
            *x = T::zero();
        }
    }
    let norm = v.as_slice().iter().map(|&x| x * x).sum::<T>().sqrt();
    v.map(|x| x / norm)
}

/// The rounding of `x ± h·v` moves a directional estimate by `ε·Σ |x_i|·|g_i| / h` at most
/// (with the tape's `g`: the gradient under test never widens its own judgement).
fn magnitude<T: Scalar>(point: &Matrix<T>, by_tape: &Matrix<T>) -> f64 {
    point
        .as_slice()
        .iter()
        .zip(by_tape.as_slice())
        .map(|(&x, &g)| (x.abs() * g.abs()).as_f64())
        .sum()
}

/// `Σ |v_i|·scale_i`: `|⟨g, v⟩|` rounds off by at most that.
fn along_scale<T: Scalar>(v: &Matrix<T>, scale: &[T]) -> T {
    v.as_slice()
        .iter()
        .zip(scale)
        .map(|(&v, &m)| v.abs() * m)
        .sum()
}

/// The check of [`check_case`] with `hand` in the place of hand BPTT: how a backward pass
/// written elsewhere (a student's, or one with a planted mistake) is put on trial.
///
/// Each finite-difference estimate knows its own error: a sweep of steps, an order check and
/// Richardson extrapolation ([`crate::fd::Sweep`]), its round-off at least `δ = ε_mach·|L|/2`
/// over its step and at least what its own evaluations show; only a bound whose noise was
/// measured so can fail a gradient. Nothing
/// is pooled: a steeply curved quantity, or a large gradient elsewhere, never loosens the
/// judgement of another. Each estimate stops walking once its bound is within `1e-6` of its
/// quantity's largest estimate, so most take the four evaluations of their first two steps.
/// Where the case's own number type cannot decide, the loss is evaluated again in
/// [`DoubleDouble`]: for that direction in directional mode, and in exhaustive mode for the
/// undecided entries of a quantity together, along one random direction over them.
///
/// Every step is checked. A finite difference at step t reruns the sequence from t on, so
/// the cost grows as `T²`: for long sequences, check a sample of steps with [`check_steps`].
pub fn check_gradients<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    hand: &Gradients<T>,
    mode: Mode,
) -> Result<Report> {
    let every: Vec<usize> = (1..=case.x.len()).collect();
    check_steps(case, hand, mode, &every)
}

/// Refuses `hand` when it does not have the tape's steps and shapes (at the steps the tape
/// kept): it could not be compared.
fn check_fits<T: Scalar>(hand: &Gradients<T>, tape: &Gradients<T>) -> Result<()> {
    if hand.steps.len() != tape.steps.len() {
        return Err(Error::bad_shape(
            "gradients to check",
            format!("{} steps, as the case", tape.steps.len()),
            format!("{} steps", hand.steps.len()),
        ));
    }
    for t in 1..=tape.steps.len() {
        for (name, want) in tape.step(t) {
            let got = hand.get(t, name).map(Matrix::shape);
            if got != Some(want.shape()) {
                return Err(Error::bad_shape(
                    format!("{name} at step t = {t}"),
                    shape_str(want.shape()),
                    got.map_or("nothing".into(), shape_str),
                ));
            }
        }
    }
    for (key, want) in &tape.totals {
        if let Some(got) = hand.total(key)
            && want.shape() != got.shape()
        {
            return Err(Error::bad_shape(
                format!("the total {key}"),
                shape_str(want.shape()),
                shape_str(got.shape()),
            ));
        }
    }
    Ok(())
}

/// The parts a check's work is split into. Each runs on its own thread where the machine has
/// the cores, one after another where it has not; the split is fixed, so that the report is
/// the same on any machine. Two: the machines this crate is measured on have two cores.
pub const PARTS: usize = 2;

/// How far apart the seeds of the parts' direction streams are: part `k` draws from the stream
/// of `seed + k·PART_SEED_STRIDE`.
const PART_SEED_STRIDE: u64 = 0x9E37_79B9_7F4A_7C15;

/// Runs `part(0) … part(parts − 1)`, on as many threads as the machine offers (at most
/// `parts`), and returns their results in order: what they return does not depend on how many
/// ran at once.
fn in_parallel<R: Send>(parts: usize, part: &(dyn Fn(usize) -> R + Sync)) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if cores < 2 || parts < 2 {
        return (0..parts).map(part).collect();
    }
    std::thread::scope(|scope| {
        // The first part runs here, the others on threads of their own.
        let others: Vec<_> = (1..parts).map(|k| scope.spawn(move || part(k))).collect();
        let mut results = vec![part(0)];
        for handle in others {
            // A panic in a part is a broken invariant of the check: it goes on as one.
            results.push(
                handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        results
    })
}

/// One place the check probes: where it perturbs, the value there, the hand and tape
/// gradients, and each entry's scale of round-off (none known: zeros).
struct Place<'a, T> {
    at: At,
    point: &'a Matrix<T>,
    by_hand: &'a Matrix<T>,
    by_tape: &'a Matrix<T>,
    scale: Option<&'a Matrix<T>>,
}

/// The check of [`check_gradients`] on the chosen steps only (`t = 1..=T`, in any order,
/// repeats ignored), and on the totals, which cover every step at once.
///
/// Each checked step costs about as much as one whole sequence per finite difference, so a
/// sample of a long sequence (its first, middle and last steps, say) is checked in time linear
/// in `T`. In directional mode the directions are drawn for the chosen steps only, so they
/// differ from those of a full check with the same seed. `hand` needs the quantities of the
/// chosen steps only ([`Case::bptt_keeping`]), and the check keeps no others: its memory is the
/// forward passes it reruns from, not `T` copies of the weights.
///
/// The work is split into [`PARTS`] parts (alternate steps, alternate totals), run at once on
/// a machine with the cores: each draws its directions from its own stream and spends its
/// share of double-double's work, so the report is the same however many ran at once.
pub fn check_steps<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    hand: &Gradients<T>,
    mode: Mode,
    steps: &[usize],
) -> Result<Report> {
    let count = case.x.len();
    if let Some(bad) = steps.iter().find(|&&t| t == 0 || t > count) {
        return Err(Error::invalid(
            "steps to check",
            format!("step {bad} does not exist: steps are numbered 1 to {count}"),
        ));
    }
    // Only the chosen steps' quantities are kept: the rest would cost `T` copies of the weights.
    let keep = Keep::Steps(steps);
    let tape = case.tape_gradients_keeping(keep)?;
    check_fits(hand, &tape)?;
    let mut chosen = vec![false; count];
    for &t in steps {
        chosen[t - 1] = true;
    }
    let fwd = case.forward()?;
    let ctx = Context::new(case, &fwd);
    let tolerances = Tolerances::for_type::<T>();
    let noise = roundoff(tape.loss);
    // Pass 1: every estimate, the work split into PARTS parts (below).
    // Finite differences that the case's rounding leaves undecided are taken again in
    // double-double, from the same case.
    let precise_case: Case<DoubleDouble, C> = case.cast();
    let precise_fwd = precise_case.forward()?;
    // Forward mode: the same sites, in dual numbers.
    let dual_case: Case<Dual<T>, C> = case.cast();
    let dual_fwd = dual_case.forward()?;
    let dual_ctx = Context::new(&dual_case, &dual_fwd);
    // Exhaustive mode's forward mode reruns several entries at once, on copies of the batch.
    // (Stacking only speeds up the sites of steps; the totals are taken one entry a rerun.)
    let lanes = (mode == Mode::Exhaustive).then(|| {
        if steps.is_empty() {
            forward::Lanes::unstacked(&dual_case)
        } else {
            forward::Lanes::new(&dual_case)
        }
    });
    // Exhaustive mode's finite differences of a value that moves one row of the batch rerun
    // that row alone, as a case of its own: every head is a sum over the rows, and a row's
    // rerun costs a B-th of the batch's.
    let batch = case.dims().batch;
    let row_cases: Vec<(Case<T, C>, T)> = if mode == Mode::Exhaustive && batch > 1 {
        (0..batch).map(|i| case.row(i)).collect()
    } else {
        Vec::new()
    };
    let row_fwds = row_cases
        .iter()
        .map(|(row, _)| row.forward())
        .collect::<Result<Vec<_>>>()?;
    let rows: Vec<(Context<'_, T, C>, T)> = row_cases
        .iter()
        .zip(&row_fwds)
        .map(|((row, weight), fwd)| (Context::new(row, fwd), *weight))
        .collect();
    // Each entry's scale of round-off: how far exact methods may differ.
    let scales = case.roundoff_scales_keeping(keep)?;
    // Every site to probe, in the report's order: each chosen step's quantities, then the
    // totals the tape has.
    let qs = quantities::<C>();
    let mut sites: Vec<Place<'_, T>> = Vec::new();
    for t in (1..=count).filter(|&t| chosen[t - 1]) {
        for q in &qs {
            sites.push(Place {
                at: At::Step(t, q.site),
                point: site_value(case, &fwd, q.site, t),
                by_hand: hand.get(t, q.name).expect("invariant: check_fits found it"),
                by_tape: tape.get(t, q.name).expect("invariant: the tape has it"),
                scale: Some(scales.get(t, q.name).expect("invariant: bptt has it")),
            });
        }
    }
    let mut missing = Vec::new();
    let mut checked_totals = Vec::new();
    for total in totals(case) {
        let Some(by_tape) = tape.total(total.key) else {
            continue;
        };
        // Gradients that lack a total of the case (a head's parameters) cannot pass its check.
        missing.push(Matrix::filled(by_tape.rows(), by_tape.cols(), T::nan()));
        checked_totals.push((total, by_tape));
    }
    for (k, (total, by_tape)) in checked_totals.iter().enumerate() {
        sites.push(Place {
            at: At::Total(total.of),
            point: total_value(case, total.of),
            by_hand: hand.total(total.key).unwrap_or(&missing[k]),
            by_tape,
            scale: scales.total(total.key),
        });
    }
    // The parts: each draws its own directions from its own stream and may spend its share of
    // double-double's work, so that the report does not depend on how many cores ran them.
    let part_of = |site: &Place<'_, T>, k: usize| match site.at {
        // Alternate steps: a step's reruns cost in proportion to the steps after it.
        At::Step(t, _) => t % PARTS,
        At::Total(_) => k % PARTS,
    };
    let run_part = |part: usize| -> Result<(Vec<Probe<T>>, bool)> {
        let precise = Precise::new::<T>(&precise_case, &precise_fwd, PRECISE_WORK / PARTS as f64)?;
        let part_seed = |seed: u64| seed.wrapping_add(part as u64 * PART_SEED_STRIDE);
        let mut directions = match mode {
            Mode::Directional { seed } => Some(rng(part_seed(seed))),
            Mode::Exhaustive => None,
        };
        // Exhaustive mode's directions over the entries that f64 cannot decide.
        let mut undecided_directions = rng(part_seed(UNDECIDED_SEED));
        let mut probe = |at: At,
                         point: &Matrix<T>,
                         by_hand: &Matrix<T>,
                         by_tape: &Matrix<T>,
                         scale: Vec<T>| {
            let dual_point = point_at(&dual_ctx, at);
            let hand_tape = Comparison::of_exact(
                by_hand.as_slice(),
                by_tape.as_slice(),
                tolerances.hand_tape,
                &scale,
            );
            match directions.as_mut() {
                None => {
                    let by_forward = lanes
                        .as_ref()
                        .expect("invariant: exhaustive mode stacks its reruns")
                        .entries(&dual_ctx, at, dual_point);
                    let claims = [by_hand.as_slice(), by_tape.as_slice()];
                    let fd = if moves_one_row(at) && !rows.is_empty() {
                        // Entry i is in row i / cols: L moves by the row's weight times what
                        // the row's own loss does.
                        let cols = point.cols();
                        adaptive_gradient_told(point, noise, tolerances.fd, &claims, |i, v| {
                            let (row, weight) = &rows[i / cols];
                            *weight * loss_at(row, at, &v.row_block(i / cols, 1))
                        })
                    } else {
                        adaptive_gradient(point, noise, tolerances.fd, &claims, |v| {
                            loss_at(&ctx, at, v)
                        })
                    };
                    let which = undecided(&fd, tolerances.fd, &claims);
                    let size = which.iter().fold(0.0f64, |m, &i| {
                        m.max(by_forward.as_slice()[i].as_f64().abs())
                    });
                    let along = precise
                        .as_ref()
                        .filter(|p| !which.is_empty() && p.worth(at, 4, size, tolerances.fd))
                        .map(|p| {
                            let v = direction_over(&which, point, &mut undecided_directions);
                            let along_v = |g: &Matrix<T>| {
                                g.dot(&v).expect("invariant: v has the gradient's shape")
                            };
                            let claims = [along_v(by_hand), along_v(by_tape)];
                            let fd =
                                p.along(at, &v, magnitude(point, by_tape), tolerances.fd, &claims);
                            Along {
                                checked: (0..point.len()).map(|i| !which.contains(&i)).collect(),
                                by_hand: claims[0],
                                by_tape: claims[1],
                                scale: along_scale(&v, &scale),
                                fd,
                            }
                        });
                    Probe {
                        hand_tape,
                        by_hand: by_hand.as_slice().to_vec(),
                        by_tape: by_tape.as_slice().to_vec(),
                        fd,
                        along,
                        by_forward: by_forward.as_slice().to_vec(),
                        scale,
                    }
                }
                Some(stream) => {
                    let v = random_direction(point.rows(), point.cols(), stream);
                    let along = |g: &Matrix<T>| {
                        vec![g.dot(&v).expect("invariant: v has the gradient's shape")]
                    };
                    let magnitude = magnitude(point, by_tape);
                    let (by_hand, by_tape) = (along(by_hand), along(by_tape));
                    let claims = [by_hand[0], by_tape[0]];
                    let by_forward = forward::along(&dual_ctx, at, dual_point, &v);
                    Probe {
                        hand_tape,
                        by_hand,
                        by_tape,
                        by_forward: vec![by_forward],
                        along: None,
                        scale: vec![along_scale(&v, &scale)],
                        fd: vec![directional_estimate(
                            (&ctx, precise.as_ref()),
                            at,
                            (point, &v),
                            (noise, magnitude),
                            (tolerances.fd, by_forward.as_f64().abs()),
                            &claims,
                        )],
                    }
                }
            }
        };
        let probes = sites
            .iter()
            .enumerate()
            .filter(|(k, site)| part_of(site, *k) == part)
            .map(|(_, site)| {
                let scale = site.scale.map_or_else(
                    || vec![T::zero(); site.by_tape.len()],
                    |m| m.as_slice().to_vec(),
                );
                probe(site.at, site.point, site.by_hand, site.by_tape, scale)
            })
            .collect();
        let exhausted = precise.as_ref().is_some_and(|p| p.exhausted.get());
        Ok((probes, exhausted))
    };
    let results: Vec<Result<(Vec<Probe<T>>, bool)>> = in_parallel(PARTS, &run_part);
    let mut parts = Vec::with_capacity(PARTS);
    for result in results {
        parts.push(result?);
    }
    let precise_exhausted = parts.iter().any(|(_, exhausted)| *exhausted);
    // Back into the report's order.
    let mut taken: Vec<std::vec::IntoIter<Probe<T>>> =
        parts.into_iter().map(|(p, _)| p.into_iter()).collect();
    let mut in_order = sites.iter().enumerate().map(|(k, site)| {
        taken[part_of(site, k)]
            .next()
            .expect("invariant: each part probed its own sites")
    });
    let mut step_probes: Vec<Vec<(&'static str, Probe<T>)>> = Vec::with_capacity(count);
    for t in 1..=count {
        let row = if chosen[t - 1] {
            qs.iter()
                .map(|q| {
                    (
                        q.name,
                        in_order.next().expect("invariant: one probe a site"),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        step_probes.push(row);
    }
    let total_probes: Vec<(Total, Probe<T>)> = checked_totals
        .iter()
        .map(|(total, _)| {
            (
                *total,
                in_order.next().expect("invariant: one probe a site"),
            )
        })
        .collect();

    // Pass 2: the verdicts.
    let judge = |p: &Probe<T>| {
        let size = p
            .by_forward
            .iter()
            .fold(0.0f64, |m, g| m.max(g.as_f64().abs()));
        Comparisons {
            hand_tape: p.hand_tape,
            hand_forward: Comparison::of_exact(
                &p.by_hand,
                &p.by_forward,
                tolerances.hand_tape,
                &p.scale,
            ),
            tape_forward: Comparison::of_exact(
                &p.by_tape,
                &p.by_forward,
                tolerances.hand_tape,
                &p.scale,
            ),
            hand_fd: p.fd_comparison(&p.by_hand, |a| a.by_hand, tolerances.fd),
            tape_fd: p.fd_comparison(&p.by_tape, |a| a.by_tape, tolerances.fd),
            fd: p.evidence(size),
        }
    };
    let eps = default_step::<T>();
    Ok(Report {
        mode,
        eps: eps.as_f64(),
        loss: tape.loss.as_f64(),
        resolution: noise / eps.as_f64(),
        number: T::NAME,
        precise_exhausted,
        tolerances,
        steps: step_probes
            .iter()
            .map(|row| row.iter().map(|(q, p)| (*q, judge(p))).collect())
            .collect(),
        totals: total_probes.iter().map(|(t, p)| (*t, judge(p))).collect(),
        first_non_finite: first_non_finite(
            case,
            &fwd,
            tape.loss,
            &[("hand", hand), ("tape", &tape)],
        ),
    })
}

/// The check of [`check_gradients`] on the totals only (each weight's, the initial state's and
/// the head's parameters'): each costs a few whole sequences per finite difference, so this is
/// the cheapest check of a long sequence, though it cannot say at which step an error enters.
pub fn check_totals<T: Scalar, C: Cell>(
    case: &Case<T, C>,
    hand: &Gradients<T>,
    mode: Mode,
) -> Result<Report> {
    check_steps(case, hand, mode, &[])
}

/// Where a computation first produced NaN or infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonFiniteAt {
    /// The step, `1..=T`; 0 for the initial state's gradient and for the totals, which belong to
    /// no one step.
    pub t: usize,
    /// What went non-finite: a value of the forward pass (the RNN's `a` or `h`), `loss`, a
    /// per-step gradient (`dh`, `da`, …) or a total (`w_x`, …, `h0`).
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

/// The first NaN or infinity in the forward pass `fwd` of `case`, its loss, and sets of
/// gradients of it, in the
/// order they are computed: each step's internal values then its state (`a_t` then `h_t`) for
/// `t = 1..=T`; the loss; then the gradients from `t = T` down to 1, within a step each set in
/// turn in the cell's order of quantities; then each set's initial-state gradients and other
/// totals. `grads` pairs each set with a name for the report (`"tape"`).
///
/// One pass over everything computed, linear in `T`: the way to learn *where* a long
/// sequence overflowed, which a comparison that reads `inf` as a failure does not say. (`case`
/// gives the cell, whose names the walk follows.)
pub fn first_non_finite<T: Scalar, C: Cell>(
    _case: &Case<T, C>,
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
        for (i, v) in C::INTERNALS.iter().enumerate() {
            if bad(fwd.internal(i, t)) {
                return at(t, v.key, "forward");
            }
        }
        for (s, state) in C::STATES.iter().enumerate() {
            if bad(fwd.state(s, t)) {
                return at(t, state.key, "forward");
            }
        }
    }
    if !loss.is_finite() {
        return at(fwd.steps(), "loss", "forward");
    }
    for t in (1..=fwd.steps()).rev() {
        for &(source, g) in grads {
            if let Some((name, _)) = g.step(t).iter().find(|(_, m)| bad(m)) {
                return at(t, name, source);
            }
        }
    }
    let initial = |key: &str| C::STATES.iter().any(|s| s.initial == key);
    for &(source, g) in grads {
        let (first, rest): (Vec<_>, Vec<_>) = g.totals.iter().partition(|(k, _)| initial(k));
        if let Some((name, _)) = first.into_iter().chain(rest).find(|(_, m)| bad(m)) {
            return at(0, name, source);
        }
    }
    None
}

/// Every gradient of `case` by exhaustive central differences alone, each per-step quantity
/// perturbed where it lives, each entry's step chosen by its own sweep
/// ([`crate::fd::adaptive_gradient`], to `1e-6` of its quantity where it can): the third
/// method, usable without the other two.
pub fn fd_gradients<T: Scalar, C: Cell>(case: &Case<T, C>) -> Result<Gradients<T>> {
    let fwd = case.forward()?;
    let ctx = Context::new(case, &fwd);
    let precise_case: Case<DoubleDouble, C> = case.cast();
    let precise_fwd = precise_case.forward()?;
    let precise = Precise::new::<T>(&precise_case, &precise_fwd, PRECISE_WORK)?;
    let loss = case.head.loss(fwd.states())?;
    let noise = roundoff(loss);
    let tol = Tolerances::for_type::<T>().fd;
    Ok(every_site(&ctx, loss, |at, point| {
        let fd = entry_estimates(&ctx, precise.as_ref(), at, point, (noise, tol));
        Matrix::from_fn(point.rows(), point.cols(), |i, j| {
            T::from_f64(fd[i * point.cols() + j].value)
        })
    }))
}

/// The gradients given ones are judged against (`check --against`): the tape run in
/// double-double and rounded to f64, exact to the last bit where the case's own arithmetic
/// loses digits (`1 − h²` at a saturated `h`, a long product of Jacobians), so that the
/// difference a student's gradients show is theirs alone; or the f64 tape, where one forward and
/// backward pass in double-double would cost more than [`PRECISE_WORK`] multiply-adds. With
/// which of the two it is, in words (for [`crate::diagnose::Diagnosis::reference`]).
pub fn reference_gradients<C: Cell>(case: &Case<f64, C>) -> Result<(Gradients<f64>, &'static str)> {
    let d = case.dims();
    let entries: usize = case.params.iter().map(Matrix::len).sum();
    let step_work = (d.batch * entries) as f64 + TANH_WORK * (d.batch * d.hidden) as f64;
    // The backward pass costs about twice the forward one.
    if 3.0 * case.x.len() as f64 * step_work > PRECISE_WORK {
        return Ok((case.tape_gradients()?, "the tape"));
    }
    let precise: Case<DoubleDouble, C> = case.cast();
    Ok((
        precise.tape_gradients()?.map(|x| x.value),
        "the tape in double-double",
    ))
}

/// The case again in double-double, for the finite differences its own rounding leaves
/// undecided, with the round-off of its loss, and the work spent in it so far; `None` when the
/// case's type is no less precise.
struct Precise<'a, C> {
    ctx: Context<'a, DoubleDouble, C>,
    noise: f64,
    /// `T`.
    steps: usize,
    /// Multiply-adds of one step: `B` times the parameters' entries, and a `tanh` per state
    /// entry, which costs about as much as [`TANH_WORK`] of them in double-double.
    step_work: f64,
    /// Multiply-adds it may spend: [`PRECISE_WORK`], or a part's share of it.
    budget: f64,
    /// Multiply-adds spent so far, at most `budget`.
    spent: std::cell::Cell<f64>,
    /// Whether an estimate was left undecided because the work would exceed it.
    exhausted: std::cell::Cell<bool>,
}

/// How many multiply-adds one check may spend in double-double: a few seconds on this crate's
/// reference machine, where one costs some fifty times one of `f64` on the packed kernel. Once
/// it is spent, the rest of the undecided estimates stay `inconclusive`, in the order checked;
/// and an estimate that alone would take more than a fiftieth of it ([`PRECISE_SHARE`]) is
/// not tried: on the bench's `B=32 T=64 F=32 H=128` (480 s with no limit) the whole work
/// bought two more quantities in three seconds.
pub const PRECISE_WORK: f64 = 5e8;

/// The most of [`PRECISE_WORK`] one estimate may take.
pub const PRECISE_SHARE: f64 = 1.0 / 50.0;

/// What a double-double `tanh` costs, in its multiply-adds: an argument reduction, a series
/// and eight squarings.
const TANH_WORK: f64 = 30.0;

impl<'a, C: Cell> Precise<'a, C> {
    fn new<T: Scalar>(
        case: &'a Case<DoubleDouble, C>,
        fwd: &'a Forward<DoubleDouble>,
        budget: f64,
    ) -> Result<Option<Self>> {
        if T::epsilon().as_f64() <= <DoubleDouble as num_traits::Float>::epsilon().value {
            return Ok(None);
        }
        let loss = case.head.loss(fwd.states())?;
        let d = case.dims();
        let entries: usize = case.params.iter().map(Matrix::len).sum();
        Ok(Some(Precise {
            ctx: Context::new(case, fwd),
            noise: roundoff(loss),
            steps: case.x.len(),
            step_work: (d.batch * entries) as f64 + TANH_WORK * (d.batch * d.hidden) as f64,
            budget,
            spent: std::cell::Cell::new(0.0),
            exhausted: std::cell::Cell::new(false),
        }))
    }

    /// Whether double-double is worth trying at `at` for `evaluations` of the loss (at least
    /// four; more when the estimate walks): within its budget, and able to resolve a
    /// quantity of `size` to `tol` of it at all (a gradient that vanished below even its
    /// rounding, a subnormal one of 1e-300, is not worth thousands of its slower steps).
    fn worth(&self, at: At, evaluations: usize, size: f64, tol: f64) -> bool {
        let resolvable = tol * size >= Ladder::for_type::<DoubleDouble>().finest_bound(self.noise);
        let work = self.work(at, evaluations);
        let affordable =
            work <= PRECISE_SHARE * PRECISE_WORK && self.spent.get() + work <= self.budget;
        if resolvable && !affordable {
            self.exhausted.set(true);
        }
        resolvable && affordable
    }

    /// Counts `evaluations` at `at` as spent.
    fn spend(&self, at: At, evaluations: usize) {
        self.spent
            .set(self.spent.get() + self.work(at, evaluations));
    }

    /// The multiply-adds of `evaluations` of the loss perturbed at `at`: each reruns the
    /// steps after it.
    fn work(&self, at: At, evaluations: usize) -> f64 {
        let rerun = match at {
            At::Step(t, _) => self.steps + 1 - t,
            At::Total(TotalOf::Head(_)) => 1,
            At::Total(_) => self.steps,
        };
        evaluations as f64 * rerun as f64 * self.step_work
    }

    /// The finite difference along `v` at `at`, in double-double, for the claims `⟨g, v⟩`.
    fn along<T: Scalar>(
        &self,
        at: At,
        v: &Matrix<T>,
        magnitude: f64,
        tol: f64,
        claims: &[T],
    ) -> Estimate {
        let claims: Vec<DoubleDouble> = claims
            .iter()
            .map(|g| DoubleDouble::from_f64(g.as_f64()))
            .collect();
        let e = adaptive_directional(
            point_at(&self.ctx, at),
            &v.cast(),
            self.noise,
            magnitude,
            tol,
            &claims,
            |x| loss_at(&self.ctx, at, x),
        );
        self.spend(at, e.evaluations);
        e
    }
}

/// Finite differences of every entry of the quantity at `at` ([`adaptive_gradient`]), with no
/// gradient to judge (for [`fd_gradients`]), in the case's own type; then, for the entries
/// whose bound its rounding left too wide ([`crate::fd::undecided`]), again in double-double
/// from the same point, where a change of the loss that `f64` rounds away is still seen, as
/// far as its work allows. The better bound of the two is kept.
fn entry_estimates<'a, T: Scalar, C: Cell>(
    ctx: &Context<'a, T, C>,
    precise: Option<&Precise<'a, C>>,
    at: At,
    point: &'a Matrix<T>,
    (noise, tol): (f64, f64),
) -> Vec<Estimate> {
    let claims: &[&[T]] = &[];
    let mut fd = adaptive_gradient(point, noise, tol, claims, |v| loss_at(ctx, at, v));
    let which = undecided(&fd, tol, claims);
    // No exact size to go by: every undecided entry is worth trying.
    let worth = |p: &&Precise<'a, C>| p.worth(at, 4 * which.len(), f64::INFINITY, tol);
    let Some(precise) = precise.filter(|p| !which.is_empty() && worth(p)) else {
        return fd;
    };
    let size = (0..fd.len())
        .filter(|i| !which.contains(i))
        .fold(0.0f64, |m, i| m.max(fd[i].value.abs()));
    let again = adaptive_entries(
        point_at(&precise.ctx, at),
        &which,
        precise.noise,
        tol,
        size,
        claims,
        |v| loss_at(&precise.ctx, at, v),
    );
    precise.spend(at, again.iter().map(|e| e.evaluations).sum());
    for (&i, e) in which.iter().zip(again) {
        if better(&e, &fd[i]) {
            fd[i] = e;
        }
    }
    fd
}

/// The finite difference along `v` at `at` ([`adaptive_directional`]), in the case's own type
/// and, when that leaves it undecided, again in double-double, as [`entry_estimates`] does
/// (`size`: forward mode's derivative along `v`).
fn directional_estimate<'a, T: Scalar, C: Cell>(
    (ctx, precise): (&Context<'a, T, C>, Option<&Precise<'a, C>>),
    at: At,
    (point, v): (&'a Matrix<T>, &Matrix<T>),
    (noise, magnitude): (f64, f64),
    (tol, size): (f64, f64),
    claims: &[T],
) -> Estimate {
    let loss = |x: &Matrix<T>| loss_at(ctx, at, x);
    let e = adaptive_directional(point, v, noise, magnitude, tol, claims, loss);
    let Some(precise) = precise.filter(|p| p.worth(at, 4, size, tol)) else {
        return e;
    };
    if undecided(&[e], tol, &[claims]).is_empty() {
        return e;
    }
    let again = precise.along(at, v, magnitude, tol, claims);
    if better(&again, &e) { again } else { e }
}

/// Whether estimate `a`, made in double-double, is better than `b`: the narrower bound. (Trust
/// decides only a failure, and a doubtful estimate was followed up until trusted.)
fn better(a: &Estimate, b: &Estimate) -> bool {
    a.value.is_finite() && a.error < b.error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Site;

    #[test]
    fn double_double_is_tried_within_its_work_and_where_it_can_resolve() {
        let case = Case::<f64>::canonical();
        let precise_case: Case<DoubleDouble, _> = case.cast();
        let fwd = precise_case.forward().unwrap();
        let precise = Precise::new::<f64>(&precise_case, &fwd, PRECISE_WORK)
            .unwrap()
            .unwrap();
        let at = At::Step(1, Site::State(0));
        // Four evaluations rerun steps 1 to 3 of B·(W_x, W_h, b) entries and a tanh per state.
        assert_eq!(precise.work(at, 4), 4.0 * 3.0 * (1.0 * 28.0 + 30.0 * 4.0));
        assert!(precise.worth(at, 4, 1.0, 1e-6));
        // A gradient below double-double's own rounding is not tried, and that is no shortage.
        assert!(!precise.worth(at, 4, 1e-300, 1e-6));
        assert!(!precise.exhausted.get());
        // Near the end of the work, an estimate that would exceed it is not tried, and the
        // report will say so.
        precise.spend(at, 1);
        precise.spent.set(PRECISE_WORK - precise.work(at, 2));
        assert!(precise.worth(at, 2, 1.0, 1e-6));
        assert!(!precise.worth(at, 4, 1.0, 1e-6));
        assert!(precise.exhausted.get());
        // Nor is one estimate that alone would take more than its share of the work.
        precise.spent.set(0.0);
        let share = PRECISE_SHARE * PRECISE_WORK;
        let too_many = (share / precise.work(at, 1)).ceil() as usize + 1;
        assert!(!precise.worth(at, too_many, 1.0, 1e-6));
        assert!(precise.worth(at, too_many / 2, 1.0, 1e-6));
        // f64 is not asked to sharpen double-double.
        assert!(
            Precise::new::<DoubleDouble>(&precise_case, &fwd, PRECISE_WORK)
                .unwrap()
                .is_none()
        );
    }
}
