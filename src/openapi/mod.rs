//! The OpenAPI 3.1 document of every HTTP route, served at `GET /openapi.json`.
//!
//! Built here from one table ([`operations::OPERATIONS`]) instead of macros on the handlers,
//! so the handlers stay plain axum. `tests/openapi.rs` keeps the table honest: every route
//! in the router's source must be in it, and every documented path must be one the live
//! router matches under the same template (checked through the `route` label of
//! `/metrics`). The console at `/admin` is HTML for people and is not part of the contract.

mod operations;

pub use operations::{Auth, Operation, OPERATIONS};

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

pub fn router() -> Router {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}

/// The names inside `{...}` of a route template, in order.
pub fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let item = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        if let Some(item) = item.as_object_mut() {
            item.insert(op.method.to_ascii_lowercase(), operation(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tidings",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "LeanCloud Realtime REST API v1.2 (`/1.2/rtm/*`), the Agora-style server \
                messages (`/dev/v2/...`) and the operations endpoints, as served by Tidings. \
                Behaviour and differences from LeanCloud: docs/endpoints.md.",
            "license": {"name": "MIT", "identifier": "MIT"}
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "appId": {"type": "apiKey", "in": "header", "name": "X-LC-Id",
                          "description": "The app id."},
                "masterKey": {"type": "apiKey", "in": "header", "name": "X-LC-Key",
                              "description": "`{masterKey},master` (or `X-LC-Sign`)."},
                "appKey": {"type": "apiKey", "in": "header", "name": "X-LC-Key",
                           "description": "The app key (or the master key)."},
                "agoraBasic": {"type": "http", "scheme": "basic",
                               "description": "The app's Agora customer id and secret."}
            },
            "schemas": {
                "AgoraError": {
                    "type": "object",
                    "required": ["result"],
                    "properties": {
                        "result": {"type": "string", "enum": ["failed"]},
                        "request_id": {"type": "string"},
                        "reason": {"type": "string"}
                    }
                },
                "Error": {
                    "type": "object",
                    "required": ["code", "error"],
                    "properties": {
                        "code": {"type": "integer", "description": "LeanCloud error code"},
                        "error": {"type": "string"}
                    }
                }
            }
        }
    })
}

fn operation(op: &Operation) -> Value {
    let mut parameters: Vec<Value> = path_parameters(op.path)
        .into_iter()
        .map(|name| {
            json!({"name": name, "in": "path", "required": true,
                   "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"}})
        })
        .collect();
    parameters.extend(op.query.iter().map(|name| {
        json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}})
    }));
    let security = match op.auth {
        Auth::None => json!([]),
        Auth::Master => json!([{"appId": [], "masterKey": []}]),
        Auth::AppKey => json!([{"appId": [], "appKey": []}]),
        Auth::AgoraBasic => json!([{"agoraBasic": []}]),
    };
    let ok_type = if op.path == "/metrics" {
        json!({"text/plain": {"schema": {"type": "string"}}})
    } else {
        json!({"application/json": {"schema": {}}})
    };
    // The Agora-style doors answer errors in Agora's shape, not LeanCloud's.
    let (error_schema, error_text) = match op.auth {
        Auth::AgoraBasic => (
            "#/components/schemas/AgoraError",
            "An error in Agora's shape.",
        ),
        _ => (
            "#/components/schemas/Error",
            "An error in LeanCloud's shape, with a fitting HTTP status.",
        ),
    };
    let mut value = json!({
        "operationId": op.operation_id(),
        "summary": op.summary,
        "description": op.description,
        "tags": [op.tag],
        "parameters": parameters,
        "security": security,
        "responses": {
            "200": {"description": "Success.", "content": ok_type},
            "default": {
                "description": error_text,
                "content": {"application/json": {"schema": {"$ref": error_schema}}}
            }
        }
    });
    if op.body {
        value["requestBody"] = json!({
            "required": false,
            "content": {"application/json": {"schema": {"type": "object"}}}
        });
    }
    value
}
