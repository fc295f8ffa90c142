//! The lines of a `POST /ingest` body: plain lines or NDJSON, or one JSON
//! array of records (Fluent Bit's `json` format, Vector's `http` sink).
//! With `envelopes` (the `auto` parser), a JSON record that names no level
//! of its own is a shipper's envelope around a line: the line under `log`
//! (Fluent Bit's tail, Docker) or `message` (Vector) is what a parser
//! reads, under the service and component the record names, at the time
//! the record gives if the line has none. A record with a level is a
//! structured log line, read whole. Loki entries and OTLP bodies that are
//! such envelopes (Fluent Bit's and Vector's JSON lines) are read alike.

use std::borrow::Cow;
use std::fmt;

use logproc_levels::keys::{self, Field};
use serde::Deserializer as _;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::shipped::{Names, Shipment};
use crate::pipeline::ShippedTime;

/// Adds every line of `body` to `shipment`.
pub fn read(body: &[u8], shipment: &mut Shipment) {
    if let Some(records) = json_array(body) {
        for record in records {
            read_record(record.get(), shipment);
        }
        return;
    }
    // The body is complete: a last line without a newline is a line.
    let lines = body.strip_suffix(b"\n").unwrap_or(body);
    for line in lines.split(|&b| b == b'\n') {
        add_line(shipment, Names::default(), line, ShippedTime::None);
    }
}

/// Adds a line a shipper sent; if the shipment reads envelopes, an
/// envelope's line in its place, under the names the shipper gave, else
/// the envelope's, at the time the shipper gave, else the envelope's.
pub fn add_line(shipment: &mut Shipment, names: Names, line: &[u8], time: ShippedTime) {
    match (shipment.envelopes && might_wrap_a_line(line))
        .then(|| envelope(line))
        .flatten()
    {
        Some(envelope) => envelope.add_to(shipment, names, time),
        None => shipment.line(names, line, time),
    }
}

/// The records of a body that is one JSON array; `None` for any other
/// body (text lines that start with `[` among them).
fn json_array(body: &[u8]) -> Option<Vec<&RawValue>> {
    if !body.trim_ascii_start().starts_with(b"[") {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// One element of a JSON array: a string is a line; an object is an
/// envelope or a structured line; anything else is invalid.
fn read_record(record: &str, shipment: &mut Shipment) {
    match record.as_bytes()[0] {
        b'"' => match serde_json::from_str::<Cow<str>>(record) {
            Ok(line) => shipment.line(Names::default(), line.as_bytes(), ShippedTime::None),
            Err(_) => shipment.reject(),
        },
        // Its newlines are whitespace between tokens: a record is one line.
        b'{' => add_line(shipment, Names::default(), record.as_bytes(), ShippedTime::None),
        _ => shipment.reject(),
    }
}

/// Cheaply rules out lines that are no envelope (most text lines, JSON
/// lines without either key).
fn might_wrap_a_line(line: &[u8]) -> bool {
    line.trim_ascii_start().starts_with(b"{")
        && (memchr::memmem::find(line, b"\"log\"").is_some() || memchr::memmem::find(line, b"\"message\"").is_some())
}

/// What an envelope record holds.
#[derive(Debug, Default, PartialEq)]
struct Envelope<'a> {
    line: Cow<'a, str>,
    /// With the rank of the key each came from (lower wins).
    service: Option<(u8, Cow<'a, str>)>,
    component: Option<(u8, Cow<'a, str>)>,
    /// Epoch ms.
    time: Option<(u8, i64)>,
}

impl Envelope<'_> {
    /// Adds its line, under `given` names where there are, at `time` if
    /// that is a time.
    fn add_to(&self, shipment: &mut Shipment, given: Names, time: ShippedTime) {
        let names = Names {
            service: given.service.or(self.service.as_ref().map(|(_, name)| name.as_ref())),
            component: given
                .component
                .or(self.component.as_ref().map(|(_, name)| name.as_ref())),
        };
        // Docker's `log` ends with the line's newline.
        let line = self.line.trim_end_matches(['\n', '\r']);
        let time = match (time, self.time) {
            (ShippedTime::None, Some((_, ms))) => ShippedTime::Envelope(ms),
            (time, _) => time,
        };
        shipment.line(names, line.as_bytes(), time);
    }
}

/// `object` as an envelope: a JSON object with a string under `log` or
/// `message` and no level key; `None` for anything else.
fn envelope(object: &[u8]) -> Option<Envelope<'_>> {
    let mut deserializer = serde_json::Deserializer::from_slice(object);
    let envelope = deserializer.deserialize_map(EnvelopeVisitor).ok()??;
    deserializer.end().ok()?;
    Some(envelope)
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Option<Envelope<'de>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut log, mut message) = (None, None);
        let (mut service, mut component, mut time) = (None, None, None);
        fn keep<T>(slot: &mut Option<(u8, T)>, rank: u8, value: Option<T>) {
            if let Some(value) = value
                && slot.as_ref().is_none_or(|(kept, _)| rank < *kept)
            {
                *slot = Some((rank, value));
            }
        }
        let named = |text: Option<Cow<'de, str>>| text.filter(|text| !text.is_empty());
        while let Some(Text(name)) = map.next_key::<Text>()? {
            match (name.as_ref(), keys::key(&name)) {
                ("log", _) => log = map.next_value::<MaybeText>()?.0,
                ("message", _) => message = map.next_value::<MaybeText>()?.0,
                // A structured line: no need to read on.
                (_, Some(key)) if matches!(key.field, Field::Level(_)) => {
                    return Err(de::Error::custom("a record with a level is a log line"));
                }
                (_, Some(key)) if key.field == Field::Service => {
                    keep(&mut service, key.rank, named(map.next_value::<MaybeText>()?.0));
                }
                (_, Some(key)) if key.field == Field::Component => {
                    keep(&mut component, key.rank, named(map.next_value::<MaybeText>()?.0));
                }
                (_, Some(key)) if key.field == Field::Time => {
                    keep(&mut time, key.rank, map.next_value::<EnvelopeTime>()?.0);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(log.or(message).map(|line| Envelope {
            line,
            service,
            component,
            time,
        }))
    }
}

/// A string, borrowed from the body where it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Text(
            deserializer.deserialize_str(TextVisitor)?.0.expect("a key is a string"),
        ))
    }
}

/// A value that is a string, or `None` for any other value.
struct MaybeText<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for MaybeText<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = MaybeText<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(MaybeText(Some(Cow::Borrowed(text))))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(MaybeText(Some(Cow::Owned(text.to_owned()))))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(MaybeText(Some(Cow::Owned(text))))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(MaybeText(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(MaybeText(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(MaybeText(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(MaybeText(None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(MaybeText(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeText(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeText(None))
    }
}

/// An envelope's time, as logs spell times (RFC 3339, epoch numbers in
/// any unit: Fluent Bit's `date` is seconds with a fraction); `None` for
/// anything else.
struct EnvelopeTime(Option<i64>);

impl<'de> de::Deserialize<'de> for EnvelopeTime {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EnvelopeTimeVisitor)
    }
}

struct EnvelopeTimeVisitor;

impl EnvelopeTimeVisitor {
    fn parsed(text: &str) -> EnvelopeTime {
        EnvelopeTime(logproc_levels::time::parse_timestamp(text).ok())
    }
}

impl<'de> Visitor<'de> for EnvelopeTimeVisitor {
    type Value = EnvelopeTime;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Self::parsed(text))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Self::parsed(&number.to_string()))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Self::parsed(&number.to_string()))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Self::Value, E> {
        Ok(Self::parsed(&number.to_string()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(EnvelopeTime(None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(EnvelopeTime(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        TextVisitor.visit_seq(seq).map(|_| EnvelopeTime(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        TextVisitor.visit_map(map).map(|_| EnvelopeTime(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each batch's names and text.
    fn read_all(body: &str) -> Vec<(Option<String>, Option<String>, String)> {
        read_with(body, true)
    }

    fn read_with(body: &str, envelopes: bool) -> Vec<(Option<String>, Option<String>, String)> {
        let mut shipment = Shipment::for_tests();
        shipment.envelopes = envelopes;
        read(body.as_bytes(), &mut shipment);
        shipment
            .into_groups()
            .into_iter()
            .flat_map(|group| {
                let names = (
                    group.context.service.as_deref().map(str::to_owned),
                    group.context.component.as_deref().map(str::to_owned),
                );
                group
                    .batches
                    .into_iter()
                    .map(move |batch| (names.0.clone(), names.1.clone(), batch.text().to_owned()))
            })
            .collect()
    }

    #[test]
    fn envelopes_give_up_their_line_and_names() {
        fn envelope(text: &str) -> Option<Envelope<'_>> {
            super::envelope(text.as_bytes())
        }
        let found =
            envelope(r#"{"date":1735732800.5,"log":"E boom\n","service":"api","module":"db","app":"x"}"#).unwrap();
        assert_eq!(found.line, "E boom\n");
        assert_eq!(found.service, Some((0, "api".into())));
        assert_eq!(found.component, Some((1, "db".into())));
        assert_eq!(found.time, Some((5, 1_735_732_800_500)));
        let found = envelope(r#"{"timestamp":"2025-01-01T12:00:00.250Z","time":7,"message":"m"}"#).unwrap();
        assert_eq!(found.time, Some((0, 1_735_732_800_250)));
        // `log` before `message`; escapes read.
        let found = envelope(r#"{"message":"m","log":"a\"b"}"#).unwrap();
        assert_eq!(found.line, "a\"b");
        // A record with a level is a structured line, not an envelope.
        assert_eq!(envelope(r#"{"message":"m","level":"error"}"#), None);
        assert_eq!(envelope(r#"{"message":{"nested":1}}"#), None);
        assert_eq!(envelope(r#"{"msg":"m"}"#), None);
        assert_eq!(envelope(r#"{"log":"m"} trailing"#), None);
        assert_eq!(envelope(r#"["log"]"#), None);
    }

    #[test]
    fn arrays_ndjson_and_lines() {
        // Vector's http sink: an array of events; a string is a line; a
        // number is invalid.
        let body = r#"[{"message":"ERROR one","host":"h","timestamp":"2025-01-01T00:00:00Z"},
            {"message":"two","service":"api"}, "three", 4, {"level":"warn","msg":"five"}]"#;
        let groups = read_all(body);
        assert_eq!(
            groups,
            [
                (
                    None,
                    None,
                    "ERROR one\nthree\n{\"level\":\"warn\",\"msg\":\"five\"}".into()
                ),
                (Some("api".into()), None, "two".into()),
            ]
        );
        // Fluent Bit's json_lines, beside a plain line and a line of JSON.
        let body = "{\"date\":1.5,\"log\":\"WARN x\\n\"}\nplain\n{\"level\":\"info\",\"message\":\"m\"}\n";
        assert_eq!(
            read_all(body),
            [(
                None,
                None,
                "WARN x\nplain\n{\"level\":\"info\",\"message\":\"m\"}".into(),
            )]
        );
        // A parser named for the lines reads the records whole.
        let body = "[{\"message\":\"m\",\"service\":\"api\"}, \"two\"]";
        assert_eq!(
            read_with(body, false),
            [(None, None, "{\"message\":\"m\",\"service\":\"api\"}\ntwo".into())]
        );
        // Text that starts with `[` but is no JSON array is lines.
        assert_eq!(
            read_all("[error] a\n[info] b"),
            [(None, None, "[error] a\n[info] b".into())]
        );
    }
}
