//! The performer's routine: an endless, seeded plan of elements separated
//! by pauses (arms down, walking to the next spot, standing, arms up), and
//! the performer's joints at any frame of it. The stream renders all of it;
//! the clip sets' "no element" clips are excerpts of its pauses.

use crate::classes::{CLASSES, ELEMENTS, NEW_ELEMENTS, element};
use crate::figure::{Build, Pose, Skeleton};
use crate::geom::smoothstep;
use crate::motion::{self, Style};
use crate::scene::{STRIDE, Scene};
use crate::synth::{NOMINAL_FPS, NOMINAL_WINDOW, place};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// Walking speed in body heights per second.
const WALK_SPEED: f32 = 0.9;
/// Duration of a pose change (with or without a turn), in seconds.
const BLEND_S: f32 = 0.3;

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Element {
        class_id: usize,
        style: Style,
        x0: f32,
        heading: f32,
        duration: f32,
    },
    /// Standing at `x` facing `heading`, blending `from` to `to`; turning
    /// round about the long axis on the way if `turn`.
    Stand {
        from: Pose,
        to: Pose,
        x: f32,
        heading: f32,
        turn: bool,
    },
    Walk {
        from: f32,
        to: f32,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Action {
    pub start: u64,
    pub len: u64,
    pub kind: Kind,
}

/// A performer's plan, extended one element at a time as frames ask for it.
pub(crate) struct Routine {
    rng: ChaCha8Rng,
    fps: u32,
    /// Shortest and longest pause between elements, in seconds.
    idle_s: (f32, f32),
    free_x: (f32, f32),
    build: Build,
    plan: VecDeque<Action>,
    /// Where the plan leaves the performer.
    end_x: f32,
    end_heading: f32,
    end_pose: Pose,
    /// Class of the next element planned, instead of a random one.
    next_class: Option<usize>,
    /// Share of the elements drawn from [`NEW_ELEMENTS`].
    new_share: f64,
}

impl Routine {
    /// A routine in `scene` at `fps`, its choices drawn from `rng`, with
    /// pauses of `idle_s.0` to `idle_s.1` seconds.
    pub fn new(rng: ChaCha8Rng, scene: &Scene, fps: u32, idle_s: (f32, f32)) -> Routine {
        Routine {
            rng,
            fps: fps.max(1),
            idle_s: (idle_s.0, idle_s.1.max(idle_s.0)),
            free_x: scene.free_x,
            build: scene.build,
            plan: VecDeque::new(),
            end_x: 0.5 * (scene.free_x.0 + scene.free_x.1),
            end_heading: scene.heading,
            end_pose: motion::idle_pose(),
            next_class: None,
            new_share: 0.0,
        }
    }

    /// The same routine with `share` (0 to 1) of its elements drawn from
    /// [`NEW_ELEMENTS`]; with 0, the routine is the one without them.
    pub fn with_new_elements(mut self, share: f64) -> Routine {
        self.new_share = share.clamp(0.0, 1.0);
        self
    }

    /// The same routine with its first element of class `class_id`.
    pub fn with_first_class(mut self, class_id: usize) -> Routine {
        self.next_class = Some(class_id);
        self
    }

    /// First frame and length in frames of element `skip` (counting from 0)
    /// of a routine that has not been asked for a frame yet.
    pub fn element(&mut self, skip: usize) -> (u64, u64) {
        let (mut i, mut elements) = (0, 0);
        loop {
            while i >= self.plan.len() {
                let next = self.plan.back().map_or(0, |a| a.start + a.len);
                self.plan_cycle(next);
            }
            let a = &self.plan[i];
            if matches!(a.kind, Kind::Element { .. }) {
                if elements == skip {
                    return (a.start, a.len);
                }
                elements += 1;
            }
            i += 1;
        }
    }

    /// The action under way at frame `n`; `n` never decreases between calls.
    pub fn action_at(&mut self, n: u64) -> &Action {
        while self.plan.front().is_none_or(|a| a.start + a.len <= n) {
            if self.plan.pop_front().is_none() || self.plan.is_empty() {
                self.plan_cycle(n);
            }
        }
        self.plan.front().expect("planned above")
    }

    /// First frame of a run of `len` frames inside the pause before element
    /// `skip` (counting from 0) of a routine that has not been asked for a
    /// frame yet, allowed to reach into the element before and the element
    /// after the pause by up to `spill` of that element's frames (rounded
    /// down); the run's place is drawn from the routine's generator. `None`
    /// if the pause (with the spill) is shorter.
    pub fn pause(&mut self, skip: usize, len: u64, spill: f32) -> Option<u64> {
        let reach = |frames: u64| (spill * frames as f32).floor() as u64;
        let first = match skip.checked_sub(1) {
            Some(before) => {
                let (start, frames) = self.element(before);
                start + frames - reach(frames)
            }
            None => 0,
        };
        let (start, frames) = self.element(skip);
        let room = (start + reach(frames)).checked_sub(first + len)?;
        Some(first + self.rng.random_range(0..=room))
    }

    fn frames(&self, seconds: f32) -> u64 {
        ((seconds * self.fps as f32).round() as u64).max(1)
    }

    fn push(&mut self, start: &mut u64, len: u64, kind: Kind) {
        self.plan.push_back(Action {
            start: *start,
            len,
            kind,
        });
        *start += len;
    }

    /// Plans a pause and the element after it, starting at frame `start`:
    /// arms down (turning to walk if needed), walking towards the next
    /// spot, standing, arms up (turning to face the element's way).
    fn plan_cycle(&mut self, mut start: u64) {
        let rng = &mut self.rng;
        let mut drawn = rng.random_range(0..ELEMENTS.len());
        if self.new_share > 0.0 && rng.random_bool(self.new_share) {
            drawn = CLASSES + rng.random_range(0..NEW_ELEMENTS.len());
        }
        let class_id = self.next_class.take().unwrap_or(drawn);
        let el = element(class_id).expect("a routine plans elements only");
        let style = Style {
            twist_sign: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            warp: rng.random_range(-0.04..0.04),
        };
        let k: f32 = rng.random_range(0.84..1.56);
        let (lo_s, hi_s) = (self.idle_s.0, self.idle_s.1.max(self.idle_s.0));
        let idle_s = rng.random_range(lo_s..=hi_s);
        let (lo, hi) = self.free_x;
        let want_centre = if hi > lo {
            rng.random_range(lo..=hi)
        } else {
            0.5 * (lo + hi)
        };
        let mut heading: f32 = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let travel = motion::travel(el);

        let blend = self.frames(BLEND_S);
        let free_s = (idle_s - 2.0 * blend as f32 / self.fps as f32).max(0.0);
        let from = self.end_x;
        let want_x0 = want_centre - heading * 0.5 * travel;
        let reach = free_s * WALK_SPEED;
        let mut to = from + (want_x0 - from).clamp(-reach, reach);
        if (to - from).abs() < 0.15 {
            to = from;
        }
        let walk_heading = if to != from {
            (to - from).signum()
        } else {
            self.end_heading
        };
        if (want_x0 - to).abs() > 0.05 {
            // Short of the spot: let the element itself travel towards it.
            heading = (want_centre - to).signum() * travel.signum();
        }
        let walk_frames = if to != from {
            self.frames((to - from).abs() / WALK_SPEED)
        } else {
            0
        };
        let idle_frames = self.frames(idle_s);
        let stand_frames = idle_frames.saturating_sub(2 * blend + walk_frames);

        let idle = motion::idle_pose();
        let end_pose = self.end_pose;
        let turn_first = walk_heading != self.end_heading;
        self.push(
            &mut start,
            blend,
            Kind::Stand {
                from: end_pose,
                to: idle,
                x: from,
                heading: self.end_heading,
                turn: turn_first,
            },
        );
        if walk_frames > 0 {
            self.push(&mut start, walk_frames, Kind::Walk { from, to });
        }
        if stand_frames > 0 {
            self.push(
                &mut start,
                stand_frames,
                Kind::Stand {
                    from: idle,
                    to: idle,
                    x: to,
                    heading: walk_heading,
                    turn: false,
                },
            );
        }
        let turn_last = walk_heading != heading;
        self.push(
            &mut start,
            blend,
            Kind::Stand {
                from: idle,
                to: motion::ready_pose(),
                x: to,
                heading: walk_heading,
                turn: turn_last,
            },
        );
        let duration = k * NOMINAL_WINDOW * self.fps as f32 / NOMINAL_FPS;
        let len = duration.ceil() as u64;
        self.push(
            &mut start,
            len,
            Kind::Element {
                class_id,
                style,
                x0: to,
                heading,
                duration,
            },
        );
        self.end_x = to + heading * travel;
        self.end_heading = if el.half_twists % 2 == 1 {
            -heading
        } else {
            heading
        };
        self.end_pose = motion::final_pose(el, &self.build);
    }

    /// The performer's joints in the world during `a` at frame `n`.
    pub fn skeleton(&self, a: &Action, n: u64) -> Skeleton {
        let b = &self.build;
        let local = (n - a.start) as f32 + 0.5;
        let t = local / a.len as f32;
        match a.kind {
            Kind::Element {
                class_id,
                style,
                x0,
                heading,
                duration,
            } => {
                let el = element(class_id).expect("a routine plans elements only");
                let s = motion::element(el, local / duration, &style, b).skeleton;
                place(&s, heading, x0)
            }
            Kind::Stand {
                ref from,
                ref to,
                x,
                heading,
                turn,
            } => {
                let angle = if turn {
                    std::f32::consts::PI * smoothstep(0.0, 1.0, t)
                } else {
                    0.0
                };
                place(
                    &motion::stand(from, to, t, 0.0, angle, b).skeleton,
                    heading,
                    x,
                )
            }
            Kind::Walk { from, to } => {
                let dist = (to - from).abs() * t;
                let phase = std::f32::consts::TAU * dist / STRIDE;
                let heading = (to - from).signum();
                place(
                    &motion::walk(phase, 0.0, b).skeleton,
                    heading,
                    from + heading * dist,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::{CLIP_SIZE, Scene};
    use rand::SeedableRng;

    fn routine(seed: u64) -> Routine {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let scene = Scene::sample(&mut rng, 160, 120, CLIP_SIZE);
        Routine::new(rng, &scene, 30, (0.7, 2.5))
    }

    #[test]
    fn a_pause_excerpt_holds_no_element_and_ends_before_the_next_one() {
        for seed in 0..20 {
            for skip in 0..3 {
                let mut r = routine(seed);
                let first = r
                    .pause(skip, 16, 0.0)
                    .expect("pauses last at least 0.7 s = 21 frames");
                let mut elements_before = 0;
                let mut n = 0;
                while n < first + 16 {
                    let a = r.action_at(n).clone();
                    let is_element = matches!(a.kind, Kind::Element { .. });
                    if n >= first {
                        assert!(
                            !is_element,
                            "seed {seed} skip {skip}: frame {n} is inside an element"
                        );
                    } else if is_element && a.start == n {
                        elements_before += 1;
                    }
                    n += 1;
                }
                assert_eq!(
                    elements_before, skip,
                    "seed {seed}: excerpt after the wrong element"
                );
            }
        }
    }

    #[test]
    fn a_spilling_excerpt_holds_at_most_its_share_of_an_element_at_each_end() {
        let mut spilled = 0;
        for seed in 0..40 {
            let skip = 1 + seed as usize % 2;
            let mut r = routine(seed);
            let first = r.pause(skip, 16, 0.35).expect("pauses last at least 0.7 s");
            // Length of the element each frame belongs to, if any.
            let lens: Vec<Option<u64>> = (first..first + 16)
                .map(|n| {
                    let a = r.action_at(n);
                    matches!(a.kind, Kind::Element { .. }).then_some(a.len)
                })
                .collect();
            let head = lens.iter().take_while(|e| e.is_some()).count();
            let tail = lens.iter().rev().take_while(|e| e.is_some()).count();
            let total = lens.iter().filter(|e| e.is_some()).count();
            for (frames, end) in [(head, lens[0]), (tail, lens[15])] {
                if let Some(len) = end {
                    assert!(
                        frames as f32 <= 0.35 * len as f32,
                        "seed {seed}: {frames} frames of a {len}-frame element"
                    );
                }
            }
            assert_eq!(
                total,
                head + tail,
                "seed {seed}: element frames in the middle"
            );
            spilled += usize::from(total > 0);
        }
        assert!(spilled > 0, "no excerpt reached into an element");
    }

    #[test]
    fn a_pause_shorter_than_the_excerpt_is_refused() {
        let mut r = routine(1);
        assert_eq!(r.pause(0, 10 * 30, 0.0), None);
    }
}
