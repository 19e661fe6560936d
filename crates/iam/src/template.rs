//! Policy templates: the files in `deploy/aws/iam/` name the account, the bucket and the
//! external id as `${AccountId}`, `${BucketName}` and `${ExternalId}`; [`render`] fills them in
//! (dev values for the local STS and S3, real ones at deployment).
//!
//! A placeholder is `${Name}` with `Name` made of ASCII letters, digits and `_`, starting with a
//! letter or `_`. Anything else in `${…}` — `${aws:username}`, `${*}` — is an IAM policy variable
//! and is left alone, so templates can still use policy variables.

use crate::error::PolicyError;

/// Replaces every `${Name}` placeholder in `text` with its value from `values`.
///
/// Errors name the first placeholder that has no value, or whose value holds a `"`, a `\` or a
/// control character: values go into JSON strings unescaped, so they must not need escaping.
/// Values that are not used are not looked at.
///
/// ```
/// let text = r#"{"Resource": "arn:aws:s3:::${BucketName}/*"}"#;
/// let out = iam::template::render(text, &[("BucketName", "docs")])?;
/// assert_eq!(out, r#"{"Resource": "arn:aws:s3:::docs/*"}"#);
/// assert!(iam::template::render(text, &[]).is_err());
/// # Ok::<(), iam::PolicyError>(())
/// ```
pub fn render(text: &str, values: &[(&str, &str)]) -> Result<String, PolicyError> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 2..).unwrap_or_default();
        match after.find('}') {
            Some(end) if is_placeholder_name(after.get(..end).unwrap_or_default()) => {
                let name = after.get(..end).unwrap_or_default();
                let Some((_, value)) = values.iter().find(|(n, _)| *n == name) else {
                    return Err(PolicyError::Placeholder {
                        name: name.to_owned(),
                        problem: "no value given".to_owned(),
                    });
                };
                if value
                    .chars()
                    .any(|c| c == '"' || c == '\\' || c.is_control())
                {
                    return Err(PolicyError::Placeholder {
                        name: name.to_owned(),
                        problem: "the value holds a quote, backslash or control character, \
                                  which JSON text cannot take unescaped"
                            .to_owned(),
                    });
                }
                out.push_str(value);
                rest = after.get(end + 1..).unwrap_or_default();
            }
            // A policy variable, or an unterminated `${`: copy it as is.
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The names of the placeholders in `text`, in order of first appearance.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let after = rest.get(at + 2..).unwrap_or_default();
        if let Some(name) = after
            .find('}')
            .and_then(|end| after.get(..end))
            .filter(|n| is_placeholder_name(n))
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_owned());
        }
        rest = after;
    }
    names
}

fn is_placeholder_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_keeps_policy_variables() {
        let text = "${A}-${B}-${aws:username}-${*}-${A}-${ unterminated";
        let out = render(text, &[("A", "1"), ("B", "2"), ("Unused", "x")]).unwrap();
        assert_eq!(out, "1-2-${aws:username}-${*}-1-${ unterminated");
        assert_eq!(placeholders(text), ["A", "B"]);
    }

    #[test]
    fn unknown_placeholder_is_an_error() {
        let err = render("x ${AccountId} ${Nope}", &[("AccountId", "1")]).unwrap_err();
        assert_eq!(err.to_string(), "placeholder ${Nope}: no value given");
    }

    #[test]
    fn values_needing_escapes_are_errors() {
        for bad in ["a\"b", "a\\b", "a\nb"] {
            let err = render("${X}", &[("X", bad)]).unwrap_err();
            assert!(err.to_string().starts_with("placeholder ${X}: "), "{err}");
            assert!(render("x", &[("X", bad)]).is_ok());
        }
    }
}
