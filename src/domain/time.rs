//! Time: milliseconds since the epoch inside, ISO-8601 UTC with milliseconds outside.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2018-01-17T04:15:33.386Z`, the form LeanCloud uses for `createdAt`/`updatedAt`.
pub fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO-8601 date (as found in `{"__type":"Date","iso":...}`) into ms.
pub fn parse_iso(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// The start of the UTC day containing `ms`, and the day number (days since the epoch).
pub fn utc_day(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_with_milliseconds() {
        let text = "2018-01-17T04:15:33.386Z";
        let ms = parse_iso(text).unwrap_or_default();
        assert_eq!(iso(ms), text);
    }
}
