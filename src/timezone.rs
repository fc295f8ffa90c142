//! Time zones by name (`Europe/Paris`), read from the system's zone database
//! (TZif files, RFC 8536) for the plugins, which have no filesystem: a zone
//! goes to them as the list of its offset changes.

use std::path::PathBuf;

/// The setting that carries a zone's offset changes to a plugin: pairs
/// `SECONDS:MINUTES` (the instant a change takes effect, epoch seconds UTC,
/// and the offset east of UTC from then on), comma-separated, oldest first;
/// the first pair's offset also holds before it.
pub const TRANSITIONS_SETTING: &str = "timezone.transitions";

/// True for a `timezone` a plugin reads by itself: `UTC`, `Z`, `GMT`, or an
/// offset (`+02:00`, `UTC-5`).
pub fn is_offset(zone: &str) -> bool {
    let upper = zone.trim().to_ascii_uppercase();
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    rest.is_empty() || rest == "Z" || rest.starts_with(['+', '-'])
}

/// Where zone files are: `$TZDIR`, else `/usr/share/zoneinfo`.
fn zone_dir() -> PathBuf {
    std::env::var_os("TZDIR").map_or_else(|| PathBuf::from("/usr/share/zoneinfo"), PathBuf::from)
}

/// The [`TRANSITIONS_SETTING`] value of the zone `name`.
pub fn transitions(name: &str) -> Result<String, String> {
    let valid_name = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !valid_name {
        return Err(format!(
            "timezone `{name}` is not a zone name (such as Europe/Paris) or an offset (+02:00)"
        ));
    }
    let path = zone_dir().join(name);
    let bytes = std::fs::read(&path).map_err(|error| {
        format!(
            "timezone `{name}`: cannot read {} ({error}); name a zone of the system's database (tzdata), or an offset such as +02:00",
            path.display()
        )
    })?;
    let changes =
        parse_tzif(&bytes).ok_or_else(|| format!("timezone `{name}`: {} is not a zone file", path.display()))?;
    Ok(changes
        .iter()
        .map(|(at, offset)| format!("{at}:{offset}"))
        .collect::<Vec<_>>()
        .join(","))
}

/// The offset changes of a TZif file: (epoch seconds, minutes east of UTC),
/// led by the offset before the first change (at `i64::MIN`). Reads the
/// 64-bit data of version 2 and later, else version 1's 32-bit data.
fn parse_tzif(bytes: &[u8]) -> Option<Vec<(i64, i32)>> {
    let header = Header::read(bytes)?;
    let (header, data, time_size) = if header.version >= b'2' {
        let second = &bytes[44 + header.v1_data_len()..];
        (Header::read(second)?, &second[44..], 8)
    } else {
        (header, &bytes[44..], 4)
    };
    let times_len = header.timecnt * time_size;
    let times = data.get(..times_len)?;
    let types = data.get(times_len..times_len + header.timecnt)?;
    let infos_at = times_len + header.timecnt;
    let infos = data.get(infos_at..infos_at + header.typecnt * 6)?;
    let offset_of = |index: usize| {
        let info = infos.get(index * 6..index * 6 + 4)?;
        Some(i32::from_be_bytes(info.try_into().ok()?) / 60)
    };
    let mut changes = vec![(i64::MIN, offset_of(0)?)];
    for (at, &kind) in times.chunks(time_size).zip(types) {
        let at = match time_size {
            8 => i64::from_be_bytes(at.try_into().ok()?),
            _ => i64::from(i32::from_be_bytes(at.try_into().ok()?)),
        };
        changes.push((at, offset_of(usize::from(kind))?));
    }
    Some(changes)
}

/// A TZif header's version and counts.
struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(bytes: &[u8]) -> Option<Header> {
        if bytes.get(..4)? != b"TZif" {
            return None;
        }
        let count = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize);
        Some(Header {
            version: *bytes.get(4)?,
            isutcnt: count(20)?,
            isstdcnt: count(24)?,
            leapcnt: count(28)?,
            timecnt: count(32)?,
            typecnt: count(36)?,
            charcnt: count(40)?,
        })
    }

    /// The length of the version 1 data block after this header.
    fn v1_data_len(&self) -> usize {
        self.timecnt * 5 + self.typecnt * 6 + self.charcnt + self.leapcnt * 8 + self.isstdcnt + self.isutcnt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_is_its_offset_changes() {
        let paris = transitions("Europe/Paris").expect("tzdata is installed");
        // 2025-03-30T01:00:00Z Paris goes to +02:00, 2025-10-26T01:00:00Z back to +01:00.
        assert!(paris.contains("1743296400:120,1761440400:60"), "{paris}");
        assert!(transitions("../etc/passwd").is_err());
        assert!(transitions("No/Such_Zone").unwrap_err().contains("cannot read"));
        assert!(is_offset("+02:00") && is_offset("UTC") && is_offset("utc-5") && !is_offset("Europe/Paris"));
    }
}
