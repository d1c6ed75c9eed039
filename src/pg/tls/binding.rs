//! SCRAM channel binding, `tls-server-end-point` (RFC 5929): a hash of the
//! server's certificate that the password exchange signs, so that a man in
//! the middle cannot relay it to the real server, even when the mode does
//! not verify the certificate (`sslmode=require`).
//!
//! The hash is the one the certificate is signed with (SHA-256 for MD5 and
//! SHA-1); finding it only needs the signature algorithm's identifier,
//! read from the certificate's outer DER structure here. Certificates
//! whose algorithm names no hash (Ed25519, RSA-PSS) get no binding, and
//! SCRAM runs without it, as with libpq.

use sha2::{Digest, Sha256, Sha384, Sha512};

/// DER contents of the signature algorithm identifiers, by hash.
const SHA256_OIDS: [&[u8]; 6] = [
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x04", // md5WithRSAEncryption
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05", // sha1WithRSAEncryption
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b", // sha256WithRSAEncryption
    b"\x2a\x86\x48\xce\x3d\x04\x01",         // ecdsa-with-SHA1
    b"\x2a\x86\x48\xce\x3d\x04\x03\x02",     // ecdsa-with-SHA256
    b"\x2b\x0e\x03\x02\x1d",                 // sha1WithRSASignature (OIW)
];
const SHA384_OIDS: [&[u8]; 2] = [
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c", // sha384WithRSAEncryption
    b"\x2a\x86\x48\xce\x3d\x04\x03\x03",     // ecdsa-with-SHA384
];
const SHA512_OIDS: [&[u8]; 2] = [
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d", // sha512WithRSAEncryption
    b"\x2a\x86\x48\xce\x3d\x04\x03\x04",     // ecdsa-with-SHA512
];

/// The `tls-server-end-point` data of a DER certificate, or `None` when
/// its signature algorithm names no usable hash.
pub(super) fn tls_server_end_point(certificate: &[u8]) -> Option<Vec<u8>> {
    let oid = signature_algorithm(certificate)?;
    if SHA256_OIDS.contains(&oid) {
        Some(Sha256::digest(certificate).to_vec())
    } else if SHA384_OIDS.contains(&oid) {
        Some(Sha384::digest(certificate).to_vec())
    } else if SHA512_OIDS.contains(&oid) {
        Some(Sha512::digest(certificate).to_vec())
    } else {
        None
    }
}

/// `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm
/// SEQUENCE { algorithm OBJECT IDENTIFIER, … }, … }`: the algorithm's
/// identifier, as DER contents.
fn signature_algorithm(certificate: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const OBJECT_IDENTIFIER: u8 = 0x06;
    let (body, _) = element(certificate, SEQUENCE)?;
    let (_, after_tbs) = element(body, SEQUENCE)?;
    let (algorithm, _) = element(after_tbs, SEQUENCE)?;
    element(algorithm, OBJECT_IDENTIFIER).map(|(oid, _)| oid)
}

/// The contents of the DER element of type `tag` at the start of `input`,
/// and what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    let (&length, rest) = rest.split_first()?;
    if first != tag {
        return None;
    }
    let (length, rest) = if length < 0x80 {
        (usize::from(length), rest)
    } else {
        let bytes = usize::from(length & 0x7f);
        if bytes == 0 || bytes > 4 || rest.len() < bytes {
            return None;
        }
        let (digits, rest) = rest.split_at(bytes);
        (digits.iter().fold(0usize, |n, &d| (n << 8) | usize::from(d)), rest)
    };
    (rest.len() >= length).then(|| rest.split_at(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_in_short_and_long_form_are_read_and_checked() {
        assert_eq!(element(b"\x06\x02\x2a\x03rest", 0x06), Some((&b"\x2a\x03"[..], &b"rest"[..])));
        let long: Vec<u8> = [&b"\x30\x81\x80"[..], &[7u8; 128]].concat();
        assert_eq!(element(&long, 0x30).map(|(body, rest)| (body.len(), rest.len())), Some((128, 0)));
        assert_eq!(element(b"\x30\x05abc", 0x30), None, "shorter than it says");
        assert_eq!(element(b"\x31\x00", 0x30), None, "another type");
        assert_eq!(element(b"\x30\x80", 0x30), None, "indefinite length is not DER");
        assert_eq!(element(b"\x30", 0x30), None);
    }

    #[test]
    fn the_hash_follows_the_signature_algorithm() {
        // A certificate's outer structure, with an empty body and signature.
        let certificate = |oid: &[u8]| -> Vec<u8> {
            let algorithm = [&[0x06, oid.len() as u8][..], oid].concat();
            let body = [&b"\x30\x00"[..], &[0x30, algorithm.len() as u8], &algorithm, b"\x03\x01\x00"].concat();
            [&[0x30, body.len() as u8][..], &body].concat()
        };
        let ecdsa_sha256 = certificate(SHA256_OIDS[4]);
        assert_eq!(tls_server_end_point(&ecdsa_sha256), Some(Sha256::digest(&ecdsa_sha256).to_vec()));
        let rsa_sha1 = certificate(SHA256_OIDS[1]);
        assert_eq!(tls_server_end_point(&rsa_sha1), Some(Sha256::digest(&rsa_sha1).to_vec()));
        let ecdsa_sha384 = certificate(SHA384_OIDS[1]);
        assert_eq!(tls_server_end_point(&ecdsa_sha384).map(|h| h.len()), Some(48));
        let rsa_sha512 = certificate(SHA512_OIDS[0]);
        assert_eq!(tls_server_end_point(&rsa_sha512).map(|h| h.len()), Some(64));
        assert_eq!(tls_server_end_point(&certificate(b"\x2b\x65\x70")), None, "Ed25519 names no hash");
        assert_eq!(tls_server_end_point(b"not a certificate"), None);
    }
}
