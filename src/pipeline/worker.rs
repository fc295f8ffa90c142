//! A worker: takes batches, runs them through its own plugin instances, and
//! hands a [`Delta`] per batch to the aggregator. Workers never touch storage.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

use tracing::{debug, warn};

use super::Done;
use super::batch::{Batch, Progress, Record, ShippedTime, SourceContext};
use super::route::{FixedNames, Parser, ParserSpec};
use crate::model::{Delta, Level, LevelCounts, UNKNOWN_NAME, minute_of};
use crate::plugin::{BatchContext, Entry, Outcome, ParsedBatch, PluginInstance};

/// An instance is replaced after this many batches: a Store frees nothing,
/// so a plugin that leaks would otherwise grow until its memory cap.
const BATCHES_PER_INSTANCE: u32 = 10_000;

struct Cached {
    instance: PluginInstance,
    batches: u32,
    /// Gone once no route uses this plugin version (it was swapped) and no
    /// batch for it is left: then the instance is dropped.
    spec: Weak<ParserSpec>,
}

/// Runs until the batch channel is closed and drained.
pub fn run_worker(batches: async_channel::Receiver<Batch>, done: async_channel::Sender<Done>) {
    let mut instances: HashMap<usize, Cached> = HashMap::new();
    while let Ok(batch) = batches.recv_blocking() {
        let mut first_invalid = None;
        let delta = parse(&mut instances, &batch, &mut first_invalid);
        if let (0, Progress::Advance(checkpoint), Some((line, reason))) = (batch.seq, &batch.progress, &first_invalid)
            && delta.invalid * 2 > batch.lines as u64
        {
            warn!(
                path = ?crate::ingest::file::path_of(checkpoint.path.clone()),
                invalid = delta.invalid,
                lines = batch.lines,
                line = %preview(line),
                reason = %crate::plugin::shown(reason, crate::plugin::MAX_SHOWN_BYTES),
                "Most of the file's first lines are invalid: is its route's parser right for it? (logproc plugin check NAME --sample FILE shows why)"
            );
        }
        instances.retain(|_, cached| cached.spec.strong_count() > 0);
        let finished = Done {
            source: batch.source,
            seq: batch.seq,
            progress: batch.progress,
            delta,
            ack: batch.ack,
        };
        if done.send_blocking(finished).is_err() {
            warn!("Aggregator stopped; worker exits.");
            return;
        }
    }
}

/// What a batch's lines are parsed and counted with, besides its plugin.
struct Job<'a> {
    /// What the plugin is told about the lines.
    context: BatchContext,
    /// What the host knows about their source (its names).
    source: &'a SourceContext,
    /// The time of lines without a timestamp.
    now_ms: i64,
}

/// Parses a batch; `first_invalid` gets its first invalid line and the
/// reason, if the plugin called any invalid.
fn parse(instances: &mut HashMap<usize, Cached>, batch: &Batch, first_invalid: &mut FirstInvalid) -> Delta {
    let mut delta = Delta {
        invalid: batch.rejected,
        ..Delta::default()
    };
    let now_ms = crate::time::now_ms();
    count_records(&mut delta, &batch.records, &batch.context, now_ms);
    let job = |format: Option<&std::sync::Arc<str>>| Job {
        context: BatchContext {
            format: format.map(|format| format.to_string()),
            reference_ms: batch.context.reference_ms,
        },
        source: &batch.context,
        now_ms,
    };
    let lines = Lines {
        text: &batch.text,
        count: batch.lines,
        times: &batch.times,
    };
    match &batch.parser {
        None => delta.invalid += batch.lines as u64,
        Some(Parser::Single(spec)) => parse_with(
            instances,
            spec,
            &lines,
            &job(batch.context.format.as_ref()),
            &mut delta,
            first_invalid,
        ),
        Some(Parser::Auto { json, text }) => {
            let (mut json_lines, mut text_lines) = (String::new(), String::new());
            let (mut json_count, mut text_count) = (0, 0);
            let (mut json_times, mut text_times) = (Vec::new(), Vec::new());
            for (at, line) in batch.text.split('\n').take(batch.lines).enumerate() {
                let (into, count, times) = if line.trim_start().starts_with('{') {
                    (&mut json_lines, &mut json_count, &mut json_times)
                } else {
                    (&mut text_lines, &mut text_count, &mut text_times)
                };
                if *count > 0 {
                    into.push('\n');
                }
                into.push_str(line);
                *count += 1;
                if let Some(time) = batch.times.get(at) {
                    times.push(*time);
                }
            }
            // The detected format is the text lines'.
            let json_job = job(None);
            let json_lines = Lines {
                text: &json_lines,
                count: json_count,
                times: &json_times,
            };
            parse_with(instances, json, &json_lines, &json_job, &mut delta, first_invalid);
            let text_job = job(batch.context.format.as_ref());
            let text_lines = Lines {
                text: &text_lines,
                count: text_count,
                times: &text_times,
            };
            parse_with(instances, text, &text_lines, &text_job, &mut delta, first_invalid);
        }
    }
    delta
}

/// Lines joined by `\n`, and the times their records carried (none, or
/// one per line).
struct Lines<'a> {
    text: &'a str,
    count: usize,
    times: &'a [ShippedTime],
}

/// Counts records that carry their level under their batch's names.
fn count_records(delta: &mut Delta, records: &[Record], source: &SourceContext, now_ms: i64) {
    if records.is_empty() {
        return;
    }
    let mut levels = LevelCounts::default();
    let mut minutes: HashMap<i64, LevelCounts, IndexHash> = HashMap::default();
    for record in records {
        let level = record.level.index();
        levels[level] += 1;
        let time_ms = record.time_ms.filter(|ms| crate::time::is_writable(*ms));
        delta.untimed += u64::from(time_ms.is_none());
        minutes.entry(minute_of(time_ms.unwrap_or(now_ms))).or_default()[level] += 1;
    }
    let service = source.service.as_deref().unwrap_or(UNKNOWN_NAME);
    let component = source.component.as_deref().unwrap_or(UNKNOWN_NAME);
    delta.add_component(service, component, &levels);
    for (minute, counts) in &minutes {
        delta.add_minute(service, *minute, counts);
    }
}

/// A line a plugin called invalid, and the reason it gave.
type FirstInvalid = Option<(String, String)>;

/// Parses `count` lines joined in `text` with `spec`'s plugin into `delta`.
/// A call that fails (trap, timeout, memory cap, a wrong number of outcomes)
/// throws its instance away, and the lines are parsed again one by one on
/// fresh instances, so that only the lines the plugin fails on are counted
/// invalid.
fn parse_with(
    instances: &mut HashMap<usize, Cached>,
    spec: &Arc<ParserSpec>,
    lines: &Lines,
    job: &Job,
    delta: &mut Delta,
    first_invalid: &mut FirstInvalid,
) {
    let mut keep_first = |at: Option<(usize, &str)>, lines: &str| {
        if let (None, Some((at, reason))) = (&first_invalid, at) {
            let line = lines.split('\n').nth(at).unwrap_or_default();
            *first_invalid = Some((line.to_owned(), reason.to_owned()));
        }
    };
    let Lines { text, count, times } = *lines;
    if count == 0 {
        return;
    }
    let (parsed_before, invalid_before) = (delta.parsed, delta.invalid);
    let plugin = &spec.plugin;
    let deadline = Instant::now() + plugin.limits().batch_timeout;
    match call(instances, spec, text, count, &job.context) {
        Ok(parsed) => {
            plugin.counters().batch_done(plugin.name(), true);
            keep_first(record(delta, &parsed, times, job, &spec.fixed), text);
        }
        Err(failure) => {
            plugin.counters().batch_done(plugin.name(), false);
            warn!(plugin = plugin.name(), lines = count, error = %failure, "Plugin failed on a batch; parsing its lines one by one.");
            for (at, line) in text.split('\n').take(count).enumerate() {
                if Instant::now() >= deadline {
                    let left = (count - at) as u64;
                    warn!(
                        plugin = plugin.name(),
                        lines = left,
                        "The batch took longer than plugins.batch_timeout_ms; its remaining lines are counted invalid."
                    );
                    plugin.counters().degrade(plugin.name());
                    delta.invalid += left;
                    break;
                }
                match call_on_fresh_if_failed(instances, spec, line, &job.context) {
                    Ok(parsed) => {
                        let time = times.get(at..=at).unwrap_or_default();
                        keep_first(record(delta, &parsed, time, job, &spec.fixed), line)
                    }
                    Err(failure) => {
                        warn!(plugin = plugin.name(), line = preview(line), error = %failure, "Plugin failed on a line; counted invalid.");
                        delta.invalid += 1;
                    }
                }
            }
        }
    }
    plugin
        .counters()
        .lines_done(delta.parsed - parsed_before, delta.invalid - invalid_before);
}

/// One line's [`call`], again on a fresh instance if it failed on one that
/// had parsed lines before: what a plugin kept from earlier calls (a leak)
/// must not cost a line it parses well alone.
fn call_on_fresh_if_failed(
    instances: &mut HashMap<usize, Cached>,
    spec: &Arc<ParserSpec>,
    line: &str,
    context: &BatchContext,
) -> Result<ParsedBatch, String> {
    let used = instances.get(&spec.id).is_some_and(|cached| cached.batches > 0);
    match call(instances, spec, line, 1, context) {
        // The failed instance is gone: this call gets a new one.
        Err(_) if used => call(instances, spec, line, 1, context),
        result => result,
    }
}

/// One call of `parse-batch` on this worker's instance of `spec` (a new one
/// if it has none); the instance is kept only if the call kept the contract.
fn call(
    instances: &mut HashMap<usize, Cached>,
    spec: &Arc<ParserSpec>,
    text: &str,
    count: usize,
    context: &BatchContext,
) -> Result<ParsedBatch, String> {
    let counters = spec.plugin.counters();
    let mut cached = match instances.remove(&spec.id) {
        Some(cached) if cached.batches < BATCHES_PER_INSTANCE => cached,
        _ => Cached {
            instance: spec.plugin.instantiate(&spec.settings).map_err(|error| {
                counters.failed_call(&error);
                format!("cannot instantiate: {error}")
            })?,
            batches: 0,
            spec: Arc::downgrade(spec),
        },
    };
    match cached.instance.parse_batch(text, context) {
        Ok(parsed) => match parsed.check(count) {
            Ok(()) => {
                cached.batches += 1;
                instances.insert(spec.id, cached);
                Ok(parsed)
            }
            Err(broken) => {
                counters.wrong_outcome_counts.fetch_add(1, Ordering::Relaxed);
                Err(broken)
            }
        },
        Err(error) => {
            counters.failed_call(&error);
            Err(error.to_string())
        }
    }
}

/// The start of a line, for the log.
fn preview(line: &str) -> String {
    let end = line.char_indices().nth(80).map_or(line.len(), |(at, _)| at);
    crate::plugin::shown(&line[..end], usize::MAX)
}

/// Counts a checked batch's outcomes into `delta`, and returns the index
/// and reason of the first invalid line, if any. A line's time in `times`
/// (a shipper's) is resolved against the one the plugin read. Lines are tallied by
/// name index first (an integer hash per line), and each distinct service,
/// component and minute is added to `delta` once per batch (a batch names
/// few), rather than hashing the names of every line.
fn record<'a>(
    delta: &mut Delta,
    parsed: &'a ParsedBatch,
    times: &[ShippedTime],
    job: &Job,
    fixed: &FixedNames,
) -> Option<(usize, &'a str)> {
    let mut first_invalid = None;
    // A longer name is no name: it would be kept for good and sent by every
    // `/stats`.
    let too_long: Vec<bool> = parsed.names.iter().map(|name| name.len() > MAX_NAME_BYTES).collect();
    let too_long = |index: Option<u32>| index.is_some_and(|index| too_long[index as usize]);
    let mut components: HashMap<(Option<u32>, Option<u32>), LevelCounts, IndexHash> = HashMap::default();
    let mut minutes: HashMap<(Option<u32>, i64), LevelCounts, IndexHash> = HashMap::default();
    for (at, outcome) in parsed.outcomes.iter().enumerate() {
        match outcome {
            Outcome::Parsed(Entry { service, component, .. }) if too_long(*service) || too_long(*component) => {
                delta.invalid += 1;
                first_invalid.get_or_insert((at, NAME_TOO_LONG));
            }
            Outcome::Parsed(Entry {
                timestamp_ms,
                level,
                service,
                component,
            }) => {
                let level = Level::from(*level).index();
                components.entry((*service, *component)).or_default()[level] += 1;
                let timestamp_ms = times.get(at).map_or(*timestamp_ms, |time| time.resolve(*timestamp_ms));
                // Out of range (the year 292278994, say) is no time.
                let timestamp_ms = timestamp_ms.filter(|ms| crate::time::is_writable(*ms));
                delta.untimed += u64::from(timestamp_ms.is_none());
                let minute = minute_of(timestamp_ms.unwrap_or(job.now_ms));
                minutes.entry((*service, minute)).or_default()[level] += 1;
            }
            Outcome::Skipped => {}
            Outcome::Invalid(reason) => {
                debug!(reason = %crate::plugin::shown(reason, crate::plugin::MAX_SHOWN_BYTES), "Invalid line.");
                delta.invalid += 1;
                first_invalid.get_or_insert((at, reason.as_str()));
            }
        }
    }
    let names: Vec<_> = parsed.names.iter().map(|name| name_or_unknown(Some(name))).collect();
    let name = |index: Option<u32>| index.map_or(UNKNOWN_NAME, |index| &names[index as usize]);
    // The route's name, the file's (service_from_path), the line's, the
    // file's stem.
    let source = job.source;
    let fixed_service = fixed.service.as_deref().or(source.service.as_deref());
    let names_none = |index: Option<u32>| index.is_none_or(|index| parsed.names[index as usize].is_empty());
    let service = |index: Option<u32>| match (fixed_service, source.default_service.as_deref()) {
        (Some(service), _) => service,
        (None, Some(stem)) if names_none(index) => stem,
        (None, _) => name(index),
    };
    let fixed_component = fixed.component.as_deref().or(source.component.as_deref());
    let component = |index| fixed_component.unwrap_or_else(|| name(index));
    for ((service_index, component_index), counts) in &components {
        delta.add_component(service(*service_index), component(*component_index), counts);
    }
    for ((service_index, minute), counts) in &minutes {
        delta.add_minute(service(*service_index), *minute, counts);
    }
    first_invalid
}

/// Longest service or component name a plugin may give.
pub const MAX_NAME_BYTES: usize = 256;

const NAME_TOO_LONG: &str = "the plugin gave a service or component name longer than 256 bytes";

/// Hashes the small integer keys of [`record`]'s tallies with one multiply
/// per word (FxHash), several times cheaper than the default SipHash. A
/// batch holds at most `pipeline.batch_lines` keys, which bounds the harm
/// of crafted collisions.
type IndexHash = rustc_hash::FxBuildHasher;

/// A missing or empty name is `unknown`; NUL is replaced because storage keys
/// use it as a separator.
fn name_or_unknown(name: Option<&str>) -> std::borrow::Cow<'_, str> {
    match name {
        None | Some("") => UNKNOWN_NAME.into(),
        Some(name) if name.contains('\0') => name.replace('\0', "\u{FFFD}").into(),
        Some(name) => name.into(),
    }
}

/// The invalid lines among `lines` (their indexes, and the plugin's
/// reasons), as `parser` reads them from a source with `context`, on fresh
/// instances: for `logproc process --explain`.
pub fn invalid_lines(parser: &Parser, context: &SourceContext, lines: &[&str]) -> Vec<(usize, String)> {
    let mut invalid = Vec::new();
    let mut run = |spec: &ParserSpec, format: Option<&Arc<str>>, indexes: Vec<usize>| {
        if indexes.is_empty() {
            return;
        }
        let text = indexes.iter().map(|&at| lines[at]).collect::<Vec<_>>().join("\n");
        let context = BatchContext {
            format: format.map(|format| format.to_string()),
            reference_ms: context.reference_ms,
        };
        let parsed = spec
            .plugin
            .instantiate(&spec.settings)
            .and_then(|mut instance| instance.parse_batch(&text, &context))
            .map_err(|error| error.to_string())
            .and_then(|parsed| parsed.check(indexes.len()).map(|()| parsed));
        match parsed {
            Ok(parsed) => {
                for (outcome, at) in parsed.outcomes.into_iter().zip(indexes) {
                    if let Outcome::Invalid(reason) = outcome {
                        invalid.push((at, reason));
                    }
                }
            }
            Err(error) => invalid.push((indexes[0], format!("the plugin failed on the batch from here: {error}"))),
        }
    };
    match parser {
        Parser::Single(spec) => run(spec, context.format.as_ref(), (0..lines.len()).collect()),
        Parser::Auto { json, text } => {
            let is_json = |at: &usize| lines[*at].trim_start().starts_with('{');
            run(json, None, (0..lines.len()).filter(is_json).collect());
            run(
                text,
                context.format.as_ref(),
                (0..lines.len()).filter(|at| !is_json(at)).collect(),
            );
        }
    }
    invalid.sort_by_key(|(at, _)| *at);
    invalid
}
