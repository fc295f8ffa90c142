//! Free text: a line in no known format still has a time and a level to
//! find, near its start.

/// How many words from the start of a line may begin its timestamp.
const LEADING_WORDS: usize = 6;
/// How many words a timestamp may span (`Sun Dec 04 04:47:44 2005`).
const TIME_WORDS: usize = 5;

/// The timestamp at or near the start of a line of free text: the longest
/// run of up to five words, starting in the first six, that reads as one
/// (brackets and trailing `:` `,` `|` around it dropped; words split at
/// spaces and `|`). An epoch number counts only as 10, 13, 16 or 19 digits,
/// so that a process id is no time. `read` reads a timestamp.
pub fn leading_time(line: &str, read: impl Fn(&str) -> Option<i64>) -> Option<i64> {
    let head = &line[..floor_char_boundary(line, 160)];
    let mut words = Vec::with_capacity(LEADING_WORDS + TIME_WORDS);
    let mut at = 0;
    for piece in head.split([' ', '\t', '|']) {
        if !piece.is_empty() {
            words.push((at, at + piece.len()));
            if words.len() == LEADING_WORDS + TIME_WORDS {
                break;
            }
        }
        at += piece.len() + 1;
    }
    for start in 0..words.len().min(LEADING_WORDS) {
        let first = head[words[start].0..].trim_start_matches(['[', '(']);
        let starts_well = first
            .as_bytes()
            .first()
            .is_some_and(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if !starts_well {
            continue;
        }
        for len in (1..=TIME_WORDS.min(words.len() - start)).rev() {
            let text = head[words[start].0..words[start + len - 1].1]
                .trim_start_matches(['[', '('])
                .trim_end_matches([']', ')', ':', ',', ';']);
            if text.len() < 6 {
                continue;
            }
            if text.bytes().all(|b| b.is_ascii_digit()) && !matches!(text.len(), 10 | 13 | 16 | 19) {
                continue;
            }
            if let Some(ms) = read(text) {
                return Some(ms);
            }
        }
    }
    None
}

/// The largest char boundary of `text` at or before `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TimeRules, parse_timestamp_with};

    #[test]
    fn finds_the_time_in_the_first_words() {
        let rules = TimeRules {
            reference_ms: Some(1_735_732_800_000),
            ..TimeRules::default()
        };
        let cases: [(&str, Option<i64>); 10] = [
            // dpkg.log, alternatives.log, apt's history.log.
            (
                "2024-05-01 10:00:00 status installed libc6:amd64 2.36-9",
                Some(1_714_557_600_000),
            ),
            (
                "update-alternatives 2024-05-01 10:00:00: run with --install",
                Some(1_714_557_600_000),
            ),
            ("Start-Date: 2024-05-01  10:00:00", Some(1_714_557_600_000)),
            ("Commandline: apt-get install -y curl", None),
            // Blue Gene/L: an alert flag, then epoch seconds.
            (
                "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 RAS KERNEL INFO cache parity error corrected",
                Some(1_117_838_570_000),
            ),
            // Proxifier, HealthApp.
            (
                "[10.30 16:49:06] chrome.exe - proxy.example.com:5070 open through proxy",
                Some(1_730_306_946_000),
            ),
            (
                "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
                Some(1_514_067_329_606),
            ),
            (
                "[Sun Dec 04 04:47:44 2005] mod_jk child workerEnv in error state 6",
                Some(1_133_671_664_000),
            ),
            (
                "12345 node-246 unix.hw state_change.unavailable 1077804742 1 Component",
                Some(1_077_804_742_000),
            ),
            ("Connection from 10.0.0.1 port 22 pid 4242", None),
        ];
        for (line, expected) in cases {
            let read = |text: &str| parse_timestamp_with(text, &rules).ok();
            assert_eq!(leading_time(line, read), expected, "{line}");
        }
    }
}
