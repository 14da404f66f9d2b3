//! Hessian-vector products, forward over reverse: the tape on dual numbers against hand BPTT on
//! dual numbers, against central differences of gradients, and the Hessian's symmetry.

use tapegrad::activation::Activation;
use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cells::Rnn;
use tapegrad::fd::{random_direction, relative_error, rng};
use tapegrad::gradients::Gradients;
use tapegrad::hvp::{hessian_vector, seeded, tangents};
use tapegrad::matrix::Matrix;

const DIMS: Dims = Dims {
    batch: 2,
    steps: 4,
    features: 3,
    hidden: 4,
};

/// A random direction in the parameters of `case`, one unit-norm matrix per parameter.
fn direction(case: &Case<f64>, seed: u64) -> Vec<Matrix<f64>> {
    let mut r = rng(seed);
    case.params
        .iter()
        .map(|p| random_direction(p.rows(), p.cols(), &mut r))
        .collect()
}

/// `Σ_params ⟨a, b⟩`.
fn inner(a: &[Matrix<f64>], b: &[Matrix<f64>]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a.dot(b).unwrap()).sum()
}

/// The cell parameters' totals, in the cell's order.
fn params(g: &Gradients<f64>) -> Vec<Matrix<f64>> {
    ["w_x", "w_h", "b"]
        .iter()
        .map(|k| g.total(k).unwrap().clone())
        .collect()
}

/// The tape on dual numbers and hand BPTT on dual numbers give the same `H·v`, every per-step
/// quantity and every total, for every head and activation.
#[test]
fn tape_and_hand_bptt_agree_on_every_product() {
    let mut seed = 0;
    for head in HeadKind::all(3) {
        for activation in Activation::ALL {
            seed += 1;
            let case = Case::<f64>::random(seed, DIMS, head, Rnn::new(activation));
            let v = direction(&case, seed);
            let by_tape = hessian_vector(&case, &v).unwrap();
            let by_hand = tangents(&seeded(&case, &v).unwrap().bptt().unwrap());
            for t in 1..=DIMS.steps {
                for (name, m) in by_tape.step(t) {
                    let err = relative_error(m, by_hand.get(t, name).unwrap());
                    assert!(
                        err <= 1e-12,
                        "{head:?} {activation}: {name} at t = {t}: {err:e}"
                    );
                }
            }
            for (key, m) in &by_tape.totals {
                let err = relative_error(m, by_hand.total(key).unwrap());
                assert!(err <= 1e-12, "{head:?} {activation}: {key}: {err:e}");
            }
        }
    }
}

/// `H·v` is the derivative of the gradient along `v`: central differences of the tape's
/// gradient at `θ ± h·v` agree with it to 1e-7.
#[test]
fn products_match_central_differences_of_gradients() {
    for (seed, head) in HeadKind::all(3).into_iter().enumerate() {
        let case = Case::<f64>::random(seed as u64 + 10, DIMS, head, Rnn::new(Activation::Tanh));
        let v = direction(&case, 3);
        let product = params(&hessian_vector(&case, &v).unwrap());
        let gradient_at = |s: f64| {
            let mut moved = case.clone();
            for (p, d) in moved.params.iter_mut().zip(&v) {
                *p = p.zip_map(d, "step", |p, d| p + s * d).unwrap();
            }
            params(&moved.tape_gradients().unwrap())
        };
        let h = 1e-5;
        let (plus, minus) = (gradient_at(h), gradient_at(-h));
        for ((hv, p), m) in product.iter().zip(&plus).zip(&minus) {
            let fd = p
                .zip_map(m, "difference", |p, m| (p - m) / (2.0 * h))
                .unwrap();
            let err = relative_error(hv, &fd);
            assert!(err <= 1e-7, "{head:?}: {err:e}");
        }
    }
}

/// The Hessian is symmetric: `⟨u, H·v⟩ = ⟨v, H·u⟩` for any two directions, to round-off.
#[test]
fn the_hessian_is_symmetric() {
    for activation in Activation::ALL {
        let case = Case::<f64>::random(4, DIMS, HeadKind::SoftmaxCe(3), Rnn::new(activation));
        let (u, v) = (direction(&case, 1), direction(&case, 2));
        let hv = params(&hessian_vector(&case, &v).unwrap());
        let hu = params(&hessian_vector(&case, &u).unwrap());
        let (a, b) = (inner(&u, &hv), inner(&v, &hu));
        assert!(
            (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
            "{activation}: {a} vs {b}"
        );
    }
}

/// A direction that does not fit the parameters is refused, naming the parameter.
#[test]
fn a_direction_of_the_wrong_shape_is_refused() {
    let case = Case::<f64>::canonical();
    let mut v = direction(&case, 1);
    v[1] = Matrix::zeros(3, 4);
    let err = hessian_vector(&case, &v).unwrap_err().to_string();
    assert!(
        err.contains("direction for w_h") && err.contains("expected shape 4×4, found 3×4"),
        "{err}"
    );
    let err = hessian_vector(&case, &v[..2]).unwrap_err().to_string();
    assert!(err.contains("3 matrices"), "{err}");
}
