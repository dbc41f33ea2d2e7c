//! Sensors property names and values → slog's.
//!
//! Sensors marks its preset names with `$`; slog's presets are the same names without it
//! (`$os` → `os`, `$first_referrer` → `first_referrer`), so the `$` is dropped from every name.
//! A few `$` properties are the SDK's bookkeeping and are not stored: `$is_login_id` (it says how
//! to read `distinct_id`), `$project` and `$token` (where the message goes).
//!
//! A track message also gets what slog's enrichment and reports key on: `lib` and `lib_version`
//! from the message's `lib` object when its properties lack them, and the client type `ct`
//! (tracking plan §3.3.2: 1 server, 100 web, 200 Android, 300 iOS, 400 mini-program) from `$lib`.
use serde_json::{Map, Value};

/// Properties read by the translation, never stored.
pub const BOOKKEEPING: [&str; 3] = ["$is_login_id", "$project", "$token"];

/// The client type (tracking plan's `ct`) of a Sensors `$lib` name.
pub fn client_type(lib: &str) -> i64 {
    match lib.to_ascii_lowercase().as_str() {
        "js" | "web" => 100,
        "android" => 200,
        "ios" => 300,
        "miniprogram" | "minigame" | "alipaymini" | "bytedancemini" | "baidumini" | "quickapp" => {
            400
        }
        // Server SDKs: Node, python, Java, php, golang, Ruby, CSharp, and anything unknown, which
        // then gets no request-derived values (a server's address is not the user's).
        _ => 1,
    }
}

/// `name` as slog calls it: without Sensors' `$` preset mark.
pub fn slog_name(name: &str) -> &str {
    name.strip_prefix('$').unwrap_or(name)
}

/// The message's properties under slog's names, without the bookkeeping ones.
pub fn rename(properties: &Map<String, Value>) -> Map<String, Value> {
    properties
        .iter()
        .filter(|(name, _)| !BOOKKEEPING.contains(&name.as_str()))
        .map(|(name, value)| (slog_name(name).to_owned(), value.clone()))
        .collect()
}

/// Fills `lib`, `lib_version` (from the message's `lib` object) and `ct` of a track message
/// where the SDK left them out.
pub fn fill_client(ps: &mut Map<String, Value>, lib_object: Option<&Map<String, Value>>) {
    let from_object = |key: &str| {
        lib_object
            .and_then(|lib| lib.get(key))
            .filter(|v| v.is_string())
            .cloned()
    };
    if !ps.contains_key("lib") {
        if let Some(lib) = from_object("$lib") {
            ps.insert("lib".to_owned(), lib);
        }
    }
    // The version only belongs to the SDK the properties name.
    if !ps.contains_key("lib_version") && ps.get("lib") == from_object("$lib").as_ref() {
        if let Some(version) = from_object("$lib_version") {
            ps.insert("lib_version".to_owned(), version);
        }
    }
    if !ps.contains_key("ct") {
        let lib = ps.get("lib").and_then(Value::as_str).unwrap_or("");
        ps.insert("ct".to_owned(), Value::from(client_type(lib)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn preset_marks_are_dropped_and_bookkeeping_is_not_stored() {
        let renamed = rename(&map(json!({
            "$os": "Android", "$screen_width": 1080, "course_name": "高等数学",
            "$is_login_id": true, "$project": "p", "$token": "t"
        })));
        assert_eq!(
            Value::Object(renamed),
            json!({"os": "Android", "screen_width": 1080, "course_name": "高等数学"})
        );
    }

    #[test]
    fn the_client_type_follows_the_sdk() {
        let ct = |lib: &str| {
            let mut ps = map(json!({"lib": lib}));
            fill_client(&mut ps, None);
            ps["ct"].as_i64().unwrap()
        };
        assert_eq!(
            [
                ct("js"),
                ct("Android"),
                ct("iOS"),
                ct("MiniProgram"),
                ct("Node"),
                ct("python")
            ],
            [100, 200, 300, 400, 1, 1]
        );
    }

    #[test]
    fn lib_comes_from_the_lib_object_when_properties_lack_it() {
        let lib = map(json!({"$lib": "iOS", "$lib_version": "4.5.0", "$lib_method": "code"}));
        let mut ps = Map::new();
        fill_client(&mut ps, Some(&lib));
        assert_eq!(
            Value::Object(ps),
            json!({"lib": "iOS", "lib_version": "4.5.0", "ct": 300})
        );
        let mut sent = map(json!({"lib": "js", "ct": 101}));
        fill_client(&mut sent, Some(&lib));
        assert_eq!(Value::Object(sent), json!({"lib": "js", "ct": 101}));
    }
}
