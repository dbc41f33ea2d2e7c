//! Helpers for the end-to-end tests: the real `slog` binary, a real tansu broker, Kafka clients.
//!
//! Nothing here is a fake: `Slog` runs the binary cargo built (listening on port 0 and reporting
//! its address in its log), `Broker` runs tansu (a Kafka-protocol broker) on a free loopback port.
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The `slog` binary built for this test run. `SLOG_BIN` overrides; otherwise it sits next to the
/// test executable's `deps/` folder (target/<profile>/slog), built by `cargo build` before tests.
pub fn slog_bin() -> PathBuf {
    if let Ok(path) = std::env::var("SLOG_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("slog");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build -p slog-router) or set SLOG_BIN",
        bin.display()
    );
    bin
}

/// A running slog process with its own working directory (so `data/` is private to the test).
pub struct Slog {
    child: Child,
    pub addr: SocketAddr,
    pub workdir: tempfile::TempDir,
    logs: Arc<Mutex<Vec<String>>>,
    /// The environment it was started with, for a restart.
    env: Vec<(String, String)>,
}

impl Slog {
    /// Starts `slog serve` with `config` as its config file, on a free port.
    pub fn start(config: &str) -> Slog {
        Self::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Slog {
        let workdir = tempfile::tempdir().expect("temp dir");
        std::fs::write(workdir.path().join("slog.toml"), config).expect("write config");
        Self::launch(workdir, env)
    }

    /// Kills the process (SIGKILL: no flush, no goodbye) and starts a new one on the same
    /// working directory and config, as a supervisor would after a crash.
    pub fn crash_and_restart(mut self) -> Slog {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let workdir = std::mem::replace(&mut self.workdir, tempfile::tempdir().expect("temp dir"));
        let env = std::mem::take(&mut self.env);
        drop(self);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Self::launch(workdir, &env)
    }

    fn launch(workdir: tempfile::TempDir, env: &[(&str, &str)]) -> Slog {
        let config_path = workdir.path().join("slog.toml");
        let mut child = Command::new(slog_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config_path)
            .current_dir(workdir.path())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn slog");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = addr_tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "slog did not start listening; its log:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        Slog {
            child,
            addr,
            workdir,
            logs,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The lines of `data/<topic>.jsonl` (file sink), parsed.
    pub fn file_records(&self, topic: &str) -> Vec<Value> {
        let path = self
            .workdir
            .path()
            .join("data")
            .join(format!("{topic}.jsonl"));
        match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).expect("each line is JSON"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        wait_exit(&mut self.child, timeout)
            .unwrap_or_else(|| panic!("slog did not exit in {timeout:?}; log:\n{}", self.logs()))
    }
}

impl Drop for Slog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A tansu broker (Kafka protocol) with in-memory storage on a free loopback port.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
}

impl Broker {
    pub fn start() -> Broker {
        let mut broker = Self::reserve();
        broker.resume();
        broker
    }

    /// Picks the broker's port without starting it (to test a slog that starts before its broker).
    pub fn reserve() -> Broker {
        Broker {
            child: None,
            port: free_port(),
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (its in-memory topics are gone with it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the broker (SIGSTOP): connections stay open and nothing answers, as in a network
    /// partition or a broker stuck in a pause; its data stays.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen broker run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("broker running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Starts the broker again on the same port.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into()))
            .args(["broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tansu: is it installed? scripts/test.sh installs it");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates `topics` with `partitions` partitions each (tansu does not auto-create topics).
pub async fn create_topics(bootstrap: &str, topics: &[&str], partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin
        .create_topics(&new, &options)
        .await
        .expect("create topics")
    {
        result.expect("topic created");
    }
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub partition: i32,
    pub key: Option<String>,
    pub value: Value,
}

/// Reads `topic` from the beginning of all its partitions until `expected` records arrived or
/// `timeout` passed; returns what was read.
pub fn consume(bootstrap: &str, topic: &str, expected: usize, timeout: Duration) -> Vec<Consumed> {
    consume_until(bootstrap, topic, expected, timeout, None)
}

/// Like [`consume`], then goes on reading until nothing new arrived for `quiet`: everything the
/// topic holds, duplicates included.
pub fn consume_all(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
    quiet: Duration,
) -> Vec<Consumed> {
    consume_until(bootstrap, topic, expected, timeout, Some(quiet))
}

fn consume_until(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
    quiet: Option<Duration>,
) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("slog-test-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let mut assignment = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("add partition");
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut last_arrival = Instant::now();
    loop {
        let wanted = out.len() < expected;
        let still_arriving = quiet.is_some_and(|q| last_arrival.elapsed() < q);
        if !(wanted || still_arriving) || Instant::now() >= deadline {
            break;
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                last_arrival = Instant::now();
                out.push(Consumed {
                    partition: m.partition(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    value: serde_json::from_slice(m.payload().expect("payload"))
                        .expect("JSON value"),
                })
            }
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
    }
    out
}

/// Reads a required environment variable that scripts/test.sh exports.
fn required_env(name: &str, what: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the {what} tests need it. Run them through scripts/test.sh, which \
             starts MariaDB and Redis and exports SLOG_TEST_MYSQL_URL and SLOG_TEST_REDIS_URL"
        )
    })
}

/// A name part no other test (in this process or another one) uses: `<pid>_<nanos>_<counter>`.
fn unique_suffix(separator: char) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{}{separator}{nanos}{separator}{n}", std::process::id())
}

/// Creates a fresh, empty MariaDB/MySQL database on the server `SLOG_TEST_MYSQL_URL` names
/// (a URL without a database, e.g. `mysql://slog:slog@127.0.0.1:3306`) and returns its full
/// URL, `<base>/<dbname>`. Each call gets its own database, so tests never share a registry.
pub async fn mysql_test_database() -> String {
    let base = required_env("SLOG_TEST_MYSQL_URL", "MySQL registry");
    let base = base.trim_end_matches('/').to_owned();
    let name = format!("slog_t_{}", unique_suffix('_'));
    let pool = sqlx::mysql::MySqlPool::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("connect to {base}: {e} (scripts/test.sh starts MariaDB)"));
    sqlx::raw_sql(&format!("CREATE DATABASE `{name}`"))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    pool.close().await;
    format!("{base}/{name}")
}

/// Runs one SQL statement on the database at `url` (e.g. to break a registry on purpose).
pub async fn mysql_execute(url: &str, sql: &str) {
    let pool = sqlx::mysql::MySqlPool::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    sqlx::raw_sql(sql)
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
}

/// The Redis server of the tests, `SLOG_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`).
pub fn redis_test_url() -> String {
    required_env("SLOG_TEST_REDIS_URL", "Redis registry cache")
}

/// A Redis key prefix of its own (`slogtest:<pid>:<nanos>:<n>:`) for `registry.redis_key_prefix`,
/// so tests sharing one Redis never see each other's keys.
pub fn unique_prefix() -> String {
    format!("slogtest:{}:", unique_suffix(':'))
}
