//! Labelled elements on a recording's clock: `labels.csv`, and `truth.csv`
//! of a synthetic recording, in one format.
//!
//! A header line `start_ms,end_ms,label`, then one element a line: where it
//! starts and ends, in milliseconds from the recording's first frame, and its
//! label (a bundle's class or a new one). Elements are in time order and do
//! not overlap. Files are replaced atomically, and the one replaced is kept
//! beside it as `NAME.bak`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The header line of a labels file.
pub const HEADER: [&str; 3] = ["start_ms", "end_ms", "label"];

/// Longest label accepted, in bytes.
pub const MAX_LABEL: usize = 64;

/// Largest labels file read.
const MAX_BYTES: u64 = 16 << 20;

/// One labelled element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// First millisecond of the element on the recording's clock.
    pub start_ms: u64,
    /// Millisecond after its last one.
    pub end_ms: u64,
    /// What it is.
    pub label: String,
}

/// What is wrong with a labels file, placed in it.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// The file cannot be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A line is not an element.
    #[error("{path}:{line}: {reason}")]
    Line {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a label's text is not accepted, if it is not.
pub fn check_label(label: &str) -> Result<(), String> {
    if label.trim().is_empty() {
        return Err("empty label".into());
    }
    if label.len() > MAX_LABEL {
        return Err(format!("label longer than {MAX_LABEL} bytes"));
    }
    if label.trim() != label || label.chars().any(|c| c.is_control()) {
        return Err(format!(
            "label {label:?} has control characters or surrounding spaces"
        ));
    }
    Ok(())
}

/// Checks elements in order: each one's times and label, the order, no
/// overlap, and (with `duration_ms`) that each ends within the recording.
/// Returns the index of the element at fault with the reason.
pub fn check(labels: &[Label], duration_ms: Option<u64>) -> Result<(), (usize, String)> {
    let mut previous: Option<&Label> = None;
    for (i, l) in labels.iter().enumerate() {
        check_label(&l.label).map_err(|r| (i, r))?;
        if l.end_ms <= l.start_ms {
            return Err((
                i,
                format!(
                    "ends at {} ms, not after its start {} ms",
                    l.end_ms, l.start_ms
                ),
            ));
        }
        if let Some(d) = duration_ms.filter(|&d| l.end_ms > d) {
            return Err((
                i,
                format!(
                    "ends at {} ms, after the recording's end at {d} ms",
                    l.end_ms
                ),
            ));
        }
        if let Some(p) = previous.filter(|p| l.start_ms < p.end_ms) {
            return Err((
                i,
                format!(
                    "starts at {} ms, before the element before it ({}, {}–{} ms) ends",
                    l.start_ms, p.label, p.start_ms, p.end_ms
                ),
            ));
        }
        previous = Some(l);
    }
    Ok(())
}

/// Reads and checks a labels file (see [`check`]).
pub fn read(path: &Path, duration_ms: Option<u64>) -> Result<Vec<Label>, LabelsError> {
    let io = |reason: String| LabelsError::Io {
        path: path.to_owned(),
        reason,
    };
    let bytes = artrt_files::read_file(path, MAX_BYTES).map_err(|e| io(e.reason()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let at = |line: u64, reason: String| LabelsError::Line {
        path: path.to_owned(),
        line,
        reason,
    };
    let header = reader.headers().map_err(|e| at(1, e.to_string()))?;
    if header.iter().ne(HEADER) {
        return Err(at(1, format!("the header must be `{}`", HEADER.join(","))));
    }
    let mut labels = Vec::new();
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            at(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let label: Label = record
            .deserialize(Some(&csv::StringRecord::from(HEADER.to_vec())))
            .map_err(|e| {
                at(
                    line,
                    format!("expected start_ms,end_ms,label with whole milliseconds: {e}"),
                )
            })?;
        labels.push(label);
        lines.push(line);
    }
    check(&labels, duration_ms).map_err(|(i, reason)| at(lines[i], reason))?;
    Ok(labels)
}

/// Writes checked elements to `path` atomically; an existing file is kept
/// as `NAME.bak`.
pub fn write(path: &Path, labels: &[Label]) -> Result<(), LabelsError> {
    check(labels, None).map_err(|(i, reason)| LabelsError::Io {
        path: path.to_owned(),
        reason: format!("element {}: {reason}", i + 1),
    })?;
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let io = |reason: String| LabelsError::Io {
        path: path.to_owned(),
        reason,
    };
    writer.write_record(HEADER).map_err(|e| io(e.to_string()))?;
    for label in labels {
        writer.serialize(label).map_err(|e| io(e.to_string()))?;
    }
    let bytes = writer.into_inner().map_err(|e| io(e.to_string()))?;
    replace(path, &bytes, true).map_err(|e| io(e.to_string()))
}

/// Writes `bytes` to `path` through a temporary file and a rename; with
/// `keep`, the file it replaces stays beside it as `NAME.bak`.
pub fn replace(path: &Path, bytes: &[u8], keep: bool) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    if keep && path.exists() {
        fs::copy(path, path.with_file_name(format!("{name}.bak")))?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(start_ms: u64, end_ms: u64, label: &str) -> Label {
        Label {
            start_ms,
            end_ms,
            label: label.into(),
        }
    }

    #[test]
    fn labels_round_trip_and_the_replaced_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.csv");
        let first = vec![
            label(0, 900, "salto, tucked"),
            label(1200, 2000, "pirouette"),
        ];
        write(&path, &first).unwrap();
        assert_eq!(read(&path, Some(2000)).unwrap(), first);
        write(&path, &first[1..]).unwrap();
        assert_eq!(read(&path, None).unwrap(), &first[1..]);
        assert_eq!(
            read(&dir.path().join("labels.csv.bak"), None).unwrap(),
            first
        );
    }

    #[test]
    fn a_bad_line_is_placed_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.csv");
        let cases = [
            ("start,end,label\n", ":1:", "header"),
            (
                "start_ms,end_ms,label\n0,100,a\n5x,200,b\n",
                ":3:",
                "whole milliseconds",
            ),
            (
                "start_ms,end_ms,label\n0,100,a\n50,200,b\n",
                ":3:",
                "before the element",
            ),
            (
                "start_ms,end_ms,label\n300,200,a\n",
                ":2:",
                "not after its start",
            ),
            ("start_ms,end_ms,label\n0,100\n", ":2:", ""),
            ("start_ms,end_ms,label\n0,100,\n", ":2:", "empty label"),
            (
                "start_ms,end_ms,label\n0,100,a\n100,9000,b\n",
                ":3:",
                "recording's end",
            ),
        ];
        for (text, line, reason) in cases {
            fs::write(&path, text).unwrap();
            let err = read(&path, Some(5000)).unwrap_err().to_string();
            assert!(
                err.contains(line) && err.contains(reason),
                "{text:?}: {err}"
            );
            assert!(err.contains("labels.csv"), "{err}");
        }
    }
}
