//! `bridge docs list` and `bridge docs audit`: collection reads of `/catalog/Documents` and
//! `/catalog/DocumentEvents` with the system query options percent-encoded as given, following
//! the server's `@odata.nextLink` pages (on the app's origin only) until `--top` entities are
//! in, printed as an aligned table or one JSON object per line.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;
use url::Url;

use super::api::Api;

/// What is percent-encoded in a query option's value: what would end or change the option
/// (`&`, `=`, `#`, `+`, which some servers read as a space), `%`, and what is not allowed in a
/// URL (controls, space, quotes, brackets; non-ASCII is always encoded). OData's own
/// characters (`'`, `(`, `)`, `,`, `$`, `/`, `:`) stay readable.
const VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Widest table cell.
const MAX_CELL: usize = 80;

/// Arguments of `bridge docs list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// An OData `$filter`, e.g. `documentNumber eq '4711'` or `contains(fileName,'plan')`.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// An OData `$search` (words, or a phrase in double quotes).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// At most N documents, following the server's pages.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub top: u32,
    /// An OData `$orderby`, e.g. `createdAt desc`.
    #[arg(long, value_name = "X")]
    pub orderby: Option<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bridge docs audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only the events of this document.
    #[arg(long, value_name = "ID", value_parser = super::document_id)]
    pub document: Option<String>,
    /// At most N events, newest first.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub top: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bridge docs list`.
pub(super) async fn list(api: &Api, args: &ListArgs) -> ExitCode {
    let top = args.top.to_string();
    let mut options = vec![("$top", top.as_str())];
    for (name, value) in [
        ("$filter", &args.filter),
        ("$search", &args.search),
        ("$orderby", &args.orderby),
    ] {
        if let Some(v) = value {
            options.push((name, v.as_str()));
        }
    }
    let rows = match collect(
        api,
        "/catalog/Documents",
        &options,
        args.top,
        "cannot list the documents",
    )
    .await
    {
        Ok(rows) => rows,
        Err(e) => return crate::commands::fail(&e),
    };
    if args.json {
        print_json(&rows);
    } else {
        let header = [
            "ID",
            "FILE NAME",
            "SIZE",
            "STATUS",
            "NUMBER",
            "LOCATION",
            "CREATED",
        ];
        let table: Vec<[String; 7]> = rows
            .iter()
            .map(|d| {
                [
                    cell(&d["ID"]),
                    cell(&d["fileName"]),
                    d["size"]
                        .as_u64()
                        .map_or_else(|| "-".to_owned(), super::human_size),
                    cell(&d["status"]),
                    cell(&d["documentNumber"]),
                    cell(&d["location"]),
                    cell(&d["createdAt"]),
                ]
            })
            .collect();
        print_table(header, &table, "(no documents)");
    }
    ExitCode::SUCCESS
}

/// Runs `bridge docs audit`.
pub(super) async fn audit(api: &Api, args: &AuditArgs) -> ExitCode {
    let top = args.top.to_string();
    let filter = args
        .document
        .as_ref()
        .map(|id| format!("documentId eq {id}"));
    let mut options = vec![("$orderby", "at desc"), ("$top", top.as_str())];
    if let Some(f) = &filter {
        options.push(("$filter", f));
    }
    let rows = match collect(
        api,
        "/catalog/DocumentEvents",
        &options,
        args.top,
        "cannot read the audit log",
    )
    .await
    {
        Ok(rows) => rows,
        Err(e) => return crate::commands::fail(&e),
    };
    if args.json {
        print_json(&rows);
    } else {
        let header = ["AT", "ACTOR", "ACTION", "DOCUMENT", "DETAIL"];
        let table: Vec<[String; 5]> = rows
            .iter()
            .map(|e| {
                [
                    cell(&e["at"]),
                    cell(&e["actor"]),
                    cell(&e["action"]),
                    cell(&e["documentId"]),
                    cell(&e["detail"]),
                ]
            })
            .collect();
        print_table(header, &table, "(no events)");
    }
    ExitCode::SUCCESS
}

/// `?name=value&…`, each value percent-encoded.
fn query(options: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in options.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        out.push('=');
        out.extend(utf8_percent_encode(value, VALUE));
    }
    out
}

/// The entities of `path` with `options`, page after page, until `top` are in or no next
/// link follows.
async fn collect(
    api: &Api,
    path: &str,
    options: &[(&str, &str)],
    top: u32,
    what: &str,
) -> anyhow::Result<Vec<Value>> {
    let top = usize::try_from(top).unwrap_or(usize::MAX);
    let mut url = format!("{}{}", api.url(path), query(options));
    let mut out = Vec::new();
    loop {
        let page = api.get_json(&url, what).await?;
        let values = page["value"]
            .as_array()
            .ok_or_else(|| anyhow!("{what}: the answer has no `value` array"))?;
        out.extend(values.iter().cloned());
        if out.len() >= top {
            out.truncate(top);
            break;
        }
        let Some(next) = page["@odata.nextLink"].as_str() else {
            break;
        };
        if values.is_empty() {
            anyhow::bail!("{what}: the server sent an empty page with a next link");
        }
        let next = Url::parse(&url)
            .and_then(|base| base.join(next))
            .map_err(|_| anyhow!("{what}: the next link is not a URL"))?;
        if !api.same_origin(&next) {
            anyhow::bail!(
                "{what}: the next page is on another origin ({}); the token is not sent there",
                next.origin().ascii_serialization()
            );
        }
        url = next.into();
    }
    Ok(out)
}

/// A value as a table cell: strings without control characters and cut, `-` for null.
fn cell(v: &Value) -> String {
    use cfenv::text::{Controls, Ellipsis, cut};
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => cut(s, MAX_CELL, Controls::Drop, Ellipsis::WhenCut),
        other => cut(
            &other.to_string(),
            MAX_CELL,
            Controls::Drop,
            Ellipsis::WhenCut,
        ),
    }
}

#[allow(clippy::print_stdout)]
fn print_json(rows: &[Value]) {
    for row in rows {
        println!("{row}");
    }
}

/// Rows as columns two spaces apart, each as wide as its widest cell.
#[allow(clippy::print_stdout)]
fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]], empty: &str) {
    let header = header.map(str::to_owned);
    let all: Vec<&[String; N]> = std::iter::once(&header).chain(rows).collect();
    let widths: Vec<usize> = (0..N)
        .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &all {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    if rows.is_empty() {
        println!("{empty}");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn options_are_percent_encoded() {
        assert_eq!(
            query(&[
                ("$filter", "fileName eq 'a&b=c' and size gt 10"),
                ("$search", "\"floor plan\" 1+1 #x"),
                ("$top", "5"),
            ]),
            "?$filter=fileName%20eq%20'a%26b%3Dc'%20and%20size%20gt%2010\
             &$search=%22floor%20plan%22%201%2B1%20%23x&$top=5"
        );
        assert_eq!(
            query(&[("$filter", "contains(fileName,'Grundriß')")]),
            "?$filter=contains(fileName,'Grundri%C3%9F')"
        );
    }

    #[test]
    fn cells_are_safe_to_print() {
        assert_eq!(cell(&Value::Null), "-");
        assert_eq!(cell(&"a\u{1b}[31mb".into()), "a[31mb");
        assert_eq!(cell(&serde_json::json!(42)), "42");
    }
}
