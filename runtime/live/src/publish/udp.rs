//! `udp://HOST:PORT`: one datagram per message.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use crate::message::Message;
use crate::sink::{ActionEvent, ClearEvent, EventSink, Health};

/// Sends every message as one datagram. The host name is looked up again
/// after a failed send, so a peer that moves or comes up late is found.
pub struct UdpOutput {
    host: String,
    port: u16,
    device: String,
    socket: Option<(UdpSocket, SocketAddr)>,
}

impl UdpOutput {
    /// An output to `host:port`; the peer need not be up yet.
    pub fn new(host: &str, port: u16, device: &str) -> io::Result<UdpOutput> {
        let mut out = UdpOutput {
            host: host.to_string(),
            port,
            device: device.to_string(),
            socket: None,
        };
        if let Err(e) = out.connect() {
            log::warn!("udp://{host}:{port}: {e}; trying again with the next message");
        }
        Ok(out)
    }

    fn connect(&mut self) -> io::Result<()> {
        let peer = (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for the host"))?;
        let local: SocketAddr = if peer.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        self.socket = Some((UdpSocket::bind(local)?, peer));
        Ok(())
    }

    fn send(&mut self, line: &str) -> io::Result<()> {
        if self.socket.is_none() {
            self.connect()?;
        }
        let (socket, peer) = self.socket.as_ref().expect("connected above");
        match socket.send_to(line.as_bytes(), peer) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.socket = None;
                Err(e)
            }
        }
    }
}

impl EventSink for UdpOutput {
    type Error = io::Error;
    fn action(&mut self, e: &ActionEvent) -> io::Result<()> {
        let line = Message::action(&self.device, e).to_json();
        self.send(&line)
    }
    fn clear(&mut self, e: &ClearEvent) -> io::Result<()> {
        let line = Message::clear(&self.device, e).to_json();
        self.send(&line)
    }
    fn health(&mut self, h: &Health) -> io::Result<()> {
        let line = Message::health(&self.device, h).to_json();
        self.send(&line)
    }
}
