//! The recurrent cells, one file each. A cell implements [`crate::cell::Cell`]; nothing else in
//! the crate names it, except the command line's one line per cell that maps a case file's
//! `"cell"` to its type.

pub mod rnn;

pub use rnn::Rnn;
