use proptest::prelude::*;

use super::*;
use PathNormalization::{
    Base, DecodeAndMergeSlashes as Decode, MergeSlashes as Merge, None as Raw,
};

const ALL: [PathNormalization; 4] = [Raw, Base, Merge, Decode];

fn norm(p: &str, mode: PathNormalization) -> String {
    normalize(p, mode)
        .map(|n| n.path.into_owned())
        .unwrap_or_else(|e| format!("<{e}>"))
}

/// Istio `tests/integration/security/normalization_test.go`: input, then the path the backend
/// receives under NONE, BASE, MERGE_SLASHES and DECODE_AND_MERGE_SLASHES.
#[test]
fn istio_vectors_per_mode() {
    let table: &[(&str, [&str; 4])] = &[
        ("/", ["/", "/", "/", "/"]),
        ("/app", ["/app", "/app", "/app", "/app"]),
        ("/app#foo", ["/app", "/app", "/app", "/app"]),
        ("/app/", ["/app/", "/app/", "/app/", "/app/"]),
        ("/a/../b", ["/a/../b", "/b", "/b", "/b"]),
        ("/a/./b", ["/a/./b", "/a/b", "/a/b", "/a/b"]),
        ("/a/b/..", ["/a/b/..", "/a/", "/a/", "/a/"]),
        ("/a/b/.", ["/a/b/.", "/a/b/", "/a/b/", "/a/b/"]),
        ("/..", ["/..", "/", "/", "/"]),
        ("//admin", ["//admin", "//admin", "/admin", "/admin"]),
        ("///admin", ["///admin", "///admin", "/admin", "/admin"]),
        (
            "/public//../admin",
            [
                "/public//../admin",
                "/public/admin",
                "/public/admin",
                "/public/admin",
            ],
        ),
        ("/a%2Fb", ["/a%2Fb", "/a%2Fb", "/a%2Fb", "/a/b"]),
        ("/a%2fb", ["/a%2fb", "/a%2fb", "/a%2fb", "/a/b"]),
        ("/a%5Cb", ["/a%5Cb", "/a%5Cb", "/a%5Cb", "/a/b"]),
        ("/a%5cb", ["/a%5cb", "/a%5cb", "/a%5cb", "/a/b"]),
        ("/a\\b", ["/a\\b", "/a/b", "/a/b", "/a/b"]),
        ("/%2E%2E/b", ["/%2E%2E/b", "/b", "/b", "/b"]),
        ("/%2e/b", ["/%2e/b", "/b", "/b", "/b"]),
        ("/%61pp", ["/%61pp", "/app", "/app", "/app"]),
        ("/%41pp", ["/%41pp", "/App", "/App", "/App"]),
        ("/%7Euser", ["/%7Euser", "/~user", "/~user", "/~user"]),
        ("/a%2D%5F%30", ["/a%2D%5F%30", "/a-_0", "/a-_0", "/a-_0"]),
        (
            "/something%2F..%2Fadmin",
            [
                "/something%2F..%2Fadmin",
                "/something%2F..%2Fadmin",
                "/something%2F..%2Fadmin",
                "/admin",
            ],
        ),
        ("/a?x=1", ["/a", "/a", "/a", "/a"]),
    ];
    for (input, expected) in table {
        for (mode, want) in ALL.iter().zip(expected) {
            assert_eq!(&norm(input, *mode), want, "{input} under {mode:?}");
        }
    }
}

/// security.md §1.1 "NotNormalized": left alone in every mode (a DENY on `/admin` does not
/// cover them; use ALLOW lists).
#[test]
fn istio_not_normalized() {
    for input in [
        "/%252e%252e/admin",
        "/%2561dmin",
        "/%c0%ae%c0%ae/admin",
        "/%c0%afadmin",
        "/%c1%9cadmin",
        "/0x2e0x2e/admin",
        "/.../admin",
        "/..../admin",
        "/..;/admin",
        "/;/admin",
        "/admin;a=b",
        "/admin;jsessionid=1",
        "/public/..;/admin",
        "/a,b",
        "/Admin",
        "/ADMIN",
    ] {
        for mode in ALL {
            assert_eq!(norm(input, mode), input, "{input} under {mode:?}");
        }
    }
}

/// H-09, H-13, H-14 and invalid escapes: 400 in every mode.
#[test]
fn rejected_in_every_mode() {
    let table: &[(&str, Rejected)] = &[
        ("/admin%00", Rejected::Nul),
        ("/admin\0", Rejected::Nul),
        ("/a%0", Rejected::InvalidEscape { at: 2 }),
        ("/a%zz", Rejected::InvalidEscape { at: 2 }),
        ("/a%", Rejected::InvalidEscape { at: 2 }),
        ("/a b", Rejected::InvalidByte { byte: b' ', at: 2 }),
        ("/a\tb", Rejected::InvalidByte { byte: b'\t', at: 2 }),
        ("/a\x01", Rejected::InvalidByte { byte: 1, at: 2 }),
        ("/a\x7f", Rejected::InvalidByte { byte: 0x7f, at: 2 }),
        ("/caf\u{e9}", Rejected::InvalidByte { byte: 0xc3, at: 4 }),
        ("admin", Rejected::NotOriginForm),
        ("*", Rejected::NotOriginForm),
        ("", Rejected::NotOriginForm),
        ("?x", Rejected::NotOriginForm),
        ("/a?x=\0", Rejected::Nul),
        ("/a?x y", Rejected::InvalidByte { byte: b' ', at: 4 }),
    ];
    for (input, want) in table {
        for mode in ALL {
            assert_eq!(
                normalize(input, mode).as_ref(),
                Err(want),
                "{input:?} {mode:?}"
            );
        }
    }
}

/// The query is kept for forwarding but never part of the judged path; the fragment is gone.
#[test]
fn query_forwarded_fragment_dropped() {
    let n = normalize("/public/../admin?x=1&y=/../z#frag", Base).unwrap();
    assert_eq!(n.path, "/admin");
    assert_eq!(n.query, Some("x=1&y=/../z"));
    assert_eq!(n.path_and_query(), "/admin?x=1&y=/../z");
    let n = normalize("/admin/?", Base).unwrap();
    assert_eq!((&*n.path, n.query), ("/admin/", Some("")));
    // Nothing to do: the input is borrowed, not copied.
    let n = normalize("/api/v1/users/42", Merge).unwrap();
    assert!(matches!(n.path, Cow::Borrowed(_)));
}

/// H-01…H-06 against `/admin`: every variant the modes should fold lands on `/admin`.
#[test]
fn advisory_variants_reach_admin() {
    let table: &[(&str, PathNormalization)] = &[
        ("/./admin", Base),
        ("/public/../admin", Base),
        ("/public/./../admin", Base),
        ("/public/%2e%2e/admin", Base),
        ("/public/%2E%2E/admin", Base),
        ("/public/%2E/%2E%2E/admin", Base),
        ("/public\\..\\admin", Base),
        ("/%61dmin", Base),
        ("//admin", Merge),
        ("///admin", Merge),
        ("/public%2f..%2fadmin", Decode),
        ("/%2Fadmin", Decode),
        ("/%5Cadmin", Decode),
        ("/private/..%2Fadmin", Decode),
    ];
    for (input, mode) in table {
        assert_eq!(norm(input, *mode), "/admin", "{input} {mode:?}");
    }
    // H-05 `\admin`: not origin form at all, so 400 rather than a second spelling of /admin.
    assert_eq!(normalize("\\admin", Base), Err(Rejected::NotOriginForm));
    // Envoy UNESCAPE_AND_FORWARD vector.
    assert_eq!(
        norm("/private/..%2Fpublic%5c%2e%2Fabc", Decode),
        "/public/abc"
    );
}

#[test]
fn methods_and_header_names() {
    for ok in ["GET", "POST", "FOO", "M-SEARCH"] {
        assert_eq!(check_method(ok), Ok(()), "{ok}");
    }
    for bad in ["get", "Get", "G T", "GET\x01", ""] {
        assert_eq!(check_method(bad), Err(Rejected::Method(bad.to_owned())));
    }
    assert_eq!(check_header_name(b"x-role"), Ok(()));
    for bad in [&b"x role"[..], b"x-role ", b"x\trole", b""] {
        assert!(check_header_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn mode_names() {
    for m in ALL {
        assert_eq!(PathNormalization::from_name(m.name()), Ok(m));
    }
    assert_eq!(PathNormalization::from_name("DEFAULT"), Ok(Base));
    assert_eq!(PathNormalization::default(), Base);
    assert!(PathNormalization::from_name("base").is_err());
}

fn mode() -> impl Strategy<Value = PathNormalization> {
    prop::sample::select(ALL.to_vec())
}

fn path() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "/", "//", ".", "..", "a", "B", "%2e", "%2E", "%2f", "%2F", "%5c", "\\", "%41", "%25",
        "%c0", ";", "admin", "?", "#", "-", "~",
    ]);
    prop::collection::vec(atoms, 0..12).prop_map(|v| format!("/{}", v.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { rng_seed: prop::test_runner::RngSeed::Fixed(4), ..ProptestConfig::default() })]

    /// security.md §5.1: normalize(normalize(p)) == normalize(p).
    #[test]
    fn idempotent(p in path(), m in mode()) {
        if let Ok(once) = normalize(&p, m) {
            let forwarded = once.path_and_query().into_owned();
            let twice = normalize(&forwarded, m).unwrap();
            prop_assert_eq!(&twice.path, &once.path);
            prop_assert_eq!(twice.query, once.query);
        }
    }

    /// No normalized output keeps what the mode removes.
    #[test]
    fn outputs_are_clean(p in path(), m in mode()) {
        if let Ok(n) = normalize(&p, m) {
            let out = &*n.path;
            prop_assert!(out.starts_with('/'));
            if m != Raw {
                prop_assert!(!out.contains('\\'));
                prop_assert!(!out.contains("/./") && !out.contains("/../"));
                prop_assert!(!out.ends_with("/.") && !out.ends_with("/.."));
                prop_assert!(!out.to_ascii_lowercase().contains("%2e"));
            }
            if matches!(m, Merge | Decode) {
                prop_assert!(!out.contains("//"));
            }
            if m == Decode {
                let l = out.to_ascii_lowercase();
                prop_assert!(!l.contains("%2f") && !l.contains("%5c"));
            }
        }
    }
}
