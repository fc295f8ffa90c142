//! OTLP logs (`ExportLogsServiceRequest`, protobuf or the OTLP JSON
//! mapping) into a [`Shipment`]: a record's level is its severity number,
//! else its severity text; a record with neither is its body, a line for a
//! plugin.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use prost::Message as _;

use super::shipped::{Names, Shipment};
use crate::config::OtlpSettings;
use crate::model::Level;
use crate::pipeline::ShippedTime;

/// The two encodings of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// The `component_from` entry that names the instrumentation scope.
const SCOPE: &str = "scope";

/// Decodes `body` into `shipment`; the error says why it is not a request.
pub fn decode(body: &[u8], encoding: Encoding, settings: &OtlpSettings, shipment: &mut Shipment) -> Result<(), String> {
    let request = match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body)
            .map_err(|error| format!("the body is not an OTLP ExportLogsServiceRequest (protobuf): {error}"))?,
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|error| format!("the body is not an OTLP ExportLogsServiceRequest (JSON): {error}"))?,
    };
    let mut line = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = resource_logs
            .resource
            .as_ref()
            .map_or(&[][..], |resource| &resource.attributes[..]);
        let service = settings
            .service_attributes
            .iter()
            .find_map(|key| attribute(resource, key));
        for scope_logs in &resource_logs.scope_logs {
            let (scope_name, scope) = scope_logs
                .scope
                .as_ref()
                .map_or(("", &[][..]), |scope| (scope.name.as_str(), &scope.attributes[..]));
            for record in &scope_logs.log_records {
                let component = settings.component_from.iter().find_map(|from| match from.as_str() {
                    SCOPE => Some(std::borrow::Cow::Borrowed(scope_name)).filter(|name| !name.is_empty()),
                    key => [&record.attributes[..], scope, resource]
                        .into_iter()
                        .find_map(|attributes| attribute(attributes, key)),
                });
                let names = Names {
                    service: service.as_deref(),
                    component: component.as_deref(),
                };
                let time_ms = [record.time_unix_nano, record.observed_time_unix_nano]
                    .into_iter()
                    .find(|&nanos| nanos > 0)
                    .map(|nanos| (nanos / 1_000_000) as i64);
                match severity(record.severity_number, &record.severity_text) {
                    Some(level) => shipment.record(names, level, time_ms),
                    None => match record.body.as_ref().and_then(|body| body.value.as_ref()) {
                        None => shipment.record(names, Level::Unknown, time_ms),
                        Some(body) => {
                            line.clear();
                            write_body(&mut line, body);
                            let time = time_ms.map_or(ShippedTime::None, ShippedTime::Record);
                            super::records::add_line(shipment, names, &line, time);
                        }
                    },
                }
            }
        }
    }
    Ok(())
}

/// The level a record's severity gives: its number (1–24), else its text
/// through the level names every parser reads (a text none names is
/// UNKNOWN); `None` when it has neither.
fn severity(number: i32, text: &str) -> Option<Level> {
    match number {
        1..=24 => Some(logproc_levels::level_from_otel_severity(i64::from(number)).into()),
        _ if !text.trim().is_empty() => Some(logproc_levels::parse_level(text).into()),
        _ => None,
    }
}

/// The value of the attribute `key`, as text, if it has one.
fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<std::borrow::Cow<'a, str>> {
    let value = attributes
        .iter()
        .find(|pair| pair.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    let text = match value {
        Value::StringValue(text) => std::borrow::Cow::Borrowed(text.as_str()),
        Value::IntValue(number) => number.to_string().into(),
        Value::BoolValue(flag) => flag.to_string().into(),
        Value::DoubleValue(number) => number.to_string().into(),
        _ => return None,
    };
    Some(text).filter(|text| !text.is_empty())
}

/// A body as the line a plugin reads: a string as it is, anything else
/// (a map: structured logging) as JSON.
fn write_body(line: &mut Vec<u8>, body: &Value) {
    match body {
        Value::StringValue(text) => line.extend_from_slice(text.as_bytes()),
        other => {
            let json = json_of(other);
            serde_json::to_writer(line, &json).expect("a Value serializes");
        }
    }
}

fn json_of(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    let any = |value: &AnyValue| value.value.as_ref().map_or(Json::Null, json_of);
    match value {
        Value::StringValue(text) => Json::String(text.clone()),
        Value::BoolValue(flag) => Json::Bool(*flag),
        Value::IntValue(number) => Json::from(*number),
        Value::DoubleValue(number) => serde_json::Number::from_f64(*number).map_or(Json::Null, Json::Number),
        Value::ArrayValue(array) => Json::Array(array.values.iter().map(any).collect()),
        Value::KvlistValue(map) => Json::Object(
            map.values
                .iter()
                .map(|pair| (pair.key.clone(), pair.value.as_ref().map_or(Json::Null, any)))
                .collect(),
        ),
        Value::BytesValue(_) | Value::StringValueStrindex(_) => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::shipped::Group;
    use crate::pipeline::{Progress, Record, SourceContext};

    fn settings() -> OtlpSettings {
        OtlpSettings {
            service_attributes: vec!["service.name".into()],
            component_from: vec![SCOPE.into(), "code.namespace".into()],
            parser: "auto".into(),
        }
    }

    /// The specification's example (opentelemetry-proto, examples/logs.json):
    /// 64-bit integers as numbers, hex ids in capitals, every kind of value.
    const SPEC_EXAMPLE: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
      "scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},
      "logRecords":[{"timeUnixNano":1544712660300000000,"observedTimeUnixNano":1544712660300000000,"severityText":"Information",
        "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","body":{"stringValue":"Example log record"},
        "attributes":[{"key":"string.attribute","value":{"stringValue":"some string"}},{"key":"boolean.attribute","value":{"boolValue":true}},
          {"key":"int.attribute","value":{"intValue":10}},{"key":"double.attribute","value":{"doubleValue":637.704}},
          {"key":"array.attribute","value":{"arrayValue":{"values":[{"stringValue":"many"},{"stringValue":"values"}]}}},
          {"key":"map.attribute","value":{"kvlistValue":{"values":[{"key":"some.map.key","value":{"stringValue":"some value"}}]}}}]}]}]}]}"#;

    /// The group's first batch.
    fn take(group: &mut Group) -> crate::pipeline::Batch {
        let context = SourceContext::default();
        group
            .batches
            .remove(0)
            .take(&"t".into(), 0, Progress::Untracked, None, &context)
    }

    #[test]
    fn the_specifications_json_example_decodes() {
        let mut shipment = Shipment::for_tests();
        decode(SPEC_EXAMPLE.as_bytes(), Encoding::Json, &settings(), &mut shipment).unwrap();
        let groups = shipment.into_groups();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].context.service.as_deref(), Some("my.service"));
        assert_eq!(groups[0].context.component.as_deref(), Some("my.library"));
        let batch = take(&mut groups.into_iter().next().unwrap());
        assert_eq!(
            batch.records,
            [Record {
                level: Level::Info,
                time_ms: Some(1_544_712_660_300),
            }]
        );
    }

    #[test]
    fn json_mapping_variants_decode() {
        // 64-bit integers as strings, lowercase hex, unknown fields, enums
        // as integers, a map body (a line for the JSON plugin), a component
        // from code.namespace, no time.
        let body = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}],"unknownField":1},
          "scopeLogs":[{"logRecords":[
            {"timeUnixNano":"1700000000000000000","severityNumber":17,"traceId":"5b8efff798038103d269b633813fc60c","newField":{"x":1}},
            {"observedTimeUnixNano":"1700000060000000000","severityNumber":9,"body":{"stringValue":"x"}},
            {"attributes":[{"key":"code.namespace","value":{"stringValue":"db"}}],"body":{"kvlistValue":{"values":[{"key":"level","value":{"stringValue":"warn"}},{"key":"n","value":{"intValue":"3"}}]}}},
            {}
          ]}]}]}"#;
        let mut shipment = Shipment::for_tests();
        decode(body.as_bytes(), Encoding::Json, &settings(), &mut shipment).unwrap();
        let mut groups = shipment.into_groups();
        assert_eq!(groups.len(), 2);
        let first = take(&mut groups[0]);
        assert_eq!(groups[0].context.component, None);
        let levels: Vec<_> = first
            .records
            .iter()
            .map(|record| (record.level, record.time_ms))
            .collect();
        assert_eq!(
            levels,
            [
                (Level::Error, Some(1_700_000_000_000)),
                (Level::Info, Some(1_700_000_060_000)),
                (Level::Unknown, None),
            ]
        );
        let second = take(&mut groups[1]);
        assert_eq!(groups[1].context.component.as_deref(), Some("db"));
        assert_eq!(second.text, r#"{"level":"warn","n":3}"#);
        assert_eq!(second.times, [ShippedTime::None]);
    }

    #[test]
    fn protobuf_decodes_and_truncated_protobuf_is_refused() {
        let request: ExportLogsServiceRequest = serde_json::from_str(SPEC_EXAMPLE).unwrap();
        let bytes = request.encode_to_vec();
        let mut whole = Shipment::for_tests();
        decode(&bytes, Encoding::Protobuf, &settings(), &mut whole).unwrap();
        assert_eq!(whole.into_groups().len(), 1);
        let mut cut = Shipment::for_tests();
        let error = decode(&bytes[..bytes.len() - 3], Encoding::Protobuf, &settings(), &mut cut).unwrap_err();
        assert!(error.contains("not an OTLP ExportLogsServiceRequest"), "{error}");
        assert!(cut.is_empty());
    }

    #[test]
    fn severity_number_wins_then_text_then_nothing() {
        assert_eq!(severity(13, "error"), Some(Level::Warn));
        assert_eq!(severity(24, ""), Some(Level::Fatal));
        assert_eq!(severity(0, "Information"), Some(Level::Info));
        assert_eq!(severity(99, "WARNING"), Some(Level::Warn));
        assert_eq!(severity(0, "loud"), Some(Level::Unknown));
        assert_eq!(severity(0, " "), None);
    }
}
