//! Which replica relays. On Postgres the relay holds a session-level advisory lock on a
//! connection of its own: Postgres releases it the moment that connection ends (the process
//! died, the network dropped it), and the other replicas try for it every `TAKEOVER_POLL`.
//! On SQLite the single process relays. JetStream's expected-sequence check (`message.rs`) makes
//! the few seconds in which a cut-off leader may not yet know it lost the lock harmless.
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often a replica that does not relay tries to take over.
pub const TAKEOVER_POLL: Duration = Duration::from_secs(1);
/// How often the leader checks that its lock connection is alive, and how long it waits.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Leadership while held; dropping it gives it up.
pub struct Lease {
    lost: watch::Receiver<bool>,
    keeper: Option<JoinHandle<()>>,
}

impl Lease {
    /// Turns true when the lock may have been lost: stop publishing.
    pub fn lost(&self) -> watch::Receiver<bool> {
        self.lost.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The keeper owns the lock's connection: ending it closes the connection, and Postgres
        // releases the lock with it.
        if let Some(keeper) = self.keeper.take() {
            keeper.abort();
        }
    }
}

/// Who competes for leadership: nobody else (SQLite) or the replicas on one Postgres.
pub enum Candidate {
    Alone,
    Postgres {
        options: Box<PgConnectOptions>,
        key: i64,
        conn: Option<PgConnection>,
    },
}

impl Candidate {
    /// One candidate per JetStream stream: relays to different streams do not exclude each
    /// other (the lock is per database, whatever the schema).
    pub fn for_database(database_url: &str, jetstream_stream: &str) -> Result<Candidate, String> {
        if database_url.starts_with("sqlite:") {
            return Ok(Candidate::Alone);
        }
        let options = PgConnectOptions::from_str(database_url)
            .map_err(|e| format!("bad Postgres URL: {e}"))?;
        Ok(Candidate::Postgres {
            options: Box::new(options),
            key: lock_key(jetstream_stream),
            conn: None,
        })
    }

    /// Leadership, if it can be had now (`Ok(None)`: another replica holds it).
    pub async fn try_acquire(&mut self) -> Result<Option<Lease>, sqlx::Error> {
        let Candidate::Postgres { options, key, conn } = self else {
            let (_, lost) = watch::channel(false);
            return Ok(Some(Lease { lost, keeper: None }));
        };
        let mut c = match conn.take() {
            Some(c) => c,
            None => PgConnection::connect_with(options).await?,
        };
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(*key)
            .fetch_one(&mut c)
            .await?;
        if !got {
            *conn = Some(c);
            return Ok(None);
        }
        let (tell, lost) = watch::channel(false);
        let keeper = tokio::spawn(keep(c, tell));
        Ok(Some(Lease {
            lost,
            keeper: Some(keeper),
        }))
    }
}

/// Holds the lock's connection and checks it; says `lost` when a check fails.
async fn keep(mut conn: PgConnection, lost: watch::Sender<bool>) {
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let check = tokio::time::timeout(CHECK_TIMEOUT, conn.ping()).await;
        if !matches!(check, Ok(Ok(()))) {
            tracing::warn!("relay lost its Postgres lock connection; giving up leadership");
            let _ = lost.send(true);
            return;
        }
    }
}

/// A stable 64-bit key for the advisory lock of one JetStream stream's relay.
fn lock_key(jetstream_stream: &str) -> i64 {
    let digest = Sha256::digest(format!("clientstatus relay {jetstream_stream}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}
