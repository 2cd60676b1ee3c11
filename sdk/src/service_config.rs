//! [`ServiceConfig`]: gRPC's service config, the per-method policies a channel applies to its
//! calls, given as JSON to [`Endpoint::service_config`](crate::transport::Endpoint::service_config).
//!
//! Source: gRPC's "Service Config" document (`doc/service_config.md`) and the
//! `grpc.service_config.ServiceConfig` message it is the proto3 JSON form of; retries per
//! gRFC A6 ("gRPC Retry Design"). What is read:
//!
//! - `methodConfig[]`: `name[]` (`{"service": "pkg.Svc", "method": "M"}`; without `method`,
//!   every method of the service; `{}` alone, every method of every service), `timeout`,
//!   `waitForReady`, `maxRequestMessageBytes`, `maxResponseMessageBytes`, `retryPolicy`
//!   (`maxAttempts`, `initialBackoff`, `maxBackoff`, `backoffMultiplier`,
//!   `retryableStatusCodes`) or `hedgingPolicy` (`maxAttempts`, `hedgingDelay`,
//!   `nonFatalStatusCodes`);
//! - `retryThrottling` (`maxTokens`, `tokenRatio`);
//! - `loadBalancingConfig[]`: the first policy this build knows is used: `pick_first` (with
//!   `shuffleAddressList`, gRFC A62) or `round_robin`;
//! - `healthCheckConfig.serviceName`: client-side health checking (gRFC A17) under
//!   `round_robin`.
//!
//! Unknown fields are ignored, as the spec asks of clients. Every field that is present is
//! checked: a value of the wrong type or out of range is an `InvalidArgument` naming the field
//! (`methodConfig[0].retryPolicy.maxAttempts: …`). A `loadBalancingConfig` without a policy
//! this build knows is refused with `Unimplemented`.

use std::cell::Cell;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::status::{Code, Status};

/// A parsed, checked service config: see the [module docs](self).
///
/// ```
/// use grpc_wasi::service_config::ServiceConfig;
/// let config: ServiceConfig = r#"{
///   "methodConfig": [{
///     "name": [{"service": "grpc.examples.echo.Echo"}],
///     "timeout": "2.5s",
///     "retryPolicy": {
///       "maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1s",
///       "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
///     }
///   }],
///   "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
/// }"#.parse()?;
/// let method = config.method_config("/grpc.examples.echo.Echo/UnaryEcho").unwrap();
/// assert_eq!(method.timeout, Some(std::time::Duration::from_millis(2500)));
/// assert_eq!(method.retry_policy.as_ref().unwrap().max_attempts, 4);
/// assert!("{\"methodConfig\": [{\"timeout\": \"soon\"}]}".parse::<ServiceConfig>().is_err());
/// # Ok::<(), grpc_wasi::Status>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceConfig {
    /// The method configs, in the order given.
    pub method_configs: Vec<MethodConfig>,
    /// Retry throttling for the channel, if set.
    pub retry_throttling: Option<RetryThrottling>,
    /// The load-balancing policy: the first of `loadBalancingConfig` this build has
    /// ([`LoadBalancingPolicy::PickFirst`] when none is given).
    pub load_balancing: LoadBalancingPolicy,
    /// `healthCheckConfig.serviceName`: the service whose health (`grpc.health.v1.Health`'s
    /// `Watch`) decides whether a server takes calls under `round_robin` (gRFC A17; `""` is
    /// the server's overall health). `None`: no client-side health checking.
    pub health_check_service_name: Option<String>,
}

/// One `methodConfig` entry: the methods it names and what applies to their calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodConfig {
    /// The methods: `(service, method)`; an empty service names every service (only with an
    /// empty method), an empty method every method of the service.
    pub names: Vec<(String, String)>,
    /// The deadline of each call (the shorter of this and the call's own applies).
    pub timeout: Option<Duration>,
    /// Calls wait for a connection (within their deadline) rather than fail at once with
    /// `Unavailable` when the channel has none.
    pub wait_for_ready: Option<bool>,
    /// The largest request message, in bytes (the smaller of this and the client's limit
    /// applies).
    pub max_request_message_bytes: Option<usize>,
    /// The largest response message, in bytes (the smaller of this and the client's limit
    /// applies).
    pub max_response_message_bytes: Option<usize>,
    /// How failed calls are retried (gRFC A6).
    pub retry_policy: Option<RetryPolicy>,
    /// How calls are hedged (gRFC A6); never together with `retry_policy`.
    pub hedging_policy: Option<HedgingPolicy>,
}

/// gRFC A6's `hedgingPolicy`: the call is sent, and sent again every `hedging_delay` while no
/// attempt has answered, up to `max_attempts` attempts at once; the first answer wins and the
/// others are cancelled. An attempt that fails with one of `non_fatal_status_codes` starts the
/// next at once; any other failure ends the call with it.
#[derive(Debug, Clone, PartialEq)]
pub struct HedgingPolicy {
    /// Attempts in all, the first included: 2 to 5 (a larger value is taken as 5, as A6 says).
    pub max_attempts: u32,
    /// The wait before each next attempt while none has answered (default 0: all at once).
    pub hedging_delay: Duration,
    /// The codes after which the next attempt is sent at once (default: none).
    pub non_fatal_status_codes: Vec<Code>,
}

/// gRFC A6's `retryPolicy`: up to `max_attempts` attempts in all, the `n`th retry after a
/// random delay in `[0, min(initial_backoff × backoff_multiplier^(n-1), max_backoff))`, for
/// the codes in `retryable_status_codes`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included: 2 to 5 (a larger value is taken as 5, as A6 says).
    pub max_attempts: u32,
    /// The first retry's backoff bound (> 0).
    pub initial_backoff: Duration,
    /// The largest backoff bound (> 0).
    pub max_backoff: Duration,
    /// How much the bound grows with each retry (> 0).
    pub backoff_multiplier: f64,
    /// The status codes that are retried (at least one).
    pub retryable_status_codes: Vec<Code>,
}

/// gRFC A6's `retryThrottling`: the channel holds `max_tokens` tokens; a call that fails with
/// a retryable code takes one, a call that succeeds gives back `token_ratio`; retries are
/// made only while more than half the tokens are left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryThrottling {
    /// The tokens the channel starts with and holds at most: in (0, 1000].
    pub max_tokens: f64,
    /// The tokens a successful call gives back: > 0, kept to 3 decimal places.
    pub token_ratio: f64,
}

/// The load-balancing policies this build has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancingPolicy {
    /// `pick_first` (gRFC A61): the addresses of the name in order, the first that connects
    /// carries every call; `shuffle_address_list` (gRFC A62's `shuffleAddressList`) shuffles
    /// the addresses first, so that clients spread over them.
    PickFirst {
        /// Shuffle the resolved addresses before trying them in order.
        shuffle_address_list: bool,
    },
    /// `round_robin`: one connection per address of the name, each call on the next address
    /// whose connection is ready (not in connection backoff, and serving if health checking
    /// is on); the name is resolved again when a connection fails (at most once every 30 s).
    RoundRobin,
}

impl Default for LoadBalancingPolicy {
    /// `pick_first` without shuffling, gRPC's default.
    fn default() -> Self {
        LoadBalancingPolicy::PickFirst {
            shuffle_address_list: false,
        }
    }
}

/// A6: "maxAttempts … values greater than 5 are treated as 5".
const MAX_ATTEMPTS_CAP: u32 = 5;

impl ServiceConfig {
    /// Parses and checks `json` (the service config's JSON form).
    ///
    /// Errors: `InvalidArgument` for JSON that does not parse, and for a field of the wrong
    /// type or out of range (the message names it), and for a method config with both a
    /// `retryPolicy` and a `hedgingPolicy`; `Unimplemented` for a `loadBalancingConfig` that
    /// lists no policy this build has.
    pub fn from_json(json: &str) -> Result<ServiceConfig, Status> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Status::invalid_argument(format!("service config: {e}")))?;
        let root = object(&value, "service config")?;
        let mut config = ServiceConfig::default();
        if let Some(entries) = field(root, "methodConfig") {
            let entries = array(entries, "methodConfig")?;
            for (i, entry) in entries.iter().enumerate() {
                let method = MethodConfig::parse(entry, &format!("methodConfig[{i}]"))?;
                config.method_configs.push(method);
            }
        }
        config.check_unique_names()?;
        if let Some(throttling) = field(root, "retryThrottling") {
            config.retry_throttling = Some(RetryThrottling::parse(throttling)?);
        }
        if let Some(policies) = field(root, "loadBalancingConfig") {
            config.load_balancing = load_balancing(policies)?;
        }
        if let Some(health) = field(root, "healthCheckConfig") {
            let at = "healthCheckConfig";
            let health = object(health, at)?;
            let name = match field(health, "serviceName") {
                None => "",
                Some(name) => string(name, &format!("{at}.serviceName"))?,
            };
            config.health_check_service_name = Some(name.to_owned());
        }
        Ok(config)
    }

    /// The method config that applies to `path` (`/package.Service/Method`): the one naming
    /// the method, else the one naming its service, else the default one (`{}`), per the
    /// spec's precedence.
    pub fn method_config(&self, path: &str) -> Option<&MethodConfig> {
        let (service, method) = path.trim_start_matches('/').split_once('/')?;
        let find = |service: &str, method: &str| {
            self.method_configs
                .iter()
                .find(|c| c.names.iter().any(|(s, m)| s == service && m == method))
        };
        find(service, method)
            .or_else(|| find(service, ""))
            .or_else(|| find("", ""))
    }

    /// The spec: "each name must be unique across the entire ServiceConfig".
    fn check_unique_names(&self) -> Result<(), Status> {
        let mut seen: Vec<&(String, String)> = Vec::new();
        for name in self.method_configs.iter().flat_map(|c| &c.names) {
            if seen.contains(&name) {
                return Err(invalid(
                    "methodConfig",
                    format!(
                        "the name {{service {:?}, method {:?}}} appears twice",
                        name.0, name.1
                    ),
                ));
            }
            seen.push(name);
        }
        Ok(())
    }
}

impl FromStr for ServiceConfig {
    type Err = Status;

    /// [`ServiceConfig::from_json`].
    fn from_str(json: &str) -> Result<ServiceConfig, Status> {
        ServiceConfig::from_json(json)
    }
}

impl MethodConfig {
    fn parse(value: &Value, at: &str) -> Result<MethodConfig, Status> {
        let entry = object(value, at)?;
        let mut config = MethodConfig::default();
        if let Some(names) = field(entry, "name") {
            for (i, name) in array(names, &format!("{at}.name"))?.iter().enumerate() {
                let at = format!("{at}.name[{i}]");
                let name = object(name, &at)?;
                let text = |key: &str| -> Result<String, Status> {
                    match field(name, key) {
                        None => Ok(String::new()),
                        Some(v) => Ok(string(v, &format!("{at}.{key}"))?.to_owned()),
                    }
                };
                let (service, method) = (text("service")?, text("method")?);
                if service.is_empty() && !method.is_empty() {
                    return Err(invalid(&at, "a method needs its service"));
                }
                config.names.push((service, method));
            }
        }
        if let Some(timeout) = field(entry, "timeout") {
            config.timeout = Some(duration(timeout, &format!("{at}.timeout"))?);
        }
        if let Some(wait) = field(entry, "waitForReady") {
            config.wait_for_ready = Some(boolean(wait, &format!("{at}.waitForReady"))?);
        }
        if let Some(max) = field(entry, "maxRequestMessageBytes") {
            config.max_request_message_bytes =
                Some(byte_count(max, &format!("{at}.maxRequestMessageBytes"))?);
        }
        if let Some(max) = field(entry, "maxResponseMessageBytes") {
            config.max_response_message_bytes =
                Some(byte_count(max, &format!("{at}.maxResponseMessageBytes"))?);
        }
        let retry = field(entry, "retryPolicy");
        if let Some(hedging) = field(entry, "hedgingPolicy") {
            if retry.is_some() {
                return Err(invalid(
                    at,
                    "retryPolicy and hedgingPolicy cannot both be set",
                ));
            }
            let at = format!("{at}.hedgingPolicy");
            config.hedging_policy = Some(HedgingPolicy::parse(hedging, &at)?);
        }
        if let Some(retry) = retry {
            config.retry_policy = Some(RetryPolicy::parse(retry, &format!("{at}.retryPolicy"))?);
        }
        Ok(config)
    }
}

impl RetryPolicy {
    fn parse(value: &Value, at: &str) -> Result<RetryPolicy, Status> {
        let policy = object(value, at)?;
        let required = |key: &str| {
            field(policy, key).ok_or_else(|| invalid(&format!("{at}.{key}"), "is required"))
        };
        let max_attempts = attempts(required("maxAttempts")?, &format!("{at}.maxAttempts"))?;
        let positive = |key: &str| -> Result<Duration, Status> {
            let at = format!("{at}.{key}");
            let d = duration(required(key)?, &at)?;
            if d.is_zero() {
                return Err(invalid(&at, "must be greater than 0"));
            }
            Ok(d)
        };
        let initial_backoff = positive("initialBackoff")?;
        let max_backoff = positive("maxBackoff")?;
        let multiplier = required("backoffMultiplier")?;
        let backoff_multiplier = multiplier
            .as_f64()
            .filter(|m| *m > 0.0 && m.is_finite())
            .ok_or_else(|| {
                invalid(
                    &format!("{at}.backoffMultiplier"),
                    format!("must be a number greater than 0, got {multiplier}"),
                )
            })?;
        let codes_at = format!("{at}.retryableStatusCodes");
        let retryable_status_codes = status_codes(required("retryableStatusCodes")?, &codes_at)?;
        if retryable_status_codes.is_empty() {
            return Err(invalid(&codes_at, "must list at least one code"));
        }
        Ok(RetryPolicy {
            max_attempts,
            initial_backoff,
            max_backoff,
            backoff_multiplier,
            retryable_status_codes,
        })
    }

    /// The upper bound of the random delay before retry number `retry` (1 for the first
    /// retry): `min(initial_backoff × backoff_multiplier^(retry-1), max_backoff)`.
    pub fn backoff_bound(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let bound = self.initial_backoff.as_secs_f64() * self.backoff_multiplier.powi(exponent);
        let max = self.max_backoff.as_secs_f64();
        Duration::try_from_secs_f64(bound.min(max)).unwrap_or(self.max_backoff)
    }

    /// True if a call that failed with `code` may be retried.
    pub fn is_retryable(&self, code: Code) -> bool {
        self.retryable_status_codes.contains(&code)
    }
}

impl HedgingPolicy {
    fn parse(value: &Value, at: &str) -> Result<HedgingPolicy, Status> {
        let policy = object(value, at)?;
        let max_attempts = field(policy, "maxAttempts")
            .ok_or_else(|| invalid(&format!("{at}.maxAttempts"), "is required"))?;
        let max_attempts = attempts(max_attempts, &format!("{at}.maxAttempts"))?;
        let hedging_delay = match field(policy, "hedgingDelay") {
            Some(delay) => duration(delay, &format!("{at}.hedgingDelay"))?,
            None => Duration::ZERO,
        };
        let codes_at = format!("{at}.nonFatalStatusCodes");
        let non_fatal_status_codes = match field(policy, "nonFatalStatusCodes") {
            Some(codes) => status_codes(codes, &codes_at)?,
            None => Vec::new(),
        };
        Ok(HedgingPolicy {
            max_attempts,
            hedging_delay,
            non_fatal_status_codes,
        })
    }

    /// True if a failure with `code` lets the next attempt start at once.
    pub fn is_non_fatal(&self, code: Code) -> bool {
        self.non_fatal_status_codes.contains(&code)
    }
}

impl RetryThrottling {
    fn parse(value: &Value) -> Result<RetryThrottling, Status> {
        let at = "retryThrottling";
        let throttling = object(value, at)?;
        let number = |key: &str| -> Result<f64, Status> {
            let at = format!("{at}.{key}");
            let value = field(throttling, key).ok_or_else(|| invalid(&at, "is required"))?;
            value
                .as_f64()
                .ok_or_else(|| invalid(&at, format!("must be a number, got {value}")))
        };
        let max_tokens = number("maxTokens")?;
        if !(max_tokens > 0.0 && max_tokens <= 1000.0) || max_tokens.fract() != 0.0 {
            return Err(invalid(
                "retryThrottling.maxTokens",
                format!("must be an integer in (0, 1000], got {max_tokens}"),
            ));
        }
        let token_ratio = number("tokenRatio")?;
        if !(token_ratio > 0.0 && token_ratio.is_finite()) {
            return Err(invalid(
                "retryThrottling.tokenRatio",
                format!("must be greater than 0, got {token_ratio}"),
            ));
        }
        // A6: "tokenRatio … up to 3 decimal places are supported".
        let token_ratio = (token_ratio * 1000.0).trunc() / 1000.0;
        Ok(RetryThrottling {
            max_tokens,
            token_ratio,
        })
    }
}

/// A6's retry throttling for one channel: `tokens` start at `max_tokens`; a call that fails
/// with a retryable code takes 1, one that succeeds gives back `token_ratio`; a retry is made
/// only while `tokens > max_tokens / 2`.
#[derive(Debug)]
pub(crate) struct Throttle {
    tokens: Cell<f64>,
    config: RetryThrottling,
}

impl Throttle {
    pub(crate) fn new(config: RetryThrottling) -> Throttle {
        Throttle {
            tokens: Cell::new(config.max_tokens),
            config,
        }
    }

    /// Records a call that failed with a retryable code.
    pub(crate) fn failure(&self) {
        self.tokens.set((self.tokens.get() - 1.0).max(0.0));
    }

    /// Records a call that succeeded.
    pub(crate) fn success(&self) {
        let tokens = self.tokens.get() + self.config.token_ratio;
        self.tokens.set(tokens.min(self.config.max_tokens));
    }

    /// True while retries are allowed.
    pub(crate) fn allows_retry(&self) -> bool {
        self.tokens.get() > self.config.max_tokens / 2.0
    }
}

fn load_balancing(value: &Value) -> Result<LoadBalancingPolicy, Status> {
    let at = "loadBalancingConfig";
    let policies = array(value, at)?;
    let mut names = Vec::new();
    for (i, policy) in policies.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let policy = object(policy, &at)?;
        let mut keys = policy.keys();
        let (Some(name), None) = (keys.next(), keys.next()) else {
            return Err(invalid(&at, "must hold exactly one policy"));
        };
        let config = object(&policy[name], &format!("{at}.{name}"))?;
        match name.as_str() {
            "pick_first" => {
                let shuffle = match field(config, "shuffleAddressList") {
                    None => false,
                    Some(shuffle) => boolean(shuffle, &format!("{at}.{name}.shuffleAddressList"))?,
                };
                return Ok(LoadBalancingPolicy::PickFirst {
                    shuffle_address_list: shuffle,
                });
            }
            "round_robin" => return Ok(LoadBalancingPolicy::RoundRobin),
            _ => names.push(name.clone()),
        }
    }
    if names.is_empty() {
        return Ok(LoadBalancingPolicy::default());
    }
    Err(Status::unimplemented(format!(
        "service config: loadBalancingConfig lists no policy grpc-wasi has ({names:?}; it has \
         pick_first and round_robin)"
    )))
}

/// A `maxAttempts`: an integer above 1, capped at [`MAX_ATTEMPTS_CAP`].
fn attempts(value: &Value, at: &str) -> Result<u32, Status> {
    let n = value.as_u64().filter(|n| *n > 1).ok_or_else(|| {
        invalid(
            at,
            format!("must be an integer greater than 1, got {value}"),
        )
    })?;
    Ok(u32::try_from(n)
        .unwrap_or(MAX_ATTEMPTS_CAP)
        .min(MAX_ATTEMPTS_CAP))
}

fn invalid(at: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("service config: {at}: {why}"))
}

/// `key` of `object`, treating JSON `null` as absent (proto3 JSON's reading).
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, Status> {
    value
        .as_object()
        .ok_or_else(|| invalid(at, format!("must be an object, got {value}")))
}

fn array<'a>(value: &'a Value, at: &str) -> Result<&'a Vec<Value>, Status> {
    value
        .as_array()
        .ok_or_else(|| invalid(at, format!("must be a list, got {value}")))
}

fn string<'a>(value: &'a Value, at: &str) -> Result<&'a str, Status> {
    value
        .as_str()
        .ok_or_else(|| invalid(at, format!("must be a string, got {value}")))
}

/// A proto3 JSON `google.protobuf.Duration`: decimal seconds with an `s` suffix (`"1.5s"`, at
/// most 9 fractional digits), not negative.
fn duration(value: &Value, at: &str) -> Result<Duration, Status> {
    let text = string(value, at)?;
    let bad = || {
        invalid(
            at,
            format!("must be a duration such as \"1.5s\", got {text:?}"),
        )
    };
    let seconds = text.strip_suffix('s').ok_or_else(bad)?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || fraction.len() > 9 {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let nanos: u32 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
    Ok(Duration::new(whole, nanos))
}

/// A message size limit: a non-negative integer (proto3 JSON also allows it as a string).
fn byte_count(value: &Value, at: &str) -> Result<usize, Status> {
    let n = match value {
        Value::String(s) => s.parse::<u64>().ok(),
        other => other.as_u64(),
    };
    n.and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| invalid(at, format!("must be a non-negative integer, got {value}")))
}

/// A status code by name (`"UNAVAILABLE"`, any case) or number, as proto3 JSON writes enums.
fn boolean(value: &Value, at: &str) -> Result<bool, Status> {
    value
        .as_bool()
        .ok_or_else(|| invalid(at, "must be true or false"))
}

/// A list of status codes (names or numbers), each checked as [`status_code`] checks it.
fn status_codes(value: &Value, at: &str) -> Result<Vec<Code>, Status> {
    array(value, at)?
        .iter()
        .enumerate()
        .map(|(i, code)| status_code(code, &format!("{at}[{i}]")))
        .collect()
}

fn status_code(value: &Value, at: &str) -> Result<Code, Status> {
    let code = match value {
        Value::String(name) => Code::from_name(name),
        Value::Number(n) => n
            .as_i64()
            .filter(|n| (0..=16).contains(n))
            .and_then(|n| i32::try_from(n).ok())
            .map(Code::from_i32),
        _ => None,
    };
    match code {
        Some(Code::Ok) => Err(invalid(at, "OK is not a failure to retry")),
        Some(code) => Ok(code),
        None => Err(invalid(at, format!("not a status code: {value}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn error(json: &str) -> String {
        ServiceConfig::from_json(json)
            .unwrap_err()
            .message()
            .to_owned()
    }

    const RETRY: &str = r#""retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.1s",
        "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}"#;

    #[test]
    fn names_resolve_by_precedence() {
        let config = ServiceConfig::from_json(
            r#"{"methodConfig": [
                {"name": [{}], "timeout": "1s"},
                {"name": [{"service": "a.S"}], "timeout": "2s"},
                {"name": [{"service": "a.S", "method": "M"}], "timeout": "3s"}
            ]}"#,
        )
        .unwrap();
        let timeout = |path| {
            config
                .method_config(path)
                .unwrap()
                .timeout
                .unwrap()
                .as_secs()
        };
        assert_eq!(timeout("/a.S/M"), 3);
        assert_eq!(timeout("/a.S/N"), 2);
        assert_eq!(timeout("/b.T/M"), 1);
    }

    #[test]
    fn a_retry_policy_is_read_and_capped() {
        let json = format!(r#"{{"methodConfig": [{{"name": [{{}}], {RETRY}}}]}}"#)
            .replace("\"maxAttempts\": 3", "\"maxAttempts\": 9");
        let config = ServiceConfig::from_json(&json).unwrap();
        let policy = config.method_configs[0].retry_policy.clone().unwrap();
        assert_eq!(policy.max_attempts, 5);
        assert_eq!(policy.retryable_status_codes, [Code::Unavailable]);
        assert_eq!(policy.backoff_bound(1), Duration::from_millis(100));
        assert_eq!(policy.backoff_bound(2), Duration::from_millis(200));
        assert_eq!(policy.backoff_bound(5), Duration::from_secs(1));
    }

    #[test]
    fn each_malformed_field_is_named() {
        let method = |body: &str| format!(r#"{{"methodConfig": [{{"name": [{{}}], {body}}}]}}"#);
        let retry = |from: &str, to: &str| method(&RETRY.replace(from, to));
        let cases = [
            ("not json".to_owned(), "service config: expected"),
            ("[]".to_owned(), "service config: must be an object"),
            (
                method(r#""timeout": "soon""#),
                "methodConfig[0].timeout: must be a duration",
            ),
            (
                method(r#""timeout": "-1s""#),
                "methodConfig[0].timeout: must be a duration",
            ),
            (
                method(r#""waitForReady": "yes""#),
                "methodConfig[0].waitForReady: must be true",
            ),
            (
                method(r#""maxRequestMessageBytes": -1"#),
                "maxRequestMessageBytes: must be a non-negative",
            ),
            (
                method(r#""maxResponseMessageBytes": "x""#),
                "maxResponseMessageBytes: must be a non-negative",
            ),
            (
                retry("\"maxAttempts\": 3", "\"maxAttempts\": 1"),
                "retryPolicy.maxAttempts: must be an integer greater than 1",
            ),
            (
                retry("\"maxAttempts\": 3,", ""),
                "retryPolicy.maxAttempts: is required",
            ),
            (
                retry("\"0.1s\"", "\"0s\""),
                "retryPolicy.initialBackoff: must be greater than 0",
            ),
            (
                retry("\"1s\"", "1"),
                "retryPolicy.maxBackoff: must be a string",
            ),
            (
                retry("\"backoffMultiplier\": 2", "\"backoffMultiplier\": 0"),
                "retryPolicy.backoffMultiplier: must be a number greater than 0",
            ),
            (
                retry("[\"UNAVAILABLE\"]", "[]"),
                "retryPolicy.retryableStatusCodes: must list at least one",
            ),
            (
                retry("[\"UNAVAILABLE\"]", "[\"SOMETIMES\"]"),
                "retryableStatusCodes[0]: not a status code",
            ),
            (
                retry("[\"UNAVAILABLE\"]", "[\"OK\"]"),
                "retryableStatusCodes[0]: OK is not a failure",
            ),
            (
                method(r#""name": 3"#).replace(r#""name": [{}], "#, ""),
                "methodConfig[0].name: must be a list",
            ),
            (
                r#"{"methodConfig": [{"name": [{"method": "M"}]}]}"#.to_owned(),
                "methodConfig[0].name[0]: a method needs its service",
            ),
            (
                r#"{"methodConfig": [{"name": [{}]}, {"name": [{}]}]}"#.to_owned(),
                "appears twice",
            ),
            (
                r#"{"retryThrottling": {"maxTokens": 0, "tokenRatio": 1}}"#.to_owned(),
                "retryThrottling.maxTokens: must be an integer in (0, 1000]",
            ),
            (
                r#"{"retryThrottling": {"maxTokens": 10}}"#.to_owned(),
                "retryThrottling.tokenRatio: is required",
            ),
            (
                r#"{"loadBalancingConfig": [{"a": {}, "b": {}}]}"#.to_owned(),
                "loadBalancingConfig[0]: must hold exactly one policy",
            ),
            (
                r#"{"loadBalancingConfig": [{"pick_first": {"shuffleAddressList": 1}}]}"#
                    .to_owned(),
                "loadBalancingConfig[0].pick_first.shuffleAddressList: must be true or false",
            ),
            (
                r#"{"methodConfig": [{"hedgingPolicy": {"maxAttempts": 1}}]}"#.to_owned(),
                "methodConfig[0].hedgingPolicy.maxAttempts: must be an integer greater than 1",
            ),
            (
                r#"{"methodConfig": [{"hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": 1}}]}"#
                    .to_owned(),
                "methodConfig[0].hedgingPolicy.hedgingDelay: must be a string",
            ),
            (
                r#"{"methodConfig": [{"hedgingPolicy": {"maxAttempts": 2,
                    "nonFatalStatusCodes": ["SOMETIMES"]}}]}"#
                    .to_owned(),
                "methodConfig[0].hedgingPolicy.nonFatalStatusCodes[0]:",
            ),
            (
                r#"{"methodConfig": [{"hedgingPolicy": {"maxAttempts": 2},
                    "retryPolicy": {}}]}"#
                    .to_owned(),
                "retryPolicy and hedgingPolicy cannot both be set",
            ),
            (
                r#"{"healthCheckConfig": {"serviceName": 7}}"#.to_owned(),
                "healthCheckConfig.serviceName: must be a string",
            ),
            (
                r#"{"healthCheckConfig": []}"#.to_owned(),
                "healthCheckConfig: must be",
            ),
        ];
        for (json, expected) in cases {
            let message = error(&json);
            assert!(message.contains(expected), "{json}: {message}");
        }
    }

    #[test]
    fn hedging_is_read_and_unknown_policies_are_unimplemented() {
        let hedging = r#"{"methodConfig": [{"name": [{}], "hedgingPolicy": {"maxAttempts": 9,
            "hedgingDelay": "0.5s", "nonFatalStatusCodes": ["UNAVAILABLE", 4]}}]}"#;
        let config = ServiceConfig::from_json(hedging).unwrap();
        let policy = config.method_configs[0].hedging_policy.clone().unwrap();
        assert_eq!(policy.max_attempts, 5);
        assert_eq!(policy.hedging_delay, Duration::from_millis(500));
        assert_eq!(
            policy.non_fatal_status_codes,
            [Code::Unavailable, Code::DeadlineExceeded]
        );
        let unknown = r#"{"loadBalancingConfig": [{"weighted_round_robin": {}}]}"#;
        assert_eq!(
            ServiceConfig::from_json(unknown).unwrap_err().code(),
            Code::Unimplemented
        );
        let fallback = r#"{"loadBalancingConfig": [{"grpclb": {}}, {"round_robin": {}}]}"#;
        let config = ServiceConfig::from_json(fallback).unwrap();
        assert_eq!(config.load_balancing, LoadBalancingPolicy::RoundRobin);
        let shuffled = r#"{"loadBalancingConfig": [{"pick_first": {"shuffleAddressList": true}}],
            "healthCheckConfig": {"serviceName": "echo"}}"#;
        let config = ServiceConfig::from_json(shuffled).unwrap();
        let pick_first = LoadBalancingPolicy::PickFirst {
            shuffle_address_list: true,
        };
        assert_eq!(config.load_balancing, pick_first);
        assert_eq!(config.health_check_service_name.as_deref(), Some("echo"));
    }

    #[test]
    fn throttling_stops_retries_below_half_the_tokens() {
        let t = Throttle::new(RetryThrottling {
            max_tokens: 4.0,
            token_ratio: 0.5,
        });
        assert!(t.allows_retry());
        t.failure();
        assert!(t.allows_retry()); // 3 > 2
        t.failure();
        assert!(!t.allows_retry()); // 2 is not > 2
        t.success();
        assert!(t.allows_retry()); // 2.5
        for _ in 0..10 {
            t.success();
        }
        assert_eq!(t.tokens.get(), 4.0);
    }

    #[test]
    fn throttling_keeps_three_decimals_and_unknown_fields_are_ignored() {
        let config = ServiceConfig::from_json(
            r#"{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.12345}, "futureField": 1}"#,
        )
        .unwrap();
        assert_eq!(config.retry_throttling.unwrap().token_ratio, 0.123);
    }
}
