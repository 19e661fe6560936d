//! The OData V4 service at `/catalog` (being written).

use axum::Router;

use super::AppState;

/// The catalog's routes, nested under `/catalog`.
pub fn router() -> Router<AppState> {
    Router::new()
}
