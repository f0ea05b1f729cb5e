//! Serving connections with limits a slow or hostile client cannot wear
//! out: at most `max_connections` at once (more wait in the listen queue),
//! each request's headers within `header_read_timeout` of the connection
//! starting to wait for them (which also closes a kept-alive connection that
//! sits idle that long), and no connection silent in both directions for
//! longer than `idle_timeout` (a stalled body, a client that does not read
//! its answer). A body that trickles in is answered 408 by the operation
//! handler (`body_read_timeout`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};

use crate::config::RequestLimits;

/// Serves `app` (the gateway's service, or a router as
/// `hyper_util::service::TowerToHyperService` makes it one) on `listener`
/// under `limits` until `shutdown` completes; connections already open
/// finish on their own.
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: RequestLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => permit,
            () = &mut shutdown => return Ok(()),
        };
        let Ok(permit) = permit else { return Ok(()) };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors, a reset before accept: the next one may work.
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Watched::new(stream, limits.idle_timeout));
        let connection = http.serve_connection(io, app.clone());
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended");
            }
            drop(permit);
        });
    }
}

/// A stream that fails once nothing has moved in either direction for
/// `idle`.
///
/// A read or write only notes the time: the timer is moved when it fires
/// early, not on every read and write, since moving a tokio timer takes the
/// timer wheel's lock, and a request makes several reads and writes.
struct Watched<S> {
    stream: S,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    /// When something last moved.
    moved_at: Instant,
}

impl<S> Watched<S> {
    fn new(stream: S, idle: Duration) -> Self {
        Self { stream, idle, timer: Box::pin(tokio::time::sleep(idle)), moved_at: Instant::now() }
    }

    fn moved(&mut self) {
        self.moved_at = Instant::now();
    }

    /// `Pending` while there is time left; the timeout error once there is not.
    fn idle_check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            match self.timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    let deadline = self.moved_at + self.idle;
                    if deadline <= Instant::now() {
                        return Poll::Ready(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the connection was idle for too long",
                        ));
                    }
                    // Something moved since the timer was set: wait out the rest.
                    self.timer.as_mut().reset(deadline);
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.idle_check(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Ready(Ok(written)) => {
                if written > 0 {
                    self.moved();
                }
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => self.idle_check(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.stream).poll_flush(cx) {
            Poll::Pending => self.idle_check(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
