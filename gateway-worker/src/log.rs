//! One structured log line per client request (docs/operations.md): Workers Logs indexes the
//! JSON fields, and the relay id in it is the one the client's `x-lambda-relay-id` header and
//! the function's own log line carry. With a Workers Analytics Engine dataset bound as
//! `ANALYTICS`, the same request is also one data point there.

use js_sys::{Array, Function, Object, Promise, Reflect};
use lambda_relay::proto::{ExchangeSummary, Timestamp};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use worker::{AnalyticsEngineDataPointBuilder, Env};

/// The binding of the optional Analytics Engine dataset.
const ANALYTICS_BINDING: &str = "ANALYTICS";

/// The Analytics Engine dataset bound as `ANALYTICS`, if one is: anything with a
/// `writeDataPoint` (workerd's binding, miniflare's, a test's), not a class name checked.
pub(crate) fn analytics(env: &Env) -> Option<Object> {
    let binding = Reflect::get(env.as_ref(), &ANALYTICS_BINDING.into()).ok()?;
    let write = Reflect::get(&binding, &"writeDataPoint".into()).ok()?;
    write.is_function().then(|| binding.unchecked_into())
}

/// What the gateway knows of a request until it logs it, once.
pub(crate) struct RequestLog {
    relay_id: String,
    method: String,
    path: String,
    /// The function's host: the data point's index, so each function is sampled on its own.
    function: String,
    analytics: Option<Object>,
    started: Timestamp,
    /// The status the client got, and when its head left.
    responded: Option<(u16, Timestamp)>,
    /// How the response started when the session did not carry it: `inline`, `passthrough`,
    /// or `failed` with the error code the client got.
    decided: Option<(&'static str, Option<&'static str>, String)>,
    written: bool,
}

impl RequestLog {
    pub(crate) fn new(
        relay_id: &str,
        method: &str,
        path: &str,
        function: &str,
        analytics: Option<Object>,
        now: Timestamp,
    ) -> Self {
        Self {
            relay_id: relay_id.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            function: function.to_owned(),
            analytics,
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
        let millis = |from: Timestamp, to: Timestamp| to.saturating_since(from).as_millis() as f64;
        let (ttfb_ms, duration_ms) = (millis(self.started, head_at), millis(self.started, now));
        set("request_bytes", JsValue::from_f64(summary.request_bytes as f64));
        set("response_bytes", JsValue::from_f64(summary.response_bytes as f64));
        set("ttfb_ms", JsValue::from_f64(ttfb_ms));
        set("duration_ms", JsValue::from_f64(duration_ms));
        set("resumes", JsValue::from_f64(f64::from(summary.resumes)));
        if let Some(text) = js_sys::JSON::stringify(&line).ok().and_then(|t| t.as_string()) {
            worker::console_log!("{text}");
        }
        if let Some(dataset) = &self.analytics {
            // docs/operations.md, "Analytics Engine": index the function; blobs and doubles in
            // this order, the log line's fields.
            let point = AnalyticsEngineDataPointBuilder::new()
                .indexes([self.function.as_str()])
                .blobs([
                    self.relay_id.as_str(),
                    self.method.as_str(),
                    self.path.as_str(),
                    outcome,
                    code.unwrap_or(""),
                    self.function.as_str(),
                ])
                .doubles([
                    f64::from(status),
                    summary.request_bytes as f64,
                    summary.response_bytes as f64,
                    ttfb_ms,
                    duration_ms,
                    f64::from(summary.resumes),
                ])
                .build();
            let written = point
                .to_js_object()
                .map_err(|e| JsValue::from_str(&e.to_string()))
                .and_then(|point| {
                    // Reflect.apply, not write.call(): on a service's RPC stub `call` is a method name.
                    let write: Function = Reflect::get(dataset, &"writeDataPoint".into())?.unchecked_into();
                    Reflect::apply(&write, dataset, &Array::of1(&point))
                });
            match written {
                // workerd's dataset returns nothing; a binding that answers with a promise (a
                // service's RPC method) is awaited, so the call goes out.
                Ok(returned) if !returned.is_undefined() => spawn_local(async move {
                    if let Err(e) = JsFuture::from(Promise::resolve(&returned)).await {
                        worker::console_warn!("lambda-relay: the Analytics Engine data point was not written: {e:?}");
                    }
                }),
                Ok(_) => {}
                Err(e) => worker::console_warn!("lambda-relay: the Analytics Engine data point was not written: {e:?}"),
            }
        }
    }
}
