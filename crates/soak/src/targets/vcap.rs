//! `vcap`: [`cfenv::Vcap::from_json`] on mutations of the fixtures in
//! `crates/cfenv/tests/data` (secret and x509 bindings, every service kind), then every
//! lookup and binding accessor (`find`, `xsuaa`, `credstore`, `privatelink`, `postgres`,
//! `user_provided`, `raw`, `summary`); [`cfenv::VcapApplication::from_json`] on mutations of
//! the `VCAP_APPLICATION` fixture; [`cfenv::port`].
//!
//! The seeds' secret fields (client secrets, passwords, private keys, the PostgreSQL URI) are
//! replaced by values containing a marker. When a document was mutated without moving any
//! value (the JSON mutator's `values_only` mode), the marker must not appear in any error's
//! `Display` or `Debug`, nor in the `Debug` of any binding, instance or summary, as `cfenv`'s
//! policy says: errors name variables, instances and field paths, never values.
//!
//! Properties: that secret check; parse → `to_json` → parse gives an equal document (for both
//! variables), as `Vcap::to_json` promises.

use cfenv::{Env, ServiceKind, VcapApplication, vars};
use fastrand::Rng;
use serde_json::{Value, json};

use super::keep_in;
use crate::harness::{Target, Verdict};
use crate::mutate::{self, Json, chance, pick};

const SERVICES: &str = include_str!("../../../cfenv/tests/data/vcap_services.json");
const SERVICES_X509: &str = include_str!("../../../cfenv/tests/data/vcap_services_x509.json");
const TWO_XSUAA: &str = include_str!("../../../cfenv/tests/data/broken_two_xsuaa.json");
const NO_URL: &str = include_str!("../../../cfenv/tests/data/broken_credstore_no_url.json");
const APPLICATION: &str = include_str!("../../../cfenv/tests/data/vcap_application.json");

/// What every secret value of the seeds contains.
const MARKER: &str = "SOAKSECRET";

const KEYS: &[&str] = &[
    "label",
    "name",
    "plan",
    "tags",
    "credentials",
    "instance_name",
    "binding_name",
    "instance_guid",
    "syslog_drain_url",
    "volume_mounts",
    "provider",
    "clientid",
    "clientsecret",
    "credential-type",
    "certificate",
    "key",
    "certurl",
    "url",
    "uaadomain",
    "xsappname",
    "identityzone",
    "zoneid",
    "tenantmode",
    "verificationkey",
    "username",
    "password",
    "encryption",
    "client_private_key",
    "server_public_key",
    "expires_at",
    "hostname",
    "uri",
    "port",
    "dbname",
    "sslrootcert",
    "region",
    "roleArn",
    "application_uris",
    "limits",
    "mem",
    "disk",
    "fds",
];

const STRINGS: &[&str] = &[
    "xsuaa",
    "credstore",
    "privatelink",
    "user-provided",
    "postgresql-db",
    "aws-config",
    "myapp-uaa",
    "myapp-credstore",
    "binding-secret",
    "instance-secret",
    "x509",
    "https://acme-dev.authentication.eu10.hana.ondemand.com",
    "https://",
    "http://localhost:8080/x",
    "not a url",
    "*.vpce-1-a.s3.eu-central-1.vpce.amazonaws.com",
    "*.",
    "*",
    "bucket.vpce-1",
    "postgres://u:p@h:5432/db",
    "5432",
    "65536",
    "0",
    "sb-myapp!t12345",
    "myapp!t12345",
    "securestore",
    "aws",
];

/// One execution's input.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    services: String,
    application: String,
    port: String,
    name: Option<String>,
    /// The document was mutated without moving values: the secret check applies.
    values_only: bool,
}

/// The `vcap` target.
pub(crate) struct Vcap {
    seeds: Vec<Value>,
    texts: Vec<String>,
    application: Value,
    names: Vec<String>,
    pool: Vec<Input>,
}

/// Puts a marked secret into every secret field of `doc`.
fn mark_secrets(doc: &mut Value) {
    let mut n = 0;
    let Value::Object(groups) = doc else { return };
    for instance in groups
        .values_mut()
        .flat_map(|g| g.as_array_mut().into_iter().flatten())
    {
        let Some(Value::Object(creds)) = instance.get_mut("credentials") else {
            continue;
        };
        for field in ["clientsecret", "password", "key", "certificate"] {
            if let Some(v) = creds.get_mut(field) {
                n += 1;
                *v = json!(format!("{MARKER}-{field}-{n}"));
            }
        }
        if let Some(v) = creds.get_mut("uri") {
            *v = json!(format!(
                "postgres://a1b2c3d4:{MARKER}-uri@pg.example.com:5432/db"
            ));
        }
        if let Some(Value::Object(enc)) = creds.get_mut("encryption")
            && let Some(v) = enc.get_mut("client_private_key")
        {
            *v = json!(format!("MIIEvQ{MARKER}"));
        }
    }
}

fn leaks(text: &str) -> Option<Verdict> {
    text.contains(MARKER)
        .then(|| Verdict::Violation(format!("a secret value shows in {text:?}")))
}

impl Vcap {
    pub(crate) fn new() -> Self {
        let seeds: Vec<Value> = [SERVICES, SERVICES_X509, TWO_XSUAA, NO_URL]
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .map(|mut v| {
                mark_secrets(&mut v);
                v
            })
            .collect();
        let texts = seeds.iter().map(Value::to_string).collect();
        let names = seeds
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|g| g.values())
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|i| i["name"].as_str().map(str::to_owned))
            .chain(["aws-config".to_owned(), "nope".to_owned()])
            .collect();
        Self {
            seeds,
            texts,
            application: serde_json::from_str(APPLICATION).unwrap_or_default(),
            names,
            pool: Vec::new(),
        }
    }

    fn check(&self, input: &Input) -> Verdict {
        let leak = |text: String| {
            if input.values_only {
                leaks(&text)
            } else {
                None
            }
        };
        let vcap = match cfenv::Vcap::from_json(&input.services, vars::VCAP_SERVICES) {
            Ok(vcap) => vcap,
            Err(e) => {
                let _ = (e.origin(), e.problem());
                return leak(format!("{e} {e:?}")).unwrap_or(Verdict::Rejected);
            }
        };
        match cfenv::Vcap::from_json(&vcap.to_json(), vars::VCAP_SERVICES) {
            Ok(again) if again == vcap => {}
            Ok(_) => return Verdict::Violation("to_json does not read back equal".into()),
            Err(e) => return Verdict::Violation(format!("to_json does not read back: {e}")),
        }
        if let Some(v) = leak(format!("{vcap:?} {:?}", vcap.summary())) {
            return v;
        }
        let name = input.name.as_deref();
        for kind in ServiceKind::ALL {
            let text = match vcap.find(kind, name) {
                Ok(instance) => {
                    let _ = (
                        instance.credential_fields(),
                        instance.has_tag("aws"),
                        instance.extra(),
                    );
                    format!("{instance:?} {:?} {:?}", kind.label(), kind.tags())
                }
                Err(e) => format!("{e} {e:?}"),
            };
            if let Some(v) = leak(text) {
                return v;
            }
        }
        let texts = [
            match vcap.xsuaa(name) {
                Ok(b) => {
                    let _ = xsuaa::validate::ValidatorConfig::from_binding(&b);
                    format!("{b:?}")
                }
                Err(e) => format!("{e} {e:?}"),
            },
            match vcap.credstore(name) {
                Ok(b) => format!("{b:?}"),
                Err(e) => format!("{e} {e:?}"),
            },
            match vcap.privatelink(name) {
                Ok(b) => format!(
                    "{b:?} {} {} {}",
                    b.s3_endpoint(),
                    b.endpoint("sts"),
                    b.endpoint_host()
                ),
                Err(e) => format!("{e} {e:?}"),
            },
            match vcap.postgres(name) {
                Ok(b) => format!("{b:?}"),
                Err(e) => format!("{e} {e:?}"),
            },
        ];
        for text in texts {
            if let Some(v) = leak(text) {
                return v;
            }
        }
        for instance in vcap.instances() {
            if let Err(e) = vcap.raw(&instance.name)
                && let Some(v) = leak(format!("{e} {e:?}"))
            {
                return v;
            }
            let up = match vcap.user_provided(&instance.name) {
                Ok(up) => up,
                Err(e) => match leak(format!("{e} {e:?}")) {
                    Some(v) => return v,
                    None => continue,
                },
            };
            if let Some(v) = leak(format!("{up:?}")) {
                return v;
            }
            for field in up.field_names() {
                let errors = [
                    up.string(field).err(),
                    up.url(field).err(),
                    up.optional_secret(field).err(),
                ];
                for e in errors.into_iter().flatten() {
                    if let Some(v) = leak(format!("{e} {e:?}")) {
                        return v;
                    }
                }
            }
        }
        Verdict::Accepted
    }
}

impl Target for Vcap {
    type Input = Input;
    const NAME: &'static str = "vcap";

    fn generate(&mut self, rng: &mut Rng) -> Input {
        let json = Json {
            keys: KEYS,
            strings: STRINGS,
        };
        let mut values_only = false;
        let services = match rng.u8(..100) {
            0..=64 => {
                values_only = rng.bool();
                let mut doc = pick(rng, &self.seeds).clone();
                json.mutate(rng, &mut doc, values_only);
                if values_only {
                    // Written without byte-level edits, which could move a value.
                    if rng.bool() {
                        doc.to_string()
                    } else {
                        serde_json::to_string_pretty(&doc).unwrap_or_default()
                    }
                } else {
                    json.write(rng, &doc, &["\"label\":\"xsuaa\",", "{", "[", ","], 65_536)
                }
            }
            65..=79 => {
                let base = pick(rng, &self.texts).clone();
                mutate::text(rng, &base, &["\"", ":", ",", "[]", "{}", "\\u0000"], 65_536)
            }
            80..=86 if !self.pool.is_empty() => {
                let base = pick(rng, &self.pool).services.clone();
                mutate::text(rng, &base, &["\"", ",", "[", "{"], 65_536)
            }
            87..=91 => (*pick(
                rng,
                &[
                    "",
                    "null",
                    "[]",
                    "{}",
                    "{\"a\":[]}",
                    "{\"a\":1}",
                    "\u{feff}{}",
                    "{\"a\":[1]}",
                    "{\"a\":[{}],\"a\":[{}]}",
                ],
            ))
            .to_owned(),
            92..=95 => {
                let depth = 100 + rng.usize(..60);
                mutate::deep_json(rng, depth)
            }
            _ => mutate::into_string(mutate::random_bytes(rng, 300)),
        };
        let application = match rng.u8(..10) {
            0..=6 => {
                let mut app = self.application.clone();
                json.mutate(rng, &mut app, false);
                json.write(rng, &app, &["\"", ",", ":"], 16_384)
            }
            7 | 8 => APPLICATION.to_owned(),
            _ => mutate::into_string(mutate::random_bytes(rng, 100)),
        };
        let port = if chance(rng, 80) {
            (*pick(
                rng,
                &[
                    "8080", "0", "1", "65535", "65536", "-1", " 8080", "8080 ", "+80", "", "٣",
                    "0x50", "08080",
                ],
            ))
            .to_owned()
        } else {
            mutate::into_string(mutate::random_bytes(rng, 8))
        };
        let name = match rng.u8(..10) {
            0..=5 => None,
            6..=8 => Some(pick(rng, &self.names).clone()),
            _ => {
                let base = pick(rng, &self.names).clone();
                Some(mutate::text(rng, &base, &[], 64))
            }
        };
        Input {
            services,
            application,
            port,
            name,
            values_only,
        }
    }

    fn execute(&mut self, input: &Input) -> Verdict {
        let verdict = self.check(input);
        if let Ok(app) = VcapApplication::from_json(&input.application, vars::VCAP_APPLICATION) {
            match VcapApplication::from_json(&app.to_json(), vars::VCAP_APPLICATION) {
                Ok(again) if again == app => {}
                _ => return Verdict::Violation("VCAP_APPLICATION does not read back equal".into()),
            }
        }
        let _ = cfenv::port(&Env::from_pairs([(vars::PORT, input.port.as_str())]));
        verdict
    }

    fn keep(&mut self, input: Input, rng: &mut Rng) {
        keep_in(&mut self.pool, input, rng);
    }

    fn encode(input: &Input) -> Vec<u8> {
        json!({
            "services": input.services,
            "application": input.application,
            "port": input.port,
            "name": input.name,
            "values_only": input.values_only,
        })
        .to_string()
        .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Input> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        Some(Input {
            services: v["services"].as_str()?.to_owned(),
            application: v["application"].as_str()?.to_owned(),
            port: v["port"].as_str()?.to_owned(),
            name: v["name"].as_str().map(str::to_owned),
            values_only: v["values_only"].as_bool()?,
        })
    }
}
