//! When runs are due: standard 5-field cron expressions, evaluated in UTC
//! or in the configured time zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// A parsed cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    expression: String,
    zone: Tz,
}

impl Schedule {
    /// Parses a 5-field cron expression (`minute hour day month weekday`).
    ///
    /// # Errors
    /// A malformed expression, with croner's explanation.
    pub fn parse(expression: &str, zone: Tz) -> Result<Self, String> {
        let fields = expression.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "cron expression {expression:?} has {fields} fields; expected 5 (minute hour day-of-month month day-of-week), e.g. \"0 3 * * *\""
            ));
        }
        let cron = Cron::new(expression).parse().map_err(|e| format!("cron expression {expression:?}: {e}"))?;
        Ok(Schedule { cron, expression: expression.to_string(), zone })
    }

    /// The first time strictly after `after` that the schedule fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        self.cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fires_at_the_next_matching_minute_in_its_zone() {
        let nightly = Schedule::parse("0 3 * * *", chrono_tz::UTC).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        assert_eq!(nightly.next_after(now).unwrap(), Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap());

        let paris = Schedule::parse("0 3 * * *", chrono_tz::Europe::Paris).unwrap();
        assert_eq!(paris.next_after(now).unwrap(), Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).unwrap());

        let every_minute = Schedule::parse("* * * * *", chrono_tz::UTC).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        assert_eq!(every_minute.next_after(at).unwrap(), Utc.with_ymd_and_hms(2026, 11, 26, 12, 1, 0).unwrap());
    }

    #[test]
    fn malformed_expressions_say_what_is_expected() {
        assert!(Schedule::parse("0 3 * *", chrono_tz::UTC).unwrap_err().contains("expected 5"));
        assert!(Schedule::parse("0 3 * * * *", chrono_tz::UTC).unwrap_err().contains("expected 5"));
        assert!(Schedule::parse("61 3 * * *", chrono_tz::UTC).is_err());
    }
}
