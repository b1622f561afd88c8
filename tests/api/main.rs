//! The one integration binary: the real server on 127.0.0.1:0 over a real SQLite file, driven
//! through the generated gRPC client.
mod declarations;
mod durability;
mod events;
mod fields;
mod helpers;
mod idempotency;
mod reads;
mod server;
mod validation;
