//! The egress URL canonicaliser and allowlist rules, on fuzzed URLs and
//! rule text: the input is a URL, then optionally a NUL byte and a rule, so
//! that the URLs of the egress vectors seed it as they are.
//!
//! What must hold: nothing panics; the canonical form of a target is a
//! fixed point (parsing what it prints gives the same target), and so is a
//! canonical host; the rule made for a URL's origin grants that URL's
//! target; a rule that parses parses again from its printed form, granting the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_egress::canonical::canonical_host;
use sluice_egress::{AllowRule, Target};

struct Input<'a> {
    url: &'a str,
    rule: &'a str,
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let (url, rule) = text.split_once('\0').unwrap_or((text, ""));
    let input = Input { url, rule };
    if let Ok(target) = Target::parse(input.url) {
        let printed = target.to_string();
        assert_eq!(Target::parse(&printed).as_ref(), Ok(&target), "{} printed as {printed}", input.url);
        let host = target.host.to_string();
        assert_eq!(canonical_host(&host).as_ref(), Ok(&target.host), "host {host}");
        if let Ok(url) = url::Url::parse(input.url) {
            if let Ok(rule) = AllowRule::for_url(&url) {
                assert!(rule.grants(&target), "the rule {} for {} does not grant it", rule, input.url);
            }
        }
        if let Ok(rule) = input.rule.parse::<AllowRule>() {
            let again: AllowRule = rule.to_string().parse().expect("a rule's own text parses");
            assert_eq!(again.grants(&target), rule.grants(&target), "{} reparsed as {}", rule, again);
        }
    }
    if let Ok(host) = canonical_host(input.url) {
        assert_eq!(canonical_host(&host.to_string()).as_ref(), Ok(&host));
    }
});
