//! `$filter` expressions: lexer, recursive-descent parser with static type checks, evaluator.
//!
//! Grammar (precedence from tight to loose, as in OData's operator table):
//! primary (`( )`, literals, properties, function calls) > `not` >
//! `gt ge lt le in` > `eq ne` > `and` > `or`.
//! `not` is unary and binds tightest, so write `not (name eq 'x')` or `not contains(…)`.
//!
//! Literals: `'text'` (`''` for a quote), `null`, `true`, `false`, integers, decimals
//! (`1.5`, `1e3`), dates (`2024-01-01`), date-times without quotes
//! (`2024-01-01T00:00:00Z`, fractional seconds and `±hh:mm` offsets; send `+` as `%2B`),
//! and GUIDs. Functions: `contains startswith endswith` (Boolean), `tolower toupper trim concat`
//! (String), `length indexof` (Int). Comparing incompatible types (a String with a
//! DateTimeOffset) is a 400 at parse time, never a silent `false`.
//!
//! Nesting is limited to [`MAX_DEPTH`]; `and`/`or` chains are flat, so long UI5 filters
//! (`id eq 'a' or id eq 'b' or …`) do not deepen the tree. Evaluation follows OData's null rules:
//! `eq`/`ne` treat null as a value, ordering comparisons with null are false, functions of null
//! are null, and a row matches only if the filter is `true`.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::error::{Error, quote};
use crate::literal;
use crate::model::{EdmType, Entity, EntityType, Value};

/// The deepest nesting (parentheses, `not`, function arguments) a filter may have.
pub const MAX_DEPTH: usize = 64;

/// A parsed, type-checked `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Expr,
}

/// A node of a parsed, type-checked filter (read-only: a store that pushes filters down to its
/// query language walks it; [`Filter::matches`] evaluates it in memory). Literals are already
/// of the type their property compares with, so a translation needs no type checks of its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal (`null`, `'text'`, `42`, a date-time, a GUID, …).
    Lit(Value),
    /// A property, by index into the entity type's properties.
    Prop(usize),
    /// A comparison.
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `left in (v1, v2, …)`.
    In(Box<Expr>, Vec<Value>),
    /// `a and b and …` (flattened).
    And(Vec<Expr>),
    /// `a or b or …` (flattened).
    Or(Vec<Expr>),
    /// `not e`.
    Not(Box<Expr>),
    /// A function call with its arguments.
    Call(Func, Vec<Expr>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `eq` (null equals null).
    Eq,
    /// `ne`.
    Ne,
    /// `gt` (false when either side is null).
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
}

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `contains(s, t)`: Boolean.
    Contains,
    /// `startswith(s, t)`: Boolean.
    StartsWith,
    /// `endswith(s, t)`: Boolean.
    EndsWith,
    /// `tolower(s)`: String.
    ToLower,
    /// `toupper(s)`: String.
    ToUpper,
    /// `trim(s)`: String.
    Trim,
    /// `length(s)`: Int.
    Length,
    /// `indexof(s, t)`: Int (0-based, -1 when absent).
    IndexOf,
    /// `concat(s, t)`: String.
    Concat,
}

/// Static types of expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Null,
    Bool,
    Str,
    Num,
    DateTimeOffset,
    Date,
    Guid,
    Binary,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Word(String),
    Lit(Value),
}

impl Filter {
    /// Parses and type-checks a (percent-decoded) `$filter` against the entity type.
    pub fn parse(text: &str, entity_type: &EntityType) -> Result<Self, Error> {
        let tokens = lex(text)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
            ty: entity_type,
        };
        let expr = p.or()?;
        if let Some(t) = p.tokens.get(p.pos) {
            return Err(syntax(&format!("unexpected {}", describe(t))));
        }
        match p.type_of(&expr) {
            Ty::Bool | Ty::Null => Ok(Self { expr }),
            _ => Err(syntax("the expression is not a Boolean condition")),
        }
    }

    /// The expression tree, for stores that translate filters into their own query language.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether the entity satisfies the filter (a null result does not).
    pub fn matches(&self, entity: &Entity) -> bool {
        matches!(*eval(&self.expr, entity), Value::Bool(true))
    }
}

fn syntax(why: &str) -> Error {
    Error::bad_request(format!("Invalid $filter: {why}")).with_target("$filter")
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "'('".to_owned(),
        Tok::RParen => "')'".to_owned(),
        Tok::Comma => "','".to_owned(),
        Tok::Word(w) => quote(w),
        Tok::Lit(v) => quote(&literal::render(v)),
    }
}

fn lex(text: &str) -> Result<Vec<Tok>, Error> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = match c {
            ' ' | '\t' => 1,
            '(' | ')' | ',' => {
                tokens.push(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    _ => Tok::Comma,
                });
                1
            }
            '\'' => {
                let n =
                    literal::quoted_len(rest).ok_or_else(|| syntax("a string is not closed"))?;
                let s = rest.get(..n).and_then(literal::unquote).unwrap_or_default();
                tokens.push(Tok::Lit(Value::String(s)));
                n
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => {
                let run = run_len(rest, |c| c.is_ascii_alphanumeric() || "-.:+_".contains(c));
                let word = rest.get(..run).unwrap_or_default();
                if literal::is_guid(word) {
                    tokens.push(Tok::Lit(Value::Guid(word.to_ascii_lowercase())));
                    run
                } else if c.is_ascii_digit() || c == '-' {
                    tokens.push(Tok::Lit(number_or_date(word)?));
                    run
                } else {
                    let n = run_len(rest, |c| c.is_ascii_alphanumeric() || c == '_');
                    tokens.push(Tok::Word(rest.get(..n).unwrap_or_default().to_owned()));
                    n
                }
            }
            '/' => return Err(syntax("property paths ('/') are not supported")),
            '@' => return Err(syntax("parameter aliases ('@') are not supported")),
            c => {
                return Err(syntax(&format!(
                    "unexpected character {}",
                    quote(&c.to_string())
                )));
            }
        };
        rest = rest.get(len..).unwrap_or_default();
    }
    Ok(tokens)
}

fn run_len(s: &str, keep: impl Fn(char) -> bool) -> usize {
    s.find(|c: char| !keep(c)).unwrap_or(s.len())
}

fn number_or_date(word: &str) -> Result<Value, Error> {
    if let Some(i) = literal::parse_int(word) {
        return Ok(Value::Int(i));
    }
    if word.contains(['T', 't']) {
        if let Some(t) = literal::parse_datetime(word) {
            return Ok(Value::DateTimeOffset(t));
        }
    } else if let Some(d) = literal::parse_date(word) {
        return Ok(Value::Date(d));
    } else if literal::is_decimal(word) {
        return Ok(Value::Decimal(word.to_owned()));
    } else if let Some(f) = literal::parse_double(word) {
        return Ok(Value::Double(f));
    }
    Err(syntax(&format!("{} is not a valid literal", quote(word))))
}

struct Parser<'t> {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
    ty: &'t EntityType,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == word)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), Error> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            Some(t) => Err(syntax(&format!("expected {what}, found {}", describe(&t)))),
            None => Err(syntax(&format!("expected {what} at the end"))),
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, Error> {
        self.enter()?;
        let mut items = vec![self.and()?];
        while self.peek_word("or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        self.depth -= 1;
        self.logical(items, Expr::Or, "or")
    }

    fn and(&mut self) -> Result<Expr, Error> {
        let mut items = vec![self.equality()?];
        while self.peek_word("and") {
            self.pos += 1;
            items.push(self.equality()?);
        }
        self.logical(items, Expr::And, "and")
    }

    fn logical(
        &self,
        mut items: Vec<Expr>,
        make: fn(Vec<Expr>) -> Expr,
        op: &str,
    ) -> Result<Expr, Error> {
        if items.len() == 1 {
            return Ok(items.remove(0));
        }
        self.check_bool(&items, op)?;
        Ok(make(items))
    }

    fn check_bool(&self, items: &[Expr], op: &str) -> Result<(), Error> {
        if items
            .iter()
            .all(|e| matches!(self.type_of(e), Ty::Bool | Ty::Null))
        {
            Ok(())
        } else {
            Err(syntax(&format!("the operands of '{op}' must be Boolean")))
        }
    }

    fn equality(&mut self) -> Result<Expr, Error> {
        let mut left = self.relational()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Word(w)) if w == "eq" => CmpOp::Eq,
                Some(Tok::Word(w)) if w == "ne" => CmpOp::Ne,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.relational()?;
            left = self.compare(op, left, right)?;
        }
    }

    fn relational(&mut self) -> Result<Expr, Error> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Word(w)) if w == "gt" => CmpOp::Gt,
                Some(Tok::Word(w)) if w == "ge" => CmpOp::Ge,
                Some(Tok::Word(w)) if w == "lt" => CmpOp::Lt,
                Some(Tok::Word(w)) if w == "le" => CmpOp::Le,
                Some(Tok::Word(w)) if w == "in" => {
                    self.pos += 1;
                    left = self.in_list(left)?;
                    continue;
                }
                Some(Tok::Word(w)) if ["add", "sub", "mul", "div", "mod"].contains(&w.as_str()) => {
                    return Err(syntax(&format!("arithmetic ('{w}') is not supported")));
                }
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.unary()?;
            left = self.compare(op, left, right)?;
        }
    }

    fn compare(&self, op: CmpOp, left: Expr, right: Expr) -> Result<Expr, Error> {
        let (l, r) = (self.type_of(&left), self.type_of(&right));
        if !compatible(l, r) {
            return Err(syntax(&format!(
                "cannot compare {} with {}",
                ty_name(l),
                ty_name(r)
            )));
        }
        Ok(Expr::Cmp(op, Box::new(left), Box::new(right)))
    }

    fn in_list(&mut self, left: Expr) -> Result<Expr, Error> {
        self.expect(&Tok::LParen, "'(' after 'in'")?;
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Lit(v)) => values.push(v),
                Some(Tok::Word(w)) if ["null", "true", "false"].contains(&w.as_str()) => {
                    values.push(keyword_literal(&w).unwrap_or(Value::Null));
                }
                _ => return Err(syntax("'in' takes a list of literals")),
            }
            match self.next() {
                Some(Tok::Comma) => {}
                Some(Tok::RParen) => break,
                _ => return Err(syntax("expected ',' or ')' in the 'in' list")),
            }
        }
        let l = self.type_of(&left);
        if let Some(v) = values.iter().find(|v| !compatible(l, value_ty(v))) {
            return Err(syntax(&format!(
                "cannot compare {} with {}",
                ty_name(l),
                ty_name(value_ty(v))
            )));
        }
        Ok(Expr::In(Box::new(left), values))
    }

    fn unary(&mut self) -> Result<Expr, Error> {
        if self.peek_word("not") {
            self.pos += 1;
            self.enter()?;
            let operand = self.unary()?;
            self.depth -= 1;
            self.check_bool(std::slice::from_ref(&operand), "not")?;
            return Ok(Expr::Not(Box::new(operand)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(e)
            }
            Some(Tok::Lit(v)) => Ok(Expr::Lit(v)),
            Some(Tok::Word(w)) => {
                if let Some(v) = keyword_literal(&w) {
                    return Ok(Expr::Lit(v));
                }
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    return self.call(&w);
                }
                match self.ty.property_index(&w) {
                    Some(i)
                        if self.ty.properties.get(i).map(|p| p.ty) == Some(EdmType::Map) =>
                    {
                        Err(Error::bad_request(format!(
                            "Invalid $filter: the property {} is a JSON object and cannot be compared",
                            quote(&w)
                        ))
                        .with_target(&w))
                    }
                    Some(i) => Ok(Expr::Prop(i)),
                    None => Err(Error::bad_request(format!(
                        "Invalid $filter: the entity type '{}' has no property {}",
                        self.ty.name,
                        quote(&w)
                    ))
                    .with_target(&w)),
                }
            }
            Some(t) => Err(syntax(&format!("unexpected {}", describe(&t)))),
            None => Err(syntax("unexpected end of the expression")),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, Error> {
        let (func, arity) = match name {
            "contains" => (Func::Contains, 2),
            "startswith" => (Func::StartsWith, 2),
            "endswith" => (Func::EndsWith, 2),
            "indexof" => (Func::IndexOf, 2),
            "concat" => (Func::Concat, 2),
            "tolower" => (Func::ToLower, 1),
            "toupper" => (Func::ToUpper, 1),
            "trim" => (Func::Trim, 1),
            "length" => (Func::Length, 1),
            _ => {
                return Err(syntax(&format!(
                    "the function {} is not supported",
                    quote(name)
                )));
            }
        };
        self.enter()?;
        let mut args = Vec::new();
        if self.peek() != Some(&Tok::RParen) {
            loop {
                args.push(self.or()?);
                if self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        self.expect(&Tok::RParen, "')' after the function arguments")?;
        self.depth -= 1;
        if args.len() != arity {
            return Err(syntax(&format!("'{name}' takes {arity} argument(s)")));
        }
        if args
            .iter()
            .any(|a| !matches!(self.type_of(a), Ty::Str | Ty::Null))
        {
            return Err(syntax(&format!(
                "the arguments of '{name}' must be strings"
            )));
        }
        Ok(Expr::Call(func, args))
    }

    fn type_of(&self, e: &Expr) -> Ty {
        match e {
            Expr::Lit(v) => value_ty(v),
            Expr::Prop(i) => self
                .ty
                .properties
                .get(*i)
                .map_or(Ty::Null, |p| edm_ty(p.ty)),
            Expr::Cmp(..) | Expr::In(..) | Expr::And(_) | Expr::Or(_) | Expr::Not(_) => Ty::Bool,
            Expr::Call(f, _) => match f {
                Func::Contains | Func::StartsWith | Func::EndsWith => Ty::Bool,
                Func::ToLower | Func::ToUpper | Func::Trim | Func::Concat => Ty::Str,
                Func::Length | Func::IndexOf => Ty::Num,
            },
        }
    }
}

fn keyword_literal(w: &str) -> Option<Value> {
    match w {
        "null" => Some(Value::Null),
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        _ => None,
    }
}

fn compatible(a: Ty, b: Ty) -> bool {
    a == b || a == Ty::Null || b == Ty::Null
}

fn edm_ty(t: EdmType) -> Ty {
    match t {
        EdmType::String => Ty::Str,
        EdmType::Boolean => Ty::Bool,
        EdmType::Int32 | EdmType::Int64 | EdmType::Decimal | EdmType::Double => Ty::Num,
        EdmType::DateTimeOffset => Ty::DateTimeOffset,
        EdmType::Date => Ty::Date,
        EdmType::Guid => Ty::Guid,
        EdmType::Binary | EdmType::Map => Ty::Binary,
    }
}

fn value_ty(v: &Value) -> Ty {
    match v {
        Value::Null => Ty::Null,
        Value::String(_) => Ty::Str,
        Value::Bool(_) => Ty::Bool,
        Value::Int(_) | Value::Decimal(_) | Value::Double(_) => Ty::Num,
        Value::DateTimeOffset(_) => Ty::DateTimeOffset,
        Value::Date(_) => Ty::Date,
        Value::Guid(_) => Ty::Guid,
        Value::Binary(_) | Value::Map(_) => Ty::Binary,
    }
}

fn ty_name(t: Ty) -> &'static str {
    match t {
        Ty::Null => "null",
        Ty::Bool => "Edm.Boolean",
        Ty::Str => "Edm.String",
        Ty::Num => "a number",
        Ty::DateTimeOffset => "Edm.DateTimeOffset",
        Ty::Date => "Edm.Date",
        Ty::Guid => "Edm.Guid",
        Ty::Binary => "Edm.Binary",
    }
}

fn eval<'e>(e: &'e Expr, row: &'e Entity) -> Cow<'e, Value> {
    match e {
        Expr::Lit(v) => Cow::Borrowed(v),
        Expr::Prop(i) => Cow::Borrowed(row.get(*i)),
        Expr::Cmp(op, l, r) => {
            let (l, r) = (eval(l, row), eval(r, row));
            let b = match op {
                CmpOp::Eq => equal(&l, &r),
                CmpOp::Ne => !equal(&l, &r),
                _ => compare(&l, &r).is_some_and(|o| match op {
                    CmpOp::Gt => o.is_gt(),
                    CmpOp::Ge => o.is_ge(),
                    CmpOp::Lt => o.is_lt(),
                    _ => o.is_le(),
                }),
            };
            Cow::Owned(Value::Bool(b))
        }
        Expr::In(l, values) => {
            let l = eval(l, row);
            Cow::Owned(Value::Bool(values.iter().any(|v| equal(&l, v))))
        }
        Expr::And(items) => logical(items, row, false),
        Expr::Or(items) => logical(items, row, true),
        Expr::Not(e) => Cow::Owned(match *eval(e, row) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        }),
        Expr::Call(f, args) => {
            let args: Vec<Cow<'_, Value>> = args.iter().map(|a| eval(a, row)).collect();
            let strs: Option<Vec<&str>> = args
                .iter()
                .map(|a| match a.as_ref() {
                    Value::String(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            Cow::Owned(match (f, strs.as_deref()) {
                (Func::Contains, Some([a, b])) => Value::Bool(a.contains(b)),
                (Func::StartsWith, Some([a, b])) => Value::Bool(a.starts_with(b)),
                (Func::EndsWith, Some([a, b])) => Value::Bool(a.ends_with(b)),
                (Func::IndexOf, Some([a, b])) => Value::Int(a.find(b).map_or(-1, |i| {
                    i64::try_from(a.get(..i).unwrap_or_default().chars().count()).unwrap_or(-1)
                })),
                (Func::Concat, Some([a, b])) => Value::String(format!("{a}{b}")),
                (Func::ToLower, Some([a])) => Value::String(a.to_lowercase()),
                (Func::ToUpper, Some([a])) => Value::String(a.to_uppercase()),
                (Func::Trim, Some([a])) => Value::String(a.trim().to_owned()),
                (Func::Length, Some([a])) => {
                    Value::Int(i64::try_from(a.chars().count()).unwrap_or(i64::MAX))
                }
                _ => Value::Null,
            })
        }
    }
}

/// `and` (`or` when `any_true`): a deciding operand wins, else null if any is null.
fn logical<'e>(items: &'e [Expr], row: &'e Entity, any_true: bool) -> Cow<'e, Value> {
    let mut saw_null = false;
    for item in items {
        match *eval(item, row) {
            Value::Bool(b) if b == any_true => return Cow::Owned(Value::Bool(any_true)),
            Value::Bool(_) => {}
            _ => saw_null = true,
        }
    }
    Cow::Owned(if saw_null {
        Value::Null
    } else {
        Value::Bool(!any_true)
    })
}

/// OData `eq`: null equals only null; otherwise the values compare equal.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        _ => compare(a, b) == Some(Ordering::Equal),
    }
}

/// The order of two non-null values of comparable types (numbers across Int/Decimal/Double).
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::DateTimeOffset(a), Value::DateTimeOffset(b)) => Some(a.cmp(b)),
        (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
        (Value::Guid(a), Value::Guid(b)) => {
            Some(a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()))
        }
        (Value::Binary(a), Value::Binary(b)) => Some(a.cmp(b)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog;
    use chrono::{TimeZone, Utc};

    fn rows() -> (EntityType, Vec<Entity>) {
        let s = catalog();
        let t = s.entity_sets[0].entity_type.clone();
        let at = |d| Value::DateTimeOffset(Utc.with_ymd_and_hms(2024, 1, d, 0, 0, 0).unwrap());
        let rows = vec![
            Entity::new(vec!["a".into(), "Alpha".into(), at(1)]),
            Entity::new(vec!["b".into(), "beta's".into(), at(2)]),
            Entity::new(vec!["c".into(), Value::Null, at(3)]),
        ];
        (t, rows)
    }
    fn ids(text: &str) -> Vec<String> {
        let (t, rows) = rows();
        let f = Filter::parse(text, &t).unwrap_or_else(|e| panic!("{text}: {e}"));
        rows.iter()
            .filter(|r| f.matches(r))
            .map(|r| match r.get(0) {
                Value::String(s) => s.clone(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn evaluates() {
        let cases: &[(&str, &str)] = &[
            ("id eq 'a'", "a"),
            ("id ne 'a'", "bc"),
            ("name eq null", "c"),
            ("name ne null", "ab"),
            ("name gt 'A'", "ab"),
            ("name eq 'beta''s'", "b"),
            ("contains(tolower(name),'alp')", "a"),
            ("startswith(name,'be') or endswith(id,'c')", "bc"),
            ("not contains(name,'x')", "ab"),
            ("not (id eq 'a') and name ne null", "b"),
            ("length(name) eq 5", "a"),
            ("indexof(name,'ta') eq 2", "b"),
            ("toupper(id) in ('A','C')", "ac"),
            ("id in ('b')", "b"),
            ("created gt 2024-01-01T12:00:00Z", "bc"),
            ("created le 2024-01-02T01:00:00+01:00", "ab"),
            (
                "created ge 2024-01-02T00:00:00.000Z and created lt 2024-01-03T00:00Z",
                "b",
            ),
            ("concat(id,name) eq 'aAlpha'", "a"),
            ("trim(' a ') eq id", "a"),
            ("((id eq 'a'))", "a"),
            ("true", "abc"),
            ("null eq null", "abc"),
            ("id eq 'a' or id eq 'b' or id eq 'c'", "abc"),
        ];
        for (text, want) in cases {
            assert_eq!(ids(text).concat(), *want, "{text}");
        }
    }

    #[test]
    fn rejects() {
        let (t, _) = rows();
        let cases = [
            ("", None),
            ("name eq", None),
            ("eq 'x'", None),
            ("foo eq 'x'", Some("foo")),
            ("name eq 'x", None),
            ("name eq 2024-01-01T00:00:00Z", None),
            ("created eq 'x'", None),
            ("created gt 1", None),
            ("name", None),
            ("name eq 'x' and 'y'", None),
            ("not name", None),
            ("contains(name)", None),
            ("contains(created,'x')", None),
            ("nofunc(name)", None),
            ("name eq 'a' extra", None),
            ("(name eq 'a'", None),
            ("name eq 'a')", None),
            ("name in 'a'", None),
            ("name in ('a',created)", None),
            ("name in (1)", None),
            ("length(name) add 1 eq 2", None),
            ("a/b eq 1", None),
            ("name eq @p", None),
            ("name eq 1x", None),
            ("name eq 2024-13-01", None),
            ("name eq ä", None),
            ("name eq 99999999999999999999999", None),
        ];
        for (text, target) in cases {
            let e = Filter::parse(text, &t).expect_err(text);
            assert_eq!(e.status, 400, "{text}");
            if let Some(target) = target {
                assert_eq!(e.target.as_deref(), Some(target), "{text}");
                assert!(e.message.contains(target), "{text}: {}", e.message);
            }
        }
    }

    #[test]
    fn depth_and_size_limits_never_overflow() {
        let (t, rows) = rows();
        let deep = format!("{}id eq 'a'{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(Filter::parse(&deep, &t).map_err(|e| e.status), Err(400));
        let nots = format!("{}true", "not ".repeat(10_000));
        assert_eq!(Filter::parse(&nots, &t).map_err(|e| e.status), Err(400));
        let ok = format!("{}id eq 'a'{}", "(".repeat(60), ")".repeat(60));
        assert!(Filter::parse(&ok, &t).is_ok());
        let wide = vec!["id eq 'a'"; 5000].join(" or ");
        let f = Filter::parse(&wide, &t).expect("flat chain");
        assert!(f.matches(&rows[0]));
        let calls = format!("{}name{}", "tolower(".repeat(1000), ")".repeat(1000));
        assert_eq!(Filter::parse(&calls, &t).map_err(|e| e.status), Err(400));
    }
}
