//! `sluice new`: starts a connector: a package folder whose one operation,
//! `ListItems`, runs custom code, a guest for that code (a Rust crate, or
//! with `--lang js|py` a JavaScript or Python module), and a fixture, so
//! that `sluice build`, `sluice validate` and `sluice run` pass from the
//! first minute.
//!
//! ```text
//! <name>/
//!   apiDefinition.swagger.json   one operation, GET /items (ListItems)
//!   apiProperties.json           an API key, scriptOperations = [ListItems]
//!   fixtures/ListItems.json      the request, a canned backend answer, the expected answer
//!   README.md                    the commands
//!   guest/                       the code: a sluice-guest crate (cdylib)
//!     Cargo.toml
//!     src/lib.rs
//!   guest/index.js               ... or, with --lang js, a JavaScript module
//!   guest/app.py                 ... or, with --lang py, a Python module
//! ```
//!
//! `sluice new --from-csx <package>` starts the port of a package whose code
//! is the platform's C# (`script.csx`): a guest crate in `<package>/guest/`
//! with one `match` arm per code operation, each answering 501 until it is
//! written, and the C# beside them as comments to port from.

use std::path::{Path, PathBuf};

use serde_json::json;
pub use sluice_guest_build::Language;

/// What to create.
#[derive(Debug, Clone)]
pub struct NewOptions {
    /// The connector id: the folder's name.
    pub name: String,
    /// The folder to create it in.
    pub parent: PathBuf,
    /// The `sluice-guest` crate the guest depends on, by path; `None` for
    /// the published version. Rust only.
    pub sdk_path: Option<PathBuf>,
    /// The guest's language.
    pub language: Language,
}

/// Where things were created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The package folder.
    pub package: PathBuf,
    /// The guest crate's folder.
    pub guest: PathBuf,
    /// The fixture.
    pub fixture: PathBuf,
}

/// The connector could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The name is not usable as a connector id and crate name.
    #[error("`{0}` is not a usable connector name: use letters, digits, `-` and `_`, starting with a letter")]
    Name(String),
    /// The folder exists already.
    #[error("{} already exists; choose another name or remove it", .0.display())]
    Exists(PathBuf),
    /// The package to port does not load.
    #[error(transparent)]
    Package(#[from] sluice_package::PackageError),
    /// The package has no C# to port.
    #[error("{}: there is no {} to port{}", .0.display(), sluice_package::CSX_FILE, if *.1 { " (it has script.wasm already)" } else { "" })]
    NothingToPort(PathBuf, bool),
    /// A file could not be written.
    #[error("{}: cannot write it: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The path of this checkout's `guest-sdk`, the default `--sdk-path`.
pub fn default_sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest-sdk")
}

/// The guest crate's name for a connector name: lower case, `-` for `_`.
pub fn crate_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// Creates the connector.
pub fn create(options: &NewOptions) -> Result<Created, NewError> {
    let name = options.name.as_str();
    let usable = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !usable {
        return Err(NewError::Name(name.to_string()));
    }
    let package = options.parent.join(name);
    if package.exists() {
        return Err(NewError::Exists(package));
    }
    let krate = crate_name(name);
    let guest = package.join("guest");

    let pretty = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
    write(package.join(sluice_package::DEFINITION_FILE), pretty(definition(name)))?;
    write(package.join(sluice_package::PROPERTIES_FILE), pretty(properties(name)))?;
    let fixture = package.join("fixtures").join("ListItems.json");
    write(fixture.clone(), pretty(fixture_json()))?;
    match options.language {
        Language::JavaScript => write(guest.join("index.js"), INDEX_JS.to_string())?,
        Language::Python => write(guest.join("app.py"), APP_PY.to_string())?,
        _ => {
            write(guest.join("Cargo.toml"), cargo_toml(&krate, &sdk_dependency(options.sdk_path.as_deref())))?;
            write(guest.join("src").join("lib.rs"), LIB_RS.to_string())?;
            write(guest.join(".gitignore"), "/target\n".to_string())?;
        }
    }
    write(package.join(".gitignore"), "/script.wasm\n".to_string())?;
    write(package.join("README.md"), readme(name, options.language))?;
    Ok(Created { package, guest, fixture })
}

/// What `--from-csx` created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ported {
    /// The guest crate's folder.
    pub guest: PathBuf,
    /// The component the build makes, relative to the guest crate.
    pub component: PathBuf,
    /// The operations that got an arm, in the definition's order.
    pub operations: Vec<String>,
}

/// Scaffolds the port of a package's `script.csx`: a guest crate in
/// `<package>/guest/` whose handler has one arm per code operation (each
/// answering 501 until written; any other operation goes to the backend
/// unchanged), with the C# kept beside it as comments.
pub fn from_csx(package_dir: &Path, sdk_path: Option<&Path>) -> Result<Ported, NewError> {
    let package = sluice_package::load_package(package_dir)?;
    let Some(csx) = &package.unported_code else {
        return Err(NewError::NothingToPort(package_dir.to_path_buf(), package.script.is_some()));
    };
    let guest = package_dir.join("guest");
    if guest.exists() {
        return Err(NewError::Exists(guest));
    }
    let operations = code_operations(&package, csx);
    let krate = crate_name(&package.id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "-"));
    let krate = if krate.starts_with(|c: char| c.is_ascii_alphabetic()) { krate } else { format!("connector-{krate}") };
    write(guest.join("Cargo.toml"), cargo_toml(&krate, &sdk_dependency(sdk_path)))?;
    write(guest.join("src").join("lib.rs"), ported_lib_rs(&package.id, &operations, csx))?;
    write(guest.join(".gitignore"), "/target\n".to_string())?;
    let component = Path::new("target/wasm32-wasip2/release").join(format!("{}.wasm", krate.replace('-', "_")));
    Ok(Ported { guest, component, operations })
}

/// The operations the C# runs for: `scriptOperations` when it lists some,
/// else those the code names next to `OperationId` (a comparison or a
/// `case`), else every operation; always in the definition's order.
fn code_operations(package: &sluice_package::Package, csx: &str) -> Vec<String> {
    let all: Vec<String> = package.definition.operations.iter().map(|op| op.id.clone()).collect();
    if let Some(listed) = package.properties.script_operations.as_ref().filter(|ops| !ops.is_empty()) {
        return all.into_iter().filter(|id| listed.contains(id)).collect();
    }
    let mut named = std::collections::HashSet::new();
    let mut in_switch = false;
    for line in csx.lines() {
        let mentions = line.contains("OperationId");
        if mentions && line.contains("switch") {
            in_switch = true;
        }
        if mentions || (in_switch && line.trim_start().starts_with("case ")) {
            named.extend(string_literals(line));
        }
    }
    let found: Vec<String> = all.iter().filter(|id| named.contains(id.as_str())).cloned().collect();
    if found.is_empty() { all } else { found }
}

/// The contents of the `"..."` literals on a line of C#.
fn string_literals(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

/// The `sluice-guest` dependency: by path, or the published version.
fn sdk_dependency(sdk_path: Option<&Path>) -> String {
    match sdk_path {
        Some(path) => {
            let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
            format!("{{ path = {} }}", toml_string(&path.display().to_string()))
        }
        None => "\"0.1\"".to_string(),
    }
}

fn ported_lib_rs(connector: &str, operations: &[String], csx: &str) -> String {
    let arms: String = operations.iter().map(|id| format!("            {:?} => not_ported(ctx),\n", id)).collect();
    let csharp: String = csx.lines().map(|line| format!("// {line}\n")).collect();
    format!(
        r#"//! The custom code of `{connector}`, to port from its `script.csx` (kept
//! below, as comments). Each code operation answers 501 until its arm is
//! written; any other operation goes to the backend unchanged.
//!
//! Build: `cargo build --target wasm32-wasip2 --release`, then copy the
//! component to the package as `script.wasm`.

use sluice_guest::{{Context, Error, Handler, Request, Response}};

struct Code;

impl Handler for Code {{
    fn handle(ctx: &Context, request: Request) -> Result<Response, Error> {{
        match ctx.operation_id() {{
{arms}            _ => Ok(sluice_guest::send(request)?),
        }}
    }}
}}

/// The answer of an operation whose code is not written yet: 501, which no
/// client error may be (those are 4xx), so it is an answer of its own.
fn not_ported(ctx: &Context) -> Result<Response, Error> {{
    let message = format!("operation `{{}}` is not ported yet", ctx.operation_id());
    Response::json_body(501, &sluice_guest::serde_json::json!({{ "error": message }}))
}}

sluice_guest::export!(Code);

// The original C# (script.csx):
//
{csharp}"#
    )
}

/// Writes a file, creating its folder first.
fn write(path: PathBuf, text: String) -> Result<(), NewError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| NewError::Io { path: dir.to_path_buf(), source })?;
    }
    std::fs::write(&path, text).map_err(|source| NewError::Io { path, source })
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn definition(name: &str) -> serde_json::Value {
    json!({
        "swagger": "2.0",
        "info": { "title": name, "description": format!("The {name} connector."), "version": "1.0" },
        "host": "api.example.com",
        "basePath": "/v1",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": { "api_key": { "type": "apiKey", "in": "header", "name": "X-Api-Key" } },
        "security": [{ "api_key": [] }],
        "paths": {
            "/items": {
                "get": {
                    "operationId": "ListItems",
                    "summary": "List items",
                    "description": "Lists the items, wrapped with their count by the connector's code.",
                    "parameters": [
                        { "name": "limit", "in": "query", "type": "integer", "required": false,
                          "description": "Most items to return", "x-ms-summary": "Limit" }
                    ],
                    "responses": {
                        "200": {
                            "description": "The items",
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "count": { "type": "integer", "description": "How many items" },
                                    "items": { "type": "array", "items": { "$ref": "#/definitions/Item" } }
                                }
                            }
                        }
                    }
                }
            }
        },
        "definitions": {
            "Item": {
                "type": "object",
                "properties": { "id": { "type": "integer" }, "name": { "type": "string" } }
            }
        }
    })
}

fn properties(name: &str) -> serde_json::Value {
    json!({
        "properties": {
            "connectionParameters": {
                "api_key": {
                    "type": "securestring",
                    "uiDefinition": {
                        "displayName": "API key",
                        "description": "The key for the API",
                        "tooltip": "Provide your API key",
                        "constraints": { "tabIndex": 2, "clearText": false, "required": "true" }
                    }
                }
            },
            "iconBrandColor": "#da3b01",
            "scriptOperations": ["ListItems"],
            "capabilities": [],
            "policyTemplateInstances": [],
            "publisher": name,
            "stackOwner": name
        }
    })
}

fn fixture_json() -> serde_json::Value {
    json!({
        "operation": "ListItems",
        "request": { "path": "/items?limit=2", "headers": { "X-Api-Key": "test-key" } },
        "backend": [
            {
                "method": "GET",
                "url": "https://api.example.com/v1/items?limit=2",
                "response": { "status": 200, "json": [ { "id": 1, "name": "one" }, { "id": 2, "name": "two" } ] }
            }
        ],
        "expect": {
            "status": 200,
            "json": { "count": 2, "items": [ { "id": 1, "name": "one" }, { "id": 2, "name": "two" } ] }
        }
    })
}

fn cargo_toml(krate: &str, sdk: &str) -> String {
    format!(
        r#"[package]
name = "{krate}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
sluice-guest = {sdk}
serde_json = "1"

# A workspace of its own: this crate builds for wasm32-wasip2, apart from
# any host workspace around it.
[workspace]

# Small code: the size limit counts the component's bytes.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
debug = false
"#
    )
}

const LIB_RS: &str = r#"//! The connector's custom code. `ListItems` runs it (see `scriptOperations`
//! in `apiProperties.json`): the backend request gets `x-sluice: 1`, and the
//! backend's JSON list of items comes back as `{"count": n, "items": [...]}`.
//!
//! Build: `cargo build --target wasm32-wasip2 --release`.

use sluice_guest::serde_json::{Value, json};
use sluice_guest::{Context, Error, Request, Response, Transform};

struct Items;

impl Transform for Items {
    fn on_request(ctx: &Context, request: Request) -> Result<Request, Error> {
        sluice_guest::info!("{} -> {}", ctx.operation_id(), request.url());
        Ok(request.with_header("x-sluice", "1"))
    }

    fn on_response(_ctx: &Context, response: Response) -> Result<Response, Error> {
        if !response.is_success() {
            return Ok(response);
        }
        let items: Vec<Value> = response.json()?;
        Response::json_body(200, &json!({ "count": items.len(), "items": items }))
    }
}

sluice_guest::export!(Items);
"#;

/// The canonical transform in JavaScript, for `sluice new --lang js`.
const INDEX_JS: &str = r#"// The connector's custom code. `ListItems` runs it (see `scriptOperations`
// in `apiProperties.json`): the backend request gets `x-sluice: 1`, and the
// backend's JSON list of items comes back as `{"count": n, "items": [...]}`.
//
// Build: `sluice build` in the package folder.

import { Response, UpstreamError, log } from "sluice";

export function onRequest(request, ctx) {
  log.info(`${ctx.operationId} -> ${request.url}`);
  return request.withHeader("x-sluice", "1");
}

export function onResponse(response) {
  if (!response.ok) {
    return response;
  }
  const items = response.json();
  if (!Array.isArray(items)) {
    throw new UpstreamError("the backend answered something other than a list of items");
  }
  return Response.json(200, { count: items.length, items });
}
"#;

/// The canonical transform in Python, for `sluice new --lang py`.
const APP_PY: &str = r#""""The connector's custom code. `ListItems` runs it (see `scriptOperations`
in `apiProperties.json`): the backend request gets `x-sluice: 1`, and the
backend's JSON list of items comes back as `{"count": n, "items": [...]}`.

Build: `sluice build` in the package folder.
"""

from sluice import Response, UpstreamError, log


def on_request(request, ctx):
    log.info(f"{ctx.operation_id} -> {request.url}")
    request.headers.set("x-sluice", "1")
    return request


def on_response(response, ctx):
    if not response.is_success:
        return response
    items = response.json()
    if not isinstance(items, list):
        raise UpstreamError("the backend answered something other than a list of items")
    return Response.from_json(200, {"count": len(items), "items": items})
"#;

fn readme(name: &str, language: Language) -> String {
    let code = match language {
        Language::JavaScript => "`guest/index.js`, JavaScript with the `sluice` module",
        Language::Python => "`guest/app.py`, Python with the `sluice` package",
        _ => "`guest/`, a Rust crate with `sluice-guest`",
    };
    format!(
        r#"# {name}

A sluice connector package: `apiDefinition.swagger.json`,
`apiProperties.json`, and the custom code in {code}.

```sh
sluice build .        # the code -> script.wasm ({language}; tools install on first use)
sluice validate .
sluice run . ListItems --fixture fixtures/ListItems.json
```

Before publishing, set `publisher`, `stackOwner` and `iconBrandColor` in
`apiProperties.json`, and the real `host` in the definition.
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_refused() {
        for name in ["", "1abc", "a b", "../x", "a/b"] {
            let options = NewOptions {
                name: name.into(),
                parent: std::env::temp_dir(),
                sdk_path: None,
                language: Language::Rust,
            };
            let err = create(&options).unwrap_err();
            assert!(matches!(err, NewError::Name(_)), "{name}: {err}");
        }
    }
}
