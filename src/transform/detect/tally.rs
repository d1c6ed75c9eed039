//! A column's sampled values, counted by what they look like, and the
//! verdict: which category most of them fall in, with the counts as
//! evidence. Only counts are kept, never a value.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::values;
use super::{Category, Confidence};

/// How a column's values are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Text, and what is read as text (integers for card numbers, inet).
    Text,
    /// `date` and timestamps: dates of birth.
    Date,
    /// `json` and `jsonb`: each path on its own.
    Json,
}

/// Counts of one stream of values (a column, or one path inside JSON).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sampled: u64,
    matches: BTreeMap<Category, u64>,
    /// Values that contain personal data inside longer text, by kind.
    embedded: BTreeMap<Category, u64>,
    with_embedded: u64,
    /// Ages (in years) of the values that are dates.
    ages: Vec<i32>,
    at_midnight: u64,
}

/// Ages beyond this many values are not kept (a sample has fewer).
const MAX_AGES: usize = 20_000;

impl Tally {
    /// Counts one text value.
    pub fn text(&mut self, value: &str) {
        self.sampled += 1;
        let category = if values::is_email(value) {
            Some(Category::Email)
        } else if values::is_ssn(value) {
            Some(Category::NationalId)
        } else if values::is_card(value) {
            Some(Category::PaymentCard)
        } else if values::is_iban(value) {
            Some(Category::Iban)
        } else if values::is_ip(value) {
            Some(Category::IpAddress)
        } else if values::is_phone(value) {
            Some(Category::Phone)
        } else if values::is_address(value) {
            Some(Category::PostalAddress)
        } else if values::is_person_name(value) {
            Some(Category::PersonName)
        } else {
            None
        };
        match category {
            Some(c) => *self.matches.entry(c).or_default() += 1,
            None if value.split_whitespace().nth(2).is_some() => {
                let found = values::found_in_text(value);
                if !found.is_empty() {
                    self.with_embedded += 1;
                    for c in found {
                        *self.embedded.entry(c).or_default() += 1;
                    }
                }
            }
            None => {}
        }
        if let Some(date) = values::date_of(value) {
            self.date(date, value.len() <= 10 || value[10..].trim_start_matches([' ', 'T']).starts_with("00:00:00"));
        }
    }

    /// Counts one date (or timestamp, `midnight` when it has no time of day).
    pub fn date(&mut self, date: NaiveDate, midnight: bool) {
        if self.ages.len() < MAX_AGES {
            let today = chrono::Utc::now().date_naive();
            self.ages.push(today.years_since(date).map_or(-1, |y| y as i32));
        }
        if midnight {
            self.at_midnight += 1;
        }
    }

    /// Counts a date column's value (the dates were counted by [`Tally::date`]).
    pub fn count(&mut self) {
        self.sampled += 1;
    }

    /// The verdict on this stream: a category, how sure, and the evidence.
    /// `hint` is what the column's (or key's) name suggests.
    pub fn verdict(&self, shape: Shape, hint: Option<Category>) -> Option<(Category, Confidence, String)> {
        if self.sampled == 0 {
            return None;
        }
        let n = self.sampled;
        let share = |count: u64| count as f64 / n as f64;
        if shape == Shape::Date || self.ages.len() as u64 * 10 >= n * 9 {
            if let Some(verdict) = self.birth_dates(hint) {
                return Some(verdict);
            }
        }
        if let Some((&category, &count)) = self.matches.iter().max_by_key(|(_, c)| **c) {
            // Formats with a checksum or a strict shape need a majority;
            // names, phones and addresses (fuzzier) more, unless the name
            // of the column says the same.
            let strict = matches!(
                category,
                Category::Email | Category::NationalId | Category::PaymentCard | Category::Iban | Category::IpAddress
            );
            let needed = match (strict, hint == Some(category)) {
                (true, _) => 0.5,
                (false, true) => 0.4,
                (false, false) => 0.6,
            };
            if share(count) >= needed {
                let confidence = Confidence::of(share(count), hint == Some(category));
                let evidence =
                    format!("{} of {} sampled values are {}", thousands(count), thousands(n), category.plural());
                return Some((category, confidence, evidence));
            }
        }
        // Free text: personal data pasted inside some of the values.
        if self.with_embedded >= 3 && share(self.with_embedded) >= 0.01 {
            let kinds: Vec<String> = self
                .embedded
                .iter()
                .map(|(c, count)| format!("{} contain {}", thousands(*count), c.plural()))
                .collect();
            let evidence = format!("of {} sampled values, {}", thousands(n), kinds.join(", "));
            let confidence = if share(self.with_embedded) >= 0.1 { Confidence::High } else { Confidence::Medium };
            return Some((Category::FreeText, confidence, evidence));
        }
        None
    }

    /// Dates of birth: the values are dates, nearly all of people between 14
    /// and 110 years old, with a median age of an adult and ages spread over
    /// a decade or more (the dates of one event cluster), and no time of day.
    fn birth_dates(&self, hint: Option<Category>) -> Option<(Category, Confidence, String)> {
        let mut ages = self.ages.clone();
        if ages.len() < 5 {
            return None;
        }
        ages.sort_unstable();
        let plausible = ages.iter().filter(|a| (14..=110).contains(*a)).count();
        let median = ages[ages.len() / 2];
        let spread = ages[ages.len() * 3 / 4] - ages[ages.len() / 4];
        let share = plausible as f64 / ages.len() as f64;
        let hinted = hint == Some(Category::DateOfBirth);
        let needed_spread = if hinted { 3 } else { 8 };
        let midnight = self.at_midnight as f64 >= ages.len() as f64 * 0.9;
        if share >= 0.9 && (18..=90).contains(&median) && spread >= needed_spread && midnight {
            let evidence = format!(
                "{} of {} sampled dates are birth dates of people aged 14-110 (median age {median})",
                thousands(plausible as u64),
                thousands(ages.len() as u64)
            );
            return Some((Category::DateOfBirth, Confidence::of(share, hinted).at_most(hinted), evidence));
        }
        None
    }
}

/// `9812` as `9,812`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(values: &[&str]) -> Tally {
        let mut t = Tally::default();
        for v in values {
            t.text(v);
        }
        t
    }

    #[test]
    fn most_values_decide_and_evidence_is_counts() {
        let emails = tally(&["a@example.org", "b@example.org", "c@example.org", "not one"]);
        let (category, _, evidence) = emails.verdict(Shape::Text, None).unwrap();
        assert_eq!(category, Category::Email);
        assert_eq!(evidence, "3 of 4 sampled values are email addresses");
        assert!(tally(&["visa", "mastercard", "amex"]).verdict(Shape::Text, Some(Category::PaymentCard)).is_none());
    }

    #[test]
    fn birth_dates_spread_over_decades_event_dates_do_not() {
        let mut births = Tally::default();
        let mut hires = Tally::default();
        for i in 0..200u32 {
            births.count();
            births.date(NaiveDate::from_ymd_opt(1945 + (i % 55) as i32, 1 + i % 12, 1 + i % 28).unwrap(), true);
            hires.count();
            hires.date(NaiveDate::from_ymd_opt(2024, 1 + i % 12, 1 + i % 28).unwrap(), true);
        }
        assert_eq!(births.verdict(Shape::Date, None).unwrap().0, Category::DateOfBirth);
        assert!(hires.verdict(Shape::Date, Some(Category::DateOfBirth)).is_none());
    }

    #[test]
    fn numbers_read_with_separators() {
        assert_eq!(thousands(9812), "9,812");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(thousands(12), "12");
    }
}
