//! A small MaxMind DB (`.mmdb`) writer, so tests get a GeoIP2/GeoLite2-City database with known
//! rows that the repo generates itself (no downloads, no network).
//!
//! The output follows the MaxMind DB File Format Spec 2.0: a binary search tree (record size 24,
//! or 32 when 24 bits cannot address every node and data value), 16 zero bytes, the data section,
//! then `"\xAB\xCD\xEFMaxMind.com"` and the metadata map. The tree is always an IPv6 tree
//! (`ip_version` 6); IPv4 networks live at `::a.b.c.d/(96 + prefix)`, which is where readers (the
//! `maxminddb` crate included) look up IPv4 addresses. Like the real GeoLite2 files, the IPv4
//! subtree is also aliased at `::ffff:0:0/96` (IPv4-mapped), `2001::/32` (Teredo) and `2002::/16`
//! (6to4), so e.g. `::ffff:180.12.43.42` finds the same row as `180.12.43.42`.
//!
//! # The test database ([`test_city_records`], [`write_test_city_db`])
//!
//! `database_type` is `"GeoLite2-City"`, `languages` are `["en", "zh-CN"]`. Rows (every other
//! address is "not found", i.e. `Reader::lookup` returns `Ok(None)`):
//!
//! | network           | country                 | subdivision          | city              |
//! |-------------------|-------------------------|----------------------|-------------------|
//! | `180.12.43.0/24`  | CN 中国 / China         | BJ 北京市 / Beijing  | 北京 / Beijing    |
//! | `114.80.0.0/16`   | CN 中国 / China         | SH 上海市 / Shanghai | 上海 / Shanghai   |
//! | `113.108.0.0/16`  | CN 中国 / China         | GD 广东省 / Guangdong| 广州 / Guangzhou  |
//! | `81.2.69.0/24`    | GB 英国 / United Kingdom| ENG 英格兰 / England | 伦敦 / London     |
//! | `8.8.8.0/24`      | US 美国 / United States | —                    | —                 |
//! | `2001:db8:1::/48` | JP 日本 / Japan         | 13 东京都 / Tokyo    | 东京 / Tokyo      |
//!
//! `180.12.43.42` (in the first row) is the tracking plan's example client IP. Each row's data is the
//! GeoLite2-City layout that `maxminddb::geoip2::City` deserialises: `continent` {code,
//! geoname_id, names}, `country` and `registered_country` {geoname_id, iso_code, names},
//! `subdivisions` [{geoname_id, iso_code, names}] (absent when there is none), `city`
//! {geoname_id, names} (absent when there is none); `names` are `{"en": .., "zh-CN": ..}`.
//! The geoname ids are the real GeoNames ids, for realism only.
//!
//! Regenerate a file by hand with `cargo run -p slog-tests --bin make-test-mmdb -- OUT.mmdb`.
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Generic writer
// ---------------------------------------------------------------------------------------------

/// A value in the MMDB data section (spec "Output Data Types"). Pointers are never emitted: every
/// value is written inline (identical top-level values are still stored only once).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// UTF-8 string (type 2).
    String(String),
    /// IEEE-754 double (type 3).
    Double(f64),
    /// Raw bytes (type 4).
    Bytes(Vec<u8>),
    /// Unsigned 16-bit integer (type 5).
    U16(u16),
    /// Unsigned 32-bit integer (type 6).
    U32(u32),
    /// Map with string keys, written in the given order (type 7).
    Map(Vec<(String, Value)>),
    /// Signed 32-bit integer (type 8).
    I32(i32),
    /// Unsigned 64-bit integer (type 9).
    U64(u64),
    /// Unsigned 128-bit integer (type 10).
    U128(u128),
    /// Array (type 11).
    Array(Vec<Value>),
    /// Boolean (type 14).
    Bool(bool),
    /// IEEE-754 float (type 15).
    Float(f32),
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::String(s.to_owned())
    }

    /// A map value from `(key, value)` pairs.
    pub fn map<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// Appends the encoded value (control byte(s), then payload) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Value::String(s) => {
                control(out, 2, s.len())?;
                out.extend_from_slice(s.as_bytes());
            }
            Value::Double(d) => {
                control(out, 3, 8)?;
                out.extend_from_slice(&d.to_be_bytes());
            }
            Value::Bytes(b) => {
                control(out, 4, b.len())?;
                out.extend_from_slice(b);
            }
            Value::U16(n) => uint(out, 5, &n.to_be_bytes())?,
            Value::U32(n) => uint(out, 6, &n.to_be_bytes())?,
            Value::Map(pairs) => {
                control(out, 7, pairs.len())?;
                for (key, value) in pairs {
                    Value::String(key.clone()).encode(out)?;
                    value.encode(out)?;
                }
            }
            Value::I32(n) if *n >= 0 => uint(out, 8, &n.to_be_bytes())?,
            Value::I32(n) => {
                // Negative numbers need all four bytes (two's complement).
                control(out, 8, 4)?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::U64(n) => uint(out, 9, &n.to_be_bytes())?,
            Value::U128(n) => uint(out, 10, &n.to_be_bytes())?,
            Value::Array(items) => {
                control(out, 11, items.len())?;
                for item in items {
                    item.encode(out)?;
                }
            }
            // A boolean's value is its size (0 or 1); there is no payload.
            Value::Bool(b) => control(out, 14, usize::from(*b))?,
            Value::Float(f) => {
                control(out, 15, 4)?;
                out.extend_from_slice(&f.to_be_bytes());
            }
        }
        Ok(())
    }
}

/// Writes a control byte for a non-pointer type: 3 type bits (0 + an extra byte `type - 7` for
/// types above 7) and 5 size bits (29/30/31 meaning 1/2/3 following size bytes).
fn control(out: &mut Vec<u8>, type_num: u8, size: usize) -> io::Result<()> {
    debug_assert!((2..=15).contains(&type_num) && type_num != 12 && type_num != 13);
    let (size_bits, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else if size < 285 + 65_536 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else if size < 65_821 + (1 << 24) {
        (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
    } else {
        return Err(invalid(format!(
            "MMDB value too large ({size} bytes/items)"
        )));
    };
    if type_num <= 7 {
        out.push((type_num << 5) | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&extra);
    Ok(())
}

/// Writes an unsigned integer (big-endian bytes) with its leading zero bytes dropped.
fn uint(out: &mut Vec<u8>, type_num: u8, be_bytes: &[u8]) -> io::Result<()> {
    let skip = be_bytes.iter().take_while(|&&b| b == 0).count();
    control(out, type_num, be_bytes.len() - skip)?;
    out.extend_from_slice(&be_bytes[skip..]);
    Ok(())
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Database-wide metadata for [`build_db`].
#[derive(Clone, Debug)]
pub struct DbInfo<'a> {
    /// `database_type`, e.g. `"GeoLite2-City"`.
    pub database_type: &'a str,
    /// `languages`, e.g. `["en", "zh-CN"]`.
    pub languages: &'a [&'a str],
    /// `description` as `(language, text)` pairs.
    pub description: &'a [(&'a str, &'a str)],
    /// Alias the IPv4 subtree at `::ffff:0:0/96`, `2001::/32` and `2002::/16`, as MaxMind's own
    /// databases do. Fails if one of those ranges already holds data.
    pub ipv4_aliases: bool,
}

/// One record of a search-tree node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Child {
    /// No data ("not found").
    Empty,
    /// Another node (index into the node list).
    Node(usize),
    /// Data at this offset in the data section.
    Data(usize),
}

/// An IPv6 binary trie; node 0 is the root.
struct Tree {
    nodes: Vec<[Child; 2]>,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            nodes: vec![[Child::Empty; 2]],
        }
    }

    fn bit(addr: u128, i: u32) -> usize {
        ((addr >> (127 - i)) & 1) as usize
    }

    /// Walks `depth` bits of `addr` from the root, creating nodes as needed, and returns the node
    /// whose record for bit `depth` is the network's slot. A data leaf met on the way is split
    /// (both halves keep its data), so a more specific network can be placed inside it.
    fn parent_of(&mut self, addr: u128, depth: u32) -> usize {
        let mut node = 0;
        for i in 0..depth {
            let b = Self::bit(addr, i);
            node = match self.nodes[node][b] {
                Child::Node(next) => next,
                leaf => {
                    self.nodes.push([leaf; 2]);
                    let next = self.nodes.len() - 1;
                    self.nodes[node][b] = Child::Node(next);
                    next
                }
            };
        }
        node
    }

    /// Sets every record under `child` (and `child` itself, if a leaf) to `value`.
    fn fill(&mut self, slot: (usize, usize), value: Child) {
        match self.nodes[slot.0][slot.1] {
            Child::Node(next) => {
                self.fill((next, 0), value);
                self.fill((next, 1), value);
            }
            _ => self.nodes[slot.0][slot.1] = value,
        }
    }

    /// Places `value` at `addr/prefix` (1..=128). More specific networks already inside it keep
    /// their own data; insert shorter prefixes first for "most specific wins".
    fn insert(&mut self, addr: u128, prefix: u32, value: Child) {
        let node = self.parent_of(addr, prefix - 1);
        let b = Self::bit(addr, prefix - 1);
        self.fill((node, b), value);
    }

    /// The record reached by following `depth` bits of `addr`, without creating nodes.
    fn get(&self, addr: u128, depth: u32) -> Child {
        let mut child = Child::Node(0);
        for i in 0..depth {
            match child {
                Child::Node(n) => child = self.nodes[n][Self::bit(addr, i)],
                leaf => return leaf,
            }
        }
        child
    }
}

/// Converts a network to its place in the IPv6 tree (IPv4 at `::a.b.c.d/(96 + prefix)`),
/// rejecting bad prefix lengths and set host bits.
fn tree_network(ip: IpAddr, prefix: u8) -> io::Result<(u128, u32)> {
    let (addr, len) = match ip {
        IpAddr::V4(v4) if prefix <= 32 => (u128::from(u32::from(v4)), u32::from(prefix) + 96),
        IpAddr::V6(v6) if prefix <= 128 => (u128::from(v6), u32::from(prefix)),
        _ => return Err(invalid(format!("bad prefix length {ip}/{prefix}"))),
    };
    if len == 0 {
        return Err(invalid("::/0 cannot be stored in an MMDB tree".to_owned()));
    }
    let host_mask = if len == 128 { 0 } else { u128::MAX >> len };
    if addr & host_mask != 0 {
        return Err(invalid(format!("{ip}/{prefix} has host bits set")));
    }
    Ok((addr, len))
}

/// Builds a complete `.mmdb` file (IPv6 tree) from `(network address, prefix length, data)`
/// entries. Overlapping networks are allowed: the most specific one wins. Identical data values
/// are stored once.
pub fn build_db(info: &DbInfo, entries: &[(IpAddr, u8, Value)]) -> io::Result<Vec<u8>> {
    // Data section, with identical values deduplicated.
    let mut data = Vec::new();
    let mut offsets: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut placed = Vec::with_capacity(entries.len());
    for (ip, prefix, value) in entries {
        let (addr, len) = tree_network(*ip, *prefix)?;
        let mut encoded = Vec::new();
        value.encode(&mut encoded)?;
        let offset = *offsets.entry(encoded).or_insert_with_key(|bytes| {
            data.extend_from_slice(bytes);
            data.len() - bytes.len()
        });
        placed.push((addr, len, offset));
    }

    // Search tree: shorter prefixes first so that more specific networks override them.
    placed.sort_by_key(|&(_, len, _)| len);
    let mut tree = Tree::new();
    for &(addr, len, offset) in &placed {
        tree.insert(addr, len, Child::Data(offset));
    }
    if info.ipv4_aliases {
        let ipv4_root = tree.get(0, 96);
        if ipv4_root != Child::Empty {
            for (alias, len) in [
                (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
                (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),
                (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),
            ] {
                let addr = u128::from(alias);
                if tree.get(addr, len) != Child::Empty {
                    return Err(invalid(format!(
                        "{alias}/{len} holds data but is reserved for the IPv4 alias"
                    )));
                }
                tree.insert(addr, len, ipv4_root);
            }
        }
    }

    // Record values: node index, node_count for "no data", node_count + 16 + offset for data.
    let node_count = tree.nodes.len();
    let max_value = node_count + 16 + data.len();
    let record_size: u16 = if max_value < 1 << 24 {
        24
    } else if max_value <= u32::MAX as usize {
        32
    } else {
        return Err(invalid("database too large for 32-bit records".to_owned()));
    };
    let bytes_per_record = usize::from(record_size / 8);
    let mut out = Vec::with_capacity(node_count * 2 * bytes_per_record + 16 + data.len() + 512);
    for node in &tree.nodes {
        for child in node {
            let value = match *child {
                Child::Empty => node_count,
                Child::Node(n) => n,
                Child::Data(offset) => node_count + 16 + offset,
            } as u32;
            out.extend_from_slice(&value.to_be_bytes()[4 - bytes_per_record..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);

    // Metadata.
    let build_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let metadata = Value::map([
        ("binary_format_major_version", Value::U16(2)),
        ("binary_format_minor_version", Value::U16(0)),
        ("build_epoch", Value::U64(build_epoch)),
        ("database_type", Value::str(info.database_type)),
        (
            "description",
            Value::map(info.description.iter().map(|&(k, v)| (k, Value::str(v)))),
        ),
        ("ip_version", Value::U16(6)),
        (
            "languages",
            Value::Array(info.languages.iter().map(|l| Value::str(l)).collect()),
        ),
        ("node_count", Value::U32(node_count as u32)),
        ("record_size", Value::U16(record_size)),
    ]);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    metadata.encode(&mut out)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// GeoLite2-City layer
// ---------------------------------------------------------------------------------------------

/// Names of a place in the database's two languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Names {
    /// `names.en`
    pub en: &'static str,
    /// `names.zh-CN`
    pub zh_cn: &'static str,
}

/// A continent, country or subdivision: GeoNames id, ISO code and names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Area {
    /// `geoname_id`
    pub geoname_id: u32,
    /// `iso_code` (country, subdivision) or `code` (continent), e.g. `"CN"`, `"BJ"`, `"AS"`.
    pub code: &'static str,
    /// `names`
    pub names: Names,
}

/// A city: GeoNames id and names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct City {
    /// `geoname_id`
    pub geoname_id: u32,
    /// `names`
    pub names: Names,
}

/// One network of a GeoLite2-City database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CityRecord {
    /// Network address and prefix length, e.g. `(180.12.43.0, 24)`; host bits must be zero.
    pub network: (IpAddr, u8),
    /// `continent`.
    pub continent: Area,
    /// `country` (also written as `registered_country`).
    pub country: Area,
    /// The only entry of `subdivisions`; `None` leaves `subdivisions` out.
    pub subdivision: Option<Area>,
    /// `city`; `None` leaves `city` out.
    pub city: Option<City>,
}

impl CityRecord {
    /// The record's data in the GeoLite2-City layout.
    pub fn to_value(&self) -> Value {
        fn names(n: Names) -> Value {
            Value::map([("en", Value::str(n.en)), ("zh-CN", Value::str(n.zh_cn))])
        }
        fn area(a: Area, code_key: &str) -> Value {
            Value::map([
                ("geoname_id", Value::U32(a.geoname_id)),
                (code_key, Value::str(a.code)),
                ("names", names(a.names)),
            ])
        }
        let mut fields = vec![
            ("continent", area(self.continent, "code")),
            ("country", area(self.country, "iso_code")),
            ("registered_country", area(self.country, "iso_code")),
        ];
        if let Some(sub) = self.subdivision {
            fields.push(("subdivisions", Value::Array(vec![area(sub, "iso_code")])));
        }
        if let Some(city) = self.city {
            fields.push((
                "city",
                Value::map([
                    ("geoname_id", Value::U32(city.geoname_id)),
                    ("names", names(city.names)),
                ]),
            ));
        }
        Value::map(fields)
    }
}

/// Writes a GeoLite2-City database (`database_type` `"GeoLite2-City"`, languages `en`, `zh-CN`,
/// IPv6 tree with IPv4 aliases) holding `records` to `path`.
pub fn write_city_db(path: &Path, records: &[CityRecord]) -> io::Result<()> {
    let entries: Vec<(IpAddr, u8, Value)> = records
        .iter()
        .map(|r| (r.network.0, r.network.1, r.to_value()))
        .collect();
    let info = DbInfo {
        database_type: "GeoLite2-City",
        languages: &["en", "zh-CN"],
        description: &[
            ("en", "slog test GeoLite2-City database"),
            ("zh-CN", "slog 测试用 GeoLite2-City 数据库"),
        ],
        ipv4_aliases: true,
    };
    std::fs::write(path, build_db(&info, &entries)?)
}

const fn names(en: &'static str, zh_cn: &'static str) -> Names {
    Names { en, zh_cn }
}

const ASIA: Area = Area {
    geoname_id: 6255147,
    code: "AS",
    names: names("Asia", "亚洲"),
};
const EUROPE: Area = Area {
    geoname_id: 6255148,
    code: "EU",
    names: names("Europe", "欧洲"),
};
const NORTH_AMERICA: Area = Area {
    geoname_id: 6255149,
    code: "NA",
    names: names("North America", "北美洲"),
};
const CHINA: Area = Area {
    geoname_id: 1814991,
    code: "CN",
    names: names("China", "中国"),
};

/// The fixed rows of the test database (see the module docs).
pub fn test_city_records() -> Vec<CityRecord> {
    fn net(addr: &str, prefix: u8) -> (IpAddr, u8) {
        (addr.parse().expect("valid test network"), prefix)
    }
    let area = |geoname_id, code, en, zh_cn| Area {
        geoname_id,
        code,
        names: names(en, zh_cn),
    };
    let city = |geoname_id, en, zh_cn| City {
        geoname_id,
        names: names(en, zh_cn),
    };
    vec![
        CityRecord {
            network: net("180.12.43.0", 24),
            continent: ASIA,
            country: CHINA,
            subdivision: Some(area(2038349, "BJ", "Beijing", "北京市")),
            city: Some(city(1816670, "Beijing", "北京")),
        },
        CityRecord {
            network: net("114.80.0.0", 16),
            continent: ASIA,
            country: CHINA,
            subdivision: Some(area(1796231, "SH", "Shanghai", "上海市")),
            city: Some(city(1796236, "Shanghai", "上海")),
        },
        CityRecord {
            network: net("113.108.0.0", 16),
            continent: ASIA,
            country: CHINA,
            subdivision: Some(area(1809935, "GD", "Guangdong", "广东省")),
            city: Some(city(1809858, "Guangzhou", "广州")),
        },
        CityRecord {
            network: net("81.2.69.0", 24),
            continent: EUROPE,
            country: area(2635167, "GB", "United Kingdom", "英国"),
            subdivision: Some(area(6269131, "ENG", "England", "英格兰")),
            city: Some(city(2643743, "London", "伦敦")),
        },
        CityRecord {
            network: net("8.8.8.0", 24),
            continent: NORTH_AMERICA,
            country: area(6252001, "US", "United States", "美国"),
            subdivision: None,
            city: None,
        },
        CityRecord {
            network: net("2001:db8:1::", 48),
            continent: ASIA,
            country: area(1861060, "JP", "Japan", "日本"),
            subdivision: Some(area(1850144, "13", "Tokyo", "东京都")),
            city: Some(city(1850147, "Tokyo", "东京")),
        },
    ]
}

/// Writes the test database ([`test_city_records`]) to `path`.
pub fn write_test_city_db(path: &Path) -> io::Result<()> {
    write_city_db(path, &test_city_records())
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxminddb::geoip2;

    fn open_test_db() -> (tempfile::TempDir, maxminddb::Reader<Vec<u8>>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test-city.mmdb");
        write_test_city_db(&path).unwrap();
        let reader = maxminddb::Reader::open_readfile(&path).unwrap();
        (dir, reader)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// (country en, country zh-CN, subdivision zh-CN, city en, city zh-CN) for a hit.
    fn summary(city: &geoip2::City) -> [Option<String>; 5] {
        let name = |names: Option<&std::collections::BTreeMap<&str, &str>>, lang: &str| {
            names.and_then(|n| n.get(lang)).map(|s| s.to_string())
        };
        let country = city.country.as_ref().and_then(|c| c.names.as_ref());
        let sub = city
            .subdivisions
            .as_ref()
            .and_then(|s| s.first())
            .and_then(|s| s.names.as_ref());
        let c = city.city.as_ref().and_then(|c| c.names.as_ref());
        [
            name(country, "en"),
            name(country, "zh-CN"),
            name(sub, "zh-CN"),
            name(c, "en"),
            name(c, "zh-CN"),
        ]
    }

    fn some(values: [&str; 5]) -> [Option<String>; 5] {
        values.map(|v| (!v.is_empty()).then(|| v.to_owned()))
    }

    #[test]
    fn metadata() {
        let (_dir, reader) = open_test_db();
        let m = &reader.metadata;
        assert_eq!(m.database_type, "GeoLite2-City");
        assert_eq!(m.binary_format_major_version, 2);
        assert_eq!(m.binary_format_minor_version, 0);
        assert_eq!(m.ip_version, 6);
        assert_eq!(m.record_size, 24);
        assert!(m.languages.iter().any(|l| l == "zh-CN"));
        assert!(m.languages.iter().any(|l| l == "en"));
        assert!(m.build_epoch > 1_600_000_000);
        assert!(m.description["en"].contains("slog"));
    }

    #[test]
    fn beijing() {
        let (_dir, reader) = open_test_db();
        let city: geoip2::City = reader.lookup(ip("180.12.43.42")).unwrap().unwrap();
        assert_eq!(
            summary(&city),
            some(["China", "中国", "北京市", "Beijing", "北京"])
        );
        let country = city.country.as_ref().unwrap();
        assert_eq!(country.iso_code, Some("CN"));
        assert_eq!(country.geoname_id, Some(1814991));
        let sub = &city.subdivisions.as_ref().unwrap()[0];
        assert_eq!(sub.iso_code, Some("BJ"));
        assert_eq!(sub.names.as_ref().unwrap()["en"], "Beijing");
        assert_eq!(city.continent.as_ref().unwrap().code, Some("AS"));
        assert_eq!(
            city.registered_country.as_ref().unwrap().iso_code,
            Some("CN")
        );
        // The whole /24 and only it.
        let (_, prefix) = reader
            .lookup_prefix::<geoip2::City>(ip("180.12.43.0"))
            .unwrap();
        assert_eq!(prefix, 24);
        assert!(reader
            .lookup::<geoip2::City>(ip("180.12.43.255"))
            .unwrap()
            .is_some());
    }

    #[test]
    fn other_rows() {
        let (_dir, reader) = open_test_db();
        let look = |s: &str| {
            let city: geoip2::City = reader
                .lookup(ip(s))
                .unwrap()
                .unwrap_or_else(|| panic!("{s} not found"));
            summary(&city)
        };
        assert_eq!(
            look("114.80.1.2"),
            some(["China", "中国", "上海市", "Shanghai", "上海"])
        );
        assert_eq!(
            look("113.108.200.1"),
            some(["China", "中国", "广东省", "Guangzhou", "广州"])
        );
        assert_eq!(
            look("81.2.69.160"),
            some(["United Kingdom", "英国", "英格兰", "London", "伦敦"])
        );
        assert_eq!(look("8.8.8.8"), some(["United States", "美国", "", "", ""]));
        assert_eq!(
            look("2001:db8:1::5"),
            some(["Japan", "日本", "东京都", "Tokyo", "东京"])
        );
        // IPv4-mapped IPv6 goes through the ::ffff:0:0/96 alias, as in the real databases.
        assert_eq!(
            look("::ffff:180.12.43.42"),
            some(["China", "中国", "北京市", "Beijing", "北京"])
        );
        let us: geoip2::City = reader.lookup(ip("8.8.8.8")).unwrap().unwrap();
        assert!(us.city.is_none());
        assert!(us.subdivisions.is_none());
        assert_eq!(us.country.unwrap().iso_code, Some("US"));
    }

    #[test]
    fn misses() {
        let (_dir, reader) = open_test_db();
        for s in [
            "1.1.1.1",
            "180.12.44.1",
            "180.12.42.255",
            "8.8.9.8",
            "114.81.0.1",
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "2001:db8:2::1",
            "2001:db8::1",
            "::1",
            "::",
            "ffff::1",
        ] {
            let found = reader.lookup::<geoip2::City>(ip(s)).unwrap();
            assert!(found.is_none(), "{s} should be a miss: {found:?}");
        }
    }

    #[test]
    fn within_lists_exactly_the_rows() {
        let (_dir, reader) = open_test_db();
        // `within` takes an `ipnetwork::IpNetwork`; let inference pick the type for `parse`.
        let mut got: Vec<String> = reader
            .within::<geoip2::City>("::/0".parse().unwrap())
            .unwrap()
            .map(|item| item.unwrap().ip_net.to_string())
            .collect();
        got.sort();
        let mut want: Vec<String> = test_city_records()
            .iter()
            .map(|r| format!("{}/{}", r.network.0, r.network.1))
            .collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn most_specific_network_wins_and_bad_networks_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overlap.mmdb");
        let info = DbInfo {
            database_type: "Test",
            languages: &["en"],
            description: &[("en", "overlap")],
            ipv4_aliases: false,
        };
        let entries = [
            (ip("10.0.0.0"), 24, Value::map([("n", Value::U32(24))])),
            (ip("10.0.0.0"), 8, Value::map([("n", Value::U32(8))])),
            (ip("10.0.0.128"), 25, Value::map([("n", Value::U32(25))])),
        ];
        std::fs::write(&path, build_db(&info, &entries).unwrap()).unwrap();
        let reader = maxminddb::Reader::open_readfile(&path).unwrap();
        let n = |s: &str| {
            reader
                .lookup::<std::collections::BTreeMap<String, u32>>(ip(s))
                .unwrap()
                .map(|m| m["n"])
        };
        assert_eq!(n("10.0.0.1"), Some(24));
        assert_eq!(n("10.0.0.200"), Some(25));
        assert_eq!(n("10.9.9.9"), Some(8));
        assert_eq!(n("11.0.0.0"), None);

        assert!(build_db(&info, &[(ip("10.0.0.1"), 24, Value::Bool(true))]).is_err());
        assert!(build_db(&info, &[(ip("10.0.0.0"), 33, Value::Bool(true))]).is_err());
    }

    #[test]
    fn encodes_every_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("types.mmdb");
        let long = "x".repeat(70_000);
        let value = Value::map([
            ("s", Value::str("héllo")),
            ("long", Value::str(&long)),
            ("d", Value::Double(1.5)),
            ("u16", Value::U16(65535)),
            ("u32", Value::U32(0)),
            ("i32", Value::I32(-7)),
            ("i32p", Value::I32(300)),
            ("u64", Value::U64(1 << 40)),
            (
                "a",
                Value::Array((0..300).map(|i| Value::U32(i * 1000)).collect()),
            ),
            ("t", Value::Bool(true)),
            ("f", Value::Bool(false)),
            ("fl", Value::Float(0.25)),
            ("m", Value::map([("nested", Value::Array(vec![]))])),
        ]);
        let info = DbInfo {
            database_type: "Test",
            languages: &[],
            description: &[],
            ipv4_aliases: true,
        };
        let entries = [
            (ip("1.2.3.4"), 32, value),
            (ip("1.2.3.5"), 32, Value::Bytes(vec![0, 1, 2, 255])),
            (ip("1.2.3.6"), 32, Value::U128((1 << 100) + 5)),
        ];
        std::fs::write(&path, build_db(&info, &entries).unwrap()).unwrap();
        let reader = maxminddb::Reader::open_readfile(&path).unwrap();
        let v: serde_json::Value = reader.lookup(ip("1.2.3.4")).unwrap().unwrap();
        assert_eq!(v["s"], "héllo");
        assert_eq!(v["long"].as_str().unwrap().len(), 70_000);
        assert_eq!(v["d"], 1.5);
        assert_eq!(v["u16"], 65535);
        assert_eq!(v["u32"], 0);
        assert_eq!(v["i32"], -7);
        assert_eq!(v["i32p"], 300);
        assert_eq!(v["u64"], 1u64 << 40);
        assert_eq!(v["a"].as_array().unwrap().len(), 300);
        assert_eq!(v["a"][299], 299_000);
        assert_eq!(v["t"], true);
        assert_eq!(v["f"], false);
        assert_eq!(v["fl"], 0.25);
        assert_eq!(v["m"], serde_json::json!({"nested": []}));
        let bytes: &[u8] = reader.lookup(ip("1.2.3.5")).unwrap().unwrap();
        assert_eq!(bytes, [0, 1, 2, 255]);
        let big: u128 = reader.lookup(ip("1.2.3.6")).unwrap().unwrap();
        assert_eq!(big, (1 << 100) + 5);
        assert!(reader
            .lookup::<serde_json::Value>(ip("1.2.3.7"))
            .unwrap()
            .is_none());
    }
}
