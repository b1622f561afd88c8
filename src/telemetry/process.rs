//! The standard `process_*` metrics Prometheus client libraries export, read from `/proc` (on
//! other systems only what getrlimit tells).
use std::fmt::Write as _;

/// Appends the process families to a scrape.
pub fn render(out: &mut String) {
    let stat = Stat::read();
    let mut family = |name: &str, kind: &str, help: &str, value: Option<f64>| {
        if let Some(value) = value {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    };
    family(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        stat.as_ref().map(|s| s.cpu_seconds),
    );
    family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        stat.as_ref().map(|s| s.resident_bytes),
    );
    family(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        stat.as_ref().map(|s| s.virtual_bytes),
    );
    family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        stat.as_ref().and_then(|s| s.start_time),
    );
    family(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as f64),
    );
    family(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        max_fds(),
    );
}

fn max_fds() -> Option<f64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0)
        .then_some(limit.rlim_cur as f64)
}

struct Stat {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    start_time: Option<f64>,
}

impl Stat {
    /// From /proc/self/stat (fields after the command name, which may hold spaces).
    fn read() -> Option<Stat> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let after_name = &text[text.rfind(')')? + 1..];
        // Field 3 (state) is the first here; utime is field 14, so index 11.
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        // SAFETY: sysconf only reads a system constant.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK) as f64,
                libc::sysconf(libc::_SC_PAGESIZE) as f64,
            )
        };
        if ticks <= 0.0 || page <= 0.0 {
            return None;
        }
        let started_ticks = number(19)?;
        Some(Stat {
            cpu_seconds: (number(11)? + number(12)?) / ticks,
            virtual_bytes: number(20)?,
            resident_bytes: number(21)? * page,
            start_time: boot_time().map(|boot| boot + started_ticks / ticks),
        })
    }
}

/// When the machine booted, seconds since the epoch (`btime` in /proc/stat).
fn boot_time() -> Option<f64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}
