//! JSON paths for findings: `$`, `$.paths['/items/{id}'].get.operationId`,
//! `$.properties.scriptOperations[0]`. Keys that are plain identifiers are
//! written with a dot, others in brackets with single quotes.

/// The root path, `$`.
pub const ROOT: &str = "$";

/// `parent` followed by the object key `key`.
pub fn key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
    if plain {
        format!("{parent}.{key}")
    } else {
        format!("{parent}['{}']", key.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// `parent` followed by the array index `index`.
pub fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// `parent` followed by several keys.
pub fn keys(parent: &str, keys: &[&str]) -> String {
    keys.iter().fold(parent.to_string(), |path, k| key(&path, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_use_dots_and_others_brackets() {
        assert_eq!(keys(ROOT, &["paths", "/items/{id}", "get"]), "$.paths['/items/{id}'].get");
        assert_eq!(index(&key(ROOT, "x-ms-visibility"), 2), "$.x-ms-visibility[2]");
        assert_eq!(key(ROOT, "it's"), "$['it\\'s']");
        assert_eq!(key(ROOT, "200"), "$['200']");
    }
}
