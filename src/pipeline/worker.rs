//! A worker: takes batches, runs them through its own plugin instances, and
//! hands a [`Delta`] per batch to the aggregator. Workers never touch storage.

use std::collections::HashMap;

use tracing::{debug, warn};

use super::Done;
use super::batch::Batch;
use super::route::{Parser, ParserSpec};
use crate::model::{Delta, Level, UNKNOWN_NAME};
use crate::plugin::{Entry, Outcome, PluginInstance};

/// An instance is replaced after this many batches: a Store frees nothing,
/// so a plugin that leaks would otherwise grow until its memory cap.
const BATCHES_PER_INSTANCE: u32 = 10_000;

struct Cached {
    instance: PluginInstance,
    batches: u32,
}

/// Runs until the batch channel is closed and drained.
pub fn run_worker(batches: async_channel::Receiver<Batch>, done: async_channel::Sender<Done>) {
    let mut instances: HashMap<usize, Cached> = HashMap::new();
    while let Ok(batch) = batches.recv_blocking() {
        let delta = parse(&mut instances, &batch);
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

fn parse(instances: &mut HashMap<usize, Cached>, batch: &Batch) -> Delta {
    let mut delta = Delta {
        invalid: batch.rejected,
        ..Delta::default()
    };
    let now_ms = crate::time::now_ms();
    match &batch.parser {
        None => {}
        Some(Parser::Single(spec)) => parse_with(instances, spec, &batch.text, batch.lines, now_ms, &mut delta),
        Some(Parser::Auto { json, text }) => {
            let (mut json_lines, mut text_lines) = (String::new(), String::new());
            let (mut json_count, mut text_count) = (0, 0);
            for line in batch.text.split('\n').take(batch.lines) {
                let (into, count) = if line.trim_start().starts_with('{') {
                    (&mut json_lines, &mut json_count)
                } else {
                    (&mut text_lines, &mut text_count)
                };
                if *count > 0 {
                    into.push('\n');
                }
                into.push_str(line);
                *count += 1;
            }
            parse_with(instances, json, &json_lines, json_count, now_ms, &mut delta);
            parse_with(instances, text, &text_lines, text_count, now_ms, &mut delta);
        }
    }
    delta
}

/// Parses `count` lines joined in `text` with `spec`'s plugin into `delta`.
/// A failing plugin fails these lines only: they are counted invalid, and the
/// instance is thrown away.
fn parse_with(
    instances: &mut HashMap<usize, Cached>,
    spec: &ParserSpec,
    text: &str,
    count: usize,
    now_ms: i64,
    delta: &mut Delta,
) {
    if count == 0 {
        return;
    }
    let cached = match instances.remove(&spec.id) {
        Some(cached) if cached.batches < BATCHES_PER_INSTANCE => Some(cached),
        _ => match spec.plugin.instantiate(&spec.settings) {
            Ok(instance) => Some(Cached { instance, batches: 0 }),
            Err(error) => {
                warn!(plugin = spec.plugin.name(), error = %error, lines = count, "Cannot instantiate plugin; lines counted invalid.");
                None
            }
        },
    };
    let Some(mut cached) = cached else {
        delta.invalid += count as u64;
        return;
    };
    match cached.instance.parse_batch(text) {
        Ok(outcomes) if outcomes.len() == count => {
            cached.batches += 1;
            instances.insert(spec.id, cached);
            for outcome in outcomes {
                record(delta, outcome, now_ms);
            }
        }
        Ok(outcomes) => {
            warn!(
                plugin = spec.plugin.name(),
                lines = count,
                results = outcomes.len(),
                "Plugin broke the contract (one result per line); batch counted invalid."
            );
            delta.invalid += count as u64;
        }
        Err(error) => {
            warn!(plugin = spec.plugin.name(), error = %error, lines = count, "Plugin call failed; batch counted invalid.");
            delta.invalid += count as u64;
        }
    }
}

fn record(delta: &mut Delta, outcome: Outcome, now_ms: i64) {
    match outcome {
        Outcome::Parsed(Entry {
            timestamp_ms,
            level,
            service,
            component,
            ..
        }) => {
            let service = name_or_unknown(service.as_deref());
            let component = name_or_unknown(component.as_deref());
            delta.record(&service, &component, Level::from(level), timestamp_ms.unwrap_or(now_ms));
        }
        Outcome::Skipped => {}
        Outcome::Invalid(reason) => {
            debug!(%reason, "Invalid line.");
            delta.invalid += 1;
        }
    }
}

/// A missing or empty name is `unknown`; NUL is replaced because storage keys
/// use it as a separator.
fn name_or_unknown(name: Option<&str>) -> std::borrow::Cow<'_, str> {
    match name {
        None | Some("") => UNKNOWN_NAME.into(),
        Some(name) if name.contains('\0') => name.replace('\0', "\u{FFFD}").into(),
        Some(name) => name.into(),
    }
}
