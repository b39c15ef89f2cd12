//! Sockets for the suites that start a real peer.

use std::net::{Ipv4Addr, TcpListener};

/// A local TCP port nothing listens on (bound, then released), for a
/// server a test starts.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}
