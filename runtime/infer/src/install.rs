//! Where `artrt` finds the data it was installed with, wherever it runs from.
//!
//! An installed `artrt` (`/usr/bin/artrt` from the Debian package) keeps its
//! bundles in `/usr/share/artrt/bundles/` and ONNX Runtime's CPU library in
//! `/usr/lib/artrt/`: both are found beside the executable (`../share`,
//! `../lib`), so a package unpacked into another root works the same. A build
//! from the source tree also finds the tree's `runtime/bundles/`.
//!
//! A bundle is named by its directory, or by the name of an installed bundle
//! (`art-tiny-gym`): a path that exists is taken as it is; a bare name that
//! does not is looked up in [`bundle_dirs`].

use std::path::{Component, Path, PathBuf};

/// The bundle commands use when none is given.
pub const DEFAULT_BUNDLE: &str = "art-tiny-gym";

/// The source tree's bundles, for builds run from a checkout.
const SOURCE_BUNDLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../bundles");

/// The installation prefix of the running executable (`/usr` for `/usr/bin/artrt`).
pub fn prefix() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.to_path_buf())
}

/// Folders holding installed bundles, in the order they are searched:
/// `<prefix>/share/artrt/bundles`, then the source tree's `runtime/bundles`.
pub fn bundle_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = prefix()
        .map(|p| p.join("share/artrt/bundles"))
        .into_iter()
        .collect();
    dirs.push(PathBuf::from(SOURCE_BUNDLES));
    dirs
}

/// Folders holding the ONNX Runtime library installed with `artrt`
/// (`<prefix>/lib/artrt`).
pub fn library_dirs() -> Vec<PathBuf> {
    prefix().map(|p| p.join("lib/artrt")).into_iter().collect()
}

/// Why a bundle name matched no installed bundle.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no bundle `{name}`: not a directory here, nor an installed bundle (searched {})", searched.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "))]
pub struct NotInstalled {
    /// The name asked for.
    pub name: String,
    /// The folders searched.
    pub searched: Vec<PathBuf>,
}

/// The directory of the bundle `spec` names: `spec` itself when it exists or
/// is more than a bare name, otherwise the first installed bundle of that name.
pub fn locate_bundle(spec: &Path) -> Result<PathBuf, NotInstalled> {
    let bare = matches!(
        spec.components().collect::<Vec<_>>().as_slice(),
        [Component::Normal(_)]
    );
    if spec.exists() || !bare {
        return Ok(spec.to_path_buf());
    }
    let searched = bundle_dirs();
    searched
        .iter()
        .map(|d| d.join(spec))
        .find(|d| d.is_dir())
        .ok_or_else(|| NotInstalled {
            name: spec.display().to_string(),
            searched,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_finds_the_installed_bundle_and_an_existing_path_wins() {
        let found = locate_bundle(Path::new(DEFAULT_BUNDLE)).unwrap();
        assert!(found.join("bundle.toml").is_file(), "{}", found.display());
        let here = tempfile::tempdir().unwrap();
        let local = here.path().join(DEFAULT_BUNDLE);
        std::fs::create_dir(&local).unwrap();
        assert_eq!(locate_bundle(&local).unwrap(), local);
    }

    #[test]
    fn an_unknown_name_says_where_it_looked_and_a_path_is_left_to_the_loader() {
        let err = locate_bundle(Path::new("no-such-bundle")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("no bundle `no-such-bundle`"), "{text}");
        assert!(text.contains("runtime/infer/../bundles"), "{text}");
        let path = Path::new("somewhere/no-such-bundle");
        assert_eq!(locate_bundle(path).unwrap(), path);
    }
}
