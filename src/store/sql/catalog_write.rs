//! The catalogue's write primitives ([`CatalogTx`]) and the cache that spares a write reading
//! the whole catalogue, once for both databases.
use std::sync::{Arc, Mutex};

use crate::domain::{Catalog, CatalogKind, Entry, Stage};

use super::super::engine::CatalogTx;
use super::super::rows::{self, reference_column};
use super::super::{Result, StoreError};
use super::write::Tx;
use super::{Conn, Row, Sql, read};

/// The catalogue as last read, with the version counter it was read at. Every catalogue write
/// bumps the counter in its own transaction, so a transaction that reads the counter and finds
/// it unchanged sees exactly the cached catalogue, without reading it again.
#[derive(Debug, Default)]
pub struct CatalogCache(Mutex<Option<(i64, Arc<Catalog>)>>);

impl CatalogCache {
    fn get(&self, version: i64) -> Option<Arc<Catalog>> {
        let cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(v, _)| *v == version)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, version: i64, catalog: Arc<Catalog>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((version, catalog));
    }
}

impl<C: Conn> Tx<C> {
    /// Every catalogue write bumps the version, so cached catalogues are read again.
    async fn catalog_changed(&mut self) -> Result<()> {
        self.conn
            .execute(Sql::new("UPDATE catalog_version SET version = version + 1"))
            .await
            .map(drop)
    }
}

impl<C: Conn> CatalogTx for Tx<C> {
    async fn lock_catalog(&mut self) -> Result<()> {
        self.conn.lock_key("catalog").await
    }

    async fn catalog(&mut self) -> Result<Arc<Catalog>> {
        let version = self
            .conn
            .fetch_one(Sql::new("SELECT version FROM catalog_version"))
            .await?
            .i64("version")?;
        if let Some(catalog) = self.catalog.get(version) {
            return Ok(catalog);
        }
        let catalog = Arc::new(Catalog {
            entries: read::entries(&mut self.conn, &CatalogKind::ALL).await?,
        });
        self.catalog.put(version, catalog.clone());
        Ok(catalog)
    }

    async fn insert_entry(&mut self, e: &Entry) -> Result<i64> {
        let q = Sql::new(
            "INSERT INTO catalog (kind, stage, name, display_order, color, \
                selectable_for_project, selectable_as_supplier, ended, is_default, status_ids, \
                version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING entry_id",
        )
        .arg(e.kind.name())
        .arg(e.stage.map(Stage::rank))
        .arg(e.name.as_str())
        .arg(e.display_order)
        .arg(e.color.as_str())
        .arg(e.selectable_for_project)
        .arg(e.selectable_as_supplier)
        .arg(e.ended)
        .arg(e.is_default)
        .arg(rows::status_ids_json(&e.status_ids))
        .arg(e.version)
        .arg(e.created_at.timestamp_micros())
        .arg(e.updated_at.timestamp_micros());
        let id = self.conn.fetch_one(q).await?.i64("entry_id")?;
        self.catalog_changed().await?;
        Ok(id)
    }

    async fn update_entry(&mut self, e: &Entry, previous_version: i64) -> Result<()> {
        let q = Sql::new(
            "UPDATE catalog SET name = $1, display_order = $2, color = $3, \
                selectable_for_project = $4, selectable_as_supplier = $5, ended = $6, \
                is_default = $7, status_ids = $8, version = $9, updated_at = $10 \
             WHERE entry_id = $11 AND version = $12",
        )
        .arg(e.name.as_str())
        .arg(e.display_order)
        .arg(e.color.as_str())
        .arg(e.selectable_for_project)
        .arg(e.selectable_as_supplier)
        .arg(e.ended)
        .arg(e.is_default)
        .arg(rows::status_ids_json(&e.status_ids))
        .arg(e.version)
        .arg(e.updated_at.timestamp_micros())
        .arg(e.entry_id)
        .arg(previous_version);
        if self.conn.execute(q).await? != 1 {
            return Err(StoreError::conflict(format!(
                "{} is no longer at version {previous_version}",
                e.subject()
            )));
        }
        self.catalog_changed().await
    }

    async fn delete_entry(&mut self, e: &Entry) -> Result<()> {
        self.conn
            .execute(Sql::new("DELETE FROM catalog WHERE entry_id = $1").arg(e.entry_id))
            .await?;
        self.catalog_changed().await
    }

    async fn count_clients_using(&mut self, e: &Entry) -> Result<i64> {
        let Some(column) = reference_column(e.kind) else {
            return Ok(0);
        };
        // Waits for writers assigning this entry right now (Postgres), so the count includes
        // them; one that assigns it after the count fails on the foreign key and is run again.
        self.conn
            .execute(
                Sql::new(format!(
                    "SELECT entry_id FROM catalog WHERE entry_id = $1{}",
                    C::DIALECT.for_update()
                ))
                .arg(e.entry_id),
            )
            .await?;
        self.conn
            .fetch_one(
                Sql::new(format!(
                    "SELECT count(*) AS n FROM clients WHERE {column} = $1"
                ))
                .arg(e.entry_id),
            )
            .await?
            .i64("n")
    }

    async fn clients_using(&mut self, e: &Entry, limit: i64) -> Result<Vec<i64>> {
        let Some(column) = reference_column(e.kind) else {
            return Ok(Vec::new());
        };
        let q = Sql::new(format!(
            "SELECT client_id FROM clients WHERE {column} = $1 ORDER BY client_id LIMIT $2"
        ))
        .arg(e.entry_id)
        .arg(limit);
        self.conn
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| r.i64("client_id"))
            .collect()
    }
}
