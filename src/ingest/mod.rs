//! Sources of lines: the watched directory (with its file readers) and
//! WebSocket streams. (HTTP ingest is a handler: `api::ingest`.)

pub mod file;
pub mod watch;
pub mod websocket;
