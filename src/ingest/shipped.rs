//! What a log shipper sent (OTLP, Loki), sorted into batches by the names
//! it counts under: records that carry their level go to the aggregator as
//! they are; records that carry only a line go to a plugin.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::Level;
use crate::pipeline::worker::MAX_NAME_BYTES;
use crate::pipeline::{BatchBuilder, Record, ShippedTime, SourceContext};

/// The batches of one request, by (service, component).
pub struct Shipment {
    limits: BatchLimits,
    groups: Vec<Group>,
    /// Index in `groups` by [`group_key`].
    index: HashMap<String, usize>,
    key: String,
    /// The group of the last record: most follow one of the same names.
    last: usize,
    /// Records refused before parsing (a name too long; counted invalid),
    /// with the reason of the first.
    pub refused: u64,
    pub first_refusal: Option<String>,
    /// Lines that are a shipper's JSON envelope are read for the line they
    /// wrap ([`super::records::add_line`]): for the `auto` parser, which
    /// finds that line's format; a named parser reads what was sent.
    pub envelopes: bool,
}

/// The size of batches, as the pipeline settings say.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub batch_lines: usize,
    pub batch_bytes: usize,
    pub max_line_bytes: usize,
}

/// The records of one (service, component): full batches, then the one
/// being filled.
pub struct Group {
    pub context: SourceContext,
    pub batches: Vec<BatchBuilder>,
}

/// The names a shipper gave a record, if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct Names<'a> {
    pub service: Option<&'a str>,
    pub component: Option<&'a str>,
}

impl Shipment {
    pub fn new(limits: BatchLimits) -> Shipment {
        Shipment {
            limits,
            groups: Vec::new(),
            index: HashMap::new(),
            key: String::new(),
            last: 0,
            refused: 0,
            first_refusal: None,
            envelopes: false,
        }
    }

    /// Adds a record that carries its level.
    pub fn record(&mut self, names: Names, level: Level, time_ms: Option<i64>) {
        if let Some(builder) = self.builder(names) {
            builder.push_record(Record { level, time_ms });
        }
    }

    /// Adds a record that carries only a line (its newlines are spaces: a
    /// record is one line).
    pub fn line(&mut self, names: Names, line: &[u8], time: ShippedTime) {
        let max_line_bytes = self.limits.max_line_bytes;
        let Some(builder) = self.builder(names) else {
            return;
        };
        match memchr::memchr(b'\n', line) {
            None => builder.push_shipped_line(line, time, max_line_bytes),
            Some(_) => {
                let joined: Vec<u8> = line.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
                builder.push_shipped_line(&joined, time, max_line_bytes);
            }
        }
    }

    /// Counts a record that is no log record at all as invalid.
    pub fn reject(&mut self) {
        self.group_builder(Names::default()).reject_line();
    }

    /// The groups, each with its batches.
    pub fn into_groups(self) -> Vec<Group> {
        self.groups
    }

    /// True when no record was added (refused ones included).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The batch `names`' next record goes into; `None` when a name is too
    /// long to keep: the record is refused, and counted invalid.
    fn builder(&mut self, names: Names) -> Option<&mut BatchBuilder> {
        let names = Names {
            service: names.service.filter(|name| !name.is_empty()),
            component: names.component.filter(|name| !name.is_empty()),
        };
        let too_long = [names.service, names.component]
            .into_iter()
            .flatten()
            .find(|name| name.len() > MAX_NAME_BYTES);
        let Some(name) = too_long else {
            return Some(self.group_builder(names));
        };
        self.refused += 1;
        self.first_refusal.get_or_insert_with(|| {
            format!(
                "a service or component name is longer than {MAX_NAME_BYTES} bytes (`{}…`)",
                crate::plugin::shown(&name[..name.floor_char_boundary(64)], 128)
            )
        });
        self.reject();
        None
    }

    /// The batch being filled for `names`, a new one if the last is full.
    fn group_builder(&mut self, names: Names) -> &mut BatchBuilder {
        let same_as_last = self.groups.get(self.last).is_some_and(|last| {
            last.context.service.as_deref() == names.service && last.context.component.as_deref() == names.component
        });
        let at = match same_as_last {
            true => self.last,
            false => self.group_index(names),
        };
        self.last = at;
        let limits = self.limits;
        let batches = &mut self.groups[at].batches;
        if batches
            .last()
            .is_none_or(|last| last.is_full(limits.batch_lines, limits.batch_bytes))
        {
            batches.push(BatchBuilder::default());
        }
        batches.last_mut().expect("pushed above")
    }

    /// The index of `names`' group, a new one if it has none.
    fn group_index(&mut self, names: Names) -> usize {
        group_key(&mut self.key, names);
        match self.index.get(self.key.as_str()) {
            Some(&at) => at,
            None => {
                self.groups.push(Group {
                    context: SourceContext {
                        reference_ms: Some(crate::time::now_ms()),
                        service: names.service.map(kept_name),
                        component: names.component.map(kept_name),
                        ..SourceContext::default()
                    },
                    batches: Vec::new(),
                });
                self.index.insert(self.key.clone(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        }
    }
}

#[cfg(test)]
impl Shipment {
    /// A shipment of roomy batches, for the decoders' tests.
    pub fn for_tests() -> Shipment {
        Shipment::new(BatchLimits {
            batch_lines: 1000,
            batch_bytes: 1 << 20,
            max_line_bytes: 1 << 16,
        })
    }
}

/// `service` and `component` as one string, `\u{1}` marking a missing one
/// (no name has it: names are text).
fn group_key(key: &mut String, names: Names) {
    key.clear();
    key.push_str(names.service.unwrap_or("\u{1}"));
    key.push('\0');
    key.push_str(names.component.unwrap_or("\u{1}"));
}

/// A name as storage keeps it: NUL separates names in its keys.
fn kept_name(name: &str) -> Arc<str> {
    match name.contains('\0') {
        true => name.replace('\0', "\u{FFFD}").into(),
        false => name.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BatchLimits {
        BatchLimits {
            batch_lines: 3,
            batch_bytes: 1 << 20,
            max_line_bytes: 10,
        }
    }

    #[test]
    fn records_are_grouped_by_names_in_batches_of_the_limit() {
        let mut shipment = Shipment::new(limits());
        let (a, b) = (
            Names {
                service: Some("a"),
                component: None,
            },
            Names {
                service: Some("a"),
                component: Some("db"),
            },
        );
        for _ in 0..4 {
            shipment.record(a, Level::Error, Some(1));
        }
        shipment.line(b, b"two\nlines", ShippedTime::None);
        shipment.line(b, b"far too long a line", ShippedTime::None);
        // An empty name is no name.
        shipment.record(
            Names {
                service: Some("a"),
                component: Some(""),
            },
            Level::Info,
            None,
        );
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        shipment.record(
            Names {
                service: Some(&long),
                component: None,
            },
            Level::Info,
            None,
        );
        assert_eq!(shipment.refused, 1);
        let groups = shipment.into_groups();
        assert_eq!(groups.len(), 3);
        // The refused record is an invalid line of no names.
        assert_eq!(groups[2].context.service, None);
        assert!(!groups[2].batches[0].is_empty());
        assert_eq!(groups[0].context.service.as_deref(), Some("a"));
        assert_eq!(groups[0].context.component, None);
        // 3 + 2: a full batch, then a new one.
        assert_eq!(groups[0].batches.len(), 2);
        assert!(groups[0].batches[0].is_full(3, usize::MAX));
        assert_eq!(groups[1].context.component.as_deref(), Some("db"));
        assert_eq!(groups[1].batches[0].text(), "two lines");
    }
}
