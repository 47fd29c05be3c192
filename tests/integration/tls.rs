//! T1, T4: protocol versions, cipher suites, certificate reload.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatehouse_testkit::TestDatabase;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

use crate::support::{TestServer, config, write_cert};

/// A ClientHello offering only `version` (0x0301 = TLS 1.0, 0x0302 = TLS 1.1, 0x0303 = TLS
/// 1.2) and `suites`, without the supported_versions extension, as a client limited to that
/// version sends it.
fn legacy_client_hello(version: u16, suites: &[u16]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut ext = Vec::new();
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17]); // groups: secp256r1
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // ec point formats
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
    ext.extend_from_slice(&[0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]);
    let host = b"localhost";
    let sni_len = host.len() as u16;
    ext.extend_from_slice(&[0x00, 0x00]);
    ext.extend_from_slice(&(sni_len + 5).to_be_bytes());
    ext.extend_from_slice(&(sni_len + 3).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&sni_len.to_be_bytes());
    ext.extend_from_slice(host);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);

    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// Suites a TLS 1.0–1.2 client offers: AEAD and CBC.
const MIXED_SUITES: [u16; 4] = [0xc02b, 0xc02f, 0xc013, 0x002f];

/// Sends a legacy ClientHello and returns what the server answered before closing (or, for
/// an answer that goes on, its first record).
fn legacy_handshake(addr: SocketAddr, version: u16, suites: &[u16]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&legacy_client_hello(version, suites)).unwrap();
    let mut answer = vec![0; 4096];
    let n = s.read(&mut answer).unwrap_or(0);
    answer.truncate(n);
    answer
}

/// Asserts `answer` is a fatal alert, one of `alerts`; never a ServerHello.
fn assert_refused(answer: &[u8], alerts: &[u8], what: &str) {
    assert!(answer.len() >= 7, "{what}: {answer:?}");
    assert_eq!(answer[0], 21, "{what}: an alert record, got {answer:?}");
    assert_eq!(answer[5], 2, "{what}: a fatal alert");
    assert!(alerts.contains(&answer[6]), "{what}: alert {}", answer[6]);
}

fn root_store(pem: &[u8]) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// Completes a handshake limited to `version` and a request; returns the negotiated version,
/// the suite, the server's leaf certificate, and the response's status line.
fn handshake(
    addr: SocketAddr,
    pem: &[u8],
    version: &'static rustls::SupportedProtocolVersion,
) -> (rustls::ProtocolVersion, String, Vec<u8>, String) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(root_store(pem))
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response);
    let negotiated = tls.conn.protocol_version().unwrap();
    let suite = format!("{:?}", tls.conn.negotiated_cipher_suite().unwrap().suite());
    let leaf = tls.conn.peer_certificates().unwrap()[0].to_vec();
    let status = String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_owned();
    (negotiated, suite, leaf, status)
}

#[actix_web::test]
async fn tls_1_0_and_1_1_are_refused() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    let addr = server.running.https_addr;
    for version in [0x0301u16, 0x0302] {
        let answer = tokio::task::spawn_blocking(move || legacy_handshake(addr, version, &MIXED_SUITES)).await.unwrap();
        // A fatal alert (record 21, level 2) refusing the version: protocol_version (70) or
        // handshake_failure (40); never a ServerHello (record 22, message 2).
        assert_refused(&answer, &[40, 70], &format!("version {version:#06x}"));
    }
}

/// T1: a TLS 1.2 client that offers only CBC suites (with and without ECDHE, SHA-1 and
/// SHA-256 MACs) gets a handshake_failure; the same hello with an AEAD suite gets a
/// ServerHello, so the refusal is the suites'.
#[actix_web::test]
async fn tls_1_2_clients_offering_only_cbc_suites_are_refused() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    let addr = server.running.https_addr;
    let cbc: [u16; 6] = [0xc009, 0xc013, 0xc023, 0xc027, 0x002f, 0x003c];
    let answer = tokio::task::spawn_blocking(move || legacy_handshake(addr, 0x0303, &cbc)).await.unwrap();
    assert_refused(&answer, &[40], "CBC only");
    let aead = [0xc02b];
    let answer = tokio::task::spawn_blocking(move || legacy_handshake(addr, 0x0303, &aead)).await.unwrap();
    assert_eq!((answer.first(), answer.get(5)), (Some(&22), Some(&2)), "a ServerHello for AEAD: {answer:?}");
}

#[actix_web::test]
async fn tls_1_2_and_1_3_are_accepted_with_aead_suites() {
    let db = TestDatabase::sqlite();
    let server = TestServer::start(&db, None).await;
    let addr = server.running.https_addr;
    let pem = server.cert_pem.clone();
    let results = tokio::task::spawn_blocking(move || {
        [&rustls::version::TLS12, &rustls::version::TLS13].map(|v| handshake(addr, &pem, v))
    })
    .await
    .unwrap();
    let [(v12, s12, _, st12), (v13, s13, _, st13)] = results;
    assert_eq!(v12, rustls::ProtocolVersion::TLSv1_2);
    assert_eq!(v13, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(st12, "HTTP/1.1 200 OK");
    assert_eq!(st13, "HTTP/1.1 200 OK");
    for suite in [s12, s13] {
        assert!(suite.contains("GCM") || suite.contains("CHACHA20_POLY1305"), "AEAD suite: {suite}");
    }
}

#[actix_web::test]
async fn certificate_files_are_reloaded_without_restart() {
    let db = TestDatabase::sqlite();
    let tls_dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(tls_dir.path(), "first");
    let cfg =
        config(&db, &[("GATEHOUSE_TLS_CERT", cert.to_str().unwrap()), ("GATEHOUSE_TLS_KEY", key.to_str().unwrap())]);
    let server = TestServer::start_with(cfg, None).await;
    let addr = server.running.https_addr;

    let first_pem = std::fs::read(&cert).unwrap();
    let p = first_pem.clone();
    let (_, _, leaf1, _) =
        tokio::task::spawn_blocking(move || handshake(addr, &p, &rustls::version::TLS13)).await.unwrap();
    assert!(!server.running.certs.reload_if_changed(), "unchanged files are not reloaded");

    write_cert(tls_dir.path(), "second");
    // Make the change visible even on a file system with coarse timestamps.
    let later = SystemTime::now() + Duration::from_secs(5);
    for f in [&cert, &key] {
        std::fs::File::options().write(true).open(f).unwrap().set_modified(later).unwrap();
    }
    assert!(server.running.certs.reload_if_changed(), "changed files are reloaded");
    let second_pem = std::fs::read(&cert).unwrap();
    let (_, _, leaf2, status) =
        tokio::task::spawn_blocking(move || handshake(addr, &second_pem, &rustls::version::TLS13)).await.unwrap();
    assert_ne!(leaf1, leaf2, "the new certificate is served");
    assert_eq!(status, "HTTP/1.1 200 OK");

    // A broken replacement keeps the working certificate.
    std::fs::write(&key, "not a key").unwrap();
    std::fs::File::options().write(true).open(&key).unwrap().set_modified(later + Duration::from_secs(5)).unwrap();
    assert!(!server.running.certs.reload_if_changed());
    let again = std::fs::read(&cert).unwrap();
    let (_, _, leaf3, _) =
        tokio::task::spawn_blocking(move || handshake(addr, &again, &rustls::version::TLS13)).await.unwrap();
    assert_eq!(leaf2, leaf3);
}

/// T4: the server's own watcher picks up replaced files, without anyone asking it to.
#[actix_web::test]
async fn the_watcher_serves_replaced_certificate_files() {
    let db = TestDatabase::sqlite();
    let tls_dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(tls_dir.path(), "first");
    let cfg = config(
        &db,
        &[
            ("GATEHOUSE_TLS_CERT", cert.to_str().unwrap()),
            ("GATEHOUSE_TLS_KEY", key.to_str().unwrap()),
            ("GATEHOUSE_TLS_RELOAD_SECS", "1"),
        ],
    );
    let server = TestServer::start_with(cfg, None).await;
    let addr = server.running.https_addr;
    let first = std::fs::read(&cert).unwrap();
    let (_, _, leaf1, _) =
        tokio::task::spawn_blocking(move || handshake(addr, &first, &rustls::version::TLS13)).await.unwrap();
    write_cert(tls_dir.path(), "second");
    let later = SystemTime::now() + Duration::from_secs(5);
    for f in [&cert, &key] {
        std::fs::File::options().write(true).open(f).unwrap().set_modified(later).unwrap();
    }
    let second = std::fs::read(&cert).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let pem = second.clone();
        // Until the watcher swaps it in, the old certificate fails verification against the
        // new one: a handshake that panics is a "not yet".
        let served = tokio::task::spawn_blocking(move || handshake(addr, &pem, &rustls::version::TLS13)).await;
        if let Ok((_, _, leaf, status)) = served {
            assert_ne!(leaf, leaf1);
            assert_eq!(status, "HTTP/1.1 200 OK");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the watcher never served the new certificate");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
