//! An accounting bridge: opens an account card for every client that becomes real.
//!
//! It follows the status-change stream, filtered to REAL and REAL_CLUB_OR_CONTRACT, and keeps
//! the last sequence it has processed in a file, written after each event (to a temporary file,
//! then renamed, so a kill never leaves a torn cursor). Killed and restarted, it resumes right
//! after that sequence: nothing missed, nothing processed twice.
//!
//!   cargo run --example accounting_bridge -- http://127.0.0.1:50051 bridge.cursor
use std::time::Duration;

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::{ClientStage, StreamStatusChangesRequest};
use tokio_stream::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let cursor_file = args
        .next()
        .unwrap_or_else(|| "accounting-bridge.cursor".into());
    let mut cursor: i64 = match std::fs::read_to_string(&cursor_file) {
        Ok(text) => text.trim().parse()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e.into()),
    };
    eprintln!("resuming after sequence {cursor}");
    loop {
        match follow(&server, &cursor_file, &mut cursor).await {
            Ok(()) => eprintln!("stream ended; reconnecting"),
            Err(e) => eprintln!("stream interrupted ({e}); reconnecting"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn follow(
    server: &str,
    cursor_file: &str,
    cursor: &mut i64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut api = ClientStatusServiceClient::connect(server.to_string()).await?;
    let request = StreamStatusChangesRequest {
        after_sequence: *cursor,
        new_stages: vec![
            ClientStage::Real as i32,
            ClientStage::RealClubOrContract as i32,
        ],
        ..Default::default()
    };
    let mut stream = api.stream_status_changes(request).await?.into_inner();
    while let Some(item) = stream.next().await {
        let Some(event) = item?.event else { continue };
        let name = event
            .client
            .as_ref()
            .and_then(|c| c.name.as_ref())
            .map(|n| n.last_name.clone())
            .unwrap_or_default();
        // The real bridge would call the accounting system here, idempotently by client id.
        println!(
            "seq {}: open account card for client {} ({name}), now {:?}",
            event.sequence,
            event.client_id,
            ClientStage::try_from(event.new_stage).unwrap_or(ClientStage::Unspecified)
        );
        *cursor = event.sequence;
        let tmp = format!("{cursor_file}.tmp");
        std::fs::write(&tmp, cursor.to_string())?;
        std::fs::rename(&tmp, cursor_file)?;
    }
    Ok(())
}
