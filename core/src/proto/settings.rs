//! The function side's relay settings (docs/protocol.md, "Invocation"): its gateway's URL and
//! the secret it shares with it, checked when the function starts.

use core::time::Duration;

use super::codes::{GATEWAY_URL_ENV, SECRET_ENV};
use super::token::{RelaySecret, TokenError};
use super::url::socket_url;
use super::validate::InvocationError;

/// Default time before the Lambda deadline at which a relayed response is failed with
/// `deadline`, so the client learns at once that it was cut short.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// The function side's relay settings: its gateway and the secret it shares with it.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    gateway_url: String,
    secret: RelaySecret,
}

impl RelaySettings {
    /// Settings for the gateway at `gateway_url`; the URL is checked now, not on the first
    /// invocation.
    pub fn new(gateway_url: impl Into<String>, secret: RelaySecret) -> Result<Self, SettingsError> {
        let gateway_url = gateway_url.into();
        socket_url(&gateway_url, "check").map_err(SettingsError::GatewayUrl)?;
        Ok(Self { gateway_url, secret })
    }

    /// Settings from the values of `RELAY_GATEWAY_URL` and `RELAY_SECRET` (empty counts as
    /// unset): `None` with neither (the function serves direct responses only), an error with
    /// one but not the other or with an invalid value.
    pub fn from_values(gateway_url: Option<&str>, secret: Option<&str>) -> Result<Option<Self>, SettingsError> {
        fn present(v: Option<&str>) -> Option<&str> {
            v.filter(|v| !v.is_empty())
        }
        match (present(gateway_url), present(secret)) {
            (None, None) => Ok(None),
            (Some(url), Some(secret)) => {
                let secret = RelaySecret::new(secret.as_bytes().to_vec()).map_err(SettingsError::Secret)?;
                Self::new(url, secret).map(Some)
            }
            (Some(_), None) => Err(SettingsError::Missing {
                set: GATEWAY_URL_ENV,
                missing: SECRET_ENV,
            }),
            (None, Some(_)) => Err(SettingsError::Missing {
                set: SECRET_ENV,
                missing: GATEWAY_URL_ENV,
            }),
        }
    }

    /// The gateway's base URL.
    pub fn gateway_url(&self) -> &str {
        &self.gateway_url
    }

    /// The shared secret.
    pub fn secret(&self) -> &RelaySecret {
        &self.secret
    }
}

/// Why the function side's relay settings are not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// One of the two settings is set without the other.
    #[error("{set} is set but {missing} is not")]
    Missing {
        /// The one that is set.
        set: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    /// `RELAY_GATEWAY_URL` is not usable.
    #[error("{GATEWAY_URL_ENV}: {0}")]
    GatewayUrl(InvocationError),
    /// `RELAY_SECRET` is not usable.
    #[error("{SECRET_ENV}: {0}")]
    Secret(TokenError),
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123";

    #[test]
    fn settings_come_in_pairs_and_are_checked_up_front() {
        assert!(RelaySettings::from_values(None, Some("")).unwrap().is_none());
        assert_eq!(
            RelaySettings::from_values(Some("wss://gw"), None).unwrap_err(),
            SettingsError::Missing {
                set: GATEWAY_URL_ENV,
                missing: SECRET_ENV
            }
        );
        assert_eq!(
            RelaySettings::from_values(None, Some(SECRET)).unwrap_err(),
            SettingsError::Missing {
                set: SECRET_ENV,
                missing: GATEWAY_URL_ENV
            }
        );
        assert!(matches!(
            RelaySettings::from_values(Some("ftp://gw"), Some(SECRET)),
            Err(SettingsError::GatewayUrl(InvocationError::BadGatewayUrl(_)))
        ));
        assert!(matches!(
            RelaySettings::from_values(Some("wss://gw"), Some("short")),
            Err(SettingsError::Secret(TokenError::WeakSecret { len: 5 }))
        ));
    }
}
