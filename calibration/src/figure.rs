//! The articulated figure: body proportions, joint angles and forward
//! kinematics.
//!
//! Lengths are in body heights. The performer frame has `x` pointing where
//! the body faces when upright, `y` up and `z` to the body's right; the
//! pelvis is the origin before the whole-body rotations.

use crate::geom::{V3, cos, deg, lerp, rot_z, sin};
use rand::Rng;

/// A drawn body part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// Head and hair.
    Head,
    /// Neck, chest and pelvis.
    Torso,
    /// Left upper arm.
    UpperArmL,
    /// Right upper arm.
    UpperArmR,
    /// Left forearm and hand.
    ForearmL,
    /// Right forearm and hand.
    ForearmR,
    /// Left thigh.
    ThighL,
    /// Right thigh.
    ThighR,
    /// Left shank.
    ShankL,
    /// Right shank.
    ShankR,
    /// Left foot.
    FootL,
    /// Right foot.
    FootR,
}

impl Part {
    /// Every part.
    pub const ALL: &'static [Part] = &[
        Part::Head,
        Part::Torso,
        Part::UpperArmL,
        Part::UpperArmR,
        Part::ForearmL,
        Part::ForearmR,
        Part::ThighL,
        Part::ThighR,
        Part::ShankL,
        Part::ShankR,
        Part::FootL,
        Part::FootR,
    ];
    /// Both arms.
    pub const ARMS: &'static [Part] = &[
        Part::UpperArmL,
        Part::UpperArmR,
        Part::ForearmL,
        Part::ForearmR,
    ];
    /// Both legs.
    pub const LEGS: &'static [Part] = &[
        Part::ThighL,
        Part::ThighR,
        Part::ShankL,
        Part::ShankR,
        Part::FootL,
        Part::FootR,
    ];
    /// Arms and legs.
    pub const LIMBS: &'static [Part] = &[
        Part::UpperArmL,
        Part::UpperArmR,
        Part::ForearmL,
        Part::ForearmR,
        Part::ThighL,
        Part::ThighR,
        Part::ShankL,
        Part::ShankR,
        Part::FootL,
        Part::FootR,
    ];

    /// Position in [`Part::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Segment lengths and widths of one performer, in body heights.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Build {
    pub torso: f32,
    pub neck: f32,
    pub head_r: f32,
    pub shoulder_half: f32,
    pub hip_half: f32,
    pub upper_arm: f32,
    pub forearm: f32,
    pub thigh: f32,
    pub shank: f32,
    pub foot: f32,
    /// Widths of torso (side view), upper arm, forearm, thigh, shank, foot.
    pub w_torso: f32,
    pub w_upper_arm: f32,
    pub w_forearm: f32,
    pub w_thigh: f32,
    pub w_shank: f32,
    pub w_foot: f32,
}

impl Build {
    /// Average proportions.
    pub const AVERAGE: Build = Build {
        torso: 0.30,
        neck: 0.10,
        head_r: 0.064,
        shoulder_half: 0.105,
        hip_half: 0.08,
        upper_arm: 0.17,
        forearm: 0.19,
        thigh: 0.245,
        shank: 0.245,
        foot: 0.07,
        w_torso: 0.13,
        w_upper_arm: 0.062,
        w_forearm: 0.052,
        w_thigh: 0.088,
        w_shank: 0.07,
        w_foot: 0.045,
    };

    /// Proportions varied by a few per cent each.
    pub fn sample(rng: &mut impl Rng) -> Build {
        let a = Build::AVERAGE;
        let mut j = |v: f32, r: f32| v * rng.random_range(1.0 - r..1.0 + r);
        Build {
            torso: j(a.torso, 0.06),
            neck: j(a.neck, 0.08),
            head_r: j(a.head_r, 0.08),
            shoulder_half: j(a.shoulder_half, 0.1),
            hip_half: j(a.hip_half, 0.1),
            upper_arm: j(a.upper_arm, 0.08),
            forearm: j(a.forearm, 0.08),
            thigh: j(a.thigh, 0.08),
            shank: j(a.shank, 0.08),
            foot: j(a.foot, 0.1),
            w_torso: j(a.w_torso, 0.12),
            w_upper_arm: j(a.w_upper_arm, 0.12),
            w_forearm: j(a.w_forearm, 0.12),
            w_thigh: j(a.w_thigh, 0.12),
            w_shank: j(a.w_shank, 0.12),
            w_foot: a.w_foot,
        }
    }
}

/// Joint angles in radians; pairs are `[left, right]`.
///
/// Limb directions are measured from straight down: `flex` turns a limb
/// forwards (towards `+x`), `lat` out to the side (negative: across the
/// body).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Pose {
    /// Forward bend of the torso over the pelvis.
    pub spine: f32,
    pub hip_flex: [f32; 2],
    pub hip_lat: [f32; 2],
    /// Knee bend (the shank turns backwards).
    pub knee: [f32; 2],
    /// Foot angle from the shank (pi/2: at right angles, pointing forwards).
    pub ankle: [f32; 2],
    pub shoulder_flex: [f32; 2],
    pub shoulder_lat: [f32; 2],
    /// Elbow bend (the forearm turns forwards).
    pub elbow: [f32; 2],
    /// Side angle of the forearm.
    pub forearm_lat: [f32; 2],
}

fn lerp2(a: [f32; 2], b: [f32; 2], t: f32) -> [f32; 2] {
    [lerp(a[0], b[0], t), lerp(a[1], b[1], t)]
}

impl Pose {
    /// A pose from angles in degrees, the same on both sides.
    #[allow(clippy::too_many_arguments)]
    pub const fn deg(
        spine: f32,
        hip_flex: f32,
        hip_lat: f32,
        knee: f32,
        ankle: f32,
        shoulder_flex: f32,
        shoulder_lat: f32,
        elbow: f32,
        forearm_lat: f32,
    ) -> Pose {
        Pose {
            spine: deg(spine),
            hip_flex: [deg(hip_flex); 2],
            hip_lat: [deg(hip_lat); 2],
            knee: [deg(knee); 2],
            ankle: [deg(ankle); 2],
            shoulder_flex: [deg(shoulder_flex); 2],
            shoulder_lat: [deg(shoulder_lat); 2],
            elbow: [deg(elbow); 2],
            forearm_lat: [deg(forearm_lat); 2],
        }
    }

    /// Linear blend from `self` (t = 0) to `o` (t = 1).
    pub fn lerp(&self, o: &Pose, t: f32) -> Pose {
        Pose {
            spine: lerp(self.spine, o.spine, t),
            hip_flex: lerp2(self.hip_flex, o.hip_flex, t),
            hip_lat: lerp2(self.hip_lat, o.hip_lat, t),
            knee: lerp2(self.knee, o.knee, t),
            ankle: lerp2(self.ankle, o.ankle, t),
            shoulder_flex: lerp2(self.shoulder_flex, o.shoulder_flex, t),
            shoulder_lat: lerp2(self.shoulder_lat, o.shoulder_lat, t),
            elbow: lerp2(self.elbow, o.elbow, t),
            forearm_lat: lerp2(self.forearm_lat, o.forearm_lat, t),
        }
    }

    /// The same legs with the arms of `arms`.
    pub fn with_arms(&self, arms: &Pose) -> Pose {
        Pose {
            shoulder_flex: arms.shoulder_flex,
            shoulder_lat: arms.shoulder_lat,
            elbow: arms.elbow,
            forearm_lat: arms.forearm_lat,
            ..*self
        }
    }

    /// The same pose with both feet flat (for standing on the floor).
    pub fn feet_flat(mut self) -> Pose {
        for s in 0..2 {
            self.ankle[s] = deg(90.0) - (self.hip_flex[s] - self.knee[s]);
        }
        self
    }
}

/// Unit direction of a limb turned `flex` forwards and `lat` sideways on
/// side `side` (-1 left, +1 right).
fn limb_dir(flex: f32, lat: f32, side: f32) -> V3 {
    let cl = cos(lat);
    V3::new(sin(flex) * cl, -cos(flex) * cl, side * sin(lat))
}

/// Joint positions of a posed figure.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Skeleton {
    pub pelvis: V3,
    pub neck: V3,
    pub head: V3,
    /// A point behind the head where the hair is drawn.
    pub hair: V3,
    /// Points in front of chest and pelvis (the way the body faces).
    pub chest_front: V3,
    pub shoulder: [V3; 2],
    pub elbow: [V3; 2],
    pub hand: [V3; 2],
    pub hip: [V3; 2],
    pub knee: [V3; 2],
    pub ankle: [V3; 2],
    pub toe: [V3; 2],
}

impl Skeleton {
    /// Forward kinematics in the performer frame, pelvis at the origin.
    pub fn pose(pose: &Pose, b: &Build) -> Skeleton {
        let spine = rot_z(V3::new(0.0, 1.0, 0.0), -pose.spine);
        let tilt = |v: V3| rot_z(v, -pose.spine);
        let neck = spine * b.torso;
        let head = neck + spine * b.neck;
        let mut s = Skeleton {
            pelvis: V3::default(),
            neck,
            head,
            hair: head + tilt(V3::new(-0.3 * b.head_r, 0.25 * b.head_r, 0.0)),
            chest_front: neck + tilt(V3::new(0.5 * b.w_torso, -0.35 * b.torso, 0.0)),
            ..Skeleton::default()
        };
        for i in 0..2 {
            let side = if i == 0 { -1.0 } else { 1.0 };
            let sh = neck + tilt(V3::new(0.0, -0.03, side * b.shoulder_half));
            let upper = tilt(limb_dir(pose.shoulder_flex[i], pose.shoulder_lat[i], side));
            let fore = tilt(limb_dir(
                pose.shoulder_flex[i] + pose.elbow[i],
                pose.forearm_lat[i],
                side,
            ));
            s.shoulder[i] = sh;
            s.elbow[i] = sh + upper * b.upper_arm;
            s.hand[i] = s.elbow[i] + fore * b.forearm;
            let hip = V3::new(0.0, -0.02, side * b.hip_half);
            let thigh = limb_dir(pose.hip_flex[i], pose.hip_lat[i], side);
            let shank_angle = pose.hip_flex[i] - pose.knee[i];
            let shank = limb_dir(shank_angle, pose.hip_lat[i], side);
            let foot = limb_dir(shank_angle + pose.ankle[i], pose.hip_lat[i], side);
            s.hip[i] = hip;
            s.knee[i] = hip + thigh * b.thigh;
            s.ankle[i] = s.knee[i] + shank * b.shank;
            s.toe[i] = s.ankle[i] + foot * b.foot;
        }
        s
    }

    /// Applies `f` to every joint.
    pub fn map(&self, f: impl Fn(V3) -> V3) -> Skeleton {
        let m2 = |a: [V3; 2]| [f(a[0]), f(a[1])];
        Skeleton {
            pelvis: f(self.pelvis),
            neck: f(self.neck),
            head: f(self.head),
            hair: f(self.hair),
            chest_front: f(self.chest_front),
            shoulder: m2(self.shoulder),
            elbow: m2(self.elbow),
            hand: m2(self.hand),
            hip: m2(self.hip),
            knee: m2(self.knee),
            ankle: m2(self.ankle),
            toe: m2(self.toe),
        }
    }

    /// Every joint, for extents.
    #[cfg(test)]
    pub fn points(&self) -> [V3; 19] {
        [
            self.pelvis,
            self.neck,
            self.head,
            self.hair,
            self.chest_front,
            self.shoulder[0],
            self.shoulder[1],
            self.elbow[0],
            self.elbow[1],
            self.hand[0],
            self.hand[1],
            self.hip[0],
            self.hip[1],
            self.knee[0],
            self.knee[1],
            self.ankle[0],
            self.ankle[1],
            self.toe[0],
            self.toe[1],
        ]
    }
}
