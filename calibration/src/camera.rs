//! A pinhole camera looking at the performance area.

use crate::geom::{V3, cos, sin};

/// Perspective camera; image `y` grows downwards.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Camera {
    pub pos: V3,
    right: V3,
    up: V3,
    fwd: V3,
    /// Focal length in pixels.
    pub f: f32,
    /// Principal point (where `target` appears).
    pub cx: f32,
    pub cy: f32,
}

impl Camera {
    /// A camera `dist` away from `target`, turned `yaw` about the vertical
    /// and raised by `pitch`, showing `target` at image point `(cx, cy)`.
    pub fn look_at(
        target: V3,
        yaw: f32,
        pitch: f32,
        dist: f32,
        f: f32,
        cx: f32,
        cy: f32,
    ) -> Camera {
        let pos =
            target + V3::new(sin(yaw) * cos(pitch), sin(pitch), -cos(yaw) * cos(pitch)) * dist;
        let fwd = (target - pos).norm();
        let right = V3::new(0.0, 1.0, 0.0).cross(fwd).norm();
        let up = fwd.cross(right);
        Camera {
            pos,
            right,
            up,
            fwd,
            f,
            cx,
            cy,
        }
    }

    /// Image position and depth of a world point (`None` behind the camera).
    pub fn project(&self, p: V3) -> Option<(f32, f32, f32)> {
        let d = p - self.pos;
        let z = d.dot(self.fwd);
        if z <= 1e-3 {
            return None;
        }
        Some((
            self.cx + self.f * d.dot(self.right) / z,
            self.cy - self.f * d.dot(self.up) / z,
            z,
        ))
    }

    /// Direction of the ray through image point `(x, y)`.
    pub fn ray(&self, x: f32, y: f32) -> V3 {
        (self.fwd + self.right * ((x - self.cx) / self.f) - self.up * ((y - self.cy) / self.f))
            .norm()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::deg;

    #[test]
    fn target_projects_to_principal_point_and_rays_invert_projection() {
        let t = V3::new(0.3, 0.9, 0.0);
        let cam = Camera::look_at(t, deg(20.0), deg(5.0), 9.0, 500.0, 70.0, 60.0);
        let (x, y, z) = cam.project(t).unwrap();
        assert!((x - 70.0).abs() < 1e-3 && (y - 60.0).abs() < 1e-3 && (z - 9.0).abs() < 1e-3);
        let p = V3::new(1.0, 2.0, 0.5);
        let (x, y, _) = cam.project(p).unwrap();
        let r = cam.ray(x, y);
        let to_p = (p - cam.pos).norm();
        assert!(r.dot(to_p) > 0.99999);
        let (_, y_up, _) = cam.project(V3::new(0.3, 1.9, 0.0)).unwrap();
        assert!(y_up < 60.0, "up in the world is up in the image");
    }
}
