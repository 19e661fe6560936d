//! What the local AWS side did for each occurrence (`bridge dev`'s scheduler and Lambda), and
//! the joined view of one occurrence: did it fire, how many attempts, what the endpoint
//! answered, how long it took.
//!
//! The join key is the occurrence's idempotency key (`schedule::occurrence::key` of the
//! schedule ARN and the nominal time): the scheduler computes it when it fires, the Lambda
//! sends it as `Idempotency-Key`, and the app stores it with the run. In production only the
//! run side exists (Scheduler and Lambda keep their own records in AWS).

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::history::{MAX_ERROR_CHARS, corrupt, cut, get, micros, uuid_of, with_pool};
use crate::store::Backend;
use crate::{Error, Run, Store};

/// Most deliveries or occurrences one call returns.
pub const MAX_DELIVERIES: u32 = 1000;

const DELIVERY_COLUMNS: &str = "id, schedule, nominal_time, idempotency_key, execution_id, \
     attempt, lambda_request_id, outcome, http_status, error, at";

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The function ran and reported success.
    Succeeded,
    /// The attempt failed (the function's error, a throttle, a timeout); it may be retried.
    Failed,
    /// The retries were used up or the event too old: the event went to the dead-letter
    /// queue (or was dropped without one).
    DeadLettered,
}

impl DeliveryOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::DeadLettered => "dead_lettered",
        }
    }

    /// The outcome named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Succeeded, Self::Failed, Self::DeadLettered]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One attempt of the local AWS side to deliver an occurrence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The record's id.
    pub id: Uuid,
    /// The schedule's name or ARN.
    pub schedule: String,
    /// The occurrence's nominal time.
    pub nominal_time: DateTime<Utc>,
    /// The occurrence's idempotency key.
    pub idempotency_key: String,
    /// Scheduler's execution id (`<aws.scheduler.execution-id>`).
    pub execution_id: Option<String>,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The Lambda invocation's request id.
    pub lambda_request_id: Option<String>,
    /// How it ended.
    pub outcome: DeliveryOutcome,
    /// The HTTP status the function reported from the app, when it got that far.
    pub http_status: Option<u16>,
    /// What went wrong (no secrets; cut to [`MAX_ERROR_CHARS`]).
    pub error: Option<String>,
    /// When the attempt ended.
    pub at: DateTime<Utc>,
}

/// A delivery to record ([`Store::record_delivery`] assigns the id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The schedule's name or ARN.
    pub schedule: String,
    /// The occurrence's nominal time.
    pub nominal_time: DateTime<Utc>,
    /// The occurrence's idempotency key.
    pub idempotency_key: String,
    /// Scheduler's execution id.
    pub execution_id: Option<String>,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The Lambda invocation's request id.
    pub lambda_request_id: Option<String>,
    /// How it ended.
    pub outcome: DeliveryOutcome,
    /// The HTTP status the function reported.
    pub http_status: Option<u16>,
    /// What went wrong.
    pub error: Option<String>,
    /// When the attempt ended.
    pub at: DateTime<Utc>,
}

/// One occurrence as both sides saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Occurrence {
    /// The idempotency key.
    pub idempotency_key: String,
    /// The delivery attempts, oldest first (empty: it never fired, or not locally).
    pub deliveries: Vec<Delivery>,
    /// The app's run, if a call arrived.
    pub run: Option<Run>,
}

impl Occurrence {
    /// Whether the scheduler fired it (a delivery was recorded) or a call arrived.
    pub fn fired(&self) -> bool {
        !self.deliveries.is_empty() || self.run.is_some()
    }

    /// How many delivery attempts the AWS side made.
    pub fn attempts(&self) -> usize {
        self.deliveries.len()
    }

    /// Whether the occurrence ended in the dead-letter queue.
    pub fn dead_lettered(&self) -> bool {
        self.deliveries
            .iter()
            .any(|d| d.outcome == DeliveryOutcome::DeadLettered)
    }
}

impl Store {
    /// Records one delivery attempt.
    pub async fn record_delivery(&self, new: &NewDelivery) -> Result<Delivery, Error> {
        self.ready().await?;
        let sql = format!(
            "INSERT INTO deliveries ({DELIVERY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {DELIVERY_COLUMNS}"
        );
        let error = new.error.as_deref().map(|e| cut(e, MAX_ERROR_CHARS));
        with_pool!(self, p => {
            let row = sqlx::query(&sql)
                .bind(Uuid::new_v4().to_string())
                .bind(new.schedule.as_str())
                .bind(micros(new.nominal_time))
                .bind(new.idempotency_key.as_str())
                .bind(new.execution_id.as_deref())
                .bind(i32::try_from(new.attempt).unwrap_or(i32::MAX))
                .bind(new.lambda_request_id.as_deref())
                .bind(new.outcome.as_str())
                .bind(new.http_status.map(i32::from))
                .bind(error.as_deref())
                .bind(micros(new.at))
                .fetch_one(p)
                .await
                .map_err(Error::query("record delivery"))?;
            decode_delivery(&row)
        })
    }

    /// The deliveries of idempotency key `key`, oldest first.
    pub async fn deliveries(&self, key: &str) -> Result<Vec<Delivery>, Error> {
        self.ready().await?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE idempotency_key = $1 \
             ORDER BY at, attempt, id LIMIT {MAX_DELIVERIES}"
        );
        with_pool!(self, p => {
            let rows = sqlx::query(&sql)
                .bind(key)
                .fetch_all(p)
                .await
                .map_err(Error::query("list deliveries"))?;
            rows.iter().map(decode_delivery).collect()
        })
    }

    /// The occurrence with idempotency key `key`: its deliveries and its run.
    pub async fn occurrence(&self, key: &str) -> Result<Occurrence, Error> {
        Ok(Occurrence {
            idempotency_key: key.to_owned(),
            deliveries: self.deliveries(key).await?,
            run: self.by_key(key).await?,
        })
    }

    /// The most recent occurrences the local AWS side delivered (of `schedule`, if given),
    /// newest nominal time first, at most `limit` (capped at [`MAX_DELIVERIES`]).
    pub async fn occurrences(
        &self,
        schedule: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Occurrence>, Error> {
        self.ready().await?;
        let limit = limit.clamp(1, MAX_DELIVERIES);
        let sql = "SELECT idempotency_key, MAX(nominal_time) AS nominal FROM deliveries \
                   WHERE ($1 IS NULL OR schedule = $1) \
                   GROUP BY idempotency_key ORDER BY nominal DESC, idempotency_key LIMIT $2";
        let keys: Vec<String> = with_pool!(self, p => {
            let rows = sqlx::query(sql)
                .bind(schedule)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(Error::query("list occurrences"))?;
            rows.iter()
                .map(|r| get(r, "idempotency_key"))
                .collect::<Result<Vec<String>, Error>>()?
        });
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.occurrence(&key).await?);
        }
        Ok(out)
    }
}

fn decode_delivery<R>(row: &R) -> Result<Delivery, Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let outcome: String = get(row, "outcome")?;
    Ok(Delivery {
        id: uuid_of(row, "id")?,
        schedule: get(row, "schedule")?,
        nominal_time: get(row, "nominal_time")?,
        idempotency_key: get(row, "idempotency_key")?,
        execution_id: get(row, "execution_id")?,
        attempt: u32::try_from(get::<_, i32>(row, "attempt")?)
            .map_err(|_| corrupt("attempt", "negative"))?,
        lambda_request_id: get(row, "lambda_request_id")?,
        outcome: DeliveryOutcome::parse(&outcome)
            .ok_or_else(|| corrupt("outcome", "not a delivery outcome"))?,
        http_status: get::<_, Option<i32>>(row, "http_status")?
            .map(|s| u16::try_from(s).map_err(|_| corrupt("http_status", "out of range")))
            .transpose()?,
        error: get(row, "error")?,
        at: get(row, "at")?,
    })
}
