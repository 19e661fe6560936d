//! OData V4 pieces, pure (no I/O): being written.
