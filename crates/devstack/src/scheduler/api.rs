//! The Scheduler API of the local Scheduler: restJson1, service `scheduler`, API 2021-06-30
//! (Amazon EventBridge Scheduler API Reference,
//! <https://docs.aws.amazon.com/scheduler/latest/APIReference/Welcome.html>; shapes as in
//! botocore's `scheduler/2021-06-30/service-2.json`).
//!
//! - `POST /schedules/{Name}` CreateSchedule → `{"ScheduleArn"}`; an existing name is
//!   `ConflictException` (409).
//! - `GET /schedules/{Name}?groupName=` GetSchedule; `PUT /schedules/{Name}` UpdateSchedule (a
//!   full replacement, as at AWS); `DELETE /schedules/{Name}` DeleteSchedule; an unknown name
//!   is `ResourceNotFoundException` (404).
//! - `GET /schedules?NamePrefix=&State=&MaxResults=&NextToken=&ScheduleGroup=` ListSchedules
//!   (sorted by name, at most 100 per page, `NextToken` continues).
//! - `GET /schedule-groups` and `GET /schedule-groups/default`: the one group, `default`;
//!   another group name is `ResourceNotFoundException`.
//! - `GET /local/dead-letters` (ours, not AWS's): the events in the schedules' dead-letter
//!   queues as a JSON array ([`super::delivery::DeadLetter`]), in place of reading the SQS
//!   queue.
//!
//! Every request must be signed with SigV4 for service `scheduler` in the dev account's region
//! by one of its principals (the IAM user or a role session, [`crate::aws_identity`]); the
//! local Scheduler evaluates no IAM policy: whoever the account knows may manage schedules.
//! Bodies are checked by the `schedule` crate; its errors name the field and become
//! `ValidationException` (400) with the message `field: what is wrong`, and nothing is stored.
//! Errors are AWS's JSON error shape: the code in `X-Amzn-ErrorType`, the body
//! `{"Message": …}`. Timestamps are epoch seconds. Each request is logged once (method,
//! operation, schedule name, status, error code, caller); bodies are never logged.

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::model::{DEFAULT_GROUP, Definition};
use super::{LocalScheduler, OpError};
use crate::aws_identity::AwsIdentity;
use crate::sigv4::{self, PathRule, Service, SigV4Error};

/// Largest request body accepted.
const MAX_BODY: usize = 256 * 1024;

/// Largest `ListSchedules` page.
const MAX_RESULTS: usize = 100;

#[derive(Clone)]
struct Api {
    scheduler: LocalScheduler,
    identity: AwsIdentity,
}

impl LocalScheduler {
    /// The Scheduler API's routes, authenticated against `identity`'s account.
    pub fn router(&self, identity: AwsIdentity) -> Router {
        Router::new()
            .route("/", any(handle))
            .route("/{*path}", any(handle))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(Api {
                scheduler: self.clone(),
                identity,
            })
    }
}

/// A refused request: the one place where the API's failures become HTTP responses.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    fn into_response(self, request_id: &str) -> Response {
        let mut resp = json_response(self.status, &json!({ "Message": self.message }), request_id);
        resp.headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        resp.extensions_mut().insert(ErrorCode(self.code));
        resp
    }
}

impl From<SigV4Error> for Refusal {
    fn from(e: SigV4Error) -> Self {
        Self::new(e.rest_json_status(), e.json_code(), e.to_string())
    }
}

impl From<OpError> for Refusal {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Invalid(e) => Refusal::validation(e.to_string()),
            OpError::Conflict(name) => Refusal::new(
                StatusCode::CONFLICT,
                "ConflictException",
                format!("Schedule {name} already exists."),
            ),
            OpError::NotFound(name) => {
                Refusal::not_found(format!("Schedule {name} does not exist."))
            }
            OpError::Storage(e) => {
                tracing::error!(error = %e, "cannot write the scheduler's state file");
                Refusal::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerException",
                    "The schedule could not be stored.",
                )
            }
        }
    }
}

/// The error code of a refused request, for the log line.
#[derive(Clone, Copy)]
struct ErrorCode(&'static str);

/// The caller's ARN, for the log line.
#[derive(Clone)]
struct CallerArn(String);

fn json_response(status: StatusCode, body: &Value, request_id: &str) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// The operations, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Get,
    Update,
    Delete,
    List,
    ListGroups,
    GetGroup,
    DeadLetters,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "CreateSchedule",
            Op::Get => "GetSchedule",
            Op::Update => "UpdateSchedule",
            Op::Delete => "DeleteSchedule",
            Op::List => "ListSchedules",
            Op::ListGroups => "ListScheduleGroups",
            Op::GetGroup => "GetScheduleGroup",
            Op::DeadLetters => "ListDeadLetters",
        }
    }
}

/// The operation and its path parameter.
fn route(method: &Method, path: &str) -> Option<(Op, Option<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let decoded = percent_decode;
    match (method, segments.as_slice()) {
        (&Method::GET, ["schedules"]) => Some((Op::List, None)),
        (m, ["schedules", name]) => {
            let op = match *m {
                Method::POST => Op::Create,
                Method::GET => Op::Get,
                Method::PUT => Op::Update,
                Method::DELETE => Op::Delete,
                _ => return None,
            };
            Some((op, Some(decoded(name))))
        }
        (&Method::GET, ["schedule-groups"]) => Some((Op::ListGroups, None)),
        (&Method::GET, ["schedule-groups", name]) => Some((Op::GetGroup, Some(decoded(name)))),
        (&Method::GET, ["local", "dead-letters"]) => Some((Op::DeadLetters, None)),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    // `form_urlencoded` also turns `+` into a space, which a path does not; names have neither.
    let plus_kept = s.replace('+', "%2B");
    url::form_urlencoded::parse(format!("x={plus_kept}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The handler of every request. The body is taken as a `Result`, so that axum's plain-text
/// rejection of a body over [`MAX_BODY`] becomes a JSON error too.
async fn handle(
    State(api): State<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let routed = route(&method, uri.path());
    let name = routed.as_ref().and_then(|(_, n)| n.clone());
    let resp = match serve(&api, &method, &uri, &headers, body, routed, &request_id) {
        Ok(r) => r,
        Err(refusal) => refusal.into_response(&request_id),
    };
    let status = resp.status().as_u16();
    let code = resp.extensions().get::<ErrorCode>().map(|c| c.0);
    let caller = resp.extensions().get::<CallerArn>().map(|c| c.0.clone());
    let op = resp.extensions().get::<Op>().map(|o| o.name());
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let name = name.as_deref().map(|n| cfenv::text::prefix(n, 64));
    if status >= 500 {
        tracing::warn!(http.method = %method, scheduler.operation = op, schedule.name = name,
            http.status = status, aws.error_code = code, aws.caller_arn = caller.as_deref(),
            aws.request_id = %request_id, duration_ms, "local scheduler request failed");
    } else {
        tracing::info!(http.method = %method, scheduler.operation = op, schedule.name = name,
            http.status = status, aws.error_code = code, aws.caller_arn = caller.as_deref(),
            aws.request_id = %request_id, duration_ms, "local scheduler request");
    }
    resp
}

fn serve(
    api: &Api,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    routed: Option<(Op, Option<String>)>,
    request_id: &str,
) -> Result<Response, Refusal> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::validation("The request body is larger than 256 KiB.")
        } else {
            Refusal::validation("The request body could not be read.")
        }
    })?;
    let identity = &api.identity;
    let payload_hash = sigv4::payload_hash(&body);
    let request = sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        authority: uri.authority().map(|a| a.as_str()),
        headers,
        payload_hash: &payload_hash,
    };
    let service = Service {
        name: "scheduler",
        region: identity.region(),
        path_rule: PathRule::NormalizeAndDoubleEncode,
    };
    let caller = sigv4::verify(&request, &service, identity.now(), |id| identity.lookup(id))?.key;

    let Some((op, name)) = routed else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!(
                "No operation {} {} in the Scheduler API.",
                method,
                cfenv::text::prefix(uri.path(), 128)
            ),
        ));
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |key: &str| param(&query, key);
    let result = match (op, name) {
        (Op::Create | Op::Update, Some(name)) => {
            check_name("Name", &name)?;
            let value: Option<Value> = serde_json::from_slice(&body).ok();
            if let Some(group) = value
                .as_ref()
                .and_then(|v| v.get("GroupName"))
                .and_then(Value::as_str)
            {
                check_group(group)?;
            }
            let def = Definition::from_request(&name, &body).map_err(OpError::Invalid)?;
            let arn = if op == Op::Create {
                api.scheduler.create(def)?
            } else {
                api.scheduler.update(def)?
            };
            Ok(json!({ "ScheduleArn": arn }))
        }
        (Op::Get, Some(name)) => {
            check_name("Name", &name)?;
            if let Some(group) = param("groupName") {
                check_group(group)?;
            }
            api.scheduler
                .describe(&name)
                .ok_or(OpError::NotFound(name))
                .map_err(Refusal::from)
        }
        (Op::Delete, Some(name)) => {
            check_name("Name", &name)?;
            if let Some(group) = param("groupName") {
                check_group(group)?;
            }
            api.scheduler.delete(&name)?;
            Ok(json!({}))
        }
        (Op::List, _) => list(api, &query),
        (Op::ListGroups, _) => Ok(json!({ "ScheduleGroups": [group(api)] })),
        (Op::GetGroup, Some(name)) => {
            check_group(&name)?;
            Ok(group(api))
        }
        (Op::DeadLetters, _) => serde_json::to_value(api.scheduler.dead_letters()).map_err(|_| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerException",
                "The dead letters could not be listed.",
            )
        }),
        _ => Err(Refusal::validation("Name: is required")),
    };
    let mut resp = match result {
        Ok(v) => json_response(StatusCode::OK, &v, request_id),
        Err(refusal) => refusal.into_response(request_id),
    };
    resp.extensions_mut().insert(CallerArn(caller.arn.clone()));
    resp.extensions_mut().insert(op);
    Ok(resp)
}

fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn list(api: &Api, query: &[(String, String)]) -> Result<Value, Refusal> {
    let param = |key: &str| param(query, key);
    if let Some(group) = param("ScheduleGroup") {
        check_group(group)?;
    }
    let prefix = param("NamePrefix");
    if let Some(p) = prefix {
        check_name("NamePrefix", p)?;
    }
    let state = param("State");
    if let Some(s) = state
        && s != "ENABLED"
        && s != "DISABLED"
    {
        return Err(Refusal::validation(format!(
            "State: {} is not ENABLED or DISABLED",
            quote(s)
        )));
    }
    let limit = match param("MaxResults") {
        None => MAX_RESULTS,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_RESULTS).contains(n))
            .ok_or_else(|| {
                Refusal::validation(format!("MaxResults: {} is not 1 to 100", quote(m)))
            })?,
    };
    let after = param("NextToken");
    if let Some(t) = after
        && !(1..=2048).contains(&t.len())
    {
        return Err(Refusal::validation(
            "NextToken: must be 1 to 2048 characters",
        ));
    }
    let (schedules, next) = api.scheduler.list(prefix, state, after, limit);
    let mut out = json!({ "Schedules": schedules });
    if let Some(next) = next {
        out["NextToken"] = Value::from(next);
    }
    Ok(out)
}

fn group(api: &Api) -> Value {
    let config = &api.scheduler.shared.config;
    json!({
        "Arn": format!("arn:aws:scheduler:{}:{}:schedule-group/{DEFAULT_GROUP}", config.region, config.account_id),
        "Name": DEFAULT_GROUP,
        "State": "ACTIVE",
        "CreationDate": 0,
        "LastModificationDate": 0,
    })
}

fn quote(s: &str) -> String {
    format!("'{}'", cfenv::text::prefix(s, 64))
}

fn check_name(field: &str, name: &str) -> Result<(), Refusal> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Refusal::validation(format!(
            "{field}: {} is not 1 to 64 of 0-9 a-z A-Z - _ .",
            quote(name)
        )))
    }
}

fn check_group(group: &str) -> Result<(), Refusal> {
    if group == DEFAULT_GROUP {
        Ok(())
    } else {
        Err(Refusal::not_found(format!(
            "Schedule group {} does not exist.",
            cfenv::text::prefix(group, 64)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route(&Method::POST, "/schedules/a.b"),
            Some((Op::Create, Some("a.b".to_owned())))
        );
        assert_eq!(route(&Method::GET, "/schedules"), Some((Op::List, None)));
        assert_eq!(route(&Method::PATCH, "/schedules/a"), None);
        assert_eq!(
            route(&Method::GET, "/schedules/a%20b"),
            Some((Op::Get, Some("a b".to_owned())))
        );
        assert_eq!(route(&Method::GET, "/x"), None);
    }
}
