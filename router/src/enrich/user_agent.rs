//! User-Agent → os, os_version, browser, browser_version (tracking plan §4), via woothee, with an LRU cache.
//!
//! Real traffic repeats a few thousand user agents, and a woothee parse costs microseconds, so
//! parses are cached by the full UA string (capacity `ua_cache_size`).
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// The parts of a user agent slog fills in; `None` where woothee does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub browser: Option<String>,
    pub browser_version: Option<String>,
}

pub struct UserAgents {
    parser: woothee::parser::Parser,
    cache: Mutex<LruCache<String, Arc<Agent>>>,
}

/// woothee's word for "not known".
const UNKNOWN: &str = "UNKNOWN";
/// Longer user agents are not cached (nor parsed past this): junk should not fill the cache.
const MAX_UA_LEN: usize = 1024;

impl UserAgents {
    pub fn new(cache_size: usize) -> Self {
        UserAgents {
            parser: woothee::parser::Parser::new(),
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(cache_size.max(1)).expect("max(1)"),
            )),
        }
    }

    pub fn parse(&self, ua: &str) -> Arc<Agent> {
        if ua.len() > MAX_UA_LEN {
            return Arc::new(self.parse_uncached(&ua[..ua.floor_char_boundary(MAX_UA_LEN)]));
        }
        if let Some(hit) = self.cache.lock().expect("ua cache lock").get(ua) {
            return hit.clone();
        }
        let agent = Arc::new(self.parse_uncached(ua));
        self.cache
            .lock()
            .expect("ua cache lock")
            .put(ua.to_owned(), agent.clone());
        agent
    }

    fn parse_uncached(&self, ua: &str) -> Agent {
        let known = |s: &str| (!s.is_empty() && s != UNKNOWN).then(|| s.to_owned());
        let Some(r) = self.parser.parse(ua) else {
            return Agent::default();
        };
        // Crawlers, tools (curl) and appliances have a name but are not browsers.
        let is_browser = matches!(r.category, "pc" | "smartphone" | "mobilephone");
        Agent {
            os: known(r.os),
            os_version: known(&r.os_version),
            browser: is_browser.then(|| known(r.name)).flatten(),
            browser_version: is_browser.then(|| known(r.version)).flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

    #[test]
    fn a_desktop_chrome_is_windows_and_chrome() {
        let a = UserAgents::new(8).parse(CHROME_WIN);
        assert_eq!(a.os.as_deref(), Some("Windows 10"));
        assert_eq!(a.browser.as_deref(), Some("Chrome"));
        assert_eq!(a.browser_version.as_deref(), Some("120.0.0.0"));
    }

    #[test]
    fn an_iphone_safari_has_its_ios_version() {
        let a = UserAgents::new(8).parse(SAFARI_IPHONE);
        assert_eq!(a.os.as_deref(), Some("iPhone"));
        assert_eq!(a.os_version.as_deref(), Some("17.1"));
        assert_eq!(a.browser.as_deref(), Some("Safari"));
    }

    #[test]
    fn unknown_agents_fill_nothing() {
        assert_eq!(*UserAgents::new(8).parse("curl/8.0"), Agent::default());
        assert_eq!(*UserAgents::new(8).parse(""), Agent::default());
    }

    #[test]
    fn repeated_agents_come_from_the_cache() {
        let uas = UserAgents::new(2);
        let first = uas.parse(CHROME_WIN);
        assert!(
            Arc::ptr_eq(&first, &uas.parse(CHROME_WIN)),
            "second parse is a cache hit"
        );
        uas.parse(SAFARI_IPHONE);
        uas.parse("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0");
        assert!(
            !Arc::ptr_eq(&first, &uas.parse(CHROME_WIN)),
            "evicted past capacity"
        );
    }
}
