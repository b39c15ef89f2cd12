//! Where the people are in a clip's frames: `<clip_dir>/boxes.json`.
//!
//! ```json
//! {"performer": [[x0, y0, x1, y1], ...], "walker": [[x0, y0, x1, y1], null, ...]}
//! ```
//!
//! One entry per frame of the clip, in order, under each person's key:
//! `performer` is the person doing the element, any other key another
//! person (`walker`: someone walking across the background). A box is in
//! the frame's pixels, `x0 <= x1` and `y0 <= y1`, inside `[0, width] x
//! [0, height]`; `null` where that person is not in the frame. Optional:
//! sets without it have no region ground truth.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File name of a clip's boxes, inside the clip's directory.
pub const BOXES_FILE: &str = "boxes.json";
/// The key of the person performing the element.
pub const PERFORMER: &str = "performer";
/// Largest `boxes.json` read.
pub const MAX_BOXES_BYTES: u64 = 16 << 20;

/// A box `[x0, y0, x1, y1]` in a frame's pixels.
pub type Box2 = [f32; 4];

/// Each person's box in each frame of one clip.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClipBoxes(pub BTreeMap<String, Vec<Option<Box2>>>);

impl ClipBoxes {
    /// The performer's box in every frame, if the file has them.
    pub fn performer(&self) -> Option<&[Option<Box2>]> {
        self.0.get(PERFORMER).map(Vec::as_slice)
    }

    /// Parses and checks the boxes of a clip of `frames` frames of
    /// `width` x `height`; errors name `path` and what is wrong.
    pub fn parse(
        path: &Path,
        bytes: &[u8],
        frames: u32,
        width: u32,
        height: u32,
    ) -> Result<ClipBoxes, Error> {
        let invalid = |reason: String| Error::InvalidClip {
            path: path.to_path_buf(),
            reason,
        };
        let boxes: ClipBoxes =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("not boxes JSON: {e}")))?;
        if boxes.performer().is_none() {
            return Err(invalid(format!("no `{PERFORMER}` key")));
        }
        let (w, h) = (width as f32, height as f32);
        for (who, list) in &boxes.0 {
            if list.len() != frames as usize {
                return Err(invalid(format!(
                    "`{who}` has {} boxes for {frames} frames",
                    list.len()
                )));
            }
            for (i, b) in list.iter().enumerate() {
                let Some([x0, y0, x1, y1]) = *b else { continue };
                let inside = [x0, y0, x1, y1].iter().all(|v| v.is_finite())
                    && 0.0 <= x0
                    && x0 <= x1
                    && x1 <= w
                    && 0.0 <= y0
                    && y0 <= y1
                    && y1 <= h;
                if !inside {
                    return Err(invalid(format!(
                        "`{who}` frame {}: box [{x0}, {y0}, {x1}, {y1}] is not an ordered box inside the {width}x{height} frame",
                        i + 1
                    )));
                }
            }
        }
        Ok(boxes)
    }

    /// The JSON text written to a clip's `boxes.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("boxes serialise")
    }
}
