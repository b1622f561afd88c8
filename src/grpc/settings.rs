//! The gRPC edge's settings (flattened into `serve`'s flags; docs/errors.md explains them).
use std::fmt;

use clap::Args;

use super::page::KEY_MIN;
use super::status::DEFAULT_ERROR_DOMAIN;

#[derive(Clone, Args)]
pub struct EdgeSettings {
    /// Secret that signs page tokens, at least 16 characters (e.g. `openssl rand -hex 32`).
    /// Replicas behind one address must share it, or a page token from one fails on another;
    /// unset: a random key per start (tokens then also stop working across a restart).
    #[arg(long, env = "CLIENTSTATUS_PAGE_TOKEN_KEY", hide_env_values = true, value_parser = parse_key)]
    pub page_token_key: Option<String>,

    /// ErrorInfo.domain of every error: a DNS-style name for this service, e.g.
    /// clientstatus.crm.example.com.
    #[arg(long, env = "CLIENTSTATUS_ERROR_DOMAIN", default_value = DEFAULT_ERROR_DOMAIN, value_parser = parse_domain)]
    pub error_domain: String,
}

/// A key long enough not to be guessed. (clap quotes a refused value in its error; a refused
/// key is never used, and an accepted one is never printed.)
fn parse_key(text: &str) -> Result<String, String> {
    if text.chars().count() < KEY_MIN {
        return Err(format!(
            "the page token key must be at least {KEY_MIN} characters"
        ));
    }
    Ok(text.to_string())
}

/// Dot-separated labels of letters, digits and hyphens (what ErrorInfo.domain expects).
fn parse_domain(text: &str) -> Result<String, String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if text.len() <= 253 && text.contains('.') && text.split('.').all(label_ok) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!(
            "{text:?} is not a DNS-style name such as clientstatus.crm.example.com"
        ))
    }
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            page_token_key: None,
            error_domain: DEFAULT_ERROR_DOMAIN.into(),
        }
    }
}

/// The key itself never reaches a log: only whether one is set.
impl fmt::Debug for EdgeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeSettings")
            .field(
                "page_token_key",
                &if self.page_token_key.is_some() {
                    "set"
                } else {
                    "random per start"
                },
            )
            .field("error_domain", &self.error_domain)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_token_key_is_never_printed() {
        let settings = EdgeSettings {
            page_token_key: Some("hunter2hunter2hunter2".into()),
            ..EdgeSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("set"), "{shown}");
    }

    #[test]
    fn the_error_domain_is_a_dns_style_name() {
        assert_eq!(
            parse_domain("ClientStatus.CRM.example.com"),
            Ok("clientstatus.crm.example.com".into())
        );
        for bad in ["clientstatus", "a..b", "-a.b", "a b.c", ""] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
    }
}
