//! What the relay publishes: the subject of each entry, its payload (the protobuf message the
//! gRPC streams send, or its canonical JSON form) and the headers that carry its sequence and the
//! relay's position, so the stream's newest message says where to resume.
use std::sync::OnceLock;

use async_nats::HeaderMap;
use async_nats::header::{NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use bytes::Bytes;
use prost_reflect::{DescriptorPool, DynamicMessage};

use crate::proto as pb;
use crate::store::Stream;

use super::settings::Format;

/// The entry's own sequence, and the stream (`status` or `alerts`) it belongs to.
pub const SEQUENCE: &str = "Clientstatus-Sequence";
pub const STREAM: &str = "Clientstatus-Stream";
/// Every message carries the relay's position in both streams once it is stored.
pub const STATUS_THROUGH: &str = "Clientstatus-Status-Through";
pub const ALERTS_THROUGH: &str = "Clientstatus-Alerts-Through";
/// On the first entry after sequences that retention removed before they were relayed.
pub const GAP: &str = "Clientstatus-Gap";
/// The payload's message type, fully qualified.
pub const TYPE: &str = "Clientstatus-Type";

/// A message the gRPC streams send, as the relay publishes it.
pub trait Relayed: prost::Message + Sized {
    const FULL_NAME: &'static str;
    /// The subject's last token: the event's new stage or the alert's kind, e.g. `real`.
    fn token(&self) -> String;
}

impl Relayed for pb::StreamStatusChangesResponse {
    const FULL_NAME: &'static str = "crm.clientstatus.v1.StreamStatusChangesResponse";

    fn token(&self) -> String {
        let stage = self.event.as_ref().map_or(0, |e| e.new_stage);
        let name = pb::ClientStage::try_from(stage).unwrap_or(pb::ClientStage::Unspecified);
        token(name.as_str_name(), "CLIENT_STAGE_")
    }
}

impl Relayed for pb::StreamAlertsResponse {
    const FULL_NAME: &'static str = "crm.clientstatus.v1.StreamAlertsResponse";

    fn token(&self) -> String {
        let kind = self.alert.as_ref().map_or(0, |a| a.kind);
        let name = pb::AlertKind::try_from(kind).unwrap_or(pb::AlertKind::Unspecified);
        token(name.as_str_name(), "ALERT_KIND_")
    }
}

/// `CLIENT_STAGE_FOLLOW_UP` -> `follow_up`.
fn token(enum_name: &str, prefix: &str) -> String {
    enum_name
        .strip_prefix(prefix)
        .unwrap_or(enum_name)
        .to_ascii_lowercase()
}

/// The subject's middle token per stream: `<prefix>.status.<stage>`, `<prefix>.alert.<kind>`.
pub fn subject<M: Relayed>(prefix: &str, stream: Stream, message: &M) -> String {
    let kind = match stream {
        Stream::Status => "status",
        Stream::Alerts => "alert",
    };
    format!("{prefix}.{kind}.{}", message.token())
}

/// The subject of the position marker published while nothing else is (see `Position`).
pub fn marker_subject(prefix: &str) -> String {
    format!("{prefix}.relay.position")
}

/// The payload in the chosen format.
pub fn payload<M: Relayed>(format: Format, message: &M) -> Result<Bytes, String> {
    let bytes = message.encode_to_vec();
    match format {
        Format::Protobuf => Ok(bytes.into()),
        Format::Json => {
            let pool = descriptors()?;
            let descriptor = pool
                .get_message_by_name(M::FULL_NAME)
                .ok_or_else(|| format!("{} is not in the descriptor set", M::FULL_NAME))?;
            let dynamic = DynamicMessage::decode(descriptor, bytes.as_slice())
                .map_err(|e| format!("re-decoding {}: {e}", M::FULL_NAME))?;
            serde_json::to_vec(&dynamic)
                .map(Bytes::from)
                .map_err(|e| format!("{} as JSON: {e}", M::FULL_NAME))
        }
    }
}

/// The contract's descriptors (embedded for server reflection), decoded once.
fn descriptors() -> Result<&'static DescriptorPool, String> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET).map_err(|e| format!("descriptors: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Where the relay stands: the last sequence of each stream stored in JetStream, and the
/// JetStream sequence of the stream's newest message (the next publish must follow it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    pub status: i64,
    pub alerts: i64,
    pub stream_seq: u64,
}

impl Position {
    pub fn of(&self, stream: Stream) -> i64 {
        match stream {
            Stream::Status => self.status,
            Stream::Alerts => self.alerts,
        }
    }

    /// The position once `seq` of `stream` is stored right after the current newest message.
    pub fn after(&self, stream: Stream, seq: i64) -> Position {
        let mut next = *self;
        match stream {
            Stream::Status => next.status = seq,
            Stream::Alerts => next.alerts = seq,
        }
        next.stream_seq += 1;
        next
    }

    /// Reads the position a stored message carries (`stream_seq` is where it is stored).
    pub fn from_headers(headers: &HeaderMap, stream_seq: u64) -> Option<Position> {
        let number = |name: &str| headers.get(name)?.as_str().parse::<i64>().ok();
        Some(Position {
            status: number(STATUS_THROUGH)?,
            alerts: number(ALERTS_THROUGH)?,
            stream_seq,
        })
    }

    /// The headers of the message that moves the relay from `self` to `next`: the position
    /// `next`, and `Nats-Expected-Last-Sequence` = `self.stream_seq`, so JetStream refuses the
    /// message unless the previous one is stored right before it. A lost publish thus fails
    /// every later one instead of leaving a gap, and a second relay cannot interleave.
    pub fn headers(&self, next: &Position) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            NATS_EXPECTED_LAST_SEQUENCE,
            self.stream_seq.to_string().as_str(),
        );
        headers.insert(STATUS_THROUGH, next.status.to_string().as_str());
        headers.insert(ALERTS_THROUGH, next.alerts.to_string().as_str());
        headers
    }
}

/// The headers of entry `seq` of `stream`: JetStream drops a re-send of the same
/// `Nats-Msg-Id` within its duplicate window.
pub fn entry_headers(
    mut headers: HeaderMap,
    stream: Stream,
    seq: i64,
    format: Format,
    full_name: &str,
) -> HeaderMap {
    headers.insert(NATS_MESSAGE_ID, format!("{}-{seq}", stream.name()).as_str());
    headers.insert(STREAM, stream.name());
    headers.insert(SEQUENCE, seq.to_string().as_str());
    headers.insert("Content-Type", format.content_type());
    headers.insert(TYPE, full_name);
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_the_new_stage_and_the_alert_kind() {
        let event = pb::StreamStatusChangesResponse {
            event: Some(pb::StatusChangeEvent {
                new_stage: pb::ClientStage::FollowUpMeetingOrQuote as i32,
                ..Default::default()
            }),
        };
        assert_eq!(
            subject("crm.cs", Stream::Status, &event),
            "crm.cs.status.follow_up_meeting_or_quote"
        );
        let alert = pb::StreamAlertsResponse {
            alert: Some(pb::Alert {
                kind: pb::AlertKind::HotLeadUntouched as i32,
                ..Default::default()
            }),
        };
        assert_eq!(
            subject("clientstatus", Stream::Alerts, &alert),
            "clientstatus.alert.hot_lead_untouched"
        );
    }

    #[test]
    fn a_stored_message_tells_where_both_streams_stand() {
        let before = Position {
            status: 41,
            alerts: 7,
            stream_seq: 48,
        };
        let next = before.after(Stream::Status, 42);
        let headers = before.headers(&next);
        assert_eq!(
            headers.get(NATS_EXPECTED_LAST_SEQUENCE).map(|v| v.as_str()),
            Some("48")
        );
        assert_eq!(Position::from_headers(&headers, 49), Some(next));
        assert_eq!(
            next,
            Position {
                status: 42,
                alerts: 7,
                stream_seq: 49
            }
        );
        assert_eq!(Position::from_headers(&HeaderMap::new(), 49), None);
    }

    #[test]
    fn json_is_the_canonical_mapping_of_the_grpc_message() {
        let event = pb::StreamStatusChangesResponse {
            event: Some(pb::StatusChangeEvent {
                sequence: 5,
                client_id: 12,
                new_stage: pb::ClientStage::Real as i32,
                cause: "RecordInvoice".into(),
                occurred_at: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            }),
        };
        let json: serde_json::Value =
            serde_json::from_slice(&payload(Format::Json, &event).expect("json")).expect("parse");
        let e = &json["event"];
        assert_eq!(e["sequence"], "5");
        assert_eq!(e["clientId"], "12");
        assert_eq!(e["newStage"], "CLIENT_STAGE_REAL");
        assert_eq!(e["cause"], "RecordInvoice");
        assert_eq!(e["occurredAt"], "2023-11-14T22:13:20Z");
    }
}
