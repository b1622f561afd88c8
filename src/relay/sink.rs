//! The JetStream side: the connection, the stream (created, or checked and brought to the
//! settings), the position read back from the stream's newest message, and publishing.
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::stream::{
    self, Config, LastRawMessageErrorKind, RetentionPolicy, StorageType,
};
use async_nats::jetstream::{self, Context};
use bytes::Bytes;

use super::message::Position;
use super::settings::RelaySettings;

/// How long connecting, a stream request or a publish's acknowledgement may take.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// NATS cannot be reached, or a request failed: try again shortly.
    #[error("NATS: {0}")]
    Nats(String),
    /// JetStream did not store a message right after the previous one (a publish was lost, or
    /// another relay published): the position must be read back again.
    #[error("JetStream stored out of order: {0}")]
    OutOfOrder(String),
    /// The stream has held messages but its newest one cannot be read (purged, deleted, or
    /// expired while nothing was published): the relay does not guess where it stood.
    #[error("the relay's position is lost: {0}")]
    PositionLost(String),
    /// A stream of that name exists that the relay cannot use.
    #[error("{0}")]
    Foreign(String),
}

fn nats(what: &str) -> impl Fn(&dyn std::fmt::Display) -> SinkError + '_ {
    move |e| SinkError::Nats(format!("{what}: {e}"))
}

pub struct Sink {
    js: Context,
    stream: stream::Stream,
}

/// Where a session starts: the position, and how long ago the newest message was stored.
pub struct Start {
    pub position: Position,
    pub newest_age: Option<Duration>,
}

impl Sink {
    pub async fn connect(settings: &RelaySettings, url: &str) -> Result<Sink, SinkError> {
        let client = async_nats::ConnectOptions::new()
            .name("clientstatus-relay")
            .connection_timeout(TIMEOUT)
            .connect(url)
            .await
            .map_err(|e| nats("connecting")(&e))?;
        let mut js = jetstream::new(client);
        js.set_timeout(TIMEOUT);
        let stream = ensure_stream(&js, settings).await?;
        Ok(Sink { js, stream })
    }

    /// The position stored in the stream's newest message (the start, for an empty stream).
    pub async fn start(&self) -> Result<Start, SinkError> {
        let info = self
            .stream
            .get_info()
            .await
            .map_err(|e| nats("stream info")(&e))?;
        let last = info.state.last_sequence;
        if last == 0 {
            return Ok(Start {
                position: Position::default(),
                newest_age: None,
            });
        }
        let lost = |why: String| {
            SinkError::PositionLost(format!(
                "stream {} has had {last} messages but {why}; delete the stream to have it \
                 refilled from what the database keeps (docs/relay.md)",
                info.config.name
            ))
        };
        let newest = match self.stream.get_raw_message(last).await {
            Ok(m) => m,
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {
                return Err(lost(format!("its newest, {last}, is gone")));
            }
            Err(e) => return Err(nats("reading the newest message")(&e)),
        };
        let position = Position::from_headers(&newest.headers, last)
            .ok_or_else(|| lost(format!("its newest, {last}, carries no relay position")))?;
        let age = time_since(newest.time.unix_timestamp());
        Ok(Start {
            position,
            newest_age: Some(age),
        })
    }

    /// Sends one message; its acknowledgement is awaited separately, so many can be in flight.
    pub async fn publish(
        &self,
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<PublishAckFuture, SinkError> {
        self.js
            .publish_with_headers(subject, headers, payload)
            .await
            .map_err(|e| nats("publishing")(&e))
    }
}

/// Awaits a publish's acknowledgement; `expected` is the JetStream sequence it must have.
pub async fn acknowledged(ack: PublishAckFuture, expected: u64) -> Result<(), SinkError> {
    match ack.await {
        Ok(ack) if ack.sequence == expected && !ack.duplicate => Ok(()),
        Ok(ack) => Err(SinkError::OutOfOrder(format!(
            "stored at {} (duplicate: {}), expected {expected}",
            ack.sequence, ack.duplicate
        ))),
        Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
            Err(SinkError::OutOfOrder(e.to_string()))
        }
        Err(e) => Err(nats("acknowledgement")(&e)),
    }
}

fn time_since(unix_seconds: i64) -> Duration {
    let now = chrono::Utc::now().timestamp();
    Duration::from_secs(u64::try_from(now - unix_seconds).unwrap_or(0))
}

/// The stream the settings describe.
fn wanted(settings: &RelaySettings) -> Config {
    let std = |d: chrono::Duration| d.to_std().unwrap_or_default();
    Config {
        name: settings.relay_stream.clone(),
        subjects: vec![format!("{}.>", settings.relay_subject_prefix)],
        // Limits, never interest or work-queue: those delete consumed messages, and the
        // relay resumes from the newest message it stored.
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        max_age: settings.relay_max_age.map(std).unwrap_or_default(),
        num_replicas: usize::from(settings.relay_replicas),
        duplicate_window: std(settings.relay_duplicate_window),
        description: Some("clientstatus status events and alerts (clientstatus relay)".into()),
        ..Default::default()
    }
}

/// Creates the stream, or checks one of that name is the relay's and brings its age limit,
/// replicas and duplicate window to the settings (the rest of its configuration is kept).
async fn ensure_stream(
    js: &Context,
    settings: &RelaySettings,
) -> Result<stream::Stream, SinkError> {
    let wanted = wanted(settings);
    let mut stream = js
        .get_or_create_stream(wanted.clone())
        .await
        .map_err(|e| nats("creating or reading the stream")(&e))?;
    let config = stream
        .info()
        .await
        .map_err(|e| nats("stream info")(&e))?
        .config
        .clone();
    if config.subjects != wanted.subjects || config.retention != RetentionPolicy::Limits {
        return Err(SinkError::Foreign(format!(
            "JetStream stream {} exists with subjects {:?} and {:?} retention; the relay needs \
             exactly {:?} with limits retention (choose another --relay-stream)",
            config.name, config.subjects, config.retention, wanted.subjects
        )));
    }
    if config.max_age != wanted.max_age
        || config.num_replicas != wanted.num_replicas
        || config.duplicate_window != wanted.duplicate_window
    {
        let updated = Config {
            max_age: wanted.max_age,
            num_replicas: wanted.num_replicas,
            duplicate_window: wanted.duplicate_window,
            ..config
        };
        js.update_stream(&updated)
            .await
            .map_err(|e| nats("updating the stream's limits")(&e))?;
        tracing::info!(stream = %updated.name, "JetStream stream limits updated to the settings");
    }
    Ok(stream)
}
