//! The recurrent cells, one file each. A cell implements [`crate::cell::Cell`], and the generic
//! code (sequence, BPTT, check, diagnosis, traces, training) knows it only through that trait.
//! What names the RNN is what is the RNN's alone: the canonical example, its fast training paths
//! ([`crate::fast`]), its bug zoo, [`crate::RnnClassifier`], and `Case`'s default type.

pub mod gru;
pub mod lstm;
pub mod rnn;

pub use gru::Gru;
pub use lstm::Lstm;
pub use rnn::Rnn;
