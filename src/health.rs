//! `grpc.health.v1.Health` that tells the truth: SERVING while the database answers a cheap
//! probe, NOT_SERVING while it does not and from the moment a graceful stop begins. `Watch`
//! streams each change and ends when the server stops, so an open Watch cannot hold the drain.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{self, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::store::Store;

pub mod reflection;

/// How often the database is probed, and how long a probe may take before it counts as down:
/// a database that stops answering shows within about 1.5 s.
const PROBE_EVERY: Duration = Duration::from_millis(500);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The status every service of this server reports (they share the one database), under
/// the services' names and "" (the server as a whole).
#[derive(Clone)]
pub struct Health {
    status: Arc<watch::Sender<ServingStatus>>,
    stopped: watch::Receiver<bool>,
    names: Arc<[&'static str]>,
}

impl Health {
    /// Serving from the start (the database was just opened); `stopped` turns true when the
    /// server has begun to stop.
    pub fn new(names: &[&'static str], stopped: watch::Receiver<bool>) -> Health {
        Health {
            status: Arc::new(watch::Sender::new(ServingStatus::Serving)),
            stopped,
            names: names.iter().copied().chain([""]).collect(),
        }
    }

    pub fn service(&self) -> HealthServer<Health> {
        HealthServer::new(self.clone())
    }

    /// A graceful stop has begun: callers should go elsewhere.
    pub fn stopping(&self) {
        self.status.send_replace(ServingStatus::NotServing);
    }

    /// Probes the database until the stop begins, flipping the status when the answer changes.
    pub async fn probe<S: Store>(self, store: Arc<S>) {
        let mut stopped = self.stopped.clone();
        loop {
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => return,
                () = tokio::time::sleep(PROBE_EVERY) => {}
            }
            let answer = tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await;
            let up = matches!(answer, Ok(Ok(())));
            if *stopped.borrow() {
                return;
            }
            let now = if up {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            let before = self.status.send_replace(now);
            match (before == now, &answer) {
                (true, _) => {}
                (false, Ok(Ok(()))) => tracing::info!("database reachable again: SERVING"),
                (false, Ok(Err(e))) => {
                    tracing::warn!(error = %e, "database unreachable: NOT_SERVING")
                }
                (false, Err(_)) => tracing::warn!(
                    timeout = ?PROBE_TIMEOUT,
                    "database probe timed out: NOT_SERVING"
                ),
            }
        }
    }

    fn known(&self, service: &str) -> bool {
        self.names.contains(&service)
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

#[tonic::async_trait]
impl health_server::Health for Health {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        if !self.known(&request.get_ref().service) {
            return Err(Status::not_found("unknown service"));
        }
        Ok(Response::new(response(*self.status.borrow())))
    }

    type WatchStream = ReceiverStream<Result<HealthCheckResponse, Status>>;

    /// Each change once (the current status first); after the stop's NOT_SERVING, the end. The
    /// protocol keeps an unknown service's Watch open: until the stop, then, too.
    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let known = self.known(&request.get_ref().service);
        let mut status = self.status.subscribe();
        let mut stopped = self.stopped.clone();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut last = None;
            loop {
                let now = if known {
                    *status.borrow_and_update()
                } else {
                    ServingStatus::ServiceUnknown
                };
                if last != Some(now) {
                    if tx.send(Ok(response(now))).await.is_err() {
                        return;
                    }
                    last = Some(now);
                }
                // `stopping` set NOT_SERVING before the stop was announced: it has just gone out.
                if *stopped.borrow() {
                    return;
                }
                tokio::select! {
                    changed = status.changed() => if changed.is_err() { return },
                    _ = stopped.wait_for(|s| *s) => {}
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
