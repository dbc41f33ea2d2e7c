//! Seed §4: a `buyCourse` event must carry a `course_name` and a positive `money`.
use slog_plugin_sdk::{export, Event, Hook, Plugin, Reject};

#[derive(Default)]
pub struct CourseCheck;

impl Plugin for CourseCheck {
    const HOOKS: &'static [Hook] = &[Hook::Validate];
    const PROPS: Option<&'static [&'static str]> = Some(&["course_name", "money"]);

    fn validate(&self, event: &Event) -> Result<(), Reject> {
        if !event.is("buyCourse") {
            return Ok(());
        }
        if event.prop_str("course_name").is_none() {
            return Err(Reject::field(
                "ps.course_name",
                "buyCourse needs a course_name",
            ));
        }
        match event.prop_f64("money") {
            Some(money) if money > 0.0 => Ok(()),
            _ => Err(Reject::field(
                "ps.money",
                "buyCourse needs a positive money",
            )),
        }
    }
}

export!(CourseCheck);

#[cfg(test)]
mod tests {
    use super::*;
    use slog_plugin_sdk::json;

    #[test]
    fn buy_course_needs_a_name_and_a_positive_amount() {
        let check = |props| CourseCheck.validate(&Event::track("buyCourse", props));
        assert_eq!(
            check(json!({"course_name": "新概念", "money": 199})),
            Ok(())
        );
        let err = check(json!({"course_name": "新概念", "money": 0})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ps.money"));
        let err = check(json!({"money": 10})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ps.course_name"));
        assert_eq!(
            CourseCheck.validate(&Event::track("pageview", json!({}))),
            Ok(())
        );
    }
}
