//! HtmlToText's custom code: answers on its own, without a backend call.
//! It reads `{"html": "..."}` and answers 200 with the HTML as plain text:
//! tables dropped whole (nested ones too), block tags and `<br>` turned
//! into line breaks, `<script>` and `<style>` dropped with their content,
//! other tags stripped, a `&nbsp;` just before a line break removed,
//! entities decoded, the result trimmed.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use regex_lite::Regex;
use serde::Deserialize;
use sluice_guest::{Context, Error, Handler, Request, Response};

/// The one operation the code knows.
const OPERATION: &str = "HtmlToText";

/// The request body.
#[derive(Deserialize)]
struct Input {
    #[serde(default)]
    html: Option<String>,
}

struct HtmlToText;

impl Handler for HtmlToText {
    fn handle(ctx: &Context, request: Request) -> Result<Response, Error> {
        if ctx.operation_id() != OPERATION {
            return Response::json_body(400, &format!("Unknown operation ID '{}'", ctx.operation_id()));
        }
        let input: Input = request.json()?;
        let text = html_to_text(input.html.as_deref().unwrap_or_default())?;
        Ok(Response::text_body(200, text))
    }
}

/// The conversion, in the order the original applies it.
fn html_to_text(html: &str) -> Result<String, Error> {
    let text = drop_tables(html)?;
    let text = pattern(r"(?is)<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>")?.replace_all(&text, "");
    let text = pattern(r"(?i)<\s*/?\s*(?:div|header|p|hr|li|ol|ul)\b[^>]*>|<\s*br\s*/?\s*>")?.replace_all(&text, "\n");
    let text = pattern(r"<[^>]*>")?.replace_all(&text, "");
    let text = pattern(r"(?i)&nbsp;(\r?\n)")?.replace_all(&text, "$1");
    Ok(html_escape::decode_html_entities(&text).trim().to_string())
}

/// Removes every `<table>` element with its content; nested tables count
/// their depth, and a table left open runs to the end.
fn drop_tables(html: &str) -> Result<String, Error> {
    let tag = pattern(r"(?i)<\s*(/?)\s*table\b[^>]*>")?;
    let mut kept = String::with_capacity(html.len());
    let mut depth = 0usize;
    let mut copied_to = 0;
    for found in tag.captures_iter(html) {
        let (Some(whole), closing) = (found.get(0), found.get(1).is_some_and(|m| !m.as_str().is_empty())) else {
            continue;
        };
        match (closing, depth) {
            (false, 0) => {
                kept.push_str(&html[copied_to..whole.start()]);
                depth = 1;
            }
            (false, _) => depth += 1,
            (true, 0) => {}
            (true, 1) => {
                depth = 0;
                copied_to = whole.end();
            }
            (true, _) => depth -= 1,
        }
    }
    if depth == 0 {
        kept.push_str(&html[copied_to..]);
    }
    Ok(kept)
}

/// Compiles one of the fixed patterns above.
fn pattern(source: &str) -> Result<Regex, Error> {
    Regex::new(source).map_err(|e| Error::internal(format!("pattern `{source}`: {e}")))
}

sluice_guest::export!(HtmlToText);
