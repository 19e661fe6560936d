//! The local AWS Secrets Manager (being built; issue 9).
