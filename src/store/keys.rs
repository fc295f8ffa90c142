//! Key layout. Keys are ordered so that each API question is a prefix scan:
//!
//! - `t/invalid`: lines that could not be parsed (parsed lines are the sum
//!   of the `c/` counts)
//! - `c/{service}\0{component}`: lines by service and component, per level
//! - `m/{service}\0{minute}`: lines by service and minute, per level (minute
//!   start in epoch ms, 8 bytes big-endian with the sign bit flipped, so
//!   minutes sort in time order)
//! - `o/{source}`: a source's checkpoint (postcard); a file's source is
//!   `file:{dev}:{inode}`
//! - `v/format`: the store format, [`FORMAT_VERSION`]
//!
//! `t/invalid` and `v/format` are 8-byte big-endian integers; `c/` and `m/`
//! values hold one count per level (postcard: 7 varints, a few bytes, where
//! a key per level made a 2 GB file's per-minute keys five times as many).
//! Names never hold `\0`: the worker replaces it (see `pipeline::worker`).

use crate::model::LevelCounts;

/// Total invalid lines.
pub const INVALID: &[u8] = b"t/invalid";
/// Prefix of the (service, component) counts.
pub const COMPONENT_PREFIX: &[u8] = b"c/";
/// Prefix of the (service, minute) counts.
pub const MINUTE_PREFIX: &[u8] = b"m/";
/// Prefix of the source checkpoints.
pub const CHECKPOINT_PREFIX: &[u8] = b"o/";

/// Key of the store format version (a counter).
pub const FORMAT: &[u8] = b"v/format";
/// The layout described here. Stores from before this key existed are format 1.
pub const FORMAT_VERSION: u64 = 2;

/// Key of the lines of one (service, component).
pub fn component(service: &str, component: &str) -> Vec<u8> {
    let mut key = component_service_prefix(service);
    key.extend_from_slice(component.as_bytes());
    key
}

/// Prefix of every `component` key of one service.
pub fn component_service_prefix(service: &str) -> Vec<u8> {
    service_prefix(COMPONENT_PREFIX, service)
}

/// Splits a `component` key into (service, component).
pub fn parse_component(key: &[u8]) -> Option<(&str, &str)> {
    let names = key.strip_prefix(COMPONENT_PREFIX)?;
    let split = names.iter().position(|&b| b == 0)?;
    let service = std::str::from_utf8(&names[..split]).ok()?;
    let component = std::str::from_utf8(&names[split + 1..]).ok()?;
    Some((service, component))
}

/// Key of the lines of one (service, minute).
pub fn minute(service: &str, minute_start_ms: i64) -> Vec<u8> {
    let mut key = minute_service_prefix(service);
    key.extend_from_slice(&((minute_start_ms as u64) ^ (1 << 63)).to_be_bytes());
    key
}

/// Prefix of every `minute` key of one service.
pub fn minute_service_prefix(service: &str) -> Vec<u8> {
    service_prefix(MINUTE_PREFIX, service)
}

/// `{prefix}{service}\0`, with room for the rest of a key.
fn service_prefix(prefix: &[u8], service: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + service.len() + 16);
    key.extend_from_slice(prefix);
    key.extend_from_slice(service.as_bytes());
    key.push(0);
    key
}

/// Reads the minute start from a `minute` key, given its service prefix.
pub fn parse_minute(key: &[u8], service_prefix: &[u8]) -> Option<i64> {
    let minute: [u8; 8] = key.strip_prefix(service_prefix)?.try_into().ok()?;
    Some((u64::from_be_bytes(minute) ^ (1 << 63)) as i64)
}

/// Key of a source's checkpoint.
pub fn checkpoint(source: &str) -> Vec<u8> {
    [CHECKPOINT_PREFIX, source.as_bytes()].concat()
}

/// A counter's stored form.
pub fn encode_counter(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

/// A counter from its stored form; `None` if it is not 8 bytes.
pub fn decode_counter(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Per-level counts' stored form.
pub fn encode_levels(counts: &LevelCounts) -> Vec<u8> {
    postcard::to_stdvec(counts).expect("counts always encode")
}

/// Per-level counts from their stored form; `None` if they do not decode.
pub fn decode_levels(bytes: &[u8]) -> Option<LevelCounts> {
    postcard::from_bytes(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_minutes_sort_in_time_order() {
        let key = component("pay ments", "api");
        assert_eq!(parse_component(&key), Some(("pay ments", "api")));
        let prefix = minute_service_prefix("orders");
        let early = minute("orders", -60_000);
        let late = minute("orders", 1_735_668_120_000);
        assert!(early < late);
        assert_eq!(parse_minute(&early, &prefix), Some(-60_000));
        assert_eq!(parse_minute(&late, &prefix), Some(1_735_668_120_000));
        let counts = [0, 1, 300, 0, u64::MAX, 7, 0];
        assert_eq!(decode_levels(&encode_levels(&counts)), Some(counts));
    }
}
