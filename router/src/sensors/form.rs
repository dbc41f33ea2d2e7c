//! The form fields a Sensors SDK sends: from the query string (`GET /sa.gif?data=...`, and the
//! `?project=` of every URL) and from the body (`data=...&gzip=1`), which is a form whatever its
//! `Content-Type` says (the web SDK's beacon mode sends it as `text/plain`).
use url::form_urlencoded;

/// The fields slog reads; any other field is ignored, as Sensors' own receiver does.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form {
    /// One message (base64 text).
    pub data: Option<String>,
    /// An array of messages (base64 text).
    pub data_list: Option<String>,
    /// `1`: the base64 holds gzip; `0` or absent: plain JSON; `9`/`13`: encrypted.
    pub gzip: Option<String>,
    /// Java `String.hashCode` of the data text (mobile SDKs).
    pub crc: Option<String>,
    /// `crc=<n>`, the same check as sent by the web SDK.
    pub ext: Option<String>,
    /// The project named in the URL.
    pub project: Option<String>,
}

impl Form {
    /// The fields of `query` and then `body`: a field in the body replaces the same field in
    /// the query, except `project`, which only the URL names.
    pub fn parse(query: Option<&str>, body: &[u8]) -> Form {
        let mut form = Form::default();
        if let Some(query) = query {
            form.read(query.as_bytes(), true);
        }
        form.read(body, false);
        form
    }

    fn read(&mut self, text: &[u8], from_url: bool) {
        for (name, value) in form_urlencoded::parse(text) {
            let slot = match name.as_ref() {
                "data" => &mut self.data,
                "data_list" => &mut self.data_list,
                "gzip" => &mut self.gzip,
                "crc" => &mut self.crc,
                "ext" => &mut self.ext,
                "project" if from_url => &mut self.project,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
    }

    /// The crc the SDK sent, from `crc` or from `ext=crc=<n>`.
    pub fn crc(&self) -> Option<&str> {
        self.crc.as_deref().or_else(|| {
            self.ext
                .as_deref()?
                .split('&')
                .find_map(|pair| pair.strip_prefix("crc="))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_fields_replace_query_fields_but_not_the_project() {
        let form = Form::parse(
            Some("project=zhibo&data=q&gzip=0"),
            b"data=b%2B1&gzip=1&project=other&extra=x",
        );
        assert_eq!(form.data.as_deref(), Some("b+1"));
        assert_eq!(form.gzip.as_deref(), Some("1"));
        assert_eq!(form.project.as_deref(), Some("zhibo"));
    }

    #[test]
    fn the_crc_comes_from_crc_or_from_ext() {
        let web = Form::parse(Some("data=x&ext=crc%3D-123"), b"");
        assert_eq!(web.crc(), Some("-123"));
        let mobile = Form::parse(None, b"crc=42&gzip=1&data_list=x");
        assert_eq!(mobile.crc(), Some("42"));
        assert_eq!(Form::parse(None, b"data=x&ext=other%3D1").crc(), None);
    }
}
