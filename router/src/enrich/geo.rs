//! IP → country / province / city (tracking plan §4) through a GeoIP2/GeoLite2-City database (maxminddb).
//!
//! Names come in the configured locale (default `zh-CN`), falling back to `en`. The file at the
//! configured path is re-read when its modification time or size changes (checked every
//! `geoip_check_secs`), so an operator updates the database by replacing the file, with no restart.
//! A file that fails to load leaves the previous database in force. Without a database slog runs
//! and says so once.
use arc_swap::ArcSwapOption;
use maxminddb::Reader;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// What a lookup found; each part only when the database has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub country: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
}

/// The parts of a GeoIP2-City record slog reads. Decoding only these (instead of
/// `maxminddb::geoip2::City`, which also builds the name maps of continent, registered country,
/// location, ...) roughly halves the cost of a lookup; the skipped values are never allocated.
#[derive(Deserialize)]
struct CityParts<'a> {
    #[serde(borrow)]
    country: Option<Named<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<Named<'a>>>,
    #[serde(borrow)]
    city: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<BTreeMap<&'a str, &'a str>>,
}

pub struct Geo {
    path: Option<PathBuf>,
    locale: String,
    reader: ArcSwapOption<Reader<Vec<u8>>>,
    /// (modified, length) of the loaded file, to notice a replacement.
    loaded: Mutex<Option<(SystemTime, u64)>>,
}

impl Geo {
    /// Opens the database at `path` (if any). Never fails: a missing or broken file is logged.
    pub fn open(path: Option<PathBuf>, locale: &str) -> Geo {
        let geo = Geo {
            path,
            locale: locale.to_owned(),
            reader: ArcSwapOption::empty(),
            loaded: Mutex::new(None),
        };
        match &geo.path {
            None => tracing::info!("no GeoIP database configured (enrich.geoip_path): country/province/city are not filled"),
            Some(_) => geo.reload_if_changed(),
        }
        geo
    }

    pub fn is_loaded(&self) -> bool {
        self.reader.load().is_some()
    }

    /// Loads the file again if it changed since the last load.
    pub fn reload_if_changed(&self) {
        let Some(path) = &self.path else { return };
        let stamp = std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        let mut loaded = self.loaded.lock().expect("geo stamp lock");
        if stamp.is_none() || stamp == *loaded {
            if stamp.is_none() && loaded.is_none() && self.reader.load().is_none() {
                tracing::warn!(path = %path.display(), "GeoIP database not found; country/province/city are not filled until it appears");
                *loaded = Some((SystemTime::UNIX_EPOCH, u64::MAX));
            }
            return;
        }
        match Reader::open_readfile(path) {
            Ok(reader) => {
                tracing::info!(path = %path.display(), kind = %reader.metadata.database_type, build = reader.metadata.build_epoch, "GeoIP database loaded");
                self.reader.store(Some(Arc::new(reader)));
                *loaded = stamp;
            }
            // A half-copied file fails here; the next check, after the copy completes, succeeds.
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "GeoIP database not loaded; keeping the previous one")
            }
        }
    }

    pub fn lookup(&self, ip: IpAddr) -> Place {
        let guard = self.reader.load();
        let Some(reader) = guard.as_ref() else {
            return Place::default();
        };
        let Ok(Some(parts)) = reader.lookup::<CityParts>(ip) else {
            return Place::default();
        };
        let name = |named: Option<&Named>| {
            let names = named?.names.as_ref()?;
            names
                .get(self.locale.as_str())
                .or_else(|| names.get("en"))
                .map(|s| (*s).to_owned())
        };
        Place {
            country: name(parts.country.as_ref()),
            province: name(parts.subdivisions.as_ref().and_then(|s| s.first())),
            city: name(parts.city.as_ref()),
        }
    }
}
