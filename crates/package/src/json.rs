//! Reading package JSON as the platform reads it. The platform's reader
//! (Json.NET) takes files that strict JSON does not: a UTF-8 byte-order
//! mark, `//` and `/* */` comments, trailing commas, and raw control
//! characters (tabs, newlines) inside strings. Real certified packages have
//! each of these. A file is read strictly first; only when that fails is it
//! read again leniently (`serde_json_lenient`), and the leniency is then
//! reported so that authors can fix the file. A file that neither reading
//! takes fails with the strict reader's error: line, column and reason.

use serde::Deserialize as _;
use serde::de::DeserializeOwned;

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses `bytes` as the platform would. Returns the value and, when the
/// file is not strict JSON, what was tolerated.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, Option<String>), serde_json::Error> {
    let (bytes, bom) = match bytes.strip_prefix(BOM) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    let strict = match serde_json::from_slice(bytes) {
        Ok(value) => {
            let note = bom.then(|| "starts with a UTF-8 byte-order mark, which strict JSON does not allow".to_string());
            return Ok((value, note));
        }
        Err(error) => error,
    };
    // Only a syntax error can be forgiven; a value of the wrong shape is
    // wrong however it is read.
    if !strict.is_syntax() {
        return Err(strict);
    }
    match lenient(bytes) {
        Some(value) => {
            let bom = if bom { " and starts with a byte-order mark" } else { "" };
            Ok((value, Some(format!("is not strict JSON{bom} ({strict}); the platform's reader accepts it"))))
        }
        None => Err(strict),
    }
}

/// The value as Json.NET's leniencies allow it, if they do. Read whole
/// into a `Value` first, then typed: read straight into a type, the lenient
/// reader refuses trailing commas inside the parts the type skips (unknown
/// fields), as two certified packages show.
fn lenient<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut deserializer =
        serde_json_lenient::Deserializer::from_slice_with_options(bytes, false, true, true, false, false);
    deserializer.set_ignore_trailing_commas(true);
    deserializer.set_allow_comments(true);
    let value = serde_json::Value::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    serde_json::from_value(value).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn read(text: &[u8]) -> Result<(Value, Option<String>), serde_json::Error> {
        parse(text)
    }

    #[test]
    fn strict_json_is_read_as_is_without_a_note() {
        assert_eq!(read(br#"{"a": [1, 2.5, "x"]}"#).unwrap(), (json!({"a": [1, 2.5, "x"]}), None));
    }

    #[test]
    fn what_the_platform_tolerates_is_read_and_noted() {
        let cases: [&[u8]; 5] = [
            b"\xEF\xBB\xBF{\"a\": 1}",
            b"{\"a\": 1,}",
            b"{\"a\": [1, 2,],}",
            b"{\n  // a comment\n  \"a\": /* inline */ 1\n}",
            b"{\"a\": \"tab\there\"}",
        ];
        for case in cases {
            let (value, note) = read(case).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(case)));
            assert!(value["a"] == json!(1) || value["a"].is_array() || value["a"] == json!("tab\there"), "{value}");
            assert!(note.is_some(), "{}", String::from_utf8_lossy(case));
        }
        let (_, note) = read(b"\xEF\xBB\xBF{\"a\": 1,}").unwrap();
        assert!(note.unwrap().contains("byte-order mark"));
    }

    #[test]
    fn a_trailing_comma_inside_a_part_the_type_skips_is_tolerated() {
        #[derive(serde::Deserialize, Debug)]
        struct Known {
            a: u32,
        }
        let (known, note) = parse::<Known>(b"{\"a\": 1, \"x-extra\": [{\"k\": 1,},],}").unwrap();
        assert_eq!((known.a, note.is_some()), (1, true));
    }

    #[test]
    fn a_really_broken_file_fails_with_the_strict_line_and_column() {
        let error = read(b"{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
        assert_eq!((error.line(), error.column()), (3, 3), "{error}");
        assert!(read(b"{\"a\": }").is_err());
        assert!(read(b"{\"a\": 1} trailing").is_err());
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_not_forgiven() {
        assert!(parse::<Vec<u32>>(b"{\"a\": 1,}").unwrap_err().is_data());
        assert!(parse::<Vec<u32>>(b"{\"a\": 1}").unwrap_err().is_data());
    }
}
