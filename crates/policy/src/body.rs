//! JSON bodies as body-reshaping policies see them: property paths such as
//! `@body()`, `@body().items`, `@body()?['odd name']`, `@item().tags` or a
//! bare `a.b[0]`, and the four reshaping operations (`setproperty`,
//! `convertobjecttoarray`, `convertarraytoobject`, `stringreplace`).
//!
//! Paths: `@body()` anchors at the root of the body. `@item()` and bare paths
//! are relative to the *parent* a template names: when a parent path resolves
//! to an array, the operation runs once per element and relative paths are
//! taken inside each element, as the platform's "parent object or collection"
//! wording says. A step is `.name`, `['name']` or `[index]`, each optionally
//! preceded by `?` (accepted and ignored: a missing step just means "absent").

use serde_json::{Map, Value};

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// `@body()`: the root of the body.
    Body,
    /// `@item()` or no prefix: the parent element being worked on.
    Item,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// A parsed property path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyPath {
    pub(crate) anchor: Anchor,
    pub(crate) steps: Vec<Step>,
}

impl BodyPath {
    /// The root of the body.
    #[cfg(test)]
    pub(crate) fn root() -> Self {
        Self { anchor: Anchor::Body, steps: Vec::new() }
    }

    /// Parses a path; an empty text is the parent itself.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (anchor, mut rest, bare) = if let Some(r) = strip_call(text, "body") {
            (Anchor::Body, r, false)
        } else if let Some(r) = strip_call(text, "item") {
            (Anchor::Item, r, false)
        } else {
            (Anchor::Item, text, true)
        };
        let mut steps = Vec::new();
        if bare && !rest.is_empty() && !rest.starts_with('[') {
            let (name, tail) = split_name(rest);
            if name.is_empty() {
                return Err(format!("cannot read property path `{text}`"));
            }
            steps.push(Step::Key(name.to_string()));
            rest = tail;
        }
        while !rest.is_empty() {
            rest = rest.strip_prefix('?').unwrap_or(rest);
            if let Some(tail) = rest.strip_prefix('.') {
                let (name, tail) = split_name(tail);
                if name.is_empty() {
                    return Err(format!("empty property name in path `{text}`"));
                }
                steps.push(Step::Key(name.to_string()));
                rest = tail;
            } else if let Some(tail) = rest.strip_prefix('[') {
                let close = tail.find(']').ok_or_else(|| format!("unclosed `[` in path `{text}`"))?;
                let inner = tail[..close].trim();
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                match quoted {
                    Some(name) => steps.push(Step::Key(name.to_string())),
                    None => {
                        let index = inner.parse().map_err(|_| {
                            format!("`[{inner}]` in path `{text}` is neither a quoted name nor an index")
                        })?;
                        steps.push(Step::Index(index));
                    }
                }
                rest = &tail[close + 1..];
            } else {
                return Err(format!("unexpected `{rest}` in path `{text}`"));
            }
        }
        Ok(Self { anchor, steps })
    }

    /// The concrete path this path names when working on `parent`.
    fn under(&self, parent: &[Step]) -> Vec<Step> {
        match self.anchor {
            Anchor::Body => self.steps.clone(),
            Anchor::Item => parent.iter().chain(&self.steps).cloned().collect(),
        }
    }
}

fn strip_call<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let (at, text) = match text.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let rest = text.strip_prefix(name)?;
    match rest.strip_prefix("()") {
        Some(rest) => Some(rest),
        // The platform's own examples write `@body.a.b` (stringtoarray's
        // page); without the `@`, `body.a` stays a bare path.
        None if at && (rest.is_empty() || rest.starts_with(['.', '[', '?'])) => Some(rest),
        None => None,
    }
}

fn split_name(s: &str) -> (&str, &str) {
    let end = s.find(['.', '[', '?']).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// The value at a concrete path.
pub(crate) fn get<'v>(root: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.as_object()?.get(key),
        Step::Index(i) => value.as_array()?.get(*i),
    })
}

/// Sets the value at a concrete path, creating missing (or null) objects on
/// the way.
pub(crate) fn set(root: &mut Value, path: &[Step], new: Value) -> Result<(), String> {
    let Some((last, init)) = path.split_last() else {
        *root = new;
        return Ok(());
    };
    let mut value = root;
    for (depth, step) in init.iter().enumerate() {
        value = child_mut(value, step, &path[..=depth])?;
    }
    match last {
        Step::Key(key) => {
            if value.is_null() {
                *value = Value::Object(Map::new());
            }
            let object = value
                .as_object_mut()
                .ok_or_else(|| format!("cannot set `{}`: its parent is not an object", show(path)))?;
            object.insert(key.clone(), new);
        }
        Step::Index(i) => {
            let slot = value
                .as_array_mut()
                .and_then(|a| a.get_mut(*i))
                .ok_or_else(|| format!("cannot set `{}`: no such array element", show(path)))?;
            *slot = new;
        }
    }
    Ok(())
}

fn child_mut<'v>(value: &'v mut Value, step: &Step, so_far: &[Step]) -> Result<&'v mut Value, String> {
    match step {
        Step::Key(key) => {
            if value.is_null() {
                *value = Value::Object(Map::new());
            }
            let object = value.as_object_mut().ok_or_else(|| format!("`{}` is not inside an object", show(so_far)))?;
            Ok(object.entry(key.clone()).or_insert(Value::Null))
        }
        Step::Index(i) => value
            .as_array_mut()
            .and_then(|a| a.get_mut(*i))
            .ok_or_else(|| format!("`{}` is not an array element", show(so_far))),
    }
}

fn show(path: &[Step]) -> String {
    let mut out = String::from("@body()");
    for step in path {
        match step {
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The concrete parents a parent path names: each element when it resolves
/// to an array, else the value itself; nothing when it is absent.
fn parents(root: &Value, parent: &BodyPath) -> Vec<Vec<Step>> {
    let base = parent.under(&[]);
    match get(root, &base) {
        Some(Value::Array(items)) => {
            (0..items.len()).map(|i| base.iter().cloned().chain([Step::Index(i)]).collect()).collect()
        }
        Some(_) => vec![base],
        None => Vec::new(),
    }
}

/// The value `setproperty` writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PropertyValue {
    /// A value already evaluated.
    Fixed(Value),
    /// A copy of the value at a path (`@body().x`, `@item().x`); absent
    /// values copy as `null`.
    Copy(BodyPath),
}

/// `setproperty`: sets `sub` under each parent to `value`; a missing parent
/// is created as an object.
/// Why a property could not be set.
#[derive(Debug)]
pub(crate) enum Grow {
    /// The values set would add more than the budget.
    TooLarge,
    /// The path does not fit the body.
    Invalid(String),
}

pub(crate) fn set_property(
    root: &mut Value,
    parent: &BodyPath,
    sub: &BodyPath,
    value: &PropertyValue,
    budget: usize,
) -> Result<(), Grow> {
    let mut targets = parents(root, parent);
    if targets.is_empty() {
        targets.push(parent.under(&[]));
    }
    // What the values add, counted before any is copied: a large value set
    // on each element of a large array must fail, not fill memory.
    let mut added = 0usize;
    for target in &targets {
        let size = match value {
            PropertyValue::Fixed(v) => json_size(v),
            PropertyValue::Copy(path) => get(root, &path.under(target)).map_or(4, json_size),
        };
        added = added.saturating_add(size);
        if added > budget {
            return Err(Grow::TooLarge);
        }
    }
    for target in targets {
        let new = match value {
            PropertyValue::Fixed(v) => v.clone(),
            PropertyValue::Copy(path) => get(root, &path.under(&target)).cloned().unwrap_or(Value::Null),
        };
        set(root, &sub.under(&target), new).map_err(Grow::Invalid)?;
    }
    Ok(())
}

/// About how many bytes `value` takes serialised (at least that many, less
/// escapes).
pub(crate) fn json_size(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(_) => 5,
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => s.len() + 2,
        Value::Array(items) => items.iter().map(json_size).fold(2, |a, b| a.saturating_add(b).saturating_add(1)),
        Value::Object(fields) => {
            fields.iter().map(|(k, v)| k.len() + 3 + json_size(v)).fold(2, |a, b| a.saturating_add(b).saturating_add(1))
        }
    }
}

/// How many times `old` occurs in the strings at `sub` under each parent.
pub(crate) fn count_in_strings(root: &Value, parent: &BodyPath, sub: &BodyPath, old: &str) -> usize {
    fn count(value: &Value, old: &str) -> usize {
        match value {
            Value::String(s) => s.matches(old).count(),
            Value::Array(items) => items.iter().map(|v| count(v, old)).sum(),
            Value::Object(fields) => fields.values().map(|v| count(v, old)).sum(),
            _ => 0,
        }
    }
    if old.is_empty() {
        return 0;
    }
    parents(root, parent).iter().filter_map(|target| get(root, &sub.under(target))).map(|v| count(v, old)).sum()
}

/// `convertobjecttoarray`: under each parent, turns the object at `sub`
/// into `[{key_name: key, value_name: value}, ...]` written at `new_path`.
/// With an empty `value_name`, an object value's properties are merged into
/// the item beside the key instead. A missing or non-object source is left
/// alone. Returns whether anything was written.
pub(crate) fn object_to_array(
    root: &mut Value,
    parent: &BodyPath,
    sub: &BodyPath,
    new_path: &BodyPath,
    key_name: &str,
    value_name: &str,
) -> Result<bool, String> {
    let mut written = false;
    for target in parents(root, parent) {
        let Some(Value::Object(object)) = get(root, &sub.under(&target)) else {
            continue;
        };
        let array = object
            .iter()
            .map(|(key, value)| {
                let mut item = Map::new();
                item.insert(key_name.to_string(), Value::String(key.clone()));
                match value {
                    Value::Object(fields) if value_name.is_empty() => {
                        item.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    other => {
                        item.insert(value_name.to_string(), other.clone());
                    }
                }
                Value::Object(item)
            })
            .collect();
        set(root, &new_path.under(&target), Value::Array(array))?;
        written = true;
    }
    Ok(written)
}

/// `convertarraytoobject`: under each parent, turns the array at `sub` into
/// an object keyed by each item's value at `key_path` (strings as they are,
/// numbers and booleans as text), written at `new_path`; with `retain_key`
/// false the key property is removed from each item. An item without a
/// usable key is an error; a missing or non-array source is left alone.
/// Returns whether anything was written.
pub(crate) fn array_to_object(
    root: &mut Value,
    parent: &BodyPath,
    sub: &BodyPath,
    key_path: &BodyPath,
    new_path: &BodyPath,
    retain_key: bool,
) -> Result<bool, String> {
    let mut written = false;
    for target in parents(root, parent) {
        let source = sub.under(&target);
        let Some(Value::Array(items)) = get(root, &source) else {
            continue;
        };
        let mut object = Map::new();
        for (index, item) in items.iter().enumerate() {
            let key = match get(item, &key_path.steps) {
                Some(Value::String(s)) => s.clone(),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                _ => {
                    return Err(format!(
                        "item {index} of `{}` has no string or number key at `{}`",
                        show(&source),
                        show(&key_path.steps).trim_start_matches("@body()."),
                    ));
                }
            };
            let mut item = item.clone();
            if !retain_key {
                remove(&mut item, &key_path.steps);
            }
            object.insert(key, item);
        }
        set(root, &new_path.under(&target), Value::Object(object))?;
        written = true;
    }
    Ok(written)
}

fn remove(value: &mut Value, path: &[Step]) {
    let Some((Step::Key(last), init)) = path.split_last() else {
        return;
    };
    let mut value = value;
    for step in init {
        let next = match step {
            Step::Key(k) => value.as_object_mut().and_then(|o| o.get_mut(k)),
            Step::Index(i) => value.as_array_mut().and_then(|a| a.get_mut(*i)),
        };
        match next {
            Some(v) => value = v,
            None => return,
        }
    }
    if let Some(object) = value.as_object_mut() {
        object.remove(last);
    }
}

/// `stringtoarray`: under each parent, splits the string at `sub` at any of
/// `delimiters` into `[{child: part}, ...]`, written at `new_path`. Parts
/// are trimmed and empty ones dropped. See [`rewrite_strings`] for what is
/// left alone. Returns whether anything was written.
pub(crate) fn string_to_array(
    root: &mut Value,
    parent: &BodyPath,
    sub: &BodyPath,
    delimiters: &[char],
    child: &str,
    new_path: &BodyPath,
    budget: usize,
) -> Result<bool, Grow> {
    let split = |text: &str| {
        let items = text
            .split(delimiters)
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| Value::Object(Map::from_iter([(child.to_string(), Value::String(part.to_string()))])))
            .collect();
        Value::Array(items)
    };
    rewrite_strings(root, parent, sub, new_path, "stringtoarray", budget, split)
}

/// `encodepropertyvalue`: under each parent, the string at `sub` passed
/// through `encode` and written at `new_path`. See [`rewrite_strings`] for
/// what is left alone. Returns whether anything was written.
pub(crate) fn encode_values(
    root: &mut Value,
    parent: &BodyPath,
    sub: &BodyPath,
    new_path: &BodyPath,
    encode: impl Fn(&str) -> String,
    budget: usize,
) -> Result<bool, Grow> {
    let encode = |text: &str| Value::String(encode(text));
    rewrite_strings(root, parent, sub, new_path, "encodepropertyvalue", budget, encode)
}

/// Under each parent, the string at `sub` made into a new value, written at
/// `new_path`. A missing source is left alone; one that is not a string is
/// left as it is and logged at debug, naming `template`. The values made
/// are counted against `budget` before any is written.
fn rewrite_strings(
    root: &mut Value,
    parent: &BodyPath,
    sub: &BodyPath,
    new_path: &BodyPath,
    template: &str,
    budget: usize,
    make: impl Fn(&str) -> Value,
) -> Result<bool, Grow> {
    let mut writes = Vec::new();
    let mut added = 0usize;
    for target in parents(root, parent) {
        let source = sub.under(&target);
        match get(root, &source) {
            None => {}
            Some(Value::String(text)) => {
                let value = make(text);
                added = added.saturating_add(json_size(&value));
                if added > budget {
                    return Err(Grow::TooLarge);
                }
                writes.push((new_path.under(&target), value));
            }
            Some(other) => {
                tracing::debug!(template, path = %show(&source), kind = kind(other), "not a string, left as it is");
            }
        }
    }
    let written = !writes.is_empty();
    for (path, value) in writes {
        set(root, &path, value).map_err(Grow::Invalid)?;
    }
    Ok(written)
}

/// `moveproperties`: under each source parent, takes the value at
/// `src_sub` out and writes it at `dst_sub` under `dst_parent` (a
/// `@body()` path from the root, else relative to the source parent). With
/// `only_sub_properties`, the source must be an object and its properties
/// are merged into the destination object instead (replacing ones of the
/// same name). A missing source is left alone; a source or destination that
/// does not fit is left as it is and logged at debug. Returns whether
/// anything moved.
pub(crate) fn move_properties(
    root: &mut Value,
    src_parent: &BodyPath,
    src_sub: &BodyPath,
    dst_parent: &BodyPath,
    dst_sub: &BodyPath,
    only_sub_properties: bool,
) -> bool {
    let mut moved = false;
    for target in parents(root, src_parent) {
        let source = src_sub.under(&target);
        let destination = dst_sub.under(&dst_parent.under(&target));
        let Some(value) = get(root, &source) else {
            continue;
        };
        if only_sub_properties && !value.is_object() {
            tracing::debug!(path = %show(&source), kind = kind(value), "moveproperties: not an object, left as it is");
            continue;
        }
        let Some(value) = take(root, &source) else {
            continue;
        };
        let written = if only_sub_properties {
            merge(root, &destination, value.clone())
        } else {
            set(root, &destination, value.clone())
        };
        match written {
            Ok(()) => moved = true,
            Err(reason) => {
                tracing::debug!(from = %show(&source), to = %show(&destination), %reason, "moveproperties: the destination does not fit, left as it is");
                // The source's place still exists: its parent was not touched.
                let _ = set(root, &source, value);
            }
        }
    }
    moved
}

/// Merges the properties of `object` into the object at `path`, creating
/// it when it is missing or null.
fn merge(root: &mut Value, path: &[Step], object: Value) -> Result<(), String> {
    let Value::Object(fields) = object else {
        return Err("the source is not an object".into());
    };
    match get(root, path) {
        None | Some(Value::Null) => set(root, path, Value::Object(fields)),
        Some(Value::Object(_)) => {
            if let Some(Value::Object(existing)) = get_mut(root, path) {
                existing.extend(fields);
            }
            Ok(())
        }
        Some(other) => Err(format!("`{}` is {}, not an object", show(path), kind(other))),
    }
}

/// Removes the value at a concrete path and returns it.
fn take(root: &mut Value, path: &[Step]) -> Option<Value> {
    let (last, init) = path.split_last()?;
    let parent = get_mut(root, init)?;
    match last {
        Step::Key(key) => parent.as_object_mut()?.shift_remove(key),
        Step::Index(i) => {
            let items = parent.as_array_mut()?;
            (*i < items.len()).then(|| items.remove(*i))
        }
    }
}

/// The JSON type of a value, for logs (never the value, which may be a
/// secret).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `stringreplace` inside JSON: replaces `old` with `new` in every string
/// at `sub` under each parent (a string, or all strings nested in an object
/// or array there). Returns whether anything was replaced.
pub(crate) fn replace_in_strings(root: &mut Value, parent: &BodyPath, sub: &BodyPath, old: &str, new: &str) -> bool {
    if old.is_empty() {
        return false;
    }
    let mut replaced = false;
    for target in parents(root, parent) {
        let path = sub.under(&target);
        if let Some(value) = get_mut(root, &path) {
            replaced |= replace_all(value, old, new);
        }
    }
    replaced
}

pub(crate) fn get_mut<'v>(root: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.as_object_mut()?.get_mut(key),
        Step::Index(i) => value.as_array_mut()?.get_mut(*i),
    })
}

fn replace_all(value: &mut Value, old: &str, new: &str) -> bool {
    match value {
        Value::String(s) if s.contains(old) => {
            *s = s.replace(old, new);
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |any, v| replace_all(v, old, new) | any),
        Value::Object(fields) => fields.values_mut().fold(false, |any, v| replace_all(v, old, new) | any),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn p(text: &str) -> BodyPath {
        BodyPath::parse(text).unwrap()
    }

    #[test]
    fn paths_parse_in_all_forms() {
        assert_eq!(p("@body()"), BodyPath::root());
        assert_eq!(p("@body().a.b").steps, [Step::Key("a".into()), Step::Key("b".into())]);
        assert_eq!(p("@body()?['odd name'][2]").steps, [Step::Key("odd name".into()), Step::Index(2)]);
        let item = p("@item().tags");
        assert_eq!((item.anchor, item.steps), (Anchor::Item, vec![Step::Key("tags".into())]));
        let bare = p("peopleObject.x");
        assert_eq!(bare.anchor, Anchor::Item);
        assert_eq!(bare.steps.len(), 2);
        assert_eq!(p("").steps, []);
        assert!(BodyPath::parse("@body().a[").is_err());
        assert!(BodyPath::parse("@body().a[x]").is_err());
    }

    #[test]
    fn set_creates_missing_objects() {
        let mut v = json!({});
        set(&mut v, &p("@body().a.b").steps, json!(1)).unwrap();
        assert_eq!(v, json!({"a": {"b": 1}}));
        let mut v = json!({"a": 3});
        assert!(set(&mut v, &p("@body().a.b").steps, json!(1)).is_err());
    }

    #[test]
    fn set_property_on_root_and_on_each_collection_element() {
        let mut v = json!({"x": 1});
        set_property(&mut v, &BodyPath::root(), &p("y"), &PropertyValue::Fixed(json!("!")), usize::MAX).unwrap();
        assert_eq!(v, json!({"x": 1, "y": "!"}));

        let mut v = json!({"items": [{"a": 1}, {"a": 2}]});
        set_property(&mut v, &p("@body().items"), &p("b"), &PropertyValue::Copy(p("@item().a")), usize::MAX).unwrap();
        assert_eq!(v, json!({"items": [{"a": 1, "b": 1}, {"a": 2, "b": 2}]}));
    }

    #[test]
    fn object_to_array_matches_the_documented_example() {
        let mut v = json!({"peopleObject": {"XYZ": {"Age": "30"}, "ABC": {"Age": "23"}}});
        object_to_array(&mut v, &BodyPath::root(), &p("peopleObject"), &p("@body().peopleArray"), "Name", "Details")
            .unwrap();
        // Items follow the object's key order as serde_json keeps it: source
        // order with its `preserve_order` feature, sorted without it.
        let items = v["peopleArray"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.contains(&json!({"Name": "XYZ", "Details": {"Age": "30"}})));
        assert!(items.contains(&json!({"Name": "ABC", "Details": {"Age": "23"}})));
        assert!(v.get("peopleObject").is_some());
    }

    #[test]
    fn object_to_array_runs_per_collection_element() {
        let mut v = json!({"sets": [{"people": {"A": 1}}, {"people": {"B": 2}}]});
        object_to_array(&mut v, &p("@body().sets"), &p("people"), &p("people"), "k", "v").unwrap();
        assert_eq!(v, json!({"sets": [{"people": [{"k": "A", "v": 1}]}, {"people": [{"k": "B", "v": 2}]}]}));
    }

    #[test]
    fn object_to_array_without_value_name_merges_fields() {
        let mut v = json!({"o": {"A": {"age": 1}}});
        object_to_array(&mut v, &BodyPath::root(), &p("o"), &p("o"), "name", "").unwrap();
        assert_eq!(v, json!({"o": [{"name": "A", "age": 1}]}));
    }

    #[test]
    fn array_to_object_retains_or_drops_the_key() {
        let input = json!({"peopleArray": [{"Name": "XYZ", "Age": "30"}, {"Name": "ABC", "Age": "23"}]});
        let mut v = input.clone();
        array_to_object(&mut v, &BodyPath::root(), &p("peopleArray"), &p("Name"), &p("@body().peopleObject"), true)
            .unwrap();
        assert_eq!(v["peopleObject"]["XYZ"], json!({"Name": "XYZ", "Age": "30"}));
        let mut v = input;
        array_to_object(&mut v, &BodyPath::root(), &p("peopleArray"), &p("Name"), &p("peopleArray"), false).unwrap();
        assert_eq!(v, json!({"peopleArray": {"XYZ": {"Age": "30"}, "ABC": {"Age": "23"}}}));
    }

    #[test]
    fn array_to_object_without_key_is_an_error() {
        let mut v = json!({"a": [{"id": 1}, {"other": 2}]});
        let err = array_to_object(&mut v, &BodyPath::root(), &p("a"), &p("id"), &p("a"), true).unwrap_err();
        assert!(err.contains("item 1"), "{err}");
    }

    #[test]
    fn missing_sources_are_left_alone() {
        let mut v = json!({"x": 1});
        object_to_array(&mut v, &BodyPath::root(), &p("nope"), &p("out"), "k", "v").unwrap();
        array_to_object(&mut v, &BodyPath::root(), &p("nope"), &p("id"), &p("out"), true).unwrap();
        assert_eq!(v, json!({"x": 1}));
    }

    #[test]
    fn at_body_without_parentheses_is_the_root() {
        assert_eq!(p("@body.peopleObject.XYZ"), p("@body().peopleObject.XYZ"));
        assert_eq!(p("@body"), BodyPath::root());
        // Without the `@`, a property named `body` is still a bare path.
        assert_eq!(p("body.x").anchor, Anchor::Item);
        assert_eq!(p("@bodyguard").steps, [Step::Key("@bodyguard".into())]);
    }

    #[test]
    fn string_to_array_matches_the_documented_example() {
        let mut v = json!({"peopleObject": {"XYZ": {"Age": "3;0"}, "ABC": {"Age": "23;45"}}});
        let written = string_to_array(
            &mut v,
            &BodyPath::root(),
            &p("peopleObject.XYZ.Age"),
            &[';'],
            "AgeW",
            &p("@body.peopleObject.XYZ.Age"),
            usize::MAX,
        )
        .unwrap();
        assert!(written);
        assert_eq!(
            v,
            json!({"peopleObject": {"XYZ": {"Age": [{"AgeW": "3"}, {"AgeW": "0"}]}, "ABC": {"Age": "23;45"}}})
        );
    }

    #[test]
    fn string_to_array_splits_at_each_delimiter_and_drops_empty_parts() {
        let mut v = json!({"to": " a@x.example; b@x.example,,c ;"});
        string_to_array(&mut v, &BodyPath::root(), &p("to"), &[';', ','], "id", &p("to"), usize::MAX).unwrap();
        assert_eq!(v, json!({"to": [{"id": "a@x.example"}, {"id": "b@x.example"}, {"id": "c"}]}));
    }

    #[test]
    fn string_to_array_leaves_what_is_not_a_string() {
        let mut v = json!({"sets": [{"ids": "a;b"}, {"ids": 7}, {}]});
        let written =
            string_to_array(&mut v, &p("@body().sets"), &p("ids"), &[';'], "id", &p("ids"), usize::MAX).unwrap();
        assert!(written);
        assert_eq!(v, json!({"sets": [{"ids": [{"id": "a"}, {"id": "b"}]}, {"ids": 7}, {}]}));
        let mut v = json!({"ids": 7});
        assert!(!string_to_array(&mut v, &BodyPath::root(), &p("ids"), &[';'], "id", &p("ids"), usize::MAX).unwrap());
    }

    #[test]
    fn string_to_array_is_bounded_by_its_budget() {
        let mut v = json!({"ids": ";a".repeat(1000)});
        let before = v.clone();
        let error = string_to_array(&mut v, &BodyPath::root(), &p("ids"), &[';'], "id", &p("ids"), 1000);
        assert!(matches!(error, Err(Grow::TooLarge)));
        assert_eq!(v, before);
    }

    #[test]
    fn encode_values_encodes_each_element_in_place() {
        let mut v = json!({"assignments": [{"userId": "ada@contoso.example"}, {"userId": 7}, {}]});
        let upper = |s: &str| s.to_uppercase();
        let written =
            encode_values(&mut v, &p("@body().assignments"), &p("userId"), &p("@item().userId"), upper, usize::MAX)
                .unwrap();
        assert!(written);
        assert_eq!(v, json!({"assignments": [{"userId": "ADA@CONTOSO.EXAMPLE"}, {"userId": 7}, {}]}));
        let error = encode_values(&mut v, &BodyPath::root(), &p("assignments[0].userId"), &p("x"), |s| s.repeat(9), 40);
        assert!(matches!(error, Err(Grow::TooLarge)));
        assert!(v.get("x").is_none());
    }

    #[test]
    fn move_properties_flattens_an_object_into_the_root() {
        // The certified AzureAD connector's UpdateUser: free-form
        // `customProperties` become properties of the user.
        let mut v = json!({"city": "Oslo", "customProperties": {"employeeId": "7", "city": "Bergen"}});
        let moved = move_properties(&mut v, &BodyPath::root(), &p("customProperties"), &BodyPath::root(), &p(""), true);
        assert!(moved);
        assert_eq!(v, json!({"city": "Bergen", "employeeId": "7"}));
    }

    #[test]
    fn move_properties_moves_a_whole_value() {
        let mut v = json!({"a": {"b": [1, 2]}, "keep": 1});
        assert!(move_properties(&mut v, &p("@body().a"), &p("b"), &p("@body().c"), &p("d"), false));
        assert_eq!(v, json!({"a": {}, "keep": 1, "c": {"d": [1, 2]}}));
        // Per element of a collection, relative to each element.
        let mut v = json!({"items": [{"old": 1}, {"old": 2}, {}]});
        assert!(move_properties(&mut v, &p("@body().items"), &p("old"), &p(""), &p("new"), false));
        assert_eq!(v, json!({"items": [{"new": 1}, {"new": 2}, {}]}));
    }

    #[test]
    fn move_properties_leaves_what_does_not_fit() {
        let mut v = json!({"custom": "text", "x": 1});
        assert!(!move_properties(&mut v, &BodyPath::root(), &p("custom"), &BodyPath::root(), &p(""), true));
        assert_eq!(v, json!({"custom": "text", "x": 1}));
        let mut v = json!({"custom": {"a": 1}, "x": 1});
        assert!(!move_properties(&mut v, &BodyPath::root(), &p("custom"), &p("@body().x"), &p(""), true));
        assert_eq!(v, json!({"custom": {"a": 1}, "x": 1}));
        assert!(!move_properties(&mut v, &BodyPath::root(), &p("custom"), &p("@body().x"), &p("y"), false));
        assert_eq!(v, json!({"custom": {"a": 1}, "x": 1}));
        assert!(!move_properties(&mut v, &BodyPath::root(), &p("absent"), &BodyPath::root(), &p("y"), false));
    }

    #[test]
    fn replace_reaches_nested_strings() {
        let mut v = json!({"links": {"a": "http://x", "b": ["http://y", 3]}, "keep": "http://z"});
        replace_in_strings(&mut v, &BodyPath::root(), &p("links"), "http://", "https://");
        assert_eq!(v, json!({"links": {"a": "https://x", "b": ["https://y", 3]}, "keep": "http://z"}));
    }
}
