//! The Invoke API of the local Lambda (restJson1, `2015-03-31`; "Invoke",
//! <https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>), signed with SigV4
//! (service `lambda`), plus the reads the aws CLI and SDKs need around it:
//!
//! - `POST /2015-03-31/functions/{FunctionName}/invocations`: `X-Amz-Invocation-Type`
//!   `RequestResponse` (200 with the result, or the error document and
//!   `X-Amz-Function-Error: Unhandled`), `Event` (202) or `DryRun` (204);
//!   `X-Amz-Log-Type: Tail` returns the last 4 KB of the log in `X-Amz-Log-Result`.
//! - `GET /2015-03-31/functions/` (ListFunctions) and `GET /2015-03-31/functions/{name}`
//!   (GetFunction, configuration only).
//! - `GET /2019-09-25/functions/{name}/event-invoke-config` (asynchronous settings).
//! - `GET /2015-03-31/functions/{name}/failures`: the local on-failure destination (not an
//!   AWS API: at AWS the destination is a queue, topic or bus of yours).
//!
//! Errors are restJson1's: the status, `X-Amzn-ErrorType` and `{"Type","message"}`
//! (`ResourceNotFoundException` 404, `InvalidRequestContentException` 400,
//! `RequestTooLargeException` 413, `TooManyRequestsException` 429, and the SigV4 refusals
//! as `UnrecognizedClientException`/`InvalidSignatureException` 403). The local Lambda
//! authenticates callers but does not authorize them: every principal of the dev account may
//! invoke.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;

use super::{InvokeError, LocalLambda, Outcome, SYNC_PAYLOAD_LIMIT};
use crate::sigv4::{self, PathRule, Service, SigV4Error};

/// A refused request, in restJson1's error shape.
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
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "Type": "User", "message": self.message });
        let mut resp = (
            self.status,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response();
        resp.headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        resp.headers_mut().insert(
            "x-amzn-requestid",
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("-")),
        );
        resp
    }
}

impl From<InvokeError> for Refusal {
    fn from(e: InvokeError) -> Self {
        let (status, code) = match &e {
            InvokeError::NotFound(_) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            InvokeError::InvalidContent(_) => {
                (StatusCode::BAD_REQUEST, "InvalidRequestContentException")
            }
            InvokeError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLargeException"),
            InvokeError::Throttled => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException"),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<SigV4Error> for Refusal {
    fn from(e: SigV4Error) -> Self {
        Self::new(e.rest_json_status(), e.json_code(), e.to_string())
    }
}

impl LocalLambda {
    /// The Invoke API's routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .route("/2015-03-31/functions/", get(list_functions))
            .route("/2015-03-31/functions", get(list_functions))
            .route("/2015-03-31/functions/{name}", get(get_function))
            .route("/2015-03-31/functions/{name}/failures", get(failures))
            .route(
                "/2019-09-25/functions/{name}/event-invoke-config",
                get(event_invoke_config),
            )
            .fallback(|| async {
                Refusal::new(
                    StatusCode::NOT_FOUND,
                    "UnknownOperationException",
                    "The local Lambda does not implement this operation",
                )
            })
            // The limit is checked by the handler with Lambda's message; this only bounds
            // what is read.
            .layer(DefaultBodyLimit::max(SYNC_PAYLOAD_LIMIT + 1))
            .with_state(self.clone())
    }

    fn authenticate(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Refusal> {
        let Some(identity) = self.identity() else {
            return Ok(());
        };
        let payload_hash = sigv4::payload_hash(body);
        let request = sigv4::Request {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            authority: uri.authority().map(|a| a.as_str()),
            headers,
            payload_hash: &payload_hash,
        };
        let service = Service {
            name: "lambda",
            region: self.region(),
            path_rule: PathRule::NormalizeAndDoubleEncode,
        };
        sigv4::verify(&request, &service, identity.now(), |id| identity.lookup(id))?;
        Ok(())
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn invoke(
    State(lambda): State<LocalLambda>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    lambda.authenticate(&method, &uri, &headers, &body)?;
    let name = match uri
        .query()
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "Qualifier"))
    {
        Some((_, q)) => format!("{name}:{q}"),
        None => name,
    };
    let invocation_type = header(&headers, "x-amz-invocation-type").unwrap_or("RequestResponse");
    let tail = match header(&headers, "x-amz-log-type").unwrap_or("None") {
        "None" => false,
        "Tail" => true,
        other => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                format!(
                    "1 validation error detected: Value '{}' at 'logType' failed to satisfy \
                     constraint: Member must satisfy enum value set: [Tail, None]",
                    cfenv::text::prefix(other, 32)
                ),
            ));
        }
    };
    match invocation_type {
        "RequestResponse" => {
            let client_context = header(&headers, "x-amz-client-context").map(str::to_owned);
            let result = lambda.invoke(&name, body, client_context).await?;
            let (body, function_error) = match result.outcome {
                Outcome::Success(b) => (b, None),
                Outcome::Error { body, .. } => (body, Some("Unhandled")),
            };
            let mut resp =
                (StatusCode::OK, [("content-type", "application/json")], body).into_response();
            let h = resp.headers_mut();
            h.insert(
                "x-amz-executed-version",
                HeaderValue::from_static("$LATEST"),
            );
            if let Ok(v) = HeaderValue::from_str(&result.request_id) {
                h.insert("x-amzn-requestid", v);
            }
            if let Some(e) = function_error {
                h.insert("x-amz-function-error", HeaderValue::from_static(e));
            }
            if tail
                && let Ok(v) = HeaderValue::from_str(
                    &base64::engine::general_purpose::STANDARD.encode(&result.log),
                )
            {
                h.insert("x-amz-log-result", v);
            }
            Ok(resp)
        }
        "Event" => {
            let id = lambda.invoke_async(&name, body)?;
            let mut resp = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert("x-amzn-requestid", v);
            }
            Ok(resp)
        }
        "DryRun" => {
            lambda.dry_run(&name, body)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        other => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            format!(
                "1 validation error detected: Value '{}' at 'invocationType' failed to satisfy \
                 constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
                cfenv::text::prefix(other, 32)
            ),
        )),
    }
}

fn configuration(arn: &str, config: &super::FunctionConfig) -> serde_json::Value {
    serde_json::json!({
        "FunctionName": config.name,
        "FunctionArn": arn,
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Timeout": config.timeout.as_secs(),
        "MemorySize": config.memory_mb,
        "Version": "$LATEST",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Environment": {
            "Variables": config.env.iter().map(|(k, _)| (k.clone(), serde_json::Value::String("(set)".into()))).collect::<serde_json::Map<_, _>>()
        },
    })
}

async fn list_functions(
    State(lambda): State<LocalLambda>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    lambda.authenticate(&method, &uri, &headers, b"")?;
    let mut functions = Vec::new();
    for name in lambda.function_names() {
        let (arn, config) = lambda.function_config(&name)?;
        functions.push(configuration(&arn, &config));
    }
    Ok(axum::Json(serde_json::json!({ "Functions": functions })).into_response())
}

async fn get_function(
    State(lambda): State<LocalLambda>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    lambda.authenticate(&method, &uri, &headers, b"")?;
    let (arn, config) = lambda.function_config(&name)?;
    Ok(
        axum::Json(serde_json::json!({ "Configuration": configuration(&arn, &config) }))
            .into_response(),
    )
}

async fn event_invoke_config(
    State(lambda): State<LocalLambda>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    lambda.authenticate(&method, &uri, &headers, b"")?;
    let (arn, config) = lambda.event_invoke_config(&name)?;
    Ok(axum::Json(serde_json::json!({
        "FunctionArn": format!("{arn}:$LATEST"),
        "MaximumRetryAttempts": config.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": config.maximum_event_age.as_secs(),
        "DestinationConfig": { "OnFailure": { "Destination": "local" }, "OnSuccess": {} },
    }))
    .into_response())
}

async fn failures(
    State(lambda): State<LocalLambda>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    lambda.authenticate(&method, &uri, &headers, b"")?;
    Ok(axum::Json(serde_json::json!({ "Records": lambda.failures(&name)? })).into_response())
}
