//! Downloads that survive a dropped connection: a read that fails midway
//! asks for the rest of the object (`Range: bytes={offset}-`), so a store
//! restarting under a long restore costs a retry, not the restore. Opening
//! again goes through the SDK's retries, which wait for the store to come
//! back (`retry_seconds`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use aws_sdk_s3::primitives::ByteStream;
use tokio::io::{AsyncRead, ReadBuf};
use tracing::warn;

use super::Store;

/// Times a download is resumed before its error is the reader's.
const RESUMES: u32 = 10;

type Opening = Pin<Box<dyn Future<Output = Result<ByteStream, String>> + Send>>;

enum State {
    Reading(Pin<Box<dyn AsyncRead + Send>>),
    Opening(Opening),
}

/// The bytes of one object, from `offset` on.
pub(super) struct Resuming {
    store: Arc<Store>,
    key: String,
    offset: u64,
    resumes: u32,
    state: State,
}

impl Resuming {
    pub(super) fn new(store: Arc<Store>, key: &str, body: ByteStream) -> Self {
        Resuming {
            store,
            key: key.to_string(),
            offset: 0,
            resumes: 0,
            state: State::Reading(Box::pin(body.into_async_read())),
        }
    }

    fn reopen(&self) -> Opening {
        let (store, key, offset) = (self.store.clone(), self.key.clone(), self.offset);
        Box::pin(async move {
            let request =
                store.client.get_object().bucket(&store.bucket).key(store.key(&key)).range(format!("bytes={offset}-"));
            request.send().await.map(|o| o.body).map_err(|e| store.error("read", &key, e).to_string())
        })
    }
}

impl AsyncRead for Resuming {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Reading(body) => {
                    let before = buf.filled().len();
                    match ready!(body.as_mut().poll_read(cx, buf)) {
                        Ok(()) => {
                            self.offset += (buf.filled().len() - before) as u64;
                            return Poll::Ready(Ok(()));
                        }
                        Err(e) if self.resumes < RESUMES => {
                            self.resumes += 1;
                            warn!(key = %self.key, offset = self.offset, "download interrupted ({e}); resuming");
                            let opening = self.reopen();
                            self.state = State::Opening(opening);
                        }
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                State::Opening(opening) => match ready!(opening.as_mut().poll(cx)) {
                    Ok(body) => self.state = State::Reading(Box::pin(body.into_async_read())),
                    Err(message) => return Poll::Ready(Err(io::Error::other(message))),
                },
            }
        }
    }
}
