//! What the measurements need, created through the API before they start: classification
//! entries, template clients in every stage (what seeding copies), a pool of clients for the
//! writers and a few clients with some history for the reads.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clientstatus::proto::client_status_service_client::ClientStatusServiceClient;
use clientstatus::proto::status_catalog_service_client::StatusCatalogServiceClient;
use clientstatus::proto::*;
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::server::Server;
use crate::{Result, Settings, seed};

pub type Api = ClientStatusServiceClient<Channel>;

/// Owners of the template clients (and so of the seeded ones).
pub const OWNERS: usize = 16;
/// Owners the writers' pool is spread over (the unary ListClients filter names one).
pub const POOL_OWNERS: usize = 4;
/// The NOT_INTERESTED stage's built-in default status (its id is the stage's proto value).
const NOT_INTERESTED_STATUS: i64 = ClientStage::NotInterested as i64;

/// The template stages in funnel proportions: most clients are leads or in follow-up.
const FUNNEL: [ClientStage; 20] = {
    use ClientStage::*;
    [
        New,
        New,
        New,
        New,
        New,
        FollowUp,
        FollowUp,
        FollowUp,
        FollowUp,
        FollowUp,
        FollowUp,
        FollowUpMeetingOrQuote,
        FollowUpMeetingOrQuote,
        NotInterested,
        NotInterested,
        Real,
        Real,
        Real,
        RealClubOrContract,
        Frozen,
    ]
};

pub struct Fixtures {
    pub templates: Vec<i64>,
    /// Clients owned by `pool-0`… in FOLLOW_UP; each writer takes its own slice.
    pub pool: Vec<i64>,
    /// Clients with a few contacts: GetClient answers above 256 bytes.
    pub readable: Vec<i64>,
    pub customer_types: Vec<i64>,
}

/// A request id no other request of this run has.
pub fn request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "bench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn owner(i: usize) -> String {
    format!("agent-{:02}", i % OWNERS + 1)
}

pub fn pool_owner(i: usize) -> String {
    format!("pool-{}", i % POOL_OWNERS)
}

pub fn timestamp(at: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(at)
}

impl Fixtures {
    pub async fn create(server: &Server, settings: &Settings) -> Result<Fixtures> {
        let started = Instant::now();
        let channel = server.channel().await?;
        let api = Api::new(channel.clone());
        let mut catalog = StatusCatalogServiceClient::new(channel);
        let mut customer_types = Vec::new();
        for name in ["A", "B", "C"] {
            let entry = catalog
                .create_classification(CreateClassificationRequest {
                    request_id: request_id(),
                    kind: ClassificationKind::CustomerType as i32,
                    name: format!("Customer type {name}"),
                    display_order: None,
                })
                .await?
                .into_inner()
                .classification
                .ok_or("no classification in the answer")?;
            customer_types.push(entry.classification_id);
        }
        let types = Arc::new(customer_types.clone());
        let history = settings.history_per_client;
        let templates = parallel(settings.templates, &api, move |api, i| {
            template(api, i, types.clone(), history)
        })
        .await?;
        let pool = parallel(settings.pool, &api, |mut api, i| async move {
            let id = create(&mut api, 1_000_000 + i as u64, pool_owner(i), None).await?;
            contact(&mut api, id, CallOutcome::NoAnswer, None).await?;
            Ok(id)
        })
        .await?;
        let readable = parallel(8, &api, |mut api, i| async move {
            let id = create(&mut api, 2_000_000 + i as u64, "reader".into(), None).await?;
            for _ in 0..3 {
                contact(&mut api, id, CallOutcome::CallWithContent, None).await?;
            }
            Ok(id)
        })
        .await?;
        println!(
            "fixtures: {} templates, {} pool clients, {} readable clients through the API in {:.1} s",
            templates.len(),
            pool.len(),
            readable.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(Fixtures {
            templates,
            pool,
            readable,
            customer_types,
        })
    }

    pub fn seed_plan(&self, settings: &Settings) -> seed::Plan {
        seed::Plan {
            templates: self.templates.clone(),
            clients: settings.clients,
            events: settings.replay_events,
            with_history: settings.history_per_client > 0,
        }
    }
}

/// A template client: created, then taken to its funnel stage by the events that lead there,
/// then padded with SetStatus overrides (same stage) up to `history` timeline entries.
async fn template(mut api: Api, i: usize, types: Arc<Vec<i64>>, history: u32) -> Result<i64> {
    let customer_type = (i % 4 != 3).then(|| types[i % types.len()]);
    let id = create(&mut api, i as u64, owner(i), customer_type).await?;
    let stage = FUNNEL[i % FUNNEL.len()];
    let next_call = SystemTime::now() + Duration::from_secs(86_400 * (1 + i as u64 % 30));
    let mut version = 1;
    match stage {
        ClientStage::New | ClientStage::Unspecified => {}
        ClientStage::FollowUp => {
            version = contact(&mut api, id, CallOutcome::LeftMessage, Some(next_call)).await?;
        }
        ClientStage::FollowUpMeetingOrQuote => {
            contact(&mut api, id, CallOutcome::CallWithContent, None).await?;
            let r = api
                .issue_quote(IssueQuoteRequest {
                    request_id: request_id(),
                    client_id: id,
                    quote_id: format!("quote-{i}"),
                    note: "Quote sent after the call".into(),
                    ..Default::default()
                })
                .await?;
            version = version_of(r.into_inner().client)?;
        }
        ClientStage::NotInterested => {
            contact(&mut api, id, CallOutcome::ShortCall, None).await?;
            let r = api
                .declare_not_interested(DeclareNotInterestedRequest {
                    request_id: request_id(),
                    client_id: id,
                    note: "Has a supplier and is happy with it".into(),
                    reason_status_id: NOT_INTERESTED_STATUS,
                    ..Default::default()
                })
                .await?;
            version = version_of(r.into_inner().client)?;
        }
        ClientStage::Real | ClientStage::RealClubOrContract | ClientStage::Frozen => {
            contact(&mut api, id, CallOutcome::CallWithContent, None).await?;
            let r = api
                .record_invoice(RecordInvoiceRequest {
                    request_id: request_id(),
                    client_id: id,
                    document_type: AccountingDocumentType::Invoice as i32,
                    document_number: format!("inv-{i}"),
                    note: "First invoice".into(),
                    ..Default::default()
                })
                .await?;
            version = version_of(r.into_inner().client)?;
            if stage == ClientStage::RealClubOrContract {
                let r = api
                    .record_paid_service(RecordPaidServiceRequest {
                        request_id: request_id(),
                        client_id: id,
                        service_id: format!("svc-{i}"),
                        note: "Monthly club membership".into(),
                        ..Default::default()
                    })
                    .await?;
                version = version_of(r.into_inner().client)?;
            } else if stage == ClientStage::Frozen {
                let r = api
                    .declare_frozen(DeclareFrozenRequest {
                        request_id: request_id(),
                        client_id: id,
                        frozen_message: "Account closed: call accounting first".into(),
                        note: "Stopped trading".into(),
                        ..Default::default()
                    })
                    .await?;
                version = version_of(r.into_inner().client)?;
            }
        }
    }
    while version < i64::from(history) {
        let r = api
            .set_status(SetStatusRequest {
                request_id: request_id(),
                client_id: id,
                stage: stage as i32,
                reason: "Reviewed by the manager".into(),
                ..Default::default()
            })
            .await?;
        version = version_of(r.into_inner().client)?;
    }
    Ok(id)
}

fn version_of(client: Option<Client>) -> Result<i64> {
    Ok(client.ok_or("no client in the answer")?.version)
}

/// Creates a client whose keys (email, phone, lead id) derive from `n`, unique in the run.
pub async fn create(
    api: &mut Api,
    n: u64,
    owner: String,
    customer_type: Option<i64>,
) -> Result<i64> {
    let tag = format!("f{n}");
    let lead_status = match n % 4 {
        0 | 1 => LeadStatus::Regular,
        2 => LeadStatus::RecentlyCreated,
        _ => LeadStatus::Hot,
    };
    let client = api
        .create_client(CreateClientRequest {
            request_id: request_id(),
            name: Some(ClientName {
                last_name: format!("Client {tag}"),
                first_name: "Dana".into(),
                middle_name: String::new(),
            }),
            branch: "Tel Aviv".into(),
            owner,
            email: format!("{tag}@fixtures.bench.example"),
            phone: format!("+1 202 555 {n:07}"),
            external_lead_id: format!("lead-{tag}"),
            classifications: Some(Classifications {
                customer_type_id: customer_type.unwrap_or_default(),
                ..Default::default()
            }),
            lead_status: lead_status as i32,
            record_source: "web form".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    if !client.created {
        return Err(format!("fixture {tag} matched an existing client").into());
    }
    Ok(client.client.ok_or("no client in the answer")?.client_id)
}

/// Records a call attempt; returns the client's new version.
pub async fn contact(
    api: &mut Api,
    id: i64,
    outcome: CallOutcome,
    next_call: Option<SystemTime>,
) -> Result<i64> {
    let r = api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: request_id(),
            client_id: id,
            outcome: outcome as i32,
            note: "Spoke about the new price list; call back after the holidays".into(),
            next_call_at: next_call.map(timestamp),
            ..Default::default()
        })
        .await?;
    version_of(r.into_inner().client)
}

/// Runs `f(api, i)` for i in 0..n, 16 at a time; the results in order of i.
async fn parallel<F, Fut>(n: usize, api: &Api, f: F) -> Result<Vec<i64>>
where
    F: Fn(Api, usize) -> Fut,
    Fut: Future<Output = Result<i64>> + Send + 'static,
{
    let mut out = vec![0; n];
    let mut running = JoinSet::new();
    for i in 0..n {
        if running.len() >= 16
            && let Some(done) = running.join_next().await
        {
            let (j, id): (usize, Result<i64>) = done?;
            out[j] = id?;
        }
        let call = f(api.clone(), i);
        running.spawn(async move { (i, call.await) });
    }
    while let Some(done) = running.join_next().await {
        let (j, id) = done?;
        out[j] = id?;
    }
    Ok(out)
}
