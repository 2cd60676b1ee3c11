//! Items the generated client stubs use. Not a stable API: use the re-exports at the crate
//! root instead.

pub use http::uri::PathAndQuery;
pub use prost;
