//! Small 3D vector maths in `f32`, with the portable `libm` functions so
//! that every machine computes the same figure, bit for bit.

use std::ops::{Add, Mul, Neg, Sub};

/// A point or direction in 3D.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct V3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

impl V3 {
    pub const fn new(x: f32, y: f32, z: f32) -> Self {
        Self { x, y, z }
    }

    pub fn dot(self, o: Self) -> f32 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    pub fn cross(self, o: Self) -> Self {
        Self::new(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }

    pub fn norm(self) -> Self {
        let l = self.dot(self).sqrt();
        if l > 0.0 { self * (1.0 / l) } else { self }
    }

    pub fn lerp(self, o: Self, t: f32) -> Self {
        self + (o - self) * t
    }
}

impl Add for V3 {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl Sub for V3 {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f32> for V3 {
    type Output = Self;
    fn mul(self, s: f32) -> Self {
        Self::new(self.x * s, self.y * s, self.z * s)
    }
}

impl Neg for V3 {
    type Output = Self;
    fn neg(self) -> Self {
        Self::new(-self.x, -self.y, -self.z)
    }
}

pub(crate) fn sin(a: f32) -> f32 {
    libm::sinf(a)
}

pub(crate) fn cos(a: f32) -> f32 {
    libm::cosf(a)
}

/// Degrees to radians.
pub(crate) const fn deg(d: f32) -> f32 {
    d * (std::f32::consts::PI / 180.0)
}

/// Rotation about the z axis (x towards y).
pub(crate) fn rot_z(v: V3, a: f32) -> V3 {
    let (s, c) = (sin(a), cos(a));
    V3::new(v.x * c - v.y * s, v.x * s + v.y * c, v.z)
}

/// Rotation about the y axis (z towards x).
pub(crate) fn rot_y(v: V3, a: f32) -> V3 {
    let (s, c) = (sin(a), cos(a));
    V3::new(v.x * c + v.z * s, v.y, -v.x * s + v.z * c)
}

pub(crate) fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// Hermite step from 0 at `e0` to 1 at `e1`.
pub(crate) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A well-mixed 64-bit hash of two integers (SplitMix64 finaliser).
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_turn_the_right_way() {
        let up = V3::new(0.0, 1.0, 0.0);
        let r = rot_z(up, deg(90.0));
        assert!((r.x + 1.0).abs() < 1e-6 && r.y.abs() < 1e-6);
        let f = rot_y(V3::new(0.0, 0.0, 1.0), deg(90.0));
        assert!((f.x - 1.0).abs() < 1e-6 && f.z.abs() < 1e-6);
    }

    #[test]
    fn smoothstep_is_clamped() {
        assert_eq!(smoothstep(0.2, 0.4, 0.0), 0.0);
        assert_eq!(smoothstep(0.2, 0.4, 1.0), 1.0);
        assert!((smoothstep(0.2, 0.4, 0.3) - 0.5).abs() < 1e-6);
    }
}
