//! `http-ceiling`: the HTTP ceiling of the benchmark — the fastest any axum service on this
//! machine can take `POST /slog/event`.
//!
//! It does what slog's handler must do at the least (read the whole body, answer 200 with a small
//! JSON body) on the same stack slog runs on (axum, hyper, a multi-threaded tokio runtime with the
//! default worker count), and nothing else: slog's throughput divided by this one is the share the
//! HTTP layer leaves to slog's own work. Prints `listening on http://ADDR` on stderr, like slog,
//! so scripts find the port when listening on port 0.
use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::routing::post;
use axum::Router;
use clap::Parser;
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    name = "http-ceiling",
    about = "axum server that reads the body and answers 200"
)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

/// The extractor has already read the whole body; the answer is slog's for one accepted event.
async fn accept(
    _body: Bytes,
) -> (
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    &'static str,
) {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"accepted":1}"#,
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Batches of 100 events are ~105 KB; allow what slog allows (server.max_body_bytes).
    let app = Router::new()
        .route("/slog/event", post(accept))
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20));
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        })
        .await?;
    Ok(())
}
