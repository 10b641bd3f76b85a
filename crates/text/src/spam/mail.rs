//! Just enough RFC 822 / MIME to read the SpamAssassin mails: headers vs body, `Subject` (with RFC 2047 encoded
//! words), multipart bodies split at their boundary, quoted-printable and base64 text parts decoded, HTML tags
//! dropped, non-text parts (images, attachments) skipped.
//!
//! Bytes that are not UTF-8 are read as Latin-1 (the corpus is 2002 mail: mostly ASCII, some ISO-8859-1), so
//! parsing never fails: a malformed part is kept as plain text.

/// A parsed mail: its subject and the readable text of its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mail {
    /// The `Subject` header, decoded and unfolded; empty when absent.
    pub subject: String,
    /// The text parts of the body, decoded, HTML stripped, joined by blank lines.
    pub body: String,
}

impl Mail {
    /// `subject` and `body` as one text (what features and embeddings read).
    pub fn text(&self) -> String {
        format!("{}\n{}", self.subject, self.body)
    }
}

/// Parses a whole message (headers, blank line, body).
pub fn parse(raw: &[u8]) -> Mail {
    let (headers, body) = split_head(raw);
    let headers = Headers::parse(headers);
    let subject = headers.get("subject").map(|s| decode_words(&s)).unwrap_or_default();
    let mut parts = Vec::new();
    collect_text(&headers, body, 0, &mut parts);
    Mail { subject: collapse_spaces(&subject), body: parts.join("\n\n") }
}

/// Lowercase alphanumeric tokens of `text` (ASCII letters and digits), 2 to 30 characters long.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| (2..=30).contains(&w.len()))
        .map(|w| w.to_ascii_lowercase())
}

/// Body text with runs of whitespace collapsed to one space and ends trimmed: two bodies are "identical" when
/// these are equal.
pub fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits at the first empty line (`\n\n` or `\r\n\r\n`); a message without one is all headers.
fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\n' {
            let rest = &raw[i + 1..];
            if rest.first() == Some(&b'\n') {
                return (&raw[..i], &rest[1..]);
            }
            if rest.starts_with(b"\r\n") {
                return (&raw[..i], &rest[2..]);
            }
        }
        i += 1;
    }
    (raw, &[])
}

/// Header fields in order, names lowercased, continuation lines unfolded.
struct Headers(Vec<(String, String)>);

impl Headers {
    fn parse(raw: &[u8]) -> Headers {
        let text = bytes_to_string(raw);
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        Headers(fields)
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// The media type, lowercased (`text/plain` when absent, as RFC 2045 says).
    fn content_type(&self) -> String {
        self.get("content-type")
            .and_then(|v| v.split(';').next().map(|t| t.trim().to_ascii_lowercase()))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "text/plain".into())
    }

    /// A parameter of `Content-Type` (`boundary`, `charset`), unquoted.
    fn param(&self, key: &str) -> Option<String> {
        let v = self.get("content-type")?;
        for p in v.split(';').skip(1) {
            let Some((k, val)) = p.split_once('=') else { continue };
            if k.trim().eq_ignore_ascii_case(key) {
                return Some(val.trim().trim_matches('"').to_string());
            }
        }
        None
    }

    fn encoding(&self) -> String {
        self.get("content-transfer-encoding").map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default()
    }
}

/// Appends the readable text of a part (recursing into multiparts) to `out`.
fn collect_text(headers: &Headers, body: &[u8], depth: usize, out: &mut Vec<String>) {
    let ctype = headers.content_type();
    if ctype.starts_with("multipart/")
        && depth < 8
        && let Some(boundary) = headers.param("boundary").filter(|b| !b.is_empty())
        && let parts = split_multipart(body, &boundary)
        && !parts.is_empty()
    {
        let mut texts: Vec<(String, Vec<String>)> = Vec::new();
        for part in parts {
            let (h, b) = split_head(part);
            let h = Headers::parse(h);
            let mut found = Vec::new();
            collect_text(&h, b, depth + 1, &mut found);
            texts.push((h.content_type(), found));
        }
        // In an alternative, the plain-text rendering says what the HTML one says: keep only it.
        if ctype == "multipart/alternative"
            && let Some(plain) = texts.iter().position(|(t, f)| t == "text/plain" && !f.is_empty())
        {
            out.append(&mut texts.swap_remove(plain).1);
            return;
        }
        for (_, mut found) in texts {
            out.append(&mut found);
        }
        return;
    }
    if !(ctype.starts_with("text/") || ctype.starts_with("multipart/") || ctype == "message/rfc822") {
        return; // images, attachments
    }
    let decoded = match headers.encoding().as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => decode_base64(body),
        _ => body.to_vec(),
    };
    let text = bytes_to_string(&decoded);
    let text = if ctype == "text/html" || looks_like_html(&text) { strip_html(&text) } else { text };
    if !text.trim().is_empty() {
        out.push(text.trim().to_string());
    }
}

/// The parts between `--boundary` lines, up to `--boundary--`.
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let end = body[pos..].iter().position(|&b| b == b'\n').map_or(body.len(), |i| pos + i);
        let line = body[pos..end].strip_suffix(b"\r").unwrap_or(&body[pos..end]);
        if line.starts_with(delim) {
            if let Some(s) = start {
                parts.push(&body[s..pos.saturating_sub(1).max(s)]);
            }
            if line[delim.len()..].starts_with(b"--") {
                return parts;
            }
            start = Some((end + 1).min(body.len()));
        }
        pos = end + 1;
    }
    if let Some(s) = start {
        parts.push(&body[s..]);
    }
    parts
}

/// UTF-8 when valid, else Latin-1 (every byte one character).
fn bytes_to_string(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` is a byte, `=` at a line end is a soft break.
pub fn decode_quoted_printable(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if let (Some(h), Some(l)) = (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c))) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Base64 (RFC 4648), skipping whitespace and any other byte outside the alphabet; stops at `=`.
pub fn decode_base64(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in b {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?charset?Q?...?=`, `=?charset?B?...?=`) in a header value.
fn decode_words(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(start) = rest.find("=?") {
        let after = &rest[start + 2..];
        let word = after.split_once('?').and_then(|(_cs, r)| {
            let (enc, r) = r.split_once('?')?;
            let (payload, tail) = r.split_once("?=")?;
            let bytes = match enc.to_ascii_lowercase().as_str() {
                "q" => decode_quoted_printable(payload.replace('_', " ").as_bytes()),
                "b" => decode_base64(payload.as_bytes()),
                _ => return None,
            };
            Some((bytes_to_string(&bytes), tail))
        });
        match word {
            Some((text, tail)) => {
                let before = &rest[..start];
                // Whitespace between two encoded words is not part of the text.
                if !before.trim().is_empty() || out.is_empty() {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = tail;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text.chars().take(2000).collect::<String>().to_ascii_lowercase();
    head.contains("<html") || head.contains("<body") || head.contains("<table") || head.contains("<p>")
}

/// Drops tags, comments and the content of `<script>` / `<style>`; decodes the common entities.
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let skip_to = if lower[i..].starts_with("<!--") {
                lower[i..].find("-->").map(|e| i + e + 3)
            } else if lower[i..].starts_with("<script") {
                lower[i..].find("</script>").map(|e| i + e + 9)
            } else if lower[i..].starts_with("<style") {
                lower[i..].find("</style>").map(|e| i + e + 8)
            } else {
                lower[i..].find('>').map(|e| i + e + 1)
            };
            match skip_to {
                Some(j) => {
                    out.push(' ');
                    i = j;
                    continue;
                }
                None => break, // an unclosed tag runs to the end
            }
        }
        let ch = html[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    decode_entities(&out)
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(a) = rest.find('&') {
        out.push_str(&rest[..a]);
        let tail = &rest[a..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &tail[1..e];
            let c = match name {
                "nbsp" => ' ',
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let num = name.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_quoted_printable_decode() {
        assert_eq!(decode_base64(b"aGVs\nbG8gd29y bGQ="), b"hello world");
        assert_eq!(decode_quoted_printable(b"caf=E9 soft=\nbreak =3D"), b"caf\xe9 softbreak =");
    }

    #[test]
    fn encoded_words_and_entities() {
        assert_eq!(decode_words("=?iso-8859-1?Q?Hello_World?= =?utf-8?B?IQ==?="), "Hello World!");
        assert_eq!(decode_words("plain =?x?"), "plain =?x?");
        assert_eq!(strip_html("<p>a&amp;b</p><script>x</script><!-- c -->&#65;").trim(), "a&b   A");
    }
}
