//! grpcurl's command line: Go `flag` syntax (`-name value`, `-name=value`, `--name` alike,
//! flags before the positional arguments), the flags of grpcurl that a reflection client
//! uses, then `ADDRESS [list [SERVICE] | describe [SYMBOL] | SERVICE/METHOD]`.

use std::time::Duration;

/// What to do.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// `list`: the services, or the methods of one.
    List(Option<String>),
    /// `describe`: a symbol, or every service.
    Describe(Option<String>),
    /// `SERVICE/METHOD` (or `SERVICE.METHOD`): call it.
    Invoke(String),
}

/// The parsed command line.
#[derive(Debug, Default)]
pub struct Args {
    /// `-plaintext`: no TLS.
    pub plaintext: bool,
    /// `-cacert FILE`: trust this CA (PEM) for TLS.
    pub cacert: Option<String>,
    /// `-servername NAME` (or `-authority`): the name the server's certificate must have.
    pub servername: Option<String>,
    /// `-d DATA`: the request messages as JSON (`@`: read from stdin).
    pub data: Option<String>,
    /// `-H 'name: value'`, in order.
    pub headers: Vec<(String, String)>,
    /// `-max-time SECONDS`: the whole operation's limit.
    pub max_time: Option<Duration>,
    /// `-connect-timeout SECONDS`.
    pub connect_timeout: Option<Duration>,
    /// `-emit-defaults`: print fields that have their default value.
    pub emit_defaults: bool,
    /// `HOST:PORT`.
    pub address: String,
    pub command: Option<Command>,
}

/// The usage text, for `-help` and errors.
pub const USAGE: &str = "\
Usage:
    grpcurl [flags] address [list|describe] [symbol]
    grpcurl [flags] address service/method

Flags:
  -plaintext          use plain-text HTTP/2 (no TLS)
  -cacert FILE        trust the CA certificate(s) in FILE (PEM) for TLS
  -servername NAME    the name the server's certificate is checked against
  -d DATA             request data as JSON; '@' reads it from stdin (several messages for
                      streaming methods, one after another)
  -H 'name: value'    a request header (repeatable)
  -max-time SECONDS   the most time the whole operation may take
  -connect-timeout SECONDS
                      the most time connecting may take
  -emit-defaults      print fields that have their default value
";

/// Parses `args` (without the program name).
///
/// Errors: a message for an unknown flag, a flag without its value, a bad number, a header
/// without `:`, no address, or extra arguments.
pub fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            break;
        };
        if flag.is_empty() {
            i += 1;
            break;
        }
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (flag, None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(value) = &inline {
                return Ok(value.clone());
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("flag needs an argument: -{name}"))
        };
        match name {
            "plaintext" => parsed.plaintext = boolean(name, inline.as_deref())?,
            "emit-defaults" => parsed.emit_defaults = boolean(name, inline.as_deref())?,
            "cacert" => parsed.cacert = Some(value()?),
            "servername" | "authority" => parsed.servername = Some(value()?),
            "d" => parsed.data = Some(value()?),
            "H" | "rpc-header" | "reflect-header" => {
                let header = value()?;
                let (key, val) = header
                    .split_once(':')
                    .ok_or_else(|| format!("-H {header:?}: expected 'name: value'"))?;
                parsed
                    .headers
                    .push((key.trim().to_ascii_lowercase(), val.trim().to_owned()));
            }
            "max-time" => parsed.max_time = Some(seconds(name, &value()?)?),
            "connect-timeout" => parsed.connect_timeout = Some(seconds(name, &value()?)?),
            "help" | "h" => return Err(String::new()),
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
        i += 1;
    }
    let mut positional = args[i..].iter();
    parsed.address = positional
        .next()
        .cloned()
        .ok_or("too few arguments: no address")?;
    let rest: Vec<&String> = positional.collect();
    parsed.command = match rest.as_slice() {
        [] => None,
        [verb, symbol @ ..] if verb.as_str() == "list" || verb.as_str() == "describe" => {
            if symbol.len() > 1 {
                return Err(format!("too many arguments after {verb}"));
            }
            let symbol = symbol.first().map(|s| s.trim_start_matches('.').to_owned());
            Some(if verb.as_str() == "list" {
                Command::List(symbol)
            } else {
                Command::Describe(symbol)
            })
        }
        [method] => Some(Command::Invoke(method.to_string())),
        _ => return Err("too many arguments".to_owned()),
    };
    Ok(parsed)
}

/// A bool flag: `-name`, `-name=true`, `-name=false` (Go's forms).
fn boolean(name: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
        Some("false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(format!("invalid boolean value {other:?} for -{name}")),
    }
}

/// A duration in (fractional) seconds.
fn seconds(name: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("invalid value {value:?} for -{name}: expected seconds"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn args(line: &[&str]) -> Result<Args, String> {
        parse(&line.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn grpcurl_command_lines_parse() {
        let a = args(&[
            "-plaintext",
            "-d",
            "{}",
            "-H",
            "X-A: 1",
            "localhost:1",
            "a.B/C",
        ])
        .unwrap();
        assert!(a.plaintext);
        assert_eq!(a.data.as_deref(), Some("{}"));
        assert_eq!(a.headers, [("x-a".to_owned(), "1".to_owned())]);
        assert_eq!(a.command, Some(Command::Invoke("a.B/C".into())));
        let a = args(&["--plaintext=false", "-max-time=1.5", "h:1", "list", ".a.B"]).unwrap();
        assert!(!a.plaintext);
        assert_eq!(a.max_time, Some(Duration::from_millis(1500)));
        assert_eq!(a.command, Some(Command::List(Some("a.B".into()))));
        let a = args(&["h:1", "describe"]).unwrap();
        assert_eq!(a.command, Some(Command::Describe(None)));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        for bad in [
            &["-bogus", "h:1"][..],
            &["-d"],
            &["-H", "novalue", "h:1"],
            &["-max-time", "soon", "h:1"],
            &[],
            &["h:1", "list", "a", "b"],
            &["h:1", "a/B", "c"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }
}
