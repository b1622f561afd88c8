//! One leadership session: read the position back from JetStream, then publish whatever the
//! store holds after it, stream by stream, each batch pipelined and acknowledged in order.
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::store::{Store, StoreError, Stream};
use crate::stream::{Alerts, Source, StatusChanges};

use super::lease::Lease;
use super::message::{self, GAP, Position, Relayed};
use super::metrics::relay as metrics;
use super::settings::RelaySettings;
use super::sink::{Sink, SinkError, acknowledged};

/// Entries read from each stream per query (and so in flight to JetStream at most, per stream).
const BATCH: i64 = 256;
/// The store is read again at least this often, even if no wake-up arrives.
const POLL: Duration = Duration::from_secs(1);

impl From<StoreError> for SinkError {
    fn from(e: StoreError) -> Self {
        // The database is the other side's problem, but a session cannot go on without it.
        SinkError::Nats(format!("reading the store: {e}"))
    }
}

struct Pump<'a> {
    sink: Sink,
    settings: &'a RelaySettings,
    /// The last position JetStream acknowledged.
    position: Position,
    last_stored: Instant,
}

/// Relays until the lease is lost or the server stops (`Ok`), or something fails (`Err`);
/// `known` follows the position JetStream acknowledged.
pub async fn session<S: Store>(
    store: &Arc<S>,
    settings: &RelaySettings,
    url: &str,
    lease: &Lease,
    known: &mut Option<Position>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SinkError> {
    let sink = Sink::connect(settings, url).await?;
    let start = sink.start().await?;
    *known = Some(start.position);
    report_lag(store, &start.position).await?;
    tracing::info!(position = ?start.position, "relay resumes after the stream's newest message");
    let (status, alerts) = (StatusChanges(store.clone()), Alerts(store.clone()));
    let mut pump = Pump {
        sink,
        settings,
        position: start.position,
        last_stored: Instant::now()
            .checked_sub(start.newest_age.unwrap_or_default())
            .unwrap_or_else(Instant::now),
    };
    let mut wake = store.wakeups();
    let mut lost = lease.lost();
    loop {
        if *shutdown.borrow_and_update() || *lost.borrow_and_update() {
            return Ok(());
        }
        // Marked seen before reading, so a commit during the pass wakes us again.
        wake.borrow_and_update();
        let moved = match pump.pass(&status).await {
            Ok(n) => pump.pass(&alerts).await.map(|m| m + n),
            failed => failed,
        };
        // What JetStream acknowledged counts, even when a later publish failed.
        *known = Some(pump.position);
        let moved = moved?;
        report_lag(store, &pump.position).await?;
        if moved > 0 {
            continue;
        }
        pump.keep_position_alive().await?;
        tokio::select! {
            Ok(()) = wake.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = lost.changed() => {}
            changed = shutdown.changed() => if changed.is_err() { return Ok(()) },
        }
    }
}

impl Pump<'_> {
    /// Publishes the next batch of `source` after the position; returns how many were stored.
    async fn pass<Src>(&mut self, source: &Src) -> Result<usize, SinkError>
    where
        Src: Source,
        Src::Message: Relayed,
    {
        let stream = source.stream();
        let after = self.position.of(stream);
        let records = source.read(after, &Src::Filter::default(), BATCH).await?;
        let mut predicted = self.position;
        let mut in_flight = Vec::with_capacity(records.len());
        for record in records {
            let seq = Src::seq(&record);
            let next = predicted.after(stream, seq);
            let mut headers = predicted.headers(&next);
            let expected = predicted.of(stream) + 1;
            if seq > expected {
                // Retention removed these before they were relayed: nothing can bring them
                // back, so say so on the next entry and go on.
                let skipped = seq - expected;
                tracing::error!(
                    stream = stream.name(),
                    from = expected,
                    to = seq - 1,
                    "entries were removed by retention before the relay published them"
                );
                metrics().skipped(stream, u64::try_from(skipped).unwrap_or(0));
                headers.insert(GAP, format!("{expected}-{}", seq - 1).as_str());
            }
            let message = Src::to_message(record);
            let headers = message::entry_headers(
                headers,
                stream,
                seq,
                self.settings.relay_format,
                Src::Message::FULL_NAME,
            );
            let subject = message::subject(&self.settings.relay_subject_prefix, stream, &message);
            let payload = message::payload(self.settings.relay_format, &message)
                .map_err(SinkError::Foreign)?;
            in_flight.push((self.sink.publish(subject, headers, payload).await?, next));
            predicted = next;
        }
        let sent = in_flight.len();
        for (ack, next) in in_flight {
            // In order: once one fails, the later ones fail too (expected-sequence check).
            acknowledged(ack, next.stream_seq).await?;
            self.position = next;
            self.last_stored = Instant::now();
            metrics().published(stream);
        }
        Ok(sent)
    }

    /// With an age limit, the stream's newest message would expire while nothing is
    /// published, and with it the position: a marker carrying the position is published
    /// before that (every third of the age limit while idle).
    async fn keep_position_alive(&mut self) -> Result<(), SinkError> {
        let Some(max_age) = self.settings.relay_max_age.and_then(|d| d.to_std().ok()) else {
            return Ok(());
        };
        if self.position.stream_seq == 0 || self.last_stored.elapsed() < max_age / 3 {
            return Ok(());
        }
        let mut next = self.position;
        next.stream_seq += 1;
        let headers = self.position.headers(&next);
        let subject = message::marker_subject(&self.settings.relay_subject_prefix);
        let ack = self
            .sink
            .publish(subject, headers, Default::default())
            .await?;
        acknowledged(ack, next.stream_seq).await?;
        self.position = next;
        self.last_stored = Instant::now();
        Ok(())
    }
}

/// The lag metric: each stream's newest sequence minus `position`.
pub async fn report_lag<S: Store>(store: &Arc<S>, position: &Position) -> Result<(), SinkError> {
    let status = store.stream_bounds(Stream::Status).await?;
    let alerts = store.stream_bounds(Stream::Alerts).await?;
    metrics().lag(Stream::Status, status.last_seq - position.status);
    metrics().lag(Stream::Alerts, alerts.last_seq - position.alerts);
    Ok(())
}
