//! The HTTP side of the metrics endpoint: `GET /metrics` on `metrics-port`, bound to the same
//! addresses as the main port. A scrape is rare (seconds apart) and cheap to answer, so each
//! listener gets one plain thread that answers one request per connection; nothing here runs
//! on a worker thread or holds anything but one shard lock at a time while rendering.

use crate::shared::Shared;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Binds `port` on every bind address and answers scrapes until the process exits.
pub fn start(shared: &'static Shared, binds: &[String], port: u16) -> std::io::Result<Vec<u16>> {
    let mut ports = Vec::new();
    for addr in binds {
        let (optional, host) = match addr.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, addr.as_str()),
        };
        let host = if host == "*" { "0.0.0.0" } else { host };
        let listener = match TcpListener::bind((host, port)) {
            Ok(l) => l,
            Err(_) if optional => continue,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Could not bind the metrics endpoint {host}:{port}: {e}"),
                ))
            }
        };
        ports.push(listener.local_addr()?.port());
        crate::notice!(
            "Metrics endpoint on http://{}/metrics",
            listener.local_addr()?
        );
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let _ = answer(shared, conn);
                }
            })?;
    }
    Ok(ports)
}

/// Reads one request (its head only) and answers it, closing the connection.
fn answer(shared: &Shared, mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let (status, kind, body) = match (method, path) {
        (b"GET" | b"HEAD", b"/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            super::render(shared),
        ),
        (b"GET" | b"HEAD", _) => ("404 Not Found", "text/plain", "try /metrics\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        ),
    };
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != b"HEAD" {
        reply.extend_from_slice(body.as_bytes());
    }
    conn.write_all(&reply)
}
