//! Stopping, hanging and restarting single stand-ins: the port closes, then accepts without
//! answering, then serves again with the same state; the other stand-ins are untouched.

use std::time::Duration;

use devstack::Service;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::common::Stack;

fn port(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

async fn get_status(client: &reqwest::Client, url: &str) -> Result<u16, reqwest::Error> {
    client.get(url).send().await.map(|r| r.status().as_u16())
}

#[tokio::test]
async fn a_stopped_service_refuses_connections_and_restarts_on_its_port() {
    let stack = Stack::start().await;
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(stack.dev.ca_pem().as_bytes()).unwrap(),
        )
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let s3 = stack.dev.s3_url().to_owned();
    let sts = stack.dev.sts_url().to_owned();
    // Unsigned: the S3 answers 403, proving it is up.
    assert_eq!(get_status(&client, &s3).await.unwrap(), 403);

    stack.dev.stop_service(Service::S3).await;
    let refused = TcpStream::connect(("127.0.0.1", port(&s3))).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    // STS is untouched.
    assert!(get_status(&client, &sts).await.is_ok());

    stack.dev.start_service(Service::S3).await.unwrap();
    assert_eq!(get_status(&client, &s3).await.unwrap(), 403);
    // Stopping twice, or starting a running service, is harmless.
    stack.dev.stop_service(Service::S3).await;
    stack.dev.stop_service(Service::S3).await;
    stack.dev.start_service(Service::S3).await.unwrap();
    stack.dev.start_service(Service::S3).await.unwrap();
    assert_eq!(get_status(&client, &s3).await.unwrap(), 403);
    stack.dev.stop().await;
}

#[tokio::test]
async fn a_hanging_service_accepts_but_never_answers() {
    let stack = Stack::start().await;
    let s3 = stack.dev.s3_url().to_owned();
    stack.dev.hang_service(Service::S3).await.unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", port(&s3))).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_millis(300), conn.read(&mut buf)).await;
    assert!(read.is_err(), "a hanging service must not answer: {read:?}");

    stack.dev.start_service(Service::S3).await.unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(stack.dev.ca_pem().as_bytes()).unwrap(),
        )
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert_eq!(get_status(&client, &s3).await.unwrap(), 403);
    stack.dev.stop().await;
}
