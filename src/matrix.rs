//! `Matrix<T>`: a row-major 2-D array, the only container tapegrad needs.
//!
//! In numpy terms, `Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0]])` is `np.array([[1, 2], [3, 4]])`,
//! `a.matmul(&b)` is `a @ b`, `a.add_row(&b)` is `a + b` with `b` broadcast over the rows, and
//! `a.sum_rows()` is `a.sum(axis=0, keepdims=True)`. A vector is a `1×n` matrix, as numpy's
//! broadcasting treats it.
//!
//! Printing follows numpy (8 decimals, trailing zeros dropped, columns aligned, scientific
//! notation when the magnitudes call for it), so a trace can be held next to a notebook.

use crate::error::{Error, Result, Shape};
use crate::kernel;
use crate::scalar::Scalar;
use std::fmt;
use std::ops::{Index, IndexMut};

/// A `rows × cols` matrix stored row by row: entry `(i, j)` is `data[i * cols + j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T: Scalar> Matrix<T> {
    /// Wraps `data` (row-major, `rows * cols` entries) as a matrix.
    pub fn new(rows: usize, cols: usize, data: Vec<T>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::bad_shape(
                "Matrix::new data",
                format!("{} entries for {rows}×{cols}", rows * cols),
                format!("{} entries", data.len()),
            ));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// Builds a matrix from its rows, like `np.array(rows)`; every row must have the same length.
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_ref();
            if row.len() != cols {
                return Err(Error::invalid(
                    format!("Matrix::from_rows row {i}"),
                    format!(
                        "the rows are ragged: expected {cols} entries, as row 0 has, found {}",
                        row.len()
                    ),
                ));
            }
            data.extend_from_slice(row);
        }
        Ok(Matrix {
            rows: rows.len(),
            cols,
            data,
        })
    }

    /// A `1×n` row vector, numpy's 1-D array `np.array(v)` as it broadcasts.
    pub fn row_vector(v: &[T]) -> Self {
        Matrix {
            rows: 1,
            cols: v.len(),
            data: v.to_vec(),
        }
    }

    /// A `rows × cols` matrix of zeros, `np.zeros((rows, cols))`.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::filled(rows, cols, T::zero())
    }

    /// A `rows × cols` matrix with every entry `value`, `np.full((rows, cols), value)`.
    pub fn filled(rows: usize, cols: usize, value: T) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![value; rows * cols],
        }
    }

    /// A matrix whose entry `(i, j)` is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`, numpy's `.shape`.
    pub fn shape(&self) -> Shape {
        (self.rows, self.cols)
    }

    /// Number of entries, `rows * cols`.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the matrix has no entries.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The entries, row by row.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The entries, row by row, for in-place updates.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Row `i` as a slice.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows `first .. first + count` as a matrix, numpy's `a[first:first + count]`.
    pub fn row_block(&self, first: usize, count: usize) -> Matrix<T> {
        assert!(
            first + count <= self.rows,
            "invariant: rows {first}..{} of a {}-row matrix",
            first + count,
            self.rows
        );
        Matrix {
            rows: count,
            cols: self.cols,
            data: self.data[first * self.cols..(first + count) * self.cols].to_vec(),
        }
    }

    /// Columns `first .. first + count` as a matrix, numpy's `a[:, first:first + count]`: one
    /// gate's block of a stacked pre-activation.
    pub fn col_block(&self, first: usize, count: usize) -> Result<Matrix<T>> {
        if first + count > self.cols {
            return Err(Error::invalid(
                "columns",
                format!(
                    "columns {first}..{} of a matrix of shape {:?}",
                    first + count,
                    self.shape()
                ),
            ));
        }
        Ok(Matrix::from_fn(self.rows, count, |i, j| {
            self.data[i * self.cols + first + j]
        }))
    }

    /// The matrices side by side, numpy's `np.hstack(blocks)`; all have `rows` rows.
    pub fn stack_cols(blocks: &[Matrix<T>], rows: usize) -> Matrix<T> {
        assert!(
            blocks.iter().all(|b| b.rows == rows),
            "invariant: blocks side by side have {rows} rows"
        );
        let cols = blocks.iter().map(|b| b.cols).sum();
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for b in blocks {
                data.extend_from_slice(b.row(i));
            }
        }
        Matrix { rows, cols, data }
    }

    /// `copies` copies of this matrix, one under the other: numpy's `np.tile(a, (copies, 1))`.
    pub fn tile_rows(&self, copies: usize) -> Matrix<T> {
        Matrix {
            rows: self.rows * copies,
            cols: self.cols,
            data: self.data.repeat(copies),
        }
    }

    /// The matrices one under the other, numpy's `np.vstack(blocks)`; all have `cols` columns.
    pub fn stack_rows(blocks: &[Matrix<T>], cols: usize) -> Matrix<T> {
        assert!(
            blocks.iter().all(|b| b.cols == cols),
            "invariant: blocks stacked on each other have {cols} columns"
        );
        Matrix {
            rows: blocks.iter().map(|b| b.rows).sum(),
            cols,
            data: blocks.iter().flat_map(|b| b.data.iter().copied()).collect(),
        }
    }

    /// The rows as nested vectors, the shape `arr.tolist()` gives in numpy.
    pub fn to_rows(&self) -> Vec<Vec<T>> {
        (0..self.rows).map(|i| self.row(i).to_vec()).collect()
    }

    /// Matrix product `C = A · B`, numpy's `A @ B`: `C[i][j] = Σ_k A[i][k]·B[k][j]`.
    ///
    /// The same numbers as [`Matrix::matmul_reference`], which shows how they are computed: a
    /// small product is its very sums (visited in blocks that stay in registers, bit for bit
    /// the same), and one of more than [`kernel::KERNEL_MIN_WORK`]
    /// multiply-adds goes to the packed SIMD kernel [`kernel::gemm`], which sums in another
    /// order (tests hold the two to 1e-12 in f64).
    pub fn matmul(&self, other: &Matrix<T>) -> Result<Matrix<T>> {
        self.fits(other.rows, "matmul", other.shape())?;
        let mut out = Matrix::zeros(self.rows, other.cols);
        kernel::matmul_into(self.view(), other.view(), &mut out.data, false);
        Ok(out)
    }

    /// `C = A · B` by the plain loop: the reference every faster product is tested against.
    ///
    /// The loop order is i-k-j: for each row `i` of `A` and each `k`, the row `B[k]` is added,
    /// scaled by `A[i][k]`, into the row `C[i]`. Both inner accesses walk memory in order, which
    /// is what makes this plain loop fast enough for small matrices.
    pub fn matmul_reference(&self, other: &Matrix<T>) -> Result<Matrix<T>> {
        self.fits(other.rows, "matmul", other.shape())?;
        let mut out = Matrix::zeros(self.rows, other.cols);
        for i in 0..self.rows {
            let out_row = &mut out.data[i * other.cols..(i + 1) * other.cols];
            for (k, &a_ik) in self.row(i).iter().enumerate() {
                for (c, &b_kj) in out_row.iter_mut().zip(other.row(k)) {
                    *c += a_ik * b_kj;
                }
            }
        }
        Ok(out)
    }

    /// `A · Bᵀ`, equal to `a.matmul(&b.transpose())` without forming the transpose.
    pub fn matmul_nt(&self, other: &Matrix<T>) -> Result<Matrix<T>> {
        self.fits(other.cols, "matmul", (other.cols, other.rows))?;
        let mut out = Matrix::zeros(self.rows, other.rows);
        kernel::matmul_into(self.view(), other.view().t(), &mut out.data, false);
        Ok(out)
    }

    /// `Aᵀ · B`, equal to `a.transpose().matmul(&b)` without forming the transpose.
    pub fn matmul_tn(&self, other: &Matrix<T>) -> Result<Matrix<T>> {
        if self.rows != other.rows {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                left: (self.cols, self.rows),
                right: other.shape(),
            });
        }
        let mut out = Matrix::zeros(self.cols, other.cols);
        kernel::matmul_into(self.view().t(), other.view(), &mut out.data, false);
        Ok(out)
    }

    /// Refuses a product `A · B` unless `B` has as many rows as `A` has columns; `right` is
    /// `B`'s shape as the product sees it.
    fn fits(&self, right_rows: usize, op: &'static str, right: Shape) -> Result<()> {
        if self.cols == right_rows {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                op,
                left: self.shape(),
                right,
            })
        }
    }

    /// The matrix as a [`kernel::View`], for the kernels' strided products.
    pub fn view(&self) -> kernel::View<'_, T> {
        kernel::View::row_major(&self.data, self.rows, self.cols)
    }

    /// The transpose `Aᵀ`, numpy's `A.T`.
    pub fn transpose(&self) -> Matrix<T> {
        let mut t = Matrix::zeros(self.cols, self.rows);
        self.transpose_into(&mut t);
        t
    }

    /// `out ← Aᵀ`, into a matrix allocated once (a training loop's buffers).
    ///
    /// # Panics
    /// If `out` is not `cols × rows`: a bug in the caller's buffers.
    pub fn transpose_into(&self, out: &mut Matrix<T>) {
        assert_eq!(
            out.shape(),
            (self.cols, self.rows),
            "transpose_into: the buffer must have the transposed shape"
        );
        for (i, row) in self.data.chunks_exact(self.cols.max(1)).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                out.data[j * self.rows + i] = v;
            }
        }
    }

    /// Applies `f` to every entry.
    pub fn map(&self, f: impl Fn(T) -> T) -> Matrix<T> {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }

    /// Combines two matrices of the same shape entry by entry; `op` names the caller in errors.
    pub fn zip_map(
        &self,
        other: &Matrix<T>,
        op: &'static str,
        f: impl Fn(T, T) -> T,
    ) -> Result<Matrix<T>> {
        self.same_shape(other, op)?;
        Ok(Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        })
    }

    /// Element-wise sum `A + B` (same shapes).
    pub fn add(&self, other: &Matrix<T>) -> Result<Matrix<T>> {
        self.zip_map(other, "add", |a, b| a + b)
    }

    /// Element-wise difference `A − B` (same shapes).
    pub fn sub(&self, other: &Matrix<T>) -> Result<Matrix<T>> {
        self.zip_map(other, "sub", |a, b| a - b)
    }

    /// Element-wise (Hadamard) product `A ⊙ B` (same shapes), numpy's `A * B`.
    pub fn hadamard(&self, other: &Matrix<T>) -> Result<Matrix<T>> {
        self.zip_map(other, "mul", |a, b| a * b)
    }

    /// `c · A`.
    pub fn scale(&self, c: T) -> Matrix<T> {
        self.map(|v| c * v)
    }

    /// `A += B` in place (same shapes): how gradients accumulate.
    pub fn add_assign(&mut self, other: &Matrix<T>) -> Result<()> {
        self.same_shape(other, "add_assign")?;
        for (a, &b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
        Ok(())
    }

    /// `A + b` with the `1×cols` row `b` added to every row: numpy's broadcast of a bias.
    pub fn add_row(&self, bias: &Matrix<T>) -> Result<Matrix<T>> {
        if bias.rows != 1 || bias.cols != self.cols {
            return Err(Error::ShapeMismatch {
                op: "add_bias",
                left: self.shape(),
                right: bias.shape(),
            });
        }
        Ok(Matrix::from_fn(self.rows, self.cols, |i, j| {
            self[(i, j)] + bias.data[j]
        }))
    }

    /// `A ← A + b` in place, the `1×cols` row `b` added to every row (as [`Matrix::add_row`]).
    pub fn add_row_in_place(&mut self, bias: &Matrix<T>) -> Result<()> {
        if bias.rows != 1 || bias.cols != self.cols {
            return Err(Error::ShapeMismatch {
                op: "add_bias",
                left: self.shape(),
                right: bias.shape(),
            });
        }
        for row in self.data.chunks_exact_mut(self.cols.max(1)) {
            for (v, &b) in row.iter_mut().zip(&bias.data) {
                *v += b;
            }
        }
        Ok(())
    }

    /// Sum over the rows, a `1×cols` result: numpy's `A.sum(axis=0, keepdims=True)`.
    pub fn sum_rows(&self) -> Matrix<T> {
        let mut out = Matrix::zeros(1, self.cols);
        for i in 0..self.rows {
            for (o, &v) in out.data.iter_mut().zip(self.row(i)) {
                *o += v;
            }
        }
        out
    }

    /// Sum over the columns, a `rows×1` result: numpy's `A.sum(axis=1, keepdims=True)`.
    pub fn sum_cols(&self) -> Matrix<T> {
        Matrix::from_fn(self.rows, 1, |i, _| self.row(i).iter().copied().sum())
    }

    /// Sum of all entries, numpy's `A.sum()`.
    pub fn sum(&self) -> T {
        self.data.iter().copied().sum()
    }

    /// Largest absolute entry `‖A‖∞ = max |A[i][j]|` (0 for an empty matrix; NaN if any is NaN).
    pub fn max_abs(&self) -> T {
        let mut m = T::zero();
        for &v in &self.data {
            if v.is_nan() {
                return v;
            }
            m = m.max(v.abs());
        }
        m
    }

    /// Frobenius norm `‖A‖ = √(Σ A[i][j]²)`.
    pub fn norm(&self) -> T {
        self.data.iter().map(|&v| v * v).sum::<T>().sqrt()
    }

    /// Inner product `⟨A, B⟩ = Σ A[i][j]·B[i][j]` (same shapes).
    pub fn dot(&self, other: &Matrix<T>) -> Result<T> {
        self.same_shape(other, "dot")?;
        Ok(self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| a * b)
            .sum())
    }

    /// The first entry (row-major) that is NaN or infinite, if any.
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        let k = self.data.iter().position(|v| !v.is_finite())?;
        Some((k / self.cols, k % self.cols))
    }

    /// Converts every entry to another [`Scalar`] type (e.g. `f64` to `f32`).
    pub fn cast<U: Scalar>(&self) -> Matrix<U> {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&v| U::from_f64(v.as_f64())).collect(),
        }
    }

    /// Refuses `other` unless it has this matrix's shape; `op` names the caller.
    pub fn same_shape(&self, other: &Matrix<T>, op: &'static str) -> Result<()> {
        if self.shape() == other.shape() {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                op,
                left: self.shape(),
                right: other.shape(),
            })
        }
    }
}

impl<T> Index<(usize, usize)> for Matrix<T> {
    type Output = T;

    fn index(&self, (i, j): (usize, usize)) -> &T {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of bounds for a {}×{} matrix",
            self.rows,
            self.cols
        );
        &self.data[i * self.cols + j]
    }
}

impl<T> IndexMut<(usize, usize)> for Matrix<T> {
    fn index_mut(&mut self, (i, j): (usize, usize)) -> &mut T {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of bounds for a {}×{} matrix",
            self.rows,
            self.cols
        );
        &mut self.data[i * self.cols + j]
    }
}

/// An exponent as numpy writes it, from Rust's digits after the `e`: `-5` is `e-05`, `0` is
/// `e+00`.
pub(crate) fn numpy_exponent(rust: &str) -> String {
    let (sign, digits) = match rust.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', rust),
    };
    format!("e{sign}{digits:0>2}")
}

/// Formats numbers the way numpy's default `print` does, as strings of equal width.
///
/// Fixed notation with at most `precision` decimals, trailing zeros dropped (`1.0007`, `1.`),
/// unless the largest magnitude is ≥ 1e8, the smallest non-zero one is < 1e-4, or their ratio
/// exceeds 1e3: then scientific notation (`1.46444321e-05`). Entries are aligned on the decimal
/// point, as numpy aligns them.
pub fn format_numbers(values: &[f64], precision: usize) -> Vec<String> {
    let finite = values.iter().filter(|v| v.is_finite() && **v != 0.0);
    let max = finite.clone().fold(0.0f64, |m, v| m.max(v.abs()));
    let min = finite.fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let scientific = max >= 1e8 || (min.is_finite() && (min < 1e-4 || max / min > 1e3));
    let parts: Vec<(String, String)> = values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                let word = if v.is_nan() {
                    "nan"
                } else if v > 0.0 {
                    "inf"
                } else {
                    "-inf"
                };
                return (word.to_string(), String::new());
            }
            let text = if scientific {
                format!("{v:.precision$e}")
            } else {
                format!("{v:.precision$}")
            };
            let (mantissa, exponent) = match text.split_once('e') {
                Some((m, e)) => (m.to_string(), Some(e.to_string())),
                None => (text, None),
            };
            let mantissa = mantissa.trim_end_matches('0').to_string();
            (
                mantissa,
                exponent.map_or(String::new(), |e| numpy_exponent(&e)),
            )
        })
        .collect();
    let split = |m: &str| -> (String, String) {
        match m.split_once('.') {
            Some((int, frac)) => (int.to_string(), format!(".{frac}")),
            None => (m.to_string(), String::new()),
        }
    };
    let int_width = parts.iter().map(|(m, _)| split(m).0.len()).max();
    let frac_width = parts.iter().map(|(m, _)| split(m).1.len()).max();
    let (int_width, frac_width) = (int_width.unwrap_or(0), frac_width.unwrap_or(0));
    parts
        .iter()
        .map(|(m, e)| {
            let (int, frac) = split(m);
            // numpy pads the fraction with zeros in scientific notation and with spaces otherwise.
            let frac = if scientific && !e.is_empty() {
                format!("{frac:0<frac_width$}")
            } else {
                format!("{frac:<frac_width$}")
            };
            format!("{int:>int_width$}{frac}{e}")
        })
        .collect()
}

/// numpy's default line width: longer rows wrap onto indented continuation lines.
const LINE_WIDTH: usize = 75;

/// Writes already formatted entries as a numpy 2-D array: `[[a b]\n [c d]]`.
///
/// `indent` is the number of columns the caller has already written before the opening bracket
/// on the first line, so that nested arrays (a 3-D stack of matrices) line up as numpy's do.
pub fn write_numpy_2d(out: &mut String, cells: &[String], rows: usize, cols: usize, indent: usize) {
    out.push('[');
    for i in 0..rows {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 1));
        }
        out.push('[');
        let mut line_len = indent + 2;
        for j in 0..cols {
            let cell = &cells[i * cols + j];
            if j > 0 {
                if line_len + 1 + cell.len() + 1 > LINE_WIDTH {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 2));
                    line_len = indent + 2;
                } else {
                    out.push(' ');
                    line_len += 1;
                }
            }
            out.push_str(cell);
            line_len += cell.len();
        }
        out.push(']');
    }
    out.push(']');
}

impl<T: Scalar> fmt::Display for Matrix<T> {
    /// Prints like numpy: `[[0.79494228 0.81839002]]`. `{:.4}` asks for 4 decimals instead of 8.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<f64> = self.data.iter().map(|v| v.as_f64()).collect();
        let cells = format_numbers(&values, f.precision().unwrap_or(8));
        let mut out = String::new();
        write_numpy_2d(&mut out, &cells, self.rows, self.cols, 0);
        f.write_str(&out)
    }
}

impl<T: Scalar + approx::AbsDiffEq<Epsilon = T>> approx::AbsDiffEq for Matrix<T> {
    type Epsilon = T;

    fn default_epsilon() -> T {
        T::default_epsilon()
    }

    fn abs_diff_eq(&self, other: &Self, epsilon: T) -> bool {
        self.shape() == other.shape()
            && self
                .data
                .iter()
                .zip(&other.data)
                .all(|(a, b)| a.abs_diff_eq(b, epsilon))
    }
}

impl<T: Scalar + approx::RelativeEq<Epsilon = T>> approx::RelativeEq for Matrix<T> {
    fn default_max_relative() -> T {
        T::default_max_relative()
    }

    fn relative_eq(&self, other: &Self, epsilon: T, max_relative: T) -> bool {
        self.shape() == other.shape()
            && self
                .data
                .iter()
                .zip(&other.data)
                .all(|(a, b)| a.relative_eq(b, epsilon, max_relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: &[&[f64]]) -> Matrix<f64> {
        Matrix::from_rows(rows).expect("test literal is rectangular")
    }

    #[test]
    fn matmul_matches_a_hand_computed_product() {
        let a = m(&[&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0]]);
        let b = m(&[&[1.0, 0.0, -1.0], &[2.0, 1.0, 0.5]]);
        let c = a.matmul(&b).unwrap();
        assert_eq!(
            c,
            m(&[&[5.0, 2.0, 0.0], &[11.0, 4.0, -1.0], &[17.0, 6.0, -2.0]])
        );
    }

    #[test]
    fn matmul_refuses_mismatched_shapes_naming_both() {
        let err = Matrix::<f64>::zeros(1, 2)
            .matmul(&Matrix::zeros(3, 4))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "matmul: shapes do not fit: left is 1×2, right is 3×4"
        );
    }

    #[test]
    fn ragged_rows_are_refused() {
        let err = Matrix::<f64>::from_rows(&[vec![1.0, 2.0], vec![3.0]]).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
    }

    #[test]
    fn bias_broadcast_and_sums() {
        let a = m(&[&[1.0, 2.0], &[3.0, 4.0]]);
        let b = Matrix::row_vector(&[10.0, 20.0]);
        assert_eq!(a.add_row(&b).unwrap(), m(&[&[11.0, 22.0], &[13.0, 24.0]]));
        assert_eq!(a.sum_rows(), m(&[&[4.0, 6.0]]));
        assert_eq!(a.sum_cols(), m(&[&[3.0], &[7.0]]));
        assert_eq!(a.sum(), 10.0);
        assert!(a.add_row(&Matrix::row_vector(&[1.0])).is_err());
    }

    #[test]
    fn prints_like_numpy() {
        let h = Matrix::row_vector(&[0.79494228, 0.81839002, 0.83939649, 0.85584174]);
        assert_eq!(
            h.to_string(),
            "[[0.79494228 0.81839002 0.83939649 0.85584174]]"
        );
        let a = Matrix::row_vector(&[1.0007, 1.0013, 1.0019, 1.0023]);
        assert_eq!(a.to_string(), "[[1.0007 1.0013 1.0019 1.0023]]");
        let mixed = m(&[&[-1.0, 0.5], &[2.0, 0.25]]);
        assert_eq!(mixed.to_string(), "[[-1.    0.5 ]\n [ 2.    0.25]]");
        let small = Matrix::row_vector(&[1.4644432137913734e-05, 0.0]);
        assert_eq!(small.to_string(), "[[1.46444321e-05 0.00000000e+00]]");
        assert_eq!(
            format!("{:.2}", Matrix::row_vector(&[1.0 / 3.0])),
            "[[0.33]]"
        );
    }

    #[test]
    fn long_rows_wrap_like_numpy() {
        let row = Matrix::row_vector(&[0.123456789; 8]);
        assert_eq!(
            row.to_string(),
            "[[0.12345679 0.12345679 0.12345679 0.12345679 0.12345679 0.12345679\n  0.12345679 0.12345679]]"
        );
    }
}
