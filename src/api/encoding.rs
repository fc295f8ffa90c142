//! Request bodies in a content coding (`Content-Encoding`, RFC 9110
//! §8.4): gzip, deflate and zstd are decoded, to at most the body limit;
//! any other coding is refused with 415 rather than read as garbage lines.

use std::io::Read as _;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};

use super::ApiError;

/// `body` decoded as its `Content-Encoding` says (codings applied in the
/// order listed, so undone from the last), at most `max_bytes` of it.
/// Decoding is CPU work: call it off the async runtime's threads.
pub fn decode(headers: &HeaderMap, body: Bytes, max_bytes: usize) -> Result<Bytes, ApiError> {
    let codings = codings(headers)?;
    let mut body = body;
    for coding in codings.iter().rev() {
        body = match coding {
            Coding::Gzip => inflate(flate2::read::MultiGzDecoder::new(&body[..]), "gzip", max_bytes)?,
            // HTTP's deflate is the zlib format; some clients send raw
            // deflate, told apart by zlib's header check (RFC 1950).
            Coding::Deflate if is_zlib(&body) => {
                inflate(flate2::read::ZlibDecoder::new(&body[..]), "deflate", max_bytes)?
            }
            Coding::Deflate => inflate(flate2::read::DeflateDecoder::new(&body[..]), "deflate", max_bytes)?,
            Coding::Zstd => inflate(
                ZstdFrames {
                    rest: &body[..],
                    frame: None,
                },
                "zstd",
                max_bytes,
            )?,
        };
    }
    Ok(body)
}

/// The content codings a request names, refusing those it cannot decode.
fn codings(headers: &HeaderMap) -> Result<Vec<Coding>, ApiError> {
    let mut codings = Vec::new();
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::UnsupportedMediaType("Content-Encoding is not ASCII".into()))?;
        for name in value.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "identity" => {}
                "gzip" | "x-gzip" => codings.push(Coding::Gzip),
                "deflate" => codings.push(Coding::Deflate),
                "zstd" => codings.push(Coding::Zstd),
                _ => {
                    return Err(ApiError::UnsupportedMediaType(format!(
                        "Content-Encoding `{}` is not supported; send the body as it is, or in gzip, deflate or zstd",
                        crate::plugin::shown(name, 64)
                    )));
                }
            }
        }
    }
    Ok(codings)
}

#[derive(Debug, Clone, Copy)]
enum Coding {
    Gzip,
    Deflate,
    Zstd,
}

/// The content of every zstd frame of a body, one after another (RFC 8878
/// §3.1: a body may hold several).
struct ZstdFrames<'a> {
    rest: &'a [u8],
    frame: Option<ruzstd::decoding::StreamingDecoder<&'a [u8], ruzstd::decoding::FrameDecoder>>,
}

impl std::io::Read for ZstdFrames<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(frame) = &mut self.frame {
                match frame.read(buf)? {
                    0 if !buf.is_empty() => self.rest = self.frame.take().expect("a frame").into_inner(),
                    read => return Ok(read),
                }
            }
            if self.rest.is_empty() {
                return Ok(0);
            }
            let frame = ruzstd::decoding::StreamingDecoder::new(self.rest)
                .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
            self.frame = Some(frame);
        }
    }
}

fn is_zlib(body: &[u8]) -> bool {
    matches!(body, [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// Everything `decoder` gives, if it is at most `max_bytes`.
fn inflate(decoder: impl std::io::Read, coding: &str, max_bytes: usize) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    decoder
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| ApiError::BadRequest(format!("the body is not valid {coding} data: {error}")))?;
    if out.len() > max_bytes {
        return Err(ApiError::TooLarge(format!(
            "the body decompresses to more than ingest.max_body_bytes ({max_bytes} bytes); send it in parts"
        )));
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, value.parse().unwrap());
        headers
    }

    #[test]
    fn gzip_and_both_deflates_decode_and_stack() {
        let text = b"one\ntwo\n".repeat(100);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&text).unwrap();
        let gzip = gzip.finish().unwrap();
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(&text).unwrap();
        let zlib = zlib.finish().unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&text).unwrap();
        let raw = raw.finish().unwrap();
        for (coding, body) in [
            ("gzip", &gzip),
            ("x-gzip", &gzip),
            ("deflate", &zlib),
            ("Deflate", &raw),
        ] {
            let decoded = decode(&headers(coding), Bytes::from(body.clone()), 10_000).unwrap();
            assert_eq!(decoded, text, "{coding}");
        }
        // deflate applied, then gzip: undone in reverse.
        let mut both = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        both.write_all(&zlib).unwrap();
        let both = both.finish().unwrap();
        let decoded = decode(&headers("deflate, gzip"), Bytes::from(both), 10_000).unwrap();
        assert_eq!(decoded, text);
        assert_eq!(decode(&headers("identity"), Bytes::from_static(b"x"), 10).unwrap(), "x");
    }

    #[test]
    fn zstd_frames_decode_one_after_another() {
        let zstd = |text: &[u8]| ruzstd::encoding::compress_to_vec(text, ruzstd::encoding::CompressionLevel::Fastest);
        let text = b"one\ntwo\n".repeat(1000);
        let mut body = zstd(&text);
        body.extend(zstd(b"three\n"));
        let decoded = decode(&headers("zstd"), Bytes::from(body), 100_000).unwrap();
        assert_eq!(decoded, [&text[..], b"three\n"].concat());
        assert!(matches!(
            decode(&headers("zstd"), Bytes::from(zstd(&text)), 100),
            Err(ApiError::TooLarge(_))
        ));
        let mut truncated = zstd(&text);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            decode(&headers("zstd"), Bytes::from(truncated), 100_000),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn other_codings_too_much_and_bad_data_are_refused() {
        let refused = |value: &str, body: &[u8], max: usize| decode(&headers(value), Bytes::from(body.to_vec()), max);
        assert!(matches!(
            refused("br", b"x", 10),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            refused("gzip, compress", b"x", 10),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(refused("gzip", b"not gzip", 10), Err(ApiError::BadRequest(_))));
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&[b'\n'; 11]).unwrap();
        assert!(matches!(
            refused("gzip", &gzip.finish().unwrap(), 10),
            Err(ApiError::TooLarge(_))
        ));
    }
}
