//! The naming rule for events and properties registered through the admin API.
//!
//! `^[a-zA-Z_$][a-zA-Z0-9_$]{0,63}$` (the columns are varchar(64)), and not a reserved word: names
//! that collide with the output record's own fields or common warehouse keywords would make
//! queries ambiguous. Preset rows (tracking plan §3.3) predate the rule: `wx-id` keeps its dash.
pub const MAX_NAME_LEN: usize = 64;

/// Refused as names (compared case-insensitively).
pub const RESERVED: [&str; 22] = [
    "time",
    "event",
    "events",
    "properties",
    "uuid",
    "event_id",
    "received_at",
    "time_source",
    "client_time",
    "stype",
    "type",
    "eid",
    "project",
    "sid",
    "ver",
    "ps",
    "uidentity",
    "user_id",
    "distinct_id",
    "date",
    "datetime",
    "id",
];

/// `Ok` for a valid name; otherwise the rule it breaks, for the error message.
pub fn check(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("must not be empty".into());
    };
    if name.len() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters"));
    }
    if !(first.is_ascii_alphabetic() || first == '_' || first == '$') {
        return Err("must start with a letter, _ or $".into());
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        return Err(
            "may contain only letters, digits, _ and $ (rule ^[a-zA-Z_$][a-zA-Z0-9_$]{0,63}$)"
                .into(),
        );
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!("`{name}` is a reserved word"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass() {
        for n in [
            "buyCourse",
            "course_name",
            "$pageview",
            "_x1",
            &"a".repeat(64),
        ] {
            assert_eq!(check(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn invalid_names_say_which_rule() {
        assert!(check("").unwrap_err().contains("empty"));
        assert!(check("1abc").unwrap_err().contains("start"));
        assert!(check("course-name").unwrap_err().contains("only letters"));
        assert!(check("课程").unwrap_err().contains("start"));
        assert!(check(&"a".repeat(65)).unwrap_err().contains("64"));
        assert!(check("Time").unwrap_err().contains("reserved"));
        assert!(check("uuid").unwrap_err().contains("reserved"));
    }
}
