//! Web servers: access logs (Apache's and nginx's common and combined
//! formats) and the Apache and nginx error logs.

use super::{Fields, quote_end};
use crate::Level;
use crate::level::parse_level;

/// `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`,
/// with or without combined's referer and user agent after it, or a virtual
/// host before it. Level from the status: 5xx ERROR, 4xx WARN, else INFO
/// (a route's `levels` may map a status, `404`, or a class, `4xx`).
pub fn access(line: &str) -> Option<Fields<'_>> {
    let open = line.find(" [")?;
    let clients = line[..open].split(' ').count();
    if !(3..=4).contains(&clients) || line[..open].contains("  ") {
        return None;
    }
    let rest = &line[open + 2..];
    let close = rest.find("] \"")?;
    let time = &rest[..close];
    let rest = &rest[close + 3..];
    let request_end = quote_end(rest)?;
    let rest = rest[request_end + 1..].strip_prefix(' ')?;
    let status = rest.get(..3)?;
    if !status.bytes().all(|b| b.is_ascii_digit()) || !matches!(rest.as_bytes().get(3), None | Some(b' ')) {
        return None;
    }
    Some(Fields {
        time: Some(time),
        level: level_of_status(status),
        level_text: Some(status),
        service: None,
        component: None,
    })
}

/// The default level of an HTTP status.
pub fn level_of_status(status: &str) -> Level {
    match status.as_bytes().first() {
        Some(b'5') => Level::Error,
        Some(b'4') => Level::Warn,
        _ => Level::Info,
    }
}

/// Apache's error log: `[Sun Dec 04 04:47:44 2005] [notice] message` (2.2)
/// or `[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708] message`
/// (2.4, component the module).
pub fn apache_error(line: &str) -> Option<Fields<'_>> {
    let rest = line.strip_prefix('[')?;
    let close = rest.find("] [")?;
    let time = &rest[..close];
    // A ctime date: starts with a weekday name.
    if !time.as_bytes().first()?.is_ascii_alphabetic() {
        return None;
    }
    let rest = &rest[close + 3..];
    let level_end = rest.find(']')?;
    let (component, word) = match rest[..level_end].split_once(':') {
        Some((module, word)) => (Some(module), word),
        None => (None, &rest[..level_end]),
    };
    let level = apache_level(word)?;
    Some(Fields {
        time: Some(time),
        level,
        level_text: Some(word),
        service: None,
        component,
    })
}

/// nginx's error log: `2011/09/09 10:42:29 [error] 35708#0: *1 message`.
pub fn nginx_error(line: &str) -> Option<Fields<'_>> {
    let bytes = line.as_bytes();
    if bytes.len() < 22 || bytes[4] != b'/' || bytes[7] != b'/' || bytes[13] != b':' || &bytes[19..21] != b" [" {
        return None;
    }
    let rest = &line[21..];
    let level_end = rest.find("] ")?;
    let word = &rest[..level_end];
    let level = apache_level(word)?;
    // The process and thread: `35708#0:`.
    let after = &rest[level_end + 2..];
    let pid = after.split(' ').next()?;
    if !pid.ends_with(':') || !pid.contains('#') {
        return None;
    }
    Some(Fields {
        time: Some(&line[..19]),
        level,
        level_text: Some(word),
        service: None,
        component: None,
    })
}

/// Apache's and nginx's level names (`trace1` to `trace8` are TRACE).
fn apache_level(word: &str) -> Option<Level> {
    let name = match word.strip_prefix("trace") {
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => "trace",
        _ => word,
    };
    Some(parse_level(name)).filter(|level| *level != Level::Unknown)
}

#[cfg(test)]
mod tests {
    use super::super::tests::expect;
    use super::*;
    use crate::parse_timestamp;

    #[test]
    fn access_logs_as_documented() {
        // Apache's documentation, Common Log Format.
        let common = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;
        expect(
            access(common),
            Some((Some("10/Oct/2000:13:55:36 -0700"), Level::Info, None, None)),
        );
        assert_eq!(parse_timestamp("10/Oct/2000:13:55:36 -0700"), Ok(971_211_336_000));
        // Combined (Apache's and nginx's default), a quote escaped in the request.
        let combined = r#"203.0.113.9 - - [02/Jan/2025:03:04:05 +0000] "GET /a\"b HTTP/1.1" 404 153 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;
        expect(
            access(combined),
            Some((Some("02/Jan/2025:03:04:05 +0000"), Level::Warn, None, None)),
        );
        let vhost = r#"example.com:443 198.51.100.4 - - [02/Jan/2025:03:04:05 +0000] "POST /api HTTP/2.0" 503 0 "-" "curl/8.0""#;
        expect(
            access(vhost),
            Some((Some("02/Jan/2025:03:04:05 +0000"), Level::Error, None, None)),
        );
        assert_eq!(access(vhost).unwrap().level_text, Some("503"));
        for not_access in [
            r#"[10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1"#,
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" OK 1"#,
            "127.0.0.1 - - [x] no request",
        ] {
            expect(access(not_access), None);
        }
    }

    #[test]
    fn error_logs_of_apache_and_nginx() {
        expect(
            apache_error("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties"),
            Some((Some("Sun Dec 04 04:47:44 2005"), Level::Info, None, None)),
        );
        // Apache 2.4's documented example.
        expect(
            apache_error(
                "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico",
            ),
            Some((
                Some("Fri Sep 09 10:42:29.902022 2011"),
                Level::Error,
                None,
                Some("core"),
            )),
        );
        expect(
            apache_error("[Fri Sep 09 10:42:29 2011] [ssl:trace3] [pid 1] handshake"),
            Some((Some("Fri Sep 09 10:42:29 2011"), Level::Trace, None, Some("ssl"))),
        );
        expect(
            nginx_error(
                "2011/09/09 10:42:29 [error] 35708#0: *1 open() \"/usr/share/nginx/html/favicon.ico\" failed (2: No such file or directory)",
            ),
            Some((Some("2011/09/09 10:42:29"), Level::Error, None, None)),
        );
        expect(
            nginx_error("2025/01/02 03:04:05 [notice] 1#1: start worker processes"),
            Some((Some("2025/01/02 03:04:05"), Level::Info, None, None)),
        );
        assert_eq!(parse_timestamp("2011/09/09 10:42:29"), Ok(1_315_564_949_000));
        for not_error_log in [
            "[Sun Dec 04 04:47:44 2005] [bogus] x",
            "2011/09/09 10:42:29 [error] no pid",
        ] {
            expect(apache_error(not_error_log), None);
            expect(nginx_error(not_error_log), None);
        }
    }
}
