//! After seeding, the restarted server must read the copies as it reads its own rows: each of
//! the first copies answers GetClient exactly as its template does, but for the identity fields
//! seeding changed; a new client is numbered after the copies.
use clientstatus::proto::*;

use crate::Result;
use crate::fixtures::{Api, create};
use crate::seed::Seeded;
use crate::server::Server;

/// What seeding changes on purpose.
fn without_identity(mut client: Client) -> Client {
    client.client_id = 0;
    client.email.clear();
    client.phone.clear();
    client.external_lead_id.clear();
    client.next_call_at = None;
    client
}

pub async fn seeded(server: &Server, templates: &[i64], seeded: &Seeded) -> Result<()> {
    let mut api = Api::new(server.channel().await?);
    let checked = seeded.copies().min(templates.len() as u64);
    for i in 1..=checked {
        let copy_id = seeded.first + i64::try_from(i)? - 1;
        let template_id = templates[usize::try_from(i)? % templates.len()];
        let copy = get(&mut api, copy_id).await?;
        let template = get(&mut api, template_id).await?;
        if copy.next_call_at.is_some() != template.next_call_at.is_some()
            || copy.email == template.email
            || copy.external_lead_id == template.external_lead_id
            || without_identity(copy.clone()) != without_identity(template.clone())
        {
            return Err(format!(
                "seeded client {copy_id} does not read as a copy of template {template_id}:\n\
                 copy     {copy:?}\ntemplate {template:?}"
            )
            .into());
        }
        if seeded.history > 0 {
            let entries = |id| GetClientHistoryRequest {
                client_id: id,
                page_size: 1000,
                ..Default::default()
            };
            let copied = api
                .get_client_history(entries(copy_id))
                .await?
                .into_inner()
                .entries
                .len();
            let original = api
                .get_client_history(entries(template_id))
                .await?
                .into_inner()
                .entries
                .len();
            if copied != original {
                return Err(format!(
                    "seeded client {copy_id} has {copied} history entries, template {template_id} {original}"
                )
                .into());
            }
        }
    }
    let next = create(&mut api, 3_000_000, "agent-01".into(), None).await?;
    if next <= seeded.last {
        return Err(format!(
            "a client created after seeding got number {next}, not above {}",
            seeded.last
        )
        .into());
    }
    println!(
        "checked: {checked} copies read as their templates do; the next client is number {next}"
    );
    Ok(())
}

async fn get(api: &mut Api, client_id: i64) -> Result<Client> {
    Ok(api
        .get_client(GetClientRequest { client_id })
        .await?
        .into_inner()
        .client
        .ok_or("no client in the answer")?)
}
