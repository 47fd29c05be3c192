//! The browsable API reference at `/api/v1/reference`: the OpenAPI document drawn as one
//! server-rendered page (no script, no third-party requests), so it can never disagree with
//! the document machines read.

use actix_web::HttpResponse;
use gatehouse_console::{ApiReferencePage, Operation};
use serde_json::Value;
use utoipa::OpenApi;

use super::ApiDoc;
use crate::http::pages::{PAGE_CSP, render};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The fields of the body schema an operation refers to.
fn body_fields(doc: &Value, op: &Value) -> Vec<(String, String, String)> {
    let reference = op.pointer("/requestBody/content/application~1json/schema/$ref").and_then(Value::as_str);
    let Some(name) = reference.and_then(|r| r.strip_prefix("#/components/schemas/")) else { return Vec::new() };
    let Some(props) = doc.pointer(&format!("/components/schemas/{name}/properties")).and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(field, schema)| {
            let kind = match &schema["type"] {
                Value::Array(kinds) => {
                    kinds.iter().filter_map(Value::as_str).filter(|k| *k != "null").collect::<Vec<_>>().join(" or ")
                }
                other => text(other),
            };
            let kind = if kind == "array" { format!("array of {}", text(&schema["items"]["type"])) } else { kind };
            (field.clone(), kind, text(&schema["description"]))
        })
        .collect()
}

/// The reference's operations by tag, in the document's order of paths.
pub fn groups(doc: &Value) -> Vec<(String, Vec<Operation>)> {
    let mut groups: Vec<(String, Vec<Operation>)> = Vec::new();
    let Some(paths) = doc["paths"].as_object() else { return groups };
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            let params = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            (
                                text(&p["name"]),
                                text(&p["in"]),
                                p["required"].as_bool().unwrap_or(false),
                                text(&p["description"]),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let responses = op["responses"]
                .as_object()
                .map(|rs| rs.iter().map(|(status, r)| (status.clone(), text(&r["description"]))).collect())
                .unwrap_or_default();
            let summary = [text(&op["summary"]), text(&op["description"])]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let id = format!("{method}{}", path.replace(['/', '{', '}'], "-")).trim_end_matches('-').to_owned();
            let operation = Operation {
                id,
                method: method.to_uppercase(),
                path: path.clone(),
                summary,
                params,
                body: body_fields(doc, op),
                responses,
            };
            match groups.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, ops)) => ops.push(operation),
                None => groups.push((tag, vec![operation])),
            }
        }
    }
    groups
}

/// `GET /api/v1/reference`.
pub async fn reference() -> HttpResponse {
    let doc = match serde_json::to_value(ApiDoc::openapi()) {
        Ok(doc) => doc,
        Err(_) => return HttpResponse::InternalServerError().finish(),
    };
    let page = ApiReferencePage {
        description: text(&doc["info"]["description"]),
        server: text(&doc["servers"][0]["url"]),
        groups: groups(&doc),
    };
    render(&page, actix_web::http::StatusCode::OK, PAGE_CSP)
}
