//! VIES's custom code, for `CheckVATValidity`: reads
//! `{"countryCode", "vatNumber"}`, posts a SOAP 1.1 `checkVat` envelope to
//! the EU's VIES service, and answers 200 with the result as flat JSON:
//! `countryCode`, `vatNumber`, `name`, `address`, `requestDate`, `valid`.
//! Any failure answers 400 with the message as a JSON string, as the
//! original does.
//!
//! Unlike the original, which called the service over plain HTTP with its
//! own client, the envelope goes out through `send`, to the definition's
//! own (HTTPS) address, so the egress policy sees and governs the call.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use serde::{Deserialize, Serialize};
use sluice_guest::{Context, Error, Handler, Request, Response, send};

/// The namespace of the `checkVat` types.
const TYPES_NAMESPACE: &str = "urn:ec.europa.eu:taxud:vies:services:checkVat:types";

/// The request body.
#[derive(Deserialize)]
struct Input {
    #[serde(rename = "countryCode", default)]
    country_code: Option<String>,
    #[serde(rename = "vatNumber", default)]
    vat_number: Option<String>,
}

/// The answer, in the original's field order.
#[derive(Serialize, Default, Debug, PartialEq)]
struct Output {
    #[serde(rename = "countryCode")]
    country_code: String,
    #[serde(rename = "vatNumber")]
    vat_number: String,
    name: String,
    address: String,
    #[serde(rename = "requestDate")]
    request_date: String,
    valid: bool,
}

struct Vies;

impl Handler for Vies {
    fn handle(_ctx: &Context, request: Request) -> Result<Response, Error> {
        match check(request) {
            Ok(output) => Response::json_body(200, &output),
            Err(message) => {
                sluice_guest::warn!("VAT check failed: {message}");
                Response::json_body(400, &message)
            }
        }
    }
}

/// The whole check; an `Err` is the message the client gets.
fn check(request: Request) -> Result<Output, String> {
    let input: Input =
        sluice_guest::serde_json::from_slice(request.body()).map_err(|e| format!("invalid request body: {e}"))?;
    let country_code = input.country_code.as_deref().map(str::trim).unwrap_or_default();
    let vat_number: String = input
        .vat_number
        .as_deref()
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    if country_code.is_empty() {
        return Err("countryCode is required".into());
    }
    if vat_number.is_empty() {
        return Err("vatNumber is required".into());
    }
    let envelope = envelope(country_code, &vat_number);
    let soap = Request::post(request.url())
        .with_header("Content-Type", "text/xml; charset=utf-8")
        .with_header("SOAPAction", "\"\"")
        .with_body(envelope);
    let response = send(soap).map_err(|e| format!("the VIES service could not be reached: {e}"))?;
    let answer = std::str::from_utf8(response.body())
        .map_err(|_| Answer::Unreadable("the VIES service answered something other than text".into()))
        .and_then(parse_answer);
    match answer {
        Ok(output) if response.is_success() => Ok(output),
        // A fault explains itself whatever the status (VIES faults come as 500).
        Err(Answer::Fault(reason)) => Err(format!("the VIES service reported a fault: {reason}")),
        _ if !response.is_success() => Err(format!("the VIES service answered {}", response.status())),
        Err(Answer::Unreadable(message)) => Err(message),
        Ok(output) => Ok(output),
    }
}

/// Why an answer gave no result.
enum Answer {
    /// A SOAP fault, with its `faultstring`.
    Fault(String),
    /// Not a `checkVatResponse`.
    Unreadable(String),
}

impl From<String> for Answer {
    fn from(message: String) -> Self {
        Answer::Unreadable(message)
    }
}

/// The SOAP 1.1 `checkVat` request.
fn envelope(country_code: &str, vat_number: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="{ns}">"#,
            r#"<soapenv:Header/><soapenv:Body><urn:checkVat>"#,
            r#"<urn:countryCode>{country}</urn:countryCode><urn:vatNumber>{vat}</urn:vatNumber>"#,
            r#"</urn:checkVat></soapenv:Body></soapenv:Envelope>"#
        ),
        ns = TYPES_NAMESPACE,
        country = escape(country_code),
        vat = escape(vat_number),
    )
}

/// Escapes text for an XML element.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Reads `checkVatResponse` (or a SOAP fault, as an error) from the answer.
fn parse_answer(xml: &str) -> Result<Output, Answer> {
    let document =
        roxmltree::Document::parse(xml).map_err(|e| format!("the VIES service answered invalid XML: {e}"))?;
    if let Some(fault) = document.descendants().find(|n| n.has_tag_name("Fault")) {
        let reason =
            fault.children().find(|n| n.has_tag_name("faultstring")).and_then(|n| n.text()).unwrap_or("unknown fault");
        return Err(Answer::Fault(reason.trim().to_string()));
    }
    let result = document
        .descendants()
        .find(|n| n.has_tag_name((TYPES_NAMESPACE, "checkVatResponse")))
        .ok_or_else(|| Answer::Unreadable("the VIES service's answer has no checkVatResponse".into()))?;
    let field = |name: &str| -> String {
        result
            .children()
            .find(|n| n.has_tag_name((TYPES_NAMESPACE, name)))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string())
            .unwrap_or_default()
    };
    Ok(Output {
        country_code: field("countryCode"),
        vat_number: field("vatNumber"),
        name: field("name"),
        address: field("address"),
        request_date: field("requestDate"),
        valid: field("valid").eq_ignore_ascii_case("true"),
    })
}

sluice_guest::export!(Vies);
