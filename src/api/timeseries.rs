//! Counts over time: `GET /stats/timeseries` (a service's, or every
//! service's, lines per bucket of a step, zero-filled) and `GET /stats/top`
//! (services ranked by a level's count in a window). Both read the
//! per-minute counts, only the hours the window is in.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;

use super::stats::read;
use super::{ApiError, AppState};
use crate::model::{Level, LevelCounts};
use crate::store::MinuteCounts;

/// Most buckets one request may ask for (a week of minutes).
const MAX_BUCKETS: i64 = 10_080;
/// The window when `from` is not given.
const DEFAULT_WINDOW_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;
const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 1000;

/// A query string's parameters, in order (a name may repeat).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<String>, known: &[&str]) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|error| ApiError::BadRequest(format!("the query string cannot be read: {error}")))?;
        if let Some((name, _)) = pairs.iter().find(|(name, _)| !known.contains(&name.as_str())) {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter `{}`; known: {}",
                crate::plugin::shown(name, 64),
                known.join(", ")
            )));
        }
        Ok(Params(pairs))
    }

    /// The value of `name`, if given once; given twice is an error.
    fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.0.iter().filter(|(key, _)| key == name);
        let first = values.next().map(|(_, value)| value.as_str());
        match values.next() {
            Some(_) => Err(ApiError::BadRequest(format!("`{name}` is given more than once"))),
            None => Ok(first),
        }
    }

    /// Every value of `name`, comma-separated values split.
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .collect()
    }
}

/// The window asked for: `from` and `to` as epoch ms (now when `to` is not
/// given, an hour before `to` when `from` is not).
fn window(params: &Params, now_ms: i64) -> Result<(i64, i64), ApiError> {
    let to = match params.one("to")? {
        Some(text) => instant("to", text, now_ms)?,
        None => now_ms,
    };
    let from = match params.one("from")? {
        Some(text) => instant("from", text, now_ms)?,
        None => to - DEFAULT_WINDOW_MS,
    };
    if from >= to {
        return Err(ApiError::BadRequest(format!(
            "`from` ({}) must be before `to` ({})",
            crate::time::rfc3339_seconds(from),
            crate::time::rfc3339_seconds(to)
        )));
    }
    Ok((from, to))
}

/// An instant as a parameter gives it: `now`, relative to now (`-6h`,
/// `-30m`, `-7d`, `-90s`), epoch ms, or a timestamp (RFC 3339 and the other
/// spellings logs use).
fn instant(name: &str, text: &str, now_ms: i64) -> Result<i64, ApiError> {
    let text = text.trim();
    let bad = || {
        ApiError::BadRequest(format!(
            "`{name}` must be `now`, a time relative to now (`-6h`, `-30m`, `-7d`), epoch milliseconds or an RFC 3339 time; got `{}`",
            crate::plugin::shown(text, 64)
        ))
    };
    if text == "now" {
        return Ok(now_ms);
    }
    if let Some(ago) = text.strip_prefix('-') {
        return Ok(now_ms - crate::time::parse_duration_ms(ago).ok_or_else(bad)?);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    logproc_levels::time::parse_timestamp(text).map_err(|_| bad())
}

/// The levels asked for (every level when none is named).
fn levels(params: &Params) -> Result<Vec<Level>, ApiError> {
    let names = params.all("level");
    if names.is_empty() {
        return Ok(Level::ALL.to_vec());
    }
    let mut levels = Vec::new();
    for name in names {
        let level = Level::from_name(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown level `{}`; known: {}",
                crate::plugin::shown(name, 64),
                level_names()
            ))
        })?;
        if !levels.contains(&level) {
            levels.push(level);
        }
    }
    Ok(levels)
}

/// `counts` of `levels`, by their names.
fn by_name(levels: &[Level], counts: &LevelCounts) -> serde_json::Map<String, serde_json::Value> {
    levels
        .iter()
        .map(|level| (level.name().to_owned(), counts[level.index()].into()))
        .collect()
}

fn level_names() -> String {
    Level::ALL.map(Level::name).join(", ")
}

/// The per-minute counts are kept per service, not per component.
fn refuse_component(params: &Params) -> Result<(), ApiError> {
    match params.one("component")? {
        Some(_) => Err(ApiError::BadRequest(
            "counts over time are kept per service, not per component: leave out `component` \
             (`/stats/{service}` has each component's totals)"
                .into(),
        )),
        None => Ok(()),
    }
}

#[derive(Serialize)]
pub struct Timeseries {
    /// `None`: every service.
    service: Option<String>,
    levels: Vec<&'static str>,
    from_ms: i64,
    to_ms: i64,
    step_ms: i64,
    buckets: Vec<Bucket>,
}

#[derive(Serialize)]
struct Bucket {
    start_ms: i64,
    time: String,
    /// Of the levels asked for.
    lines: u64,
    levels: serde_json::Map<String, serde_json::Value>,
}

/// `GET /stats/timeseries?service=&level=&from=&to=&step=`: lines per
/// bucket of `step` (`1m`, `5m`, `1h`, `1d`, ...: whole minutes), buckets
/// aligned to the step (a day from 00:00 UTC), every bucket of the window
/// present, oldest first.
pub async fn get_timeseries(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Timeseries>, ApiError> {
    let params = Params::parse(raw, &["service", "component", "level", "from", "to", "step"])?;
    refuse_component(&params)?;
    let levels = levels(&params)?;
    let step_ms = match params.one("step")? {
        None => MINUTE_MS,
        Some(text) => crate::time::parse_duration_ms(text)
            .filter(|ms| *ms > 0 && ms % MINUTE_MS == 0)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`step` must be whole minutes, as `1m`, `5m`, `15m`, `1h` or `1d`; got `{}`",
                    crate::plugin::shown(text, 64)
                ))
            })?,
    };
    let (from, to) = window(&params, crate::time::now_ms())?;
    // Aligned: the first bucket holds `from`, the last `to`'s minute.
    let first = from.div_euclid(step_ms) * step_ms;
    let end = (to - 1).div_euclid(step_ms) * step_ms + step_ms;
    let buckets = (end - first) / step_ms;
    if buckets > MAX_BUCKETS {
        return Err(ApiError::BadRequest(format!(
            "{buckets} buckets of {} asked for; at most {MAX_BUCKETS}: take a longer step or a shorter window",
            params.one("step")?.unwrap_or("1m")
        )));
    }
    let service = params.one("service")?.map(str::to_owned);
    let name = service.clone();
    let minutes = read(&state, move |store| store.minutes_between(name.as_deref(), first, end)).await?;
    Ok(Json(Timeseries {
        service,
        levels: levels.iter().map(|level| level.name()).collect(),
        from_ms: first,
        to_ms: end,
        step_ms,
        buckets: bucketed(&minutes, first, step_ms, buckets as usize, &levels),
    }))
}

/// `minutes` (in `first..`, oldest first) summed into `count` buckets.
fn bucketed(minutes: &[MinuteCounts], first: i64, step_ms: i64, count: usize, levels: &[Level]) -> Vec<Bucket> {
    let mut sums = vec![LevelCounts::default(); count];
    for minute in minutes {
        let at = ((minute.start_ms - first) / step_ms) as usize;
        if let Some(sum) = sums.get_mut(at) {
            crate::model::add_counts(sum, &minute.counts);
        }
    }
    sums.iter()
        .enumerate()
        .map(|(at, counts)| {
            let start_ms = first + at as i64 * step_ms;
            Bucket {
                start_ms,
                time: crate::time::rfc3339_seconds(start_ms),
                lines: levels.iter().map(|level| counts[level.index()]).sum(),
                levels: by_name(levels, counts),
            }
        })
        .collect()
}

#[derive(Serialize)]
pub struct Top {
    by: String,
    from_ms: i64,
    to_ms: i64,
    services: Vec<Ranked>,
}

#[derive(Serialize)]
struct Ranked {
    service: String,
    /// What `by` counts.
    count: u64,
    lines: u64,
    levels: serde_json::Map<String, serde_json::Value>,
}

/// `GET /stats/top?by=&from=&to=&limit=`: the services with the most lines
/// of `by` (`errors`: ERROR and FATAL; `warnings`; `lines`; or a level) in
/// the window, most first (ties by name); services with none left out.
pub async fn get_top(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<Top>, ApiError> {
    let params = Params::parse(raw, &["by", "from", "to", "limit", "service", "component"])?;
    refuse_component(&params)?;
    if params.one("service")?.is_some() {
        return Err(ApiError::BadRequest(
            "counts over time are kept per service, not per component, so `top` ranks services: leave out `service`"
                .into(),
        ));
    }
    let by = params.one("by")?.unwrap_or("errors").to_owned();
    let counted: Vec<Level> = match by.to_ascii_lowercase().as_str() {
        "errors" => vec![Level::Error, Level::Fatal],
        "warnings" => vec![Level::Warn],
        "lines" => Level::ALL.to_vec(),
        name => vec![Level::from_name(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`by` must be errors, warnings, lines or a level ({}); got `{}`",
                level_names(),
                crate::plugin::shown(&by, 64)
            ))
        })?],
    };
    let limit = match params.one("limit")? {
        None => DEFAULT_TOP,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TOP).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`limit` must be an integer between 1 and {MAX_TOP}, got `{}`",
                    crate::plugin::shown(text, 64)
                ))
            })?,
    };
    let (from, to) = window(&params, crate::time::now_ms())?;
    let mut services = read(&state, move |store| store.services_between(from, to)).await?;
    let count = |counts: &LevelCounts| counted.iter().map(|level| counts[level.index()]).sum::<u64>();
    services.retain(|(_, counts)| count(counts) > 0);
    services.sort_by(|(a, a_counts), (b, b_counts)| count(b_counts).cmp(&count(a_counts)).then_with(|| a.cmp(b)));
    services.truncate(limit);
    Ok(Json(Top {
        by,
        from_ms: from,
        to_ms: to,
        services: services
            .into_iter()
            .map(|(service, counts)| Ranked {
                service,
                count: count(&counts),
                lines: counts.iter().sum(),
                levels: by_name(&Level::ALL, &counts),
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_durations() {
        let now = 1_735_732_800_000;
        assert_eq!(instant("from", "now", now).unwrap(), now);
        assert_eq!(instant("from", "-6h", now).unwrap(), now - 6 * 3_600_000);
        assert_eq!(instant("from", "-90s", now).unwrap(), now - 90_000);
        assert_eq!(instant("from", "1700000000000", now).unwrap(), 1_700_000_000_000);
        assert_eq!(instant("from", "2025-01-01T12:00:00Z", now).unwrap(), now);
        for bad in ["", "-6", "-6w", "yesterday", "-h"] {
            assert!(instant("from", bad, now).is_err(), "{bad}");
        }
        assert_eq!(crate::time::parse_duration_ms("15m"), Some(900_000));
        assert_eq!(crate::time::parse_duration_ms("1d"), Some(86_400_000));
        assert_eq!(crate::time::parse_duration_ms("99999999999999d"), None);
    }

    #[test]
    fn minutes_fall_in_aligned_zero_filled_buckets() {
        let minute = |start_ms: i64, errors: u64| {
            let mut counts = LevelCounts::default();
            counts[Level::Error.index()] = errors;
            counts[Level::Info.index()] = 1;
            MinuteCounts { start_ms, counts }
        };
        let buckets = bucketed(
            &[minute(0, 2), minute(4 * MINUTE_MS, 3), minute(10 * MINUTE_MS, 5)],
            0,
            5 * MINUTE_MS,
            3,
            &[Level::Error],
        );
        let seen: Vec<_> = buckets.iter().map(|bucket| (bucket.start_ms, bucket.lines)).collect();
        assert_eq!(seen, [(0, 5), (5 * MINUTE_MS, 0), (10 * MINUTE_MS, 5)]);
        assert_eq!(buckets[0].levels["ERROR"], 5);
        assert!(!buckets[0].levels.contains_key("INFO"));
    }
}
