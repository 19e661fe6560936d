//! The Lambda side: [`run`] is the whole `bootstrap` binary. It checks the variables Lambda
//! sets, runs the cold start ([`Caller::init`]) before the first `/next` call, reports a failed
//! cold start to the Runtime API's `/runtime/init/error` (as "Using the Lambda runtime API for
//! custom runtimes" describes,
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-initerror>)
//! and exits, and otherwise hands each event to [`Caller::invoke`] through `lambda_runtime`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cfenv::Env;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::caller::{Caller, InvocationContext, millis};
use crate::error::CallerError;
use crate::log::LogLine;

/// The variables `lambda_runtime` needs (it panics without them); checked first, so a missing
/// one is an init error naming it.
const LAMBDA_VARIABLES: &[&str] = &[
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Runs the function until the Runtime API goes away; `write_line` writes one log line to the
/// function's output (stdout in `bootstrap`). Returns an error when the cold start failed
/// (after reporting it) or the Runtime API failed.
pub async fn run(write_line: fn(&str)) -> Result<(), lambda_runtime::Error> {
    let started = std::time::Instant::now();
    let env = Env::from_process();
    let caller = match init(&env).await {
        Ok(caller) => Arc::new(caller),
        Err(err) => {
            write_line(&LogLine::init_failed(&err, millis(started.elapsed())).to_json());
            if let Some(api) = env.var("AWS_LAMBDA_RUNTIME_API") {
                report_init_error(&api, &err).await;
            }
            return Err(Box::new(err));
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let caller = caller.clone();
        async move {
            let ctx = InvocationContext {
                request_id: event.context.request_id.clone(),
                deadline: SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline),
            };
            let report = caller.invoke(&event.payload, &ctx).await;
            write_line(&report.log.to_json());
            report.result
        }
    }))
    .await
}

async fn init(env: &Env) -> Result<Caller, CallerError> {
    for name in LAMBDA_VARIABLES {
        if env.var(name).is_none_or(|v| v.is_empty()) {
            return Err(CallerError::config(
                name,
                "missing (Lambda sets it; run the function under a Lambda runtime API)",
            ));
        }
    }
    if env
        .var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        .is_some_and(|v| v.parse::<i32>().is_err())
    {
        return Err(CallerError::config(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "not a number of megabytes",
        ));
    }
    Caller::init(env).await
}

/// `POST /2018-06-01/runtime/init/error` with the error's type and message. A failure to
/// report is not reported further: the process exits next, which Lambda sees as well.
async fn report_init_error(api: &str, err: &CallerError) {
    let diagnostic = lambda_runtime::Diagnostic::from(err.clone());
    let body = serde_json::json!({
        "errorType": diagnostic.error_type,
        "errorMessage": diagnostic.error_message,
        "stackTrace": [],
    });
    let url = format!("http://{api}/2018-06-01/runtime/init/error");
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return;
    };
    let _ = client
        .post(url)
        .header("Lambda-Runtime-Function-Error-Type", err.error_type())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await;
}
