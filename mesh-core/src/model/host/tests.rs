use super::*;

#[test]
fn short_names_expand_in_the_resource_namespace() {
    assert_eq!(
        fqdn("myapp", "production", "cluster.local"),
        "myapp.production.svc.cluster.local"
    );
    // A dot means literal: reviews.prod is not expanded.
    assert_eq!(fqdn("reviews.prod", "x", "cluster.local"), "reviews.prod");
    assert_eq!(fqdn("*", "x", "cluster.local"), "*");
    assert_eq!(fqdn("*.foo.com", "x", "cluster.local"), "*.foo.com");
    assert_eq!(fqdn("10.0.0.1", "x", "cluster.local"), "10.0.0.1");
    assert_eq!(fqdn("MyApp", "ns", "corp.local"), "myapp.ns.svc.corp.local");
}

#[test]
fn wildcards_cover_suffixes_but_not_the_bare_domain() {
    let w = HostPattern::new("*.foo.com");
    assert!(w.matches("a.foo.com"));
    assert!(w.matches("a.b.foo.com"));
    assert!(!w.matches("foo.com"));
    assert!(
        !w.matches(".foo.com"),
        "the * stands for at least one character"
    );
    assert!(HostPattern::new("*").matches("anything"));
    assert!(HostPattern::new("*.com").matches("x.com"));
}

#[test]
fn overlap_and_intersection() {
    let a = HostPattern::new("*.foo.com");
    let b = HostPattern::new("a.foo.com");
    assert!(a.overlaps(&b) && b.overlaps(&a));
    assert_eq!(a.intersect(&b), Some(b.clone()));
    assert_eq!(HostPattern::new("*").intersect(&a), Some(a.clone()));
    assert!(!HostPattern::new("a.com").overlaps(&HostPattern::new("b.com")));
    assert!(HostPattern::new("*.a.com").overlaps(&HostPattern::new("*.com")));
}

#[test]
fn authorities_split_host_and_port() {
    assert_eq!(
        split_authority("Foo.COM:8080"),
        ("foo.com".into(), Some(8080))
    );
    assert_eq!(split_authority("foo.com."), ("foo.com".into(), None));
    assert_eq!(split_authority("[::1]:80"), ("::1".into(), Some(80)));
    assert_eq!(split_authority("foo:bar"), ("foo:bar".into(), None));
    assert_eq!(
        namespace_of("a.prod.svc.cluster.local", "cluster.local"),
        Some("prod")
    );
    assert_eq!(namespace_of("a.example.com", "cluster.local"), None);
}
