//! IBM Watson Text to Speech's custom code, for `Synthesize`: the request
//! goes out unchanged; a 2xx answer's binary audio comes back as
//! `{"base64": "<the bytes, base64>"}` JSON, which flows can carry. Other
//! answers pass through untouched.
//!
//! The host comes from the connection's `url` through the package's
//! `dynamichosturl` policy, which the gateway applies before the code runs.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sluice_guest::{Context, Error, Response, Transform};

struct TextToSpeech;

impl Transform for TextToSpeech {
    fn on_response(_ctx: &Context, mut response: Response) -> Result<Response, Error> {
        if !response.is_success() {
            return Ok(response);
        }
        let audio = response.take_body();
        response.headers_mut().remove("content-length");
        response.set_json(&sluice_guest::serde_json::json!({ "base64": BASE64.encode(audio) }))?;
        Ok(response)
    }
}

sluice_guest::export!(TextToSpeech);
