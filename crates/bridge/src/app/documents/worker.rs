//! Keeping S3 and the database consistent in the background.
//!
//! - [`run_outbox`]: the delete outbox. A delete marks the row and queues the object's delete
//!   in one transaction; this loop takes due entries (leased, so two instances do not work on
//!   one), deletes the object, and then removes the entry and the row. A failure is retried
//!   with exponential backoff (1 s doubling to 15 min) for as long as it takes. It wakes when
//!   a delete is queued and otherwise every [`OUTBOX_POLL`].
//! - [`reconcile`] (`POST /jobs/reconcile`, job `reconcile`, JobRunner): compares the bucket
//!   under the key template's prefix with the rows and repairs what it finds (see
//!   `docs/DOCUMENTS.md`): objects without rows older than the grace period are deleted,
//!   `available` rows without objects become `failed`, `uploading` rows older than the grace
//!   period go back to `pending` (an object already at their key, completed just before the
//!   app died, is deleted: it never passed the row's last step), `deleted` rows without an
//!   outbox entry are queued again.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use serde_json::json;

use crate::app::AppState;
use crate::app::auth::{Authorized, JobRunner};
use crate::app::error::ApiError;
use crate::app::jobs::{JobResult, run_job};

/// How often the outbox looks for due entries when nothing wakes it.
pub const OUTBOX_POLL: Duration = Duration::from_secs(30);
/// Entries taken per round.
pub const OUTBOX_BATCH: usize = 50;
/// Most objects or rows a reconcile lists per page.
const PAGE: usize = 1000;
/// Most findings of each kind a reconcile report names (all are repaired).
const MAX_REPORTED: usize = 100;

/// Runs the delete outbox until `shutdown`.
pub async fn run_outbox(state: AppState, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let signal = state.outbox.0.clone();
    loop {
        if let Err(e) = outbox_round(&state).await {
            tracing::warn!(error = %cfenv::text::chain(&e), "document outbox round failed");
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = signal.notified() => {}
            () = tokio::time::sleep(OUTBOX_POLL) => {}
        }
    }
}

/// One round: every due entry, in batches. Returns how many objects were deleted.
pub async fn outbox_round(state: &AppState) -> Result<usize, runs::Error> {
    let Some(store) = state.store.as_ref() else {
        return Ok(0);
    };
    let mut done = 0;
    loop {
        let due = store.outbox_due(Utc::now(), OUTBOX_BATCH).await?;
        if due.is_empty() {
            return Ok(done);
        }
        let n = due.len();
        for entry in due {
            match state
                .aws
                .s3
                .delete_object(&entry.bucket, &entry.object_key)
                .await
            {
                Ok(()) => {
                    store.outbox_done(entry.id).await?;
                    done += 1;
                }
                Err(e) => {
                    let delay = backoff(entry.attempts);
                    tracing::info!(document.id = %entry.document_id, attempts = entry.attempts + 1, error = %e, "object delete failed; retrying later");
                    store
                        .outbox_retry(
                            entry.id,
                            &e.to_string(),
                            Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                        )
                        .await?;
                }
            }
        }
        if n < OUTBOX_BATCH {
            return Ok(done);
        }
    }
}

/// 1 s, 2 s, 4 s, … at most 15 min.
fn backoff(attempts: u32) -> Duration {
    let exp = attempts.min(10);
    Duration::from_secs((1u64 << exp).min(900))
}

/// `POST /jobs/reconcile`.
pub async fn reconcile_job(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<JobRunner>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let work_state = state.clone();
    run_job(&state, &principal, &headers, "reconcile", async move {
        match reconcile(&work_state).await {
            Ok(report) => JobResult::ok(report),
            Err(e) => {
                let status = match &e {
                    ApiError::Upstream(f) => axum::http::StatusCode::from_u16(f.status)
                        .unwrap_or(axum::http::StatusCode::BAD_GATEWAY),
                    ApiError::Store(s) if s.is_unavailable() => {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    }
                    _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                };
                JobResult {
                    status,
                    body: json!({ "error": { "code": status.as_u16().to_string(), "message": "reconcile failed" } }),
                    error: Some(e.detail()),
                }
            }
        }
    })
    .await
}

/// Compares and repairs; the report as JSON.
pub async fn reconcile(state: &AppState) -> Result<serde_json::Value, ApiError> {
    let settings = super::settings(state)?;
    let store = super::store(state)?;
    let now = Utc::now();
    let grace = chrono::Duration::from_std(settings.reconcile_grace).unwrap_or_default();
    // Every row, by key.
    let mut rows: HashMap<String, runs::DocKey> = HashMap::new();
    let mut after = None;
    loop {
        let page = store.document_keys(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for k in page {
            if k.bucket == settings.bucket {
                rows.insert(k.object_key.clone(), k);
            }
        }
    }
    let prefix = settings.key_template.prefix().to_owned();
    let mut seen: HashSet<String> = HashSet::new();
    let mut orphans = Vec::new();
    let mut orphans_deleted = 0usize;
    let mut continuation = None;
    crate::app::upstream::credentials(&state.aws, state.limits.upstream_timeout).await?;
    loop {
        let page = state
            .aws
            .s3
            .list_objects(&settings.bucket, Some(&prefix), continuation.take())
            .await
            .map_err(|e| crate::app::upstream::aws_error(&e))?;
        for o in page.objects {
            if rows.contains_key(&o.key) {
                seen.insert(o.key);
                continue;
            }
            let old = o
                .last_modified
                .map(chrono::DateTime::<Utc>::from)
                .is_none_or(|t| now - t > grace);
            if old {
                state
                    .aws
                    .s3
                    .delete_object(&settings.bucket, &o.key)
                    .await
                    .map_err(|e| crate::app::upstream::aws_error(&e))?;
                orphans_deleted += 1;
            }
            if orphans.len() < MAX_REPORTED {
                orphans.push(json!({ "key": o.key, "deleted": old }));
            }
        }
        match page.next {
            Some(t) => continuation = Some(t),
            None => break,
        }
    }
    let mut missing = Vec::new();
    let mut stale_uploads = Vec::new();
    let mut requeued = Vec::new();
    for (key, row) in &rows {
        match row.status {
            runs::DocStatus::Available if !seen.contains(key) => {
                store
                    .fail_document(
                        row.id,
                        "object missing (found by reconcile)",
                        "reconcile",
                        now,
                    )
                    .await?;
                push(&mut missing, row.id);
            }
            runs::DocStatus::Uploading if now - row.modified_at > grace => {
                // The app may have died after S3 completed the object but before the row said
                // `available`: that object never passed the row's last step, so it goes, and
                // the document may be uploaded again.
                if seen.contains(key) {
                    state
                        .aws
                        .s3
                        .delete_object(&settings.bucket, key)
                        .await
                        .map_err(|e| crate::app::upstream::aws_error(&e))?;
                    orphans_deleted += 1;
                }
                store.abort_upload(row.id, None, now).await?;
                push(&mut stale_uploads, row.id);
            }
            runs::DocStatus::Deleted if store.requeue_delete(row.id, now).await? => {
                push(&mut requeued, row.id);
            }
            _ => {}
        }
    }
    if !requeued.is_empty() {
        state.outbox.0.notify_one();
    }
    let _ = store
        .record_event(&runs::NewEvent {
            at: now,
            actor: "reconcile".into(),
            action: "reconcile".into(),
            document_id: None,
            detail: Some(format!(
                "{} rows, {} objects; {} orphan objects ({} deleted), {} missing, {} stale uploads, {} deletes requeued",
                rows.len(),
                seen.len() + orphans.len(),
                orphans.len(),
                orphans_deleted,
                missing.len(),
                stale_uploads.len(),
                requeued.len()
            )),
        })
        .await;
    Ok(json!({
        "bucket": settings.bucket,
        "prefix": prefix,
        "rows": rows.len(),
        "objectsWithoutRows": orphans,
        "objectsDeleted": orphans_deleted,
        "rowsWithoutObjects": missing,
        "staleUploadsReset": stale_uploads,
        "deletesRequeued": requeued,
    }))
}

fn push(list: &mut Vec<String>, id: uuid::Uuid) {
    if list.len() < MAX_REPORTED {
        list.push(id.to_string());
    }
}
