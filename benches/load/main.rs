//! The load benchmark of issue #10: starts the release server binary on a fresh database,
//! drives it over gRPC and prints every figure as a ratio against B0, a no-op RPC
//! (`grpc.health.v1.Health/Check`) measured on the same server, in the same run, at the same
//! number of calls in flight.
//!
//! `cargo bench --bench load -- [--backend sqlite|postgres|both] [--quick] [--help]`
//!
//! Parts, in order, per backend: unary calls at 1, 16 and 64 in flight (and one call at a time
//! against the server's own metrics); stream fan-out; then the database is seeded in SQL to the
//! scale size (see `seed.rs`) and the server restarted for the scale reads and the replay;
//! then the stage timeline's report rows are seeded for those clients and each report over a
//! year is timed (`reports.rs`).
mod check;
mod db;
mod drive;
mod fixtures;
mod report;
mod reports;
mod scale;
mod seed;
mod server;
mod streams;
mod unary;

use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use db::{Backend, BenchDb};
use report::Figure;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Part {
    Unary,
    Streams,
    Scale,
    /// The stage timeline's reports over a year (seeds their rows at the scale size).
    Reports,
}

/// Options; the sizes left unset take their default, or their `--quick` value.
#[derive(Parser, Debug)]
#[command(
    name = "load",
    about = "Load benchmark: figures as ratios against a no-op RPC"
)]
struct Cli {
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,
    /// A small run of every part (about a minute for both backends), e.g. for CI.
    #[arg(long)]
    quick: bool,
    /// Which parts to run (comma-separated); the replay needs `scale` (it reads the seeded stream).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Part::Unary, Part::Streams, Part::Scale, Part::Reports])]
    parts: Vec<Part>,
    /// Seconds measured per figure [default: 3, quick 0.5].
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds of warm-up before each figure [default: 0.5, quick 0.2].
    #[arg(long)]
    warmup: Option<f64>,
    /// Clients in the database for the scale part [default: 1000000, quick 20000].
    #[arg(long)]
    clients: Option<u64>,
    /// Status events the seeded stream holds for the replay [default: 100000, quick 5000].
    #[arg(long)]
    replay_events: Option<u64>,
    /// Template clients created through the API, that seeding copies [default: 300, quick 60].
    #[arg(long)]
    templates: Option<usize>,
    /// Give every seeded client at least this many history entries (its template's timeline,
    /// copied); 0: seeded clients get no history rows.
    #[arg(long, default_value_t = 0)]
    history_per_client: u32,
    /// Stream subscribers of the fan-out figures.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Status-changing events per second offered while measuring commit-to-receipt.
    #[arg(long, default_value_t = 1000)]
    event_rate: u32,
    /// Where a fresh database is created for the Postgres run.
    #[arg(
        long,
        env = "CLIENTSTATUS_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The sizes and durations of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub duration: Duration,
    pub warmup: Duration,
    pub clients: u64,
    pub replay_events: u64,
    pub templates: usize,
    pub history_per_client: u32,
    pub subscribers: usize,
    pub event_rate: u32,
    /// Clients written to by RecordContactAttempt and SetStatus, one slice per worker.
    pub pool: usize,
    pub parts: Vec<Part>,
}

impl Settings {
    fn from(cli: &Cli) -> Settings {
        let q = cli.quick;
        let pick = |v: Option<f64>, normal: f64, quick: f64| {
            Duration::from_secs_f64(v.unwrap_or(if q { quick } else { normal }).max(0.0))
        };
        Settings {
            duration: pick(cli.duration, 3.0, 0.5),
            warmup: pick(cli.warmup, 0.5, 0.2),
            clients: cli.clients.unwrap_or(if q { 20_000 } else { 1_000_000 }),
            replay_events: cli.replay_events.unwrap_or(if q { 5_000 } else { 100_000 }),
            templates: cli.templates.unwrap_or(if q { 60 } else { 300 }).max(1),
            history_per_client: cli.history_per_client,
            subscribers: cli.subscribers,
            event_rate: cli.event_rate.max(1),
            pool: if q { 256 } else { 1024 },
            parts: cli.parts.clone(),
        }
    }

    pub fn runs(&self, part: Part) -> bool {
        self.parts.contains(&part)
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = Settings::from(&cli);
    let backends = match cli.backend {
        BackendChoice::Sqlite => vec![Backend::Sqlite],
        BackendChoice::Postgres => vec![Backend::Postgres],
        BackendChoice::Both => vec![Backend::Sqlite, Backend::Postgres],
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("load: no runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let mut figures = Vec::new();
    let mut failed = false;
    for backend in backends {
        println!("\n## {} ({settings:?})", backend.name());
        if let Err(e) = runtime.block_on(run_backend(backend, &cli, &settings, &mut figures)) {
            eprintln!("load: the {} run failed: {e}", backend.name());
            failed = true;
        }
    }
    println!(
        "\n## Summary (whole run {:.0} s)\n",
        started.elapsed().as_secs_f64()
    );
    print!("{}", report::table(&figures));
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// Every part on one backend, on a database of its own that is removed afterwards.
async fn run_backend(
    backend: Backend,
    cli: &Cli,
    settings: &Settings,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let db = BenchDb::create(backend, &cli.postgres_url).await?;
    let result = run_parts(&db, settings, figures).await;
    db.remove().await;
    result
}

async fn run_parts(db: &BenchDb, settings: &Settings, figures: &mut Vec<Figure>) -> Result<()> {
    let server = server::Server::start(db).await?;
    let fixtures = fixtures::Fixtures::create(&server, settings).await?;
    let mut b0 = report::Baselines::default();
    if settings.runs(Part::Unary) {
        unary::run(&server, &fixtures, settings, &mut b0, figures).await?;
    }
    if settings.runs(Part::Streams) {
        streams::fan_out(&server, db, &fixtures, settings, &mut b0, figures).await?;
    }
    server.stop().await?;
    if settings.runs(Part::Scale) || settings.runs(Part::Reports) {
        let seeded = seed::seed(db, &fixtures.seed_plan(settings)).await?;
        figures.push(seeded.figure(db.backend));
        if settings.runs(Part::Scale) {
            let server = server::Server::start(db).await?;
            check::seeded(&server, &fixtures.templates, &seeded).await?;
            scale::run(&server, db, &fixtures, settings, &seeded, figures).await?;
            server.stop().await?;
        }
        if settings.runs(Part::Reports) {
            reports::run(db, settings, &seeded, figures).await?;
        }
    }
    Ok(())
}
