//! Typed configuration: defaults embedded in the binary (`config/default.toml`), then an
//! optional file, then `TIDINGS_*` environment variables. Validated once at start-up.

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use std::path::Path;

pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

#[derive(Clone, Deserialize)]
pub struct Config {
    pub listen: String,
    pub public_url: String,
    pub database_url: String,
    pub database_max_connections: u32,
    pub app_id: String,
    pub app_key: String,
    pub master_key: String,
    pub agora_customer_id: String,
    pub agora_customer_secret: String,
    /// Files holding the three secrets above, read at start when set (a key then need not
    /// be in the environment or on a command line).
    pub app_key_file: String,
    pub master_key_file: String,
    pub agora_customer_secret_file: String,
    pub log_format: String,
    pub max_body_bytes: usize,
    pub sign_max_skew_secs: u64,
    pub ws_idle_timeout_secs: u64,
    pub ws_login_timeout_secs: u64,
    pub ws_queue_capacity: usize,
    pub ws_write_timeout_secs: u64,
    pub ws_max_connections: usize,
    pub ws_max_connections_per_ip: usize,
    pub http_header_read_timeout_secs: u64,
    pub http_request_timeout_secs: u64,
    pub http_max_connections: usize,
    pub session_token_ttl_secs: u64,
    pub write_batch_max: usize,
    pub shutdown_grace_secs: u64,
    pub files_url: String,
    pub max_file_bytes: u64,
    pub file_token_ttl_secs: u64,
    pub metrics_enabled: bool,
    pub admin_token: String,
    /// Several nodes: the Redis they share (empty: one node, nothing clustered).
    pub redis_url: String,
    /// Prefix of every Redis key and channel (nodes of one deployment share it).
    pub redis_prefix: String,
    /// This node's name in the cluster (empty: a random one at each start).
    pub node_id: String,
    /// Offline push (`docs/push.md`): queue rows of one app delivered at once, the first
    /// retry delay (doubling up to ten minutes) and the attempts before giving up.
    pub push_concurrency_per_app: usize,
    pub push_retry_base_ms: u64,
    pub push_max_attempts: u32,
}

/// Secrets stay out of logs.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database_url", &redact_url(&self.database_url))
            .field("app_id", &self.app_id)
            .field("app_key", &"[redacted]")
            .field("master_key", &"[redacted]")
            .field("admin_token", &"[redacted]")
            .field("log_format", &self.log_format)
            .field("redis_url", &redact_url(&self.redis_url))
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Toml::string(DEFAULT_CONFIG));
        if let Some(path) = file {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        let mut config: Config = figment.merge(Env::prefixed("TIDINGS_")).extract()?;
        config.read_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded defaults alone (tests start from these).
    pub fn defaults() -> anyhow::Result<Config> {
        let config: Config = Figment::from(Toml::string(DEFAULT_CONFIG)).extract()?;
        Ok(config)
    }

    fn read_secret_files(&mut self) -> anyhow::Result<()> {
        let pairs = [
            (&self.app_key_file, &mut self.app_key),
            (&self.master_key_file, &mut self.master_key),
            (
                &self.agora_customer_secret_file,
                &mut self.agora_customer_secret,
            ),
        ];
        for (path, secret) in pairs {
            if path.is_empty() {
                continue;
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read secret file {path}: {e}"))?;
            *secret = text.trim_end().to_owned();
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"),
            "database_url must start with sqlite:// or postgres://"
        );
        let app = [&self.app_id, &self.app_key, &self.master_key];
        let set = app.iter().filter(|v| !v.is_empty()).count();
        anyhow::ensure!(
            set == 0 || set == 3,
            "TIDINGS_APP_ID, TIDINGS_APP_KEY and TIDINGS_MASTER_KEY must be set together"
        );
        anyhow::ensure!(
            set == 0 || crate::app::directory::is_valid_app_id(&self.app_id),
            "TIDINGS_APP_ID must be 1 to 128 ASCII letters, digits, '-', '_' or '.'"
        );
        anyhow::ensure!(
            self.app_key != self.master_key || set == 0,
            "app key and master key must differ"
        );
        anyhow::ensure!(self.write_batch_max > 0, "write_batch_max must be positive");
        anyhow::ensure!(
            self.ws_queue_capacity > 0,
            "ws_queue_capacity must be positive"
        );
        anyhow::ensure!(
            self.ws_write_timeout_secs > 0
                && self.http_header_read_timeout_secs > 0
                && self.http_request_timeout_secs > 0,
            "ws_write_timeout_secs and the http_*_timeout_secs keys must be positive"
        );
        anyhow::ensure!(
            self.http_max_connections > 0 && self.ws_max_connections > 0,
            "http_max_connections and ws_max_connections must be positive"
        );
        anyhow::ensure!(
            matches!(self.log_format.as_str(), "text" | "json"),
            "log_format must be text or json"
        );
        anyhow::ensure!(self.max_file_bytes > 0, "max_file_bytes must be positive");
        anyhow::ensure!(
            self.file_token_ttl_secs > 0,
            "file_token_ttl_secs must be positive"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse_and_validate() {
        let config = Config::defaults();
        assert!(config.as_ref().is_ok_and(|c| c.validate().is_ok()));
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:pw@h/db"),
            "postgres://[redacted]@h/db"
        );
    }
}
