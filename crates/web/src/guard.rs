//! Who may read and who may change: the page binds loopback by default; a request must name a
//! loopback host there (no DNS rebinding), and a change must not come from another site (its
//! `Sec-Fetch-Site` and `Origin`, which a browser always sends on a cross-site form) and must
//! carry the token when one is set (a header, which no cross-site form can add).

use http::HeaderMap;
use http::header::{AUTHORIZATION, HOST, ORIGIN};

/// The header that carries the token (also accepted: `Authorization: Bearer TOKEN`).
pub const TOKEN_HEADER: &str = "x-iris-lab-token";

/// The rules of one server.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Required on every change when set.
    pub token: Option<String>,
    /// The server listens on loopback only: requests must name a loopback host.
    pub loopback: bool,
}

/// Why a request was refused: its status and one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: http::StatusCode,
    pub message: String,
}

fn refused(status: http::StatusCode, message: impl Into<String>) -> Refused {
    Refused {
        status,
        message: message.into(),
    }
}

impl Guard {
    /// Loopback: no token unless one is given. Beyond: the one given, else a new one (the
    /// `bool` says so: it must be printed for the user).
    pub fn for_addr(addr: std::net::SocketAddr, token: Option<String>) -> (Self, bool) {
        let loopback = addr.ip().is_loopback();
        let given = token.filter(|t| !t.trim().is_empty());
        let generated = given.is_none() && !loopback;
        let token = given.or_else(|| generated.then(generate_token));
        (Self { token, loopback }, generated)
    }

    /// Any request: on loopback, the Host must be a loopback name.
    pub fn read(&self, headers: &HeaderMap) -> Result<(), Refused> {
        if !self.loopback {
            return Ok(());
        }
        let host = header(headers, HOST.as_str()).unwrap_or_default();
        if is_loopback_host(host) {
            Ok(())
        } else {
            Err(refused(
                http::StatusCode::FORBIDDEN,
                format!(
                    "host {host:?} is not this machine's loopback: open the page as \
                     http://127.0.0.1:PORT or http://localhost:PORT"
                ),
            ))
        }
    }

    /// A request that changes something: same site only, and the token when one is set.
    pub fn change(&self, headers: &HeaderMap) -> Result<(), Refused> {
        self.read(headers)?;
        if let Some(site) = header(headers, "sec-fetch-site")
            && !matches!(site, "same-origin" | "none")
        {
            return Err(refused(
                http::StatusCode::FORBIDDEN,
                format!("a {site} request cannot change the run: use the page itself"),
            ));
        }
        if let Some(origin) = header(headers, ORIGIN.as_str()) {
            let host = header(headers, HOST.as_str()).unwrap_or_default();
            let own = ["http://", "https://"]
                .iter()
                .any(|scheme| origin.strip_prefix(scheme) == Some(host));
            if !own {
                return Err(refused(
                    http::StatusCode::FORBIDDEN,
                    format!("a request from {origin} cannot change the run: use the page itself"),
                ));
            }
        }
        let Some(token) = &self.token else {
            return Ok(());
        };
        let given = header(headers, TOKEN_HEADER).or_else(|| {
            header(headers, AUTHORIZATION.as_str()).and_then(|a| a.strip_prefix("Bearer "))
        });
        match given {
            Some(given) if same(given.trim().as_bytes(), token.as_bytes()) => Ok(()),
            Some(_) => Err(refused(
                http::StatusCode::UNAUTHORIZED,
                "the token is not this server's: use the one `iris-lab web` printed",
            )),
            None => Err(refused(
                http::StatusCode::UNAUTHORIZED,
                format!(
                    "changes need the server's token: send it as {TOKEN_HEADER}: TOKEN or \
                     Authorization: Bearer TOKEN (the page asks for it)"
                ),
            )),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Compares in time independent of where the bytes differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `localhost`, `127.x.y.z`, `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A token for a server that listens beyond loopback without one given: 32 hex digits.
pub fn generate_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_names_only_on_a_loopback_server() {
        let g = Guard {
            token: None,
            loopback: true,
        };
        for ok in [
            "127.0.0.1:8089",
            "localhost:8089",
            "[::1]:8089",
            "127.1.2.3",
        ] {
            assert!(g.read(&headers(&[("host", ok)])).is_ok(), "{ok}");
        }
        let rebound = g.read(&headers(&[("host", "evil.example:8089")]));
        assert_eq!(rebound.unwrap_err().status, http::StatusCode::FORBIDDEN);
    }

    #[test]
    fn changes_from_other_sites_or_without_the_token_are_refused() {
        let g = Guard {
            token: Some("s3cret".into()),
            loopback: false,
        };
        let host = ("host", "10.0.0.5:8089");
        let with = |extra: &[(&'static str, &str)]| {
            let mut all = vec![host];
            all.extend_from_slice(extra);
            g.change(&headers(&all))
        };
        assert!(with(&[("x-iris-lab-token", "s3cret")]).is_ok());
        assert!(with(&[("authorization", "Bearer s3cret")]).is_ok());
        assert_eq!(
            with(&[]).unwrap_err().status,
            http::StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            with(&[("x-iris-lab-token", "s3creT")]).unwrap_err().status,
            http::StatusCode::UNAUTHORIZED
        );
        let cross = with(&[
            ("x-iris-lab-token", "s3cret"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert_eq!(cross.unwrap_err().status, http::StatusCode::FORBIDDEN);
        let origin = with(&[
            ("x-iris-lab-token", "s3cret"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(origin.unwrap_err().status, http::StatusCode::FORBIDDEN);
        assert!(
            with(&[
                ("x-iris-lab-token", "s3cret"),
                ("origin", "http://10.0.0.5:8089"),
                ("sec-fetch-site", "same-origin"),
            ])
            .is_ok()
        );
        assert_eq!(generate_token().len(), 32);
    }
}
