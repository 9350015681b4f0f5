//! HTTPS on the listener: the admin client reaches a server with a private
//! certificate it was told to trust, and tokens may then cross the network.
//! See: issue 16.

mod common;

use std::io::{Read, Write};

use common::{ADMIN_TOKEN, TestServer};
use ferro_fleet::client::{AdminClient, ClientError};

#[test]
fn https_listener_with_a_private_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = key.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.signing_key.serialize_pem()).unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata = \"data\"\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n"
    );
    let config = ferro_fleet::Config::parse(&text, "t.toml", dir.path()).unwrap();
    let server = TestServer::start(config);
    let url = format!("https://{}", server.addr);

    let client = AdminClient::new(&url, ADMIN_TOKEN)
        .unwrap()
        .trusting(cert_pem.as_bytes())
        .unwrap();
    let locks = client.locks().unwrap();
    assert_eq!(locks.groups[0].name, "default");

    // Without the private CA the certificate is refused.
    match AdminClient::new(&url, ADMIN_TOKEN).unwrap().locks() {
        Err(ClientError::Transport { .. }) => {}
        other => panic!("{other:?}"),
    }
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
}

#[test]
fn a_key_that_does_not_match_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let one = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let two = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), one.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), two.signing_key.serialize_pem()).unwrap();
    let text = "listen = \"127.0.0.1:0\"\ndata = \"data\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n";
    let config = ferro_fleet::Config::parse(text, "t.toml", dir.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let error = runtime
        .block_on(ferro_fleet::server::Server::bind(config))
        .unwrap_err();
    assert!(
        error.to_string().contains("cannot be used together"),
        "{error}"
    );
    let missing = "listen = \"127.0.0.1:0\"\ndata = \"data\"\ntls_cert = \"nope.pem\"\ntls_key = \"key.pem\"\n";
    let config = ferro_fleet::Config::parse(missing, "t.toml", dir.path()).unwrap();
    let error = runtime
        .block_on(ferro_fleet::server::Server::bind(config))
        .unwrap_err();
    assert!(error.to_string().contains("nope.pem"), "{error}");
}
