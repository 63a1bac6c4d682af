use std::collections::BTreeMap;

use mesh_core::resource::SecretData;

use super::credentials::secret_value;

fn secret(data: &[(&str, &str)], string_data: &[(&str, &str)]) -> SecretData {
    let map = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    SecretData {
        secret_type: Some("kubernetes.io/tls".into()),
        data: map(data),
        string_data: map(string_data),
        immutable: None,
    }
}

#[test]
fn secret_values_decode_base64_data_and_take_string_data_as_is() {
    let s = secret(&[("tls.crt", "aGVsbG8=")], &[("tls.key", "plain")]);
    assert_eq!(secret_value(&s, "tls.crt").as_deref(), Some(&b"hello"[..]));
    assert_eq!(secret_value(&s, "tls.key").as_deref(), Some(&b"plain"[..]));
    assert_eq!(secret_value(&s, "ca.crt"), None);
}

#[test]
fn data_wins_over_string_data_for_the_same_key() {
    let s = secret(&[("tls.crt", "ZGF0YQ==")], &[("tls.crt", "string")]);
    assert_eq!(secret_value(&s, "tls.crt").as_deref(), Some(&b"data"[..]));
}
