// The modules both suites run, one list (each suite adds the ones only its database has).
// Included by tests/sqlite.rs and tests/postgres.rs; the paths are relative to this file.
#[path = "card.rs"]
mod card;
#[path = "card_edit.rs"]
mod card_edit;
#[path = "card_keys.rs"]
mod card_keys;
#[path = "catalog.rs"]
mod catalog;
#[path = "concurrency.rs"]
mod concurrency;
#[path = "declarations.rs"]
mod declarations;
#[path = "durability.rs"]
mod durability;
#[path = "erase.rs"]
mod erase;
#[path = "errors.rs"]
mod errors;
#[path = "events.rs"]
mod events;
#[path = "fanout.rs"]
mod fanout;
#[path = "fanout_memory.rs"]
mod fanout_memory;
#[path = "fields.rs"]
mod fields;
#[path = "fuzz.rs"]
mod fuzz;
#[path = "helpers.rs"]
mod helpers;
#[path = "idempotency.rs"]
mod idempotency;
#[path = "limits.rs"]
mod limits;
#[path = "merge.rs"]
mod merge;
#[path = "reads.rs"]
mod reads;
#[path = "relay.rs"]
mod relay;
#[path = "relay_support.rs"]
mod relay_support;
#[path = "reports.rs"]
mod reports;
#[path = "requests.rs"]
mod requests;
#[path = "server.rs"]
mod server;
#[path = "streams.rs"]
mod streams;
#[path = "timeline.rs"]
mod timeline;
#[path = "timeline_backfill.rs"]
mod timeline_backfill;
#[path = "upgrade.rs"]
mod upgrade;
#[path = "validation.rs"]
mod validation;
