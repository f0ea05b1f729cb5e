//! The canonical transform, written with the transform hooks: the request
//! gets `x-sluice: 1`; the backend's JSON array of items comes back wrapped
//! as `{"count": n, "items": [...]}`.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`
//! (the gateway's build does it for you).

use serde::{Deserialize, Serialize};
use sluice_guest::{Context, Error, Request, Response, Transform};

/// One item as the backend sends it.
#[derive(Serialize, Deserialize)]
struct Item {
    id: u64,
    name: String,
    ok: bool,
}

#[derive(Serialize)]
struct Wrapped {
    count: usize,
    items: Vec<Item>,
}

struct Items;

impl Transform for Items {
    fn on_request(_ctx: &Context, request: Request) -> Result<Request, Error> {
        Ok(request.with_header("x-sluice", "1"))
    }

    fn on_response(_ctx: &Context, response: Response) -> Result<Response, Error> {
        if !response.is_success() {
            return Ok(response);
        }
        let items: Vec<Item> = response.json()?;
        Response::json_body(200, &Wrapped { count: items.len(), items })
    }
}

sluice_guest::export!(Items);
