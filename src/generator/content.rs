//! What the generated logs talk about: services, their components, and
//! messages that fit the service and the level.

use super::GenLevel;

/// One service's vocabulary.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub components: &'static [&'static str],
    info: &'static [&'static str],
    warn: &'static [&'static str],
    error: &'static [&'static str],
}

type Vocabulary = (&'static str, &'static [&'static str], [&'static [&'static str]; 3]);

/// (service, components, [info, warn, error] messages)
const SERVICES: [Vocabulary; 6] = [
    (
        "auth",
        &["api", "db", "cache"],
        [
            &[
                "token issued",
                "user logged in",
                "session refreshed",
                "password changed",
            ],
            &[
                "token expiring soon",
                "password attempt limit near",
                "slow password hash",
            ],
            &["token expired", "invalid signature", "user store unreachable"],
        ],
    ),
    (
        "orders",
        &["api", "db", "worker"],
        [
            &[
                "order created",
                "order shipped",
                "cart checked out",
                "order cancelled by customer",
            ],
            &[
                "order total recalculated",
                "inventory check slow",
                "retrying order event publish",
            ],
            &["order not found", "order state conflict", "payment callback rejected"],
        ],
    ),
    (
        "payments",
        &["api", "gateway", "db"],
        [
            &[
                "payment authorized",
                "refund issued",
                "invoice generated",
                "payment captured",
            ],
            &[
                "retrying card network",
                "3ds challenge timed out",
                "currency rate stale",
            ],
            &["card declined", "gateway timeout", "duplicate charge blocked"],
        ],
    ),
    (
        "inventory",
        &["api", "db", "worker"],
        [
            &["stock reserved", "stock replenished", "sku updated"],
            &["retrying connection to db", "stock running low", "reservation expired"],
            &["stock count negative", "warehouse sync failed", "sku not found"],
        ],
    ),
    (
        "notifications",
        &["api", "worker", "queue"],
        [
            &["email sent", "push notification delivered", "sms queued"],
            &["provider rate limited", "retrying delivery", "template missing locale"],
            &["email bounced", "push token invalid", "queue unavailable"],
        ],
    ),
    (
        "gateway",
        &["router", "cache", "ratelimit"],
        [
            &["request routed", "cache hit", "upstream healthy"],
            &["rate limit near", "upstream slow", "cache miss storm"],
            &["upstream unavailable", "circuit breaker open", "request timed out"],
        ],
    ),
];

/// For a service we know nothing about.
const GENERIC: Vocabulary = (
    "",
    &["api", "db", "cache", "worker"],
    [
        &["request handled", "job completed", "configuration reloaded"],
        &["retrying connection to db", "slow response", "queue backlog growing"],
        &["request failed", "connection refused", "job crashed"],
    ],
);

impl Profile {
    fn from_vocabulary(name: &str, (_, components, [info, warn, error]): Vocabulary) -> Profile {
        Profile {
            name: name.to_owned(),
            components,
            info,
            warn,
            error,
        }
    }

    /// Every service with its own vocabulary.
    pub fn known() -> Vec<Profile> {
        SERVICES
            .into_iter()
            .map(|vocabulary| Profile::from_vocabulary(vocabulary.0, vocabulary))
            .collect()
    }

    /// The profile of `name`: its own vocabulary if known, a generic one otherwise.
    pub fn for_service(name: &str) -> Profile {
        let vocabulary = SERVICES
            .into_iter()
            .find(|(known, _, _)| *known == name)
            .unwrap_or(GENERIC);
        Profile::from_vocabulary(name, vocabulary)
    }

    pub fn messages(&self, level: GenLevel) -> &'static [&'static str] {
        match level {
            GenLevel::Info => self.info,
            GenLevel::Warn => self.warn,
            GenLevel::Error => self.error,
        }
    }
}
