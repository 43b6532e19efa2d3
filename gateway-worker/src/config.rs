//! The gateway's settings: vars with defaults, and the secret it refuses to run without.

use std::time::Duration;

use js_sys::{Object, Reflect, JSON};
use lambda_relay::proto::{self, RelaySecret};
use wasm_bindgen::JsValue;
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
    /// `BUFFER_BUDGET`: bytes the sessions of one isolate may be made to hold, shared
    /// ([`proto::BufferBudget`]). The gateway's, not a route's: routes share the isolate.
    pub buffer_budget: u64,
}

impl GatewayConfig {
    /// Reads and checks every setting from the Worker's environment; the error names the one
    /// that is wrong.
    pub fn from_env(env: &Env) -> Result<Self, String> {
        Self::from_settings(&Settings { env, route: None })
    }

    /// As [`from_env`](Self::from_env), with a route's settings ([`route_snapshot`], sent by
    /// the Worker with the request) in place of the environment's for [`ROUTE_SETTINGS`].
    pub fn for_route(env: &Env, route: Option<&str>) -> Result<Self, String> {
        let route = match route {
            None => None,
            Some(json) => match JSON::parse(json) {
                Ok(value) if value.is_object() => Some(Object::from(value)),
                _ => return Err("the route's settings are not a JSON object".into()),
            },
        };
        Self::from_settings(&Settings { env, route })
    }

    fn from_settings(settings: &Settings<'_>) -> Result<Self, String> {
        let env = settings.env;
        let secret = secret(env)?;
        let lambda_url = settings
            .var("LAMBDA_URL")
            .ok_or("LAMBDA_URL is not set: set it to your function's URL")?;
        proto::check_function_url(&lambda_url).map_err(|e| format!("LAMBDA_URL: {e}"))?;
        // As fetch will send it (host lowercased, a default port dropped, the path normalised):
        // the signature and the token's binding are made over what is sent.
        let parsed = worker::Url::parse(&lambda_url).map_err(|e| format!("LAMBDA_URL: {e}"))?;
        let lambda_origin = parsed.origin().ascii_serialization();
        let lambda_path = parsed.path().trim_end_matches('/').to_owned();
        let mut session = proto::Config::default();
        if let Some(ms) = settings.number("CONNECT_TIMEOUT_MS")? {
            session.connect_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = settings.number("RESUME_GRACE_MS")? {
            session.resume_grace = Duration::from_millis(ms);
        }
        if let Some(ms) = settings.number("KEEPALIVE_MS")? {
            session.keepalive = Duration::from_millis(ms);
        }
        if let Some(ms) = settings.number("IDLE_TIMEOUT_MS")? {
            session.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = settings.number("UPLOAD_IDLE_MS")? {
            session.upload_idle = Duration::from_millis(ms);
        }
        if let Some(n) = settings.number("MAX_PAYLOAD")? {
            session.max_payload = u32::try_from(n).map_err(|_| "MAX_PAYLOAD is too large".to_owned())?;
        }
        if let Some(n) = settings.number("WINDOW")? {
            session.window = u32::try_from(n).map_err(|_| "WINDOW is too large".to_owned())?;
        }
        if let Some(n) = settings.number("MAX_HEADER_BYTES")? {
            session.max_header_bytes = u32::try_from(n).map_err(|_| "MAX_HEADER_BYTES is too large".to_owned())?;
        }
        session.validate().map_err(|e| format!("gateway limits: {e}"))?;
        let signer = proto::sigv4::InvocationSigner::from_settings(
            settings.var("LAMBDA_AUTH").as_deref(),
            settings.secret("AWS_ACCESS_KEY_ID").as_deref(),
            settings.secret("AWS_SECRET_ACCESS_KEY").as_deref(),
            settings.secret("AWS_SESSION_TOKEN").as_deref(),
            settings.var("AWS_REGION").as_deref(),
            &lambda_origin,
        )?;
        let location_hint = proto::location_hint(
            settings.var("DO_LOCATION").as_deref(),
            proto::sigv4::function_url_region(&lambda_origin),
        )?;
        Ok(Self {
            secret,
            lambda_origin,
            lambda_path,
            inline_body_limit: match settings.number("INLINE_BODY_LIMIT")? {
                Some(n) => proto::in_range("INLINE_BODY_LIMIT", n, 0, proto::MAX_INLINE_BODY_LIMIT)
                    .map_err(|e| e.to_string())?,
                None => proto::DEFAULT_INLINE_BODY_LIMIT,
            },
            token_ttl: match settings.number("TOKEN_TTL_S")? {
                Some(s) => Duration::from_secs(
                    proto::in_range("TOKEN_TTL_S", s, proto::MIN_TOKEN_TTL_S, proto::MAX_TOKEN_TTL_S)
                        .map_err(|e| e.to_string())?,
                ),
                None => DEFAULT_TOKEN_TTL,
            },
            signer,
            location_hint,
            session,
            buffer_budget: match settings.number("BUFFER_BUDGET")? {
                Some(n) => proto::in_range("BUFFER_BUDGET", n, proto::MIN_BUFFER_BUDGET, proto::MAX_BUFFER_BUDGET)
                    .map_err(|e| e.to_string())?,
                None => proto::DEFAULT_BUFFER_BUDGET,
            },
        })
    }
}

/// `RELAY_SECRET`, which the gateway does not run without: every route's.
pub fn secret(env: &Env) -> Result<RelaySecret, String> {
    let secret = env
        .secret(proto::SECRET_ENV)
        .map(|s| s.to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or("RELAY_SECRET is not set: the gateway does not run without one")?;
    RelaySecret::new(secret).map_err(|e| format!("RELAY_SECRET: {e}"))
}

/// `RELAY_SOCKET_PATH`, with a `/` at each end: where the functions' sockets come, whatever
/// route their requests took.
pub fn socket_path(env: &Env) -> String {
    let mut path = var(env, "RELAY_SOCKET_PATH").unwrap_or_else(|| proto::DEFAULT_SOCKET_PATH.to_owned());
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    path
}

/// The settings a route may set for itself (`relay(request, env, ctx, { … })` in the
/// package's JS): the function and how to invoke it, and the session's limits. The relay
/// secret and the socket path are the gateway's, shared by every route.
pub const ROUTE_SETTINGS: [&str; 17] = [
    "LAMBDA_URL",
    "LAMBDA_AUTH",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "DO_LOCATION",
    "INLINE_BODY_LIMIT",
    "TOKEN_TTL_S",
    "CONNECT_TIMEOUT_MS",
    "RESUME_GRACE_MS",
    "KEEPALIVE_MS",
    "IDLE_TIMEOUT_MS",
    "UPLOAD_IDLE_MS",
    "MAX_PAYLOAD",
    "WINDOW",
    "MAX_HEADER_BYTES",
];

/// The request header that carries a route's settings from the Worker to its Durable Object.
/// The Worker removes any a client sent and sets its own; it never reaches the function
/// (`x-lambda-relay-*` headers are not forwarded).
pub const ROUTE_HEADER: &str = "x-lambda-relay-route";

/// The property of the env `relay()` gives the gateway that holds the route's own settings
/// (only those it sets), as JSON.
const ROUTE_PROPERTY: &str = "LAMBDA_RELAY_ROUTE";

/// The route's own settings, as JSON for [`ROUTE_HEADER`]: what `relay()` set (`{}` for none).
/// Only those travel to the Durable Object, which reads every other setting from its own env.
pub fn route_overrides(env: &Env) -> String {
    Reflect::get(env.as_ref(), &JsValue::from_str(ROUTE_PROPERTY))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "{}".into())
}

/// Where settings come from: a route's own, for the names it may set and sets (even to
/// nothing), else the environment.
struct Settings<'a> {
    env: &'a Env,
    route: Option<Object>,
}

impl Settings<'_> {
    /// The route's value for `name`, if the route sets it: `Some(None)` when it sets it empty.
    fn routed(&self, name: &str) -> Option<Option<String>> {
        let route = self.route.as_ref().filter(|_| ROUTE_SETTINGS.contains(&name))?;
        let key = JsValue::from_str(name);
        if !Reflect::has(route, &key).unwrap_or(false) {
            return None;
        }
        Some(Reflect::get(route, &key).ok().and_then(|v| text(&v)))
    }

    fn var(&self, name: &str) -> Option<String> {
        match self.routed(name) {
            Some(value) => value,
            None => var(self.env, name),
        }
    }

    /// A secret (or, for local development, a var of that name).
    fn secret(&self, name: &str) -> Option<String> {
        if let Some(value) = self.routed(name) {
            return value;
        }
        self.env
            .secret(name)
            .map(|s| s.to_string())
            .ok()
            .or_else(|| var(self.env, name))
            .filter(|s| !s.is_empty())
    }

    fn number(&self, name: &str) -> Result<Option<u64>, String> {
        self.var(name)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{name} must be a whole number, got {v:?}"))
            })
            .transpose()
    }
}

/// A var: text, or a number as wrangler.toml's `[vars]` may write it (`WINDOW = 65536`).
fn var(env: &Env, name: &str) -> Option<String> {
    text(&Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?)
}

/// A setting's value as text: a non-empty string, or a number.
fn text(value: &JsValue) -> Option<String> {
    if let Some(s) = value.as_string() {
        return (!s.is_empty()).then_some(s);
    }
    let n = value.as_f64()?;
    Some(if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    })
}
