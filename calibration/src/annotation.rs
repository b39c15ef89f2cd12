//! One line of `annotations.txt`: `<clip_dir> <num_frames> <class_id>`.

use crate::error::AnnotationError;
use std::path::{Component, Path};

/// One clip of a set as listed in `annotations.txt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Directory of the clip's frames, relative to the set.
    pub clip_dir: String,
    /// Number of frames (`img_00001.jpg` to `img_<num_frames>.jpg`).
    pub num_frames: u32,
    /// Class id: the line index in `labels.txt`.
    pub class_id: usize,
}

impl Annotation {
    /// Parses a line (without its line break).
    pub fn parse(line: &str) -> Result<Annotation, AnnotationError> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [dir, frames, class] = fields[..] else {
            return Err(AnnotationError::FieldCount(fields.len()));
        };
        check_clip_dir(dir)?;
        let num_frames = frames
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0 && frames.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| AnnotationError::NumFrames(frames.to_string()))?;
        let class_id = class
            .parse::<usize>()
            .ok()
            .filter(|_| class.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| AnnotationError::ClassId(class.to_string()))?;
        Ok(Annotation {
            clip_dir: dir.to_string(),
            num_frames,
            class_id,
        })
    }

    /// The line as written to `annotations.txt`.
    pub fn to_line(&self) -> String {
        format!("{} {} {}", self.clip_dir, self.num_frames, self.class_id)
    }
}

/// A clip directory must stay inside the set and be printable.
pub(crate) fn check_clip_dir(dir: &str) -> Result<(), AnnotationError> {
    let bad = || AnnotationError::ClipDir(dir.to_string());
    if dir.is_empty() || dir.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad());
    }
    let p = Path::new(dir);
    if !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(bad());
    }
    Ok(())
}

/// File name of frame `k` (1-based).
pub fn frame_file_name(k: u32) -> String {
    format!("img_{k:05}.jpg")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_rejects() {
        let a = Annotation::parse("clip_00003 16 5").unwrap();
        assert_eq!(
            a,
            Annotation {
                clip_dir: "clip_00003".into(),
                num_frames: 16,
                class_id: 5
            }
        );
        assert_eq!(Annotation::parse(&a.to_line()).unwrap(), a);
        assert_eq!(
            Annotation::parse("a 16"),
            Err(AnnotationError::FieldCount(2))
        );
        assert_eq!(
            Annotation::parse("a 0 1"),
            Err(AnnotationError::NumFrames("0".into()))
        );
        assert_eq!(
            Annotation::parse("a +3 1"),
            Err(AnnotationError::NumFrames("+3".into()))
        );
        assert_eq!(
            Annotation::parse("a 3 -1"),
            Err(AnnotationError::ClassId("-1".into()))
        );
        assert_eq!(
            Annotation::parse("../x 3 1"),
            Err(AnnotationError::ClipDir("../x".into()))
        );
        assert_eq!(
            Annotation::parse("/etc 3 1"),
            Err(AnnotationError::ClipDir("/etc".into()))
        );
        assert!(Annotation::parse("sub/clip 3 1").is_ok());
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC*") {
            let _ = Annotation::parse(&line);
        }

        #[test]
        fn round_trips(dir in "[A-Za-z0-9_.-]{1,12}(/[A-Za-z0-9_-]{1,8})?", n in 1u32.., c in 0usize..100_000) {
            prop_assume!(dir.split('/').all(|s| s != "." && s != ".."));
            let a = Annotation { clip_dir: dir, num_frames: n, class_id: c };
            prop_assert_eq!(Annotation::parse(&a.to_line()).unwrap(), a);
        }
    }
}
