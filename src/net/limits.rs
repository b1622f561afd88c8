//! The process's open-file limit: raised to the hard limit at start, and the share of it that
//! client connections may take.

/// Files kept for everything but client connections: the database pool, the listening and
/// metrics sockets, certificate reloads, the logs, the runtime's own.
const RESERVED_FILES: u64 = 64;

/// Raises the soft RLIMIT_NOFILE to the hard limit (the usual soft limit, 1,024, is far too
/// low for a server) and returns the soft limit now in force; `None` if it cannot be read.
pub fn raise_open_files() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        } else {
            tracing::warn!(
                soft = limit.rlim_cur,
                hard = limit.rlim_max,
                "cannot raise the open-file limit"
            );
        }
    }
    Some(limit.rlim_cur)
}

/// How many client connections may be open at once: the setting, but never so many that
/// accepting one more would run the process out of files.
pub fn connection_cap(setting: u32, open_files: Option<u64>) -> usize {
    let setting = setting as usize;
    match open_files {
        Some(files) => {
            let room = files.saturating_sub(RESERVED_FILES).max(1);
            setting.min(usize::try_from(room).unwrap_or(usize::MAX))
        }
        None => setting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_files_for_the_rest_of_the_server() {
        assert_eq!(connection_cap(10_000, Some(1_024)), 960);
        assert_eq!(connection_cap(10_000, Some(1_048_576)), 10_000);
        assert_eq!(connection_cap(500, None), 500);
        assert_eq!(connection_cap(10_000, Some(10)), 1);
    }
}
