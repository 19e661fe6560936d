//! The alert watchdog: the seed's homework ("how to react upon failures"). The app knows its
//! schedules (the schedule files, built in), so it notices what no AWS-side alarm can: an
//! occurrence that should have arrived but did not. Once an occurrence's horizon has passed
//! (its nominal time, plus its flexible window, plus the retry grace `BRIDGE_ALERT_GRACE_S`)
//! it is judged from the run history and the recorded deliveries ([`alerts::watch`]): failed
//! after its retries, dead-lettered, or never arrived, each one alert.
//!
//! Alerts go to SAP Alert Notification service when an `alert-notification` binding is
//! present, else to `BRIDGE_ALERT_WEBHOOK`, else only to the log. Each alert is sent once
//! across every app instance sharing the database: it is claimed in the run history under
//! the key `alert:{kind}:{occurrence key}` (job `alert`), and only the instance whose claim
//! starts it sends it; the claim's outcome records whether the delivery worked.
//!
//! The watchdog sleeps until the next horizon ends (at most a minute, so a `rate()`
//! schedule's silence is noticed within a minute of its horizon).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alerts::watch::{Seen, Watched};
use alerts::{Alert, Notifier};
use chrono::{DateTime, Utc};

/// The built-in schedule files (`deploy/aws/schedules/`): the schedules the deployed app
/// watches, and `bridge dev`'s default.
pub const BUILT_IN_SCHEDULES: &[(&str, &str)] = &[
    (
        "deploy/aws/schedules/ping.json (built in)",
        include_str!("../../../../deploy/aws/schedules/ping.json"),
    ),
    (
        "deploy/aws/schedules/reconcile.json (built in)",
        include_str!("../../../../deploy/aws/schedules/reconcile.json"),
    ),
];

/// The longest the watchdog sleeps.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The most alerts one check sends (an outage of days does not flood the channel).
const MAX_ALERTS_PER_CHECK: usize = 100;

/// The watched schedules of `files` (`(name, text)`), rendered for `account_id` and
/// `region`; disabled schedules are left out. `grace` is added to each schedule's flexible
/// window to make its horizon.
pub fn watched(
    files: &[(String, String)],
    account_id: &str,
    region: &str,
    grace: Duration,
) -> anyhow::Result<Vec<Watched>> {
    let mut out = Vec::new();
    for (name, text) in files {
        let rendered =
            schedule::file::render(text, &[("AccountId", account_id), ("Region", region)])
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let file = schedule::file::ScheduleFile::parse(&rendered)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        if !file.enabled() {
            continue;
        }
        let schedule = file
            .schedule()
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let group = file.group_name.as_deref().unwrap_or("default");
        out.push(Watched {
            name: file.name.clone(),
            arn: format!(
                "arn:aws:scheduler:{region}:{account_id}:schedule/{group}/{}",
                file.name
            ),
            horizon: schedule.window.unwrap_or_default() + grace,
            schedule,
        });
    }
    Ok(out)
}

/// Where alerts go: the `alert-notification` binding, else `webhook`, else nowhere (logged).
pub fn notifier(
    vcap: &cfenv::Vcap,
    webhook: Option<&str>,
    resource: &str,
    extra_roots_pem: &[Vec<u8>],
) -> anyhow::Result<Option<Notifier>> {
    match vcap.alert_notification(None) {
        Ok(binding) => Ok(Some(Notifier::alert_notification(
            &binding,
            resource,
            extra_roots_pem,
        )?)),
        Err(cfenv::Error::NotBound { .. }) => match webhook {
            Some(url) => {
                let url = url
                    .parse()
                    .map_err(|_| anyhow::anyhow!("BRIDGE_ALERT_WEBHOOK is not a URL"))?;
                Ok(Some(Notifier::webhook(url, resource, extra_roots_pem)?))
            }
            None => Ok(None),
        },
        Err(e) => Err(e.into()),
    }
}

/// The watchdog.
pub struct Watchdog {
    store: runs::Store,
    watched: Vec<Watched>,
    notifier: Option<Arc<Notifier>>,
    metrics: Option<Arc<crate::app::metrics::Metrics>>,
}

impl Watchdog {
    /// A watchdog over `watched`, judging from `store`, sending to `notifier`.
    pub fn new(store: runs::Store, watched: Vec<Watched>, notifier: Option<Notifier>) -> Self {
        Self {
            store,
            watched,
            notifier: notifier.map(Arc::new),
            metrics: None,
        }
    }

    /// Counts the alerts in the app's metrics (`bridge_alerts_total`).
    pub fn with_metrics(mut self, metrics: Arc<crate::app::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Checks until `shutdown` resolves, judging occurrences whose horizon ends after `start`.
    pub async fn run(self, start: DateTime<Utc>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        match &self.notifier {
            Some(n) => {
                tracing::info!(alerts.target = %n.describe(), schedules = self.watched.len(), "alert watchdog started")
            }
            None => tracing::warn!(
                schedules = self.watched.len(),
                "alert watchdog: no alert-notification binding and no BRIDGE_ALERT_WEBHOOK; alerts go to the log only"
            ),
        }
        let mut since = start;
        loop {
            let sleep = self.next_check(since);
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(sleep) => {}
            }
            let now = Utc::now();
            match self.check(since, now).await {
                Ok(()) => since = now,
                Err(e) => {
                    tracing::warn!(error.detail = %e, "alert watchdog: database unavailable, will retry")
                }
            }
        }
    }

    /// How long until the next occurrence's horizon ends (at most a minute).
    fn next_check(&self, since: DateTime<Utc>) -> Duration {
        let now = Utc::now();
        self.watched
            .iter()
            .filter_map(|w| {
                let horizon = chrono::Duration::from_std(w.horizon).ok()?;
                let next = w.schedule.occurrences(since - horizon, since - horizon, 1);
                let due = *next.first()? + horizon;
                (due - now).to_std().ok()
            })
            .min()
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP)
            + Duration::from_millis(50)
    }

    /// One check: judges the occurrences whose horizon ended in `(since, now]` and sends the
    /// alerts not sent yet.
    pub async fn check(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), runs::Error> {
        // What the history saw of every occurrence that may be judged now.
        let mut seen: HashMap<String, Seen> = HashMap::new();
        let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
        for w in &self.watched {
            let page = self
                .store
                .list(&runs::RunFilter {
                    schedule: Some(w.arn.clone()),
                    limit: 1,
                    ..runs::RunFilter::default()
                })
                .await?;
            if let Some(r) = page.runs.first() {
                last.insert(w.arn.clone(), r.received_at);
            }
            let horizon = chrono::Duration::from_std(w.horizon).unwrap_or(chrono::Duration::MAX);
            for nominal in w
                .schedule
                .occurrences(since - horizon, since - horizon, MAX_ALERTS_PER_CHECK)
                .into_iter()
                .take_while(|n| *n + horizon <= now)
            {
                let key = schedule::occurrence::key(&w.arn, nominal);
                let occurrence = self.store.occurrence(&key).await?;
                if let Some(s) = judge(&occurrence) {
                    seen.insert(key, s);
                }
            }
        }
        let due = alerts::watch::due(
            &self.watched,
            since,
            now,
            &|k| seen.get(k).cloned(),
            &|arn| last.get(arn).copied(),
            MAX_ALERTS_PER_CHECK,
        );
        for alert in due {
            self.raise(&alert).await?;
        }
        Ok(())
    }

    /// Sends `alert` unless another check (of this or another instance) already claimed it.
    async fn raise(&self, alert: &Alert) -> Result<(), runs::Error> {
        let mut claim = runs::NewRun::new("alert");
        claim.idempotency_key = Some(format!("alert:{}", alert.dedup_key()));
        // No `schedule` on the claim: a schedule's last arrival (its silence) counts calls only.
        claim.nominal_time = Some(alert.nominal);
        let runs::Claim::Started(run) = self.store.claim(&claim).await? else {
            return Ok(());
        };
        tracing::warn!(
            alert.kind = alert.kind.as_str(),
            schedule.name = %alert.schedule,
            nominal_time = %schedule::occurrence::nominal_time(alert.nominal),
            idempotency_key = %alert.key,
            "{}: {}",
            alert.subject(),
            alert.detail
        );
        let started = std::time::Instant::now();
        let (outcome, error, result) = match &self.notifier {
            None => (
                runs::Outcome::Succeeded,
                Some("logged only (no alert target)".to_owned()),
                "logged",
            ),
            Some(n) => match n.send(alert).await {
                Ok(()) => (runs::Outcome::Succeeded, None, "sent"),
                Err(e) => {
                    tracing::warn!(error.detail = %e, "alert not delivered");
                    (runs::Outcome::Failed, Some(e.to_string()), "failed")
                }
            },
        };
        if let Some(m) = &self.metrics {
            m.alert(alert.kind.as_str(), result);
        }
        self.store
            .finish(run.id, outcome, None, error.as_deref(), started.elapsed())
            .await?;
        Ok(())
    }
}

/// What the run history and the deliveries say of one occurrence.
fn judge(o: &runs::Occurrence) -> Option<Seen> {
    if let Some(run) = &o.run {
        return Some(match run.outcome {
            runs::Outcome::Succeeded => Seen::Succeeded,
            runs::Outcome::Running => Seen::Running,
            runs::Outcome::Failed => Seen::Failed {
                status: run.http_status,
                error: run.error.clone().unwrap_or_default(),
                attempts: run.attempts,
            },
        });
    }
    if let Some(d) = o
        .deliveries
        .iter()
        .rev()
        .find(|d| d.outcome == runs::DeliveryOutcome::DeadLettered)
    {
        return Some(Seen::DeadLettered {
            reason: d.error.clone().unwrap_or_else(|| "dead-lettered".into()),
        });
    }
    if o.deliveries
        .iter()
        .any(|d| d.outcome == runs::DeliveryOutcome::Succeeded)
    {
        return Some(Seen::Succeeded);
    }
    if let Some(d) = o.deliveries.last() {
        return Some(Seen::Failed {
            status: d.http_status,
            error: d.error.clone().unwrap_or_default(),
            attempts: u32::try_from(o.deliveries.len()).unwrap_or(u32::MAX),
        });
    }
    None
}

/// The watchdog of the app configured from `vcap`, watching `files`: the account and region
/// come from the `aws-config` binding (its role ARN and region). `None` without a database
/// or an `aws-config` binding (logged).
pub fn from_vcap(
    vcap: &cfenv::Vcap,
    metrics: Arc<crate::app::metrics::Metrics>,
    store: Option<&runs::Store>,
    aws_config_instance: Option<&str>,
    files: &[(String, String)],
    extra_roots_pem: &[Vec<u8>],
) -> anyhow::Result<Option<Watchdog>> {
    let Some(store) = store else {
        return Ok(None);
    };
    let settings = match awslink::AwsSettings::from_vcap(vcap, aws_config_instance) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error.detail = %e, "alert watchdog off: no aws-config binding to name the schedules' account and region");
            return Ok(None);
        }
    };
    let account = settings
        .role_arn
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12)
        .ok_or_else(|| anyhow::anyhow!("aws-config roleArn names no account"))?;
    let watched = watched(
        files,
        account,
        &settings.region,
        crate::config::alert_grace()?,
    )?;
    let notifier = notifier(
        vcap,
        crate::config::alert_webhook().as_deref(),
        "btp-aws-bridge",
        extra_roots_pem,
    )?;
    Ok(Some(
        Watchdog::new(store.clone(), watched, notifier).with_metrics(metrics),
    ))
}
