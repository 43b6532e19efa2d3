//! Beginning an invocation, and the relay's parts of its result.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::{EventError, FunctionUrlResult, RequestView};
use crate::client::{ClientConfig, Connection, Error, Invocation, ResponseWriter};
use crate::proto::{self, Classification, InvocationResult, RelaySettings, SettingsError};

/// The time an invocation may run when its host does not say (a local server without a
/// deadline): Lambda's longest.
pub const DEFAULT_TIME_LEFT: Duration = Duration::from_secs(15 * 60);

/// What an invocation is, begun.
pub enum Begun {
    /// No relay headers: the handler answers in the invocation result.
    Direct {
        /// The request the handler sees.
        request: RequestView,
    },
    /// Relayed: the connection is opening.
    Relayed {
        /// The request the handler sees.
        request: RequestView,
        /// The connection.
        connection: Connection,
        /// Whether the request body streams over the socket (else it is the event's own).
        streams_body: bool,
        /// Whether the request is a client's WebSocket upgrade, which the handler may accept
        /// (`client::websocket`).
        websocket: bool,
    },
    /// Refused, unconfigured, or the relay could not open: answer with this; the handler
    /// does not run.
    Answer(FunctionUrlResult),
}

/// Begins an invocation: classifies it by its event's headers, the function's relay
/// settings and the time `now` (for the token's expiry); reads the request; and for a relay invocation starts connecting
/// with `client` (given the settings' gateway URL). `time_left` is the Lambda context's
/// remaining time ([`DEFAULT_TIME_LEFT`] when unknown). Call it inside a tokio runtime: the
/// connection runs on it. A refused invocation is answered whatever its event; an event the
/// adapter cannot read is an error.
pub fn begin(
    event: &Value,
    settings: Result<Option<&RelaySettings>, &SettingsError>,
    client: impl FnOnce(&RelaySettings) -> ClientConfig,
    time_left: Option<Duration>,
    now: SystemTime,
) -> Result<Begun, EventError> {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    // Read as relayed only if it says so; believed only once classified so.
    let says_relayed = event_header(event, proto::RELAY_ID_HEADER).is_some();
    let view = RequestView::from_event(event, says_relayed);
    let path_and_query = view.as_ref().map(RequestView::path_and_query).unwrap_or_default();
    let token_request = view.as_ref().ok().map(|v| v.token_request(&path_and_query));
    let classification = proto::classify_invocation(|name| event_header(event, name), token_request, settings, now);
    let relay = match classification {
        Classification::Direct => return Ok(Begun::Direct { request: view? }),
        Classification::Refused(result) => return Ok(Begun::Answer(FunctionUrlResult::relay(&result))),
        Classification::Relayed(relay) => relay,
    };
    let Ok(Some(settings)) = settings else {
        unreachable!("classify_invocation relays only with valid settings")
    };
    let request = view?;
    let streams_body = relay.body_mode == proto::BodyMode::Stream;
    let websocket = relay.body_mode == proto::BodyMode::WebSocket;
    let invocation = Invocation::new(relay, &request.method).with_time_left(time_left.unwrap_or(DEFAULT_TIME_LEFT));
    Ok(match Connection::open(client(settings), invocation) {
        Ok(connection) => Begun::Relayed {
            request,
            connection,
            streams_body,
            websocket,
        },
        Err(e) => Begun::Answer(FunctionUrlResult::relay(&e.invocation_result())),
    })
}

/// An invocation begun for another language's binding, in the parts each hands its language
/// (the Node addon, the Python module): the same for both, so each only converts types.
pub struct Bound {
    /// `direct`, `relay` or `result`.
    pub kind: &'static str,
    /// Whether the request body streams over the socket (else it is the event's own).
    pub streams_body: bool,
    /// Whether the request is a client's WebSocket upgrade the handler may accept.
    pub websocket: bool,
    /// The request the handler sees and the event it may see ([`handler_event`]), for
    /// `direct` and `relay`.
    pub request: Option<(RequestView, Value)>,
    /// The invocation's result, for `result`.
    pub result: Option<FunctionUrlResult>,
    /// The connection and whether the request is a HEAD (its response has no body), for
    /// `relay`.
    pub connection: Option<(Connection, bool)>,
}

/// [`begin`] for a binding: the settings from the values of `RELAY_GATEWAY_URL` and
/// `RELAY_SECRET` its language read, the remaining time as its language reports it
/// (milliseconds), the system clock. Call it inside a tokio runtime.
pub fn begin_bound(
    event: Value,
    gateway_url: Option<&str>,
    secret: Option<&str>,
    time_left_ms: Option<f64>,
) -> Result<Bound, EventError> {
    let settings = RelaySettings::from_values(gateway_url, secret);
    let begun = begin(
        &event,
        settings.as_ref().map(Option::as_ref),
        |s| ClientConfig::new(s.gateway_url()),
        time_left(time_left_ms),
        SystemTime::now(),
    )?;
    let mut bound = Bound {
        kind: "direct",
        streams_body: false,
        websocket: false,
        request: None,
        result: None,
        connection: None,
    };
    let request = match begun {
        Begun::Answer(result) => {
            log_answer(&event, &result);
            bound.kind = "result";
            bound.result = Some(result);
            return Ok(bound);
        }
        Begun::Direct { request } => request,
        Begun::Relayed {
            request,
            connection,
            streams_body,
            websocket,
        } => {
            bound.kind = "relay";
            bound.streams_body = streams_body;
            bound.websocket = websocket;
            bound.connection = Some((connection, request.is_head()));
            request
        }
    };
    let seen = super::handler_event(event, &request);
    bound.request = Some((request, seen));
    Ok(bound)
}

/// An event's header, by lowercase name, whatever case the event spells it in.
pub fn event_header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    let headers = event.get("headers")?.as_object()?;
    match headers.get(name) {
        Some(value) => value.as_str(),
        None => headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str()),
    }
}

/// The remaining time a host language reports (milliseconds, maybe fractional or bogus).
pub fn time_left(ms: Option<f64>) -> Option<Duration> {
    ms.filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_millis(ms as u64))
}

/// Answers in the invocation result instead of over the socket, if the relay allows it
/// ([`FunctionSession::respond_inline`](crate::proto::FunctionSession::respond_inline): the
/// request body did not stream, the status is one the relay carries, and the body — all of
/// `chunks` — is complete and small): the result, or `None` when the response must stream.
pub fn respond_inline<C: AsRef<[u8]>>(
    writer: &mut ResponseWriter,
    status: StatusCode,
    headers: HeaderMap,
    chunks: &[C],
    head_request: bool,
) -> Option<FunctionUrlResult> {
    let len = chunks.iter().map(|c| c.as_ref().len()).sum();
    let keeps_body = writer.respond_inline(status, len).ok()?;
    let body = if keeps_body {
        crate::client::binding::join(chunks)
    } else {
        Default::default()
    };
    let result = FunctionUrlResult::inline(status, headers, &body, head_request);
    let relay = writer.status();
    log_relay(relay.relay_id(), &result, relay.elapsed());
    Some(result)
}

/// The setting that chooses which invocations the function logs: `warn` (default: relays
/// that did not complete, refused invocations), `info` (every relayed invocation), `off`.
pub const LOG_ENV: &str = "LAMBDA_RELAY_LOG";

/// The function's log line for a relayed (or refused) invocation, as JSON, if `LAMBDA_RELAY_LOG`
/// (`level`, read by the caller) lets it through: `event`, `level`, `relay_id`, `status`,
/// `outcome`, `duration_ms`, and for a relay that did not complete its `error`. The relay id
/// is the gateway's log line's and the client's `x-lambda-relay-id` (docs/operations.md).
pub fn relay_log_line(
    level: Option<&str>,
    relay_id: &str,
    result: &FunctionUrlResult,
    elapsed: Duration,
) -> Option<String> {
    let outcome = result
        .headers
        .get(proto::RELAY_OUTCOME_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let warn = !matches!(outcome, "relayed" | "complete");
    let enabled = match level.map(str::trim) {
        Some("off") => false,
        Some("info" | "debug") => true,
        _ => warn,
    };
    if !enabled {
        return None;
    }
    let mut line = serde_json::json!({
        "event": "lambda-relay.invocation",
        "level": if warn { "warn" } else { "info" },
        "relay_id": relay_id,
        "status": result.status_code,
        "outcome": outcome,
        "duration_ms": elapsed.as_millis() as u64,
    });
    if warn {
        line["error"] = result.body.clone().map_or(Value::Null, Value::String);
    }
    Some(line.to_string())
}

/// Writes [`relay_log_line`] to standard error (Lambda's log), with the level from the
/// environment. Every binding calls it once per relayed or refused invocation.
pub fn log_relay(relay_id: &str, result: &FunctionUrlResult, elapsed: Duration) {
    let level = std::env::var(LOG_ENV).ok();
    if let Some(line) = relay_log_line(level.as_deref(), relay_id, result, elapsed) {
        eprintln!("{line}");
    }
}

/// [`log_relay`] for an invocation answered without a relay (refused, unconfigured), if its
/// event names a relay id.
pub fn log_answer(event: &Value, result: &FunctionUrlResult) {
    if let Some(relay_id) = event_header(event, proto::RELAY_ID_HEADER) {
        log_relay(&proto::clip(relay_id), result, Duration::ZERO);
    }
}

/// The invocation's result once its relay is over: the relay's own failure if it had one
/// (the client leaving is `aborted`), else `failure` (why the wrapper's own work failed, if
/// it did and the relay does not know), else `relayed`.
pub fn relay_result(over: Option<Error>, failure: Option<String>) -> FunctionUrlResult {
    FunctionUrlResult::relay(&match (over, failure) {
        (Some(e), _) => e.invocation_result(),
        (None, Some(why)) => InvocationResult::failed(why),
        (None, None) => InvocationResult::relayed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_invocations_log_line_is_quiet_unless_it_went_wrong_or_was_asked_for() {
        let ok = FunctionUrlResult::relay(&InvocationResult::relayed());
        let failed = FunctionUrlResult::relay(&InvocationResult::failed("the socket broke"));
        let took = Duration::from_millis(1234);
        assert_eq!(relay_log_line(None, "r1", &ok, took), None, "quiet by default");
        assert_eq!(relay_log_line(Some("off"), "r1", &failed, took), None);
        let line: Value = serde_json::from_str(&relay_log_line(Some("info"), "r1", &ok, took).unwrap()).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "event": "lambda-relay.invocation", "level": "info", "relay_id": "r1",
                "status": 200, "outcome": "relayed", "duration_ms": 1234
            })
        );
        let line: Value = serde_json::from_str(&relay_log_line(None, "r1", &failed, took).unwrap()).unwrap();
        assert_eq!(
            (
                line["level"].as_str(),
                line["outcome"].as_str(),
                line["status"].as_u64()
            ),
            (Some("warn"), Some("failed"), Some(502))
        );
        assert!(line["error"].as_str().unwrap().contains("the socket broke"), "{line}");
    }
}
