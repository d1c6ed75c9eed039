//! Detect: which columns hold personal data, from their names, types and a
//! bounded sample of their values — for `replibyte scan` and for the dumps
//! that refuse to ship such a column without a transformer
//! (`source.unmasked_pii: fail`).
//!
//! Values are classified one by one ([`values`]) and only counted
//! ([`tally`]); a finding's evidence is those counts ("9,812 of 10,000
//! sampled values are email addresses"), never a value. A column whose name
//! sounds sensitive but whose values are not (`email_verified boolean`,
//! `phone_count integer`) is not flagged: booleans are never sampled, and
//! numbers only as card numbers. Beside the transformers they suggest
//! ([`suggest`]).

mod hints;
mod json;
mod names;
pub mod sample;
pub mod suggest;
mod tally;
mod values;

use serde::Serialize;

pub use sample::{scan, Scanned};

/// What kind of personal data a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Email,
    Phone,
    PersonName,
    DateOfBirth,
    PostalAddress,
    /// A national identifier (US social security number).
    NationalId,
    PaymentCard,
    Iban,
    IpAddress,
    /// Longer text with some of the above inside.
    FreeText,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::Email => "email",
            Category::Phone => "phone",
            Category::PersonName => "person-name",
            Category::DateOfBirth => "date-of-birth",
            Category::PostalAddress => "postal-address",
            Category::NationalId => "national-id",
            Category::PaymentCard => "payment-card",
            Category::Iban => "iban",
            Category::IpAddress => "ip-address",
            Category::FreeText => "free-text",
        }
    }

    /// For evidence: "email addresses", "phone numbers", …
    pub fn plural(self) -> &'static str {
        match self {
            Category::Email => "email addresses",
            Category::Phone => "phone numbers",
            Category::PersonName => "person names",
            Category::DateOfBirth => "dates of birth",
            Category::PostalAddress => "postal addresses",
            Category::NationalId => "social security numbers",
            Category::PaymentCard => "payment card numbers",
            Category::Iban => "IBANs",
            Category::IpAddress => "IP addresses",
            Category::FreeText => "texts with personal data",
        }
    }
}

/// How sure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Medium,
    High,
}

impl Confidence {
    /// High when at least 90 % of the values match, or the name agrees.
    fn of(share: f64, named: bool) -> Confidence {
        if share >= 0.9 || named {
            Confidence::High
        } else {
            Confidence::Medium
        }
    }

    /// Medium at most, unless the name agrees.
    fn at_most(self, named: bool) -> Confidence {
        if named {
            self
        } else {
            Confidence::Medium
        }
    }
}

/// One sensitive column (or path inside a JSON column).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub schema: String,
    pub table: String,
    pub column: String,
    /// Inside a `json`/`jsonb` column: where (`address.street`, `phones[*]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub category: Category,
    pub confidence: Confidence,
    /// Counts, never values.
    pub evidence: String,
    /// The config already has a transformer for this column.
    pub transformed: bool,
    /// The transformer suggested for it.
    pub transformer: String,
}

impl Finding {
    /// `schema.table.column` (and the path), for messages.
    pub fn place(&self) -> String {
        let mut out = format!("{}.{}.{}", self.schema, self.table, self.column);
        if let Some(path) = &self.path {
            out.push_str(&format!(" at {path}"));
        }
        out
    }
}
