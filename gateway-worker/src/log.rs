//! One structured log line per client request (docs/operations.md): Workers Logs indexes the
//! JSON fields, and the relay id in it is the one the client's `x-lambda-relay-id` header and
//! the function's own log line carry.

use lambda_relay::proto::{ExchangeSummary, Timestamp};
use wasm_bindgen::JsValue;

/// What the gateway knows of a request until it logs it, once.
pub(crate) struct RequestLog {
    relay_id: String,
    method: String,
    path: String,
    started: Timestamp,
    /// The status the client got, and when its head left.
    responded: Option<(u16, Timestamp)>,
    /// How the response started when the session did not carry it: `inline`, `passthrough`,
    /// or `failed` with the error code the client got.
    decided: Option<(&'static str, Option<&'static str>, String)>,
    written: bool,
}

impl RequestLog {
    pub(crate) fn new(relay_id: &str, method: &str, path: &str, now: Timestamp) -> Self {
        Self {
            relay_id: relay_id.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            started: now,
            responded: None,
            decided: None,
            written: false,
        }
    }

    /// The client's head left with `status` at `now`.
    pub(crate) fn responded(&mut self, status: u16, now: Timestamp) {
        self.responded.get_or_insert((status, now));
    }

    /// The response was decided without the relay's stream: `outcome`, and for a failure the
    /// error code and text the client got.
    pub(crate) fn decided(&mut self, outcome: &'static str, code: Option<&'static str>, error: String) {
        self.decided = Some((outcome, code, error));
    }

    /// Whether the line is still to be written.
    pub(crate) fn pending(&self) -> bool {
        !self.written && self.responded.is_some()
    }

    /// Writes the line (once), with what the session says of the exchange at `now`.
    pub(crate) fn write(&mut self, summary: &ExchangeSummary, now: Timestamp) {
        if !self.pending() {
            return;
        }
        self.written = true;
        let (status, head_at) = self.responded.expect("pending() checked it");
        let (outcome, code, error) = match &self.decided {
            Some((outcome, code, error)) => (*outcome, *code, (!error.is_empty()).then_some(error.as_str())),
            None => (summary.outcome, None, summary.error.as_deref()),
        };
        let line = js_sys::Object::new();
        let set = |key: &str, value: JsValue| {
            let _ = js_sys::Reflect::set(&line, &key.into(), &value);
        };
        let ms = |from: Timestamp, to: Timestamp| JsValue::from_f64(to.saturating_since(from).as_millis() as f64);
        set("event", "lambda-relay.request".into());
        set("relay_id", self.relay_id.as_str().into());
        set("method", self.method.as_str().into());
        set("path", self.path.as_str().into());
        set("status", JsValue::from_f64(f64::from(status)));
        set("outcome", outcome.into());
        if let Some(code) = code {
            set("error_code", code.into());
        }
        if let Some(error) = error {
            set("error", error.into());
        }
        set("request_bytes", JsValue::from_f64(summary.request_bytes as f64));
        set("response_bytes", JsValue::from_f64(summary.response_bytes as f64));
        set("ttfb_ms", ms(self.started, head_at));
        set("duration_ms", ms(self.started, now));
        set("resumes", JsValue::from_f64(f64::from(summary.resumes)));
        if let Some(text) = js_sys::JSON::stringify(&line).ok().and_then(|t| t.as_string()) {
            worker::console_log!("{text}");
        }
    }
}
