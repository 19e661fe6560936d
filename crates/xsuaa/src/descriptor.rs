//! The `xs-security.json` application security descriptor (docs/protocols.md §xs-security.json):
//! the model, its validation, and the `$XSAPPNAME` expansion that turns the descriptor's names
//! into the scopes found in tokens.
//!
//! Pure: no IO. [`SecurityDescriptor::from_json`] parses and validates a document;
//! [`expand_xsappname`] and the helpers on [`SecurityDescriptor`] answer the questions an
//! issuer or a test has (which scopes does a role collection grant, which scopes does the
//! app's own client-credentials token carry, is this redirect URI allowed).
//!
//! The model keeps the descriptor's own spelling (`$XSAPPNAME.Read`); expansion happens in the
//! helpers, which take the *expanded* application name (`bridge!t1`) as a parameter, because
//! that name is chosen by the service broker, not by the descriptor. Keys the model does not
//! know are kept in `other` maps, so a document round-trips.
//!
//! Errors ([`DescriptorError`]) name the field by its path in the document, e.g.
//! `role-templates[1].scope-references[0]`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The placeholder for the expanded application name.
pub const XSAPPNAME: &str = "$XSAPPNAME";

/// The `authorities` entry that accepts every authority other apps grant to this one.
pub const ACCEPT_GRANTED_AUTHORITIES: &str = "$ACCEPT_GRANTED_AUTHORITIES";

/// Default access-token lifetime in seconds when the descriptor sets none.
pub const DEFAULT_TOKEN_VALIDITY: u32 = 43_200;

/// Default refresh-token lifetime in seconds when the descriptor sets none.
pub const DEFAULT_REFRESH_TOKEN_VALIDITY: u32 = 604_800;

/// Grant types a descriptor may list in `oauth2-configuration.grant-types`.
pub const KNOWN_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    "user_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
];

/// Grant types allowed when the descriptor lists none (UAA's defaults for an XSUAA
/// `application` client; SAP does not document the list, so this is our best guess).
pub const DEFAULT_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    "user_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
];

/// Credential types a descriptor may list in `oauth2-configuration.credential-types`.
pub const KNOWN_CREDENTIAL_TYPES: &[&str] = &["binding-secret", "instance-secret", "x509"];

/// Scopes that role templates may reference without declaring them (UAA's own).
const UAA_SCOPES: &[&str] = &["uaa.user"];

/// Why a descriptor was refused.
#[derive(Debug, thiserror::Error)]
pub enum DescriptorError {
    /// The text is not JSON of the descriptor's shape (serde's message names the field and the
    /// position).
    #[error("xs-security.json: {0}")]
    Json(#[from] serde_json::Error),
    /// A field breaks one of the descriptor's rules.
    #[error("xs-security.json: `{field}` {reason}")]
    Invalid {
        /// The field's path in the document, e.g. `scopes[2].name`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> DescriptorError {
    DescriptorError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// How the app is offered to tenants (`tenant-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantMode {
    /// One tenant: the subaccount the app runs in (the default).
    Dedicated,
    /// Multi-tenant (SaaS).
    Shared,
    /// Tenants outside the subaccount.
    External,
}

impl TenantMode {
    /// The value as written in descriptors and bindings (`dedicated`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dedicated => "dedicated",
            Self::Shared => "shared",
            Self::External => "external",
        }
    }
}

/// A parsed `xs-security.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SecurityDescriptor {
    /// The application name before expansion, e.g. `bridge`.
    pub xsappname: String,
    /// `dedicated`, `shared` or `external`; see [`SecurityDescriptor::tenant_mode`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_mode: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The app's scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,
    /// User attributes the app's role templates can refer to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Role templates: named bundles of scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_templates: Vec<RoleTemplate>,
    /// Role collections: what administrators assign to users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_collections: Vec<RoleCollection>,
    /// Scopes the app's own client gets in client-credentials tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorities: Vec<String>,
    /// Scopes of other apps this app's role templates may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_scope_references: Vec<String>,
    /// Token lifetimes, redirect URIs, credential and grant types.
    #[serde(
        default,
        rename = "oauth2-configuration",
        skip_serializing_if = "OAuth2Configuration::is_empty"
    )]
    pub oauth2_configuration: OAuth2Configuration,
    /// Keys this model does not interpret (`xsenableasyncservice`, …), kept for round trips.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// One entry of `scopes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Scope {
    /// The name, usually `$XSAPPNAME.<local name>`.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Apps that may use this scope in their role templates (`$XSAPPNAME(application,<app>)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_apps: Vec<String>,
    /// Apps whose client-credentials tokens may carry this scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_as_authority_to_apps: Vec<String>,
}

/// One entry of `attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// The attribute's name (`a-zA-Z0-9_`, at most 64).
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `string` (or `s`), `int` or `date`.
    #[serde(rename = "valueType", default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    /// Whether a role must set a value.
    #[serde(
        rename = "valueRequired",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub value_required: Option<bool>,
}

/// One entry of `role-templates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RoleTemplate {
    /// The template's name (`a-zA-Z0-9._-`, at most 64).
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The name of the role created from this template automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role_name: Option<String>,
    /// The scopes the template grants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_references: Vec<String>,
    /// The attributes the template's roles carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attribute_references: Vec<AttributeReference>,
}

/// An entry of `attribute-references`: a name, or an object with a name and default values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeReference {
    /// `"Country"`.
    Name(String),
    /// `{"name": "Country", "default-values": ["DE"]}`.
    Detailed {
        /// The attribute's name.
        name: String,
        /// Values used when a role sets none.
        #[serde(
            rename = "default-values",
            default,
            skip_serializing_if = "Vec::is_empty"
        )]
        default_values: Vec<String>,
    },
}

impl AttributeReference {
    /// The referenced attribute's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Name(n) | Self::Detailed { name: n, .. } => n,
        }
    }
}

/// One entry of `role-collections`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RoleCollection {
    /// The collection's name (at most 64), e.g. `Bridge Viewer`.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The templates whose default roles the collection holds (`$XSAPPNAME.<template>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_template_references: Vec<String>,
}

/// `oauth2-configuration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OAuth2Configuration {
    /// Access-token lifetime in seconds (60–86400); see
    /// [`SecurityDescriptor::token_validity`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_validity: Option<i64>,
    /// Refresh-token lifetime in seconds (60–31536000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_validity: Option<i64>,
    /// Allowed redirect URIs, with `*` (within a segment) and `**` (anything) wildcards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Secret types for bindings; the first is the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_types: Vec<String>,
    /// Grant types the app's client may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// Keys this model does not interpret (`system-attributes`, `allowedproviders`, …).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl OAuth2Configuration {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl SecurityDescriptor {
    /// Parses and validates a descriptor.
    pub fn from_json(text: &str) -> Result<Self, DescriptorError> {
        let descriptor: Self = serde_json::from_str(text)?;
        descriptor.validate()?;
        Ok(descriptor)
    }

    /// Checks the descriptor's documented rules (docs/protocols.md §xs-security.json): name
    /// characters and lengths, unique names, references that resolve, token lifetimes in range,
    /// known grant and credential types.
    pub fn validate(&self) -> Result<(), DescriptorError> {
        check_name(
            "xsappname",
            &self.xsappname,
            100,
            |c| c.is_ascii_alphanumeric() || "-_/\\".contains(c),
            "letters, digits, `-`, `_`, `/` and `\\`",
        )?;
        if let Some(mode) = &self.tenant_mode
            && !["dedicated", "shared", "external"].contains(&mode.as_str())
        {
            return Err(invalid(
                "tenant-mode",
                "must be `dedicated`, `shared` or `external`",
            ));
        }
        self.validate_scopes()?;
        self.validate_attributes()?;
        self.validate_role_templates()?;
        self.validate_role_collections()?;
        self.validate_authorities()?;
        self.validate_oauth2()
    }

    fn validate_scopes(&self) -> Result<(), DescriptorError> {
        let mut seen = BTreeSet::new();
        for (i, scope) in self.scopes.iter().enumerate() {
            let field = format!("scopes[{i}].name");
            let local = scope
                .name
                .strip_prefix("$XSAPPNAME.")
                .unwrap_or(&scope.name);
            if local.starts_with('.') {
                return Err(invalid(field, "must not start with `.`"));
            }
            check_name(
                &field,
                local,
                usize::MAX,
                |c| c.is_ascii_alphanumeric() || "-_/\\:".contains(c),
                "letters, digits, `-`, `_`, `/`, `\\` and `:` after `$XSAPPNAME.`",
            )?;
            if self.xsappname.len() + 1 + local.len() > 193 {
                return Err(invalid(
                    field,
                    "is longer than 193 characters including the application name",
                ));
            }
            if !seen.insert(scope.name.as_str()) {
                return Err(invalid(field, "is declared twice"));
            }
            for (list, apps) in [
                ("granted-apps", &scope.granted_apps),
                (
                    "grant-as-authority-to-apps",
                    &scope.grant_as_authority_to_apps,
                ),
            ] {
                for (j, app) in apps.iter().enumerate() {
                    if app_reference(app).is_none() {
                        return Err(invalid(
                            format!("scopes[{i}].{list}[{j}]"),
                            "must be `$XSAPPNAME(application,<app>)` or `$XSSERVICENAME(<instance>)`",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_attributes(&self) -> Result<(), DescriptorError> {
        let mut seen = BTreeSet::new();
        for (i, attribute) in self.attributes.iter().enumerate() {
            let field = format!("attributes[{i}].name");
            check_name(
                &field,
                &attribute.name,
                64,
                |c| c.is_ascii_alphanumeric() || c == '_',
                "letters, digits and `_`",
            )?;
            if !seen.insert(attribute.name.as_str()) {
                return Err(invalid(field, "is declared twice"));
            }
            match attribute.value_type.as_deref() {
                Some("string" | "s" | "int" | "date") => {}
                Some(_) => {
                    return Err(invalid(
                        format!("attributes[{i}].valueType"),
                        "must be `string`, `s`, `int` or `date`",
                    ));
                }
                None => {
                    return Err(invalid(format!("attributes[{i}].valueType"), "is required"));
                }
            }
        }
        Ok(())
    }

    fn validate_role_templates(&self) -> Result<(), DescriptorError> {
        let mut seen = BTreeSet::new();
        for (i, template) in self.role_templates.iter().enumerate() {
            let field = format!("role-templates[{i}].name");
            check_name(
                &field,
                &template.name,
                64,
                |c| c.is_ascii_alphanumeric() || "._-".contains(c),
                "letters, digits, `.`, `_` and `-`",
            )?;
            if !seen.insert(template.name.as_str()) {
                return Err(invalid(field, "is declared twice"));
            }
            for (j, reference) in template.scope_references.iter().enumerate() {
                let known = self.scope(reference).is_some()
                    || UAA_SCOPES.contains(&reference.as_str())
                    || self.foreign_scope_references.contains(reference);
                if !known {
                    return Err(invalid(
                        format!("role-templates[{i}].scope-references[{j}]"),
                        format!(
                            "`{reference}` is neither a declared scope nor listed in foreign-scope-references"
                        ),
                    ));
                }
            }
            for (j, reference) in template.attribute_references.iter().enumerate() {
                if !self.attributes.iter().any(|a| a.name == reference.name()) {
                    return Err(invalid(
                        format!("role-templates[{i}].attribute-references[{j}]"),
                        format!("`{}` is not a declared attribute", reference.name()),
                    ));
                }
            }
        }
        for (i, reference) in self.foreign_scope_references.iter().enumerate() {
            if !is_foreign(reference) {
                return Err(invalid(
                    format!("foreign-scope-references[{i}]"),
                    "must be `$XSAPPNAME(application,<app>).<scope>`",
                ));
            }
        }
        Ok(())
    }

    fn validate_role_collections(&self) -> Result<(), DescriptorError> {
        let mut seen = BTreeSet::new();
        for (i, collection) in self.role_collections.iter().enumerate() {
            let field = format!("role-collections[{i}].name");
            if collection.name.trim().is_empty() {
                return Err(invalid(field, "must not be empty"));
            }
            if collection.name.chars().count() > 64 {
                return Err(invalid(field, "is longer than 64 characters"));
            }
            if !seen.insert(collection.name.as_str()) {
                return Err(invalid(field, "is declared twice"));
            }
            for (j, reference) in collection.role_template_references.iter().enumerate() {
                let field = format!("role-collections[{i}].role-template-references[{j}]");
                if is_foreign(reference) {
                    continue;
                }
                let Some(name) = reference.strip_prefix("$XSAPPNAME.") else {
                    return Err(invalid(field, "must be `$XSAPPNAME.<role template>`"));
                };
                if self.role_template(name).is_none() {
                    return Err(invalid(
                        field,
                        format!("`{reference}` is not a declared role template"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_authorities(&self) -> Result<(), DescriptorError> {
        for (i, authority) in self.authorities.iter().enumerate() {
            let ok = authority == ACCEPT_GRANTED_AUTHORITIES
                || is_foreign(authority)
                || self.scope(authority).is_some();
            if !ok {
                return Err(invalid(
                    format!("authorities[{i}]"),
                    format!(
                        "`{authority}` is neither a declared scope, `$ACCEPT_GRANTED_AUTHORITIES` nor `$XSAPPNAME(application,<app>).<scope>`"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_oauth2(&self) -> Result<(), DescriptorError> {
        let o = &self.oauth2_configuration;
        if let Some(v) = o.token_validity
            && !(60..=86_400).contains(&v)
        {
            return Err(invalid(
                "oauth2-configuration.token-validity",
                "must be between 60 and 86400 seconds",
            ));
        }
        if let Some(v) = o.refresh_token_validity
            && !(60..=31_536_000).contains(&v)
        {
            return Err(invalid(
                "oauth2-configuration.refresh-token-validity",
                "must be between 60 and 31536000 seconds",
            ));
        }
        for (i, t) in o.credential_types.iter().enumerate() {
            if !KNOWN_CREDENTIAL_TYPES.contains(&t.as_str()) {
                return Err(invalid(
                    format!("oauth2-configuration.credential-types[{i}]"),
                    format!("must be one of {}", KNOWN_CREDENTIAL_TYPES.join(", ")),
                ));
            }
        }
        for (i, g) in o.grant_types.iter().enumerate() {
            if !KNOWN_GRANT_TYPES.contains(&g.as_str()) {
                return Err(invalid(
                    format!("oauth2-configuration.grant-types[{i}]"),
                    format!("must be one of {}", KNOWN_GRANT_TYPES.join(", ")),
                ));
            }
        }
        for (i, uri) in o.redirect_uris.iter().enumerate() {
            let field = format!("oauth2-configuration.redirect-uris[{i}]");
            if !(uri.starts_with("https://") || uri.starts_with("http://")) {
                return Err(invalid(field, "must start with `https://` or `http://`"));
            }
            if uri.chars().any(|c| c.is_whitespace() || c == '#') {
                return Err(invalid(field, "must not contain spaces or `#`"));
            }
        }
        Ok(())
    }

    /// The declared scope named `name` (as written, e.g. `$XSAPPNAME.Read`).
    pub fn scope(&self, name: &str) -> Option<&Scope> {
        self.scopes.iter().find(|s| s.name == name)
    }

    /// The declared role template named `name` (without `$XSAPPNAME.`).
    pub fn role_template(&self, name: &str) -> Option<&RoleTemplate> {
        self.role_templates.iter().find(|t| t.name == name)
    }

    /// The declared role collection named `name`.
    pub fn role_collection(&self, name: &str) -> Option<&RoleCollection> {
        self.role_collections.iter().find(|c| c.name == name)
    }

    /// `tenant-mode`, [`TenantMode::Dedicated`] when absent.
    pub fn tenant_mode(&self) -> TenantMode {
        match self.tenant_mode.as_deref() {
            Some("shared") => TenantMode::Shared,
            Some("external") => TenantMode::External,
            _ => TenantMode::Dedicated,
        }
    }

    /// Access-token lifetime in seconds ([`DEFAULT_TOKEN_VALIDITY`] when absent).
    pub fn token_validity(&self) -> u32 {
        self.oauth2_configuration
            .token_validity
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(DEFAULT_TOKEN_VALIDITY)
    }

    /// Refresh-token lifetime in seconds ([`DEFAULT_REFRESH_TOKEN_VALIDITY`] when absent).
    pub fn refresh_token_validity(&self) -> u32 {
        self.oauth2_configuration
            .refresh_token_validity
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(DEFAULT_REFRESH_TOKEN_VALIDITY)
    }

    /// The grant types the app's client may use ([`DEFAULT_GRANT_TYPES`] when none are listed).
    pub fn grant_types(&self) -> Vec<String> {
        let listed = &self.oauth2_configuration.grant_types;
        if listed.is_empty() {
            DEFAULT_GRANT_TYPES
                .iter()
                .map(|g| (*g).to_owned())
                .collect()
        } else {
            listed.clone()
        }
    }

    /// The scopes a user holding `collections` gets, expanded with `xsappname` (e.g.
    /// `bridge!t1`): collections → role templates → scope references, each scope once, in
    /// the order first met. Unknown collections and references to other apps' templates
    /// contribute nothing.
    pub fn scopes_for_role_collections(
        &self,
        collections: &[&str],
        xsappname: &str,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for collection in collections.iter().filter_map(|c| self.role_collection(c)) {
            for reference in &collection.role_template_references {
                let Some(template) = reference
                    .strip_prefix("$XSAPPNAME.")
                    .and_then(|name| self.role_template(name))
                else {
                    continue;
                };
                for scope in &template.scope_references {
                    let scope = expand_xsappname(scope, xsappname);
                    if !out.contains(&scope) {
                        out.push(scope);
                    }
                }
            }
        }
        out
    }

    /// The scopes in the app's own client-credentials tokens: `authorities`, expanded with
    /// `xsappname`. `$ACCEPT_GRANTED_AUTHORITIES` is dropped, and so are references to other
    /// apps' scopes (`$XSAPPNAME(application,<app>).<scope>`), which only count once that app
    /// grants them (see [`SecurityDescriptor::authorities_granted_to`] on *its* descriptor).
    pub fn authorities(&self, xsappname: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for authority in &self.authorities {
            if authority == ACCEPT_GRANTED_AUTHORITIES || is_foreign(authority) {
                continue;
            }
            let scope = expand_xsappname(authority, xsappname);
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        out
    }

    /// The scopes this app grants as authorities to the app named `app` (its unexpanded
    /// `xsappname`) through `grant-as-authority-to-apps: ["$XSAPPNAME(application,<app>)"]`,
    /// expanded with this app's `xsappname`.
    pub fn authorities_granted_to(&self, app: &str, xsappname: &str) -> Vec<String> {
        self.scopes
            .iter()
            .filter(|s| {
                s.grant_as_authority_to_apps
                    .iter()
                    .any(|r| app_reference(r) == Some(("application", app)))
            })
            .map(|s| expand_xsappname(&s.name, xsappname))
            .collect()
    }

    /// Whether `uri` matches one of `oauth2-configuration.redirect-uris` (see
    /// [`redirect_uri_matches`]).
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        self.oauth2_configuration
            .redirect_uris
            .iter()
            .any(|p| redirect_uri_matches(p, uri))
    }
}

/// Replaces `$XSAPPNAME` with the expanded application name: `$XSAPPNAME.Read` →
/// `bridge!t1.Read`. References to other apps, `$XSAPPNAME(application,<app>)`, are left as
/// they are: their expanded name is not known here.
pub fn expand_xsappname(s: &str, xsappname: &str) -> String {
    let mut out = String::with_capacity(s.len() + xsappname.len());
    let mut rest = s;
    while let Some(at) = rest.find(XSAPPNAME) {
        out.push_str(&rest[..at]);
        let after = &rest[at + XSAPPNAME.len()..];
        if after.starts_with('(') {
            out.push_str(XSAPPNAME);
        } else {
            out.push_str(xsappname);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The local part of a scope name, the text after the application prefix:
/// `$XSAPPNAME.Read`, `bridge!t1.Read` and `$XSAPPNAME(application,other).Read` all give
/// `Read` (this is what `checkLocalScope` in `@sap/xssec` compares). A name without a `.` is
/// returned whole.
pub fn local_scope(name: &str) -> &str {
    // An application prefix never contains `.` (xsappname forbids it), so the first `.` after
    // any `(…)` part ends it.
    let search_from = if name.starts_with("$XSAPPNAME(") {
        name.find(')').unwrap_or(0)
    } else {
        0
    };
    match name[search_from..].find('.') {
        Some(dot) => &name[search_from + dot + 1..],
        None => name,
    }
}

/// Whether `uri` matches the redirect-URI `pattern`: `**` matches anything, `*` matches any
/// run of characters other than `/`, `?`, `#` and `@` (so it stays inside one host label
/// sequence, port or path segment), everything else literally. A pattern ending in `/**` also
/// matches the URI without that path (`http://localhost:8080`).
pub fn redirect_uri_matches(pattern: &str, uri: &str) -> bool {
    if uri.contains('#') {
        return false;
    }
    if let Some(base) = pattern.strip_suffix("/**")
        && glob(base.as_bytes(), uri.as_bytes())
    {
        return true;
    }
    glob(pattern.as_bytes(), uri.as_bytes())
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        [b'*', rest @ ..] => {
            let run = text
                .iter()
                .position(|c| b"/?#@".contains(c))
                .unwrap_or(text.len());
            (0..=run).any(|i| glob(rest, &text[i..]))
        }
        [p, rest @ ..] => text.first() == Some(p) && glob(rest, &text[1..]),
    }
}

/// `$XSAPPNAME(<plan>,<app>)` → `(plan, app)`; `$XSSERVICENAME(<instance>)` →
/// `("service", instance)`.
fn app_reference(s: &str) -> Option<(&str, &str)> {
    if let Some(inner) = s
        .strip_prefix("$XSAPPNAME(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let (plan, app) = inner.split_once(',')?;
        let (plan, app) = (plan.trim(), app.trim());
        return (!plan.is_empty() && !app.is_empty()).then_some((plan, app));
    }
    let instance = s
        .strip_prefix("$XSSERVICENAME(")
        .and_then(|r| r.strip_suffix(')'))?;
    (!instance.trim().is_empty()).then_some(("service", instance.trim()))
}

/// `$XSAPPNAME(application,<app>).<name>`: a reference to another app's scope or template.
fn is_foreign(s: &str) -> bool {
    s.find(").")
        .is_some_and(|end| app_reference(&s[..=end]).is_some() && s.len() > end + 2)
}

fn check_name(
    field: &str,
    value: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    allowed_text: &str,
) -> Result<(), DescriptorError> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("is longer than {max} characters")));
    }
    if let Some(c) = value.chars().find(|c| !allowed(*c)) {
        return Err(invalid(
            field,
            format!("contains `{c}`; allowed are {allowed_text}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const REPO_DESCRIPTOR: &str = include_str!("../../../deploy/btp/xs-security.json");

    fn repo() -> SecurityDescriptor {
        SecurityDescriptor::from_json(REPO_DESCRIPTOR).unwrap()
    }

    #[test]
    fn the_repository_descriptor_is_valid_and_says_what_we_mean() {
        let d = repo();
        assert_eq!(d.xsappname, "bridge");
        assert_eq!(d.tenant_mode(), TenantMode::Dedicated);
        assert_eq!(d.token_validity(), 43_200);
        assert_eq!(d.refresh_token_validity(), 604_800);
        assert_eq!(
            d.grant_types(),
            ["client_credentials", "authorization_code", "refresh_token"]
        );
        assert_eq!(
            d.scopes_for_role_collections(&["Bridge Viewer"], "bridge!t1"),
            ["bridge!t1.Read"]
        );
        assert_eq!(
            d.scopes_for_role_collections(&["Bridge Editor"], "bridge!t1"),
            ["bridge!t1.Read", "bridge!t1.Write"]
        );
        assert_eq!(
            d.scopes_for_role_collections(&["Bridge Viewer", "Bridge Editor", "Nope"], "bridge!t1"),
            ["bridge!t1.Read", "bridge!t1.Write"]
        );
        assert_eq!(d.authorities("bridge!t1"), ["bridge!t1.JobRunner"]);
        assert_eq!(
            d.authorities_granted_to("bridge-caller", "bridge!t1"),
            ["bridge!t1.JobRunner"]
        );
        assert!(
            d.authorities_granted_to("someone-else", "bridge!t1")
                .is_empty()
        );
        // JobRunner is machine-only: no role template grants it.
        for t in &d.role_templates {
            assert!(!t.scope_references.iter().any(|s| s.ends_with(".JobRunner")));
        }
        assert!(d.redirect_uri_allowed("http://localhost:5000/login/callback"));
        assert!(d.redirect_uri_allowed("http://127.0.0.1:4004/"));
        assert!(d.redirect_uri_allowed(
            "https://acme-dev-bridge.cfapps.eu10.hana.ondemand.com/login/callback?x=1"
        ));
        assert!(!d.redirect_uri_allowed("https://evil.example.com/callback"));
        assert!(!d.redirect_uri_allowed("http://localhost.evil.com:80/"));
    }

    #[test]
    fn descriptors_round_trip_including_unknown_keys() {
        let text = r#"{
            "xsappname": "myapp", "tenant-mode": "shared", "description": "d",
            "scopes": [{"name": "$XSAPPNAME.Read", "description": "read",
                        "granted-apps": ["$XSAPPNAME(application,otherapp)"],
                        "grant-as-authority-to-apps": ["$XSAPPNAME(application,lambda)"]}],
            "attributes": [{"name": "Country", "description": "c", "valueType": "string", "valueRequired": true}],
            "role-templates": [{"name": "Viewer", "default-role-name": "V",
                                "scope-references": ["$XSAPPNAME.Read", "uaa.user"],
                                "attribute-references": ["Country", {"name": "Country", "default-values": ["DE"]}]}],
            "role-collections": [{"name": "MyApp Viewer", "role-template-references": ["$XSAPPNAME.Viewer"]}],
            "authorities": ["$XSAPPNAME.Read", "$ACCEPT_GRANTED_AUTHORITIES", "$XSAPPNAME(application,other).Do"],
            "foreign-scope-references": ["$XSAPPNAME(application,otherapp).Read"],
            "oauth2-configuration": {"token-validity": 900, "system-attributes": ["rolecollections"]},
            "xsenableasyncservice": "true"
        }"#;
        let d = SecurityDescriptor::from_json(text).unwrap();
        assert_eq!(d.tenant_mode(), TenantMode::Shared);
        assert_eq!(d.token_validity(), 900);
        assert_eq!(d.refresh_token_validity(), DEFAULT_REFRESH_TOKEN_VALIDITY);
        assert_eq!(d.other["xsenableasyncservice"], "true");
        assert_eq!(
            d.oauth2_configuration.other["system-attributes"][0],
            "rolecollections"
        );
        assert_eq!(
            d.role_templates[0].attribute_references[1].name(),
            "Country"
        );
        assert_eq!(d.authorities("myapp!t7"), ["myapp!t7.Read"]);
        let again = SecurityDescriptor::from_json(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(again, d);
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&d).unwrap(), original);
    }

    #[test]
    fn expansion() {
        for (input, expected) in [
            ("$XSAPPNAME.Read", "bridge!t1.Read"),
            ("$XSAPPNAME.Viewer", "bridge!t1.Viewer"),
            ("$XSAPPNAME", "bridge!t1"),
            ("uaa.user", "uaa.user"),
            (
                "$XSAPPNAME(application,other).Read",
                "$XSAPPNAME(application,other).Read",
            ),
            ("a $XSAPPNAME b $XSAPPNAME", "a bridge!t1 b bridge!t1"),
        ] {
            assert_eq!(expand_xsappname(input, "bridge!t1"), expected, "{input}");
        }
    }

    #[test]
    fn local_scopes() {
        for (input, expected) in [
            ("$XSAPPNAME.Read", "Read"),
            ("bridge!t1.Read", "Read"),
            ("$XSAPPNAME(application,other).Read", "Read"),
            ("openid", "openid"),
            ("uaa.resource", "resource"),
        ] {
            assert_eq!(local_scope(input), expected, "{input}");
        }
    }

    #[test]
    fn redirect_uri_patterns() {
        for (pattern, uri, expected) in [
            ("http://localhost:*/**", "http://localhost:8080/cb", true),
            ("http://localhost:*/**", "http://localhost:8080", true),
            (
                "http://localhost:*/**",
                "http://localhost:8080/a/b?c=d",
                true,
            ),
            (
                "http://localhost:*/**",
                "http://localhost:80@evil.com/",
                false,
            ),
            ("http://localhost:*/**", "http://localhost/cb", false),
            ("http://localhost:*/**", "https://localhost:8080/cb", false),
            (
                "http://localhost:*/**",
                "http://localhost:8080/cb#frag",
                false,
            ),
            (
                "https://*.cfapps.*.hana.ondemand.com/**",
                "https://a.cfapps.eu10.hana.ondemand.com/x",
                true,
            ),
            (
                "https://*.cfapps.*.hana.ondemand.com/**",
                "https://a.b.cfapps.eu10.hana.ondemand.com/x",
                true,
            ),
            (
                "https://*.cfapps.*.hana.ondemand.com/**",
                "https://evil.com/.cfapps.eu10.hana.ondemand.com/",
                false,
            ),
            (
                "https://*.cfapps.*.hana.ondemand.com/**",
                "https://evil.com?.cfapps.eu10.hana.ondemand.com/",
                false,
            ),
            (
                "https://app.example.com/cb",
                "https://app.example.com/cb",
                true,
            ),
            (
                "https://app.example.com/cb",
                "https://app.example.com/cb2",
                false,
            ),
            (
                "https://app.example.com/*/cb",
                "https://app.example.com/x/cb",
                true,
            ),
            (
                "https://app.example.com/*/cb",
                "https://app.example.com/x/y/cb",
                false,
            ),
        ] {
            assert_eq!(
                redirect_uri_matches(pattern, uri),
                expected,
                "{pattern} vs {uri}"
            );
        }
    }

    /// Parses `{"xsappname":"app", <extra>}` and returns the error's field path (or "ok").
    fn check(extra: &str) -> String {
        let text = format!(r#"{{"xsappname": "app" {extra}}}"#);
        match SecurityDescriptor::from_json(&text) {
            Ok(_) => "ok".to_owned(),
            Err(DescriptorError::Invalid { field, .. }) => field,
            Err(DescriptorError::Json(e)) => format!("json: {e}"),
        }
    }

    #[test]
    fn validation_names_the_field() {
        let long_name = "a".repeat(101);
        let long_scope = "a".repeat(190);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "ok"),
            (r#", "tenant-mode": "multi""#.into(), "tenant-mode"),
            (r#", "scopes": [{"name": "$XSAPPNAME.Re ad"}]"#.into(), "scopes[0].name"),
            (r#", "scopes": [{"name": "$XSAPPNAME..Read"}]"#.into(), "scopes[0].name"),
            (r#", "scopes": [{"name": "$XSAPPNAME."}]"#.into(), "scopes[0].name"),
            (format!(r#", "scopes": [{{"name": "$XSAPPNAME.{long_scope}"}}]"#), "scopes[0].name"),
            (r#", "scopes": [{"name": "$XSAPPNAME.a:b/c\\d-e_f"}]"#.into(), "ok"),
            (r#", "scopes": [{"name": "$XSAPPNAME.R"}, {"name": "$XSAPPNAME.R"}]"#.into(), "scopes[1].name"),
            (r#", "scopes": [{"name": "$XSAPPNAME.R", "granted-apps": ["other"]}]"#.into(), "scopes[0].granted-apps[0]"),
            (r#", "scopes": [{"name": "$XSAPPNAME.R", "grant-as-authority-to-apps": ["$XSSERVICENAME(jobs)"]}]"#.into(), "ok"),
            (r#", "attributes": [{"name": "Coun-try", "valueType": "s"}]"#.into(), "attributes[0].name"),
            (r#", "attributes": [{"name": "Country", "valueType": "float"}]"#.into(), "attributes[0].valueType"),
            (r#", "attributes": [{"name": "Country"}]"#.into(), "attributes[0].valueType"),
            (r#", "role-templates": [{"name": "View er"}]"#.into(), "role-templates[0].name"),
            (r#", "role-templates": [{"name": "V", "scope-references": ["$XSAPPNAME.Nope"]}]"#.into(), "role-templates[0].scope-references[0]"),
            (r#", "role-templates": [{"name": "V", "attribute-references": ["Nope"]}]"#.into(), "role-templates[0].attribute-references[0]"),
            (r#", "role-templates": [{"name": "V", "scope-references": ["$XSAPPNAME(application,o).R"]}], "foreign-scope-references": ["$XSAPPNAME(application,o).R"]"#.into(), "ok"),
            (r#", "role-collections": [{"name": "C", "role-template-references": ["$XSAPPNAME.Nope"]}]"#.into(), "role-collections[0].role-template-references[0]"),
            (r#", "role-collections": [{"name": "C", "role-template-references": ["Viewer"]}]"#.into(), "role-collections[0].role-template-references[0]"),
            (format!(r#", "role-collections": [{{"name": "{}"}}]"#, "c".repeat(65)), "role-collections[0].name"),
            (r#", "authorities": ["$XSAPPNAME.Nope"]"#.into(), "authorities[0]"),
            (r#", "authorities": ["$ACCEPT_GRANTED_AUTHORITIES"]"#.into(), "ok"),
            (r#", "oauth2-configuration": {"token-validity": 59}"#.into(), "oauth2-configuration.token-validity"),
            (r#", "oauth2-configuration": {"token-validity": 86401}"#.into(), "oauth2-configuration.token-validity"),
            (r#", "oauth2-configuration": {"token-validity": 60, "refresh-token-validity": 31536000}"#.into(), "ok"),
            (r#", "oauth2-configuration": {"refresh-token-validity": 31536001}"#.into(), "oauth2-configuration.refresh-token-validity"),
            (r#", "oauth2-configuration": {"grant-types": ["implicit"]}"#.into(), "oauth2-configuration.grant-types[0]"),
            (r#", "oauth2-configuration": {"credential-types": ["password"]}"#.into(), "oauth2-configuration.credential-types[0]"),
            (r#", "oauth2-configuration": {"redirect-uris": ["ftp://x/**"]}"#.into(), "oauth2-configuration.redirect-uris[0]"),
        ];
        for (extra, expected) in cases {
            assert_eq!(check(&extra), expected, "{extra}");
        }
        let bad_app = format!(r#"{{"xsappname": "{long_name}"}}"#);
        assert!(matches!(
            SecurityDescriptor::from_json(&bad_app),
            Err(DescriptorError::Invalid { field, .. }) if field == "xsappname"
        ));
        assert!(matches!(
            SecurityDescriptor::from_json(r#"{"xsappname": "my.app"}"#),
            Err(DescriptorError::Invalid { field, .. }) if field == "xsappname"
        ));
        let err = SecurityDescriptor::from_json(r#"{"scopes": []}"#).unwrap_err();
        assert!(err.to_string().contains("xsappname"), "{err}");
        let err = SecurityDescriptor::from_json(
            r#"{"xsappname": "a", "oauth2-configuration": {"token-validity": 10}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "xs-security.json: `oauth2-configuration.token-validity` must be between 60 and 86400 seconds"
        );
    }
}
