//! Just enough base64 and PEM to check that a Secret holds what it claims (no crypto).

/// Decodes standard base64 with `=` padding (what Kubernetes writes in `data`); CR and LF are
/// skipped, as Go's decoder does.
pub(super) fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let chars: Vec<(usize, u8)> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| !matches!(b, b'\r' | b'\n'))
        .collect();
    if !chars.len().is_multiple_of(4) {
        return Err(format!(
            "invalid base64: {} characters is not a multiple of 4 (missing '=' padding?)",
            chars.len()
        ));
    }
    let mut out = Vec::with_capacity(chars.len() / 4 * 3);
    let groups = chars.len() / 4;
    for (g, quad) in chars.chunks(4).enumerate() {
        let last = g + 1 == groups;
        let mut acc: u32 = 0;
        let mut pad = 0;
        for (k, (at, b)) in quad.iter().enumerate() {
            let v = match (b, sextet(*b)) {
                (b'=', _) if last && k >= 2 => {
                    pad += 1;
                    0
                }
                (_, Some(v)) if pad == 0 => v,
                _ => {
                    return Err(format!(
                        "invalid base64: unexpected {:?} at offset {at}",
                        char::from(*b)
                    ));
                }
            };
            acc = (acc << 6) | u32::from(v);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(bytes.get(1..4 - pad).unwrap_or_default());
    }
    Ok(out)
}

/// The value of one base64 character.
fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// One PEM block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Block {
    /// The label (`CERTIFICATE`, `PRIVATE KEY`, ...).
    pub(super) label: String,
    /// True when the block has RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`).
    pub(super) headers: bool,
}

/// Parses PEM text into its blocks. Text between blocks is ignored (as Go's `pem.Decode`
/// does); every block must be closed by a matching END line and carry a non-empty base64 body.
pub(super) fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = boundary(line, "BEGIN") else {
            continue;
        };
        let mut body = String::new();
        let mut headers = false;
        let mut closed = false;
        for line in lines.by_ref() {
            if let Some(end) = boundary(line, "END") {
                if end != label {
                    return Err(format!("PEM block BEGIN {label} is closed by END {end}"));
                }
                closed = true;
                break;
            }
            if line.contains(':') {
                headers = true;
            } else {
                body.push_str(line);
            }
        }
        if !closed {
            return Err(format!("PEM block BEGIN {label} has no END line"));
        }
        match decode_base64(&body) {
            Ok(der) if !der.is_empty() => {}
            Ok(_) => return Err(format!("PEM block {label} is empty")),
            Err(e) => return Err(format!("PEM block {label}: {e}")),
        }
        out.push(Block {
            label: label.to_owned(),
            headers,
        });
    }
    Ok(out)
}

/// The label of a `-----BEGIN X-----` / `-----END X-----` line.
fn boundary<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?
        .strip_prefix(kind)?
        .strip_prefix(' ')?
        .strip_suffix("-----")
}
