//! The demo documents `bridge dev` adds to an empty store, so the document scenario can be
//! tried at once: a text file and a one-page PDF, stored through the same path as an upload
//! (key template, inspector, S3, then the row becomes `available`).

use bytes::Bytes;
use chrono::Utc;

use crate::app::AppState;

/// A minimal valid one-page PDF saying "btp-aws-bridge demo".
const DEMO_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj\n\
4 0 obj<</Length 55>>stream\nBT /F1 18 Tf 36 72 Td (btp-aws-bridge demo) Tj ET\nendstream endobj\n\
5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n\
trailer<</Root 1 0 R>>\n%%EOF\n";

const DEMO_TEXT: &str = "Welcome to btp-aws-bridge.\n\n\
This document lives in the dev stack's local S3 (bucket bridge-documents), its metadata in \
the app's database. Upload your own with the index page or `bridge docs upload FILE`.\n";

/// Adds the demo documents when the store has no document yet. Returns how many were added.
pub async fn seed(state: &AppState) -> anyhow::Result<usize> {
    let settings = super::settings(state).map_err(|e| anyhow::anyhow!(e.detail()))?;
    let store = super::store(state).map_err(|e| anyhow::anyhow!(e.detail()))?;
    if !store.document_keys(None, 1).await?.is_empty() {
        return Ok(0);
    }
    let demos: [(&str, &str, &str, &str, Bytes); 2] = [
        (
            "README.txt",
            "text/plain",
            "DEMO-0001",
            "HQ",
            Bytes::from_static(DEMO_TEXT.as_bytes()),
        ),
        (
            "floor-plan.pdf",
            "application/pdf",
            "INSP-2026-0001",
            "Building 7",
            Bytes::from_static(DEMO_PDF),
        ),
    ];
    let mut added = 0;
    for (file_name, media_type, number, location, bytes) in demos {
        let id = uuid::Uuid::new_v4();
        let now = Utc::now();
        let object_key = settings.key_template.render(&documents::keys::KeyInput {
            id,
            document_number: Some(number),
            location: Some(location),
            file_name,
            created: now,
        });
        let mut attributes = serde_json::Map::new();
        attributes.insert("demo".into(), serde_json::Value::Bool(true));
        store
            .create_document(&runs::NewDocument {
                id,
                actor: "bridge-dev".into(),
                at: now,
                bucket: settings.bucket.clone(),
                object_key,
                file_name: file_name.into(),
                media_type: Some(media_type.into()),
                document_number: Some(number.into()),
                location: Some(location.into()),
                attributes,
            })
            .await?;
        super::content::store_bytes(state, id, "bridge-dev", media_type, bytes)
            .await
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        added += 1;
    }
    Ok(added)
}
