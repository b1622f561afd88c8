//! Settings, by flag or environment variable (`clientstatus serve --help` lists them).
use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

use crate::domain::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "clientstatus",
    version,
    about = "Owns each CRM client's lifecycle status and the record of every sales effort behind it"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the gRPC server (migrations run at start).
    Serve(Config),
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on for gRPC.
    #[arg(long, env = "CLIENTSTATUS_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Database: `sqlite:PATH` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:clientstatus.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Filling a client's extra properties counts as a deal: the client becomes REAL.
    #[arg(
        long,
        env = "CLIENTSTATUS_EXTRA_PROPERTIES_MEAN_DEAL",
        default_value_t = false
    )]
    pub extra_properties_mean_deal: bool,
}

impl Config {
    /// A configuration for tests and embedding: the given database, defaults elsewhere.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            extra_properties_mean_deal: false,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            extra_properties_mean_deal: self.extra_properties_mean_deal,
        }
    }

    /// The database URL with any password masked, for logs.
    pub fn database_for_logs(&self) -> String {
        match self.database_url.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((auth, host)) => {
                    let user = auth.split(':').next().unwrap_or("");
                    format!("{scheme}://{user}:***@{host}")
                }
                None => self.database_url.clone(),
            },
            None => self.database_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_logs() {
        let mut c = Config::with_database("postgres://app:s3cret@db:5432/crm");
        assert_eq!(c.database_for_logs(), "postgres://app:***@db:5432/crm");
        c.database_url = "sqlite:clientstatus.db".into();
        assert_eq!(c.database_for_logs(), "sqlite:clientstatus.db");
    }
}
