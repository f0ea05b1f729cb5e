//! VIES: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

fn vies_answer(seen: &Seen) -> Response {
    let body = String::from_utf8_lossy(&seen.body);
    let envelope_ok = header(seen, "content-type").starts_with("text/xml")
        && body.contains(r#"xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/""#)
        && body.contains(r#"xmlns:urn="urn:ec.europa.eu:taxud:vies:services:checkVat:types""#)
        && body.contains("<urn:checkVat><urn:countryCode>");
    let soap = |inner: &str| {
        format!(
            r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Header/><env:Body>{inner}</env:Body></env:Envelope>"#
        )
    };
    let fault = |status: StatusCode, reason: &str| {
        (
            status,
            [("content-type", "text/xml")],
            soap(&format!(
                "<env:Fault><faultcode>env:Server</faultcode><faultstring>{reason}</faultstring></env:Fault>"
            )),
        )
            .into_response()
    };
    if seen.path_and_query != "/taxation_customs/vies/services/checkVatService" || !envelope_ok {
        return fault(StatusCode::INTERNAL_SERVER_ERROR, "MALFORMED_REQUEST");
    }
    if !body.contains("<urn:countryCode>BE</urn:countryCode><urn:vatNumber>0123456789</urn:vatNumber>") {
        return fault(StatusCode::INTERNAL_SERVER_ERROR, "INVALID_INPUT");
    }
    let result = concat!(
        r#"<ns2:checkVatResponse xmlns:ns2="urn:ec.europa.eu:taxud:vies:services:checkVat:types">"#,
        "<ns2:countryCode>BE</ns2:countryCode><ns2:vatNumber>0123456789</ns2:vatNumber>",
        "<ns2:requestDate>2024-10-23+02:00</ns2:requestDate><ns2:valid>true</ns2:valid>",
        "<ns2:name>ACME &amp; CO</ns2:name><ns2:address>\nRUE DE LA LOI 1\n1000 BRUXELLES\n</ns2:address>",
        "</ns2:checkVatResponse>"
    );
    ([("content-type", "text/xml; charset=UTF-8")], soap(result)).into_response()
}

async fn vies() -> (TestGateway, Log) {
    let (address, log) = backend(vies_answer).await;
    (serve("VIES", Some("vies-guest"), Some(address), &[]).await, log)
}

/// `CheckVATValidity`, the connector's operation, with this JSON body.
async fn check_vat(gateway: &TestGateway, body: serde_json::Value) -> Answer {
    let path = "/apim/VIES/c1/taxation_customs/vies/services/checkVatService";
    gateway.send("POST", path, &[("content-type", "application/json")], body.to_string()).await
}

#[tokio::test]
async fn vies_checks_the_vat_number_through_a_soap_call() {
    let (gateway, log) = vies().await;
    let answer = check_vat(&gateway, json!({"countryCode": " BE ", "vatNumber": " 0123.456-789 "})).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.text(),
        json!({"countryCode": "BE", "vatNumber": "0123456789", "name": "ACME & CO",
               "address": "RUE DE LA LOI 1\n1000 BRUXELLES", "requestDate": "2024-10-23+02:00", "valid": true})
        .to_string(),
        "flat, in the original's order"
    );
    assert_eq!(log.all().len(), 1);
}

#[tokio::test]
async fn vies_soap_fault_is_answered_400_with_its_message() {
    let (gateway, _log) = vies().await;
    let answer = check_vat(&gateway, json!({"countryCode": "BE", "vatNumber": "999"})).await;
    assert_eq!((answer.status, answer.json()), (400, json!("the VIES service reported a fault: INVALID_INPUT")));
}

#[tokio::test]
async fn vies_missing_vat_number_is_answered_400_without_a_call() {
    let (gateway, log) = vies().await;
    let answer = gateway
        .send(
            "POST",
            "/apim/VIES/c1/taxation_customs/vies/services/checkVatService",
            &[("content-type", "application/json")],
            r#"{"countryCode":"BE"}"#,
        )
        .await;
    assert_eq!((answer.status, answer.json()), (400, json!("vatNumber is required")));
    assert!(log.all().is_empty());
}
