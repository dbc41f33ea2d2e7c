//! Query-string and path extractors whose refusals are the JSON error body every other admin
//! answer uses (axum's own answer those with a plain-text 400).
use crate::error::{Code, Rejection};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// `axum::extract::Query`, refusing with 400 `invalid_value`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(e) => Err(Rejection::request(Code::InvalidValue, e.body_text())),
        }
    }
}

/// `axum::extract::Path`, refusing with 400 `invalid_value`.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(e) => Err(Rejection::request(Code::InvalidValue, e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[derive(serde::Deserialize)]
    struct Filter {
        #[allow(dead_code)]
        is_reserve: Option<u8>,
    }

    #[tokio::test]
    async fn a_malformed_query_is_a_json_400_naming_the_parameter() {
        let request = Request::get("/admin/events?is_reserve=yes")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        let Err(rejection) = Query::<Filter>::from_request_parts(&mut parts, &()).await else {
            panic!("is_reserve=yes is not a u8");
        };
        assert_eq!(rejection.code, Code::InvalidValue);
        assert!(
            rejection.message.contains("is_reserve"),
            "{}",
            rejection.message
        );
    }
}
