//! Opening a serial port for ARTS/1 and telling a lost line from a quiet one.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use serialport::{DataBits, FlowControl, Parity, StopBits};
/// The port type of the link and the emulator, and the trait with its settings.
pub use serialport::{SerialPort, TTYPort};

/// Opens `path` at `baud`, 8N1, no flow control, for exclusive use.
pub fn open(path: &str, baud: u32) -> Result<TTYPort, serialport::Error> {
    serialport::new(path, baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .timeout(Duration::from_millis(100))
        .open_native()
}

/// What a read from the line brought.
#[derive(Debug)]
pub enum Received {
    /// Some bytes (never zero).
    Bytes(usize),
    /// Nothing within the wait.
    Nothing,
    /// The line is gone: end of file, hang-up or an I/O error.
    Lost(io::Error),
}

/// Reads what arrives within `wait`, telling a quiet line from a lost one.
pub fn read(port: &mut TTYPort, buf: &mut [u8], wait: Duration) -> Received {
    if let Err(e) = port.set_timeout(wait) {
        return Received::Lost(e.into());
    }
    match port.read(buf) {
        Ok(0) => Received::Lost(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "end of file on the serial line",
        )),
        Ok(n) => Received::Bytes(n),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            Received::Nothing
        }
        Err(e) => Received::Lost(e),
    }
}

/// Writes all of `bytes`, giving up after `wait` (a line that takes no data
/// for that long counts as lost).
pub fn write(port: &mut TTYPort, bytes: &[u8], wait: Duration) -> io::Result<()> {
    port.set_timeout(wait)?;
    port.write_all(bytes)
}

/// Exponential backoff between attempts to reopen a port.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
    at: Option<Instant>,
}

impl Backoff {
    /// Waits start at `first` and double up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            next: first,
            at: None,
        }
    }

    /// Whether an attempt may be made at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        self.at.is_none_or(|at| now >= at)
    }

    /// When the next attempt may be made, if one is scheduled.
    pub fn due(&self) -> Option<Instant> {
        self.at
    }

    /// An attempt failed at `now`: wait longer before the next one.
    pub fn failed(&mut self, now: Instant) -> Duration {
        let wait = self.next;
        self.at = Some(now + wait);
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// An attempt succeeded: the next failure starts from the first wait again.
    pub fn reset(&mut self) {
        self.next = self.first;
        self.at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_limit_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let t0 = Instant::now();
        assert!(b.ready(t0));
        let waits: Vec<_> = (0..4).map(|_| b.failed(t0).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
        assert!(!b.ready(t0));
        assert!(b.ready(t0 + Duration::from_millis(350)));
        b.reset();
        assert!(b.ready(t0));
        assert_eq!(b.failed(t0).as_millis(), 100);
    }

    #[test]
    fn a_pty_pair_is_quiet_then_lost_when_its_peer_closes() {
        let (master, slave) = TTYPort::pair().unwrap();
        let path = slave.name().unwrap();
        let mut port = open(&path, 115_200).unwrap();
        drop(slave);
        let mut buf = [0u8; 16];
        assert!(matches!(
            read(&mut port, &mut buf, Duration::from_millis(10)),
            Received::Nothing
        ));
        let mut master = master;
        master.write_all(b"$").unwrap();
        assert!(matches!(
            read(&mut port, &mut buf, Duration::from_secs(5)),
            Received::Bytes(1)
        ));
        drop(master);
        assert!(matches!(
            read(&mut port, &mut buf, Duration::from_secs(5)),
            Received::Lost(_)
        ));
        assert!(write(&mut port, b"x", Duration::from_millis(10)).is_err());
        assert!(open(&path, 115_200).is_err());
    }
}
