//! Typed bindings: the values read from the fixtures, and one error per missing or bad field.

use cfenv::{CredStoreAuth, Error, Problem, Vcap, XsuaaCredentialType};
use serde_json::{Value, json};

use crate::common::{outcome, single, vcap, with, without};

// ---------------------------------------------------------------------------------------------
// Values from the fixtures.

#[test]
fn xsuaa_from_spec_document() {
    let b = vcap("vcap_services.json").xsuaa(None).unwrap();
    assert_eq!(b.instance_name, "myapp-uaa");
    assert_eq!(b.clientid, "sb-myapp!t12345");
    assert_eq!(
        b.clientsecret.as_ref().map(|s| s.expose()),
        Some("6f1e0d2c-3b4a-5c6d-7e8f-9a0b1c2d3e4f$Qm9ndXNTZWNyZXRWYWx1ZUZvckVtdWxhdG9yPQ==")
    );
    assert_eq!(b.credential_type, XsuaaCredentialType::BindingSecret);
    assert_eq!(
        b.url.as_str(),
        "https://acme-dev.authentication.eu10.hana.ondemand.com/"
    );
    assert_eq!(b.uaadomain, "authentication.eu10.hana.ondemand.com");
    assert_eq!(b.xsappname, "myapp!t12345");
    assert_eq!(b.identityzone.as_deref(), Some("acme-dev"));
    assert_eq!(
        b.zoneid.as_deref(),
        Some("a1b2c3d4-e5f6-4711-8899-aabbccddeeff")
    );
    assert_eq!(b.tenantmode.as_deref(), Some("dedicated"));
    assert!(
        b.verificationkey
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );
    assert_eq!((b.certificate, b.key, b.certurl), (None, None, None));
}

#[test]
fn xsuaa_x509_from_fixture() {
    let b = vcap("vcap_services_x509.json").xsuaa(None).unwrap();
    assert_eq!(b.credential_type, XsuaaCredentialType::X509);
    assert_eq!(b.clientsecret, None);
    assert!(
        b.certificate
            .unwrap()
            .expose()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    assert!(b.key.unwrap().expose().contains("PRIVATE KEY"));
    assert_eq!(
        b.certurl.unwrap().as_str(),
        "https://acme-dev.authentication.cert.eu10.hana.ondemand.com/"
    );
    // No `zoneid` in this binding: `identityzoneid` stands in.
    assert_eq!(
        b.zoneid.as_deref(),
        Some("a1b2c3d4-e5f6-4711-8899-aabbccddeeff")
    );
}

#[test]
fn credstore_basic_from_spec_document() {
    let b = vcap("vcap_services.json").credstore(None).unwrap();
    assert_eq!(b.instance_name, "myapp-credstore");
    assert_eq!(
        b.url.as_str(),
        "https://credstore.cfapps.eu10.hana.ondemand.com/api/v1/credentials"
    );
    assert!(b.username.starts_with("0fcb3a97-"));
    let CredStoreAuth::Basic { password } = &b.auth else {
        panic!("expected basic auth, got {:?}", b.auth);
    };
    assert_eq!(password.expose(), "mCjH5fkExamplePassword");
    let enc = b.encryption.unwrap();
    assert_eq!(
        enc.client_private_key.expose(),
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC…"
    );
    assert_eq!(enc.server_public_key, "MIIBIjANBgkqhkiG9w0BAQEFAAOC…");
    assert_eq!(b.expires_at.as_deref(), Some("2026-01-31T10:00:00.0Z"));
}

#[test]
fn credstore_mtls_from_fixture() {
    let b = vcap("vcap_services_x509.json").credstore(None).unwrap();
    assert_eq!(
        b.url.host_str(),
        Some("credstore.cert.cfapps.eu10.hana.ondemand.com")
    );
    let CredStoreAuth::Mtls { certificate, key } = &b.auth else {
        panic!("expected mtls, got {:?}", b.auth);
    };
    assert!(certificate.expose().contains("MIIFakeCredstoreClientCert"));
    assert!(key.expose().contains("MIIFakeCredstoreClientKey"));
    assert!(b.encryption.is_some());
}

#[test]
fn privatelink_endpoints() {
    let s3 = vcap("vcap_services.json").privatelink(None).unwrap();
    assert_eq!(s3.instance_name, "myapp-s3-pl");
    assert_eq!(
        s3.hostname,
        "*.vpce-068c84244a1b70734-r9rznuj8.s3.eu-central-1.vpce.amazonaws.com"
    );
    assert_eq!(
        s3.endpoint_host(),
        "vpce-068c84244a1b70734-r9rznuj8.s3.eu-central-1.vpce.amazonaws.com"
    );
    assert_eq!(
        s3.s3_endpoint(),
        "https://bucket.vpce-068c84244a1b70734-r9rznuj8.s3.eu-central-1.vpce.amazonaws.com"
    );
    assert_eq!(
        s3.endpoint("accesspoint"),
        "https://accesspoint.vpce-068c84244a1b70734-r9rznuj8.s3.eu-central-1.vpce.amazonaws.com"
    );
    // Without a wildcard the host is used as is; `name` is the binding name when one is set.
    let sqs = vcap("vcap_services_x509.json").privatelink(None).unwrap();
    assert_eq!(sqs.instance_name, "sqs-binding");
    assert_eq!(sqs.endpoint_host(), sqs.hostname);
}

#[test]
fn postgres_from_spec_document() {
    let b = vcap("vcap_services.json").postgres(None).unwrap();
    assert_eq!(b.instance_name, "myapp-db");
    assert_eq!(b.hostname, "pg-abc.cxyz.eu-central-1.rds.amazonaws.com");
    assert_eq!(b.port, 5432);
    assert_eq!(b.dbname, "myappdb");
    assert_eq!(b.username, "a1b2c3d4");
    assert_eq!(b.password.expose(), "pg-secret");
    assert!(b.uri.expose().starts_with("postgres://a1b2c3d4:pg-secret@"));
    assert!(
        b.sslrootcert
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
}

#[test]
fn user_provided_from_spec_document() {
    let up = vcap("vcap_services.json")
        .user_provided("aws-config")
        .unwrap();
    assert_eq!(up.label, "user-provided");
    assert_eq!(up.string("region").unwrap(), "eu-central-1");
    assert_eq!(
        up.url("stsEndpoint").unwrap().as_str(),
        "https://sts.eu-central-1.amazonaws.com/"
    );
    assert_eq!(up.optional_string("absent").unwrap(), None);
    assert_eq!(up.secret("credstoreName").unwrap().expose(), "aws-iam-user");
    assert_eq!(up.expose()["bucket"], "acme-data");
    assert!(up.field_names().contains(&"roleArn"));
    assert_eq!(
        up.string("missing").unwrap_err().to_string(),
        "VCAP_SERVICES: service instance `aws-config` (label `user-provided`): credentials.missing: missing"
    );
    assert_eq!(
        up.url("region").unwrap_err().to_string(),
        "VCAP_SERVICES: service instance `aws-config` (label `user-provided`): \
         credentials.region: not a valid URL: relative URL without a base"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors. Each case starts from a valid credentials object, breaks one thing, and states the
// whole message after the common prefix.

fn prefix(name: &str, label: &str) -> String {
    format!("VCAP_SERVICES: service instance `{name}` (label `{label}`): ")
}

/// Parses `credentials` as a `label` instance named `svc` with `parse`, and checks the result:
/// `"ok"`, or the error message after the prefix.
fn check<T>(label: &str, credentials: Value, parse: fn(&Vcap) -> Result<T, Error>, expected: &str) {
    let vcap = single(label, "svc", credentials.clone());
    let got = outcome(parse(&vcap), |_| "ok".to_owned());
    let want = if expected == "ok" {
        "Ok(ok)".to_owned()
    } else {
        format!("{}{expected}", prefix("svc", label))
    };
    assert_eq!(got, want, "credentials {credentials}");
}

fn xsuaa_secret() -> Value {
    json!({
        "clientid": "sb-x!t1", "clientsecret": "s", "url": "https://x.authentication.example",
        "uaadomain": "authentication.example", "xsappname": "x!t1",
    })
}

fn xsuaa_x509() -> Value {
    json!({
        "clientid": "sb-x!t1", "credential-type": "x509", "certificate": "C", "key": "K",
        "certurl": "https://x.authentication.cert.example", "url": "https://x.authentication.example",
        "uaadomain": "authentication.example", "xsappname": "x!t1",
    })
}

#[test]
fn xsuaa_errors() {
    let parse = |v: &Vcap| v.xsuaa(None);
    let cases: Vec<(Value, &str)> = vec![
        (xsuaa_secret(), "ok"),
        (xsuaa_x509(), "ok"),
        (
            with(xsuaa_x509(), "credential-type", json!("X509_GENERATED")),
            "ok",
        ),
        (
            with(xsuaa_secret(), "credential-type", json!("instance-secret")),
            "ok",
        ),
        (
            without(
                with(xsuaa_secret(), "credential-type", json!("X509_PROVIDED")),
                "clientsecret",
            ),
            "ok",
        ),
        (
            without(xsuaa_secret(), "clientid"),
            "credentials.clientid: missing",
        ),
        (without(xsuaa_secret(), "url"), "credentials.url: missing"),
        (
            without(xsuaa_secret(), "uaadomain"),
            "credentials.uaadomain: missing",
        ),
        (
            without(xsuaa_secret(), "xsappname"),
            "credentials.xsappname: missing",
        ),
        (
            without(xsuaa_secret(), "clientsecret"),
            "credentials.clientsecret: missing (required by credential-type `binding-secret`)",
        ),
        (
            without(
                with(xsuaa_secret(), "credential-type", json!("instance-secret")),
                "clientsecret",
            ),
            "credentials.clientsecret: missing (required by credential-type `instance-secret`)",
        ),
        (
            without(xsuaa_x509(), "certificate"),
            "credentials.certificate: missing (required by credential-type `x509`)",
        ),
        (
            without(xsuaa_x509(), "key"),
            "credentials.key: missing (required by credential-type `x509`)",
        ),
        (
            without(xsuaa_x509(), "certurl"),
            "credentials.certurl: missing (required by credential-type `x509`)",
        ),
        (
            with(xsuaa_secret(), "clientid", json!(42)),
            "credentials.clientid: expected a string",
        ),
        (
            with(xsuaa_secret(), "clientid", json!("")),
            "credentials.clientid: empty",
        ),
        (
            with(xsuaa_secret(), "url", json!("not a url")),
            "credentials.url: not a valid URL: relative URL without a base",
        ),
        (
            with(xsuaa_x509(), "certurl", json!("https://")),
            "credentials.certurl: not a valid URL: empty host",
        ),
        (
            with(xsuaa_secret(), "credential-type", json!(7)),
            "credentials.credential-type: expected a string",
        ),
    ];
    for (credentials, expected) in cases {
        check("xsuaa", credentials, parse, expected);
    }
}

fn credstore_basic() -> Value {
    json!({
        "url": "https://credstore.example/api/v1/credentials", "username": "u", "password": "p",
        "encryption": { "client_private_key": "MIIE", "server_public_key": "MIIB" },
    })
}

fn credstore_mtls() -> Value {
    json!({
        "url": "https://credstore.cert.example/api/v1/credentials", "username": "u",
        "certificate": "C", "key": "K",
    })
}

fn credstore_oauth_key() -> Value {
    json!({
        "url": "https://credstore.example/api/v1/credentials", "username": "u",
        "private_key": "PK", "oauth_token_url": "https://credstore.example/api/v1/token",
    })
}

#[test]
fn credstore_auth_is_told_by_fields() {
    let auth = |credentials: Value| {
        single("credstore", "svc", credentials)
            .credstore(None)
            .unwrap()
            .auth
    };
    assert!(matches!(
        auth(credstore_basic()),
        CredStoreAuth::Basic { .. }
    ));
    assert!(matches!(auth(credstore_mtls()), CredStoreAuth::Mtls { .. }));
    let oauth_mtls = with(
        credstore_mtls(),
        "oauth_token_url",
        json!("https://credstore.cert.example/api/v1/token"),
    );
    let CredStoreAuth::OAuthMtls {
        oauth_token_url, ..
    } = auth(oauth_mtls)
    else {
        panic!("expected oauth:mtls");
    };
    assert_eq!(oauth_token_url.path(), "/api/v1/token");
    assert!(matches!(
        auth(credstore_oauth_key()),
        CredStoreAuth::OAuthKey { .. }
    ));
    // Certificate wins over a stray password.
    assert!(matches!(
        auth(with(credstore_mtls(), "password", json!("p"))),
        CredStoreAuth::Mtls { .. }
    ));
}

#[test]
fn credstore_errors() {
    let parse = |v: &Vcap| v.credstore(None);
    let cases: Vec<(Value, &str)> = vec![
        (credstore_basic(), "ok"),
        (without(credstore_basic(), "encryption"), "ok"),
        (
            without(credstore_basic(), "url"),
            "credentials.url: missing",
        ),
        (
            without(credstore_basic(), "username"),
            "credentials.username: missing",
        ),
        (
            without(credstore_basic(), "password"),
            "credentials: cannot tell the authentication type: expected `password` (basic), \
             `certificate` and `key` (mtls, oauth:mtls) or `private_key` (oauth:key)",
        ),
        (
            with(credstore_basic(), "password", json!(1)),
            "credentials.password: expected a string",
        ),
        (
            without(credstore_mtls(), "key"),
            "credentials.key: missing (required by `certificate`)",
        ),
        (
            without(credstore_mtls(), "certificate"),
            "credentials.certificate: missing (required by `key`)",
        ),
        (
            without(credstore_oauth_key(), "oauth_token_url"),
            "credentials.oauth_token_url: missing (required by `private_key`)",
        ),
        (
            without(credstore_basic(), "encryption.client_private_key"),
            "credentials.encryption.client_private_key: missing",
        ),
        (
            without(credstore_basic(), "encryption.server_public_key"),
            "credentials.encryption.server_public_key: missing",
        ),
        (
            with(credstore_basic(), "encryption", json!("x")),
            "credentials.encryption: expected an object",
        ),
        (
            with(credstore_basic(), "url", json!("ftp://credstore.example")),
            "credentials.url: not a valid URL: expected an http or https URL",
        ),
    ];
    for (credentials, expected) in cases {
        check("credstore", credentials, parse, expected);
    }
}

#[test]
fn privatelink_errors() {
    let parse = |v: &Vcap| v.privatelink(None);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"hostname": "*.vpce-1-a.s3.eu-central-1.vpce.amazonaws.com"}),
            "ok",
        ),
        (
            json!({"hostname": "*.vpce-local.s3.eu-central-1.localhost:9443"}),
            "ok",
        ),
        (json!({}), "credentials.hostname: missing"),
        (json!({"hostname": ""}), "credentials.hostname: empty"),
        (
            json!({"hostname": ["x"]}),
            "credentials.hostname: expected a string",
        ),
        (
            json!({"hostname": "https://bucket.example"}),
            "credentials.hostname: not a valid host name: expected a host name, not a URL",
        ),
    ];
    for (credentials, expected) in cases {
        check("privatelink", credentials, parse, expected);
    }
}

fn pg() -> Value {
    json!({
        "username": "u", "password": "p", "hostname": "db.example", "dbname": "d", "port": "5432",
        "uri": "postgres://u:p@db.example:5432/d",
    })
}

#[test]
fn postgres_errors() {
    let parse = |v: &Vcap| v.postgres(None);
    let cases: Vec<(Value, &str)> = vec![
        (pg(), "ok"),
        (with(pg(), "port", json!(5432)), "ok"),
        (without(pg(), "uri"), "credentials.uri: missing"),
        (without(pg(), "hostname"), "credentials.hostname: missing"),
        (without(pg(), "port"), "credentials.port: missing"),
        (without(pg(), "dbname"), "credentials.dbname: missing"),
        (without(pg(), "username"), "credentials.username: missing"),
        (without(pg(), "password"), "credentials.password: missing"),
        (
            with(pg(), "port", json!("54x2")),
            "credentials.port: expected a port number 1-65535 (as a number or a string)",
        ),
        (
            with(pg(), "port", json!(65536)),
            "credentials.port: expected a port number 1-65535 (as a number or a string)",
        ),
    ];
    for (credentials, expected) in cases {
        check("postgresql-db", credentials, parse, expected);
    }
}

#[test]
fn field_errors_carry_typed_context() {
    let error = single("xsuaa", "svc", without(xsuaa_secret(), "url"))
        .xsuaa(None)
        .unwrap_err();
    let Error::Field(field) = &error else {
        panic!("expected a field error, got {error:?}");
    };
    assert_eq!(field.origin, "VCAP_SERVICES");
    assert_eq!(field.instance, "svc");
    assert_eq!(field.label, "xsuaa");
    assert_eq!(field.path, "credentials.url");
    assert_eq!(field.problem, Problem::Missing);
    assert_eq!(error.origin(), Some("VCAP_SERVICES"));
}

#[test]
fn wrong_kind_by_name_fails_on_its_fields() {
    // Asking for XSUAA by the name of the Private Link instance: the name wins, and the
    // error says which instance lacked which field.
    let error = vcap("vcap_services.json")
        .xsuaa(Some("myapp-s3-pl"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}credentials.clientid: missing",
            prefix("myapp-s3-pl", "privatelink")
        )
    );
}
