//! A package's `assets/` through the gateway: the code reads it at
//! `/assets`, read-only, in JavaScript and Python alike.

use crate::support::*;

async fn gateway(language: &str) -> TestGateway {
    TestGatewayBuilder::new()
        .package_from(&test_package("assets-reader"), None)
        .file("assets-reader", "script.wasm", sluice_test_programs::interpreted_bytes(language, "hostile"))
        .connection("assets-reader", "c1", &[])
        .start()
        .await
}

#[tokio::test]
async fn the_code_reads_its_assets_and_cannot_write_or_leave_them() {
    for language in ["js", "py"] {
        let gateway = gateway(language).await;
        let answer = gateway.get("/apim/assets-reader/c1/greeting").await;
        assert_eq!((answer.status, answer.text().as_str()), (200, "hello from the assets"), "{language}");
        let answer = gateway.send("POST", "/apim/assets-reader/c1/greeting/new", &[], "").await;
        assert_eq!((answer.status, answer.problem_type().as_str()), (403, "code-client-error"), "{language}");
        assert!(!gateway.packages_dir().join("assets-reader/assets/new.txt").exists(), "{language}");
        let answer = gateway.get("/apim/assets-reader/c1/escape").await;
        assert_eq!(answer.status, 403, "{language}: {}", answer.text());
    }
}
