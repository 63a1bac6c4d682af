use super::*;

#[test]
fn durations_parse_exactly() {
    let ms = |s: &str| Duration::parse(s).map(|d| d.as_nanos());
    assert_eq!(ms("30s"), Ok(30_000_000_000));
    assert_eq!(ms("1.5s"), Ok(1_500_000_000));
    assert_eq!(ms("100ms"), Ok(100_000_000));
    assert_eq!(ms("1h"), Ok(3_600_000_000_000));
    assert_eq!(ms("1h30m"), Ok(5_400_000_000_000));
    assert_eq!(ms("0.001s"), Ok(1_000_000));
    assert_eq!(ms("0.1s"), Ok(100_000_000));
    assert_eq!(ms("250us"), Ok(250_000));
    assert_eq!(ms("0"), Ok(0));
    assert_eq!(ms(".5s"), Ok(500_000_000));
    assert!(matches!(
        Duration::parse("-5s"),
        Err(DurationError::Negative(_))
    ));
    assert!(matches!(
        Duration::parse("5"),
        Err(DurationError::Syntax(_))
    ));
    assert!(matches!(
        Duration::parse("5 s"),
        Err(DurationError::Syntax(_))
    ));
    assert!(matches!(
        Duration::parse("5d"),
        Err(DurationError::Syntax(_))
    ));
    assert!(matches!(
        Duration::parse("s"),
        Err(DurationError::Syntax(_))
    ));
    assert!(matches!(Duration::parse(""), Err(DurationError::Empty)));
    assert!(matches!(
        Duration::parse("99999999999h"),
        Err(DurationError::Overflow(_))
    ));
    assert!(matches!(
        Duration::parse("99999999999999999999999999999s"),
        Err(DurationError::Overflow(_))
    ));
    assert!(Duration::parse("1.5s").unwrap().is_whole_millis());
    assert!(!Duration::parse("1.0005s").unwrap().is_whole_millis());
    assert_eq!(Duration::parse("1500ms").unwrap().to_string(), "1500ms");
    assert_eq!(Duration::parse("2m").unwrap().to_string(), "120s");
}

#[test]
fn quantities_round_up_to_milli_units() {
    let m = |s: &str| Quantity::parse(s).map(|q| q.milli());
    assert_eq!(m("900m"), Ok(900));
    assert_eq!(m("100m"), Ok(100));
    assert_eq!(m("1"), Ok(1000));
    assert_eq!(m("1500m"), Ok(1500));
    assert_eq!(m("0.5"), Ok(500));
    assert_eq!(m("0.5m"), Ok(1), "MilliValue rounds up");
    assert_eq!(m("1k"), Ok(1_000_000));
    assert_eq!(m("1Ki"), Ok(1_024_000));
    assert_eq!(m("1e3"), Ok(1_000_000));
    assert_eq!(m("5n"), Ok(1));
    assert_eq!(m("0"), Ok(0));
    assert!(matches!(
        Quantity::parse("-1"),
        Err(QuantityError::Negative(_))
    ));
    assert!(matches!(
        Quantity::parse("ten"),
        Err(QuantityError::Syntax(_))
    ));
    assert!(matches!(
        Quantity::parse("1.2.3"),
        Err(QuantityError::Syntax(_))
    ));
    assert!(matches!(
        Quantity::parse("5x"),
        Err(QuantityError::Syntax(_))
    ));
    assert!(matches!(
        Quantity::parse("1Ei"),
        Err(QuantityError::Overflow(_))
    ));
}

#[test]
fn kinds_round_trip_by_name() {
    for k in ALL_KINDS {
        assert_eq!(Kind::from_name(k.name()), Some(k));
        assert!(!k.versions().is_empty());
    }
    assert_eq!(Kind::from_name("VirtualServce"), None);
}
