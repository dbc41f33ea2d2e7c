//! `slog serve`: builds the sink and the service from the config (`assemble`), serves HTTP,
//! shuts down gracefully.
//!
//! Shutdown on SIGTERM or SIGINT: stop accepting connections, let in-flight requests finish (at
//! most `server.shutdown_grace_secs`), then flush and close the sink, so no accepted event is lost.
use crate::admin;
use crate::admission::Admission;
use crate::config::Config;
use crate::enrich::Enrichers;
use crate::http;
use crate::identity;
use crate::metadata::Registry;
use crate::pipeline::records::RecordBuilder;
use crate::pipeline::{merge_resender, session_sweeper, IdentityStage, Pipeline, Stages};
use crate::plugins::sessions::config::SessionStorePlaces;
use crate::plugins::{self, PluginHost};
use crate::reports::Reports;
use crate::sink;
use crate::state::{AppState, Limits, Shared};
use crate::warehouse;
use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = admin::metrics::install().context("installing the metrics recorder")?;
    let topics = RecordBuilder::new(&config.routing).topics();
    let sink = sink::build(&config.sink, &topics)
        .await
        .context("starting the sink")?;
    let service = assemble(&config, sink.clone(), Some(metrics)).await?;
    let loader = start_loader(&config).await?;
    let app = service
        .app
        .layer(tower_http::trace::TraceLayer::new_for_http());

    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to learn the port when listening on port 0.
    tracing::info!(sink = sink.name(), "listening on http://{addr}");

    let (stop_tx, mut stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut graceful_rx = stop_rx.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = graceful_rx.wait_for(|stop| *stop).await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
    });
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let forced = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served.context("serving HTTP")?,
        () = forced => tracing::warn!(?grace, "in-flight requests did not finish in time"),
    }

    drop(service.watcher);
    sink.close().await.context("flushing the sink")?;
    tracing::info!("sink flushed");
    if let Some((stop, task)) = loader {
        let _ = stop.send(true);
        let _ = task.await;
    }
    tracing::info!("bye");
    Ok(())
}

/// `slog load`: the warehouse loader on its own, until SIGTERM or SIGINT.
pub async fn load(config: Config) -> anyhow::Result<()> {
    let loader = build_loader(&config).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(loader.run(stop_rx));
    wait_for_signal().await;
    let _ = stop_tx.send(true);
    task.await.context("the loader task")??;
    Ok(())
}

/// One of the two loaders: the file sink's files into SQLite, or the Kafka topics into ClickHouse.
enum AnyLoader {
    Files(warehouse::loader::Loader),
    Kafka(warehouse::kafka_loader::KafkaLoader),
}

impl AnyLoader {
    async fn run(self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        match self {
            AnyLoader::Files(loader) => loader.run(stop).await,
            AnyLoader::Kafka(loader) => loader.run(stop).await?,
        }
        Ok(())
    }
}

/// The loader the config describes: the store (`warehouse.url`) decides, and the sink must be
/// the one that store is fed from.
async fn build_loader(config: &Config) -> anyhow::Result<AnyLoader> {
    let topics = [
        config.routing.track_topic.as_str(),
        config.routing.profile_topic.as_str(),
    ];
    match (config.warehouse.store(), config.sink.kind) {
        (warehouse::Store::Sqlite, sink::SinkKind::File) => Ok(AnyLoader::Files(
            warehouse::file_loader(
                &config.warehouse,
                &config.sink.file.dir,
                topics[0],
                topics[1],
            )
            .await
            .context("opening the warehouse")?,
        )),
        (warehouse::Store::ClickHouse, sink::SinkKind::Kafka) => Ok(AnyLoader::Kafka(
            warehouse::kafka_loader(
                &config.warehouse,
                &config.sink.kafka.brokers,
                &config.sink.kafka.properties,
                &topics,
            )?,
        )),
        (warehouse::Store::Sqlite, kind) => anyhow::bail!(
            "the SQLite warehouse is loaded from the file sink's files: sink.kind must be \"file\", not {kind:?}"
        ),
        (warehouse::Store::ClickHouse, kind) => anyhow::bail!(
            "the ClickHouse warehouse is loaded from the Kafka topics: sink.kind must be \"kafka\", not {kind:?}"
        ),
    }
}

/// With `warehouse.load`, the loader runs beside the server when the sink feeds the store
/// (file → SQLite, Kafka → ClickHouse); it stops after the sink is flushed.
async fn start_loader(
    config: &Config,
) -> anyhow::Result<Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>> {
    let feeds = matches!(
        (config.warehouse.store(), config.sink.kind),
        (warehouse::Store::Sqlite, sink::SinkKind::File)
            | (warehouse::Store::ClickHouse, sink::SinkKind::Kafka)
    );
    if !config.warehouse.load || !feeds {
        return Ok(None);
    }
    let loader = build_loader(config).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        if let Err(e) = loader.run(stop_rx).await {
            tracing::error!(error = %e, "the warehouse loader stopped");
        }
    });
    Ok(Some((stop_tx, task)))
}

/// The HTTP application of a config, with its background tasks running (registry refresh, GeoIP
/// checks, plugin ticker, watcher and session sweeper).
pub struct Service {
    /// The routes, state applied; serve it with connect info (`ConnectInfo<SocketAddr>`).
    pub app: axum::Router,
    pub state: AppState,
    /// Reloads plugins on file changes while it lives.
    pub watcher: Option<plugins::watcher::Watcher>,
}

/// Builds everything `config` describes around `sink` (which the caller built and closes):
/// what `serve` runs, and what in-process tests drive with `tower::ServiceExt::oneshot`.
/// `metrics` renders `/metrics`; `None` answers it with 404.
pub async fn assemble(
    config: &Config,
    sink: Arc<dyn sink::Sink>,
    metrics: Option<PrometheusHandle>,
) -> anyhow::Result<Service> {
    let registry = Registry::open(&config.registry)
        .await
        .context("opening the metadata registry")?;
    registry.spawn_background(Duration::from_millis(config.registry.refresh_interval_ms));
    let enrichers = Arc::new(Enrichers::new(&config.enrich)?);
    enrichers.spawn_geo_watch(Duration::from_secs(config.enrich.geoip_check_secs));
    let stages = Stages::new(
        &config.routing,
        &config.registry,
        enrichers.clone(),
        config.enrich.first_referrer_profile,
    );
    let identity = if config.identity.enabled {
        let resolver = identity::open(&config.identity, &config.registry)
            .await
            .context("opening the identity store")?;
        Some(IdentityStage::new(
            Arc::new(resolver),
            config.identity.on_store_error,
        ))
    } else {
        None
    };
    let plugins = start_plugins(config).await?;
    let admin_token = config.admin.token.as_deref().filter(|t| !t.is_empty());
    let reports = if config.reports.enabled {
        let reports = Reports::open(&config.reports, &config.warehouse.url, admin_token)
            .await
            .context("opening the warehouse for reports")?;
        Some(Arc::new(reports))
    } else {
        None
    };
    let admission = Arc::new(Admission::new(&config.limits));
    spawn_forgetting(admission.clone());
    let pipeline = Arc::new(
        Pipeline::new(
            stages,
            registry.clone(),
            plugins.host.clone(),
            identity.clone(),
            sink.clone(),
        )
        .with_project_rate(admission.per_project.clone()),
    );
    session_sweeper::spawn(
        pipeline.clone(),
        Duration::from_millis(config.plugins.session_sweep_ms),
    );
    if config.identity.enabled {
        merge_resender::spawn(
            pipeline.clone(),
            Duration::from_millis(config.identity.merge_resend_interval_ms),
            Duration::from_millis(config.identity.merge_resend_after_ms),
        );
    }
    let state = AppState::new(Shared {
        plugins: plugins.host,
        pipeline,
        registry,
        enrichers,
        sink,
        identity,
        admin_token: admin_token.map(Arc::from),
        reports,
        sensors: config
            .sensors
            .enabled
            .then(|| Arc::new(config.sensors.clone())),
        limits: Limits {
            max_body_bytes: config.server.max_body_bytes,
            max_decoded_bytes: config.server.max_decoded_bytes,
            max_batch_events: config.server.max_batch_events,
            max_string_bytes: config.server.max_string_bytes,
        },
        admission,
        metrics,
        http_metrics: Arc::default(),
    });
    Ok(Service {
        app: http::app(state.clone(), &config.server.cors_allowed_origins),
        state,
        watcher: plugins.watcher,
    })
}

/// Drops the rate state of quiet clients and projects once a minute, so that it stays as large
/// as the set of recent clients rather than of every address ever seen.
fn spawn_forgetting(admission: Arc<Admission>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            admission.forget_idle();
        }
    });
}

/// The plugin host and what keeps it current.
struct Plugins {
    host: Arc<PluginHost>,
    watcher: Option<plugins::watcher::Watcher>,
}

/// Loads plugins.toml and starts the epoch ticker and the file watcher. A chain that does not
/// load is reported and slog serves without plugins until a reload works.
async fn start_plugins(config: &Config) -> anyhow::Result<Plugins> {
    let settings = &config.plugins;
    let places = SessionStorePlaces {
        database_url: config
            .identity
            .url
            .as_deref()
            .unwrap_or(&config.registry.url),
        redis_url: config
            .identity
            .redis_url
            .as_deref()
            .or(config.registry.redis_url.as_deref()),
        redis_key_prefix: &config.registry.redis_key_prefix,
    };
    let sessions = plugins::sessions::config::open(settings.session_store, &places).await?;
    tracing::info!(
        store = sessions.name(),
        "plugin sessions kept in the {} store",
        sessions.name()
    );
    let host = Arc::new(
        PluginHost::with_sessions(settings, sessions).context("starting the plugin engine")?,
    );
    host.engine()
        .spawn_ticker(Duration::from_millis(settings.epoch_tick_ms));
    // The error is logged and shown in GET /admin/plugins by the host itself.
    let _ = host.reload();
    let watcher = if settings.watch {
        let debounce = Duration::from_millis(settings.debounce_ms);
        match plugins::watcher::watch(host.clone(), debounce) {
            Ok(watcher) => Some(watcher),
            Err(e) => {
                tracing::warn!(error = %e, "plugin files are not watched; use POST /admin/plugins/reload");
                None
            }
        }
    } else {
        None
    };
    Ok(Plugins { host, watcher })
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
