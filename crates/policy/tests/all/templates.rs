//! Each template's documented behaviour, on requests and responses written
//! for the purpose.

use crate::support::*;

#[test]
fn setheader_overrides_skips_and_appends() {
    let call = Call::new(&[]);
    for (action, expected) in [("override", vec!["new"]), ("skip", vec!["old"]), ("append", vec!["old", "new"])] {
        let set = set(json!([{ "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-A",
            "x-ms-apimTemplateParameter.value": "new",
            "x-ms-apimTemplateParameter.existsAction": action }}]));
        let mut req = request("GET", "https://h/x", "");
        req.headers_mut().insert("x-a", HeaderValue::from_static("old"));
        set.apply_request("Op", &no_params(), &mut req, &call.ctx()).unwrap();
        let got: Vec<_> = req.headers().get_all("x-a").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(got, expected, "{action}");
    }
}

#[test]
fn template_ids_match_without_case() {
    // As certified packages write them; the platform takes them.
    let set = set(json!([
        { "templateId": "SetHeader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "a" }},
        { "templateId": "setQueryParameter", "parameters": {
            "x-ms-apimTemplateParameter.name": "q", "x-ms-apimTemplateParameter.value": "1" }},
    ]));
    assert_eq!(set.policies().iter().map(|p| p.template_id()).collect::<Vec<_>>(), ["setheader", "setqueryparameter"]);
    let mut req = request("GET", "https://h/x", "");
    set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(req.headers()["x-a"], "a");
    assert_eq!(req.uri().to_string(), "https://h/x?q=1");
    assert_eq!(sluice_policy::template("dynamicHostUrl").map(|t| t.id), Some("dynamichosturl"));
}

#[test]
fn setheader_in_response_section_sets_a_response_header() {
    let set = set(json!([{ "templateId": "setheader", "parameters": {
        "x-ms-apimTemplateParameter.name": "X-Out",
        "x-ms-apimTemplateParameter.value": "@headers('x-in')",
        "x-ms-apimTemplate-policySection": "Response" }}]));
    let mut call = Call::new(&[]);
    call.headers.insert("x-in", HeaderValue::from_static("echo"));
    let mut res = Response::new(Bytes::from_static(b"<html>"));
    set.apply_response("Op", &mut res, &call.ctx()).unwrap();
    assert_eq!(res.headers()["x-out"], "echo");
    assert_eq!(res.body().as_ref(), b"<html>");
}

#[test]
fn setqueryparameter_overrides_skips_and_appends() {
    let call = Call::new(&[("v", "2024-01-01")]);
    for (action, expected) in [
        ("override", "https://h/x?b=1&api-version=2024-01-01"),
        ("skip", "https://h/x?api-version=old&b=1"),
        ("append", "https://h/x?api-version=old&b=1&api-version=2024-01-01"),
    ] {
        let set = set(json!([{ "templateId": "setqueryparameter", "parameters": {
            "x-ms-apimTemplateParameter.name": "api-version",
            "x-ms-apimTemplateParameter.value": "@connectionParameters('v')",
            "x-ms-apimTemplateParameter.existsAction": action }}]));
        let mut req = request("GET", "https://h/x?api-version=old&b=1", "");
        set.apply_request("Op", &no_params(), &mut req, &call.ctx()).unwrap();
        assert_eq!(req.uri().to_string(), expected, "{action}");
    }
}

#[test]
fn setqueryparameter_reads_the_original_query() {
    let set = set(json!([{ "templateId": "setqueryparameter", "parameters": {
        "x-ms-apimTemplateParameter.name": "limit",
        "x-ms-apimTemplateParameter.value": "@queryParameters('top')" }}]));
    let mut call = Call::new(&[]);
    call.query.push(("top".into(), "5".into()));
    let mut req = request("GET", "https://h/x", "");
    set.apply_request("Op", &no_params(), &mut req, &call.ctx()).unwrap();
    assert_eq!(req.uri().to_string(), "https://h/x?limit=5");
}

#[test]
fn routerequesttoendpoint_fills_path_params_and_changes_method() {
    let set = set(json!([{ "templateId": "routerequesttoendpoint", "parameters": {
        "x-ms-apimTemplateParameter.newPath": "/envelopes/{id}",
        "x-ms-apimTemplateParameter.httpMethod": "DELETE" }}]))
    .with_base_path("/v1");
    let params: IndexMap<String, String> = [("id".to_string(), "a b/c".to_string())].into_iter().collect();
    let mut req = request("HEAD", "https://api.annature.com.au/v1/envelopes/x?q=1", "");
    set.apply_request("DeleteEnvelope", &params, &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(req.method(), http::Method::DELETE);
    assert_eq!(req.uri().to_string(), "https://api.annature.com.au/v1/envelopes/a%20b%2Fc?q=1");
}

#[test]
fn routerequesttoendpoint_keeps_the_original_method() {
    let set = set(json!([{ "templateId": "routerequesttoendpoint", "parameters": {
        "x-ms-apimTemplateParameter.newPath": "/webhook_subscriptions",
        "x-ms-apimTemplateParameter.httpMethod": "@Request.OriginalHTTPMethod" }}]));
    let mut req = request("POST", "https://api.calendly.com/webhook_subscriptions/routing_form_submission", "{}");
    set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri().to_string(), "https://api.calendly.com/webhook_subscriptions");
}

#[test]
fn routerequesttoendpoint_names_a_missing_path_parameter() {
    let set = set(json!([{ "templateId": "routerequesttoendpoint", "parameters": {
        "x-ms-apimTemplateParameter.newPath": "/things/{thingId}" }}]));
    let mut req = request("GET", "https://h/x", "");
    let err = set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap_err();
    assert!(matches!(&err, PolicyError::MissingPathParameter { name, .. } if name == "thingId"), "{err}");
}

#[test]
fn dynamichosturl_replaces_scheme_host_and_base_path() {
    let set = set(json!([{ "templateId": "dynamichosturl", "parameters": {
        "x-ms-apimTemplateParameter.urlTemplate": "https://@connectionParameters('factoryUrl')/api/v3" }}]))
    .with_base_path("/api/v3");
    let call = Call::new(&[("factoryUrl", "acme.tulip.co")]);
    let mut req = request("GET", "https://api.tulip.co/api/v3/tables/t1?x=1", "");
    set.apply_request("GetTable", &no_params(), &mut req, &call.ctx()).unwrap();
    assert_eq!(req.uri().to_string(), "https://acme.tulip.co/api/v3/tables/t1?x=1");
}

#[test]
fn dynamichosturl_rejects_a_value_that_is_not_a_url() {
    let set = set(json!([{ "templateId": "dynamichosturl", "parameters": {
        "x-ms-apimTemplateParameter.urlTemplate": "@connectionParameters('url')" }}]));
    let call = Call::new(&[("url", "not a url")]);
    let mut req = request("GET", "https://h/x", "");
    let err = set.apply_request("Op", &no_params(), &mut req, &call.ctx()).unwrap_err();
    assert!(matches!(err, PolicyError::InvalidUrl { .. }), "{err}");
    assert_eq!(req.uri().to_string(), "https://h/x", "request is left as it was");
}

/// The URL is split into its parts only for a policy that edits it: a set
/// of header policies never looks at it, and a URL that cannot be split is
/// refused in the name of the first policy that edits it.
#[test]
fn only_a_policy_that_edits_the_url_splits_it() {
    let header = json!({ "templateId": "setheader", "title": "Tag", "parameters": {
        "x-ms-apimTemplateParameter.name": "X-A",
        "x-ms-apimTemplateParameter.value": "a" }});
    let query = json!({ "templateId": "setqueryparameter", "title": "Version", "parameters": {
        "x-ms-apimTemplateParameter.name": "v",
        "x-ms-apimTemplateParameter.value": "1" }});
    let call = Call::new(&[]);
    let mut relative = request("GET", "/x", "");
    set(json!([header.clone()])).apply_request("Op", &no_params(), &mut relative, &call.ctx()).unwrap();
    assert_eq!(relative.uri(), "/x");
    assert_eq!(relative.headers()["x-a"], "a");
    let mut relative = request("GET", "/x", "");
    let err = set(json!([header, query])).apply_request("Op", &no_params(), &mut relative, &call.ctx()).unwrap_err();
    match err {
        PolicyError::InvalidUrl { policy, url, .. } => assert_eq!((policy.as_str(), url.as_str()), ("Version", "/x")),
        other => panic!("{other}"),
    }
}

#[test]
fn setproperty_sets_request_and_response_properties() {
    let set = set(json!([
        { "templateId": "setproperty", "parameters": {
            "x-ms-apimTemplateParameter.newPropertyParentPathTemplate": "@body().task",
            "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "priority",
            "x-ms-apimTemplateParameter.propertyValuePathTemplate": "!" }},
        { "templateId": "setproperty", "parameters": {
            "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "count",
            "x-ms-apimTemplateParameter.propertyValuePathTemplate": 3,
            "x-ms-apimTemplate-policySection": "Response" }},
        { "templateId": "setproperty", "parameters": {
            "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "copy",
            "x-ms-apimTemplateParameter.propertyValuePathTemplate": "@body().name",
            "x-ms-apimTemplate-policySection": "Response" }}
    ]));
    let call = Call::new(&[]);
    let mut req = request("POST", "https://h/x", "");
    req.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    set.apply_request("Op", &no_params(), &mut req, &call.ctx()).unwrap();
    assert_eq!(json_body(&req), json!({"task": {"priority": "!"}}));
    assert_eq!(req.headers()[CONTENT_LENGTH], req.body().len().to_string().as_str());

    let mut res = Response::new(Bytes::from_static(br#"{"name":"n"}"#));
    set.apply_response("Op", &mut res, &call.ctx()).unwrap();
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body, json!({"name": "n", "count": 3, "copy": "n"}));
}

#[test]
fn request_body_that_is_not_json_is_a_client_error() {
    let set = set(json!([{ "templateId": "setproperty", "parameters": {
        "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "a",
        "x-ms-apimTemplateParameter.propertyValuePathTemplate": "b" }}]));
    let mut req = request("POST", "https://h/x", "not json");
    let err = set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap_err();
    assert!(matches!(err, PolicyError::BodyNotJson { .. }), "{err}");
    assert_eq!(req.body().as_ref(), b"not json");
}

#[test]
fn response_body_that_is_not_json_is_passed_on() {
    let set = set(json!([{ "templateId": "convertobjecttoarray", "parameters": {
        "x-ms-apimTemplateParameter.propertySubPath": "o",
        "x-ms-apimTemplateParameter.newPropertyPath": "o",
        "x-ms-apimTemplateParameter.keyName": "k",
        "x-ms-apimTemplate-policySection": "Response" }}]));
    let mut res = Response::new(Bytes::from_static(b"<html>oops</html>"));
    set.apply_response("Op", &mut res, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(res.body().as_ref(), b"<html>oops</html>");
}

#[test]
fn response_that_no_policy_changes_keeps_its_bytes() {
    let set = set(json!([{ "templateId": "convertobjecttoarray", "parameters": {
        "x-ms-apimTemplateParameter.propertySubPath": "absent",
        "x-ms-apimTemplateParameter.newPropertyPath": "out",
        "x-ms-apimTemplateParameter.keyName": "k",
        "x-ms-apimTemplate-policySection": "Response" }}]));
    let raw = br#"{ "z": 1,  "a": 2 }"#;
    let mut res = Response::new(Bytes::from_static(raw));
    set.apply_response("Op", &mut res, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(res.body().as_ref(), raw);
}

#[test]
fn convertobjecttoarray_reshapes_the_response() {
    let set = set(json!([{ "templateId": "convertobjecttoarray", "parameters": {
        "x-ms-apimTemplateParameter.propertyParentPath": "@body()",
        "x-ms-apimTemplateParameter.propertySubPath": "peopleObject",
        "x-ms-apimTemplateParameter.newPropertyPath": "@body().peopleArray",
        "x-ms-apimTemplateParameter.keyName": "Name",
        "x-ms-apimTemplateParameter.valueName": "Details",
        "x-ms-apimTemplate-policySection": "Response" }}]));
    let mut res = Response::new(Bytes::from_static(br#"{"peopleObject":{"XYZ":{"Age":"30"}}}"#));
    set.apply_response("Op", &mut res, &Call::new(&[]).ctx()).unwrap();
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body["peopleArray"], json!([{"Name": "XYZ", "Details": {"Age": "30"}}]));
}

#[test]
fn convertarraytoobject_reshapes_the_request() {
    let set = set(json!([{ "templateId": "convertarraytoobject", "parameters": {
        "x-ms-apimTemplateParameter.propertyParentPath": "@body()",
        "x-ms-apimTemplateParameter.propertySubPath": "references",
        "x-ms-apimTemplateParameter.keyWithinCollectionPath": "url",
        "x-ms-apimTemplateParameter.newPropertyPath": "@body().references",
        "x-ms-apimTemplateParameter.retainKey": "false" }}]));
    let mut req = request("PATCH", "https://h/x", r#"{"references":[{"url":"u1","alias":"a"}]}"#);
    set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(json_body(&req), json!({"references": {"u1": {"alias": "a"}}}));
}

#[test]
fn stringreplace_in_a_property_and_in_the_whole_body() {
    let set = set(json!([
        { "templateId": "stringreplace", "parameters": {
            "x-ms-apimTemplateParameter.propertySubPath": "link",
            "x-ms-apimTemplateParameter.oldValue": "http://",
            "x-ms-apimTemplateParameter.newValue": "https://",
            "x-ms-apimTemplate-policySection": "Response" }},
        { "templateId": "stringreplace", "parameters": {
            "x-ms-apimTemplateParameter.oldValue": "secret-host",
            "x-ms-apimTemplateParameter.newValue": "@connectionParameters('alias')",
            "x-ms-apimTemplate-policySection": "Response" }}
    ]));
    let call = Call::new(&[("alias", "public-host")]);
    let mut res = Response::new(Bytes::from_static(br#"{"link":"http://secret-host/a","other":"http://x"}"#));
    set.apply_response("Op", &mut res, &call.ctx()).unwrap();
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body, json!({"link": "https://public-host/a", "other": "http://x"}));
}

#[test]
fn policies_apply_in_listed_order() {
    let set = set(json!([
        { "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "1" }},
        { "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "2" }},
        { "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "3",
            "x-ms-apimTemplateParameter.existsAction": "skip" }}
    ]));
    let mut req = request("GET", "https://h/x", "");
    set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(req.headers()["x-a"], "2");
}

#[test]
fn operation_scope_limits_a_policy() {
    let set = set(json!([{ "templateId": "setheader", "parameters": {
        "x-ms-apimTemplateParameter.name": "X-A", "x-ms-apimTemplateParameter.value": "1",
        "x-ms-apimTemplate-operationName": ["Other"] }}]));
    let mut req = request("GET", "https://h/x", "");
    set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert!(req.headers().get("x-a").is_none());
    set.apply_request("Other", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(req.headers()["x-a"], "1");
}

#[test]
fn unknown_templates_and_bad_parameters_are_warnings() {
    let (set, warnings) = PolicySet::parse(&[
        json!({ "templateId": "frobnicate", "title": "F", "parameters": {} }),
        json!({ "templateId": "setconnectionstatustounauthenticated", "title": "U", "parameters": {} }),
        json!({ "templateId": "setheader", "title": "Bad", "parameters": {} }),
        json!({ "templateId": "dynamichosturl", "parameters": {
            "x-ms-apimTemplateParameter.urlTemplate": "https://x", "x-ms-apimTemplateParameter.typo": 1 } }),
    ]);
    assert_eq!(set.policies().len(), 1);
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(warnings[0].contains("unknown policy template `frobnicate`"), "{}", warnings[0]);
    assert!(warnings[1].contains("missing parameter `x-ms-apimTemplateParameter.statusCode`"), "{}", warnings[1]);
    assert!(warnings[2].contains("x-ms-apimTemplateParameter.name"), "{}", warnings[2]);
    assert!(warnings[3].contains("typo"), "{}", warnings[3]);
}

#[test]
fn request_only_template_in_response_section_is_moved_with_a_warning() {
    let (set, warnings) = PolicySet::parse(&[json!({ "templateId": "dynamichosturl", "parameters": {
        "x-ms-apimTemplateParameter.urlTemplate": "https://x",
        "x-ms-apimTemplate-policySection": "Response" } })]);
    assert_eq!(set.policies()[0].section(), Section::Request);
    assert_eq!(warnings.len(), 1);
}

#[test]
fn setproperty_copying_into_a_large_array_is_bounded_by_the_body_limit() {
    let set = set(json!([{ "templateId": "setproperty", "parameters": {
        "x-ms-apimTemplateParameter.newPropertyParentPathTemplate": "@body().items",
        "x-ms-apimTemplateParameter.newPropertySubPathTemplate": "copy",
        "x-ms-apimTemplateParameter.propertyValuePathTemplate": "@body().big",
        "x-ms-apimTemplate-policySection": "Response" }}]))
    .with_body_limits(1 << 20, 1 << 20);
    // 100 KiB copied into each of 10,000 elements would be a gigabyte.
    let body = json!({"big": "x".repeat(100 << 10), "items": vec![json!({}); 10_000]}).to_string();
    let mut response = Response::new(Bytes::from(body.clone()));
    let error = set.apply_response("Op", &mut response, &Call::new(&[]).ctx()).unwrap_err();
    assert!(matches!(error, PolicyError::BodyTooLarge { limit, .. } if limit == 1 << 20), "{error}");
    assert_eq!(response.body().len(), body.len(), "the body is left as it came");
}

#[test]
fn stringreplace_cannot_grow_a_body_past_its_limit() {
    let set = set(json!([{ "templateId": "stringreplace", "parameters": {
        "x-ms-apimTemplateParameter.oldValue": "a",
        "x-ms-apimTemplateParameter.newValue": "b".repeat(1024),
        "x-ms-apimTemplate-policySection": "Response" }}]))
    .with_body_limits(1 << 20, 1 << 20);
    let mut response = Response::new(Bytes::from("a".repeat(8 << 10)));
    let error = set.apply_response("Op", &mut response, &Call::new(&[]).ctx()).unwrap_err();
    assert!(matches!(error, PolicyError::BodyTooLarge { .. }), "{error}");
}

#[test]
fn stringtoarray_turns_separated_ids_into_objects() {
    // The shape of the certified Planner connector's use: a semicolon-separated
    // `assignments` string becomes `[{"userId": ...}]` in place.
    let set = set(json!([{ "templateId": "StringToArray", "parameters": {
        "x-ms-apimTemplateParameter.propertyParentPath": "@body()",
        "x-ms-apimTemplateParameter.propertySubPath": "assignments",
        "x-ms-apimTemplateParameter.delimiterList": ";",
        "x-ms-apimTemplateParameter.childPropertyName": "userId",
        "x-ms-apimTemplateParameter.newPropertyPath": "@body().assignments",
        "x-ms-apimTemplate-operationName": ["AssignUsers"],
        "x-ms-apimTemplate-policySection": "Request" }}]));
    let mut req = request("PATCH", "https://h/tasks/1", r#"{"assignments":"u1;ada@contoso.example"}"#);
    req.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    set.apply_request("AssignUsers", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(json_body(&req), json!({"assignments": [{"userId": "u1"}, {"userId": "ada@contoso.example"}]}));
    assert_eq!(req.headers()[CONTENT_LENGTH], req.body().len().to_string().as_str());

    // A value that is not a string is left as it is.
    let raw = r#"{"assignments":["u1"]}"#;
    let mut req = request("PATCH", "https://h/tasks/1", raw);
    set.apply_request("AssignUsers", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(req.body().as_ref(), raw.as_bytes());
}

#[test]
fn stringtoarray_without_a_new_path_replaces_the_string() {
    let set = set(json!([{ "templateId": "stringtoarray", "parameters": {
        "x-ms-apimTemplateParameter.propertySubPath": "tags",
        "x-ms-apimTemplateParameter.delimiterList": ",;",
        "x-ms-apimTemplateParameter.childPropertyName": "name",
        "x-ms-apimTemplate-policySection": "Response" }}]));
    let mut res = Response::new(Bytes::from_static(br#"{"tags":"a,b;c"}"#));
    set.apply_response("Op", &mut res, &Call::new(&[]).ctx()).unwrap();
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body, json!({"tags": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}));
}

#[test]
fn stringtoarray_bad_parameters_are_warnings() {
    for missing in ["delimiterList", "childPropertyName"] {
        let mut parameters = json!({
            "x-ms-apimTemplateParameter.propertySubPath": "ids",
            "x-ms-apimTemplateParameter.delimiterList": ";",
            "x-ms-apimTemplateParameter.childPropertyName": "id" });
        parameters.as_object_mut().unwrap().remove(&format!("x-ms-apimTemplateParameter.{missing}"));
        let warning = refused("stringtoarray", parameters);
        assert!(warning.contains("`T`") && warning.contains(missing), "{warning}");
    }
    let warning = refused(
        "stringtoarray",
        json!({
        "x-ms-apimTemplateParameter.propertySubPath": "ids[",
        "x-ms-apimTemplateParameter.delimiterList": ";",
        "x-ms-apimTemplateParameter.childPropertyName": "id" }),
    );
    assert!(warning.contains("propertySubPath"), "{warning}");
}

#[test]
fn moveproperties_flattens_custom_properties_into_the_request() {
    // The shape of the certified AzureAD connector's UpdateUser policy.
    let set = set(json!([{ "templateId": "moveproperties", "title": "Move Properties", "parameters": {
        "x-ms-apimTemplateParameter.srcParentPath": "@body()",
        "x-ms-apimTemplateParameter.srcSubPath": "customProperties",
        "x-ms-apimTemplateParameter.dstParentPath": "@body()",
        "x-ms-apimTemplateParameter.dstSubPath": "null",
        "x-ms-apimTemplateParameter.copyOnlySubProperties": "true",
        "x-ms-apimTemplate-policySection": "Request",
        "x-ms-apimTemplate-operationName": ["UpdateUser"] }}]));
    let body = r#"{"jobTitle":"Engineer","customProperties":{"employeeType":"Contractor","jobTitle":"Lead"}}"#;
    let mut req = request("PATCH", "https://graph.example/v1.0/users/u1", body);
    set.apply_request("UpdateUser", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(json_body(&req), json!({"jobTitle": "Lead", "employeeType": "Contractor"}));

    let mut other = request("PATCH", "https://graph.example/v1.0/users/u1", body);
    set.apply_request("GetUser", &no_params(), &mut other, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(other.body().as_ref(), body.as_bytes());
}

#[test]
fn moveproperties_moves_a_value_in_the_response() {
    let set = set(json!([{ "templateId": "MoveProperties", "parameters": {
        "x-ms-apimTemplateParameter.srcParentPath": "@body().data",
        "x-ms-apimTemplateParameter.srcSubPath": "next",
        "x-ms-apimTemplateParameter.dstSubPath": "paging.next",
        "x-ms-apimTemplate-policySection": "Response" }}]));
    let mut res = Response::new(Bytes::from_static(br#"{"data":{"next":"n2","items":[]}}"#));
    set.apply_response("Op", &mut res, &Call::new(&[]).ctx()).unwrap();
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body, json!({"data": {"items": []}, "paging": {"next": "n2"}}));
}

#[test]
fn moveproperties_bad_parameters_are_warnings() {
    for (key, value) in [("srcSubPath", ""), ("copyOnlySubProperties", "yes"), ("dstParentPath", "@body().a[")] {
        let mut parameters = json!({ "x-ms-apimTemplateParameter.srcSubPath": "a" });
        parameters[format!("x-ms-apimTemplateParameter.{key}")] = json!(value);
        let warning = refused("moveproperties", parameters);
        assert!(warning.contains("`T`") && warning.contains(key), "{warning}");
    }
}

#[test]
fn encodepropertyvalue_url_encodes_each_assignee() {
    // The certified Planner connector's pair: stringtoarray makes the
    // assignments, encodepropertyvalue (no encoding named) encodes each id.
    let set = set(json!([
        { "templateId": "StringToArray", "parameters": {
            "x-ms-apimTemplateParameter.propertySubPath": "assignments",
            "x-ms-apimTemplateParameter.delimiterList": ";",
            "x-ms-apimTemplateParameter.childPropertyName": "userId",
            "x-ms-apimTemplateParameter.newPropertyPath": "@body().assignments" }},
        { "templateId": "EncodePropertyValue", "parameters": {
            "x-ms-apimTemplateParameter.propertyParentPath": "@body().assignments",
            "x-ms-apimTemplateParameter.propertySubPath": "userId",
            "x-ms-apimTemplateParameter.newPropertyPath": "@item().userId",
            "x-ms-apimTemplate-policySection": "Request" }}
    ]));
    let mut req = request("POST", "https://h/tasks", r#"{"assignments":"ada@contoso.example; o'neil/x y"}"#);
    set.apply_request("CreateTask", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(
        json_body(&req),
        json!({"assignments": [{"userId": "ada%40contoso.example"}, {"userId": "o%27neil%2Fx%20y"}]})
    );
}

#[test]
fn encodepropertyvalue_base64_into_a_new_property() {
    let set = set(json!([{ "templateId": "encodepropertyvalue", "parameters": {
        "x-ms-apimTemplateParameter.propertySubPath": "content",
        "x-ms-apimTemplateParameter.newPropertyPath": "contentBytes",
        "x-ms-apimTemplateParameter.encodingType": "Base64",
        "x-ms-apimTemplate-policySection": "Response" }}]));
    let mut res = Response::new(Bytes::from(r#"{"content":"hé!","n":1}"#));
    set.apply_response("Op", &mut res, &Call::new(&[]).ctx()).unwrap();
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body, json!({"content": "hé!", "n": 1, "contentBytes": "aMOpIQ=="}));

    let raw = br#"{"content":42}"#;
    let mut res = Response::new(Bytes::from_static(raw));
    set.apply_response("Op", &mut res, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(res.body().as_ref(), raw);
}

#[test]
fn encodepropertyvalue_bad_parameters_are_warnings() {
    let warning = refused(
        "encodepropertyvalue",
        json!({
        "x-ms-apimTemplateParameter.propertySubPath": "a",
        "x-ms-apimTemplateParameter.encodingType": "rot13" }),
    );
    assert!(warning.contains("`T`") && warning.contains("encodingType") && warning.contains("rot13"), "{warning}");
    let warning = refused("encodepropertyvalue", json!({ "x-ms-apimTemplateParameter.newPropertyPath": "a[x]" }));
    assert!(warning.contains("newPropertyPath"), "{warning}");
}

#[test]
fn updatenextlink_points_the_next_page_at_the_gateway() {
    // As the certified AzureAD, Planner and Microsoft 365 Lighthouse
    // packages write it: no section, `@odata.nextLink` as one name.
    let set = set(json!([{ "templateId": "updatenextlink", "parameters": {
        "x-ms-apimTemplate-operationName": ["GetGroupMembers"],
        "x-ms-apimTemplateParameter.nextLinkPropertyName": "@odata.nextLink" }}]))
    .with_base_path("/v1.0");
    assert_eq!(set.policies()[0].section(), Section::Response);
    let backend: http::Uri = "https://graph.example/v1.0/groups/g1/members".parse().unwrap();
    let call = Call::new(&[]);
    let route = sluice_policy::GatewayRoute { connection_url: "https://gw.example/apim/aad/c1", backend_url: &backend };
    let ctx = ExprContext { gateway: Some(route), ..call.ctx() };
    let page = |link: &str| {
        Response::new(Bytes::from(json!({"value": [], "@odata.nextLink": link, "nextLink": link}).to_string()))
    };

    let mut res = page("https://graph.example/v1.0/groups/g1/members?$skiptoken=X");
    set.apply_response("GetGroupMembers", &mut res, &ctx).unwrap();
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body["@odata.nextLink"], "https://gw.example/apim/aad/c1/groups/g1/members?$skiptoken=X");
    assert_eq!(body["nextLink"], "https://graph.example/v1.0/groups/g1/members?$skiptoken=X");

    // A foreign link, and any link without a gateway route, stay as they are.
    for (link, ctx) in [("https://evil.example/v1.0/groups?x=1", ctx), ("https://graph.example/v1.0/x", call.ctx())] {
        let mut res = page(link);
        let before = res.body().clone();
        set.apply_response("GetGroupMembers", &mut res, &ctx).unwrap();
        assert_eq!(res.body(), &before, "{link}");
    }
}

#[test]
fn updatenextlink_in_the_request_section_is_moved_with_a_warning() {
    let (set, warnings) = PolicySet::parse(&[json!({ "templateId": "updatenextlink", "parameters": {
        "x-ms-apimTemplateParameter.nextLinkPropertyName": "@body().paging.next",
        "x-ms-apimTemplate-policySection": "Request" }})]);
    assert_eq!(set.policies()[0].section(), Section::Response);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("only applies to responses"), "{warnings:?}");
    let warning = refused("updatenextlink", json!({}));
    assert!(warning.contains("`T`") && warning.contains("nextLinkPropertyName"), "{warning}");
    let warning = refused("updatenextlink", json!({ "x-ms-apimTemplateParameter.nextLinkPropertyName": "@body().a[" }));
    assert!(warning.contains("nextLinkPropertyName"), "{warning}");
}

/// A `pollingtrigger` as the certified Huddle package writes it: no
/// section, the state `after` taken from the newest file.
fn huddle_trigger() -> PolicySet {
    set(json!([{ "templateId": "pollingtrigger", "title": "PollingTriggerPolicyForFiles", "type": "PollingTrigger",
        "parameters": {
            "x-ms-apimTemplate-operationName": ["PollFolderForFileUpload"],
            "x-ms-apimTemplateParameter.triggerConfig": { "after": "@{triggerBody().files[0].created}" },
            "x-ms-apimTemplateParameter.triggerDataPath": "@triggerBody().files" }}]))
}

/// A poll of Huddle's folder trigger as the gateway sees it: the client asked
/// `?workspaceId=W&after=T0` of the connection's `/trigger/v2/poll/...`.
fn huddle_poll(body: Value, gateway: bool) -> Response<Bytes> {
    let set = huddle_trigger();
    assert_eq!(set.policies()[0].section(), Section::Response);
    let backend: http::Uri =
        "https://huddle.example/trigger/v2/poll/folder/F1/upload?workspaceId=W&after=T0&key=secret".parse().unwrap();
    let mut call = Call::new(&[]);
    call.query = vec![("workspaceId".into(), "W".into()), ("after".into(), "T0".into())];
    let route =
        sluice_policy::GatewayRoute { connection_url: "https://gw.example/apim/huddle/c1", backend_url: &backend };
    let ctx = ExprContext { gateway: gateway.then_some(route), ..call.ctx() };
    let mut res = Response::new(Bytes::from(body.to_string()));
    set.apply_response("PollFolderForFileUpload", &mut res, &ctx).unwrap();
    res
}

#[test]
fn pollingtrigger_with_nothing_new_answers_202_with_the_requests_state() {
    for body in [json!({"files": []}), json!({"files": null}), json!({})] {
        let res = huddle_poll(body.clone(), true);
        assert_eq!(res.status(), 202, "{body}");
        // The client's query, never the backend's (whose `key` is a credential).
        assert_eq!(
            res.headers()["location"],
            "https://gw.example/apim/huddle/c1/trigger/v2/poll/folder/F1/upload?workspaceId=W&after=T0"
        );
        assert_eq!(res.body(), &Bytes::from(body.to_string()));
    }
}

#[test]
fn pollingtrigger_with_new_items_answers_200_with_the_state_from_the_items() {
    let body = json!({"files": [{"created": "2024-05-02T08:00:00+00:00"}, {"created": "2024-05-01T08:00:00+00:00"}]});
    let res = huddle_poll(body.clone(), true);
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["location"],
        "https://gw.example/apim/huddle/c1/trigger/v2/poll/folder/F1/upload?workspaceId=W&after=2024-05-02T08%3A00%3A00%2B00%3A00"
    );
    assert_eq!(serde_json::from_slice::<Value>(res.body()).unwrap(), body);
}

#[test]
fn pollingtrigger_state_is_text_around_the_items_value_under_the_base_path() {
    // As the certified MicrosoftGraphSecurity (an OData `$filter`) and Mobili
    // Stotele (a numeric id, under basePath `/api/v2/`) packages write it.
    let set = set(json!([
        { "templateId": "pollingtrigger", "parameters": {
            "x-ms-apimTemplate-operationName": ["OnNewHighSeverityAlerts"],
            "x-ms-apimTemplateParameter.triggerConfig": {
                "$filter": "Severity eq 'High' and lastModifiedDateTime gt @{triggerBody().value[0].lastModifiedDateTime}" },
            "x-ms-apimTemplateParameter.triggerDataPath": "@triggerBody().value" }},
        { "templateId": "pollingtrigger", "parameters": {
            "x-ms-apimTemplate-operationName": ["GetContacts"],
            "x-ms-apimTemplateParameter.triggerConfig": { "initial_contact_id": "@{triggerBody().data[0].contactID}" },
            "x-ms-apimTemplateParameter.triggerDataPath": "@triggerBody().data" }},
    ]))
    .with_base_path("/api/v2/");
    let call = Call::new(&[]);
    let poll = |operation: &str, backend: &str, body: Value| {
        let backend: http::Uri = backend.parse().unwrap();
        let route =
            sluice_policy::GatewayRoute { connection_url: "https://gw.example/apim/x/c1", backend_url: &backend };
        let ctx = ExprContext { gateway: Some(route), ..call.ctx() };
        let mut res = Response::new(Bytes::from(body.to_string()));
        res.headers_mut().insert("retry-after", HeaderValue::from_static("60"));
        set.apply_response(operation, &mut res, &ctx).unwrap();
        res
    };
    let alerts = poll(
        "OnNewHighSeverityAlerts",
        "https://graph.example/api/v2/security/alerts",
        json!({"value": [{"lastModifiedDateTime": "2024-05-02T08:00:00Z"}]}),
    );
    assert_eq!(
        alerts.headers()["location"],
        "https://gw.example/apim/x/c1/security/alerts?%24filter=Severity%20eq%20%27High%27%20and%20lastModifiedDateTime%20gt%202024-05-02T08%3A00%3A00Z"
    );
    // The backend's own interval stays.
    assert_eq!(alerts.headers()["retry-after"], "60");
    let contacts =
        poll("GetContacts", "https://mobili.example/api/v2/trigger/contacts", json!({"data": [{"contactID": 1207}]}));
    assert_eq!(contacts.status(), 200);
    assert_eq!(contacts.headers()["location"], "https://gw.example/apim/x/c1/trigger/contacts?initial_contact_id=1207");
}

#[test]
fn pollingtrigger_leaves_a_response_whose_state_cannot_be_computed() {
    // Items without the property the state reads, a data path that is not
    // an array, and any poll without a gateway route.
    for (body, gateway) in [
        (json!({"files": [{"name": "a.txt"}]}), true),
        (json!({"files": "none"}), true),
        (json!({"files": [{"created": "T1"}]}), false),
    ] {
        let res = huddle_poll(body.clone(), gateway);
        assert_eq!(res.status(), 200, "{body}");
        assert!(res.headers().get("location").is_none(), "{body}");
        assert_eq!(res.body(), &Bytes::from(body.to_string()));
    }
}

#[test]
fn pollingtrigger_passes_a_backend_error_on() {
    let set = huddle_trigger();
    let backend: http::Uri = "https://huddle.example/trigger/v2/poll/folder/F1/upload".parse().unwrap();
    let call = Call::new(&[]);
    let route =
        sluice_policy::GatewayRoute { connection_url: "https://gw.example/apim/huddle/c1", backend_url: &backend };
    let ctx = ExprContext { gateway: Some(route), ..call.ctx() };
    let mut res = Response::new(Bytes::from(json!({"files": []}).to_string()));
    *res.status_mut() = http::StatusCode::UNAUTHORIZED;
    set.apply_response("PollFolderForFileUpload", &mut res, &ctx).unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("location").is_none());
}

#[test]
fn pollingtrigger_bad_parameters_are_warnings() {
    let config = json!({ "after": "@{triggerBody().files[0].created}" });
    for (parameters, named) in [
        (json!({ "x-ms-apimTemplateParameter.triggerConfig": config }), "triggerDataPath"),
        (
            json!({ "x-ms-apimTemplateParameter.triggerDataPath": "@body().files", "x-ms-apimTemplateParameter.triggerConfig": config }),
            "triggerDataPath",
        ),
        (json!({ "x-ms-apimTemplateParameter.triggerDataPath": "@triggerBody().files" }), "triggerConfig"),
        (
            json!({ "x-ms-apimTemplateParameter.triggerDataPath": "@triggerBody().files",
            "x-ms-apimTemplateParameter.triggerConfig": "after" }),
            "triggerConfig",
        ),
        (
            json!({ "x-ms-apimTemplateParameter.triggerDataPath": "@triggerBody().files",
            "x-ms-apimTemplateParameter.triggerConfig": { "after": "@{utcNow()}" } }),
            "triggerConfig",
        ),
    ] {
        let warning = refused("pollingtrigger", parameters);
        assert!(warning.contains("`T`") && warning.contains(named), "{warning}");
    }
}

#[test]
fn pollingtrigger_entry_without_a_name_is_left_out_with_a_warning() {
    // As the certified The Events Calendar package writes its NewEventTrigger.
    let (set, warnings) = PolicySet::parse(&[json!({ "templateId": "pollingtrigger", "title": "T", "parameters": {
        "x-ms-apimTemplateParameter.triggerConfig": { "": "1", "per_page": "1" },
        "x-ms-apimTemplateParameter.triggerDataPath": "@triggerBody().events" }})]);
    assert_eq!(set.policies().len(), 1);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("`T`") && warnings[0].contains("triggerConfig"), "{warnings:?}");
    assert!(set.reads_gateway_route());
}

/// Planner's shape: `If-Match` set from the task's etag, fetched from a URL
/// with the operation's path parameter, with the request's credentials.
#[test]
fn setvaluefromurl_sets_a_header_from_the_answer_of_its_own_call() {
    let set = set(json!([{ "templateId": "SetValueFromUrl", "title": "If-Match", "parameters": {
        "x-ms-apimTemplate-operationName": ["DeleteTask"],
        "x-ms-apimTemplateParameter.parameterTemplate": "@headers('If-Match')",
        "x-ms-apimTemplateParameter.parameterValueUrl": "/v1.0/planner/tasks/{id}",
        "x-ms-apimTemplateParameter.parameterValuePathTemplate": "@body()['@odata.etag']",
        "x-ms-apimTemplateParameter.httpMethod": "GET",
        "x-ms-apimTemplate-policySection": "Request" }}]));
    assert!(set.fetches_for("DeleteTask") && !set.fetches_for("GetTask"));
    let answers = Answers::new(&[(200, r#"{"id": "t 1", "@odata.etag": "W/\"JzEtVGFzayAgQEBA\""}"#)]);
    let mut req = request("DELETE", "https://graph.example/v1.0/planner/tasks/t%201", "");
    req.headers_mut().insert("authorization", HeaderValue::from_static("Bearer tok"));
    req.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    let params: IndexMap<String, String> = [("id".to_string(), "t 1".to_string())].into();
    now(set.apply_request_fetching("DeleteTask", &params, &mut req, &Call::new(&[]).ctx(), &answers)).unwrap();
    let sent = answers.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].method().as_str(), sent[0].uri().to_string().as_str()),
        ("GET", "https://graph.example/v1.0/planner/tasks/t%201")
    );
    assert_eq!(sent[0].headers()["authorization"], "Bearer tok");
    assert!(sent[0].headers().get(CONTENT_LENGTH).is_none() && sent[0].body().is_empty());
    assert_eq!(req.headers()["if-match"], "W/\"JzEtVGFzayAgQEBA\"");
    assert!(req.headers()["if-match"].is_sensitive());
    assert_eq!(
        req.uri().to_string(),
        "https://graph.example/v1.0/planner/tasks/t%201",
        "the request goes where it went"
    );
}

/// Cradl AI's shape: each policy sees what the earlier ones did. The token
/// call goes to the host the first `dynamichosturl` set, with the header
/// the first `setheader` set; the next `setheader` reads the fetched value
/// back with `@headers`; the second `dynamichosturl` points the request back.
#[test]
fn setvaluefromurl_runs_in_its_turn_and_later_policies_read_its_value() {
    let set = set(json!([
        { "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "Authorization",
            "x-ms-apimTemplateParameter.value": "Basic @connectionParameters('api_key')" }},
        { "templateId": "dynamichosturl", "parameters": {
            "x-ms-apimTemplateParameter.urlTemplate": "https://auth.example" }},
        { "templateId": "setvaluefromurl", "title": "Authorize", "parameters": {
            "x-ms-apimTemplateParameter.parameterTemplate": "@headers('Authorization')",
            "x-ms-apimTemplateParameter.httpMethod": "POST",
            "x-ms-apimTemplateParameter.parameterValueUrl": "/oauth2/token?grant_type=client_credentials",
            "x-ms-apimTemplateParameter.parameterValuePathTemplate": "@body().access_token" }},
        { "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "Authorization",
            "x-ms-apimTemplateParameter.value": "Bearer @headers('Authorization')" }},
        { "templateId": "dynamichosturl", "parameters": {
            "x-ms-apimTemplateParameter.urlTemplate": "https://api.example/v1" }},
    ]))
    .with_base_path("/v1");
    let answers = Answers::new(&[(200, r#"{"access_token": "tok-1", "expires_in": 3600}"#)]);
    let mut req = request("GET", "https://api.example/v1/models?x=1", "");
    let call = Call::new(&[("api_key", "Y2xpZW50OnNlY3JldA==")]);
    now(set.apply_request_fetching("ListModels", &no_params(), &mut req, &call.ctx(), &answers)).unwrap();
    let sent = answers.sent();
    assert_eq!(sent[0].method().as_str(), "POST");
    assert_eq!(sent[0].uri().to_string(), "https://auth.example/oauth2/token?grant_type=client_credentials");
    assert_eq!(sent[0].headers()["authorization"], "Basic Y2xpZW50OnNlY3JldA==");
    assert_eq!(req.headers()["authorization"], "Bearer tok-1");
    assert_eq!(req.uri().to_string(), "https://api.example/v1/models?x=1");
}

#[test]
fn setvaluefromurl_sets_a_query_parameter_or_a_body_property() {
    let set = set(json!([
        { "templateId": "setvaluefromurl", "parameters": {
            "x-ms-apimTemplateParameter.parameterTemplate": "@queryParameters('version')",
            "x-ms-apimTemplateParameter.parameterValueUrl": "https://meta.example/latest",
            "x-ms-apimTemplateParameter.parameterValuePathTemplate": "@body().version" }},
        { "templateId": "setvaluefromurl", "parameters": {
            "x-ms-apimTemplateParameter.parameterTemplate": "@body().owner.id",
            "x-ms-apimTemplateParameter.parameterValueUrl": "me",
            "x-ms-apimTemplateParameter.parameterValuePathTemplate": "@body().id" }},
    ]));
    let answers = Answers::new(&[(200, r#"{"version": 7}"#), (200, r#"{"id": "u-9"}"#)]);
    let mut req = request("POST", "https://api.example/items?version=1", r#"{"name": "n"}"#);
    now(set.apply_request_fetching("Op", &no_params(), &mut req, &Call::new(&[]).ctx(), &answers)).unwrap();
    let sent = answers.sent();
    assert_eq!(sent[0].uri().to_string(), "https://meta.example/latest");
    assert_eq!(sent[1].uri().to_string(), "https://api.example/me", "relative to the base URL");
    assert_eq!(req.uri().to_string(), "https://api.example/items?version=7");
    assert_eq!(json_body(&req), json!({"name": "n", "owner": {"id": "u-9"}}));
}

#[test]
fn setvaluefromurl_without_a_usable_value_fails_naming_the_policy() {
    let set = set(json!([{ "templateId": "setvaluefromurl", "title": "Etag", "parameters": {
        "x-ms-apimTemplateParameter.parameterTemplate": "@headers('If-Match')",
        "x-ms-apimTemplateParameter.parameterValueUrl": "/x",
        "x-ms-apimTemplateParameter.parameterValuePathTemplate": "@body().etag" }}]));
    for (status, body, expected) in [
        (404, r#"{"etag": "e"}"#, "the backend answered 404 Not Found"),
        (200, "<html>", "the answer is not JSON"),
        (200, r#"{"other": 1}"#, "no value at parameterValuePathTemplate"),
        (200, r#"{"etag": null}"#, "no value at parameterValuePathTemplate"),
    ] {
        let answers = Answers::new(&[(status, body)]);
        let mut req = request("GET", "https://h/x", "");
        let err =
            now(set.apply_request_fetching("Op", &no_params(), &mut req, &Call::new(&[]).ctx(), &answers)).unwrap_err();
        assert!(
            matches!(&err, PolicyError::FetchedValue { policy, reason } if policy == "Etag" && reason.contains(expected)),
            "{err}"
        );
        assert!(req.headers().get("if-match").is_none(), "the request is left as it was");
    }
    // A call that fails, and a caller that makes none, are the same error
    // with the reason the fetcher gave.
    let answers = Answers::new(&[]);
    let mut req = request("GET", "https://h/x", "");
    let err =
        now(set.apply_request_fetching("Op", &no_params(), &mut req, &Call::new(&[]).ctx(), &answers)).unwrap_err();
    assert_eq!(err, PolicyError::FetchUnavailable { policy: "Etag".into(), reason: "no answer left".into() });
    let err = set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap_err();
    assert!(matches!(&err, PolicyError::FetchUnavailable { policy, .. } if policy == "Etag"), "{err}");
}

#[test]
fn setvaluefromurl_bad_parameters_are_warnings() {
    let base = json!({
        "x-ms-apimTemplateParameter.parameterTemplate": "@headers('If-Match')",
        "x-ms-apimTemplateParameter.parameterValueUrl": "/x",
        "x-ms-apimTemplateParameter.parameterValuePathTemplate": "@body().etag" });
    for (key, value, expected) in [
        ("parameterTemplate", "If-Match", "is none of `@headers('name')`"),
        ("parameterTemplate", "@headers('If Match')", "not a valid header name"),
        ("httpMethod", "GE T", "not an HTTP method"),
        ("parameterValuePathTemplate", "@body()[", "unclosed `[`"),
    ] {
        let mut parameters = base.clone();
        parameters[format!("x-ms-apimTemplateParameter.{key}")] = json!(value);
        let warning = refused("setvaluefromurl", parameters);
        assert!(warning.contains(expected), "{key}: {warning}");
    }
    let mut parameters = base.clone();
    parameters.as_object_mut().unwrap().remove("x-ms-apimTemplateParameter.parameterValueUrl");
    assert!(refused("setvaluefromurl", parameters).contains("missing parameter"));
}

/// DeepL's shape: the credential the definition puts in `Authorization` is
/// read back and given its scheme; the client's own headers are readable
/// too, because they are on the request.
#[test]
fn headers_are_read_from_the_request_as_the_earlier_policies_left_it() {
    let set = set(json!([
        { "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "Authorization",
            "x-ms-apimTemplateParameter.value": "DeepL-Auth-Key @headers('Authorization')" }},
        { "templateId": "setheader", "parameters": {
            "x-ms-apimTemplateParameter.name": "X-Copy",
            "x-ms-apimTemplateParameter.value": "@headers('X-Client')/@headers('Authorization')" }},
    ]));
    let mut req = request("GET", "https://h/x", "");
    req.headers_mut().insert("authorization", HeaderValue::from_static("k-1"));
    req.headers_mut().insert("x-client", HeaderValue::from_static("c"));
    set.apply_request("Op", &no_params(), &mut req, &Call::new(&[]).ctx()).unwrap();
    assert_eq!(req.headers()["authorization"], "DeepL-Auth-Key k-1");
    assert_eq!(req.headers()["x-copy"], "c/DeepL-Auth-Key k-1");
}

/// AlisQI's shape: the connection chooses a subdomain of a fixed domain,
/// and nothing more.
#[test]
fn dynamicsubdomain_lets_a_connection_choose_only_a_subdomain() {
    let set = set(json!([{ "templateId": "dynamicsubdomain", "title": "Subdomain", "parameters": {
        "x-ms-apimTemplateParameter.urlTemplate": "https://@connectionParameters('subdomain').alisqi.example/api/" }}]))
    .with_base_path("/api");
    let mut req = request("GET", "https://placeholder.alisqi.example/api/results?x=1", "");
    set.apply_request("Op", &no_params(), &mut req, &Call::new(&[("subdomain", "acme-1")]).ctx()).unwrap();
    assert_eq!(req.uri().to_string(), "https://acme-1.alisqi.example/api/results?x=1");
    let ctx_values = Call::new(&[("subdomain", "acme")]);
    assert_eq!(set.dynamic_host_urls(&ctx_values.ctx()).unwrap(), ["https://acme.alisqi.example/api"]);
    for value in ["evil.example/x?", "a.b", "evil.example#", "user@evil.example", "", "-a", "a b", "evil.example:8443/"]
    {
        let mut req = request("GET", "https://placeholder.alisqi.example/api/results", "");
        let err =
            set.apply_request("Op", &no_params(), &mut req, &Call::new(&[("subdomain", value)]).ctx()).unwrap_err();
        match &err {
            PolicyError::InvalidUrl { policy, url, reason } => {
                assert_eq!(policy, "Subdomain");
                assert_eq!(url, "https://{subdomain}.alisqi.example/api/", "the value is not shown");
                assert!(reason.contains("`subdomain`") && reason.contains("one DNS label"), "{reason}");
            }
            other => panic!("{value:?}: {other}"),
        }
        assert_eq!(req.uri().to_string(), "https://placeholder.alisqi.example/api/results");
        assert!(
            set.dynamic_host_urls(&Call::new(&[("subdomain", value)]).ctx()).is_err(),
            "{value:?} refused at load too"
        );
    }
}

#[test]
fn dynamicsubdomain_needs_a_fixed_domain_after_its_expressions() {
    for template in [
        "https://@connectionParameters('host')",
        "https://@connectionParameters('host').com/api",
        "https://api.example/@connectionParameters('tenant')",
        "https://fixed.example/api",
    ] {
        let warning = refused("dynamicsubdomain", json!({ "x-ms-apimTemplateParameter.urlTemplate": template }));
        assert!(warning.contains("before a fixed domain"), "{template}: {warning}");
    }
}

/// DeskDirector's shape: no section, a status code as a JSON number; the
/// answer is passed on as it is, and the set says which answers mark the
/// connection.
#[test]
fn setconnectionstatustounauthenticated_names_the_status_that_marks_the_connection() {
    let set = set(json!([{ "templateId": "setconnectionstatustounauthenticated", "title": "Set unauthorized status",
        "parameters": { "x-ms-apimTemplateParameter.statusCode": 401 }}]));
    assert_eq!(set.policies()[0].section(), Section::Response);
    assert!(set.marks_unauthenticated("AnyOperation", http::StatusCode::UNAUTHORIZED));
    assert!(!set.marks_unauthenticated("AnyOperation", http::StatusCode::FORBIDDEN));
    let mut res = Response::new(Bytes::from_static(br#"{"error": "bad key"}"#));
    *res.status_mut() = http::StatusCode::UNAUTHORIZED;
    set.apply_response("AnyOperation", &mut res, &Call::new(&[]).ctx()).unwrap();
    assert_eq!((res.status().as_u16(), res.body().as_ref()), (401, br#"{"error": "bad key"}"#.as_slice()));
    let scoped = set_of_one_scoped_to("ListTickets");
    assert!(scoped.marks_unauthenticated("ListTickets", http::StatusCode::UNAUTHORIZED));
    assert!(!scoped.marks_unauthenticated("Other", http::StatusCode::UNAUTHORIZED));
    // A response policy the caller must run for the one operation only.
    assert!(scoped.has_response_policies("ListTickets") && !scoped.has_response_policies("Other"));
    let request_only = crate::support::set(json!([{ "templateId": "setheader", "parameters": {
        "x-ms-apimTemplateParameter.name": "x-a", "x-ms-apimTemplateParameter.value": "1",
        "x-ms-apimTemplateParameter.existsAction": "override", "x-ms-apimTemplate-policySection": "Request" }}]));
    assert_eq!(request_only.policies().len(), 1);
    assert!(!request_only.has_response_policies("AnyOperation"));
    for bad in [json!("abc"), json!(200), json!(99), json!(700)] {
        let warning =
            refused("setconnectionstatustounauthenticated", json!({ "x-ms-apimTemplateParameter.statusCode": bad }));
        assert!(warning.contains("not an HTTP error status"), "{bad}: {warning}");
    }
}

fn set_of_one_scoped_to(operation: &str) -> PolicySet {
    set(json!([{ "templateId": "setconnectionstatustounauthenticated", "parameters": {
        "x-ms-apimTemplateParameter.statusCode": "401", "x-ms-apimTemplate-operationName": [operation] }}]))
}
