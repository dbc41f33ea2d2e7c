//! Test only: the transform hook. Sets the property named by the `key` setting to the `value`
//! setting on every event that lacks it.
use slog_plugin_sdk::{export, Event, Hook, Plugin, Settings};

#[derive(Default)]
pub struct Stamp {
    key: String,
    value: String,
}

impl Plugin for Stamp {
    const HOOKS: &'static [Hook] = &[Hook::Transform];

    fn init(&mut self, settings: &Settings) -> Result<(), String> {
        settings.only(&["key", "value"])?;
        self.key = settings.str_or("key", "stamp")?.to_owned();
        self.value = settings.str_or("value", "stamped")?.to_owned();
        Ok(())
    }

    fn transform(&self, event: &mut Event) {
        if event.prop(&self.key).is_none() {
            let value = self.value.clone();
            event.props_mut().insert(self.key.clone(), value.into());
        }
    }
}

export!(Stamp);

#[cfg(test)]
mod tests {
    use super::*;
    use slog_plugin_sdk::json;

    #[test]
    fn stamps_only_events_without_the_property() {
        let stamp = Stamp {
            key: "channel".into(),
            value: "app".into(),
        };
        let mut bare = Event::track("pageview", json!({"a": 1}));
        stamp.transform(&mut bare);
        assert_eq!(
            bare.changed_props().as_deref(),
            Some(r#"{"a":1,"channel":"app"}"#)
        );
        let mut sent = Event::track("pageview", json!({"channel": "web"}));
        stamp.transform(&mut sent);
        assert_eq!(sent.changed_props(), None);
    }
}
