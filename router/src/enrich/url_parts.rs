//! Host and path of the URLs SDKs send: `referrer_host` from `referrer`, `url_path` from `url`.
use url::Url;

/// `raw` without its query and fragment: they never change a host or a path, and parsing them
/// (percent-decoding long tracking parameters) was the costly part of `Url::parse`.
fn without_query(raw: &str) -> &str {
    let raw = raw.trim();
    &raw[..raw.find(['?', '#']).unwrap_or(raw.len())]
}

/// The host of an absolute URL (`https://www.baidu.com/s?wd=x` → `www.baidu.com`).
pub fn host(raw: &str) -> Option<String> {
    Url::parse(without_query(raw))
        .ok()?
        .host_str()
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

/// The path of a URL; a relative URL (`a/b/c?x=1`, as in the seed's example) is its own path.
pub fn path(raw: &str) -> Option<String> {
    let raw = without_query(raw);
    if raw.is_empty() {
        return None;
    }
    match Url::parse(raw) {
        Ok(u) if u.cannot_be_a_base() => None,
        Ok(u) => Some(u.path().to_owned()),
        Err(_) => Some(raw.to_owned()),
    }
}

/// Splits an SDK version tag (`js1.1.0`, `android2.3`, `python-1.0`) into (lib, lib_version).
pub fn sdk(ver: &str) -> Option<(String, String)> {
    let split = ver.find(|c: char| c.is_ascii_digit())?;
    let lib = ver[..split].trim_end_matches(['-', '_', '/', ' ', 'v']);
    let version = &ver[split..];
    (!lib.is_empty()).then(|| (lib.to_owned(), version.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ignore_queries_and_fragments() {
        assert_eq!(
            host("https://user@a.example:81?x=https://evil.example/").as_deref(),
            Some("a.example")
        );
        assert_eq!(
            host("https://a.example#https://evil.example/").as_deref(),
            Some("a.example")
        );
    }

    #[test]
    fn hosts_come_from_absolute_urls_only() {
        assert_eq!(
            host("https://www.baidu.com/s?wd=slog").as_deref(),
            Some("www.baidu.com")
        );
        assert_eq!(
            host("http://m.example.com:8080/").as_deref(),
            Some("m.example.com")
        );
        assert_eq!(host("/relative/path"), None);
        assert_eq!(host(""), None);
    }

    #[test]
    fn paths_drop_query_and_fragment() {
        assert_eq!(
            path("https://x.example/course/1?from=ad#top").as_deref(),
            Some("/course/1")
        );
        assert_eq!(path("https://x.example").as_deref(), Some("/"));
        assert_eq!(path("a/b/c/d").as_deref(), Some("a/b/c/d"));
        assert_eq!(path("/a?x=1").as_deref(), Some("/a"));
        assert_eq!(path("mailto:a@b.c"), None);
    }

    #[test]
    fn sdk_tags_split_at_the_first_digit() {
        assert_eq!(sdk("js1.1.0"), Some(("js".into(), "1.1.0".into())));
        assert_eq!(sdk("python-2.0.1"), Some(("python".into(), "2.0.1".into())));
        assert_eq!(sdk("androidv3.2"), Some(("android".into(), "3.2".into())));
        assert_eq!(sdk("1.0"), None);
        assert_eq!(sdk("js"), None);
    }
}
