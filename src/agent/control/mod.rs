//! The control port: a tiny PostgreSQL-protocol server, so the tools every
//! operator already has work on the agent: `pg_isready` as a health check,
//! `psql`, a driver or Grafana to query dumps, runs and tables with SQL
//! ([`sql`]), `CALL` to trigger a run now.
//!
//! Loopback binds need no password; any other bind requires
//! `control.password` (MD5 authentication, which every client supports).

mod handler;
mod query;
mod sql;

use std::sync::Arc;

use pgwire::api::auth::md5pass::{hash_md5_password, Md5PasswordAuthStartupHandler};
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password};
use pgwire::api::copy::NoopCopyHandler;
use pgwire::api::{NoopErrorHandler, PgWireServerHandlers};
use pgwire::error::PgWireResult;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use handler::ControlHandler;

/// Accepts control connections until `shutdown`.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    bind: &str,
    port: u16,
    password: Option<String>,
    handler: Arc<ControlHandler>,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind((bind, port)).await?;
    info!(address = %listener.local_addr()?, "control port listening");
    let task = match password {
        None => tokio::spawn(accept(listener, Arc::new(Open(handler)), shutdown)),
        Some(password) => {
            let startup = Arc::new(Md5PasswordAuthStartupHandler::new(
                Arc::new(FixedPassword(password)),
                Arc::new(DefaultServerParameterProvider::default()),
            ));
            tokio::spawn(accept(listener, Arc::new(Protected { handler, startup }), shutdown))
        }
    };
    Ok(task)
}

async fn accept<H>(listener: TcpListener, handlers: Arc<H>, shutdown: CancellationToken)
where
    H: PgWireServerHandlers + Send + Sync + 'static,
{
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let handlers = handlers.clone();
                    tokio::spawn(async move {
                        let _ = pgwire::tokio::process_socket(socket, None, handlers).await;
                    });
                }
                Err(e) => warn!("control port: accept failed: {e}"),
            },
            _ = shutdown.cancelled() => return,
        }
    }
}

/// No authentication (loopback only).
struct Open(Arc<ControlHandler>);

impl NoopStartupHandler for ControlHandler {}

impl PgWireServerHandlers for Open {
    type StartupHandler = ControlHandler;
    type SimpleQueryHandler = ControlHandler;
    type ExtendedQueryHandler = ControlHandler;
    type CopyHandler = NoopCopyHandler;
    type ErrorHandler = NoopErrorHandler;

    fn simple_query_handler(&self) -> Arc<ControlHandler> {
        self.0.clone()
    }
    fn extended_query_handler(&self) -> Arc<ControlHandler> {
        self.0.clone()
    }
    fn startup_handler(&self) -> Arc<ControlHandler> {
        self.0.clone()
    }
    fn copy_handler(&self) -> Arc<NoopCopyHandler> {
        Arc::new(NoopCopyHandler)
    }
    fn error_handler(&self) -> Arc<NoopErrorHandler> {
        Arc::new(NoopErrorHandler)
    }
}

/// MD5 password authentication.
struct Protected {
    handler: Arc<ControlHandler>,
    startup: Arc<Md5PasswordAuthStartupHandler<FixedPassword, DefaultServerParameterProvider>>,
}

impl PgWireServerHandlers for Protected {
    type StartupHandler = Md5PasswordAuthStartupHandler<FixedPassword, DefaultServerParameterProvider>;
    type SimpleQueryHandler = ControlHandler;
    type ExtendedQueryHandler = ControlHandler;
    type CopyHandler = NoopCopyHandler;
    type ErrorHandler = NoopErrorHandler;

    fn simple_query_handler(&self) -> Arc<ControlHandler> {
        self.handler.clone()
    }
    fn extended_query_handler(&self) -> Arc<ControlHandler> {
        self.handler.clone()
    }
    fn startup_handler(&self) -> Arc<Self::StartupHandler> {
        self.startup.clone()
    }
    fn copy_handler(&self) -> Arc<NoopCopyHandler> {
        Arc::new(NoopCopyHandler)
    }
    fn error_handler(&self) -> Arc<NoopErrorHandler> {
        Arc::new(NoopErrorHandler)
    }
}

/// The one password of the control port, whatever the user name.
struct FixedPassword(String);

#[async_trait::async_trait]
impl AuthSource for FixedPassword {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let salt = rand::random::<[u8; 4]>().to_vec();
        let hashed = hash_md5_password(login.user().unwrap_or_default(), &self.0, &salt);
        Ok(Password::new(Some(salt), hashed.into_bytes()))
    }
}
