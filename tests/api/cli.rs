//! The binary's settings, as an operator meets them: `serve --help`, a configuration file, the
//! order flag > environment > file > default, and secrets kept out of help and logs.
use std::process::{Command, Output};

/// Runs the binary with only the given environment.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clientstatus"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run the binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_every_setting_and_never_a_secret() {
    let out = run(
        &["serve", "--help"],
        &[
            ("DATABASE_URL", "postgres://app:hunter2@db:5432/crm"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://otel:hunter2@collector:4317",
            ),
        ],
    );
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in [
        "--config",
        "--listen",
        "--database-url",
        "--extra-properties-mean-deal",
        "--hot-lead-sla",
        "--follow-up-stale-days",
        "--alert-poll-interval",
        "--tokens-file",
        "--metrics-listen",
        "--log-format",
        "--event-retention",
        "--drain-timeout",
        "--otlp-endpoint",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    for variable in [
        "CLIENTSTATUS_CONFIG",
        "DATABASE_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
    assert!(!help.contains("hunter2"), "{help}");
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("clientstatus.toml");
    std::fs::write(
        &file,
        "# Settings by file\n\
         hot_lead_sla = \"20m\"\n\
         follow_up_stale_days = 9\n\
         alert_poll_interval = \"3s\"\n\
         log_format = \"json\"\n\
         listen = \"127.0.0.1:0\"\n\
         # Not a database this build opens: the server stops right after logging its settings.\n\
         database_url = \"mysql://app:hunter2@db/crm\"\n",
    )
    .expect("write");
    let out = run(
        &["serve", "--hot-lead-sla", "30m"],
        &[
            ("CLIENTSTATUS_CONFIG", file.to_str().expect("path")),
            ("CLIENTSTATUS_HOT_LEAD_SLA", "25m"),
            ("CLIENTSTATUS_FOLLOW_UP_STALE_DAYS", "8"),
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "the database URL is unsupported");
    let settings = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "starting")
        .and_then(|l| l["fields"]["settings"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no settings line (JSON, from the file) in:\n{stdout}"));
    for expected in [
        "hot_lead_sla=30m",       // flag over environment and file
        "follow_up_stale_days=8", // environment over file
        "alert_poll_interval=3s", // file over default
        "event_retention=unset",  // default
        "extra_properties_mean_deal=false",
        "database_url=mysql://app:***@db/crm",
    ] {
        assert!(settings.contains(expected), "{expected} not in {settings}");
    }
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        stdout.contains("unsupported database URL"),
        "the failure is logged, masked:\n{stdout}"
    );
}

#[test]
fn an_unknown_key_in_the_file_stops_the_server_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("clientstatus.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\nlisten_adress = \"0.0.0.0:1\"\n",
    )
    .expect("write");
    let out = run(&["serve", "--config", file.to_str().expect("path")], &[]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("unknown key `listen_adress`"), "{stderr}");
    assert!(stderr.contains("clientstatus.toml"), "{stderr}");
}

#[test]
fn the_example_settings_file_in_deploy_is_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/clientstatus.example.toml"
    );
    let cli = clientstatus::config::load(["clientstatus", "serve", "--config", path])
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let clientstatus::config::CliCommand::Serve(config) = cli.command;
    assert_eq!(config.config, Some(std::path::PathBuf::from(path)));
}

/// Every setting the deployment files pass by environment is one the binary reads, so a typo in
/// compose.yaml or the ConfigMap cannot silently fall back to a default.
#[test]
fn the_deployment_files_only_set_variables_the_binary_reads() {
    let out = run(&["serve", "--help"], &[]);
    let help = text(&out.stdout);
    let root = env!("CARGO_MANIFEST_DIR");
    let mut checked = 0;
    for file in [
        "deploy/compose.yaml",
        "deploy/k8s/configmap.yaml",
        "deploy/k8s/deployment.yaml",
    ] {
        let body = std::fs::read_to_string(format!("{root}/{file}")).expect("deployment file");
        for line in body.lines() {
            let line = line.trim().trim_start_matches("- name:").trim();
            if line.starts_with('#') {
                continue;
            }
            let Some(name) = line
                .split([':', ' ', '"'])
                .find(|w| w.starts_with("CLIENTSTATUS_") || *w == "DATABASE_URL")
            else {
                continue;
            };
            assert!(
                help.contains(&format!("env: {name}")),
                "{file} sets {name}, which `clientstatus serve` does not read"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} settings found: is the parser still right?"
    );
    let dockerfile =
        std::fs::read_to_string(format!("{root}/deploy/Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile.contains("cargo build --release --locked --bin clientstatus"),
        "the image builds the binary the README builds"
    );
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/clientstatus", "serve"]"#));
}

#[test]
fn the_edge_settings_are_listed_and_the_page_token_key_never_shown() {
    let out = run(
        &["serve", "--help"],
        &[("CLIENTSTATUS_PAGE_TOKEN_KEY", "hunter2hunter2hunter2")],
    );
    assert!(out.status.success());
    let help = text(&out.stdout);
    for item in [
        "--page-token-key",
        "CLIENTSTATUS_PAGE_TOKEN_KEY",
        "--error-domain",
        "CLIENTSTATUS_ERROR_DOMAIN",
    ] {
        assert!(help.contains(item), "{item} missing from:\n{help}");
    }
    assert!(!help.contains("hunter2"), "{help}");
    let out = run(&["serve"], &[("CLIENTSTATUS_PAGE_TOKEN_KEY", "short")]);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("at least 16"), "{said}");
    let out = run(&["serve", "--error-domain", "not a domain"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("DNS-style"),
        "{}",
        text(&out.stderr)
    );
}
