//! The real Sensors Analytics SDKs as test clients: runs the drivers in `tests/sdk` (sa-sdk-node,
//! sensorsanalyticssdk, sa-sdk-javascript under jsdom) against a running slog and returns what
//! each reports it sent. `scripts/install-sdk-deps.sh` installs the SDKs.
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// One SDK, as a driver runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    Node,
    Python,
    /// sa-sdk-javascript in one of its send modes: `image`, `ajax`, `beacon` or `batch`.
    Web(&'static str),
}

impl Sdk {
    /// The slog client type (`ct`) its events get.
    pub fn client_type(self) -> i64 {
        match self {
            Sdk::Web(_) => 100,
            Sdk::Node | Sdk::Python => 1,
        }
    }

    /// The `lib` its events carry.
    pub fn lib(self) -> &'static str {
        match self {
            Sdk::Web(_) => "js",
            Sdk::Node => "Node",
            Sdk::Python => "python",
        }
    }
}

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sdk")
}

/// Runs `sdk`'s scenario against `server_url` (e.g. `http://127.0.0.1:PORT/sa?project=zhibo`)
/// under `run_id`, and returns the driver's summary line. Panics with the driver's output when
/// the SDK reported a failed send.
pub fn run(sdk: Sdk, server_url: &str, run_id: &str) -> Value {
    let dir = sdk_dir();
    assert!(
        dir.join("node_modules").exists(),
        "{} has no node_modules: run scripts/install-sdk-deps.sh (scripts/test.sh does)",
        dir.display()
    );
    let mut command = match sdk {
        Sdk::Node => {
            let mut c = Command::new("node");
            c.arg(dir.join("node-sdk.js"));
            c
        }
        Sdk::Web(_) => {
            let mut c = Command::new("node");
            c.arg(dir.join("web-sdk.js"));
            c
        }
        Sdk::Python => {
            let venv = std::env::var("SLOG_SDK_VENV").map_or_else(
                |_| {
                    PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/slog-sdk-venv")
                },
                PathBuf::from,
            );
            let mut c = Command::new(venv.join("bin/python"));
            c.arg(dir.join("python-sdk.py"));
            c
        }
    };
    command.args([server_url, run_id]);
    if let Sdk::Web(mode) = sdk {
        command.arg(mode);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run the {sdk:?} driver: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the {sdk:?} driver failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{sdk:?} summary {line:?}: {e}"))
}
