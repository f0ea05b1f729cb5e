//! The fixture reader (`sluice run`, `sluice test`), on fuzzed bytes.
//!
//! What must hold: nothing panics; a fixture that parses is written back
//! as JSON that parses to the same fixture, and its bodies yield bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_tools::fixture::Fixture;

fuzz_target!(|bytes: &[u8]| {
    let Ok(fixture) = Fixture::parse(bytes) else { return };
    let written = serde_json::to_vec(&fixture).expect("a fixture serialises");
    let again = Fixture::parse(&written).expect("a written fixture parses");
    assert_eq!(serde_json::to_vec(&again).expect("serialises"), written, "the fixture changed on a round trip");
    let _ = fixture.request.body().to_bytes();
    for entry in &fixture.backend {
        let _ = entry.response.body().to_bytes();
        let _ = entry.matches("GET", "https://backend.test/x");
    }
});
