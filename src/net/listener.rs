//! The accept loop in front of tonic. It caps open connections, closes sockets that never speak
//! HTTP/2 (or never finish TLS) within the handshake timeout, and backs off instead of spinning
//! when the process runs out of files. A connection is *pending* from accept until the peer has
//! sent the HTTP/2 preface; when every slot is taken, the oldest pending connection is closed
//! to make room, so idle sockets can never lock real callers out.
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::{Instant, Sleep};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use super::tls::TlsSettings;

/// The client's first bytes on an HTTP/2 connection: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".
const PREFACE_LEN: usize = 24;
/// How long a newcomer waits for the slot of a pending connection it displaced.
const EVICTION_WAIT: Duration = Duration::from_millis(100);
/// Backoff bounds after accept fails for lack of files or memory.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct ListenerSettings {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub tls: Option<TlsSettings>,
}

/// Accepts on `listener` in a task of its own and yields the connections tonic should serve.
/// The task (and the listening socket) ends when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    settings: ListenerSettings,
) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(accept_loop(listener, settings, tx));
    ReceiverStream::new(rx)
}

async fn accept_loop(
    listener: TcpListener,
    settings: ListenerSettings,
    tx: mpsc::Sender<io::Result<Conn>>,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let pending = Arc::new(Pending::default());
    let mut backoff = BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = tx.closed() => return,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => {
                backoff = BACKOFF_MIN;
                accepted
            }
            Err(e) if out_of_resources(&e) => {
                if backoff == BACKOFF_MIN {
                    tracing::warn!(error = %e, "cannot accept connections: out of files or memory; backing off");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
            // A peer that reset before we accepted it, and the like: nothing to wait for.
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        let Some(permit) = admit(&slots, &pending).await else {
            tracing::debug!(%remote, "connection refused: every slot holds a live HTTP/2 connection");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let info = TcpConnectInfo {
            local_addr: tcp.local_addr().ok(),
            remote_addr: Some(remote),
        };
        let deadline = Instant::now() + settings.handshake_timeout;
        let (id, evicted) = pending.register();
        let guard = PendingGuard {
            registry: pending.clone(),
            id,
            evicted,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            read: 0,
        };
        tokio::spawn(handshake(
            tcp,
            remote,
            info,
            settings.tls.clone(),
            guard,
            permit,
            tx.clone(),
        ));
    }
}

/// A slot for a new connection: a free one, or the one of the oldest pending connection.
async fn admit(slots: &Arc<Semaphore>, pending: &Pending) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = slots.clone().try_acquire_owned() {
        return Some(permit);
    }
    while pending.evict_oldest() {
        let freed = tokio::time::timeout(EVICTION_WAIT, slots.clone().acquire_owned()).await;
        if let Ok(Ok(permit)) = freed {
            return Some(permit);
        }
    }
    None
}

/// The TLS handshake when configured (bounded by the same deadline as the HTTP/2 preface),
/// then hands the connection to tonic.
async fn handshake(
    tcp: TcpStream,
    remote: SocketAddr,
    info: TcpConnectInfo,
    tls: Option<TlsSettings>,
    mut guard: PendingGuard,
    permit: OwnedSemaphorePermit,
    tx: mpsc::Sender<io::Result<Conn>>,
) {
    let io = match tls {
        None => Io::Plain(tcp),
        Some(tls) => {
            let accept = tokio::time::timeout_at(guard.deadline.deadline(), tls.accept(tcp));
            let finished = tokio::select! {
                finished = accept => finished,
                _ = &mut guard.evicted => return,
            };
            match finished {
                Ok(Ok(stream)) => Io::Tls(Box::new(stream)),
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    let conn = Conn {
        io,
        info,
        pending: Some(guard),
        _permit: permit,
    };
    let _ = tx.send(Ok(conn)).await;
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM: retrying at once only spins; waiting lets connections end.
fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The pending connections, oldest first, each with the sender that closes it.
#[derive(Default)]
struct Pending {
    next: AtomicU64,
    waiting: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
}

impl Pending {
    fn register(&self) -> (u64, oneshot::Receiver<()>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        (id, rx)
    }

    /// Tells the oldest pending connection still there to close; false when there is none.
    fn evict_oldest(&self) -> bool {
        let mut waiting = self.lock();
        while let Some((_, close)) = waiting.pop_first() {
            if close.send(()).is_ok() {
                return true;
            }
        }
        false
    }

    fn forget(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, oneshot::Sender<()>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection's pending state: dropped (and forgotten by the registry) once it has spoken.
struct PendingGuard {
    registry: Arc<Pending>,
    id: u64,
    evicted: oneshot::Receiver<()>,
    deadline: Pin<Box<Sleep>>,
    read: usize,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.registry.forget(self.id);
    }
}

enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// An accepted connection, holding its slot until hyper drops it.
pub struct Conn {
    io: Io,
    info: TcpConnectInfo,
    pending: Option<PendingGuard>,
    _permit: OwnedSemaphorePermit,
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let read = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        let Some(guard) = this.pending.as_mut() else {
            return read;
        };
        match read {
            Poll::Ready(Ok(())) => {
                guard.read += buf.filled().len() - before;
                if guard.read >= PREFACE_LEN {
                    this.pending = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if Pin::new(&mut guard.evicted).poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "closed to make room: no HTTP/2 preface yet",
                    )));
                }
                if guard.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no HTTP/2 preface within the handshake timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
