//! The push settings of an app, stored with its other settings (flattened: the keys are
//! top-level, `tidings app set APP push_provider webhook`). Credentials are masked in every
//! listing and log ([`SECRET_KEYS`]).

use serde::{Deserialize, Serialize};

pub const APNS_PRODUCTION_URL: &str = "https://api.push.apple.com";
pub const APNS_SANDBOX_URL: &str = "https://api.sandbox.push.apple.com";
pub const FCM_URL: &str = "https://fcm.googleapis.com";

/// Settings whose values never leave the process.
pub const SECRET_KEYS: &[&str] = &[
    "push_apns_key",
    "push_fcm_service_account",
    "push_webhook_key",
];

#[derive(Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct PushSettings {
    /// `apns`, `fcm`, `webhook`, or empty (no offline push).
    pub push_provider: String,
    /// Webhook: where the payload and the device list are POSTed, and the key sent with
    /// them (`X-Tidings-Push-Key`) so the receiver knows the caller.
    pub push_webhook_url: Option<String>,
    pub push_webhook_key: Option<String>,
    /// APNs token authentication: the `.p8` key (PEM text), its key id, the team id, the
    /// topic (bundle id), `production` or `sandbox` (a payload's `_profile: "dev"` or a
    /// device's `dev` profile picks the sandbox too), and the two hosts (overridable for
    /// tests and proxies).
    pub push_apns_key: Option<String>,
    pub push_apns_key_id: Option<String>,
    pub push_apns_team_id: Option<String>,
    pub push_apns_topic: Option<String>,
    pub push_apns_environment: String,
    pub push_apns_production_url: Option<String>,
    pub push_apns_sandbox_url: Option<String>,
    /// FCM HTTP v1: the service-account key file's JSON text (its `token_uri` is where the
    /// OAuth token comes from), and the API host.
    pub push_fcm_service_account: Option<String>,
    pub push_fcm_url: Option<String>,
    /// LeanCloud's static template for messages without `push_data`: JSON whose string
    /// values may use `${convId}`, `${timestamp}`, `${fromClientId}` and `${text}`.
    pub push_template: Option<String>,
}

/// Which provider an app pushes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Apns,
    Fcm,
    Webhook,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Apns => "apns",
            Provider::Fcm => "fcm",
            Provider::Webhook => "webhook",
        }
    }

    pub fn parse(name: &str) -> Option<Provider> {
        match name.trim().to_ascii_lowercase().as_str() {
            "apns" => Some(Provider::Apns),
            "fcm" => Some(Provider::Fcm),
            "webhook" => Some(Provider::Webhook),
            _ => None,
        }
    }
}

impl PushSettings {
    /// The provider, when one is chosen.
    pub fn provider(&self) -> Option<Provider> {
        Provider::parse(&self.push_provider)
    }

    /// What is wrong with these settings, if anything (checked by `tidings app set`).
    pub fn problem(&self) -> Option<String> {
        let missing = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .is_none_or(|v| v.trim().is_empty())
                .then(|| format!("push_provider {} needs {name}", self.push_provider))
        };
        if let Some(template) = &self.push_template {
            if serde_json::from_str::<serde_json::Value>(template).is_err() {
                return Some("push_template must be JSON".to_owned());
            }
        }
        match self.provider() {
            None if self.push_provider.trim().is_empty() => None,
            None => Some("push_provider must be apns, fcm, webhook or empty".to_owned()),
            Some(Provider::Webhook) => missing("push_webhook_url", &self.push_webhook_url),
            Some(Provider::Apns) => missing("push_apns_key", &self.push_apns_key)
                .or_else(|| missing("push_apns_key_id", &self.push_apns_key_id))
                .or_else(|| missing("push_apns_team_id", &self.push_apns_team_id))
                .or_else(|| missing("push_apns_topic", &self.push_apns_topic))
                .or_else(|| {
                    let key = self.push_apns_key.as_deref().unwrap_or_default();
                    jsonwebtoken::EncodingKey::from_ec_pem(key.as_bytes())
                        .err()
                        .map(|_| "push_apns_key must be the .p8 key (PEM)".to_owned())
                }),
            Some(Provider::Fcm) => {
                missing("push_fcm_service_account", &self.push_fcm_service_account).or_else(|| {
                    let text = self.push_fcm_service_account.as_deref().unwrap_or_default();
                    super::fcm::ServiceAccount::parse(text)
                        .err()
                        .map(|e| format!("push_fcm_service_account: {e}"))
                })
            }
        }
    }

    pub fn apns_sandbox(&self) -> bool {
        self.push_apns_environment.eq_ignore_ascii_case("sandbox")
            || self
                .push_apns_environment
                .eq_ignore_ascii_case("development")
    }
}

/// Replaces every secret push setting in `settings` (JSON) with `redacted`.
pub fn redact(settings: &mut serde_json::Value, redacted: &str) {
    for key in SECRET_KEYS {
        if let Some(secret) = settings.get_mut(*key).filter(|v| !v.is_null()) {
            *secret = serde_json::Value::String(redacted.to_owned());
        }
    }
}

/// Credentials never reach logs: printed through the redacted JSON form.
impl std::fmt::Debug for PushSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        redact(&mut value, crate::domain::app::REDACTED);
        write!(f, "PushSettings {value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_problems_named() {
        let settings = PushSettings {
            push_provider: "webhook".into(),
            push_webhook_key: Some("webhook-secret".into()),
            push_apns_key: Some("apns-secret".into()),
            push_fcm_service_account: Some("fcm-secret".into()),
            ..Default::default()
        };
        let app = crate::domain::app::AppSettings {
            push: settings.clone(),
            ..Default::default()
        };
        let printed = format!("{settings:?} {app:?} {}", app.redacted());
        for secret in ["webhook-secret", "apns-secret", "fcm-secret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(settings
            .problem()
            .unwrap_or_default()
            .contains("push_webhook_url"));
        let apns = PushSettings {
            push_provider: "apns".into(),
            ..Default::default()
        };
        assert!(apns.problem().is_some());
        let bad = PushSettings {
            push_provider: "carrier-pigeon".into(),
            ..Default::default()
        };
        assert!(bad.problem().is_some());
        assert_eq!(PushSettings::default().problem(), None);
    }
}
