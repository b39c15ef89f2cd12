//! Output URLs: parsed and checked before anything opens.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

/// Longest MQTT topic prefix accepted.
pub const MAX_PREFIX: usize = 200;

/// Where an output sends its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishUrl {
    /// `udp://HOST:PORT`.
    Udp {
        /// Host name or address.
        host: String,
        /// Port, 1..=65535.
        port: u16,
    },
    /// `tcp://HOST:PORT`.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port, 1..=65535.
        port: u16,
    },
    /// `mqtt://HOST[:PORT][/PREFIX]`.
    Mqtt {
        /// The broker's host name or address.
        host: String,
        /// The broker's port (1883 by default).
        port: u16,
        /// Topic prefix; `None`: `artrt/DEVICE`.
        prefix: Option<String>,
    },
    /// `http://ADDR:PORT`: the address the endpoint listens on.
    Http {
        /// Listening address (`127.0.0.1` when the URL gives no host).
        addr: SocketAddr,
    },
}

/// Why a URL cannot name an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("output URL `{url}`: {reason}")]
pub struct UrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for PublishUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| UrlError {
            url: text.to_string(),
            reason: reason.to_string(),
        };
        let url = url::Url::parse(text).map_err(|e| err(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err("credentials in the URL are not supported"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(err("a query or fragment means nothing here"));
        }
        let host = || {
            url.host_str()
                .filter(|h| !h.is_empty())
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
                .ok_or_else(|| err("no host"))
        };
        let port = |default: Option<u16>| match url.port().or(default) {
            Some(0) => Err(err("port 0 is not a port (1..=65535)")),
            Some(p) => Ok(p),
            None => Err(err("no port (1..=65535)")),
        };
        let no_path = || {
            if url.path().is_empty() || url.path() == "/" {
                Ok(())
            } else {
                Err(err("a path means nothing for this scheme"))
            }
        };
        match url.scheme() {
            "udp" => {
                no_path()?;
                Ok(PublishUrl::Udp {
                    host: host()?,
                    port: port(None)?,
                })
            }
            "tcp" => {
                no_path()?;
                Ok(PublishUrl::Tcp {
                    host: host()?,
                    port: port(None)?,
                })
            }
            "mqtt" => {
                let prefix = url.path().trim_matches('/');
                if prefix.len() > MAX_PREFIX {
                    return Err(err(&format!("topic prefix longer than {MAX_PREFIX} bytes")));
                }
                if prefix.contains(['+', '#', '\0'])
                    || prefix.split('/').any(str::is_empty) && !prefix.is_empty()
                {
                    return Err(err(
                        "the topic prefix may not hold `+`, `#` or empty levels",
                    ));
                }
                Ok(PublishUrl::Mqtt {
                    host: host()?,
                    port: port(Some(1883))?,
                    prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
                })
            }
            "http" => {
                no_path()?;
                let ip = match url.host_str() {
                    None | Some("") => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    Some(h) => h
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| err("the endpoint listens on an IP address (127.0.0.1, 0.0.0.0, ::1), not a name"))?,
                };
                Ok(PublishUrl::Http {
                    addr: SocketAddr::new(ip, port(None)?),
                })
            }
            other => Err(err(&format!(
                "unknown scheme `{other}` (expected udp, tcp, mqtt or http)"
            ))),
        }
    }
}

impl<'de> serde::Deserialize<'de> for PublishUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for PublishUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        };
        match self {
            PublishUrl::Udp { host: h, port } => write!(f, "udp://{}:{port}", host(h)),
            PublishUrl::Tcp { host: h, port } => write!(f, "tcp://{}:{port}", host(h)),
            PublishUrl::Mqtt {
                host: h,
                port,
                prefix,
            } => {
                write!(f, "mqtt://{}:{port}", host(h))?;
                match prefix {
                    Some(p) => write!(f, "/{p}"),
                    None => Ok(()),
                }
            }
            PublishUrl::Http { addr } => write!(f, "http://{addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PublishUrl, String> {
        s.parse::<PublishUrl>().map_err(|e| e.to_string())
    }

    #[test]
    fn each_scheme_reads_its_parts_and_prints_back() {
        for (text, printed) in [
            ("udp://10.0.0.5:5005", "udp://10.0.0.5:5005"),
            ("tcp://graphics.local:7000", "tcp://graphics.local:7000"),
            ("tcp://[::1]:7000", "tcp://[::1]:7000"),
            ("mqtt://broker", "mqtt://broker:1883"),
            (
                "mqtt://broker:1884/venue/hall-a",
                "mqtt://broker:1884/venue/hall-a",
            ),
            ("http://0.0.0.0:8080", "http://0.0.0.0:8080"),
            ("http://[::1]:8080/", "http://[::1]:8080"),
        ] {
            let url = parse(text).unwrap();
            assert_eq!(url.to_string(), printed, "{text}");
            assert_eq!(parse(printed).unwrap(), url, "{printed}");
        }
        assert_eq!(
            parse("mqtt://b/venue/hall-a").unwrap(),
            PublishUrl::Mqtt {
                host: "b".into(),
                port: 1883,
                prefix: Some("venue/hall-a".into())
            }
        );
    }

    #[test]
    fn malformed_urls_are_refused_naming_what_is_wrong() {
        for (text, reason) in [
            ("udp://host", "no port"),
            ("tcp://host:0", "port 0"),
            ("tcp://host:70000", "invalid port"),
            ("ftp://host:21", "unknown scheme `ftp`"),
            ("udp://:5005", "empty host"),
            ("mqtt://b/a/+/c", "`+`, `#` or empty levels"),
            ("mqtt://b/a//c", "empty levels"),
            ("http://scoreboard.local:8080", "IP address"),
            ("http://127.0.0.1:8080/metrics", "a path means nothing"),
            ("tcp://user:pw@host:1", "credentials"),
            ("udp://host:5005?x=1", "query"),
            ("localhost:5005", "unknown scheme `localhost`"),
            ("", "relative URL without a base"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(reason), "{text}: {e}");
            assert!(e.starts_with(&format!("output URL `{text}`")), "{e}");
        }
    }
}
