//! Caps on how many services, and components of each service, are counted
//! apart (`pipeline.max_services`, `pipeline.max_components_per_service`):
//! names past them count under [`OTHER_NAME`], with a warning, so that a
//! log naming a new service on every line cannot grow the store and every
//! `/stats` without bound. The aggregator, the only writer, applies them.

use std::collections::{HashMap, HashSet};

use tracing::warn;

use crate::model::{Delta, ServiceDelta, add_counts};
use crate::store::{Store, StoreError};

/// Where lines of names past a cap are counted.
pub const OTHER_NAME: &str = "_other";

/// The names counted so far, and the caps.
pub struct NameCaps {
    max_services: usize,
    max_components: usize,
    /// Each service counted, with its components.
    known: HashMap<String, HashSet<String>>,
    /// Lines counted under [`OTHER_NAME`] this run for each cap (services,
    /// components), for the warnings.
    overflowed: [u64; 2],
}

impl NameCaps {
    /// The caps, over the names `store` has counted already.
    pub fn load(store: &dyn Store, max_services: usize, max_components: usize) -> Result<NameCaps, StoreError> {
        let mut known: HashMap<String, HashSet<String>> = HashMap::new();
        for counted in store.components(None)? {
            known.entry(counted.service).or_default().insert(counted.component);
        }
        Ok(NameCaps {
            max_services,
            max_components,
            known,
            overflowed: [0; 2],
        })
    }

    /// `delta` with the names past a cap replaced by [`OTHER_NAME`].
    pub fn apply(&mut self, delta: Delta) -> Delta {
        let fits = delta.services.iter().all(|(service, counts)| {
            self.known
                .get(service)
                .is_some_and(|components| counts.components.keys().all(|component| components.contains(component)))
        });
        if fits {
            return delta;
        }
        let mut capped = Delta {
            services: HashMap::new(),
            ..delta
        };
        // In name order: which new names fit does not depend on a hash.
        let mut services: Vec<_> = delta.services.into_iter().collect();
        services.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (service, counts) in services {
            let service = self.service(service, &counts);
            let into = capped.services.entry(service.clone()).or_default();
            let mut components: Vec<_> = counts.components.into_iter().collect();
            components.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (component, by_level) in components {
                let component = self.component(&service, component, &by_level);
                add_counts(into.components.entry(component).or_default(), &by_level);
            }
            for (minute, by_level) in counts.minutes {
                add_counts(into.minutes.entry(minute).or_default(), &by_level);
            }
        }
        capped
    }

    /// The name `service` is counted under.
    fn service(&mut self, service: String, counts: &ServiceDelta) -> String {
        if self.known.contains_key(&service) || service == OTHER_NAME {
            return service;
        }
        // `_other` does not take a place of its own.
        let counted = self.known.len() - usize::from(self.known.contains_key(OTHER_NAME));
        if counted < self.max_services {
            self.known.insert(service.clone(), HashSet::new());
            return service;
        }
        let lines: u64 = counts.components.values().flatten().sum();
        let max = self.max_services;
        self.overflow(0, lines, || {
            format!("more services than pipeline.max_services ({max}): lines of new ones count under `{OTHER_NAME}`")
        });
        OTHER_NAME.to_owned()
    }

    /// The name `component` of `service` is counted under.
    fn component(&mut self, service: &str, component: String, by_level: &crate::model::LevelCounts) -> String {
        let max = self.max_components;
        let components = self.known.entry(service.to_owned()).or_default();
        if components.contains(&component) || component == OTHER_NAME {
            return component;
        }
        let counted = components.len() - usize::from(components.contains(OTHER_NAME));
        if counted < max {
            components.insert(component.clone());
            return component;
        }
        let lines = by_level.iter().sum();
        self.overflow(1, lines, || {
            format!(
                "service `{service}` has more components than pipeline.max_components_per_service ({max}): lines of new ones count under `{OTHER_NAME}`"
            )
        });
        OTHER_NAME.to_owned()
    }

    /// Counts lines moved to `_other` past cap `which`; warns the first
    /// time, then at every power of ten.
    fn overflow(&mut self, which: usize, lines: u64, what: impl FnOnce() -> String) {
        let before = self.overflowed[which];
        let after = before + lines;
        self.overflowed[which] = after;
        let crossed = before == 0 || before.ilog10() != after.max(1).ilog10();
        if crossed && lines > 0 {
            warn!(lines_so_far = after, "{}", what());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;
    use crate::store::MemoryStore;

    fn delta(lines: &[(&str, &str)]) -> Delta {
        let mut delta = Delta::default();
        for (service, component) in lines {
            delta.record(service, component, Level::Info, 60_000);
        }
        delta
    }

    #[test]
    fn names_past_the_caps_count_under_other() {
        let mut caps = NameCaps::load(&MemoryStore::default(), 2, 2).unwrap();
        let capped = caps.apply(delta(&[
            ("a", "x"),
            ("b", "x"),
            ("c", "x"),
            ("d", "y"),
            ("a", "y"),
            ("a", "z"),
        ]));
        let mut names: Vec<(String, Vec<String>)> = capped
            .services
            .iter()
            .map(|(service, counts)| {
                let mut components: Vec<String> = counts.components.keys().cloned().collect();
                components.sort();
                (service.clone(), components)
            })
            .collect();
        names.sort();
        // In name order: a and b fit; a has room for x and y, not z; c and
        // d go to _other, which keeps their components.
        assert_eq!(
            names,
            [
                ("_other".to_owned(), vec!["x".to_owned(), "y".to_owned()]),
                (
                    "a".to_owned(),
                    vec!["_other".to_owned(), "x".to_owned(), "y".to_owned()]
                ),
                ("b".to_owned(), vec!["x".to_owned()]),
            ]
        );
        assert_eq!(capped.parsed, 6);
        let minutes: u64 = capped
            .services
            .values()
            .flat_map(|s| s.minutes.values().flatten())
            .sum();
        assert_eq!(minutes, 6);
        // Known names stay themselves later on.
        let again = caps.apply(delta(&[("b", "x"), ("e", "x")]));
        assert!(again.services.contains_key("b") && again.services.contains_key("_other"));
    }
}
