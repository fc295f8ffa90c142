//! The pipeline: readers send [`Batch`]es into a bounded queue; worker
//! threads parse them into deltas; one aggregator commits them.

pub mod aggregator;
pub mod batch;
pub mod metrics;
pub mod names;
pub mod route;
pub mod worker;

use std::sync::Arc;

pub use batch::{Ack, Batch, BatchBuilder, Counted, Progress, Record, ShippedTime, SourceContext, SourceId};
pub use route::{Parser, ParserHandle, Parsers, Plugins, Router};

use crate::config::Settings;
use crate::model::Delta;
use crate::store::Store;

/// A parsed batch, on its way to the aggregator.
#[derive(Debug)]
pub struct Done {
    pub source: SourceId,
    pub seq: u64,
    pub progress: Progress,
    pub delta: Delta,
    pub ack: Option<Ack>,
}

/// A running pipeline. Sources send into [`Pipeline::batches`]; once every
/// sender is dropped, [`Pipeline::finish`] waits for the last commit.
pub struct Pipeline {
    pub batches: async_channel::Sender<Batch>,
    /// Whether commits go through.
    pub health: Arc<aggregator::CommitHealth>,
    /// What was committed, and how commits went (`/metrics`).
    pub metrics: Arc<metrics::PipelineMetrics>,
    workers: Vec<std::thread::JoinHandle<()>>,
    aggregator: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Pipeline {
    /// Starts the workers and the aggregator, which commits to `store`
    /// (numbering its commits on from the last one there).
    pub fn start(store: Arc<dyn Store>, settings: &Settings) -> anyhow::Result<Pipeline> {
        let last_seq = store.last_commit_seq()?;
        let caps = names::NameCaps::load(
            store.as_ref(),
            settings.pipeline.max_services,
            settings.pipeline.max_components_per_service,
        )?;
        let health = Arc::new(aggregator::CommitHealth::new(last_seq));
        let metrics = Arc::new(metrics::PipelineMetrics::default());
        let queue_batches = settings.pipeline.queue_batches;
        let (batches, batch_queue) = async_channel::bounded(queue_batches);
        let (done_tx, done_rx) = async_channel::bounded(queue_batches);
        let workers = (0..settings.workers())
            .map(|i| {
                let (batch_queue, done_tx) = (batch_queue.clone(), done_tx.clone());
                std::thread::Builder::new()
                    .name(format!("parser-{i}"))
                    .spawn(move || worker::run_worker(batch_queue, done_tx))
            })
            .collect::<Result<_, _>>()?;
        let aggregator = tokio::spawn(aggregator::run_aggregator(
            done_rx,
            store,
            settings.commit_interval(),
            last_seq,
            caps,
            health.clone(),
            metrics.clone(),
        ));
        Ok(Pipeline {
            batches,
            health,
            metrics,
            workers,
            aggregator,
        })
    }

    /// Closes the queue, lets the workers finish every queued batch, and
    /// waits for the aggregator's last commit.
    pub async fn finish(self) -> anyhow::Result<()> {
        drop(self.batches);
        let workers = self.workers;
        // Joined on a thread of its own, not a blocking task: the runtime
        // waits for its blocking tasks when it stops, so a worker stuck in a
        // plugin would hold the process past the shutdown timeout.
        let (joined, all_joined) = tokio::sync::oneshot::channel();
        std::thread::Builder::new().name("parser-join".into()).spawn(move || {
            for worker in workers {
                let _ = worker.join();
            }
            let _ = joined.send(());
        })?;
        let _ = all_joined.await;
        self.aggregator.await?
    }
}
