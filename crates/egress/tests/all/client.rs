//! The egress client against loopback backends: rebinding, mixed DNS
//! answers, redirects, pool separation per policy, body limits and
//! timeouts. Loopback is granted only through the test-only seam.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{RebindingResolver, RecordingDialer, TestServer, response};
use anyhow::Result;
use bytes::Bytes;
use sluice_egress::{Allowlist, EgressClient, EgressError, Environment, PinnedResolver, Policy, SendOptions};

/// A policy granting `rules` from a public-only environment that may also
/// reach loopback, where the test backends run.
fn loopback_policy(rules: &[&str]) -> Policy {
    Policy::new(Allowlist::parse(rules).unwrap(), Environment::default().with_loopback_grant())
}

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

fn client_with(resolver: PinnedResolver) -> EgressClient {
    EgressClient::builder().resolver(Arc::new(resolver)).build()
}

fn pinned(name: &str, ips: &str) -> PinnedResolver {
    let mut r = PinnedResolver::new();
    r.pin_spec(&format!("{name}={ips}")).unwrap();
    r
}

#[tokio::test]
async fn loopback_backend_reached_through_test_grant() -> Result<()> {
    let server = TestServer::ok("hello").await;
    let client = client_with(pinned("backend.test", "127.0.0.1"));
    let policy = loopback_policy(&["http://backend.test:*"]);
    let url = format!("http://backend.test:{}/v1", server.addr.port());
    let response = client.send(&policy, get(&url), SendOptions::default()).await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), "hello");
    Ok(())
}

#[tokio::test]
async fn loopback_denied_without_test_grant() -> Result<()> {
    let server = TestServer::ok("hello").await;
    let client = EgressClient::new();
    let policy = Policy::new(Allowlist::parse(["*://*:*"])?, Environment::default());
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let e = client.send(&policy, get(&url), SendOptions::default()).await.unwrap_err();
    assert_eq!(e.to_string(), "egress denied: 127.0.0.1 is loopback, never reachable");
    assert_eq!(server.accepted(), 0);
    Ok(())
}

#[tokio::test]
async fn dns_answer_mixing_granted_and_forbidden_addresses_denied() -> Result<()> {
    let server = TestServer::ok("hello").await;
    let client = client_with(pinned("mixed.test", "127.0.0.1,169.254.169.254"));
    let policy = loopback_policy(&["http://mixed.test:*"]);
    let url = format!("http://mixed.test:{}/", server.addr.port());
    let e = client.send(&policy, get(&url), SendOptions::default()).await.unwrap_err();
    let EgressError::Denied { reason } = e else { panic!("{e:?}") };
    assert_eq!(
        reason.to_string(),
        "`mixed.test` resolves to 169.254.169.254, which is a cloud metadata endpoint, never reachable"
    );
    assert_eq!(server.accepted(), 0);
    Ok(())
}

#[tokio::test]
async fn dns_answer_mixing_public_and_private_addresses_never_dialed() -> Result<()> {
    let dialer = RecordingDialer::refusing();
    let client = EgressClient::builder()
        .resolver(Arc::new(pinned("mixed.test", "93.184.215.16,10.9.9.9")))
        .dialer(dialer.clone())
        .build();
    let policy = Policy::new(Allowlist::parse(["https://mixed.test"])?, Environment::default());
    let e = client.send(&policy, get("https://mixed.test/"), SendOptions::default()).await.unwrap_err();
    assert!(matches!(e, EgressError::Denied { .. }), "{e:?}");
    assert!(dialer.dialed().is_empty());
    Ok(())
}

/// The name answers a public address, then loopback: the client dials only
/// the first, vetted answer, and looks the name up once per connection.
#[tokio::test]
async fn rebinding_after_check_cannot_redirect_connection() -> Result<()> {
    let server = TestServer::ok("from the vetted address").await;
    let resolver = Arc::new(RebindingResolver::new(&[&["93.184.215.14"], &["127.0.0.1"]]));
    let dialer = RecordingDialer::standing_in(server.addr);
    let client = EgressClient::builder().resolver(resolver.clone()).dialer(dialer.clone()).build();
    let policy = Policy::new(Allowlist::parse(["http://rebind.test"])?, Environment::default());
    let response = client.send(&policy, get("http://rebind.test/"), SendOptions::default()).await?;
    assert_eq!(response.body(), "from the vetted address");
    assert_eq!(resolver.lookups(), 1);
    assert_eq!(dialer.dialed(), ["93.184.215.14:80".parse()?]);
    Ok(())
}

/// Between two connections the name rebinds to a forbidden address: the
/// second connection's own lookup is checked and denied.
#[tokio::test]
async fn rebinding_between_lookups_denied() -> Result<()> {
    let server = TestServer::start(|_| Some(response("200 OK", &[("connection", "close")], "first"))).await;
    let resolver = Arc::new(RebindingResolver::new(&[&["127.0.0.1"], &["169.254.169.254"]]));
    let client = EgressClient::builder().resolver(resolver.clone()).build();
    let policy = loopback_policy(&["http://rebind.test:*"]);
    let url = format!("http://rebind.test:{}/", server.addr.port());
    let first = client.send(&policy, get(&url), SendOptions::default()).await?;
    assert_eq!(first.body(), "first");
    let e = client.send(&policy, get(&url), SendOptions::default()).await.unwrap_err();
    assert!(matches!(e, EgressError::Denied { .. }), "{e:?}");
    assert_eq!(resolver.lookups(), 2);
    assert_eq!(server.accepted(), 1);
    Ok(())
}

#[tokio::test]
async fn redirect_to_forbidden_address_returned_not_followed() -> Result<()> {
    let location = "http://169.254.169.254/latest/meta-data/";
    let server = TestServer::start(move |_| Some(response("302 Found", &[("location", location)], ""))).await;
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{}/start", server.addr.port());
    let response = client.send(&policy, get(&url), SendOptions::default()).await?;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], location);
    assert_eq!(server.requests(), 1);
    let e = client.send(&policy, get(location), SendOptions::default()).await.unwrap_err();
    assert_eq!(e.to_string(), "egress denied: 169.254.169.254 is a cloud metadata endpoint, never reachable");
    Ok(())
}

#[tokio::test]
async fn pooled_connection_reused_under_same_policy() -> Result<()> {
    let server = TestServer::ok("ok").await;
    let client = EgressClient::new();
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let policy = loopback_policy(&["http://127.0.0.1:*"]);
    for _ in 0..3 {
        client.send(&policy, get(&url), SendOptions::default()).await?;
    }
    // An equal policy built separately shares the pool.
    client.send(&loopback_policy(&["http://127.0.0.1:*"]), get(&url), SendOptions::default()).await?;
    assert_eq!((server.accepted(), server.requests()), (1, 4));
    Ok(())
}

#[tokio::test]
async fn pooled_connection_not_reused_under_narrower_policy() -> Result<()> {
    let server = TestServer::ok("ok").await;
    let client = EgressClient::new();
    let port = server.addr.port();
    let url = format!("http://127.0.0.1:{port}/");
    let wide = loopback_policy(&["*://*:*"]);
    let narrow = loopback_policy(&[&format!("http://127.0.0.1:{port}")]);
    client.send(&wide, get(&url), SendOptions::default()).await?;
    client.send(&wide, get(&url), SendOptions::default()).await?;
    assert_eq!(server.accepted(), 1);
    client.send(&narrow, get(&url), SendOptions::default()).await?;
    assert_eq!(server.accepted(), 2);
    // Each policy keeps its own connection.
    client.send(&wide, get(&url), SendOptions::default()).await?;
    client.send(&narrow, get(&url), SendOptions::default()).await?;
    assert_eq!((server.accepted(), server.requests()), (2, 5));
    Ok(())
}

#[tokio::test]
async fn pooled_connection_not_reused_after_environment_change() -> Result<()> {
    let server = TestServer::ok("ok").await;
    let client = EgressClient::new();
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let before = loopback_policy(&["*://*:*"]);
    client.send(&before, get(&url), SendOptions::default()).await?;
    // The environment now links a subnet but is otherwise the same.
    let after = Policy::new(
        before.allowlist.clone(),
        Environment::new(vec!["10.1.0.0/16".parse()?], true).with_loopback_grant(),
    );
    client.send(&after, get(&url), SendOptions::default()).await?;
    assert_eq!(server.accepted(), 2);
    Ok(())
}

#[tokio::test]
async fn idle_connection_closed_after_the_idle_timeout() -> Result<()> {
    let server = TestServer::ok("ok").await;
    let client = EgressClient::builder().pool_idle_timeout(Duration::from_millis(100)).build();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    client.send(&policy, get(&url), SendOptions::default()).await?;
    // No further call: the pool closes the idle connection by itself.
    wait_for("the idle connection to close", || server.closed() == 1).await;
    client.send(&policy, get(&url), SendOptions::default()).await?;
    assert_eq!((server.accepted(), server.requests()), (2, 2));
    Ok(())
}

#[tokio::test]
async fn pooled_connection_the_backend_closed_is_replaced() -> Result<()> {
    // Answers one request per connection, then closes it without saying so
    // first, as a backend's own idle timeout does.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = stream.write_all(response("200 OK", &[], "once").as_bytes()).await;
            drop(stream);
        }
    });
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{port}/");
    for _ in 0..3 {
        let response = client.send(&policy, get(&url), SendOptions::default()).await?;
        assert_eq!(response.body(), "once");
        // Time for the client to see the close.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    Ok(())
}

#[tokio::test]
async fn host_header_names_the_urls_host_without_user_information() -> Result<()> {
    let server = TestServer::start(|head| {
        let host = head.lines().find(|l| l.to_ascii_lowercase().starts_with("host:")).unwrap_or_default().to_owned();
        Some(response("200 OK", &[], &host))
    })
    .await;
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let port = server.addr.port();
    let response =
        client.send(&policy, get(&format!("http://user:secret@127.0.0.1:{port}/")), SendOptions::default()).await?;
    assert_eq!(response.body(), &format!("host: 127.0.0.1:{port}"));
    Ok(())
}

/// Calls at once each get a connection of their own, and every one of them
/// is pooled for the calls after: a second round as large opens none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_pool_every_connection_they_opened() -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Answers each request with its request line once all 16 of a round
    // have arrived, so that the calls of a round overlap; keeps
    // connections alive.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let round_in = Arc::new(tokio::sync::Barrier::new(16));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let round_in = round_in.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    buf.clear();
                    round_in.wait().await;
                    let line = head.lines().next().unwrap_or_default();
                    if stream.write_all(response("200 OK", &[], line).as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    for round in 0..2 {
        let calls: Vec<_> = (0..16)
            .map(|i| {
                let (client, policy) = (client.clone(), policy.clone());
                let url = format!("http://127.0.0.1:{port}/{round}/{i}");
                tokio::spawn(async move { client.send(&policy, get(&url), SendOptions::default()).await })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await??.body(), &format!("GET /{round}/{i} HTTP/1.1"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 16, "after round {round}");
    }
    Ok(())
}

/// Waits up to five seconds for `done`, polling.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited five seconds for {what}");
}

#[tokio::test]
async fn oversized_response_body_rejected() -> Result<()> {
    let server = TestServer::ok("0123456789abcdef").await;
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let options = SendOptions { max_response_bytes: 8, ..SendOptions::default() };
    let e = client.send(&policy, get(&url), options).await.unwrap_err();
    assert!(matches!(e, EgressError::BodyTooLarge { limit: 8, .. }), "{e:?}");
    // The body was not read: its connection cannot carry another call.
    client.send(&policy, get(&url), SendOptions::default()).await?;
    assert_eq!(server.accepted(), 2);
    Ok(())
}

#[tokio::test]
async fn head_response_length_not_counted_as_body() -> Result<()> {
    let server = TestServer::start(|_| Some("HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n".to_owned())).await;
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let options = SendOptions { max_response_bytes: 8, ..SendOptions::default() };
    let request = http::Request::head(url).body(Bytes::new())?;
    let response = client.send(&policy, request, options).await?;
    assert_eq!(response.headers()["content-length"], "1000000");
    assert!(response.body().is_empty());
    Ok(())
}

#[tokio::test]
async fn oversized_chunked_body_rejected_while_streaming() -> Result<()> {
    let server = TestServer::start(|_| {
        Some(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
             8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n"
                .to_owned(),
        )
    })
    .await;
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let options = SendOptions { max_response_bytes: 10, ..SendOptions::default() };
    let e = client.send(&policy, get(&url), options).await.unwrap_err();
    assert!(matches!(e, EgressError::BodyTooLarge { limit: 10, .. }), "{e:?}");
    let options = SendOptions { max_response_bytes: 16, ..SendOptions::default() };
    let ok = client.send(&policy, get(&url), options).await?;
    assert_eq!(ok.body(), "0123456789abcdef");
    // The first connection was dropped mid-body; the second is pooled.
    client.send(&policy, get(&url), options).await?;
    assert_eq!((server.accepted(), server.requests()), (2, 3));
    Ok(())
}

#[tokio::test]
async fn silent_backend_times_out() -> Result<()> {
    let server = TestServer::start(|_| None).await;
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let options = SendOptions { timeout: Some(Duration::from_millis(200)), ..SendOptions::default() };
    let e = client.send(&policy, get(&url), options).await.unwrap_err();
    assert!(matches!(e, EgressError::Timeout { .. }), "{e:?}");
    Ok(())
}

#[tokio::test]
async fn without_a_timeout_the_call_waits_for_its_callers_bound() -> Result<()> {
    let server = TestServer::start(|_| None).await;
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let options = SendOptions { timeout: None, ..SendOptions::default() };
    let bounded = tokio::time::timeout(Duration::from_millis(300), client.send(&policy, get(&url), options)).await;
    assert!(bounded.is_err(), "the call ended by itself: {bounded:?}");
    Ok(())
}

#[tokio::test]
async fn closed_port_unreachable() -> Result<()> {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{port}/");
    let e = client.send(&policy, get(&url), SendOptions::default()).await.unwrap_err();
    assert!(matches!(e, EgressError::Unreachable { .. }), "{e:?}");
    Ok(())
}

#[tokio::test]
async fn request_body_and_method_reach_backend() -> Result<()> {
    let server = TestServer::start(|head| {
        let line = head.lines().next().unwrap_or_default().to_owned();
        Some(response("201 Created", &[], &line))
    })
    .await;
    let client = EgressClient::new();
    let policy = loopback_policy(&["*://*:*"]);
    let url = format!("http://127.0.0.1:{}/items?x=1", server.addr.port());
    let request = http::Request::post(url).body(Bytes::from_static(b"{\"a\":1}"))?;
    let response = client.send(&policy, request, SendOptions::default()).await?;
    assert_eq!(response.status(), 201);
    assert_eq!(response.body(), "POST /items?x=1 HTTP/1.1");
    Ok(())
}

/// The connection goes to the vetted address, yet TLS verifies the name in
/// the URL (sent as SNI), not the address.
#[tokio::test]
async fn tls_verifies_original_name_on_vetted_address() -> Result<()> {
    let (server_tls, client_tls) = crate::support::tls_pair("backend.test");
    let sni = Arc::new(Mutex::new(Vec::new()));
    let server = TestServer::start_tls(server_tls, sni.clone(), |_| Some(response("200 OK", &[], "secure"))).await;
    let client =
        EgressClient::builder().resolver(Arc::new(pinned("backend.test", "127.0.0.1"))).tls_config(client_tls).build();
    let policy = loopback_policy(&["https://backend.test:*"]);
    let url = format!("https://Backend.Test.:{}/", server.addr.port());
    let response = client.send(&policy, get(&url), SendOptions::default()).await?;
    assert_eq!(response.body(), "secure");
    assert_eq!(*sni.lock().unwrap(), ["backend.test"]);
    Ok(())
}

#[tokio::test]
async fn tls_certificate_for_another_name_rejected() -> Result<()> {
    let (server_tls, client_tls) = crate::support::tls_pair("backend.test");
    let sni = Arc::new(Mutex::new(Vec::new()));
    let server = TestServer::start_tls(server_tls, sni, |_| Some(response("200 OK", &[], "x"))).await;
    let client =
        EgressClient::builder().resolver(Arc::new(pinned("impostor.test", "127.0.0.1"))).tls_config(client_tls).build();
    let policy = loopback_policy(&["https://impostor.test:*"]);
    let url = format!("https://impostor.test:{}/", server.addr.port());
    let e = client.send(&policy, get(&url), SendOptions::default()).await.unwrap_err();
    assert!(matches!(e, EgressError::Failed { .. }), "{e:?}");
    assert_eq!(server.requests(), 0);
    Ok(())
}

/// An environment with linked subnet 10.1.0.0/16 that trusts `pem` (a
/// private CA) there, loaded from a file as the gateway loads it.
fn with_private_root(pem: &str, dir: &std::path::Path) -> Result<Environment> {
    std::fs::write(dir.join("internal-ca.pem"), pem)?;
    let environment: Environment = serde_json::from_value(
        serde_json::json!({"subnets": ["10.1.0.0/16"], "public": true, "private_roots": ["internal-ca.pem"]}),
    )?;
    Ok(environment.with_private_roots_under(dir).load_private_roots()?)
}

/// A private endpoint with an internal CA's certificate verifies once the
/// environment trusts that CA, and only at addresses of its linked subnets.
#[tokio::test]
async fn a_private_root_is_trusted_inside_the_linked_subnets_only() -> Result<()> {
    let (server_tls, pem) = crate::support::private_ca_pair("api.internal");
    let sni = Arc::new(Mutex::new(Vec::new()));
    let server = TestServer::start_tls(server_tls, sni, |_| Some(response("200 OK", &[], "private"))).await;
    let dir = tempfile_dir()?;
    let trusting = with_private_root(&pem, dir.path())?;
    let dialer = RecordingDialer::standing_in(server.addr);
    let call = |ip: &'static str, environment: Environment| {
        let client =
            EgressClient::builder().resolver(Arc::new(pinned("api.internal", ip))).dialer(dialer.clone()).build();
        let policy = Policy::new(Allowlist::parse(["https://api.internal"]).unwrap(), environment);
        async move { client.send(&policy, get("https://api.internal/"), SendOptions::default()).await }
    };
    let response = call("10.1.2.3", trusting.clone()).await?;
    assert_eq!(response.body(), "private");
    // The same environment without the root: the public roots do not know the CA.
    let plain: Environment = serde_json::from_value(serde_json::json!({"subnets": ["10.1.0.0/16"], "public": true}))?;
    let refused = anyhow::Error::from(call("10.1.2.3", plain).await.unwrap_err());
    assert!(format!("{refused:#}").contains("tls handshake"), "{refused:#}");
    // A public address of the same name: the private root is not trusted there.
    let public = anyhow::Error::from(call("93.184.215.14", trusting).await.unwrap_err());
    assert!(format!("{public:#}").contains("tls handshake"), "{public:#}");
    assert_eq!(dialer.dialed().len(), 3, "each call dialed the vetted address");
    Ok(())
}

#[test]
fn private_roots_that_do_not_load_say_which_file_and_why() -> Result<()> {
    let dir = tempfile_dir()?;
    let error = with_private_root("not a certificate", dir.path()).unwrap_err();
    assert!(
        error.to_string().contains("internal-ca.pem") && error.to_string().contains("no `BEGIN CERTIFICATE`"),
        "{error}"
    );
    let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let error = with_private_root(garbage, dir.path()).unwrap_err();
    assert!(error.to_string().contains("not a usable root certificate"), "{error}");
    let missing: Environment = serde_json::from_value(
        serde_json::json!({"subnets": ["10.1.0.0/16"], "public": true, "private_roots": ["nope.pem"]}),
    )?;
    let error = missing.with_private_roots_under(dir.path()).load_private_roots().unwrap_err();
    assert!(error.to_string().contains("nope.pem: cannot read it"), "{error}");
    // Roots without a linked subnet would never be used: refused as settings.
    let error = serde_json::from_value::<Environment>(serde_json::json!({"private_roots": ["a.pem"]})).unwrap_err();
    assert!(error.to_string().contains("only for linked subnets"), "{error}");
    Ok(())
}

fn tempfile_dir() -> Result<tempfile::TempDir> {
    Ok(tempfile::tempdir()?)
}
