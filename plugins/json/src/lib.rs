//! logproc's default JSON parser: one JSON object per line, in the mock
//! generator's format (`timestamp` epoch ms or RFC 3339, `level`, `message`,
//! `service`, `component`, `trace_id`, ...). Fields may come in any order;
//! other fields are ignored.

use std::borrow::Cow;
use std::fmt;

use logproc_plugin_sdk::{Entry, Guest, Outcome, PluginInfo, is_blank, parse_level, parse_timestamp};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

struct JsonParser;

impl Guest for JsonParser {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "json".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
        match settings.first() {
            None => Ok(()),
            Some((key, _)) => Err(format!("the json parser takes no settings, got `{key}`")),
        }
    }

    fn parse_batch(lines: String) -> Vec<Outcome> {
        logproc_plugin_sdk::lines(&lines).map(parse_line).collect()
    }
}

logproc_plugin_sdk::export!(JsonParser);

/// The fields logproc reads; borrowed from the line unless they hold escapes.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(default)]
    timestamp: Option<Timestamp>,
    #[serde(default, borrow)]
    level: Text<'a>,
    #[serde(default, borrow)]
    service: Text<'a>,
    #[serde(default, borrow)]
    component: Text<'a>,
    #[serde(default, borrow)]
    message: Text<'a>,
    #[serde(default, borrow)]
    trace_id: Text<'a>,
}

fn parse_line(line: &str) -> Outcome {
    if is_blank(line) {
        return Outcome::Skipped;
    }
    if !line.trim_start().starts_with('{') {
        return Outcome::Invalid("not a JSON object".into());
    }
    match serde_json::from_str::<Line>(line) {
        Ok(fields) => Outcome::Parsed(Entry {
            timestamp_ms: fields.timestamp.map(|t| t.0),
            level: fields
                .level
                .0
                .as_deref()
                .map_or(logproc_plugin_sdk::Level::Unknown, parse_level),
            service: fields.service.into_string(),
            component: fields.component.into_string(),
            message: fields.message.into_string(),
            trace_id: fields.trace_id.into_string(),
        }),
        Err(error) => Outcome::Invalid(format!("invalid JSON: {error}")),
    }
}

/// A string field; a value of another type counts as absent.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl Text<'_> {
    fn into_string(self) -> Option<String> {
        self.0.map(Cow::into_owned)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

/// `timestamp`: epoch milliseconds as a number or string, or RFC 3339.
struct Timestamp(i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;
        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("epoch milliseconds or an RFC 3339 string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("timestamp out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if v.is_finite() && v.abs() < 9.2e18 {
                    Ok(Timestamp(v as i64))
                } else {
                    Err(E::custom("timestamp out of range"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_timestamp(v).map(Timestamp).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(TimestampVisitor)
    }
}
