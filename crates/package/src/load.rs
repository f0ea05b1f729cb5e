//! Reading a package folder: each file parsed once into the typed model,
//! checked against the others, with an error that names the folder, the
//! file and the reason when the package is unusable.

use std::path::{Path, PathBuf};

use sluice_egress::{AllowRule, Allowlist, RuleError};
use sluice_policy::PolicySet;

use crate::definition::{self, Definition};
use crate::properties::Properties;
use crate::settings::Settings;
use crate::{CSX_FILE, DEFINITION_FILE, PROPERTIES_FILE, Package, SCRIPT_FILE, SETTINGS_FILE};

/// A package could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("connector package {}: {file}: {reason}", folder.display())]
pub struct PackageError {
    /// The package folder.
    pub folder: PathBuf,
    /// The file at fault, relative to the folder (`.` for the folder itself).
    pub file: String,
    /// What is wrong.
    pub reason: PackageErrorReason,
}

/// What is wrong with a package file.
#[derive(Debug, thiserror::Error)]
pub enum PackageErrorReason {
    /// A required file does not exist.
    #[error("the file is missing")]
    Missing,
    /// A package folder or file is a symbolic link; packages are read from
    /// real files in the folder only.
    #[error("it is a symbolic link; a package is read from its own folder's regular files only")]
    Symlink,
    /// A package file is not a regular file (a FIFO, a device, a folder).
    #[error("it is not a regular file")]
    NotAFile,
    /// A package file is larger than sluice reads.
    #[error("it is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Io(std::io::Error),
    /// The file is not valid JSON, or not the JSON shape expected.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's complaint.
        message: String,
    },
    /// `sluice.toml` is not valid TOML or has an unknown key or bad value.
    #[error("invalid settings at line {line}, column {column}: {message}")]
    Settings {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's complaint, naming the key.
        message: String,
    },
    /// An `[egress] allow` rule of `sluice.toml` does not parse.
    #[error("egress rule {0}")]
    EgressRule(#[source] RuleError),
    /// The definition's host cannot be an egress target.
    #[error("host `{host}` is not a valid egress target: {source}")]
    Host {
        /// The host as written.
        host: String,
        /// Why.
        #[source]
        source: RuleError,
    },
    /// `connectionParameterSets` is unusable (no sets, a set without a
    /// name, two of the same name).
    #[error(transparent)]
    ParameterSets(crate::properties::ParameterSetsError),
    /// The content is well-formed but unusable.
    #[error("{0}")]
    Invalid(String),
}

/// Loads the package in `dir`.
pub fn load_package(dir: &Path) -> Result<Package, PackageError> {
    let error = |file: &str, reason| PackageError { folder: dir.to_path_buf(), file: file.to_string(), reason };
    // A link to a folder would give that folder another connector's name,
    // and with it that connector's connections and secrets.
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(error(".", PackageErrorReason::Symlink)),
        Ok(meta) if !meta.is_dir() => return Err(error(".", PackageErrorReason::NotAFile)),
        Ok(_) => {}
        Err(e) => return Err(error(".", PackageErrorReason::Io(e))),
    }
    // The connector id is the folder's own name as written; only `.` and
    // `..`, which name no folder, are resolved.
    let named = dir.file_name().map(Path::new).map(Path::to_path_buf);
    let id = named
        .or_else(|| dir.canonicalize().ok().and_then(|c| c.file_name().map(|n| Path::new(n).to_path_buf())))
        .and_then(|n| n.to_str().map(str::to_string))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| error(".", PackageErrorReason::Invalid("the folder name is not a valid connector id".into())))?;

    let mut definition_warnings = Vec::new();
    let definition_bytes = read(dir, DEFINITION_FILE, MAX_JSON_FILE_BYTES)?
        .ok_or_else(|| error(DEFINITION_FILE, PackageErrorReason::Missing))?;
    let definition =
        definition::Definition::parse(&definition_bytes, &mut definition_warnings).map_err(|e| match e {
            definition::ParseError::Json(e) => error(DEFINITION_FILE, json_reason(&e)),
            definition::ParseError::Invalid(reason) => error(DEFINITION_FILE, PackageErrorReason::Invalid(reason)),
        })?;

    let mut property_warnings = Vec::new();
    let properties_bytes = read(dir, PROPERTIES_FILE, MAX_JSON_FILE_BYTES)?
        .ok_or_else(|| error(PROPERTIES_FILE, PackageErrorReason::Missing))?;
    let properties = Properties::parse(&properties_bytes, &mut property_warnings).map_err(|e| {
        error(
            PROPERTIES_FILE,
            match e {
                crate::properties::PropertiesError::Json(e) => json_reason(&e),
                crate::properties::PropertiesError::ParameterSets(e) => PackageErrorReason::ParameterSets(e),
            },
        )
    })?;

    let settings = match read(dir, SETTINGS_FILE, MAX_SETTINGS_BYTES)? {
        None => Settings::default(),
        Some(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| error(SETTINGS_FILE, PackageErrorReason::Invalid("the file is not UTF-8".into())))?;
            Settings::parse(&text).map_err(|e| error(SETTINGS_FILE, toml_reason(&text, &e)))?
        }
    };
    let script = read(dir, SCRIPT_FILE, MAX_SCRIPT_BYTES)?;
    // C# the platform would run: kept (as text) only when nothing replaces it.
    let unported_code = match &script {
        Some(_) => None,
        None => read(dir, CSX_FILE, MAX_CSX_BYTES)?.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    };
    let assets = check_assets(dir)?;
    let allowlist = egress_allowlist(&definition, &settings).map_err(|(file, reason)| error(file, reason))?;

    let (policies, policy_warnings) = PolicySet::parse(&properties.policy_instances);
    let policies = policies
        .with_base_path(&definition.base_path)
        .with_body_limits(settings.limits.request_body_bytes, settings.limits.response_body_bytes);
    property_warnings.extend(policy_warnings);
    property_warnings.extend(cross_check(
        &definition,
        &properties,
        &policies,
        script.is_some(),
        unported_code.is_some(),
    ));

    let warnings = definition_warnings
        .into_iter()
        .map(|w| format!("{DEFINITION_FILE}: {w}"))
        .chain(property_warnings.into_iter().map(|w| format!("{PROPERTIES_FILE}: {w}")))
        .collect();
    Ok(Package {
        id,
        dir: dir.to_path_buf(),
        definition,
        properties,
        policies,
        settings,
        allowlist,
        script,
        assets,
        unported_code,
        warnings,
    })
}

/// The folder of files the code may read, read-only (schemas, templates,
/// lookup tables, an interpreter's modules).
pub const ASSETS_DIR: &str = "assets";
/// The most bytes `assets/` may hold, all files together (16 MiB).
pub const MAX_ASSETS_BYTES: u64 = 16 << 20;
/// The most files and folders `assets/` may hold (1,000).
pub const MAX_ASSETS_ENTRIES: usize = 1_000;
/// How deep folders may nest in `assets/` (16).
pub const MAX_ASSETS_DEPTH: usize = 16;

/// Checks `assets/` when the package has one: only folders and regular
/// files (no link, which could point out of the package; no FIFO or
/// device), at most [`MAX_ASSETS_ENTRIES`] entries, [`MAX_ASSETS_DEPTH`]
/// levels and [`MAX_ASSETS_BYTES`] in all. The code reads the files while
/// it runs; this keeps what a package can put in front of it bounded.
fn check_assets(dir: &Path) -> Result<Option<PathBuf>, PackageError> {
    let root = dir.join(ASSETS_DIR);
    let error = |path: &Path, reason| {
        let inside = path.strip_prefix(dir).unwrap_or(path);
        PackageError { folder: dir.to_path_buf(), file: inside.display().to_string(), reason }
    };
    match std::fs::symlink_metadata(&root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(&root, PackageErrorReason::Io(e))),
        Ok(meta) if meta.file_type().is_symlink() => return Err(error(&root, PackageErrorReason::Symlink)),
        Ok(meta) if !meta.is_dir() => return Err(error(&root, PackageErrorReason::NotAFile)),
        Ok(_) => {}
    }
    let (mut bytes, mut entries) = (0u64, 0usize);
    let mut pending = vec![(root.clone(), 0usize)];
    while let Some((folder, depth)) = pending.pop() {
        let listing = std::fs::read_dir(&folder).map_err(|e| error(&folder, PackageErrorReason::Io(e)))?;
        for entry in listing {
            let entry = entry.map_err(|e| error(&folder, PackageErrorReason::Io(e)))?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| error(&path, PackageErrorReason::Io(e)))?;
            entries += 1;
            if entries > MAX_ASSETS_ENTRIES {
                return Err(error(
                    &root,
                    PackageErrorReason::Invalid(format!("more than {MAX_ASSETS_ENTRIES} files and folders")),
                ));
            }
            if meta.file_type().is_symlink() {
                return Err(error(&path, PackageErrorReason::Symlink));
            } else if meta.is_dir() {
                if depth + 1 >= MAX_ASSETS_DEPTH {
                    return Err(error(
                        &path,
                        PackageErrorReason::Invalid(format!("folders nest deeper than {MAX_ASSETS_DEPTH} levels")),
                    ));
                }
                pending.push((path, depth + 1));
            } else if meta.is_file() {
                bytes = bytes.saturating_add(meta.len());
                if bytes > MAX_ASSETS_BYTES {
                    return Err(error(&root, PackageErrorReason::TooLarge { limit: MAX_ASSETS_BYTES }));
                }
            } else {
                return Err(error(&path, PackageErrorReason::NotAFile));
            }
        }
    }
    Ok(Some(root))
}

/// The package's own allowlist: the definition's host with each of its
/// schemes, then the `[egress] allow` rules of `sluice.toml`.
fn egress_allowlist(
    definition: &Definition,
    settings: &Settings,
) -> Result<Allowlist, (&'static str, PackageErrorReason)> {
    let mut allowlist = Allowlist::default();
    if let Some(host) = definition.host.as_deref() {
        for scheme in definition.allowed_schemes() {
            let rule = AllowRule::for_origin(scheme, host)
                .map_err(|source| (DEFINITION_FILE, PackageErrorReason::Host { host: host.to_string(), source }))?;
            allowlist.push(rule);
        }
    }
    let extra =
        Allowlist::parse(&settings.egress.allow).map_err(|e| (SETTINGS_FILE, PackageErrorReason::EgressRule(e)))?;
    allowlist.extend(extra.rules().iter().cloned());
    Ok(allowlist)
}

/// Loads every immediate subfolder of `root` that has an
/// `apiDefinition.swagger.json`, in name order (folders whose name starts
/// with `.` are skipped). A package that fails is reported beside the others;
/// when `root` itself cannot be read, the one error names it.
pub fn load_packages(root: &Path) -> (Vec<Package>, Vec<(PathBuf, PackageError)>) {
    let mut packages = Vec::new();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) => {
            let error =
                PackageError { folder: root.to_path_buf(), file: ".".into(), reason: PackageErrorReason::Io(e) };
            errors.push((root.to_path_buf(), error));
            return (packages, errors);
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join(DEFINITION_FILE).is_file())
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    dirs.sort();
    for dir in dirs {
        match load_package(&dir) {
            Ok(package) => packages.push(package),
            Err(error) => errors.push((dir, error)),
        }
    }
    (packages, errors)
}

/// The largest `apiDefinition.swagger.json` or `apiProperties.json` read, in
/// bytes (16 MiB; the platform takes definitions of 1 MiB).
pub const MAX_JSON_FILE_BYTES: u64 = 16 << 20;
/// The largest `script.csx` read, in bytes (1 MiB, the platform's limit on
/// a connector's script).
pub const MAX_CSX_BYTES: u64 = 1 << 20;
/// The largest `sluice.toml` read, in bytes (1 MiB).
pub const MAX_SETTINGS_BYTES: u64 = 1 << 20;
/// The largest `script.wasm` read, in bytes (128 MiB; the runtime's own code
/// limit, lower, applies when the code loads).
pub const MAX_SCRIPT_BYTES: u64 = 128 << 20;

/// Reads a package file; `None` when it does not exist. Only a regular
/// file in the folder itself is read: not a link (which could point out of
/// the package, at `/dev/zero`, at another package's files), not a FIFO or
/// a device (which could block or never end), and at most `cap` bytes.
pub(crate) fn read(dir: &Path, file: &str, cap: u64) -> Result<Option<Vec<u8>>, PackageError> {
    let error = |reason| PackageError { folder: dir.to_path_buf(), file: file.to_string(), reason };
    let path = dir.join(file);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(PackageErrorReason::Io(e))),
        Ok(meta) if meta.file_type().is_symlink() => return Err(error(PackageErrorReason::Symlink)),
        Ok(meta) if !meta.is_file() => return Err(error(PackageErrorReason::NotAFile)),
        Ok(meta) if meta.len() > cap => return Err(error(PackageErrorReason::TooLarge { limit: cap })),
        Ok(_) => {}
    }
    // Opened without following a link and without blocking, then checked
    // again: the file may have been swapped since it was looked at.
    let opened = {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&path)
    };
    let file_handle = opened.map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => error(PackageErrorReason::Symlink),
        _ => error(PackageErrorReason::Io(e)),
    })?;
    let meta = file_handle.metadata().map_err(|e| error(PackageErrorReason::Io(e)))?;
    if !meta.is_file() {
        return Err(error(PackageErrorReason::NotAFile));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file_handle, cap + 1), &mut bytes)
        .map_err(|e| error(PackageErrorReason::Io(e)))?;
    if bytes.len() as u64 > cap {
        return Err(error(PackageErrorReason::TooLarge { limit: cap }));
    }
    Ok(Some(bytes))
}

fn json_reason(e: &serde_json::Error) -> PackageErrorReason {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    PackageErrorReason::Json { line: e.line(), column: e.column(), message }
}

fn toml_reason(text: &str, e: &toml::de::Error) -> PackageErrorReason {
    let offset = e.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    PackageErrorReason::Settings { line, column, message: e.message().trim().to_string() }
}

/// Checks the files against each other: operation ids named in
/// `scriptOperations` and policies exist, and policies' connection
/// parameters are declared.
fn cross_check(
    definition: &Definition,
    properties: &Properties,
    policies: &PolicySet,
    has_script: bool,
    has_csx: bool,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let known = |id: &str| definition.operation(id).is_some();
    let script_operations = properties.script_operations.as_deref().unwrap_or_default();
    for id in script_operations.iter().filter(|id| !known(id)) {
        warnings.push(format!("scriptOperations names `{id}`, which the definition does not have"));
    }
    if !has_script && has_csx {
        warnings.push(format!(
            "{CSX_FILE} is C# code, which sluice does not run: its operations answer 501 `code-not-ported` until the code is ported to {SCRIPT_FILE} (`sluice new --from-csx` starts the port)"
        ));
    } else if !has_script && !script_operations.is_empty() {
        warnings.push(format!(
            "scriptOperations lists {} operation(s) but the package has no {SCRIPT_FILE}; they are forwarded without custom code",
            script_operations.len()
        ));
    }
    for policy in policies.policies() {
        for id in policy.operations().iter().filter(|id| !known(id)) {
            warnings.push(format!(
                "policy `{}` names operation `{id}`, which the definition does not have",
                policy.title()
            ));
        }
    }
    // With parameter sets, a policy may read the parameters of any set: a
    // connection has the values of the set it chose.
    let declared: Vec<&String> = properties.all_parameters().map(|(name, _)| name).collect();
    let where_declared = if properties.parameter_sets.is_some() {
        "no parameter set declares"
    } else {
        "connectionParameters does not declare"
    };
    for (policy, name) in policies.referenced_connection_parameters() {
        if !declared.iter().any(|d| *d == name) {
            let hint = declared
                .iter()
                .find(|d| d.eq_ignore_ascii_case(name))
                .map(|d| format!(" (did you mean `{d}`? names are case-sensitive)"))
                .unwrap_or_default();
            warnings
                .push(format!("policy `{policy}` uses connection parameter `{name}`, which {where_declared}{hint}"));
        }
    }
    warnings
}
