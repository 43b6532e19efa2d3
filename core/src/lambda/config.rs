//! How a Rust function relays: its settings, its clock, and why an invocation failed.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::adapter::EventError;
use crate::client::ClientConfig;
use crate::proto::{RelaySettings, SettingsError, GATEWAY_URL_ENV, SECRET_ENV};

/// The wall clock the integration reads: for token expiry and the Lambda deadline. Tests
/// inject a fixed one so deadline behaviour needs no real waiting.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(SystemTime::now))
    }

    /// A clock that reads `now`.
    pub fn new(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> SystemTime {
        (self.0)()
    }

    pub(super) fn unix_millis(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock(..)")
    }
}

/// How relayed invocations are handled.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The relay settings: `Ok(None)` serves direct responses only; an error is kept, so
    /// relay invocations are answered 500 `unconfigured` naming it while direct ones are
    /// still served.
    pub settings: Result<Option<RelaySettings>, SettingsError>,
    /// The client's settings for relayed invocations; its gateway URL is the settings'.
    pub client: ClientConfig,
    /// The clock for token expiry and the deadline.
    pub clock: Clock,
}

impl RelayConfig {
    /// Relays through the gateway of `settings`.
    pub fn new(settings: RelaySettings) -> Self {
        Self {
            client: ClientConfig::new(settings.gateway_url()),
            settings: Ok(Some(settings)),
            clock: Clock::system(),
        }
    }

    /// Serves every invocation as a direct, buffered response.
    pub fn direct_only() -> Self {
        Self {
            settings: Ok(None),
            client: ClientConfig::new(""),
            clock: Clock::system(),
        }
    }

    /// Reads `RELAY_GATEWAY_URL` and `RELAY_SECRET` ([`RelaySettings::from_values`]).
    pub fn from_env() -> Self {
        let url = std::env::var(GATEWAY_URL_ENV).ok();
        let secret = std::env::var(SECRET_ENV).ok();
        match RelaySettings::from_values(url.as_deref(), secret.as_deref()) {
            Ok(Some(settings)) => Self::new(settings),
            other => Self {
                settings: other,
                ..Self::direct_only()
            },
        }
    }
}

/// Why an invocation could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event is not one the adapter reads.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The handler failed (direct mode).
    #[error("handler failed: {0}")]
    Handler(String),
}
