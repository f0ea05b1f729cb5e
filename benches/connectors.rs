//! What the ten example connectors' code costs per call: one typical call of
//! each (`examples/<name>/guest`), straight into the runtime with an
//! in-process backend that answers as the real API would. Setup (runtime,
//! load, request bytes) stays outside the measured closure.
//!
//! Before measuring, each connector's guest size and the fuel and peak
//! memory of one call (from its `CallReport`) are printed as a Markdown
//! table row, the figures `examples/README.md` quotes.
//!
//! The ports of three of them to JavaScript and Python (`guest-js/`,
//! `guest-py/`: items-transform, Tulip, Azure Communication Services
//! Identity) are measured beside their Rust guests, and for the canonical
//! transform (items-transform) a table per language gives, in one run:
//! component size, compile time, instantiation and teardown, per-call p50
//! and p99, fuel, peak memory, and the process's resident memory with 100
//! calls in flight.
//!
//! Run: `cargo bench --bench connectors` (add `-- --quick` for a smoke run).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use sluice_runtime::{Backend, CallInfo, Invocation, Limits, Runtime, RuntimeConfig, SendError};

/// Where `sluice-test-programs` put the guest components.
const GUEST_DIR: &str = sluice_test_programs::COMPONENT_DIR;

/// The gateway binary's allocator, so that host-side figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Answers every backend call with a function of the request.
struct Canned(fn(&http::Request<Bytes>) -> http::Response<Bytes>);

#[async_trait]
impl Backend for Canned {
    async fn send(&self, _: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        Ok((self.0)(&request))
    }
}

/// One connector's typical call.
#[derive(Clone)]
struct Case {
    /// The example folder.
    name: &'static str,
    /// The guest crate.
    krate: &'static str,
    operation: &'static str,
    method: &'static str,
    url: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
    backend: fn(&http::Request<Bytes>) -> http::Response<Bytes>,
}

fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> http::Response<Bytes> {
    http::Response::builder().status(status).header("content-type", content_type).body(body.into()).expect("response")
}

fn json(status: u16, body: &'static str) -> http::Response<Bytes> {
    answer(status, "application/json", body)
}

fn cases() -> Vec<Case> {
    let html = "<div><h1>Report</h1><p>Fish &amp; chips&nbsp;<br>for <b>two</b></p><table><tr><td>x</td></tr></table>\
                <ul><li>one</li><li>two</li></ul><script>var a = 1;</script></div>"
        .repeat(8);
    vec![
        Case {
            name: "Annature",
            krate: "annature_guest",
            operation: "OnDocumentEvent",
            method: "POST",
            url: "https://api.annature.com.au/v1/endpoints",
            headers: vec![("content-type", "application/json".into())],
            body: Bytes::from_static(br#"{"url":"https://flow.example/cb","events":["envelope_completed"]}"#),
            backend: |_| json(201, r#"{"id":"ep_42","url":"https://flow.example/cb","events":["envelope_completed"]}"#),
        },
        Case {
            name: "Azure_Communication_Services_Identity",
            krate: "azure_communication_services_identity_guest",
            operation: "IssueIdentityAccessToken",
            method: "POST",
            url: "https://api.contoso.com/identities/8:acs:abc/:issueAccessToken?api-version=2021-03-07",
            headers: vec![
                ("content-type", "application/json".into()),
                (
                    "connection-string",
                    "endpoint=https://contoso.communication.azure.com/;accesskey=c2x1aWNlLXRlc3Qta2V5LWZvci1obWFjLXNpZ25pbmc=".into(),
                ),
            ],
            body: Bytes::from_static(br#"{"scopes":["chat","voip"]}"#),
            backend: |_| json(200, r#"{"token":"acs-token","expiresOn":"2030-01-01T00:00:00Z"}"#),
        },
        Case {
            name: "Calendly",
            krate: "calendly_guest",
            operation: "GetEventTypes",
            method: "GET",
            url: "https://api.calendly.com/event_types?count=20",
            headers: vec![],
            body: Bytes::new(),
            backend: |request| {
                if request.uri().path() == "/users/me" {
                    json(200, r#"{"resource":{"uri":"https://api.calendly.com/users/U1","current_organization":"https://api.calendly.com/organizations/ORG1"}}"#)
                } else {
                    json(200, r#"{"collection":[{"name":"Intro call","slug":"intro","active":true}],"pagination":{"count":1}}"#)
                }
            },
        },
        Case {
            name: "HtmlToText",
            krate: "html_to_text_guest",
            operation: "HtmlToText",
            method: "POST",
            url: "https://api.contoso.com/HtmlToText",
            headers: vec![("content-type", "application/json".into())],
            body: Bytes::from(serde_json::to_vec(&serde_json::json!({ "html": html })).expect("json")),
            backend: |_| json(500, "{}"),
        },
        Case {
            name: "IBM_Watson_Text_to_Speech",
            krate: "ibm_watson_text_to_speech_guest",
            operation: "Synthesize",
            method: "POST",
            url: "https://api.eu-de.text-to-speech.watson.cloud.ibm.com/v1/synthesize?voice=en-US_AllisonV3Voice",
            headers: vec![("content-type", "application/json".into()), ("accept", "audio/wav".into())],
            body: Bytes::from_static(br#"{"text":"Hello from sluice"}"#),
            // 16 KiB of audio.
            backend: |_| answer(200, "audio/wav", (0..16384u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>()),
        },
        Case {
            name: "Industrial_App_Store",
            krate: "industrial_app_store_guest",
            operation: "ias_getdata_snapshot_v2",
            method: "GET",
            url: "https://appstore.intelligentplant.com/gestalt/datacore/api/data/v2/snapshot/dsn1/?tag=Sensor1",
            headers: vec![],
            body: Bytes::new(),
            backend: |_| json(200, r#"{"Sensor1":{"TagName":"Sensor1","Value":{"UtcSampleTime":"2024-01-01T00:00:00Z","NumericValue":21.5,"Status":"Good"}}}"#),
        },
        Case {
            name: "Nationalize.io",
            krate: "nationalize_io_guest",
            operation: "CheckNamesNationality",
            method: "GET",
            url: "https://api.genderize.io/?name=ann,bob,cid&apikey=k1",
            headers: vec![("accept", "application/json".into())],
            body: Bytes::new(),
            backend: |_| json(200, r#"[{"name":"ann","country":[{"country_id":"AU","probability":0.4}]},{"name":"bob","country":[]},{"name":"cid","country":[]}]"#),
        },
        Case {
            name: "Telstra_SMS",
            krate: "telstra_sms_guest",
            operation: "SendSMS",
            method: "POST",
            url: "https://products.api.telstra.com/messaging/v3/messages",
            headers: vec![
                ("content-type", "application/json".into()),
                ("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("tel-id:tel-secret"))),
            ],
            body: Bytes::from_static(br#"{"to":"+61400000000","from":"privateNumber","messageContent":"hi"}"#),
            backend: |request| {
                if request.uri().path() == "/v2/oauth/token" {
                    json(200, r#"{"access_token":"tel-token","token_type":"Bearer","expires_in":"3599"}"#)
                } else {
                    json(201, r#"{"messageId":"m-1","to":"+61400000000"}"#)
                }
            },
        },
        Case {
            name: "Tulip",
            krate: "tulip_guest",
            operation: "GetTable",
            method: "GET",
            url: "https://acme.tulip.co/api/v3/tables/T1",
            headers: vec![],
            body: Bytes::new(),
            backend: |_| {
                json(200, r#"{"id":"T1","label":"Orders","columns":[{"name":"id","label":"ID","dataType":{"type":"string"}},{"name":"qty","label":"Quantity","dataType":{"type":"float"}},{"name":"due","label":"Due","dataType":{"type":"timestamp"}},{"name":"tint","label":"Tint","dataType":{"type":"color"}},{"name":"took","label":"Took","dataType":{"type":"interval"}},{"name":"done","label":"Done","dataType":{"type":"boolean"}}]}"#)
            },
        },
        Case {
            name: "VIES",
            krate: "vies_guest",
            operation: "CheckVATValidity",
            method: "POST",
            url: "https://ec.europa.eu/taxation_customs/vies/services/checkVatService",
            headers: vec![("content-type", "application/json".into())],
            body: Bytes::from_static(br#"{"countryCode":"BE","vatNumber":"0123.456.789"}"#),
            backend: |_| {
                answer(200, "text/xml", concat!(
                    r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Header/><env:Body>"#,
                    r#"<ns2:checkVatResponse xmlns:ns2="urn:ec.europa.eu:taxud:vies:services:checkVat:types">"#,
                    "<ns2:countryCode>BE</ns2:countryCode><ns2:vatNumber>0123456789</ns2:vatNumber>",
                    "<ns2:requestDate>2024-10-23+02:00</ns2:requestDate><ns2:valid>true</ns2:valid>",
                    "<ns2:name>ACME</ns2:name><ns2:address>RUE DE LA LOI 1</ns2:address>",
                    "</ns2:checkVatResponse></env:Body></env:Envelope>"
                ))
            },
        },
    ]
}

impl Case {
    fn invocation(&self) -> Invocation {
        let mut request = http::Request::builder().method(self.method).uri(self.url);
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        Invocation {
            operation_id: self.operation.into(),
            correlation_id: "bench".into(),
            original_url: "http://127.0.0.1:8080/apim/connector/c1/".into(),
            request: request.body(self.body.clone()).expect("request"),
        }
    }
}

/// The examples ported to JavaScript and Python, by folder.
const PORTED: [&str; 3] = ["items-transform", "Tulip", "Azure_Communication_Services_Identity"];

/// A case's code in `language` (`rust`, `js`, `py`).
fn code_of(case: &Case, language: &str) -> Vec<u8> {
    match language {
        "rust" => {
            std::fs::read(format!("{GUEST_DIR}/{}.wasm", case.krate)).expect("guest built by sluice-test-programs")
        }
        other => sluice_test_programs::interpreted_bytes(other, case.name),
    }
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    let runtime =
        Runtime::new(RuntimeConfig { max_concurrent_calls: 16, ..RuntimeConfig::default() }).expect("runtime");
    let mut group = c.benchmark_group("connector");
    eprintln!("| connector | guest bytes | fuel | peak memory bytes |\n|---|---:|---:|---:|");
    let mut runs = Vec::new();
    for case in cases() {
        for language in ["rust", "js", "py"] {
            if language == "rust" || PORTED.contains(&case.name) {
                runs.push((language, case.clone()));
            }
        }
    }
    for (language, case) in runs {
        let code = code_of(&case, language);
        let label = if language == "rust" { case.name.to_string() } else { format!("{} ({language})", case.name) };
        let connector = runtime.load(case.name, &code, Limits::default()).expect("load");
        let backend: Arc<dyn Backend> = Arc::new(Canned(case.backend));
        let output = rt.block_on(connector.call(case.invocation(), Arc::clone(&backend)));
        let status =
            output.result.as_ref().map(|r| r.status().as_u16()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!(status < 300, "{label}: the typical call answered {status}");
        eprintln!(
            "| {label} | {} | {} | {} |",
            code.len(),
            output.report.fuel_consumed.unwrap_or_default(),
            output.report.peak_memory_bytes
        );
        group.bench_function(&label, |b| {
            b.to_async(&rt).iter(|| async {
                let output = connector.call(case.invocation(), Arc::clone(&backend)).await;
                assert!(output.result.is_ok());
            })
        });
    }
    group.finish();
}

/// The canonical transform in each language, measured side by side: what
/// the issue's table asks for, printed as Markdown before criterion's runs.
fn languages(c: &mut Criterion) {
    let items = items_case();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    eprintln!(
        "\n| canonical transform | component | compile | first instantiation | instantiation | teardown | p50 | p99 | fuel | peak memory | RSS, 100 in flight (growth) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut group = c.benchmark_group("canonical-transform");
    for language in ["rust", "js", "py"] {
        let code = code_of(&items, language);
        // No compiled-code cache: this is the compile a first load pays.
        let runtime =
            Runtime::new(RuntimeConfig { max_concurrent_calls: 128, ..RuntimeConfig::default() }).expect("runtime");
        let started = Instant::now();
        let connector = runtime.load(language, &code, Limits::default()).expect("load");
        let compile = started.elapsed();
        // The first instantiation maps the memory image into a pool slot;
        // the second is what a call pays once the slot holds it.
        let cold = rt.block_on(connector.warm_up()).expect("warm up");
        let warm = rt.block_on(connector.warm_up()).expect("warm up");
        let backend: Arc<dyn Backend> = Arc::new(Canned(items.backend));
        let first = rt.block_on(connector.call(items.invocation(), Arc::clone(&backend)));
        assert!(first.result.is_ok(), "{language}: {:?}", first.result);
        let samples = if language == "rust" { 5_000 } else { 1_000 };
        let mut times: Vec<Duration> = (0..samples)
            .map(|_| {
                let started = Instant::now();
                let output = rt.block_on(connector.call(items.invocation(), Arc::clone(&backend)));
                assert!(output.result.is_ok());
                started.elapsed()
            })
            .collect();
        times.sort();
        let (p50, p99) = (times[times.len() / 2], times[times.len() * 99 / 100]);
        let (resident, growth) = rt.block_on(resident_in_flight(&connector, &items, 100));
        eprintln!(
            "| {language} | {:.1} MB | {:.2} s | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {} | {:.1} MiB | {:.0} MiB (+{:.0} MiB) |",
            code.len() as f64 / 1e6,
            compile.as_secs_f64(),
            micros(cold.instantiation),
            micros(warm.instantiation),
            micros(warm.teardown),
            micros(p50),
            micros(p99),
            first.report.fuel_consumed.unwrap_or_default(),
            first.report.peak_memory_bytes as f64 / f64::from(1 << 20),
            resident as f64 / f64::from(1 << 20),
            growth as f64 / f64::from(1 << 20),
        );
        group.bench_function(language, |b| {
            b.to_async(&rt).iter(|| async {
                let output = connector.call(items.invocation(), Arc::clone(&backend)).await;
                assert!(output.result.is_ok());
            })
        });
    }
    group.finish();
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// The canonical transform's typical call: ListItems, a JSON array of 20 items.
fn items_case() -> Case {
    Case {
        name: "items-transform",
        krate: "items_transform",
        operation: "ListItems",
        method: "GET",
        url: "https://items.sluice.example/v1/items?limit=20",
        headers: vec![("x-api-key", "k".into())],
        body: Bytes::new(),
        backend: |_| {
            json(
                200,
                r#"[{"id":1,"name":"one","ok":true},{"id":2,"name":"two","ok":false},{"id":3,"name":"three","ok":true},{"id":4,"name":"four","ok":true},{"id":5,"name":"five","ok":false},{"id":6,"name":"six","ok":true},{"id":7,"name":"seven","ok":true},{"id":8,"name":"eight","ok":false},{"id":9,"name":"nine","ok":true},{"id":10,"name":"ten","ok":true},{"id":11,"name":"eleven","ok":true},{"id":12,"name":"twelve","ok":false},{"id":13,"name":"thirteen","ok":true},{"id":14,"name":"fourteen","ok":true},{"id":15,"name":"fifteen","ok":false},{"id":16,"name":"sixteen","ok":true},{"id":17,"name":"seventeen","ok":true},{"id":18,"name":"eighteen","ok":false},{"id":19,"name":"nineteen","ok":true},{"id":20,"name":"twenty","ok":true}]"#,
            )
        },
    }
}

/// A backend that holds every call until `count` are waiting, so that they
/// are all in flight at once, then answers them all.
struct Gate {
    answer: fn(&http::Request<Bytes>) -> http::Response<Bytes>,
    arrived: std::sync::atomic::AtomicUsize,
    open: tokio::sync::Notify,
    opened: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Backend for Gate {
    async fn send(&self, _: &CallInfo, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, SendError> {
        use std::sync::atomic::Ordering;
        let notified = self.open.notified();
        self.arrived.fetch_add(1, Ordering::SeqCst);
        if !self.opened.load(Ordering::SeqCst) {
            notified.await;
        }
        Ok((self.answer)(&request))
    }
}

/// The process's resident memory with `count` calls of the connector in
/// flight (each waiting in its backend call, its instance alive), and how
/// much that is over the resident memory before they started.
async fn resident_in_flight(connector: &sluice_runtime::Connector, case: &Case, count: usize) -> (u64, u64) {
    use std::sync::atomic::Ordering;
    let before = resident_bytes();
    let gate = Arc::new(Gate {
        answer: case.backend,
        arrived: Default::default(),
        open: tokio::sync::Notify::new(),
        opened: Default::default(),
    });
    let calls: Vec<_> = (0..count)
        .map(|_| {
            let (connector, gate, invocation) = (connector.clone(), Arc::clone(&gate), case.invocation());
            tokio::spawn(async move { connector.call(invocation, gate).await })
        })
        .collect();
    while gate.arrived.load(Ordering::SeqCst) < count {
        // A call that fails before its backend call never arrives.
        if let Some(done) = calls.iter().position(|call| call.is_finished()) {
            panic!("call {done} of {count} ended before its backend call; raise the pool or the memory budget");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let during = resident_bytes();
    gate.opened.store(true, Ordering::SeqCst);
    gate.open.notify_waiters();
    for call in calls {
        let output = call.await.expect("call task");
        assert!(output.result.is_ok(), "{:?}", output.result);
    }
    (during, during.saturating_sub(before))
}

/// The process's resident set, from `/proc/self/statm` (pages).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

criterion_group!(benches, calls, languages);
criterion_main!(benches);
