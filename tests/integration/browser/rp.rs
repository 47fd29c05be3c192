//! A stand-in relying party on plain HTTP at `http://localhost:{port}`: it shows what an
//! authorization response or a post-logout redirect brought (query or form_post), and can
//! serve a page from another site (`http://127.0.0.1:{port}`) for cross-site tests.

use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};

/// The running stand-in; stopped when dropped.
pub struct RelyingParty {
    pub port: u16,
    server: actix_web::dev::ServerHandle,
    other_site_page: Arc<Mutex<String>>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A page that lists `fields` as JSON in `#params`, and how they came in `#method`.
fn echo_page(method: &str, fields: Vec<(String, String)>) -> HttpResponse {
    let map: serde_json::Map<String, serde_json::Value> =
        fields.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    let body = format!(
        "<!doctype html><html><head><title>RP</title></head><body><p id=\"method\">{method}</p>\
         <pre id=\"params\">{}</pre></body></html>",
        escape(&serde_json::Value::Object(map).to_string())
    );
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}

async fn get_echo(req: HttpRequest) -> HttpResponse {
    let fields = url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    echo_page("GET", fields)
}

async fn post_echo(body: web::Bytes) -> HttpResponse {
    echo_page("POST", url::form_urlencoded::parse(&body).into_owned().collect())
}

impl RelyingParty {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let other_site_page = Arc::new(Mutex::new(String::new()));
        let page = other_site_page.clone();
        let server = actix_web::HttpServer::new(move || {
            let page = page.clone();
            actix_web::App::new()
                .route("/callback", web::get().to(get_echo))
                .route("/callback", web::post().to(post_echo))
                .route("/signed-out", web::get().to(get_echo))
                // A client whose redirect URI sends the browser on to another site (a broker).
                .route(
                    "/callback-hop",
                    web::get().to(move |req: HttpRequest| async move {
                        let to = format!("http://127.0.0.1:{port}/callback?{}", req.query_string());
                        HttpResponse::Found().insert_header(("location", to)).finish()
                    }),
                )
                .route(
                    "/other-site",
                    web::get().to(move || {
                        let html = page.lock().unwrap().clone();
                        async move { HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html) }
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { port, server: handle, other_site_page }
    }

    /// `http://localhost:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// Sets the page served at `http://127.0.0.1:{port}/other-site` (another site than
    /// `localhost` for the browser) and returns its URL.
    pub fn other_site(&self, html: &str) -> String {
        *self.other_site_page.lock().unwrap() = html.to_owned();
        format!("http://127.0.0.1:{}/other-site", self.port)
    }
}

impl Drop for RelyingParty {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}

/// The fields an echo page shows.
pub fn echoed(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(m)) => m,
        other => panic!("not an echo of fields: {text} ({other:?})"),
    }
}
