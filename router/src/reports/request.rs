//! The request bodies of the two report endpoints, exactly as the tracking plan writes them
//! (tracking plan §4, modelled on Sensors Analytics' query API). Values whose rules depend on the
//! registry or on each other stay as sent here; `plan` checks them and names the field at fault.
//! Keys this API does not use are ignored, as Sensors clients send more than these.
use crate::error::{Code, Rejection};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// `POST /events/report`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventsRequest {
    pub measures: Vec<MeasureRequest>,
    pub from_date: String,
    pub to_date: String,
    #[serde(default)]
    pub by_fields: Vec<String>,
    pub filter: Option<FilterRequest>,
    pub unit: Option<String>,
    #[serde(default)]
    pub detail_and_rollup: bool,
    /// Groups kept; absent or -1: all.
    pub limit: Option<i64>,
    pub sampling_factor: Option<i64>,
    #[serde(default)]
    pub use_cache: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MeasureRequest {
    pub event_name: String,
    pub aggregator: String,
    /// The numeric property of `sum`, `avg`, `max` and `min` (`event.buyCourse.money`).
    pub field: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FilterRequest {
    /// `and` (the default) or `or`, in any case.
    pub relation: Option<String>,
    #[serde(default)]
    pub conditions: Vec<ConditionRequest>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConditionRequest {
    pub field: String,
    pub function: String,
    #[serde(default)]
    pub params: Vec<Value>,
}

/// `POST /addictions/report`.
#[derive(Debug, Clone, Deserialize)]
pub struct AddictionsRequest {
    pub event_name: String,
    pub from_date: String,
    pub to_date: String,
    pub by_field: Option<String>,
    pub filter: Option<FilterRequest>,
    pub sampling_factor: Option<i64>,
    /// The unit `period` counts in: `day` (the default), `week` or `month`.
    pub unit: Option<String>,
    /// `times` (the default) or `period`.
    pub measure_type: Option<String>,
    pub result_bucket_param: Option<Vec<f64>>,
    /// `false`: one distribution per unit instead of one over the whole range.
    pub rollup_date: Option<bool>,
    #[serde(default)]
    pub use_cache: bool,
}

/// Reads a request body, refusing what is not JSON or not of the request's shape.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Value), Rejection> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Rejection::request(Code::InvalidJson, format!("the body is not JSON: {e}")))?;
    let request = T::deserialize(&value).map_err(|e| {
        let message = e.to_string();
        // serde names a missing or unknown key between backticks: that key is the field at fault.
        let field = message
            .split('`')
            .nth(1)
            .filter(|_| message.starts_with("missing field"))
            .map(str::to_owned);
        Rejection::new(Code::InvalidReport, field.as_deref(), message)
    })?;
    Ok((request, value))
}
