//! What to run next: segments and post-data objects as their dependencies
//! allow, in the manner of `pg_restore -j`.
//!
//! Pure bookkeeping, no I/O. Every segment can load as soon as the schema
//! exists. An object of the data or post-data phase (index, constraint,
//! trigger, grant…) can run once the objects it depends on have run and the
//! rows of every table it depends on are loaded — so the indexes of a small
//! table build while a large one is still loading, and a foreign key waits
//! for the unique index it needs.
//!
//! Among what may run, the longest chain of work goes first (by
//! [`estimate`]s): an object ahead of a long foreign-key scan before a
//! short index build, the rows of the tables such chains wait for before
//! the others. An object whose locks would make it wait for a running one
//! ([`locks`]) is passed over until that one is done.
//!
//! [`estimate`]: super::estimate
//! [`locks`]: super::locks

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use super::estimate::{self, Work};
use super::locks::{HeldLocks, LockMode};
use crate::catalog::{DatabaseSchema, ObjectKind, Phase};
use crate::format::TableEntry;
use crate::pg::ident::quote_qualified;

/// One unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Load segment `segment` of table `table` (indexes into the manifest).
    Segment { table: usize, segment: usize },
    /// Run `schema.objects[i]`.
    Object(usize),
}

/// What a worker should do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Run(Task),
    /// Nothing is ready; work is in progress that will make something ready.
    Wait,
    /// Everything has run.
    Done,
}

/// The state of a restore's data and post-data work.
pub struct Schedule {
    segments: VecDeque<(usize, usize)>,
    /// Objects that may run, longest chain of work first.
    ready: BinaryHeap<(u64, Reverse<usize>)>,
    /// Unmet prerequisites of each waiting object.
    waiting: HashMap<usize, usize>,
    /// Objects to tell when an object has run.
    after_object: HashMap<usize, Vec<usize>>,
    /// Objects to tell when a table is loaded.
    after_table: HashMap<usize, Vec<usize>>,
    segments_left: Vec<usize>,
    /// Estimated work from each object to the end of its longest chain of
    /// dependents.
    chain: Vec<u64>,
    /// The tables (schema object indexes) each object locks.
    locked_tables: HashMap<usize, Vec<usize>>,
    held: HeldLocks,
    kinds: Vec<ObjectKind>,
    running: usize,
}

impl Schedule {
    /// Plans the data and post-data phases of `schema`, whose rows are in
    /// `tables`.
    pub fn new(schema: &DatabaseSchema, tables: &[TableEntry]) -> Self {
        let in_scope = |phase: Phase| matches!(phase, Phase::Data | Phase::PostData);
        let index_of: HashMap<&str, usize> =
            schema.objects.iter().enumerate().map(|(i, o)| (o.id.as_str(), i)).collect();
        let table_of: HashMap<String, usize> =
            tables.iter().enumerate().map(|(i, t)| (quote_qualified(&t.schema, &t.name), i)).collect();
        let segments_left: Vec<usize> = tables.iter().map(|t| t.segments.len()).collect();

        let mut schedule = Schedule {
            segments: VecDeque::new(),
            ready: BinaryHeap::new(),
            waiting: HashMap::new(),
            after_object: HashMap::new(),
            after_table: HashMap::new(),
            segments_left,
            chain: vec![0; schema.objects.len()],
            locked_tables: HashMap::new(),
            held: HeldLocks::default(),
            kinds: schema.objects.iter().map(|o| o.kind).collect(),
            running: 0,
        };
        // The rows a dependency on a table stands for: its own and those of
        // its partitions and children (a foreign key added to a partitioned
        // table checks every partition).
        let mut covered: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, object) in schema.objects.iter().enumerate().filter(|(_, o)| o.kind == ObjectKind::Table) {
            if let Some(&t) = table_of.get(&object.name) {
                covered.entry(i).or_default().push(t);
            }
        }
        // Objects come in dependency order, so walking them backwards hands
        // each child's tables to its parents before the parents are read.
        for (i, object) in schema.objects.iter().enumerate().rev().filter(|(_, o)| o.kind == ObjectKind::Table) {
            let own = covered.get(&i).cloned().unwrap_or_default();
            for parent in object.depends_on.iter().filter_map(|d| index_of.get(d.as_str())) {
                if schema.objects[*parent].kind == ObjectKind::Table {
                    covered.entry(*parent).or_default().extend(own.iter().copied());
                }
            }
        }
        let all_tables: Vec<usize> = (0..tables.len()).collect();

        // Foreign keys added NOT VALID, checked by a validation later.
        let validated_later: HashSet<usize> = schema
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Validation)
            .flat_map(|o| o.depends_on.iter().filter_map(|d| index_of.get(d.as_str()).copied()))
            .filter(|&d| schema.objects[d].kind == ObjectKind::ForeignKey)
            .collect();
        let mut cost = vec![0u64; schema.objects.len()];
        let mut in_plan = Vec::new();
        for (i, object) in
            schema.objects.iter().enumerate().filter(|(_, o)| in_scope(o.phase) && runs_in_parallel(o.kind))
        {
            in_plan.push(i);
            let mut objects_before = Vec::new();
            let mut tables_before: Vec<usize> = Vec::new();
            let mut locked = Vec::new();
            for dep in &object.depends_on {
                let Some(&d) = index_of.get(dep.as_str()) else { continue };
                if in_scope(schema.objects[d].phase) {
                    objects_before.push(d);
                } else {
                    if schema.objects[d].kind == ObjectKind::Table {
                        locked.push(d);
                    }
                    tables_before.extend(covered.get(&d).into_iter().flatten());
                }
            }
            // A constraint on a domain checks every row later written in any
            // table: it comes after all of them.
            if object.kind == ObjectKind::Constraint && tables_before.is_empty() && objects_before.is_empty() {
                tables_before.extend(&all_tables);
            }
            tables_before.sort_unstable();
            tables_before.dedup();
            cost[i] = estimate::object(&Work {
                kind: object.kind,
                rows: tables_before.iter().map(|&t| tables[t].rows).sum(),
                adopts_index: objects_before.iter().any(|&d| schema.objects[d].kind == ObjectKind::Index),
                validated_later: validated_later.contains(&i),
            });
            tables_before.retain(|&t| schedule.segments_left[t] > 0);
            for &d in &objects_before {
                schedule.after_object.entry(d).or_default().push(i);
            }
            for &t in &tables_before {
                schedule.after_table.entry(t).or_default().push(i);
            }
            schedule.locked_tables.insert(i, locked);
            let unmet = objects_before.len() + tables_before.len();
            if unmet != 0 {
                schedule.waiting.insert(i, unmet);
            }
        }
        // Dependents come after what they depend on: walking backwards
        // finds every dependent's chain before its prerequisite's.
        for &i in in_plan.iter().rev() {
            let longest_after = schedule.after_object.get(&i).into_iter().flatten().map(|&j| schedule.chain[j]).max();
            schedule.chain[i] = cost[i] + longest_after.unwrap_or(0);
        }
        for &i in in_plan.iter().filter(|i| !schedule.waiting.contains_key(i)) {
            schedule.ready.push((schedule.chain[i], Reverse(i)));
        }
        // The rows that the longest chains of work wait for load first, so
        // that work overlaps the loads that follow; then the largest tables.
        // Every table's segments load in parallel, so a big table last costs
        // nothing of itself — its indexes are what must not come last, and
        // they are in its chain.
        let table_order = |t: usize| {
            let after = schedule.after_table.get(&t).into_iter().flatten().map(|&i| schedule.chain[i]).max();
            let bytes: u64 = tables[t].segments.iter().map(|s| s.raw_bytes).sum();
            Reverse((after.unwrap_or(0), bytes))
        };
        let mut order: Vec<usize> = (0..tables.len()).collect();
        order.sort_by_cached_key(|&t| table_order(t));
        for t in order {
            schedule.segments.extend((0..tables[t].segments.len()).map(|s| (t, s)));
        }
        schedule
    }

    /// The next task to run. Ready objects go first (they unblock others and
    /// spread the work of indexes across the load); then segments.
    pub fn next(&mut self) -> Next {
        let task = if let Some(i) = self.pop_ready() {
            Task::Object(i)
        } else if let Some((table, segment)) = self.segments.pop_front() {
            Task::Segment { table, segment }
        } else if self.running > 0 {
            return Next::Wait;
        } else if let Some(&i) = self.waiting.keys().min() {
            // Only a dependency cycle (reported when the dump was taken)
            // leaves objects waiting with nothing running: release the first.
            self.waiting.remove(&i);
            Task::Object(i)
        } else {
            return Next::Done;
        };
        if let Task::Object(i) = task {
            self.held.take(LockMode::of(self.kinds[i]), &self.locked_tables[&i]);
        }
        self.running += 1;
        Next::Run(task)
    }

    /// The ready object with the longest chain whose locks are free now.
    fn pop_ready(&mut self) -> Option<usize> {
        let mut passed_over = Vec::new();
        let mut found = None;
        while let Some(entry) = self.ready.pop() {
            let i = entry.1 .0;
            if self.held.admit(LockMode::of(self.kinds[i]), &self.locked_tables[&i]) {
                found = Some(i);
                break;
            }
            passed_over.push(entry);
        }
        self.ready.extend(passed_over);
        found
    }

    /// Records that `task` ran successfully.
    pub fn complete(&mut self, task: Task) {
        self.running -= 1;
        let woken = match task {
            Task::Object(i) => {
                self.held.release(LockMode::of(self.kinds[i]), &self.locked_tables[&i]);
                self.after_object.remove(&i).unwrap_or_default()
            }
            Task::Segment { table, .. } => {
                self.segments_left[table] -= 1;
                if self.segments_left[table] > 0 {
                    return;
                }
                self.after_table.remove(&table).unwrap_or_default()
            }
        };
        for object in woken {
            if let Some(unmet) = self.waiting.get_mut(&object) {
                *unmet -= 1;
                if *unmet == 0 {
                    self.waiting.remove(&object);
                    self.ready.push((self.chain[object], Reverse(object)));
                }
            }
        }
    }
}

/// Whether objects of `kind` may run beside others. GRANT updates the
/// object's catalog row without taking a lock on it, so two of them (or a
/// GRANT and an index build) on one table can fail with "tuple concurrently
/// updated": grants and default privileges run afterwards, one at a time,
/// as pg_restore runs its ACL entries.
pub fn runs_in_parallel(kind: ObjectKind) -> bool {
    !matches!(kind, ObjectKind::Grant | ObjectKind::DefaultPrivileges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{DatabaseInfo, DdlObject};
    use crate::copy::CopyFormat;
    use crate::format::SegmentEntry;

    fn object(id: &str, kind: ObjectKind, name: &str, phase: Phase, deps: &[&str]) -> DdlObject {
        DdlObject {
            id: id.into(),
            kind,
            name: name.into(),
            phase,
            sql: String::new(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            requires_roles: Vec::new(),
            requires_major: None,
        }
    }

    fn table_with_rows(name: &str, segments: usize, rows: u64) -> TableEntry {
        TableEntry { rows, ..table(name, segments) }
    }

    fn table(name: &str, segments: usize) -> TableEntry {
        let segment = SegmentEntry {
            key: String::new(),
            rows: 1,
            raw_bytes: 10,
            stored_bytes: 1,
            checksum: crate::segment::Checksum::of(b""),
        };
        TableEntry {
            schema: "s".into(),
            name: name.into(),
            columns: Vec::new(),
            format: CopyFormat::Binary,
            rows: 1,
            segments: vec![segment; segments],
        }
    }

    fn run_all(schedule: &mut Schedule) -> Vec<Task> {
        let mut order = Vec::new();
        loop {
            match schedule.next() {
                Next::Run(task) => {
                    order.push(task);
                    schedule.complete(task);
                }
                Next::Wait => panic!("a sequential run never waits"),
                Next::Done => return order,
            }
        }
    }

    fn schema_with(objects: Vec<DdlObject>) -> DatabaseSchema {
        DatabaseSchema { database: DatabaseInfo::example(), objects, tables: Vec::new() }
    }

    #[test]
    fn objects_wait_for_their_tables_rows_and_their_dependencies() {
        let schema = schema_with(vec![
            object("t1", ObjectKind::Table, "\"s\".\"big\"", Phase::PreData, &[]),
            object("t2", ObjectKind::Table, "\"s\".\"small\"", Phase::PreData, &[]),
            object("pk", ObjectKind::Constraint, "pk", Phase::PostData, &["t1"]),
            object("fk", ObjectKind::ForeignKey, "fk", Phase::PostData, &["t2", "pk"]),
            object("seq", ObjectKind::SequenceValue, "seq", Phase::Data, &[]),
        ]);
        let tables = vec![table("small", 1), table("big", 2)];
        let mut schedule = Schedule::new(&schema, &tables);
        let order = run_all(&mut schedule);
        assert_eq!(
            order,
            vec![
                Task::Object(4),
                Task::Segment { table: 1, segment: 0 },
                Task::Segment { table: 1, segment: 1 },
                Task::Object(2),
                Task::Segment { table: 0, segment: 0 },
                Task::Object(3),
            ]
        );
    }

    #[test]
    fn a_parent_table_stands_for_its_partitions_and_domain_checks_wait_for_all_rows() {
        let mut schema = schema_with(vec![
            object("p", ObjectKind::Table, "\"s\".\"parent\"", Phase::PreData, &[]),
            object("c", ObjectKind::Table, "\"s\".\"child\"", Phase::PreData, &["p"]),
            object("d", ObjectKind::Type, "\"s\".\"dom\"", Phase::PreData, &[]),
            object("fk", ObjectKind::ForeignKey, "fk", Phase::PostData, &["p"]),
            object("dc", ObjectKind::Constraint, "dc", Phase::PostData, &["d"]),
        ]);
        schema.tables = Vec::new();
        let tables = vec![table("child", 1), table("other", 1)];
        let mut schedule = Schedule::new(&schema, &tables);
        let order = run_all(&mut schedule);
        let position = |task: Task| order.iter().position(|t| *t == task).unwrap();
        assert!(position(Task::Object(3)) > position(Task::Segment { table: 0, segment: 0 }), "{order:?}");
        assert!(position(Task::Object(4)) > position(Task::Segment { table: 1, segment: 0 }), "{order:?}");
        assert!(position(Task::Object(4)) > position(Task::Segment { table: 0, segment: 0 }), "{order:?}");
    }

    #[test]
    fn workers_wait_while_prerequisites_run() {
        let schema = schema_with(vec![
            object("t", ObjectKind::Table, "\"s\".\"t\"", Phase::PreData, &[]),
            object("ix", ObjectKind::Index, "ix", Phase::PostData, &["t"]),
        ]);
        let mut schedule = Schedule::new(&schema, &[table("t", 1)]);
        let Next::Run(load) = schedule.next() else { panic!("the segment is ready") };
        assert_eq!(schedule.next(), Next::Wait);
        schedule.complete(load);
        assert_eq!(schedule.next(), Next::Run(Task::Object(1)));
        schedule.complete(Task::Object(1));
        assert_eq!(schedule.next(), Next::Done);
    }

    #[test]
    fn the_rows_and_objects_ahead_of_the_longest_chain_go_first() {
        let schema = schema_with(vec![
            object("tb", ObjectKind::Table, "\"s\".\"big\"", Phase::PreData, &[]),
            object("tr", ObjectKind::Table, "\"s\".\"referenced\"", Phase::PreData, &[]),
            object("tc", ObjectKind::Table, "\"s\".\"child\"", Phase::PreData, &[]),
            object("ix", ObjectKind::Index, "ix", Phase::PostData, &["tb"]),
            object("pk", ObjectKind::Index, "pk", Phase::PostData, &["tr"]),
            object("fk", ObjectKind::ForeignKey, "fk", Phase::PostData, &["tc", "tr", "pk"]),
            object("val", ObjectKind::Validation, "fk", Phase::PostData, &["fk", "tc"]),
        ]);
        // The big table's index is a long task, but shorter than the scan of
        // the child's rows that waits for the referenced table's key.
        let tables = vec![
            table_with_rows("big", 3, 1000),
            table_with_rows("referenced", 1, 10),
            table_with_rows("child", 1, 500),
        ];
        let mut schedule = Schedule::new(&schema, &tables);
        let order = run_all(&mut schedule);
        assert_eq!(
            order,
            vec![
                Task::Segment { table: 1, segment: 0 },
                Task::Object(4),
                Task::Segment { table: 2, segment: 0 },
                Task::Object(5),
                Task::Object(6),
                Task::Segment { table: 0, segment: 0 },
                Task::Segment { table: 0, segment: 1 },
                Task::Segment { table: 0, segment: 2 },
                Task::Object(3),
            ]
        );
    }

    #[test]
    fn objects_that_would_wait_for_a_running_ones_lock_are_passed_over() {
        let schema = schema_with(vec![
            object("t", ObjectKind::Table, "\"s\".\"t\"", Phase::PreData, &[]),
            object("u", ObjectKind::Table, "\"s\".\"u\"", Phase::PreData, &[]),
            object("ix1", ObjectKind::Index, "ix1", Phase::PostData, &["t"]),
            object("ix2", ObjectKind::Index, "ix2", Phase::PostData, &["t"]),
            object("val", ObjectKind::Validation, "val", Phase::PostData, &["t"]),
            object("trigger", ObjectKind::Trigger, "trigger", Phase::PostData, &["t"]),
        ]);
        let mut schedule = Schedule::new(&schema, &[table("t", 1), table("u", 1)]);
        let Next::Run(load_t) = schedule.next() else { panic!("a segment is ready") };
        assert_eq!(load_t, Task::Segment { table: 0, segment: 0 });
        schedule.complete(load_t);
        // The validation scans beside the index builds; the trigger, which
        // locks the table out, waits for all three, and meanwhile the other
        // table loads.
        let mut running: Vec<Task> = (0..3)
            .map(|_| match schedule.next() {
                Next::Run(task) => task,
                other => panic!("three objects share the table: {other:?}"),
            })
            .collect();
        running.sort_by_key(|t| format!("{t:?}"));
        assert_eq!(running, vec![Task::Object(2), Task::Object(3), Task::Object(4)]);
        assert_eq!(schedule.next(), Next::Run(Task::Segment { table: 1, segment: 0 }));
        assert_eq!(schedule.next(), Next::Wait);
        schedule.complete(Task::Segment { table: 1, segment: 0 });
        schedule.complete(Task::Object(2));
        schedule.complete(Task::Object(4));
        assert_eq!(schedule.next(), Next::Wait, "an index build still holds the table");
        schedule.complete(Task::Object(3));
        assert_eq!(schedule.next(), Next::Run(Task::Object(5)));
        schedule.complete(Task::Object(5));
        assert_eq!(schedule.next(), Next::Done);
    }
}
