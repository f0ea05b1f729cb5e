//! `sluice import postman`: collections written for the ten example
//! connectors (`tests/data/postman/`, four v2.0 and six v2.1) become
//! definitions that pass `sluice validate` apart from the metadata only a
//! person can supply; names, variables, bodies, examples and auth land
//! where the platform puts them; bad input is one line and exit code 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sluice_tools::postman;
use sluice_tools::validate::{ValidateOptions, Validator};

const CONNECTORS: &[&str] = crate::support::EXAMPLE_CONNECTORS;

fn collection(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/postman"))
        .join(format!("{name}.postman_collection.json"))
}

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice")).args(args).output().expect("the sluice binary runs")
}

fn import(name: &str) -> postman::Imported {
    postman::import(&std::fs::read(collection(name)).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `(method, path, operationId)` of every operation.
fn operations(definition: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, item) in definition["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op["operationId"].as_str().unwrap().to_string()));
        }
    }
    out
}

fn parameter<'a>(definition: &'a Value, path: &str, method: &str, name: &str) -> Option<&'a Value> {
    definition["paths"][path][method]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name)
}

#[test]
fn every_collection_imports_and_validates_apart_from_person_supplied_metadata() {
    let out = tempfile::tempdir().unwrap();
    let mut validator = Validator::new();
    for name in CONNECTORS {
        let dir = out.path().join(name);
        let output = sluice(&[
            "import",
            "postman",
            &collection(name).display().to_string(),
            "--out",
            &dir.display().to_string(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        let report = validator.validate(&dir, &ValidateOptions::default()).unwrap();
        assert_eq!(
            report.rules(),
            ["brand-color-missing", "publisher-missing", "stack-owner-missing"],
            "{name}: {:#?}",
            report.findings
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("note: apiProperties.json needs publisher, stackOwner and iconBrandColor"), "{stderr}");
    }
}

#[test]
fn both_schema_versions_are_read() {
    let versions: Vec<bool> = CONNECTORS
        .iter()
        .map(|n| {
            let c: Value = serde_json::from_slice(&std::fs::read(collection(n)).unwrap()).unwrap();
            c["info"]["schema"].as_str().unwrap().contains("v2.1.0")
        })
        .collect();
    assert_eq!((versions.iter().filter(|v| **v).count(), versions.iter().filter(|v| !**v).count()), (6, 4));
}

#[test]
fn operation_ids_and_paths_are_pinned() {
    type Operations = &'static [(&'static str, &'static str, &'static str)];
    let expected: &[(&str, &str, &str, Operations)] = &[
        (
            "Annature",
            "api.annature.com.au",
            "/v1",
            &[
                ("get", "/documents", "GetDocuments"),
                ("get", "/envelopes/{id}", "GetEnvelope"),
                ("post", "/envelopes/{id}/void", "VoidEnvelope"),
            ],
        ),
        (
            "Azure_Communication_Services_Identity",
            "contoso.communication.azure.com",
            "/",
            &[("post", "/identities", "CreateAUser"), ("delete", "/identities/{identityId}", "DeleteAUser")],
        ),
        ("Nationalize.io", "api.nationalize.io", "/", &[("get", "/", "CheckNamesNationality")]),
        (
            "Industrial_App_Store",
            "appstore.intelligentplant.com",
            "/gestalt/datacore/api/data",
            &[
                ("get", "/datasources/", "GetDataSources"),
                ("get", "/tags/{dsn}/", "GetTags"),
                ("post", "/v2/snapshot/{dsn}", "ReadSnapshotValue"),
            ],
        ),
        (
            "Tulip",
            "contoso.tulip.co",
            "/api/v3",
            &[
                ("get", "/tables", "GetTables"),
                ("get", "/tables/{tableId}/records/{recordId}", "GetRecord"),
                ("put", "/tables/{tableId}/records/{recordId}", "UpdateRecord"),
                ("post", "/tables/{tableId}/records", "CreateRecord"),
            ],
        ),
        (
            "VIES",
            "ec.europa.eu",
            "/taxation_customs/vies/rest-api",
            &[
                ("post", "/check-vat-number", "CheckVATValidity"),
                ("get", "/ms/{countryCode}/vat/{vatNumber}", "CheckVATValidityByCountry"),
            ],
        ),
    ];
    for (name, host, base, ops) in expected {
        let d = import(name).definition;
        assert_eq!((d["host"].as_str().unwrap(), d["basePath"].as_str().unwrap()), (*host, *base), "{name}");
        let got = operations(&d);
        let want: Vec<(String, String, String)> =
            ops.iter().map(|(m, p, i)| (m.to_string(), p.to_string(), i.to_string())).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn names_descriptions_variables_and_examples_land_where_the_platform_puts_them() {
    let d = import("Annature").definition;
    let op = &d["paths"]["/envelopes/{id}/void"]["post"];
    assert_eq!(op["summary"], "Void Envelope");
    assert_eq!(op["description"], "Voids a sent envelope so that it can no longer be signed.");
    let id = parameter(&d, "/envelopes/{id}/void", "post", "id").unwrap();
    assert_eq!(
        (id["in"].as_str(), id["required"].as_bool(), id["x-ms-url-encoding"].as_str()),
        (Some("path"), Some(true), Some("single"))
    );
    assert_eq!(id["description"], "The envelope id");
    let body = parameter(&d, "/envelopes/{id}/void", "post", "body").unwrap();
    assert_eq!(body["schema"]["properties"]["reason"]["type"], "string");
    assert_eq!(op["responses"]["200"]["schema"]["properties"]["status"]["type"], "string");
    let page = parameter(&d, "/documents", "get", "page").unwrap();
    assert_eq!((page["in"].as_str(), page["description"].as_str()), (Some("query"), Some("Page number")));

    // The first saved example gives the status; a 204 has no schema.
    let d = import("Calendly").definition;
    assert!(d["paths"]["/webhook_subscriptions"]["post"]["responses"]["201"]["schema"].is_object());
    assert!(d["paths"]["/webhook_subscriptions/{uuid}"]["delete"]["responses"]["204"].get("schema").is_none());
    assert!(
        parameter(&d, "/event_types", "get", "organization").is_some(),
        "disabled query entries are optional parameters"
    );

    // Audio has no saved bytes: a binary schema.
    let d = import("IBM_Watson_Text_to_Speech").definition;
    assert_eq!(d["paths"]["/synthesize"]["post"]["responses"]["200"]["schema"]["format"], "binary");
    // Text bodies and answers are strings.
    let d = import("HtmlToText").definition;
    let op = &d["paths"]["/HtmlToText"]["post"];
    assert_eq!(op["responses"]["200"]["schema"]["type"], "string");
    assert_eq!(op["parameters"][0]["schema"]["type"], "string");
    // Unquoted {{variables}} in a JSON body do not stop the schema.
    let d = import("Tulip").definition;
    let body = parameter(&d, "/tables/{tableId}/records", "post", "body").unwrap();
    assert_eq!(body["schema"]["properties"]["id"]["type"], "string");
}

#[test]
fn auth_and_content_headers_are_left_to_the_connection() {
    let imported = import("Annature");
    let d = &imported.definition;
    assert_eq!(d["securityDefinitions"]["api_key"]["name"], "X-Annature-Key");
    assert!(parameter(d, "/envelopes/{id}/void", "post", "Content-Type").is_none());
    assert!(parameter(d, "/documents", "get", "X-Annature-Id").is_some(), "other headers stay parameters");
    assert_eq!(imported.properties["properties"]["connectionParameters"]["api_key"]["type"], "securestring");

    let d = import("Nationalize.io").definition;
    assert_eq!(d["securityDefinitions"]["api_key"]["in"], "query");
    assert!(parameter(&d, "/", "get", "apikey").is_none());
    assert_eq!(d["paths"]["/"]["get"]["parameters"].as_array().unwrap().len(), 1, "name[] once");

    let d = import("Telstra_SMS").definition;
    assert_eq!(d["securityDefinitions"]["api_key"]["name"], "Authorization");
    assert!(parameter(&d, "/messages", "post", "Telstra-api-version").is_some());

    let imported = import("Tulip");
    assert_eq!(imported.definition["securityDefinitions"]["basic_auth"]["type"], "basic");
    let parameters = imported.properties["properties"]["connectionParameters"].as_object().unwrap();
    assert_eq!(parameters.keys().collect::<Vec<_>>(), ["username", "password"]);

    let imported = import("Industrial_App_Store");
    assert_eq!(imported.definition["securityDefinitions"]["oauth2_auth"]["flow"], "accessCode");
    let token = &imported.properties["properties"]["connectionParameters"]["token"];
    assert_eq!(token["oAuthSettings"]["redirectMode"], "GlobalPerConnector");
    assert_eq!(token["oAuthSettings"]["scopes"][0], "DataRead");
}

#[test]
fn without_out_the_definition_goes_to_stdout() {
    let output = sluice(&["import", "postman", &collection("VIES").display().to_string()]);
    assert_eq!(output.status.code(), Some(0));
    let d: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(d["swagger"], "2.0");
}

#[test]
fn existing_properties_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apiProperties.json"), "{\"properties\": {\"publisher\": \"me\"}}").unwrap();
    let output = sluice(&[
        "import",
        "postman",
        &collection("VIES").display().to_string(),
        "-o",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("kept"));
    assert!(std::fs::read_to_string(dir.path().join("apiProperties.json")).unwrap().contains("me"));
}

fn assert_usage_error(output: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error:") && stderr.contains(mentions), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    assert_usage_error(&sluice(&["import", "postman", "/nonexistent/c.json"]), "cannot read");
    assert_usage_error(&sluice(&["import", "postman", &write("a.json", "not json")]), "not JSON");
    assert_usage_error(
        &sluice(&["import", "postman", &write("v1.json", r#"{"id": "x", "name": "old", "requests": []}"#)]),
        "v1 collection",
    );
    assert_usage_error(
        &sluice(&[
            "import",
            "postman",
            &write(
                "v3.json",
                r#"{"info": {"schema": "https://schema.getpostman.com/json/collection/v3.0.0/"}, "item": []}"#,
            ),
        ]),
        "v2.1",
    );
    let swagger = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/items-transform/apiDefinition.swagger.json");
    assert_usage_error(&sluice(&["import", "postman", swagger]), "not a Postman");
    assert_usage_error(
        &sluice(&[
            "import",
            "postman",
            &write(
                "empty.json",
                r#"{"info": {"name": "e", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}, "item": []}"#,
            ),
        ]),
        "no requests",
    );
    assert_usage_error(
        &sluice(&[
            "import",
            "postman",
            &write(
                "host.json",
                r#"{"info": {"name": "e", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}, "item": [{"name": "x", "request": {"url": "{{baseUrl}}/x"}}]}"#,
            ),
        ]),
        "baseUrl",
    );
    let output = sluice(&["import", "postman"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error:"));
    let output = sluice(&["import", "openapi", "x"]);
    assert_eq!(output.status.code(), Some(2));
}

/// A collection of the shape vendors publish: the host is a variable kept
/// in an environment file, an order id variable is declared empty, and one
/// header has an empty key.
fn vendor_collection() -> Value {
    serde_json::json!({
        "info": {"name": "Orders", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "variable": [{"key": "host", "value": ""}, {"key": "order_id", "value": ""}],
        "item": [
            {"name": "Capture order", "request": {"method": "POST",
                "header": [{"key": "", "value": "x"}, {"key": "X-Request-Id", "value": "1"}],
                "url": {"raw": "https://{{host}}/v2/checkout/orders/{{order_id}}/capture"}}},
            {"name": "Get order", "request": {"method": "GET",
                "url": {"raw": "https://{{host}}/v2/checkout/orders/{{order_id}}"}}}
        ]
    })
}

#[test]
fn a_host_kept_in_an_environment_file_or_given_with_var_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let collection = dir.path().join("orders.json");
    std::fs::write(&collection, vendor_collection().to_string()).unwrap();
    let collection = collection.display().to_string();

    let output = sluice(&["import", "postman", &collection]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!((output.status.code(), stderr.lines().count()), (Some(2), 1), "{stderr}");
    assert!(stderr.contains("host variable `{{host}}` is declared with no value"), "{stderr}");
    assert!(stderr.contains("--var host=VALUE") && stderr.contains("--environment FILE"), "{stderr}");

    let environment = dir.path().join("sandbox.postman_environment.json");
    let values = serde_json::json!({"name": "Sandbox", "values": [
        {"key": "host", "value": "api-m.sandbox.contoso.example", "enabled": true},
        {"key": "order_id", "value": "ignored", "enabled": false}
    ]});
    std::fs::write(&environment, values.to_string()).unwrap();
    let output = sluice(&["import", "postman", &collection, "--environment", &environment.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let definition: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(definition["host"], "api-m.sandbox.contoso.example");

    // --var wins over the environment.
    let output = sluice(&[
        "import",
        "postman",
        &collection,
        "-e",
        &environment.display().to_string(),
        "--var",
        "host=api-m.contoso.example",
    ]);
    let definition: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(definition["host"], "api-m.contoso.example");
    let bad = sluice(&["import", "postman", &collection, "--var", "no-equals-sign"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn an_empty_path_variable_is_a_path_parameter_and_no_segment_is_dropped() {
    let collection = vendor_collection().to_string();
    let imported =
        postman::import_with(collection.as_bytes(), &[("host".into(), "api.contoso.example".into())]).unwrap();
    let definition = &imported.definition;
    let paths: Vec<&String> = definition["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/{order_id}/capture", "/{order_id}"], "{definition:#}");
    assert_eq!(definition["basePath"], "/v2/checkout/orders");
    let id = parameter(definition, "/{order_id}/capture", "post", "order_id").unwrap();
    assert_eq!((id["in"].as_str(), id["required"].as_bool()), (Some("path"), Some(true)));
    // Both operations survive: nothing collided.
    assert_eq!(operations(definition).len(), 2);
    let report = validated(&imported);
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);
}

#[test]
fn an_empty_header_key_is_skipped_with_a_note_never_a_parameter() {
    let collection = vendor_collection().to_string();
    let imported =
        postman::import_with(collection.as_bytes(), &[("host".into(), "api.contoso.example".into())]).unwrap();
    let definition = &imported.definition;
    assert!(parameter(definition, "/{order_id}/capture", "post", "").is_none(), "{definition:#}");
    assert!(parameter(definition, "/{order_id}/capture", "post", "X-Request-Id").is_some());
    assert!(imported.notes.iter().any(|n| n.contains("header `` is not a usable header name")), "{:?}", imported.notes);
}

/// An import written into a package folder.
fn package_dir(imported: &postman::Imported) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apiDefinition.swagger.json"), imported.definition.to_string()).unwrap();
    std::fs::write(dir.path().join("apiProperties.json"), imported.properties.to_string()).unwrap();
    dir
}

/// An import written into a package folder, validated.
fn validated(imported: &postman::Imported) -> sluice_tools::validate::PackageReport {
    Validator::new().validate(package_dir(imported).path(), &ValidateOptions::default()).unwrap()
}

fn v21(name: &str, extra: Value) -> Value {
    let mut collection = serde_json::json!({
        "info": {"name": name, "description": "A test collection.",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
    });
    for (key, value) in extra.as_object().unwrap() {
        collection[key] = value.clone();
    }
    collection
}

fn get(name: &str, url: &str) -> Value {
    serde_json::json!({"name": name, "request": {"method": "GET", "url": {"raw": url}, "description": "Test."}})
}

/// The backend is the host most requests use, even when the first request
/// is a token exchange elsewhere; a request on another host stays
/// reachable through a `dynamichosturl` policy, never folded onto the
/// backend.
#[test]
fn the_backend_is_the_host_most_requests_use_and_others_stay_reachable() {
    let collection = v21(
        "Mixed",
        serde_json::json!({"item": [
            {"name": "Auth", "item": [get("Get token", "https://login.contoso.example/oauth/token")]},
            get("List orders", "https://api.contoso.example/v1/orders"),
            get("List items", "https://api.contoso.example/v1/items"),
        ]}),
    );
    let imported = postman::import(collection.to_string().as_bytes()).unwrap();
    assert_eq!(imported.definition["host"], "api.contoso.example");
    assert_eq!(imported.definition["basePath"], "/v1");
    let operations = operations(&imported.definition);
    assert!(operations.contains(&("get".into(), "/oauth/token".into(), "GetToken".into())), "{operations:?}");
    assert!(operations.contains(&("get".into(), "/orders".into(), "ListOrders".into())), "{operations:?}");
    let policies = &imported.properties["properties"]["policyTemplateInstances"];
    assert_eq!(
        policies,
        &serde_json::json!([{"templateId": "dynamichosturl", "title": "Send to https://login.contoso.example",
            "parameters": {"x-ms-apimTemplateParameter.urlTemplate": "https://login.contoso.example",
                "x-ms-apimTemplate-operationName": ["GetToken"]}}])
    );
    assert_eq!(
        imported.summary.hosts,
        [("https://api.contoso.example".to_string(), 2), ("https://login.contoso.example".to_string(), 1)]
    );
    let report = validated(&imported);
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);

    // Built as the gateway builds it, each request goes to its own host.
    let package = sluice_package::load_package(package_dir(&imported).path()).unwrap();
    let connection =
        sluice_package::Connection::new("c", "mixed", Default::default(), &package.properties.connection_parameters)
            .unwrap();
    let (headers, body) = (http::HeaderMap::new(), bytes::Bytes::new());
    for (path, url) in [
        ("/oauth/token", "https://login.contoso.example/oauth/token"),
        ("/orders", "https://api.contoso.example/v1/orders"),
    ] {
        let route = package.definition.resolve(&http::Method::GET, path).unwrap();
        let client = sluice_package::request::ClientRequest {
            method: &http::Method::GET,
            query: "",
            headers: &headers,
            body: &body,
        };
        let request = sluice_package::request::prepare(&package, &route, &client, &connection, None).unwrap();
        assert_eq!(request.uri().to_string(), url);
    }
}

/// Variables inside a segment and OpenAPI-style `{id}` written in the raw
/// URL become declared path parameters; the package validates, and a call
/// fills them in.
#[test]
fn mid_segment_variables_become_path_parameters_that_validate() {
    let collection = v21(
        "Segments",
        serde_json::json!({"item": [
            get("Get transaction", "https://api.contoso.example/v1/transactions/key={{transaction-key}}"),
            get("Stream events", "https://api.contoso.example/v1/streams/op:{{streamId}}/events"),
            get("Get invoice", "https://api.contoso.example/v1/invoices/{invoiceId}"),
        ]}),
    );
    let imported = postman::import(collection.to_string().as_bytes()).unwrap();
    let paths: Vec<String> = operations(&imported.definition).into_iter().map(|(_, path, _)| path).collect();
    assert_eq!(
        paths,
        ["/transactions/key={transaction-key}", "/streams/op:{streamId}/events", "/invoices/{invoiceId}"]
    );
    for (path, name) in
        [("/transactions/key={transaction-key}", "transaction-key"), ("/streams/op:{streamId}/events", "streamId")]
    {
        let parameter = parameter(&imported.definition, path, "get", name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!((parameter["in"].as_str(), parameter["required"].as_bool()), (Some("path"), Some(true)));
    }
    let report = validated(&imported);
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);
    let package = sluice_package::load_package(package_dir(&imported).path()).unwrap();
    let route = package.definition.resolve(&http::Method::GET, "/streams/op:42/events").unwrap();
    assert_eq!(route.path_params["streamId"], "42");
}

/// Auth follows Postman's inheritance: the request's own, else its
/// folder's, else the collection's; `noauth` is honoured per operation, and
/// the connector's auth is the one most requests use.
#[test]
fn auth_is_inherited_from_folders_and_honoured_per_request() {
    let bearer = serde_json::json!({"type": "bearer", "bearer": [{"key": "token", "value": "{{token}}"}]});
    let basic = serde_json::json!({"type": "basic", "basic": [{"key": "username", "value": "u"}]});
    let mut token = get("Get token", "https://api.contoso.example/v1/token");
    token["request"]["auth"] = basic;
    let mut health = get("Health", "https://api.contoso.example/v1/health");
    health["request"]["auth"] = serde_json::json!({"type": "noauth"});
    let collection = v21(
        "Inherited",
        serde_json::json!({"item": [
            token,
            {"name": "Orders", "auth": bearer, "item": [
                get("List orders", "https://api.contoso.example/v1/orders"),
                get("Get order", "https://api.contoso.example/v1/orders/:id"),
                health,
                {"name": "Nested", "auth": {"type": "inherit"}, "item": [
                    get("List lines", "https://api.contoso.example/v1/lines")]}
            ]}
        ]}),
    );
    let imported = postman::import(collection.to_string().as_bytes()).unwrap();
    let definition = &imported.definition;
    // Bearer, used by three requests, not the first request's basic.
    assert_eq!(
        definition["securityDefinitions"],
        serde_json::json!({"api_key": {"type": "apiKey", "in": "header", "name": "Authorization"}})
    );
    assert_eq!(definition["paths"]["/health"]["get"]["security"], serde_json::json!([]));
    assert!(definition["paths"]["/orders"]["get"].get("security").is_none());
    let auth: Vec<(&str, &str)> = imported.summary.auth.iter().map(|(o, a)| (o.as_str(), a.as_str())).collect();
    assert_eq!(
        auth,
        [
            ("GetToken", "bearer token"),
            ("ListOrders", "bearer token"),
            ("GetOrder", "bearer token"),
            ("Health", "none"),
            ("ListLines", "bearer token")
        ]
    );
    assert!(
        imported.notes.iter().any(|n| n.contains("`Get token` uses basic auth, not the connector's bearer token")),
        "{:?}",
        imported.notes
    );
    let report = validated(&imported);
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);
}

/// OAuth 2.0 becomes the flow it really is, its URLs from the auth block's
/// fields or their variables; URLs that cannot be known are said so, and
/// validate refuses the package until they are given.
#[test]
fn oauth2_keeps_its_grant_and_says_which_urls_are_missing() {
    let oauth = |token_url: &str| {
        serde_json::json!({"type": "oauth2", "oauth2": [
            {"key": "grant_type", "value": "client_credentials"},
            {"key": "accessTokenUrl", "value": token_url},
            {"key": "scope", "value": "orders.read orders.write"},
            {"key": "addTokenTo", "value": "header"}
        ]})
    };
    let collection = |token_url: &str| {
        v21(
            "Client credentials",
            serde_json::json!({
                "auth": oauth(token_url),
                "variable": [{"key": "auth_host", "value": "login.contoso.example"}],
                "item": [get("List orders", "https://api.contoso.example/v1/orders")]
            }),
        )
        .to_string()
    };
    let imported = postman::import(collection("https://{{auth_host}}/oauth2/token").as_bytes()).unwrap();
    assert_eq!(
        imported.definition["securityDefinitions"]["oauth2_auth"],
        serde_json::json!({"type": "oauth2", "flow": "application",
            "tokenUrl": "https://login.contoso.example/oauth2/token",
            "scopes": {"orders.read": "orders.read", "orders.write": "orders.write"}})
    );
    assert_eq!(imported.summary.auth, [("ListOrders".to_string(), "OAuth 2.0 (client credentials)".to_string())]);
    let report = validated(&imported);
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);

    // A token URL in a variable nothing defines cannot be known.
    let imported = postman::import(collection("{{token_url}}").as_bytes()).unwrap();
    assert_eq!(imported.definition["securityDefinitions"]["oauth2_auth"]["tokenUrl"], "");
    let parameter = &imported.properties["properties"]["connectionParameters"]["token"];
    let description = parameter["uiDefinition"]["description"].as_str().unwrap();
    assert!(description.contains("does not give its tokenUrl"), "{description}");
    assert!(imported.notes.iter().any(|n| n.contains("does not give its tokenUrl")), "{:?}", imported.notes);
    let report = validated(&imported);
    assert_eq!(report.errors(), 1, "{:#?}", report.findings);
    assert!(report.rules().contains(&"oauth-url-missing"), "{:#?}", report.findings);
}

/// An OAuth 2.0 block that holds only a token (as vendors publish them)
/// takes its token URL and grant from the collection's own token request.
#[test]
fn oauth2_without_urls_takes_them_from_the_collections_token_request() {
    let mut token = get("Obtain access token", "{{auth_url}}/oauth/token?grant_type=client_credentials");
    token["request"]["method"] = "POST".into();
    token["request"]["auth"] = serde_json::json!({"type": "basic", "basic": {"username": "{{client_id}}"}});
    let collection = v21(
        "Token only",
        serde_json::json!({
            "auth": {"type": "oauth2", "oauth2": {"accessToken": "{{access_token}}", "addTokenTo": "header"}},
            "variable": [{"key": "auth_url", "value": "https://auth.contoso.example"}],
            "item": [
                token,
                get("List carts", "https://api.contoso.example/v1/carts"),
                get("List orders", "https://api.contoso.example/v1/orders")
            ]
        }),
    );
    let imported = postman::import(collection.to_string().as_bytes()).unwrap();
    assert_eq!(
        imported.definition["securityDefinitions"]["oauth2_auth"],
        serde_json::json!({"type": "oauth2", "flow": "application",
            "tokenUrl": "https://auth.contoso.example/oauth/token", "scopes": {}})
    );
    assert!(
        imported.notes.iter().any(|n| n.contains("taken from request `Obtain access token`")),
        "{:?}",
        imported.notes
    );
    let report = validated(&imported);
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);
}

/// The import ends with a summary: operations, skipped requests and why,
/// hosts, each operation's auth, and variables nothing defines.
#[test]
fn the_import_ends_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("summary.json");
    let collection = v21(
        "Summary",
        serde_json::json!({"item": [
            get("List orders", "https://api.contoso.example/v1/orders?page={{page}}"),
            get("List orders again", "https://api.contoso.example/v1/orders"),
            get("Ping", "https://status.contoso.example/ping"),
        ]}),
    );
    std::fs::write(&file, collection.to_string()).unwrap();
    let output = sluice(&["import", "postman", &file.display().to_string()]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = &stderr[stderr.find("summary:").expect("a summary")..];
    for line in [
        "summary: 2 operations made, 1 requests skipped",
        "  skipped `List orders again`: a second GET /orders; an OpenAPI path has one operation per method",
        "  host https://api.contoso.example: 2 requests, the backend",
        "  host https://status.contoso.example: 1 requests, sent there by a dynamichosturl policy",
        "  auth of ListOrders: none",
        "  auth of Ping: none",
        "  variables without a value: {{page}}",
    ] {
        assert!(summary.lines().any(|l| l == line), "{line:?} in:\n{summary}");
    }
}

/// Without a saved example the answer is guessed as an object, a success
/// example wins over an error one, and a missing description is made from
/// the name and the folder; each guess is a note, and the package validates.
#[test]
fn guessed_responses_and_descriptions_are_notes_and_the_package_validates() {
    let example = |code: u64, body: &str| {
        serde_json::json!({"name": "e", "code": code, "body": body,
        "header": [{"key": "Content-Type", "value": "application/json"}]})
    };
    let collection = serde_json::json!({
        "info": {"name": "Guesses", "description": "A test collection.",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [{"name": "Orders", "item": [
            {"name": "List orders", "request": {"method": "GET", "url": {"raw": "https://api.contoso.example/v1/orders"}}},
            {"name": "Get order", "request": {"method": "GET", "url": {"raw": "https://api.contoso.example/v1/orders/:id"},
                "description": "One order."},
             "response": [example(404, "{\"error\": \"no\"}"), example(200, "{\"id\": 7}")]}
        ]}]
    });
    let imported = postman::import(collection.to_string().as_bytes()).unwrap();
    let paths = &imported.definition["paths"];
    assert_eq!(paths["/orders"]["get"]["responses"]["200"]["schema"], serde_json::json!({"type": "object"}));
    assert_eq!(paths["/orders"]["get"]["description"], "List orders (Orders).");
    let get = &paths["/orders/{id}"]["get"]["responses"];
    assert!(get.get("200").is_some() && get.get("404").is_none(), "{get}");
    assert_eq!(get["200"]["schema"]["properties"]["id"]["type"], "integer");
    for guess in ["`List orders` has no saved example response", "`List orders` has no description"] {
        assert!(imported.notes.iter().any(|n| n.contains(guess)), "{guess}: {:?}", imported.notes);
    }
    let report = validated(&imported);
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);
    let rules = report.rules();
    assert!(!rules.contains(&"response-schema-missing") && !rules.contains(&"description-missing"), "{rules:?}");
}
