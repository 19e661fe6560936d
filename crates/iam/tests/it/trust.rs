//! `AssumeRole` authorization (docs/protocols.md §AssumeRole authorization): a trust policy
//! naming the user suffices; one naming the account needs an identity policy too; external
//! ids; denials; cross-account.

use iam::{Decision, PolicyDocument, PolicyKind, RequestContext, assume_role, trust_allows};
use serde_json::{Value, json};

use crate::common::{ACCT, OTHER_ACCT, ROLE, SESSION, USER, check, denied_by, doc, identity};

fn trust(principal: Value, condition: Option<Value>) -> PolicyDocument {
    let mut s = json!({"Sid": "Trust", "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    doc(PolicyKind::Trust, s)
}

fn request(caller: &str, account: &str, external_id: Option<&str>) -> RequestContext {
    let c = RequestContext::new(caller, account, "sts:AssumeRole", ROLE);
    match external_id {
        Some(id) => c.with_key("sts:ExternalId", id),
        None => c,
    }
}

#[test]
fn trust_naming_the_user_with_an_external_id() {
    let t = trust(
        json!({"AWS": USER}),
        Some(json!({"StringEquals": {"sts:ExternalId": "ext-123"}})),
    );
    check(
        [
            ((USER, Some("ext-123")), Decision::Allow),
            ((USER, Some("ext-124")), Decision::ImplicitDeny),
            ((USER, Some("EXT-123")), Decision::ImplicitDeny),
            ((USER, None), Decision::ImplicitDeny),
            (
                ("arn:aws:iam::111122223333:user/someone", Some("ext-123")),
                Decision::ImplicitDeny,
            ),
        ],
        |(caller, id)| {
            let c = request(caller, ACCT, *id);
            let alone = trust_allows(&t, &c);
            // Naming the user directly: no identity policy needed, so both answers agree.
            assert_eq!(assume_role(&t, &[], &c), alone);
            alone
        },
    );
}

#[test]
fn trust_naming_the_account_needs_an_identity_policy() {
    let allow_this_role =
        identity(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE}));
    let allow_other_role = identity(
        json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::111122223333:role/other"}),
    );
    for principal in [
        json!({"AWS": format!("arn:aws:iam::{ACCT}:root")}),
        json!({"AWS": ACCT}),
    ] {
        let t = trust(principal, None);
        let c = request(USER, ACCT, None);
        assert_eq!(trust_allows(&t, &c), Decision::ImplicitDeny);
        check(
            [
                (vec![], Decision::ImplicitDeny),
                (vec![&allow_other_role], Decision::ImplicitDeny),
                (vec![&allow_this_role], Decision::Allow),
                (vec![&allow_other_role, &allow_this_role], Decision::Allow),
            ],
            |ids| assume_role(&t, ids, &c),
        );
        // Another account's user is not trusted by this account's root.
        let foreign = request(
            &format!("arn:aws:iam::{OTHER_ACCT}:user/btp-bridge"),
            OTHER_ACCT,
            None,
        );
        assert_eq!(
            assume_role(&t, &[&allow_this_role], &foreign),
            Decision::ImplicitDeny
        );
    }
}

#[test]
fn denials_win() {
    let t = doc(
        PolicyKind::Trust,
        json!([
            {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"},
            {"Sid": "NotFromOutsideTheVpc", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
             "Condition": {"Bool": {"aws:ViaAWSService": "false"}, "StringNotEquals": {"aws:SourceVpc": "vpc-1"}}}
        ]),
    );
    let allow = identity(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}));
    let deny =
        identity(json!({"Sid": "NoRoles", "Effect": "Deny", "Action": "sts:*", "Resource": "*"}));
    let inside = request(USER, ACCT, None)
        .with_key("aws:ViaAWSService", "false")
        .with_key("aws:SourceVpc", "vpc-1");
    let outside = request(USER, ACCT, None).with_key("aws:ViaAWSService", "false");
    assert_eq!(assume_role(&t, &[&allow], &inside), Decision::Allow);
    assert_eq!(
        assume_role(&t, &[&allow], &outside),
        denied_by("NotFromOutsideTheVpc")
    );
    assert_eq!(
        trust_allows(&t, &outside),
        denied_by("NotFromOutsideTheVpc")
    );
    assert_eq!(
        assume_role(&t, &[&allow, &deny], &inside),
        denied_by("NoRoles")
    );
    // An identity deny beats even a trust policy that names the user.
    let named = trust(json!({"AWS": USER}), None);
    assert_eq!(
        assume_role(&named, &[&deny], &request(USER, ACCT, None)),
        denied_by("NoRoles")
    );
}

#[test]
fn cross_account_needs_both() {
    let foreign_user = format!("arn:aws:iam::{OTHER_ACCT}:user/btp-bridge");
    let t = trust(
        json!({"AWS": foreign_user}),
        Some(json!({"StringEquals": {"sts:ExternalId": "x1"}})),
    );
    let allow = identity(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE}));
    let c = request(&foreign_user, OTHER_ACCT, Some("x1"));
    assert_eq!(trust_allows(&t, &c), Decision::ImplicitDeny);
    assert_eq!(assume_role(&t, &[], &c), Decision::ImplicitDeny);
    assert_eq!(assume_role(&t, &[&allow], &c), Decision::Allow);
    assert_eq!(
        assume_role(
            &t,
            &[&allow],
            &request(&foreign_user, OTHER_ACCT, Some("x2"))
        ),
        Decision::ImplicitDeny
    );
    // Trusting the other account's root works the same way across accounts.
    let root = trust(json!({"AWS": OTHER_ACCT}), None);
    assert_eq!(assume_role(&root, &[&allow], &c), Decision::Allow);
}

#[test]
fn role_sessions_and_services() {
    // Role chaining: a trust policy naming a role admits that role's sessions.
    let t = trust(
        json!({"AWS": "arn:aws:iam::111122223333:role/btp-bridge-s3"}),
        None,
    );
    assert_eq!(
        trust_allows(&t, &request(SESSION, ACCT, None)),
        Decision::Allow
    );
    assert_eq!(
        trust_allows(
            &t,
            &request("arn:aws:sts::111122223333:assumed-role/other/s", ACCT, None)
        ),
        Decision::ImplicitDeny
    );
    // A Lambda execution role trusts the Lambda service.
    let lambda = trust(json!({"Service": "lambda.amazonaws.com"}), None);
    assert_eq!(
        trust_allows(&lambda, &request("lambda.amazonaws.com", "", None)),
        Decision::Allow
    );
    assert_eq!(
        trust_allows(&lambda, &request(USER, ACCT, None)),
        Decision::ImplicitDeny
    );
}

#[test]
fn only_the_trusted_action() {
    let t = trust(json!({"AWS": USER}), None);
    let c = request(USER, ACCT, None);
    assert_eq!(
        trust_allows(&t, &c.for_action("sts:TagSession", ROLE)),
        Decision::ImplicitDeny
    );
    assert!(assume_role(&t, &[], &c).is_allowed());
}
