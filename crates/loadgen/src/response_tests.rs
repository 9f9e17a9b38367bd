use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use tokio::io::ReadBuf;

use super::*;

static EPOCH: std::sync::LazyLock<std::time::Instant> =
    std::sync::LazyLock::new(std::time::Instant::now);

/// A stream that hands out `data` in the given pieces, then ends.
struct Pieces {
    data: Vec<u8>,
    pos: usize,
    /// Ends of the pieces, ascending.
    cuts: VecDeque<usize>,
}

impl Pieces {
    fn new(data: &[u8], cuts: &[usize]) -> Self {
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
        cuts.sort_unstable();
        Self {
            data: data.to_vec(),
            pos: 0,
            cuts: cuts.into(),
        }
    }
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.cuts.front().is_some_and(|&c| c <= self.pos) {
            self.cuts.pop_front();
        }
        let end = self.cuts.front().copied().unwrap_or(self.data.len());
        let n = (end - self.pos).min(buf.remaining());
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// Reads one response from `data` cut at `cuts`; returns the outcome, the body and the
/// buffer's final capacity (it never shrinks, so it bounds what the read ever held).
fn read(
    data: &[u8],
    cuts: &[usize],
    head_request: bool,
    limits: Limits,
) -> (Result<Response, Failure>, Vec<u8>, usize) {
    let mut stream = Pieces::new(data, cuts);
    let mut buf = Vec::new();
    let before = std::time::Instant::now();
    let mut outcome =
        futures::executor::block_on(read_response(&mut stream, &mut buf, head_request, limits));
    if let Ok(r) = &mut outcome {
        // When the first byte came is no part of what was read: compare responses without it.
        assert!(r.first_byte >= before && r.first_byte <= std::time::Instant::now());
        r.first_byte = *EPOCH;
    }
    let body = match &outcome {
        Ok(r) => buf[r.body.clone()].to_vec(),
        Err(_) => Vec::new(),
    };
    (outcome, body, buf.capacity())
}

fn whole(data: &[u8]) -> (Result<Response, Failure>, Vec<u8>) {
    let (outcome, body, _) = read(data, &[], false, Limits::default());
    (outcome, body)
}

const SMALL: Limits = Limits {
    max_head: 256,
    max_body: 1024,
};

/// What any input may come to: a response within the limits, or one of the typed failures
/// of reading a response.
fn assert_bounded(data: &[u8], cuts: &[usize], head_request: bool) {
    let (outcome, body, capacity) = read(data, cuts, head_request, SMALL);
    match outcome {
        Ok(r) => {
            assert!(r.body.start <= r.body.end);
            assert!(body.len() <= SMALL.max_body);
            assert!((100..1000).contains(&r.status));
        }
        Err(Failure::BadHttp | Failure::Disconnected | Failure::AmbiguousLength(_)) => {}
        Err(other) => panic!("unexpected failure {other:?}"),
    }
    // Reads never fill the buffer past the limits; its capacity at most doubles them.
    assert!(
        capacity <= 2 * (SMALL.max_buffer() + MIN_READ),
        "capacity {capacity}"
    );
}

#[test]
fn bodies_by_length_by_chunks_and_until_the_end() {
    let (r, body) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!((r.unwrap().status, body.as_slice()), (200, &b"hello"[..]));
    let (r, body) = whole(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\
          \r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
    );
    let r = r.unwrap();
    assert_eq!(
        (r.status, r.close, body.as_slice()),
        (201, false, &b"hello world"[..])
    );
    let (r, body) = whole(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
    assert!(r.unwrap().close);
    assert_eq!(body, b"until the end");
    let (r, _) = whole(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(r.unwrap().close);
    // A final coding other than chunked: the body ends with the connection.
    let (r, body) = whole(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nab");
    assert!(r.unwrap().close);
    assert_eq!(body, b"5\r\nab");
    // Bytes after the response: nobody asked for them, the connection is done.
    let (r, _) = whole(b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc");
    assert!(r.unwrap().close);
}

#[test]
fn ambiguous_lengths_are_typed_failures() {
    let differing = Err(Failure::AmbiguousLength(Framing::DifferingContentLengths));
    let both = Err(Failure::AmbiguousLength(
        Framing::ContentLengthWithTransferEncoding,
    ));
    let cases: [(&[u8], _); 4] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            differing.clone(),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
            differing,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            both.clone(),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello",
            both,
        ),
    ];
    for (response, expected) in cases {
        assert_eq!(whole(response).0, expected);
    }
    // The same length twice is one length.
    let (r, body) =
        whole(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!((r.unwrap().status, body.as_slice()), (200, &b"hello"[..]));
    // Without a body, the framing headers say nothing (RFC 9112 section 6.3, rule 1).
    let (r, _) =
        whole(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
    assert_eq!(r.unwrap().status, 304);
}

#[test]
fn malformed_lengths_and_oversized_responses_are_bad_http() {
    for response in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"garbage\r\n\r\n",
    ] {
        assert_eq!(whole(response).0, Err(Failure::BadHttp), "{response:?}");
    }
    let big_head = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 300]].concat();
    assert_eq!(read(&big_head, &[], false, SMALL).0, Err(Failure::BadHttp));
    let big_body = [b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &[b'a'; 1025]].concat();
    assert_eq!(read(&big_body, &[], false, SMALL).0, Err(Failure::BadHttp));
    let just_fits = [b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &[b'a'; 1024]].concat();
    assert_eq!(read(&just_fits, &[], false, SMALL).1.len(), 1024);
    let endless_extension = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;".as_slice(),
        &[b'x'; 600],
    ]
    .concat();
    assert_eq!(
        read(&endless_extension, &[], false, SMALL).0,
        Err(Failure::BadHttp)
    );
    let short = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort";
    assert_eq!(whole(short).0, Err(Failure::Disconnected));
}

/// A valid response: status, headers in any order, a body framed by length, by chunks of the
/// given sizes, or by the end of the connection.
fn valid_response() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (
        prop::sample::select(vec![200u16, 201, 400, 404, 422, 500, 503]),
        prop::collection::vec(any::<u8>(), 0..300),
        0u8..3,
        prop::collection::vec(1usize..40, 1..8),
        prop::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,30}"), 0..5),
    )
        .prop_map(|(status, body, framing, chunk_sizes, extra)| {
            let mut out = format!("HTTP/1.1 {status} Whatever\r\n").into_bytes();
            for (name, value) in extra {
                let lower = name.to_ascii_lowercase();
                if ["content-length", "transfer-encoding", "connection"].contains(&lower.as_str()) {
                    continue;
                }
                out.extend(format!("{name}: {}\r\n", value.trim()).as_bytes());
            }
            match framing {
                0 => {
                    out.extend(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                    out.extend(&body);
                }
                1 => {
                    out.extend(b"Transfer-Encoding: chunked\r\n\r\n");
                    let mut rest = body.as_slice();
                    for size in chunk_sizes.iter().cycle() {
                        if rest.is_empty() {
                            break;
                        }
                        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
                        out.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
                        out.extend(chunk);
                        out.extend(b"\r\n");
                        rest = tail;
                    }
                    out.extend(b"0\r\n\r\n");
                }
                _ => {
                    out.extend(b"Connection: close\r\n\r\n");
                    out.extend(&body);
                }
            }
            (out, body)
        })
}

#[test]
fn a_valid_response_split_at_every_point_reads_the_same() {
    let responses: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{\"status\": \"ok\"}\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n{\"detail\": \"busy\"}",
    ];
    for response in responses {
        let expected = whole(response);
        assert!(expected.0.is_ok());
        for cut in 0..=response.len() {
            let (outcome, body, _) = read(response, &[cut], false, Limits::default());
            assert_eq!((outcome, body), expected, "cut at {cut}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_give_a_response_or_a_typed_failure(
        data in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(0usize..2048, 0..16),
        head_request in any::<bool>(),
    ) {
        assert_bounded(&data, &cuts, head_request);
    }

    #[test]
    fn mangled_responses_give_a_response_or_a_typed_failure(
        (response, _) in valid_response(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        junk in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(0usize..4096, 0..16),
    ) {
        let mut data = response;
        for (at, byte) in edits {
            let i = at.index(data.len());
            data[i] = byte;
        }
        data.extend(junk);
        assert_bounded(&data, &cuts, false);
    }

    #[test]
    fn valid_responses_read_the_same_however_they_are_split(
        (response, body) in valid_response(),
        cuts in prop::collection::vec(0usize..1024, 0..16),
    ) {
        let (whole_outcome, whole_body) = whole(&response);
        let status = whole_outcome.as_ref().map(|r| r.status).unwrap();
        prop_assert!((200..600).contains(&status));
        prop_assert_eq!(&whole_body, &body);
        let (outcome, split_body, _) = read(&response, &cuts, false, Limits::default());
        prop_assert_eq!(outcome, whole_outcome);
        prop_assert_eq!(split_body, body);
    }
}

#[test]
fn server_timing_fields_are_read_from_the_head() {
    let (outcome, body) = whole(
        b"HTTP/1.1 200 OK\r\nServer-Timing: db;dur=1\r\nContent-Length: 2\r\n\
          server-timing: inference;dur=0.012, total;dur=0.034\r\n\r\n{}",
    );
    let timing = outcome.unwrap().server_timing.unwrap();
    assert_eq!(timing.inference, Some(std::time::Duration::from_micros(12)));
    assert_eq!(timing.total, Some(std::time::Duration::from_micros(34)));
    assert_eq!(body, b"{}");
    let (outcome, _) =
        whole(b"HTTP/1.1 200 OK\r\nServer-Timing: garbage\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(outcome.unwrap().server_timing, None);
}
