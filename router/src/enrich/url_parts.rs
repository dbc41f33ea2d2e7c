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
    let url = without_query(raw);
    if let Some(host) = plain_http_host(url) {
        return Some(host.to_ascii_lowercase());
    }
    parsed_host(url)
}

/// The host as `Url::parse` gives it: the reference for every URL the fast path passes on.
fn parsed_host(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()?
        .host_str()
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

/// The host of an `http(s)://host[:port][/...]` URL whose host is a plain DNS name, where
/// `Url::parse` could only lower-case it; `None` for anything else (user info, IP addresses,
/// non-ASCII or percent-encoded hosts, odd ports, other schemes), which goes to `Url::parse`.
/// Referrers are almost always of this kind, and `Url::parse` (its host and IDNA checks) showed
/// in the profile of batch load.
fn plain_http_host(url: &str) -> Option<&str> {
    let rest = strip_prefix_ignore_case(url, "https://")
        .or_else(|| strip_prefix_ignore_case(url, "http://"))?;
    let authority = &rest[..rest.find(['/', '\\']).unwrap_or(rest.len())];
    let (host, port) = match authority.rfind(':') {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    if let Some(port) = port {
        let valid = (1..=5).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| p <= 65535);
        if !valid {
            return None;
        }
    }
    let plain_name = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !host.starts_with('.')
        && !host.contains("..");
    // A last label starting with a digit may be an IPv4 form (`127.1`, `0x7f.1`) that
    // `Url::parse` rewrites.
    let last_label = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    let may_be_ipv4 = last_label.bytes().next().is_none_or(|b| b.is_ascii_digit());
    (plain_name && !may_be_ipv4).then_some(host)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The path of a URL; a relative URL (`a/b/c?x=1`, as in the tracking plan's example) is its own path.
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

    /// The fast path gives what `Url::parse` gives, on plain names and on every shape it must
    /// pass on.
    #[test]
    fn hosts_match_url_parse_on_every_shape() {
        let urls = [
            "https://www.baidu.com/s?wd=slog",
            "HTTPS://WWW.Example.COM/A",
            "http://m.example.com:8080/",
            "http://m.example.com:/",
            "http://m.example.com:99999/",
            "http://m.example.com:0x1/",
            "https://user:pw@a.example/",
            "https://a.example\\path",
            "https://a.example",
            "https://a.example.",
            "https://.a.example/",
            "https://a..example/",
            "https://127.0.0.1/",
            "https://127.1/",
            "https://0x7f.1/",
            "https://a.0x7f/",
            "https://a.123/",
            "https://[::1]:8080/",
            "https://xn--fiqs8s.example/",
            "https://中文.example/",
            "https://a%41.example/",
            "https://a_b.example/",
            "https://a b.example/",
            "https://-a.example/",
            "https:///a.example/",
            "https:a.example/",
            "http://",
            "ftp://files.example/",
            "android-app://com.example.app/",
            "wss://socket.example/",
        ];
        for url in urls {
            assert_eq!(host(url), parsed_host(without_query(url)), "{url}");
        }
        assert_eq!(
            plain_http_host("https://www.baidu.com/s"),
            Some("www.baidu.com")
        );
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
