//! Writes the test GeoLite2-City database (see `slog_tests::mmdb`) and lists its networks.
//!
//! Usage: `cargo run -p slog-tests --bin make-test-mmdb -- OUT.mmdb`
use slog_tests::mmdb::{test_city_records, write_test_city_db, Names};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: make-test-mmdb OUT.mmdb");
        return ExitCode::from(2);
    };
    let out = PathBuf::from(out);
    if let Err(e) = write_test_city_db(&out) {
        eprintln!("make-test-mmdb: writing {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!(
        "wrote {} (GeoLite2-City, languages en, zh-CN)",
        out.display()
    );
    let show = |n: Names| format!("{} / {}", n.zh_cn, n.en);
    for r in test_city_records() {
        let network = format!("{}/{}", r.network.0, r.network.1);
        let subdivision = r
            .subdivision
            .map_or("-".to_owned(), |s| format!("{} {}", s.code, show(s.names)));
        let city = r.city.map_or("-".to_owned(), |c| show(c.names));
        println!(
            "{network:<18} {} {:<22} {subdivision:<24} {city}",
            r.country.code,
            show(r.country.names)
        );
    }
    ExitCode::SUCCESS
}
