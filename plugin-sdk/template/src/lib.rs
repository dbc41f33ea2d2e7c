//! An example slog plugin. On `payOrder` events it
//!
//! - refuses the event when `order_id` is missing or `amount` is not a positive number
//!   (validate hook: the client gets 400 `plugin_rejected`, the event is dead-lettered);
//! - sets the property `team` to the team named in the settings when the event has none
//!   (transform hook).
//!
//! Settings (`[plugin.settings]` of its plugins.toml entry): `team`, a non-empty string.
use slog_plugin_sdk::{export, log, Event, Hook, Plugin, Reject, Settings};

/// The event this plugin looks after.
const ORDER_EVENT: &str = "payOrder";

#[derive(Debug, Default)]
pub struct OrderCheck {
    team: String,
}

impl Plugin for OrderCheck {
    const HOOKS: &'static [Hook] = &[Hook::Validate, Hook::Transform];

    fn init(&mut self, settings: &Settings) -> Result<(), String> {
        settings.only(&["team"])?;
        self.team = settings.str_or("team", "")?.to_owned();
        if self.team.is_empty() {
            return Err("setting `team` is required".into());
        }
        Ok(())
    }

    fn validate(&self, event: &Event) -> Result<(), Reject> {
        if !event.is(ORDER_EVENT) {
            return Ok(());
        }
        let refusal = if event.prop_str("order_id").is_none() {
            Reject::field("ps.order_id", "payOrder needs an order_id")
        } else {
            match event.prop_f64("amount") {
                Some(amount) if amount > 0.0 => return Ok(()),
                _ => Reject::field("ps.amount", "payOrder needs a positive amount"),
            }
        };
        // Counted in slog's metrics as slog_plugin_counter_total{plugin, name="rejected"}.
        log::count("rejected", 1);
        Err(refusal)
    }

    fn transform(&self, event: &mut Event) {
        if event.is(ORDER_EVENT) && event.prop("team").is_none() {
            let team = self.team.clone();
            event.props_mut().insert("team".into(), team.into());
        }
    }
}

export!(OrderCheck);

// The plugin's logic runs on the host too (`export!` is inert outside WebAssembly), so these
// tests need no slog: `cargo test --target <host triple>`.
#[cfg(test)]
mod tests {
    use super::*;
    use slog_plugin_sdk::json;

    fn plugin(settings: &str) -> Result<OrderCheck, String> {
        let mut plugin = OrderCheck::default();
        plugin.init(&Settings::parse(settings)?)?;
        Ok(plugin)
    }

    #[test]
    fn settings_need_a_team_and_nothing_else() {
        assert_eq!(plugin(r#"{"team": "payments"}"#).unwrap().team, "payments");
        assert!(plugin("{}").unwrap_err().contains("`team`"));
        assert!(plugin(r#"{"team": 7}"#).unwrap_err().contains("`team`"));
        assert!(plugin(r#"{"team": "payments", "tem": "x"}"#)
            .unwrap_err()
            .contains("`tem`"));
    }

    #[test]
    fn pay_order_needs_an_order_id_and_a_positive_amount() {
        let p = plugin(r#"{"team": "payments"}"#).unwrap();
        let check = |props| p.validate(&Event::track("payOrder", props));
        assert_eq!(check(json!({"order_id": "A-1", "amount": 12.5})), Ok(()));
        // SDKs send numbers as text too.
        assert_eq!(check(json!({"order_id": "A-1", "amount": "12.5"})), Ok(()));
        let err = check(json!({"amount": 12.5})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ps.order_id"));
        let err = check(json!({"order_id": "A-1", "amount": 0})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ps.amount"));
        let err = check(json!({"order_id": "A-1"})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ps.amount"));
        // Other events pass untouched.
        assert_eq!(p.validate(&Event::track("pageview", json!({}))), Ok(()));
    }

    #[test]
    fn stamps_the_team_on_pay_orders_without_one() {
        let p = plugin(r#"{"team": "payments"}"#).unwrap();
        let mut order = Event::track("payOrder", json!({"order_id": "A-1", "amount": 3}));
        p.transform(&mut order);
        assert_eq!(
            order.changed_props().as_deref(),
            Some(r#"{"order_id":"A-1","amount":3,"team":"payments"}"#)
        );
        let mut tagged = Event::track("payOrder", json!({"team": "growth"}));
        p.transform(&mut tagged);
        assert_eq!(tagged.changed_props(), None);
        let mut other = Event::track("pageview", json!({}));
        p.transform(&mut other);
        assert_eq!(other.changed_props(), None);
    }
}
