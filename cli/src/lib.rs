//! The edge of tapegrad: the command line's file formats, apart from the library so that the
//! library keeps its small dependencies. The `tapegrad` binary (`src/main.rs`) reads case and
//! gradient files with [`json`] and writes `--json` output with it; tests and the fuzzer use
//! the same readers.

pub mod json;
pub mod npz;
