//! Reading requests into typed values with the API's error shape: JSON bodies, query
//! strings, path parameters, and workstream paths that must stay inside the repository.

use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::api_error::ApiError;
use super::security::BODY_LIMIT;

/// A JSON request body; an empty body reads as `{}`. First the checks of a state change
/// (403 cross-origin, 415 not JSON: [`super::security::check_state_change`]). Errors:
/// 413 over the limit, 400
/// `invalid_json` for text that is not JSON, 422 `invalid_body` for JSON of the wrong
/// shape (naming the field).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        super::security::check_state_change(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(BODY_LIMIT)
            } else {
                ApiError::bad_request("invalid_body", format!("cannot read the body: {e}"))
            }
        })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text).map(JsonBody).map_err(|e| {
            if e.is_data() {
                ApiError::unprocessable("invalid_body", format!("request body: {e}"))
            } else {
                ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}"))
            }
        })
    }
}

/// An optional whole number that JSON may write as `4` or `4.0` (JSON Schema's
/// `integer` accepts both); a fraction, a negative number or one above `u32::MAX` is an
/// error.
pub fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    use serde::Deserialize;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    whole
        .and_then(|w| u32::try_from(w).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {n}")))
}

/// A query string; errors are 400 `invalid_query` naming the parameter.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// Path parameters (percent-decoded); errors are 400 `invalid_path`.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// `paths` resolved inside `root` (canonical): a relative path is taken from the
/// repository root; symbolic links are resolved. Errors (400 `path_outside_repository`,
/// 404 `path_not_found`, 422 `invalid_body` for an empty list) name the path.
pub fn workstream_paths(root: &Path, paths: &[String]) -> Result<Vec<PathBuf>, ApiError> {
    if paths.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "`workstreams` is empty: name at least one workstream file, relative to the repository root",
        ));
    }
    paths
        .iter()
        .map(|p| {
            if p.is_empty() || p.contains('\0') {
                return Err(ApiError::not_found(
                    "path_not_found",
                    format!("workstream path {p:?} names no file"),
                ));
            }
            let joined = root.join(p);
            let outside = || {
                ApiError::bad_request(
                    "path_outside_repository",
                    format!(
                        "workstream path `{p}` is outside the repository {}: only files inside it can be run",
                        root.display()
                    ),
                )
            };
            // Lexically first, so that a path escaping the repository is refused as such
            // whether or not it exists.
            if !lexically_inside(&joined, root) {
                return Err(outside());
            }
            let real = std::fs::canonicalize(&joined).map_err(|e| {
                ApiError::not_found(
                    "path_not_found",
                    format!("workstream path `{p}` cannot be read in the repository: {e}"),
                )
            })?;
            if !real.starts_with(root) {
                return Err(outside());
            }
            Ok(real)
        })
        .collect()
}

/// Whether `path`, with `.` and `..` resolved by name only, stays under `root`.
fn lexically_inside(path: &Path, root: &Path) -> bool {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return false;
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out.starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_directories_cannot_leave_the_root() {
        let root = Path::new("/repo");
        assert!(lexically_inside(Path::new("/repo/ws/a.json"), root));
        assert!(lexically_inside(Path::new("/repo/ws/../a.json"), root));
        assert!(!lexically_inside(Path::new("/repo/../x.json"), root));
        assert!(!lexically_inside(Path::new("/etc/passwd"), root));
        assert!(!lexically_inside(Path::new("/repo/../repo2/x.json"), root));
    }
}
