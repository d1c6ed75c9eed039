//! What a column's (or a JSON key's) name suggests. A name alone never
//! flags a column; it lowers how many values must agree, and raises the
//! confidence of a finding that matches it.

use super::Category;

/// The category the name `name` suggests, if any.
pub fn of(name: &str) -> Option<Category> {
    let name = name.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if has(&["email", "e_mail", "mail"]) {
        Some(Category::Email)
    } else if has(&["phone", "mobile", "tel", "fax", "cell"]) {
        Some(Category::Phone)
    } else if has(&["birth", "dob", "born"]) {
        Some(Category::DateOfBirth)
    } else if has(&["ssn", "social_security", "national_id", "tax_id"]) {
        Some(Category::NationalId)
    } else if has(&["card", "cc_num", "pan"]) {
        Some(Category::PaymentCard)
    } else if has(&["iban", "bank_account"]) {
        Some(Category::Iban)
    } else if has(&["ip", "addr_ip", "remote_addr"]) && !has(&["zip", "ship", "description", "recipient"]) {
        Some(Category::IpAddress)
    } else if has(&["address", "street", "addr"]) {
        Some(Category::PostalAddress)
    } else if has(&["name", "surname", "forename"]) {
        Some(Category::PersonName)
    } else if has(&["note", "comment", "message", "description", "body", "text"]) {
        Some(Category::FreeText)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_suggest_but_words_inside_words_are_kept_apart() {
        assert_eq!(of("backup_email"), Some(Category::Email));
        assert_eq!(of("date_of_birth"), Some(Category::DateOfBirth));
        assert_eq!(of("shipping_zip"), None);
        assert_eq!(of("last_name"), Some(Category::PersonName));
        assert_eq!(of("quantity"), None);
    }
}
