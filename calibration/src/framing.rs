//! How a clip frames its action: centred on it, or as a live sliding window
//! meets it. Shared by generated sets (`artrt synth`) and sets cut from
//! recordings (`artrt cut`).

/// How a clip frames its action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Framing {
    /// An element's middle sits within 5 % of its duration of the clip's
    /// middle; "no element" clips hold no frame of an element.
    #[default]
    Centred,
    /// Clips as a live sliding window meets them, cut from a performer's
    /// routine wherever the window falls: an element clip holds at least
    /// [`LIVE_ELEMENT_SHARE`] of its element's frames (or as many as the
    /// clip has), with the routine's pause around them; a "no element" clip
    /// may hold up to [`LIVE_BACKGROUND_SHARE`] of the frames of the element
    /// before it (its landing) or after it (its take-off).
    Live,
}

impl std::str::FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "centred" => Ok(Framing::Centred),
            "live" => Ok(Framing::Live),
            other => Err(format!(
                "unknown framing {other:?} (expected `centred` or `live`)"
            )),
        }
    }
}

impl std::fmt::Display for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Framing::Centred => "centred",
            Framing::Live => "live",
        })
    }
}

impl Framing {
    /// Largest share of the frames of the element before or after it that
    /// a "no element" clip may hold.
    pub fn background_spill(self) -> f32 {
        match self {
            Framing::Centred => 0.0,
            Framing::Live => LIVE_BACKGROUND_SHARE,
        }
    }
}

/// Smallest share of an element's frames a [`Framing::Live`] element clip holds.
pub const LIVE_ELEMENT_SHARE: f32 = 0.6;
/// Largest share of an element's frames a [`Framing::Live`] "no element"
/// clip may hold (of the landing before it or the take-off after it).
pub const LIVE_BACKGROUND_SHARE: f32 = 0.35;

/// Earliest and latest first frame of a `len`-frame window that holds
/// [`LIVE_ELEMENT_SHARE`] of the frames of an element at `start` lasting
/// `frames` (or all the window can hold).
pub fn live_window_starts(start: u64, frames: u64, len: u64) -> (u64, u64) {
    let need = ((LIVE_ELEMENT_SHARE * frames as f32).ceil() as u64)
        .min(frames)
        .min(len);
    ((start + need).saturating_sub(len), start + frames - need)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_windows_hold_the_element_share_at_both_extremes() {
        for (start, frames, len) in [
            (30, 13, 16),
            (30, 25, 16),
            (40, 16, 16),
            (20, 40, 8),
            (5, 14, 64),
        ] {
            let (lo, hi) = live_window_starts(start, frames, len);
            assert!(lo <= hi, "{start} {frames} {len}: empty range");
            let need = ((LIVE_ELEMENT_SHARE * frames as f32).ceil() as u64).min(len);
            for a in [lo, hi] {
                let overlap = (a + len).min(start + frames).saturating_sub(a.max(start));
                assert!(
                    overlap >= need,
                    "{start} {frames} {len}: window at {a} holds {overlap} < {need} element frames"
                );
            }
            let outside = |a: u64| (a + len).min(start + frames).saturating_sub(a.max(start));
            if lo > 0 {
                assert!(
                    outside(lo - 1) < need,
                    "{start} {frames} {len}: range starts late"
                );
            }
            assert!(
                outside(hi + 1) < need,
                "{start} {frames} {len}: range ends early"
            );
        }
    }
}
