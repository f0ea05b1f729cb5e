//! IBM Watson Text to Speech: its custom code through a real gateway, against a loopback
//! backend that checks what it receives.

use super::*;

const AUDIO: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\xff\xfe";

async fn ibm() -> (TestGateway, Log) {
    let (address, log) = backend(|seen| {
        let expected = format!("Basic {}", BASE64.encode("apikey:ibm-key"));
        if header(seen, "authorization") != expected {
            return json_answer(401, json!({"code": 401, "error": "Unauthorized"}));
        }
        let path = seen.path_and_query.split('?').next().unwrap_or_default();
        match (seen.method.as_str(), path) {
            ("POST", "/v1/synthesize") => {
                let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
                if body["text"].as_str().unwrap_or_default().is_empty() {
                    return json_answer(400, json!({"code": 400, "error": "The text is empty"}));
                }
                ([("content-type", "audio/wav")], AUDIO).into_response()
            }
            ("GET", "/v1/voices") => json_answer(200, json!({"voices": [{"name": "en-US_AllisonV3Voice"}]})),
            _ => json_answer(404, json!({"code": 404, "error": "Not Found"})),
        }
    })
    .await;
    let gateway = serve(
        "IBM_Watson_Text_to_Speech",
        Some("ibm-watson-text-to-speech-guest"),
        Some(address),
        &[("url", &format!("http://{address}")), ("username", "apikey"), ("password", "ibm-key")],
    )
    .await;
    (gateway, log)
}

#[tokio::test]
async fn ibm_synthesize_answers_the_audio_as_base64_json() {
    let (gateway, log) = ibm().await;
    let answer = gateway
        .send(
            "POST",
            "/apim/IBM_Watson_Text_to_Speech/c1/v1/synthesize?voice=en-US_AllisonV3Voice",
            &[("content-type", "application/json"), ("accept", "audio/wav")],
            r#"{"text":"hello"}"#,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(answer.json(), json!({"base64": BASE64.encode(AUDIO)}));
    assert_eq!(log.paths(), ["POST /v1/synthesize?voice=en-US_AllisonV3Voice"]);
}

#[tokio::test]
async fn ibm_synthesize_error_passes_through_untouched() {
    let (gateway, _log) = ibm().await;
    let answer = gateway
        .send(
            "POST",
            "/apim/IBM_Watson_Text_to_Speech/c1/v1/synthesize",
            &[("content-type", "application/json")],
            r#"{"text":""}"#,
        )
        .await;
    assert_eq!((answer.status, answer.json()), (400, json!({"code": 400, "error": "The text is empty"})));
}

#[tokio::test]
async fn ibm_list_voices_runs_no_code() {
    let (gateway, _log) = ibm().await;
    let answer = gateway.get("/apim/IBM_Watson_Text_to_Speech/c1/v1/voices").await;
    assert_eq!((answer.status, answer.json()), (200, json!({"voices": [{"name": "en-US_AllisonV3Voice"}]})));
}
