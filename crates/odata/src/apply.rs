//! Applying query options to rows in memory: filter → search → count → orderby → skip/top →
//! server-driven paging.
//!
//! Paging: a page holds at most `max_page_size` rows. When rows remain within `$skip`/`$top`,
//! [`Page::next_skiptoken`] is the absolute index of the next row in the filtered, ordered list;
//! a request carrying `$skiptoken=N` starts at `N` (not at `$skip`) and still stops at
//! `$skip + $top`, so following the next links yields exactly the unpaged result.
//! `$select` is not applied here: the rows stay whole and [`crate::payload`] writes the
//! selected properties.

use std::cmp::Ordering;

use crate::model::{Entity, EntityType, Value};
use crate::query::QueryOptions;

/// One page of a collection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// The rows of this page, in order.
    pub rows: Vec<Entity>,
    /// The number of rows matching `$filter`/`$search` before paging, when `$count=true`.
    pub count: Option<usize>,
    /// Where the next page starts, if there is one.
    pub next_skiptoken: Option<usize>,
    /// The opaque token of the next page of a keyset-paged collection (wins over
    /// `next_skiptoken`); the store that pages the rows sets it.
    pub next_token: Option<String>,
}

/// Applies the options to the rows and cuts out the requested page (`max_page_size` 0 counts
/// as 1).
pub fn apply(
    entity_type: &EntityType,
    rows: Vec<Entity>,
    options: &QueryOptions,
    max_page_size: usize,
) -> Page {
    let mut rows: Vec<Entity> = rows
        .into_iter()
        .filter(|r| matches(entity_type, r, options))
        .collect();
    let count = options.count.then_some(rows.len());
    if !options.orderby.is_empty() {
        rows.sort_by(|a, b| {
            options
                .orderby
                .iter()
                .map(|o| {
                    let ord = total_order(a.get(o.property), b.get(o.property));
                    if o.descending { ord.reverse() } else { ord }
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
    }
    let len = rows.len();
    let skip = options.skip.unwrap_or(0).min(len);
    let end = options
        .top
        .map_or(len, |top| skip.saturating_add(top))
        .min(len);
    let start = options.skiptoken.unwrap_or(skip).max(skip).min(end);
    let page_end = start.saturating_add(max_page_size.max(1)).min(end);
    rows.truncate(page_end);
    rows.drain(..start);
    Page {
        rows,
        count,
        next_skiptoken: (page_end < end).then_some(page_end),
        next_token: None,
    }
}

/// The number of rows matching `$filter` and `$search` (what `/$count` answers).
pub fn count(entity_type: &EntityType, rows: &[Entity], options: &QueryOptions) -> usize {
    rows.iter()
        .filter(|r| matches(entity_type, r, options))
        .count()
}

fn matches(entity_type: &EntityType, row: &Entity, options: &QueryOptions) -> bool {
    options.filter.as_ref().is_none_or(|f| f.matches(row))
        && options
            .search
            .as_ref()
            .is_none_or(|s| s.matches(entity_type, row))
}

/// A total order for sorting (null first, numbers across Int/Decimal/Double, values of
/// different kinds by kind), so sorting is well-defined whatever the rows hold.
fn total_order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::DateTimeOffset(a), Value::DateTimeOffset(b)) => a.cmp(b),
        (Value::Date(a), Value::Date(b)) => a.cmp(b),
        (Value::Guid(a), Value::Guid(b)) => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
        (Value::Binary(a), Value::Binary(b)) => a.cmp(b),
        _ => match (numeric_key(a), numeric_key(b)) {
            (Some((fa, ka)), Some((fb, kb))) => fa.total_cmp(&fb).then(ka.cmp(&kb)),
            _ => kind(a).cmp(&kind(b)),
        },
    }
}

/// `(value as f64, (is an Int, the Int))`: exact among Ints, consistent across kinds.
fn numeric_key(v: &Value) -> Option<(f64, (bool, i64))> {
    match v {
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) => Some((*i as f64, (true, *i))),
        Value::Decimal(d) => Some((d.parse().unwrap_or(f64::NAN), (false, 0))),
        Value::Double(f) => Some((*f, (false, 0))),
        _ => None,
    }
}

fn kind(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Int(_) | Value::Decimal(_) | Value::Double(_) => 3,
        Value::DateTimeOffset(_) => 4,
        Value::Date(_) => 5,
        Value::Guid(_) => 6,
        Value::Binary(_) => 7,
        Value::Map(_) => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog;

    fn fixture(n: usize) -> (EntityType, Vec<Entity>) {
        let t = catalog().entity_sets[0].entity_type.clone();
        let rows = (0..n)
            .map(|i| {
                let name = if i % 7 == 0 {
                    Value::Null
                } else {
                    Value::String(format!("n{}", (i * 37) % 11))
                };
                Entity::new(vec![Value::String(format!("id{i:04}")), name])
            })
            .collect();
        (t, rows)
    }

    fn ids(rows: &[Entity]) -> Vec<Value> {
        rows.iter().map(|r| r.get(0).clone()).collect()
    }

    #[test]
    fn filter_count_order_skip_top() {
        let (t, rows) = fixture(30);
        let q = "$filter=name ne null&$orderby=name desc,id&$skip=2&$top=3&$count=true";
        let o = QueryOptions::parse(Some(q), &t).expect("parses");
        let page = apply(&t, rows.clone(), &o, 100);
        assert_eq!(page.count, Some(25));
        assert_eq!(page.next_skiptoken, None);
        assert_eq!(
            ids(&page.rows),
            vec!["id0027".into(), "id0002".into(), "id0013".into()] as Vec<Value>
        );
        assert_eq!(count(&t, &rows, &o), 25);
    }

    #[test]
    fn nulls_sort_first_ascending_and_last_descending() {
        let (t, rows) = fixture(10);
        let asc = QueryOptions::parse(Some("$orderby=name"), &t).expect("asc");
        let page = apply(&t, rows.clone(), &asc, 100);
        assert!(page.rows[0].get(1).is_null() && page.rows[1].get(1).is_null());
        let desc = QueryOptions::parse(Some("$orderby=name desc"), &t).expect("desc");
        let page = apply(&t, rows, &desc, 100);
        assert!(page.rows[9].get(1).is_null() && !page.rows[7].get(1).is_null());
    }

    #[test]
    fn following_skiptokens_reproduces_the_unpaged_result() {
        let (t, rows) = fixture(23);
        let tops = [
            None,
            Some(0),
            Some(1),
            Some(5),
            Some(22),
            Some(23),
            Some(100),
        ];
        let skips = [
            None,
            Some(0),
            Some(1),
            Some(4),
            Some(22),
            Some(23),
            Some(30),
        ];
        for top in tops {
            for skip in skips {
                let mut q = vec!["$orderby=name,id desc".to_owned(), "$count=true".to_owned()];
                q.extend(top.map(|n| format!("$top={n}")));
                q.extend(skip.map(|n| format!("$skip={n}")));
                let base = QueryOptions::parse(Some(&q.join("&")), &t).expect("parses");
                let whole = apply(&t, rows.clone(), &base, usize::MAX);
                assert_eq!(whole.next_skiptoken, None);
                for k in [0, 1, 2, 3, 7, 50] {
                    let mut got = Vec::new();
                    let mut options = base.clone();
                    let mut pages = 0;
                    loop {
                        let page = apply(&t, rows.clone(), &options, k);
                        assert_eq!(page.count, Some(23));
                        assert!(page.rows.len() <= k.max(1));
                        got.extend(page.rows);
                        pages += 1;
                        assert!(pages < 100, "no progress");
                        match page.next_skiptoken {
                            Some(token) => {
                                let next = options.next_link_query(token);
                                options = QueryOptions::parse(Some(&next), &t).expect("next");
                            }
                            None => break,
                        }
                    }
                    assert_eq!(
                        ids(&got),
                        ids(&whole.rows),
                        "top {top:?} skip {skip:?} k {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn forged_skiptokens_stay_in_range() {
        let (t, rows) = fixture(10);
        for q in [
            "$skiptoken=999",
            "$skip=5&$skiptoken=0",
            "$top=2&$skiptoken=5",
        ] {
            let o = QueryOptions::parse(Some(q), &t).expect(q);
            let page = apply(&t, rows.clone(), &o, 3);
            assert!(page.rows.len() <= 3, "{q}");
        }
    }

    #[test]
    fn total_order_is_total_on_mixed_values() {
        let mut values = vec![
            Value::Double(f64::NAN),
            Value::Int(3),
            Value::Decimal("2.5".into()),
            Value::Decimal("x".into()),
            Value::Null,
            Value::from("a"),
            Value::Double(3.0),
            Value::Bool(true),
            Value::Int(i64::MAX),
            Value::Int(i64::MAX - 1),
        ];
        values.sort_by(total_order);
        assert_eq!(values[0], Value::Null);
        let pos = |v: &Value| values.iter().position(|x| x == v);
        assert!(pos(&Value::Int(i64::MAX - 1)) < pos(&Value::Int(i64::MAX)));
    }
}
