//! Postman import (`sluice import postman`), on fuzzed collections.
//!
//! What must hold: nothing panics; what an import writes is a definition
//! and a properties file that the package loader reads, and every operation
//! it lists routes by its own path template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_package::{Definition, Properties};

fuzz_target!(|bytes: &[u8]| {
    let Ok(imported) = sluice_tools::postman::import(bytes) else { return };
    let definition = serde_json::to_vec(&imported.definition).expect("serialises");
    let definition = Definition::parse(&definition, &mut Vec::new())
        .unwrap_or_else(|e| panic!("an imported definition does not load: {e}"));
    let properties = serde_json::to_vec(&imported.properties).expect("serialises");
    Properties::parse(&properties, &mut Vec::new()).unwrap_or_else(|e| panic!("imported properties do not load: {e}"));
    for operation in &definition.operations {
        assert!(
            definition.route(&operation.method, &operation.path).is_some(),
            "{} {} does not route",
            operation.method,
            operation.path
        );
    }
});
