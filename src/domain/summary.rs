//! `recent_events_summary`: at most 1,000 characters, newest entry first.
//!
//! Entries are kept structured (time + rendered text) so a late event lands in its place by
//! time rather than on top. Lengths count Unicode scalar values, never bytes: the notes are
//! often Hebrew, and a character is never split.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The limit, in characters (Unicode scalar values).
pub const SUMMARY_LIMIT: usize = 1_000;
const SEPARATOR: char = '\n';
const ELLIPSIS: char = '…';

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryEntry {
    pub at: DateTime<Utc>,
    pub text: String,
}

impl SummaryEntry {
    /// "2026-11-23 09:30 | dana | Call: no answer | note". Line breaks in the note become
    /// spaces so one entry is one line.
    pub fn new(at: DateTime<Utc>, user: &str, kind: &str, note: &str) -> Self {
        let mut text = format!("{} | {user} | {kind}", at.format("%Y-%m-%d %H:%M"));
        let note = note.trim();
        if !note.is_empty() {
            text.push_str(" | ");
            text.extend(note.chars().map(|c| if breaks_layout(c) { ' ' } else { c }));
        }
        SummaryEntry { at, text }
    }

    fn chars(&self) -> usize {
        self.text.chars().count()
    }
}

/// Characters that would break "one entry per line" or reorder the text around them: control
/// characters, line and paragraph separators, bidirectional overrides and isolates.
fn breaks_layout(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Adds an entry in time order (newest first; among equal times the newest arrival first),
/// then drops whole oldest entries until the rendering fits. A single entry longer than the
/// limit is cut to the limit, ending with an ellipsis.
pub fn add_entry(entries: &mut Vec<SummaryEntry>, entry: SummaryEntry) {
    let pos = entries
        .iter()
        .position(|e| e.at <= entry.at)
        .unwrap_or(entries.len());
    entries.insert(pos, entry);

    let mut used = 0;
    let mut keep = 0;
    for (i, e) in entries.iter().enumerate() {
        let len = e.chars() + usize::from(i > 0);
        if used + len > SUMMARY_LIMIT {
            break;
        }
        used += len;
        keep += 1;
    }
    if keep == 0 {
        let first = &mut entries[0];
        let cut: String = first.text.chars().take(SUMMARY_LIMIT - 1).collect();
        first.text = cut;
        first.text.push(ELLIPSIS);
        keep = 1;
    }
    entries.truncate(keep);
}

/// The text clients see.
pub fn render(entries: &[SummaryEntry]) -> String {
    let mut out = String::new();
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(&e.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    #[test]
    fn newest_entry_comes_first() {
        let mut e = Vec::new();
        add_entry(&mut e, SummaryEntry::new(at(1), "dana", "Call", "first"));
        add_entry(&mut e, SummaryEntry::new(at(2), "dana", "SMS", "second"));
        let text = render(&e);
        assert_eq!(
            text,
            "2026-01-01 00:02 | dana | SMS | second\n2026-01-01 00:01 | dana | Call | first"
        );
    }

    #[test]
    fn a_late_entry_lands_in_its_place_by_time() {
        let mut e = Vec::new();
        add_entry(&mut e, SummaryEntry::new(at(10), "a", "Call", "ten"));
        add_entry(&mut e, SummaryEntry::new(at(30), "a", "Call", "thirty"));
        add_entry(&mut e, SummaryEntry::new(at(20), "a", "Call", "twenty"));
        let notes: Vec<&str> = e
            .iter()
            .map(|x| x.text.rsplit(" | ").next().unwrap())
            .collect();
        assert_eq!(notes, vec!["thirty", "twenty", "ten"]);
    }

    #[test]
    fn whole_oldest_entries_are_dropped_to_fit_the_limit() {
        let mut e = Vec::new();
        for i in 0..100 {
            add_entry(
                &mut e,
                SummaryEntry::new(at(i), "agent", "Call", &"x".repeat(40)),
            );
            let text = render(&e);
            assert!(text.chars().count() <= SUMMARY_LIMIT);
            // every kept entry is whole
            for line in text.split('\n') {
                assert!(line.ends_with(&"x".repeat(40)), "{line}");
            }
        }
        // the newest survives, the oldest are gone
        assert!(e[0].text.starts_with("2026-01-01 01:39"));
        assert!(e.len() < 100);
        let next_would_not_fit = render(&e).chars().count() + 1 + e[0].chars() > SUMMARY_LIMIT;
        assert!(
            next_would_not_fit,
            "no more whole entries were dropped than needed"
        );
    }

    #[test]
    fn limit_counts_characters_not_bytes() {
        let mut e = Vec::new();
        let hebrew = "שלום עולם ".repeat(30); // 300 chars, 540+ bytes
        for i in 0..3 {
            add_entry(&mut e, SummaryEntry::new(at(i), "דנה", "שיחה", &hebrew));
        }
        let text = render(&e);
        assert!(text.len() > SUMMARY_LIMIT, "bytes exceed the limit");
        assert!(text.chars().count() <= SUMMARY_LIMIT);
        assert_eq!(
            e.len(),
            3,
            "three 330-character entries fit in 1,000 characters"
        );
    }

    #[test]
    fn an_entry_longer_than_the_limit_is_cut_with_an_ellipsis_on_a_character_boundary() {
        let mut e = Vec::new();
        add_entry(&mut e, SummaryEntry::new(at(0), "a", "Call", "old"));
        add_entry(
            &mut e,
            SummaryEntry::new(at(1), "a", "Call", &"ש".repeat(2_000)),
        );
        assert_eq!(e.len(), 1);
        let text = render(&e);
        assert_eq!(text.chars().count(), SUMMARY_LIMIT);
        assert!(text.ends_with('…'));
        assert!(text.starts_with("2026-01-01 00:01 | a | Call | שש"));
    }

    #[test]
    fn line_breaks_in_a_note_do_not_split_an_entry() {
        let entry = SummaryEntry::new(at(0), "a", "SMS", "one\ntwo\u{2028}three\u{202E}four");
        assert_eq!(
            entry.text,
            "2026-01-01 00:00 | a | SMS | one two three four"
        );
    }
}
