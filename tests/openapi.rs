//! The OpenAPI contract (issue 18) against the router, both ways:
//! - every route the router's source declares (`.route(...)` in `src/http/` and the gateway)
//!   is documented with that method, a summary and a description;
//! - every documented operation reaches a route of the live server under the same template
//!   (read back from the `route` label of `/metrics`), never the "no such path" fallback.
//!
//! And `/openapi.json` serves the document.

#![allow(clippy::unwrap_used)]

#[path = "gateway_support/mod.rs"]
mod gateway_support;

use gateway_support::{Backend, Server, APP_ID, MASTER_KEY};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use tidings::openapi::{document, path_parameters, Auth, OPERATIONS};

/// Paths served at the root; everything else in `src/http/` is nested under `/1.2/rtm`.
const ROOT_PREFIXES: &[&str] = &[
    "/dev/",
    "/healthz",
    "/readyz",
    "/1.1/",
    "/v1/",
    "/uploads/",
    "/files/",
];

fn source(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// `(METHOD, template)` of every route in the router's source.
fn routes_in_source() -> BTreeSet<(String, String)> {
    // Modules mounted several times with a base: `conversations::router::<ChatRooms>("/chatrooms")`.
    let mount = Regex::new(r#"(\w+)::router::<\w+>\(\s*"([^"]+)""#).unwrap();
    let mut bases: HashMap<String, Vec<String>> = HashMap::new();
    for m in mount.captures_iter(&source("src/http/mod.rs")) {
        bases
            .entry(m[1].to_owned())
            .or_default()
            .push(m[2].to_owned());
    }
    let constant = Regex::new(r#"const BASE: &str = "([^"]+)""#).unwrap();
    let template = Regex::new(r#"^\s*(?:&format!\(\s*)?(?:"([^"]*)"|(base))"#).unwrap();
    let method = Regex::new(r"\b(get|post|put|delete|patch)\(").unwrap();
    let mut files: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http"))
            .unwrap()
            .map(|e| format!("src/http/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
    files.push("src/gateway/mod.rs".to_owned());
    let mut routes = BTreeSet::new();
    for file in files {
        let text = source(&file);
        let module = Path::new(&file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let base_const = constant.captures(&text).map(|c| c[1].to_owned());
        for chunk in text.split(".route(").skip(1) {
            let statement = chunk.split(".route(").next().unwrap();
            let statement = statement.split("\n}").next().unwrap();
            let Some(found) = template.captures(statement) else {
                panic!("{file}: a route whose path is not a literal: {statement}");
            };
            let raw = found.get(1).map_or("{base}", |m| m.as_str());
            let raw = raw.replace("{{", "\u{1}").replace("}}", "\u{2}");
            let expanded: Vec<String> = if raw.contains("{base}") {
                bases[&module]
                    .iter()
                    .map(|b| raw.replace("{base}", b))
                    .collect()
            } else if raw.contains("{BASE}") {
                vec![raw.replace("{BASE}", base_const.as_deref().unwrap())]
            } else {
                vec![raw.clone()]
            };
            for path in expanded {
                let path = path.replace('\u{1}', "{").replace('\u{2}', "}");
                let full = if ROOT_PREFIXES.iter().any(|p| path.starts_with(p)) {
                    path
                } else {
                    format!("/1.2/rtm{path}")
                };
                for m in method.captures_iter(statement) {
                    routes.insert((m[1].to_ascii_uppercase(), full.clone()));
                }
            }
        }
    }
    routes
}

#[test]
fn every_route_in_the_router_is_documented() {
    let documented: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|op| (op.method.to_owned(), op.path.to_owned()))
        .collect();
    let routes = routes_in_source();
    assert!(routes.len() > 50, "the source walk found only {routes:?}");
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
}

#[test]
fn every_operation_is_described() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = BTreeSet::new();
    for op in OPERATIONS {
        assert!(
            !op.summary.is_empty() && !op.description.is_empty(),
            "{}",
            op.id
        );
        assert!(
            ids.insert(op.operation_id()),
            "duplicate operation {}",
            op.operation_id()
        );
        let item = &doc["paths"][op.path][op.method.to_ascii_lowercase()];
        assert_eq!(item["summary"], op.summary);
        let params: Vec<&str> = item["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, path_parameters(op.path), "{}", op.id);
    }
}

/// A concrete URL for a template: each `{param}` becomes a plausible value.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.starts_with('{') {
                if s == "{appid}" {
                    APP_ID
                } else {
                    "x1"
                }
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn documented_operations_reach_their_routes(backend: Backend) {
    let server = Server::start(backend).await;
    let served: Value = server
        .http
        .get(format!("http://{}/openapi.json", server.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, document());
    for op in OPERATIONS {
        let url = format!("http://{}{}", server.addr, concrete(op.path));
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        let mut request = server.http.request(method, &url);
        if op.auth != Auth::None {
            request = request
                .header("X-LC-Id", APP_ID)
                .header("X-LC-Key", format!("{MASTER_KEY},master"));
        }
        if op.body {
            request = request.json(&serde_json::json!({}));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_ne!(status, 405, "{} {}: {body}", op.method, op.path);
        assert!(
            !body.contains("The requested path does not exist."),
            "{} {}: {body}",
            op.method,
            op.path
        );
        assert!(status < 500, "{} {}: {status} {body}", op.method, op.path);
    }
    // The REST router names its templates in the metrics: each documented one is among them.
    let metrics = server
        .http
        .get(format!("http://{}/metrics", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let outside_rest_router = ["/v1/route", "/metrics", "/openapi.json"];
    for op in OPERATIONS
        .iter()
        .filter(|op| !outside_rest_router.contains(&op.path))
    {
        let label = format!("method=\"{}\",route=\"{}\"", op.method, op.path);
        assert!(metrics.contains(&label), "no route matched {label}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_operations_reach_their_routes_sqlite() {
    documented_operations_reach_their_routes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_operations_reach_their_routes_postgres() {
    documented_operations_reach_their_routes(Backend::Postgres).await;
}
