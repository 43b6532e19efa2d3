//! The gateway's settings: vars with defaults, and the secret it refuses to run without.

use std::time::Duration;

use lambda_relay::proto::{self, RelaySecret};
use worker::Env;

/// Default lifetime of a relay token: Lambda's longest run (15 min) plus a margin.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(16 * 60);

/// Everything the gateway reads from its environment.
pub struct GatewayConfig {
    /// `RELAY_SECRET`: mints and verifies tokens.
    pub secret: RelaySecret,
    /// `LAMBDA_URL`'s origin (`https://host[:port]`): every client request invokes it.
    pub lambda_origin: String,
    /// `LAMBDA_URL`'s own path without its trailing `/` (usually empty): it prefixes the
    /// client's path.
    pub lambda_path: String,
    /// `RELAY_SOCKET_PATH`: prefix of the relay socket path (default `/_relay/`).
    pub socket_path: String,
    /// `INLINE_BODY_LIMIT`: largest request body of known length sent inline.
    pub inline_body_limit: u64,
    /// `TOKEN_TTL_S`: how long a token stays valid.
    pub token_ttl: Duration,
    /// `LAMBDA_AUTH = "aws_iam"`: signs every invocation with the key in the secrets
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), for the region
    /// of `LAMBDA_URL` or `AWS_REGION`.
    pub signer: Option<proto::sigv4::InvocationSigner>,
    /// `DO_LOCATION`: the location hint for each request's Durable Object (`auto`: near the
    /// function's region; `off`: near the client).
    pub location_hint: Option<&'static str>,
    /// Session limits and timings (`CONNECT_TIMEOUT_MS`, `RESUME_GRACE_MS`, `KEEPALIVE_MS`,
    /// `IDLE_TIMEOUT_MS`, `UPLOAD_IDLE_MS`, `MAX_PAYLOAD`, `WINDOW`, `MAX_HEADER_BYTES`).
    pub session: proto::Config,
}

impl GatewayConfig {
    /// Reads and checks every setting; the error names the one that is wrong.
    pub fn from_env(env: &Env) -> Result<Self, String> {
        let secret = env
            .secret(proto::SECRET_ENV)
            .map(|s| s.to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or("RELAY_SECRET is not set: the gateway does not run without one")?;
        let secret = RelaySecret::new(secret).map_err(|e| format!("RELAY_SECRET: {e}"))?;
        let lambda_url = var(env, "LAMBDA_URL").ok_or("LAMBDA_URL is not set: set it to your function's URL")?;
        proto::check_function_url(&lambda_url).map_err(|e| format!("LAMBDA_URL: {e}"))?;
        // As fetch will send it (host lowercased, a default port dropped, the path normalised):
        // the signature and the token's binding are made over what is sent.
        let parsed = worker::Url::parse(&lambda_url).map_err(|e| format!("LAMBDA_URL: {e}"))?;
        let lambda_origin = parsed.origin().ascii_serialization();
        let lambda_path = parsed.path().trim_end_matches('/').to_owned();
        let mut socket_path = var(env, "RELAY_SOCKET_PATH").unwrap_or_else(|| proto::DEFAULT_SOCKET_PATH.to_owned());
        if !socket_path.starts_with('/') {
            socket_path.insert(0, '/');
        }
        if !socket_path.ends_with('/') {
            socket_path.push('/');
        }
        let mut session = proto::Config::default();
        if let Some(ms) = number(env, "CONNECT_TIMEOUT_MS")? {
            session.connect_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = number(env, "RESUME_GRACE_MS")? {
            session.resume_grace = Duration::from_millis(ms);
        }
        if let Some(ms) = number(env, "KEEPALIVE_MS")? {
            session.keepalive = Duration::from_millis(ms);
        }
        if let Some(ms) = number(env, "IDLE_TIMEOUT_MS")? {
            session.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = number(env, "UPLOAD_IDLE_MS")? {
            session.upload_idle = Duration::from_millis(ms);
        }
        if let Some(n) = number(env, "MAX_PAYLOAD")? {
            session.max_payload = u32::try_from(n).map_err(|_| "MAX_PAYLOAD is too large".to_owned())?;
        }
        if let Some(n) = number(env, "WINDOW")? {
            session.window = u32::try_from(n).map_err(|_| "WINDOW is too large".to_owned())?;
        }
        if let Some(n) = number(env, "MAX_HEADER_BYTES")? {
            session.max_header_bytes = u32::try_from(n).map_err(|_| "MAX_HEADER_BYTES is too large".to_owned())?;
        }
        session.validate().map_err(|e| format!("gateway limits: {e}"))?;
        let secret_var = |name| {
            env.secret(name)
                .map(|s| s.to_string())
                .ok()
                .or_else(|| var(env, name))
                .filter(|s| !s.is_empty())
        };
        let signer = proto::sigv4::InvocationSigner::from_settings(
            var(env, "LAMBDA_AUTH").as_deref(),
            secret_var("AWS_ACCESS_KEY_ID").as_deref(),
            secret_var("AWS_SECRET_ACCESS_KEY").as_deref(),
            secret_var("AWS_SESSION_TOKEN").as_deref(),
            var(env, "AWS_REGION").as_deref(),
            &lambda_origin,
        )?;
        let location_hint = proto::location_hint(
            var(env, "DO_LOCATION").as_deref(),
            proto::sigv4::function_url_region(&lambda_origin),
        )?;
        Ok(Self {
            secret,
            lambda_origin,
            lambda_path,
            socket_path,
            inline_body_limit: match number(env, "INLINE_BODY_LIMIT")? {
                Some(n) => proto::in_range("INLINE_BODY_LIMIT", n, 0, proto::MAX_INLINE_BODY_LIMIT)
                    .map_err(|e| e.to_string())?,
                None => proto::DEFAULT_INLINE_BODY_LIMIT,
            },
            token_ttl: match number(env, "TOKEN_TTL_S")? {
                Some(s) => Duration::from_secs(
                    proto::in_range("TOKEN_TTL_S", s, proto::MIN_TOKEN_TTL_S, proto::MAX_TOKEN_TTL_S)
                        .map_err(|e| e.to_string())?,
                ),
                None => DEFAULT_TOKEN_TTL,
            },
            signer,
            location_hint,
            session,
        })
    }
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string()).filter(|v| !v.is_empty())
}

fn number(env: &Env, name: &str) -> Result<Option<u64>, String> {
    var(env, name)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{name} must be a whole number, got {v:?}"))
        })
        .transpose()
}
