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
    let invocation = Invocation::new(relay, &request.method).with_time_left(time_left.unwrap_or(DEFAULT_TIME_LEFT));
    Ok(match Connection::open(client(settings), invocation) {
        Ok(connection) => Begun::Relayed {
            request,
            connection,
            streams_body,
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
        request: None,
        result: None,
        connection: None,
    };
    let request = match begun {
        Begun::Answer(result) => {
            bound.kind = "result";
            bound.result = Some(result);
            return Ok(bound);
        }
        Begun::Direct { request } => request,
        Begun::Relayed {
            request,
            connection,
            streams_body,
        } => {
            bound.kind = "relay";
            bound.streams_body = streams_body;
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
    Some(FunctionUrlResult::inline(status, headers, &body, head_request))
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
