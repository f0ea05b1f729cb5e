//! Loading packages: the real packages of `examples/`, the test packages of
//! `tests/data`, and files written to break each way a package can.

use std::path::{Path, PathBuf};

use sluice_package::*;

/// The repository's example connectors (real packages; MIT, see each
/// folder's PROVENANCE.md).
fn examples() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples")).to_path_buf()
}

/// A package of the repository: an example, else a test package.
fn shared(name: &str) -> PathBuf {
    let example = examples().join(name);
    if example.exists() {
        example
    } else {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/packages")).join(name)
    }
}

fn load(name: &str) -> Package {
    load_package(&shared(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// A scratch folder of this test process, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-package-tests-{}", std::process::id())).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const MINIMAL_DEFINITION: &str = r#"{"swagger": "2.0", "host": "h", "paths": {"/a": {"get": {"operationId": "A"}}}}"#;
const MINIMAL_PROPERTIES: &str = r#"{"properties": {"connectionParameters": {}}}"#;

#[test]
fn all_example_connectors_load() {
    let (packages, errors) = load_packages(&examples());
    assert!(errors.is_empty(), "{errors:?}");
    let ids: Vec<&str> = packages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "Annature",
            "Azure_Communication_Services_Identity",
            "Calendly",
            "HtmlToText",
            "IBM_Watson_Text_to_Speech",
            "Industrial_App_Store",
            "Nationalize.io",
            "Telstra_SMS",
            "Tulip",
            "VIES",
            "items-transform"
        ]
    );
    for p in &packages {
        assert!(!p.definition.operations.is_empty(), "{}", p.id);
        // The code is built from `guest/`, never committed as script.wasm.
        assert!(p.script.is_none(), "{}", p.id);
    }
}

#[test]
fn calendly_script_operations_are_pinned() {
    let p = load("Calendly");
    assert_eq!(
        p.properties.script_operations.as_deref().unwrap(),
        ["CreateWebhookSubscription", "CreateWebhookSubscriptionRoutingFormSubmission", "GetEventTypes"]
    );
    assert_eq!(p.properties.capabilities, ["actions", "triggers"]);
    assert_eq!(p.policies.policies().len(), 3);
    assert!(!p.runs_code("GetEventTypes"), "no script.wasm, no code");
    let with_code = Package { script: Some(vec![0]), ..p };
    assert!(with_code.runs_code("GetEventTypes"));
    assert!(!with_code.runs_code("GetEventType"));
}

#[test]
fn telstra_empty_script_operations_mean_all_operations() {
    let p = load("Telstra_SMS");
    assert_eq!(p.properties.script_operations.as_deref(), Some(&[][..]));
    assert_eq!(p.definition.base_path, "/messaging/v3");
    let with_code = Package { script: Some(vec![0]), ..p };
    for op in &with_code.definition.operations {
        assert!(with_code.runs_code(&op.id), "{}", op.id);
    }
}

#[test]
fn a_policy_naming_a_parameter_with_the_wrong_case_is_a_warning_with_a_hint() {
    let p = load("param-case-mismatch");
    let names: Vec<&str> = p.properties.connection_parameters.keys().map(String::as_str).collect();
    assert_eq!(names, ["username", "password", "plantUrl"]);
    assert!(p.properties.connection_parameters["username"].required);
    assert!(!p.properties.connection_parameters["plantUrl"].required);
    assert_eq!(p.policies.referenced_connection_parameters(), [("Route to the plant", "plantURL")]);
    let warning = p.warnings.iter().find(|w| w.contains("plantURL")).expect("a warning about plantURL");
    assert!(warning.contains("plantUrl"), "{warning}");
    assert!(matches!(p.definition.security_definitions["basic-auth"], SecurityScheme::Basic));
    assert!(p.definition.operation("GetMachine").unwrap().is_internal());
}

#[test]
fn tulip_names_its_factory_url_parameter_exactly() {
    let p = load("Tulip");
    assert_eq!(p.policies.referenced_connection_parameters(), [("Set Tulip Factory URL", "factoryUrl")]);
    assert!(!p.warnings.iter().any(|w| w.contains("factoryUrl")), "{:?}", p.warnings);
    assert!(p.definition.operation("GetTable").unwrap().is_internal());
}

#[test]
fn ibm_watson_uses_basic_auth() {
    let p = load("IBM_Watson_Text_to_Speech");
    assert_eq!(p.definition.security_definitions.len(), 1);
    assert_eq!(p.definition.security_definitions["basic-auth"], SecurityScheme::Basic);
    assert_eq!(p.properties.script_operations.as_deref().unwrap(), ["Synthesize"]);
    let op = p.definition.route(&http::Method::GET, "/v1/voices/en-US_Allison").unwrap();
    assert_eq!((op.operation.id.as_str(), op.path_params["voice"].as_str()), ("GetVoice", "en-US_Allison"));
    assert_eq!(p.definition.route(&http::Method::GET, "/v1/voices").unwrap().operation.id, "ListVoices");
}

#[test]
fn industrial_app_store_uses_oauth2_with_an_oauth_setting() {
    let p = load("Industrial_App_Store");
    let SecurityScheme::OAuth2 { flow, authorization_url, token_url, scopes } =
        &p.definition.security_definitions["oauth2_auth"]
    else {
        panic!("not oauth2");
    };
    assert_eq!(flow, "accessCode");
    assert!(authorization_url.as_deref().unwrap().ends_with("/OAuth/Authorize"));
    assert!(token_url.as_deref().unwrap().ends_with("/OAuth/Token"));
    assert_eq!(scopes, &["DataRead"]);
    let token = &p.properties.connection_parameters["token"];
    assert_eq!(token.kind, "oauthSetting");
    assert!(token.is_secret());
    let oauth = token.oauth.as_ref().unwrap();
    assert_eq!(oauth.identity_provider, "oauth2");
    assert_eq!(oauth.scopes, ["DataRead"]);
    assert_eq!(oauth.redirect_mode.as_deref(), Some("Global"));
    assert!(oauth.custom_parameters["tokenUrl"].ends_with("/OAuth/Token"));
    // Upper- and lower-case `gestalt` are distinct operations.
    let r = p.definition.route(&http::Method::GET, "/Gestalt/api/data/v2/raw/dsn1/").unwrap();
    assert_eq!(r.operation.id, "ias_getdata_raw");
    let r = p.definition.route(&http::Method::GET, "/gestalt/datacore/api/data/v2/raw/dsn1").unwrap();
    assert_eq!(r.operation.id, "ias_getdata_raw_v2");
}

#[test]
fn annature_routes_and_resolves_shared_parameters() {
    let p = load("Annature");
    let r = p.definition.route(&http::Method::POST, "/envelopes/e%201/void").unwrap();
    assert_eq!((r.operation.id.as_str(), r.path_params["id"].as_str()), ("VoidEnvelope", "e 1"));
    assert_eq!(p.definition.route(&http::Method::HEAD, "/envelopes/e1").unwrap().operation.id, "DeleteEnvelope");
    let get = p.definition.operation("GetEnvelopes").unwrap();
    assert_eq!(get.parameters.len(), 7);
    assert!(get.parameters.iter().all(|p| p.location == ParameterLocation::Query));
    assert_eq!(
        p.definition.security_definitions["api_key"],
        SecurityScheme::ApiKey { name: "X-Annature-Key".into(), location: SecurityLocation::Header }
    );
    let url = p.definition.backend_url(r.operation, &r.path_params, "").unwrap();
    assert_eq!(url.as_str(), "https://api.annature.com.au/v1/envelopes/e%201/void");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn nationalize_sends_its_key_in_the_query() {
    let p = load("Nationalize.io");
    assert_eq!(
        p.definition.security_definitions["API Key"],
        SecurityScheme::ApiKey { name: "apikey".into(), location: SecurityLocation::Query }
    );
    assert_eq!(p.definition.route(&http::Method::GET, "/").unwrap().operation.id, "CheckNamesNationality");
}

#[test]
fn bad_json_reports_folder_file_line_and_column() {
    let dir = scratch("bad-json");
    std::fs::write(dir.join(DEFINITION_FILE), "{\n  \"swagger\": \"2.0\",\n  oops\n}").unwrap();
    std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert_eq!(err.folder, dir);
    assert_eq!(err.file, DEFINITION_FILE);
    assert!(matches!(err.reason, PackageErrorReason::Json { line: 3, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("bad-json") && text.contains(DEFINITION_FILE) && text.contains("line 3"), "{text}");
}

#[test]
fn missing_properties_file_is_reported() {
    let dir = scratch("no-properties");
    std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert_eq!(err.file, PROPERTIES_FILE);
    assert!(matches!(err.reason, PackageErrorReason::Missing), "{err}");
}

#[test]
fn missing_definition_is_reported() {
    let dir = scratch("no-definition");
    std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert_eq!(err.file, DEFINITION_FILE);
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn unknown_settings_key_is_an_error_naming_it() {
    let dir = scratch("bad-settings");
    std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
    std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
    std::fs::write(dir.join(SETTINGS_FILE), "[egress]\nallow = []\n\n[limits]\nfuel_budget = 5\n").unwrap();
    let err = load_package(&dir).unwrap_err();
    assert_eq!(err.file, SETTINGS_FILE);
    assert!(matches!(err.reason, PackageErrorReason::Settings { line: 5, .. }), "{err:?}");
    assert!(err.to_string().contains("fuel_budget"), "{err}");
}

#[test]
fn settings_and_script_are_read() {
    let dir = scratch("with-code");
    std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
    std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
    std::fs::write(dir.join(SCRIPT_FILE), b"\0asm").unwrap();
    std::fs::write(dir.join(SETTINGS_FILE), "[limits]\nfuel = 7\n[code]\nsees_credentials = true\n").unwrap();
    let p = load_package(&dir).unwrap();
    assert_eq!(p.id, "with-code");
    assert_eq!(p.script.as_deref(), Some(&b"\0asm"[..]));
    assert_eq!(p.settings.limits.fuel, 7);
    assert!(p.settings.code.sees_credentials);
    assert!(p.runs_code("A"), "no scriptOperations means all operations");
}

#[test]
fn swagger_3_is_refused() {
    let dir = scratch("openapi3");
    std::fs::write(dir.join(DEFINITION_FILE), r#"{"openapi": "3.0.0", "paths": {}}"#).unwrap();
    std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert!(matches!(err.reason, PackageErrorReason::Invalid(_)), "{err}");
    assert!(err.to_string().contains("2.0"), "{err}");
}

#[test]
fn a_broken_package_does_not_stop_the_others() {
    let root = scratch("root");
    for name in ["good", "broken"] {
        std::fs::create_dir_all(root.join(name)).unwrap();
        std::fs::write(root.join(name).join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
    }
    std::fs::write(root.join("good").join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
    std::fs::write(root.join("broken").join(DEFINITION_FILE), "{").unwrap();
    std::fs::create_dir_all(root.join("not-a-package")).unwrap();
    let (packages, errors) = load_packages(&root);
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0].id, "good");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, root.join("broken"));
}

#[test]
fn unreadable_root_is_one_error() {
    let (packages, errors) = load_packages(Path::new("/nonexistent/sluice-packages"));
    assert!(packages.is_empty());
    assert_eq!(errors.len(), 1);
}

#[test]
fn package_loaded_through_dot_takes_the_folder_name() {
    let dir = examples().join("Tulip/.");
    assert_eq!(load_package(&dir).unwrap().id, "Tulip");
}

/// A minimal package in a fresh folder named `name`.
fn minimal(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
    std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
    dir
}

#[test]
fn a_symlinked_package_folder_does_not_take_the_target_s_identity() {
    let root = scratch("symlinked-folder");
    minimal(&root, "Calendly");
    std::os::unix::fs::symlink(root.join("Calendly"), root.join("evil")).unwrap();
    let err = load_package(&root.join("evil")).unwrap_err();
    assert!(matches!(err.reason, PackageErrorReason::Symlink), "{err}");
    let (packages, errors) = load_packages(&root);
    assert_eq!(packages.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["Calendly"]);
    assert_eq!(errors.len(), 1, "the link is reported, not followed: {errors:?}");
}

#[test]
fn a_script_linked_to_a_device_is_refused_at_once() {
    let dir = minimal(&scratch("script-link"), "linked");
    std::os::unix::fs::symlink("/dev/zero", dir.join(SCRIPT_FILE)).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert_eq!(err.file, SCRIPT_FILE);
    assert!(matches!(err.reason, PackageErrorReason::Symlink), "{err}");
}

#[test]
fn a_file_linked_out_of_the_package_is_refused() {
    let root = scratch("definition-link");
    let other = minimal(&root, "other");
    let dir = root.join("linked");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(other.join(DEFINITION_FILE), dir.join(DEFINITION_FILE)).unwrap();
    std::fs::write(dir.join(PROPERTIES_FILE), MINIMAL_PROPERTIES).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert!(matches!(err.reason, PackageErrorReason::Symlink), "{err}");
}

#[test]
fn a_fifo_does_not_block_loading() {
    let dir = minimal(&scratch("fifo"), "piped");
    let fifo = dir.join(SETTINGS_FILE);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Opening a FIFO for reading blocks until a writer comes; this must not.
    let err = load_package(&dir).unwrap_err();
    assert_eq!(err.file, SETTINGS_FILE);
    assert!(matches!(err.reason, PackageErrorReason::NotAFile), "{err}");
}

#[test]
fn an_oversized_file_is_refused_without_reading_it_all() {
    let dir = minimal(&scratch("oversized"), "big");
    let file = std::fs::File::create(dir.join(SCRIPT_FILE)).unwrap();
    file.set_len(MAX_SCRIPT_BYTES + 1).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert!(matches!(err.reason, PackageErrorReason::TooLarge { limit } if limit == MAX_SCRIPT_BYTES), "{err}");
}

#[test]
fn broken_parameter_sets_are_refused_naming_the_file_and_the_set() {
    let dir = scratch("TwoSetsOneName");
    std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
    std::fs::write(
        dir.join(PROPERTIES_FILE),
        r#"{"properties": {"connectionParameterSets": {"values": [{"name": "key"}, {"name": "key"}]}}}"#,
    )
    .unwrap();
    let error = load_package(&dir).unwrap_err();
    assert_eq!(error.file, PROPERTIES_FILE);
    assert!(matches!(error.reason, PackageErrorReason::ParameterSets(ParameterSetsError::Duplicate { .. })));
    assert!(
        error.to_string().ends_with("apiProperties.json: connectionParameterSets: two sets are named `key`"),
        "{error}"
    );
}

#[test]
fn a_policy_may_read_a_parameter_of_any_set_and_the_sets_need_no_warning() {
    let dir = scratch("Sets");
    std::fs::write(dir.join(DEFINITION_FILE), MINIMAL_DEFINITION).unwrap();
    std::fs::write(
        dir.join(PROPERTIES_FILE),
        r#"{"properties": {
            "connectionParameterSets": {"values": [
                {"name": "key", "parameters": {"api_key": {"type": "securestring"}}},
                {"name": "oauth", "parameters": {"token": {"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2"}},
                    "token:customHost": {"type": "string"}}}]},
            "policyTemplateInstances": [{"templateId": "setheader", "title": "Host",
                "parameters": {"x-ms-apimTemplateParameter.name": "X-Host",
                    "x-ms-apimTemplateParameter.value": "@connectionParameters('token:customHost', 'none')",
                    "x-ms-apimTemplateParameter.existsAction": "override"}}]}}"#,
    )
    .unwrap();
    let package = load_package(&dir).unwrap();
    assert!(package.warnings.is_empty(), "{:?}", package.warnings);
    assert_eq!(package.properties.parameter_set_names(), ["key", "oauth"]);
    assert!(package.signs_in(Some("oauth")) && !package.signs_in(Some("key")));
}

#[test]
fn assets_are_found_and_bounded() {
    let dir = minimal(&scratch("assets"), "with-assets");
    assert_eq!(load_package(&dir).unwrap().assets, None, "no folder, no assets");
    std::fs::create_dir_all(dir.join("assets/tables")).unwrap();
    std::fs::write(dir.join("assets/tables/codes.csv"), "1,one\n").unwrap();
    assert_eq!(load_package(&dir).unwrap().assets, Some(dir.join(sluice_package::ASSETS_DIR)));

    // Over the size cap, counted across files: refused, naming the cap.
    let half = vec![b'x'; (sluice_package::MAX_ASSETS_BYTES / 2) as usize];
    std::fs::write(dir.join("assets/a.bin"), &half).unwrap();
    std::fs::write(dir.join("assets/tables/b.bin"), &half).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert_eq!(err.file, "assets");
    assert!(matches!(err.reason, PackageErrorReason::TooLarge { limit } if limit == sluice_package::MAX_ASSETS_BYTES));
    std::fs::remove_file(dir.join("assets/a.bin")).unwrap();
    assert!(load_package(&dir).is_ok());

    // Too many entries.
    let many = dir.join("assets/many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..sluice_package::MAX_ASSETS_ENTRIES {
        std::fs::write(many.join(format!("{i}.txt")), "").unwrap();
    }
    let err = load_package(&dir).unwrap_err();
    assert!(err.to_string().contains("more than 1000 files and folders"), "{err}");
    std::fs::remove_dir_all(&many).unwrap();

    // Too deep.
    let deep: PathBuf = (0..sluice_package::MAX_ASSETS_DEPTH).fold(dir.join("assets"), |p, i| p.join(format!("d{i}")));
    std::fs::create_dir_all(&deep).unwrap();
    let err = load_package(&dir).unwrap_err();
    assert!(err.to_string().contains("deeper than 16 levels"), "{err}");
}

#[test]
fn a_link_in_the_assets_is_refused_at_load() {
    for (name, make) in [("file-link", "assets/passwd"), ("folder-link", "assets/up")] {
        let dir = minimal(&scratch(name), "linked-assets");
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        let target = if name == "file-link" { PathBuf::from("/etc/passwd") } else { PathBuf::from("..") };
        std::os::unix::fs::symlink(target, dir.join(make)).unwrap();
        let err = load_package(&dir).unwrap_err();
        assert_eq!(err.file, make);
        assert!(matches!(err.reason, PackageErrorReason::Symlink), "{err}");
    }
    // The folder itself may not be a link either.
    let dir = minimal(&scratch("assets-link"), "linked-assets");
    std::os::unix::fs::symlink("/etc", dir.join("assets")).unwrap();
    assert!(matches!(load_package(&dir).unwrap_err().reason, PackageErrorReason::Symlink));
}
