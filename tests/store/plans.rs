//! The query plans of ListClients on SQLite: each filter that narrows the clients is served by
//! its index, in page order, and the next-call filter by its index when few calls are due, so no
//! page reads the whole clients table. SQLite has no statistics here (the service never runs
//! ANALYZE), so the plans seen on this empty file are the plans a 1M-client file gets.
use clientstatus::domain::{LeadStatus, Stage};
use clientstatus::store::sql::{Conn, Dialect, Row, Sql, read};
use clientstatus::store::{ClientFilter, Page, Result};

use crate::fixtures::{at, stored, tx};

/// A connection that asks SQLite for the plan of every query before running it.
struct Explained<'a, C> {
    conn: &'a mut C,
    plans: Vec<String>,
}

impl<C: Conn> Explained<'_, C> {
    async fn explain(&mut self, q: &Sql) {
        let mut explain = Sql::new(format!("EXPLAIN QUERY PLAN {}", q.text));
        explain.args = q.args.clone();
        let rows = self.conn.fetch_all(explain).await.expect("explain");
        // Only the last query's plan is kept: the page query comes last.
        self.plans = rows
            .iter()
            .map(|row| row.text("detail").expect("detail"))
            .collect();
    }
}

impl<C: Conn> Conn for Explained<'_, C> {
    type Row = C::Row;
    const DIALECT: Dialect = C::DIALECT;

    async fn execute(&mut self, q: Sql) -> Result<u64> {
        self.conn.execute(q).await
    }

    async fn fetch_all(&mut self, q: Sql) -> Result<Vec<Self::Row>> {
        self.explain(&q).await;
        self.conn.fetch_all(q).await
    }

    async fn fetch_optional(&mut self, q: Sql) -> Result<Option<Self::Row>> {
        self.explain(&q).await;
        self.conn.fetch_optional(q).await
    }

    async fn lock_key(&mut self, key: &str) -> Result<()> {
        self.conn.lock_key(key).await
    }
}

/// The plan of the page query for `filter` (the last query ListClients runs).
async fn plan_of<C: Conn>(c: &mut C, filter: &ClientFilter) -> Vec<String> {
    let mut explained = Explained {
        conn: c,
        plans: Vec::new(),
    };
    let page = Page {
        after: Some(10),
        limit: 50,
    };
    read::list_clients(&mut explained, filter, page)
        .await
        .expect("list");
    explained.plans
}

fn uses(plan: &[String], index: &str) -> bool {
    plan.iter()
        .any(|line| line.starts_with(&format!("SEARCH c USING INDEX {index} (")))
}

pub async fn each_list_filter_is_served_by_its_index<C: Conn>(c: &mut C) {
    let cases: Vec<(&str, ClientFilter)> = vec![
        (
            "clients_stage",
            ClientFilter {
                stages: vec![Stage::FollowUp],
                ..ClientFilter::default()
            },
        ),
        (
            "clients_owner",
            ClientFilter {
                owner: Some("dana".into()),
                ..ClientFilter::default()
            },
        ),
        (
            "clients_owner_stage",
            ClientFilter {
                owner: Some("dana".into()),
                stages: vec![Stage::FollowUp],
                ..ClientFilter::default()
            },
        ),
        (
            "clients_branch",
            ClientFilter {
                branch: Some("Haifa".into()),
                ..ClientFilter::default()
            },
        ),
        (
            "clients_status",
            ClientFilter {
                status_ids: Some(vec![2]),
                ..ClientFilter::default()
            },
        ),
        (
            "clients_lead_status",
            ClientFilter {
                lead_statuses: vec![LeadStatus::Hot],
                ..ClientFilter::default()
            },
        ),
        (
            "clients_customer_type",
            ClientFilter {
                customer_type_ids: vec![9],
                ..ClientFilter::default()
            },
        ),
    ];
    for (index, filter) in cases {
        let plan = plan_of(c, &filter).await;
        assert!(uses(&plan, index), "{index}: {plan:?}");
        assert!(
            !plan.iter().any(|l| l.contains("TEMP B-TREE FOR ORDER BY")),
            "{index}: the index must give page order: {plan:?}"
        );
    }

    // No calls due: the few due are taken from the next-call index and the page visits only
    // them, by primary key.
    let filter = ClientFilter {
        next_call_due_before: Some(at("2026-03-01T10:00:00Z")),
        ..ClientFilter::default()
    };
    let plan = plan_of(c, &filter).await;
    assert!(
        plan.iter()
            .any(|l| l.contains("SEARCH clients USING COVERING INDEX clients_next_call")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|l| l == "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)"),
        "{plan:?}"
    );
}

/// Many calls due: the page walks the clients with a call in id order (a narrow index) and
/// keeps the due ones; either way the same clients are listed, page after page.
pub async fn many_due_calls_page_like_few<C: Conn>(c: &mut C) {
    let due = at("2026-03-01T10:00:00Z");
    let template = {
        let mut t = tx(&mut *c);
        stored(&mut t, "Template", "", due).await
    };
    let base = due.timestamp_micros();
    // 10,400 copies of the template, every other one with a call: 5,100 due before `due`, the
    // rest after it. That is past the bound up to which the index collects the due ones.
    let seed = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10400) \
         INSERT INTO clients (version, stage, lead_status, owner, branch, next_call_at, \
         created_at, updated_at, body, status_id) \
         SELECT version, stage, lead_status, owner, branch, \
         CASE WHEN i % 2 = 0 THEN NULL WHEN i < 10200 THEN {base} - i ELSE {base} + i END, \
         created_at, updated_at, body, status_id FROM n, clients WHERE client_id = {id}",
        id = template.client_id
    );
    c.execute(Sql::new(seed)).await.expect("seed");
    let filter = ClientFilter {
        next_call_due_before: Some(due),
        ..ClientFilter::default()
    };
    let plan = plan_of(c, &filter).await;
    assert!(
        plan.iter()
            .any(|l| l == "SEARCH c USING INDEX clients_due (client_id>?)"),
        "{plan:?}"
    );
    let due_ids = Sql::new(format!(
        "SELECT client_id FROM clients WHERE next_call_at < {base} ORDER BY client_id"
    ));
    let expected: Vec<i64> = c
        .fetch_all(due_ids)
        .await
        .expect("due")
        .iter()
        .map(|r| r.i64("client_id").expect("id"))
        .collect();
    assert_eq!(expected.len(), 5_100);
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = Page { after, limit: 1000 };
        let ids: Vec<i64> = read::list_clients(c, &filter, page)
            .await
            .expect("list")
            .iter()
            .map(|client| client.client_id)
            .collect();
        let Some(last) = ids.last().copied() else {
            break;
        };
        listed.extend(ids);
        after = Some(last);
    }
    assert_eq!(listed, expected);
}

/// Postgres: the page query is planned for its own values each time (an unnamed statement), so
/// Postgres never settles on one generic plan for every status or owner; other reads stay
/// prepared.
pub async fn pages_are_planned_for_their_values<C: Conn>(c: &mut C) {
    let filter = ClientFilter {
        status_ids: Some(vec![2]),
        ..ClientFilter::default()
    };
    for _ in 0..6 {
        let page = Page {
            after: None,
            limit: 50,
        };
        read::list_clients(c, &filter, page).await.expect("list");
        read::client(c, 1).await.expect("get");
    }
    let prepared = |pattern: &str| {
        Sql::new("SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE $1")
            .arg(pattern.to_string())
    };
    let n = |r: C::Row| r.i64("n").expect("n");
    let pages = c
        .fetch_one(prepared("%ORDER BY c.client_id LIMIT%"))
        .await
        .expect("pages");
    assert_eq!(n(pages), 0, "the page query must not stay prepared");
    let gets = c
        .fetch_one(prepared("%WHERE c.client_id = $1%"))
        .await
        .expect("gets");
    assert_eq!(n(gets), 1, "other reads stay prepared");
}
