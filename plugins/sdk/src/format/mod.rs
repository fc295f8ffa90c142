//! Named line formats: each reads one line into the fields logproc counts
//! by, or says it is not of that format; [`detect`] picks the one a
//! source's first lines are in. Timestamps come back as text, for the
//! caller to read with its [`Rules`](crate::Rules) (a year-less syslog date
//! needs the file's time).

mod app;
mod syslog;
mod text;
mod web;

pub use app::{cbs, cri, glog, java, logcat, logfmt, logproc, python};
pub use syslog::{syslog_3164, syslog_5424};
pub use text::leading_time;
pub use web::{access, apache_error, level_of_status, nginx_error};

use crate::time::{TimeRules, parse_timestamp_with};
use crate::{Level, is_blank};

/// What a format found in a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    /// The timestamp as written, if the line has one.
    pub time: Option<&'a str>,
    pub level: Level,
    /// The level as written (a word, a letter, an HTTP status), which a
    /// route's own `levels` map is looked up by.
    pub level_text: Option<&'a str>,
    pub service: Option<&'a str>,
    pub component: Option<&'a str>,
}

/// The end of a quoted field (after its opening `"`) that may hold `\"`.
fn quote_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// A line format of the library.
#[derive(Debug)]
pub struct Format {
    /// What routes, sources and `?format=` call it.
    pub name: &'static str,
    /// Other names it answers to.
    pub aliases: &'static [&'static str],
    /// What writes it.
    pub about: &'static str,
    /// A line of it.
    pub example: &'static str,
    /// Reads a line, or says it is not of this format.
    pub read: fn(&str) -> Option<Fields<'_>>,
}

/// Every format, in the order [`detect`] prefers on a tie (the most
/// particular first).
pub const FORMATS: &[Format] = &[
    Format {
        name: "logproc",
        aliases: &[],
        about: "logproc's own text layout (`logproc gen --format text`)",
        example: "2025-01-01T12:00:00.123Z ERROR [payments/api] card declined",
        read: logproc,
    },
    Format {
        name: "syslog-5424",
        aliases: &["rfc5424"],
        about: "syslog, RFC 5424 (rsyslog's and syslog-ng's modern output)",
        example: "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 - An application event",
        read: syslog_5424,
    },
    Format {
        name: "syslog",
        aliases: &["syslog-3164", "rfc3164"],
        about: "syslog, RFC 3164 and /var/log/syslog, auth.log, macOS system.log: with or without `<PRI>` and host, year-less",
        example: "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
        read: syslog_3164,
    },
    Format {
        name: "access",
        aliases: &["apache-access", "nginx-access", "common", "combined"],
        about: "Apache and nginx access logs, common and combined (level from the status: 5xx ERROR, 4xx WARN, else INFO)",
        example: r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        read: access,
    },
    Format {
        name: "apache-error",
        aliases: &[],
        about: "Apache's error log, 2.2 and 2.4",
        example: "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] File does not exist",
        read: apache_error,
    },
    Format {
        name: "nginx-error",
        aliases: &[],
        about: "nginx's error log",
        example: "2011/09/09 10:42:29 [error] 35708#0: *1 open() failed (2: No such file or directory)",
        read: nginx_error,
    },
    Format {
        name: "java",
        aliases: &["log4j", "logback", "hadoop"],
        about: "log4j, logback, Spring Boot, Hadoop, Spark, ZooKeeper, HDFS, OpenStack: a time, a level word, thread and logger",
        example: "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster",
        read: java,
    },
    Format {
        name: "python",
        aliases: &[],
        about: "Python's logging: basicConfig's default, and `asctime - name - levelname - message`",
        example: "2025-01-01 12:00:00,123 - billing.worker - ERROR - charge failed",
        read: python,
    },
    Format {
        name: "glog",
        aliases: &["klog"],
        about: "Go's glog and Kubernetes' klog (year-less)",
        example: "I1109 10:11:12.123456   12345 server.go:42] Listening on :8080",
        read: glog,
    },
    Format {
        name: "logcat",
        aliases: &["android"],
        about: "Android logcat: threadtime (the default), time and brief (year-less)",
        example: "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs",
        read: logcat,
    },
    Format {
        name: "cbs",
        aliases: &["windows-cbs"],
        about: "Windows CBS and CSI servicing logs",
        example: "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505",
        read: cbs,
    },
    Format {
        name: "cri",
        aliases: &["containerd", "cri-o"],
        about: "container logs as containerd and CRI-O write them (level from the message)",
        example: "2016-10-06T00:17:09.669794202Z stderr F panic: something broke",
        read: cri,
    },
    Format {
        name: "logfmt",
        aliases: &[],
        about: "logfmt key=value pairs (keys as in JSON: level, time, app, ...)",
        example: r#"time=2025-01-01T12:00:00Z level=warn msg="disk low" app=api"#,
        read: logfmt,
    },
];

/// The fallback for lines in no format: every line counts, its time found
/// among its first words ([`leading_time`]) and its level by
/// [`scan_level`](crate::scan_level).
pub const TEXT: Format = Format {
    name: "text",
    aliases: &["auto"],
    about: "any other text: the time among the first words, the level by the earliest level word",
    example: "update-alternatives 2024-05-01 10:00:00: run with --install",
    read: |_| None,
};

/// The format called `name` (or one of its aliases), any case; `text` too.
pub fn named(name: &str) -> Option<&'static Format> {
    FORMATS.iter().chain(std::iter::once(&TEXT)).find(|format| {
        format.name.eq_ignore_ascii_case(name) || format.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// The names of every format, for messages.
pub fn names() -> String {
    let mut names: Vec<_> = FORMATS.iter().map(|format| format.name).collect();
    names.push(TEXT.name);
    names.join(", ")
}

/// Lines [`detect`] looks at, at most.
pub const SNIFF_LINES: usize = 100;

/// The format that reads the most of `lines` (the first non-blank ones, up
/// to [`SNIFF_LINES`]), times included; on a tie the earlier in
/// [`FORMATS`]; [`TEXT`] when none reads any.
pub fn detect<'a>(lines: impl IntoIterator<Item = &'a str>) -> &'static Format {
    // A line is read by a format if its time reads too (any year will do
    // for one written without: it is a check).
    let rules = TimeRules {
        // 2001-01-01T00:00:00Z.
        reference_ms: Some(978_307_200_000),
        ..TimeRules::default()
    };
    let reads = |format: &Format, line: &str| {
        (format.read)(line).is_some_and(|fields| {
            fields
                .time
                .is_none_or(|time| parse_timestamp_with(time, &rules).is_ok())
        })
    };
    let mut read = [0usize; FORMATS.len()];
    for line in lines.into_iter().filter(|line| !is_blank(line)).take(SNIFF_LINES) {
        for (count, format) in read.iter_mut().zip(FORMATS) {
            *count += usize::from(reads(format, line));
        }
    }
    // The first of the largest counts: `max_by_key` would take the last.
    let (best, count) = read.iter().enumerate().fold(
        (0, 0),
        |(best, most), (at, &count)| if count > most { (at, count) } else { (best, most) },
    );
    if count == 0 { &TEXT } else { &FORMATS[best] }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Time, level, service and component.
    type Found<'a> = (Option<&'a str>, Level, Option<&'a str>, Option<&'a str>);

    /// Checks what a format found: time, level, service and component.
    #[track_caller]
    pub fn expect(found: Option<Fields<'_>>, expected: Option<Found<'_>>) {
        let found = found.map(|fields| (fields.time, fields.level, fields.service, fields.component));
        assert_eq!(found, expected);
    }

    #[test]
    fn every_example_is_read_by_its_format_and_detected_as_it() {
        for format in FORMATS {
            assert!(
                (format.read)(format.example).is_some(),
                "{}: {}",
                format.name,
                format.example
            );
            assert_eq!(detect([format.example]).name, format.name, "{}", format.example);
            assert_eq!(named(&format.name.to_uppercase()).map(|f| f.name), Some(format.name));
        }
        assert_eq!(detect([TEXT.example]).name, "text");
        assert_eq!(named("auto").map(|f| f.name), Some("text"));
        assert!(named("nope").is_none());
    }

    #[test]
    fn the_readme_lists_every_format_with_its_example() {
        let readme = include_str!("../../../../README.md");
        for format in FORMATS.iter().chain([&TEXT]) {
            let aliases: Vec<String> = format.aliases.iter().map(|alias| format!("`{alias}`")).collect();
            let row = format!(
                "| `{}` | {} | {} | `{}` |",
                format.name,
                aliases.join(" "),
                format.about,
                format.example
            )
            .replace("|  |", "| |");
            assert!(readme.contains(&row), "README.md lacks the row\n{row}");
        }
    }

    #[test]
    fn detection_takes_the_format_most_lines_are_in() {
        let java = [
            "2015-10-18 18:01:47,978 INFO [main] org.apache.App: started",
            "java.lang.IllegalStateException: boom",
            "\tat org.apache.App.main(App.java:10)",
            "",
            "2015-10-18 18:01:48,001 ERROR [main] org.apache.App: failed",
        ];
        assert_eq!(detect(java).name, "java");
        let mixed = [
            "Jun 14 15:16:01 combo sshd[1]: a",
            "2015-10-18 18:01:47,978 INFO [main] a.B: x",
            "Jun 14 15:16:02 combo sshd[1]: b",
        ];
        assert_eq!(detect(mixed).name, "syslog");
        assert_eq!(detect(["hello", "world"]).name, "text");
        assert_eq!(detect([]).name, "text");
    }
}
