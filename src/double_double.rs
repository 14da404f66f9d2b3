//! Double-double numbers: about 32 significant digits from pairs of `f64`.
//!
//! A [`DoubleDouble`] is the unevaluated sum `value + tail` of two `f64`, the tail below half an
//! ulp of the value. Each operation is built from the two error-free transformations of
//! floating point, which give a rounded result *and its exact rounding error*:
//!
//! ```text
//! two_sum(a, b)  = (s, e)   s = fl(a + b),  s + e = a + b exactly
//! two_prod(a, b) = (p, e)   p = fl(a · b),  p + e = a · b exactly (e = fma(a, b, −p))
//! ```
//!
//! so a sum or product of two double-doubles keeps the error `f64` would throw away, and is off
//! by a few units of `ε = 2^(−104) ≈ 4.9e-32` of itself (Joldes, Muller and Popescu, *Tight and
//! rigorous error bounds for basic building blocks of double-word arithmetic*, 2017, whose
//! algorithms these are). It is a [`Scalar`], so the crate's generic forward code runs on it
//! unchanged: [`crate::check`] evaluates a loss in it where `f64` rounds away the change a
//! finite difference measures, and runs in it the tape that given gradients are judged against
//! ([`crate::check::reference_gradients`]).

use crate::scalar::Scalar;
use num_traits::{Float, Num, NumCast, One, ToPrimitive, Zero};
use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Rem, Sub, SubAssign};

/// `value + tail`, with `|tail| ≤ ulp(value)/2`: a number to about 106 bits.
///
/// An infinite or NaN value has a zero tail.
#[derive(Clone, Copy, Debug, Default)]
pub struct DoubleDouble {
    /// The number rounded to `f64`.
    pub value: f64,
    /// What the rounding left out.
    pub tail: f64,
}

/// `s = fl(a + b)` and its rounding error `e`: `s + e = a + b` exactly (Knuth).
#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let b_part = s - a;
    (s, (a - (s - b_part)) + (b - b_part))
}

/// [`two_sum`] for `|a| ≥ |b|`, in three operations (Dekker).
#[inline]
fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `p = fl(a · b)` and its rounding error (Dekker): each factor split into halves of 26 bits,
/// whose products are exact. (A fused multiply-add, `fma(a, b, −p)`, gives the error in one
/// operation, but a build for any x86-64 has none and calls a slow software one instead.)
#[inline]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    if a.abs() > SPLIT_LIMIT || b.abs() > SPLIT_LIMIT {
        // The split would overflow; there is room for the exact one.
        return (p, a.mul_add(b, -p));
    }
    let (a_hi, a_lo) = split(a);
    let (b_hi, b_lo) = split(b);
    let e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
    (p, e)
}

/// `a = hi + lo`, each with at most 26 significant bits (Veltkamp).
#[inline]
fn split(a: f64) -> (f64, f64) {
    let c = SPLITTER * a;
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `2^27 + 1`, Veltkamp's constant for 53-bit numbers.
const SPLITTER: f64 = 134_217_729.0;

/// Above this (`2^995`), `SPLITTER · a` overflows.
const SPLIT_LIMIT: f64 = 3.348_464_397_457_085_4e299;

/// `ln 2`, to 106 bits.
const LN_2: DoubleDouble = DoubleDouble {
    value: std::f64::consts::LN_2,
    tail: 2.319_046_813_846_299_6e-17,
};

/// `ln 10`, to 106 bits.
const LN_10: DoubleDouble = DoubleDouble {
    value: std::f64::consts::LN_10,
    tail: -2.170_756_223_382_249_4e-16,
};

/// `π/2`, to 106 bits.
const FRAC_PI_2: DoubleDouble = DoubleDouble {
    value: std::f64::consts::FRAC_PI_2,
    tail: 6.123_233_995_736_766e-17,
};

/// A series is summed until its term is below this fraction of the sum: a few `ε`.
const SERIES_END: f64 = 1e-33;

/// `j/64` for `j = −TABLE_HALF..=TABLE_HALF` covers `|x| ≤ ln 2 / 2 ≈ 22.2/64`.
const TABLE_HALF: f64 = 23.0;

/// Above this `e^x` is past `f64::MAX` (`e^709.78… ≈ 1.8e308`): [`Float::exp`] returns `∞`.
const EXP_OVERFLOW: f64 = 709.79;

/// The divisors of the series' double-double steps in [`DoubleDouble::exp_m1_series`].
const SERIES_DIVISORS: [f64; 5] = [6.0, 5.0, 4.0, 3.0, 2.0];

/// `1 + t` for the series of `e^h − 1` ([`DoubleDouble::exp_m1_series`]), with its terms from
/// `h⁷/7!` on, `t = h/7·(1 + h/8·(1 + … (1 + h/11)))`, in `f64`.
fn series_start(h: f64) -> DoubleDouble {
    let t = h / 7.0 * (1.0 + h / 8.0 * (1.0 + h / 9.0 * (1.0 + h / 10.0 * (1.0 + h / 11.0))));
    DoubleDouble::from_f64(t).plus_f64(1.0)
}

/// `(e^(j/64), e^(j/64) − 1)` for `j = −23..=23`, at index `j + 23`, each made once from the
/// series of `e^(j/64 / 2^6) − 1` and six doublings `e^(2y) − 1 = (e^y − 1)·(e^y − 1 + 2)`,
/// which do not cancel.
fn exp_table() -> &'static [(DoubleDouble, DoubleDouble); 47] {
    static TABLE: std::sync::OnceLock<[(DoubleDouble, DoubleDouble); 47]> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            // (j/64)/64: below 1/64 for every j, and exact.
            let y = DoubleDouble::from_f64((i as f64 - TABLE_HALF) / 4096.0);
            let mut m = y.exp_m1_series();
            for _ in 0..6 {
                m = m * m.plus_f64(2.0);
            }
            (m + DoubleDouble::one(), m)
        })
    })
}

impl DoubleDouble {
    /// The double-double equal to `x`.
    pub const fn from_f64(x: f64) -> DoubleDouble {
        DoubleDouble {
            value: x,
            tail: 0.0,
        }
    }

    /// `head + tail` renormalized, given `|head| ≥ |tail|`; a result that overflowed (or is NaN)
    /// keeps `head`, whose tail means nothing.
    fn normalized(head: f64, tail: f64) -> DoubleDouble {
        if !head.is_finite() {
            return DoubleDouble::from_f64(head);
        }
        let (value, tail) = fast_two_sum(head, tail);
        DoubleDouble { value, tail }
    }

    /// `self · 2^k`, exactly unless it leaves the range of `f64`.
    fn scaled(self, k: i32) -> DoubleDouble {
        // In two factors: 2^1024 itself is not an f64, though e^709.7 ≈ 2^1023.9 is.
        let (a, b) = (k / 2, k - k / 2);
        let (fa, fb) = (2f64.powi(a), 2f64.powi(b));
        DoubleDouble {
            value: self.value * fa * fb,
            tail: self.tail * fa * fb,
        }
    }

    /// `a·b` as an `f64` head and everything else, `head + rest = a·b` to about `ε·|a·b|`:
    /// the error-free product of the heads, and the cross terms (for sums that renormalize
    /// once, at the end: [`crate::kernel`]'s products). It and the helpers it calls are
    /// `#[inline]` so that they compile into the kernel's loop on the vector unit.
    #[inline]
    pub(crate) fn product_parts(a: DoubleDouble, b: DoubleDouble) -> (f64, f64) {
        let (p, p_err) = two_prod(a.value, b.value);
        (p, p_err + (a.value * b.tail + a.tail * b.value))
    }

    /// `a + b` for `f64`s as a head and its exact rounding error.
    #[inline]
    pub(crate) fn sum_parts(a: f64, b: f64) -> (f64, f64) {
        two_sum(a, b)
    }

    /// `head + tail` as a double-double, for any two `f64`: the end of a compensated sum.
    pub(crate) fn renormalized(head: f64, tail: f64) -> DoubleDouble {
        if !head.is_finite() {
            return DoubleDouble::from_f64(head);
        }
        let (s, e) = two_sum(head, tail);
        DoubleDouble::normalized(s, e)
    }

    /// `self · b` for an `f64` `b` (Joldes et al., Algorithm 9).
    fn times_f64(self, b: f64) -> DoubleDouble {
        let (p, e) = two_prod(self.value, b);
        if !p.is_finite() {
            return DoubleDouble::from_f64(p);
        }
        DoubleDouble::normalized(p, self.tail * b + e)
    }

    /// `self / b` for an `f64` `b` (Joldes et al., Algorithm 15): relative error below `3ε`.
    fn divided_by_f64(self, b: f64) -> DoubleDouble {
        let q = self.value / b;
        if !q.is_finite() || !b.is_finite() || b == 0.0 {
            return DoubleDouble::from_f64(q);
        }
        let (p, p_err) = two_prod(q, b);
        let left = (self.value - p) - p_err + self.tail;
        DoubleDouble::normalized(q, left / b)
    }

    /// `e^y − 1` by its series, for `|y| ≤ 1/64`, nested as
    /// `y·(1 + y/2·(1 + y/3·(… (1 + y/6·(1 + t)))))`: the terms from `y⁷/7!` on are below
    /// `1e-15` of the sum, so their `t` needs only `f64`.
    fn exp_m1_series(self) -> DoubleDouble {
        let mut q = series_start(self.value);
        for n in SERIES_DIVISORS {
            q = (self * q).divided_by_f64(n).plus_f64(1.0);
        }
        self * q
    }

    /// [`DoubleDouble::exp_m1_series`] of every entry of `s`, the same numbers: each step of
    /// the series taken for all the entries before the next (see [`DoubleDouble::tanh_each`]).
    fn exp_m1_series_each(s: &[DoubleDouble]) -> Vec<DoubleDouble> {
        let mut q: Vec<DoubleDouble> = s.iter().map(|s| series_start(s.value)).collect();
        for n in SERIES_DIVISORS {
            for (q, &s) in q.iter_mut().zip(s) {
                *q = (s * *q).divided_by_f64(n).plus_f64(1.0);
            }
        }
        for (q, &s) in q.iter_mut().zip(s) {
            *q = s * *q;
        }
        q
    }

    /// [`DoubleDouble::exp_m1_reduced`] of every entry of `r`, the same numbers.
    fn exp_m1_reduced_each(r: &[DoubleDouble]) -> Vec<DoubleDouble> {
        let j: Vec<f64> = r.iter().map(|r| (r.value * 64.0).round()).collect();
        let s: Vec<DoubleDouble> = r
            .iter()
            .zip(&j)
            .map(|(&r, &j)| r - DoubleDouble::from_f64(j / 64.0))
            .collect();
        let mut q = DoubleDouble::exp_m1_series_each(&s);
        for (q, &j) in q.iter_mut().zip(&j) {
            if j != 0.0 {
                let (e, e_m1) = exp_table()[(j + TABLE_HALF) as usize];
                *q = e * *q + e_m1;
            }
        }
        q
    }

    /// `x ← tanh(x)` for every entry, the same numbers as [`Float::tanh`] of each, taken in
    /// passes over the whole slice: the reduced argument of every entry, then each step of
    /// the series for all of them, then the quotients. One entry's `tanh` is a chain of some
    /// thirty dependent divisions and products, which a processor runs no faster than their
    /// latency (420 ns an entry, measured on this project's machine); the entries are
    /// independent, and a pass over them keeps many chains in flight at once.
    pub(crate) fn tanh_each(x: &mut [DoubleDouble]) {
        let two = DoubleDouble::from_f64(2.0);
        let one = DoubleDouble::one();
        // As `tanh` takes e^y − 1: y = 2x near 0 and y = 2|x| away from it; then as `exp_m1`
        // and `exp` take it: directly where |y| ≤ ln 2/2, else through y = k·ln 2 + r.
        let near = |v: DoubleDouble| v.value.abs() <= 0.5;
        let y_of = |v: DoubleDouble| if near(v) { two * v } else { two * v.abs() };
        let direct = |v: DoubleDouble, y: DoubleDouble| {
            near(v) && y.value.abs() <= std::f64::consts::LN_2 / 2.0
        };
        let (mut r, mut k) = (Vec::with_capacity(x.len()), Vec::with_capacity(x.len()));
        for &v in x.iter() {
            let y = y_of(v);
            if v.is_nan() || y.value > EXP_OVERFLOW {
                // `tanh` and `exp` return before any series: nothing to reduce.
                r.push(DoubleDouble::zero());
                k.push(0.0);
            } else if direct(v, y) {
                r.push(y);
                k.push(0.0);
            } else {
                let k_v = (y.value / std::f64::consts::LN_2).round();
                r.push(y - LN_2.times_f64(k_v));
                k.push(k_v);
            }
        }
        let q = DoubleDouble::exp_m1_reduced_each(&r);
        for ((v, q), k) in x.iter_mut().zip(q).zip(k) {
            if v.is_nan() {
                continue;
            }
            let y = y_of(*v);
            // e^y as `exp` gives it (y ≥ −1 here, so only its overflow applies).
            let e = || {
                if y.value > EXP_OVERFLOW {
                    DoubleDouble::infinity()
                } else {
                    (q + one).scaled(k as i32)
                }
            };
            *v = if near(*v) {
                let m = if direct(*v, y) { q } else { e() - one };
                m / (m + two)
            } else {
                let t = one - two / (e() + one);
                if v.value < 0.0 { -t } else { t }
            };
        }
    }

    /// `e^x − 1` for `|x| ≤ ln 2 / 2`, with no cancellation: `x = j/64 + s` with `|s| ≤ 1/128`,
    /// and `e^x − 1 = e^(j/64)·(e^s − 1) + (e^(j/64) − 1)` from a table of both, the two terms
    /// of the same sign unless `s` and `j` differ in sign, when the second is the larger by
    /// twice.
    fn exp_m1_reduced(self) -> DoubleDouble {
        let j = (self.value * 64.0).round();
        let s = self - DoubleDouble::from_f64(j / 64.0);
        let q = s.exp_m1_series();
        if j == 0.0 {
            return q;
        }
        let (e, e_m1) = exp_table()[(j + TABLE_HALF) as usize];
        e * q + e_m1
    }

    /// `self + b` where the two do not cancel (same signs, or `|b|` at least twice `|self|`
    /// or at most half of it): Dekker's sum, cheaper than the sum of any two.
    fn plus_f64(self, b: f64) -> DoubleDouble {
        let (s, e) = two_sum(self.value, b);
        DoubleDouble::normalized(s, e + self.tail)
    }

    /// `sin r` and `cos r` for `|r| ≤ π/4`, by their series.
    fn sin_cos_small(self) -> (DoubleDouble, DoubleDouble) {
        let r2 = self * self;
        let (mut sin, mut cos) = (self, DoubleDouble::one());
        let (mut s_term, mut c_term) = (self, DoubleDouble::one());
        let mut n = 0.0;
        loop {
            n += 2.0;
            // term_(k+1) = −term_k · r² / ((n)(n + 1)) for sin, / ((n − 1)(n)) for cos.
            s_term = -(s_term * r2).divided_by_f64(n * (n + 1.0));
            c_term = -(c_term * r2).divided_by_f64((n - 1.0) * n);
            sin += s_term;
            cos += c_term;
            if s_term.value.abs() <= SERIES_END * sin.value.abs().max(f64::MIN_POSITIVE)
                && c_term.value.abs() <= SERIES_END
            {
                return (sin, cos);
            }
        }
    }

    /// One Newton step towards the root of `f`, from the `f64` estimate `start`:
    /// `y − f(y)/f'(y)`, with `f` and `f'` given together. From the 53 bits of a correctly
    /// rounded `f64` result, one step reaches about 106.
    fn newton(
        start: f64,
        f: impl Fn(DoubleDouble) -> (DoubleDouble, DoubleDouble),
    ) -> DoubleDouble {
        let y = DoubleDouble::from_f64(start);
        if !start.is_finite() {
            return y;
        }
        let (value, slope) = f(y);
        if slope.is_zero() || !(value / slope).is_finite() {
            return y;
        }
        y - value / slope
    }
}

impl PartialEq for DoubleDouble {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value && self.tail == other.tail
    }
}

impl PartialOrd for DoubleDouble {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.value.partial_cmp(&other.value)? {
            Ordering::Equal => self.tail.partial_cmp(&other.tail),
            unequal => Some(unequal),
        }
    }
}

impl Add for DoubleDouble {
    type Output = Self;
    /// Joldes et al., Algorithm 6 (`AccurateDWPlusDW`): relative error below `3ε` of the sum,
    /// however the two cancel.
    fn add(self, b: Self) -> Self {
        let (s, s_err) = two_sum(self.value, b.value);
        if !s.is_finite() {
            return DoubleDouble::from_f64(s);
        }
        let (t, t_err) = two_sum(self.tail, b.tail);
        let (v, v_err) = fast_two_sum(s, s_err + t);
        DoubleDouble::normalized(v, t_err + v_err)
    }
}

impl Sub for DoubleDouble {
    type Output = Self;
    fn sub(self, b: Self) -> Self {
        self + (-b)
    }
}

impl Mul for DoubleDouble {
    type Output = Self;
    /// Joldes et al., Algorithm 10 (`DWTimesDW1`): relative error below `7ε`.
    fn mul(self, b: Self) -> Self {
        let (p, p_err) = two_prod(self.value, b.value);
        if !p.is_finite() {
            return DoubleDouble::from_f64(p);
        }
        let cross = self.value * b.tail + self.tail * b.value;
        DoubleDouble::normalized(p, p_err + cross)
    }
}

impl Div for DoubleDouble {
    type Output = Self;
    /// Long division in three `f64` quotients: `q₁ = a/b`, then the quotients of what is
    /// left, `a − q₁·b` and so on, each exact to a double-double.
    fn div(self, b: Self) -> Self {
        let q1 = self.value / b.value;
        if !q1.is_finite() || !b.is_finite() || b.value == 0.0 {
            // Division by zero or infinity, or of infinity: the answer has no tail.
            return DoubleDouble::from_f64(q1);
        }
        let r = self - b.times_f64(q1);
        let q2 = r.value / b.value;
        let r = r - b.times_f64(q2);
        let q3 = r.value / b.value;
        let (q1, q2) = fast_two_sum(q1, q2);
        DoubleDouble {
            value: q1,
            tail: q2,
        } + DoubleDouble::from_f64(q3)
    }
}

impl Rem for DoubleDouble {
    type Output = Self;
    /// `a − b·trunc(a/b)`, as `f64`'s `%`.
    fn rem(self, b: Self) -> Self {
        self - b * (self / b).trunc()
    }
}

impl Neg for DoubleDouble {
    type Output = Self;
    fn neg(self) -> Self {
        DoubleDouble {
            value: -self.value,
            tail: -self.tail,
        }
    }
}

impl AddAssign for DoubleDouble {
    fn add_assign(&mut self, b: Self) {
        *self = *self + b;
    }
}

impl SubAssign for DoubleDouble {
    fn sub_assign(&mut self, b: Self) {
        *self = *self - b;
    }
}

impl MulAssign for DoubleDouble {
    fn mul_assign(&mut self, b: Self) {
        *self = *self * b;
    }
}

impl std::iter::Sum for DoubleDouble {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(DoubleDouble::zero(), |a, b| a + b)
    }
}

impl Zero for DoubleDouble {
    fn zero() -> Self {
        DoubleDouble::from_f64(0.0)
    }
    fn is_zero(&self) -> bool {
        self.value == 0.0
    }
}

impl One for DoubleDouble {
    fn one() -> Self {
        DoubleDouble::from_f64(1.0)
    }
}

impl Num for DoubleDouble {
    type FromStrRadixErr = <f64 as Num>::FromStrRadixErr;
    /// Reads the text as an `f64` (to its precision, not to a double-double's).
    fn from_str_radix(text: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
        f64::from_str_radix(text, radix).map(DoubleDouble::from_f64)
    }
}

impl ToPrimitive for DoubleDouble {
    /// The whole part, as `f64`'s `as i64` would take it from the exact number.
    fn to_i64(&self) -> Option<i64> {
        let whole = self.trunc();
        whole.value.to_i64()?.checked_add(whole.tail.to_i64()?)
    }
    fn to_u64(&self) -> Option<u64> {
        self.to_i64()?.to_u64()
    }
    fn to_f64(&self) -> Option<f64> {
        Some(self.value)
    }
}

impl NumCast for DoubleDouble {
    /// Through `f64` (exact for integers below `2^53` and for `f32` and `f64` themselves).
    fn from<N: ToPrimitive>(n: N) -> Option<Self> {
        n.to_f64().map(DoubleDouble::from_f64)
    }
}

impl fmt::Display for DoubleDouble {
    /// Prints the value rounded to `f64`, with the formatter's options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl fmt::LowerExp for DoubleDouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerExp::fmt(&self.value, f)
    }
}

/// Every function is computed to about a double-double's precision, unless it says otherwise:
/// `exp` by a reduced argument and its series, the inverses (`ln`, `atan`, `cbrt`, …) by one
/// Newton step from `f64`'s own result.
impl Float for DoubleDouble {
    fn nan() -> Self {
        DoubleDouble::from_f64(f64::NAN)
    }
    fn infinity() -> Self {
        DoubleDouble::from_f64(f64::INFINITY)
    }
    fn neg_infinity() -> Self {
        DoubleDouble::from_f64(f64::NEG_INFINITY)
    }
    fn neg_zero() -> Self {
        DoubleDouble::from_f64(-0.0)
    }
    /// `f64`'s: the tail of a number near the limits of `f64` would be subnormal.
    fn min_value() -> Self {
        DoubleDouble::from_f64(f64::MIN)
    }
    fn min_positive_value() -> Self {
        DoubleDouble::from_f64(f64::MIN_POSITIVE)
    }
    /// `2^(−104)`: the spacing of double-doubles near 1 is finer, but each operation rounds
    /// at about this (relative) size.
    fn epsilon() -> Self {
        DoubleDouble::from_f64(2f64.powi(-104))
    }
    fn max_value() -> Self {
        DoubleDouble::from_f64(f64::MAX)
    }
    fn is_nan(self) -> bool {
        self.value.is_nan()
    }
    fn is_infinite(self) -> bool {
        self.value.is_infinite()
    }
    fn is_finite(self) -> bool {
        self.value.is_finite()
    }
    fn is_normal(self) -> bool {
        self.value.is_normal()
    }
    fn classify(self) -> std::num::FpCategory {
        self.value.classify()
    }
    fn is_sign_positive(self) -> bool {
        self.value.is_sign_positive()
    }
    fn is_sign_negative(self) -> bool {
        self.value.is_sign_negative()
    }
    /// The value's, rounded to `f64`.
    fn integer_decode(self) -> (u64, i16, i8) {
        self.value.integer_decode()
    }
    fn floor(self) -> Self {
        let head = self.value.floor();
        if head == self.value {
            // A whole head: the tail decides (2 − 1e-20 is below 2).
            DoubleDouble::normalized(head, self.tail.floor())
        } else {
            DoubleDouble::from_f64(head)
        }
    }
    fn ceil(self) -> Self {
        -(-self).floor()
    }
    /// Half-way cases away from zero, as `f64::round`.
    fn round(self) -> Self {
        let half = DoubleDouble::from_f64(0.5);
        if self.value >= 0.0 {
            (self + half).floor()
        } else {
            (self - half).ceil()
        }
    }
    fn trunc(self) -> Self {
        if self.value >= 0.0 {
            self.floor()
        } else {
            self.ceil()
        }
    }
    fn fract(self) -> Self {
        self - self.trunc()
    }
    fn abs(self) -> Self {
        if self.value < 0.0 { -self } else { self }
    }
    fn signum(self) -> Self {
        DoubleDouble::from_f64(self.value.signum())
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    fn recip(self) -> Self {
        DoubleDouble::one() / self
    }
    fn powi(self, n: i32) -> Self {
        let mut base = self;
        let mut result = DoubleDouble::one();
        let mut left = n.unsigned_abs();
        while left > 0 {
            if left & 1 == 1 {
                result *= base;
            }
            base = base * base;
            left >>= 1;
        }
        if n < 0 { result.recip() } else { result }
    }
    /// `e^(b·ln a)` for a positive `a`; a whole power of any `a` by [`Float::powi`]; `f64`'s
    /// answer where it is exact (a zero, infinite or NaN base, and NaN otherwise).
    fn powf(self, b: Self) -> Self {
        if self.value > 0.0 && self.is_finite() {
            return (b * self.ln()).exp();
        }
        if b.fract().is_zero() && b.abs().value <= 2_147_483_647.0 && self.is_finite() {
            return self.powi(b.value as i32 + b.tail as i32);
        }
        DoubleDouble::from_f64(self.value.powf(b.value))
    }
    /// The root of `f64` improved by one Newton step, `s + (a − s²)/(2s)`.
    fn sqrt(self) -> Self {
        if self.value <= 0.0 || !self.is_finite() {
            // Zero keeps its sign; a negative number gives NaN; ∞ stays.
            return DoubleDouble::from_f64(self.value.sqrt());
        }
        let s = self.value.sqrt();
        let (square, err) = two_prod(s, s);
        let left = (self
            - DoubleDouble {
                value: square,
                tail: err,
            })
        .value;
        DoubleDouble::normalized(s, left / (2.0 * s))
    }
    /// `e^x = 2^k · e^r` with `r = x − k·ln 2`, `|r| ≤ ln 2 / 2`, and `e^r` from a table of
    /// `e^(j/64)` and the series of `e^s`, `|s| ≤ 1/128`.
    fn exp(self) -> Self {
        if self.value.is_nan() {
            return self;
        }
        if self.value > EXP_OVERFLOW {
            return DoubleDouble::infinity();
        }
        if self.value < -745.2 {
            return DoubleDouble::zero();
        }
        let k = (self.value / std::f64::consts::LN_2).round();
        let r = self - LN_2.times_f64(k);
        (r.exp_m1_reduced() + DoubleDouble::one()).scaled(k as i32)
    }
    fn exp2(self) -> Self {
        (self * LN_2).exp()
    }
    /// `ln a = k·ln 2 + ln m` for `a = m·2^k`, `m` near 1, and `ln m` by one Newton step on
    /// `e^y = m` from `f64`'s logarithm, `y + m·e^(−y) − 1`: accurate to a few `ε` absolutely
    /// (relatively near `a = 1`, where `ln` is small, use [`Float::ln_1p`]). Taking out `2^k`
    /// keeps `e^(−y)` far from the subnormal numbers, where a tail loses its bits.
    fn ln(self) -> Self {
        if self.value <= 0.0 || !self.is_finite() {
            return DoubleDouble::from_f64(self.value.ln());
        }
        let k = self.value.log2().round();
        let m = self.scaled(-(k as i32));
        let y = DoubleDouble::from_f64(m.value.ln());
        LN_2.times_f64(k) + (y + m * (-y).exp() - DoubleDouble::one())
    }
    fn log(self, base: Self) -> Self {
        self.ln() / base.ln()
    }
    fn log2(self) -> Self {
        self.ln() / LN_2
    }
    fn log10(self) -> Self {
        self.ln() / LN_10
    }
    fn max(self, b: Self) -> Self {
        if b > self || self.is_nan() { b } else { self }
    }
    fn min(self, b: Self) -> Self {
        if b < self || self.is_nan() { b } else { self }
    }
    fn abs_sub(self, b: Self) -> Self {
        (self - b).max(DoubleDouble::zero())
    }
    fn cbrt(self) -> Self {
        if self.value == 0.0 {
            return self;
        }
        DoubleDouble::newton(self.value.cbrt(), |y| {
            (y * y * y - self, DoubleDouble::from_f64(3.0) * y * y)
        })
    }
    /// Scaled by the larger, so that the squares do not overflow.
    fn hypot(self, b: Self) -> Self {
        let m = self.abs().max(b.abs());
        if m.is_zero() || !m.is_finite() {
            return DoubleDouble::from_f64(self.value.hypot(b.value));
        }
        let (x, y) = (self / m, b / m);
        m * (x * x + y * y).sqrt()
    }
    /// By the series, after taking away the multiple of `π/2` nearest: to a double-double's
    /// precision for `|x|` up to about 1e6 (beyond, two words of `π/2` are too few).
    fn sin(self) -> Self {
        self.sin_cos().0
    }
    fn cos(self) -> Self {
        self.sin_cos().1
    }
    fn sin_cos(self) -> (Self, Self) {
        if !self.is_finite() {
            return (DoubleDouble::nan(), DoubleDouble::nan());
        }
        let k = (self.value / std::f64::consts::FRAC_PI_2).round();
        let r = self - FRAC_PI_2 * DoubleDouble::from_f64(k);
        let (s, c) = r.sin_cos_small();
        match k.rem_euclid(4.0) as u8 {
            0 => (s, c),
            1 => (c, -s),
            2 => (-s, -c),
            _ => (-c, s),
        }
    }
    fn tan(self) -> Self {
        let (s, c) = self.sin_cos();
        s / c
    }
    fn asin(self) -> Self {
        let one = DoubleDouble::one();
        self.atan2((one - self * self).sqrt())
    }
    fn acos(self) -> Self {
        let one = DoubleDouble::one();
        (one - self * self).sqrt().atan2(self)
    }
    fn atan(self) -> Self {
        self.atan2(DoubleDouble::one())
    }
    /// One Newton step on `x·sin θ − y·cos θ = 0` from `f64`'s angle.
    fn atan2(self, x: Self) -> Self {
        let y = self;
        if !y.is_finite() || !x.is_finite() || (y.is_zero() && x.is_zero()) {
            return DoubleDouble::from_f64(y.value.atan2(x.value));
        }
        DoubleDouble::newton(y.value.atan2(x.value), |theta| {
            let (s, c) = theta.sin_cos();
            (x * s - y * c, x * c + y * s)
        })
    }
    /// Without cancellation near 0; beyond `ln 2 / 2`, `e^x − 1` loses at most a bit or two.
    fn exp_m1(self) -> Self {
        if self.value.abs() <= std::f64::consts::LN_2 / 2.0 {
            self.exp_m1_reduced()
        } else {
            self.exp() - DoubleDouble::one()
        }
    }
    /// One Newton step on `e^y − 1 = x` from `f64`'s answer, the residual `e^y − 1 − x` taken
    /// without cancellation.
    fn ln_1p(self) -> Self {
        if self.value <= -1.0 || !self.is_finite() {
            return DoubleDouble::from_f64(self.value.ln_1p());
        }
        DoubleDouble::newton(self.value.ln_1p(), |y| {
            let em1 = y.exp_m1();
            (em1 - self, em1 + DoubleDouble::one())
        })
    }
    fn sinh(self) -> Self {
        let half = DoubleDouble::from_f64(0.5);
        if self.value.abs() <= 1.0 {
            // (e^x − e^(−x))/2 = (m + m/(m + 1))/2 with m = e^x − 1: no cancellation near 0.
            let m = self.exp_m1();
            half * (m + m / (m + DoubleDouble::one()))
        } else {
            let e = self.exp();
            half * (e - e.recip())
        }
    }
    fn cosh(self) -> Self {
        let e = self.abs().exp();
        DoubleDouble::from_f64(0.5) * (e + e.recip())
    }
    /// `(e^(2x) − 1)/(e^(2x) + 1)` through `e^(2x) − 1` near 0, `1 − 2/(e^(2|x|) + 1)` away from it.
    fn tanh(self) -> Self {
        if self.is_nan() {
            return self;
        }
        let two = DoubleDouble::from_f64(2.0);
        if self.value.abs() <= 0.5 {
            let m = (two * self).exp_m1();
            m / (m + two)
        } else {
            let t = DoubleDouble::one() - two / ((two * self.abs()).exp() + DoubleDouble::one());
            if self.value < 0.0 { -t } else { t }
        }
    }
    /// `sign(x)·ln(1 + |x| + x²/(1 + √(1 + x²)))`, which does not cancel near 0.
    fn asinh(self) -> Self {
        let a = self.abs();
        let one = DoubleDouble::one();
        let r = (a + a * a / (one + (one + a * a).sqrt())).ln_1p();
        if self.value < 0.0 { -r } else { r }
    }
    fn acosh(self) -> Self {
        let one = DoubleDouble::one();
        (self + (self * self - one).sqrt()).ln()
    }
    /// `ln(1 + 2x/(1 − x))/2`.
    fn atanh(self) -> Self {
        let one = DoubleDouble::one();
        DoubleDouble::from_f64(0.5) * (DoubleDouble::from_f64(2.0) * self / (one - self)).ln_1p()
    }
}

impl Scalar for DoubleDouble {
    const NAME: &'static str = "double-double";

    fn from_f64(v: f64) -> Self {
        DoubleDouble::from_f64(v)
    }

    /// The value rounded to `f64`.
    fn as_f64(self) -> f64 {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A double-double from its two parts as printed by mpmath (`mpf` at 130 bits, then
    /// `float(x)` and `float(x − float(x))`).
    fn dd(value: f64, tail: f64) -> DoubleDouble {
        DoubleDouble { value, tail }
    }

    /// `|a − b| / |b|`, in double-double.
    fn rel(a: DoubleDouble, b: DoubleDouble) -> f64 {
        ((a - b) / b).abs().value
    }

    #[test]
    fn tanh_of_a_slice_is_tanh_of_each_entry_bit_for_bit() {
        let third = |v: f64| DoubleDouble::from_f64(v) / DoubleDouble::from_f64(3.0);
        let mut xs: Vec<DoubleDouble> = (-4000..=4000).map(|i| third(i as f64 / 400.0)).collect();
        // Each side of every branch: |x| = 0.5, |2x| = ln 2/2, e^(2|x|) overflowing, and the
        // numbers without a tail, signed zeros, subnormals, infinities and NaN.
        let edges = [
            0.5,
            std::f64::consts::LN_2 / 4.0,
            354.9,
            355.0,
            1e300,
            f64::MAX,
            0.0,
            5e-324,
            1e-310,
            f64::INFINITY,
        ];
        for e in edges {
            for v in [e, e.next_up(), e.next_down()] {
                xs.extend([DoubleDouble::from_f64(v), DoubleDouble::from_f64(-v)]);
            }
        }
        xs.push(DoubleDouble::from_f64(f64::NAN));
        let want: Vec<DoubleDouble> = xs.iter().map(|x| x.tanh()).collect();
        let mut got = xs.clone();
        DoubleDouble::tanh_each(&mut got);
        for ((x, g), w) in xs.iter().zip(&got).zip(&want) {
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            assert!(
                same(g.value, w.value) && same(g.tail, w.tail),
                "tanh({x:?}): {g:?} by the slice, {w:?} by the entry"
            );
        }
    }

    #[test]
    fn sums_and_products_keep_what_f64_rounds_away() {
        let third = DoubleDouble::one() / DoubleDouble::from_f64(3.0);
        // 1/3 · 3 − 1 vanishes to a double-double's precision, where in f64 (1/3)·3 is 1 only
        // by luck of rounding.
        let back = third * DoubleDouble::from_f64(3.0) - DoubleDouble::one();
        assert!(back.abs().value < 1e-31, "{back:?}");
        // 1 + 1e-20 − 1 is 1e-20, not 0.
        let tiny = DoubleDouble::from_f64(1e-20);
        let kept = DoubleDouble::one() + tiny - DoubleDouble::one();
        assert_eq!(kept.value, 1e-20);
        // (1 + 2^-60)² = 1 + 2^-59 + 2^-120: the product keeps the middle term.
        let a = DoubleDouble::one() + DoubleDouble::from_f64(2f64.powi(-60));
        let sq = a * a - DoubleDouble::one();
        assert!(rel(sq, DoubleDouble::from_f64(2f64.powi(-59))) < 1e-15);
    }

    #[test]
    fn division_and_square_root_invert_their_products() {
        let xs = [3.0, 1e-150, 7.25e12, -0.1, 2.0f64.sqrt()];
        for &a in &xs {
            for &b in &xs {
                let (a, b) = (DoubleDouble::from_f64(a), DoubleDouble::from_f64(b));
                let q = a / b;
                assert!(rel(q * b, a) < 1e-30, "{a:?} / {b:?} = {q:?}");
            }
            let a = DoubleDouble::from_f64(a).abs();
            let r = a.sqrt();
            assert!(rel(r * r, a) < 1e-30, "sqrt {a:?} = {r:?}");
        }
        assert!(DoubleDouble::from_f64(-1.0).sqrt().is_nan());
        assert!((DoubleDouble::one() / DoubleDouble::zero()).is_infinite());
    }

    #[test]
    fn the_functions_match_mpmath_to_thirty_digits() {
        // Reference values from mpmath 1.3 at 130 bits (see `dd`).
        let cases: [(&str, DoubleDouble, DoubleDouble); 8] = [
            (
                "exp(1)",
                DoubleDouble::one().exp(),
                dd(std::f64::consts::E, 1.4456468917292502e-16),
            ),
            (
                "exp(-20.5)",
                DoubleDouble::from_f64(-20.5).exp(),
                dd(1.2501528663867426e-09, 6.448235878237776e-26),
            ),
            (
                "ln(10)",
                DoubleDouble::from_f64(10.0).ln(),
                dd(std::f64::consts::LN_10, -2.1707562233822494e-16),
            ),
            (
                "tanh(0.3)",
                DoubleDouble::from_f64(0.3).tanh(),
                dd(0.2913126124515909, -6.4602656586469586e-18),
            ),
            (
                "tanh(-3)",
                DoubleDouble::from_f64(-3.0).tanh(),
                dd(-0.9950547536867305, 1.2991892863562624e-17),
            ),
            (
                "sin(2)",
                DoubleDouble::from_f64(2.0).sin(),
                dd(0.9092974268256817, -1.4020906557816256e-17),
            ),
            (
                "atan(0.7)",
                DoubleDouble::from_f64(0.7).atan(),
                dd(0.6107259643892086, 2.2418914462967458e-17),
            ),
            (
                "ln_1p(1e-10)",
                DoubleDouble::from_f64(1e-10).ln_1p(),
                dd(9.999999999500001e-11, -3.389513322121794e-27),
            ),
        ];
        for (name, got, want) in cases {
            assert!(rel(got, want) < 1e-30, "{name}: {got:?} against {want:?}");
        }
    }

    #[test]
    fn the_table_and_the_halving_series_agree_on_exp_m1() {
        // Across the reduced range: e^x − 1 from the table against the series of e^(x/2^8) − 1
        // squared back eight times, two independent routes.
        for i in -200..=200 {
            let x = DoubleDouble::from_f64(i as f64 * 0.0051) / DoubleDouble::from_f64(3.0);
            let mut halved = DoubleDouble {
                value: x.value / 256.0,
                tail: x.tail / 256.0,
            }
            .exp_m1_series();
            for _ in 0..8 {
                halved = halved * halved.plus_f64(2.0);
            }
            let table = x.exp_m1_reduced();
            if i == 0 {
                assert!(table.is_zero());
                continue;
            }
            assert!(
                rel(table, halved) < 1e-30,
                "x = {x:?}: {table:?} against {halved:?}"
            );
        }
    }

    #[test]
    fn inverse_functions_undo_their_functions() {
        for &x in &[-30.0, -2.5, -0.4, -1e-9, 1e-12, 0.2, 1.0, 5.5, 700.0] {
            let x = DoubleDouble::from_f64(x);
            let back = x.exp().ln();
            assert!(
                (back - x).abs().value <= 1e-30 * x.abs().value.max(1.0),
                "ln(exp {x:?}) = {back:?}"
            );
            if x.value.abs() < 20.0 {
                let t = x.tanh().atanh();
                assert!(rel(t, x) < 1e-25, "atanh(tanh {x:?}) = {t:?}");
                assert!(rel(x.sinh().asinh(), x) < 1e-28, "asinh(sinh {x:?})");
                let (s, c) = x.sin_cos();
                assert!((s * s + c * c - DoubleDouble::one()).abs().value < 1e-30);
                assert!(rel(x.exp_m1().ln_1p(), x) < 1e-29, "ln_1p(exp_m1 {x:?})");
            }
        }
        let x = DoubleDouble::from_f64(0.3);
        assert!(rel(x.asin().sin(), x) < 1e-30);
        assert!(rel(x.acos().cos(), x) < 1e-30);
        assert!(rel(x.cbrt().powi(3), x) < 1e-30);
        assert!(rel(x.powf(DoubleDouble::from_f64(2.5)), x * x * x.sqrt()) < 1e-30);
    }

    #[test]
    fn limits_give_what_f64_gives() {
        assert!(DoubleDouble::from_f64(800.0).exp().is_infinite());
        assert!(DoubleDouble::from_f64(-800.0).exp().is_zero());
        assert_eq!(DoubleDouble::from_f64(400.0).tanh(), DoubleDouble::one());
        assert!(DoubleDouble::nan().tanh().is_nan());
        assert!((DoubleDouble::max_value() * DoubleDouble::from_f64(2.0)).is_infinite());
        assert!(DoubleDouble::from_f64(-1.0).ln().is_nan());
        // floor sees the tail: 2 − 1e-20 is below 2.
        let below_two = DoubleDouble::from_f64(2.0) - DoubleDouble::from_f64(1e-20);
        assert_eq!(below_two.floor(), DoubleDouble::one());
        assert_eq!(below_two.to_i64(), Some(1));
        assert_eq!(below_two.round(), DoubleDouble::from_f64(2.0));
    }
}
