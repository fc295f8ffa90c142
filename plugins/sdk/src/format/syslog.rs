//! Syslog: RFC 5424, and RFC 3164 as most Unix daemons write it.

use super::Fields;
use crate::level::{level_from_syslog_severity, scan_level};

/// Syslog as RFC 5424 writes it (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID
/// SD MSG`): level from the PRI's severity, service the APP-NAME, component
/// the MSGID (`-` is none).
pub fn syslog_5424(line: &str) -> Option<Fields<'_>> {
    let (severity, rest) = priority(line)?;
    let rest = rest.strip_prefix("1 ")?;
    let mut parts = rest.splitn(6, ' ');
    let time = nil(parts.next()?);
    let _host = parts.next()?;
    let app = nil(parts.next()?);
    let _procid = parts.next()?;
    let msgid = nil(parts.next()?);
    // Structured data and the message may be missing.
    let _rest = parts.next();
    Some(Fields {
        time,
        level: level_from_syslog_severity(severity),
        level_text: None,
        service: app,
        component: msgid,
    })
}

/// Syslog as RFC 3164 and most Unix daemons write it: `[<PRI>]TIMESTAMP
/// [HOST] TAG[PID]: MSG`, the timestamp `Jun 14 15:16:01` (year-less) or
/// RFC 3339. Service is the tag (`sshd`), component a part in parentheses
/// after it (`sshd(pam_unix)`); level from the PRI, else from the message's
/// words ([`scan_level`]).
pub fn syslog_3164(line: &str) -> Option<Fields<'_>> {
    let (severity, rest) = match priority(line) {
        Some((severity, rest)) => (Some(severity), rest),
        None => (None, line),
    };
    let (time, rest) = syslog_time(rest)?;
    let rest = rest.strip_prefix(' ')?;
    // HOST is there unless the first word is already the tag.
    let first_end = rest.find(' ')?;
    let rest = if is_tag(&rest[..first_end]) {
        rest
    } else {
        &rest[first_end + 1..]
    };
    let tag_end = rest.find(' ').unwrap_or(rest.len());
    let tag = &rest[..tag_end];
    if !is_tag(tag) {
        return None;
    }
    let name = tag.trim_end_matches(':');
    let name = name.split_once('[').map_or(name, |(name, _)| name);
    let (service, component) = match name.split_once('(') {
        Some((service, sub)) => (service, sub.strip_suffix(')')),
        None => (name, None),
    };
    let message = rest[tag_end..].trim_start();
    let level = match severity {
        Some(severity) => level_from_syslog_severity(severity),
        None => scan_level(message),
    };
    Some(Fields {
        time: Some(time),
        level,
        level_text: None,
        service: (!service.is_empty()).then_some(service),
        component: component.filter(|c| !c.is_empty()),
    })
}

/// `<PRI>`: the severity (PRI mod 8) and the rest.
fn priority(line: &str) -> Option<(i64, &str)> {
    let rest = line.strip_prefix('<')?;
    let end = rest.find('>')?;
    let digits = &rest[..end];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pri: i64 = digits.parse().ok()?;
    (pri <= 191).then_some((pri % 8, &rest[end + 1..]))
}

fn nil(field: &str) -> Option<&str> {
    (field != "-").then_some(field)
}

/// A syslog tag: `name:`, `name[pid]:` or `name(sub)[pid]:`.
fn is_tag(word: &str) -> bool {
    let starts_with_name = word.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    starts_with_name && (word.ends_with(':') || (word.contains('[') && word.ends_with(']')))
}

/// `Jun 14 15:16:01` / `Jun  4 15:16:01.123` (year-less), or an RFC 3339
/// time; returns it and the rest.
fn syslog_time(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    if bytes.first()?.is_ascii_digit() {
        // RFC 3339: `2025-01-01T12:00:00...`, up to the space.
        let dated = bytes.len() > 19 && bytes[4] == b'-' && bytes[7] == b'-' && matches!(bytes[10], b'T' | b't');
        return dated.then(|| text.split_at(text.find(' ').unwrap_or(text.len())));
    }
    // `Mmm dd hh:mm:ss`: 15 bytes, then an optional fraction.
    if bytes.len() < 15 || bytes[3] != b' ' || bytes[9] != b':' || bytes[12] != b':' {
        return None;
    }
    let mut end = 15;
    if bytes.get(15) == Some(&b'.') {
        end += 1 + bytes[16..].iter().take_while(|b| b.is_ascii_digit()).count();
    }
    Some(text.split_at(end))
}

#[cfg(test)]
mod tests {
    use super::super::tests::expect;
    use super::*;
    use crate::{Level, parse_timestamp};

    #[test]
    fn rfc_5424_examples() {
        // RFC 5424 section 6.5, examples 1 to 4.
        expect(
            syslog_5424(
                "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8",
            ),
            Some((Some("2003-10-11T22:14:15.003Z"), Level::Fatal, Some("su"), Some("ID47"))),
        );
        let example_2 = syslog_5424(
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
        );
        expect(
            example_2,
            Some((
                Some("2003-08-24T05:14:15.000003-07:00"),
                Level::Info,
                Some("myproc"),
                None,
            )),
        );
        assert_eq!(parse_timestamp(example_2.unwrap().time.unwrap()), Ok(1_061_727_255_000));
        expect(
            syslog_5424(
                r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#,
            ),
            Some((
                Some("2003-10-11T22:14:15.003Z"),
                Level::Info,
                Some("evntslog"),
                Some("ID47"),
            )),
        );
        // A nil timestamp and app.
        expect(
            syslog_5424("<11>1 - host - - - -"),
            Some((None, Level::Error, None, None)),
        );
        for not_5424 in [
            "<34>Oct 11 22:14:15 mymachine su: x",
            "<999>1 - - - - - -",
            "1 2003-10-11T22:14:15Z a b c d e",
        ] {
            expect(syslog_5424(not_5424), None);
        }
    }

    #[test]
    fn rfc_3164_and_daemon_lines() {
        // RFC 3164 section 5.4's example.
        expect(
            syslog_3164("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"),
            Some((Some("Oct 11 22:14:15"), Level::Fatal, Some("su"), None)),
        );
        // Linux auth.log, a sub-tag in parentheses, no PRI: level from the words.
        expect(
            syslog_3164("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0"),
            Some((Some("Jun 14 15:16:01"), Level::Unknown, Some("sshd"), Some("pam_unix"))),
        );
        expect(
            syslog_3164("Dec  1 09:00:00 host kernel: [  2.3] usb 1-1: WARNING: device not accepting address"),
            Some((Some("Dec  1 09:00:00"), Level::Warn, Some("kernel"), None)),
        );
        // macOS, with a PID in brackets and no colon space inside the tag.
        expect(
            syslog_3164(
                "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback",
            ),
            Some((Some("Jul  1 09:00:55"), Level::Unknown, Some("kernel"), None)),
        );
        // No host; an RFC 3339 time (rsyslog's high-precision template).
        expect(
            syslog_3164("Feb  3 04:05:06 cron[42]: error: job failed"),
            Some((Some("Feb  3 04:05:06"), Level::Error, Some("cron"), None)),
        );
        expect(
            syslog_3164("2025-01-01T12:00:00.123456+00:00 web01 nginx[7]: started"),
            Some((
                Some("2025-01-01T12:00:00.123456+00:00"),
                Level::Unknown,
                Some("nginx"),
                None,
            )),
        );
        for not_3164 in [
            "just words here",
            "Jun 14 15:16:01 combo no tag here",
            "2025-01-01 ERROR [a] b",
        ] {
            expect(syslog_3164(not_3164), None);
        }
    }
}
