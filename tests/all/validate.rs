//! `sluice validate`: the findings of the ten real connector packages of
//! `examples/`,
//! pinned; each rule firing on a package written to break it; the example
//! package with its built code passing; and bad input answered with one line
//! and exit code 2, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use sluice_tools::validate::{PackageReport, Severity, ValidateOptions, Validator};

use crate::support::{self, guest_component, package_dir};

fn example() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/items-transform")).to_path_buf()
}

fn guest(name: &str) -> PathBuf {
    guest_component(name)
}

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice")).args(args).output().expect("the sluice binary runs")
}

fn validate(dir: &Path) -> PackageReport {
    Validator::new().validate(dir, &ValidateOptions::default()).expect("the package can be checked")
}

/// Writes a package from its parts into a fresh temporary folder.
fn package(definition: &Value, properties: &Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("apiDefinition.swagger.json"), definition.to_string()).unwrap();
    std::fs::write(dir.path().join("apiProperties.json"), properties.to_string()).unwrap();
    dir
}

fn good_properties() -> Value {
    json!({"properties": {"connectionParameters": {}, "publisher": "p", "stackOwner": "s", "iconBrandColor": "#da3b01"}})
}

fn operation(id: &str) -> Value {
    json!({"operationId": id, "summary": "Do it", "description": "Does it",
           "responses": {"200": {"description": "ok", "schema": {"type": "object"}}}})
}

/// The rule ids of each real package, and its error and warning counts:
/// real packages, real findings. Certified packages break none of the
/// rules that are errors (see the README on calibration): what they do
/// break is style, reported as warnings.
#[test]
fn real_packages_findings_are_pinned() {
    let expected: &[(&str, &[&str], usize, usize)] = &[
        ("Annature", &["summary-characters"], 0, 1),
        ("Azure_Communication_Services_Identity", &[], 0, 0),
        ("Calendly", &["script-missing"], 0, 1),
        (
            "HtmlToText",
            &[
                "brand-color-invalid",
                "default-response-schema",
                "publisher-missing",
                "response-schema-missing",
                "stack-owner-missing",
            ],
            0,
            5,
        ),
        ("IBM_Watson_Text_to_Speech", &["path-parameter-encoding", "script-missing"], 0, 2),
        ("Industrial_App_Store", &["oauth-global-redirect", "operation-id-format"], 0, 11),
        ("Nationalize.io", &["script-missing"], 0, 1),
        ("Telstra_SMS", &["script-missing"], 0, 1),
        // The example's `factoryUrl` is spelt as declared; the published
        // package's mistake is in the `param-case-mismatch` test package.
        ("Tulip", &["description-missing", "script-missing"], 0, 2),
        ("VIES", &["script-missing"], 0, 1),
    ];
    let mut validator = Validator::new();
    for (name, rules, errors, warnings) in expected {
        let report = validator.validate(&package_dir(name), &ValidateOptions::default()).unwrap();
        assert_eq!(report.package, *name);
        assert_eq!(report.rules(), *rules, "{name}: {:#?}", report.findings);
        assert_eq!((report.errors(), report.warnings()), (*errors, *warnings), "{name}: {:#?}", report.findings);
    }
}

#[test]
fn a_misspelt_connection_parameter_points_at_the_policy_parameter() {
    let report = validate(&package_dir("param-case-mismatch"));
    let finding = report.findings.iter().find(|f| f.rule == "connection-parameter-undeclared").unwrap();
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(finding.file, "apiProperties.json");
    assert_eq!(
        finding.path,
        "$.properties.policyTemplateInstances[0].parameters['x-ms-apimTemplateParameter.urlTemplate']"
    );
    assert!(finding.message.contains("plantURL") && finding.message.contains("`plantUrl`"), "{}", finding.message);
}

#[test]
fn global_oauth_redirect_points_to_the_per_connector_redirect_uri() {
    let report = validate(&package_dir("Industrial_App_Store"));
    let finding = report.findings.iter().find(|f| f.rule == "oauth-global-redirect").unwrap();
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(finding.path, "$.properties.connectionParameters.token.oAuthSettings.redirectMode");
    assert!(finding.message.contains("GlobalPerConnector"), "{}", finding.message);
    assert!(finding.message.contains("/redirect/<connector-id>"), "{}", finding.message);
}

#[test]
fn findings_carry_file_and_json_path() {
    let report = validate(&package_dir("Annature"));
    let finding = &report.findings[0];
    assert_eq!(finding.file, "apiDefinition.swagger.json");
    assert_eq!(finding.path, "$.paths['/endpoints'].post.summary");
    assert!(finding.message.contains("`-`"), "{}", finding.message);
}

#[test]
fn json_output_of_all_real_packages_matches_the_library_and_exits_0_on_warnings() {
    let dirs: Vec<String> = support::EXAMPLE_CONNECTORS.iter().map(|n| package_dir(n).display().to_string()).collect();
    let mut args = vec!["validate", "--format", "json"];
    args.extend(dirs.iter().map(String::as_str));
    let output = sluice(&args);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let reports: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 10);
    let tulip = reports.iter().find(|r| r["package"] == "Tulip").unwrap();
    let rules: Vec<&str> = tulip["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["description-missing", "script-missing"]);
    for finding in tulip["findings"].as_array().unwrap() {
        for key in ["rule", "severity", "file", "path", "message"] {
            assert!(finding[key].is_string(), "{key} in {finding}");
        }
    }
}

#[test]
fn a_clean_package_exits_0_in_text() {
    let output = sluice(&["validate", &package_dir("Azure_Communication_Services_Identity").display().to_string()]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.trim(), "Azure_Communication_Services_Identity: passes (0 errors, 0 warnings)");
}

#[test]
fn warnings_alone_exit_0() {
    let dir = package(
        &json!({"swagger": "2.0", "host": "h", "paths": {"/a": {"get": operation("A")}}}),
        &json!({"properties": {"connectionParameters": {}, "publisher": "p", "stackOwner": "s"}}),
    );
    let output = sluice(&["validate", &dir.path().display().to_string()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("warning[brand-color-missing]"));
}

#[test]
fn example_with_its_built_code_passes() {
    let options = ValidateOptions { script: Some(guest("items_transform")) };
    let report = Validator::new().validate(&example(), &options).unwrap();
    assert_eq!(report.findings, [], "{:#?}", report.findings);
    // Without the code, the same package misses its script.
    assert_eq!(validate(&example()).rules(), ["script-missing"]);
}

#[test]
fn code_that_breaks_the_contract_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["apiDefinition.swagger.json", "apiProperties.json"] {
        std::fs::copy(example().join(file), dir.path().join(file)).unwrap();
    }
    std::fs::copy(guest("sneaky_import"), dir.path().join("script.wasm")).unwrap();
    let report = validate(dir.path());
    assert_eq!(report.rules(), ["script-contract"], "{:#?}", report.findings);
    assert_eq!(report.findings[0].file, "script.wasm");
    assert!(report.findings[0].message.contains("imports"), "{}", report.findings[0].message);

    std::fs::write(dir.path().join("script.wasm"), b"MZ not wasm").unwrap();
    let report = validate(dir.path());
    assert_eq!(report.rules(), ["script-contract"]);
    assert!(report.findings[0].message.contains("not a WebAssembly binary"), "{}", report.findings[0].message);
}

#[test]
fn code_over_the_size_limit_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["apiDefinition.swagger.json", "apiProperties.json"] {
        std::fs::copy(example().join(file), dir.path().join(file)).unwrap();
    }
    let mut big = b"\0asm".to_vec();
    big.resize((4 << 20) + 1, 0);
    std::fs::write(dir.path().join("script.wasm"), big).unwrap();
    assert_eq!(validate(dir.path()).rules(), ["script-too-large"]);
}

#[test]
fn bad_egress_rules_are_findings_with_their_index() {
    let dir = package(&json!({"swagger": "2.0", "host": "h", "paths": {}}), &good_properties());
    std::fs::write(
        dir.path().join("sluice.toml"),
        "[egress]\nallow = [\"https://api.example.com\", \"ftp://files.example.com\"]\n",
    )
    .unwrap();
    let report = validate(dir.path());
    assert_eq!(report.rules(), ["egress-rule-invalid"], "{:#?}", report.findings);
    assert_eq!(report.findings[0].file, "sluice.toml");
    assert_eq!(report.findings[0].path, "$.egress.allow[1]");

    std::fs::write(dir.path().join("sluice.toml"), "[egress]\nallowed = []\n").unwrap();
    let report = validate(dir.path());
    assert_eq!(report.rules(), ["settings-invalid"]);
    assert!(report.findings[0].message.contains("allowed"), "{}", report.findings[0].message);
}

#[test]
fn every_operation_rule_fires_on_a_definition_that_breaks_it() {
    let long = "A summary that goes on and on well past the eighty characters that certification allows";
    let definition = json!({
        "swagger": "2.0", "host": "h",
        "parameters": {"Conn": {"name": "connectionId", "in": "query", "type": "string"}},
        "paths": {
            "/a/{id}": {
                "get": {
                    "operationId": "Get_A", "summary": long,
                    "parameters": [
                        {"name": "id", "in": "path", "type": "string", "required": true},
                        {"name": "other", "in": "path", "type": "string", "required": true, "x-ms-url-encoding": "single"},
                        {"name": "body", "in": "body", "schema": {}},
                        {"$ref": "#/parameters/Conn"},
                        {"$ref": "#/parameters/Nope"}
                    ],
                    "responses": {"200": {"description": "no schema"}, "default": {"description": "d", "schema": {}}}
                },
                "post": {"operationId": "Get_A", "summary": "Post it", "description": "d", "responses": {"204": {"description": "nothing"}}}
            },
            "/b/{x}": {"get": {"responses": {}}}
        }
    });
    let report = validate(package(&definition, &good_properties()).path());
    assert_eq!(
        report.rules(),
        [
            "default-response-schema",
            "description-missing",
            "get-with-body",
            "operation-id-duplicate",
            "operation-id-format",
            "operation-id-missing",
            "parameter-connection-id",
            "parameter-ref-unresolved",
            "path-parameter-encoding",
            "path-parameter-undeclared",
            "path-parameter-unused",
            "response-schema-missing",
            "summary-missing",
            "summary-too-long",
        ],
        "{:#?}",
        report.findings
    );
}

#[test]
fn property_and_policy_rules_fire_on_properties_that_break_them() {
    let definition = json!({"swagger": "2.0", "host": "h", "paths": {"/a": {"get": operation("A")}}});
    let properties = json!({"properties": {
        "connectionParameters": {
            "token": {"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2", "redirectMode": "GlobalPerConnector"}},
            "host": {"type": "string"}
        },
        "publisher": "p", "stackOwner": "s", "iconBrandColor": "#FFFFFF",
        "scriptOperations": ["A", "Nope"],
        "policyTemplateInstances": [
            {"templateId": "setheaderz", "title": "typo", "parameters": {}},
            {"templateId": "setconnectionstatustounauthenticated", "title": "status", "parameters": {}},
            {"templateId": "setheader", "title": "no name", "parameters": {"x-ms-apimTemplateParameter.value": "v"}},
            {"templateId": "setheader", "title": "h", "parameters": {
                "x-ms-apimTemplateParameter.name": "X-Host",
                "x-ms-apimTemplateParameter.value": "@connectionParameters('Host')",
                "x-ms-apimTemplateParameter.colour": "red",
                "x-ms-apimTemplate-operationName": ["A", "B"]}}
        ]
    }});
    let report = validate(package(&definition, &properties).path());
    assert_eq!(
        report.rules(),
        [
            "brand-color-invalid",
            "connection-parameter-undeclared",
            "policy-invalid",
            "policy-operation-unknown",
            "policy-parameter",
            "policy-template-unknown",
            "script-missing",
            "script-operation-unknown",
        ],
        "{:#?}",
        report.findings
    );
    let unknown = report.findings.iter().find(|f| f.rule == "script-operation-unknown").unwrap();
    assert_eq!(unknown.path, "$.properties.scriptOperations[1]");
}

#[test]
fn structure_problems_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    let report = validate(dir.path());
    assert_eq!(report.rules(), ["file-missing"]);
    assert_eq!(report.errors(), 2);

    std::fs::write(dir.path().join("apiDefinition.swagger.json"), "{\"swagger\": ").unwrap();
    std::fs::write(dir.path().join("apiProperties.json"), good_properties().to_string()).unwrap();
    let report = validate(dir.path());
    assert_eq!(report.rules(), ["json-invalid"]);
    assert!(report.findings[0].message.contains("line 1"), "{}", report.findings[0].message);

    std::fs::write(dir.path().join("apiDefinition.swagger.json"), r#"{"openapi": "3.0.0", "paths": {}}"#).unwrap();
    assert_eq!(validate(dir.path()).rules(), ["swagger-version"]);

    let mut huge = json!({"swagger": "2.0", "host": "h", "paths": {}, "x-padding": "x".repeat(1 << 20)});
    huge["info"] = json!({});
    std::fs::write(dir.path().join("apiDefinition.swagger.json"), huge.to_string()).unwrap();
    assert_eq!(validate(dir.path()).rules(), ["definition-too-large"]);

    std::fs::write(
        dir.path().join("apiDefinition.swagger.json"),
        r#"{"swagger": "2.0", "basePath": "v1", "paths": {}}"#,
    )
    .unwrap();
    assert_eq!(validate(dir.path()).rules(), ["package-invalid"]);

    // Valid JSON of the wrong shape is not silently accepted.
    std::fs::write(dir.path().join("apiDefinition.swagger.json"), r#"{"swagger": "2.0", "paths": {}}"#).unwrap();
    std::fs::write(dir.path().join("apiProperties.json"), "{}").unwrap();
    let report = validate(dir.path());
    assert_eq!(report.rules(), ["package-invalid"]);
    assert_eq!(report.findings[0].file, "apiProperties.json");
}

/// Bad input: one `error:` line on stderr, exit 2, never a panic.
fn assert_usage_error(output: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error:") && first.contains(mentions), "{stderr}");
}

#[test]
fn missing_folder_is_exit_2_with_one_line() {
    let output = sluice(&["validate", "/nonexistent/sluice-package"]);
    assert_usage_error(&output, "/nonexistent/sluice-package");
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
}

#[test]
fn a_file_instead_of_a_folder_is_exit_2() {
    let file = package_dir("Tulip").join("apiProperties.json");
    assert_usage_error(&sluice(&["validate", &file.display().to_string()]), "not a package folder");
}

#[test]
fn missing_arguments_and_unknown_formats_are_exit_2() {
    assert_usage_error(&sluice(&["validate"]), "required");
    assert_usage_error(&sluice(&["validate", "--format", "xml", "."]), "xml");
    let tulip = package_dir("Tulip").display().to_string();
    assert_usage_error(&sluice(&["validate", "--script", "x.wasm", &tulip, &tulip]), "one package");
    assert_usage_error(&sluice(&["validate", "--script", "/nonexistent/x.wasm", &tulip]), "/nonexistent/x.wasm");
}

/// What the platform's reader takes loads, and `validate` warns about it;
/// a file that is really broken is still an error with line and column.
#[test]
fn files_the_platform_reads_leniently_are_warnings_not_errors() {
    let definition = json!({"swagger": "2.0", "host": "h", "paths": {"/a": {"get": operation("A")}}}).to_string();
    let properties = good_properties().to_string();
    let cases = [
        ("a byte-order mark", format!("\u{feff}{definition}"), properties.clone()),
        ("a trailing comma", definition.replacen("}}}}", "}}},}", 1), properties.clone()),
        ("a comment", definition.clone(), properties.replacen('{', "{ // the connector's properties\n", 1)),
        ("a raw tab in a string", definition.replace("Does it", "Does\tit"), properties.clone()),
    ];
    for (case, definition, properties) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("apiDefinition.swagger.json"), &definition).unwrap();
        std::fs::write(dir.path().join("apiProperties.json"), &properties).unwrap();
        let report = validate(dir.path());
        assert_eq!(report.rules(), ["json-lenient"], "{case}: {:#?}", report.findings);
        assert_eq!(report.errors(), 0, "{case}");
        let loaded = sluice_package::load_package(dir.path());
        assert!(
            loaded.is_ok_and(|p| p.warnings.iter().any(|w| w.contains("not strict JSON") || w.contains("byte-order"))),
            "{case}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apiDefinition.swagger.json"), "{\n  \"swagger\": \"2.0\"\n  \"host\": \"h\"\n}")
        .unwrap();
    std::fs::write(dir.path().join("apiProperties.json"), good_properties().to_string()).unwrap();
    let report = validate(dir.path());
    assert_eq!(report.rules(), ["json-invalid"]);
    assert!(report.findings[0].message.contains("line 3 column 3"), "{}", report.findings[0].message);
}

/// A policy may use the parameters of any of the connection parameter
/// sets (several ways to sign in); `@connectionParameters('x', 'default')`
/// and `@ConnectionParameters` are what the platform writes, not errors.
#[test]
fn parameter_sets_defaults_and_any_case_function_names_are_understood() {
    let definition = json!({"swagger": "2.0", "host": "h", "paths": {"/a": {"get": operation("A")}}});
    let policy = |value: &str| {
        json!({"templateId": "setheader", "title": "t", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-Key", "x-ms-apimTemplateParameter.value": value,
            "x-ms-apimTemplateParameter.existsAction": "override", "x-ms-apimTemplate-policySection": "Request"}})
    };
    let properties = json!({"properties": {
        "connectionParameterSets": {"uiDefinition": {"displayName": "Sign in"}, "values": [
            {"name": "key", "uiDefinition": {"displayName": "Key"}, "parameters": {"apiKey": {"type": "securestring"}}},
            {"name": "oauth", "uiDefinition": {"displayName": "OAuth"}, "parameters": {"token": {"type": "oauthSetting"}}}
        ]},
        "policyTemplateInstances": [policy("@connectionParameters('apiKey', '')"), policy("@ConnectionParameters('apiKey')")],
        "publisher": "p", "stackOwner": "s", "iconBrandColor": "#da3b01"
    }});
    let dir = package(&definition, &properties);
    let report = validate(dir.path());
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);
    assert!(!report.rules().contains(&"policy-invalid"), "{:#?}", report.findings);
}

/// The connection-parameter rules run in each parameter set, and the sets'
/// own defects are findings pointing at the set.
#[test]
fn parameter_sets_are_checked_set_by_set() {
    let definition = json!({"swagger": "2.0", "host": "h", "paths": {"/a": {"get": operation("A")}}});
    let properties = json!({"properties": {
        "connectionParameters": {"legacy": {"type": "string"}},
        "connectionParameterSets": {"values": [
            {"name": "key", "parameters": {"api_key": {"type": "securestring"}}},
            {"name": "oauth", "parameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
                "identityProvider": "facebook", "clientId": "c", "redirectMode": "Global"}}}},
            {"name": "OAuth", "parameters": {}},
            {"parameters": {"x": {"type": "string"}}}
        ]},
        "publisher": "p", "stackOwner": "s", "iconBrandColor": "#da3b01"
    }});
    let dir = package(&definition, &properties);
    let report = validate(dir.path());
    let at = |rule: &str| -> Vec<(&str, &str)> {
        report.findings.iter().filter(|f| f.rule == rule).map(|f| (f.path.as_str(), f.message.as_str())).collect()
    };
    let sets = "$.properties.connectionParameterSets.values";
    assert_eq!(
        at("identity-provider-unsupported")[0].0,
        format!("{sets}[1].parameters.token.oAuthSettings.identityProvider")
    );
    assert_eq!(at("oauth-global-redirect")[0].0, format!("{sets}[1].parameters.token.oAuthSettings.redirectMode"));
    let names = at("parameter-set-name");
    assert_eq!(names.len(), 2, "{:#?}", report.findings);
    assert_eq!(
        names[0],
        (format!("{sets}[2].name").as_str(), "two sets are named `OAuth` (names are compared without case)")
    );
    assert_eq!(names[1], (format!("{sets}[3]").as_str(), "set 3 has no `name`, so no connection can choose it"));
    assert_eq!(
        at("parameter-set-without-parameters"),
        [(
            format!("{sets}[2]").as_str(),
            "set `OAuth` declares no parameters: a connection through it gives no credentials"
        )]
    );
    assert_eq!(at("connection-parameter-outside-sets")[0].0, "$.properties.connectionParameters.legacy");
    // The package does not load for the same reason; that is not said twice.
    assert!(at("package-invalid").is_empty(), "{:#?}", report.findings);

    let empty = json!({"properties": {"connectionParameterSets": {"values": []},
        "publisher": "p", "stackOwner": "s", "iconBrandColor": "#da3b01"}});
    let dir = package(&definition, &empty);
    assert_eq!(validate(dir.path()).rules(), ["parameter-sets-empty"]);
}

/// `aad` and `DocuSign` are served (endpoints from their parameters); a
/// provider sluice does not serve is a warning naming it.
#[test]
fn an_identity_provider_sluice_does_not_serve_is_a_warning() {
    let definition = json!({"swagger": "2.0", "host": "h", "paths": {"/a": {"get": operation("A")}}});
    for (provider, warned) in [("aad", false), ("DocuSign", false), ("facebook", true)] {
        let properties = json!({"properties": {
            "connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
                "identityProvider": provider, "clientId": "c", "redirectMode": "GlobalPerConnector"}}},
            "publisher": "p", "stackOwner": "s", "iconBrandColor": "#da3b01"
        }});
        let dir = package(&definition, &properties);
        let report = validate(dir.path());
        assert_eq!(report.errors(), 0, "{provider}: {:#?}", report.findings);
        let found = report.findings.iter().find(|f| f.rule == "identity-provider-unsupported");
        assert_eq!(found.is_some(), warned, "{provider}: {:#?}", report.findings);
        if let Some(finding) = found {
            assert_eq!(finding.path, "$.properties.connectionParameters.token.oAuthSettings.identityProvider");
        }
    }
}

/// `oauth2generic`'s templates: a placeholder that names nothing sluice
/// knows (a customParameter, an undeclared connection parameter) and a
/// value of the sign-in in a host are errors; a free connection parameter
/// in a host is a warning that says what the operator must configure; a
/// Zoho-like package, its host restricted by allowedValues, has no finding.
#[test]
fn oauth2generic_templates_are_checked() {
    let definition = json!({"swagger": "2.0", "host": "h", "paths": {"/a": {"get": operation("A")}}});
    let properties = |custom: Value, parameters: Value| {
        let mut declared = parameters.as_object().cloned().unwrap_or_default();
        declared.insert(
            "token".into(),
            json!({"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2generic", "clientId": "<id>",
                "scopes": ["a"], "redirectMode": "GlobalPerConnector", "customParameters": custom}}),
        );
        json!({"properties": {"connectionParameters": declared,
            "publisher": "p", "stackOwner": "s", "iconBrandColor": "#da3b01"}})
    };
    let host = |allowed: Value| json!({"token:customHost": {"type": "string", "uiDefinition": {"constraints": {"allowedValues": allowed}}}});
    let zoho = json!({
        "authorizationUrlTemplate": {"value": "https://accounts.zoho{CustomHost}/oauth/v2/auth"},
        "authorizationUrlQueryStringTemplate": {"value": "?client_id={clientId}&state={State}&access_type=offline&prompt=consent"},
        "tokenUrlTemplate": {"value": "https://accounts.zoho{CustomHost}/oauth/v2/token"},
        "tokenBodyTemplate": {"value": "code={code}&client_id={clientId}&client_secret={clientSecret}"}
    });
    let dir = package(&definition, &properties(zoho.clone(), host(json!([{"value": ".com"}, {"value": ".eu"}]))));
    let report = validate(dir.path());
    assert!(
        !report.rules().iter().any(|r| r.starts_with("oauth-") || r.starts_with("identity-")),
        "{:#?}",
        report.findings
    );

    let dir = package(&definition, &properties(zoho, host(json!([]))));
    let report = validate(dir.path());
    assert_eq!((report.errors(), report.rules()), (0, vec!["oauth-endpoint-host"]), "{:#?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(
        finding.path,
        "$.properties.connectionParameters.token.oAuthSettings.customParameters.authorizationUrlTemplate"
    );
    assert!(
        finding.message.contains("`token:customHost`") && finding.message.contains("allowed_endpoints"),
        "{}",
        finding.message
    );

    let broken = json!({
        "authorizationUrlTemplate": {"value": "https://{US_domain}/auth"},
        "tokenUrlTemplate": {"value": "https://{state}.example/token"},
        "refreshBodyTemplate": {"value": "refresh_token={refreshToken}&client_id={AppClientId}"}
    });
    let dir = package(&definition, &properties(broken, json!({})));
    let report = validate(dir.path());
    let found: Vec<(&str, &str)> = report
        .findings
        .iter()
        .filter(|f| f.rule.starts_with("oauth-"))
        .map(|f| (f.rule, f.path.rsplit('.').next().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("oauth-template-invalid", "authorizationUrlTemplate"),
            ("oauth-template-invalid", "tokenUrlTemplate"),
            ("oauth-template-invalid", "refreshBodyTemplate")
        ],
        "{:#?}",
        report.findings
    );
    assert!(report.findings.iter().any(|f| f.message.contains("`{US_domain}`")), "{:#?}", report.findings);

    // NetDocuments' shape: the placeholder names one of the package's own
    // customParameters, which the platform (that certified it) fills in a
    // way it does not document. sluice cannot, and says so, as a warning.
    let regional = json!({
        "authorizationUrlTemplate": {"value": "https://{US_domain}{EU_domain}/auth"},
        "tokenUrlTemplate": {"value": "https://api.{US_domain}{EU_domain}/token"},
        "tokenBodyTemplate": {"value": "code={Code}&client_secret={US_clientSecret}{EU_clientSecret}"},
        "uS_domain": {"value": "vault.example"},
        "eU_domain": {"value": "eu.example"}
    });
    let dir = package(&definition, &properties(regional, json!({})));
    let report = validate(dir.path());
    assert_eq!((report.errors(), report.rules()), (0, vec!["oauth-template-unsupported"]), "{:#?}", report.findings);
    assert!(report.findings.iter().all(|f| f.message.contains("the platform fills it")), "{:#?}", report.findings);

    let dir =
        package(&definition, &properties(json!({"authorizationUrlTemplate": {"value": "https://a/x"}}), json!({})));
    let report = validate(dir.path());
    let finding = report.findings.iter().find(|f| f.rule == "oauth-template-invalid").expect("a finding");
    assert!(finding.message.contains("tokenUrlTemplate"), "{}", finding.message);
}
