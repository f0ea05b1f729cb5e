//! Calls into `sluice-runtime` with an in-process backend, for what the
//! gateway cannot show: operation ids no route leads to, a real
//! production host, and the code's own log lines.

use super::*;
use async_trait::async_trait;
use sluice_runtime::{Backend, CallInfo, CallOutput, Invocation, Limits, Runtime, RuntimeConfig, SendError};

/// How a canned backend answers a request.
pub(super) type Answer = Box<dyn Fn(&http::Request<Bytes>) -> http::Response<Bytes> + Send + Sync>;

/// Records each request and answers with `answer`.
pub(super) struct Canned {
    pub seen: Mutex<Vec<http::Request<Bytes>>>,
    pub answer: Answer,
}

#[async_trait]
impl Backend for Canned {
    async fn send(&self, _: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        let response = (self.answer)(&request);
        self.seen.lock().unwrap().push(request);
        Ok(response)
    }
}

pub(super) async fn call(
    krate: &str,
    operation: &str,
    request: http::Request<Bytes>,
    answer: impl Fn(&http::Request<Bytes>) -> http::Response<Bytes> + Send + Sync + 'static,
) -> (CallOutput, Arc<Canned>) {
    let runtime = Runtime::new(RuntimeConfig { max_concurrent_calls: 2, ..RuntimeConfig::default() }).unwrap();
    let connector = runtime.load(krate, &guest(krate), Limits::default()).unwrap();
    let backend = Arc::new(Canned { seen: Mutex::new(Vec::new()), answer: Box::new(answer) });
    let invocation = Invocation {
        operation_id: operation.into(),
        correlation_id: "test".into(),
        original_url: "http://gateway.test/apim/x/c1/".into(),
        request,
    };
    let output = connector.call(invocation, Arc::clone(&backend) as Arc<dyn Backend>).await;
    (output, backend)
}

fn ok(body: &'static str) -> http::Response<Bytes> {
    http::Response::new(Bytes::from_static(body.as_bytes()))
}

#[tokio::test]
async fn acs_unknown_operation_is_answered_400_naming_it() {
    let request = http::Request::post("https://api.contoso.com/identities").body(Bytes::new()).unwrap();
    let (output, backend) = call("azure-communication-services-identity-guest", "Bogus", request, |_| ok("{}")).await;
    let response = output.result.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        serde_json::from_slice::<Value>(response.body()).unwrap(),
        json!([{"error": "Unknown operation ID 'Bogus'"}])
    );
    assert!(backend.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn html_to_text_unknown_operation_is_answered_400_naming_it() {
    let request = http::Request::post("https://api.contoso.com/Other").body(Bytes::from_static(b"{}")).unwrap();
    let (output, _) = call("html-to-text-guest", "Other", request, |_| ok("")).await;
    let response = output.result.unwrap();
    assert_eq!(
        (response.status().as_u16(), response.body().as_ref()),
        (400, br#""Unknown operation ID 'Other'""#.as_slice())
    );
}

#[tokio::test]
async fn nationalize_moves_the_definitions_host_to_api_nationalize_io() {
    let request = http::Request::get("https://api.genderize.io/?name=ann,bob&apikey=k1").body(Bytes::new()).unwrap();
    let (output, backend) = call("nationalize-io-guest", "CheckNamesNationality", request, |_| ok("[]")).await;
    assert_eq!(output.result.unwrap().status(), 200);
    let seen = backend.seen.lock().unwrap();
    assert_eq!(seen[0].uri().to_string(), "https://api.nationalize.io/?name%5B%5D=ann&name%5B%5D=bob&apikey=k1");
}

#[tokio::test]
async fn telstra_logs_status_codes_never_the_credentials_or_token() {
    let basic = format!("Basic {}", BASE64.encode("tel-id:tel-secret"));
    let request = http::Request::post("https://products.api.telstra.com/messaging/v3/messages")
        .header("authorization", basic)
        .body(Bytes::from_static(b"{}"))
        .unwrap();
    let (output, backend) = call("telstra-sms-guest", "SendSMS", request, |request| {
        if request.uri().path() == "/v2/oauth/token" {
            ok(r#"{"access_token":"tel-token"}"#)
        } else {
            let mut response = ok(r#"{"messageId":"m-1"}"#);
            *response.status_mut() = http::StatusCode::CREATED;
            response
        }
    })
    .await;
    assert_eq!(output.result.unwrap().status(), 201);
    let seen = backend.seen.lock().unwrap();
    assert_eq!(seen[0].uri().to_string(), "https://products.api.telstra.com/v2/oauth/token");
    assert_eq!(seen[1].headers()["authorization"], "Bearer tel-token");
    let logs: Vec<&str> = output.report.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(logs, ["token endpoint answered 200", "SendSMS answered 201"]);
    for secret in ["tel-id", "tel-secret", "tel-token"] {
        assert!(logs.iter().all(|line| !line.contains(secret)), "{secret} logged: {logs:?}");
    }
}
