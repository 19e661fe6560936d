//! Browser sign-in driven by a plain HTTP client: `/login` → XSUAA's login page → credentials
//! → callback → session cookie → protected routes; CSRF rules; sign-out.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::common::{Setup, hidden_inputs};

/// A minimal browser: follows our redirects by hand and keeps the app's cookies.
pub(crate) struct Browser {
    http: reqwest::Client,
    pub(crate) cookies: Vec<(String, String)>,
}

impl Browser {
    pub(crate) fn new(s: &Setup) -> Self {
        Self {
            http: s.http(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, r: &reqwest::Response) -> Vec<String> {
        let mut raw = Vec::new();
        for h in r.headers().get_all(SET_COOKIE) {
            let text = h.to_str().unwrap().to_owned();
            testkit::logs::secret(
                text.split(';')
                    .next()
                    .unwrap()
                    .split('=')
                    .nth(1)
                    .unwrap_or(""),
            );
            let (pair, _) = text.split_once(';').unwrap_or((&text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
            raw.push(text);
        }
        raw
    }

    pub(crate) async fn get(&mut self, url: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .http
            .get(url)
            .header(COOKIE, self.cookie_header())
            .header("accept", "text/html");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.absorb(&r);
        r
    }

    async fn post(&mut self, url: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.post(url).header(COOKIE, self.cookie_header());
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.absorb(&r);
        r
    }
}

pub(crate) fn location(r: &reqwest::Response) -> String {
    r.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// Signs `user` in through the whole flow; returns the browser with its session.
pub(crate) async fn sign_in(s: &Setup, user: &str, target: &str) -> Browser {
    let (b, landed) = sign_in_landing(s, user, target).await;
    assert_eq!(landed, target);
    b
}

/// Signs `user` in with `redirect={target}` (sent as given); returns the browser and the
/// `Location` the callback sent it to.
pub(crate) async fn sign_in_landing(s: &Setup, user: &str, target: &str) -> (Browser, String) {
    let mut b = Browser::new(s);
    let r = b
        .get(&format!("{}/login?redirect={target}", s.app), &[])
        .await;
    assert_eq!(r.status(), 303, "to XSUAA");
    let authorize = location(&r);
    assert!(
        authorize.starts_with(&format!("{}/oauth/authorize?", s.dev.xsuaa_url())),
        "{authorize}"
    );
    assert!(b.cookies.iter().any(|(k, _)| k == "bridge_login"));

    // XSUAA's login page (XSUAA's own cookies are not needed by the local one).
    let page = s.http().get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let mut form = hidden_inputs(&html);
    let password = s
        .dev
        .dev_users()
        .into_iter()
        .find(|u| u.username == user)
        .unwrap()
        .password;
    form.push(("username".into(), user.into()));
    form.push(("password".into(), password.expose().into()));
    let r = s
        .http()
        .post(format!("{}/login.do", s.dev.xsuaa_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let callback = location(&r);
    assert!(
        callback.starts_with(&format!("{}/login/callback?", s.app)),
        "{callback}"
    );
    testkit::logs::secret(
        callback
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap(),
    );

    let r = b.get(&callback, &[]).await;
    assert_eq!(r.status(), 303, "back to the target");
    let landed = location(&r);
    let set: Vec<String> = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|h| h.to_str().unwrap().to_owned())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("bridge_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(
        !session.contains("Secure"),
        "plain http here: no Secure flag"
    );
    (b, landed)
}

#[tokio::test(flavor = "multi_thread")]
async fn editor_signs_in_reads_and_csrf_guards_changes() {
    let s = Setup::start().await;
    let mut b = sign_in(&s, "alice", "/api/me").await;

    let r = b
        .get(&format!("{}/api/me", s.app), &[("x-csrf-token", "Fetch")])
        .await;
    assert_eq!(r.status(), 200);
    let csrf = r.headers()["x-csrf-token"].to_str().unwrap().to_owned();
    testkit::logs::secret(&csrf);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["user_name"], "alice");
    assert_eq!(me["via"], "session");
    let scopes: Vec<String> = serde_json::from_value(me["scopes"].clone()).unwrap();
    assert!(scopes.contains(&format!("{}.Read", s.xsuaa.xsappname)));
    assert!(scopes.contains(&format!("{}.Write", s.xsuaa.xsappname)));

    // The landing page works in the session too.
    let r = b.get(&format!("{}/", s.app), &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("alice"));

    // A change without the CSRF token: 403 and `X-CSRF-Token: Required`.
    let r = b.post(&format!("{}/jobs/ping", s.app), &[]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-csrf-token"], "Required");
    let r = b
        .post(
            &format!("{}/jobs/ping", s.app),
            &[("x-csrf-token", "wrong")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-csrf-token"], "Required");
    // With the token the CSRF check passes; the route then wants JobRunner, which users lack.
    let r = b
        .post(&format!("{}/jobs/ping", s.app), &[("x-csrf-token", &csrf)])
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("x-csrf-token").is_none());
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    // Documents too: without the token a create is refused before it is read; with it the
    // request reaches the documents code (here: 400, the body lacks `fileName`), and nothing
    // was created by the refused one.
    let docs = format!("{}/catalog/Documents", s.app);
    let r = b.post(&docs, &[]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-csrf-token"], "Required");
    let r = b.post(&docs, &[("x-csrf-token", &csrf)]).await;
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["target"], "fileName", "{e}");

    // Sign out: the session is gone.
    let r = b.get(&format!("{}/logout", s.app), &[]).await;
    assert_eq!(r.status(), 200);
    let r = s
        .http()
        .get(format!("{}/api/me", s.app))
        .header(COOKIE, format!("bridge_session={}", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = b.get(&format!("{}/api/me", s.app), &[]).await;
    assert_eq!(
        r.status(),
        303,
        "after logout the old cookie is dead: back to the login"
    );
    assert!(location(&r).starts_with("/login?"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn viewer_reads_but_has_no_write_scope() {
    let s = Setup::start().await;
    let mut b = sign_in(&s, "bob", "/").await;
    let r = b.get(&format!("{}/api/me", s.app), &[]).await;
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = r.json().await.unwrap();
    let scopes: Vec<String> = serde_json::from_value(me["scopes"].clone()).unwrap();
    assert!(scopes.contains(&format!("{}.Read", s.xsuaa.xsappname)));
    assert!(!scopes.contains(&format!("{}.Write", s.xsuaa.xsappname)));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browsers_without_a_session_are_sent_to_login_and_bad_callbacks_refused() {
    let s = Setup::start().await;
    let mut b = Browser::new(&s);
    let r = b.get(&format!("{}/api/me?x=1", s.app), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?redirect=%2Fapi%2Fme%3Fx%3D1");

    // Open redirects are refused: an absolute target becomes "/".
    let r = b
        .get(
            &format!("{}/login?redirect=https://evil.example/", s.app),
            &[],
        )
        .await;
    assert_eq!(r.status(), 303);

    // A callback whose state was not started by this browser.
    let r = b
        .get(
            &format!("{}/login/callback?code=abc&state=forged", s.app),
            &[],
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("state"));
    let r = b.get(&format!("{}/login/callback", s.app), &[]).await;
    assert_eq!(r.status(), 400);
    // XSUAA reporting an error (user cancelled).
    let r = b
        .get(
            &format!("{}/login/callback?error=access_denied", s.app),
            &[],
        )
        .await;
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secure_cookie_behind_an_https_router() {
    let s = Setup::start().await;
    let r = s
        .http()
        .get(format!("{}/login", s.app))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "bridge.cfapps.example.com")
        .send()
        .await
        .unwrap();
    let authorize = location(&r);
    assert!(
        authorize
            .contains("redirect_uri=https%3A%2F%2Fbridge.cfapps.example.com%2Flogin%2Fcallback"),
        "{authorize}"
    );
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_refreshes_its_access_token_before_it_expires() {
    // Tokens valid for 60 s (the minimum xs-security.json allows): less than the app's
    // refresh margin, so every request through the session refreshes first.
    let files = tempfile::tempdir().unwrap();
    let mut descriptor: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(testkit::workspace_root().join("deploy/btp/xs-security.json"))
            .unwrap(),
    )
    .unwrap();
    descriptor["oauth2-configuration"]["token-validity"] = 60.into();
    let path = files.path().join("xs-security.json");
    std::fs::write(&path, descriptor.to_string()).unwrap();
    let s = Setup::start_with(|c| c.xs_security_path = Some(path.clone())).await;

    let mut b = sign_in(&s, "alice", "/api/me").await;
    let before = s.dev.xsuaa().refresh_grants();
    for _ in 0..3 {
        let r = b.get(&format!("{}/api/me", s.app), &[]).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        s.dev.xsuaa().refresh_grants() - before,
        3,
        "one refresh per request"
    );
    s.stop().await;
}
