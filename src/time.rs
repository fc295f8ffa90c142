//! Wall-clock time as epoch milliseconds, and RFC 3339 formatting (UTC)
//! without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The first and last instants RFC 3339 can write (years 0000 to 9999).
/// Outside them a timestamp is not a time: a plugin's, or a line's, there
/// counts at the time of reading.
pub const FIRST_MS: i64 = -62_167_219_200_000;
pub const LAST_MS: i64 = 253_402_300_799_999;

/// True when `epoch_ms` is an instant of years 0000 to 9999.
pub fn is_writable(epoch_ms: i64) -> bool {
    (FIRST_MS..=LAST_MS).contains(&epoch_ms)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (the fraction is dropped).
/// A duration as `90s`, `5m`, `6h` or `7d`, in milliseconds (at most 100
/// years).
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    let unit_ms = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    let number: i64 = number.parse().ok()?;
    number.checked_mul(unit_ms).filter(|ms| *ms <= 100 * 366 * 86_400_000)
}

pub fn rfc3339_seconds(epoch_ms: i64) -> String {
    let (date, time) = civil(epoch_ms);
    format!("{date}T{time}Z")
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_millis(epoch_ms: i64) -> String {
    let (date, time) = civil(epoch_ms);
    format!("{date}T{time}.{:03}Z", epoch_ms.rem_euclid(1000))
}

/// ("YYYY-MM-DD", "HH:MM:SS") of an instant.
fn civil(epoch_ms: i64) -> (String, String) {
    let seconds = epoch_ms.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_utc() {
        // Checked with `date -u -d @SECONDS +%FT%T.%3NZ`.
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(1_735_732_800_123), "2025-01-01T12:00:00Z");
        assert_eq!(rfc3339_millis(1_735_732_800_123), "2025-01-01T12:00:00.123Z");
        assert_eq!(rfc3339_seconds(1_709_251_140_000), "2024-02-29T23:59:00Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_millis(FIRST_MS), "0000-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(LAST_MS), "9999-12-31T23:59:59.999Z");
        assert!(is_writable(FIRST_MS) && is_writable(LAST_MS));
        assert!(!is_writable(FIRST_MS - 1) && !is_writable(LAST_MS + 1));
        assert!(!is_writable(i64::MIN) && !is_writable(i64::MAX));
    }
}
