//! The HTTP side of `bridge docs`: the caller's bearer token (as given, from XSUAA's password
//! grant, or a client-credentials token of the `xsuaa` binding), one reqwest client (rustls,
//! the platform's roots plus `BRIDGE_EXTRA_CA_CERTS`, no redirects: the token goes to `--url`
//! and nowhere else), and the app's failures read from their OData error bodies
//! (`{"error":{"code","message"}}`) into one line that says what to do about a 401 or 403.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use cfenv::{Env, Secret, Vcap};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use url::Url;

use super::Connection;
use crate::config;

/// `BRIDGE_PASSWORD`: the password of `--user`, when not on stdin.
const PASSWORD: &str = "BRIDGE_PASSWORD";
/// Deadline of a metadata request (not of a content transfer, which may take long).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline of the token request.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JSON answer read (a page of 1000 documents is far less).
const MAX_JSON: usize = 16 << 20;
/// Largest error body read.
const MAX_ERROR: usize = 64 << 10;
/// Longest message of the app repeated.
const MAX_MESSAGE: usize = 300;

/// Why the client could not be set up.
pub(super) enum Setup {
    /// Bad flags or configuration: exit 2.
    Usage(anyhow::Error),
    /// XSUAA refused or could not be reached: exit 1.
    Failed(anyhow::Error),
}

/// Who the token speaks for, for the advice on a 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// `--token`: unknown.
    Token,
    /// `--user`.
    User,
    /// A client-credentials token of the binding.
    Client,
}

/// What a request does, for the advice on a 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Needs {
    /// A read (`Read` scope).
    Read,
    /// A change (`Write` scope).
    Write,
}

/// The app's document API for one caller.
pub(super) struct Api {
    http: reqwest::Client,
    /// `--url` without a trailing `/`.
    base: String,
    origin: url::Origin,
    token: Secret,
    caller: Caller,
}

impl Api {
    /// Checks `--url`, builds the HTTP client and gets the caller's token.
    pub(super) async fn connect(c: &Connection) -> Result<Self, Setup> {
        let url = Url::parse(&c.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .filter(|u| u.query().is_none() && u.fragment().is_none())
            .ok_or_else(|| {
                Setup::Usage(anyhow!(
                    "--url (BRIDGE_APP_URL) expects the app's http(s) base URL, got {:?}",
                    c.url
                ))
            })?;
        let roots = config::extra_roots().map_err(Setup::Usage)?;
        let http = http_client(&roots).map_err(Setup::Usage)?;
        let (token, caller) = if let Some(token) = &c.token {
            (token.clone(), Caller::Token)
        } else if let Some(user) = &c.user {
            let password = password(user).map_err(Setup::Usage)?;
            let client = token_client(c, &roots).map_err(Setup::Usage)?;
            let tokens = client.password(user, &password).await.map_err(|e| {
                let hint = match &e {
                    xsuaa::error::TokenError::Rejected {
                        error: Some(code), ..
                    } if code == "unauthorized_client" => {
                        ": the binding's client may not use the password grant (grant-types in \
                         xs-security.json must list `password`); give --token instead"
                    }
                    _ => "",
                };
                Setup::Failed(anyhow!("cannot sign in as {user:?}: {e}{hint}"))
            })?;
            (tokens.access_token, Caller::User)
        } else {
            let client = token_client(c, &roots).map_err(Setup::Usage)?;
            let token = client.access_token().await.map_err(|e| {
                Setup::Failed(anyhow::Error::new(e).context("cannot get a token from XSUAA"))
            })?;
            (token.token, Caller::Client)
        };
        Ok(Self {
            http,
            base: url.as_str().trim_end_matches('/').to_owned(),
            origin: url.origin(),
            token,
            caller,
        })
    }

    /// The absolute URL of `path` (which starts with `/`) under the app's base URL.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The path of one document: `/catalog/Documents(<ID>)`.
    pub(super) fn document_path(id: &str) -> String {
        format!("/catalog/Documents({id})")
    }

    /// Whether `url` is on the app's origin (a next link elsewhere is not followed: it would
    /// get the token).
    pub(super) fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.origin
    }

    /// A request with the bearer token.
    pub(super) fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(self.token.expose())
    }

    /// Sends a request and returns the response if it is a success; else the app's OData
    /// error as one message, prefixed with `what`.
    pub(super) async fn send(
        &self,
        request: RequestBuilder,
        what: &str,
        needs: Needs,
    ) -> anyhow::Result<Response> {
        let resp = request.send().await.map_err(|e| self.transport(&e, what))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(self.refused(resp, what, needs).await)
    }

    /// GET of a JSON document (metadata, a collection page).
    pub(super) async fn get_json(&self, url: &str, what: &str) -> anyhow::Result<Value> {
        let request = self
            .request(Method::GET, url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(REQUEST_TIMEOUT);
        let resp = self.send(request, what, Needs::Read).await?;
        read_json(resp, what).await
    }

    /// POST of a JSON body, answered with JSON (the created entity).
    pub(super) async fn post_json(
        &self,
        path: &str,
        body: &Value,
        what: &str,
    ) -> anyhow::Result<Value> {
        let request = self
            .request(Method::POST, &self.url(path))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body)
            .timeout(REQUEST_TIMEOUT);
        let resp = self.send(request, what, Needs::Write).await?;
        read_json(resp, what).await
    }

    /// DELETE of one document.
    pub(super) async fn delete(&self, id: &str) -> anyhow::Result<()> {
        let request = self
            .request(Method::DELETE, &self.url(&Self::document_path(id)))
            .timeout(REQUEST_TIMEOUT);
        self.send(request, "cannot delete the document", Needs::Write)
            .await?;
        Ok(())
    }

    fn transport(&self, e: &reqwest::Error, what: &str) -> anyhow::Error {
        let reason = cfenv::text::root_cause(e);
        if e.is_timeout() {
            anyhow!(
                "{what}: the app at {} did not answer in time ({reason})",
                self.base
            )
        } else if e.is_connect() {
            anyhow!(
                "{what}: cannot reach the app at {} ({reason}); is it running (`bridge dev`)? \
                 Set --url or BRIDGE_APP_URL",
                self.base
            )
        } else {
            anyhow!("{what}: {reason}")
        }
    }

    /// The app's refusal as one message: status, OData code and message, and advice.
    async fn refused(&self, resp: Response, what: &str, needs: Needs) -> anyhow::Error {
        let status = resp.status();
        let body = read_limited(resp, MAX_ERROR).await.unwrap_or_default();
        let (code, message) = odata_error(&body);
        let mut text = format!("{what}: HTTP {}", status.as_u16());
        if let Some(message) = message {
            text.push_str(": ");
            text.push_str(&message);
        }
        if let Some(code) = code {
            text.push_str(&format!(" ({code})"));
        }
        match status {
            StatusCode::UNAUTHORIZED => {
                text.push_str("; the app did not accept the token (expired, or from another XSUAA)")
            }
            StatusCode::FORBIDDEN => text.push_str(&forbidden_advice(self.caller, needs)),
            s if s.is_redirection() => {
                text.push_str("; redirects are not followed: is --url the app's URL?");
            }
            _ => {}
        }
        anyhow!(text)
    }
}

/// What to do about a 403.
fn forbidden_advice(caller: Caller, needs: Needs) -> String {
    let scope = match needs {
        Needs::Read => {
            "reading documents needs the Read scope (role collection Bridge Viewer or Bridge \
             Editor)"
        }
        Needs::Write => {
            "uploading, changing and deleting documents needs the Write scope (role collection \
             Bridge Editor)"
        }
    };
    match caller {
        Caller::Client => format!(
            "; {scope}, and the token is the app's own client-credentials token, whose client \
             has only the JobRunner authority: documents need a user, sign in with --user NAME \
             (or give a user's --token)"
        ),
        Caller::User => format!("; {scope}, which this user does not have"),
        Caller::Token => format!("; {scope}, which this token does not carry"),
    }
}

/// `(code, message)` of an OData error body, each cut to one safe line.
fn odata_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    let cut = |v: &Value| {
        v.as_str().map(|s| {
            use cfenv::text::{Controls, Ellipsis};
            cfenv::text::cut(s, MAX_MESSAGE, Controls::Drop, Ellipsis::WhenCut)
        })
    };
    (cut(&doc["error"]["code"]), cut(&doc["error"]["message"]))
}

/// Reads a JSON body of at most [`MAX_JSON`] bytes.
async fn read_json(resp: Response, what: &str) -> anyhow::Result<Value> {
    let body = read_limited(resp, MAX_JSON)
        .await
        .map_err(|e| anyhow!("{what}: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| {
        anyhow!(
            "{what}: the answer is not JSON ({})",
            cfenv::text::json_error(&e)
        )
    })
}

async fn read_limited(mut resp: Response, max: usize) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| anyhow!("reading the answer: {}", cfenv::text::root_cause(&e)))?
    {
        if body.len() + chunk.len() > max {
            anyhow::bail!("the answer is larger than {} KiB", max >> 10);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The password of `user`: `BRIDGE_PASSWORD`, else one line on stdin (prompted for on stderr
/// when stdin is a terminal; the terminal echoes it, so prefer the variable or a pipe there).
fn password(user: &str) -> anyhow::Result<Secret> {
    if let Some(value) = std::env::var_os(PASSWORD).filter(|v| !v.is_empty()) {
        let value = value
            .into_string()
            .map_err(|_| anyhow!("{PASSWORD} is not UTF-8"))?;
        return Ok(Secret::new(value));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "password for {user} (shown as typed): ");
        let _ = stderr.flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|_| anyhow!("--user {user}: cannot read the password from stdin"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!(
            "--user {user}: no password: set {PASSWORD} or write it as one line on stdin"
        );
    }
    Ok(Secret::new(password))
}

/// The token client of the bound XSUAA (`--xsuaa-instance` when several are bound).
fn token_client(c: &Connection, roots: &[Vec<u8>]) -> anyhow::Result<xsuaa::client::TokenClient> {
    let vcap = Vcap::from_env(&Env::from_process()).context(
        "no XSUAA binding to get a token from: give --token (BRIDGE_TOKEN), run inside Cloud \
         Foundry, or under `bridge dev` export the VCAP_SERVICES_FILE_PATH and \
         BRIDGE_EXTRA_CA_CERTS it prints",
    )?;
    let binding = vcap.xsuaa(c.xsuaa_instance.as_deref())?;
    Ok(xsuaa::client::TokenClient::from_binding(
        &binding,
        &xsuaa::client::ClientOptions {
            timeout: TOKEN_TIMEOUT,
            extra_roots_pem: roots.to_vec(),
            ..xsuaa::client::ClientOptions::default()
        },
    )?)
}

/// rustls with the platform's roots and the extra ones; connect timeout only (transfers of
/// large documents take as long as they take; metadata requests set their own deadline).
fn http_client(extra_roots: &[Vec<u8>]) -> anyhow::Result<reqwest::Client> {
    let mut roots = Vec::new();
    for pem in extra_roots {
        roots.extend(reqwest::Certificate::from_pem_bundle(pem).map_err(|_| {
            anyhow!(
                "{}: not a PEM bundle of certificates",
                config::EXTRA_CA_CERTS
            )
        })?);
    }
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "btp-aws-bridge/",
            env!("CARGO_PKG_VERSION"),
            " (bridge docs)"
        ))
        .tls_certs_merge(roots)
        .build()
        .map_err(|e| {
            anyhow!(
                "cannot build the HTTP client: {}",
                cfenv::text::root_cause(&e)
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn odata_errors_are_read_and_cut() {
        let (code, message) =
            odata_error(br#"{"error":{"code":"403","message":"Missing scope\nWrite"}}"#);
        assert_eq!(code.as_deref(), Some("403"));
        assert_eq!(message.as_deref(), Some("Missing scopeWrite"));
        assert_eq!(odata_error(b"<html>"), (None, None));
        let long = format!(r#"{{"error":{{"message":"{}"}}}}"#, "x".repeat(1000));
        assert!(odata_error(long.as_bytes()).1.unwrap().chars().count() <= MAX_MESSAGE + 1);
    }

    #[test]
    fn a_client_token_is_told_that_documents_need_a_user() {
        let advice = forbidden_advice(Caller::Client, Needs::Write);
        assert!(advice.contains("Write scope"), "{advice}");
        assert!(
            advice.contains("JobRunner") && advice.contains("--user"),
            "{advice}"
        );
        assert!(forbidden_advice(Caller::User, Needs::Read).contains("Read scope"));
    }
}
