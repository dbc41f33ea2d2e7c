//! Seed §5.1: emits the virtual event `newUser` when `AppStart` or `pageview` arrives with
//! `is_first_time=true`. Settings: `triggers` (event names, default the tracking plan's two), `eid` (the
//! virtual event's name, default `newUser`).
use slog_plugin_sdk::{export, Event, Hook, Plugin, Settings, VirtualEvent};

pub struct NewUser {
    triggers: Vec<String>,
    eid: String,
}

impl Default for NewUser {
    fn default() -> Self {
        NewUser {
            triggers: vec!["AppStart".into(), "pageview".into()],
            eid: "newUser".into(),
        }
    }
}

impl Plugin for NewUser {
    const HOOKS: &'static [Hook] = &[Hook::Derive];
    const PROPS: Option<&'static [&'static str]> = Some(&["is_first_time"]);

    fn init(&mut self, settings: &Settings) -> Result<(), String> {
        settings.only(&["triggers", "eid"])?;
        self.triggers = settings.strings_or("triggers", &["AppStart", "pageview"])?;
        self.eid = settings.str_or("eid", "newUser")?.to_owned();
        Ok(())
    }

    fn derive(&self, event: &Event) -> Vec<VirtualEvent> {
        let triggered = event
            .eid()
            .is_some_and(|eid| self.triggers.iter().any(|t| t == eid));
        if !triggered || event.prop_bool("is_first_time") != Some(true) {
            return Vec::new();
        }
        vec![VirtualEvent::new(&self.eid).prop("source_eid", event.eid())]
    }
}

export!(NewUser);

#[cfg(test)]
mod tests {
    use super::*;
    use slog_plugin_sdk::json;

    #[test]
    fn first_time_app_start_or_pageview_makes_a_new_user() {
        let p = NewUser::default();
        let first = json!({"is_first_time": true});
        assert_eq!(
            p.derive(&Event::track("AppStart", first.clone()))[0].eid,
            "newUser"
        );
        assert_eq!(p.derive(&Event::track("pageview", first.clone())).len(), 1);
        assert!(p.derive(&Event::track("buyCourse", first)).is_empty());
        assert!(p
            .derive(&Event::track("pageview", json!({"is_first_time": false})))
            .is_empty());
    }
}
