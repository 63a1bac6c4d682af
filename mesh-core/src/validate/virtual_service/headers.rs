//! Header manipulation: `headers.request|response.{set,add,remove}` on a rule and on each
//! destination (Istio `ValidateHTTPHeader*OperationName`, `ValidateHTTPHeaderValue`,
//! `validateAuthorityRewrite`; security C-25).

use crate::path::FieldPath;
use crate::resource::{HeaderOperations, Headers};
use crate::validate::Report;
use crate::validate::common::{header_value, is_header_name};

/// Request or response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

/// What an operation does to a header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Add,
    Remove,
}

/// Validates the header operations at `path` (`...headers`).
pub(super) fn operations(r: &mut Report, path: &FieldPath, headers: &Headers) {
    if let Some(ops) = &headers.request {
        side(r, &path.key("request"), ops, Side::Request);
    }
    if let Some(ops) = &headers.response {
        side(r, &path.key("response"), ops, Side::Response);
    }
}

fn side(r: &mut Report, path: &FieldPath, ops: &HeaderOperations, side: Side) {
    for (op, key, map) in [(Op::Set, "set", &ops.set), (Op::Add, "add", &ops.add)] {
        for (name, value) in map {
            let p = path.key(key).key(name.as_str());
            operation_name(r, &p, name, side, op);
            header_value(r, &p, value);
            if let Err(why) = substitutions(value) {
                r.error(
                    &p,
                    format!(
                        "header value {value:?} has a malformed %VARIABLE% substitution: {why}; \
                         write %% for a literal %"
                    ),
                );
            }
        }
    }
    for (i, name) in ops.remove.iter().enumerate() {
        operation_name(r, &path.key("remove").index(i), name, side, Op::Remove);
    }
}

/// Istio: request `set`/`add` may write `host`/`:authority` (an authority rewrite) but no other
/// `:`-prefixed name; request `remove` and every response operation may name neither.
fn operation_name(r: &mut Report, path: &FieldPath, name: &str, side: Side, op: Op) {
    let verb = match (op, side) {
        (Op::Set, Side::Request) => "set request header",
        (Op::Add, Side::Request) => "add request header",
        (Op::Remove, Side::Request) => "remove request header",
        (Op::Set, Side::Response) => "set response header",
        (Op::Add, Side::Response) => "add response header",
        (Op::Remove, Side::Response) => "remove response header",
    };
    if name.is_empty() {
        r.error(path, "header name cannot be empty");
        return;
    }
    let writes_request = side == Side::Request && op != Op::Remove;
    if writes_request && is_authority(name) {
        return;
    }
    if name.eq_ignore_ascii_case("host") {
        r.error(
            path,
            format!(
                "cannot {verb} {name:?}: the Host header can only be rewritten on requests \
                 (headers.request.set, or rewrite.authority)"
            ),
        );
    } else if name.starts_with(':') {
        let hint = if writes_request {
            "only :authority may be set"
        } else {
            "pseudo-headers belong to the proxy"
        };
        r.error(
            path,
            format!("cannot {verb} {name:?}: header cannot have \":\" prefix ({hint})"),
        );
    } else if !is_header_name(name) {
        r.error(
            path,
            format!(
                "header name {name:?} is not a valid HTTP header name (letters, digits and \
                 !#$%&'*+-.^_`|~ only)"
            ),
        );
    }
}

/// `host` or `:authority`, in any case.
pub(super) fn is_authority(name: &str) -> bool {
    name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case(":authority")
}

/// Istio `validateAuthorityRewrite`: the authority may be rewritten in one place only
/// (`rewrite.authority`, or one `host`/`:authority` entry in `headers.request.set|add`).
/// `path` is the rule (or destination); the error goes to the second place.
pub(super) fn authority_once(
    r: &mut Report,
    path: &FieldPath,
    rewrite: Option<&str>,
    headers: Option<&Headers>,
) {
    let mut places: Vec<(FieldPath, &str)> = Vec::new();
    if let Some(a) = rewrite.filter(|a| !a.is_empty()) {
        places.push((path.key("rewrite").key("authority"), a));
    }
    if let Some(req) = headers.and_then(|h| h.request.as_ref()) {
        for (key, map) in [("set", &req.set), ("add", &req.add)] {
            for (name, value) in map.iter().filter(|(n, _)| is_authority(n)) {
                let p = path
                    .key("headers")
                    .key("request")
                    .key(key)
                    .key(name.as_str());
                places.push((p, value));
            }
        }
    }
    if let [(_, first), (second_path, second), ..] = places.as_slice() {
        r.error(
            second_path,
            format!(
                "authority header cannot be set multiple times: have {first:?}, attempting to \
                 set {second:?}; keep one of rewrite.authority or a host/:authority header"
            ),
        );
    }
}

// === impl substitutions ===

/// Parser states of Envoy's header value formatter (`header_parser.cc`, ported by Istio as
/// `validateHeaderValue`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum St {
    /// Plain text.
    Literal,
    /// Inside `%VAR`.
    Name,
    /// After `%VAR(`: an argument array or a bare argument.
    ExpectArray,
    /// Waiting for the `"` of the next argument.
    ExpectString,
    /// Inside an argument.
    Str,
    /// After an argument: `,` or `]`.
    ExpectDelimiterOrEnd,
    /// After `]`: `)`.
    ExpectArgsEnd,
    /// After `)`: the closing `%`.
    ExpectVariableEnd,
}

/// Checks `%VAR%`, `%VAR(args)%` and `%%` in a configured header value.
pub(super) fn substitutions(value: &str) -> Result<(), &'static str> {
    let bytes = value.as_bytes();
    let mut state = St::Literal;
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        state = match (state, c) {
            (St::Literal, b'%') => match next {
                None => return Err("a '%' at the end opens no variable"),
                Some(b'%') => {
                    i += 1;
                    St::Literal
                }
                Some(_) => St::Name,
            },
            (St::Literal, _) => St::Literal,
            (St::Name, b'%') => St::Literal,
            (St::Name, b'(') => St::ExpectArray,
            (St::Name, _) => St::Name,
            (St::ExpectArray, b'[') => St::ExpectString,
            (St::ExpectArray, b' ') => St::ExpectArray,
            (St::ExpectArray, _) => St::Str,
            (St::ExpectDelimiterOrEnd, b',') => St::ExpectString,
            (St::ExpectDelimiterOrEnd, b']') => St::ExpectArgsEnd,
            (St::ExpectDelimiterOrEnd, b' ') => St::ExpectDelimiterOrEnd,
            (St::ExpectDelimiterOrEnd, _) => return Err("expected ',', ']' or a space"),
            (St::ExpectString, b'"') => St::Str,
            (St::ExpectString, b' ') => St::ExpectString,
            (St::ExpectString, _) => return Err("expected '\"' to open an argument"),
            (St::Str, b'\\') if next.is_none() => return Err("unterminated backslash"),
            (St::Str, b'\\') => {
                i += 1;
                St::Str
            }
            (St::Str, b')') => St::ExpectVariableEnd,
            (St::Str, b'"') => St::ExpectDelimiterOrEnd,
            (St::Str, _) => St::Str,
            (St::ExpectArgsEnd, b')') => St::ExpectVariableEnd,
            (St::ExpectArgsEnd, b' ') => St::ExpectArgsEnd,
            (St::ExpectArgsEnd, _) => return Err("expected ')' after the arguments"),
            (St::ExpectVariableEnd, b'%') => St::Literal,
            (St::ExpectVariableEnd, b' ') => St::ExpectVariableEnd,
            (St::ExpectVariableEnd, _) => return Err("expected '%' to close the variable"),
        };
        i += 1;
    }
    if state == St::Literal {
        Ok(())
    } else {
        Err("a variable is not closed with '%'")
    }
}
