//! The committed fuzz corpus (`tests/fuzz/corpus/`) replayed through the
//! checks the fuzz targets make, in every test run: each seed and each input
//! that once failed stays a case that must pass.

use std::path::PathBuf;

use artrt_tests::bundle_fixtures::workspace;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = workspace().join("tests/fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn arts_sentences_parse_or_drop_and_accepted_ones_encode_back() {
    let mut accepted = 0;
    for (path, data) in corpus("arts_sentence") {
        let mut parser = arts::Parser::new();
        let mut start = 0;
        for (i, &b) in data.iter().enumerate() {
            if b == b'$' {
                start = i;
            }
            if let Some(Ok(sentence)) = parser.push(b) {
                assert_eq!(
                    &sentence.encode().unwrap()[..],
                    &data[start..=i],
                    "{}",
                    path.display()
                );
                accepted += 1;
            }
        }
    }
    assert!(accepted >= 4, "the spec's examples are in the corpus");
}

#[test]
fn manifests_npy_files_and_profiles_give_a_value_or_an_error() {
    let manifests = corpus("bundle_manifest");
    let committed = manifests
        .iter()
        .filter(|(_, m)| artrt_infer::bundle::check_manifest(m).is_ok())
        .count();
    assert!(committed >= 1, "the committed bundle's manifest passes");
    let npys = corpus("npy_file");
    assert!(
        npys.iter()
            .any(|(_, n)| artrt_infer::bundle::check_npy(n).is_ok())
    );
    let mut profiles = 0;
    for (path, data) in corpus("board_profile") {
        if let Ok(text) = std::str::from_utf8(&data) {
            profiles += usize::from(
                artrt_live::board::Profile::parse(text, &path.display().to_string()).is_ok(),
            );
        }
    }
    assert!(profiles >= 5, "the committed profiles parse");
}
