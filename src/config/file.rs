//! The optional configuration file (`--config PATH` / `CLIENTSTATUS_CONFIG`): TOML, one key per
//! flag, named like the long flag with `_` for `-` (`listen`, `database_url`, `hot_lead_sla`…).
//! The file's values become the flags' defaults, so a flag or environment variable still wins
//! over the file and the file over the built-in default. Each value is checked by its flag's
//! own parser, and an error names the file and the key.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::{Arg, ArgMatches, Command, CommandFactory, FromArgMatches};

use super::Cli;

/// The subcommand whose flags the file sets.
const SERVE: &str = "serve";
/// Flags the file cannot set.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// Parses `args` (the program name first) and the environment, then the configuration file
/// named by `--config` or `CLIENTSTATUS_CONFIG`. Errors are clap's, ready to `exit()`.
pub fn load<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let matches = Cli::command().try_get_matches_from(&args)?;
    let path = matches
        .subcommand_matches(SERVE)
        .and_then(|serve| serve.get_one::<PathBuf>("config"))
        .cloned();
    let Some(path) = path else {
        return Cli::from_arg_matches(&matches);
    };
    let defaults = read(&path).map_err(|(kind, message)| Cli::command().error(kind, message))?;
    let matches = with_defaults(&defaults).try_get_matches_from(&args)?;
    Cli::from_arg_matches(&matches)
}

/// The command line definition with the file's values as the serve flags' defaults.
fn with_defaults(defaults: &[(String, String)]) -> Command {
    Cli::command().mut_subcommand(SERVE, |mut serve| {
        for (id, value) in defaults {
            serve = serve.mut_arg(id, |arg| {
                // Help never shows a file's value (a database URL may carry a password).
                let takes_value = arg.get_action().takes_values();
                arg.default_value(value.clone())
                    .hide_default_value(takes_value)
            });
        }
        serve
    })
}

type FileError = (ErrorKind, String);

/// Reads the file and checks every key and value: `(flag id, value as the flag would take it)`.
fn read(path: &Path) -> Result<Vec<(String, String)>, FileError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        (
            ErrorKind::Io,
            format!("cannot read config file {shown}: {e}"),
        )
    })?;
    parse(&text).map_err(|(kind, message)| (kind, format!("config file {shown}: {message}")))
}

fn parse(text: &str) -> Result<Vec<(String, String)>, FileError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| (ErrorKind::InvalidValue, e.message().to_string()))?;
    let command = Cli::command();
    let serve = command
        .find_subcommand(SERVE)
        .ok_or((ErrorKind::InvalidSubcommand, "no serve command".to_string()))?;
    let mut defaults = Vec::with_capacity(table.len());
    for (key, value) in table {
        let arg = settable(serve, &key).ok_or_else(|| unknown_key(serve, &key))?;
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err((
                    ErrorKind::InvalidValue,
                    format!(
                        "{key}: expected a string, a whole number or true/false, found {}",
                        other.type_str()
                    ),
                ));
            }
        };
        check(arg, &key, &value)?;
        defaults.push((key, value));
    }
    Ok(defaults)
}

/// The serve flag a file key names.
fn settable<'a>(serve: &'a Command, key: &str) -> Option<&'a Arg> {
    serve
        .get_arguments()
        .find(|a| a.get_id() == key && a.get_long().is_some())
        .filter(|a| !NOT_IN_FILE.contains(&a.get_id().as_str()))
}

fn unknown_key(serve: &Command, key: &str) -> FileError {
    let spelled = key.replace('-', "_");
    let hint = if spelled != key && settable(serve, &spelled).is_some() {
        format!(" (did you mean `{spelled}`?)")
    } else if key == "config" {
        " (a config file cannot name another one)".to_string()
    } else {
        String::new()
    };
    (
        ErrorKind::UnknownArgument,
        format!(
            "unknown key `{key}`{hint}; the keys are the long flags of `serve --help`, with _ for -"
        ),
    )
}

/// Runs the flag's own parser on `value`, so the file accepts exactly what the flag accepts.
fn check(arg: &Arg, key: &str, value: &str) -> Result<(), FileError> {
    let long = arg.get_long().unwrap_or(key);
    if !arg.get_action().takes_values() {
        // An on/off flag: the file says true or false.
        return match value {
            "true" | "false" => Ok(()),
            _ => Err((
                ErrorKind::InvalidValue,
                format!("{key}: expected true or false, found {value:?}"),
            )),
        };
    }
    let probe = Command::new("probe").arg(arg.clone());
    let flag = format!("--{long}={value}");
    probe
        .try_get_matches_from(["probe", flag.as_str()])
        .map(drop::<ArgMatches>)
        .map_err(|e| {
            let reason = e
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_string();
            (ErrorKind::InvalidValue, format!("{key}: {reason}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CliCommand, Config};

    fn config_with(file: &str, flags: &[&str]) -> Result<Config, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("clientstatus.toml");
        std::fs::write(&path, file).map_err(|e| e.to_string())?;
        let mut args = vec![
            "clientstatus".to_string(),
            "serve".into(),
            "--config".into(),
            path.display().to_string(),
        ];
        args.extend(flags.iter().map(|f| f.to_string()));
        let CliCommand::Serve(config) = load(args).map_err(|e| e.to_string())?.command;
        Ok(config)
    }

    // These tests choose settings no test environment sets; the order flag > environment >
    // file is checked end to end, with the real binary, in tests/api/cli.rs.

    #[test]
    fn the_file_sets_what_no_flag_sets() {
        let config = config_with(
            "hot_lead_sla = \"20m\"\nfollow_up_stale_days = 9\n\
             extra_properties_mean_deal = true\nevent_retention = \"90d\"\n\
             metrics_listen = \"127.0.0.1:9191\"\n",
            &[],
        )
        .expect("config");
        assert_eq!(config.hot_lead_sla, chrono::Duration::minutes(20));
        assert_eq!(config.follow_up_stale_days, 9);
        assert!(config.extra_properties_mean_deal);
        assert_eq!(config.event_retention, Some(chrono::Duration::days(90)));
        assert_eq!(config.metrics_listen, Some(([127, 0, 0, 1], 9191).into()));
        // Not in the file: the built-in default.
        assert_eq!(config.alert_poll_interval, chrono::Duration::seconds(1));
    }

    #[test]
    fn a_flag_wins_over_the_file() {
        let config = config_with(
            "hot_lead_sla = \"20m\"\nfollow_up_stale_days = 9\n",
            &["--hot-lead-sla", "30m"],
        )
        .expect("config");
        assert_eq!(config.hot_lead_sla, chrono::Duration::minutes(30));
        assert_eq!(config.follow_up_stale_days, 9);
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let err = config_with("hot_lead_sla = \"20m\"\nhot_lead_slaa = \"5m\"\n", &[])
            .expect_err("unknown key");
        assert!(err.contains("unknown key `hot_lead_slaa`"), "{err}");
        let err = config_with("hot-lead-sla = \"20m\"\n", &[]).expect_err("kebab key");
        assert!(err.contains("did you mean `hot_lead_sla`"), "{err}");
        let err = config_with("config = \"other.toml\"\n", &[]).expect_err("config key");
        assert!(err.contains("unknown key `config`"), "{err}");
    }

    #[test]
    fn a_bad_value_names_the_file_and_the_key() {
        let err = config_with("hot_lead_sla = \"15 minutes\"\n", &[]).expect_err("bad value");
        assert!(err.contains("clientstatus.toml"), "{err}");
        assert!(err.contains("hot_lead_sla"), "{err}");
        let err = config_with("follow_up_stale_days = 0\n", &[]).expect_err("out of range");
        assert!(err.contains("follow_up_stale_days"), "{err}");
        let err = config_with("extra_properties_mean_deal = \"yes\"\n", &[]).expect_err("bool");
        assert!(err.contains("expected true or false"), "{err}");
        let err = config_with("listen = [\"a\"]\n", &[]).expect_err("array");
        assert!(err.contains("listen: expected a string"), "{err}");
        let err = config_with("listen = \n", &[]).expect_err("syntax");
        assert!(err.contains("config file"), "{err}");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err = load([
            "clientstatus",
            "serve",
            "--config",
            "/nonexistent/clientstatus.toml",
        ])
        .expect_err("missing");
        assert!(err.to_string().contains("cannot read config file"), "{err}");
    }
}
