//! Reading one HTTP/1.1 response from a byte stream into a buffer, within limits: the head by
//! `httparse`, the body by its length, by chunks or until the connection ends (RFC 9112
//! section 6.3). Apart from the socket, so that tests can feed it any bytes split anywhere.

use std::ops::Range;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::ServerTiming;
use super::server_timing;

use iris_api::Failure;
use iris_api::checks::Framing;

const MAX_HEADERS: usize = 64;
/// The smallest read; the buffer grows by doubling from there.
const MIN_READ: usize = 512;

/// The largest response accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A response head, and separately the chunk-size lines and trailers of a chunked body.
    pub max_head: usize,
    /// A decoded body.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 64 * 1024,
            max_body: 16 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
impl Limits {
    /// The most bytes a response ever holds in the buffer: a head, a body and the framing of
    /// one chunk not yet decoded, or a body read until the connection ends plus the one byte
    /// that shows it is too long.
    pub fn max_buffer(&self) -> usize {
        2 * self.max_head + self.max_body + 1
    }
}

/// A response read whole: its status, where its body is in the buffer, and whether the
/// connection can carry no further request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Range<usize>,
    pub close: bool,
    /// What its `Server-Timing` fields said of the model and the server's total.
    pub server_timing: Option<ServerTiming>,
    /// When the first byte of the response arrived.
    pub first_byte: Instant,
}

/// How the body of a response ends, by its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLength {
    Fixed(usize),
    Chunked,
    UntilClose,
}

/// What the head of a response says.
#[derive(Debug, PartialEq)]
struct Head {
    len: usize,
    status: u16,
    /// Ambiguous framing is an error only for a response that has a body.
    length: Result<BodyLength, Framing>,
    close: bool,
    server_timing: Option<ServerTiming>,
}

/// `1*DIGIT`, nothing else (no sign, no space inside).
fn digits(value: &[u8]) -> Option<usize> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The non-empty elements of a comma-separated header value, trimmed.
fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty())
}

fn has(value: &[u8], token: &str) -> bool {
    elements(value).any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses a response head from the start of `buf`; `None` while incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, Failure> {
    // Left uninitialised: httparse writes the headers it finds (filling 64 empty ones first
    // costs as much as parsing a small head).
    let mut headers = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut headers,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::BadHttp),
    };
    let status = response.code.ok_or(Failure::BadHttp)?;
    let mut close = response.version == Some(0);
    let mut content_length: Option<usize> = None;
    let mut differing = false;
    // Codings apply in order across all Transfer-Encoding fields; the last says how it ends.
    let mut transfer_encoding: Option<bool> = None;
    let mut server_timing = false;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            // Also `Content-Length: 5, 5`, which is one length; `5, 6` is not.
            if elements(h.value).next().is_none() {
                return Err(Failure::BadHttp);
            }
            for element in elements(h.value) {
                let n = digits(element).ok_or(Failure::BadHttp)?;
                differing |= content_length.is_some_and(|m| m != n);
                content_length = Some(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = elements(h.value).last();
            let chunked = last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
            transfer_encoding = Some(if last.is_some() {
                chunked
            } else {
                transfer_encoding.unwrap_or(false)
            });
        } else if h.name.eq_ignore_ascii_case("connection") {
            if has(h.value, "close") {
                close = true;
            } else if has(h.value, "keep-alive") {
                close = false;
            }
        } else if h.name.eq_ignore_ascii_case("server-timing") {
            server_timing = true;
        }
    }
    let length = match (transfer_encoding, content_length) {
        (Some(_), Some(_)) => Err(Framing::ContentLengthWithTransferEncoding),
        _ if differing => Err(Framing::DifferingContentLengths),
        (Some(true), None) => Ok(BodyLength::Chunked),
        // A final coding other than chunked: the body ends with the connection.
        (Some(false), None) | (None, None) => Ok(BodyLength::UntilClose),
        (None, Some(n)) => Ok(BodyLength::Fixed(n)),
    };
    let server_timing = server_timing
        .then(|| {
            server_timing::recognise(
                response
                    .headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("server-timing"))
                    .map(|h| h.value),
            )
        })
        .flatten();
    Ok(Some(Head {
        len,
        status,
        length,
        close,
        server_timing,
    }))
}

/// Reads more bytes into `buf`, which may not grow to `cap` bytes or beyond; 0 means the
/// stream ended. Reaching `cap` is a response too large, an invalid one.
async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    cap: usize,
) -> Result<usize, Failure> {
    let room = cap.saturating_sub(buf.len());
    if room == 0 {
        return Err(Failure::BadHttp);
    }
    if buf.capacity() - buf.len() < MIN_READ {
        buf.reserve(buf.capacity().max(MIN_READ));
    }
    let want = (buf.capacity() - buf.len()).min(room);
    (&mut *stream)
        .take(want as u64)
        .read_buf(buf)
        .await
        .map_err(|_| Failure::Disconnected)
}

/// Like [`fill`], but the end of the stream is a failure.
async fn more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    cap: usize,
) -> Result<(), Failure> {
    match fill(stream, buf, cap).await? {
        0 => Err(Failure::Disconnected),
        _ => Ok(()),
    }
}

/// Reads one response to a request (`head_request` for HEAD) from `stream` into the empty
/// `buf`. The body ends up in `buf[response.body]`.
pub async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    head_request: bool,
    limits: Limits,
) -> Result<Response, Failure> {
    let mut first_byte = None;
    let head = loop {
        // An empty buffer (the usual start) holds no head: read before parsing.
        if let Some(head) = (!buf.is_empty())
            .then(|| parse_head(buf))
            .transpose()?
            .flatten()
        {
            if (100..200).contains(&head.status) && head.status != 101 {
                // An interim response (100 Continue): the real one follows.
                buf.drain(..head.len);
                continue;
            }
            break head;
        }
        more(stream, buf, limits.max_head).await?;
        first_byte.get_or_insert_with(Instant::now);
    };
    let start = head.len;
    let length = if head_request || head.status == 204 || head.status == 304 {
        BodyLength::Fixed(0)
    } else {
        head.length.map_err(Failure::AmbiguousLength)?
    };
    let (end, extra) = match length {
        BodyLength::Fixed(len) => {
            if len > limits.max_body {
                return Err(Failure::BadHttp);
            }
            let end = start + len;
            while buf.len() < end {
                more(stream, buf, end).await?;
            }
            (end, buf.len() > end)
        }
        BodyLength::Chunked => read_chunked(stream, buf, start, limits).await?,
        BodyLength::UntilClose => {
            let cap = start + limits.max_body + 1;
            while fill(stream, buf, cap).await? > 0 {}
            (buf.len(), true)
        }
    };
    Ok(Response {
        status: head.status,
        body: start..end,
        // Bytes beyond the response would be a reply nobody asked for.
        close: head.close || extra,
        server_timing: head.server_timing,
        first_byte: first_byte.unwrap_or_else(Instant::now),
    })
}

/// Decodes a chunked body in place from `start`; returns the end of the body and whether
/// bytes followed it.
async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    start: usize,
    limits: Limits,
) -> Result<(usize, bool), Failure> {
    let cap = start + limits.max_body + limits.max_head;
    // Decoded body in buf[start..out], undecoded bytes from pos.
    let mut out = start;
    let mut pos = start;
    // Before reading more, drop the framing already decoded, so that the buffer holds at most
    // the body and the framing of one chunk.
    let compact = |buf: &mut Vec<u8>, pos: &mut usize, out: usize| {
        buf.drain(out..*pos);
        *pos = out;
    };
    loop {
        let (consumed, size) = loop {
            match httparse::parse_chunk_size(&buf[pos..]) {
                Ok(httparse::Status::Complete(found)) => break found,
                Ok(httparse::Status::Partial) => {
                    compact(buf, &mut pos, out);
                    if buf.len() - pos >= limits.max_head {
                        // A chunk-size line (with extensions) longer than a whole head.
                        return Err(Failure::BadHttp);
                    }
                    more(stream, buf, cap).await?;
                }
                Err(_) => return Err(Failure::BadHttp),
            }
        };
        let size = usize::try_from(size)
            .ok()
            .filter(|&size| size <= limits.max_body - (out - start))
            .ok_or(Failure::BadHttp)?;
        pos += consumed;
        if size == 0 {
            return read_trailers(stream, buf, pos, out, limits).await;
        }
        while buf.len() < pos + size + 2 {
            compact(buf, &mut pos, out);
            more(stream, buf, cap).await?;
        }
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err(Failure::BadHttp);
        }
        buf.copy_within(pos..pos + size, out);
        out += size;
        pos += size + 2;
    }
}

/// Skips the trailer section after the last chunk (at `pos`), up to its empty line, keeping
/// the body in `buf[..out]`; returns the end of the body and whether bytes followed.
async fn read_trailers<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    mut pos: usize,
    out: usize,
    limits: Limits,
) -> Result<(usize, bool), Failure> {
    buf.drain(out..pos);
    pos = out;
    let cap = out + limits.max_head;
    loop {
        match buf[pos..].windows(2).position(|w| w == b"\r\n") {
            Some(0) => {
                let extra = buf.len() > pos + 2;
                buf.truncate(out);
                return Ok((out, extra));
            }
            Some(i) => pos += i + 2,
            None => more(stream, buf, cap).await?,
        }
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
