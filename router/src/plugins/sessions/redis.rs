//! Sessions in Redis, shared by every instance:
//! `<prefix>{sessions}:s:<member>` → `<version>|<entry JSON>`, and the sorted set
//! `<prefix>{sessions}:expiry` of members by expiry time, where a member is
//! `<length of the plugin name>:<plugin name><partition key>` (unambiguous whatever the key holds).
//! The hash tag keeps every session key in one slot, so the scripts also run on a cluster.
//!
//! A request's writes are one Lua script: it checks every version first and writes only when
//! none moved (all or nothing). The sweep is another script that takes expired members off the
//! set and deletes their sessions in one step, so a session expires into one sweeper's hands
//! only. Each session key also carries a Redis expiry a day past its own, so a session nobody
//! sweeps (every instance stopped for good) does not stay forever.
use super::{Committed, SessionEntry, SessionError, SessionKey, SessionStore, Stored, Write};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::collections::HashMap;
use std::time::Duration;

const REDIS_TIMEOUT: Duration = Duration::from_millis(1000);

/// How long Redis keeps a session past its expiry, in case no sweeper takes it.
const KEEP_PAST_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;

/// Latest Redis expiry set (2100-01-01): far-future session expiries stay exact in Lua numbers.
const LATEST_KEEP_MS: i64 = 4_102_444_800_000;

/// KEYS: the expiry set, then one session key per write. ARGV: five per write (the version
/// expected or '', the entry JSON, the Redis expiry, the session expiry, the member).
const COMMIT: &str = r"
local n = #KEYS - 1
local moved = {}
for i = 1, n do
  local base = 1 + (i - 1) * 5
  local cur = redis.call('GET', KEYS[i + 1])
  local expected = ARGV[base]
  local version = cur and string.match(cur, '^(%d+)|')
  if (expected == '' and cur) or (expected ~= '' and version ~= expected) then
    table.insert(moved, i)
  end
end
if #moved > 0 then return moved end
for i = 1, n do
  local base = 1 + (i - 1) * 5
  local expected = ARGV[base]
  local nextv = 1
  if expected ~= '' then nextv = tonumber(expected) + 1 end
  redis.call('SET', KEYS[i + 1], string.format('%d', nextv) .. '|' .. ARGV[base + 1], 'PXAT', ARGV[base + 2])
  redis.call('ZADD', KEYS[1], ARGV[base + 3], ARGV[base + 4])
end
return moved
";

const SWEEP: &str = r"
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, m in ipairs(members) do
  redis.call('ZREM', KEYS[1], m)
  local k = ARGV[3] .. m
  local v = redis.call('GET', k)
  if v then
    redis.call('DEL', k)
    table.insert(out, m)
    table.insert(out, v)
  end
end
return out
";

pub struct RedisSessions {
    client: redis::Client,
    /// Made on first use, so that slog starts while Redis is down (requests that step sessions
    /// are then answered 503 until it answers, as the registry and identity caches carry on).
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// `<prefix>{sessions}:s:`, the start of every session key.
    session_prefix: String,
    expiry: String,
    commit: Script,
    sweep: Script,
}

impl RedisSessions {
    /// A store on the Redis at `url`; a malformed URL is an error now, an unreachable Redis only
    /// when the store is used.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, SessionError> {
        let client = redis::Client::open(url)?;
        let store = RedisSessions {
            client,
            connection: tokio::sync::Mutex::new(None),
            session_prefix: format!("{prefix}{{sessions}}:s:"),
            expiry: format!("{prefix}{{sessions}}:expiry"),
            commit: Script::new(COMMIT),
            sweep: Script::new(SWEEP),
        };
        if let Err(e) = store.connection().await {
            tracing::warn!(error = %e, "session store: Redis unreachable at start; steps of sessions answer 503 until it answers");
        }
        Ok(store)
    }

    async fn connection(&self) -> Result<ConnectionManager, SessionError> {
        let mut connection = self.connection.lock().await;
        if let Some(c) = connection.as_ref() {
            return Ok(c.clone());
        }
        let c = timed(ConnectionManager::new(self.client.clone())).await??;
        *connection = Some(c.clone());
        Ok(c)
    }

    fn key(&self, member: &str) -> String {
        format!("{}{member}", self.session_prefix)
    }
}

fn member(key: &SessionKey) -> String {
    format!("{}:{}{}", key.plugin.len(), key.plugin, key.user)
}

/// The plugin name of a member.
fn plugin_of(member: &str) -> Option<&str> {
    let (length, rest) = member.split_once(':')?;
    rest.get(..length.parse::<usize>().ok()?)
}

/// `<version>|<entry JSON>`.
fn parse(plugin: &str, value: &str) -> Result<Stored, SessionError> {
    let corrupt = |reason: String| SessionError::Corrupt {
        plugin: plugin.to_owned(),
        reason,
    };
    let (version, json) = value
        .split_once('|')
        .ok_or_else(|| corrupt("no version".into()))?;
    Ok(Stored {
        version: version.parse().map_err(|_| corrupt("bad version".into()))?,
        entry: serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?,
    })
}

#[async_trait]
impl SessionStore for RedisSessions {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn load(&self, keys: &[SessionKey]) -> Result<HashMap<SessionKey, Stored>, SessionError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let names: Vec<String> = keys.iter().map(|k| self.key(&member(k))).collect();
        let mut c = self.connection().await?;
        // MGET with one key answers a bare value in some clients: ask for a list either way.
        let values: Vec<Option<String>> = timed(c.mget(&names)).await??;
        let mut loaded = HashMap::with_capacity(keys.len());
        for (key, value) in keys.iter().zip(values) {
            if let Some(value) = value {
                loaded.insert(key.clone(), parse(&key.plugin, &value)?);
            }
        }
        Ok(loaded)
    }

    async fn commit(&self, writes: &[Write]) -> Result<Committed, SessionError> {
        if writes.is_empty() {
            return Ok(Committed::Done);
        }
        let now = crate::clock::now_ms();
        let mut invocation = self.commit.prepare_invoke();
        invocation.key(&self.expiry);
        for write in writes {
            let member = member(&write.key);
            let keep = write
                .entry
                .expires_at
                .max(now)
                .saturating_add(KEEP_PAST_EXPIRY_MS)
                .clamp(1, LATEST_KEEP_MS);
            invocation.key(self.key(&member));
            invocation.arg(write.expected.map(|v| v.to_string()).unwrap_or_default());
            invocation
                .arg(serde_json::to_string(&write.entry).expect("a session entry serialises"));
            invocation.arg(keep);
            invocation.arg(write.entry.expires_at);
            invocation.arg(member);
        }
        let mut c = self.connection().await?;
        let moved: Vec<usize> = timed(invocation.invoke_async(&mut c)).await??;
        if moved.is_empty() {
            return Ok(Committed::Done);
        }
        Ok(Committed::Conflict(
            moved
                .into_iter()
                .filter_map(|i| writes.get(i.checked_sub(1)?))
                .map(|w| w.key.clone())
                .collect(),
        ))
    }

    async fn take_expired(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, SessionEntry)>, SessionError> {
        let mut invocation = self.sweep.prepare_invoke();
        invocation
            .key(&self.expiry)
            .arg(now)
            .arg(limit)
            .arg(&self.session_prefix);
        let mut c = self.connection().await?;
        let taken: Vec<String> = timed(invocation.invoke_async(&mut c)).await??;
        let mut expired = Vec::with_capacity(taken.len() / 2);
        for pair in taken.chunks_exact(2) {
            let Some(plugin) = plugin_of(&pair[0]) else {
                tracing::error!(member = %pair[0], "expired session with an unreadable name dropped");
                continue;
            };
            match parse(plugin, &pair[1]) {
                Ok(stored) => expired.push((plugin.to_owned(), stored.entry)),
                Err(e) => tracing::error!(error = %e, "expired session dropped"),
            }
        }
        Ok(expired)
    }

    async fn count(&self) -> Result<u64, SessionError> {
        let mut c = self.connection().await?;
        Ok(timed(c.zcard(&self.expiry)).await??)
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> Result<T, SessionError> {
    tokio::time::timeout(REDIS_TIMEOUT, f)
        .await
        .map_err(|_| SessionError::Timeout(REDIS_TIMEOUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract on the Redis scripts/test.sh starts, under a prefix of this run's own.
    #[cfg(feature = "service-tests")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keeps_the_session_store_contract_on_redis() {
        use crate::plugins::sessions::contract;
        use std::sync::Arc;
        let url =
            std::env::var("SLOG_TEST_REDIS_URL").expect("SLOG_TEST_REDIS_URL (scripts/test.sh)");
        let prefix = |what: &str| format!("slog-test:{what}:{}:", uuid::Uuid::now_v7());
        contract::check(&RedisSessions::connect(&url, &prefix("a")).await.unwrap()).await;
        let shared: Arc<dyn SessionStore> =
            Arc::new(RedisSessions::connect(&url, &prefix("b")).await.unwrap());
        contract::check_concurrent_steps(shared.clone(), 4, 25).await;
        contract::check_concurrent_sweeps(shared, 200).await;
    }

    #[test]
    fn a_member_names_its_plugin_whatever_the_partition_key_holds() {
        for (plugin, user) in [("session", "u-1"), ("a:b", "3:x|y"), ("会话", "用户:1")] {
            let m = member(&SessionKey::new(plugin, user));
            assert_eq!(plugin_of(&m), Some(plugin), "{m}");
        }
        assert_eq!(plugin_of("x"), None);
        assert_eq!(plugin_of("99:short"), None);
    }
}
