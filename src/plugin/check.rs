//! `logproc plugin check`: a plugin file against the contract, and how it
//! parses sample lines, shown the way the plugin returned them.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;

use super::{BatchContext, Entry, MAX_SHOWN_BYTES, Outcome, ParsedBatch, PluginEngine, shown};
use crate::model::Level;

/// Lines per call, as the service batches them.
const BATCH_LINES: usize = 1024;

/// Checks the component in `path` with `settings` and, given `sample`
/// (a file's text), parses its lines. Returns the report; a broken contract
/// is an error that says what is wrong.
pub fn check(
    engine: &PluginEngine,
    path: &Path,
    settings: &[(String, String)],
    sample: Option<(&Path, &str)>,
) -> anyhow::Result<String> {
    // A built-in plugin is named, not given as a file: it ships inside the binary.
    let builtin = super::builtin::builtin_plugins()
        .into_iter()
        .find(|(name, _)| !path.exists() && path.as_os_str() == *name);
    let (name, bytes, source, title) = match builtin {
        Some((name, bytes)) => (
            name.to_owned(),
            bytes.to_vec(),
            super::PluginSource::Builtin,
            format!("{name} (built-in)"),
        ),
        None => {
            let bytes = std::fs::read(path).with_context(|| {
                let names: Vec<_> = super::builtin::builtin_plugins().map(|(name, _)| name).to_vec();
                format!(
                    "cannot read {} (to check a built-in plugin, name it: {})",
                    path.display(),
                    names.join(", ")
                )
            })?;
            let name = path
                .file_stem()
                .map_or("plugin".into(), |stem| stem.to_string_lossy().into_owned());
            (
                name,
                bytes,
                super::PluginSource::File(path.to_path_buf()),
                path.display().to_string(),
            )
        }
    };
    let started = Instant::now();
    let plugin = engine.compile(&name, &bytes, source)?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "plugin    {title} ({} bytes, compiled and described in {} ms)\nversion   {}\ncontract  ok: implements the world `log-parser` of wit/parser.wit",
        bytes.len(),
        started.elapsed().as_millis(),
        plugin.version(),
    );
    let mut instance = plugin.instantiate(settings)?;
    let settings_text: Vec<String> = settings.iter().map(|(key, value)| format!("{key}={value}")).collect();
    let _ = writeln!(report, "settings  accepted: {}", none_or(&settings_text.join(" ")));
    let Some((sample_path, text)) = sample else {
        return Ok(report);
    };
    let lines: Vec<&str> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let first = lines[..lines.len().min(BATCH_LINES)].join("\n");
    let format = instance.detect(&first).context("detect failed")?;
    let _ = writeln!(
        report,
        "format    {}",
        match &format {
            Some(format) => format!("{} (detected from the first lines)", shown(format, MAX_SHOWN_BYTES)),
            None => "none detected (the plugin has one, or its settings chose it)".into(),
        }
    );
    let context = BatchContext {
        format,
        reference_ms: std::fs::metadata(sample_path)
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|since| since.as_millis() as i64),
    };
    let mut outcomes = Vec::with_capacity(lines.len());
    let (mut parsed, mut invalid, mut skipped) = (0, 0, 0);
    for batch in lines.chunks(BATCH_LINES) {
        let returned = instance
            .parse_batch(&batch.join("\n"), &context)
            .context("parse-batch failed")?;
        returned
            .check(batch.len())
            .map_err(|reason| anyhow::anyhow!("parse-batch {reason}"))?;
        for outcome in &returned.outcomes {
            *match outcome {
                Outcome::Parsed(_) => &mut parsed,
                Outcome::Invalid(_) => &mut invalid,
                Outcome::Skipped => &mut skipped,
            } += 1;
            outcomes.push(describe(&returned, outcome));
        }
    }
    let _ = writeln!(
        report,
        "sample    {}: {} lines: {parsed} parsed, {invalid} invalid, {skipped} skipped\n",
        sample_path.display(),
        lines.len(),
    );
    for (number, outcome) in outcomes.iter().enumerate() {
        let _ = writeln!(report, "{:>6}  {outcome}", number + 1);
    }
    Ok(report)
}

fn none_or(text: &str) -> &str {
    if text.is_empty() { "none" } else { text }
}

/// One outcome as a line of the report.
fn describe(batch: &ParsedBatch, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Skipped => "skipped".into(),
        Outcome::Invalid(reason) => format!("invalid  {}", shown(reason, MAX_SHOWN_BYTES)),
        Outcome::Parsed(entry) => format!("parsed   {}", fields(batch, entry)),
    }
}

fn fields(batch: &ParsedBatch, entry: &Entry) -> String {
    let mut text = format!("level={}", Level::from(entry.level).name());
    let mut field = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            let _ = write!(text, " {key}={value}");
        }
    };
    field("time", entry.timestamp_ms.map(crate::time::rfc3339_millis));
    let name = |index| batch.name(index).map(|name| shown(name, MAX_SHOWN_BYTES));
    field("service", name(entry.service));
    field("component", name(entry.component));
    text
}
