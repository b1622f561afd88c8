//! The hub's memory of a stream: the most recent entries, contiguous by sequence, bounded in
//! count and in bytes. Every subscriber reads the same `Arc`s; none is copied per subscriber.
use std::collections::VecDeque;
use std::sync::Arc;

/// One stream entry, already converted to the message sent on the wire.
#[derive(Debug)]
pub struct Entry<M> {
    pub seq: i64,
    pub message: M,
    /// The message's encoded length: what the byte bounds count.
    pub size: usize,
}

/// How much a ring may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: usize,
    pub bytes: usize,
}

/// What the ring can tell a subscriber whose cursor is `cursor`.
#[derive(Debug)]
pub enum Look<M> {
    /// The ring no longer (or does not yet) hold `cursor + 1`: read the store. Every sequence up
    /// to `base` had been committed when this was answered.
    Behind { base: i64 },
    /// Entries after the cursor that the filter admits, and the newest sequence looked at
    /// (`through == cursor`: nothing new yet).
    Entries {
        entries: Vec<Arc<Entry<M>>>,
        through: i64,
    },
}

/// Entries `base + 1 ..= head`, oldest first.
#[derive(Debug)]
pub struct Ring<M> {
    entries: VecDeque<Arc<Entry<M>>>,
    base: i64,
    bytes: usize,
    limits: Limits,
}

impl<M> Ring<M> {
    /// A ring that holds nothing and covers nothing yet: every cursor is behind it.
    pub fn unknown(limits: Limits) -> Self {
        Ring {
            entries: VecDeque::new(),
            base: i64::MAX,
            bytes: 0,
            limits,
        }
    }

    /// The newest sequence held (or the start point when nothing is held).
    pub fn head(&self) -> i64 {
        self.entries.back().map_or(self.base, |e| e.seq)
    }

    /// Forgets everything and starts empty right after `seq`.
    pub fn restart_after(&mut self, seq: i64) {
        self.entries.clear();
        self.bytes = 0;
        self.base = seq;
    }

    /// Appends the next entry, evicting the oldest ones beyond the limits. An entry that does
    /// not follow the head (retention removed what the hub had not read yet) restarts the ring
    /// just before it, so nothing older is ever served from memory across the hole.
    pub fn push(&mut self, entry: Arc<Entry<M>>) {
        if entry.seq != self.head().saturating_add(1) {
            self.restart_after(entry.seq - 1);
        }
        self.bytes += entry.size;
        self.entries.push_back(entry);
        while self.entries.len() > self.limits.entries
            || (self.bytes > self.limits.bytes && self.entries.len() > 1)
        {
            let Some(old) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= old.size;
            self.base = old.seq;
        }
    }

    /// At most `max` entries after `cursor` that `admit` accepts, scanning no further than
    /// `max_bytes` of admitted entries.
    pub fn look(
        &self,
        cursor: i64,
        max: usize,
        max_bytes: usize,
        admit: impl Fn(&M) -> bool,
    ) -> Look<M> {
        if cursor < self.base {
            return Look::Behind { base: self.base };
        }
        let start = usize::try_from(cursor - self.base).unwrap_or(usize::MAX);
        let mut entries = Vec::new();
        let mut bytes = 0;
        let mut through = cursor;
        for entry in self.entries.iter().skip(start) {
            if entries.len() >= max || bytes >= max_bytes {
                break;
            }
            through = entry.seq;
            if admit(&entry.message) {
                bytes += entry.size;
                entries.push(entry.clone());
            }
        }
        Look::Entries { entries, through }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, size: usize) -> Arc<Entry<i64>> {
        Arc::new(Entry {
            seq,
            message: seq,
            size,
        })
    }

    fn seqs(look: Look<i64>) -> (Vec<i64>, i64) {
        match look {
            Look::Entries { entries, through } => {
                (entries.iter().map(|e| e.seq).collect(), through)
            }
            Look::Behind { base } => panic!("behind, base {base}"),
        }
    }

    #[test]
    fn keeps_the_newest_entries_within_count_and_bytes() {
        let mut ring = Ring::unknown(Limits {
            entries: 4,
            bytes: 30,
        });
        assert!(matches!(
            ring.look(0, 10, 100, |_| true),
            Look::Behind { .. }
        ));
        ring.restart_after(10);
        for seq in 11..=16 {
            ring.push(entry(seq, 5));
        }
        // Count bound: 13..=16 stay.
        assert!(matches!(
            ring.look(11, 10, 100, |_| true),
            Look::Behind { base: 12 }
        ));
        assert_eq!(
            seqs(ring.look(12, 10, 100, |_| true)),
            (vec![13, 14, 15, 16], 16)
        );
        ring.push(entry(17, 25));
        // Byte bound: 16 (5) + 17 (25) = 30.
        assert_eq!(seqs(ring.look(15, 10, 100, |_| true)), (vec![16, 17], 17));
        assert_eq!(seqs(ring.look(17, 10, 100, |_| true)), (vec![], 17));
    }

    #[test]
    fn a_filter_skips_entries_and_the_scan_stops_at_the_limits() {
        let mut ring = Ring::unknown(Limits {
            entries: 100,
            bytes: 1000,
        });
        ring.restart_after(0);
        for seq in 1..=10 {
            ring.push(entry(seq, 10));
        }
        assert_eq!(seqs(ring.look(0, 2, 1000, |m| m % 3 == 0)), (vec![3, 6], 6));
        assert_eq!(seqs(ring.look(6, 5, 1000, |m| m % 3 == 0)), (vec![9], 10));
        assert_eq!(seqs(ring.look(0, 100, 20, |_| true)), (vec![1, 2], 2));
    }

    #[test]
    fn a_hole_in_the_sequence_restarts_the_ring_before_it() {
        let mut ring = Ring::unknown(Limits {
            entries: 100,
            bytes: 1000,
        });
        ring.restart_after(0);
        ring.push(entry(1, 1));
        ring.push(entry(5, 1));
        assert!(matches!(
            ring.look(1, 10, 100, |_| true),
            Look::Behind { base: 4 }
        ));
        assert_eq!(seqs(ring.look(4, 10, 100, |_| true)), (vec![5], 5));
    }
}
