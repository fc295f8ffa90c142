//! Key layout. Keys are ordered so that each API question is a prefix scan:
//!
//! - `t/invalid`: lines that could not be parsed (parsed lines are the sum
//!   of the `c/` counts)
//! - `c/{service}\0{component}`: lines by service and component, per level
//! - `m/{service}\0{hour}`: lines by service and minute, per level, one key
//!   per hour (hour start in epoch ms, 8 bytes big-endian with the sign bit
//!   flipped, so hours sort in time order) holding the minutes of that hour
//!   that have lines. A commit rewrites every key it touches, at ~7 µs a key
//!   in sled: a key per minute made a million lines spread over a day (a
//!   quiet service's log) cost 10,000 writes, a key per hour costs 170.
//! - `o/{source}`: a source's checkpoint (postcard); a file's source is
//!   `file:{dev}:{inode}`
//! - `v/format`: the store format, [`FORMAT_VERSION`]
//! - `v/commit`: the sequence number of the last commit, written by each
//!   commit: after a failed flush, it tells whether the commit is on disk
//!
//! `t/invalid`, `v/format` and `v/commit` are 8-byte big-endian integers; `c/` values
//! hold one count per level (postcard: 7 varints, a few bytes, where a key
//! per level made a 2 GB file's keys five times as many); `m/` values map
//! the minute of the hour (0 to 59) to such counts (postcard).
//! Names never hold `\0`: the worker replaces it (see `pipeline::worker`).

use std::collections::BTreeMap;

use crate::model::LevelCounts;

/// Milliseconds in an hour: one `m/` key's span.
pub const HOUR_MS: i64 = 3_600_000;

/// One hour's counts, by minute of the hour (0 to 59).
pub type HourCounts = BTreeMap<u8, LevelCounts>;

/// Total invalid lines.
pub const INVALID: &[u8] = b"t/invalid";
/// Prefix of the (service, component) counts.
pub const COMPONENT_PREFIX: &[u8] = b"c/";
/// Prefix of the (service, hour) counts.
pub const HOUR_PREFIX: &[u8] = b"m/";
/// Prefix of the source checkpoints.
pub const CHECKPOINT_PREFIX: &[u8] = b"o/";

/// Key of the store format version (a counter).
pub const FORMAT: &[u8] = b"v/format";
/// Key of the last commit's sequence number (a counter).
pub const COMMIT_SEQ: &[u8] = b"v/commit";
/// The layout described here. Stores from before this key existed are
/// format 1; format 2 had a `m/` key per minute.
pub const FORMAT_VERSION: u64 = 3;

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

/// Key of the lines of one (service, hour).
pub fn hour(service: &str, hour_start_ms: i64) -> Vec<u8> {
    let mut key = hour_service_prefix(service);
    key.extend_from_slice(&((hour_start_ms as u64) ^ (1 << 63)).to_be_bytes());
    key
}

/// Prefix of every `hour` key of one service.
pub fn hour_service_prefix(service: &str) -> Vec<u8> {
    service_prefix(HOUR_PREFIX, service)
}

/// The hour key and minute of the hour of the minute starting at `minute_start_ms`.
pub fn hour_of_minute(service: &str, minute_start_ms: i64) -> (Vec<u8>, u8) {
    let hour_start = minute_start_ms.div_euclid(HOUR_MS) * HOUR_MS;
    (
        hour(service, hour_start),
        ((minute_start_ms - hour_start) / 60_000) as u8,
    )
}

/// `{prefix}{service}\0`, with room for the rest of a key.
fn service_prefix(prefix: &[u8], service: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + service.len() + 16);
    key.extend_from_slice(prefix);
    key.extend_from_slice(service.as_bytes());
    key.push(0);
    key
}

/// Reads the hour start from an `hour` key, given its service prefix.
pub fn parse_hour(key: &[u8], service_prefix: &[u8]) -> Option<i64> {
    let hour: [u8; 8] = key.strip_prefix(service_prefix)?.try_into().ok()?;
    Some((u64::from_be_bytes(hour) ^ (1 << 63)) as i64)
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

/// An hour's counts' stored form.
pub fn encode_hour(hour: &HourCounts) -> Vec<u8> {
    postcard::to_stdvec(hour).expect("counts always encode")
}

/// An hour's counts from their stored form; `None` if they do not decode
/// or name a minute past 59.
pub fn decode_hour(bytes: &[u8]) -> Option<HourCounts> {
    let hour: HourCounts = postcard::from_bytes(bytes).ok()?;
    hour.keys().all(|&minute| minute < 60).then_some(hour)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_hours_sort_in_time_order() {
        let key = component("pay ments", "api");
        assert_eq!(parse_component(&key), Some(("pay ments", "api")));
        let prefix = hour_service_prefix("orders");
        let (early, early_minute) = hour_of_minute("orders", -60_000);
        let (late, late_minute) = hour_of_minute("orders", 1_735_668_120_000);
        assert!(early < late);
        assert_eq!((parse_hour(&early, &prefix), early_minute), (Some(-HOUR_MS), 59));
        // 2024-12-31T18:02:00Z: minute 2 of the hour starting at 18:00.
        assert_eq!((parse_hour(&late, &prefix), late_minute), (Some(1_735_668_000_000), 2));
        let counts = [0, 1, 300, 0, u64::MAX, 7, 0];
        assert_eq!(decode_levels(&encode_levels(&counts)), Some(counts));
        let hour = HourCounts::from([(0, counts), (59, [1; 7])]);
        assert_eq!(decode_hour(&encode_hour(&hour)), Some(hour));
        assert_eq!(decode_hour(&encode_hour(&HourCounts::from([(60, counts)]))), None);
    }
}
