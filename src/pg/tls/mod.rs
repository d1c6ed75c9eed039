//! TLS to PostgreSQL, with rustls, as libpq's connection settings describe
//! it: `sslmode` (`disable`, `prefer`, `require`, `verify-ca`,
//! `verify-full`), `sslrootcert` (a PEM file of CAs, or `system`), and a
//! client certificate with `sslcert` and `sslkey`.
//!
//! [`settings`] reads them from the connection string; [`connector`] turns
//! them into the connector [`crate::pg::connect`] uses for every
//! connection; [`verifier`] checks the server's certificate as much as the
//! mode asks; [`binding`] ties SCRAM logins to the TLS session.

mod binding;
mod connector;
mod settings;
mod verifier;

pub use connector::{connector, MakeRustlsConnect, RustlsConnect, RustlsStream, TlsError};
pub use settings::{RootCerts, SslMode, TlsSettings};
