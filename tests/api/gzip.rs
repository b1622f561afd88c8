//! gzip on the wire: compressed requests are read, and answers are compressed for a caller
//! that asks (`grpc-accept-encoding: gzip`), and only then.
use clientstatus::proto::*;
use tonic::codec::CompressionEncoding;

use crate::helpers::*;

#[tokio::test]
async fn a_gzip_client_is_understood_and_answered_in_gzip() {
    let mut app = spawn_app().await;
    let c = app.create("Compressed").await;
    let mut gzip =
        client_status_service_client::ClientStatusServiceClient::new(app.channel.clone())
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip);
    let answer = gzip
        .get_client(GetClientRequest {
            client_id: c.client_id,
        })
        .await
        .expect("a compressed request is read");
    assert_eq!(
        answer
            .metadata()
            .get("grpc-encoding")
            .map(|v| v.to_str().ok()),
        Some(Some("gzip")),
        "{:?}",
        answer.metadata()
    );
    assert_eq!(
        answer.into_inner().client.expect("client").client_id,
        c.client_id
    );

    let plain = app
        .api
        .get_client(GetClientRequest {
            client_id: c.client_id,
        })
        .await
        .expect("plain");
    assert!(
        plain.metadata().get("grpc-encoding").is_none(),
        "{:?}",
        plain.metadata()
    );
}
