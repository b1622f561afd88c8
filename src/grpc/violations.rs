//! What is wrong with a request, field by field. Parsers return `Result<T, Violations>`; a
//! tuple of such results is combined with [`All::all`], which keeps every violation of every
//! field, so a request is refused once with all its faults and no parser ever has to invent a
//! stand-in value for input it refused.

/// Stable ErrorInfo / FieldViolation reasons for bad input (documented in docs/errors.md).
pub mod reason {
    /// A required field is missing or blank.
    pub const FIELD_REQUIRED: &str = "FIELD_REQUIRED";
    /// A text is longer than its limit.
    pub const FIELD_TOO_LONG: &str = "FIELD_TOO_LONG";
    /// A repeated field or map holds more values than its limit.
    pub const TOO_MANY_VALUES: &str = "TOO_MANY_VALUES";
    /// A list names the same value twice where that is an error (clients of one call).
    pub const DUPLICATE_VALUE: &str = "DUPLICATE_VALUE";
    /// An enum number that is not defined, or not allowed in this field.
    pub const UNKNOWN_ENUM_VALUE: &str = "UNKNOWN_ENUM_VALUE";
    /// A number outside its range (ids, orders, offsets, versions, page sizes, timestamps).
    pub const VALUE_OUT_OF_RANGE: &str = "VALUE_OUT_OF_RANGE";
    /// Text of the wrong shape: an email, a phone, a colour, control characters, spaces.
    pub const INVALID_FORMAT: &str = "INVALID_FORMAT";
    /// Two fields that contradict each other, or one that needs another.
    pub const CONFLICTING_FIELDS: &str = "CONFLICTING_FIELDS";
    /// An id the catalogue does not have.
    pub const UNKNOWN_REFERENCE: &str = "UNKNOWN_REFERENCE";
    /// A page token that was altered, expired with its server key, or belongs to another query.
    pub const PAGE_TOKEN_INVALID: &str = "PAGE_TOKEN_INVALID";
    /// Bytes that are not a request message (also tonic's framing errors).
    pub const MALFORMED_REQUEST: &str = "MALFORMED_REQUEST";
    /// A request message larger than the server accepts.
    pub const REQUEST_TOO_LARGE: &str = "REQUEST_TOO_LARGE";
}

/// Violations kept one by one; more are only counted (a request cannot make the server hold
/// an unbounded list, whatever it sends).
const KEPT_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub reason: &'static str,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    kept: Vec<Violation>,
    /// Violations beyond `KEPT_MAX`, counted only.
    dropped: usize,
}

impl Violations {
    pub fn one(
        field: impl Into<String>,
        reason: &'static str,
        description: impl Into<String>,
    ) -> Self {
        let mut v = Violations::default();
        v.push(field, reason, description);
        v
    }

    pub fn push(
        &mut self,
        field: impl Into<String>,
        reason: &'static str,
        description: impl Into<String>,
    ) {
        if self.kept.len() >= KEPT_MAX {
            self.dropped += 1;
            return;
        }
        self.kept.push(Violation {
            field: field.into(),
            reason,
            description: description.into(),
        });
    }

    pub fn extend(&mut self, other: Violations) {
        for v in other.kept {
            self.push(v.field, v.reason, v.description);
        }
        self.dropped += other.dropped;
    }

    /// The value of `result`, recording its violations if it failed.
    pub fn keep<T>(&mut self, result: Result<T, Violations>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.extend(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.dropped == 0
    }

    /// Every violation: the kept ones, and how many more there were.
    pub fn into_parts(self) -> (Vec<Violation>, usize) {
        (self.kept, self.dropped)
    }

    /// `Err(self)` when anything was recorded.
    pub fn into_result(self) -> Result<(), Violations> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// A tuple of field results combined: all the values, or every violation of all of them.
pub trait All {
    type Output;
    fn all(self) -> Result<Self::Output, Violations>;
}

macro_rules! all_for_tuples {
    ($(($($t:ident $v:ident),+))*) => {$(
        impl<$($t),+> All for ($(Result<$t, Violations>,)+) {
            type Output = ($($t,)+);
            fn all(self) -> Result<Self::Output, Violations> {
                let ($($v,)+) = self;
                let mut errors = Violations::default();
                $(let $v = errors.keep($v);)+
                match ($($v,)+) {
                    ($(Some($v),)+) => Ok(($($v,)+)),
                    // A `None` came with its violations, so `errors` is not empty here.
                    _ => Err(errors),
                }
            }
        }
    )*};
}

all_for_tuples! {
    (A a, B b)
    (A a, B b, C c)
    (A a, B b, C c, D d)
    (A a, B b, C c, D d, E e)
    (A a, B b, C c, D d, E e, F f)
    (A a, B b, C c, D d, E e, F f, G g)
    (A a, B b, C c, D d, E e, F f, G g, H h)
    (A a, B b, C c, D d, E e, F f, G g, H h, I i)
    (A a, B b, C c, D d, E e, F f, G g, H h, I i, J j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(field: &str) -> Result<i32, Violations> {
        Err(Violations::one(
            field,
            reason::FIELD_REQUIRED,
            "is required",
        ))
    }

    #[test]
    fn all_keeps_every_violation_of_every_field() {
        let err = (bad("a"), Ok::<_, Violations>(2), bad("c"))
            .all()
            .unwrap_err();
        let (kept, dropped) = err.into_parts();
        let fields: Vec<_> = kept.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["a", "c"]);
        assert_eq!(dropped, 0);
        assert_eq!(
            (Ok::<_, Violations>(1), Ok::<_, Violations>("x")).all(),
            Ok((1, "x"))
        );
    }

    #[test]
    fn a_flood_of_violations_is_counted_not_kept() {
        let mut v = Violations::default();
        for i in 0..10_000 {
            v.push(
                format!("ids[{i}]"),
                reason::VALUE_OUT_OF_RANGE,
                "must be positive",
            );
        }
        let (kept, dropped) = v.into_parts();
        assert_eq!(kept.len(), KEPT_MAX);
        assert_eq!(dropped, 10_000 - KEPT_MAX);
    }
}
