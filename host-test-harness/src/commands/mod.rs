//! The harness's commands beyond running guests: `demo` and `bench`.

pub mod bench;
pub mod demo;
