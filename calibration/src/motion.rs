//! Choreography: the figure's pose and placement over time, for the
//! elements, for standing and for walking.
//!
//! An element runs over element time `u` from 0 (first movement of the
//! take-off) to 1 (settled after the landing). Feet stay planted on the
//! floor while they touch it; in flight the pelvis follows a parabola.

use crate::classes::{Arms, Direction, Element, Landing, Shape};
use crate::figure::{Build, Pose, Skeleton};
use crate::geom::{V3, cos, deg, lerp, rot_y, rot_z, sin, smoothstep};

/// Element time at which the feet leave the floor.
const TAKE_OFF: f32 = 0.11;
/// Element time at which the feet touch down again.
const TOUCH_DOWN: f32 = 0.61;
/// Horizontal travel of a salto, in body heights (backwards for a backward salto).
pub(crate) const TRAVEL: f32 = 0.35;
/// Rise of the pelvis above its take-off height.
const RISE: f32 = 0.40;

const STAND_UP: Pose = Pose::deg(0.0, 0.0, 3.0, 0.0, 90.0, 165.0, 18.0, 0.0, 18.0);
const STAND_DOWN: Pose = Pose::deg(0.0, 0.0, 3.0, 3.0, 90.0, 5.0, 7.0, 12.0, 7.0);
const CROUCH: Pose = Pose::deg(25.0, 60.0, 5.0, 95.0, 125.0, -40.0, 10.0, 10.0, 10.0);
const CROUCH_FORWARD: Pose = Pose::deg(25.0, 60.0, 5.0, 95.0, 125.0, 150.0, 10.0, 10.0, 10.0);
const TAKE_OFF_POSE: Pose = Pose::deg(-5.0, -5.0, 3.0, 0.0, 35.0, 170.0, 15.0, 0.0, 15.0);
const TUCK: Pose = Pose::deg(0.0, 130.0, 8.0, 150.0, 25.0, 25.0, 16.0, 5.0, 12.0);
const PIKE: Pose = Pose::deg(0.0, 115.0, 6.0, 0.0, 20.0, 80.0, 12.0, 0.0, 12.0);
const STRETCH: Pose = Pose::deg(0.0, -8.0, 3.0, 0.0, 20.0, 170.0, 16.0, 0.0, 16.0);
const OPEN: Pose = Pose::deg(0.0, 25.0, 5.0, 15.0, 70.0, 120.0, 15.0, 0.0, 15.0);
const LAND: Pose = Pose::deg(20.0, 55.0, 5.0, 80.0, 115.0, 95.0, 15.0, 0.0, 15.0);

/// Forearms folded across the chest, the left one a little higher. In the
/// tuck the thighs cover the chest, so there the elbows rise to shoulder
/// height and the forearms cross in front of the shoulders, above the knees.
fn crossed_arms(shape: Shape) -> Pose {
    let (flex, elbow) = match shape {
        Shape::Tucked => (95.0, [deg(50.0), deg(36.0)]),
        Shape::Piked | Shape::Stretched => (12.0, [deg(104.0), deg(86.0)]),
    };
    let mut p = Pose::deg(0.0, 0.0, 0.0, 0.0, 0.0, flex, 8.0, 94.0, -68.0);
    p.elbow = elbow;
    p
}

/// Lowest point of leg `i` below the hip (foot or toe), in the pelvis frame.
fn leg_reach(p: &Pose, b: &Build, i: usize) -> f32 {
    let (a, s) = (p.hip_flex[i], p.hip_flex[i] - p.knee[i]);
    let lat = cos(p.hip_lat[i]);
    let ankle = (b.thigh * cos(a) + b.shank * cos(s)) * lat;
    ankle + (b.foot * cos(s + p.ankle[i]) * lat).max(0.0)
}

/// Puts the left foot a step behind, toes pointed, reaching down exactly as
/// far as the right foot, so that the right leg, the pelvis and everything
/// above stay where the stuck landing has them.
fn step_out(p: Pose, b: &Build) -> Pose {
    const POINT: f32 = deg(15.0);
    let mut p = p;
    let a = p.hip_flex[1] - deg(35.0);
    let lat = cos(p.hip_lat[0]);
    let need = leg_reach(&p, b, 1) / lat - b.thigh * cos(a);
    // shank * cos(s) + foot * cos(s + POINT) = amp * cos(s - phi)
    let (c, d) = (b.shank + b.foot * cos(POINT), b.foot * sin(POINT));
    let amp = (c * c + d * d).sqrt();
    let phi = -libm::atan2f(d, c);
    let s = phi - libm::acosf((need / amp).clamp(-1.0, 1.0));
    p.hip_flex[0] = a;
    p.knee[0] = (a - s).max(0.0);
    p.ankle[0] = POINT;
    p
}

/// Per-performance variation of an element that is not its class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Style {
    /// +1 or -1: which way the twists turn.
    pub twist_sign: f32,
    /// Time warp of the middle of the element (about ±0.04).
    pub warp: f32,
}

/// A posed figure placed in the performer frame (feet on the floor at `y = 0`).
pub(crate) struct Placed {
    pub skeleton: Skeleton,
}

/// Rotates a posed skeleton: `twist` about the long axis, then `salto`
/// about the side axis, then moves the pelvis to `root`.
fn orient(s: &Skeleton, twist: f32, salto: f32, root: V3) -> Skeleton {
    s.map(|p| rot_z(rot_y(p, twist), salto) + root)
}

/// Which feet carry the body.
#[derive(Clone, Copy)]
enum Stance {
    /// Both: the lower one is on the floor, their middle at the anchor.
    Both,
    /// The right one (the left one may step elsewhere).
    Right,
}

/// Pelvis position that puts the stance foot on the floor at `anchor_x`.
fn ground_root(oriented_at_origin: &Skeleton, b: &Build, anchor_x: f32, stance: Stance) -> V3 {
    let s = oriented_at_origin;
    let (low, mid_x) = match stance {
        Stance::Both => (
            [s.ankle[0].y, s.ankle[1].y, s.toe[0].y, s.toe[1].y]
                .into_iter()
                .fold(f32::INFINITY, f32::min),
            0.5 * (s.ankle[0].x + s.ankle[1].x),
        ),
        Stance::Right => (s.ankle[1].y.min(s.toe[1].y), s.ankle[1].x),
    };
    V3::new(anchor_x - mid_x, 0.5 * b.w_foot - low, 0.0)
}

fn blend(a: &Pose, b: &Pose, e0: f32, e1: f32, u: f32) -> Pose {
    a.lerp(b, smoothstep(e0, e1, u))
}

/// The element's pose, twist and salto angle at element time `u`.
fn element_pose(el: &Element, u: f32, style: &Style, b: &Build) -> (Pose, f32, f32) {
    let shape = match el.shape {
        Shape::Tucked => TUCK,
        Shape::Piked => PIKE,
        Shape::Stretched => STRETCH,
    };
    let shape = match el.arms {
        Arms::Shape => shape,
        Arms::Crossed => shape.with_arms(&crossed_arms(el.shape)),
    };
    let stepping = el.landing == Landing::StepOut;
    let (open, land, last) = if stepping {
        (step_out(OPEN, b), step_out(LAND, b), step_out(STAND_UP, b))
    } else {
        (OPEN, LAND, STAND_UP)
    };
    let crouch = match el.direction {
        Direction::Backward => CROUCH,
        Direction::Forward => CROUCH_FORWARD,
    };
    let pose = if u < 0.06 {
        blend(&STAND_UP, &crouch, 0.0, 0.06, u)
    } else if u < TAKE_OFF {
        blend(&crouch, &TAKE_OFF_POSE, 0.06, TAKE_OFF, u)
    } else if u < 0.2 {
        blend(&TAKE_OFF_POSE, &shape, TAKE_OFF, 0.2, u)
    } else if u < 0.48 {
        shape
    } else if u < 0.59 {
        blend(&shape, &open, 0.48, 0.59, u)
    } else if u < 0.7 {
        blend(&open, &land, 0.59, 0.7, u)
    } else {
        blend(&land, &last, 0.7, 0.86, u)
    };
    let dir = match el.direction {
        Direction::Backward => 1.0,
        Direction::Forward => -1.0,
    };
    let salto = dir * std::f32::consts::TAU * smoothstep(0.06, 0.66, u);
    let twist = style.twist_sign
        * f32::from(el.half_twists)
        * std::f32::consts::PI
        * smoothstep(0.13, 0.59, u);
    (pose, twist, salto)
}

/// Landing spot of an element, relative to its take-off spot.
pub(crate) fn travel(el: &Element) -> f32 {
    match el.direction {
        Direction::Backward => -TRAVEL,
        Direction::Forward => TRAVEL,
    }
}

/// The figure at element time `u` (clamped to `[0, 1]`), take-off spot at `x = 0`.
pub(crate) fn element(el: &Element, u: f32, style: &Style, b: &Build) -> Placed {
    let u = u.clamp(0.0, 1.0);
    let u = u + style.warp * sin(std::f32::consts::PI * u);
    let at = |u: f32| {
        let (pose, twist, salto) = element_pose(el, u, style, b);
        orient(&Skeleton::pose(&pose, b), twist, salto, V3::default())
    };
    let s0 = at(u);
    let root = if u <= TAKE_OFF {
        ground_root(&s0, b, 0.0, Stance::Right)
    } else if u >= TOUCH_DOWN {
        ground_root(&s0, b, travel(el), Stance::Right)
    } else {
        let r0 = ground_root(&at(TAKE_OFF), b, 0.0, Stance::Right);
        let r1 = ground_root(&at(TOUCH_DOWN), b, travel(el), Stance::Right);
        let s = (u - TAKE_OFF) / (TOUCH_DOWN - TAKE_OFF);
        V3::new(
            lerp(r0.x, r1.x, s),
            lerp(r0.y, r1.y, s) + 4.0 * RISE * s * (1.0 - s),
            0.0,
        )
    };
    Placed {
        skeleton: s0.map(|p| p + root),
    }
}

/// Standing still at `x`, blending from `from` to `to`; `turn` rotates
/// the body about its long axis.
pub(crate) fn stand(from: &Pose, to: &Pose, t: f32, x: f32, turn: f32, b: &Build) -> Placed {
    let pose = from.lerp(to, smoothstep(0.0, 1.0, t));
    let s = orient(&Skeleton::pose(&pose, b), turn, 0.0, V3::default());
    let root = ground_root(&s, b, x, Stance::Both);
    Placed {
        skeleton: s.map(|p| p + root),
    }
}

/// The idle standing pose (arms down).
pub(crate) fn idle_pose() -> Pose {
    STAND_DOWN
}

/// The pose an element starts from (arms raised).
pub(crate) fn ready_pose() -> Pose {
    STAND_UP
}

/// The pose an element ends in.
pub(crate) fn final_pose(el: &Element, b: &Build) -> Pose {
    match el.landing {
        Landing::Stuck => STAND_UP,
        Landing::StepOut => step_out(STAND_UP, b),
    }
}

/// Walking forwards (towards `+x`) at step phase `phase` (radians), pelvis above `x`.
pub(crate) fn walk(phase: f32, x: f32, b: &Build) -> Placed {
    let s = sin(phase);
    let c = sin(phase + 1.3);
    let mut p = STAND_DOWN;
    p.hip_flex = [deg(24.0) * s, -deg(24.0) * s];
    p.knee = [
        deg(40.0) * c.max(0.0) + deg(5.0),
        deg(40.0) * (-c).max(0.0) + deg(5.0),
    ];
    p.shoulder_flex = [-deg(22.0) * s, deg(22.0) * s];
    p.elbow = [deg(20.0); 2];
    let p = p.feet_flat();
    let sk = Skeleton::pose(&p, b);
    let root = ground_root(&sk, b, x, Stance::Both);
    Placed {
        skeleton: sk.map(|q| q + root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classes::ELEMENTS;

    const STYLE: Style = Style {
        twist_sign: 1.0,
        warp: 0.0,
    };

    #[test]
    fn feet_are_planted_before_take_off_and_after_touch_down() {
        let b = Build::AVERAGE;
        for el in &ELEMENTS {
            for u in [0.0, 0.05, 0.1, 0.65, 0.8, 1.0] {
                let s = element(el, u, &STYLE, &b).skeleton;
                let low = s
                    .ankle
                    .iter()
                    .chain(&s.toe)
                    .map(|p| p.y)
                    .fold(f32::INFINITY, f32::min);
                assert!(
                    (low - 0.5 * b.w_foot).abs() < 1e-4,
                    "{} at u={u}: lowest foot {low}",
                    el.label
                );
            }
            let mid = element(el, 0.35, &STYLE, &b).skeleton;
            let low = mid
                .points()
                .iter()
                .map(|p| p.y)
                .fold(f32::INFINITY, f32::min);
            assert!(
                low > 0.05,
                "{} touches the floor mid-flight ({low})",
                el.label
            );
        }
    }

    #[test]
    fn a_salto_turns_the_head_over() {
        let b = Build::AVERAGE;
        for el in &ELEMENTS {
            let s = element(el, 0.36, &STYLE, &b).skeleton;
            assert!(
                s.head.y < s.pelvis.y + 0.1,
                "{}: head not low at mid-flight",
                el.label
            );
            let end = element(el, 1.0, &STYLE, &b).skeleton;
            assert!(
                end.head.y > end.pelvis.y + 0.3,
                "{}: not upright at the end",
                el.label
            );
        }
    }
}
