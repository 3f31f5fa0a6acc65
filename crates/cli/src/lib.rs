//! The `aftercare` command line: file loading and the commands. The engine itself lives in
//! `aftercare-policy` and never touches files; this crate does the reading.

pub mod commands;
pub mod demo;
pub mod files;
