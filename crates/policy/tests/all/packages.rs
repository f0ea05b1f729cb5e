//! The policies of real packages (the repository's examples) and of the
//! test packages, as the platform would apply them.

use crate::support::*;

#[test]
fn dynamic_host_urls_are_evaluated_per_connection() {
    let (set, _) = PolicySet::parse(&connector("param-case-mismatch"));
    let err = set.dynamic_host_urls(&Call::new(&[("plantUrl", "north.contoso.example")]).ctx()).unwrap_err();
    assert!(matches!(err, PolicyError::UndefinedConnectionParameter { .. }));
    let urls = set.dynamic_host_urls(&Call::new(&[("plantURL", "north.contoso.example")]).ctx()).unwrap();
    assert_eq!(urls, ["https://north.contoso.example/api/v2"]);
    let (tulip, _) = PolicySet::parse(&connector("Tulip"));
    let urls = tulip.dynamic_host_urls(&Call::new(&[("factoryUrl", "acme.tulip.co")]).ctx()).unwrap();
    assert_eq!(urls, ["https://acme.tulip.co/api/v3"]);
}

#[test]
fn annature_sets_both_keys_and_turns_head_into_delete() {
    let (set, warnings) = PolicySet::parse(&connector("Annature"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let set = set.with_base_path("/v1");
    let call = Call::new(&[("api_client_id", "id1"), ("api_key", "key1")]);
    let params: IndexMap<String, String> = [("id".to_string(), "e1".to_string())].into_iter().collect();
    let mut req = request("HEAD", "https://api.annature.com.au/v1/envelopes/e1", "");
    set.apply_request("DeleteEnvelope", &params, &mut req, &call.ctx()).unwrap();
    assert_eq!(req.method(), http::Method::DELETE);
    assert_eq!(req.uri().to_string(), "https://api.annature.com.au/v1/envelopes/e1");
    assert_eq!(req.headers()["x-annature-id"], "id1");
    assert_eq!(req.headers()["x-annature-key"], "key1");

    let mut get = request("GET", "https://api.annature.com.au/v1/envelopes/e1", "");
    set.apply_request("GetEnvelope", &params, &mut get, &call.ctx()).unwrap();
    assert_eq!(get.method(), http::Method::GET);
}

#[test]
fn calendly_sets_bearer_header_and_reroutes_one_operation() {
    let (set, warnings) = PolicySet::parse(&connector("Calendly"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let call = Call::new(&[("api_key", "tok")]);
    let mut req = request("POST", "https://api.calendly.com/webhook_subscriptions/routing_form_submission", "{}");
    set.apply_request("CreateWebhookSubscriptionRoutingFormSubmission", &no_params(), &mut req, &call.ctx()).unwrap();
    assert_eq!(req.uri().to_string(), "https://api.calendly.com/webhook_subscriptions");
    assert_eq!(req.headers()["authorization"], "Bearer tok");
    assert_eq!(req.headers()["x-calendly-consumer-application"], "ms_power_automate");
}

#[test]
fn ibm_watson_takes_its_base_url_from_the_connection() {
    let (set, warnings) = PolicySet::parse(&connector("IBM_Watson_Text_to_Speech"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let set = set.with_base_path("/");
    let call = Call::new(&[("url", "https://api.eu-de.text-to-speech.watson.cloud.ibm.com/instances/abc")]);
    let mut req = request("GET", "https://text-to-speech.watson.cloud.ibm.com/v1/voices?x=1", "");
    set.apply_request("ListVoices", &no_params(), &mut req, &call.ctx()).unwrap();
    assert_eq!(
        req.uri().to_string(),
        "https://api.eu-de.text-to-speech.watson.cloud.ibm.com/instances/abc/v1/voices?x=1"
    );
}

#[test]
fn a_parameter_named_with_the_wrong_case_is_undefined() {
    let (set, warnings) = PolicySet::parse(&connector("param-case-mismatch"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(set.referenced_connection_parameters(), [("Route to the plant", "plantURL")]);
    let set = set.with_base_path("/api/v2");
    let call = Call::new(&[("plantUrl", "north.contoso.example")]);
    let mut req = request("GET", "https://plants.contoso.example/api/v2/machines", "");
    let err = set.apply_request("ListMachines", &no_params(), &mut req, &call.ctx()).unwrap_err();
    assert_eq!(
        err,
        PolicyError::UndefinedConnectionParameter { policy: "Route to the plant".into(), name: "plantURL".into() }
    );
    assert!(err.to_string().contains("`plantURL`"));
}

#[test]
fn connectors_without_policies_parse_to_an_empty_set() {
    for name in ["Telstra_SMS", "Industrial_App_Store", "HtmlToText", "VIES"] {
        let (set, warnings) = PolicySet::parse(&connector(name));
        assert!(set.is_empty() && warnings.is_empty(), "{name}");
    }
}
