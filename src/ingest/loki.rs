//! Loki's push API (`PushRequest`: protobuf in raw snappy, as Promtail and
//! Alloy send it, or JSON) into a [`Shipment`]. Names come from the
//! stream's labels; an entry's level from a label, else its structured
//! metadata, else its line, which a plugin reads.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, SeqAccess, Visitor};

use super::shipped::{Names, Shipment};
use crate::config::LokiSettings;
use crate::model::Level;
use crate::pipeline::ShippedTime;

/// `logproto.PushRequest`, as Loki's `push.proto` has it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    /// `{name="value", ...}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    /// Bytes rather than a string: a line that is not UTF-8 is one
    /// invalid line, not a request refused.
    #[prost(bytes = "vec", tag = "2")]
    pub line: Vec<u8>,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// The two bodies of Loki's push API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Protobuf, compressed with raw (block) snappy.
    SnappyProtobuf,
    Json,
}

/// Decodes `body` into `shipment`, refusing a body that decompresses to
/// more than `max_bytes`. The error says why the body is not a push request
/// and whether it was too large.
pub fn decode(
    body: &[u8],
    encoding: Encoding,
    max_bytes: usize,
    settings: &LokiSettings,
    shipment: &mut Shipment,
) -> Result<(), Refused> {
    match encoding {
        Encoding::SnappyProtobuf => {
            let length = snap::raw::decompress_len(body).map_err(|error| {
                Refused::Invalid(format!("the body is not snappy-compressed (raw block format): {error}"))
            })?;
            if length > max_bytes {
                return Err(Refused::TooLarge(length));
            }
            let raw = snap::raw::Decoder::new()
                .decompress_vec(body)
                .map_err(|error| Refused::Invalid(format!("the body is not valid snappy data: {error}")))?;
            let request = <PushRequest as prost::Message>::decode(&raw[..])
                .map_err(|error| Refused::Invalid(format!("the body is not a Loki PushRequest (protobuf): {error}")))?;
            for stream in &request.streams {
                let labels = parse_labels(&stream.labels);
                let stream_names = StreamNames::new(&labels, settings);
                for entry in &stream.entries {
                    let time_ms = entry
                        .timestamp
                        .map(|time| time.seconds.saturating_mul(1000) + i64::from(time.nanos) / 1_000_000);
                    let metadata = || entry.structured_metadata.iter().map(|pair| (&*pair.name, &*pair.value));
                    stream_names.add(shipment, &entry.line, time_ms, metadata, settings);
                }
            }
        }
        Encoding::Json => {
            let request: JsonPush = serde_json::from_slice(body)
                .map_err(|error| Refused::Invalid(format!("the body is not a Loki push request (JSON): {error}")))?;
            for stream in &request.streams {
                let labels: Vec<(Cow<str>, Cow<str>)> = stream
                    .stream
                    .iter()
                    .map(|(name, value)| (Cow::Borrowed(name.as_str()), text_of(value)))
                    .collect();
                let stream_names = StreamNames::new(&labels, settings);
                for entry in &stream.values {
                    let metadata = || {
                        entry
                            .metadata
                            .iter()
                            .map(|(name, value)| (name.as_str(), value.as_str()))
                    };
                    stream_names.add(shipment, entry.line.as_bytes(), Some(entry.time_ms), metadata, settings);
                }
            }
        }
    }
    Ok(())
}

/// Why a body is refused.
#[derive(Debug)]
pub enum Refused {
    Invalid(String),
    /// It decompresses to this many bytes, more than allowed.
    TooLarge(usize),
}

/// What a stream's labels say of all its entries.
struct StreamNames<'a> {
    names: Names<'a>,
    /// The level label's.
    level: Option<Level>,
}

impl<'a> StreamNames<'a> {
    fn new(labels: &'a [(Cow<'a, str>, Cow<'a, str>)], settings: &LokiSettings) -> StreamNames<'a> {
        let label = |wanted: &[String]| {
            wanted.iter().find_map(|wanted| {
                labels
                    .iter()
                    .find(|(name, value)| name == wanted && !value.is_empty())
                    .map(|(_, value)| value.as_ref())
            })
        };
        StreamNames {
            names: Names {
                service: label(&settings.service_labels),
                component: label(&settings.component_labels),
            },
            level: level_of(
                labels.iter().map(|(name, value)| (name.as_ref(), value.as_ref())),
                settings,
            ),
        }
    }

    fn add<'m, M: Iterator<Item = (&'m str, &'m str)> + Clone>(
        &self,
        shipment: &mut Shipment,
        line: &[u8],
        time_ms: Option<i64>,
        metadata: impl Fn() -> M,
        settings: &LokiSettings,
    ) {
        match self.level.or_else(|| level_of(metadata(), settings)) {
            Some(level) => shipment.record(self.names, level, time_ms),
            None => {
                let time = time_ms.map_or(ShippedTime::None, ShippedTime::Record);
                super::records::add_line(shipment, self.names, line, time);
            }
        }
    }
}

/// The level the first of `settings.level_labels` among `pairs` names; a
/// value that names no level (`unknown`) is no level: the line decides.
fn level_of<'p>(pairs: impl Iterator<Item = (&'p str, &'p str)> + Clone, settings: &LokiSettings) -> Option<Level> {
    settings.level_labels.iter().find_map(|wanted| {
        let (_, value) = pairs.clone().find(|(name, _)| name == wanted)?;
        Some(Level::from(logproc_levels::parse_level(value))).filter(|level| *level != Level::Unknown)
    })
}

/// A label set, `{name="value", ...}`, read tolerantly: a quote inside a
/// value that was not escaped (Vector does not escape them) is part of the
/// value unless what follows it ends the value (`,` and the next `name=`,
/// or the closing brace); an unquoted value runs to the next comma.
pub fn parse_labels(text: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let text = text.trim();
    let text = text.strip_prefix('{').unwrap_or(text);
    let text = text.strip_suffix('}').unwrap_or(text);
    let mut labels = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(equals) = rest.find('=') else {
            return labels;
        };
        let name = rest[..equals].trim();
        rest = rest[equals + 1..].trim_start();
        let value;
        (value, rest) = match rest.strip_prefix('"') {
            Some(quoted) => quoted_value(quoted),
            None => {
                let end = rest.find(',').unwrap_or(rest.len());
                (Cow::Borrowed(rest[..end].trim()), &rest[end..])
            }
        };
        if !name.is_empty() {
            labels.push((Cow::Borrowed(name), value));
        }
    }
}

/// A quoted value (its opening quote taken) and what follows its closing
/// quote; `\"`, `\\` and `\n` are unescaped.
fn quoted_value(text: &str) -> (Cow<'_, str>, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, escaped)) => value.push(escaped),
                None => value.push('\\'),
            },
            '"' if ends_value(&text[at + 1..]) => return (value.into(), &text[at + 1..]),
            c => value.push(c),
        }
    }
    (value.into(), "")
}

/// Whether a quote followed by `after` closes a value: nothing but spaces
/// follows, or a comma and the next label's `name=`.
fn ends_value(after: &str) -> bool {
    let after = after.trim_start();
    let Some(next) = after.strip_prefix(',') else {
        return after.is_empty();
    };
    let next = next.trim_start();
    let name_end = next
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(next.len());
    next.is_empty() || (name_end > 0 && next[name_end..].trim_start().starts_with('='))
}

/// A JSON label value as text (Fluent Bit sends strings; numbers happen).
fn text_of(value: &serde_json::Value) -> Cow<'_, str> {
    match value {
        serde_json::Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(other.to_string()),
    }
}

/// `{"streams": [{"stream": {labels}, "values": [[ns, line, {metadata}?], ...]}]}`.
#[derive(Deserialize)]
struct JsonPush {
    streams: Vec<JsonStream>,
}

#[derive(Deserialize)]
struct JsonStream {
    #[serde(default)]
    stream: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    values: Vec<JsonEntry>,
}

struct JsonEntry {
    time_ms: i64,
    line: String,
    metadata: Vec<(String, String)>,
}

impl<'de> Deserialize<'de> for JsonEntry {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<JsonEntry, D::Error> {
        deserializer.deserialize_seq(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = JsonEntry;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an entry [\"<unix epoch in nanoseconds>\", \"<line>\", {structured metadata}]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonEntry, A::Error> {
        let time: NanosText = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let line: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let metadata: Option<std::collections::BTreeMap<String, serde_json::Value>> = seq.next_element()?;
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        let nanos = time.0;
        Ok(JsonEntry {
            time_ms: nanos.div_euclid(1_000_000),
            line,
            metadata: metadata
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| {
                    let value = text_of(&value).into_owned();
                    (name, value)
                })
                .collect(),
        })
    }
}

/// Nanoseconds since the epoch, as a string of digits (Loki's) or a number.
struct NanosText(i64);

impl<'de> Deserialize<'de> for NanosText {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<NanosText, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Number(i64),
            Text(Cow<'a, str>),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(nanos) => Ok(NanosText(nanos)),
            Either::Text(text) => text
                .trim()
                .parse()
                .map(NanosText)
                .map_err(|_| de::Error::custom(format!("`{text}` is not a time in nanoseconds"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LokiSettings {
        LokiSettings {
            service_labels: ["service_name", "service", "app", "application", "job"]
                .map(String::from)
                .to_vec(),
            component_labels: vec!["component".into()],
            level_labels: vec!["level".into(), "detected_level".into(), "severity".into()],
            parser: "auto".into(),
        }
    }

    fn labels(text: &str) -> Vec<(String, String)> {
        parse_labels(text)
            .into_iter()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn labels_are_read_escaped_or_not() {
        assert_eq!(
            labels(r#"{app="shop", level="error"}"#),
            pairs(&[("app", "shop"), ("level", "error")])
        );
        assert_eq!(
            labels(r#"{a="say \"hi\"\\", b="x\ny"}"#),
            pairs(&[("a", r#"say "hi"\"#), ("b", "x\ny")])
        );
        // Vector's: quotes not escaped.
        assert_eq!(
            labels(r#"{msg="say "hi", there", app="x"}"#),
            pairs(&[("msg", r#"say "hi", there"#), ("app", "x")])
        );
        assert_eq!(labels(r#"{a=b, c = "d"}"#), pairs(&[("a", "b"), ("c", "d")]));
        assert_eq!(labels("{}"), pairs(&[]));
        assert_eq!(labels(r#"{a="unterminated"#), pairs(&[("a", "unterminated")]));
    }

    #[test]
    fn protobuf_in_snappy_and_json_decode_alike() {
        let request = PushRequest {
            streams: vec![
                StreamAdapter {
                    labels: r#"{service_name="shop", job="ignored", level="warn"}"#.into(),
                    entries: vec![EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: 1_700_000_000,
                            nanos: 5_000_000,
                        }),
                        line: b"anything".to_vec(),
                        structured_metadata: vec![],
                    }],
                    hash: 0,
                },
                StreamAdapter {
                    labels: r#"{app="cart", component="db"}"#.into(),
                    entries: vec![
                        EntryAdapter {
                            timestamp: None,
                            line: b"no level here".to_vec(),
                            structured_metadata: vec![LabelPairAdapter {
                                name: "detected_level".into(),
                                value: "ERROR".into(),
                            }],
                        },
                        EntryAdapter {
                            timestamp: None,
                            line: b"a line".to_vec(),
                            structured_metadata: vec![],
                        },
                    ],
                    hash: 0,
                },
            ],
        };
        let raw = prost::Message::encode_to_vec(&request);
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let mut shipment = Shipment::for_tests();
        decode(&body, Encoding::SnappyProtobuf, 1 << 20, &settings(), &mut shipment).unwrap();
        let json = r#"{"streams":[{"stream":{"service_name":"shop","job":"ignored","level":"warn"},"values":[["1700000000005000000","anything"]]},
            {"stream":{"app":"cart","component":"db"},"values":[[0,"no level here",{"detected_level":"ERROR"}],["0","a line"]]}]}"#;
        let mut from_json = Shipment::for_tests();
        decode(json.as_bytes(), Encoding::Json, 1 << 20, &settings(), &mut from_json).unwrap();
        for shipment in [shipment, from_json] {
            let groups = shipment.into_groups();
            let seen: Vec<_> = groups
                .into_iter()
                .map(|mut group| {
                    let context = group.context.clone();
                    let batch = group.batches.remove(0).take(
                        &"t".into(),
                        0,
                        crate::pipeline::Progress::Untracked,
                        None,
                        &context,
                    );
                    let levels: Vec<_> = batch.records.iter().map(|record| record.level).collect();
                    (
                        context.service.as_deref().map(str::to_owned),
                        context.component.as_deref().map(str::to_owned),
                        levels,
                        batch.text,
                    )
                })
                .collect();
            assert_eq!(
                seen,
                [
                    (Some("shop".into()), None, vec![Level::Warn], String::new()),
                    (
                        Some("cart".into()),
                        Some("db".into()),
                        vec![Level::Error],
                        "a line".into()
                    ),
                ]
            );
        }
    }

    #[test]
    fn bad_and_oversized_bodies_are_refused() {
        let mut shipment = Shipment::for_tests();
        assert!(matches!(
            decode(
                b"not snappy",
                Encoding::SnappyProtobuf,
                1 << 20,
                &settings(),
                &mut shipment
            ),
            Err(Refused::Invalid(_))
        ));
        let big = snap::raw::Encoder::new().compress_vec(&vec![0u8; 2000]).unwrap();
        assert!(matches!(
            decode(&big, Encoding::SnappyProtobuf, 1000, &settings(), &mut shipment),
            Err(Refused::TooLarge(2000))
        ));
        assert!(matches!(
            decode(
                br#"{"streams":[{"values":[["x","y"]]}]}"#,
                Encoding::Json,
                1 << 20,
                &settings(),
                &mut shipment
            ),
            Err(Refused::Invalid(_))
        ));
        assert!(shipment.is_empty());
    }
}
