//! Timestamps: epoch milliseconds or RFC 3339, without a date library (a
//! plugin has no clock and needs no time zone database).

/// Parses `1735668123456` (epoch milliseconds) or an RFC 3339 date-time such
/// as `2025-01-01T12:00:00.123Z` or `2025-01-01 13:00:00+01:00` into epoch
/// milliseconds. Fractions finer than a millisecond are truncated.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .map_err(|_| format!("timestamp `{text}` is out of range"));
    }
    parse_rfc3339(text).ok_or_else(|| format!("timestamp `{text}` is neither epoch milliseconds nor RFC 3339"))
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if rest.first() == Some(&b'.') {
        let fraction_len = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if fraction_len == 0 {
            return None;
        }
        let fraction = &rest[1..1 + fraction_len];
        for i in 0..3 {
            millis = millis * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0'));
        }
        rest = &rest[1 + fraction_len..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    // A leap second (:60) counts as the last millisecond-aligned second of its minute.
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second.min(59) - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0, |value, b| {
        b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
    })
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

#[cfg(test)]
mod tests {
    use super::parse_timestamp;

    #[test]
    fn parses_known_instants() {
        // Values checked with `date -u -d ... +%s%3N`.
        assert_eq!(parse_timestamp("2025-01-01T12:00:00.123Z"), Ok(1_735_732_800_123));
        assert_eq!(
            parse_timestamp("2025-01-01 13:00:00.123456+01:00"),
            Ok(1_735_732_800_123)
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_timestamp("2024-02-29T23:59:59-00:30"), Ok(1_709_252_999_000));
        assert_eq!(parse_timestamp("1735668123456"), Ok(1_735_668_123_456));
        assert!(parse_timestamp("2025-02-29T00:00:00Z").is_err());
        assert!(parse_timestamp("2025-01-01T12:00:00").is_err());
        assert!(parse_timestamp("yesterday").is_err());
    }
}
