//! The generator's knobs: levels and their weights, and the query
//! parameters of `GET /ws/logs`, validated with messages that say what is
//! allowed.

use std::time::Duration;

use super::Rng;

/// The levels the generator emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenLevel {
    Info,
    Warn,
    Error,
}

impl GenLevel {
    pub const ALL: [GenLevel; 3] = [GenLevel::Info, GenLevel::Warn, GenLevel::Error];

    pub fn name(self) -> &'static str {
        match self {
            GenLevel::Info => "INFO",
            GenLevel::Warn => "WARN",
            GenLevel::Error => "ERROR",
        }
    }

    /// `INFO`, `WARN` or `ERROR`, in any case.
    pub fn parse(text: &str) -> Option<GenLevel> {
        GenLevel::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(text))
    }
}

/// How each entry's level is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelChoice {
    Fixed(GenLevel),
    /// Weights of INFO, WARN, ERROR; at least one positive.
    Weighted([u32; 3]),
}

impl Default for LevelChoice {
    fn default() -> Self {
        LevelChoice::Weighted([70, 20, 10])
    }
}

impl LevelChoice {
    pub fn pick(&self, rng: &mut Rng) -> GenLevel {
        match self {
            LevelChoice::Fixed(level) => *level,
            LevelChoice::Weighted(weights) => {
                let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
                let mut roll = rng.below(total);
                for (level, weight) in GenLevel::ALL.into_iter().zip(weights) {
                    if roll < u64::from(*weight) {
                        return level;
                    }
                    roll -= u64::from(*weight);
                }
                unreachable!("roll is below the total weight")
            }
        }
    }

    /// Parses `INFO:70,WARN:20,ERROR:10`: non-negative integer weights, at
    /// least one positive, each level at most once (an absent level weighs 0).
    pub fn parse_weights(text: &str) -> Result<LevelChoice, String> {
        let allowed = "expected LEVEL:WEIGHT pairs such as INFO:70,WARN:20,ERROR:10 (levels INFO, WARN, ERROR; weights non-negative integers, at least one positive)";
        let mut weights = [None; 3];
        for item in text.split(',') {
            let (level, weight) = item
                .split_once(':')
                .ok_or_else(|| format!("`{item}` is not LEVEL:WEIGHT; {allowed}"))?;
            let level = GenLevel::parse(level.trim()).ok_or_else(|| format!("unknown level `{level}`; {allowed}"))?;
            let weight: u32 = weight.trim().parse().map_err(|_| {
                format!(
                    "weight `{weight}` of {} is not a non-negative integer; {allowed}",
                    level.name()
                )
            })?;
            let slot = &mut weights[GenLevel::ALL.iter().position(|l| *l == level).expect("a known level")];
            if slot.replace(weight).is_some() {
                return Err(format!("{} is given twice; {allowed}", level.name()));
            }
        }
        let weights = weights.map(|weight| weight.unwrap_or(0));
        if weights.iter().all(|weight| *weight == 0) {
            return Err(format!("all weights are zero; {allowed}"));
        }
        Ok(LevelChoice::Weighted(weights))
    }
}

/// Query parameters of `GET /ws/logs`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamParams {
    /// Delay between messages; `None`: a random delay up to 1000 ms each time.
    pub interval: Option<Duration>,
    /// One service for every message; `None`: all known services.
    pub service: Option<String>,
    pub levels: LevelChoice,
    /// Log every emitted line on the server.
    pub debug: bool,
}

impl StreamParams {
    /// Validates the query's (name, value) pairs. `level` wins over
    /// `level_weights` when both are given.
    pub fn parse(pairs: &[(String, String)]) -> Result<StreamParams, String> {
        let mut params = StreamParams::default();
        let mut seen = Vec::new();
        let mut level = None;
        let mut weights = None;
        for (name, value) in pairs {
            if seen.contains(&name.as_str()) {
                return Err(format!("parameter `{name}` is given more than once"));
            }
            match name.as_str() {
                "interval_ms" => {
                    let ms = value
                        .parse::<u64>()
                        .ok()
                        .filter(|ms| (10..=10_000).contains(ms))
                        .ok_or_else(|| format!("interval_ms must be an integer between 10 and 10000, got `{value}`"))?;
                    params.interval = Some(Duration::from_millis(ms));
                }
                "service" => {
                    if value.trim().is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
                        return Err(format!(
                            "service must be a non-empty name of at most 128 characters without control characters, got `{value}`"
                        ));
                    }
                    params.service = Some(value.clone());
                }
                "level" => {
                    level = Some(
                        GenLevel::parse(value)
                            .ok_or_else(|| format!("level must be INFO, WARN or ERROR, got `{value}`"))?,
                    );
                }
                "level_weights" => {
                    weights = Some(LevelChoice::parse_weights(value).map_err(|e| format!("level_weights: {e}"))?)
                }
                "debug" => params.debug = true,
                other => {
                    return Err(format!(
                        "unknown parameter `{other}`; allowed: interval_ms, service, level, level_weights, debug"
                    ));
                }
            }
            seen.push(name.as_str());
        }
        params.levels = match (level, weights) {
            (Some(level), _) => LevelChoice::Fixed(level),
            (None, Some(weights)) => weights,
            (None, None) => LevelChoice::default(),
        };
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<StreamParams, String> {
        let pairs: Vec<_> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        StreamParams::parse(&pairs)
    }

    #[test]
    fn accepts_the_documented_parameters() {
        let params = parse(&[("interval_ms", "200"), ("level_weights", "INFO:80,WARN:15,ERROR:5")]).unwrap();
        assert_eq!(params.interval, Some(Duration::from_millis(200)));
        assert_eq!(params.levels, LevelChoice::Weighted([80, 15, 5]));
        let params = parse(&[
            ("service", "payments"),
            ("level", "ERROR"),
            ("debug", ""),
            ("level_weights", "INFO:1"),
        ])
        .unwrap();
        assert_eq!(
            (params.service.as_deref(), params.levels, params.debug),
            (Some("payments"), LevelChoice::Fixed(GenLevel::Error), true)
        );
        assert_eq!(
            parse(&[("level_weights", "WARN:0,ERROR:3")]).unwrap().levels,
            LevelChoice::Weighted([0, 0, 3])
        );
        assert_eq!(parse(&[]).unwrap(), StreamParams::default());
    }

    #[test]
    fn refuses_bad_values_naming_the_parameter() {
        for (query, message) in [
            (
                ("interval_ms", "5"),
                "interval_ms must be an integer between 10 and 10000, got `5`",
            ),
            (
                ("interval_ms", "abc"),
                "interval_ms must be an integer between 10 and 10000, got `abc`",
            ),
            (
                ("interval_ms", "10001"),
                "interval_ms must be an integer between 10 and 10000",
            ),
            (("level", "DEBUG"), "level must be INFO, WARN or ERROR, got `DEBUG`"),
            (
                ("level_weights", "INFO:x"),
                "level_weights: weight `x` of INFO is not a non-negative integer",
            ),
            (("level_weights", "DEBUG:5"), "level_weights: unknown level `DEBUG`"),
            (
                ("level_weights", "INFO:0,WARN:0"),
                "level_weights: all weights are zero",
            ),
            (("level_weights", "INFO:1,INFO:2"), "level_weights: INFO is given twice"),
            (("level_weights", "INFO:-1"), "level_weights: weight `-1` of INFO"),
            (("level_weights", "INFO"), "level_weights: `INFO` is not LEVEL:WEIGHT"),
            (("service", ""), "service must be a non-empty name"),
            (("speed", "1"), "unknown parameter `speed`"),
        ] {
            let error = parse(&[query]).unwrap_err();
            assert!(error.starts_with(message), "{query:?}: {error}");
        }
    }

    #[test]
    fn weights_pick_levels_in_proportion() {
        let choice = LevelChoice::Weighted([70, 20, 10]);
        let mut rng = Rng::new(3);
        let mut counts = [0u32; 3];
        for _ in 0..100_000 {
            let level = choice.pick(&mut rng);
            counts[GenLevel::ALL.iter().position(|l| *l == level).unwrap()] += 1;
        }
        // Binomial standard deviation at n=100000 is at most 145; allow 5 of them.
        for (count, expected) in counts.iter().zip([70_000, 20_000, 10_000]) {
            assert!(count.abs_diff(expected) < 725, "{counts:?}");
        }
    }
}
