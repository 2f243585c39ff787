//! The dashboard: the built single-page app (`frontend/dist`) served from the same origin
//! as the API, so the session cookie and the websocket need no CORS.
//!
//! Invariants:
//! - Only files inside the UI directory are served: the request path is split into plain
//!   segments and anything else (`..`, backslashes, NUL, hidden files) is refused.
//! - Any other GET that is not an API path answers `index.html`, so deep links
//!   (`/w/<id>/backtests/<id>`) work after a reload; unknown `/api/...` paths stay JSON 404s.
//! - Hashed build assets (`/assets/...`) are cached for a year; `index.html` is never
//!   cached, so a new build is picked up at once.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// The file under `dir` that `uri` names, if it is a plain relative path.
fn file_of(dir: &Path, uri: &Uri) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    for seg in uri.path().split('/').filter(|s| !s.is_empty()) {
        let ok = !seg.starts_with('.')
            && !seg.contains('\\')
            && !seg.contains('\0')
            && !seg.contains('%');
        if !ok {
            return None;
        }
        path.push(seg);
    }
    Some(path)
}

async fn send_file(path: &Path, cache: &'static str) -> Option<Response> {
    let bytes = tokio::fs::read(path).await.ok()?;
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Some(resp)
}

/// Serves the app for a request no API route matched.
pub(crate) async fn serve(dir: Option<PathBuf>, method: Method, uri: Uri) -> Response {
    let api = uri.path() == "/api" || uri.path().starts_with("/api/");
    let Some(dir) = dir.filter(|_| !api && (method == Method::GET || method == Method::HEAD))
    else {
        return ApiError::not_found("no such endpoint").into_response();
    };
    if let Some(file) = file_of(&dir, &uri)
        && file != dir
        && file.is_file()
    {
        let cache = if uri.path().starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        if let Some(resp) = send_file(&file, cache).await {
            return resp;
        }
    }
    match send_file(&dir.join("index.html"), "no-cache").await {
        Some(resp) => resp,
        None => (
            StatusCode::NOT_FOUND,
            "the dashboard is not built: run `make run` (or `npm run build` in frontend/)",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn only_plain_paths_inside_the_directory_are_files() {
        let dir = Path::new("/srv/ui");
        let f = |p: &str| file_of(dir, &p.parse::<Uri>().unwrap());
        assert_eq!(f("/assets/app.js"), Some(dir.join("assets/app.js")));
        assert_eq!(f("/"), Some(dir.to_path_buf()));
        assert_eq!(f("/../etc/passwd"), None);
        assert_eq!(f("/assets/..%2f..%2fetc"), None);
        assert_eq!(f("/.env"), None);
    }
}
