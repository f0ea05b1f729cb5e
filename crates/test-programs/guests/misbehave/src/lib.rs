//! A test guest whose behaviour is chosen by the last segment of the request
//! path: well-behaved answers, and every way code can misbehave, so that the
//! runtime's limits can be tested from both sides.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

use sluice_guest::{Context, Error, Handler, Request, Response, SendError, serde_json::json};

struct Misbehave;

/// Counts calls in this instance; a fresh instance per call always sees 1.
static CALLS: AtomicU32 = AtomicU32::new(0);

fn number(request: &Request, name: &str, default: usize) -> usize {
    request.query(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let below = recurse(black_box(depth + 1));
    black_box(below) + 1
}

fn send_error_kind(error: &SendError) -> (&'static str, String) {
    match error {
        SendError::Denied(reason) => ("denied", reason.clone()),
        SendError::InvalidRequest(reason) => ("invalid-request", reason.clone()),
        SendError::Unreachable(reason) => ("unreachable", reason.clone()),
        SendError::Timeout => ("timeout", String::new()),
        SendError::Failed(reason) => ("failed", reason.clone()),
    }
}

impl Handler for Misbehave {
    fn handle(ctx: &Context, request: Request) -> Result<Response, Error> {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        let path = request.path()?;
        let action = path.rsplit('/').next().unwrap_or_default().to_string();
        match action.as_str() {
            "ok" => Ok(Response::text_body(200, "ok")),
            "count" => Ok(Response::text_body(200, calls.to_string())),
            "context" => Response::json_body(
                200,
                &json!({
                    "connector": ctx.connector_id(),
                    "operation": ctx.operation_id(),
                    "correlation": ctx.correlation_id(),
                    "original_url": ctx.original_url(),
                    "time_left_ms": ctx.time_left().as_millis() as u64,
                    "method": request.method(),
                    "header": request.header("X-Test"),
                    "body": request.text()?,
                }),
            ),
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    black_box(&hoard);
                }
            }
            "headers" => {
                let headers: serde_json::Map<String, serde_json::Value> =
                    request.headers().iter().map(|(n, v)| (n.to_string(), json!(v))).collect();
                sluice_guest::info!("headers: {headers:?}");
                Response::json_body(200, &json!({"url": request.url(), "headers": headers}))
            }
            "recurse" => Ok(Response::text_body(200, recurse(0).to_string())),
            "panic" => panic!("boom: the answer is {}", 42),
            "exit" => std::process::exit(3),
            "client-error" => Err(Error::bad_request("`name` is required")),
            "not-4xx" => Err(Error::client(503, "not a client error")),
            "upstream" => Err(Error::upstream("the backend said no")),
            "fail" => Err(Error::internal("something broke")),
            "bad-status" => Ok(Response::new(1000)),
            "big-response" => Ok(Response::text_body(200, "x".repeat(number(&request, "n", 0)))),
            "log" => {
                sluice_guest::info!("info line {}", 1);
                sluice_guest::warn!("warn line");
                println!("to stdout");
                eprintln!("to stderr");
                Ok(Response::text_body(200, "logged"))
            }
            "log-flood" => loop {
                sluice_guest::info!("{}", "flood ".repeat(100));
            },
            "stdout-flood" => loop {
                println!("{}", "flood ".repeat(100));
            },
            "send" => {
                let to = request.query("to").ok_or_else(|| Error::bad_request("`to` is required"))?;
                let mut outgoing = Request::new(request.method(), to).with_header("x-from-guest", "1");
                outgoing.set_body(vec![b'b'; number(&request, "body", 0)]);
                match sluice_guest::send(outgoing) {
                    Ok(response) => {
                        let body = String::from_utf8_lossy(response.body()).to_uppercase();
                        Ok(Response::text_body(200, format!("{}:{body}", response.status())))
                    }
                    Err(error) => {
                        let (kind, reason) = send_error_kind(&error);
                        Response::json_body(200, &json!({"send_error": kind, "reason": reason}))
                    }
                }
            }
            "send-many" => {
                let to = request.query("to").ok_or_else(|| Error::bad_request("`to` is required"))?;
                let n = number(&request, "n", 1);
                for _ in 0..n {
                    sluice_guest::send(Request::get(to.clone()))?;
                }
                Ok(Response::text_body(200, format!("sent {n}")))
            }
            "echo" => Response::json_body(
                200,
                &json!({
                    "method": request.method(),
                    "url": request.url(),
                    "headers": request.headers().iter().map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "body": String::from_utf8_lossy(request.body()),
                }),
            ),
            "forward" => {
                // The request as received, to where it was going.
                let response = sluice_guest::send(request)?;
                Ok(Response::text_body(response.status(), String::from_utf8_lossy(response.body()).into_owned()))
            }
            "send-with-host" => {
                let to = request.query("to").ok_or_else(|| Error::bad_request("`to` is required"))?;
                let host = request.query("host").unwrap_or_default();
                match sluice_guest::send(Request::get(to).with_header("host", host)) {
                    Ok(response) => Ok(Response::text_body(200, String::from_utf8_lossy(response.body()).into_owned())),
                    Err(error) => {
                        let (kind, reason) = send_error_kind(&error);
                        Response::json_body(200, &json!({"send_error": kind, "reason": reason}))
                    }
                }
            }
            "send-many-headers" => {
                let to = request.query("to").ok_or_else(|| Error::bad_request("`to` is required"))?;
                let mut outgoing = Request::get(to);
                for i in 0..number(&request, "n", 1) {
                    outgoing.headers_mut().append(format!("x-h{i}"), "v");
                }
                match sluice_guest::send(outgoing) {
                    Ok(response) => Ok(Response::text_body(200, response.status().to_string())),
                    Err(error) => {
                        let (kind, reason) = send_error_kind(&error);
                        Response::json_body(200, &json!({"send_error": kind, "reason": reason}))
                    }
                }
            }
            "many-response-headers" => {
                let mut response = Response::text_body(200, "headers");
                for i in 0..number(&request, "n", 1) {
                    response.headers_mut().append(format!("x-h{i}"), "v");
                }
                Ok(response)
            }
            "status" => Ok(Response::new(number(&request, "code", 200) as u16)),
            "long-error" => {
                let message = "e".repeat(number(&request, "n", 10));
                match request.query("kind").as_deref() {
                    Some("upstream") => Err(Error::upstream(message)),
                    Some("internal") => Err(Error::internal(message)),
                    _ => Err(Error::bad_request(message)),
                }
            }
            "panic-header" => {
                let name = request.query("name").unwrap_or_default();
                panic!("the header says {}", request.header(&name).unwrap_or("nothing"));
            }
            "log-secret" => {
                let name = request.query("name").unwrap_or_default();
                sluice_guest::info!("the header is {}", request.header(&name).unwrap_or("nothing"));
                Err(Error::internal(format!("failing with {}", request.header(&name).unwrap_or("nothing"))))
            }
            "empty-logs" => loop {
                sluice_guest::info!("");
            },
            "forge-log" => {
                sluice_guest::info!("fine\nERROR forged line");
                Ok(Response::text_body(200, "logged"))
            }
            other => Err(Error::client(404, format!("no action `{other}`"))),
        }
    }
}

sluice_guest::export!(Misbehave);
