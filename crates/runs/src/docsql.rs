//! OData queries as SQL: the translator shared by the documents and their audit log.
//!
//! A [`Table`] says which OData property is which column (and its kind and nullability), which
//! rows a query never sees (`status <> 'deleted'`), the default order and how `$search` is
//! indexed. [`Store::query_table`] turns `$filter`, `$search`, `$orderby`, `$top`, `$skip`,
//! `$count` and a keyset `$skiptoken` into parameterised statements of the store's dialect;
//! nothing is evaluated in memory. Every value of the request is a bound parameter: the SQL
//! text holds only column names and operators chosen here.
//!
//! # `$filter`
//!
//! OData's null rules are kept exactly (the evaluator of `odata::filter` is the reference, and
//! the tests compare with it): `eq`/`ne` are two-valued (`null eq null` is true, `x ne 'a'` is
//! true for a null `x`), ordering comparisons with null are false, functions of null are null,
//! and `and`/`or`/`not` are three-valued like SQL's. SQL's `=` yields NULL where OData says
//! false; that difference only matters under `not`, so the translation tracks the polarity of
//! each comparison ([`Mode`]): outside `not` a comparison is the plain, index-friendly
//! `col = $1`; under `not` (or where its value is compared) it becomes exact (`IS`,
//! `IS NOT DISTINCT FROM`, `COALESCE(…, FALSE)`).
//!
//! Functions: `contains` (SQLite `instr`, PostgreSQL `LIKE '%…%'` with the metacharacters
//! escaped, so the trigram index can serve it), `startswith` with a literal as a range
//! (`col >= 'p' AND col < 'q'`, exact in code point order and served by a btree index on both
//! backends), `endswith`, `length`, `indexof`, `concat` (`||`, null if an argument is null) and
//! `trim` (every Unicode white space character, as Rust's `str::trim`). `tolower`/`toupper` map
//! ASCII letters only on both backends (SQLite's `lower`, PostgreSQL's `lower` under
//! `COLLATE "C"`): other letters stay as they are, where OData would map them too.
//! Comparisons are case-sensitive and in code point order (SQLite BINARY, PostgreSQL
//! `COLLATE "C"`).
//!
//! # `$orderby` and paging
//!
//! The key is always appended as the last sort key (in the direction of the one before it, so
//! `createdAt desc` is `created_at DESC, id DESC`, one index read backwards). Nulls sort first
//! ascending and last descending, as OData Version 4.01 Part 2 (URL Conventions) §5.1.5
//! "System Query Option $orderby" says (OASIS issue ODATA-330); both dialects get explicit
//! `NULLS FIRST`/`NULLS LAST` on nullable columns.
//!
//! Paging is by keyset: the next `$skiptoken` holds the last row's sort values and how many
//! rows were served, base64url of a small JSON document (opaque to clients). The next page
//! starts after that row (`(a, b) < ($1, $2)`, or the expansion
//! `a > $1 OR (a = $1 AND b > $2)` with null-aware terms where a sort column is nullable), so
//! it costs an index seek however deep the client pages. `$skip` is an OFFSET on the first page
//! only; `$top` holds across pages through the served count. A token whose values would make it
//! longer than [`INLINE_TOKEN_MAX`] (a very long file name as sort value) refers to the row by
//! its key instead, and the next request reads the row's sort values back.

use std::cmp::Ordering;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, SubsecRound as _, Timelike as _, Utc};
use odata::error::quote;
use odata::filter::{CmpOp, Expr, Func};
use odata::model::{EntityType, Value};
use odata::query::{QueryOptions, Search};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::history::with_pool;
use crate::migrations::Dialect;
use crate::store::Backend;
use crate::{Error, Store};

/// The longest `$skiptoken` accepted (what `odata` accepts).
const MAX_TOKEN_LEN: usize = odata::query::MAX_SKIPTOKEN_LEN;

/// Tokens longer than this refer to their row by key instead of carrying its sort values.
const INLINE_TOKEN_MAX: usize = 1024;

/// The characters `trim` removes: Rust's `char::is_white_space` set (Unicode `White_Space`).
const WHITE_SPACE: &str = "\t\n\u{b}\u{c}\r \u{85}\u{a0}\u{1680}\u{2000}\u{2001}\u{2002}\u{2003}\
    \u{2004}\u{2005}\u{2006}\u{2007}\u{2008}\u{2009}\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\
    \u{3000}";

/// The escape character of every generated `LIKE` (not a backslash, whose meaning in string
/// literals depends on PostgreSQL's `standard_conforming_strings`).
const LIKE_ESCAPE: char = '!';

/// Marks a bound parameter in a fragment until the statement is numbered (`$1`, `$2`, …). A
/// NUL never occurs in the SQL this module writes, and values never enter the text.
const MARK: char = '\u{0}';

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text.
    Text,
    /// A UUID as lower-case text.
    Uuid,
    /// A time (SQLite RFC 3339 text, PostgreSQL `timestamptz`).
    Time,
    /// A 64-bit integer.
    Int,
    /// A JSON object: neither filtered nor ordered.
    Json,
}

/// One column and the OData property it is.
#[derive(Debug)]
pub(crate) struct Col {
    /// The OData property name.
    pub(crate) property: &'static str,
    /// The SQL column.
    pub(crate) column: &'static str,
    /// How it is stored.
    pub(crate) kind: Kind,
    /// Whether it may be NULL.
    pub(crate) nullable: bool,
}

/// How `$search` is answered.
#[derive(Debug)]
pub(crate) struct TextSearch {
    /// The columns every term must occur in (one of them).
    pub(crate) columns: &'static [&'static str],
    /// SQLite: the FTS5 trigram table over them, and the rowid column it refers to.
    pub(crate) fts: Option<(&'static str, &'static str)>,
}

/// Counts the database keeps per value of two columns (a table maintained by triggers), so
/// that `$count` of a filter naming only those columns is a sum over a few rows.
#[derive(Debug)]
pub(crate) struct Counts {
    /// The counts table: columns `status`, `loc` (`''` for null, else `'=' || value`), `n`.
    pub(crate) table: &'static str,
    /// The property counted in `status` (a non-null text).
    pub(crate) status: &'static str,
    /// The property counted in `loc` (a nullable text).
    pub(crate) location: &'static str,
    /// The table's `always` condition, on the counts table's columns.
    pub(crate) always: Option<&'static str>,
}

/// A table as the OData entity set sees it.
#[derive(Debug)]
pub(crate) struct Table {
    /// The entity set's name (in messages and in the token).
    pub(crate) set: &'static str,
    /// The SQL table.
    pub(crate) name: &'static str,
    /// The columns a query may name.
    pub(crate) columns: &'static [Col],
    /// The property of the key column (unique, not null).
    pub(crate) key: &'static str,
    /// The order without `$orderby` (before the key).
    pub(crate) default_order: &'static [(&'static str, bool)],
    /// A condition every query adds.
    pub(crate) always: Option<&'static str>,
    /// `$search`, if supported.
    pub(crate) search: Option<TextSearch>,
    /// Kept counts, if any.
    pub(crate) counts: Option<Counts>,
    /// The select list of SQLite.
    pub(crate) select_sqlite: &'static str,
    /// The select list of PostgreSQL.
    pub(crate) select_postgres: &'static str,
}

impl Table {
    fn column(&self, property: &str) -> Option<&Col> {
        self.columns.iter().find(|c| c.property == property)
    }

    fn key_col(&self) -> Result<&Col, Error> {
        self.column(self.key)
            .ok_or_else(|| crate::history::corrupt("key", "the table has no key column"))
    }

    fn select_list(&self, d: Dialect) -> &'static str {
        match d {
            Dialect::Sqlite => self.select_sqlite,
            Dialect::Postgres => self.select_postgres,
        }
    }
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage<T> {
    /// The rows, in order.
    pub rows: Vec<T>,
    /// The number of matching rows, when `$count=true`.
    pub count: Option<u64>,
    /// The `$skiptoken` of the next page, if there is one.
    pub next_token: Option<String>,
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
    Time(DateTime<Utc>),
}

/// A piece of SQL with the values its markers stand for, in order.
#[derive(Debug, Clone, Default)]
struct Frag {
    sql: String,
    binds: Vec<Bind>,
}

impl Frag {
    fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            binds: Vec::new(),
        }
    }

    fn bind(value: Bind) -> Self {
        Self {
            sql: MARK.to_string(),
            binds: vec![value],
        }
    }

    fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    fn add(&mut self, other: Frag) -> &mut Self {
        self.sql.push_str(&other.sql);
        self.binds.extend(other.binds);
        self
    }

    fn done(&mut self) -> Self {
        std::mem::take(self)
    }

    /// `(a op b)`.
    fn infix(a: Frag, op: &str, b: Frag) -> Self {
        Frag::new("(").add(a).push(op).add(b).push(")").done()
    }

    /// `(items[0] sep items[1] …)`. Long `AND`/`OR` chains are nested as a balanced tree:
    /// SQLite parses a flat chain into a tree as deep as the chain is long, and refuses trees
    /// deeper than 1000 (`SQLITE_MAX_EXPR_DEPTH`), which a long UI5 filter
    /// (`ID eq … or ID eq … or …`) would reach.
    fn join(mut items: Vec<Frag>, sep: &str) -> Self {
        const FLAT: usize = 16;
        if items.len() > FLAT && (sep == " AND " || sep == " OR ") {
            let right = items.split_off(items.len() / 2);
            return Frag::join(vec![Frag::join(items, sep), Frag::join(right, sep)], sep);
        }
        let mut out = Frag::new("(");
        for (i, f) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(sep);
            }
            out.add(f);
        }
        out.push(")").done()
    }

    fn boolean(b: bool) -> Self {
        Frag::new(if b { "TRUE" } else { "FALSE" })
    }
}

/// A statement ready to run: `$n` parameters and their values.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Bind>,
}

impl From<Frag> for Statement {
    fn from(f: Frag) -> Self {
        let mut sql = String::with_capacity(f.sql.len() + 8);
        let mut n = 0;
        for c in f.sql.chars() {
            if c == MARK {
                n += 1;
                sql.push('$');
                sql.push_str(&n.to_string());
            } else {
                sql.push(c);
            }
        }
        Self {
            sql,
            binds: f.binds,
        }
    }
}

/// A statement the connection keeps prepared (sqlx's per-connection cache, least recently used
/// out first; `sqlx::query`'s default): a query shape is parsed once per connection and its
/// literals are bound, so a repeated request is one execution. On PostgreSQL that is one round
/// trip instead of a Parse/Describe round trip before it, and the connections still plan each
/// execution with its values (`plan_cache_mode`, see `Store::connect_lazy`).
fn cached<'q, DB: sqlx::Database + sqlx::database::HasStatementCache>(
    sql: &'q str,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>> {
    sqlx::query(sql).persistent(true)
}

/// Binds `binds` to `q` in order.
pub(crate) fn bind_all<'q, DB>(
    mut q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    binds: &[Bind],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + Type<DB>,
    i64: sqlx::Encode<'q, DB> + Type<DB>,
    f64: sqlx::Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + Type<DB>,
{
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.clone()),
            Bind::Int(i) => q.bind(*i),
            Bind::Real(f) => q.bind(*f),
            Bind::Time(t) => q.bind(*t),
        };
    }
    q
}

/// The 400 of a query this store cannot answer, naming `target`.
pub(crate) fn refused(message: String, target: &str) -> Error {
    Error::Query(odata::Error::bad_request(message).with_target(target))
}

/// Refuses text holding NUL, which PostgreSQL cannot store (so no row holds one).
pub(crate) fn check_text(text: &str, target: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(refused(
            format!("The value of {} contains a NUL character", quote(target)),
            target,
        ));
    }
    Ok(())
}

/// How exactly a condition must reproduce OData's value (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only "true" matters (NULL and FALSE may be confused): outside `not`.
    Pos,
    /// Only "false" matters: under one `not`.
    Neg,
    /// The exact value: an operand of a comparison.
    Exact,
}

impl Mode {
    fn flip(self) -> Self {
        match self {
            Self::Pos => Self::Neg,
            Self::Neg => Self::Pos,
            Self::Exact => Self::Exact,
        }
    }
}

/// The SQL type of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Text,
    Num,
    Time,
    Bool,
}

/// The translation of one request against one table.
struct Tr<'a> {
    table: &'a Table,
    ty: &'a EntityType,
    d: Dialect,
}

impl<'a> Tr<'a> {
    /// The column of the property at `index`, or the 400 naming it.
    fn column(&self, index: usize, option: &str) -> Result<&'a Col, Error> {
        let name = self
            .ty
            .properties
            .get(index)
            .map(|p| p.name.as_str())
            .unwrap_or("?");
        match self.table.column(name) {
            Some(c) if c.kind == Kind::Json => Err(refused(
                format!(
                    "Invalid {option}: the property {} is a JSON object and cannot be used here",
                    quote(name)
                ),
                name,
            )),
            Some(c) => Ok(c),
            None => Err(refused(
                format!(
                    "Invalid {option}: the property {} of {} cannot be used in {option} here",
                    quote(name),
                    self.table.set
                ),
                name,
            )),
        }
    }

    /// `expr COLLATE "C"` on PostgreSQL when `text`.
    fn collate(&self, f: Frag, text: bool) -> Frag {
        if text && self.d == Dialect::Postgres {
            Frag::new("(").add(f).push(") COLLATE \"C\"").done()
        } else {
            f
        }
    }

    fn col_sql(&self, c: &Col) -> Frag {
        let text = matches!(c.kind, Kind::Text | Kind::Uuid);
        if text && self.d == Dialect::Postgres {
            Frag::new(&format!("{} COLLATE \"C\"", c.column))
        } else {
            Frag::new(c.column)
        }
    }

    /// Whether `e` may be null.
    fn nullable(&self, e: &Expr) -> bool {
        match e {
            Expr::Lit(v) => v.is_null(),
            Expr::Prop(i) => self
                .ty
                .properties
                .get(*i)
                .and_then(|p| self.table.column(&p.name))
                .is_none_or(|c| c.nullable),
            Expr::Cmp(..) | Expr::In(..) => false,
            Expr::And(items) | Expr::Or(items) => items.iter().any(|e| self.nullable(e)),
            Expr::Not(e) => self.nullable(e),
            Expr::Call(_, args) => args.iter().any(|e| self.nullable(e)),
        }
    }

    /// A Boolean condition.
    fn cond(&self, e: &Expr, m: Mode) -> Result<Frag, Error> {
        match e {
            Expr::Lit(Value::Bool(b)) => Ok(Frag::boolean(*b)),
            Expr::Lit(Value::Null) => Ok(Frag::new("CAST(NULL AS BOOLEAN)")),
            Expr::Lit(_) | Expr::Prop(_) => Err(refused(
                "Invalid $filter: only Boolean expressions can be conditions here".into(),
                "$filter",
            )),
            Expr::Cmp(op, l, r) => self.cmp(*op, l, r, m),
            Expr::In(l, values) => self.in_list(l, values, m),
            Expr::And(items) => self.logical(items, " AND ", m),
            Expr::Or(items) => self.logical(items, " OR ", m),
            Expr::Not(inner) => Ok(Frag::new("(NOT ")
                .add(self.cond(inner, m.flip())?)
                .push(")")
                .done()),
            Expr::Call(func, args) => self.bool_call(*func, args),
        }
    }

    fn logical(&self, items: &[Expr], sep: &str, m: Mode) -> Result<Frag, Error> {
        let parts = items
            .iter()
            .map(|e| self.cond(e, m))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Frag::join(parts, sep))
    }

    fn cmp(&self, op: CmpOp, l: &Expr, r: &Expr, m: Mode) -> Result<Frag, Error> {
        let (l, r) = (fold(l), fold(r));
        match (l.is_null_lit(), r.is_null_lit()) {
            (true, true) => return Ok(Frag::boolean(op == CmpOp::Eq)),
            (true, false) | (false, true) => {
                let other = if l.is_null_lit() { &r } else { &l };
                return Ok(match op {
                    CmpOp::Eq => Frag::new("(")
                        .add(self.scalar(other)?.0)
                        .push(" IS NULL)")
                        .done(),
                    CmpOp::Ne => Frag::new("(")
                        .add(self.scalar(other)?.0)
                        .push(" IS NOT NULL)")
                        .done(),
                    _ => Frag::boolean(false),
                });
            }
            (false, false) => {}
        }
        if let (Expr::Lit(a), Expr::Lit(b)) = (&*l, &*r) {
            return Ok(Frag::boolean(literal_cmp(op, a, b)));
        }
        let (op, l, r) = match unstorable_time(op, &l, &r) {
            Rewritten::Const(b) => return Ok(Frag::boolean(b)),
            Rewritten::Cmp(op, l, r) => (op, l, r),
        };
        let (nl, nr) = (self.nullable(&l), self.nullable(&r));
        let (a, ta) = self.scalar(&l)?;
        let (b, tb) = self.scalar(&r)?;
        let text = ta == Ty::Text || tb == Ty::Text;
        let (a, b) = (self.collate(a, text), self.collate(b, text));
        let maybe_null = nl || nr;
        let pg = self.d == Dialect::Postgres;
        Ok(match op {
            CmpOp::Eq if !maybe_null || (m == Mode::Pos && !(nl && nr)) => Frag::infix(a, " = ", b),
            CmpOp::Eq if pg => Frag::infix(a, " IS NOT DISTINCT FROM ", b),
            CmpOp::Eq => Frag::infix(a, " IS ", b),
            CmpOp::Ne if !maybe_null => Frag::infix(a, " <> ", b),
            CmpOp::Ne if pg => Frag::infix(a, " IS DISTINCT FROM ", b),
            CmpOp::Ne => Frag::infix(a, " IS NOT ", b),
            CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le => {
                let sym = match op {
                    CmpOp::Gt => " > ",
                    CmpOp::Ge => " >= ",
                    CmpOp::Lt => " < ",
                    _ => " <= ",
                };
                let f = Frag::infix(a, sym, b);
                if maybe_null && m != Mode::Pos {
                    coalesce_false(f)
                } else {
                    f
                }
            }
        })
    }

    fn in_list(&self, l: &Expr, values: &[Value], m: Mode) -> Result<Frag, Error> {
        let l = fold(l);
        if let Expr::Lit(a) = &*l {
            let hit = values.iter().any(|v| literal_cmp(CmpOp::Eq, a, v));
            return Ok(Frag::boolean(hit));
        }
        let with_null = values.iter().any(Value::is_null);
        // A time finer than a microsecond, or outside the years 0000 to 9999, equals no stored
        // time.
        let values: Vec<&Value> = values
            .iter()
            .filter(|v| !v.is_null())
            .filter(|v| {
                let (min, max) = stored_range();
                !matches!(v, Value::DateTimeOffset(t)
                    if t.nanosecond() % 1000 != 0 || *t < min || *t > max)
            })
            .collect();
        let (left, ty) = self.scalar(&l)?;
        let mut parts = Vec::new();
        if !values.is_empty() {
            let mut list = Vec::new();
            let mut text = ty == Ty::Text;
            for v in values {
                let (f, t) = self.literal(v)?;
                text |= t == Ty::Text;
                list.push(f);
            }
            let mut f = Frag::new("(");
            f.add(self.collate(left.clone(), text)).push(" IN ");
            f.add(Frag::join(list, ", ")).push(")");
            let f = f.done();
            parts.push(if self.nullable(&l) && m != Mode::Pos && !with_null {
                coalesce_false(f)
            } else {
                f
            });
        }
        if with_null {
            parts.push(Frag::new("(").add(left).push(" IS NULL)").done());
        }
        Ok(match parts.len() {
            0 => Frag::boolean(false),
            _ => Frag::join(parts, " OR "),
        })
    }

    /// A scalar: its SQL and type.
    fn scalar(&self, e: &Expr) -> Result<(Frag, Ty), Error> {
        match e {
            Expr::Lit(v) => self.literal(v),
            Expr::Prop(i) => {
                let c = self.column(*i, "$filter")?;
                let ty = match c.kind {
                    Kind::Text | Kind::Uuid => Ty::Text,
                    Kind::Int => Ty::Num,
                    Kind::Time => Ty::Time,
                    Kind::Json => Ty::Text,
                };
                Ok((Frag::new(c.column), ty))
            }
            Expr::Call(func, args)
                if !matches!(func, Func::Contains | Func::StartsWith | Func::EndsWith) =>
            {
                self.scalar_call(*func, args)
            }
            _ => Ok((self.cond(e, Mode::Exact)?, Ty::Bool)),
        }
    }

    fn literal(&self, v: &Value) -> Result<(Frag, Ty), Error> {
        Ok(match v {
            Value::Null => (Frag::new("CAST(NULL AS TEXT)"), Ty::Text),
            Value::String(s) => {
                check_text(s, "$filter")?;
                (Frag::bind(Bind::Text(s.clone())), Ty::Text)
            }
            Value::Bool(b) => (Frag::boolean(*b), Ty::Bool),
            Value::Int(i) => (Frag::bind(Bind::Int(*i)), Ty::Num),
            Value::Decimal(d) => {
                let f = d
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| {
                        refused(
                            format!("Invalid $filter: the number {} is out of range", quote(d)),
                            "$filter",
                        )
                    })?;
                (Frag::bind(Bind::Real(f)), Ty::Num)
            }
            Value::Double(f) => (Frag::bind(Bind::Real(*f)), Ty::Num),
            Value::DateTimeOffset(t) => (Frag::bind(Bind::Time(*t)), Ty::Time),
            Value::Guid(g) => (Frag::bind(Bind::Text(g.to_ascii_lowercase())), Ty::Text),
            Value::Date(d) => (
                Frag::bind(Bind::Text(d.format("%Y-%m-%d").to_string())),
                Ty::Text,
            ),
            _ => {
                return Err(refused(
                    "Invalid $filter: binary and structured literals are not supported here".into(),
                    "$filter",
                ));
            }
        })
    }

    fn args(&self, args: &[Expr]) -> Result<Vec<Frag>, Error> {
        args.iter().map(|a| Ok(self.scalar(a)?.0)).collect()
    }

    fn scalar_call(&self, func: Func, args: &[Expr]) -> Result<(Frag, Ty), Error> {
        let ty = match func {
            Func::Length | Func::IndexOf => Ty::Num,
            _ => Ty::Text,
        };
        if args.iter().any(|a| fold(a).is_null_lit()) {
            let null = if ty == Ty::Num {
                "CAST(NULL AS BIGINT)"
            } else {
                "CAST(NULL AS TEXT)"
            };
            return Ok((Frag::new(null), ty));
        }
        let pg = self.d == Dialect::Postgres;
        let mut a = self.args(args)?.into_iter();
        let mut next = || a.next().unwrap_or_else(|| Frag::new("NULL"));
        let f = match func {
            Func::ToLower | Func::ToUpper => {
                let name = if func == Func::ToLower {
                    "lower("
                } else {
                    "upper("
                };
                let arg = self.collate(next(), true);
                Frag::new(name).add(arg).push(")").done()
            }
            Func::Trim => {
                let name = if pg { "btrim(" } else { "trim(" };
                Frag::new(name)
                    .add(next())
                    .push(", ")
                    .add(Frag::bind(Bind::Text(WHITE_SPACE.into())))
                    .push(")")
                    .done()
            }
            Func::Length => Frag::new("length(").add(next()).push(")").done(),
            Func::IndexOf => {
                let name = if pg { "(strpos(" } else { "(instr(" };
                Frag::new(name)
                    .add(next())
                    .push(", ")
                    .add(next())
                    .push(") - 1)")
                    .done()
            }
            Func::Concat => {
                let (x, y) = (next(), next());
                Frag::infix(x, " || ", y)
            }
            Func::Contains | Func::StartsWith | Func::EndsWith => {
                return Ok((self.bool_call(func, args)?, Ty::Bool));
            }
        };
        Ok((f, ty))
    }

    /// `contains`, `startswith`, `endswith`: null when an argument is null, like OData.
    fn bool_call(&self, func: Func, args: &[Expr]) -> Result<Frag, Error> {
        if !matches!(func, Func::Contains | Func::StartsWith | Func::EndsWith) {
            return Err(refused(
                "Invalid $filter: only Boolean expressions can be conditions here".into(),
                "$filter",
            ));
        }
        let folded: Vec<_> = args.iter().map(fold).collect();
        if folded.iter().any(|a| a.is_null_lit()) {
            return Ok(Frag::new("CAST(NULL AS BOOLEAN)"));
        }
        let pattern = match folded.get(1).map(|a| &**a) {
            Some(Expr::Lit(Value::String(s))) => {
                check_text(s, "$filter")?;
                Some(s.as_str())
            }
            _ => None,
        };
        let mut a = self.args(args)?.into_iter();
        let s = a.next().unwrap_or_else(|| Frag::new("NULL"));
        let t = a.next().unwrap_or_else(|| Frag::new("NULL"));
        let pg = self.d == Dialect::Postgres;
        Ok(match (func, pattern) {
            (Func::StartsWith, Some(p)) => match successor(p) {
                Some(upper) => {
                    let c = self.collate(s, true);
                    let lower = Frag::infix(c.clone(), " >= ", t);
                    let upper = Frag::infix(c, " < ", Frag::bind(Bind::Text(upper)));
                    Frag::join(vec![lower, upper], " AND ")
                }
                None if p.is_empty() => Frag::infix(self.collate(s, true), " >= ", t),
                None => self.starts_with(s, t),
            },
            (Func::StartsWith, None) => self.starts_with(s, t),
            (Func::Contains, Some(p)) if pg => like(s, &format!("%{}%", like_escape(p))),
            (Func::EndsWith, Some(p)) if pg => like(s, &format!("%{}", like_escape(p))),
            (Func::Contains, _) if pg => Frag::new("(strpos(")
                .add(s)
                .push(", ")
                .add(t)
                .push(") > 0)")
                .done(),
            (Func::Contains, _) => Frag::new("(instr(")
                .add(s)
                .push(", ")
                .add(t)
                .push(") > 0)")
                .done(),
            (_, _) if pg => {
                // endswith: the last length(t) characters are t.
                let mut f = Frag::new("(right(");
                f.add(s)
                    .push(", length(")
                    .add(t.clone())
                    .push(")) COLLATE \"C\" = ");
                f.add(t).push(")").done()
            }
            (_, _) => {
                let mut f = Frag::new("(length(");
                f.add(t.clone()).push(") <= length(").add(s.clone());
                f.push(") AND substr(")
                    .add(s.clone())
                    .push(", length(")
                    .add(s);
                f.push(") - length(")
                    .add(t.clone())
                    .push(") + 1) = ")
                    .add(t);
                f.push(")").done()
            }
        })
    }

    /// `startswith(s, t)` for any `t`.
    fn starts_with(&self, s: Frag, t: Frag) -> Frag {
        if self.d == Dialect::Postgres {
            let mut f = Frag::new("(left(");
            f.add(s)
                .push(", length(")
                .add(t.clone())
                .push(")) COLLATE \"C\" = ");
            f.add(t).push(")").done()
        } else {
            let mut f = Frag::new("(substr(");
            f.add(s).push(", 1, length(").add(t.clone()).push(")) = ");
            f.add(t).push(")").done()
        }
    }

    /// `$search`: every term in one of the search columns, case-insensitive.
    fn search(&self, search: &Search) -> Result<Frag, Error> {
        let Some(spec) = &self.table.search else {
            return Err(refused(
                format!(
                    "The query option '$search' is not supported for {}; use $filter",
                    self.table.set
                ),
                "$search",
            ));
        };
        let mut parts = Vec::new();
        let mut fts_terms = Vec::new();
        for term in search.terms() {
            check_text(term, "$search")?;
            match spec.fts {
                Some(_) if self.d == Dialect::Sqlite && term.is_ascii() && term.len() > CHUNK => {
                    // FTS5 evaluates one long phrase by walking the positions of every one of
                    // its trigrams, the common ones too (`FI-2026-0001234`: tens of ms over a
                    // million rows); an AND of short phrases advances on the rarest and seeks
                    // in the others (about 1 ms). The chunks only narrow the rows: `LIKE`
                    // (ASCII case-insensitive, as FTS5 folds ASCII) checks the whole term.
                    fts_terms.extend(chunks(term).map(fts_phrase));
                    parts.push(self.contains_any(spec, term, Index::Bypass));
                }
                Some(_) if self.d == Dialect::Sqlite && term.chars().count() >= 3 => {
                    fts_terms.push(fts_phrase(term));
                }
                _ if self.d == Dialect::Postgres && term.is_ascii() && term.len() > CHUNK => {
                    // pg_trgm's GIN scan of a long pattern intersects the posting lists of all
                    // its trigrams, and the common ones of identifiers (`fi-`, `-20`, `000`
                    // in `FI-2026-0001234`) hold most rows: about 25 ms per column over a
                    // million rows. The index gets the term's last chunk only (identifiers
                    // differ at their end; its few trigrams cost well under a millisecond),
                    // and the whole term is checked on the rows it finds, through an
                    // expression the index cannot serve, so the planner does not intersect
                    // the long pattern's scan after all.
                    let tail = chunks(term).last().unwrap_or(term);
                    parts.push(self.contains_any(spec, tail, Index::Use));
                    parts.push(self.contains_any(spec, term, Index::Bypass));
                }
                _ => parts.push(self.contains_any(spec, term, Index::Use)),
            }
        }
        if let (Some((fts, rowid)), false) = (spec.fts, fts_terms.is_empty()) {
            parts.push(
                Frag::new(&format!(
                    "{rowid} IN (SELECT rowid FROM {fts} WHERE {fts} MATCH "
                ))
                .add(Frag::bind(Bind::Text(fts_terms.join(" AND "))))
                .push(")")
                .done(),
            );
        }
        Ok(Frag::join(parts, " AND "))
    }

    /// `term` in one of the search columns, case-insensitive (`ILIKE`; SQLite's `LIKE` folds
    /// ASCII only). With [`Index::Bypass`] PostgreSQL compares `(column || '')`, the same
    /// value through an expression no index serves.
    fn contains_any(&self, spec: &TextSearch, term: &str, index: Index) -> Frag {
        let op = if self.d == Dialect::Postgres {
            " ILIKE "
        } else {
            " LIKE "
        };
        let pattern = format!("%{}%", like_escape(term));
        let alternatives = spec
            .columns
            .iter()
            .map(|c| {
                let column = match (self.d, index) {
                    (Dialect::Postgres, Index::Bypass) => format!("({c} || '')"),
                    _ => (*c).to_owned(),
                };
                Frag::new(&column)
                    .push(op)
                    .add(Frag::bind(Bind::Text(pattern.clone())))
                    .push(&format!(" ESCAPE '{LIKE_ESCAPE}'"))
                    .done()
            })
            .collect();
        Frag::join(alternatives, " OR ")
    }

    /// The sort keys: `$orderby` (or the default), then the key.
    fn keys(&self, options: &QueryOptions) -> Result<Vec<SortKey<'a>>, Error> {
        let mut keys: Vec<SortKey<'a>> = Vec::new();
        let push = |keys: &mut Vec<SortKey<'a>>, col: &'a Col, desc: bool| {
            if !keys.iter().any(|k| std::ptr::eq(k.col, col)) {
                keys.push(SortKey { col, desc });
            }
        };
        if options.orderby.is_empty() {
            for (property, desc) in self.table.default_order {
                if let Some(col) = self.table.column(property) {
                    push(&mut keys, col, *desc);
                }
            }
        }
        for o in &options.orderby {
            let col = self.column(o.property, "$orderby")?;
            push(&mut keys, col, o.descending);
        }
        let key = self.table.key_col()?;
        match keys.iter().position(|k| std::ptr::eq(k.col, key)) {
            // Nothing sorts after a unique key.
            Some(i) => keys.truncate(i + 1),
            None => {
                let desc = keys.last().is_some_and(|k| k.desc);
                keys.push(SortKey { col: key, desc });
            }
        }
        Ok(keys)
    }

    fn order_by(&self, keys: &[SortKey<'_>]) -> Frag {
        let mut f = Frag::new(" ORDER BY ");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                f.push(", ");
            }
            f.add(self.col_sql(k.col));
            f.push(match (k.desc, k.col.nullable) {
                (false, false) => " ASC",
                (true, false) => " DESC",
                (false, true) => " ASC NULLS FIRST",
                (true, true) => " DESC NULLS LAST",
            });
        }
        f.done()
    }

    /// The rows after the one whose sort values are `values`.
    fn after(&self, keys: &[SortKey<'_>], values: &[KeyVal]) -> Frag {
        let same_direction = keys.windows(2).all(|w| w[0].desc == w[1].desc);
        let no_nulls =
            keys.iter().all(|k| !k.col.nullable) && values.iter().all(|v| *v != KeyVal::Null);
        if same_direction && no_nulls && keys.len() > 1 {
            // A row value comparison: one index range on both backends.
            let cols = keys.iter().map(|k| self.col_sql(k.col)).collect();
            let vals = values.iter().map(|v| Frag::bind(v.bind())).collect();
            let op = if keys.first().is_some_and(|k| k.desc) {
                " < "
            } else {
                " > "
            };
            return Frag::infix(Frag::join(cols, ", "), op, Frag::join(vals, ", "));
        }
        let mut disjuncts = Vec::new();
        for (i, (k, v)) in keys.iter().zip(values).enumerate() {
            let c = self.col_sql(k.col);
            let step = match (k.desc, v) {
                (false, KeyVal::Null) => Frag::new("(").add(c).push(" IS NOT NULL)").done(),
                (false, v) => Frag::infix(c, " > ", Frag::bind(v.bind())),
                (true, KeyVal::Null) => continue,
                (true, v) if k.col.nullable => {
                    let lt = Frag::infix(c.clone(), " < ", Frag::bind(v.bind()));
                    Frag::join(
                        vec![lt, Frag::new("(").add(c).push(" IS NULL)").done()],
                        " OR ",
                    )
                }
                (true, v) => Frag::infix(c, " < ", Frag::bind(v.bind())),
            };
            let mut conj: Vec<Frag> = keys
                .iter()
                .zip(values)
                .take(i)
                .map(|(k, v)| {
                    let c = self.col_sql(k.col);
                    match v {
                        KeyVal::Null => Frag::new("(").add(c).push(" IS NULL)").done(),
                        v => Frag::infix(c, " = ", Frag::bind(v.bind())),
                    }
                })
                .collect();
            conj.push(step);
            disjuncts.push(Frag::join(conj, " AND "));
        }
        let expansion = if disjuncts.is_empty() {
            Frag::boolean(false)
        } else {
            Frag::join(disjuncts, " OR ")
        };
        // A redundant bound on the first key, so an index on it is entered at the position.
        match (keys.first(), values.first()) {
            (Some(k), Some(v)) if *v != KeyVal::Null && (!k.desc || !k.col.nullable) => {
                let op = if k.desc { " <= " } else { " >= " };
                let bound = Frag::infix(self.col_sql(k.col), op, Frag::bind(v.bind()));
                Frag::join(vec![bound, expansion], " AND ")
            }
            _ => expansion,
        }
    }

    /// `WHERE …` of the filter and search (without paging).
    fn where_clause(&self, options: &QueryOptions) -> Result<Vec<Frag>, Error> {
        let mut conds = Vec::new();
        if let Some(always) = self.table.always {
            conds.push(Frag::new(always));
        }
        if let Some(filter) = &options.filter {
            conds.push(self.cond(filter.expr(), Mode::Pos)?);
        }
        if let Some(search) = &options.search {
            conds.push(self.search(search)?);
        }
        Ok(conds)
    }
}

fn coalesce_false(f: Frag) -> Frag {
    Frag::new("COALESCE(").add(f).push(", FALSE)").done()
}

fn like(s: Frag, pattern: &str) -> Frag {
    Frag::new("(")
        .add(s)
        .push(" LIKE ")
        .add(Frag::bind(Bind::Text(pattern.to_owned())))
        .push(&format!(" ESCAPE '{LIKE_ESCAPE}')"))
        .done()
}

/// Whether a `$search` comparison may be answered from the text index.
#[derive(Clone, Copy)]
enum Index {
    Use,
    /// A recheck of rows an index condition found.
    Bypass,
}

/// The longest `$search` term (in bytes, ASCII) that goes to FTS5 as one phrase, or to
/// PostgreSQL's trigram index as a whole.
const CHUNK: usize = 6;

/// `term` (ASCII, longer than [`CHUNK`]) cut into the fewest pieces of equal length at most
/// [`CHUNK`] (at least 4, so every piece has trigrams) that cover it; the last one ends at the
/// term's end.
fn chunks(term: &str) -> impl Iterator<Item = &str> {
    let n = term.len();
    let k = n.div_ceil(CHUNK);
    let size = n.div_ceil(k);
    (0..k).map(move |i| {
        let start = (i * size).min(n - size);
        &term[start..start + size]
    })
}

/// `text` as an FTS5 phrase (double quotes, inner ones doubled).
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `text` with `LIKE`'s metacharacters (and the escape character) escaped.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if c == '%' || c == '_' || c == LIKE_ESCAPE {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

/// The least string greater than every string starting with `prefix` (in code point order),
/// if there is one: the last character that can be incremented, incremented.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        let mut next = u32::from(c) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(n) = char::from_u32(next) {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `e` with function calls of a null literal replaced by null (functions of null are null).
fn fold(e: &Expr) -> std::borrow::Cow<'_, Expr> {
    match e {
        Expr::Call(_, args) if args.iter().any(|a| fold(a).is_null_lit()) => {
            std::borrow::Cow::Owned(Expr::Lit(Value::Null))
        }
        e => std::borrow::Cow::Borrowed(e),
    }
}

trait NullLit {
    fn is_null_lit(&self) -> bool;
}

impl NullLit for Expr {
    fn is_null_lit(&self) -> bool {
        matches!(self, Expr::Lit(Value::Null))
    }
}

/// OData's comparison of two non-null literals (as `odata::filter` evaluates it).
fn literal_cmp(op: CmpOp, a: &Value, b: &Value) -> bool {
    if a.is_null() || b.is_null() {
        return match op {
            CmpOp::Eq => a.is_null() && b.is_null(),
            CmpOp::Ne => !(a.is_null() && b.is_null()),
            _ => false,
        };
    }
    let order = literal_order(a, b);
    match op {
        CmpOp::Eq => order == Some(Ordering::Equal),
        CmpOp::Ne => order != Some(Ordering::Equal),
        CmpOp::Gt => order.is_some_and(Ordering::is_gt),
        CmpOp::Ge => order.is_some_and(Ordering::is_ge),
        CmpOp::Lt => order.is_some_and(Ordering::is_lt),
        CmpOp::Le => order.is_some_and(Ordering::is_le),
    }
}

fn literal_order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::DateTimeOffset(a), Value::DateTimeOffset(b)) => Some(a.cmp(b)),
        (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
        (Value::Guid(a), Value::Guid(b)) => {
            Some(a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()))
        }
        _ => number(a)?.partial_cmp(&number(b)?),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) => Some(*i as f64),
        Value::Decimal(d) => d.parse().ok(),
        Value::Double(f) => Some(*f),
        _ => None,
    }
}

enum Rewritten<'e> {
    Const(bool),
    Cmp(
        CmpOp,
        std::borrow::Cow<'e, Expr>,
        std::borrow::Cow<'e, Expr>,
    ),
}

/// The earliest and latest time stored (RFC 3339 has four-digit years; the app's clock is in
/// between).
fn stored_range() -> (DateTime<Utc>, DateTime<Utc>) {
    let min =
        DateTime::<Utc>::from_timestamp(-62_167_219_200, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let max = DateTime::<Utc>::from_timestamp(253_402_300_799, 999_999_000)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (min, max)
}

/// A comparison with a time literal no stored time can equal, rewritten for the stored times,
/// which are whole microseconds of the years 0000 to 9999: for a literal finer than a
/// microsecond, `x > t` is `x > floor(t)` and `x <= t` is `x <= floor(t)`; a literal after
/// 9999 compares like 9999-12-31T23:59:59.999999Z that way, one before 0000 like a time just
/// before 0000-01-01; `x eq t` never holds. (PostgreSQL would round such a parameter, and
/// SQLite compares times as text, where a five-digit year sorts first.)
fn unstorable_time<'e>(
    op: CmpOp,
    l: &std::borrow::Cow<'e, Expr>,
    r: &std::borrow::Cow<'e, Expr>,
) -> Rewritten<'e> {
    let (min, max) = stored_range();
    let odd = |e: &Expr| match e {
        Expr::Lit(Value::DateTimeOffset(t))
            if t.nanosecond() % 1000 != 0 || *t < min || *t > max =>
        {
            Some(*t)
        }
        _ => None,
    };
    let (op, other, t) = match (odd(l), odd(r)) {
        (None, Some(t)) => (op, l.clone(), t),
        (Some(t), None) => {
            let mirrored = match op {
                CmpOp::Gt => CmpOp::Lt,
                CmpOp::Ge => CmpOp::Le,
                CmpOp::Lt => CmpOp::Gt,
                CmpOp::Le => CmpOp::Ge,
                o => o,
            };
            (mirrored, r.clone(), t)
        }
        _ => return Rewritten::Cmp(op, l.clone(), r.clone()),
    };
    let lit = |t| std::borrow::Cow::Owned(Expr::Lit(Value::DateTimeOffset(t)));
    if t < min {
        // Every stored time is after t.
        return match op {
            CmpOp::Eq => Rewritten::Const(false),
            CmpOp::Ne => Rewritten::Const(true),
            CmpOp::Gt | CmpOp::Ge => Rewritten::Cmp(CmpOp::Ge, other, lit(min)),
            CmpOp::Lt | CmpOp::Le => Rewritten::Cmp(CmpOp::Lt, other, lit(min)),
        };
    }
    let floor = lit(t.trunc_subsecs(6).min(max));
    match op {
        CmpOp::Eq => Rewritten::Const(false),
        CmpOp::Ne => Rewritten::Const(true),
        CmpOp::Gt | CmpOp::Ge => Rewritten::Cmp(CmpOp::Gt, other, floor),
        CmpOp::Lt | CmpOp::Le => Rewritten::Cmp(CmpOp::Le, other, floor),
    }
}

/// One sort key.
#[derive(Debug, Clone, Copy)]
struct SortKey<'a> {
    col: &'a Col,
    desc: bool,
}

/// A sort value of a row, as the token carries it.
#[derive(Debug, Clone, PartialEq)]
enum KeyVal {
    Null,
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

impl KeyVal {
    fn bind(&self) -> Bind {
        match self {
            // Never bound: the keyset condition writes IS NULL for these.
            KeyVal::Null => Bind::Text(String::new()),
            KeyVal::Text(s) => Bind::Text(s.clone()),
            KeyVal::Int(i) => Bind::Int(*i),
            KeyVal::Time(t) => Bind::Time(*t),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            KeyVal::Null => serde_json::Value::Null,
            KeyVal::Text(s) => s.clone().into(),
            KeyVal::Int(i) => (*i).into(),
            KeyVal::Time(t) => t.to_rfc3339_opts(SecondsFormat::Micros, true).into(),
        }
    }

    fn from_json(v: &serde_json::Value, col: &Col) -> Option<Self> {
        match (v, col.kind) {
            (serde_json::Value::Null, _) if col.nullable => Some(KeyVal::Null),
            (serde_json::Value::String(s), Kind::Text) => Some(KeyVal::Text(s.clone())),
            (serde_json::Value::String(s), Kind::Uuid) => {
                Uuid::parse_str(s).ok().map(|u| KeyVal::Text(u.to_string()))
            }
            (serde_json::Value::String(s), Kind::Time) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| KeyVal::Time(t.with_timezone(&Utc))),
            (serde_json::Value::Number(n), Kind::Int) => n.as_i64().map(KeyVal::Int),
            _ => None,
        }
    }
}

/// The token's JSON.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Token {
    /// Format version.
    v: u8,
    /// The sort the token belongs to.
    o: String,
    /// The last row's sort values…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<Vec<serde_json::Value>>,
    /// …or its key, when the values are long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<String>,
    /// Rows served so far.
    n: u64,
}

/// Where a page starts.
enum Cursor {
    Values(Vec<KeyVal>),
    Row(Uuid),
}

fn bad_token() -> Error {
    refused(
        "The query option '$skiptoken' is not a token this service issued for this request".into(),
        "$skiptoken",
    )
}

fn fingerprint(table: &Table, keys: &[SortKey<'_>]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| format!("{}{}", k.col.property, if k.desc { "-" } else { "+" }))
        .collect();
    format!("{}:{}", table.set, keys.join(","))
}

fn encode_token(
    table: &Table,
    keys: &[SortKey<'_>],
    values: &[KeyVal],
    id: Uuid,
    n: u64,
) -> String {
    let encode = |t: &Token| {
        let json = serde_json::to_vec(t).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    };
    let inline = encode(&Token {
        v: 1,
        o: fingerprint(table, keys),
        k: Some(values.iter().map(KeyVal::to_json).collect()),
        r: None,
        n,
    });
    if inline.len() <= INLINE_TOKEN_MAX {
        return inline;
    }
    encode(&Token {
        v: 1,
        o: fingerprint(table, keys),
        k: None,
        r: Some(id.to_string()),
        n,
    })
}

fn decode_token(table: &Table, keys: &[SortKey<'_>], text: &str) -> Result<(Cursor, u64), Error> {
    if text.is_empty() || text.len() > MAX_TOKEN_LEN {
        return Err(bad_token());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad_token())?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| bad_token())?;
    if token.v != 1 || token.o != fingerprint(table, keys) {
        return Err(bad_token());
    }
    let cursor = match (token.k, token.r) {
        (Some(values), None) if values.len() == keys.len() => Cursor::Values(
            values
                .iter()
                .zip(keys)
                .map(|(v, k)| KeyVal::from_json(v, k.col))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(bad_token)?,
        ),
        (None, Some(id)) => Cursor::Row(Uuid::parse_str(&id).map_err(|_| bad_token())?),
        _ => return Err(bad_token()),
    };
    Ok((cursor, token.n))
}

/// The sort values of a fetched row.
fn key_values<R>(row: &R, keys: &[SortKey<'_>]) -> Result<Vec<KeyVal>, Error>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    keys.iter()
        .map(|k| {
            let name = k.col.column;
            let v = match k.col.kind {
                Kind::Text | Kind::Uuid | Kind::Json => {
                    crate::history::get::<_, Option<String>>(row, name)?.map(KeyVal::Text)
                }
                Kind::Int => crate::history::get::<_, Option<i64>>(row, name)?.map(KeyVal::Int),
                Kind::Time => {
                    crate::history::get::<_, Option<DateTime<Utc>>>(row, name)?.map(KeyVal::Time)
                }
            };
            Ok(v.unwrap_or(KeyVal::Null))
        })
        .collect()
}

/// A row type a [`Table`] query returns.
pub(crate) trait Record: Sized {
    /// The row's key.
    fn key(&self) -> Uuid;
    /// A SQLite row.
    fn from_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<Self, Error>;
    /// A PostgreSQL row.
    fn from_postgres(row: &sqlx::postgres::PgRow) -> Result<Self, Error>;
}

/// A page query, translated.
struct Plan<'a> {
    tr: Tr<'a>,
    keys: Vec<SortKey<'a>>,
    conds: Vec<Frag>,
    /// The count as a sum of kept counts, when the filter allows it.
    counted: Option<Statement>,
}

/// The kept-counts statement of `options` on `table`: when there is no `$search` and the
/// filter is absent or a conjunction of `eq` literals on the counted properties (each at most
/// once), e.g. `status eq 'available' and location eq 'LOC-17'`.
fn counted(table: &Table, ty: &EntityType, options: &QueryOptions) -> Option<Statement> {
    let spec = table.counts.as_ref()?;
    if options.search.is_some() {
        return None;
    }
    let mut status: Option<String> = None;
    let mut location: Option<Option<String>> = None;
    if let Some(filter) = &options.filter {
        let items = match filter.expr() {
            Expr::And(items) => items.as_slice(),
            e => std::slice::from_ref(e),
        };
        for item in items {
            let Expr::Cmp(CmpOp::Eq, l, r) = item else {
                return None;
            };
            let (index, value) = match (l.as_ref(), r.as_ref()) {
                (Expr::Prop(i), Expr::Lit(v)) | (Expr::Lit(v), Expr::Prop(i)) => (*i, v),
                _ => return None,
            };
            let property = ty.properties.get(index)?.name.as_str();
            match (property, value) {
                (p, Value::String(v)) if p == spec.status && status.is_none() => {
                    status = Some(v.clone());
                }
                (p, Value::Null) if p == spec.status => return None,
                (p, Value::String(v)) if p == spec.location && location.is_none() => {
                    location = Some(Some(v.clone()));
                }
                (p, Value::Null) if p == spec.location && location.is_none() => {
                    location = Some(None);
                }
                _ => return None,
            }
        }
    }
    let mut conds: Vec<Frag> = spec.always.iter().map(|a| Frag::new(a)).collect();
    if let Some(status) = status {
        conds.push(
            Frag::new("status = ")
                .add(Frag::bind(Bind::Text(status)))
                .done(),
        );
    }
    if let Some(location) = location {
        let key = location.map_or_else(String::new, |l| format!("={l}"));
        conds.push(Frag::new("loc = ").add(Frag::bind(Bind::Text(key))).done());
    }
    let mut f = Frag::new(&format!(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM {}",
        spec.table
    ));
    if !conds.is_empty() {
        f.push(" WHERE ").add(join_and(conds));
    }
    Some(f.done().into())
}

impl<'a> Plan<'a> {
    fn new(
        d: Dialect,
        table: &'a Table,
        ty: &'a EntityType,
        options: &QueryOptions,
    ) -> Result<Self, Error> {
        let tr = Tr { table, ty, d };
        let keys = tr.keys(options)?;
        let conds = tr.where_clause(options)?;
        let counted = counted(table, ty, options);
        Ok(Self {
            tr,
            keys,
            conds,
            counted,
        })
    }

    fn select(&self, after: Option<&[KeyVal]>, limit: usize, offset: usize) -> Statement {
        let table = self.tr.table;
        let mut f = Frag::new(&format!(
            "SELECT {} FROM {}",
            table.select_list(self.tr.d),
            table.name
        ));
        let mut conds = self.conds.clone();
        if let Some(values) = after {
            conds.push(self.tr.after(&self.keys, values));
        }
        if !conds.is_empty() {
            f.push(" WHERE ").add(join_and(conds));
        }
        f.add(self.tr.order_by(&self.keys));
        f.push(" LIMIT ").add(Frag::bind(Bind::Int(
            i64::try_from(limit).unwrap_or(i64::MAX),
        )));
        if offset > 0 {
            f.push(" OFFSET ").add(Frag::bind(Bind::Int(
                i64::try_from(offset).unwrap_or(i64::MAX),
            )));
        }
        f.done().into()
    }

    fn count(&self) -> Statement {
        if let Some(counted) = &self.counted {
            return counted.clone();
        }
        let mut f = Frag::new(&format!("SELECT COUNT(*) AS n FROM {}", self.tr.table.name));
        if !self.conds.is_empty() {
            f.push(" WHERE ").add(join_and(self.conds.clone()));
        }
        f.done().into()
    }

    /// The sort values of row `id`, for a token that refers to it.
    fn row_values(&self, id: Uuid) -> Result<Statement, Error> {
        let key = self.tr.table.key_col()?;
        let cols: Vec<&str> = self.keys.iter().map(|k| k.col.column).collect();
        let mut f = Frag::new(&format!(
            "SELECT {} FROM {} WHERE {} = ",
            cols.join(", "),
            self.tr.table.name,
            key.column
        ));
        f.add(Frag::bind(Bind::Text(id.to_string())));
        Ok(f.done().into())
    }
}

fn join_and(conds: Vec<Frag>) -> Frag {
    let mut f = Frag::default();
    for (i, c) in conds.into_iter().enumerate() {
        if i > 0 {
            f.push(" AND ");
        }
        f.add(c);
    }
    f
}

/// What [`Store::explain_table`] explains.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ExplainWhat<'o> {
    /// The first page (or the page of `token`).
    Page {
        options: &'o QueryOptions,
        token: Option<&'o str>,
        page_size: usize,
    },
    /// The count.
    Count(&'o QueryOptions),
}

impl Store {
    /// The statement that opens a write transaction. SQLite's default `BEGIN` is deferred: it
    /// takes the write lock only at the first write, and when another connection holds it then
    /// (the FTS5 triggers make that the common case) SQLite answers `SQLITE_BUSY` at once
    /// instead of waiting the busy timeout, because waiting could deadlock. `BEGIN IMMEDIATE`
    /// takes the write lock up front, so concurrent writers queue for it.
    pub(crate) fn write_begin(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "BEGIN IMMEDIATE",
            Backend::Postgres(_) => "BEGIN",
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// One page of `table` as `options` and `token` ask (see the module docs).
    pub(crate) async fn query_table<T: Record>(
        &self,
        table: &Table,
        ty: &EntityType,
        options: &QueryOptions,
        token: Option<&str>,
        page_size: usize,
    ) -> Result<QueryPage<T>, Error> {
        self.ready().await?;
        // An absolute `$skiptoken=N` (an entity type not flagged for keyset paging) was not
        // issued here: following it would serve the first page again.
        if options.skiptoken.is_some() {
            return Err(bad_token());
        }
        let plan = Plan::new(self.dialect(), table, ty, options)?;
        let (after, served) = self.cursor(&plan, token).await?;
        let top = options
            .top
            .map_or(u64::MAX, |t| u64::try_from(t).unwrap_or(u64::MAX));
        let remaining = top.saturating_sub(served);
        let page_len = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(page_size.max(1));
        let offset = if token.is_none() {
            options.skip.unwrap_or(0)
        } else {
            0
        };
        let count = if options.count {
            Some(self.run_count(&plan.count()).await?)
        } else {
            None
        };
        if page_len == 0 {
            return Ok(QueryPage {
                rows: Vec::new(),
                count,
                next_token: None,
            });
        }
        let statement = plan.select(after.as_deref(), page_len.saturating_add(1), offset);
        let keys = &plan.keys;
        let (mut rows, last_values) = with_pool!(self, p => {
            let fetched = bind_all(cached(&statement.sql), &statement.binds)
                .fetch_all(p)
                .await
                .map_err(Error::query("query"))?;
            let more = fetched.len() > page_len;
            let mut rows = Vec::with_capacity(page_len);
            let mut last = None;
            for (i, row) in fetched.iter().take(page_len).enumerate() {
                rows.push(decode_record::<T, _>(row)?);
                if more && i + 1 == page_len {
                    last = Some(key_values(row, keys)?);
                }
            }
            (rows, last)
        });
        let served_now = served.saturating_add(u64::try_from(rows.len()).unwrap_or(u64::MAX));
        let next_token = match (last_values, rows.last()) {
            (Some(values), Some(last)) if served_now < top => {
                Some(encode_token(table, keys, &values, last.key(), served_now))
            }
            _ => None,
        };
        rows.shrink_to_fit();
        Ok(QueryPage {
            rows,
            count,
            next_token,
        })
    }

    /// How many rows of `table` match `options`' `$filter` and `$search`.
    pub(crate) async fn count_table(
        &self,
        table: &Table,
        ty: &EntityType,
        options: &QueryOptions,
    ) -> Result<u64, Error> {
        self.ready().await?;
        let plan = Plan::new(self.dialect(), table, ty, options)?;
        self.run_count(&plan.count()).await
    }

    /// The database's plan of a query (SQLite `EXPLAIN QUERY PLAN`; PostgreSQL `EXPLAIN` with
    /// sequential scans disabled, so the plan shows whether an index can serve the query).
    pub(crate) async fn explain_table(
        &self,
        table: &Table,
        ty: &EntityType,
        what: ExplainWhat<'_>,
    ) -> Result<String, Error> {
        self.ready().await?;
        let statement = match what {
            ExplainWhat::Page {
                options,
                token,
                page_size,
            } => {
                let plan = Plan::new(self.dialect(), table, ty, options)?;
                let (after, _) = self.cursor(&plan, token).await?;
                let offset = if token.is_none() {
                    options.skip.unwrap_or(0)
                } else {
                    0
                };
                plan.select(after.as_deref(), page_size.max(1).saturating_add(1), offset)
            }
            ExplainWhat::Count(options) => Plan::new(self.dialect(), table, ty, options)?.count(),
        };
        self.explain_statement(&statement).await
    }

    pub(crate) async fn explain_statement(&self, statement: &Statement) -> Result<String, Error> {
        let what = "explain";
        let lines: Vec<String> = match &self.backend {
            Backend::Sqlite(p) => {
                let sql = format!("EXPLAIN QUERY PLAN {}", statement.sql);
                let rows = bind_all(sqlx::query(&sql).persistent(false), &statement.binds)
                    .fetch_all(p)
                    .await
                    .map_err(Error::query(what))?;
                rows.iter()
                    .map(|r| crate::history::get::<_, String>(r, "detail"))
                    .collect::<Result<_, _>>()?
            }
            Backend::Postgres(p) => {
                let mut tx = p.begin().await.map_err(Error::query(what))?;
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::query(what))?;
                let sql = format!("EXPLAIN {}", statement.sql);
                let rows = bind_all(sqlx::query(&sql).persistent(false), &statement.binds)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(Error::query(what))?;
                tx.rollback().await.map_err(Error::query(what))?;
                rows.iter()
                    .map(|r| {
                        r.try_get::<String, _>(0)
                            .map_err(|e| crate::history::corrupt("plan", &e.to_string()))
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(lines.join("\n"))
    }

    async fn run_count(&self, statement: &Statement) -> Result<u64, Error> {
        with_pool!(self, p => {
            let row = bind_all(cached(&statement.sql), &statement.binds)
                .fetch_one(p)
                .await
                .map_err(Error::query("count"))?;
            let n: i64 = crate::history::get(&row, "n")?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Where the page starts: the token's sort values (read back for a token that refers to
    /// its row) and the rows served before it.
    async fn cursor(
        &self,
        plan: &Plan<'_>,
        token: Option<&str>,
    ) -> Result<(Option<Vec<KeyVal>>, u64), Error> {
        let Some(text) = token else {
            return Ok((None, 0));
        };
        let (cursor, served) = decode_token(plan.tr.table, &plan.keys, text)?;
        let values = match cursor {
            Cursor::Values(values) => values,
            Cursor::Row(id) => {
                let statement = plan.row_values(id)?;
                let keys = &plan.keys;
                let found = with_pool!(self, p => {
                    let row = bind_all(cached(&statement.sql), &statement.binds)
                        .fetch_optional(p)
                        .await
                        .map_err(Error::query("query"))?;
                    row.as_ref().map(|r| key_values(r, keys)).transpose()?
                });
                found.ok_or_else(|| {
                    refused(
                        "The query option '$skiptoken' refers to a row that no longer exists; \
                         start from the first page"
                            .into(),
                        "$skiptoken",
                    )
                })?
            }
        };
        Ok((Some(values), served))
    }
}

/// Decodes a row of either backend (the macro above gives the concrete row type).
fn decode_record<T: Record, R: AnyRow>(row: &R) -> Result<T, Error> {
    row.decode::<T>()
}

/// The two row types, so [`with_pool`] bodies can decode either.
trait AnyRow {
    fn decode<T: Record>(&self) -> Result<T, Error>;
}

impl AnyRow for sqlx::sqlite::SqliteRow {
    fn decode<T: Record>(&self) -> Result<T, Error> {
        T::from_sqlite(self)
    }
}

impl AnyRow for sqlx::postgres::PgRow {
    fn decode<T: Record>(&self) -> Result<T, Error> {
        T::from_postgres(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_terms_are_cut_into_covering_chunks_with_trigrams() {
        fn c(t: &str) -> Vec<&str> {
            chunks(t).collect()
        }
        assert_eq!(c("FI-2026-0001234"), ["FI-20", "26-00", "01234"]);
        assert_eq!(c("abcdefg"), ["abcd", "defg"]);
        assert_eq!(c("abcdefghijkl"), ["abcdef", "ghijkl"]);
        for n in CHUNK + 1..200 {
            let term: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            let parts = c(&term);
            assert!(parts.iter().all(|p| (4..=CHUNK).contains(&p.len())), "{n}");
            assert!(term.starts_with(parts[0]) && term.ends_with(parts[parts.len() - 1]));
            let covered: usize = parts.iter().map(|p| p.len()).sum();
            assert!(covered >= n, "{n}: the chunks cover the term");
        }
    }

    #[test]
    fn successors_bound_every_string_with_the_prefix() {
        assert_eq!(successor("FI-2026-00012").as_deref(), Some("FI-2026-00013"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(successor("\u{10FFFF}"), None);
        assert_eq!(successor(""), None);
        for (p, s) in [("ab", "abc"), ("ab", "ab"), ("a\u{10FFFF}", "a\u{10FFFF}x")] {
            let upper = successor(p).expect("successor");
            assert!(s >= p && s < upper.as_str(), "{p:?} {s:?}");
        }
        for (p, s) in [("ab", "ac"), ("ab", "b"), ("ab", "aa\u{10FFFF}")] {
            let upper = successor(p).expect("successor");
            assert!(!(s >= p && s < upper.as_str()), "{p:?} {s:?}");
        }
    }

    #[test]
    fn like_patterns_escape_their_metacharacters() {
        assert_eq!(like_escape("50%_a!b"), "50!%!_a!!b");
    }

    #[test]
    fn statements_number_their_parameters() {
        let mut f = Frag::new("a = ");
        f.add(Frag::bind(Bind::Int(1)))
            .push(" AND b = ")
            .add(Frag::bind(Bind::Text("x".into())));
        let s = Statement::from(f);
        assert_eq!(s.sql, "a = $1 AND b = $2");
        assert_eq!(s.binds.len(), 2);
    }
}
