//! The local Scheduler's state file, `<data dir>/scheduler/state.json` (0600, replaced
//! atomically): every schedule with its creation and modification dates and the nominal time
//! it last fired, and when the file was saved. Schedules created through the API are restored
//! from it; schedules from files keep their dates and their last fire; the last fires and the
//! save time decide what was missed while the stack was down (catch-up).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::DevError;
use crate::files;

/// The file's name inside the scheduler's directory.
pub const STATE_FILE: &str = "state.json";

/// The format version written.
const VERSION: u32 = 1;

/// Where a schedule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A schedule file (`deploy/aws/schedules/*.json`), loaded at every start.
    File,
    /// `CreateSchedule`.
    Api,
}

/// One schedule in the state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSchedule {
    /// The schedule's name.
    pub name: String,
    /// Where it came from.
    pub source: Source,
    /// Its fields, as `GetSchedule` returns them (without `Name`).
    pub fields: Map<String, Value>,
    /// `CreationDate`.
    pub created: DateTime<Utc>,
    /// `LastModificationDate`.
    pub modified: DateTime<Utc>,
    /// The nominal time of the last occurrence fired, if any.
    pub last_fired: Option<DateTime<Utc>>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateFile {
    /// Format version (1).
    pub version: u32,
    /// When it was written: the scheduler was running until at least then.
    pub saved_at: DateTime<Utc>,
    /// The schedules.
    pub schedules: Vec<StoredSchedule>,
}

impl StateFile {
    /// A state file of `schedules`, saved `now`.
    pub fn new(saved_at: DateTime<Utc>, schedules: Vec<StoredSchedule>) -> Self {
        Self {
            version: VERSION,
            saved_at,
            schedules,
        }
    }
}

/// The state file in the scheduler's directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// Reads the state file; `None` if there is none yet.
pub fn load(dir: &Path) -> Result<Option<StateFile>, DevError> {
    let path = path(dir);
    if !path.exists() {
        return Ok(None);
    }
    let text = files::read_string(&path)?;
    let state: StateFile = serde_json::from_str(&text).map_err(|e| DevError::Corrupt {
        path: path.clone(),
        reason: format!(
            "not a scheduler state file (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    if state.version != VERSION {
        return Err(DevError::Corrupt {
            path,
            reason: format!("version {} is not {VERSION}", state.version),
        });
    }
    Ok(Some(state))
}

/// Writes the state file (0600, atomically), creating `dir` (0700) if needed.
pub fn save(dir: &Path, state: &StateFile) -> Result<(), DevError> {
    files::ensure_private_dir(dir)?;
    let path = path(dir);
    let text = serde_json::to_vec_pretty(state).map_err(|e| DevError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    files::write_private(&path, &text)
}
