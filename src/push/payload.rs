//! What a push says. Precedence (LeanCloud's): the `_receiversOffline` hook's `pushMessage`,
//! then the message's `push_data`, then the app's `push_template`, then the built-in
//! template. Payloads use the Push API `data` shape (`alert`, `badge`, `sound`, `category`,
//! `_profile`, per-platform `ios`/`android` objects); the providers translate it.

use serde_json::{json, Map, Value};

/// The built-in template: who wrote, and what (for text messages).
pub const DEFAULT_TEMPLATE: &str = r#"{"alert":"${fromClientId}: ${text}","badge":"Increment"}"#;

/// Longest `${text}`, in characters.
const MAX_TEXT_CHARS: usize = 200;

/// A payload given as an object or as text: JSON text is parsed, other text is the alert.
pub fn from_given(given: &Value) -> Option<Value> {
    match given {
        Value::Object(_) => Some(given.clone()),
        Value::String(text) => Some(from_text(text)),
        _ => None,
    }
}

/// `push_data` / `push` as stored (text).
pub fn from_text(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Value::Object(object),
        Ok(Value::String(alert)) => json!({ "alert": alert }),
        _ => json!({ "alert": text }),
    }
}

/// What the template sees of a message.
pub struct TemplateInput<'a> {
    pub conv_id: &'a str,
    pub from_client: &'a str,
    pub timestamp: i64,
    pub data: &'a str,
    pub bin: bool,
}

/// The app's template (or the built-in one) filled in for `input`.
pub fn from_template(template: Option<&str>, input: &TemplateInput<'_>) -> Value {
    let parsed = template
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| serde_json::from_str(DEFAULT_TEMPLATE).unwrap_or_default());
    let text = message_text(input.data, input.bin);
    let timestamp = input.timestamp.to_string();
    let vars = [
        ("${convId}", input.conv_id),
        ("${timestamp}", timestamp.as_str()),
        ("${fromClientId}", input.from_client),
        ("${text}", text.as_str()),
    ];
    fill(parsed, &vars)
}

fn fill(value: Value, vars: &[(&str, &str)]) -> Value {
    match value {
        Value::String(mut s) => {
            for (name, with) in vars {
                if s.contains(name) {
                    s = s.replace(name, with);
                }
            }
            Value::String(s)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| fill(v, vars)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, fill(v, vars)))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

/// A message as a line of text: `_lctext` of typed messages, a word for media, plain text
/// as it is (shortened).
pub fn message_text(data: &str, bin: bool) -> String {
    if bin {
        return "New message".to_owned();
    }
    let text = match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(typed)) => {
            let kind = typed.get("_lctype").and_then(Value::as_i64);
            match (typed.get("_lctext").and_then(Value::as_str), kind) {
                (Some(text), _) if !text.is_empty() => text.to_owned(),
                (_, Some(-2)) => "[Image]".to_owned(),
                (_, Some(-3)) => "[Audio]".to_owned(),
                (_, Some(-4)) => "[Video]".to_owned(),
                (_, Some(-5)) => "[Location]".to_owned(),
                (_, Some(-6)) => "[File]".to_owned(),
                _ => "New message".to_owned(),
            }
        }
        Ok(_) | Err(_) => data.to_owned(),
    };
    if text.chars().count() > MAX_TEXT_CHARS {
        let mut short: String = text.chars().take(MAX_TEXT_CHARS).collect();
        short.push('…');
        short
    } else {
        text
    }
}

/// The payload for one platform: the top level with the platform's own object (`ios` /
/// `android`) merged over it, without the other platform's.
pub fn for_platform(payload: &Value, platform: &str) -> Map<String, Value> {
    let mut out = payload.as_object().cloned().unwrap_or_default();
    let own = out.remove(platform);
    out.remove("ios");
    out.remove("android");
    if let Some(Value::Object(own)) = own {
        out.extend(own);
    }
    out
}

/// Whether the payload asks for APNs' sandbox (`_profile: "dev"`).
pub fn wants_sandbox(payload: &Value) -> bool {
    payload.get("_profile").and_then(Value::as_str) == Some("dev")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_fills_sender_and_text() {
        let input = TemplateInput {
            conv_id: "c1",
            from_client: "alice",
            timestamp: 42,
            data: r#"{"_lctype":-1,"_lctext":"hi \"bob\""}"#,
            bin: false,
        };
        let filled = from_template(None, &input);
        assert_eq!(filled["alert"], "alice: hi \"bob\"");
        let custom = from_template(
            Some(r#"{"alert":"${convId}@${timestamp}","x":[1]}"#),
            &input,
        );
        assert_eq!(custom, json!({"alert": "c1@42", "x": [1]}));
    }

    #[test]
    fn given_text_and_platform_objects() {
        assert_eq!(from_text("plain"), json!({"alert": "plain"}));
        assert_eq!(from_text(r#"{"alert":"a"}"#), json!({"alert": "a"}));
        let payload = json!({"alert": "a", "ios": {"sound": "s"}, "android": {"title": "t"}});
        let ios = for_platform(&payload, "ios");
        assert_eq!(Value::Object(ios), json!({"alert": "a", "sound": "s"}));
    }
}
