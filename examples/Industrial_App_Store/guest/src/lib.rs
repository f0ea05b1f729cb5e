//! Industrial App Store's custom code: the v2 data queries answer
//! `{"<tag>": {...}}`; for the four of them the code answers the inner
//! object of the first property, byte for byte. Every other operation, and
//! every non-2xx answer, passes through unchanged.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use sluice_guest::serde_json::value::RawValue;
use sluice_guest::{Context, Error, Response, Transform};

/// The operations whose answers are unwrapped.
const UNWRAPPED: [&str; 4] =
    ["ias_getdata_snapshot_v2", "ias_getdata_processed_v2", "ias_getdata_plot_v2", "ias_getdata_raw_v2"];

struct IndustrialAppStore;

impl Transform for IndustrialAppStore {
    fn on_response(ctx: &Context, mut response: Response) -> Result<Response, Error> {
        if !UNWRAPPED.contains(&ctx.operation_id()) || !response.is_success() {
            return Ok(response);
        }
        let FirstValue(first) = response.json()?;
        if let Some(inner) = first {
            response.headers_mut().remove("content-length");
            response.headers_mut().set("content-type", "application/json");
            response.set_body(inner.get().as_bytes());
        }
        Ok(response)
    }
}

/// The value of a JSON object's first property, as its exact text; `None`
/// for an empty object. The other properties are skipped, not built.
struct FirstValue(Option<Box<RawValue>>);

impl<'de> Deserialize<'de> for FirstValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct First;
        impl<'de> Visitor<'de> for First {
            type Value = FirstValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstValue, A::Error> {
                let first = map.next_entry::<IgnoredAny, Box<RawValue>>()?.map(|(_, value)| value);
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FirstValue(first))
            }
        }
        deserializer.deserialize_map(First)
    }
}

sluice_guest::export!(IndustrialAppStore);
