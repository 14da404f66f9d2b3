//! Training: gradient descent on the parameters of a [`Case`].
//!
//! A case already holds everything a loss needs (inputs, parameters, head), so training is a
//! loop that changes the case's parameters `θ` (the cell's, `W_x, W_h, b` for the RNN, and the
//! head's, `W_out, b_out`). One *update*:
//!
//! ```text
//! g = ∇_θ L(batch)                          gradients by hand BPTT or on the tape
//! g ← θ_clip · g / ‖g‖   when ‖g‖ > θ_clip    clipping by the global norm (optional)
//! θ ← θ − η · step(g)                       SGD, momentum or Adam, one rate η per parameter
//! ```
//!
//! An *epoch* is one pass over the data in mini-batches of `batch_size` sequences (all of them
//! at once by default, as the seed notebooks do).
//!
//! The gradient of each parameter is the sum over time of its per-step contributions
//! (`dW_h = Σ_t dW_h[t]`, see [`crate::bptt`]); training only ever uses these totals.

use crate::case::Case;
use crate::cell::Cell;
use crate::error::{Error, Result, shape_str};
use crate::fd::rng;
use crate::gradients::Gradients;
use crate::loss::{Head, Reduction};
use crate::matrix::Matrix;
use rand::seq::SliceRandom;

/// A trainable parameter's names: its key (`"w_h"`, as case files and [`LearningRates`] name
/// it) and its name in printouts (`"W_h"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trainable {
    /// `"w_h"`.
    pub key: &'static str,
    /// `"W_h"`.
    pub shown: &'static str,
}

/// The trainable parameters of `case` in a fixed order: the cell's (`W_x`, `W_h`, `b` for the
/// RNN), then the head's (`W_out`, `b_out` for softmax cross-entropy; the other heads have
/// none).
pub fn parameters<C: Cell>(case: &Case<f64, C>) -> Vec<(Trainable, &Matrix<f64>)> {
    let cell = C::PARAMS.iter().map(|p| Trainable {
        key: p.key,
        shown: p.shown,
    });
    let mut out: Vec<_> = cell.zip(&case.params).collect();
    out.extend(case.head.params().into_iter().map(|(p, m)| {
        let names = Trainable {
            key: p.key,
            shown: p.shown,
        };
        (names, m)
    }));
    out
}

/// [`parameters`], for updating in place.
fn parameters_mut<C: Cell>(case: &mut Case<f64, C>) -> Vec<&mut Matrix<f64>> {
    let mut out: Vec<&mut Matrix<f64>> = case.params.iter_mut().collect();
    out.extend(case.head.params_mut());
    out
}

/// The total gradients of the parameters of `case` (`dW_x, dW_h, db[, dW_out, db_out]`), in
/// the order of [`parameters`]: `g` must hold them all, as every backward pass's do.
pub fn gradient_list<C: Cell>(
    case: &Case<f64, C>,
    g: &Gradients<f64>,
) -> Result<Vec<(Trainable, Matrix<f64>)>> {
    parameters(case)
        .into_iter()
        .map(|(names, _)| match g.total(names.key) {
            Some(grad) => Ok((names, grad.clone())),
            None => Err(Error::invalid(
                "gradients",
                format!("no gradient of {} to train it with", names.shown),
            )),
        })
        .collect()
}

/// Which backward pass computes the gradients of a training step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GradientSource {
    /// Hand-written backpropagation through time ([`Case::bptt`]).
    #[default]
    Bptt,
    /// Reverse accumulation on the tape ([`Case::tape_gradients`]).
    Tape,
}

impl GradientSource {
    /// The gradients of `case`'s loss by this method.
    pub fn gradients<C: Cell>(self, case: &Case<f64, C>) -> Result<Gradients<f64>> {
        match self {
            GradientSource::Bptt => case.bptt(),
            GradientSource::Tape => case.tape_gradients(),
        }
    }
}

/// The global gradient norm `‖g‖ = √(Σ_i ‖g_i‖²)`: the Euclidean norm of all parameters'
/// gradients laid end to end as one vector.
pub fn global_norm(grads: &[Matrix<f64>]) -> f64 {
    grads
        .iter()
        .map(|g| g.as_slice().iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt()
}

/// Clipping by the global norm (Pascanu, Mikolov & Bengio 2013): when `‖g‖ > θ`, every
/// gradient is scaled by the same factor, `g_i ← θ · g_i / ‖g‖`, so the update keeps its
/// direction and its length becomes `θ`. `‖g‖` is [`global_norm`], over all parameters together
/// (not one norm per parameter). Returns `‖g‖` before clipping.
pub fn clip_global_norm(grads: &mut [Matrix<f64>], threshold: f64) -> f64 {
    let norm = global_norm(grads);
    if norm > threshold {
        let factor = threshold / norm;
        for g in grads.iter_mut() {
            *g = g.scale(factor);
        }
    }
    norm
}

/// The learning rate `η` of each parameter (the seed 004 notebook trains `W_x` and `W_h` at
/// different rates; a rate of 0 freezes a parameter): one rate for all, and rates of their own
/// for the parameters named.
#[derive(Clone, Debug, PartialEq)]
pub struct LearningRates {
    /// `η` for every parameter not named in `by_key`.
    pub default: f64,
    /// `η` for the parameters named, by key (`"w_h"`).
    pub by_key: Vec<(&'static str, f64)>,
}

impl LearningRates {
    /// The same rate `η` for every parameter.
    pub fn uniform(eta: f64) -> LearningRates {
        LearningRates {
            default: eta,
            by_key: Vec::new(),
        }
    }

    /// The same rates, with `η` for the parameter `key` (`"w_h"`).
    pub fn with(mut self, key: &'static str, eta: f64) -> LearningRates {
        self.by_key.retain(|(k, _)| *k != key);
        self.by_key.push((key, eta));
        self
    }

    /// The rate of the parameter `key`.
    pub fn of(&self, key: &str) -> f64 {
        self.by_key
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(self.default, |&(_, eta)| eta)
    }
}

/// How a gradient becomes a step. `k` counts updates from 1; `g` is the (clipped) gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Plain gradient descent: `θ ← θ − η·g`.
    Sgd,
    /// Momentum (heavy ball, as PyTorch writes it): `v ← β·v + g`, `θ ← θ − η·v`, from `v = 0`.
    Momentum {
        /// `β`, the fraction of the previous velocity kept (0.9 is usual).
        beta: f64,
    },
    /// Adam (Kingma & Ba 2015), from `m = v = 0`:
    /// `m ← β₁·m + (1−β₁)·g`, `v ← β₂·v + (1−β₂)·g⊙g`, `m̂ = m/(1−β₁ᵏ)`, `v̂ = v/(1−β₂ᵏ)`,
    /// `θ ← θ − η·m̂/(√v̂ + ε)`.
    Adam {
        /// `β₁`, decay of the first moment (0.9 is usual).
        beta1: f64,
        /// `β₂`, decay of the second moment (0.999 is usual).
        beta2: f64,
        /// `ε`, keeps the division finite (1e-8 is usual).
        eps: f64,
    },
}

impl Optimizer {
    /// Momentum with the usual `β = 0.9`.
    pub fn momentum() -> Optimizer {
        Optimizer::Momentum { beta: 0.9 }
    }

    /// Adam with the usual `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`.
    pub fn adam() -> Optimizer {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// A short description for printouts: `SGD`, `momentum β=0.9`, `Adam β₁=0.9 β₂=0.999`.
    pub fn describe(&self) -> String {
        match self {
            Optimizer::Sgd => "SGD".into(),
            Optimizer::Momentum { beta } => format!("momentum β={beta}"),
            Optimizer::Adam { beta1, beta2, .. } => format!("Adam β₁={beta1} β₂={beta2}"),
        }
    }

    /// Refuses constants outside their domain: `0 ≤ β < 1`, `ε > 0`.
    fn check(&self) -> Result<()> {
        let (betas, eps) = match *self {
            Optimizer::Sgd => (vec![], 1.0),
            Optimizer::Momentum { beta } => (vec![beta], 1.0),
            Optimizer::Adam { beta1, beta2, eps } => (vec![beta1, beta2], eps),
        };
        if let Some(beta) = betas.iter().find(|b| !(0.0..1.0).contains(*b)) {
            return Err(Error::invalid(
                "optimizer",
                format!("every β must lie in [0, 1), found {beta}"),
            ));
        }
        if eps.is_nan() || eps <= 0.0 {
            return Err(Error::invalid(
                "Adam eps",
                format!("must be > 0, found {eps}"),
            ));
        }
        Ok(())
    }
}

/// What an optimizer remembers between updates: the update count `k` and, per parameter, the
/// velocity `v` (momentum) or the moments `m`, `v` (Adam).
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    optimizer: Optimizer,
    updates: i32,
    first: Vec<Matrix<f64>>,
    second: Vec<Matrix<f64>>,
}

impl OptimizerState {
    /// A fresh state: `k = 0`, every moment zero (sized at the first update).
    pub fn new(optimizer: Optimizer) -> OptimizerState {
        OptimizerState {
            optimizer,
            updates: 0,
            first: Vec::new(),
            second: Vec::new(),
        }
    }

    /// Number of updates made so far, `k`.
    pub fn updates(&self) -> i32 {
        self.updates
    }

    /// One update of every parameter: `params[i] ← params[i] − rates[i]·step(grads[i])`, with
    /// `step` as [`Optimizer`] defines it. The three slices must match one to one, in the same
    /// order at every call (the moments are kept by position).
    pub fn update(
        &mut self,
        params: &mut [&mut Matrix<f64>],
        grads: &[Matrix<f64>],
        rates: &[f64],
    ) -> Result<()> {
        if grads.len() != params.len() || rates.len() != params.len() {
            return Err(Error::bad_shape(
                "OptimizerState::update",
                format!(
                    "{} gradients and {} rates (one per parameter)",
                    params.len(),
                    params.len()
                ),
                format!("{} gradients and {} rates", grads.len(), rates.len()),
            ));
        }
        for (p, g) in params.iter().zip(grads) {
            p.same_shape(g, "optimizer update")?;
        }
        if self.first.is_empty() {
            self.first = grads
                .iter()
                .map(|g| Matrix::zeros(g.rows(), g.cols()))
                .collect();
            self.second = self.first.clone();
        }
        if self.first.len() != params.len() {
            return Err(Error::bad_shape(
                "OptimizerState::update",
                format!("{} parameters, as at the first update", self.first.len()),
                format!("{} parameters", params.len()),
            ));
        }
        for (m, g) in self.first.iter().zip(grads) {
            m.same_shape(g, "optimizer moments")?;
        }
        self.updates += 1;
        let k = self.updates;
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let eta = rates[i];
            let step = match self.optimizer {
                Optimizer::Sgd => g.clone(),
                Optimizer::Momentum { beta } => {
                    let v = &mut self.first[i];
                    *v = v.zip_map(g, "momentum", |v, g| beta * v + g)?;
                    v.clone()
                }
                Optimizer::Adam { beta1, beta2, eps } => {
                    let m = &mut self.first[i];
                    *m = m.zip_map(g, "adam m", |m, g| beta1 * m + (1.0 - beta1) * g)?;
                    let v = &mut self.second[i];
                    *v = v.zip_map(g, "adam v", |v, g| beta2 * v + (1.0 - beta2) * g * g)?;
                    let (c1, c2) = (1.0 - beta1.powi(k), 1.0 - beta2.powi(k));
                    m.zip_map(v, "adam step", |m, v| (m / c1) / ((v / c2).sqrt() + eps))?
                }
            };
            **p = p.zip_map(&step, "update", |theta, s| theta - eta * s)?;
        }
        Ok(())
    }
}

/// Everything a training run needs besides the case.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Number of passes over the data.
    pub epochs: usize,
    /// `η` per parameter.
    pub rates: LearningRates,
    /// SGD, momentum or Adam.
    pub optimizer: Optimizer,
    /// The global-norm threshold `θ_clip` of [`clip_global_norm`], or no clipping.
    pub clip: Option<f64>,
    /// Sequences per update; `None` means the whole data set at once (full batch).
    pub batch_size: Option<usize>,
    /// Seed of the ChaCha8 stream that shuffles the sequences before every epoch; `None` keeps
    /// them in order.
    pub shuffle_seed: Option<u64>,
    /// Hand BPTT or the tape.
    pub gradients: GradientSource,
}

impl TrainConfig {
    /// Full-batch SGD at rate `η` for every parameter, no clipping, hand BPTT: the seed
    /// notebooks' training loop.
    pub fn sgd(eta: f64, epochs: usize) -> TrainConfig {
        TrainConfig {
            epochs,
            rates: LearningRates::uniform(eta),
            optimizer: Optimizer::Sgd,
            clip: None,
            batch_size: None,
            shuffle_seed: None,
            gradients: GradientSource::Bptt,
        }
    }

    /// Refuses settings that cannot train: a rate that is negative or not finite, a clipping
    /// threshold ≤ 0, a batch size of 0, optimizer constants out of range.
    pub fn check(&self) -> Result<()> {
        let named = self.rates.by_key.iter().copied();
        for (key, eta) in std::iter::once(("every parameter", self.rates.default)).chain(named) {
            if !(eta.is_finite() && eta >= 0.0) {
                return Err(Error::invalid(
                    format!("learning rate of {key}"),
                    format!("must be finite and ≥ 0, found {eta}"),
                ));
            }
        }
        if let Some(t) = self.clip
            && (t.is_nan() || t <= 0.0)
        {
            return Err(Error::invalid(
                "clip",
                format!("the threshold must be > 0, found {t}"),
            ));
        }
        if self.batch_size == Some(0) {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        self.optimizer.check()
    }
}

/// What a training run records.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// One loss per epoch, on the scale of the head's loss over the whole data: the mini-batches'
    /// losses, each taken *before* its update, summed for a head that sums over the batch
    /// (`sum_last`, `mse_all`) and averaged weighted by batch size for one that takes the mean
    /// (`softmax_ce`, `mse_last`). With full batches it is `L(θ)` at the start of the epoch,
    /// what the seed notebooks print, whatever the batch size.
    pub losses: Vec<f64>,
    /// The global gradient norm `‖g‖` of every update, before clipping.
    pub grad_norms: Vec<f64>,
    /// How many updates were clipped (`‖g‖ > θ_clip`).
    pub clipped: usize,
    /// The epoch (from 1) whose loss was NaN or infinite, if training diverged; it stops there.
    pub diverged_at: Option<usize>,
}

impl History {
    /// The last epoch's loss (NaN before any epoch).
    pub fn last_loss(&self) -> f64 {
        self.losses.last().copied().unwrap_or(f64::NAN)
    }
}

/// Row `rows[i]` of `m` as row `i` of the result.
fn pick_rows(m: &Matrix<f64>, rows: &[usize]) -> Matrix<f64> {
    Matrix::from_fn(rows.len(), m.cols(), |i, j| m[(rows[i], j)])
}

/// The mini-batch of `case` made of the sequences `rows`, with the same parameters.
fn mini_batch<C: Cell>(case: &Case<f64, C>, rows: &[usize]) -> Case<f64, C> {
    let pick = |ys: &[Matrix<f64>]| ys.iter().map(|y| pick_rows(y, rows)).collect();
    let pick_labels = |labels: &[usize]| rows.iter().map(|&i| labels[i]).collect::<Vec<_>>();
    let mut head = case.head.clone();
    match &mut head {
        Head::SumLast => {}
        Head::SoftmaxCe { labels, .. } => *labels = pick_labels(labels),
        Head::SoftmaxCeAll { labels, mask, .. } => {
            *labels = labels.iter().map(|l| pick_labels(l)).collect();
            *mask = mask
                .iter()
                .map(|m| rows.iter().map(|&i| m[i]).collect())
                .collect();
        }
        Head::MseAll { targets, .. } => *targets = pick(targets),
        Head::MseLast { target, .. } => *target = pick_rows(target, rows),
        Head::Upstream { dout } => *dout = pick(dout),
    }
    // Built directly, not through `Case::new`: the rows of a valid case fit together, and a
    // diverged run must reach the end of its epoch to be recorded, NaN weights and all.
    Case {
        cell: case.cell.clone(),
        params: case.params.clone(),
        x: case.x.iter().map(|x_t| pick_rows(x_t, rows)).collect(),
        initial: case.initial.iter().map(|s| pick_rows(s, rows)).collect(),
        head,
    }
}

/// Trains the parameters of `case` in place (see the module docs for one update) and returns
/// the loss history. Training stops early, with [`History::diverged_at`] set, at the first
/// epoch whose loss is NaN or infinite.
pub fn train<C: Cell>(case: &mut Case<f64, C>, config: &TrainConfig) -> Result<History> {
    config.check()?;
    // A rate for a parameter the case does not have would silently train nothing at it.
    let keys: Vec<&str> = parameters(case).iter().map(|(p, _)| p.key).collect();
    if let Some((key, _)) = config.rates.by_key.iter().find(|(k, _)| !keys.contains(k)) {
        return Err(Error::invalid(
            format!("learning rate of {key}"),
            format!(
                "the case has no parameter {key:?}; its parameters: {}",
                keys.join(", ")
            ),
        ));
    }
    let n = case.h0().rows();
    let batch_size = config.batch_size.unwrap_or(n).min(n);
    let mut order: Vec<usize> = (0..n).collect();
    let mut shuffler = config.shuffle_seed.map(rng);
    let mut state = OptimizerState::new(config.optimizer);
    let mut history = History {
        losses: Vec::with_capacity(config.epochs),
        grad_norms: Vec::new(),
        clipped: 0,
        diverged_at: None,
    };
    for epoch in 1..=config.epochs {
        if let Some(r) = shuffler.as_mut() {
            order.shuffle(r);
        }
        let mut loss_sum = 0.0;
        for rows in order.chunks(batch_size) {
            // A full batch is the case itself: the order of the rows changes nothing.
            let grads = if rows.len() == n {
                config.gradients.gradients(case)?
            } else {
                config.gradients.gradients(&mini_batch(case, rows))?
            };
            // A head that averages over the batch gives each batch's mean: weight it by the
            // batch's size. A head that sums over the batch already gives its share of the sum.
            loss_sum += if averages_over_batch(&case.head) {
                grads.loss * rows.len() as f64 / n as f64
            } else {
                grads.loss
            };
            let (names, mut g): (Vec<Trainable>, Vec<Matrix<f64>>) =
                gradient_list(case, &grads)?.into_iter().unzip();
            let norm = match config.clip {
                Some(threshold) => clip_global_norm(&mut g, threshold),
                None => global_norm(&g),
            };
            if config.clip.is_some_and(|t| norm > t) {
                history.clipped += 1;
            }
            history.grad_norms.push(norm);
            let rates: Vec<f64> = names.iter().map(|p| config.rates.of(p.key)).collect();
            let mut params = parameters_mut(case);
            state.update(&mut params, &g, &rates)?;
        }
        let loss = loss_sum;
        history.losses.push(loss);
        if !loss.is_finite() {
            history.diverged_at = Some(epoch);
            break;
        }
    }
    Ok(history)
}

/// Whether `head`'s loss is a mean over the batch (so a mini-batch's loss estimates the whole
/// data's) rather than a sum (so mini-batches' losses add up to it).
fn averages_over_batch(head: &Head<f64>) -> bool {
    head.reduction() == Some(Reduction::Mean)
}

/// Converts sequences in numpy's layout, `x[i][t][f]` for sequence `i`, step `t`, feature `f`
/// (shape `(batch, steps, features)`), to the crate's layout: one `batch × features` matrix
/// `x_t` per step.
pub fn sequences_to_steps(sequences: &[Vec<Vec<f64>>]) -> Result<Vec<Matrix<f64>>> {
    let Some(first) = sequences.first() else {
        return Err(Error::bad_shape(
            "sequences",
            "at least one sequence",
            "none",
        ));
    };
    let (steps, features) = (first.len(), first.first().map_or(0, Vec::len));
    for (i, seq) in sequences.iter().enumerate() {
        let found = (seq.len(), seq.first().map_or(0, Vec::len));
        if found != (steps, features) || seq.iter().any(|x| x.len() != features) {
            return Err(Error::bad_shape(
                format!("sequences[{i}]"),
                format!(
                    "{} (steps × features, like sequence 0)",
                    shape_str((steps, features))
                ),
                format!(
                    "{} steps of lengths {:?}",
                    seq.len(),
                    seq.iter().map(Vec::len).collect::<Vec<_>>()
                ),
            ));
        }
    }
    Ok((0..steps)
        .map(|t| Matrix::from_fn(sequences.len(), features, |i, f| sequences[i][t][f]))
        .collect())
}
