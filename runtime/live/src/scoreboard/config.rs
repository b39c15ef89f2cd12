//! How the device side of the scoreboard link is set up.

use std::time::Duration;

use serde::Deserialize;

/// Lowest baud rate ARTS/1 asks for.
pub const MIN_BAUD: u32 = 9600;
/// Highest baud rate ARTS/1 asks for.
pub const MAX_BAUD: u32 = 921_600;

/// The scoreboard link: which port, how fast, and the acknowledged-mode
/// timings. Board profiles embed it as a table; every key but `port` has the
/// spec's default.
///
/// ```
/// let config: artrt_live::scoreboard::LinkConfig =
///     toml::from_str("port = \"/dev/artrt-scoreboard\"\nacknowledged = true").unwrap();
/// assert_eq!(config.baud, 115_200);
/// assert_eq!(config.resend_interval().as_millis(), 250);
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// Path of the serial device (or of a symbolic link to it).
    pub port: String,
    /// Baud rate, 9600..=921600; the line is always 8N1 without flow control.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Acknowledged mode: re-send `ARTEV`/`ARTCL` until the board sends `ARTAK`.
    #[serde(default)]
    pub acknowledged: bool,
    /// Milliseconds to wait for `ARTAK` before re-sending.
    #[serde(default = "default_resend_interval_ms")]
    pub resend_interval_ms: u64,
    /// Most re-sends of one sentence.
    #[serde(default = "default_max_resends")]
    pub max_resends: u32,
    /// Milliseconds between heartbeats.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// The display policy: milliseconds a recognised element stays on the
    /// board, from the moment it is shown (acknowledged in acknowledged
    /// mode), before a clear may replace it; a newer element replaces it at
    /// once. An element not yet shown is offered for this long after it was
    /// recognised (through an outage, or again as a new sentence when its
    /// re-sends run out), then given up.
    #[serde(default = "default_display_ms")]
    pub display_ms: u64,
}

fn default_baud() -> u32 {
    115_200
}
fn default_resend_interval_ms() -> u64 {
    250
}
fn default_max_resends() -> u32 {
    5
}
fn default_heartbeat_interval_ms() -> u64 {
    1000
}
fn default_display_ms() -> u64 {
    3000
}

/// Longest display time a profile may set: ten minutes.
pub const MAX_DISPLAY_MS: u64 = 600_000;

/// Why a link configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkConfigError {
    /// `port` is empty.
    #[error("scoreboard port path is empty")]
    NoPort,
    /// `baud` is outside 9600..=921600.
    #[error("baud = {0} is outside {MIN_BAUD}..={MAX_BAUD}")]
    Baud(u32),
    /// An interval is 0.
    #[error("{0} must be at least 1 ms")]
    ZeroInterval(&'static str),
    /// `display_ms` is longer than [`MAX_DISPLAY_MS`].
    #[error("display_ms = {0} is over {MAX_DISPLAY_MS}")]
    Display(u64),
}

impl LinkConfig {
    /// The spec's defaults for the port at `path`: 115200 baud, no
    /// acknowledgements, re-send after 250 ms at most 5 times, a heartbeat a
    /// second; each element shown for at least 3 s.
    pub fn new(path: impl Into<String>) -> Self {
        LinkConfig {
            port: path.into(),
            baud: default_baud(),
            acknowledged: false,
            resend_interval_ms: default_resend_interval_ms(),
            max_resends: default_max_resends(),
            heartbeat_interval_ms: default_heartbeat_interval_ms(),
            display_ms: default_display_ms(),
        }
    }

    /// Checks the port path, the baud range and the intervals.
    pub fn validate(&self) -> Result<(), LinkConfigError> {
        if self.port.is_empty() {
            return Err(LinkConfigError::NoPort);
        }
        if !(MIN_BAUD..=MAX_BAUD).contains(&self.baud) {
            return Err(LinkConfigError::Baud(self.baud));
        }
        if self.resend_interval_ms == 0 {
            return Err(LinkConfigError::ZeroInterval("resend_interval_ms"));
        }
        if self.heartbeat_interval_ms == 0 {
            return Err(LinkConfigError::ZeroInterval("heartbeat_interval_ms"));
        }
        if self.display_ms > MAX_DISPLAY_MS {
            return Err(LinkConfigError::Display(self.display_ms));
        }
        Ok(())
    }

    /// How long to wait for `ARTAK` before re-sending.
    pub fn resend_interval(&self) -> Duration {
        Duration::from_millis(self.resend_interval_ms)
    }

    /// Time between heartbeats.
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    /// Shortest time an element stays on the board before a clear.
    pub fn display_time(&self) -> Duration {
        Duration::from_millis(self.display_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let c: LinkConfig = toml::from_str("port = \"/dev/ttyUSB0\"").unwrap();
        assert_eq!(c, LinkConfig::new("/dev/ttyUSB0"));
        assert_eq!(
            (
                c.baud,
                c.acknowledged,
                c.resend_interval_ms,
                c.max_resends,
                c.heartbeat_interval_ms,
                c.display_ms
            ),
            (115_200, false, 250, 5, 1000, 3000)
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err =
            toml::from_str::<LinkConfig>("port = \"/dev/ttyUSB0\"\nbaudrate = 9600").unwrap_err();
        assert!(err.to_string().contains("baudrate"), "{err}");
    }

    #[test]
    fn ranges_are_checked() {
        let mut c = LinkConfig::new("/dev/ttyUSB0");
        for baud in [9600, 115_200, 921_600] {
            c.baud = baud;
            assert_eq!(c.validate(), Ok(()));
        }
        for baud in [0, 9599, 921_601] {
            c.baud = baud;
            assert_eq!(c.validate(), Err(LinkConfigError::Baud(baud)));
        }
        c.baud = 9600;
        c.resend_interval_ms = 0;
        assert_eq!(
            c.validate(),
            Err(LinkConfigError::ZeroInterval("resend_interval_ms"))
        );
        c.resend_interval_ms = 250;
        c.display_ms = MAX_DISPLAY_MS + 1;
        assert_eq!(
            c.validate(),
            Err(LinkConfigError::Display(MAX_DISPLAY_MS + 1))
        );
        c.display_ms = 0;
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(LinkConfig::new("").validate(), Err(LinkConfigError::NoPort));
    }
}
