//! Path templates of operations (`/envelopes/{id}/void`, `/files/{name}.json`):
//! compiled once when the definition loads, then matched against the
//! segments of a request path.
//!
//! Matching is per path segment and case-sensitive. A segment of a template
//! is a literal (`envelopes`), a parameter (`{id}`) or a mix (`{name}.json`).
//! A trailing `/` on either side is ignored. Parameter values are
//! percent-decoded, and so are the template's literals, since a request's
//! segments are compared decoded: a definition path that writes `%55`
//! matches a request for `%55` (or `U`).

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
                        parts.push(literal(&rest[..open], segment)?);
                        rest = &rest[open..];
                    }
                    None => {
                        if rest.contains('}') {
                            return Err(format!("stray `}}` in segment `{segment}`"));
                        }
                        parts.push(literal(rest, segment)?);
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

/// A literal part, percent-decoded as the request's segments are; one that
/// decodes to bytes that are not UTF-8 could match no request.
fn literal(text: &str, segment: &str) -> Result<Part, String> {
    match percent_decode_str(text).decode_utf8() {
        Ok(decoded) => Ok(Part::Literal(decoded.into_owned())),
        Err(_) => Err(format!("segment `{segment}` percent-decodes to bytes that are not UTF-8")),
    }
}

/// Matches one segment against its parts. Parameters capture at least one
/// character, each as few as the rest allows (a parameter followed by `-`
/// stops at the first `-` after which the rest still matches).
///
/// The match is decided in time linear in the segment's length (times the
/// number of parts and the length of their literals), whatever the text: a
/// table says, for each part and each position, whether the parts from there
/// on can match the text from there on, filled from the last part back; the
/// captures are then read off it from the front. Trying each place a
/// parameter may end, recursively, took exponential time on a segment such
/// as `a-a-a-...x` against `{a}-{b}-{c}.json`.
fn match_parts(parts: &[Part], text: &str, captures: &mut IndexMap<String, String>) -> bool {
    match_parts_counting(parts, text, captures, &mut 0)
}

/// [`match_parts`], counting the positions it looks at in `steps`.
fn match_parts_counting(
    parts: &[Part],
    text: &str,
    captures: &mut IndexMap<String, String>,
    steps: &mut usize,
) -> bool {
    let n = text.len();
    // can[i][p]: parts[i..] match text[p..].
    let mut can = vec![vec![false; n + 1]; parts.len() + 1];
    can[parts.len()][n] = true;
    for (i, part) in parts.iter().enumerate().rev() {
        let (done, rest) = can.split_at_mut(i + 1);
        let (here, next) = (&mut done[i], &rest[0]);
        match part {
            Part::Literal(literal) if literal.len() > n => {}
            Part::Literal(literal) => {
                for p in 0..=n - literal.len() {
                    *steps += 1;
                    here[p] = next[p + literal.len()] && text.as_bytes()[p..].starts_with(literal.as_bytes());
                }
            }
            Part::Param(_) => {
                // Whether some end e > p (on a character boundary) lets the rest match.
                let mut later = false;
                for p in (0..=n).rev() {
                    *steps += 1;
                    if text.is_char_boundary(p) {
                        here[p] = later;
                        later |= next[p];
                    }
                }
            }
        }
    }
    if !can[0][0] {
        return false;
    }
    let mut position = 0;
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Literal(literal) => position += literal.len(),
            Part::Param(name) => {
                let end = (position + 1..=n).find(|&e| text.is_char_boundary(e) && can[i + 1][e]).unwrap_or(n);
                captures.insert(name.clone(), text[position..end].to_string());
                position = end;
            }
        }
    }
    true
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

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(template: &str, segment: &str) -> Option<Vec<(String, String)>> {
        let template = PathTemplate::compile(template).unwrap();
        let (_, captures) = template.matches(&[segment.to_string()])?;
        Some(captures.into_iter().collect())
    }

    #[test]
    fn parameters_capture_as_little_as_the_rest_allows() {
        let got = captures("/{a}-{b}.json", "x-y-z.json").unwrap();
        assert_eq!(got, [("a".into(), "x".into()), ("b".into(), "y-z".into())]);
        assert_eq!(captures("/{name}.json", "report.v2.json").unwrap(), [("name".into(), "report.v2".into())]);
        assert_eq!(captures("/v{major}", "v1").unwrap(), [("major".into(), "1".into())]);
        assert_eq!(captures("/{id}", "é").unwrap(), [("id".into(), "é".into())]);
        assert_eq!(captures("/{a}-{b}", "-x"), None, "a parameter captures at least one character");
        assert_eq!(captures("/{a}.json", ".json"), None);
        assert_eq!(captures("/{a}.json", "x"), None, "a literal longer than the rest of the text");
    }

    #[test]
    fn a_percent_encoded_literal_matches_its_request_encoded_or_not() {
        // Found by the `postman` fuzz target: an imported path holding `%55`
        // did not route by its own template.
        let template = PathTemplate::compile("/ident%55ities/{id}").unwrap();
        for path in ["/ident%55ities/7", "/identUities/7"] {
            let segments = decode_segments(path).unwrap();
            assert!(template.matches(&segments).is_some(), "{path}");
        }
        let stray = PathTemplate::compile("/100%/x").unwrap();
        assert!(stray.matches(&decode_segments("/100%/x").unwrap()).is_some());
        // `%De` is byte 0xDE alone: no request decodes to it.
        assert!(PathTemplate::compile("/a%DeleteUser").unwrap_err().contains("not UTF-8"));
    }

    #[test]
    fn a_hostile_segment_is_refused_in_linear_work() {
        let template = vec![
            Part::Param("a".into()),
            Part::Literal("-".into()),
            Part::Param("b".into()),
            Part::Literal("-".into()),
            Part::Param("c".into()),
            Part::Literal(".json".into()),
        ];
        for repeats in [1_000, 4_000] {
            let text = format!("{}x.jso", "a-".repeat(repeats));
            let mut steps = 0;
            assert!(!match_parts_counting(&template, &text, &mut IndexMap::new(), &mut steps));
            // One pass over the text per part: linear, where backtracking
            // took 3.9 s at 1,000 repeats and over a minute at 4,000.
            assert!(steps <= template.len() * (text.len() + 1), "{steps} steps for {} bytes", text.len());
        }
        let text = format!("{}x.json", "a-".repeat(4_000));
        assert!(match_parts_counting(&template, &text, &mut IndexMap::new(), &mut 0));
    }
}
