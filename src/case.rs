//! A case: everything one gradient check needs, i.e. a cell, its parameters, the inputs
//! `x_1 … x_T`, the initial state and the head. The canonical example of the seed notebooks is
//! one; seeded random cases are others; the command-line tool reads users' own from JSON.
//!
//! A `Case` computes its gradients two ways, [`Case::bptt`] (by hand) and
//! [`Case::tape_gradients`] (on the tape); [`crate::check`] adds the third, finite differences.

use crate::bound::Bound;
use crate::bptt;
use crate::cell::{Cell, Dim, quantities};
use crate::cells::Rnn;
use crate::error::{Error, Result, shape_str};
use crate::gradients::{Gradients, Keep};
use crate::init;
use crate::loss::{Head, Reduction, TapeHead};
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use crate::sequence::{self, Forward, Recording};
use crate::tape::Tape;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// One complete problem: a cell and its parameters, inputs, initial state and loss. `C` is the
/// cell; without it, `Case<f64>` is a case of the vanilla [`Rnn`].
#[derive(Clone, Debug, PartialEq)]
pub struct Case<T, C = Rnn> {
    /// The cell (for the RNN, its activation).
    pub cell: C,
    /// The cell's parameters, in the order of [`Cell::PARAMS`] (`W_x`, `W_h`, `b`).
    pub params: Vec<Matrix<T>>,
    /// `x_1 … x_T` at indices `0 … T−1`, each `batch × features`.
    pub x: Vec<Matrix<T>>,
    /// The initial state, one matrix per part of the state ([`Cell::STATES`]: `h_0`), each
    /// `batch × hidden`.
    pub initial: Vec<Matrix<T>>,
    /// The loss on top of the states.
    pub head: Head<T>,
}

/// The sizes of a case: numpy's `x.shape == (batch, steps, features)` and `hidden` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Sequences in the batch, `B`.
    pub batch: usize,
    /// Time steps, `T`.
    pub steps: usize,
    /// Input features, `F`.
    pub features: usize,
    /// Hidden units, `H`.
    pub hidden: usize,
}

/// How many times [`Case::input_spread`] changes the inputs' last digits.
pub const SPREAD_RUNS: usize = 3;

/// The seed of [`Case::input_spread`]'s changes.
const SPREAD_SEED: u64 = 0x5EED;

/// Which head a random case gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadKind {
    /// `L = Σ h_T`.
    SumLast,
    /// Softmax cross-entropy over this many classes.
    SoftmaxCe(usize),
    /// `L = ½ Σ_t Σ (h_t − y_t)²` with random targets.
    MseAll,
    /// `L = (1/B) Σ (h_T − y)²` with a random target.
    MseLast,
    /// Softmax cross-entropy at every step over this many classes, with about a quarter of the
    /// labels before the last step masked out (so that every `dh[t]` has something to check).
    SoftmaxCeAll(usize),
    /// `L = Σ_t ⟨dout_t, h_t⟩` with a random upstream gradient.
    Upstream,
}

impl HeadKind {
    /// Every head, the softmax one over `classes` classes: what a test that should hold for
    /// any loss loops over.
    pub fn all(classes: usize) -> [HeadKind; 6] {
        [
            HeadKind::SumLast,
            HeadKind::SoftmaxCe(classes),
            HeadKind::MseAll,
            HeadKind::MseLast,
            HeadKind::SoftmaxCeAll(classes),
            HeadKind::Upstream,
        ]
    }
}

/// Refuses NaN and infinity in `m`, naming `what` and the entry.
fn check_finite<T: Scalar>(what: &str, m: &Matrix<T>) -> Result<()> {
    match m.first_non_finite() {
        Some((i, j)) => Err(Error::NonFinite {
            what: what.to_string(),
            index: format!("[{i}][{j}]"),
        }),
        None => Ok(()),
    }
}

/// The number of hidden units the parameters of `C` imply: read from the first parameter whose
/// columns are a multiple of `H` (the RNN's `W_x`, `features × hidden`).
fn hidden_of<T: Scalar, C: Cell>(params: &[Matrix<T>]) -> Result<usize> {
    let (param, value, k) = C::PARAMS
        .iter()
        .zip(params)
        .find_map(|(p, v)| match p.cols {
            Dim::Hidden(k) => Some((p, v, k)),
            Dim::Features | Dim::One => None,
        })
        .expect("invariant: a cell has a parameter of hidden columns");
    let hidden = value.cols() / k;
    if hidden == 0 || value.cols() % k != 0 {
        return Err(Error::bad_shape(
            param.key,
            format!(
                "{} with hidden ≥ 1 (columns a multiple of {k})",
                param.words()
            ),
            shape_str(value.shape()),
        ));
    }
    Ok(hidden)
}

/// Checks the parameters of `C` against each other and the inputs `x_1 … x_T` (at least one
/// step, every `x_t` of one shape `batch × features`, batch ≥ 1), and returns
/// `(batch, features, hidden)`.
fn sizes<T: Scalar, C: Cell>(
    params: &[Matrix<T>],
    x: &[Matrix<T>],
) -> Result<(usize, usize, usize)> {
    if params.len() != C::PARAMS.len() {
        let keys: Vec<&str> = C::PARAMS.iter().map(|p| p.key).collect();
        return Err(Error::bad_shape(
            "parameters",
            format!("{} ({})", keys.len(), keys.join(", ")),
            params.len().to_string(),
        ));
    }
    let Some(first) = x.first() else {
        return Err(Error::bad_shape("x", "at least one time step", "0 steps"));
    };
    let (batch, features) = first.shape();
    if batch == 0 {
        return Err(Error::bad_shape(
            "x",
            "a batch of at least one sequence",
            "batch 0",
        ));
    }
    let hidden = hidden_of::<T, C>(params)?;
    for (p, value) in C::PARAMS.iter().zip(params) {
        let want = p.shape(features, hidden);
        if value.shape() != want || features == 0 {
            return Err(Error::bad_shape(
                p.key,
                format!(
                    "{} {} (features from x, hidden = {hidden})",
                    shape_str(want),
                    p.words()
                ),
                shape_str(value.shape()),
            ));
        }
    }
    for (i, x_t) in x.iter().enumerate() {
        if x_t.shape() != (batch, features) {
            return Err(Error::bad_shape(
                format!("x (step t = {})", i + 1),
                format!("{batch}×{features} (batch × features, as x_1)"),
                shape_str(x_t.shape()),
            ));
        }
    }
    Ok((batch, features, hidden))
}

impl<T: Scalar, C: Cell> Case<T, C> {
    /// Checks every shape against every other and every value for NaN or infinity, then builds
    /// the case. `params` are the cell's in the order of [`Cell::PARAMS`]; `initial` holds the
    /// initial state's parts in the order of [`Cell::STATES`], where a missing or `None` part
    /// means zeros (`vec![]` for a zero state, `vec![Some(h0)]` for a given `h_0`).
    pub fn new(
        cell: C,
        params: Vec<Matrix<T>>,
        x: Vec<Matrix<T>>,
        initial: Vec<Option<Matrix<T>>>,
        head: Head<T>,
    ) -> Result<Case<T, C>> {
        let (batch, _, hidden) = sizes::<T, C>(&params, &x)?;
        if initial.len() > C::STATES.len() {
            return Err(Error::bad_shape(
                "initial state",
                format!("at most {} parts", C::STATES.len()),
                initial.len().to_string(),
            ));
        }
        let mut given = initial.into_iter();
        let initial = C::STATES
            .iter()
            .map(|_| {
                given
                    .next()
                    .flatten()
                    .unwrap_or_else(|| Matrix::zeros(batch, hidden))
            })
            .collect();
        let case = Case {
            cell,
            params,
            x,
            initial,
            head,
        };
        case.check_shapes()?;
        for (p, value) in C::PARAMS.iter().zip(&case.params) {
            check_finite(p.key, value)?;
        }
        for (s, s0) in C::STATES.iter().zip(&case.initial) {
            check_finite(s.initial, s0)?;
        }
        for (t, x_t) in case.x.iter().enumerate() {
            check_finite(&format!("x (step t = {})", t + 1), x_t)?;
        }
        for (p, value) in case.head.params() {
            check_finite(&format!("loss.{}", p.key), value)?;
        }
        for (what, values) in case.head.data() {
            match values {
                [one] if !case.head.reads_every_state() => check_finite(what, one)?,
                _ => {
                    for (t, v) in values.iter().enumerate() {
                        check_finite(&format!("{what} (step t = {})", t + 1), v)?;
                    }
                }
            }
        }
        Ok(case)
    }

    /// A seeded random case of `cell`: `x ~ N(0, 1)`, each weight `~ N(0, 1/fan_in)` (its rows:
    /// `1/F` for `W_x`, `1/H` for `W_h`), each bias and initial state `~ N(0, 0.1²)`, and for the
    /// heads `W_out ~ N(0, 1/H)`, `b_out ~ N(0, 0.1²)`, labels uniform, targets `~ N(0, 0.5²)`.
    /// The same seed gives the same case on every machine (ChaCha8).
    pub fn random(seed: u64, dims: Dims, head: HeadKind, cell: C) -> Case<T, C> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal =
            |rows: usize, cols: usize, std: f64| init::normal::<T>(&mut rng, rows, cols, std);
        let Dims {
            batch,
            steps,
            features,
            hidden,
        } = dims;
        let params = C::PARAMS
            .iter()
            .map(|p| {
                let (rows, cols) = p.shape(features, hidden);
                let std = if p.is_row() {
                    0.1
                } else {
                    1.0 / (rows as f64).sqrt()
                };
                normal(rows, cols, std)
            })
            .collect();
        let initial = C::STATES
            .iter()
            .map(|_| Some(normal(batch, hidden, 0.1)))
            .collect();
        let x = (0..steps).map(|_| normal(batch, features, 1.0)).collect();
        let head = match head {
            HeadKind::SumLast => Head::SumLast,
            HeadKind::SoftmaxCe(classes) => {
                let w_out = normal(hidden, classes, 1.0 / (hidden as f64).sqrt());
                let b_out = normal(1, classes, 0.1);
                let mut labels_rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
                let labels = (0..batch)
                    .map(|_| labels_rng.random_range(0..classes))
                    .collect();
                Head::softmax_ce(w_out, b_out, labels)
            }
            HeadKind::MseAll => {
                Head::mse_all((0..steps).map(|_| normal(batch, hidden, 0.5)).collect())
            }
            HeadKind::MseLast => Head::mse_last(normal(batch, hidden, 0.5)),
            HeadKind::SoftmaxCeAll(classes) => {
                let w_out = normal(hidden, classes, 1.0 / (hidden as f64).sqrt());
                let b_out = normal(1, classes, 0.1);
                let mut labels_rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
                let labels = (0..steps)
                    .map(|_| {
                        (0..batch)
                            .map(|_| labels_rng.random_range(0..classes))
                            .collect()
                    })
                    .collect();
                let mask = (1..=steps)
                    .map(|t| {
                        (0..batch)
                            .map(|_| t == steps || labels_rng.random_range(0..4) != 0)
                            .collect()
                    })
                    .collect();
                Head::SoftmaxCeAll {
                    w_out,
                    b_out,
                    labels,
                    mask,
                    reduction: Reduction::Mean,
                }
            }
            HeadKind::Upstream => Head::Upstream {
                dout: (0..steps).map(|_| normal(batch, hidden, 1.0)).collect(),
            },
        };
        Case::new(cell, params, x, initial, head).expect("a random case is valid")
    }

    /// The same case in another number type: every value converted as [`Matrix::cast`] does
    /// (exactly, from f32 or f64 to f64, or to a dual number with tangent zero).
    pub fn cast<U: Scalar>(&self) -> Case<U, C> {
        Case {
            cell: self.cell.clone(),
            params: self.params.iter().map(Matrix::cast).collect(),
            x: self.x.iter().map(Matrix::cast).collect(),
            initial: self.initial.iter().map(Matrix::cast).collect(),
            head: self.head.cast(),
        }
    }

    /// Row `i` of the batch as a case of its own, and the weight of its loss in this case's
    /// ([`Head::row`]): every cell treats the rows of a batch independently, so a value that
    /// moves row `i` alone (of a state, an internal value, an input, the initial state) moves
    /// `L` by that weight times what it moves the row's loss.
    pub(crate) fn row(&self, i: usize) -> (Case<T, C>, T) {
        let one_row = |m: &Matrix<T>| m.row_block(i, 1);
        let (head, weight) = self.head.row(i, self.dims().batch);
        let case = Case {
            cell: self.cell.clone(),
            params: self.params.clone(),
            x: self.x.iter().map(one_row).collect(),
            initial: self.initial.iter().map(one_row).collect(),
            head,
        };
        (case, weight)
    }

    /// The sizes of the case.
    pub fn dims(&self) -> Dims {
        let (batch, hidden) = self.initial[0].shape();
        Dims {
            batch,
            steps: self.x.len(),
            features: self.x[0].cols(),
            hidden,
        }
    }

    /// The parameter called `key` (`"w_h"`).
    ///
    /// # Panics
    /// If the cell has no such parameter: the keys are the cell's own, known when the program
    /// is written.
    pub fn param(&self, key: &str) -> &Matrix<T> {
        let i = C::PARAMS
            .iter()
            .position(|p| p.key == key)
            .unwrap_or_else(|| panic!("the {} cell has no parameter {key:?}", C::KIND));
        &self.params[i]
    }

    /// The parameters as the steps take them.
    pub fn param_refs(&self) -> Vec<&Matrix<T>> {
        self.params.iter().collect()
    }

    /// The initial state `h_0`.
    pub fn h0(&self) -> &Matrix<T> {
        &self.initial[0]
    }

    /// Checks every shape against every other: the parameters against each other and the
    /// inputs, the initial state and the head against the inputs. [`Case::new`] checks it, and
    /// so does every pass, because the fields are public and a case may be built by hand.
    pub fn check_shapes(&self) -> Result<()> {
        let (batch, _, hidden) = sizes::<T, C>(&self.params, &self.x)?;
        if self.initial.len() != C::STATES.len() {
            return Err(Error::bad_shape(
                "initial state",
                format!("{} parts", C::STATES.len()),
                self.initial.len().to_string(),
            ));
        }
        for (s, s0) in C::STATES.iter().zip(&self.initial) {
            if s0.shape() != (batch, hidden) {
                return Err(Error::bad_shape(
                    s.initial,
                    format!("{batch}×{hidden} (batch × hidden)"),
                    shape_str(s0.shape()),
                ));
            }
        }
        self.head.check(batch, hidden, self.x.len())
    }

    /// The plain forward pass, keeping every state and internal value.
    pub fn forward(&self) -> Result<Forward<T>> {
        self.check_shapes()?;
        Ok(sequence::forward(
            &self.cell,
            &self.param_refs(),
            &self.x,
            &self.initial,
        ))
    }

    /// The loss `L`, after checking the head against the inputs.
    pub fn loss(&self) -> Result<T> {
        self.head.loss(self.forward()?.states())
    }

    /// Every gradient by hand BPTT ([`crate::bptt`]), with every step's quantities.
    pub fn bptt(&self) -> Result<Gradients<T>> {
        self.bptt_keeping(Keep::Every)
    }

    /// Every total by hand BPTT, with the quantities of the steps `keep` names: what a check of
    /// some steps compares, in memory that does not grow with `T` times the weights' size.
    pub fn bptt_keeping(&self, keep: Keep<'_>) -> Result<Gradients<T>> {
        let fwd = self.forward()?;
        let loss = self.head.loss(fwd.states())?;
        let head = self.head.grads(fwd.states())?;
        Ok(bptt::backward(self, &fwd, head, loss, keep))
    }

    /// Records the forward pass and the head on `tape`, each step with its own copy of the
    /// parameters.
    pub fn record<'t>(&self, tape: &'t Tape<T>) -> Result<(Recording<'t, T>, TapeHead<'t, T>)> {
        self.record_untying(tape, Keep::Every)
    }

    /// Records the forward pass and the head on `tape`, giving the steps `untie` names their own
    /// copies of the parameters ([`sequence::record`]).
    pub fn record_untying<'t>(
        &self,
        tape: &'t Tape<T>,
        untie: Keep<'_>,
    ) -> Result<(Recording<'t, T>, TapeHead<'t, T>)> {
        self.check_shapes()?;
        let rec = sequence::record(
            &self.cell,
            tape,
            &self.params,
            &self.x,
            &self.initial,
            untie,
        )?;
        let head = self.head.on_tape(&rec.h())?;
        Ok((rec, head))
    }

    /// For every gradient of hand BPTT, the scale of its round-off: hand BPTT run once more in
    /// [`crate::bound::Bound`] arithmetic, each operation's rounding added in quadrature. Two
    /// correct computations of an entry differ by a few `ε_mach` of its scale, however much
    /// its terms cancel (an exact zero, `1 − h²` at a saturated `h`).
    pub fn roundoff_scales(&self) -> Result<Gradients<T>> {
        self.roundoff_scales_keeping(Keep::Every)
    }

    /// [`Case::roundoff_scales`] at the steps `keep` names, and of the totals.
    pub fn roundoff_scales_keeping(&self, keep: Keep<'_>) -> Result<Gradients<T>> {
        Ok(self
            .cast::<Bound<T>>()
            .bptt_keeping(keep)?
            .map(|b| b.magnitude()))
    }

    /// For every gradient of hand BPTT, how far it moves when the case's inputs change in their
    /// last digits: the largest `|g' − g|` over [`SPREAD_RUNS`] runs, each multiplying every
    /// entry of `x`, the parameters, the initial state and the head's parameters by
    /// `1 + ε·u`, with `u` uniform in `[−1, 1]` (seeded, the same on every machine). A correct
    /// backward pass whose inputs are held to `ε` (float32 arrays: `ε = 2⁻²⁴`) can be that far
    /// from the exact gradients on those grounds alone: the case's conditioning, which a large
    /// spectral radius or a saturated activation makes large.
    pub fn input_spread(&self, epsilon: f64) -> Result<Gradients<T>> {
        let exact = self.bptt()?;
        let mut rng = ChaCha8Rng::seed_from_u64(SPREAD_SEED);
        let mut spread = exact.map(|_| T::zero());
        for _ in 0..SPREAD_RUNS {
            let mut moved = self.clone();
            let mut nudge = |m: &mut Matrix<T>| {
                for v in m.as_mut_slice() {
                    let u: f64 = rng.random_range(-1.0..=1.0);
                    *v *= T::from_f64(1.0 + epsilon * u);
                }
            };
            moved.x.iter_mut().for_each(&mut nudge);
            moved.params.iter_mut().for_each(&mut nudge);
            moved.initial.iter_mut().for_each(&mut nudge);
            moved.head.params_mut().into_iter().for_each(&mut nudge);
            let moved_by = moved.bptt()?.zip_map(&exact, |m, e| (m - e).abs());
            spread = spread.zip_map(&moved_by, T::max);
        }
        Ok(spread)
    }

    /// The scale against which `check --against` allows round-off in values given to `ε`,
    /// entry by entry: the larger of the terms' round-off scale ([`Case::roundoff_scales`]) and
    /// the input spread over `ε` ([`Case::input_spread`]), so that a few `ε` of it covers both
    /// the rounding of a correct computation and the case's conditioning.
    pub fn referee_scales(&self, epsilon: f64) -> Result<Gradients<T>> {
        let terms = self.roundoff_scales()?;
        let spread = self.input_spread(epsilon)?;
        let over_epsilon = T::from_f64(1.0 / epsilon);
        Ok(terms.zip_map(&spread, |m, s| m.max(s * over_epsilon)))
    }

    /// Every gradient from one backward sweep of the tape, read back by handle: each per-step
    /// quantity from the node it is the gradient of (`dh[t]` from `h_t`, `da[t]` from `a_t`,
    /// `dx[t]` from the leaf `x_t`, step t's weight contributions from step t's aliases).
    pub fn tape_gradients(&self) -> Result<Gradients<T>> {
        self.tape_gradients_keeping(Keep::Every)
    }

    /// [`Case::tape_gradients`] with the quantities of the steps `keep` names, the others'
    /// parameters not untied ([`Case::record_untying`]).
    pub fn tape_gradients_keeping(&self, keep: Keep<'_>) -> Result<Gradients<T>> {
        let tape = Tape::new();
        let (rec, head) = self.record_untying(&tape, keep)?;
        let grads = head.loss.backward();
        let qs = quantities::<C>();
        let kept = keep.mask(self.x.len());
        let steps = (1..=self.x.len())
            .map(|t| {
                qs.iter()
                    .filter(|_| kept[t - 1])
                    .filter_map(|q| Some((q.name, grads.wrt(rec.node(q, t)?))))
                    .collect()
            })
            .collect();
        let mut totals: Vec<_> = C::PARAMS
            .iter()
            .zip(&rec.params)
            .map(|(p, &v)| (p.key, grads.wrt(v)))
            .collect();
        totals.extend(
            C::STATES
                .iter()
                .zip(&rec.states[0])
                .map(|(s, &v)| (s.initial, grads.wrt(v))),
        );
        totals.extend(head.params.iter().map(|&(key, v)| (key, grads.wrt(v))));
        Ok(Gradients {
            loss: head.loss.value()[(0, 0)],
            steps,
            totals,
        })
    }
}

impl<T: Scalar> Case<T, Rnn> {
    /// The example every seed notebook has: `x = [[[1,2],[2,3],[3,4]]]/100`,
    /// `W_x = [[1,3,5,7],[3,5,7,8]]/100`, `W_h = [[1,3,5,7],[2,4,6,8],[3,5,7,8],[4,6,8,10]]/100`,
    /// `b = [1,1,1,1]`, `h_0 = 0`, tanh, `L = Σ h_3`. Its final state is
    /// `h_3 = [[0.79494228 0.81839002 0.83939649 0.85584174]]`.
    pub fn canonical() -> Case<T, Rnn> {
        let hundredths = |rows: &[&[f64]]| {
            Matrix::from_fn(rows.len(), rows[0].len(), |i, j| {
                T::from_f64(rows[i][j] / 100.0)
            })
        };
        let w_x = hundredths(&[&[1.0, 3.0, 5.0, 7.0], &[3.0, 5.0, 7.0, 8.0]]);
        let w_h = hundredths(&[
            &[1.0, 3.0, 5.0, 7.0],
            &[2.0, 4.0, 6.0, 8.0],
            &[3.0, 5.0, 7.0, 8.0],
            &[4.0, 6.0, 8.0, 10.0],
        ]);
        let b = Matrix::filled(1, 4, T::one());
        let x = vec![
            hundredths(&[&[1.0, 2.0]]),
            hundredths(&[&[2.0, 3.0]]),
            hundredths(&[&[3.0, 4.0]]),
        ];
        Case::new(Rnn::default(), vec![w_x, w_h, b], x, vec![], Head::SumLast)
            .expect("the canonical case is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::Lstm;

    /// A row of the batch as a case of its own: its loss, times its weight, summed over the
    /// rows, is the case's, and its weighted per-step gradients are the case's in that row, for
    /// every head (means and sums) and a cell with two parts of state.
    #[test]
    fn each_row_is_a_case_whose_weighted_loss_sums_to_the_case() {
        let dims = Dims {
            batch: 3,
            steps: 4,
            features: 2,
            hidden: 3,
        };
        for (k, head) in HeadKind::all(3).into_iter().enumerate() {
            let case = Case::<f64, Lstm>::random(70 + k as u64, dims, head, Lstm::default());
            let whole = case.bptt().unwrap();
            let mut sum = 0.0;
            for i in 0..dims.batch {
                let (row, weight) = case.row(i);
                let part = row.bptt().unwrap();
                sum += weight * part.loss;
                for t in 1..=dims.steps {
                    for name in ["dh", "dc", "da", "dx"] {
                        let got = part.get(t, name).unwrap().map(|g| weight * g);
                        let want = whole.get(t, name).unwrap().row_block(i, 1);
                        let rel = crate::fd::relative_error(&got, &want);
                        assert!(rel <= 1e-12, "{head:?} row {i}: {name}_{t} {rel:e}");
                    }
                }
            }
            let rel = (sum - whole.loss).abs() / whole.loss.abs();
            assert!(
                rel <= 1e-12,
                "{head:?}: Σ w·L_i = {sum}, L = {}",
                whole.loss
            );
        }
    }

    /// The input spread is the gradients' first-order response to the inputs' last digits:
    /// nothing at `ε = 0`, and twice as much (to a few percent) at twice the `ε`.
    #[test]
    fn the_input_spread_grows_with_the_change_of_the_inputs() {
        let dims = Dims {
            batch: 2,
            steps: 4,
            features: 3,
            hidden: 5,
        };
        let case = Case::<f64>::random(9, dims, HeadKind::SoftmaxCe(3), Rnn::default());
        let largest = |g: &Gradients<f64>| {
            let steps = g.steps.iter().flatten().map(|(_, m)| m.max_abs());
            let totals = g.totals.iter().map(|(_, m)| m.max_abs());
            steps.chain(totals).fold(0.0, f64::max)
        };
        assert_eq!(largest(&case.input_spread(0.0).unwrap()), 0.0);
        let (one, two) = (1e-6, 2e-6);
        let (s1, s2) = (
            case.input_spread(one).unwrap(),
            case.input_spread(two).unwrap(),
        );
        let ratio = largest(&s2) / largest(&s1);
        assert!((ratio - 2.0).abs() < 0.05, "ratio {ratio}");
        let exact = largest(&case.bptt().unwrap());
        assert!(largest(&s1) > 1e-3 * one * exact, "the inputs were changed");
    }
}
