//! Nationalize.io's custom code, for `CheckNamesNationality`: the request
//! arrives as `?name=<comma-separated names>&apikey=<key>`; the API wants
//! one `name[]=<name>` pair per name (trimmed, at most ten) and the key
//! only on paid plans (a key containing `none` means the free plan).
//!
//! The package's definition names `api.genderize.io` (inherited from its
//! sibling connector); calls addressed there move to `api.nationalize.io`,
//! which the package's `sluice.toml` allows. A definition pointed elsewhere
//! (a mirror, a test backend) keeps its host.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use sluice_guest::{Context, Error, Handler, Request, Response, send};

/// The host the definition declares.
const DEFINITION_HOST: &str = "api.genderize.io";
/// The host the code sends to instead.
const API_HOST: &str = "api.nationalize.io";
/// The API's limit on names per call.
const MAX_NAMES: usize = 10;

struct Nationalize;

impl Handler for Nationalize {
    fn handle(_ctx: &Context, mut request: Request) -> Result<Response, Error> {
        let names =
            request.query("name").ok_or_else(|| Error::bad_request("the query parameter `name` is required"))?;
        let key = request.query("apikey");
        let names: Vec<&str> = names.split(',').map(str::trim).filter(|n| !n.is_empty()).take(MAX_NAMES).collect();
        if names.is_empty() {
            return Err(Error::bad_request("`name` holds no name"));
        }
        let mut url = request.parsed_url()?;
        url.set_query(None);
        request.set_url(url.as_str());
        if url.host_str() == Some(DEFINITION_HOST) {
            request.set_host(API_HOST)?;
        }
        for name in names {
            request.append_query("name[]", name)?;
        }
        if let Some(key) = key.filter(|key| !key.to_ascii_lowercase().contains("none")) {
            request.append_query("apikey", &key)?;
        }
        Ok(send(request)?)
    }
}

sluice_guest::export!(Nationalize);
