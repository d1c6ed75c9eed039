//! The rustls connector tokio-postgres runs every connection through.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::binding::tls_server_end_point;
use super::verifier::ServerVerifier;
use super::{RootCerts, SslMode, TlsSettings};

/// TLS settings that cannot be put to use.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read {setting} {path}: {message}")]
    File { setting: &'static str, path: PathBuf, message: String },
    #[error(
        "sslmode={mode} needs the CA certificate that signed the server's: set sslrootcert=/path/to/ca.pem \
         (or sslrootcert=system for the system's trust store); the default {default} does not exist"
    )]
    NoRootCert { mode: &'static str, default: String },
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Makes the TLS connector of one connection; see [`connector`].
#[derive(Clone)]
pub struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
    /// Where trusted CAs came from, for messages.
    roots: Arc<str>,
}

/// The connector for `settings`: CA and client certificate files are read
/// here, once per connection attempt, so a renewed certificate is picked up
/// by the next connection without a restart.
///
/// # Errors
/// An unreadable or empty certificate or key file, or a verifying
/// `sslmode` without a CA.
pub fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let (chain, roots) = match trusted_roots(settings)? {
        Some((store, roots)) => {
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            (Some(verifier), roots)
        }
        None => (None, String::from("no CA (sslrootcert is not set)")),
    };
    let verifier = ServerVerifier::new(chain, settings.mode == SslMode::VerifyFull, algorithms);
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match (&settings.client_cert, settings.mode) {
        (Some((cert, key)), mode) if mode != SslMode::Disable => {
            builder.with_client_auth_cert(read_certs("sslcert", cert)?, read_key(key)?)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(MakeRustlsConnect { config: Arc::new(config), roots: roots.into() })
}

/// The CAs the server's certificate must chain to, with a description for
/// messages; `None` when it is not checked.
fn trusted_roots(settings: &TlsSettings) -> Result<Option<(RootCertStore, String)>, TlsError> {
    if settings.mode == SslMode::Disable {
        return Ok(None);
    }
    let mut store = RootCertStore::empty();
    let source = match &settings.root_certs {
        Some(RootCerts::File(path)) => path.clone(),
        Some(RootCerts::System) => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            return Ok(Some((store, "the system's trust store".to_string())));
        }
        None if settings.mode.verifies() => {
            // libpq's default, so that a setup made for psql works here too.
            let default = home_root_cert();
            if !default.exists() {
                let default = default.display().to_string();
                return Err(TlsError::NoRootCert { mode: settings.mode.name(), default });
            }
            default
        }
        None => return Ok(None),
    };
    let (added, _) = store.add_parsable_certificates(read_certs("sslrootcert", &source)?);
    if added == 0 {
        return Err(file_error("sslrootcert", &source, "it holds no usable CA certificate"));
    }
    Ok(Some((store, format!("sslrootcert {}", source.display()))))
}

fn home_root_cert() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".postgresql").join("root.crt")
}

fn read_certs(setting: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error(setting, path, &e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(setting, path, "it holds no PEM certificate"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error("sslkey", path, &e.to_string()))
}

fn file_error(setting: &'static str, path: &Path, message: &str) -> TlsError {
    TlsError::File { setting, path: path.to_path_buf(), message: message.to_string() }
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = std::convert::Infallible;

    /// Never fails: tokio-postgres asks for a connector even for a Unix
    /// socket (no host name) or `sslmode=disable`, where it goes unused. A
    /// host name TLS cannot check is reported when TLS is actually tried.
    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, Self::Error> {
        Ok(RustlsConnect { config: self.config.clone(), roots: self.roots.clone(), host: host.to_string() })
    }
}

/// The TLS handshake of one connection.
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    roots: Arc<str>,
    host: String,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let name = ServerName::try_from(self.host.clone()).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("{:?} is not a host name TLS can check", self.host))
            })?;
            let connector = tokio_rustls::TlsConnector::from(self.config);
            let stream = connector.connect(name, stream).await.map_err(|e| explain(e, &self.host, &self.roots))?;
            Ok(RustlsStream(stream))
        })
    }
}

/// A failed handshake, with what to do about the usual causes.
fn explain(error: io::Error, host: &str, roots: &str) -> io::Error {
    let Some(tls) = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return error;
    };
    let message = match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            format!("the server's certificate is not signed by a CA in {roots} ({tls})")
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the server's certificate is not valid for host {host:?} ({tls}); connect with a name the \
             certificate lists, or use sslmode=verify-ca"
        ),
        _ => return error,
    };
    io::Error::new(error.kind(), message)
}

/// A TLS connection to PostgreSQL.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        let end_point = session.peer_certificates().and_then(|certs| certs.first());
        match end_point.and_then(|certificate| tls_server_end_point(certificate)) {
            Some(hash) => ChannelBinding::tls_server_end_point(hash),
            None => ChannelBinding::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> TlsSettings {
        TlsSettings::extract(text).unwrap().1
    }

    fn error(text: &str) -> String {
        connector(&settings(text)).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn unusable_files_are_named_with_their_setting() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = error("host=h sslmode=verify-full sslrootcert=/nonexistent/ca.pem");
        assert!(err.starts_with("cannot read sslrootcert /nonexistent/ca.pem: "), "{err}");
        let err = error(&format!("host=h sslmode=verify-ca sslrootcert={}", empty.display()));
        assert!(err.ends_with("it holds no PEM certificate"), "{err}");
        let err = error(&format!("host=h sslmode=require sslcert={} sslkey=/nonexistent/k.pem", empty.display()));
        assert!(err.starts_with("cannot read sslcert"), "{err}");
    }

    #[test]
    fn what_is_not_used_is_not_read() {
        // Nothing is checked, so nothing is loaded.
        assert!(connector(&settings("host=h sslmode=disable sslrootcert=/nonexistent/ca.pem")).is_ok());
        assert!(connector(&settings("host=h sslmode=prefer")).is_ok());
        assert!(connector(&settings("host=h sslmode=require")).is_ok());
    }
}
