//! The server against slow and hostile clients: timeouts for headers,
//! bodies and idle connections, a cap on connections, metrics labels only
//! from known names, and routing in linear time.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Reads until the peer closes; `None` if it has not within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut read = Vec::new();
    let outcome = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    outcome.ok().map(|()| read)
}

#[tokio::test]
async fn a_client_trickling_header_lines_is_disconnected() {
    let gateway =
        TestGatewayBuilder::new().requests(|r| r.header_read_timeout = Duration::from_millis(500)).start().await;
    let mut stream = TcpStream::connect(gateway.address).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let trickle = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(b"x-more: 1\r\n").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle).await;
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await.is_some(), "the connection is still open");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_is_answered_408() {
    let recorder = Recorder::default();
    let backend = start_backend(recorder.app()).await;
    let gateway = TestGatewayBuilder::new()
        .package("shop", shop_definition(backend, json!({})), shop_properties(json!({}), None, json!([])))
        .connection("shop", "c1", &[])
        .requests(|r| r.body_read_timeout = Duration::from_millis(300))
        .start()
        .await;
    let mut stream = TcpStream::connect(gateway.address).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /apim/shop/c1/orders/1/lines?dryRun=true HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\nx-tenant: t\r\ncontent-length: 100\r\n\r\n{{\"a\":",
                gateway.address, gateway.admin_key
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.expect("an answer").unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body-timeout"), "{text}");
    assert_eq!(recorder.count(), 0);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let gateway = TestGatewayBuilder::new().requests(|r| r.idle_timeout = Duration::from_millis(400)).start().await;
    let mut stream = TcpStream::connect(gateway.address).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut buffer = [0u8; 256];
    let n = stream.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await.is_some(), "the idle connection stays open");
}

#[tokio::test]
async fn a_connection_that_keeps_moving_outlives_the_idle_timeout() {
    // The idle timer is moved only when it fires: a connection whose
    // requests keep coming, each well within the idle timeout, stays open
    // for many times that timeout.
    let gateway = TestGatewayBuilder::new().requests(|r| r.idle_timeout = Duration::from_millis(300)).start().await;
    let mut stream = TcpStream::connect(gateway.address).await.unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 256];
    while started.elapsed() < Duration::from_millis(1500) {
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let n =
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.expect("an answer").unwrap();
        assert!(
            String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"),
            "closed after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then, left alone, it is closed.
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await.is_some(), "the idle connection stays open");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_one_to_close() {
    let gateway = TestGatewayBuilder::new().requests(|r| r.max_connections = 2).start().await;
    let first = TcpStream::connect(gateway.address).await.unwrap();
    let _second = TcpStream::connect(gateway.address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(gateway.address).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut buffer = [0u8; 256];
    let waited = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buffer)).await;
    assert!(waited.is_err(), "the third connection was served while two were open");
    drop(first);
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buffer)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn metrics_label_only_known_connectors_and_cannot_be_written_into() {
    let gateway = TestGatewayBuilder::new().start().await;
    assert_eq!(gateway.get("/apim/x%22%7D%201%0Afake%7Ba%3D%22/c/p").await.status, 404);
    for i in 0..200 {
        gateway.get(&format!("/apim/random-{i}/c/p")).await;
    }
    let metrics = gateway.get("/metrics").await.text();
    assert!(!metrics.lines().any(|l| l.starts_with("fake")), "{metrics}");
    assert!(!metrics.contains("random-"), "every unknown connector is one `unknown` series");
    assert!(metrics.contains(r#"connector="unknown""#), "{metrics}");
}

#[tokio::test]
async fn a_hostile_path_is_refused_without_backtracking() {
    let mut definition = shop_definition("127.0.0.1:9".parse().unwrap(), json!({}));
    definition["paths"]["/files/{a}-{b}-{c}.json"] = json!({"get": {"operationId": "GetFile", "parameters": [
        {"name": "a", "in": "path", "required": true, "type": "string"},
        {"name": "b", "in": "path", "required": true, "type": "string"},
        {"name": "c", "in": "path", "required": true, "type": "string"}
    ], "responses": {"200": {"description": "ok"}}}});
    let gateway = TestGatewayBuilder::new()
        .package("files", definition, shop_properties(json!({}), None, json!([])))
        .connection("files", "c1", &[])
        .start()
        .await;
    let path = format!("/apim/files/c1/files/{}x.jso", "a-".repeat(4_000));
    // Backtracking took over a minute here; one pass answers at once.
    let answer = tokio::time::timeout(Duration::from_secs(10), gateway.get(&path)).await.expect("an answer");
    assert_eq!((answer.status, answer.problem_type().as_str()), (404, "unknown-operation"));
}
