//! Named line formats (issue 11's library, growing): each reads one line
//! into the fields logproc counts by, or says it is not of that format.
//! Timestamps come back as text, for the caller to read with its
//! [`TimeRules`](crate::TimeRules) (a year-less syslog date needs the file's
//! time).

use crate::Level;
use crate::level::{level_from_syslog_severity, parse_level, scan_level};

/// What a format found in a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    /// The timestamp as written, if the line has one.
    pub time: Option<&'a str>,
    pub level: Level,
    pub service: Option<&'a str>,
    pub component: Option<&'a str>,
}

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
        service: (!service.is_empty()).then_some(service),
        component: component.filter(|c| !c.is_empty()),
    })
}

/// Java and Hadoop-family layouts: a timestamp, a level word, then an
/// optional `[thread]` and a logger ending in `:` or before ` - `:
/// `2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.MRAppMaster: ...`,
/// `2015-07-29 17:41:44,747 - WARN  [Thread-1:Learner@233] - ...`,
/// `17/06/09 20:10:40 INFO executor.Backend: ...` (Spark),
/// `081109 203615 148 INFO dfs.DataNode$PacketResponder: ...` (HDFS, with a
/// thread number). Component is the logger (or the thread's `Name@line`
/// holder when no logger follows); no service (the route names it).
pub fn java(line: &str) -> Option<Fields<'_>> {
    let (time, rest) = java_time(line)?;
    let mut words = rest.split(' ').filter(|word| !word.is_empty()).peekable();
    if words.peek() == Some(&"-") {
        words.next();
    }
    if words
        .peek()
        .is_some_and(|word| word.bytes().all(|b| b.is_ascii_digit()))
    {
        words.next();
    }
    let level = parse_level(words.next()?);
    if level == Level::Unknown {
        return None;
    }
    let mut component = None;
    for word in words.take(3) {
        if word == "-" {
            break;
        }
        if let Some(thread) = word.strip_prefix('[') {
            // `[Thread-1:Learner@233]`: the part after the colon names the code.
            let thread = thread.trim_end_matches(']');
            component = thread
                .rsplit_once(':')
                .map(|(_, code)| code)
                .filter(|code| !code.is_empty());
            continue;
        }
        component = Some(word.trim_end_matches(':'));
        break;
    }
    Some(Fields {
        time: Some(time),
        level,
        service: None,
        component,
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
        let end = text.find(' ')?;
        // A date alone is no syslog time.
        return text[..end].contains(':').then(|| text.split_at(end));
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

/// The leading timestamp of a Java-family line: `yyyy-MM-dd HH:mm:ss,SSS`
/// (or `.SSS`, or `T`), `yy/MM/dd HH:mm:ss`, or `yyMMdd HHmmss`.
fn java_time(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    let end = if digits(0..4) && bytes.get(4) == Some(&b'-') && bytes.get(13) == Some(&b':') {
        let mut end = 19;
        if matches!(bytes.get(19), Some(b',' | b'.')) {
            end += 1 + bytes.get(20..)?.iter().take_while(|b| b.is_ascii_digit()).count();
        }
        end
    } else if digits(0..2) && bytes.get(2) == Some(&b'/') && bytes.get(11) == Some(&b':') {
        17
    } else if digits(0..6) && bytes.get(6) == Some(&b' ') && digits(7..13) {
        13
    } else {
        return None;
    };
    if bytes.get(end) != Some(&b' ') {
        return None;
    }
    Some(line.split_at(end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_timestamp;

    fn fields<'a>(
        time: Option<&'a str>,
        level: Level,
        service: Option<&'a str>,
        component: Option<&'a str>,
    ) -> Option<Fields<'a>> {
        Some(Fields {
            time,
            level,
            service,
            component,
        })
    }

    #[test]
    fn rfc_5424_examples() {
        // RFC 5424 section 6.5, examples 1 to 4.
        assert_eq!(
            syslog_5424(
                "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8"
            ),
            fields(Some("2003-10-11T22:14:15.003Z"), Level::Fatal, Some("su"), Some("ID47"))
        );
        let example_2 = syslog_5424(
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
        );
        assert_eq!(
            example_2,
            fields(
                Some("2003-08-24T05:14:15.000003-07:00"),
                Level::Info,
                Some("myproc"),
                None
            )
        );
        assert_eq!(parse_timestamp(example_2.unwrap().time.unwrap()), Ok(1_061_727_255_000));
        assert_eq!(
            syslog_5424(
                r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#
            ),
            fields(
                Some("2003-10-11T22:14:15.003Z"),
                Level::Info,
                Some("evntslog"),
                Some("ID47")
            )
        );
        // A nil timestamp and app.
        assert_eq!(
            syslog_5424("<11>1 - host - - - -"),
            fields(None, Level::Error, None, None)
        );
        for not_5424 in [
            "<34>Oct 11 22:14:15 mymachine su: x",
            "<999>1 - - - - - -",
            "1 2003-10-11T22:14:15Z a b c d e",
        ] {
            assert_eq!(syslog_5424(not_5424), None, "{not_5424}");
        }
    }

    #[test]
    fn rfc_3164_and_daemon_lines() {
        // RFC 3164 section 5.4's example.
        assert_eq!(
            syslog_3164("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"),
            fields(Some("Oct 11 22:14:15"), Level::Fatal, Some("su"), None)
        );
        // Linux auth.log, a sub-tag in parentheses, no PRI: level from the words.
        assert_eq!(
            syslog_3164("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0"),
            fields(Some("Jun 14 15:16:01"), Level::Unknown, Some("sshd"), Some("pam_unix"))
        );
        assert_eq!(
            syslog_3164("Dec  1 09:00:00 host kernel: [  2.3] usb 1-1: WARNING: device not accepting address"),
            fields(Some("Dec  1 09:00:00"), Level::Warn, Some("kernel"), None)
        );
        // macOS, with a PID in brackets and no colon space inside the tag.
        assert_eq!(
            syslog_3164(
                "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback"
            ),
            fields(Some("Jul  1 09:00:55"), Level::Unknown, Some("kernel"), None)
        );
        // No host; an RFC 3339 time (rsyslog's high-precision template).
        assert_eq!(
            syslog_3164("Feb  3 04:05:06 cron[42]: error: job failed"),
            fields(Some("Feb  3 04:05:06"), Level::Error, Some("cron"), None)
        );
        assert_eq!(
            syslog_3164("2025-01-01T12:00:00.123456+00:00 web01 nginx[7]: started"),
            fields(
                Some("2025-01-01T12:00:00.123456+00:00"),
                Level::Unknown,
                Some("nginx"),
                None
            )
        );
        for not_3164 in [
            "just words here",
            "Jun 14 15:16:01 combo no tag here",
            "2025-01-01 ERROR [a] b",
        ] {
            assert_eq!(syslog_3164(not_3164), None, "{not_3164}");
        }
    }

    #[test]
    fn java_family_layouts() {
        assert_eq!(
            java(
                "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster"
            ),
            fields(
                Some("2015-10-18 18:01:47,978"),
                Level::Info,
                None,
                Some("org.apache.hadoop.mapreduce.v2.app.MRAppMaster")
            )
        );
        assert_eq!(
            java(
                "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200"
            ),
            fields(
                Some("2015-07-29 17:41:44,747"),
                Level::Info,
                None,
                Some("FastLeaderElection@774")
            )
        );
        assert_eq!(
            java(
                "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]"
            ),
            fields(
                Some("17/06/09 20:10:40"),
                Level::Info,
                None,
                Some("executor.CoarseGrainedExecutorBackend")
            )
        );
        assert_eq!(
            java(
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating"
            ),
            fields(
                Some("081109 203615"),
                Level::Info,
                None,
                Some("dfs.DataNode$PacketResponder")
            )
        );
        assert_eq!(
            java("2025-01-01 12:00:00.123 SEVERE [worker-3] com.example.Billing - charge failed"),
            fields(
                Some("2025-01-01 12:00:00.123"),
                Level::Error,
                None,
                Some("com.example.Billing")
            )
        );
        for time in ["2015-10-18 18:01:47,978", "17/06/09 20:10:40", "081109 203615"] {
            assert!(parse_timestamp(time).is_ok(), "{time}");
        }
        for not_java in [
            "2025-01-01 12:00:00 hello world",
            "INFO [main] x: y",
            "2025-01-01T12:00:00Z",
        ] {
            assert_eq!(java(not_java), None, "{not_java}");
        }
    }
}
