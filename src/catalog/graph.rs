//! The object graph: collects objects as the catalog is read, resolves
//! `pg_depend` into dependencies between them, and orders them.
//!
//! Catalog rows are keyed by `(classid, objid)`. Many keys belong to one
//! object of ours: a table's row type and array type, a view's `_RETURN`
//! rule, a CHECK constraint printed inside its table, an extension's
//! members. Those are registered as aliases so that a dependency on any of
//! them becomes a dependency on the object that creates it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::model::{DdlObject, ObjectKind, Phase};

/// A catalog row's identity: the OID of its catalog, and its own OID.
pub type ObjKey = (u32, u32);

/// OIDs of the system catalogs that hold objects (fixed in every release).
pub mod class {
    pub const PG_TYPE: u32 = 1247;
    pub const PG_PROC: u32 = 1255;
    pub const PG_CLASS: u32 = 1259;
    pub const PG_ATTRDEF: u32 = 2604;
    pub const PG_CONSTRAINT: u32 = 2606;
    pub const PG_INDEX: u32 = 2610;
    /// A row here attaches a partition (or a partition's index) to its parent.
    pub const PG_INHERITS: u32 = 2611;
    pub const PG_CAST: u32 = 2605;
    pub const PG_OPERATOR: u32 = 2617;
    pub const PG_REWRITE: u32 = 2618;
    pub const PG_TRIGGER: u32 = 2620;
    pub const PG_NAMESPACE: u32 = 2615;
    pub const PG_EXTENSION: u32 = 3079;
    pub const PG_POLICY: u32 = 3256;
    pub const PG_STATISTIC_EXT: u32 = 3381;
    pub const PG_COLLATION: u32 = 3456;
    pub const PG_LANGUAGE: u32 = 2612;
    pub const PG_FOREIGN_DATA_WRAPPER: u32 = 2328;
    pub const PG_FOREIGN_SERVER: u32 = 1417;
    pub const PG_USER_MAPPING: u32 = 1418;
    pub const PG_DEFAULT_ACL: u32 = 826;
    pub const PG_EVENT_TRIGGER: u32 = 3466;
    pub const PG_PUBLICATION: u32 = 6104;
    pub const PG_PUBLICATION_REL: u32 = 6106;
    pub const PG_PUBLICATION_NAMESPACE: u32 = 6237;
    pub const PG_TS_DICT: u32 = 3600;
    pub const PG_TS_CONFIG: u32 = 3602;
    pub const PG_LARGEOBJECT: u32 = 2613;
}

/// Objects being collected, with their keys.
#[derive(Default)]
pub struct Graph {
    objects: Vec<DdlObject>,
    keys: HashMap<ObjKey, usize>,
    /// Dependencies known from the catalog structure rather than pg_depend.
    extra: Vec<(usize, ObjKey)>,
}

impl Graph {
    /// Adds an object created by the catalog row `key`; returns its index.
    pub fn add(&mut self, key: ObjKey, kind: ObjectKind, name: String, phase: Phase, sql: String) -> usize {
        let index = self.objects.len();
        self.objects.push(DdlObject {
            id: format!("{}-{}-{}", kind.label(), key.0, key.1),
            kind,
            name,
            phase,
            sql,
            depends_on: Vec::new(),
            requires_roles: Vec::new(),
            requires_major: None,
        });
        self.keys.entry(key).or_insert(index);
        index
    }

    /// Adds an object with no catalog row of its own (a grant, a refresh):
    /// it depends on `owner`.
    pub fn add_dependent(
        &mut self,
        owner: ObjKey,
        id_suffix: &str,
        kind: ObjectKind,
        name: String,
        phase: Phase,
        sql: String,
    ) -> Option<usize> {
        let owner_index = *self.keys.get(&owner)?;
        let index = self.objects.len();
        let id = format!("{}-{}-{}", kind.label(), self.objects[owner_index].id, id_suffix);
        let owner_id = self.objects[owner_index].id.clone();
        self.objects.push(DdlObject {
            id,
            kind,
            name,
            phase,
            sql,
            depends_on: vec![owner_id],
            requires_roles: Vec::new(),
            requires_major: None,
        });
        Some(index)
    }

    /// Makes `alias` stand for the object at `index`.
    pub fn alias(&mut self, alias: ObjKey, index: usize) {
        self.keys.entry(alias).or_insert(index);
    }

    /// Makes `alias` stand for whatever object `target` stands for.
    pub fn alias_key(&mut self, alias: ObjKey, target: ObjKey) {
        if let Some(&index) = self.keys.get(&target) {
            self.alias(alias, index);
        }
    }

    /// The index of the object `key` stands for.
    pub fn find(&self, key: ObjKey) -> Option<usize> {
        self.keys.get(&key).copied()
    }

    pub fn object_mut(&mut self, index: usize) -> &mut DdlObject {
        &mut self.objects[index]
    }

    pub fn object(&self, index: usize) -> &DdlObject {
        &self.objects[index]
    }

    /// Records that the object at `index` can only be created by PostgreSQL
    /// `major` or newer (the newest of several such needs wins).
    pub fn requires_major(&mut self, index: usize, major: u32) {
        let object = &mut self.objects[index];
        object.requires_major = object.requires_major.max(Some(major));
    }

    /// Appends statements to an object (a comment, an ALTER).
    pub fn append_sql(&mut self, index: usize, sql: &str) {
        let object = &mut self.objects[index];
        if !object.sql.is_empty() && !object.sql.ends_with('\n') {
            object.sql.push('\n');
        }
        object.sql.push_str(sql);
    }

    /// Records that the object at `index` needs the object keyed `on`.
    pub fn depend(&mut self, index: usize, on: ObjKey) {
        self.extra.push((index, on));
    }

    /// Resolves dependencies (`pg_depend` rows plus the extra ones) and
    /// returns the objects in dependency order.
    ///
    /// Objects that do not depend on each other come by kind priority, then
    /// name, so the order is stable from one dump to the next. A dependency
    /// cycle is broken at the lowest-priority object and reported in the
    /// returned warnings.
    pub fn finish(mut self, depend_rows: &[(ObjKey, ObjKey)]) -> (Vec<DdlObject>, Vec<String>) {
        let n = self.objects.len();
        let mut deps: Vec<HashSet<usize>> = vec![HashSet::new(); n];
        let mut add = |from: Option<usize>, to: Option<usize>| {
            if let (Some(a), Some(b)) = (from, to) {
                if a != b {
                    deps[a].insert(b);
                }
            }
        };
        for &(from, to) in depend_rows {
            add(self.find(from), self.find(to));
        }
        for &(from, to) in &self.extra {
            add(Some(from), self.find(to));
        }
        // Ids given at creation (dependents) are kept too.
        let id_index: HashMap<String, usize> =
            self.objects.iter().enumerate().map(|(i, o)| (o.id.clone(), i)).collect();
        for (i, object) in self.objects.iter().enumerate() {
            for id in &object.depends_on {
                if let Some(&j) = id_index.get(id) {
                    deps[i].insert(j);
                }
            }
        }

        order_refreshes(&self.objects, &mut deps);
        promote_phases(&mut self.objects, &deps);
        let (order, warnings) = topological_order(&self.objects, &deps);

        let ids: Vec<String> = self.objects.iter().map(|o| o.id.clone()).collect();
        let mut slots: Vec<Option<DdlObject>> = self.objects.into_iter().map(Some).collect();
        let mut out = Vec::with_capacity(n);
        for i in order {
            let mut object = slots[i].take().expect("each object once");
            let mut on: Vec<String> = deps[i].iter().map(|&j| ids[j].clone()).collect();
            on.sort();
            object.depends_on = on;
            out.push(object);
        }
        (out, warnings)
    }
}

/// A refresh waits for the refreshes of the materialized views its own
/// materialized view reads, directly or through views.
fn order_refreshes(objects: &[DdlObject], deps: &mut [HashSet<usize>]) {
    let refresh_of: HashMap<usize, usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == ObjectKind::Refresh)
        .filter_map(|(r, _)| deps[r].iter().next().map(|&owner| (owner, r)))
        .collect();
    for (&view, &refresh) in &refresh_of {
        let mut seen = HashSet::new();
        let mut stack: Vec<usize> = deps[view].iter().copied().collect();
        while let Some(j) = stack.pop() {
            if !seen.insert(j) {
                continue;
            }
            if let Some(&before) = refresh_of.get(&j) {
                deps[refresh].insert(before);
            }
            stack.extend(deps[j].iter().copied());
        }
    }
}

/// An object needed before the rows makes everything it needs come before
/// the rows too (a view grouping by a primary key needs that key).
fn promote_phases(objects: &mut [DdlObject], deps: &[HashSet<usize>]) {
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..objects.len() {
            let phase = objects[i].phase;
            for &j in &deps[i] {
                if objects[j].phase > phase {
                    objects[j].phase = phase;
                    changed = true;
                }
            }
        }
    }
}

fn topological_order(objects: &[DdlObject], deps: &[HashSet<usize>]) -> (Vec<usize>, Vec<String>) {
    let n = objects.len();
    let mut waiting: Vec<usize> = deps.iter().map(HashSet::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        for &j in d {
            dependents[j].push(i);
        }
    }
    let rank = |i: usize| Reverse((objects[i].phase, objects[i].kind.priority(), objects[i].name.clone(), i));
    let mut ready: BinaryHeap<_> = (0..n).filter(|&i| waiting[i] == 0).map(rank).collect();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut warnings = Vec::new();
    while order.len() < n {
        let next = match ready.pop() {
            Some(Reverse((_, _, _, i))) => i,
            None => {
                // A cycle: take the first remaining object by rank.
                let i = (0..n).filter(|&i| !done[i]).min_by_key(|&i| rank(i).0).expect("objects remain");
                warnings.push(format!("dependency cycle broken at {} {}", objects[i].kind.label(), objects[i].name));
                i
            }
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        order.push(next);
        for &d in &dependents[next] {
            waiting[d] = waiting[d].saturating_sub(1);
            if waiting[d] == 0 && !done[d] {
                ready.push(rank(d));
            }
        }
    }
    (order, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(objects: &[DdlObject]) -> Vec<&str> {
        objects.iter().map(|o| o.name.as_str()).collect()
    }

    #[test]
    fn dependencies_win_over_priority_and_aliases_resolve() {
        let mut g = Graph::default();
        let view = g.add((class::PG_CLASS, 30), ObjectKind::View, "v".into(), Phase::PreData, String::new());
        g.alias((class::PG_REWRITE, 31), view);
        g.add((class::PG_CLASS, 20), ObjectKind::Table, "t".into(), Phase::PreData, String::new());
        g.add((class::PG_PROC, 10), ObjectKind::Function, "f".into(), Phase::PreData, String::new());
        g.add((class::PG_NAMESPACE, 1), ObjectKind::Schema, "s".into(), Phase::PreData, String::new());
        // The function needs the view (e.g. a SQL-standard body reading it).
        let rows = [((class::PG_PROC, 10), (class::PG_REWRITE, 31)), ((class::PG_REWRITE, 31), (class::PG_CLASS, 20))];
        let (objects, warnings) = g.finish(&rows);
        assert_eq!(names(&objects), vec!["s", "t", "v", "f"]);
        assert!(warnings.is_empty());
        assert_eq!(objects[3].depends_on, vec![objects[2].id.clone()]);
    }

    #[test]
    fn a_post_data_object_needed_before_the_rows_is_promoted() {
        let mut g = Graph::default();
        g.add((class::PG_CONSTRAINT, 5), ObjectKind::Constraint, "t_pkey".into(), Phase::PostData, String::new());
        g.add((class::PG_CLASS, 6), ObjectKind::View, "v".into(), Phase::PreData, String::new());
        let (objects, _) = g.finish(&[((class::PG_CLASS, 6), (class::PG_CONSTRAINT, 5))]);
        assert_eq!(names(&objects), vec!["t_pkey", "v"]);
        assert_eq!(objects[0].phase, Phase::PreData);
    }

    #[test]
    fn cycles_are_broken_and_reported() {
        let mut g = Graph::default();
        g.add((class::PG_PROC, 1), ObjectKind::Function, "a".into(), Phase::PreData, String::new());
        g.add((class::PG_PROC, 2), ObjectKind::Function, "b".into(), Phase::PreData, String::new());
        let rows = [((class::PG_PROC, 1), (class::PG_PROC, 2)), ((class::PG_PROC, 2), (class::PG_PROC, 1))];
        let (objects, warnings) = g.finish(&rows);
        assert_eq!(objects.len(), 2);
        assert_eq!(warnings.len(), 1);
    }
}
