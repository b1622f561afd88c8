//! Figures: each printed as it is measured, and all of them in one markdown table at the end.
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::db::Backend;
use crate::drive::Sample;

/// B0's rate (no-op calls per second) by calls in flight, on the current server.
#[derive(Debug, Default)]
pub struct Baselines(BTreeMap<usize, f64>);

impl Baselines {
    pub fn set(&mut self, in_flight: usize, rate: f64) {
        self.0.insert(in_flight, rate);
    }

    pub fn get(&self, in_flight: usize) -> Option<f64> {
        self.0.get(&in_flight).copied()
    }
}

/// One line of the summary.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub backend: Backend,
    pub in_flight: String,
    pub rate: Option<f64>,
    pub ratio: Option<f64>,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    /// The target and what was measured against it ("" when the figure has none).
    pub target: String,
    pub met: Option<bool>,
}

impl Figure {
    /// A call figure: rate, ratio against B0 at the same concurrency, p50/p99.
    pub fn calls(
        name: &str,
        backend: Backend,
        in_flight: usize,
        s: &Sample,
        b0: Option<f64>,
    ) -> Figure {
        Figure {
            name: name.to_string(),
            backend,
            in_flight: in_flight.to_string(),
            rate: Some(s.rate()),
            ratio: b0.filter(|b| *b > 0.0).map(|b| s.rate() / b),
            p50: s.quantile(0.50),
            p99: s.quantile(0.99),
            target: String::new(),
            met: None,
        }
    }

    /// A figure that is one value, not a rate of calls (memory, a seeding time...).
    pub fn value(name: &str, backend: Backend, target: String, met: Option<bool>) -> Figure {
        Figure {
            name: name.to_string(),
            backend,
            in_flight: "—".into(),
            rate: None,
            ratio: None,
            p50: None,
            p99: None,
            target,
            met,
        }
    }

    pub fn with_target(mut self, target: impl Into<String>, met: bool) -> Figure {
        self.target = target.into();
        self.met = Some(met);
        self
    }

    /// Prints the figure as soon as it is measured, with the sample's errors if any.
    pub fn announce(self, sample: Option<&Sample>) -> Figure {
        let mut line = format!("{:<52} {:>3} in flight", self.name, self.in_flight);
        if let Some(rate) = self.rate {
            let _ = write!(line, "  {:>9}/s", count(rate));
        }
        if let Some(ratio) = self.ratio {
            let _ = write!(line, "  ratio {ratio:.3}");
        }
        if let (Some(p50), Some(p99)) = (self.p50, self.p99) {
            let _ = write!(line, "  p50 {}  p99 {}", ms(p50), ms(p99));
        }
        if !self.target.is_empty() {
            let _ = write!(line, "  [{}]", self.target);
        }
        println!("{line}");
        if let Some(s) = sample.filter(|s| s.errors > 0) {
            println!(
                "    {} errors, first: {}",
                s.errors,
                s.first_error.as_deref().unwrap_or("?")
            );
        }
        self
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A count with thousands separators, no decimals.
pub fn count(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as MB (10^6), one decimal.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| figure | backend | in flight | rate/s | ratio vs B0 | p50 | p99 | target | met |\n\
         | --- | --- | --: | --: | --: | --: | --: | --- | --- |\n",
    );
    let dash = || "—".to_string();
    for f in figures {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.name,
            f.backend.name(),
            f.in_flight,
            f.rate.map_or_else(dash, count),
            f.ratio.map_or_else(dash, |r| format!("{r:.3}")),
            f.p50.map_or_else(dash, ms),
            f.p99.map_or_else(dash, ms),
            if f.target.is_empty() {
                dash()
            } else {
                f.target.clone()
            },
            match f.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "—",
            }
        );
    }
    out
}
