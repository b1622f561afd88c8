//! Lead de-duplication: the portal re-sending a known client makes no new one.

/// Lower-cased, trimmed email; `None` when empty.
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    (!e.is_empty()).then_some(e)
}

/// Digits only, with a leading international "00" read as "+" and a national trunk "0"
/// kept as written: "+972-54-123 4567", "00972541234567" and "972541234567" are one phone.
/// `None` when there are no digits.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.strip_prefix("00").unwrap_or(&digits).to_string();
    (!digits.is_empty()).then_some(digits)
}

/// What an incoming lead is matched on, in order of trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadKeys {
    pub external_lead_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl LeadKeys {
    pub fn new(external_lead_id: &str, email: &str, phone: &str) -> Self {
        let id = external_lead_id.trim();
        LeadKeys {
            external_lead_id: (!id.is_empty()).then(|| id.to_string()),
            email: normalize_email(email),
            phone: normalize_phone(phone),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.external_lead_id.is_none() && self.email.is_none() && self.phone.is_none()
    }

    /// Each key by the name a match reports, in the order a lead is matched on them.
    pub fn candidates(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("external_lead_id", self.external_lead_id.as_deref()),
            ("email", self.email.as_deref()),
            ("phone", self.phone.as_deref()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_match_case_and_space_insensitively() {
        assert_eq!(
            normalize_email("  Dana@Example.COM "),
            normalize_email("dana@example.com")
        );
        assert_eq!(normalize_email("   "), None);
    }

    #[test]
    fn phones_match_on_digits() {
        let a = normalize_phone("+972-54-123 4567");
        assert_eq!(a.as_deref(), Some("972541234567"));
        assert_eq!(normalize_phone("00972 54 1234567"), a);
        assert_eq!(normalize_phone("(972) 541234567"), a);
        assert_eq!(normalize_phone("--"), None);
    }

    #[test]
    fn keys_ignore_blank_fields() {
        let k = LeadKeys::new(" ", "", "");
        assert!(k.is_empty());
        let k = LeadKeys::new("L-1", "", "050");
        assert_eq!(k.external_lead_id.as_deref(), Some("L-1"));
        assert_eq!(k.phone.as_deref(), Some("050"));
    }
}
