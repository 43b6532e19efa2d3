//! Python binding of the function side (`lambda_relay._native`): thin classes around
//! `lambda_relay::client::binding` (which classifies an invocation and opens its connection)
//! and the tokio client (which carries a relayed one). The idiomatic API (`asgi`,
//! `stream_handler`, `serve`) is the Python package in `python/lambda_relay`; it decides
//! nothing the protocol decides, and takes every name and number it shares with Rust from
//! [`constants`].
//!
//! Every call that waits (a read, a write, the end) releases the GIL and blocks its Python
//! thread on the shared tokio runtime; the asyncio wrapper runs those calls in threads.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use lambda_relay::client::binding::{self, Begun};
use lambda_relay::client::{self, Cancelled, Connection as ClientConnection, RequestBody, ResponseWriter};
use lambda_relay::proto::{self, ErrorCode, InvocationResult};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyType};
use tokio::runtime::Runtime;
use tokio::sync::Mutex;

create_exception!(
    _native,
    RelayError,
    PyException,
    "An error from the relay. `code` is one of the stable ERR_RELAY_* codes, the same as the Node package's."
);
create_exception!(
    _native,
    RelayAborted,
    RelayError,
    "The gateway aborted: the client went away."
);
create_exception!(
    _native,
    RelayProtocolError,
    RelayError,
    "The gateway broke the protocol."
);
create_exception!(
    _native,
    RelaySessionError,
    RelayError,
    "The session failed (no resume in time, a final close)."
);
create_exception!(
    _native,
    RelayUsageError,
    RelayError,
    "The app asked for something the stream cannot do."
);
create_exception!(
    _native,
    RelayRefused,
    RelayError,
    "The gateway refused the relay socket."
);
create_exception!(
    _native,
    RelayConnectError,
    RelayError,
    "The gateway could not be reached."
);
create_exception!(
    _native,
    RelayConfigError,
    RelayError,
    "The relay configuration is not valid."
);
create_exception!(_native, RelayClosed, RelayError, "The relay connection closed.");
create_exception!(
    _native,
    RelayDeadline,
    RelayError,
    "The invocation reached its deadline."
);

/// The exception class of each stable code, in the order of `binding::ERROR_CODES`.
fn exception_types(py: Python<'_>) -> [Bound<'_, PyType>; binding::ERROR_CODES.len()] {
    [
        py.get_type::<RelayAborted>(),
        py.get_type::<RelayProtocolError>(),
        py.get_type::<RelaySessionError>(),
        py.get_type::<RelayUsageError>(),
        py.get_type::<RelayRefused>(),
        py.get_type::<RelayConnectError>(),
        py.get_type::<RelayConfigError>(),
        py.get_type::<RelayClosed>(),
        py.get_type::<RelayDeadline>(),
    ]
}

/// The exception class of a stable code.
fn exception_type<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyType> {
    let index = binding::ERROR_CODES.iter().position(|(c, _)| *c == code);
    match index {
        Some(i) => exception_types(py)[i].clone(),
        None => py.get_type::<RelayError>(),
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
        binding::ERROR_CODES.iter().map(|(code, _)| *code).collect::<Vec<_>>(),
    )?;
    Ok(d)
}

/// A Function URL result as a dict, ready to return from the handler.
fn render<'py>(py: Python<'py>, result: &InvocationResult) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("statusCode", result.status)?;
    let headers = PyDict::new(py);
    for (name, value) in result.headers() {
        headers.set_item(name, value)?;
    }
    d.set_item("headers", headers)?;
    d.set_item("body", &result.message)?;
    Ok(d)
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
    /// The client's address as the gateway saw it, for the request's `client`.
    #[pyo3(get)]
    client_address: Option<String>,
    result: Option<InvocationResult>,
    connection: Option<ClientConnection>,
}

#[pymethods]
impl Invocation {
    /// The invocation's result, for `result`.
    fn result<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.result.take().map(|r| render(py, &r)).transpose()
    }

    /// The connection, for `relay`; taken once.
    fn connect(&mut self) -> Option<Connection> {
        self.connection.take().map(Connection::new)
    }
}

/// Classifies an invocation with `proto::classify_invocation` (headers with lowercase names)
/// and, for a relay invocation, starts connecting to the gateway in the background.
/// `time_left_ms` is the Lambda context's remaining time.
#[pyfunction]
#[pyo3(signature = (headers, method, gateway_url, secret, time_left_ms))]
fn begin_invocation(
    headers: HashMap<String, String>,
    method: &str,
    gateway_url: Option<&str>,
    secret: Option<&str>,
    time_left_ms: Option<f64>,
) -> Invocation {
    let _runtime = runtime().enter();
    let get = |name: &str| headers.get(name).map(String::as_str);
    let begun = binding::begin_invocation(get, method, gateway_url, secret, binding::time_left(time_left_ms));
    let mut invocation = Invocation {
        kind: "direct",
        streams_body: false,
        client_address: None,
        result: None,
        connection: None,
    };
    match begun {
        Begun::Direct => {}
        Begun::Answer(result) => {
            invocation.kind = "result";
            invocation.result = Some(result);
        }
        Begun::Relay {
            connection,
            streams_body,
            client_address,
        } => {
            invocation.kind = "relay";
            invocation.streams_body = streams_body;
            invocation.client_address = client_address;
            invocation.connection = Some(connection);
        }
    }
    invocation
}

/// One relayed invocation: the request body to read, the response to write. Its waiting
/// methods release the GIL; call them from threads (the asyncio wrapper does).
#[pyclass(module = "lambda_relay._native")]
struct Connection {
    body: Arc<Mutex<RequestBody>>,
    writer: Arc<Mutex<ResponseWriter>>,
    cancelled: Cancelled,
}

impl Connection {
    fn new(connection: ClientConnection) -> Self {
        let (body, writer) = connection.split();
        let cancelled = writer.cancelled();
        Self {
            body: Arc::new(Mutex::new(body)),
            writer: Arc::new(Mutex::new(writer)),
            cancelled,
        }
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
            binding::response_head(status, headers.into_iter()).map_err(|e| relay_error(binding::USAGE, e))?;
        let mut writer = self
            .writer
            .try_lock()
            .map_err(|_| relay_error(binding::USAGE, "the head was sent while a write was in progress"))?;
        writer.send_head(status, map).map_err(from_client)
    }

    /// Answers in the invocation result instead of over the socket, if this response may
    /// (`FunctionSession::respond_inline`: the request body did not stream, and the body is
    /// complete and small): `True` if it keeps its body, `False` if its status or method
    /// drops it, `None` if it must go over the socket after all.
    fn respond_inline(&self, status: u32, body_len: usize) -> Option<bool> {
        let status = http::StatusCode::from_u16(u16::try_from(status).ok()?).ok()?;
        let mut writer = self.writer.try_lock().ok()?;
        writer.respond_inline(status, body_len).ok()
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

    /// Waits until the relay is cancelled (the exception saying why: `RelayAborted` when
    /// the client went away, `RelayDeadline`, …) or over without one (`None`).
    fn settled(&self, py: Python<'_>) -> Option<PyErr> {
        let cancelled = self.cancelled.clone();
        py.detach(|| runtime().block_on(cancelled.settled())).map(from_client)
    }

    /// Whether the relay was cancelled.
    #[getter]
    fn is_cancelled(&self) -> bool {
        self.cancelled.is_cancelled()
    }

    /// Waits until the relay is over and returns the invocation's result. `failure` is why
    /// the wrapper's own work failed, if it did and the relay does not know a reason.
    #[pyo3(signature = (failure=None))]
    fn result<'py>(&self, py: Python<'py>, failure: Option<String>) -> PyResult<Bound<'py, PyDict>> {
        let cancelled = self.cancelled.clone();
        let over = py.detach(|| runtime().block_on(cancelled.over()));
        render(py, &binding::invocation_result(over, failure))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(constants, m)?)?;
    m.add_function(wrap_pyfunction!(begin_invocation, m)?)?;
    m.add_class::<Invocation>()?;
    m.add_class::<Connection>()?;
    m.add("RelayError", py.get_type::<RelayError>())?;
    py.get_type::<RelayError>().setattr("code", py.None())?;
    for ((code, _), class) in binding::ERROR_CODES.iter().zip(exception_types(py)) {
        class.setattr("code", code)?;
        m.add(class.name()?, class)?;
    }
    Ok(())
}
