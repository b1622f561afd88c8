//! After an erasure: the write-ahead log still holds the pages as they were before it (and
//! before every write since the last checkpoint). A TRUNCATE checkpoint copies the current
//! pages into the database file, whose freed space `secure_delete` has zeroed, and empties the
//! log, so no file of the database holds the erased data.
use std::time::Duration;

use sqlx::SqlitePool;

/// Times a checkpoint is tried while readers or the writer keep it from finishing.
const TRIES: u32 = 20;
const PAUSE: Duration = Duration::from_millis(50);

pub async fn checkpoint(pool: &SqlitePool) {
    for _ in 0..TRIES {
        // (busy, log frames, frames checkpointed): busy = 1 while another connection holds a
        // snapshot or writes; the log is emptied only when it was not.
        let done = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(pool)
            .await;
        match done {
            Ok((0, _, _)) => return,
            Ok(_) => tokio::time::sleep(PAUSE).await,
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint after an erasure failed");
                return;
            }
        }
    }
    tracing::warn!(
        "the write-ahead log stayed busy after an erasure; it is emptied at a later checkpoint"
    );
}
