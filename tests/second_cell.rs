//! A second cell, written here as a user would write one: two parts of state, two internal
//! values and six parameters, where the RNN has one, one and three. Everything generic (the
//! sequence, hand BPTT's loop, the tape's per-step reading, finite differences at every site,
//! the check, the diagnosis, the traces, training) must serve it without a line of its own.
//!
//! ```text
//! a_t = x_t·W_x + h_(t-1)·W_h + m_(t-1)·W_m + b        h_t = tanh(a_t)
//! e_t = h_(t-1)·U + b_m                                m_t = σ(e_t)
//! ```

use tapegrad::case::{Case, Dims, HeadKind};
use tapegrad::cell::{
    Agreed, Cell, Dim, Internal, Param, Quantity, RecordedStep, State, StepBack, quantities,
};
use tapegrad::check::{Mode, check_case, check_gradients, fd_gradients};
use tapegrad::diagnose::diagnose;
use tapegrad::error::{Error, Result};
use tapegrad::fd::{relative_error, rng};
use tapegrad::forward::forward_gradients;
use tapegrad::gradients::Given;
use tapegrad::matrix::Matrix;
use tapegrad::scalar::Scalar;
use tapegrad::tape::{Tape, Var};
use tapegrad::trace;
use tapegrad::train::{TrainConfig, train};

/// The coupled cell of the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Coupled;

const SHAPES: &str = "invariant: the case checked the shapes";

const fn param(key: &'static str, shown: &'static str, grad: &'static str, rows: Dim) -> Param {
    Param {
        key,
        shown,
        grad,
        rows,
        cols: Dim::Hidden(1),
        projected: false,
    }
}

impl Cell for Coupled {
    const KIND: &'static str = "coupled";
    const PARAMS: &'static [Param] = &[
        Param {
            projected: true,
            ..param("w_x", "W_x", "dw_x", Dim::Features)
        },
        param("w_h", "W_h", "dw_h", Dim::Hidden(1)),
        param("w_m", "W_m", "dw_m", Dim::Hidden(1)),
        param("b", "b", "db", Dim::One),
        param("u", "U", "du", Dim::Hidden(1)),
        param("b_m", "b_m", "db_m", Dim::One),
    ];
    const STATES: &'static [State] = &[
        State {
            key: "h",
            initial: "h0",
            grad: "dh",
        },
        State {
            key: "m",
            initial: "m0",
            grad: "dm",
        },
    ];
    const INTERNALS: &'static [Internal] = &[
        Internal {
            key: "a",
            grad: "da",
            cols: Dim::Hidden(1),
        },
        Internal {
            key: "e",
            grad: "de",
            cols: Dim::Hidden(1),
        },
    ];
    const OPTIONS: &'static [(&'static str, &'static str)] = &[];

    fn from_options(_option: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        Ok(Coupled)
    }

    fn title(&self) -> String {
        "coupled cell".into()
    }

    fn equations(&self) -> String {
        "a_t = x_t·W_x + h_(t-1)·W_h + m_(t-1)·W_m + b, e_t = h_(t-1)·U + b_m".into()
    }

    fn project<T: Scalar>(&self, p: &[&Matrix<T>], x: &Matrix<T>) -> Matrix<T> {
        x.matmul(p[0]).expect(SHAPES)
    }

    fn pre<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        projected: &Matrix<T>,
        prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        let ([_, w_h, w_m, b, u, b_m], [h, m]) = (p, prev) else {
            unreachable!("{SHAPES}")
        };
        let mut a = projected.add(&h.matmul(w_h).expect(SHAPES)).expect(SHAPES);
        a.add_assign(&m.matmul(w_m).expect(SHAPES)).expect(SHAPES);
        a.add_row_in_place(b).expect(SHAPES);
        let e = h.matmul(u).and_then(|e| e.add_row(b_m)).expect(SHAPES);
        vec![a, e]
    }

    fn post<T: Scalar>(
        &self,
        _p: &[&Matrix<T>],
        internals: Vec<Matrix<T>>,
        _prev: &[&Matrix<T>],
    ) -> Vec<Matrix<T>> {
        let [a, e] = <[Matrix<T>; 2]>::try_from(internals).expect(SHAPES);
        let sigmoid = |v: T| T::one() / (T::one() + (-v).exp());
        vec![a.map(|v| v.tanh()), e.map(sigmoid)]
    }

    fn record<'t, T: Scalar>(
        &self,
        p: &[Var<'t, T>],
        x: Var<'t, T>,
        prev: &[Var<'t, T>],
        t: usize,
    ) -> Result<RecordedStep<'t, T>> {
        let (&[w_x, w_h, w_m, b, u, b_m], &[h, m]) = (p, prev) else {
            return Err(Error::invalid("coupled step", "six parameters, two states"));
        };
        let a = x
            .matmul(w_x)?
            .add(h.matmul(w_h)?)?
            .add(m.matmul(w_m)?)?
            .add_bias(b)?
            .named(&format!("a_{t}"));
        let e = h.matmul(u)?.add_bias(b_m)?.named(&format!("e_{t}"));
        Ok(RecordedStep {
            internals: vec![a, e],
            state: vec![
                a.tanh().named(&format!("h_{t}")),
                e.sigmoid().named(&format!("m_{t}")),
            ],
        })
    }

    fn backward<T: Scalar>(
        &self,
        p: &[&Matrix<T>],
        x: &Matrix<T>,
        prev: &[&Matrix<T>],
        _internals: &[&Matrix<T>],
        state: &[&Matrix<T>],
        d_state: &[&Matrix<T>],
    ) -> StepBack<T> {
        let ([w_x, w_h, w_m, _, u, _], [h_prev, m_prev], [h, m], [dh, dm]) =
            (p, prev, state, d_state)
        else {
            unreachable!("{SHAPES}")
        };
        let da = dh
            .zip_map(h, "da", |g, h| g * (T::one() - h * h))
            .expect(SHAPES);
        let de = dm
            .zip_map(m, "de", |g, m| g * m * (T::one() - m))
            .expect(SHAPES);
        let times_t = |d: &Matrix<T>, w: &Matrix<T>| d.matmul(&w.transpose()).expect(SHAPES);
        let t_times = |v: &Matrix<T>, d: &Matrix<T>| v.transpose().matmul(d).expect(SHAPES);
        let dh_prev = times_t(&da, w_h).add(&times_t(&de, u)).expect(SHAPES);
        StepBack {
            dx: times_t(&da, w_x),
            params: vec![
                t_times(x, &da),
                t_times(h_prev, &da),
                t_times(m_prev, &da),
                da.sum_rows(),
                t_times(h_prev, &de),
                de.sum_rows(),
            ],
            to_prev: vec![dh_prev, times_t(&da, w_m)],
            internals: vec![da, de],
        }
    }

    fn equation(&self, q: &Quantity, t: usize, _steps: usize) -> String {
        format!("{} at step {t}", q.name)
    }

    fn explain(&self, q: &Quantity, t: usize, _steps: usize, _: Agreed<'_>) -> (String, String) {
        (
            format!("{} at step {t}", q.name),
            "the coupled cell's equation".into(),
        )
    }
}

fn random_case(seed: u64, head: HeadKind) -> Case<f64, Coupled> {
    let dims = Dims {
        batch: 3,
        steps: 5,
        features: 2,
        hidden: 4,
    };
    Case::random(seed, dims, head, Coupled)
}

/// Hand BPTT, the tape and finite differences agree on every quantity of both states, both
/// internal values and all six parameters, at every step, under every head, in both modes.
#[test]
fn the_check_passes_at_every_site_of_a_second_cell() {
    let heads = HeadKind::all(3);
    for (seed, head) in heads.into_iter().enumerate() {
        let case = random_case(seed as u64, head);
        for mode in [Mode::Exhaustive, Mode::Directional { seed: 4 }] {
            let report = check_case(&case, mode).unwrap();
            assert!(
                report.passed(),
                "{head:?} {mode:?}: {:?}",
                report.first_failure()
            );
            let names: Vec<&str> = report.steps[0].iter().map(|(q, _)| *q).collect();
            assert_eq!(
                names,
                [
                    "dh", "dm", "da", "de", "dx", "dw_x", "dw_h", "dw_m", "db", "du", "db_m"
                ]
            );
            let totals: Vec<&str> = report.totals.iter().map(|(t, _)| t.key).collect();
            assert!(totals.starts_with(&["w_x", "w_h", "w_m", "b", "u", "b_m", "h0", "m0"]));
            for (q, c) in report.steps.iter().flatten() {
                assert!(c.hand_tape.rel <= 1e-12, "{q}: {:e}", c.hand_tape.rel);
            }
        }
        // Finite differences alone, as `grads --method fd` takes them, match hand BPTT, and
        // forward mode, with dual numbers through this cell's own forward code, to round-off.
        let (hand, fd) = (case.bptt().unwrap(), fd_gradients(&case).unwrap());
        let forward = forward_gradients(&case).unwrap();
        for t in 1..=5 {
            for (name, m) in hand.step(t) {
                let err = relative_error(m, fd.get(t, name).unwrap());
                assert!(err < 1e-6, "{head:?} {name} at t = {t}: {err:e}");
                let err = relative_error(m, forward.get(t, name).unwrap());
                assert!(err <= 1e-12, "{head:?} forward {name} at t = {t}: {err:e}");
            }
        }
    }
}

/// A mistake in the second internal value at one step is found there, by the check and by the
/// diagnosis, and its trace and table print the cell's own names.
#[test]
fn a_mistake_in_the_second_cell_is_found_where_it_enters() {
    let case = random_case(7, HeadKind::MseAll);
    let mut hand = case.bptt().unwrap();
    hand.get_mut(2, "de").unwrap()[(1, 3)] += 0.01;
    let report = check_gradients(&case, &hand, Mode::Exhaustive).unwrap();
    assert_eq!(report.first_failure(), Some((2, "de")));
    let d = diagnose(
        &case.tape_gradients().unwrap(),
        &case.roundoff_scales().unwrap(),
        &Given::all(&hand),
        &case.cell,
    );
    assert_eq!(d.first_mismatch, Some((2, "de")));
    assert_eq!(d.quantities.len(), quantities::<Coupled>().len());
    let table = trace::check_table(&report, trace::CheckStyle::Verdicts);
    assert!(table.contains("   0  dm "), "the initial m's row: {table}");
    let fwd = case.forward().unwrap();
    let text = trace::forward_trace(&case, &fwd, case.loss().unwrap());
    assert!(text.contains("  e_5: ") && text.contains("m_0: "), "{text}");
    assert!(trace::backward_trace(&case, &hand, "hand").contains("  dm_1 = dm at step 1: "));
}

/// Forward mode on the tape, and training, over the second cell's parameters.
#[test]
fn forward_mode_and_training_serve_the_second_cell() {
    let mut case = random_case(3, HeadKind::MseLast);
    let tape = Tape::new();
    let (rec, head) = case.record(&tape).unwrap();
    let v = tapegrad::init::normal(&mut rng(1), 4, 4, 1.0);
    let w_m = rec.params[2];
    let along = head.loss.tangent(&[(w_m, v.clone())]).unwrap()[(0, 0)];
    let want = head.loss.backward().wrt(w_m).dot(&v).unwrap();
    assert!(
        (along - want).abs() <= 1e-12 * want.abs(),
        "{along} vs {want}"
    );
    let before = case.loss().unwrap();
    let history = train(&mut case, &TrainConfig::sgd(0.05, 20)).unwrap();
    assert!(history.last_loss() < before, "{:?}", history.losses);
}
