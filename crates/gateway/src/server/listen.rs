//! Serving connections with limits a slow or hostile client cannot wear
//! out: at most `max_connections` at once (more wait in the listen queue),
//! each request's headers within `header_read_timeout` of the connection
//! starting to wait for them (which also closes a kept-alive connection that
//! sits idle that long), and no connection silent in both directions for
//! longer than `idle_timeout` (a stalled body, a client that does not read
//! its answer). A body that trickles in is answered 408 by the operation
//! handler (`body_read_timeout`).
//!
//! Connections are served on `workers` threads, each a single-threaded
//! runtime that runs a connection's calls from start to end ([`Workers`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
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
    let workers = Workers::start(limits.workers)?;
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
        let (http, app, idle) = (http.clone(), app.clone(), limits.idle_timeout);
        let connection = move |stream: TcpStream| async move {
            let io = TokioIo::new(Watched::new(stream, idle));
            if let Err(error) = http.serve_connection(io, app).await {
                tracing::debug!(%peer, %error, "connection ended");
            }
            drop(permit);
        };
        match &workers {
            None => drop(tokio::spawn(connection(stream))),
            Some(workers) => workers.hand(stream, connection),
        }
    }
}

/// Threads that serve connections, each on a single-threaded runtime of its
/// own, and the next to be given one.
///
/// A connection stays on its thread: its requests, their code and their
/// backend calls (the egress client keeps a connection pool per such
/// thread) run there, with no task woken on another thread, no work
/// stealing, and memory freed by the thread that allocated it. On the
/// benches' two cores this cut the CPU of a call without code by about a
/// tenth against one multi-threaded runtime. Connections are given out in
/// turn. A thread ends once `serve` has returned and its last connection
/// has closed.
struct Workers {
    threads: Vec<(tokio::runtime::Handle, Open)>,
    next: std::sync::atomic::AtomicUsize,
}

/// Held by `serve` and by each connection of a worker: the worker's thread
/// ends when the last one is dropped.
type Open = tokio::sync::mpsc::Sender<()>;

impl Workers {
    /// `count` threads, which log where the caller logs; `None` when
    /// `count` is 0.
    fn start(count: usize) -> io::Result<Option<Self>> {
        if count == 0 {
            return Ok(None);
        }
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (open, mut closed) = tokio::sync::mpsc::channel::<()>(1);
            threads.push((runtime.handle().clone(), open));
            let dispatch = dispatch.clone();
            std::thread::Builder::new().name(format!("sluice-worker-{index}")).spawn(move || {
                // A subscriber the caller scoped to its thread (a test's) is
                // this thread's too; the global one applies anyway.
                let _logging = (!dispatch.is::<tracing::subscriber::NoSubscriber>())
                    .then(|| tracing::dispatcher::set_default(&dispatch));
                // Runs until every sender is gone: `serve`'s, then each
                // connection's.
                runtime.block_on(async move { while closed.recv().await.is_some() {} });
            })?;
        }
        Ok(Some(Self { threads, next: std::sync::atomic::AtomicUsize::new(0) }))
    }

    /// Moves `stream` to the next thread and serves it there with `serve`.
    fn hand<F, Fut>(&self, stream: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // Registered with this runtime's reactor; the worker's takes it over.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => return tracing::warn!(%error, "cannot hand a connection to a worker"),
        };
        let index = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.threads.len();
        let (runtime, open) = &self.threads[index];
        let open = open.clone();
        runtime.spawn(async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => serve(stream).await,
                Err(error) => tracing::warn!(%error, "a worker cannot take a connection"),
            }
            drop(open);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers with the name of the thread that served the request, and
    /// logs that it did.
    #[derive(Clone)]
    struct WhichThread;

    impl hyper::service::Service<http::Request<hyper::body::Incoming>> for WhichThread {
        type Response = axum::response::Response;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn call(&self, _: http::Request<hyper::body::Incoming>) -> Self::Future {
            let name = std::thread::current().name().unwrap_or("unnamed").to_string();
            tracing::info!(thread = %name, "served");
            std::future::ready(Ok(axum::response::Response::new(axum::body::Body::from(name))))
        }
    }

    /// Starts serving `WhichThread` with `workers`; stops when `stop` is sent.
    async fn start(workers: usize) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let limits = RequestLimits { workers, ..RequestLimits::default() };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, WhichThread, limits, async move { drop(stopped.await) }));
        (address, stop)
    }

    /// One request on a kept-alive connection: the thread that answered.
    async fn which(stream: &mut TcpStream) -> String {
        stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut answer = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        text.rsplit("\r\n").next().unwrap().to_string()
    }

    #[tokio::test]
    async fn connections_go_to_the_workers_in_turn_and_stay_there() {
        let (address, _stop) = start(2).await;
        let mut first = TcpStream::connect(address).await.unwrap();
        let mut second = TcpStream::connect(address).await.unwrap();
        let (a, b) = (which(&mut first).await, which(&mut second).await);
        assert_eq!([a.as_str(), b.as_str()], ["sluice-worker-0", "sluice-worker-1"]);
        for _ in 0..3 {
            assert_eq!(which(&mut first).await, a);
            assert_eq!(which(&mut second).await, b);
        }
        let mut third = TcpStream::connect(address).await.unwrap();
        assert_eq!(which(&mut third).await, a);
    }

    #[tokio::test]
    async fn without_workers_the_callers_runtime_serves() {
        let (address, _stop) = start(0).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        let here = std::thread::current().name().unwrap_or("unnamed").to_string();
        assert_eq!(which(&mut stream).await, here);
    }

    #[tokio::test]
    async fn an_open_connection_outlives_the_shutdown_and_new_ones_are_refused() {
        let (address, stop) = start(2).await;
        let mut open = TcpStream::connect(address).await.unwrap();
        let worker = which(&mut open).await;
        stop.send(()).unwrap();
        // The listener is closed once `serve` has returned.
        let refused = async {
            while TcpStream::connect(address).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), refused).await.expect("the listener closes");
        assert_eq!(which(&mut open).await, worker);
    }

    /// A log writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn workers_log_where_the_server_s_starter_logs() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let _scoped = tracing::subscriber::set_default(subscriber);
        let (address, _stop) = start(1).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        assert_eq!(which(&mut stream).await, "sluice-worker-0");
        let logged = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("served thread=sluice-worker-0"), "{logged}");
    }
}
