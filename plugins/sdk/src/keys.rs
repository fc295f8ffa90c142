//! The field names of structured logs, from `logproc-levels` (which the
//! host shares), with levels in the contract's [`Level`](crate::Level).

pub use logproc_levels::keys::{CLEF_TIME, Field, Key, LevelScale, key};

/// [`logproc_levels::keys::level_of_value`]: the level of a value under a
/// level key, a name or a number on the key's scale.
#[inline]
pub fn level_of_value(scale: LevelScale, value: &str) -> crate::Level {
    logproc_levels::keys::level_of_value(scale, value).into()
}
