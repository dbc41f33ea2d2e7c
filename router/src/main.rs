//! The `slog` command line. Parsing and logging set-up only; the work lives in the library.
use anyhow::Context;
use clap::{Parser, Subcommand};
use slog_router::config::{Config, LogFormat};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

// Requests allocate and free many small JSON values across worker threads; glibc's allocator
// was a large share of slog's profile under load, mimalloc a small one (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "slog", version, about = "slog: the event-tracking router")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve POST /slog/event and the operator endpoints.
    Serve {
        /// The config file (TOML); SLOG_* environment variables override its keys.
        #[arg(long, short, default_value = "config/slog.toml")]
        config: PathBuf,
        /// Listen address; overrides server.listen (use port 0 for any free port).
        #[arg(long, short)]
        listen: Option<SocketAddr>,
    },
    /// Load the topics into the warehouse (warehouse.url: the file sink's files into SQLite, or
    /// the Kafka topics into ClickHouse as a consumer group member) until SIGTERM or SIGINT;
    /// `slog serve` does the same itself when warehouse.load is true.
    Load {
        #[arg(long, short, default_value = "config/slog.toml")]
        config: PathBuf,
    },
    /// Create or upgrade the registry tables (and the tracking plan's preset rows) in registry.url, exit.
    Migrate {
        #[arg(long, short, default_value = "config/slog.toml")]
        config: PathBuf,
    },
    /// Load and validate a config file (with SLOG_* overrides), print the effective values, exit.
    CheckConfig {
        #[arg(long, short, default_value = "config/slog.toml")]
        config: PathBuf,
    },
    /// Operator and CI tools for WebAssembly plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Load a plugin as slog would (compile, link, start, run init with the settings) and print
    /// its hash, version and hooks; exit 1 with the reason when it would not load.
    Check {
        /// The component, e.g. plugins/dist/course_check.wasm.
        file: PathBuf,
        /// The settings to hand to init, as a JSON object (the plugins.toml entry's `settings`).
        #[arg(long, default_value = "{}")]
        settings: String,
        /// Take the sandbox limits ([plugins] memory cap, call timeout) from this config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve { config, listen } => {
            let mut config = load(&config)?;
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            init_logging(&config);
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(slog_router::server::serve(config))
        }
        Command::Load { config } => {
            let config = load(&config)?;
            init_logging(&config);
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(slog_router::server::load(config))
        }
        Command::Migrate { config } => {
            let config = load(&config)?;
            init_logging(&config);
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(async {
                let store =
                    slog_router::metadata::store::Store::connect(&config.registry.url).await?;
                store.migrate().await?;
                let version = store.version().await?;
                println!(
                    "registry at {} is migrated (registry version {version})",
                    redact(&config.registry.url)
                );
                anyhow::Ok(())
            })
        }
        Command::CheckConfig { config } => {
            let config = load(&config)?;
            println!("{config:#?}");
            Ok(())
        }
        Command::Plugin {
            command:
                PluginCommand::Check {
                    file,
                    settings,
                    config,
                },
        } => {
            let limits = match config {
                Some(path) => load(&path)?.plugins,
                None => Default::default(),
            };
            let report = slog_router::plugins::check::check(&file, &settings, &limits)
                .with_context(|| format!("{} is not a loadable slog plugin", file.display()))?;
            println!(
                "{}: ok\n  sha256  {}\n  size    {} bytes\n  version {}\n  hooks   {}",
                file.display(),
                report.sha256,
                report.bytes,
                report.version,
                report.hooks.join(", ")
            );
            Ok(())
        }
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path, std::env::vars()).with_context(|| {
        format!(
            "loading {} (run from the repository root, or pass --config)",
            path.display()
        )
    })
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
