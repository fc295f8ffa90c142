//! Timestamps as real logs spell them, without a date library (a plugin has
//! no clock and needs no time zone database): ISO 8601 and its relatives,
//! syslog's year-less dates, Apache's, Java's and Hadoop's spellings, and
//! epoch numbers in any unit.

/// What a timestamp that lacks an offset or a year is read against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRules {
    /// Offset east of UTC, in minutes, of times that name none.
    pub offset_minutes: i32,
    /// A zone whose offset changes (daylight saving time), instead of
    /// `offset_minutes`: (epoch seconds, minutes east of UTC from then on),
    /// oldest first, the first offset also before it. The host reads it
    /// from its zone database (a plugin has none).
    pub zone: Option<&'static [(i64, i32)]>,
    /// For dates without a year (syslog's `Jun 14 15:16:01`): epoch
    /// milliseconds of the moment the line was written by, such as its file's
    /// modification time. The year is the one that puts the date closest
    /// before it (up to a day after it still counts as before, for clocks
    /// and zones a little off): a December line read in January is last
    /// year's. Without it, such dates are refused.
    pub reference_ms: Option<i64>,
}

/// A `timezone` setting as minutes east of UTC: `UTC`, `Z`, `GMT`, or an
/// offset `+02:00`, `-0530`, `+2`, also after `UTC` (`UTC+01:00`).
pub fn parse_offset(text: &str) -> Result<i32, String> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    if rest.is_empty() || rest == "Z" {
        return Ok(0);
    }
    let refused = || {
        format!(
            "timezone `{text}` is not an offset from UTC (`UTC`, `+02:00`, `-0530`); a zone name such as Europe/Paris needs its offset changes, which logproc gives plugins in the setting timezone.transitions"
        )
    };
    let (sign, digits) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return Err(refused()),
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((hours, minutes)) => (hours, minutes),
        None if digits.len() > 2 => digits.split_at(digits.len() - 2),
        None => (digits, "0"),
    };
    let number = |text: &str| {
        (!text.is_empty() && text.len() <= 2 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<i32>().ok())
            .flatten()
    };
    match (number(hours), number(minutes)) {
        (Some(hours), Some(minutes)) if hours <= 23 && minutes <= 59 => Ok(sign * (hours * 60 + minutes)),
        _ => Err(refused()),
    }
}

/// The last millisecond of the year 9999: later is not a time.
const MAX_MS: i64 = 253_402_300_799_999;
const DAY_MS: i64 = 86_400_000;

/// [`parse_timestamp_with`] with the default rules: times without an offset
/// are UTC, dates without a year are refused.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    parse_timestamp_with(text, &TimeRules::default())
}

/// Parses a timestamp into epoch milliseconds (finer fractions are
/// truncated). Accepted, with examples:
///
/// | spelling | example |
/// | --- | --- |
/// | ISO 8601 / RFC 3339, `T` or space, `.` or `,` fraction, offset `Z`, `+01:00`, `+0100`, `+01`, ` UTC` or none; date separators `-`, `/` or `.`; the time may be left out | `2025-01-01T12:00:00.123Z`, `2025-01-01 12:00:00,123`, `2016.09.28 04:30:31` |
/// | `yyMMdd HHmmss` (HDFS) | `081109 203615` |
/// | `yy/MM/dd HH:mm:ss` (Spark) | `17/06/09 20:10:40` |
/// | `yyyyMMdd-H:m:s:SSS` (unpadded fields) | `20171223-22:15:29:606` |
/// | `MMM d HH:mm:ss` (syslog, year-less, optional year after it) | `Jun 14 15:16:01`, `Dec  1 09:00:00.123` |
/// | `EEE MMM dd HH:mm:ss yyyy` (Apache error log, ctime) | `Sun Dec 04 04:47:44 2005`, `Fri Sep 09 10:42:29.902022 2011` |
/// | `dd/MMM/yyyy:HH:mm:ss Z` (access logs) | `10/Oct/2000:13:55:36 -0700` |
/// | `MM-dd HH:mm:ss.SSS` (logcat, year-less) | `03-17 16:13:38.811` |
/// | `MM.dd HH:mm:ss` (year-less) | `07.26 09:13:37` |
/// | epoch seconds, milliseconds, microseconds or nanoseconds, told apart by digit count, with or without a fraction | `1117838570`, `1735668123456`, `1131566461.123` |
///
/// A time outside the years 1970 to 9999 is refused.
#[inline]
pub fn parse_timestamp_with(text: &str, rules: &TimeRules) -> Result<i64, String> {
    match rfc3339_utc(text.as_bytes()) {
        Some(ms) => Ok(ms),
        None => parse_general(text, rules),
    }
}

/// Every spelling but the fast one. Kept out of line: inlined into the
/// callers' per-line loops, it made them slower to compile well.
#[inline(never)]
fn parse_general(text: &str, rules: &TimeRules) -> Result<i64, String> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let is_epoch = bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.iter().all(|&b| b.is_ascii_digit() || b == b'.')
        && bytes.iter().filter(|&&b| b == b'.').count() <= 1;
    if is_epoch {
        return epoch_to_ms(text);
    }
    let date = RECOGNIZERS
        .iter()
        .find_map(|recognize| {
            let mut cursor = Cursor { bytes, at: 0 };
            recognize(&mut cursor).filter(|_| cursor.at == bytes.len())
        })
        .ok_or_else(|| format!("timestamp `{text}` is in no known spelling"))?;
    date.instant(text, rules)
}

/// The strftime directives [`parse_timestamp_formatted`] reads.
const DIRECTIVES: &str = "YyCmdejHkIlMSfpzZbhBaAsTFDRnt%";

/// Checks a `timestamp_format` before it is used: every `%` directive must
/// be one [`parse_timestamp_formatted`] reads.
pub fn check_timestamp_format(format: &str) -> Result<(), String> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        let mut directive = chars.next();
        if directive == Some(':') || directive == Some('.') {
            directive = chars.next();
        }
        while directive.is_some_and(|d| d.is_ascii_digit()) {
            directive = chars.next();
        }
        match directive {
            Some(d) if DIRECTIVES.contains(d) => {}
            Some(d) => {
                return Err(format!(
                    "timestamp_format `{format}`: `%{d}` is not a directive logproc reads (it reads %Y %y %C %m %d %e %j %H %k %I %l %p %M %S %f %.f %z %:z %Z %b %h %B %a %A %s %T %F %D %R %n %t %%)"
                ));
            }
            None => return Err(format!("timestamp_format `{format}` ends in a lone `%`")),
        }
    }
    Ok(())
}

/// Reads `text` as the strftime `format` says, whole (`%Y-%m-%d %H:%M:%S`,
/// `%d/%b/%Y:%H:%M:%S %z`, `%s`). A space in the format matches any run of
/// spaces; fields without an offset are read by `rules`, and a format
/// without a year takes it from `rules` as year-less dates do.
pub fn parse_timestamp_formatted(format: &str, text: &str, rules: &TimeRules) -> Result<i64, String> {
    let refused = || format!("timestamp `{text}` does not fit timestamp_format `{format}`");
    let mut c = Cursor {
        bytes: text.trim().as_bytes(),
        at: 0,
    };
    let mut date = Written {
        month: 1,
        day: 1,
        ..Written::default()
    };
    let (mut hour12, mut pm, mut day_of_year, mut century) = (None, None, None, None);
    let mut epoch = None;
    let mut spec = format.as_bytes().iter().copied().peekable();
    while let Some(b) = spec.next() {
        if b == b' ' {
            while c.eat(b' ') || c.eat(b'\t') {}
            continue;
        }
        if b != b'%' {
            c.literal(b).ok_or_else(refused)?;
            continue;
        }
        let mut directive = spec.next().ok_or_else(refused)?;
        let mut modifier = None;
        if matches!(directive, b':' | b'.') {
            modifier = Some(directive);
            directive = spec.next().ok_or_else(refused)?;
        }
        while directive.is_ascii_digit() {
            directive = spec.next().ok_or_else(refused)?;
        }
        let read = match directive {
            b'Y' => c.number(4, 4).map(|year| date.year = Some(year)),
            b'C' => c.number(2, 2).map(|value| century = Some(value)),
            b'y' => c.number(2, 2).map(|yy| date.year = Some(two_digit_year(yy))),
            b'm' => c.number(1, 2).map(|month| date.month = month),
            b'd' => c.number(1, 2).map(|day| date.day = day),
            b'e' => {
                c.eat(b' ');
                c.number(1, 2).map(|day| date.day = day)
            }
            b'j' => c.number(1, 3).map(|day| day_of_year = Some(day)),
            b'H' => c.number(1, 2).map(|hour| date.hour = hour),
            b'k' => {
                c.eat(b' ');
                c.number(1, 2).map(|hour| date.hour = hour)
            }
            b'I' => c.number(1, 2).map(|hour| hour12 = Some(hour)),
            b'l' => {
                c.eat(b' ');
                c.number(1, 2).map(|hour| hour12 = Some(hour))
            }
            b'p' => c.meridiem(12).map(|hour| pm = Some(hour == 12)),
            b'M' => c.number(1, 2).map(|minute| date.minute = minute),
            b'S' => c.number(1, 2).map(|second| date.second = second),
            // `%f` is the digits alone, `%.f` the point too (and optional).
            b'f' if modifier == Some(b'.') => c.fraction().map(|millis| date.millis = millis),
            b'f' => {
                let digits = c.bytes[c.at..].iter().take_while(|b| b.is_ascii_digit()).count();
                let millis = (0..3).fold(0, |ms, i| {
                    ms * 10 + c.bytes[c.at..c.at + digits].get(i).map_or(0, |d| i64::from(d - b'0'))
                });
                c.at += digits;
                (digits > 0).then(|| date.millis = millis)
            }
            b'z' | b'Z' => c.zone().flatten().map(|offset| date.offset_minutes = Some(offset)),
            b'b' | b'h' | b'B' => c.month_name().map(|month| date.month = month),
            b'a' | b'A' => c.weekday_name(),
            b's' => {
                let digits = c.bytes[c.at..].iter().take_while(|b| b.is_ascii_digit()).count();
                let number = std::str::from_utf8(&c.bytes[c.at..c.at + digits]).unwrap_or("");
                c.at += digits;
                epoch = Some(epoch_to_ms(number)?);
                Some(())
            }
            b'T' => c.time_of_day(&mut date),
            b'R' => c.number(2, 2).and_then(|hour| {
                date.hour = hour;
                c.literal(b':')?;
                c.number(2, 2).map(|minute| date.minute = minute)
            }),
            b'F' => c.number(4, 4).and_then(|year| {
                date.year = Some(year);
                c.literal(b'-')?;
                date.month = c.number(1, 2)?;
                c.literal(b'-')?;
                c.number(1, 2).map(|day| date.day = day)
            }),
            b'D' => c.number(1, 2).and_then(|month| {
                date.month = month;
                c.literal(b'/')?;
                date.day = c.number(1, 2)?;
                c.literal(b'/')?;
                c.number(2, 2).map(|yy| date.year = Some(two_digit_year(yy)))
            }),
            b'n' | b't' => {
                while c.eat(b' ') || c.eat(b'\t') {}
                Some(())
            }
            b'%' => c.literal(b'%'),
            _ => None,
        };
        read.ok_or_else(refused)?;
    }
    if !c.at_end() {
        return Err(refused());
    }
    if let Some(ms) = epoch {
        return Ok(ms);
    }
    if let (Some(century), Some(year)) = (century, date.year) {
        date.year = Some(century * 100 + year % 100);
    }
    if let Some(hour) = hour12 {
        date.hour = match pm {
            Some(pm) => c.meridiem_hour(hour, pm).ok_or_else(refused)?,
            None => hour,
        };
    }
    if let Some(day) = day_of_year {
        let year = date.year.ok_or_else(refused)?;
        let start = days_from_civil(year, 1, 1) + day - 1;
        let (month, day) = (1..=12)
            .map(|month| (month, start - days_from_civil(year, month, 1) + 1))
            .rfind(|&(_, day)| day >= 1)
            .ok_or_else(refused)?;
        (date.month, date.day) = (month, day);
    }
    date.instant(text, rules)
}

/// The spelling most logs use, `2025-01-01T12:00:00.123Z` (any fraction),
/// read without the general machinery: 36 ns against 56 ns a call (native,
/// measured; the parser before this issue took 29 ns), on the path of every
/// line of the default text format.
fn rfc3339_utc(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (rest, millis) = match b[19] {
        b'Z' => (&b[20..], 0),
        b'.' => {
            let digits = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            let fraction = &b[20..20 + digits];
            let millis = (0..3).fold(0, |ms, i| ms * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0')));
            (b[20 + digits..].strip_prefix(b"Z")?, millis)
        }
        _ => return None,
    };
    let two = |at: usize| Some(digit(b[at])? * 10 + digit(b[at + 1])?);
    let date = Written {
        year: Some(two(0)? * 100 + two(2)?),
        month: two(5)?,
        day: two(8)?,
        hour: two(11)?,
        minute: two(14)?,
        second: two(17)?,
        millis,
        offset_minutes: Some(0),
    };
    if !rest.is_empty() {
        return None;
    }
    date.to_ms(&TimeRules::default())
}

fn digit(b: u8) -> Option<i64> {
    b.is_ascii_digit().then(|| i64::from(b - b'0'))
}

/// Epoch time in any unit, told apart by the count of integer digits: up
/// to 11 seconds, 12 to 14 milliseconds, 15 to 17 microseconds, 18 or 19
/// nanoseconds; a fraction is of that unit.
pub fn epoch_to_ms(text: &str) -> Result<i64, String> {
    let bytes = text.as_bytes();
    let integer_len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let fraction = match &bytes[integer_len..] {
        [] => &[][..],
        [b'.', fraction @ ..] if fraction.iter().all(u8::is_ascii_digit) => fraction,
        _ => return Err(format!("timestamp `{text}` is not an epoch number")),
    };
    if integer_len == 0 {
        return Err(format!("timestamp `{text}` is not an epoch number"));
    }
    // One pass, no allocation: this is on the path of every JSON line.
    let value = bytes[..integer_len.min(19)]
        .iter()
        .fold(0u64, |value, b| value * 10 + u64::from(b - b'0'));
    let ms = match integer_len {
        0..=11 => {
            let fraction_ms = (0..3).fold(0, |ms, i| ms * 10 + fraction.get(i).map_or(0, |d| u64::from(d - b'0')));
            value * 1_000 + fraction_ms
        }
        12..=14 => value,
        15..=17 => value / 1_000,
        18 | 19 => value / 1_000_000,
        _ => u64::MAX,
    };
    i64::try_from(ms)
        .ok()
        .filter(|ms| *ms <= MAX_MS)
        .ok_or_else(|| format!("timestamp `{text}` is out of range (years 1970 to 9999)"))
}

/// A date and time as written, before its offset and year are settled.
#[derive(Debug, Clone, Copy, Default)]
struct Written {
    year: Option<i64>,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
    /// Minutes east of UTC, if the text names it.
    offset_minutes: Option<i32>,
}

impl Written {
    /// [`Written::to_ms`], or why `text` (what was read) is no instant.
    fn instant(self, text: &str, rules: &TimeRules) -> Result<i64, String> {
        self.to_ms(rules).ok_or_else(|| match self.year {
            None if rules.reference_ms.is_none() => format!("timestamp `{text}` has no year"),
            _ => format!("timestamp `{text}` is not a valid date between the years 1970 and 9999"),
        })
    }

    #[inline]
    fn to_ms(self, rules: &TimeRules) -> Option<i64> {
        let valid_time = self.hour <= 23 && self.minute <= 59 && self.second <= 60 && self.millis <= 999;
        if !valid_time || !(1..=12).contains(&self.month) || self.day == 0 {
            return None;
        }
        let ms = match self.year {
            Some(year) => self.in_year(year, rules)?,
            None => {
                let reference = rules.reference_ms?;
                let reference_year = civil_year(reference);
                // Feb 29 may need to go back to the last leap year.
                (0..8)
                    .filter_map(|back| self.in_year(reference_year - back, rules))
                    .find(|&ms| ms <= reference + DAY_MS)?
            }
        };
        (0..=MAX_MS).contains(&ms).then_some(ms)
    }

    /// The instant in `year`, if the day is in its month then.
    #[inline]
    fn in_year(self, year: i64, rules: &TimeRules) -> Option<i64> {
        if self.day > days_in_month(year, self.month) {
            return None;
        }
        // A leap second (:60) counts as the last second of its minute.
        let local = days_from_civil(year, self.month, self.day) * 86_400
            + self.hour * 3_600
            + self.minute * 60
            + self.second.min(59);
        let offset = match (self.offset_minutes, rules.zone) {
            (Some(offset), _) => offset,
            (None, Some(zone)) => zone_offset_of_local(zone, local),
            (None, None) => rules.offset_minutes,
        };
        Some((local - i64::from(offset) * 60) * 1_000 + self.millis)
    }
}

/// The offset in effect at the instant `utc` (epoch seconds).
fn zone_offset_at(zone: &[(i64, i32)], utc: i64) -> i32 {
    let after = zone.partition_point(|&(at, _)| at <= utc);
    zone[after.saturating_sub(1)].1
}

/// The offset of a local time (`local`: its seconds as if it were UTC):
/// one in effect at the instant it names with it. Of a time that occurs
/// twice (clocks set back), the earlier; one that never occurs (clocks set
/// forward) is read with the offset before the change.
fn zone_offset_of_local(zone: &[(i64, i32)], local: i64) -> i32 {
    // Zones change their offset at most once in two days.
    let before = zone_offset_at(zone, local - DAY_MS / 1_000);
    let after = zone_offset_at(zone, local + DAY_MS / 1_000);
    let holds = |offset: i32| zone_offset_at(zone, local - i64::from(offset) * 60) == offset;
    match (holds(before), holds(after)) {
        (true, true) => before.max(after),
        (false, true) => after,
        _ => before,
    }
}

type Recognizer = fn(&mut Cursor) -> Option<Written>;

/// Tried in order; the first that reads the whole text wins.
const RECOGNIZERS: [Recognizer; 11] = [
    iso,
    short_digits,
    short_slashes,
    compact_unpadded,
    month_name_first,
    weekday_first,
    access_log,
    month_day_dashes,
    month_day_dots,
    month_day_compact,
    month_name_comma_year,
];

/// `2025-01-01T12:00:00.123+01:00`, `2025/01/01 12:00`, `2016.09.28`.
fn iso(c: &mut Cursor) -> Option<Written> {
    let year = c.number(4, 4)?;
    let separator = c.one_of(b"-/.")?;
    let month = c.number(2, 2)?;
    c.literal(separator)?;
    let day = c.number(2, 2)?;
    let mut date = Written {
        year: Some(year),
        month,
        day,
        ..Written::default()
    };
    if c.at_end() {
        return Some(date);
    }
    if c.one_of(b"Tt").is_none() {
        c.spaces()?;
    }
    date.hour = c.number(2, 2)?;
    c.literal(b':')?;
    date.minute = c.number(2, 2)?;
    if c.eat(b':') {
        date.second = c.number(2, 2)?;
        date.millis = c.fraction()?;
    }
    date.offset_minutes = c.zone()?;
    Some(date)
}

/// `081109 203615` (yyMMdd HHmmss).
fn short_digits(c: &mut Cursor) -> Option<Written> {
    let year = two_digit_year(c.number(2, 2)?);
    let (month, day) = (c.number(2, 2)?, c.number(2, 2)?);
    c.literal(b' ')?;
    let (hour, minute, second) = (c.number(2, 2)?, c.number(2, 2)?, c.number(2, 2)?);
    Some(Written {
        year: Some(year),
        month,
        day,
        hour,
        minute,
        second,
        ..Written::default()
    })
}

/// `17/06/09 20:10:40` (yy/MM/dd HH:mm:ss).
fn short_slashes(c: &mut Cursor) -> Option<Written> {
    let year = two_digit_year(c.number(2, 2)?);
    c.literal(b'/')?;
    let month = c.number(2, 2)?;
    c.literal(b'/')?;
    let day = c.number(2, 2)?;
    c.literal(b' ')?;
    c.time(Written {
        year: Some(year),
        month,
        day,
        ..Written::default()
    })
}

/// `20171223-22:15:29:606` (yyyyMMdd-H:m:s:SSS, fields unpadded).
fn compact_unpadded(c: &mut Cursor) -> Option<Written> {
    let (year, month, day) = (c.number(4, 4)?, c.number(2, 2)?, c.number(2, 2)?);
    c.literal(b'-')?;
    let hour = c.number(1, 2)?;
    c.literal(b':')?;
    let minute = c.number(1, 2)?;
    c.literal(b':')?;
    let second = c.number(1, 2)?;
    c.literal(b':')?;
    let millis = c.number(1, 3)?;
    Some(Written {
        year: Some(year),
        month,
        day,
        hour,
        minute,
        second,
        millis,
        offset_minutes: None,
    })
}

/// `Jun 14 15:16:01`, `Dec  1 09:00:00.123 2025`: the month's name first,
/// the year after the time if at all.
fn month_name_first(c: &mut Cursor) -> Option<Written> {
    let month = c.month_name()?;
    c.spaces()?;
    let day = c.number(1, 2)?;
    c.spaces()?;
    let mut date = c.time(Written {
        month,
        day,
        ..Written::default()
    })?;
    if c.eat(b' ') {
        date.year = Some(c.number(4, 4)?);
    }
    date.offset_minutes = c.zone()?;
    Some(date)
}

/// `Sun Dec 04 04:47:44 2005` (ctime, Apache's error log).
fn weekday_first(c: &mut Cursor) -> Option<Written> {
    c.weekday_name()?;
    c.spaces()?;
    month_name_first(c).filter(|date| date.year.is_some())
}

/// `10/Oct/2000:13:55:36 -0700`.
fn access_log(c: &mut Cursor) -> Option<Written> {
    let day = c.number(1, 2)?;
    c.literal(b'/')?;
    let month = c.month_name()?;
    c.literal(b'/')?;
    let year = c.number(4, 4)?;
    c.literal(b':')?;
    let mut date = c.time(Written {
        year: Some(year),
        month,
        day,
        ..Written::default()
    })?;
    date.offset_minutes = c.zone()?;
    Some(date)
}

/// `03-17 16:13:38.811` (logcat; no year).
fn month_day_dashes(c: &mut Cursor) -> Option<Written> {
    month_day(c, Some(b'-'))
}

/// `07.26 09:13:37` (no year).
fn month_day_dots(c: &mut Cursor) -> Option<Written> {
    month_day(c, Some(b'.'))
}

/// `MM?dd HH:mm:ss`, `?` the separator if any.
fn month_day(c: &mut Cursor, separator: Option<u8>) -> Option<Written> {
    let month = c.number(2, 2)?;
    if let Some(separator) = separator {
        c.literal(separator)?;
    }
    let day = c.number(2, 2)?;
    c.literal(b' ')?;
    c.time(Written {
        month,
        day,
        ..Written::default()
    })
}

/// `1109 10:11:12.123456` (glog and klog: MMdd, no year).
fn month_day_compact(c: &mut Cursor) -> Option<Written> {
    month_day(c, None)
}

/// `Nov 9, 2025 1:02:03 PM` (java.util.logging's SimpleFormatter).
fn month_name_comma_year(c: &mut Cursor) -> Option<Written> {
    let month = c.month_name()?;
    c.spaces()?;
    let day = c.number(1, 2)?;
    c.literal(b',')?;
    c.spaces()?;
    let year = c.number(4, 4)?;
    c.spaces()?;
    let hour = c.number(1, 2)?;
    c.literal(b':')?;
    let minute = c.number(2, 2)?;
    c.literal(b':')?;
    let second = c.number(2, 2)?;
    c.spaces()?;
    let hour = c.meridiem(hour)?;
    Some(Written {
        year: Some(year),
        month,
        day,
        hour,
        minute,
        second,
        ..Written::default()
    })
}

/// `yy` as a year: 70 to 99 are 1970s to 1990s, 00 to 69 this century.
fn two_digit_year(yy: i64) -> i64 {
    if yy >= 70 { 1900 + yy } else { 2000 + yy }
}

/// Reads a text left to right; every step says `None` when the text does
/// not go on as expected.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];
const WEEKDAYS: [&[u8; 3]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        self.at += usize::from(matched);
        matched
    }

    fn literal(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn one_of(&mut self, bytes: &[u8]) -> Option<u8> {
        let byte = self.peek().filter(|b| bytes.contains(b))?;
        self.at += 1;
        Some(byte)
    }

    /// One or more spaces (syslog pads a one-digit day with a space).
    fn spaces(&mut self) -> Option<()> {
        let count = self.bytes[self.at..].iter().take_while(|&&b| b == b' ').count();
        self.at += count;
        (count > 0).then_some(())
    }

    /// A number of `min` to `max` digits (as many as there are, up to `max`).
    fn number(&mut self, min: usize, max: usize) -> Option<i64> {
        let digits = self.bytes[self.at..]
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits < min {
            return None;
        }
        let value = self.bytes[self.at..self.at + digits]
            .iter()
            .fold(0, |value, b| value * 10 + i64::from(b - b'0'));
        self.at += digits;
        Some(value)
    }

    /// `HH:mm:ss` with an optional fraction.
    fn time(&mut self, mut date: Written) -> Option<Written> {
        date.hour = self.number(2, 2)?;
        self.literal(b':')?;
        date.minute = self.number(2, 2)?;
        self.literal(b':')?;
        date.second = self.number(2, 2)?;
        date.millis = self.fraction()?;
        Some(date)
    }

    /// Milliseconds of an optional `.123456` or `,123` fraction (0 if none).
    fn fraction(&mut self) -> Option<i64> {
        if self.one_of(b".,").is_none() {
            return Some(0);
        }
        let digits = self.bytes[self.at..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let millis = (0..3).fold(0, |ms, i| {
            ms * 10
                + self.bytes[self.at..self.at + digits]
                    .get(i)
                    .map_or(0, |d| i64::from(d - b'0'))
        });
        self.at += digits;
        Some(millis)
    }

    /// An optional offset: `Z`, `+01:00`, `+0100`, `+01`, ` UTC`, ` GMT`,
    /// also after one space. `Some(None)` when there is none.
    fn zone(&mut self) -> Option<Option<i32>> {
        let start = self.at;
        self.eat(b' ');
        if self.eat(b'Z') || self.eat(b'z') {
            return Some(Some(0));
        }
        let rest = &self.bytes[self.at..];
        if rest.eq_ignore_ascii_case(b"utc") || rest.eq_ignore_ascii_case(b"gmt") {
            self.at = self.bytes.len();
            return Some(Some(0));
        }
        let Some(sign) = self.one_of(b"+-") else {
            self.at = start;
            return Some(None);
        };
        let hours = self.number(2, 2)?;
        self.eat(b':');
        let minutes = if self.at_end() { 0 } else { self.number(2, 2)? };
        if hours > 23 || minutes > 59 {
            return None;
        }
        let offset = (hours * 60 + minutes) as i32;
        Some(Some(if sign == b'-' { -offset } else { offset }))
    }

    /// `AM` or `PM` (any case) after a 12-hour `hour`: the hour of the day.
    fn meridiem(&mut self, hour: i64) -> Option<i64> {
        let word = self.bytes.get(self.at..self.at + 2)?;
        let pm = if word.eq_ignore_ascii_case(b"pm") {
            true
        } else if word.eq_ignore_ascii_case(b"am") {
            false
        } else {
            return None;
        };
        self.at += 2;
        self.meridiem_hour(hour, pm)
    }

    /// The hour of the day of a 12-hour `hour`.
    fn meridiem_hour(&self, hour: i64, pm: bool) -> Option<i64> {
        (1..=12).contains(&hour).then_some(hour % 12 + if pm { 12 } else { 0 })
    }

    /// `HH:MM:SS` into `date`.
    fn time_of_day(&mut self, date: &mut Written) -> Option<()> {
        date.hour = self.number(1, 2)?;
        self.literal(b':')?;
        date.minute = self.number(2, 2)?;
        self.literal(b':')?;
        date.second = self.number(2, 2)?;
        Some(())
    }

    /// `Jan`..`Dec`, or the whole name, any case: 1 to 12.
    fn month_name(&mut self) -> Option<i64> {
        const FULL: [&str; 12] = [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ];
        let index = self.name(&MONTHS, &FULL)?;
        Some(index as i64 + 1)
    }

    fn weekday_name(&mut self) -> Option<()> {
        const FULL: [&str; 7] = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        self.name(&WEEKDAYS, &FULL).map(drop)
    }

    /// The index of the name (its three-letter form or the whole) at the cursor.
    fn name(&mut self, short: &[&[u8; 3]], full: &[&str]) -> Option<usize> {
        let letters = self.bytes[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let word = &self.bytes[self.at..self.at + letters];
        let index = short.iter().zip(full).position(|(short, full)| {
            word.eq_ignore_ascii_case(&short[..]) || word.eq_ignore_ascii_case(full.as_bytes())
        })?;
        self.at += letters;
        Some(index)
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The UTC year of an instant.
fn civil_year(ms: i64) -> i64 {
    // Inverse of days_from_civil for the year alone (H. Hinnant's algorithm).
    let days = ms.div_euclid(DAY_MS) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    year_of_era + era * 400 + i64::from(month_from_march >= 10)
}

#[cfg(test)]
mod tests {
    use super::{TimeRules, epoch_to_ms, parse_timestamp, parse_timestamp_with};

    #[test]
    fn parses_known_instants() {
        // Every value checked with `date -u -d ... +%s%3N`.
        let cases: [(&str, i64); 22] = [
            ("2025-01-01T12:00:00.123Z", 1_735_732_800_123),
            ("2025-01-01 13:00:00.123456+01:00", 1_735_732_800_123),
            ("1970-01-01T00:00:00Z", 0),
            ("2024-02-29T23:59:59-00:30", 1_709_252_999_000),
            ("2025-01-01T12:00:00", 1_735_732_800_000),
            ("2025-01-01 12:00:00,123", 1_735_732_800_123),
            ("2025-01-01 13:00:00 +0100", 1_735_732_800_000),
            ("2025-01-01T14:00:00+02", 1_735_732_800_000),
            ("2025-01-01 12:00:00 UTC", 1_735_732_800_000),
            ("2025-01-01 12:00", 1_735_732_800_000),
            ("2016.09.28 04:30:31", 1_475_037_031_000),
            ("2016/09/28", 1_475_020_800_000),
            ("081109 203615", 1_226_262_975_000),
            ("17/06/09 20:10:40", 1_497_039_040_000),
            ("20171223-22:15:29:606", 1_514_067_329_606),
            ("20171223-2:5:9:6", 1_513_994_709_006),
            ("Sun Dec 04 04:47:44 2005", 1_133_671_664_000),
            ("Fri Sep 09 10:42:29.902022 2011", 1_315_564_949_902),
            ("10/Oct/2000:13:55:36 -0700", 971_211_336_000),
            ("Jun 14 15:16:01 2005", 1_118_762_161_000),
            ("1735668123456", 1_735_668_123_456),
            ("1117838570", 1_117_838_570_000),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_timestamp(text), Ok(ms), "{text}");
        }
    }

    #[test]
    fn epoch_units_by_digit_count() {
        assert_eq!(epoch_to_ms("1735668123"), Ok(1_735_668_123_000));
        assert_eq!(epoch_to_ms("1735668123.456789"), Ok(1_735_668_123_456));
        assert_eq!(epoch_to_ms("1735668123456"), Ok(1_735_668_123_456));
        assert_eq!(epoch_to_ms("1735668123456789"), Ok(1_735_668_123_456));
        assert_eq!(epoch_to_ms("1735668123456789012"), Ok(1_735_668_123_456));
        assert_eq!(epoch_to_ms("0"), Ok(0));
        // 9223372036854775807 (i64::MAX) is year 292278994 as milliseconds:
        // as nanoseconds it is 2262, but a 20-digit number is no time.
        assert!(epoch_to_ms("92233720368547758070").is_err());
        assert!(epoch_to_ms("253402300800").is_ok(), "12 digits are milliseconds");
        assert_eq!(
            epoch_to_ms("99999999999"),
            Ok(99_999_999_999_000),
            "11 digits are seconds (year 5138)"
        );
        assert!(epoch_to_ms("1.2.3").is_err());
    }

    #[test]
    fn dates_without_a_year_take_the_one_before_the_reference() {
        // 2025-01-10T00:00:00Z: a December line is last year's, a January one this year's.
        let rules = TimeRules {
            reference_ms: Some(1_736_467_200_000),
            ..TimeRules::default()
        };
        assert_eq!(parse_timestamp_with("Dec 31 23:59:59", &rules), Ok(1_735_689_599_000));
        assert_eq!(parse_timestamp_with("Jan  9 08:00:00", &rules), Ok(1_736_409_600_000));
        // A few hours after the reference (a zone off) is still this year.
        assert_eq!(parse_timestamp_with("Jan 10 05:00:00", &rules), Ok(1_736_485_200_000));
        assert_eq!(
            parse_timestamp_with("01-09 08:00:00.250", &rules),
            Ok(1_736_409_600_250)
        );
        assert_eq!(parse_timestamp_with("01.09 08:00:00", &rules), Ok(1_736_409_600_000));
        // Feb 29 goes back to the last leap year (2024).
        assert_eq!(parse_timestamp_with("Feb 29 00:00:00", &rules), Ok(1_709_164_800_000));
        assert!(parse_timestamp("Jun 14 15:16:01").unwrap_err().contains("has no year"));
    }

    #[test]
    fn an_offset_for_times_that_name_none() {
        let rules = TimeRules {
            offset_minutes: 120,
            ..TimeRules::default()
        };
        assert_eq!(
            parse_timestamp_with("2025-01-01 14:00:00", &rules),
            Ok(1_735_732_800_000)
        );
        // A time that names its offset keeps it.
        assert_eq!(
            parse_timestamp_with("2025-01-01T12:00:00Z", &rules),
            Ok(1_735_732_800_000)
        );
    }

    #[test]
    fn refuses_what_is_no_time() {
        for text in [
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-01-01T24:00:00Z",
            "2025-01-01T12:00:00+25:00",
            "1969-12-31T23:59:59Z",
            "yesterday",
            "2025-01-01T12:00:00 and more",
            "Foo 14 15:16:01 2005",
            "",
        ] {
            assert!(parse_timestamp(text).is_err(), "{text}");
        }
    }
}
