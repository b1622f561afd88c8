//! The error mapping's bounds and details.
use super::*;
use crate::grpc::violations::reason;

/// Bytes on the wire: grpc-message percent-encoded at worst, details base64.
fn wire_size(s: &Status) -> usize {
    s.message().len() * 3 + s.details().len().div_ceil(3) * 4
}

#[test]
fn a_huge_value_gives_a_small_error_that_still_names_the_field() {
    let huge = "ש".repeat(1_000_000);
    let status: Status = DomainError::invalid("color", format!("{huge:?} is not a colour")).into();
    assert!(wire_size(&status) < 4_096, "{}", wire_size(&status));
    let details = status.get_error_details();
    let bad = details.bad_request().expect("bad request");
    assert_eq!(bad.field_violations[0].field, "color");
}

#[test]
fn thousands_of_violations_list_twenty_and_count_the_rest() {
    let mut v = Violations::default();
    for i in 0..500 {
        v.push(
            format!("status_ids[{i}]"),
            reason::UNKNOWN_REFERENCE,
            "x".repeat(10_000),
        );
    }
    let status: Status = v.into();
    assert!(wire_size(&status) < 4_096, "{}", wire_size(&status));
    let details = status.get_error_details();
    let listed = &details.bad_request().expect("bad request").field_violations;
    let last = listed.last().expect("a last entry");
    assert_eq!(last.field, "…");
    assert!(last.description.contains("more violations"), "{last:?}");
    assert_eq!(
        details.error_info().expect("info").reason,
        "UNKNOWN_REFERENCE"
    );
    assert_eq!(
        details.error_info().expect("info").metadata["violations"],
        "500"
    );
}

#[test]
fn retryable_codes_say_when_to_retry() {
    let unavailable: Status = StoreError::Unavailable("connection refused".into()).into();
    assert_eq!(unavailable.code(), Code::Unavailable);
    let retry = unavailable.get_error_details().retry_info().cloned();
    assert_eq!(retry.and_then(|r| r.retry_delay), Some(RETRY_UNAVAILABLE));
    assert!(
        !unavailable.message().contains("refused"),
        "causes stay in the log"
    );
    let aborted: Status = StoreError::Conflict("serialization failure".into()).into();
    let retry = aborted.get_error_details().retry_info().cloned();
    assert_eq!(retry.and_then(|r| r.retry_delay), Some(RETRY_ABORTED));
}

#[test]
fn clipping_never_splits_a_character() {
    assert_eq!(clip("abc", 3), "abc");
    let cut = clip(&"é".repeat(100), 10);
    assert!(cut.len() <= 10 && cut.ends_with('…'), "{cut}");
}
