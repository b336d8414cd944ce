//! An app (tenant): its credentials and its settings.

use serde::{Deserialize, Serialize};

#[derive(Clone)]
pub struct App {
    pub app_id: String,
    pub app_key: String,
    pub master_key: String,
    pub settings: AppSettings,
}

/// Per-app switches and quotas, stored with the app as JSON. Every field has a default so
/// settings written by an older version still load.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AppSettings {
    /// Normal messages (send, edit, recall) per minute.
    pub message_rate_per_minute: u32,
    /// Subscriber broadcasts (E35) per minute and per UTC day.
    pub subscription_rate_per_minute: u32,
    pub subscription_rate_per_day: u32,
    /// Global broadcasts (E49) per minute and per UTC day.
    pub broadcast_rate_per_minute: u32,
    pub broadcast_rate_per_day: u32,
    /// Agora peer + channel messages per second.
    pub agora_rate_per_second: u32,
    /// Verify login signatures on `session open`.
    pub login_signature_required: bool,
    /// Verify signatures on REST history queries.
    pub history_signature_required: bool,
    /// Agora-style HTTP Basic credentials.
    pub agora_customer_id: Option<String>,
    pub agora_customer_secret: Option<String>,
    /// Verify LeanCloud conversation signatures on `conv start`, joins, invites and kicks.
    pub conversation_signature_required: bool,
    /// WebSocket sends per client per second (over it: the ack carries 4116).
    pub client_message_rate_per_second: u32,
    /// Commands per WebSocket connection per second (over it: an error; persistently: a close).
    pub connection_command_rate_per_second: u32,
    /// Conversations a client may create per minute (over it: 4318).
    pub client_conversations_per_minute: u32,
    /// Where subscribers' messages to service conversations are POSTed (JSON arrays).
    pub service_callback_url: Option<String>,
    /// LeanEngine-style hooks (`docs/hooks.md`): base URL of the cloud functions, the hook
    /// key they check, which hooks are defined (comma-separated names or `all`), the
    /// timeout of one call (ms, 0 = the built-in default per hook) and what a failed call
    /// means (`ignore`, as LeanCloud, or `reject`).
    pub hook_url: Option<String>,
    pub hook_key: Option<String>,
    pub hooks: String,
    pub hook_timeout_ms: u64,
    pub hook_failure_policy: String,
    /// LeanStorage-compatible user service checking session tokens for `/rtm/clients/sign`.
    pub user_service_url: Option<String>,
    /// Offline push (`docs/push.md`): provider, credentials, template.
    #[serde(flatten)]
    pub push: crate::push::settings::PushSettings,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            message_rate_per_minute: 1800,
            subscription_rate_per_minute: 30,
            subscription_rate_per_day: 1000,
            broadcast_rate_per_minute: 10,
            broadcast_rate_per_day: 30,
            agora_rate_per_second: 500,
            login_signature_required: false,
            history_signature_required: false,
            agora_customer_id: None,
            agora_customer_secret: None,
            conversation_signature_required: false,
            client_message_rate_per_second: 50,
            connection_command_rate_per_second: 1000,
            client_conversations_per_minute: 60,
            service_callback_url: None,
            hook_url: None,
            hook_key: None,
            hooks: String::new(),
            hook_timeout_ms: 0,
            hook_failure_policy: "ignore".to_owned(),
            user_service_url: None,
            push: Default::default(),
        }
    }
}

/// What `Debug` prints in place of a key or secret.
pub const REDACTED: &str = "[redacted]";

/// Keys never reach logs or panic messages.
impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("app_id", &self.app_id)
            .field("app_key", &REDACTED)
            .field("master_key", &REDACTED)
            .field("settings", &self.settings)
            .finish()
    }
}

/// Every setting as stored, with the Agora secret redacted. Printed through the JSON form
/// so settings added later show up without touching this impl.
impl std::fmt::Debug for AppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppSettings {}", self.redacted())
    }
}

impl AppSettings {
    /// The settings as JSON with secrets replaced by [`REDACTED`] (`tidings app list`).
    pub fn redacted(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(secret) = value
            .get_mut("agora_customer_secret")
            .filter(|secret| !secret.is_null())
        {
            *secret = serde_json::Value::String(REDACTED.to_owned());
        }
        crate::push::settings::redact(&mut value, REDACTED);
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_every_key() {
        let app = App {
            app_id: "the-app".into(),
            app_key: "app-key-value".into(),
            master_key: "master-key-value".into(),
            settings: AppSettings {
                agora_customer_id: Some("customer".into()),
                agora_customer_secret: Some("agora-secret-value".into()),
                ..AppSettings::default()
            },
        };
        let printed = format!("{app:?} {app:#?}");
        assert!(printed.contains("the-app") && printed.contains("customer"));
        for secret in ["app-key-value", "master-key-value", "agora-secret-value"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
