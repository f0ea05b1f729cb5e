//! Path templates of operations (`/envelopes/{id}/void`, `/files/{name}.json`):
//! compiled once when the definition loads, then matched against the
//! segments of a request path.
//!
//! Matching is per path segment and case-sensitive. A segment of a template
//! is a literal (`envelopes`), a parameter (`{id}`) or a mix (`{name}.json`).
//! A trailing `/` on either side is ignored. Parameter values are
//! percent-decoded.

use indexmap::IndexMap;
use percent_encoding::percent_decode_str;

/// A compiled path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    segments: Vec<Vec<Part>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
}

impl PathTemplate {
    /// Compiles a template; the error says why it cannot be routed.
    pub(crate) fn compile(path: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        for segment in split(path) {
            let mut parts = Vec::new();
            let mut rest = segment;
            while !rest.is_empty() {
                match rest.find('{') {
                    Some(0) => {
                        let close = rest.find('}').ok_or("unclosed `{`")?;
                        let name = &rest[1..close];
                        if name.is_empty() || name.contains('{') {
                            return Err(format!("bad parameter in segment `{segment}`"));
                        }
                        if matches!(parts.last(), Some(Part::Param(_))) {
                            return Err(format!("two parameters side by side in segment `{segment}`"));
                        }
                        parts.push(Part::Param(name.to_string()));
                        rest = &rest[close + 1..];
                    }
                    Some(open) => {
                        parts.push(Part::Literal(rest[..open].to_string()));
                        rest = &rest[open..];
                    }
                    None => {
                        if rest.contains('}') {
                            return Err(format!("stray `}}` in segment `{segment}`"));
                        }
                        parts.push(Part::Literal(rest.to_string()));
                        rest = "";
                    }
                }
            }
            segments.push(parts);
        }
        Ok(Self { segments })
    }

    /// The parameter names, in order.
    pub(crate) fn parameter_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().flatten().filter_map(|p| match p {
            Part::Param(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Matches decoded request segments; returns the specificity rank (per
    /// segment: 2 literal, 1 mixed, 0 parameter) and the captures.
    pub(crate) fn matches(&self, request: &[String]) -> Option<(Vec<u8>, IndexMap<String, String>)> {
        if request.len() != self.segments.len() {
            return None;
        }
        let mut rank = Vec::with_capacity(request.len());
        let mut captures = IndexMap::new();
        for (parts, segment) in self.segments.iter().zip(request) {
            rank.push(match parts.as_slice() {
                [Part::Literal(_)] | [] => 2,
                [Part::Param(_)] => 0,
                _ => 1,
            });
            if !match_parts(parts, segment, &mut captures) {
                return None;
            }
        }
        Some((rank, captures))
    }
}

/// Matches one segment against its parts, backtracking over where each
/// parameter ends. Parameters capture at least one character.
fn match_parts(parts: &[Part], text: &str, captures: &mut IndexMap<String, String>) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((Part::Literal(lit), rest)) => {
            text.strip_prefix(lit.as_str()).is_some_and(|tail| match_parts(rest, tail, captures))
        }
        Some((Part::Param(name), rest)) => {
            let ends = text.char_indices().map(|(i, _)| i).skip(1).chain([text.len()]);
            for end in ends {
                if match_parts(rest, &text[end..], captures) {
                    captures.insert(name.clone(), text[..end].to_string());
                    return true;
                }
            }
            false
        }
    }
}

pub(crate) fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.trim_matches('/');
    trimmed.split('/').filter(move |_| !trimmed.is_empty())
}

/// Splits a request path into percent-decoded segments; `None` if a segment
/// is not UTF-8 once decoded.
pub(crate) fn decode_segments(path: &str) -> Option<Vec<String>> {
    split(path).map(|s| percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned())).collect()
}
