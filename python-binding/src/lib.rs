//! Python binding of the function side (`lambda_relay._native`): thin classes around
//! `lambda_relay::adapter` (which begins an invocation, reads the request a handler sees and
//! renders its result) and the tokio client (which carries a relayed one). The idiomatic API (`asgi`,
//! `stream_handler`, `serve`) is the Python package in `python/lambda_relay`; it decides
//! nothing the protocol decides, and takes every name and number it shares with Rust from
//! [`constants`].
//!
//! Every call that waits (a read, a write, the end) releases the GIL and blocks its Python
//! thread on the shared tokio runtime; the asyncio wrapper runs those calls in threads.

use std::ffi::CString;
use std::sync::{Arc, OnceLock};

use lambda_relay::adapter;
use lambda_relay::client::binding;
use lambda_relay::client::websocket::{MessageReader, MessageWriter};
use lambda_relay::client::{self, Connection as ClientConnection, RelayStatus, RequestBody, ResponseWriter};
use lambda_relay::proto::websocket::Message;
use lambda_relay::proto::{self, ErrorCode, InvocationResult};
use lambda_relay::serde_json::Value;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyList, PyString, PyType};
use tokio::runtime::Runtime;
use tokio::sync::Mutex;

create_exception!(
    _native,
    RelayError,
    PyException,
    "An error from the relay. `code` is one of the stable ERR_RELAY_* codes, the same as the Node package's."
);
/// The exception class of each stable code, in the order of `binding::ERROR_CODES`, made
/// from that table when the module is first imported.
static EXCEPTIONS: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn exception_types(py: Python<'_>) -> PyResult<&Vec<Py<PyType>>> {
    EXCEPTIONS.get_or_try_init(py, || {
        let base = py.get_type::<RelayError>();
        binding::ERROR_CODES
            .iter()
            .map(|(code, class, doc)| {
                let name = CString::new(format!("lambda_relay._native.{class}")).expect("a class name");
                let doc = CString::new(format!("{}{}. `code` is {code}.", doc[..1].to_uppercase(), &doc[1..]))
                    .expect("a docstring");
                let class = PyErr::new_type(py, &name, Some(&doc), Some(&base), None)?;
                class.bind(py).setattr("code", code)?;
                Ok(class)
            })
            .collect()
    })
}

/// The exception class of a stable code.
fn exception_type<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyType> {
    let index = binding::ERROR_CODES.iter().position(|(c, _, _)| *c == code);
    match (index, exception_types(py)) {
        (Some(i), Ok(types)) => types[i].bind(py).clone(),
        _ => py.get_type::<RelayError>(),
    }
}

fn relay_error(code: &'static str, message: impl std::fmt::Display) -> PyErr {
    let message = message.to_string();
    Python::attach(|py| PyErr::from_type(exception_type(py, code), message))
}

fn from_client(e: client::Error) -> PyErr {
    relay_error(binding::error_code(&e), e)
}

/// The runtime every connection runs on: two worker threads, made on first use.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lambda-relay")
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// The names and numbers the Python package shares with Rust.
/// Panics with `message`. Not API: the tests' proof that a panic inside the module reaches
/// Python as an exception (PyO3's `PanicException`), never as an abort of the function.
#[pyfunction]
fn _panic_for_test(message: &str) {
    panic!("{message}");
}

#[pyfunction]
fn constants(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("relay_id_header", proto::RELAY_ID_HEADER)?;
    d.set_item("relay_headers", proto::RELAY_HEADERS.to_vec())?;
    d.set_item("gateway_url_env", proto::GATEWAY_URL_ENV)?;
    d.set_item("secret_env", proto::SECRET_ENV)?;
    d.set_item("write_batch_bytes", binding::WRITE_BATCH_BYTES)?;
    d.set_item("chunk_cost_bytes", binding::CHUNK_COST_BYTES)?;
    d.set_item("inline_response_limit", proto::INLINE_RESPONSE_LIMIT)?;
    d.set_item("complete_header", InvocationResult::complete_header())?;
    d.set_item(
        "error_codes",
        binding::ERROR_CODES
            .iter()
            .map(|(code, _, _)| *code)
            .collect::<Vec<_>>(),
    )?;
    // For the classes a platform without this module makes of the codes (`_errors.py`).
    d.set_item(
        "error_classes",
        binding::ERROR_CODES
            .iter()
            .map(|(code, class, _)| (*code, *class))
            .collect::<Vec<_>>(),
    )?;
    Ok(d)
}

/// A JSON value as the Python object `json.loads` would make of it.
fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (_, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or_default().into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            PyList::new(py, items.iter().map(|v| to_py(py, v)).collect::<PyResult<Vec<_>>>()?)?.into_any()
        }
        Value::Object(map) => {
            let d = PyDict::new(py);
            for (k, v) in map {
                d.set_item(k, to_py(py, v)?)?;
            }
            d.into_any()
        }
    })
}

/// An event, as JSON text (the Python wrapper's `json.dumps` of it).
fn parse_event(event_json: &str) -> PyResult<Value> {
    lambda_relay::serde_json::from_str(event_json)
        .map_err(|e| relay_error(binding::EVENT, format!("the event is not JSON: {e}")))
}

/// The request a handler sees ([`adapter::RequestView`]) as a dict: `method`, `scheme`,
/// `host`, `url`, `raw_path`, `raw_query`, `headers` (`(name, value)` pairs), `client`,
/// `body` and `head_request`.
fn view_dict<'py>(py: Python<'py>, view: &adapter::RequestView) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("method", &view.method)?;
    d.set_item("scheme", &view.scheme)?;
    d.set_item("host", &view.host)?;
    d.set_item("url", view.url())?;
    d.set_item("raw_path", &view.raw_path)?;
    d.set_item("raw_query", &view.raw_query)?;
    d.set_item("headers", view.headers.clone())?;
    d.set_item("client", view.client_address.clone())?;
    d.set_item("body", PyBytes::new(py, &view.body))?;
    d.set_item("head_request", view.is_head())?;
    Ok(d)
}

/// The request a handler sees for an event (`relayed`: whether its relay token verified).
/// Raises `RelayEventError` for an event that is not a Function URL event.
#[pyfunction]
fn request_view<'py>(py: Python<'py>, event_json: &str, relayed: bool) -> PyResult<Bound<'py, PyDict>> {
    let event = parse_event(event_json)?;
    let view = adapter::RequestView::from_event(&event, relayed).map_err(|e| relay_error(binding::EVENT, e))?;
    view_dict(py, &view)
}

/// A direct invocation's whole response as the Function URL result. Raises
/// `RelayUsageError` for a status or header HTTP does not allow.
#[pyfunction]
fn buffered_result<'py>(
    py: Python<'py>,
    status: u32,
    headers: Vec<(String, String)>,
    body: &[u8],
    head_request: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let result = adapter::direct_result(status, headers.into_iter(), body, head_request)
        .map_err(|e| relay_error(binding::USAGE, e))?;
    to_py(py, &result.to_json())
}

/// The Function URL event AWS would build for a request a local server received.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn function_url_event<'py>(
    py: Python<'py>,
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
    body: &[u8],
    source_ip: &str,
    request_id: &str,
    time_epoch_ms: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let event = adapter::function_url_event(&adapter::LocalRequest {
        method,
        target,
        headers: &headers,
        body,
        source_ip,
        request_id,
        time_epoch_ms,
    });
    to_py(py, &event)
}

/// `AuthType AWS_IAM` for a local Function URL (`adapter::iam_refusal`): `(status, headers,
/// body)` of the 403 Lambda would send, or `None` to let the request through.
#[pyfunction]
#[pyo3(signature = (method, target, headers, body, time_epoch_ms, access_key_id, secret_access_key, session_token=None))]
#[allow(clippy::too_many_arguments)]
fn local_iam_refusal<'py>(
    py: Python<'py>,
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
    body: &[u8],
    time_epoch_ms: u64,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
) -> PyResult<Option<LocalResponseTuple<'py>>> {
    let credentials = proto::sigv4::AwsCredentials::new(access_key_id, secret_access_key, session_token)
        .map_err(|e| relay_error(binding::USAGE, e.to_string()))?;
    let request = adapter::LocalRequest {
        method,
        target,
        headers: &headers,
        body,
        source_ip: "",
        request_id: "",
        time_epoch_ms,
    };
    Ok(adapter::iam_refusal(&request, &credentials, time_epoch_ms / 1000)
        .map(|r| (r.status, r.headers, PyBytes::new(py, &r.body))))
}

/// `(status, headers, body)`.
type LocalResponseTuple<'py> = (u16, Vec<(String, String)>, Bound<'py, PyBytes>);

/// What a local server sends for a handler's result (as JSON text): `(status, headers,
/// body)`. Raises `RelayUsageError` for a result AWS's front door would refuse.
#[pyfunction]
fn local_response<'py>(py: Python<'py>, result_json: &str) -> PyResult<LocalResponseTuple<'py>> {
    let result: Value = lambda_relay::serde_json::from_str(result_json)
        .map_err(|e| relay_error(binding::USAGE, format!("the result is not JSON: {e}")))?;
    let response = adapter::LocalResponse::from_result(&result).map_err(|e| relay_error(binding::USAGE, e))?;
    Ok((response.status, response.headers, PyBytes::new(py, &response.body)))
}

/// What an invocation is: `direct`, `relay` (its connection is opening), or `result`
/// (refused, unconfigured, or the connection could not open: answer with `result()`).
#[pyclass(module = "lambda_relay._native")]
struct Invocation {
    #[pyo3(get)]
    kind: &'static str,
    /// Whether the request body streams over the socket (else it is the event's own).
    #[pyo3(get)]
    streams_body: bool,
    /// Whether the request is a client's WebSocket upgrade the app may accept.
    #[pyo3(get)]
    websocket: bool,
    /// The request the handler sees (a dict, as `request_view` returns it), for `direct`
    /// and `relay`.
    #[pyo3(get)]
    request: Option<Py<PyDict>>,
    /// The event a handler sees (`aws.event`): no relay headers, the client's own address.
    #[pyo3(get)]
    event: Option<Py<PyAny>>,
    result: Option<Value>,
    connection: Option<(ClientConnection, bool)>,
}

#[pymethods]
impl Invocation {
    /// The invocation's result, for `result`.
    fn result<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.result.take().map(|r| to_py(py, &r)).transpose()
    }

    /// The connection, for `relay`; taken once.
    fn connect(&mut self) -> Option<Connection> {
        self.connection
            .take()
            .map(|(connection, head_request)| Connection::new(connection, head_request))
    }
}

/// Begins an invocation ([`adapter::begin`]) of an event (as JSON text): classifies it,
/// reads the request the handler sees, and for a relay invocation starts connecting to the
/// gateway in the background. `time_left_ms` is the Lambda context's remaining time. Raises
/// `RelayEventError` for an event that is not a Function URL event.
#[pyfunction]
#[pyo3(signature = (event_json, gateway_url, secret, time_left_ms))]
fn begin_invocation(
    py: Python<'_>,
    event_json: &str,
    gateway_url: Option<&str>,
    secret: Option<&str>,
    time_left_ms: Option<f64>,
) -> PyResult<Invocation> {
    let event = parse_event(event_json)?;
    let bound = {
        let _runtime = runtime().enter();
        adapter::begin_bound(event, gateway_url, secret, time_left_ms)
    }
    .map_err(|e| relay_error(binding::EVENT, e))?;
    let (request, event) = match bound.request {
        Some((request, event)) => (
            Some(view_dict(py, &request)?.unbind()),
            Some(to_py(py, &event)?.unbind()),
        ),
        None => (None, None),
    };
    Ok(Invocation {
        kind: bound.kind,
        streams_body: bound.streams_body,
        websocket: bound.websocket,
        request,
        event,
        result: bound.result.map(|r| r.to_json()),
        connection: bound.connection,
    })
}

/// One relayed invocation: the request body to read, the response to write. Its waiting
/// methods release the GIL; call them from threads (the asyncio wrapper does).
#[pyclass(module = "lambda_relay._native")]
struct Connection {
    body: Arc<Mutex<RequestBody>>,
    writer: Arc<Mutex<ResponseWriter>>,
    status: RelayStatus,
    head_request: bool,
    /// An accepted WebSocket's reader and writer (locked before `body` and `writer`).
    messages_in: Arc<Mutex<MessageReader>>,
    messages_out: Arc<Mutex<Option<MessageWriter>>>,
}

/// A WebSocket message as Python sees it: `("text", str, None, None)`,
/// `("binary", bytes, None, None)` or `("close", None, code, reason)`.
type MessageTuple<'py> = (&'static str, Option<Bound<'py, PyAny>>, Option<u16>, Option<String>);

impl Connection {
    fn new(connection: ClientConnection, head_request: bool) -> Self {
        let (body, writer) = connection.split();
        let status = writer.status();
        Self {
            body: Arc::new(Mutex::new(body)),
            writer: Arc::new(Mutex::new(writer)),
            status,
            head_request,
            messages_in: Arc::new(Mutex::new(MessageReader::new())),
            messages_out: Arc::new(Mutex::new(None)),
        }
    }

    fn send_message(&self, py: Python<'_>, message: Message) -> PyResult<()> {
        let (out, writer) = (self.messages_out.clone(), self.writer.clone());
        py.detach(|| {
            runtime().block_on(async move {
                let mut out = out.lock().await;
                let Some(out) = out.as_mut() else {
                    return Err(client::Error::Usage(proto::StreamError::HeadNotSent));
                };
                out.send(&mut *writer.lock().await, message).await
            })
        })
        .map_err(from_client)
    }

    fn fail(&self, py: Python<'_>, code: ErrorCode, message: String) -> PyResult<()> {
        let writer = self.writer.clone();
        py.detach(|| runtime().block_on(async move { writer.lock().await.fail(code, &message).await }))
            .map_err(from_client)
    }
}

#[pymethods]
impl Connection {
    /// The next piece of the request body, or `None` at its end: one frame, and whatever
    /// else already arrived (up to 1 MiB).
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let body = self.body.clone();
        let chunk = py
            .detach(|| runtime().block_on(async move { binding::read_batch(&mut *body.lock().await).await }))
            .map_err(from_client)?;
        Ok(chunk.map(|c| PyBytes::new(py, &c)))
    }

    /// Queues the status and headers (`(name, value)` pairs, repeated names allowed).
    fn send_head(&self, status: u32, headers: Vec<(String, String)>) -> PyResult<()> {
        let (status, map) =
            adapter::response_head(status, headers.into_iter()).map_err(|e| relay_error(binding::USAGE, e))?;
        let mut writer = self
            .writer
            .try_lock()
            .map_err(|_| relay_error(binding::USAGE, "the head was sent while a write was in progress"))?;
        writer.send_head(status, map).map_err(from_client)
    }

    /// Answers in the invocation result instead of over the socket, if this response may
    /// (`adapter::respond_inline`: the request body did not stream, and the body, all of
    /// `chunks`, is complete and small): the Function URL result, or `None` if it must go
    /// over the socket after all.
    fn respond_inline<'py>(
        &self,
        py: Python<'py>,
        status: u32,
        headers: Vec<(String, String)>,
        chunks: Vec<PyBackedBytes>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok((status, map)) = adapter::response_head(status, headers.into_iter()) else {
            return Ok(None);
        };
        let Ok(mut writer) = self.writer.try_lock() else {
            return Ok(None);
        };
        adapter::respond_inline(&mut writer, status, map, &chunks, self.head_request)
            .map(|r| to_py(py, &r.to_json()))
            .transpose()
    }

    /// Writes chunks as one; returns when the window took them (the backpressure).
    fn write(&self, py: Python<'_>, chunks: Vec<PyBackedBytes>) -> PyResult<()> {
        let bytes = binding::join(&chunks);
        drop(chunks);
        let writer = self.writer.clone();
        py.detach(|| runtime().block_on(async move { writer.lock().await.write(bytes).await }))
            .map_err(from_client)
    }

    /// Ends the response; returns when the gateway acknowledged the end.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        let writer = self.writer.clone();
        py.detach(|| runtime().block_on(async move { writer.lock().await.finish(http::HeaderMap::new()).await }))
            .map_err(from_client)
    }

    /// Fails the response because the app raised before the head (the client gets a 502).
    fn handler_failed(&self, py: Python<'_>, message: String) -> PyResult<()> {
        self.fail(py, ErrorCode::HANDLER, message)
    }

    /// Fails the response because its body failed after the head (the client's transfer is
    /// aborted).
    fn body_failed(&self, py: Python<'_>, message: String) -> PyResult<()> {
        self.fail(py, ErrorCode::BODY, message)
    }

    /// Accepts the client's WebSocket upgrade with these headers (the subprotocol as
    /// `sec-websocket-protocol`, any `set-cookie`): the gateway answers the client 101.
    fn accept_websocket(&self, headers: Vec<(String, String)>) -> PyResult<()> {
        let (_, map) = adapter::response_head(200, headers.into_iter()).map_err(|e| relay_error(binding::USAGE, e))?;
        let busy = || {
            relay_error(
                binding::USAGE,
                "the WebSocket was accepted while a write was in progress",
            )
        };
        let mut out = self.messages_out.try_lock().map_err(|_| busy())?;
        let mut writer = self.writer.try_lock().map_err(|_| busy())?;
        *out = Some(MessageWriter::accept(&mut writer, map).map_err(from_client)?);
        Ok(())
    }

    /// The client's next message, or `None` after its close (the last message). Raises
    /// `RelayAborted` when the client left without a close.
    fn read_message<'py>(&self, py: Python<'py>) -> PyResult<Option<MessageTuple<'py>>> {
        let (reader, body) = (self.messages_in.clone(), self.body.clone());
        let message = py
            .detach(|| runtime().block_on(async move { reader.lock().await.recv(&mut *body.lock().await).await }))
            .map_err(from_client)?;
        Ok(message.map(|message| match message {
            Message::Text(text) => ("text", Some(PyString::new(py, &text).into_any()), None, None),
            Message::Binary(data) => ("binary", Some(PyBytes::new(py, &data).into_any()), None, None),
            Message::Close { code, reason } => ("close", None, Some(code), Some(reason)),
        }))
    }

    /// Sends a text message; returns when the window took it.
    fn send_text(&self, py: Python<'_>, text: String) -> PyResult<()> {
        self.send_message(py, Message::Text(text))
    }

    /// Sends a binary message; returns when the window took it.
    fn send_bytes(&self, py: Python<'_>, data: PyBackedBytes) -> PyResult<()> {
        let bytes = binding::join(&[&data]);
        drop(data);
        self.send_message(py, Message::Binary(bytes))
    }

    /// Closes the client's WebSocket with `code` (1005 for none) and `reason`; returns once the
    /// gateway acknowledged it.
    fn close_websocket(&self, py: Python<'_>, code: u16, reason: String) -> PyResult<()> {
        let message = Message::close(code, reason).map_err(|e| relay_error(binding::USAGE, e))?;
        self.send_message(py, message)
    }

    /// Waits until the relay is cancelled (the exception saying why: `RelayAborted` when
    /// the client went away, `RelayDeadline`, …) or over without one (`None`).
    fn settled(&self, py: Python<'_>) -> Option<PyErr> {
        let status = self.status.clone();
        py.detach(|| runtime().block_on(status.cancelled_or_over()))
            .map(from_client)
    }

    /// Whether the relay was cancelled.
    #[getter]
    fn is_cancelled(&self) -> bool {
        self.status.is_cancelled()
    }

    /// Waits until the relay is over and returns the invocation's result. `failure` is why
    /// the wrapper's own work failed, if it did and the relay does not know a reason.
    #[pyo3(signature = (failure=None))]
    fn result<'py>(&self, py: Python<'py>, failure: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let status = self.status.clone();
        let over = py.detach(|| runtime().block_on(status.clone().over()));
        let result = adapter::relay_result(over, failure);
        adapter::log_relay(status.relay_id(), &result, status.elapsed());
        to_py(py, &result.to_json())
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(constants, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(local_iam_refusal, m)?)?;
    m.add_function(wrap_pyfunction!(begin_invocation, m)?)?;
    m.add_function(wrap_pyfunction!(request_view, m)?)?;
    m.add_function(wrap_pyfunction!(buffered_result, m)?)?;
    m.add_function(wrap_pyfunction!(function_url_event, m)?)?;
    m.add_function(wrap_pyfunction!(local_response, m)?)?;
    m.add_class::<Invocation>()?;
    m.add_class::<Connection>()?;
    m.add("RelayError", py.get_type::<RelayError>())?;
    py.get_type::<RelayError>().setattr("code", py.None())?;
    for class in exception_types(py)? {
        let class = class.bind(py);
        m.add(class.name()?, class)?;
    }
    Ok(())
}
