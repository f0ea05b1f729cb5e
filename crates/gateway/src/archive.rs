//! Connector packages as zip archives, the way `paconn` moves them: read
//! from what a client uploads, and written for a download.
//!
//! An upload is untrusted. Its files may sit at the archive's root or in
//! one top folder; only the files a package has are taken (others are
//! refused, naming them); a path that climbs (`../`), is absolute, or is a
//! link is refused; and the expanded size is counted as it is read, so an
//! archive that claims small entries but inflates past the limit (a zip
//! bomb) is refused when it passes it, not after.
//!
//! A download is written the same way every time (files in name order, one
//! fixed timestamp), so that a package downloaded and uploaded again is
//! byte for byte the archive it was, and its SHA-256 names its contents.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use sha2::Digest as _;

/// The files a package may hold: the definition and properties, the code,
/// sluice's settings, the icon, and C# code kept for porting.
pub const PACKAGE_FILES: &[&str] = &[
    sluice_package::DEFINITION_FILE,
    sluice_package::PROPERTIES_FILE,
    sluice_package::SCRIPT_FILE,
    sluice_package::SETTINGS_FILE,
    sluice_package::CSX_FILE,
    "icon.png",
];

/// The most files an archive may list (directories included).
const MAX_ENTRIES: usize = 64;

/// A package's files by name.
pub type Files = BTreeMap<String, Vec<u8>>;

/// An uploaded archive is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// Not a zip archive.
    #[error("not a zip archive: {0}")]
    NotZip(String),
    /// More entries than a package has.
    #[error("the archive lists {count} entries; a package has at most {MAX_ENTRIES}")]
    TooManyEntries {
        /// How many it lists.
        count: usize,
    },
    /// An entry's path leaves the archive or is not plain.
    #[error("entry `{0}` is not a plain relative path inside the archive")]
    UnsafePath(String),
    /// An entry is a link.
    #[error("entry `{0}` is a symbolic link; a package holds plain files only")]
    Link(String),
    /// Files in more than one folder, or deeper than one.
    #[error("entry `{0}` is not at the archive's root or in its one top folder")]
    Layout(String),
    /// A file a package does not have.
    #[error(
        "`{0}` is not a package file (apiDefinition.swagger.json, apiProperties.json, script.wasm, sluice.toml, script.csx, icon.png)"
    )]
    UnknownFile(String),
    /// The same file twice.
    #[error("`{0}` is in the archive twice")]
    Duplicate(String),
    /// The files expand past the limit.
    #[error("the archive expands past {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// An entry does not read back (corrupt, or encrypted).
    #[error("entry `{name}` cannot be read: {reason}")]
    Unreadable {
        /// The entry.
        name: String,
        /// Why.
        reason: String,
    },
    /// No definition.
    #[error("the archive has no apiDefinition.swagger.json")]
    NoDefinition,
}

/// Reads an uploaded archive into a package's files, refusing anything a
/// package folder could not safely be made from; `max_expanded` bounds the
/// bytes all files expand to together.
pub fn read(bytes: &[u8], max_expanded: u64) -> Result<Files, ArchiveError> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| ArchiveError::NotZip(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(ArchiveError::TooManyEntries { count: archive.len() });
    }
    let mut top: Option<String> = None;
    let mut files = Files::new();
    let mut expanded: u64 = 0;
    let mut at_root = false;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| ArchiveError::Unreadable { name: format!("#{index}"), reason: e.to_string() })?;
        let raw_name = entry
            .name()
            .map(|name| name.into_owned())
            .map_err(|e| ArchiveError::Unreadable { name: format!("#{index}"), reason: e.to_string() })?;
        if entry.is_symlink() {
            return Err(ArchiveError::Link(raw_name));
        }
        let Some(path) = entry.enclosed_name() else {
            return Err(ArchiveError::UnsafePath(raw_name));
        };
        if raw_name.starts_with('/') || raw_name.contains('\\') || raw_name.split('/').any(|part| part == "..") {
            return Err(ArchiveError::UnsafePath(raw_name));
        }
        let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if entry.is_dir() {
            match parts.as_slice() {
                [folder] if top.get_or_insert_with(|| folder.clone()) == folder => continue,
                _ => return Err(ArchiveError::Layout(raw_name)),
            }
        }
        let name = match parts.as_slice() {
            [name] => {
                at_root = true;
                name.clone()
            }
            [folder, name] if top.get_or_insert_with(|| folder.clone()) == folder => name.clone(),
            _ => return Err(ArchiveError::Layout(raw_name)),
        };
        if !PACKAGE_FILES.contains(&name.as_str()) {
            return Err(ArchiveError::UnknownFile(name));
        }
        // The declared size may lie; what is read is counted.
        let budget = max_expanded.saturating_sub(expanded);
        let mut contents = Vec::new();
        (&mut entry)
            .take(budget.saturating_add(1))
            .read_to_end(&mut contents)
            .map_err(|e| ArchiveError::Unreadable { name: raw_name.clone(), reason: e.to_string() })?;
        expanded += contents.len() as u64;
        if expanded > max_expanded {
            return Err(ArchiveError::TooLarge { limit: max_expanded });
        }
        if files.insert(name.clone(), contents).is_some() {
            return Err(ArchiveError::Duplicate(name));
        }
    }
    // Files at the root and in a folder at once are two layouts, not one.
    if top.is_some() && at_root {
        return Err(ArchiveError::Layout("(files both at the root and in a folder)".into()));
    }
    if !files.contains_key(sluice_package::DEFINITION_FILE) {
        return Err(ArchiveError::NoDefinition);
    }
    Ok(files)
}

/// Writes a package's files as an archive, the same bytes for the same
/// files: name order, stored timestamps fixed, deflated.
pub fn write(files: &Files) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, contents) in files {
        // Writing into memory fails only on a bug in the writer.
        if out.start_file(name.as_str(), options).is_ok() {
            let _ = out.write_all(contents);
        }
    }
    out.finish().map(|cursor| cursor.into_inner()).unwrap_or_default()
}

/// The files of a package folder that an archive carries.
pub fn folder_files(dir: &std::path::Path) -> std::io::Result<Files> {
    let mut files = Files::new();
    for name in PACKAGE_FILES {
        match std::fs::read(dir.join(name)) {
            Ok(contents) => {
                files.insert(name.to_string(), contents);
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(files)
}

/// The hex SHA-256 of an archive: the id of a package version's contents.
pub fn digest(archive: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(archive))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, contents) in entries {
            if name.ends_with('/') {
                out.add_directory(*name, zip::write::SimpleFileOptions::default()).unwrap();
            } else {
                out.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
                out.write_all(contents).unwrap();
            }
        }
        out.finish().unwrap().into_inner()
    }

    const DEF: &str = "apiDefinition.swagger.json";

    #[test]
    fn files_at_the_root_or_in_one_folder_are_read_and_written_back_the_same() {
        let root = read(&zip_of(&[(DEF, b"{}"), ("apiProperties.json", b"{}")]), 1 << 20).unwrap();
        let folder = read(&zip_of(&[("shop/", b""), ("shop/apiDefinition.swagger.json", b"{}")]), 1 << 20).unwrap();
        assert_eq!(root.keys().map(String::as_str).collect::<Vec<_>>(), [DEF, "apiProperties.json"]);
        assert_eq!(folder[DEF], b"{}");
        let written = write(&root);
        assert_eq!(read(&written, 1 << 20).unwrap(), root);
        assert_eq!(write(&read(&written, 1 << 20).unwrap()), written, "the same files, the same bytes");
    }

    #[test]
    fn unsafe_or_foreign_entries_are_refused_by_name() {
        for (entries, expected) in [
            (
                vec![("../apiDefinition.swagger.json", &b"{}"[..])],
                ArchiveError::UnsafePath("../apiDefinition.swagger.json".into()),
            ),
            (
                vec![("/etc/apiDefinition.swagger.json", b"{}")],
                ArchiveError::UnsafePath("/etc/apiDefinition.swagger.json".into()),
            ),
            (vec![(DEF, b"{}"), ("run.sh", b"x")], ArchiveError::UnknownFile("run.sh".into())),
            (
                vec![("a/b/apiDefinition.swagger.json", b"{}")],
                ArchiveError::Layout("a/b/apiDefinition.swagger.json".into()),
            ),
            (
                vec![("a/apiDefinition.swagger.json", b"{}"), ("b/apiProperties.json", b"{}")],
                ArchiveError::Layout("b/apiProperties.json".into()),
            ),
            (vec![("apiProperties.json", b"{}")], ArchiveError::NoDefinition),
        ] {
            assert_eq!(read(&zip_of(&entries), 1 << 20), Err(expected));
        }
        assert!(matches!(read(b"not a zip", 1 << 20), Err(ArchiveError::NotZip(_))));
    }

    #[test]
    fn a_link_is_refused() {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        out.add_symlink("apiDefinition.swagger.json", "/etc/passwd", zip::write::SimpleFileOptions::default()).unwrap();
        let bytes = out.finish().unwrap().into_inner();
        assert_eq!(read(&bytes, 1 << 20), Err(ArchiveError::Link(DEF.into())));
    }

    #[test]
    fn an_archive_that_inflates_past_the_limit_is_refused_while_it_is_read() {
        // 64 MiB of zeros deflate to about 64 KiB.
        let zeros = vec![0u8; 64 << 20];
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        out.start_file(DEF, options).unwrap();
        out.write_all(&zeros).unwrap();
        let bomb = out.finish().unwrap().into_inner();
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        assert_eq!(read(&bomb, 1 << 20), Err(ArchiveError::TooLarge { limit: 1 << 20 }));
    }
}
