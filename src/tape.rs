//! The tape: a Wengert list of every value a computation produced, and one reverse loop over it.
//!
//! As a program runs, each operation appends a [`Node`] to the [`Tape`]: which op it was, the
//! indices of its inputs (its *parents*, always earlier on the tape) and the value it computed.
//! A [`Var`] is a cheap handle to one node. Because the program itself decides what to record,
//! a loop over time steps written in plain Rust records a graph as long as the sequence: a
//! *dynamic graph*, as in PyTorch.
//!
//! Reverse accumulation then needs no recursion and no topological sort: the tape *is* a
//! topological order. Walking it from the loss back to the start, each node passes
//! `x̄ = vjp(ȳ)` to its parents (see [`crate::ops`]), where `ȳ = ∂L/∂y` is the node's *adjoint*.
//! A value used twice receives two contributions, which add: that is the multivariable chain
//! rule, and it is why `b = a + a` gives `∂b/∂a = 2`.

use crate::error::{Error, Result, Shape};
use crate::matrix::Matrix;
use crate::ops::Op;
use crate::scalar::Scalar;
use std::cell::{Ref, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The position of a node on its tape: node `i` was the `i`-th value recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// One recorded value: `value = op(parents)`.
#[derive(Clone, Debug)]
pub struct Node<T> {
    /// The operation that produced the value ([`Op::Leaf`] for an input).
    pub op: Op<T>,
    /// The inputs of `op`, as positions of earlier nodes on the same tape.
    pub parents: Vec<NodeId>,
    /// The value computed in the forward pass.
    pub value: Matrix<T>,
    /// A name for traces and graph pictures (`"W_x"`, `"h_2"`), if one was given.
    pub name: Option<String>,
}

/// A Wengert list of nodes. Record inputs with [`Tape::var`], build on them with the ops on
/// [`Var`], then call [`Var::backward`] on the loss.
#[derive(Debug)]
pub struct Tape<T> {
    id: usize,
    nodes: RefCell<Vec<Node<T>>>,
}

/// Every tape gets its own number, so that a `Var` or `Grads` can tell which tape it belongs to.
static NEXT_TAPE_ID: AtomicUsize = AtomicUsize::new(0);

impl<T: Scalar> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Scalar> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape {
            id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed),
            nodes: RefCell::new(Vec::new()),
        }
    }

    /// An empty tape with room for `nodes` nodes: a recording that knows how long it will be
    /// (a training step's, two nodes a time step) reserves it once rather than growing the list
    /// as it goes, which was a tenth of the canonical example's training step.
    pub fn with_capacity(nodes: usize) -> Self {
        Tape {
            id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed),
            nodes: RefCell::new(Vec::with_capacity(nodes)),
        }
    }

    /// Records an input (a leaf: no parents) and returns its handle.
    pub fn var(&self, value: Matrix<T>) -> Var<'_, T> {
        self.push(Op::Leaf, Vec::new(), value)
    }

    /// Records a named input; the name shows in traces and graph pictures.
    pub fn named_var(&self, name: &str, value: Matrix<T>) -> Var<'_, T> {
        self.var(value).named(name)
    }

    /// Number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.borrow().is_empty()
    }

    /// Read access to the node list, in recording order (for traces and pictures).
    pub fn nodes(&self) -> Ref<'_, [Node<T>]> {
        Ref::map(self.nodes.borrow(), |v| v.as_slice())
    }

    /// Appends a node whose parents are already on this tape.
    fn push(&self, op: Op<T>, parents: Vec<NodeId>, value: Matrix<T>) -> Var<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            op,
            parents,
            value,
            name: None,
        });
        Var {
            tape: self,
            id: NodeId(nodes.len() - 1),
        }
    }

    /// Runs `op` forward on the values of `inputs` and records the result.
    ///
    /// This is the one place where nodes with parents are made, so it is where inputs from a
    /// different tape are refused.
    pub(crate) fn record<'t>(&'t self, op: Op<T>, inputs: &[Var<'t, T>]) -> Result<Var<'t, T>> {
        if inputs.iter().any(|v| v.tape.id != self.id) {
            return Err(Error::ForeignVar { op: op.name() });
        }
        if inputs.len() > MAX_ARITY {
            return Err(Error::invalid(
                op.name(),
                format!(
                    "an op takes at most {MAX_ARITY} inputs, found {}",
                    inputs.len()
                ),
            ));
        }
        let parents: Vec<NodeId> = inputs.iter().map(|v| v.id).collect();
        let value = with_values(&self.nodes.borrow(), &parents, |values| op.forward(values))?;
        Ok(self.push(op, parents, value))
    }

    /// Reverse accumulation from `loss`: one loop over the nodes, from `loss` back to the start.
    ///
    /// The adjoint of the loss is seeded with ones (so a non-scalar `loss` is treated as the sum
    /// of its entries). Each node, visited after every node that uses it, hands its adjoint `ȳ`
    /// to its op, which adds each vector-Jacobian product `x̄ = vjp(ȳ)` into its parent's
    /// adjoint ([`Op::accumulate_vjp`]). The tape is only read, so a sweep can run again and
    /// starts from nothing each time.
    ///
    /// `keep` says which adjoints the result holds. [`Keep::Leaves`] drops a computed node's
    /// adjoint as soon as its op has passed it on, as PyTorch drops those of non-leaf tensors:
    /// the memory of `h̄_t` then serves `h̄_(t-1)` while it is still in cache, and the heap does
    /// not grow by one adjoint per node (measured on the fused RNN tape at B=32 T=64 F=32
    /// H=128, f64: a training step took 10–14% less time).
    fn sweep(&self, loss: NodeId, keep: Keep) -> Grads<T> {
        let nodes = self.nodes.borrow();
        let mut adjoints = self.seeded(&nodes, loss);
        for i in (0..=loss.0).rev() {
            // Parents precede their children on the tape, so they all live in `earlier`.
            let (earlier, rest) = adjoints.split_at_mut(i);
            let Some(adjoint) = &rest[0] else { continue };
            let node = &nodes[i];
            // Lend the parents' adjoints to the op, then take them back.
            let mut sums: [Option<Matrix<T>>; MAX_ARITY] = Default::default();
            for (sum, parent) in sums.iter_mut().zip(&node.parents) {
                *sum = earlier[parent.0].take();
            }
            let lent = &mut sums[..node.parents.len()];
            with_values(&nodes, &node.parents, |inputs| {
                node.op.accumulate_vjp(inputs, &node.value, adjoint, lent)
            });
            for (sum, parent) in lent.iter_mut().zip(&node.parents) {
                let Some(sum) = sum.take() else { continue };
                // A parent that is two of the inputs (`a + a`) was lent once: its second
                // contribution comes back on its own and is added here.
                match &mut earlier[parent.0] {
                    Some(first) => first
                        .add_assign(&sum)
                        .expect("invariant: a vector-Jacobian product has the shape of its input"),
                    empty => *empty = Some(sum),
                }
            }
            if keep == Keep::Leaves && !node.parents.is_empty() {
                rest[0] = None;
            }
        }
        Grads {
            tape_id: self.id,
            nodes: nodes
                .iter()
                .map(|n| (n.value.shape(), n.parents.is_empty()))
                .collect(),
            adjoints,
            keep,
        }
    }

    /// Adjoints for every node, empty but for the loss's, seeded with ones.
    fn seeded(&self, nodes: &[Node<T>], loss: NodeId) -> Vec<Option<Matrix<T>>> {
        let mut adjoints: Vec<Option<Matrix<T>>> = vec![None; nodes.len()];
        let seed = &nodes[loss.0].value;
        adjoints[loss.0] = Some(Matrix::filled(seed.rows(), seed.cols(), T::one()));
        adjoints
    }
}

/// Which adjoints a reverse sweep keeps (see [`Var::backward`] and [`Var::backward_leaves`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Every node's: what traces, pictures and the per-step check read back.
    All,
    /// The leaves' only (inputs and parameters): what a training step needs.
    Leaves,
}

/// The most inputs an op may take. A fixed bound lets a node's inputs be gathered on the stack
/// in both directions (collecting them into a `Vec` was a tenth of a small tape's time); an op
/// with more is refused when it is recorded.
const MAX_ARITY: usize = 8;

/// Calls `f` with the values of the nodes `ids`, gathered on the stack: this runs for every
/// node in both directions, and collecting them into a `Vec` was a tenth of a small tape's time.
fn with_values<T, R>(nodes: &[Node<T>], ids: &[NodeId], f: impl FnOnce(&[&Matrix<T>]) -> R) -> R {
    assert!(
        ids.len() <= MAX_ARITY,
        "invariant: Tape::record refuses an op with more than {MAX_ARITY} inputs"
    );
    let Some(first) = ids.first() else {
        return f(&[]);
    };
    // Every slot needs some value to start with; those past `ids.len()` are never read.
    let mut values = [&nodes[first.0].value; MAX_ARITY];
    for (slot, id) in values.iter_mut().zip(ids) {
        *slot = &nodes[id.0].value;
    }
    f(&values[..ids.len()])
}

/// A handle to one node of a [`Tape`]: cheap to copy, and tied to its tape by a borrow.
#[derive(Clone, Copy, Debug)]
pub struct Var<'t, T> {
    pub(crate) tape: &'t Tape<T>,
    id: NodeId,
}

impl<'t, T: Scalar> Var<'t, T> {
    /// The node's position on its tape.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The tape this variable lives on.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// A copy of the value computed in the forward pass.
    pub fn value(&self) -> Matrix<T> {
        self.tape.nodes.borrow()[self.id.0].value.clone()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Shape {
        self.tape.nodes.borrow()[self.id.0].value.shape()
    }

    /// Gives the node a name for traces and graph pictures, and returns the same handle.
    pub fn named(self, name: &str) -> Self {
        self.tape.nodes.borrow_mut()[self.id.0].name = Some(name.to_string());
        self
    }

    /// `∂self/∂v` for every node `v` recorded before `self`, by one reverse sweep
    /// (see [`Tape`]). Read the results back with [`Grads::wrt`].
    pub fn backward(&self) -> Grads<T> {
        self.tape.sweep(self.id, Keep::All)
    }

    /// `∂self/∂v` for every *leaf* `v` (an input or a parameter, recorded by [`Tape::var`] or
    /// [`Tape::named_var`]) by a faster sweep, the one a training step wants (used by
    /// [`crate::fast::tape_totals`]): each op adds into its parents' adjoints in place, and a
    /// computed node's adjoint is dropped once it has been passed on, as PyTorch drops those of
    /// non-leaf tensors. The leaves' gradients are those of [`Var::backward`] to round-off;
    /// asking the result for a computed node's gradient panics.
    pub fn backward_leaves(&self) -> Grads<T> {
        self.tape.sweep(self.id, Keep::Leaves)
    }

    /// Forward accumulation: `ẏ = J·ẋ`, the derivative of `self` along the tangents `seeds` gives
    /// some leaves (the other leaves' are zero). One loop over the nodes in recording order, the
    /// mirror of [`Var::backward`]: each node's tangent is its op's Jacobian-vector product (see
    /// [`crate::ops`]) of its parents' tangents. For a scalar loss it is the directional
    /// derivative `⟨∇L, v⟩`, with no step size, where [`Var::backward`] gives `∇L` itself.
    ///
    /// A seed must be a leaf of this tape with the leaf's shape; otherwise the error names it.
    pub fn tangent(&self, seeds: &[(Var<'t, T>, Matrix<T>)]) -> Result<Matrix<T>> {
        let nodes = self.tape.nodes.borrow();
        // `None` is a tangent of zero: nodes the seeds do not reach cost nothing.
        let mut tangents: Vec<Option<Matrix<T>>> = vec![None; self.id.0 + 1];
        for (v, dot) in seeds {
            let node = nodes.get(v.id.0).filter(|_| v.tape.id == self.tape.id);
            match node {
                Some(node) if node.parents.is_empty() => {
                    if node.value.shape() != dot.shape() {
                        return Err(Error::ShapeMismatch {
                            op: "tangent",
                            left: node.value.shape(),
                            right: dot.shape(),
                        });
                    }
                    if let Some(slot) = tangents.get_mut(v.id.0) {
                        *slot = Some(dot.clone());
                    }
                }
                _ => {
                    return Err(Error::invalid(
                        "tangent",
                        format!(
                            "node {} is not a leaf of this tape: seed leaves only",
                            v.id.0
                        ),
                    ));
                }
            }
        }
        for i in 0..tangents.len() {
            let node = &nodes[i];
            let reached = node.parents.iter().any(|p| tangents[p.0].is_some());
            if node.parents.is_empty() || !reached {
                continue;
            }
            let zeros: Vec<Matrix<T>> = node
                .parents
                .iter()
                .map(|p| {
                    let (rows, cols) = nodes[p.0].value.shape();
                    Matrix::zeros(rows, cols)
                })
                .collect();
            let dots: Vec<&Matrix<T>> = node
                .parents
                .iter()
                .zip(&zeros)
                .map(|(p, zero)| tangents[p.0].as_ref().unwrap_or(zero))
                .collect();
            let dot = with_values(&nodes, &node.parents, |inputs| {
                node.op.jvp(inputs, &node.value, &dots)
            });
            tangents[i] = Some(dot);
        }
        let (rows, cols) = nodes[self.id.0].value.shape();
        Ok(tangents[self.id.0]
            .take()
            .unwrap_or_else(|| Matrix::zeros(rows, cols)))
    }
}

/// The adjoints `∂L/∂v` of one backward sweep, read back by handle.
#[derive(Clone, Debug)]
pub struct Grads<T> {
    tape_id: usize,
    /// Each node's shape, and whether it is a leaf.
    nodes: Vec<(Shape, bool)>,
    adjoints: Vec<Option<Matrix<T>>>,
    /// Which adjoints the sweep kept.
    keep: Keep,
}

impl<T: Scalar> Grads<T> {
    /// `∂L/∂v`, with the shape of `v`'s value. A node the loss does not depend on (or one
    /// recorded after the sweep) has gradient zero.
    ///
    /// # Panics
    /// If `v` lives on a different tape than the loss, or if `v` is a computed node and these
    /// gradients come from [`Var::backward_leaves`]: both are bugs in the calling program.
    pub fn wrt(&self, v: Var<'_, T>) -> Matrix<T> {
        assert_eq!(
            v.tape.id, self.tape_id,
            "Grads::wrt: this Var lives on a different tape than the loss these gradients \
             were computed for"
        );
        self.assert_kept(v, "wrt");
        match self.adjoints.get(v.id.0) {
            Some(Some(g)) => g.clone(),
            Some(None) => {
                let ((r, c), _) = self.nodes[v.id.0];
                Matrix::zeros(r, c)
            }
            None => {
                let (r, c) = v.shape();
                Matrix::zeros(r, c)
            }
        }
    }

    /// `∂L/∂v` as [`Grads::wrt`] gives it, moved out rather than copied; asking again for the
    /// same `v` then gives zeros.
    ///
    /// # Panics
    /// As [`Grads::wrt`]: if `v` lives on a different tape than the loss, or if `v` is a
    /// computed node and these gradients come from [`Var::backward_leaves`].
    pub fn take(&mut self, v: Var<'_, T>) -> Matrix<T> {
        assert_eq!(
            v.tape.id, self.tape_id,
            "Grads::take: this Var lives on a different tape than the loss these gradients \
             were computed for"
        );
        self.assert_kept(v, "take");
        match self.adjoints.get_mut(v.id.0).and_then(Option::take) {
            Some(g) => g,
            None => self.wrt(v),
        }
    }

    /// `∂L/∂v` by node position, if the sweep reached that node and kept its adjoint (for
    /// traces and pictures).
    pub fn get(&self, id: NodeId) -> Option<&Matrix<T>> {
        self.adjoints.get(id.0).and_then(|g| g.as_ref())
    }

    /// Panics if `v`'s adjoint was dropped by [`Var::backward_leaves`]: answering zero would
    /// be a wrong gradient.
    fn assert_kept(&self, v: Var<'_, T>, method: &str) {
        let dropped =
            self.keep == Keep::Leaves && self.nodes.get(v.id.0).is_some_and(|&(_, leaf)| !leaf);
        assert!(
            !dropped,
            "Grads::{method}: node {} is computed by an op, and these gradients come from \
             Var::backward_leaves, which keeps the leaves' only; use Var::backward to read it",
            v.id.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(v: f64) -> Matrix<f64> {
        Matrix::row_vector(&[v])
    }

    #[test]
    fn a_value_used_twice_accumulates() {
        let tape = Tape::new();
        let a = tape.var(scalar(3.0));
        let b = a.add(a).unwrap();
        assert_eq!(b.backward().wrt(a), scalar(2.0));
    }

    #[test]
    fn backward_twice_gives_the_same_gradients() {
        let tape = Tape::new();
        let a = tape.var(scalar(0.5));
        let y = a.mul(a).unwrap().tanh();
        let first = y.backward().wrt(a);
        let second = y.backward().wrt(a);
        assert_eq!(first, second);
        let h = 0.25f64.tanh();
        assert!((first[(0, 0)] - 2.0 * 0.5 * (1.0 - h * h)).abs() < 1e-15);
    }

    #[test]
    fn a_chain_of_100_000_nodes_needs_no_recursion() {
        let tape = Tape::new();
        let x = tape.var(scalar(1.0));
        let mut y = x;
        for _ in 0..100_000 {
            y = y.scale(1.0);
        }
        let y = y.scale(2.0);
        assert_eq!(tape.len(), 100_002);
        assert_eq!(y.backward().wrt(x), scalar(2.0));
    }

    #[test]
    fn vars_of_two_tapes_do_not_mix() {
        let one = Tape::new();
        let two = Tape::new();
        let a = one.var(scalar(1.0));
        let b = two.var(scalar(2.0));
        let err = a.add(b).unwrap_err();
        assert_eq!(err, Error::ForeignVar { op: "add" });
        assert!(err.to_string().contains("different tapes"));
    }

    #[test]
    #[should_panic(expected = "different tape")]
    fn grads_refuse_a_var_of_another_tape() {
        let one = Tape::new();
        let two = Tape::new();
        let a = one.var(scalar(1.0));
        let b = two.var(scalar(2.0));
        let _ = a.sum().backward().wrt(b);
    }

    #[test]
    fn take_moves_a_gradient_out_once() {
        let tape = Tape::new();
        let a = tape.var(scalar(3.0));
        let mut grads = a.square().backward();
        assert_eq!(grads.take(a), scalar(6.0));
        assert_eq!(grads.take(a), scalar(0.0));
    }

    #[test]
    fn nodes_the_loss_does_not_use_get_zero_gradient() {
        let tape = Tape::new();
        let a = tape.var(scalar(1.0));
        let unused = tape.var(Matrix::zeros(2, 3));
        let grads = a.square().backward();
        assert_eq!(grads.wrt(unused), Matrix::zeros(2, 3));
        let later = tape.var(scalar(4.0));
        assert_eq!(grads.wrt(later), scalar(0.0));
    }
}
