//! Tulip's custom code, for `GetTable`: builds the JSON schema of a table's
//! records at run time (a dynamic schema), from the table's columns. Each
//! column becomes a property keyed by its `name`, described by its `label`,
//! typed from its data type; `id` is required. Non-2xx answers pass through.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `examples/`.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use sluice_guest::serde_json::{Value, json};
use sluice_guest::{Context, Error, Response, Transform};

/// A table as `GET /tables/{id}` answers it, as far as the code reads it.
#[derive(Deserialize)]
struct Table {
    #[serde(default)]
    columns: Vec<Column>,
}

#[derive(Deserialize)]
struct Column {
    name: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(rename = "dataType", default)]
    data_type: Option<DataType>,
}

#[derive(Deserialize)]
struct DataType {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// The schema's properties, in the columns' order.
struct Properties(Vec<(String, Value)>);

impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, schema) in &self.0 {
            map.serialize_entry(name, schema)?;
        }
        map.end()
    }
}

/// The schema's shape: an array of records.
#[derive(Serialize)]
struct Schema {
    #[serde(rename = "type")]
    kind: &'static str,
    items: Items,
}

#[derive(Serialize)]
struct Items {
    #[serde(rename = "type")]
    kind: &'static str,
    required: [&'static str; 1],
    properties: Properties,
}

struct Tulip;

impl Transform for Tulip {
    fn on_response(_ctx: &Context, response: Response) -> Result<Response, Error> {
        if !response.is_success() {
            return Ok(response);
        }
        let table: Table = response.json()?;
        let properties = table
            .columns
            .into_iter()
            .map(|column| {
                let kind = json_type(column.data_type.as_ref().and_then(|t| t.kind.as_deref()).unwrap_or_default());
                let label = column.label.unwrap_or_else(|| column.name.clone());
                (column.name, json!({ "type": kind, "description": label, "x-ms-summary": label }))
            })
            .collect();
        let schema = Schema {
            kind: "array",
            items: Items { kind: "object", required: ["id"], properties: Properties(properties) },
        };
        Response::json_body(response.status(), &schema)
    }
}

/// The JSON type of a Tulip column type.
fn json_type(tulip_type: &str) -> &'static str {
    match tulip_type {
        "interval" | "float" => "number",
        "color" => "object",
        // timestamp, imageUrl, fileUrl, user, station, machine, tableLink
        // and anything unknown travel as text.
        _ => "string",
    }
}

sluice_guest::export!(Tulip);
