//! Links an order to its buyer: when an event carries `orderDetailId` (a property or an
//! identity) and the user's `userid`, it proposes `orderDetailId` as an identity of the event,
//! which slog's identity stage then links to the userid's person.
use slog_plugin_sdk::{export, Event, Hook, Plugin};

#[derive(Default)]
pub struct IdentityRules;

impl Plugin for IdentityRules {
    const HOOKS: &'static [Hook] = &[Hook::Identify];
    const PROPS: Option<&'static [&'static str]> = Some(&["orderDetailId"]);

    fn identify(&self, event: &Event) -> Vec<(String, String)> {
        if event.identity("userid").is_none() || event.identity("orderDetailId").is_some() {
            return Vec::new();
        }
        let order = match event.prop("orderDetailId") {
            Some(slog_plugin_sdk::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(slog_plugin_sdk::Value::Number(n)) => n.to_string(),
            _ => return Vec::new(),
        };
        vec![("orderDetailId".into(), order)]
    }
}

export!(IdentityRules);

#[cfg(test)]
mod tests {
    use super::*;
    use slog_plugin_sdk::json;

    #[test]
    fn proposes_the_order_only_next_to_a_userid() {
        let order = json!({"orderDetailId": "od-7"});
        let with_user = Event::track("pay", order.clone()).with_identity("userid", "u-1");
        assert_eq!(
            IdentityRules.identify(&with_user),
            vec![("orderDetailId".to_string(), "od-7".to_string())]
        );
        let anonymous = Event::track("pay", order).with_identity("deviceUUID", "d");
        assert!(IdentityRules.identify(&anonymous).is_empty());
        let no_order = Event::track("pay", json!({})).with_identity("userid", "u-1");
        assert!(IdentityRules.identify(&no_order).is_empty());
    }
}
