//! The web dashboard's files (`dashboard/` in the repository), served by `pipeline serve`
//! from the binary itself (docs/DASHBOARD.md).
//!
//! - `GET /` answers `dashboard/index.html`; `GET /ui/PATH` answers `dashboard/PATH`
//!   (`HEAD` as well). Nothing else of the server's paths is the dashboard's: it is a
//!   client of the public API (`/api/...`) like any other.
//! - Release builds embed the files (`rust-embed`); debug builds read them from the source
//!   tree at the path the binary was built from, so editing them needs no rebuild.
//! - These files hold no data, so they need no token: the page asks for the token and
//!   sends it with each API request (see `security::require_token`).
//! - Every answer carries the content type of its extension, `Cache-Control: no-cache`
//!   with a strong `ETag` (the first 16 bytes of the file's SHA-256, hex; a matching
//!   `If-None-Match` answers 304 without a body), and a strict
//!   `Content-Security-Policy` ([`CONTENT_SECURITY_POLICY`]): scripts, styles and
//!   connections from this origin only, no inline script or style, no framing.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::api_error::ApiError;

/// The files of `dashboard/`.
#[derive(RustEmbed)]
#[folder = "dashboard/"]
struct Assets;

/// The policy sent with every dashboard file: everything from this origin only, no inline
/// script or style, no plugins, no framing, no form posting elsewhere. `img-src` allows
/// `data:` URLs for images the page draws itself (a graph exported as PNG).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether `path` is one of the dashboard's (served without a token).
pub fn is_dashboard_path(path: &str) -> bool {
    path == "/" || path.starts_with("/ui/")
}

/// `GET /`: the dashboard's page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /ui/{*path}`: one of the dashboard's files.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The answer for the file `path` of `dashboard/` (404 JSON when there is none).
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let file = path
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != ".." && !part.starts_with('.'))
        .then(|| Assets::get(path))
        .flatten();
    let (Some(file), Some(content_type)) = (file, content_type(path)) else {
        return ApiError::not_found("not_found", format!("the dashboard has no file `{path}`"))
            .into_response();
    };
    let etag = etag(&file.metadata.sha256_hash());
    let mut response = if if_none_match(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            file.data.into_owned(),
        )
            .into_response()
    };
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The content type of a dashboard file by its extension; `None` for a kind the dashboard
/// does not serve.
fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// A strong entity tag from a content hash: `"` + 32 hex digits + `"`.
fn etag(sha256: &[u8; 32]) -> String {
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &sha256[..16] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag.push('"');
    tag
}

/// Whether `If-None-Match` names `etag` (or is `*`), comparing weakly as RFC 9110
/// §13.1.2 says for this header.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// Every file of the dashboard with its size in bytes, sorted by path (for the size
/// budget test and docs/THIRD_PARTY.md's check).
#[cfg(test)]
pub fn files() -> Vec<(String, usize)> {
    let mut files: Vec<(String, usize)> = Assets::iter()
        .filter_map(|name| Assets::get(&name).map(|f| (name.into_owned(), f.data.len())))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests;
