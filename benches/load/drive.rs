//! Load drivers: a closed loop (a fixed number of calls in flight, each worker issuing its next
//! call when the last returns) and an open loop (calls started at a fixed rate). Both count only
//! calls that end inside the measured window, after the warm-up.
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

/// Warm-up, then the measured window.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub warmup: Duration,
    pub duration: Duration,
}

/// What a measurement saw: successful calls' latencies and the errors.
#[derive(Debug, Default)]
pub struct Sample {
    pub seconds: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Sorted.
    latencies: Vec<Duration>,
}

impl Sample {
    pub fn from_latencies(mut latencies: Vec<Duration>, seconds: f64) -> Sample {
        latencies.sort_unstable();
        Sample {
            seconds,
            latencies,
            ..Sample::default()
        }
    }

    /// Both measurements as one: their calls over their summed time.
    pub fn merged(mut self, other: Sample) -> Sample {
        self.seconds += other.seconds;
        self.errors += other.errors;
        self.first_error = self.first_error.or(other.first_error);
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
        self
    }

    pub fn calls(&self) -> usize {
        self.latencies.len()
    }

    /// Successful calls per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.calls() as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The `q` quantile (0..1) of the latencies, nearest rank.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        Some(self.latencies[rank.clamp(1, self.latencies.len()) - 1])
    }

    pub fn mean(&self) -> Option<Duration> {
        let n = u32::try_from(self.latencies.len())
            .ok()
            .filter(|n| *n > 0)?;
        Some(self.latencies.iter().sum::<Duration>() / n)
    }

    fn absorb(&mut self, worker: Worker) {
        self.latencies.extend(worker.latencies);
        self.errors += worker.errors;
        if self.first_error.is_none() {
            self.first_error = worker.first_error;
        }
    }
}

#[derive(Default)]
struct Worker {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

impl Worker {
    fn record(
        &mut self,
        began: Instant,
        result: Result<(), tonic::Status>,
        window: (Instant, Instant),
    ) {
        let ended = Instant::now();
        if ended < window.0 || ended > window.1 {
            return;
        }
        match result {
            Ok(()) => self.latencies.push(ended - began),
            Err(e) => {
                self.errors += 1;
                self.first_error
                    .get_or_insert_with(|| format!("{:?}: {}", e.code(), e.message()));
            }
        }
    }
}

/// `in_flight` workers call `op(worker, n)` back to back (n counts the worker's calls).
pub async fn closed_loop<F, Fut>(in_flight: usize, timing: Timing, op: F) -> Sample
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let op = Arc::new(op);
    let from = Instant::now() + timing.warmup;
    let window = (from, from + timing.duration);
    let mut workers = JoinSet::new();
    for w in 0..in_flight.max(1) {
        let op = op.clone();
        workers.spawn(async move {
            let mut worker = Worker::default();
            let mut n = 0;
            while Instant::now() < window.1 {
                let began = Instant::now();
                let result = op(w, n).await;
                n += 1;
                worker.record(began, result, window);
            }
            worker
        });
    }
    collect(workers, timing).await
}

/// Starts `op(n)` at `rate` calls per second, with at most `max_in_flight` outstanding (a call
/// that would exceed it waits: the achieved rate then falls short of the offered one).
pub async fn open_loop<F, Fut>(rate: u32, max_in_flight: usize, timing: Timing, op: F) -> Sample
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let start = Instant::now();
    let from = start + timing.warmup;
    let window = (from, from + timing.duration);
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let permits = Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1)));
    let mut calls = JoinSet::new();
    let mut n: u64 = 0;
    loop {
        let due = start + interval.mul_f64(n as f64);
        if due >= window.1 {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let call = op(n);
        calls.spawn(async move {
            let mut worker = Worker::default();
            let began = Instant::now();
            let result = call.await;
            drop(permit);
            worker.record(began, result, window);
            worker
        });
        n += 1;
    }
    collect(calls, timing).await
}

async fn collect(mut workers: JoinSet<Worker>, timing: Timing) -> Sample {
    let mut sample = Sample {
        seconds: timing.duration.as_secs_f64(),
        ..Sample::default()
    };
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(worker) => sample.absorb(worker),
            Err(e) => {
                sample.errors += 1;
                sample.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    sample.latencies.sort_unstable();
    sample
}

/// A small deterministic generator (SplitMix64), for picking clients without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
