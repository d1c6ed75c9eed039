//! Retention: which dumps to delete.
//!
//! A complete dump is kept when any rule keeps it: it is among the
//! `keep_last` newest, or younger than `keep_days`. The newest complete dump
//! is always kept. Incomplete dumps (failed or killed) older than the newest
//! complete one are leftovers and always deleted; newer ones may still be
//! running and are left alone.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::index::DumpSummary;
use super::store::{self, StoreError};
use super::DumpId;
use crate::bridge::Bridge;

/// `source.retention` in the config, or `dump prune` options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Keep this many newest complete dumps.
    pub keep_last: Option<usize>,
    /// Keep complete dumps younger than this many days.
    pub keep_days: Option<u32>,
}

/// The dumps the policy deletes, given every dump newest first.
pub fn select(dumps: &[DumpSummary], policy: &RetentionPolicy, now: DateTime<Utc>) -> Vec<DumpId> {
    let newest_complete = dumps.iter().find(|d| d.is_complete()).map(|d| d.id.clone());
    let mut complete_seen = 0;
    let mut out = Vec::new();
    for dump in dumps {
        if !dump.is_complete() {
            if newest_complete.as_ref().is_some_and(|newest| dump.id < *newest) {
                out.push(dump.id.clone());
            }
            continue;
        }
        complete_seen += 1;
        let by_count = policy.keep_last.is_some_and(|n| complete_seen <= n);
        let by_age = policy.keep_days.is_some_and(|days| now - dump.created_at < Duration::days(days.into()));
        let no_rules = policy.keep_last.is_none() && policy.keep_days.is_none();
        if !(complete_seen == 1 || by_count || by_age || no_rules) {
            out.push(dump.id.clone());
        }
    }
    // Chains stay whole: what a kept dump applies to is kept too.
    loop {
        let needed: Vec<DumpId> = dumps
            .iter()
            .filter(|d| d.is_complete() && !out.contains(&d.id))
            .filter_map(|d| d.parent.clone())
            .filter(|parent| out.contains(parent))
            .collect();
        if needed.is_empty() {
            return out;
        }
        out.retain(|id| !needed.contains(id));
    }
}

/// The complete dumps that apply to `id` (its children in a chain).
pub fn dependents<'a>(dumps: &'a [DumpSummary], id: &DumpId) -> Vec<&'a DumpId> {
    dumps.iter().filter(|d| d.is_complete() && d.parent.as_ref() == Some(id)).map(|d| &d.id).collect()
}

/// Deletes what the policy selects; returns the deleted ids.
///
/// # Errors
/// A failing bridge.
pub async fn prune(
    bridge: &dyn Bridge,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<DumpId>, StoreError> {
    let dumps = store::list(bridge).await?;
    let mut doomed = select(&dumps, policy, now);
    // A dump being read stays, and so does every dump it applies to.
    let mut kept_for_readers = Vec::new();
    for id in &doomed {
        if let Some(reader) = super::locks::holders(bridge, id).await?.first() {
            tracing::info!(dump = %id, "not deleted: it is being read by {}; a later prune deletes it if the policy still selects it", reader.describe());
            kept_for_readers.push(id.clone());
        }
    }
    let mut chain = kept_for_readers.clone();
    while let Some(id) = chain.pop() {
        if let Some(parent) = dumps.iter().find(|d| d.id == id).and_then(|d| d.parent.clone()) {
            chain.push(parent.clone());
            kept_for_readers.push(parent);
        }
    }
    doomed.retain(|id| !kept_for_readers.contains(id));
    let mut deleted = Vec::with_capacity(doomed.len());
    for id in doomed {
        match store::delete(bridge, &id).await {
            // Locked between the check and now: kept, said so, not
            // reported as deleted.
            Err(StoreError::Locked { id, by }) => tracing::info!(dump = %id, "not deleted: it is being read by {by}"),
            Err(e) => return Err(e),
            Ok(()) => deleted.push(id),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn dump(day: u32, complete: bool) -> DumpSummary {
        let at = Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap();
        let id = DumpId::new(at);
        if complete {
            DumpSummary { status: "complete".into(), ..DumpSummary::incomplete(id) }
        } else {
            DumpSummary::incomplete(id)
        }
    }

    fn newest_first(mut dumps: Vec<DumpSummary>) -> Vec<DumpSummary> {
        dumps.sort_by(|a, b| b.id.cmp(&a.id));
        dumps
    }

    #[test]
    fn keep_last_keeps_the_newest_and_deletes_old_leftovers() {
        let dumps =
            newest_first(vec![dump(20, true), dump(21, false), dump(22, true), dump(23, true), dump(24, false)]);
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let doomed = select(&dumps, &RetentionPolicy { keep_last: Some(2), keep_days: None }, now);
        // Day 24 is incomplete but newer than the newest complete: maybe running.
        assert_eq!(doomed, vec![dumps[3].id.clone(), dumps[4].id.clone()]);
    }

    #[test]
    fn either_rule_keeps_a_dump_and_the_newest_is_always_kept() {
        let dumps = newest_first(vec![dump(10, true), dump(20, true), dump(24, true)]);
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let by_days = select(&dumps, &RetentionPolicy { keep_last: None, keep_days: Some(7) }, now);
        assert_eq!(by_days, vec![dumps[2].id.clone()]);
        let both = select(&dumps, &RetentionPolicy { keep_last: Some(2), keep_days: Some(1) }, now);
        assert_eq!(both, vec![dumps[2].id.clone()]);
        let none_young = select(&dumps, &RetentionPolicy { keep_last: None, keep_days: Some(0) }, now);
        assert_eq!(none_young, vec![dumps[1].id.clone(), dumps[2].id.clone()]);
    }

    #[test]
    fn a_kept_delta_keeps_its_whole_chain() {
        // Day 5: an older full dump; day 10: a base; 20 and 24: its deltas.
        let mut dumps = vec![dump(5, true), dump(10, true), dump(20, true), dump(24, true)];
        for (child, parent) in [(2, 1), (3, 2)] {
            dumps[child].kind = "incremental".into();
            dumps[child].parent = Some(dumps[parent].id.clone());
        }
        let dumps = newest_first(dumps);
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let doomed = select(&dumps, &RetentionPolicy { keep_last: Some(1), keep_days: None }, now);
        assert_eq!(doomed, vec![dumps[3].id.clone()], "only the dump outside the chain goes");
        assert_eq!(dependents(&dumps, &dumps[2].id), vec![&dumps[1].id]);
    }
}
