//! Charts as SVG text: lines against a shared axis (the norms of `dh_t` of several runs on one
//! log scale, loss curves), and the per-step check as a heat map.
//!
//! Written by hand rather than with a plotting crate: an SVG chart is a few dozen elements, and
//! writing them here keeps every coordinate in a fixed format (one decimal), every colour and
//! font fixed (`monospace`, no font file read), so the text is the same on every machine and
//! can be snapshot-tested and committed beside the tutorial.

use crate::check::Report;
use crate::fd::Verdict;
use std::fmt::Write;

/// One line of a [`LineChart`]: its name in the legend and its points `(x, y)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend's text.
    pub name: String,
    /// The points, in order of `x`. A point whose `y` cannot be drawn (not finite, or not
    /// positive on a log axis) breaks the line.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (a bound), rather than solid (a measurement).
    pub dashed: bool,
    /// Which of the chart's six colours: a bound takes its measurement's.
    pub colour: usize,
}

/// Lines on shared axes: every series is drawn against the same `x` and `y` scales, so that
/// two runs compare by eye.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    /// The chart's title.
    pub title: String,
    /// What `x` is: `t`.
    pub x_label: String,
    /// What `y` is: `‖dh_t‖`.
    pub y_label: String,
    /// A log scale for `y` (powers of ten), else a linear one.
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
}

/// The colours of the lines, in order: distinguishable, and readable in grey.
const PALETTE: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

/// The plot's area inside the picture, in pixels: left, top, width, height.
const PLOT: (f64, f64, f64, f64) = (70.0, 40.0, 460.0, 260.0);

/// Width and height of a line chart, the width at least: a long legend widens it.
const SIZE: (f64, f64) = (720.0, 350.0);

/// The width of a character of the 11 px monospace font, in pixels (about 0.6 em).
const CHARACTER: f64 = 6.7;

/// Where the `x` axis from `lo` to `hi` is labelled. An axis of whole numbers (steps, epochs)
/// gets whole labels: its ends and the multiples of 1, 2 or 5 × 10ᵏ between them, about five
/// intervals; any other axis five equal intervals.
fn x_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if lo.fract() != 0.0 || hi.fract() != 0.0 {
        return (0..=5).map(|i| lo + (hi - lo) * i as f64 / 5.0).collect();
    }
    let decade = 10f64.powf(((hi - lo) / 5.0).log10().floor());
    let every = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|&e| (hi - lo) / e <= 5.0)
        .unwrap_or(10.0 * decade)
        .max(1.0);
    let mut ticks = vec![lo];
    let mut x = (lo / every).floor() * every + every;
    // A label closer than half an interval to the axis's end would run into it.
    while x < hi - every / 2.0 {
        if x > lo + every / 2.0 {
            ticks.push(x);
        }
        x += every;
    }
    ticks.push(hi);
    ticks
}

/// A tick's label: a whole number as one (`12`), anything else in three digits (`0.25`,
/// `1.50e-03`).
fn tick(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{v:.0}")
    } else if (0.01..1e4).contains(&v.abs()) {
        format!("{v:.2}")
    } else {
        crate::trace::short(v)
    }
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The header of a picture of `width × height` pixels with a white background.
fn open(width: f64, height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"monospace\" font-size=\"11\">\n\
         <rect width=\"{width:.0}\" height=\"{height:.0}\" fill=\"white\"/>\n"
    )
}

impl LineChart {
    /// The chart as an SVG document.
    pub fn svg(&self) -> String {
        let (left, top, width, height) = PLOT;
        let drawable = |y: f64| y.is_finite() && (!self.log_y || y > 0.0);
        let to_axis = |y: f64| if self.log_y { y.log10() } else { y };
        let points = self.series.iter().flat_map(|s| s.points.iter());
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points.clone().filter(|p| drawable(p.1) && p.0.is_finite()) {
            x_lo = x_lo.min(x);
            x_hi = x_hi.max(x);
            y_lo = y_lo.min(to_axis(y));
            y_hi = y_hi.max(to_axis(y));
        }
        if x_lo > x_hi {
            (x_lo, x_hi, y_lo, y_hi) = (0.0, 1.0, 0.0, 1.0);
        }
        if self.log_y {
            // Whole decades, so that the gridlines are powers of ten.
            y_lo = y_lo.floor();
            y_hi = y_hi.ceil().max(y_lo + 1.0);
        } else if y_hi - y_lo < 1e-300 {
            y_hi = y_lo + 1.0;
        }
        if x_hi - x_lo < 1e-300 {
            x_hi = x_lo + 1.0;
        }
        let px = |x: f64| left + (x - x_lo) / (x_hi - x_lo) * width;
        let py = |y: f64| top + height - (to_axis(y) - y_lo) / (y_hi - y_lo) * height;
        let py_axis = |a: f64| top + height - (a - y_lo) / (y_hi - y_lo) * height;

        // Wide enough for the longest name in the legend.
        let longest = self.series.iter().map(|s| s.name.chars().count()).max();
        let legend = 30.0 + CHARACTER * longest.unwrap_or(0) as f64 + 16.0;
        let mut out = open(SIZE.0.max(left + width + 16.0 + legend), SIZE.1);
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"22\" font-size=\"13\">{}</text>",
            left,
            escape(&self.title)
        );
        // Gridlines and tick labels: every decade on a log axis (at most 12 labelled), five
        // steps on a linear one.
        let ticks: Vec<f64> = if self.log_y {
            let decades = (y_hi - y_lo) as usize;
            let every = decades.div_ceil(12).max(1);
            (0..=decades)
                .step_by(every)
                .map(|d| y_lo + d as f64)
                .collect()
        } else {
            (0..=5)
                .map(|i| y_lo + (y_hi - y_lo) * i as f64 / 5.0)
                .collect()
        };
        for a in ticks {
            let y = py_axis(a);
            let text = if self.log_y {
                format!("1e{a:.0}")
            } else {
                tick(a)
            };
            let _ = writeln!(
                out,
                "<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\"/>\n\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{text}</text>",
                left + width,
                left - 6.0,
                y + 4.0
            );
        }
        for x in x_ticks(x_lo, x_hi) {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                px(x),
                top + height + 16.0,
                tick(x)
            );
        }
        let _ = writeln!(
            out,
            "<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{height:.1}\" \
             fill=\"none\" stroke=\"#333333\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" \
             text-anchor=\"middle\">{}</text>",
            left + width / 2.0,
            top + height + 34.0,
            escape(&self.x_label),
            top + height / 2.0,
            top + height / 2.0,
            escape(&self.y_label)
        );
        for (k, s) in self.series.iter().enumerate() {
            let colour = PALETTE[s.colour % PALETTE.len()];
            let dash = if s.dashed {
                " stroke-dasharray=\"5 4\""
            } else {
                ""
            };
            // Runs of drawable points, each one polyline.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for &(x, y) in &s.points {
                if drawable(y) && x.is_finite() {
                    if let Some(run) = runs.last_mut() {
                        run.push((px(x), py(y)));
                    }
                } else if !runs.last().is_some_and(Vec::is_empty) {
                    runs.push(Vec::new());
                }
            }
            for run in runs.iter().filter(|r| !r.is_empty()) {
                let coords: Vec<String> =
                    run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = writeln!(
                    out,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\"{dash}/>",
                    coords.join(" ")
                );
            }
            let ly = top + 12.0 + 18.0 * k as f64;
            let lx = left + width + 16.0;
            let _ = writeln!(
                out,
                "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" \
                 stroke-width=\"1.8\"{dash}/>\n<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                lx + 24.0,
                lx + 30.0,
                ly + 4.0,
                escape(&s.name)
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

/// The colour of a relative error on the heat map: green at 1e-16 and below, through yellow,
/// to red at 1e-4 and above, on a log scale.
fn error_colour(rel: f64) -> String {
    let a = ((rel.max(1e-16).log10() + 16.0) / 12.0).clamp(0.0, 1.0);
    // Green (44, 160, 44) to yellow (240, 200, 40) to red (214, 39, 40).
    let (r, g, b) = if a < 0.5 {
        let s = a / 0.5;
        (44.0 + s * 196.0, 160.0 + s * 40.0, 44.0 - s * 4.0)
    } else {
        let s = (a - 0.5) / 0.5;
        (240.0 - s * 26.0, 200.0 - s * 161.0, 40.0)
    };
    format!("#{:02x}{:02x}{:02x}", r as u8, g as u8, b as u8)
}

/// The per-step check of `report` as a heat map: one row per checked step (from `t = T` at the
/// top, as the backward pass walks), one column per quantity, then a row of totals. Each cell
/// is coloured by the largest relative error of its comparisons (hand, tape, forward mode and
/// finite differences against each other), and marked `F` where its verdict is `FAIL` and `?`
/// where finite differences were inconclusive; its tooltip (`<title>`) gives the error itself.
pub fn check_heat_map(report: &Report) -> String {
    let checked: Vec<usize> = report.checked_steps();
    let quantities: Vec<&str> = report
        .steps
        .iter()
        .find(|row| !row.is_empty())
        .map(|row| row.iter().map(|(q, _)| *q).collect())
        .unwrap_or_default();
    let (cell, label_width, top) = (34.0, 60.0, 46.0);
    let columns = quantities.len().max(report.totals.len()).max(1);
    let rows = checked.len() + 1;
    let title = "the check, step by step: the largest relative error of each quantity";
    // Monospace at 13 px: about 8 px a character.
    let width = (label_width + cell * columns as f64 + 150.0).max(16.0 + 8.0 * title.len() as f64);
    let height = top + cell * rows as f64 + 30.0;
    let mut out = open(width, height);
    let _ = writeln!(
        out,
        "<text x=\"8\" y=\"18\" font-size=\"13\">{title}</text>"
    );
    let worst = |c: &crate::check::Comparisons| {
        [
            c.hand_tape.rel,
            c.hand_forward.rel,
            c.tape_forward.rel,
            c.hand_fd.rel,
            c.tape_fd.rel,
        ]
        .into_iter()
        .fold(
            0.0f64,
            |m, r| if r.is_nan() { f64::INFINITY } else { m.max(r) },
        )
    };
    let square = |out: &mut String, x: f64, y: f64, name: &str, c: &crate::check::Comparisons| {
        let (mark, verdict) = match c.verdict() {
            Verdict::Fail => ("F", "FAIL"),
            Verdict::Inconclusive => ("?", "inconclusive"),
            Verdict::Ok => ("", "ok"),
        };
        // The title is the tooltip a browser shows over the square: the number behind its colour.
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" \
             stroke=\"white\"><title>{}: {:.1e} ({verdict})</title></rect>",
            cell,
            cell,
            error_colour(worst(c)),
            escape(name),
            worst(c)
        );
        if !mark.is_empty() {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"14\" \
                 font-weight=\"bold\">{mark}</text>",
                x + cell / 2.0,
                y + cell / 2.0 + 5.0
            );
        }
    };
    for (j, q) in quantities.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{q}</text>",
            label_width + cell * (j as f64 + 0.5),
            top - 8.0
        );
    }
    for (i, &t) in checked.iter().rev().enumerate() {
        let y = top + cell * i as f64;
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">t={t}</text>",
            label_width - 6.0,
            y + cell / 2.0 + 4.0
        );
        for (j, (q, c)) in report.steps[t - 1].iter().enumerate() {
            let name = format!("{q} at t={t}");
            square(&mut out, label_width + cell * j as f64, y, &name, c);
        }
    }
    let y = top + cell * checked.len() as f64;
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">totals</text>",
        label_width - 6.0,
        y + cell / 2.0 + 4.0
    );
    for (j, (total, c)) in report.totals.iter().enumerate() {
        let x = label_width + cell * j as f64;
        square(&mut out, x, y, total.key, c);
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"9\">{}</text>",
            x + cell / 2.0,
            y + cell + 11.0,
            total.key
        );
    }
    // The colour scale.
    let scale_x = label_width + cell * columns as f64 + 24.0;
    for (k, exponent) in (-16..=-4).step_by(2).enumerate() {
        let y = top + 18.0 * k as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{scale_x:.1}\" y=\"{y:.1}\" width=\"14\" height=\"14\" fill=\"{}\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">1e{exponent}</text>",
            error_colour(10f64.powi(exponent)),
            scale_x + 20.0,
            y + 11.0
        );
    }
    let y = top + 18.0 * 7.0 + 8.0;
    let _ = writeln!(
        out,
        "<text x=\"{scale_x:.1}\" y=\"{y:.1}\">F fail</text>\n<text x=\"{scale_x:.1}\" \
         y=\"{:.1}\">? inconclusive</text>",
        y + 16.0
    );
    out.push_str("</svg>\n");
    out
}
