//! # 14. A task that needs memory: the RNN, the LSTM and the GRU side by side
//!
//! Each sequence is `T` standard normal numbers, one feature per step; its label is the sign of
//! the *first* one. To answer at `t = T` a cell must carry one bit across all the steps, and the
//! gradient that teaches it to must travel back just as far: chapter 7's vanishing gradient,
//! and chapter 10's highway. The three cells (8 hidden units, Xavier weights, zero biases but
//! the LSTM's forget gate and the GRU's update gate at 1) are trained by Adam (η = 0.01, global
//! norm clipped at 5), full batch, on the same 256 sequences and judged on 1024 held-out ones,
//! over several seeds; beside each accuracy, `‖∂L/∂x_1‖`, how much of the loss's gradient
//! reaches the step that holds the answer, at the start. Chance is 0.5.
//!
//! `cargo run --release --example 14-memory-task` (`-- --quick` for `T = 10` and fewer epochs).

use std::fmt::Write;
use tapegrad::Result;
use tapegrad::cell::Cell;
use tapegrad::cells::{Gru, Lstm, Rnn};
use tapegrad::classifier::Classifier;
use tapegrad::fd::rng;
use tapegrad::init::{self, Init};
use tapegrad::matrix::Matrix;
use tapegrad::trace::short;
use tapegrad::train::{GradientSource, LearningRates, Optimizer, TrainConfig};

/// `n` sequences of `steps` numbers ~ N(0, 1), drawn sequence by sequence, and their labels
/// `[x_1 > 0]`: `x_1 … x_T` (each `n × 1`) and the labels.
fn memory_data(seed: u64, n: usize, steps: usize) -> (Vec<Matrix<f64>>, Vec<usize>) {
    let draws = init::normal(&mut rng(seed), n, steps, 1.0);
    let x = (0..steps)
        .map(|t| Matrix::from_fn(n, 1, |i, _| draws[(i, t)]))
        .collect();
    let labels = (0..n).map(|i| usize::from(draws[(i, 0)] > 0.0)).collect();
    (x, labels)
}

/// Held-out accuracy and the start's `‖∂L/∂x_1‖` of `model` trained on `train`.
fn run<C: Cell>(
    mut model: Classifier<C>,
    train: &(Vec<Matrix<f64>>, Vec<usize>),
    test: &(Vec<Matrix<f64>>, Vec<usize>),
    epochs: usize,
) -> Result<(f64, f64)> {
    let start = model.gradients(&train.0, &train.1)?;
    let reach = start.get(1, "dx").map_or(0.0, Matrix::norm);
    let config = TrainConfig {
        epochs,
        rates: LearningRates::uniform(0.01),
        optimizer: Optimizer::adam(),
        clip: Some(5.0),
        batch_size: None,
        shuffle_seed: None,
        gradients: GradientSource::Bptt,
    };
    model.fit(&train.0, &train.1, &config)?;
    Ok((model.accuracy(&test.0, &test.1)?, reach))
}

/// The table: one row per cell and seed.
pub fn memory_task(steps: usize, epochs: usize, seeds: u64) -> Result<String> {
    let hidden = 8;
    let mut out = format!(
        "sign of x_1 after T = {steps} steps: 256 training sequences, 1024 held out, Adam {epochs} epochs\n"
    );
    let _ = writeln!(
        out,
        "{:<6} {:>5} {:>10} {:>14}",
        "cell", "seed", "accuracy", "‖∂L/∂x_1‖"
    );
    for seed in 0..seeds {
        let train = memory_data(100 + seed, 256, steps);
        let test = memory_data(200 + seed, 1024, steps);
        let mut r = rng(seed);
        let rnn = Classifier::with_cell(Rnn::default(), 1, hidden, 2, Init::Xavier, &mut r)?;
        let mut r = rng(seed);
        let mut lstm = Classifier::with_cell(Lstm::default(), 1, hidden, 2, Init::Xavier, &mut r)?;
        // The forget gate's bias (the second block of b, gate order i, f, o, g) at 1.
        for j in hidden..2 * hidden {
            lstm.params[2][(0, j)] = 1.0;
        }
        let mut r = rng(seed);
        let mut gru = Classifier::with_cell(Gru::default(), 1, hidden, 2, Init::Xavier, &mut r)?;
        // The update gate's bias (the second block of b_x, order r, z, n) at 1 too.
        for j in hidden..2 * hidden {
            gru.params[2][(0, j)] = 1.0;
        }
        for (name, (accuracy, reach)) in [
            ("RNN", run(rnn, &train, &test, epochs)?),
            ("LSTM", run(lstm, &train, &test, epochs)?),
            ("GRU", run(gru, &train, &test, epochs)?),
        ] {
            let _ = writeln!(
                out,
                "{name:<6} {seed:>5} {accuracy:>10.3} {:>14}",
                short(reach)
            );
        }
    }
    Ok(out)
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (steps, epochs, seeds) = if quick { (10, 100, 2) } else { (50, 800, 3) };
    print!("{}", memory_task(steps, epochs, seeds)?);
    Ok(())
}
