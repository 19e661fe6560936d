//! Integration tests of the caller.
