//! Application and platform layouts: logproc's own, Java's (log4j,
//! logback, Spring Boot, Hadoop and friends), Python's `logging`, Go's
//! glog/klog, logfmt, Android logcat, Windows CBS, and container runtimes'
//! CRI lines.

use super::{Fields, quote_end};
use crate::Level;
use crate::keys::{Field, key, level_of_value};
use crate::level::{parse_level, scan_level};

/// logproc's own text layout: `2025-01-01T12:00:00.123Z ERROR
/// [payments/api] card declined`, fields separated by spaces or tabs. The
/// scan is the one-pass form of the regex plugin's default pattern.
pub fn logproc(line: &str) -> Option<Fields<'_>> {
    let bytes = line.as_bytes();
    let separator = |b: u8| b == b' ' || b == b'\t';
    let time_end = run_of(bytes, 0, &|b| !separator(b))?;
    let level_start = run_of(bytes, time_end, &separator)?;
    let level_end = run_of(bytes, level_start, &|b: u8| b.is_ascii_alphabetic())?;
    let bracket = run_of(bytes, level_end, &separator)?;
    if bytes.get(bracket) != Some(&b'[') {
        return None;
    }
    let service_start = bracket + 1;
    let service_end = run_of(bytes, service_start, &|b| !matches!(b, b']' | b'/' | b' ' | b'\t'))?;
    let component = match bytes.get(service_end) {
        Some(b']') => None,
        Some(b'/') => {
            let end = run_of(bytes, service_end + 1, &|b| !matches!(b, b']' | b' ' | b'\t'))?;
            if bytes.get(end) != Some(&b']') {
                return None;
            }
            Some(&line[service_end + 1..end])
        }
        _ => return None,
    };
    let level_text = &line[level_start..level_end];
    Some(Fields {
        time: Some(&line[..time_end]),
        level: parse_level(level_text),
        level_text: Some(level_text),
        service: Some(&line[service_start..service_end]),
        component,
    })
}

/// End of the non-empty run of `bytes` from `from` that `accept`. Generic,
/// not `&dyn Fn`: a call per byte costs more than the test in Wasm.
#[inline(always)]
fn run_of(bytes: &[u8], from: usize, accept: &impl Fn(u8) -> bool) -> Option<usize> {
    let end = from + bytes[from..].iter().take_while(|&&b| accept(b)).count();
    (end > from).then_some(end)
}

/// Java and Hadoop-family layouts: a timestamp, a level word, a `[thread]`
/// before or after it, and a logger ending in `:` or before ` - `:
/// `2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.MRAppMaster: ...`,
/// `2025-01-01 12:00:00.123 [main] INFO  com.example.App - ...` (log4j2),
/// `2025-01-01T12:00:00.123+01:00  INFO 4242 --- [main] c.e.App : ...`
/// (Spring Boot), `2015-07-29 17:41:44,747 - WARN  [Thread-1:Learner@233] - ...`
/// (ZooKeeper), `17/06/09 20:10:40 INFO executor.Backend: ...` (Spark),
/// `081109 203615 148 INFO dfs.DataNode$PacketResponder: ...` (HDFS, with a
/// thread number). Component is the logger (or the thread's `Name@line`
/// holder when no logger follows); no service (the route names it).
pub fn java(line: &str) -> Option<Fields<'_>> {
    let (time, rest) = java_time(line)?;
    let mut rest = rest.trim_start();
    rest = rest.strip_prefix("- ").map_or(rest, str::trim_start);
    let mut thread = None;
    if rest.starts_with('[') {
        let (inside, after) = bracketed(rest)?;
        thread = Some(inside);
        rest = after;
    } else if let Some((word, after)) = rest.split_once(' ')
        && !word.is_empty()
        && word.bytes().all(|b| b.is_ascii_digit())
    {
        rest = after.trim_start();
    }
    let (level_text, after) = rest.split_once(' ').unwrap_or((rest, ""));
    let level = parse_level(level_text);
    if level == Level::Unknown || level_text.len() == 1 {
        return None;
    }
    rest = after.trim_start();
    // Spring Boot's `4242 --- `.
    if let Some((pid, after)) = rest.split_once(' ')
        && pid.bytes().all(|b| b.is_ascii_digit())
        && after.trim_start().starts_with("---")
    {
        rest = after.trim_start()[3..].trim_start();
    }
    rest = rest.strip_prefix("- ").map_or(rest, str::trim_start);
    while rest.starts_with('[') {
        let (inside, after) = bracketed(rest)?;
        thread = Some(inside);
        rest = after;
    }
    let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
    let after = after.trim_start();
    let logger = if let Some(logger) = word.strip_suffix(':') {
        Some(logger)
    } else if !word.is_empty() && word != "-" && (after.starts_with("- ") || after.starts_with(": ") || after == "-") {
        Some(word)
    } else {
        None
    };
    // `[Thread-1:Learner@233]`: the part after the colon names the code.
    let code = || {
        thread?
            .rsplit_once(':')
            .map(|(_, code)| code.trim())
            .filter(|code| !code.is_empty())
    };
    Some(Fields {
        time: Some(time),
        level,
        level_text: Some(level_text),
        service: None,
        component: logger.filter(|logger| !logger.is_empty()).or_else(code),
    })
}

/// A `[...]` group at the start of `text` (brackets inside it nest), and
/// what follows it, trimmed.
fn bracketed(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0;
    for (at, byte) in text.bytes().enumerate() {
        match byte {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&text[1..at], text[at + 1..].trim_start()));
                }
            }
            _ => {}
        }
    }
    None
}

/// The leading timestamp of a Java-family line: `yyyy-MM-dd HH:mm:ss,SSS`
/// (or `.SSS`, or `T`, with an optional offset), `yy/MM/dd HH:mm:ss`, or
/// `yyMMdd HHmmss`.
fn java_time(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    let end = if digits(0..4) && bytes.get(4) == Some(&b'-') && bytes.get(13) == Some(&b':') {
        let mut end = 19;
        let fraction = bytes.get(20..)?.iter().take_while(|b| b.is_ascii_digit()).count();
        if matches!(bytes.get(19), Some(b',' | b'.')) && fraction > 0 {
            end += 1 + fraction;
        }
        match bytes.get(end) {
            Some(b'Z') => end += 1,
            Some(b'+' | b'-') => {
                end += 1 + bytes[end + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || **b == b':')
                    .count();
            }
            _ => {}
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

/// Python's `logging`: `basicConfig`'s `WARNING:root:message`, and the
/// common `%(asctime)s - %(name)s - %(levelname)s - %(message)s`. Component
/// is the logger's name.
pub fn python(line: &str) -> Option<Fields<'_>> {
    const LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
    if let Some((level_text, rest)) = line.split_once(':')
        && LEVELS.contains(&level_text)
    {
        let (name, _message) = rest.split_once(':')?;
        return Some(Fields {
            time: None,
            level: parse_level(level_text),
            level_text: Some(level_text),
            service: None,
            component: Some(name).filter(|name| !name.is_empty() && !name.contains(' ')),
        });
    }
    let (time, rest) = java_time(line)?;
    let mut parts = rest.strip_prefix(" - ")?.splitn(3, " - ");
    let name = parts.next()?;
    let level_text = parts.next()?;
    parts.next()?;
    if !LEVELS.contains(&level_text) {
        return None;
    }
    Some(Fields {
        time: Some(time),
        level: parse_level(level_text),
        level_text: Some(level_text),
        service: None,
        component: Some(name),
    })
}

/// Go's glog and Kubernetes' klog: `I1109 10:11:12.123456 12345 server.go:42] message`
/// (level letter, `MMdd` without a year, thread, file and line). Component
/// is the file.
pub fn glog(line: &str) -> Option<Fields<'_>> {
    let bytes = line.as_bytes();
    if bytes.len() < 22 || !matches!(bytes[0], b'I' | b'W' | b'E' | b'F') || bytes[5] != b' ' || bytes[8] != b':' {
        return None;
    }
    let time_end = 6 + line[6..].find(' ')?;
    let mut rest = line[time_end..].trim_start().splitn(3, ' ');
    let thread = rest.next()?;
    let source = rest.next()?.strip_suffix(']')?;
    if !thread.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let file = source.rsplit_once(':').map_or(source, |(file, _line)| file);
    Some(Fields {
        time: Some(&line[1..time_end]),
        level: parse_level(&line[..1]),
        level_text: Some(&line[..1]),
        service: None,
        component: Some(file),
    })
}

/// logfmt: `time=2025-01-01T12:00:00Z level=info msg="started" app=api`,
/// two or more `key=value` pairs from the start of the line; keys as in
/// JSON ([`crate::keys`]).
pub fn logfmt(line: &str) -> Option<Fields<'_>> {
    let mut fields = Fields {
        time: None,
        level: Level::Unknown,
        level_text: None,
        service: None,
        component: None,
    };
    let mut ranks = [u8::MAX; 4];
    let mut message = None;
    let mut pairs = 0;
    let mut rest = line;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        if name.is_empty() || name.bytes().any(|b| b == b' ' || b == b'"') {
            return None;
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quote_end(quoted)?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after
                .split_once(' ')
                .map_or((after, ""), |(value, after)| (value, after)),
        };
        pairs += 1;
        rest = after.trim_start();
        let Some(found) = key(name) else {
            continue;
        };
        let slot = match found.field {
            Field::Time => 0,
            Field::Level(_) => 1,
            Field::Service => 2,
            Field::Component => 3,
            Field::Message => {
                message.get_or_insert(value);
                continue;
            }
        };
        if found.rank >= ranks[slot] || value.is_empty() {
            continue;
        }
        ranks[slot] = found.rank;
        match found.field {
            Field::Time => fields.time = Some(value),
            Field::Level(scale) => {
                fields.level = level_of_value(scale, value);
                fields.level_text = Some(value);
            }
            Field::Service => fields.service = Some(value),
            _ => fields.component = Some(value),
        }
    }
    if pairs < 2 {
        return None;
    }
    if fields.level_text.is_none()
        && let Some(message) = message
    {
        fields.level = scan_level(message);
    }
    Some(fields)
}

/// Android logcat, `threadtime` (the default: `03-17 16:13:38.811  1702  2395 D WindowManager: ...`),
/// `time` (`03-17 16:13:38.811 D/WindowManager( 1702): ...`) and `brief`
/// (`D/WindowManager( 1702): ...`). Level the letter, component the tag.
pub fn logcat(line: &str) -> Option<Fields<'_>> {
    let bytes = line.as_bytes();
    let dated = bytes.len() > 19
        && bytes[2] == b'-'
        && bytes[5] == b' '
        && bytes[8] == b':'
        && bytes[14] == b'.'
        && bytes[..2].iter().all(u8::is_ascii_digit);
    let (time, rest) = if dated {
        let end = 15 + bytes[15..].iter().take_while(|b| b.is_ascii_digit()).count();
        (Some(&line[..end]), line[end..].trim_start())
    } else {
        (None, line)
    };
    let is_level = |letter: &str| matches!(letter, "V" | "D" | "I" | "W" | "E" | "F" | "A");
    // `L/Tag( pid): ` (brief and time).
    if let Some((letter, after)) = rest.split_once('/')
        && is_level(letter)
    {
        let (tag, after) = after.split_once('(')?;
        let (pid, _) = after.split_once("):")?;
        if !pid.trim().bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(logcat_fields(time, letter, tag.trim()));
    }
    // `pid tid L Tag: ` (threadtime).
    time?;
    let mut rest = rest;
    for _ in 0..2 {
        let (word, after) = rest.split_once(' ')?;
        if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest = after.trim_start();
    }
    let (letter, after) = rest.split_once(' ')?;
    if !is_level(letter) {
        return None;
    }
    let tag_end = after.find(':')?;
    Some(logcat_fields(time, letter, after[..tag_end].trim()))
}

fn logcat_fields<'a>(time: Option<&'a str>, letter: &'a str, tag: &'a str) -> Fields<'a> {
    Fields {
        time,
        level: parse_level(letter),
        level_text: Some(letter),
        service: None,
        component: Some(tag).filter(|tag| !tag.is_empty()),
    }
}

/// Windows CBS and CSI logs: `2016-09-28 04:30:30, Info                  CBS    message`.
/// Level the word after the comma, component the one after it.
pub fn cbs(line: &str) -> Option<Fields<'_>> {
    let bytes = line.as_bytes();
    if bytes.len() < 22 || bytes[4] != b'-' || bytes[10] != b' ' || &bytes[19..21] != b", " {
        return None;
    }
    let mut words = line[21..].split(' ').filter(|word| !word.is_empty());
    let level_text = words.next()?;
    let component = words.next()?;
    if !level_text.bytes().all(|b| b.is_ascii_alphabetic()) || !component.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(Fields {
        time: Some(&line[..19]),
        level: parse_level(level_text),
        level_text: Some(level_text),
        service: None,
        component: Some(component),
    })
}

/// A container log line as the CRI (containerd, CRI-O) writes it:
/// `2016-10-06T00:17:09.669794202Z stdout F message`. Level from the
/// message's words; component the stream.
pub fn cri(line: &str) -> Option<Fields<'_>> {
    let mut parts = line.splitn(4, ' ');
    let time = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let message = parts.next().unwrap_or("");
    let dated = time.len() >= 20 && time.as_bytes()[4] == b'-' && time.as_bytes()[10] == b'T';
    if !dated || !matches!(stream, "stdout" | "stderr") || !matches!(tag, "F" | "P") {
        return None;
    }
    Some(Fields {
        time: Some(time),
        level: scan_level(message),
        level_text: None,
        service: None,
        component: Some(stream),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::expect;
    use super::*;
    use crate::parse_timestamp;

    #[test]
    fn java_family_layouts() {
        let cases = [
            (
                "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster",
                "2015-10-18 18:01:47,978",
                Level::Info,
                Some("org.apache.hadoop.mapreduce.v2.app.MRAppMaster"),
            ),
            (
                "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
                "2015-07-29 17:41:44,747",
                Level::Info,
                Some("FastLeaderElection@774"),
            ),
            (
                "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
                "17/06/09 20:10:40",
                Level::Info,
                Some("executor.CoarseGrainedExecutorBackend"),
            ),
            (
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
                "081109 203615",
                Level::Info,
                Some("dfs.DataNode$PacketResponder"),
            ),
            (
                "2025-01-01 12:00:00.123 SEVERE [worker-3] com.example.Billing - charge failed",
                "2025-01-01 12:00:00.123",
                Level::Error,
                Some("com.example.Billing"),
            ),
            // log4j2's default PatternLayout: the thread before the level.
            (
                "2025-01-01 12:00:00.123 [main] WARN  com.example.App - low disk",
                "2025-01-01 12:00:00.123",
                Level::Warn,
                Some("com.example.App"),
            ),
            // Spring Boot's default.
            (
                "2025-01-01T12:00:00.123+01:00  ERROR 4242 --- [myapp] [           main] c.e.demo.App                : boom",
                "2025-01-01T12:00:00.123+01:00",
                Level::Error,
                Some("c.e.demo.App"),
            ),
            // A bare `LEVEL message` after the time.
            (
                "2025-01-01 12:00:00,001 DEBUG starting up",
                "2025-01-01 12:00:00,001",
                Level::Debug,
                None,
            ),
        ];
        for (line, time, level, component) in cases {
            expect(java(line), Some((Some(time), level, None, component)));
            assert!(parse_timestamp(time).is_ok(), "{time}");
        }
        for not_java in [
            "2025-01-01 12:00:00 hello world",
            "INFO [main] x: y",
            "2025-01-01T12:00:00Z",
            "2025-01-01 12:00:00 I single letters are not Java's",
        ] {
            expect(java(not_java), None);
        }
    }

    #[test]
    fn python_glog_logfmt() {
        expect(
            python("WARNING:root:disk almost full"),
            Some((None, Level::Warn, None, Some("root"))),
        );
        expect(
            python("2025-01-01 12:00:00,123 - billing.worker - ERROR - charge failed"),
            Some((
                Some("2025-01-01 12:00:00,123"),
                Level::Error,
                None,
                Some("billing.worker"),
            )),
        );
        expect(python("Start-Date: 2025-01-01  12:00:00"), None);
        // klog's documented header.
        expect(
            glog("I1109 10:11:12.123456   12345 server.go:42] Listening on :8080"),
            Some((Some("1109 10:11:12.123456"), Level::Info, None, Some("server.go"))),
        );
        expect(
            glog("E0102 03:04:05.000001 7 pkg/kubelet/kubelet.go:1700] failed"),
            Some((
                Some("0102 03:04:05.000001"),
                Level::Error,
                None,
                Some("pkg/kubelet/kubelet.go"),
            )),
        );
        expect(
            logfmt(r#"time=2025-01-01T12:00:00Z level=warn msg="disk \"low\"" app=api module=store"#),
            Some((Some("2025-01-01T12:00:00Z"), Level::Warn, Some("api"), Some("store"))),
        );
        expect(
            logfmt(r#"ts=1735732800 msg="request failed: error 500""#),
            Some((Some("1735732800"), Level::Error, None, None)),
        );
        for not_logfmt in ["just=one", "a b=c", "no pairs here", "x=\"unterminated"] {
            expect(logfmt(not_logfmt), None);
        }
    }

    #[test]
    fn logcat_cbs_cri() {
        // The logcat documentation's formats.
        expect(
            logcat("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs"),
            Some((Some("03-17 16:13:38.811"), Level::Debug, None, Some("WindowManager"))),
        );
        expect(
            logcat("12-10 13:02:50.071 E/AndroidRuntime( 1234): FATAL EXCEPTION: main"),
            Some((Some("12-10 13:02:50.071"), Level::Error, None, Some("AndroidRuntime"))),
        );
        expect(
            logcat("W/dalvikvm(  512): threadid=1: thread exiting"),
            Some((None, Level::Warn, None, Some("dalvikvm"))),
        );
        expect(logcat("03-17 16:13:38.811 hello there friend"), None);
        expect(
            cbs("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505"),
            Some((Some("2016-09-28 04:30:30"), Level::Info, None, Some("CBS"))),
        );
        expect(
            cbs("2016-09-28 04:30:31, Error                 CSI    00000001@2016/9/27:20:30:31.455 failed"),
            Some((Some("2016-09-28 04:30:31"), Level::Error, None, Some("CSI"))),
        );
        expect(
            cri("2016-10-06T00:17:09.669794202Z stderr F panic: something broke"),
            Some((
                Some("2016-10-06T00:17:09.669794202Z"),
                Level::Fatal,
                None,
                Some("stderr"),
            )),
        );
        expect(cri("2016-10-06T00:17:09.669794202Z stdout X nope"), None);
        for time in ["03-17 16:13:38.811", "1109 10:11:12.123456"] {
            assert!(
                crate::parse_timestamp_with(
                    time,
                    &crate::TimeRules {
                        reference_ms: Some(1_735_732_800_000),
                        ..Default::default()
                    }
                )
                .is_ok(),
                "{time}"
            );
        }
    }
}
