//! Sources of lines: the watched directory (with its file readers).

pub mod file;
pub mod watch;
