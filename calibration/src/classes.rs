//! The classes of the synthetic gym: gymnastics elements defined by a few
//! independent details, so that pairs of classes differ in exactly one.

use crate::figure::Part;

/// Direction of the somersault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Head travels backwards.
    Backward,
    /// Head travels forwards.
    Forward,
}

/// Body shape held in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Hips and knees bent, hands on the shins.
    Tucked,
    /// Hips bent, knees straight, arms reaching along the legs.
    Piked,
    /// Straight body, arms overhead.
    Stretched,
}

/// Arm action in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arms {
    /// The arm position that belongs to the shape.
    Shape,
    /// Forearms folded across the chest.
    Crossed,
}

/// How the element ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Landing {
    /// Feet together, arms raised, no step.
    Stuck,
    /// One foot steps back on landing and stays apart.
    StepOut,
}

/// One class: an element and the details that define it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element {
    /// Label in FineGym's style; printable ASCII without `$ * , \ ! ~`.
    pub label: &'static str,
    /// Somersault direction.
    pub direction: Direction,
    /// Shape in flight.
    pub shape: Shape,
    /// Turns about the long axis in half turns (0, 1 or 2).
    pub half_twists: u8,
    /// Arm action in flight.
    pub arms: Arms,
    /// Landing.
    pub landing: Landing,
}

const fn el(
    label: &'static str,
    direction: Direction,
    shape: Shape,
    half_twists: u8,
    arms: Arms,
    landing: Landing,
) -> Element {
    Element {
        label,
        direction,
        shape,
        half_twists,
        arms,
        landing,
    }
}

use Arms::{Crossed, Shape as ShapeArms};
use Direction::{Backward, Forward};
use Landing::{StepOut, Stuck};
use Shape::{Piked, Stretched, Tucked};

/// The classes, in class-id order.
pub const ELEMENTS: [Element; 12] = [
    el(
        "salto backward tucked",
        Backward,
        Tucked,
        0,
        ShapeArms,
        Stuck,
    ),
    el(
        "salto backward tucked with 1 twist",
        Backward,
        Tucked,
        2,
        ShapeArms,
        Stuck,
    ),
    el("salto backward piked", Backward, Piked, 0, ShapeArms, Stuck),
    el(
        "salto backward piked with 1 twist",
        Backward,
        Piked,
        2,
        ShapeArms,
        Stuck,
    ),
    el(
        "salto backward stretched",
        Backward,
        Stretched,
        0,
        ShapeArms,
        Stuck,
    ),
    el(
        "salto backward stretched with 1/2 twist",
        Backward,
        Stretched,
        1,
        ShapeArms,
        Stuck,
    ),
    el(
        "salto backward stretched with 1 twist",
        Backward,
        Stretched,
        2,
        ShapeArms,
        Stuck,
    ),
    el("salto forward tucked", Forward, Tucked, 0, ShapeArms, Stuck),
    el("salto forward piked", Forward, Piked, 0, ShapeArms, Stuck),
    el(
        "salto backward tucked arms crossed",
        Backward,
        Tucked,
        0,
        Crossed,
        Stuck,
    ),
    el(
        "salto backward stretched arms crossed",
        Backward,
        Stretched,
        0,
        Crossed,
        Stuck,
    ),
    el(
        "salto backward tucked step-out",
        Backward,
        Tucked,
        0,
        ShapeArms,
        StepOut,
    ),
];

/// Elements the generator also renders that are not among the classes (nor
/// in any clip set `artrt synth` writes): a model trained on [`ELEMENTS`] has
/// never seen them, so a stream holding them (`synthetic:SEED+new`) tests
/// fine-tuning a model on a new class. Their class ids follow
/// [`BACKGROUND`]: `CLASSES + i` for `NEW_ELEMENTS[i]` (see [`element`]).
pub const NEW_ELEMENTS: [Element; 1] = [el(
    "salto forward stretched",
    Forward,
    Stretched,
    0,
    ShapeArms,
    Stuck,
)];

/// The element of a class id: [`ELEMENTS`], then after [`BACKGROUND`] (no
/// element) the [`NEW_ELEMENTS`].
pub fn element(class_id: usize) -> Option<&'static Element> {
    ELEMENTS
        .get(class_id)
        .or_else(|| NEW_ELEMENTS.get(class_id.checked_sub(CLASSES)?))
}

/// Label of the class that is no element: the performer standing, walking,
/// turning or raising the arms between elements.
pub const BACKGROUND_LABEL: &str = "no element";

/// Class id of [`BACKGROUND_LABEL`], after every element.
pub const BACKGROUND: usize = ELEMENTS.len();

/// Number of classes: the elements and the background.
pub const CLASSES: usize = ELEMENTS.len() + 1;

/// The class labels, in class-id order: the elements, then [`BACKGROUND_LABEL`].
pub fn labels() -> Vec<String> {
    ELEMENTS
        .iter()
        .map(|e| e.label)
        .chain([BACKGROUND_LABEL])
        .map(str::to_string)
        .collect()
}

/// Which details a near-twin pair differs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Shape in flight (tucked, piked, stretched).
    Shape,
    /// Turns about the long axis.
    Twist,
    /// Arm action in flight.
    Arms,
    /// Landing.
    Landing,
}

impl Detail {
    /// Body parts in which the two renderings of a pair differ.
    pub fn parts(self) -> &'static [Part] {
        match self {
            Detail::Twist => Part::ALL,
            Detail::Shape => Part::LIMBS,
            Detail::Arms => Part::ARMS,
            Detail::Landing => Part::LEGS,
        }
    }
}

/// A pair of classes that differ in exactly one detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NearTwin {
    /// First class id.
    pub a: usize,
    /// Second class id.
    pub b: usize,
    /// The one detail they differ in.
    pub detail: Detail,
}

/// Every pair of classes that differ in exactly one detail, the direction
/// of the somersault being no detail.
pub fn near_twins() -> Vec<NearTwin> {
    let mut out = Vec::new();
    for (a, x) in ELEMENTS.iter().enumerate() {
        for (b, y) in ELEMENTS.iter().enumerate().skip(a + 1) {
            if x.direction != y.direction {
                continue;
            }
            let diffs = [
                (x.shape != y.shape, Detail::Shape),
                (x.half_twists != y.half_twists, Detail::Twist),
                (x.arms != y.arms, Detail::Arms),
                (x.landing != y.landing, Detail::Landing),
            ];
            let mut which = diffs.iter().filter(|d| d.0).map(|d| d.1);
            if let (Some(detail), None) = (which.next(), which.next()) {
                out.push(NearTwin { a, b, detail });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_and_scoreboard_safe() {
        let labels = labels();
        for (i, l) in labels.iter().enumerate() {
            assert!(!labels[..i].contains(l), "duplicate label {l}");
            assert!(
                l.chars()
                    .all(|c| (' '..='~').contains(&c) && !"$*,\\!~".contains(c)),
                "{l}"
            );
        }
    }

    #[test]
    fn new_elements_are_none_of_the_classes_and_follow_them() {
        for (i, new) in NEW_ELEMENTS.iter().enumerate() {
            assert_eq!(element(CLASSES + i), Some(new));
            assert!(!labels().iter().any(|l| l == new.label), "{}", new.label);
            for x in &ELEMENTS {
                assert_ne!(
                    (x.direction, x.shape, x.half_twists, x.arms, x.landing),
                    (
                        new.direction,
                        new.shape,
                        new.half_twists,
                        new.arms,
                        new.landing
                    ),
                    "{} renders as {}",
                    new.label,
                    x.label
                );
            }
        }
        assert_eq!(element(0), Some(&ELEMENTS[0]));
        assert_eq!(element(BACKGROUND), None);
        assert_eq!(element(CLASSES + NEW_ELEMENTS.len()), None);
    }

    #[test]
    fn every_class_has_a_near_twin_and_details_are_unique() {
        let twins = near_twins();
        for c in 0..ELEMENTS.len() {
            assert!(
                twins.iter().any(|t| t.a == c || t.b == c),
                "class {c} has no near twin"
            );
        }
        for d in [Detail::Shape, Detail::Twist, Detail::Arms, Detail::Landing] {
            assert!(
                twins.iter().any(|t| t.detail == d),
                "no pair differs in {d:?}"
            );
        }
        for (i, x) in ELEMENTS.iter().enumerate() {
            for y in &ELEMENTS[i + 1..] {
                let same = (x.direction, x.shape, x.half_twists, x.arms, x.landing)
                    == (y.direction, y.shape, y.half_twists, y.arms, y.landing);
                assert!(!same, "{} and {} are the same element", x.label, y.label);
            }
        }
    }
}
