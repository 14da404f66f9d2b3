//! The fast arithmetic under the readable code: matrix products on a packed SIMD kernel, and
//! `tanh` and `σ` over whole slices in a form the compiler turns into vector instructions.
//!
//! Nothing here changes *what* is computed. [`gemm()`] computes the sums of
//! [`Matrix::matmul_reference`](crate::Matrix::matmul_reference) in another order (tests hold
//! the two to 1e-12 in f64); [`tanh_in_place`] and [`sigmoid_in_place`] agree with the standard
//! `tanh` and with [`crate::activation::sigmoid`] to a few units in the last place (the measured
//! maxima are in the tests below and in the README). Code that teaches calls
//! [`Matrix::matmul`](crate::Matrix::matmul) and
//! [`Activation::apply_in_place`](crate::activation::Activation::apply_in_place); they land here when
//! the work is large enough to gain from it ([`KERNEL_MIN_WORK`], [`VECTOR_MIN_LEN`]), so the
//! small examples compute exactly as the readable code says.
//!
//! # Why a vectorizable `tanh`
//!
//! The standard `f64::tanh` is a call into libm with branches on the size of `|x|`: about 6 ns
//! per number here, 13 ms of the 2.1 million tanh of the largest benchmark size, a fifth of the
//! whole forward and backward pass. Written without branches, as one formula with a clamp and a
//! select, the loop over a slice becomes straight-line code that the compiler runs 8 (f64) or
//! 16 (f32) lanes at a time: about 0.85 ns (f64) and 0.33 ns (f32) per number.
//!
//! The formula: with `e = expm1(−2|x|) = e^(−2|x|) − 1`, which lies in `(−1, 0]`,
//!
//! ```text
//! tanh(x) = sign(x) · (1 − e^(−2|x|)) / (1 + e^(−2|x|)) = sign(x) · (−e) / (2 + e)
//! ```
//!
//! `expm1` rather than `exp` keeps full relative accuracy near 0, where `1 − e^(−2|x|)` would
//! cancel. `expm1(y)` itself is the textbook range reduction: `y = k·ln2 + r` with an integer
//! `k` and `|r| ≤ ln2/2`, `expm1(r)` by its Taylor series, and `2^k` built from its bits.
//! The same pieces give `σ(x) = 1 / (1 + e^(−x))` from `e^(−|x|) ≤ 1`, which cannot overflow.
//!
//! The results do not depend on the CPU: every multiply-add is written as `mul_add`, which rounds
//! once on every machine. The vector versions are compiled with the FMA instruction, which is
//! exactly that operation; on an x86 CPU without AVX2 and FMA, the plain loop calls libm's `fma`,
//! correct but slow.

// The one module that may use `unsafe` (the crate denies it elsewhere): the packed kernel's
// raw pointers, the cast between a generic slice and its concrete type, and the calls into
// functions compiled for wider vector units.
#![allow(unsafe_code)]

use crate::double_double::DoubleDouble;
use crate::dual::Dual;
use crate::scalar::Scalar;
use std::any::TypeId;

// =============================================================================================
// Matrix products.

/// A read-only `rows × cols` matrix inside a slice, with any strides: entry `(i, j)` is
/// `data[i·row_stride + j·col_stride]`. The transpose [`View::t`] is the same data with the
/// strides swapped, so a product such as `Aᵀ·B` never copies `A`.
#[derive(Clone, Copy, Debug)]
pub struct View<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> View<'a, T> {
    /// The row-major `rows × cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows·cols` entries.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> View<'a, T> {
        assert!(
            rows.checked_mul(cols).is_some_and(|n| data.len() >= n),
            "View::row_major: {} entries cannot hold a {rows}×{cols} matrix",
            data.len()
        );
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The `rows × cols` matrix at the start of `data` whose rows begin `row_stride` entries
    /// apart: the first `cols` columns of a row-major matrix `row_stride` wide (an LSTM's `h`
    /// beside its `c`).
    ///
    /// # Panics
    /// If `row_stride < cols`, or `data` ends before the last row does.
    pub fn first_columns(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
    ) -> View<'a, T> {
        let needed = rows
            .checked_sub(1)
            .map_or(Some(0), |r| r.checked_mul(row_stride)?.checked_add(cols));
        assert!(
            row_stride >= cols && needed.is_some_and(|n| data.len() >= n),
            "View::first_columns: {} entries cannot hold {rows} rows of {cols} every {row_stride}",
            data.len()
        );
        View {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose `Aᵀ`: the same entries, rows and columns swapped.
    pub fn t(self) -> View<'a, T> {
        View {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Entry `(i, j)`.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        self.data[i * self.row_stride + j * self.col_stride]
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// Products of at most this many multiply-adds (`rows·inner·cols`) are summed by a plain loop:
/// below it, setting up the packed kernel of [`gemm()`] costs more than it saves. Measured here
/// (f64, one thread, medians), the plain loop over blocks of two rows ([`matmul_into`]) against
/// [`gemm()`]: 0.17 against 0.21 µs at 8×16·16×16 (2 048 multiply-adds), 0.62 against 0.42 µs
/// at 16×16·16×32 (8 192); in f32, 0.07 against 0.55 µs at 4×8·8×8. Most of `gemm`'s cost at
/// these sizes is its set-up on every call, which allocates and clears a small buffer.
pub const KERNEL_MIN_WORK: usize = 4096;

/// The bytes of packing buffer [`gemm()`] keeps on each thread that has taken a large product:
/// the `gemm` crate allocates, at a thread's first product that needs it, a slab the size of one
/// core's L2 cache as it reads it from the processor, and keeps it until the thread ends. So it
/// depends on the machine: 0.5 MiB on the one the cost model was first measured on, 2 MiB on
/// the EPYC machines now (as their virtual processors report it). Without the `gemm` feature,
/// 0: the plain loop needs no buffer.
pub fn thread_workspace_bytes() -> usize {
    #[cfg(feature = "gemm")]
    return gemm_common::cache::CACHE_INFO[1].cache_bytes;
    #[cfg(not(feature = "gemm"))]
    0
}

/// `C = A·B` (or `C += A·B` when `accumulate`) for the row-major `C` in `c`: by a plain loop for
/// a small product (the same sums, in the same order, as
/// [`Matrix::matmul_reference`](crate::Matrix::matmul_reference), bit for bit), by [`gemm()`]
/// for a large one. The plain loop is fastest where `B`'s rows are contiguous; a transposed `B`
/// is read one dot product at a time.
///
/// # Panics
/// If the shapes do not fit, as [`gemm()`].
pub fn matmul_into<T: Scalar>(a: View<'_, T>, b: View<'_, T>, c: &mut [T], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    #[cfg(feature = "gemm")]
    if m * k * n > KERNEL_MIN_WORK {
        if is_f32_or_f64::<T>() {
            return gemm(a, b, c, accumulate);
        }
        // Forward mode's products (the check runs one per checked quantity) go to the kernel
        // too: on the readable loop they made a large case's check 17 times slower.
        if let (Some(a), Some(b), Some(c)) = (as_same::<T, Dual<f64>>(a), as_same(b), cast_mut(c)) {
            return dual_gemm::<f64>(a, b, c, accumulate);
        }
        if let (Some(a), Some(b), Some(c)) = (as_same::<T, Dual<f32>>(a), as_same(b), cast_mut(c)) {
            return dual_gemm::<f32>(a, b, c, accumulate);
        }
    }
    assert_eq!(
        k, b.rows,
        "kernel::matmul_into: A is {m}×{k} but B is {}×{n}",
        b.rows
    );
    assert_eq!(
        c.len(),
        m * n,
        "kernel::matmul_into: C must hold {m}×{n} entries"
    );
    // Double-double products (finite differences that f64 cannot decide) by their own sums,
    // which keep the error-free parts apart until the end of each entry.
    if let (Some(a), Some(b), Some(c)) = (as_same::<T, DoubleDouble>(a), as_same(b), cast_mut(c)) {
        return double_double_matmul(a, b, c, accumulate);
    }
    if b.col_stride == 1 {
        return wide(
            #[inline(always)]
            || plain_rows(a, b, c, accumulate),
        );
    }
    if !accumulate {
        c.fill(T::zero());
    }
    // B's columns are contiguous (B is a transpose): the same sums, C[i][j] built up over k
    // in the same order, one entry at a time.
    for i in 0..m {
        let c_row = &mut c[i * n..(i + 1) * n];
        for (j, c_ij) in c_row.iter_mut().enumerate() {
            let b_col = &b.data[j * b.col_stride..];
            let mut sum = *c_ij;
            for kk in 0..k {
                sum += a.at(i, kk) * b_col[kk * b.row_stride];
            }
            *c_ij = sum;
        }
    }
}

/// The plain i-k-j loop for a `B` whose rows are contiguous, `C[i][j]` summed over `k` in
/// order from 0 (or from `C[i][j]` when `accumulate`): the sums of
/// [`Matrix::matmul_reference`](crate::Matrix::matmul_reference), bit for bit: each entry's
/// sum is still one product added at a time, `k` in order. Only the order in which entries are
/// visited changes: blocks of two rows by 16 columns (32 in f32, the same bytes), then 4, then 1,
/// whose sums stay in vector registers through the whole loop over `k`, and whose two rows
/// share each load of `B`'s row. The reference reads and writes its row of `C` in memory at
/// every `k`.
#[inline(always)]
fn plain_rows<T: Scalar>(a: View<'_, T>, b: View<'_, T>, c: &mut [T], accumulate: bool) {
    if !accumulate {
        c.fill(T::zero());
    }
    let n = b.cols;
    let mut j = 0;
    if size_of::<T>() == 4 {
        while j + 32 <= n {
            column_block::<T, 32>(a, b, c, j);
            j += 32;
        }
    }
    while j + 16 <= n {
        column_block::<T, 16>(a, b, c, j);
        j += 16;
    }
    while j + 4 <= n {
        column_block::<T, 4>(a, b, c, j);
        j += 4;
    }
    while j < n {
        column_block::<T, 1>(a, b, c, j);
        j += 1;
    }
}

/// Columns `j..j + W` of `C += A·B`, two rows at a time, each block's sums in registers.
#[inline(always)]
fn column_block<T: Scalar, const W: usize>(a: View<'_, T>, b: View<'_, T>, c: &mut [T], j: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let block = |c: &[T], i: usize| -> [T; W] {
        c[i * n + j..i * n + j + W]
            .try_into()
            .expect("kernel::column_block: W columns from j")
    };
    let b_row = |kk: usize| -> &[T; W] {
        b.data[kk * b.row_stride + j..kk * b.row_stride + j + W]
            .try_into()
            .expect("kernel::column_block: W columns from j")
    };
    let mut i = 0;
    while i + 2 <= m {
        let (mut top, mut bottom) = (block(c, i), block(c, i + 1));
        for kk in 0..k {
            let (a_top, a_bottom, b_kk) = (a.at(i, kk), a.at(i + 1, kk), b_row(kk));
            for jj in 0..W {
                top[jj] += a_top * b_kk[jj];
                bottom[jj] += a_bottom * b_kk[jj];
            }
        }
        c[i * n + j..i * n + j + W].copy_from_slice(&top);
        c[(i + 1) * n + j..(i + 1) * n + j + W].copy_from_slice(&bottom);
        i += 2;
    }
    if i < m {
        let mut row = block(c, i);
        for kk in 0..k {
            let (a_ik, b_kk) = (a.at(i, kk), b_row(kk));
            for jj in 0..W {
                row[jj] += a_ik * b_kk[jj];
            }
        }
        c[i * n + j..i * n + j + W].copy_from_slice(&row);
    }
}

/// `C = A·B` (or `C += A·B` when `accumulate`) in double-double, each entry a compensated dot
/// product (Ogita, Rump and Oishi's `Dot2`, with double-double terms): every product split
/// exactly into a head and a tail ([`DoubleDouble::product_parts`]), the heads summed with
/// their rounding errors kept ([`DoubleDouble::sum_parts`]), every error and tail added
/// plainly, and the two renormalized once at the end. The result is as accurate as the sum of
/// double-double products in that order, about three times faster: the plain sum renormalizes
/// after every term.
///
/// Each entry's sum is a chain of dependent additions, so one entry at a time waits on each
/// addition. The loop therefore builds a whole row of `C` at once, term `k` of every entry
/// before term `k + 1` of any, on the widest vector unit: the entries of a row are independent
/// and take the vector's lanes, with the same operations in the same order for each entry as
/// one at a time, so the same sums. `B` is first split into its heads and its tails, each row
/// of them read in order. Measured on one machine: a `(16×32)·(32×32)` product, the shape the
/// check of `B=16 T=32 F=16 H=32` reruns, went from 134 to 25 µs, and that case's directional
/// check, a third of whose time these products were, from 2.05 to 1.57 s on one core, with
/// the same report. A `1×4·4×4` product went from 0.12 to 0.41 µs (splitting `B` and the
/// vector unit's dispatch), which no check notices.
fn double_double_matmul(
    a: View<'_, DoubleDouble>,
    b: View<'_, DoubleDouble>,
    c: &mut [DoubleDouble],
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut b_heads = Vec::with_capacity(k * n);
    let mut b_tails = Vec::with_capacity(k * n);
    for kk in 0..k {
        for j in 0..n {
            let b_kj = b.at(kk, j);
            b_heads.push(b_kj.value);
            b_tails.push(b_kj.tail);
        }
    }
    let (mut heads, mut tails) = (vec![0.0; n], vec![0.0; n]);
    for (i, c_row) in c.chunks_exact_mut(n.max(1)).take(m).enumerate() {
        for ((head, tail), c_ij) in heads.iter_mut().zip(&mut tails).zip(c_row.iter()) {
            let start = if accumulate {
                *c_ij
            } else {
                DoubleDouble::default()
            };
            (*head, *tail) = (start.value, start.tail);
        }
        for kk in 0..k {
            let row = kk * n..(kk + 1) * n;
            let b_row = (&b_heads[row.clone()], &b_tails[row]);
            wide(
                #[inline(always)]
                || add_term(&mut heads, &mut tails, a.at(i, kk), b_row),
            );
        }
        for ((c_ij, &head), &tail) in c_row.iter_mut().zip(&heads).zip(&tails) {
            *c_ij = DoubleDouble::renormalized(head, tail);
        }
    }
}

/// One term of a row of [`double_double_matmul`]'s sums: `(heads, tails) += a_ik · B[k]`, for
/// `B[k]` given as its heads and its tails. The entries are independent, which lets the loop
/// take the vector's lanes.
#[inline(always)]
fn add_term(
    heads: &mut [f64],
    tails: &mut [f64],
    a_ik: DoubleDouble,
    (b_heads, b_tails): (&[f64], &[f64]),
) {
    let sums = heads.iter_mut().zip(tails.iter_mut());
    for ((head, tail), (&value, &tail_kj)) in sums.zip(b_heads.iter().zip(b_tails)) {
        let b_kj = DoubleDouble {
            value,
            tail: tail_kj,
        };
        let (p, p_tail) = DoubleDouble::product_parts(a_ik, b_kj);
        let (s, s_err) = DoubleDouble::sum_parts(*head, p);
        *head = s;
        *tail += s_err + p_tail;
    }
}

/// `C = A·B` (or `C += A·B` when `accumulate`), for the row-major `a.rows() × b.cols()` matrix
/// `C` stored in `c`, on the packed kernels of the `gemm` crate (AVX-512, AVX2 or NEON, chosen
/// at run time; one thread).
///
/// # Panics
/// If the shapes do not fit (`a.cols() ≠ b.rows()`, or `c` is not `a.rows()·b.cols()` long):
/// callers check shapes first and report a mismatch as an error; and if `T` is neither f32 nor
/// f64, which [`matmul_into`] never asks of it.
#[cfg(feature = "gemm")]
pub fn gemm<T: Scalar>(a: View<'_, T>, b: View<'_, T>, c: &mut [T], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        is_f32_or_f64::<T>(),
        "kernel::gemm: the packed kernel takes f32 or f64, not {}",
        T::NAME
    );
    assert_eq!(
        k, b.rows,
        "kernel::gemm: A is {m}×{k} but B is {}×{n}",
        b.rows
    );
    assert_eq!(c.len(), m * n, "kernel::gemm: C must hold {m}×{n} entries");
    // SAFETY: `c` holds the m×n row-major matrix (checked above), a slice of its own.
    unsafe { packed(a, b, c.as_mut_ptr(), n, 1, accumulate) }
}

/// `C = A·B` (or `C += A·B`) on the packed kernel, for the `a.rows() × b.cols()` matrix `C`
/// whose entry `(i, j)` is at `dst + i·row_stride + j·col_stride`.
///
/// # Safety
/// `dst` must be valid for reads and writes of every entry of `C` at those strides, overlap
/// neither `a` nor `b`, and `T` must be f32 or f64, with `a.cols() = b.rows()`.
#[cfg(feature = "gemm")]
unsafe fn packed<T: Scalar>(
    a: View<'_, T>,
    b: View<'_, T>,
    dst: *mut T,
    row_stride: usize,
    col_stride: usize,
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: entry (i, j) of C, valid by the caller's promise.
                    unsafe { *dst.add(i * row_stride + j * col_stride) = T::zero() };
                }
            }
        }
        return;
    }
    let stride = |s: usize| isize::try_from(s).expect("a slice's stride fits in isize");
    // SAFETY: a `View` only exists over a slice holding every entry its shape and strides
    // address (`row_major` checks it, `t` and `parts` keep the set of entries), `dst` holds C
    // (the caller's promise), and `T` is f32 or f64, the two types `gemm` implements. The
    // crate's convention is `dst = alpha·dst + beta·lhs·rhs`, `dst` read only when `read_dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            stride(col_stride),
            stride(row_stride),
            accumulate,
            a.data.as_ptr(),
            stride(a.col_stride),
            stride(a.row_stride),
            b.data.as_ptr(),
            stride(b.col_stride),
            stride(b.row_stride),
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `C = A·B` (or `C += A·B`) for dual numbers, as three real products on the packed kernel:
/// `(A + Ȧε)(B + Ḃε) = A·B + (A·Ḃ + Ȧ·B)ε`. A `Dual<U>` is two `U`s side by side, so the
/// values and the tangents are each a real matrix at twice the strides: nothing is copied.
#[cfg(feature = "gemm")]
fn dual_gemm<U: Scalar>(
    a: View<'_, Dual<U>>,
    b: View<'_, Dual<U>>,
    c: &mut [Dual<U>],
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(
        k, b.rows,
        "kernel::dual_gemm: A is {m}×{k} but B is {}×{n}",
        b.rows
    );
    assert_eq!(
        c.len(),
        m * n,
        "kernel::dual_gemm: C must hold {m}×{n} entries"
    );
    let ((a_v, a_t), (b_v, b_t)) = (parts(a), parts(b));
    let dst = c.as_mut_ptr().cast::<U>();
    // SAFETY: `Dual<U>` is `#[repr(C)]` { value, tangent }, so `c` is 2·m·n `U`s with C's
    // values at even offsets and its tangents at odd ones, both row-major at strides (2n, 2);
    // `c` is a slice of its own, apart from `a` and `b`; U is f32 or f64 (the callers').
    unsafe {
        packed(a_v, b_v, dst, 2 * n, 2, accumulate);
        let tangents = dst.add(1);
        packed(a_v, b_t, tangents, 2 * n, 2, accumulate);
        packed(a_t, b_v, tangents, 2 * n, 2, true);
    }
}

/// A view of dual numbers as two real views, of the values and of the tangents.
#[cfg(feature = "gemm")]
fn parts<U: Scalar>(x: View<'_, Dual<U>>) -> (View<'_, U>, View<'_, U>) {
    // SAFETY: `Dual<U>` is `#[repr(C)]` { value, tangent }: n duals are 2n `U`s.
    let flat = unsafe { std::slice::from_raw_parts(x.data.as_ptr().cast::<U>(), 2 * x.data.len()) };
    // Entry (i, j)'s value is at 2·(i·row_stride + j·col_stride), its tangent one after: both
    // within `flat` because the dual entry is within `x.data`.
    let at = |offset: usize| View {
        data: &flat[offset.min(flat.len())..],
        rows: x.rows,
        cols: x.cols,
        row_stride: 2 * x.row_stride,
        col_stride: 2 * x.col_stride,
    };
    (at(0), at(1))
}

/// The view as one of `U` when `T` is `U`.
fn as_same<T: 'static, U: 'static>(x: View<'_, T>) -> Option<View<'_, U>> {
    if TypeId::of::<T>() == TypeId::of::<U>() {
        // SAFETY: T and U are the same type, so the slice is already a `[U]`.
        let data = unsafe { &*(x.data as *const [T] as *const [U]) };
        Some(View {
            data,
            rows: x.rows,
            cols: x.cols,
            row_stride: x.row_stride,
            col_stride: x.col_stride,
        })
    } else {
        None
    }
}

// =============================================================================================
// tanh and σ over slices.

/// Slices shorter than this stay on the standard functions in
/// [`Activation::apply_in_place`](crate::activation::Activation::apply_in_place): the small examples
/// the tutorial prints (the canonical example's 4 entries a step, the RNN bug zoo's 8 and 16),
/// whose finite-difference checks sit at their noise floor, keep every last digit, while the vector code serves the sizes where it pays. It pays early: in
/// the check of `B = 8, H = 16` (128 entries a step), libm's `tanh` was two thirds of the time,
/// and with this threshold at 64 rather than 256 the check took 0.94 s rather than 1.53 s.
pub const VECTOR_MIN_LEN: usize = 64;

/// `x ← tanh(x)` for every entry: within 3 ulp of the standard `tanh` (measured over a dense
/// sweep, in f64 and in f32), with `tanh(±0) = ±0`, `tanh(±∞) = ±1` and NaN passed through.
pub fn tanh_in_place<T: Scalar>(x: &mut [T]) {
    if let Some(x) = cast_mut::<T, f64>(x) {
        each(x, tanh_f64);
    } else if let Some(x) = cast_mut::<T, f32>(x) {
        each(x, tanh_f32);
    } else if let Some(x) = cast_mut::<T, Dual<f64>>(x) {
        dual_through(x, tanh_in_place, |t| 1.0 - t * t);
    } else if let Some(x) = cast_mut::<T, Dual<f32>>(x) {
        dual_through(x, tanh_in_place, |t| 1.0 - t * t);
    } else if let Some(x) = cast_mut::<T, DoubleDouble>(x) {
        // Finite differences that f64 cannot decide: exactly `tanh`, entry by entry.
        DoubleDouble::tanh_each(x);
    } else {
        x.iter_mut().for_each(|v| *v = v.tanh());
    }
}

/// `x ← σ(x) = 1 / (1 + e^(−x))` for every entry: within 2 ulp of [`crate::activation::sigmoid`]
/// as measured (the tests allow 3)
/// (measured as for `tanh`), subnormal results kept, NaN passed through.
pub fn sigmoid_in_place<T: Scalar>(x: &mut [T]) {
    if let Some(x) = cast_mut::<T, f64>(x) {
        each(x, sigmoid_f64);
    } else if let Some(x) = cast_mut::<T, f32>(x) {
        each(x, sigmoid_f32);
    } else if let Some(x) = cast_mut::<T, Dual<f64>>(x) {
        dual_through(x, sigmoid_in_place, |s| s * (1.0 - s));
    } else if let Some(x) = cast_mut::<T, Dual<f32>>(x) {
        dual_through(x, sigmoid_in_place, |s| s * (1.0 - s));
    } else {
        // Any other `Scalar` (a dual number) gets the plain formula, which gives 0 rather than
        // NaN for large negative x (1/(1 + ∞) = 0).
        x.iter_mut()
            .for_each(|v| *v = T::one() / (T::one() + (-*v).exp()));
    }
}

/// `x ← φ(x)` for dual numbers, the values on the vector code: `φ(a + ȧε) = φ(a) + φ'·ȧε`, with
/// `φ'` written from the output, as the backward passes write it. Forward mode runs one dual
/// forward pass per checked quantity, and on the scalar functions its tanh was a third of a
/// large check's time.
fn dual_through<U: Scalar>(x: &mut [Dual<U>], phi: fn(&mut [U]), phi_prime: impl Fn(U) -> U) {
    let mut values: Vec<U> = x.iter().map(|d| d.value).collect();
    phi(&mut values);
    for (d, value) in x.iter_mut().zip(values) {
        *d = Dual {
            value,
            tangent: d.tangent * phi_prime(value),
        };
    }
}

/// True when `T` is f32 or f64, the two types the packed kernel implements: any other
/// [`Scalar`] (a dual number) takes the readable loop.
#[cfg(feature = "gemm")]
fn is_f32_or_f64<T: 'static>() -> bool {
    let t = TypeId::of::<T>();
    t == TypeId::of::<f64>() || t == TypeId::of::<f32>()
}

/// The slice as `&mut [U]` when `T` is `U` (the generic code's one way to reach the
/// type-specific formulas below).
fn cast_mut<T: 'static, U: 'static>(x: &mut [T]) -> Option<&mut [U]> {
    if TypeId::of::<T>() == TypeId::of::<U>() {
        // SAFETY: T and U are the same type, so the slice is already a `[U]`.
        Some(unsafe { &mut *(x as *mut [T] as *mut [U]) })
    } else {
        None
    }
}

/// `x ← f(x)` for every entry, on the widest vector unit this CPU has (see [`wide`]).
#[inline(always)]
fn each<E: Copy>(x: &mut [E], f: impl Fn(E) -> E) {
    wide(
        #[inline(always)]
        || x.iter_mut().for_each(|v| *v = f(*v)),
    );
}

/// Runs `body` compiled for the widest vector unit this CPU has: AVX-512 or AVX2 (with FMA) on
/// x86-64, the baseline elsewhere.
///
/// A crate built for any x86-64 may use only SSE2, two f64 lanes, unless a function is compiled
/// for more. `body` is inlined into such a function, so a loop in it over slices runs 8 lanes
/// at a time on AVX-512. Its results are the same on every path: Rust never fuses a multiply
/// and an add unless told to (`mul_add`), and the lanes do not reorder a sum.
///
/// Write `body` as `#[inline(always)] || …`. The compiler inlines a short closure into each of
/// the three functions below by itself, but not a longer one, which is called from three
/// places: the LSTM's and the GRU's row loops then ran as a plain call, on two lanes, while
/// their comments said otherwise (found in the machine code: no 256-bit register in them).
#[inline(always)]
pub fn wide<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX-512F and FMA, checked on the line above.
            return unsafe { wide_avx512(body) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA, checked on the line above.
            return unsafe { wide_avx2(body) };
        }
    }
    body()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn wide_avx512<R>(body: impl FnOnce() -> R) -> R {
    body()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn wide_avx2<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// `1/n!` for `n = 0..=13`, the Taylor coefficients of `e^r`.
const INV_FACTORIAL: [f64; 14] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
];

/// `1.5·2^52`: adding it to a number below `2^51` in size rounds that number to an integer
/// (to even on ties) and leaves the integer in the low bits of the mantissa.
const ROUND_F64: f64 = 6755399441055744.0;
/// `1.5·2^23`, the same for f32.
const ROUND_F32: f32 = 12582912.0;

/// `ln 2` in two parts (fdlibm's), given by their bits: `LN2_HI` ends in 21 zero bits, so
/// `k·LN2_HI` is exact for `|k| < 2^20`; `LN2_LO` is the rest of `ln 2`.
const LN2_HI_F64: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO_F64: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// `ln 2` in two parts for f32: `k·LN2_HI` is exact for `|k| < 2^9`.
const LN2_HI_F32: f32 = f32::from_bits(0x3f31_7200);
const LN2_LO_F32: f32 = f32::from_bits(0x35bf_be8e);

/// `2^k` for an integer-valued `k` in `[−1022, 1023]`, from its bits: the exponent field of
/// an f64 is `k + 1023`.
#[inline(always)]
fn pow2_f64(k: f64) -> f64 {
    // `k + 1.5·2^52` has k in its low mantissa bits; shifting them to the top keeps k mod 2^12.
    let k_bits = (k + ROUND_F64).to_bits() << 52;
    f64::from_bits(k_bits.wrapping_add(1023 << 52))
}

/// `2^k` for an integer-valued `k` in `[−126, 127]` (f32: exponent field `k + 127`).
#[inline(always)]
fn pow2_f32(k: f32) -> f32 {
    let k_bits = (k + ROUND_F32).to_bits() << 23;
    f32::from_bits(k_bits.wrapping_add(127 << 23))
}

/// Splits `y = k·ln2 + r` with `k = round(y / ln2)` and `|r| ≤ ln2/2`; returns `(k, r)` and
/// `expm1(r) = r + r²/2! + … + r^13/13!` (error below 1e-17 relative on that range).
#[inline(always)]
fn reduce_f64(y: f64) -> (f64, f64) {
    let k = y.mul_add(std::f64::consts::LOG2_E, ROUND_F64) - ROUND_F64;
    let r = k.mul_add(-LN2_LO_F64, k.mul_add(-LN2_HI_F64, y));
    let mut q = INV_FACTORIAL[13];
    for &c in INV_FACTORIAL[2..13].iter().rev() {
        q = q.mul_add(r, c);
    }
    // r is added last so that for small r the result is r itself, correctly rounded.
    (k, (r * r).mul_add(q, r))
}

/// [`reduce_f64`] for f32: the series to `r^8/8!` (error below 1e-9 relative).
#[inline(always)]
fn reduce_f32(y: f32) -> (f32, f32) {
    let k = y.mul_add(std::f32::consts::LOG2_E, ROUND_F32) - ROUND_F32;
    let r = k.mul_add(-LN2_LO_F32, k.mul_add(-LN2_HI_F32, y));
    let mut q = INV_FACTORIAL[8] as f32;
    for &c in INV_FACTORIAL[2..8].iter().rev() {
        q = q.mul_add(r, c as f32);
    }
    (k, (r * r).mul_add(q, r))
}

/// `tanh(x)` in f64, without branches (see the module docs).
#[inline(always)]
fn tanh_f64(x: f64) -> f64 {
    // Beyond |x| = 19.07 tanh rounds to ±1; the clamp keeps 2^k in range. A NaN fails `>` and
    // passes through.
    let a = x.abs();
    let a = if a > 20.0 { 20.0 } else { a };
    // expm1(−2a) = 2^k·(expm1(r) + 1) − 1, with k ≤ 0 so both terms are exact but the sum.
    let (k, p) = reduce_f64(-2.0 * a);
    let s = pow2_f64(k);
    let e = s.mul_add(p, s - 1.0);
    (-e / (2.0 + e)).copysign(x)
}

/// `tanh(x)` in f32: the f64 recipe, clamped where tanh rounds to ±1 in f32 (|x| > 9.01).
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let a = if a > 10.0 { 10.0 } else { a };
    let (k, p) = reduce_f32(-2.0 * a);
    let s = pow2_f32(k);
    let e = s.mul_add(p, s - 1.0);
    (-e / (2.0 + e)).copysign(x)
}

/// `σ(x)` in f64: `e = e^(−|x|)`, then `1/(1 + e)` for `x ≥ 0` and `e/(1 + e)` for `x < 0`.
#[inline(always)]
fn sigmoid_f64(x: f64) -> f64 {
    // e^(−746) rounds to 0 already, so the clamp changes no result; NaN passes through.
    let a = x.abs();
    let a = if a > 746.0 { 746.0 } else { a };
    let (k, p) = reduce_f64(-a);
    // 2^k may be below the smallest normal number: scale by two halves, each a normal number,
    // so that only the last product rounds (into the subnormals, where it must).
    let k1 = (k * 0.5 + ROUND_F64) - ROUND_F64;
    let e = (1.0 + p) * pow2_f64(k1) * pow2_f64(k - k1);
    let numerator = if x < 0.0 { e } else { 1.0 };
    numerator / (1.0 + e)
}

/// `σ(x)` in f32, as [`sigmoid_f64`] (`e^(−104)` rounds to 0 in f32).
#[inline(always)]
fn sigmoid_f32(x: f32) -> f32 {
    let a = x.abs();
    let a = if a > 104.0 { 104.0 } else { a };
    let (k, p) = reduce_f32(-a);
    let k1 = (k * 0.5 + ROUND_F32) - ROUND_F32;
    let e = (1.0 + p) * pow2_f32(k1) * pow2_f32(k - k1);
    let numerator = if x < 0.0 { e } else { 1.0 };
    numerator / (1.0 + e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tanh(x)` for one number by [`tanh_in_place`], for the edge cases below.
    fn tanh<T: Scalar>(x: T) -> T {
        let mut one = [x];
        tanh_in_place(&mut one);
        one[0]
    }

    /// `σ(x)` for one number by [`sigmoid_in_place`].
    fn sigmoid<T: Scalar>(x: T) -> T {
        let mut one = [x];
        sigmoid_in_place(&mut one);
        one[0]
    }
    use crate::activation;
    use crate::matrix::Matrix;
    use rand::{SeedableRng, rngs::ChaCha8Rng};
    use rand_distr::{Distribution, StandardNormal};

    /// Distance in units in the last place: how many representable numbers lie between.
    fn ulps_f64(a: f64, b: f64) -> u64 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        let ordered = |v: f64| {
            let i = v.to_bits() as i64;
            if i < 0 { i64::MIN - i } else { i }
        };
        ordered(a).abs_diff(ordered(b))
    }

    fn ulps_f32(a: f32, b: f32) -> u64 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        let ordered = |v: f32| {
            let i = i64::from(v.to_bits() as i32);
            if i < 0 { i64::from(i32::MIN) - i } else { i }
        };
        ordered(a).abs_diff(ordered(b))
    }

    /// Every number of a dense sweep: steps of 1e-4 over [−30, 30], then for every binary
    /// exponent from the smallest subnormal to 2^10 a few mantissas, both signs, and the
    /// special values.
    fn sweep_f64() -> Vec<f64> {
        let mut xs: Vec<f64> = (-300_000..=300_000).map(|i| i as f64 * 1e-4).collect();
        for e in -1074..=10 {
            for m in [1.0, 1.1, 1.3, 1.5, 1.7, 1.9, 1.99] {
                let v = m * 2f64.powi(e);
                xs.extend([v, -v]);
            }
        }
        xs.extend([
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            19.0,
            19.1,
            20.0,
            700.0,
            709.0,
            745.0,
            746.0,
            -745.0,
            -746.0,
            1e300,
            f64::MAX,
            -f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]);
        xs
    }

    fn sweep_f32() -> Vec<f32> {
        let mut xs: Vec<f32> = (-150_000..=150_000).map(|i| i as f32 * 1e-4).collect();
        for e in -149..=7 {
            for m in [1.0f32, 1.1, 1.3, 1.5, 1.7, 1.9, 1.99] {
                let v = m * 2f32.powi(e);
                xs.extend([v, -v]);
            }
        }
        xs.extend([
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            1e-45,
            9.0,
            9.1,
            10.0,
            87.0,
            103.0,
            104.0,
            -103.0,
            -104.0,
            f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]);
        xs
    }

    /// The largest ulp distance of `fast` from `reference` over `xs`, and where.
    fn worst_f64(xs: &[f64], fast: fn(&mut [f64]), reference: fn(f64) -> f64) -> (u64, f64) {
        let mut ys = xs.to_vec();
        fast(&mut ys);
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| (ulps_f64(y, reference(x)), x))
            .fold((0, 0.0), |m, p| if p.0 > m.0 { p } else { m })
    }

    fn worst_f32(xs: &[f32], fast: fn(&mut [f32]), reference: fn(f32) -> f32) -> (u64, f32) {
        let mut ys = xs.to_vec();
        fast(&mut ys);
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| (ulps_f32(y, reference(x)), x))
            .fold((0, 0.0), |m, p| if p.0 > m.0 { p } else { m })
    }

    #[test]
    fn tanh_is_within_3_ulp_of_the_standard_one_in_f64() {
        let (worst, at) = worst_f64(&sweep_f64(), tanh_in_place, f64::tanh);
        assert!(worst <= 3, "{worst} ulp at x = {at:e}");
    }

    #[test]
    fn tanh_is_within_3_ulp_of_the_standard_one_in_f32() {
        let (worst, at) = worst_f32(&sweep_f32(), tanh_in_place, f32::tanh);
        assert!(worst <= 3, "{worst} ulp at x = {at:e}");
    }

    #[test]
    fn sigmoid_is_within_3_ulp_of_the_readable_one_in_f64() {
        let (worst, at) = worst_f64(&sweep_f64(), sigmoid_in_place, activation::sigmoid);
        assert!(worst <= 3, "{worst} ulp at x = {at:e}");
    }

    #[test]
    fn sigmoid_is_within_3_ulp_of_the_readable_one_in_f32() {
        let (worst, at) = worst_f32(&sweep_f32(), sigmoid_in_place, activation::sigmoid);
        assert!(worst <= 3, "{worst} ulp at x = {at:e}");
    }

    #[test]
    fn special_values() {
        for x in [0.0f64, -0.0, 1e-310, -1e-310] {
            assert_eq!(
                tanh(x).to_bits(),
                x.to_bits(),
                "tanh({x:e}) keeps x and its sign"
            );
        }
        assert_eq!(tanh(-0.0f32).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert!(tanh(f64::NAN).is_nan() && tanh(f32::NAN).is_nan());
        assert_eq!(sigmoid(0.0f64), 0.5);
        assert_eq!(sigmoid(-0.0f32), 0.5);
        assert_eq!(sigmoid(f64::INFINITY), 1.0);
        assert_eq!(sigmoid(f64::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid(-800.0f64), 0.0);
        assert!(sigmoid(-740.0f64) > 0.0, "subnormal results are kept");
        assert!(sigmoid(f64::NAN).is_nan() && sigmoid(f32::NAN).is_nan());
    }

    #[test]
    fn slices_of_every_length_match_the_scalar_function() {
        // Lengths around the vector width exercise the loop's tail.
        for n in 0..40 {
            let xs: Vec<f64> = (0..n).map(|i| (i as f64 - 20.0) * 0.37).collect();
            let mut ys = xs.clone();
            tanh_in_place(&mut ys);
            for (x, y) in xs.iter().zip(&ys) {
                assert_eq!(y.to_bits(), tanh_f64(*x).to_bits());
            }
        }
    }

    fn random(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Matrix<f64> {
        Matrix::from_fn(rows, cols, |_, _| StandardNormal.sample(rng))
    }

    /// `C[i][j]` by its definition, one product added at a time, `k` in order, from `C[i][j]`
    /// when accumulating: what the plain loop must give bit for bit.
    fn by_definition<T: Scalar>(
        a: View<'_, T>,
        b: View<'_, T>,
        c: &[T],
        accumulate: bool,
    ) -> Vec<T> {
        let n = b.cols;
        (0..a.rows * n)
            .map(|e| {
                let (i, j) = (e / n, e % n);
                let start = if accumulate { c[e] } else { T::zero() };
                (0..a.cols).fold(start, |sum, kk| sum + a.at(i, kk) * b.at(kk, j))
            })
            .collect()
    }

    /// Every small product, in f64, f32 and dual numbers, plain or accumulated, with either
    /// operand transposed, against [`by_definition`], compared by their bits.
    #[test]
    fn small_products_are_the_reference_sums_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        fn check<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>, bits: fn(&T) -> (u64, u64)) {
            let (m, n) = (a.rows(), b.cols());
            let (at, bt) = (a.transpose(), b.transpose());
            let start: Vec<T> = (0..m * n)
                .map(|e| T::from_f64(0.25 * e as f64 - 1.0))
                .collect();
            for (a, b) in [
                (a.view(), b.view()),
                (at.view().t(), b.view()),
                (a.view(), bt.view().t()),
            ] {
                for accumulate in [false, true] {
                    let mut got = start.clone();
                    matmul_into(a, b, &mut got, accumulate);
                    let want = by_definition(a, b, &start, accumulate);
                    let differs = got.iter().zip(&want).position(|(g, w)| bits(g) != bits(w));
                    assert_eq!(
                        differs, None,
                        "{m}×{}·{}×{n}, accumulate {accumulate}",
                        a.cols, b.rows
                    );
                }
            }
        }
        for m in [1, 2, 3, 5, 16] {
            for k in [0, 1, 4, 9, 16] {
                for n in [1, 3, 4, 16, 17, 33, 37] {
                    if m * k * n > KERNEL_MIN_WORK {
                        continue;
                    }
                    let (a, b) = (random(&mut rng, m, k), random(&mut rng, k, n));
                    check(&a, &b, |x: &f64| (x.to_bits(), 0));
                    check(&a.cast::<f32>(), &b.cast::<f32>(), |x: &f32| {
                        (x.to_bits().into(), 0)
                    });
                    let (ta, tb) = (random(&mut rng, m, k), random(&mut rng, k, n));
                    let dual = |v: &Matrix<f64>, t: &Matrix<f64>| {
                        Matrix::from_fn(v.rows(), v.cols(), |i, j| Dual::new(v[(i, j)], t[(i, j)]))
                    };
                    check(&dual(&a, &ta), &dual(&b, &tb), |x: &Dual<f64>| {
                        (x.value.to_bits(), x.tangent.to_bits())
                    });
                }
            }
        }
    }

    #[cfg(feature = "gemm")]
    #[test]
    fn gemm_agrees_with_the_reference_loop_on_random_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let sizes = [1, 2, 3, 7, 8, 9, 16, 33, 64];
        for &m in &sizes {
            for &k in &sizes {
                for &n in &sizes {
                    let a = random(&mut rng, m, k);
                    let b = random(&mut rng, k, n);
                    let want = a.matmul_reference(&b).unwrap();
                    let mut got = vec![0.0; m * n];
                    gemm(a.view(), b.view(), &mut got, false);
                    let got = Matrix::new(m, n, got).unwrap();
                    let rel = crate::fd::relative_error(&got, &want);
                    assert!(rel <= 1e-12, "{m}×{k}·{k}×{n}: rel {rel:e}");
                    // f32, and the transposed operands: Aᵀ·Bᵀ = (B·A)ᵀ.
                    let (a32, b32) = (a.cast::<f32>(), b.cast::<f32>());
                    let mut got = vec![0.0f32; m * n];
                    gemm(b32.view().t(), a32.view().t(), &mut got, false);
                    let got = Matrix::new(n, m, got).unwrap().transpose();
                    let want = a32.matmul_reference(&b32).unwrap();
                    let rel = crate::fd::relative_error(&got, &want);
                    assert!(rel <= 1e-5, "f32 {m}×{k}·{k}×{n}: rel {rel:e}");
                }
            }
        }
    }

    #[test]
    fn double_double_products_agree_with_the_reference_loop() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for &(m, k, n) in &[(1, 1, 1), (3, 7, 2), (8, 33, 5), (2, 64, 9)] {
            // Entries with tails, and a product whose terms cancel.
            let dd = |x: &Matrix<f64>| {
                let third = |v: f64| DoubleDouble::from_f64(v) / DoubleDouble::from_f64(3.0);
                Matrix::from_fn(x.rows(), x.cols(), |i, j| third(x[(i, j)]))
            };
            let (a, b) = (dd(&random(&mut rng, m, k)), dd(&random(&mut rng, k, n)));
            let want = a.matmul_reference(&b).unwrap();
            for accumulate in [false, true] {
                let mut got = vec![DoubleDouble::from_f64(0.5); m * n];
                matmul_into(a.view(), b.view(), &mut got, accumulate);
                for (g, w) in got.iter().zip(want.as_slice()) {
                    let w = if accumulate {
                        *w + DoubleDouble::from_f64(0.5)
                    } else {
                        *w
                    };
                    // Both are sums of the same terms: they differ by a few ε_dd of the terms.
                    let scale = (k as f64) * 1e-31;
                    assert!(
                        num_traits::Float::abs(*g - w).value <= scale,
                        "{m}×{k}·{k}×{n}: {g:?} vs {w:?}"
                    );
                }
            }
            // The transposed operand, by strides: (Aᵀ)ᵀ·B.
            let at = a.transpose();
            let mut got = vec![DoubleDouble::from_f64(0.0); m * n];
            matmul_into(at.view().t(), b.view(), &mut got, false);
            for (g, w) in got.iter().zip(want.as_slice()) {
                assert!(num_traits::Float::abs(*g - *w).value <= (k as f64) * 1e-31);
            }
        }
    }

    #[cfg(feature = "gemm")]
    #[test]
    fn dual_products_agree_with_the_reference_loop_transposed_and_accumulated() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let dual = |v: &Matrix<f64>, t: &Matrix<f64>| -> Matrix<Dual<f64>> {
            Matrix::from_fn(v.rows(), v.cols(), |i, j| Dual::new(v[(i, j)], t[(i, j)]))
        };
        for &(m, k, n) in &[(9, 17, 13), (32, 16, 33), (1, 64, 8), (5, 0, 7)] {
            let a = dual(&random(&mut rng, m, k), &random(&mut rng, m, k));
            let b = dual(&random(&mut rng, k, n), &random(&mut rng, k, n));
            let want = a.matmul_reference(&b).unwrap();
            let close = |got: &[Dual<f64>]| {
                for (g, w) in got.iter().zip(want.as_slice()) {
                    assert!((g.value - w.value).abs() <= 1e-12 * (1.0 + w.value.abs()));
                    assert!((g.tangent - w.tangent).abs() <= 1e-12 * (1.0 + w.tangent.abs()));
                }
            };
            let mut got = vec![Dual::new(f64::NAN, f64::NAN); m * n];
            dual_gemm(a.view(), b.view(), &mut got, false);
            close(&got);
            // Through transposed views: (Bᵀ)ᵀ, the strides doubled on a transpose.
            let bt = b.transpose();
            let mut got = vec![Dual::new(f64::NAN, f64::NAN); m * n];
            matmul_into(a.view(), bt.view().t(), &mut got, false);
            close(&got);
            // Accumulating onto C = 1 + 2ε gives A·B + C.
            let mut got = vec![Dual::new(1.0, 2.0); m * n];
            dual_gemm(a.view(), b.view(), &mut got, true);
            let shifted: Vec<Dual<f64>> = got
                .iter()
                .map(|d| Dual::new(d.value - 1.0, d.tangent - 2.0))
                .collect();
            close(&shifted);
        }
    }

    #[cfg(feature = "gemm")]
    #[test]
    fn gemm_accumulates_and_handles_empty_inner_dimensions() {
        let a = Matrix::from_rows(&[[1.0, 2.0]]).unwrap();
        let b = Matrix::from_rows(&[[3.0], [4.0]]).unwrap();
        let mut c = vec![10.0];
        gemm(a.view(), b.view(), &mut c, true);
        assert_eq!(c, [21.0]);
        let empty = Matrix::<f64>::zeros(2, 0);
        let mut c = vec![5.0; 4];
        gemm(empty.view(), empty.view().t(), &mut c, true);
        assert_eq!(c, [5.0; 4]);
        gemm(empty.view(), empty.view().t(), &mut c, false);
        assert_eq!(c, [0.0; 4]);
    }
}
