//! Hosting images in an S3-compatible bucket, against a real S3 server on
//! loopback (moto's server mode). `.ci/run` installs moto; elsewhere the
//! test runs when `moto_server` is on the PATH.

use std::process::{Command, Stdio};
use std::time::Duration;

use crieur::media::{self, s3::S3};
use crieur_testing::{Killed, free_port, wait_for};

/// moto's server, stopped when dropped.
struct Moto {
    _child: Killed,
    endpoint: String,
}

fn moto() -> Option<Moto> {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(_) if std::env::var_os("CRIEUR_REQUIRE_S3").is_some() => {
            panic!("moto_server is required (pip install 'moto[server]')")
        }
        Err(_) => {
            eprintln!("moto_server is not installed: S3 test skipped");
            return None;
        }
    };
    let child = Killed(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_for("moto_server", Duration::from_secs(10), || {
        reqwest::blocking::get(&endpoint).is_ok()
    });
    Some(Moto {
        _child: child,
        endpoint,
    })
}

fn create_bucket(endpoint: &str, name: &str) {
    let bucket = rusty_s3::Bucket::new(
        endpoint.parse().unwrap(),
        rusty_s3::UrlStyle::Path,
        name.to_owned(),
        "us-east-1".to_owned(),
    )
    .unwrap();
    let credentials = rusty_s3::Credentials::new("test", "test");
    let url =
        rusty_s3::S3Action::sign(&bucket.create_bucket(&credentials), Duration::from_secs(60));
    let created = reqwest::blocking::Client::new()
        .put(url.as_str())
        .header("Content-Length", "0")
        .send()
        .expect("bucket created");
    assert!(created.status().is_success(), "{}", created.status());
}

#[test]
fn hosts_an_image_in_an_s3_bucket_at_a_public_url() {
    let Some(moto) = moto() else { return };
    create_bucket(&moto.endpoint, "crieur");
    let public = format!("{}/crieur", moto.endpoint);
    let mut store = S3::new(
        &moto.endpoint,
        "crieur",
        "us-east-1",
        &public,
        "test".into(),
        "test".into(),
    )
    .unwrap();
    let png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/icons/securise.png"
    ))
    .unwrap();
    let url = media::host(&mut store, &png).expect("stored and reachable");
    assert!(url.starts_with(&public) && url.ends_with(".png"), "{url}");
    let fetched = reqwest::blocking::get(&url)
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec();
    assert_eq!(fetched, png);
}

#[test]
fn an_unreachable_image_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = media::local::Local::new(dir.path().to_owned(), "http://127.0.0.1:9/images");
    let error = media::host(&mut store, b"not served").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("n'est pas accessible"), "{message}");
    assert!(message.contains("public_base_url"), "{message}");
}
