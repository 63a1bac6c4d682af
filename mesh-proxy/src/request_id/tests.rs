use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{RequestIds, X_REQUEST_ID, uuid_v4};

fn is_uuid_v4(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    lens == [8, 4, 4, 4, 12]
        && s.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b'])
}

proptest! {
    #[test]
    fn ids_are_uuid_v4(seed in any::<u64>()) {
        let id = uuid_v4(&mut StdRng::seed_from_u64(seed));
        prop_assert!(is_uuid_v4(&id), "{}", id);
    }

    #[test]
    fn ids_spell_the_drawn_bits_in_order(seed in any::<u64>()) {
        use rand::Rng;
        let mut draws = StdRng::seed_from_u64(seed);
        let (hi, lo) = (draws.next_u64(), draws.next_u64());
        let hi = (hi & !0xF000) | 0x4000;
        let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
        let hex = format!("{hi:016x}{lo:016x}");
        let want = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]
        );
        prop_assert_eq!(uuid_v4(&mut StdRng::seed_from_u64(seed)), want);
    }
}

#[test]
fn missing_or_empty_id_is_generated_and_differs_per_request() {
    let ids = RequestIds::seed_from_u64(7);
    let mut a = HeaderMap::new();
    ids.ensure(&mut a);
    let mut b = HeaderMap::new();
    b.insert(X_REQUEST_ID, HeaderValue::from_static(""));
    ids.ensure(&mut b);
    let (a, b) = (
        a[&X_REQUEST_ID].to_str().unwrap(),
        b[&X_REQUEST_ID].to_str().unwrap(),
    );
    assert!(is_uuid_v4(a) && is_uuid_v4(b), "{a} {b}");
    assert_ne!(a, b);
}

#[test]
fn present_id_is_kept_even_when_not_a_uuid() {
    let ids = RequestIds::seed_from_u64(7);
    let mut h = HeaderMap::new();
    h.insert(X_REQUEST_ID, HeaderValue::from_static("client-chosen-1"));
    ids.ensure(&mut h);
    assert_eq!(h.get_all(&X_REQUEST_ID).iter().count(), 1);
    assert_eq!(h[&X_REQUEST_ID], "client-chosen-1");
}
