//! Group commit of audit records (L3): requests hand their event to one writer thread, which
//! takes everything queued, appends it in one transaction (one fsync), and only then answers
//! each request. Every issued token is on record before it is returned; throughput no longer
//! pays one commit per token.

use gatehouse_core::audit::AuditEvent;
use gatehouse_core::store::AuditStore;
use gatehouse_store::Store;
use gatehouse_types::ProtocolError;
use tokio::sync::{mpsc, oneshot};

/// At most this many records per transaction.
const MAX_BATCH: usize = 512;
/// Queue length before callers wait (back-pressure).
const QUEUE: usize = 8192;

type Reply = oneshot::Sender<Result<(), String>>;
type Append = (AuditEvent, Reply);

/// What the writer thread is asked to do.
enum Job {
    Append(Append),
    /// L4 readiness: one write transaction on the writer's own path.
    Probe(Reply),
}

/// Handle to the writer thread; it exits when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Job>,
}

/// Appends a batch in one transaction and answers each job. If the batch fails, its records
/// are appended one by one, so a record the database refuses fails its own request only.
fn write_batch(store: &Store, batch: Vec<Append>) {
    let (events, replies): (Vec<AuditEvent>, Vec<_>) = batch.into_iter().unzip();
    match store.append_audit_batch(&events) {
        Ok(()) => {
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
        }
        Err(e) if events.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(e.to_string()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, records = events.len(), "audit batch refused; appending its records one by one");
            for (event, reply) in events.into_iter().zip(replies) {
                let one = store.append_audit_batch(std::slice::from_ref(&event)).map_err(|e| e.to_string());
                let _ = reply.send(one);
            }
        }
    }
}

impl AuditWriter {
    /// Starts the writer thread on `store`.
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        std::thread::Builder::new().name("gatehouse-audit".into()).spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let (mut batch, mut probes) = (Vec::new(), Vec::new());
                let mut next = Some(first);
                while let Some(job) = next.take() {
                    match job {
                        Job::Append(append) => batch.push(append),
                        Job::Probe(reply) => probes.push(reply),
                    }
                    if batch.len() < MAX_BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                if !batch.is_empty() {
                    write_batch(&store, batch);
                }
                for reply in probes {
                    let _ = reply.send(store.write_probe(gatehouse_core::UnixTime::now().0).map_err(|e| e.to_string()));
                }
            }
        })?;
        Ok(Self { tx })
    }

    /// Appends `event` durably; returns once its transaction has committed.
    pub async fn append(&self, event: AuditEvent) -> Result<(), ProtocolError> {
        self.send(|reply| Job::Append((event, reply))).await
    }

    /// L4 readiness: a write transaction run by the writer thread, so it proves both that the
    /// thread takes work and that the database takes writes.
    pub async fn probe(&self) -> Result<(), ProtocolError> {
        self.send(Job::Probe).await
    }

    async fn send(&self, job: impl FnOnce(Reply) -> Job) -> Result<(), ProtocolError> {
        let (reply, done) = oneshot::channel();
        self.tx.send(job(reply)).await.map_err(|_| ProtocolError::server("audit writer stopped"))?;
        done.await.map_err(|_| ProtocolError::server("audit writer stopped"))?.map_err(ProtocolError::server)
    }
}
