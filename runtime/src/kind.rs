//! Which kind of guest a component is: compiled code, or a language runtime carrying the author's script.
//!
//! A Rust guest is the author's code compiled: a few hundred kilobytes. A
//! JavaScript or Python guest is an interpreter (StarlingMonkey, CPython)
//! pre-initialised with the author's script: 12-18 MB, of which the
//! author's part is the script (the build refuses one over the platform's
//! 1 MB). The code size limit therefore depends on the kind, and so may
//! the imports: CPython's C library links WASI sockets whether the script
//! uses them or not.
//!
//! The kind is read from what the toolchains write into the component:
//! componentize-js names the language in the component's `producers`
//! section, and componentize-py links CPython as a core module named
//! `libpython3.N.so`. A component could claim either falsely; what it
//! gains is the interpreter's size limit and sockets that refuse every
//! operation, nothing more.

use wasmparser::{ComponentName, KnownCustom, Name, Parser, Payload};

/// The kind of guest a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GuestKind {
    /// Code compiled to WebAssembly (Rust with `sluice-guest`, or any
    /// language without a runtime of its own).
    Compiled,
    /// JavaScript on StarlingMonkey, built with componentize-js.
    JavaScript,
    /// Python on CPython, built with componentize-py.
    Python,
}

impl GuestKind {
    /// Whether the component carries a language runtime (an interpreter)
    /// beside the author's code.
    pub fn is_interpreter(self) -> bool {
        !matches!(self, GuestKind::Compiled)
    }

    /// The language's name, for messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            GuestKind::Compiled => "compiled",
            GuestKind::JavaScript => "JavaScript",
            GuestKind::Python => "Python",
        }
    }
}

impl std::fmt::Display for GuestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads the kind from the component's custom sections. Malformed sections
/// count as saying nothing: the component is then compiled code, whose
/// limits are the strictest, and validation at compile time reports what
/// is wrong with it.
pub(crate) fn detect(code: &[u8]) -> GuestKind {
    for payload in Parser::new(0).parse_all(code) {
        let Ok(Payload::CustomSection(section)) = payload else { continue };
        match section.as_known() {
            KnownCustom::Producers(reader) => {
                let javascript = reader.into_iter().flatten().any(|field| {
                    field.name == "language"
                        && field.values.into_iter().flatten().any(|value| value.name == "JavaScript")
                });
                if javascript {
                    return GuestKind::JavaScript;
                }
            }
            KnownCustom::ComponentName(reader) => {
                for name in reader.into_iter().flatten() {
                    if let ComponentName::CoreModules(map) = name
                        && map.into_iter().flatten().any(|naming| is_cpython(naming.name))
                    {
                        return GuestKind::Python;
                    }
                }
            }
            KnownCustom::Name(reader) => {
                let cpython = reader
                    .into_iter()
                    .flatten()
                    .any(|name| matches!(name, Name::Module { name, .. } if is_cpython(name)));
                if cpython {
                    return GuestKind::Python;
                }
            }
            _ => {}
        }
    }
    GuestKind::Compiled
}

/// Whether a core module's name is CPython's shared library, as
/// componentize-py links it (`libpython3.14.so`).
fn is_cpython(name: &str) -> bool {
    name.strip_prefix("libpython3.").is_some_and(|rest| rest.ends_with(".so"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_without_toolchain_marks_is_compiled() {
        let component = wat::parse_str("(component)").unwrap();
        assert_eq!(detect(&component), GuestKind::Compiled);
        assert_eq!(detect(b"not wasm at all"), GuestKind::Compiled);
    }

    #[test]
    fn cpython_is_recognised_by_its_library_name_only() {
        assert!(is_cpython("libpython3.14.so"));
        assert!(!is_cpython("libpython3.14.so.evil"));
        assert!(!is_cpython("python3.14.so"));
        let named = |name: &str| wat::parse_str(format!("(component (core module ${name}))")).unwrap();
        assert_eq!(detect(&named("libpython3.14.so")), GuestKind::Python);
        assert_eq!(detect(&named("libc.so")), GuestKind::Compiled);
    }
}
