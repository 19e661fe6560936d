//! `bridge creds put|get|list|delete` against whichever Credential Store the environment binds:
//! the real one on BTP, or the local one of `bridge dev` (point `VCAP_SERVICES_FILE_PATH` at
//! its generated binding and `BRIDGE_EXTRA_CA_CERTS` at its CA, as `bridge dev` prints).

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use cfenv::{Env, Secret, Vcap};
use credstore::{Client, ClientOptions, CredentialStore, CredentialType, NewCredential, WriteMode};

use crate::config;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Runs one `bridge creds` operation.
pub async fn run(args: CredsArgs) -> ExitCode {
    let (client, namespace) = match connect(&args) {
        Ok(c) => c,
        Err(e) => return super::misconfigured(&e),
    };
    match execute(&client, &namespace, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(&e),
    }
}

fn connect(args: &CredsArgs) -> anyhow::Result<(Client, String)> {
    let namespace = args
        .namespace
        .clone()
        .ok_or_else(|| anyhow!("--namespace (or BRIDGE_CREDSTORE_NAMESPACE) is required"))?;
    credstore::model::validate_namespace(&namespace).context("--namespace")?;
    let binding = match &args.service_key {
        Some(path) => from_service_key(path)?,
        None => {
            let vcap = Vcap::from_env(&Env::from_process()).context(
                "no Credential Store binding: run inside Cloud Foundry, pass --service-key, or \
                 under `bridge dev` export the VCAP_SERVICES_FILE_PATH and BRIDGE_EXTRA_CA_CERTS \
                 it prints",
            )?;
            vcap.credstore(args.instance.as_deref())?
        }
    };
    let options = ClientOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        extra_roots_pem: config::extra_roots()?,
    };
    let client = Client::from_binding(&binding, &options)?;
    Ok((client, namespace))
}

/// Reads a Credential Store service key: either `cf service-key` output (with a
/// `credentials` object, as newer cf CLIs print) or the bare credentials object.
fn from_service_key(path: &std::path::Path) -> anyhow::Result<cfenv::CredStoreBinding> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--service-key: cannot read {}", path.display()))?;
    // `cf service-key` prints a header line before the JSON; start at the first brace.
    let json = text.find('{').map(|i| &text[i..]).unwrap_or(&text);
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        anyhow!(
            "--service-key {}: malformed JSON at line {}, column {}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let credentials = match value.get("credentials") {
        Some(c) => c.clone(),
        None => value,
    };
    let serde_json::Value::Object(map) = credentials else {
        bail!("--service-key {}: expected a JSON object", path.display());
    };
    let origin = format!("--service-key {}", path.display());
    let vcap = Vcap::new(vec![
        cfenv::ServiceInstance::new("credstore", "service-key").with_credentials(map),
    ]);
    let vcap = Vcap::from_json(&vcap.to_json(), &origin)?;
    Ok(vcap.credstore(None)?)
}

fn kind(k: CredKind) -> CredentialType {
    match k {
        CredKind::Password => CredentialType::Password,
        CredKind::Key => CredentialType::Key,
    }
}

#[allow(clippy::print_stdout)]
async fn execute(client: &Client, namespace: &str, args: &CredsArgs) -> anyhow::Result<()> {
    let ty = kind(args.kind);
    match &args.op {
        CredsOp::Put {
            name,
            value_env,
            username,
            format,
            metadata,
            create_only,
        } => {
            let value = read_value(value_env.as_deref())?;
            let mut new = NewCredential::new(name.clone(), value);
            new.username = username.clone();
            new.format = format.clone();
            new.metadata = metadata.clone();
            let mode = if *create_only {
                WriteMode::CreateOnly
            } else {
                WriteMode::Upsert
            };
            let stored = client.write(ty, namespace, &new, mode).await?;
            println!("stored {ty} {:?} in namespace {namespace:?}", stored.name);
        }
        CredsOp::Get { name, value } => {
            let c = client.read(ty, namespace, name).await?;
            if *value {
                println!("{}", c.value.expose());
            } else {
                let json = serde_json::json!({
                    "type": ty.path(),
                    "namespace": namespace,
                    "id": c.id,
                    "name": c.name,
                    "modifiedAt": c.modified_at,
                    "username": c.username,
                    "format": c.format,
                    "metadata": c.metadata,
                    "value": "[redacted: use --value to print it]",
                });
                println!("{}", serde_json::to_string_pretty(&json)?);
            }
        }
        CredsOp::List => {
            let items = client.list(ty, namespace).await?;
            if items.is_empty() {
                println!("no {ty} credentials in namespace {namespace:?}");
            }
            for m in items {
                println!(
                    "{}\t{}\t{}",
                    m.name,
                    m.modified_at.as_deref().unwrap_or("-"),
                    m.username.or(m.format).as_deref().unwrap_or("-"),
                );
            }
        }
        CredsOp::Delete { name } => {
            client.delete(ty, namespace, name).await?;
            println!("deleted {ty} {name:?} from namespace {namespace:?}");
        }
    }
    Ok(())
}

fn read_value(from_env: Option<&str>) -> anyhow::Result<Secret> {
    let value = match from_env {
        Some(var) => {
            std::env::var(var).with_context(|| format!("--value-env: {var} is not set"))?
        }
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the value from standard input")?;
            // One trailing newline is the shell's, not the value's.
            if s.ends_with('\n') {
                s.pop();
                if s.ends_with('\r') {
                    s.pop();
                }
            }
            s
        }
    };
    if value.is_empty() {
        bail!("value: empty (pipe it on standard input or use --value-env)");
    }
    Ok(Secret::new(value))
}

/// Arguments shared by `bridge creds …`.
#[derive(Debug, Args)]
pub struct CredsArgs {
    /// The Credential Store namespace.
    #[arg(long, short = 'n', env = "BRIDGE_CREDSTORE_NAMESPACE", global = true)]
    pub namespace: Option<String>,
    /// The `credstore` instance to use when several are bound.
    #[arg(long, env = "BRIDGE_CREDSTORE_INSTANCE", global = true)]
    pub instance: Option<String>,
    /// Use a service key (the JSON that `cf service-key` prints, or its `credentials` object)
    /// instead of `VCAP_SERVICES`: for operators loading credentials from a workstation.
    #[arg(long, global = true, value_name = "FILE")]
    pub service_key: Option<PathBuf>,
    /// Credential type.
    #[arg(
        long = "type",
        short = 't',
        value_enum,
        default_value = "password",
        global = true
    )]
    pub kind: CredKind,
    /// Timeout of each call to the store, in seconds.
    #[arg(long, default_value_t = 10, global = true)]
    pub timeout: u64,
    /// The operation.
    #[command(subcommand)]
    pub op: CredsOp,
}

/// Credential types on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CredKind {
    /// A password (value + optional username).
    Password,
    /// A key (base64 value + optional format).
    Key,
}

/// `bridge creds` operations.
#[derive(Debug, Subcommand)]
pub enum CredsOp {
    /// Create or update a credential. The value is read from standard input (never from the
    /// command line, where it would land in shell history and `ps`).
    Put {
        /// The credential's name.
        name: String,
        /// Read the value from this environment variable instead of standard input.
        #[arg(long)]
        value_env: Option<String>,
        /// User name (passwords), e.g. the AWS access key id.
        #[arg(long)]
        username: Option<String>,
        /// Format (keys), e.g. `pem`.
        #[arg(long)]
        format: Option<String>,
        /// Free-text metadata.
        #[arg(long)]
        metadata: Option<String>,
        /// Fail if the credential already exists.
        #[arg(long)]
        create_only: bool,
    },
    /// Show a credential's metadata; with `--value`, print only its value.
    Get {
        /// The credential's name.
        name: String,
        /// Print the bare value (for piping) instead of the metadata.
        #[arg(long)]
        value: bool,
    },
    /// List the credentials of a type in the namespace (names and metadata).
    List,
    /// Delete a credential.
    Delete {
        /// The credential's name.
        name: String,
    },
}
