//! ClickHouse over its HTTP interface: statements, `JSONEachRow` inserts and `JSONCompact`
//! selects. slog talks HTTP directly rather than through the `clickhouse` crate: the crate's
//! RowBinary protocol and query parameters need a far newer server than the 18.16 release
//! Debian ships (and the tests run), while the HTTP interface with quoted literals works on
//! every release from 18.x to current.
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// Longest a statement may take before the call fails (a report over months of events, a large
/// insert on a busy server).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("clickhouse url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("clickhouse unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("clickhouse refused the statement ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("clickhouse answer unreadable: {0}")]
    Answer(String),
}

/// One ClickHouse server and database, from `http://[user[:password]@]host:port/database`.
#[derive(Clone)]
pub struct ClickHouse {
    http: reqwest::Client,
    endpoint: Url,
    database: String,
    user: Option<(String, String)>,
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(
            f,
            "ClickHouse({} database {})",
            self.endpoint, self.database
        )
    }
}

impl ClickHouse {
    pub fn new(url: &str) -> Result<Self, ClickHouseError> {
        let bad = |reason: &str| ClickHouseError::Url {
            url: redacted(url),
            reason: reason.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad(
                "the scheme must be http or https (ClickHouse's HTTP interface)",
            ));
        }
        let database = parsed.path().trim_matches('/').to_owned();
        if database.is_empty()
            || !database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(bad(
                "the path must name the database (letters, digits, _), e.g. /slog",
            ));
        }
        let user = (!parsed.username().is_empty()).then(|| {
            (
                decode(parsed.username()),
                decode(parsed.password().unwrap_or("")),
            )
        });
        let mut endpoint = parsed.clone();
        endpoint.set_path("/");
        let _ = endpoint.set_username("");
        let _ = endpoint.set_password(None);
        endpoint.set_query(None);
        let http = reqwest::Client::builder()
            .timeout(STATEMENT_TIMEOUT)
            .build()
            .map_err(ClickHouseError::Transport)?;
        Ok(ClickHouse {
            http,
            endpoint,
            database,
            user,
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    fn request(&self, query: Option<&str>, database: bool) -> reqwest::RequestBuilder {
        let mut url = self.endpoint.clone();
        {
            let mut pairs = url.query_pairs_mut();
            if database {
                pairs.append_pair("database", &self.database);
            }
            // Numbers as JSON numbers, not quoted strings, in JSONCompact answers.
            pairs.append_pair("output_format_json_quote_64bit_integers", "0");
            // A report over many hours carries its period map as a literal array.
            pairs.append_pair("max_query_size", "16777216");
            if let Some(q) = query {
                pairs.append_pair("query", q);
            }
        }
        let request = self.http.post(url);
        match &self.user {
            Some((user, password)) => request
                .header("X-ClickHouse-User", user)
                .header("X-ClickHouse-Key", password),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<String, ClickHouseError> {
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(ClickHouseError::Refused {
                status: status.as_u16(),
                message: text.trim().chars().take(2000).collect(),
            });
        }
        Ok(text)
    }

    /// Runs a statement that returns nothing (DDL, `INSERT ... SELECT`).
    pub async fn execute(&self, sql: &str) -> Result<(), ClickHouseError> {
        self.send(self.request(None, true).body(sql.to_owned()))
            .await
            .map(drop)
    }

    /// Runs a statement outside the database (creating it).
    pub async fn execute_on_server(&self, sql: &str) -> Result<(), ClickHouseError> {
        self.send(self.request(None, false).body(sql.to_owned()))
            .await
            .map(drop)
    }

    /// Inserts `rows` (one JSON object per line) into `table`; returns when ClickHouse has
    /// acknowledged them.
    pub async fn insert(&self, table: &str, rows: String) -> Result<(), ClickHouseError> {
        if rows.is_empty() {
            return Ok(());
        }
        let query = format!("INSERT INTO {table} FORMAT JSONEachRow");
        self.send(self.request(Some(&query), true).body(rows))
            .await
            .map(drop)
    }

    /// Runs a SELECT and returns its rows, each a list of JSON values in column order.
    pub async fn select(&self, sql: &str) -> Result<Vec<Vec<Value>>, ClickHouseError> {
        let text = self
            .send(
                self.request(None, true)
                    .body(format!("{sql} FORMAT JSONCompact")),
            )
            .await?;
        let answer: Value =
            serde_json::from_str(&text).map_err(|e| ClickHouseError::Answer(e.to_string()))?;
        let Some(Value::Array(rows)) = answer.get("data").cloned() else {
            return Err(ClickHouseError::Answer("no `data` in the answer".into()));
        };
        rows.into_iter()
            .map(|row| match row {
                Value::Array(cells) => Ok(cells),
                other => Err(ClickHouseError::Answer(format!(
                    "a row is not a list: {other}"
                ))),
            })
            .collect()
    }
}

/// A string as a ClickHouse literal: quoted, with backslash and quote escaped (the server reads
/// backslash escapes in literals on every release).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The UTC date of an epoch-ms time as a literal for the `day` key column.
pub fn utc_day(ms: i64) -> String {
    let date = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_else(|| "1970-01-01".into());
    format!("toDate('{date}')")
}

/// `('a', 'b')`: a list of strings for `IN`.
pub fn quote_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(quote).collect();
    format!("({})", quoted.join(", "))
}

fn decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The URL with its password masked, for messages.
pub fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quote("it's"), r"'it\'s'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
        assert_eq!(quote("line\nnext"), r"'line\nnext'");
        assert_eq!(quote_list(["a", "b"]), "('a', 'b')");
    }

    #[test]
    fn the_url_names_server_database_and_user() {
        let ch = ClickHouse::new("http://reader:p%40ss@127.0.0.1:8123/slog").unwrap();
        assert_eq!(ch.database(), "slog");
        assert_eq!(ch.endpoint.as_str(), "http://127.0.0.1:8123/");
        assert_eq!(ch.user, Some(("reader".into(), "p@ss".into())));
        assert!(!format!("{ch:?}").contains("p@ss"));
        for bad in ["http://127.0.0.1:8123", "ftp://h/slog", "http://h/sl;og"] {
            assert!(ClickHouse::new(bad).is_err(), "{bad}");
        }
        assert_eq!(redacted("http://u:secret@h:1/db"), "http://u:***@h:1/db");
    }
}
