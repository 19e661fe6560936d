//! The service document (`GET /catalog/`): the entity sets, as SAP CAP lists them.
//!
//! Only entity sets appear: function imports are listed only when they say
//! `IncludeInServiceDocument="true"` (OData CSDL §13.6.3), which ours do not, and CAP lists none.

use crate::json::{self, Json};
use crate::model::Service;

/// `{"@odata.context":"$metadata","value":[{"name":"Buckets","url":"Buckets"},…]}`.
pub fn service_document(service: &Service) -> String {
    let sets = service
        .entity_sets
        .iter()
        .map(|s| {
            Json::obj()
                .with("name", s.name.as_str())
                .with("url", crate::encode::encode(&s.name))
        })
        .collect();
    json::to_string(
        &Json::obj()
            .with("@odata.context", "$metadata")
            .with("value", Json::Arr(sets)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_service_document() {
        insta::assert_snapshot!(service_document(&crate::model::catalog()));
    }
}
