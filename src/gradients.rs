//! Gradients by name: what every method (hand BPTT, the tape, finite differences) computes, and
//! what a student hands in.
//!
//! A name is the key `grads --json` writes: per step the cell's quantities (`dh`, `da`, `dx`,
//! `dw_x`, `dw_h`, `db` for the RNN), and as totals each parameter's gradient (`w_x`, `w_h`,
//! `b`), each initial state's (`h0`) and the head's parameters' (`w_out`, `b_out`). Every cell's
//! first state is `h`, so `dh` and `h0` are there for every cell.

use crate::matrix::Matrix;
use crate::scalar::Scalar;

/// Matrices by name, in a fixed order: a step's quantities, or the totals.
pub type Named<T> = Vec<(&'static str, Matrix<T>)>;

/// The matrix called `name` in `list`, if it is there.
pub fn named<'a, T>(list: &'a [(&'static str, Matrix<T>)], name: &str) -> Option<&'a Matrix<T>> {
    list.iter().find(|(key, _)| *key == name).map(|(_, m)| m)
}

/// Which steps a backward pass keeps the quantities of: every step (what a trace prints and
/// `grads` writes), or only the steps a check compares. A step's weight contributions are
/// matrices of the weights' size (`dW_h[t]` is `H × H`), so keeping them at every step of a
/// long sequence costs `T` times the weights' memory: a check of three steps of a `T = 100 000`,
/// `H = 512` sequence needs 6 of them, where all would take 200 GiB. The totals, which sum
/// every step's contribution, are computed the same way whatever is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep<'a> {
    /// Every step's quantities.
    Every,
    /// The quantities of these steps (`t = 1..=T`) only; the others' records are empty.
    Steps(&'a [usize]),
}

impl Keep<'_> {
    /// Whether each step `t = 1..=steps` is kept, at index `t − 1` (a step beyond `steps` is
    /// ignored).
    pub fn mask(self, steps: usize) -> Vec<bool> {
        match self {
            Keep::Every => vec![true; steps],
            Keep::Steps(chosen) => {
                let mut kept = vec![false; steps];
                for &t in chosen.iter().filter(|&&t| (1..=steps).contains(&t)) {
                    kept[t - 1] = true;
                }
                kept
            }
        }
    }
}

/// Every gradient of one case, by name.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<T> {
    /// The loss `L` these are the gradients of.
    pub loss: T,
    /// Step t's quantities at index `t − 1`, in the cell's order
    /// ([`crate::cell::quantities`]); empty at a step that was not kept ([`Keep`]). The training
    /// path keeps `dx` alone.
    pub steps: Vec<Named<T>>,
    /// Each parameter's total (`dW_x = Σ_t dW_x[t]`, …), each initial state's gradient
    /// (`dh[0] = ∂L/∂h_0`), then the head's parameters', in that order.
    pub totals: Named<T>,
}

impl<T: Scalar> Gradients<T> {
    /// Step t's quantities, for `t = 1..=T`.
    pub fn step(&self, t: usize) -> &Named<T> {
        assert!(
            (1..=self.steps.len()).contains(&t),
            "steps are numbered 1..=T, asked t = {t}"
        );
        &self.steps[t - 1]
    }

    /// The quantity `name` at step t (`dw_h` at 3 is `dW_h[3]`), if these gradients have it.
    pub fn get(&self, t: usize, name: &str) -> Option<&Matrix<T>> {
        named(self.steps.get(t.checked_sub(1)?)?, name)
    }

    /// The quantity `name` at step t, to change it (a planted mistake, in tests and the
    /// tutorial).
    pub fn get_mut(&mut self, t: usize, name: &str) -> Option<&mut Matrix<T>> {
        let step = self.steps.get_mut(t.checked_sub(1)?)?;
        step.iter_mut()
            .find(|(key, _)| *key == name)
            .map(|(_, m)| m)
    }

    /// The total `name` (`w_h` is `dW_h`, `h0` is `∂L/∂h_0`), if these gradients have it.
    pub fn total(&self, name: &str) -> Option<&Matrix<T>> {
        named(&self.totals, name)
    }

    /// `dh[t] = ∂L/∂h_t` for `t = 0..=T`.
    ///
    /// # Panics
    /// If these gradients do not hold it (the training path keeps `dx` alone).
    pub fn dh(&self, t: usize) -> &Matrix<T> {
        let found = if t == 0 {
            self.total("h0")
        } else {
            self.get(t, "dh")
        };
        found.unwrap_or_else(|| panic!("these gradients do not hold dh at t = {t}"))
    }

    /// The same gradients with `f` applied to every entry and to the loss: how the parts of
    /// gradients computed in another number type are read (a dual number's tangent, a
    /// [`crate::bound::Bound`]'s scale).
    pub fn map<U: Scalar>(&self, f: impl Fn(T) -> U) -> Gradients<U> {
        let part = |m: &Matrix<T>| Matrix::from_fn(m.rows(), m.cols(), |i, j| f(m[(i, j)]));
        let named = |list: &Named<T>| list.iter().map(|(k, m)| (*k, part(m))).collect();
        Gradients {
            loss: f(self.loss),
            steps: self.steps.iter().map(named).collect(),
            totals: named(&self.totals),
        }
    }
}

impl<T: Scalar> Gradients<T> {
    /// `f(a, b)` entry by entry, for `a` in these gradients and `b` in `other`, gradients of
    /// the same case: how a running maximum or an allowance is built from two sets.
    pub fn zip_map(&self, other: &Gradients<T>, f: impl Fn(T, T) -> T) -> Gradients<T> {
        let part = |a: &Matrix<T>, b: &Matrix<T>| {
            a.zip_map(b, "Gradients::zip_map", &f)
                .expect("invariant: gradients of one case have one shape per quantity")
        };
        let named = |x: &Named<T>, y: &Named<T>| {
            x.iter()
                .zip(y)
                .map(|((k, a), (_, b))| (*k, part(a, b)))
                .collect()
        };
        Gradients {
            loss: f(self.loss, other.loss),
            steps: (self.steps.iter().zip(&other.steps))
                .map(|(x, y)| named(x, y))
                .collect(),
            totals: named(&self.totals, &other.totals),
        }
    }
}

/// The precision a student's gradients were computed in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dtype {
    /// numpy's `float64`, what the tape computes in.
    #[default]
    Float64,
    /// numpy's `float32`: about 7 significant digits, so a correct backward pass differs from
    /// the tape by 1e-7 and more.
    Float32,
}

impl Dtype {
    /// `"float64"` or `"float32"`, as numpy names it.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Float64 => "float64",
            Dtype::Float32 => "float32",
        }
    }

    /// The relative error above which a given gradient of this precision disagrees with the
    /// tape: 1e-7 for float64 (a correct float64 backward pass agrees to about 1e-14, a mistake
    /// is off by far more than 1e-7), 1e-5 for float32 (its rounding alone gives 1e-7 to a few
    /// 1e-7; a mistake is still off by far more).
    pub fn tolerance(self) -> f64 {
        match self {
            Dtype::Float64 => 1e-7,
            Dtype::Float32 => 1e-5,
        }
    }

    /// The precision's `ε_mach`: 2.2e-16 or 1.2e-7.
    pub fn epsilon(self) -> f64 {
        match self {
            Dtype::Float64 => f64::EPSILON,
            Dtype::Float32 => f64::from(f32::EPSILON),
        }
    }
}

/// Gradients handed in for diagnosis: any part of what [`Gradients`] holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Given {
    /// The loss, if given.
    pub loss: Option<f64>,
    /// For step t (index `t − 1`), the quantities that were given, in the cell's order.
    pub steps: Vec<Named<f64>>,
    /// The totals that were given.
    pub totals: Named<f64>,
    /// Every step's `dx` at once (`grads.x`), when it was given beside per-step `dx` values:
    /// both are compared, so that neither goes unread. Empty otherwise.
    pub x: Vec<Matrix<f64>>,
    /// The precision the values were computed in.
    pub dtype: Dtype,
}

impl Given {
    /// Everything in `g`: a full set, as a complete backward pass would export it.
    pub fn all(g: &Gradients<f64>) -> Given {
        Given {
            loss: Some(g.loss),
            steps: g.steps.clone(),
            totals: g.totals.clone(),
            x: Vec::new(),
            dtype: Dtype::Float64,
        }
    }

    /// The same set keeping only the totals (what a training loop usually exports).
    pub fn totals_only(mut self) -> Given {
        for step in &mut self.steps {
            step.clear();
        }
        self
    }

    /// The given value of quantity `name` at step t, if any.
    pub fn get(&self, t: usize, name: &str) -> Option<&Matrix<f64>> {
        named(self.steps.get(t.checked_sub(1)?)?, name)
    }
}
