//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `"{webhook-id}.{webhook-timestamp}.{body}"`.
//!
//! The key is the secret's bytes; a secret written `whsec_<base64>` (the form the
//! Standard Webhooks libraries generate and verify with) is the base64-decoded rest, as
//! the specification says (<https://www.standardwebhooks.com/>, "Signature scheme").
//! Any other value is used as its UTF-8 bytes, so a receiver verifying with a plain
//! HMAC-SHA256 of the same text agrees.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The `whsec_` prefix of a base64 secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A webhook's signing key. Its `Debug` output shows no byte of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    /// The key of the environment value `value`: base64-decoded after `whsec_`, else
    /// its bytes.
    ///
    /// Errors: a `whsec_` value whose rest is not valid base64 (the message says so
    /// without showing the value).
    pub fn from_env_value(value: &str) -> Result<SigningSecret, String> {
        match value.strip_prefix(SECRET_PREFIX) {
            Some(encoded) => STANDARD.decode(encoded.trim()).map(SigningSecret).map_err(|_| {
                "starts with `whsec_` but the rest is not valid base64 (Standard Webhooks secrets are `whsec_` + base64)".to_owned()
            }),
            None => Ok(SigningSecret(value.as_bytes().to_vec())),
        }
    }

    /// The `webhook-signature` header value for message `webhook_id` sent at
    /// `timestamp` (unix seconds) with `body`: `v1,` + base64 of the HMAC-SHA256.
    pub fn sign(&self, webhook_id: &str, timestamp: u64, body: &[u8]) -> String {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference example of the Standard Webhooks specification.
    #[test]
    fn the_standard_webhooks_test_vector_is_reproduced() {
        let secret = SigningSecret::from_env_value("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_plain_secret_is_used_as_its_bytes_and_changes_the_signature() {
        let plain = SigningSecret::from_env_value("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_else(|e| panic!("{e}"));
        let signature = plain.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, b"{}");
        assert!(signature.starts_with("v1,"));
        assert_ne!(
            signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "not the base64-decoded key"
        );
        // Any change of id, time or body changes it.
        assert_ne!(signature, plain.sign("msg_x", 1_614_265_330, b"{}"));
        assert_ne!(
            signature,
            plain.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1, b"{}")
        );
        assert_ne!(
            signature,
            plain.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, b"[]")
        );
    }

    #[test]
    fn a_bad_whsec_value_is_refused_without_echoing_it() {
        let error = SigningSecret::from_env_value("whsec_not*base64!").unwrap_err();
        assert!(!error.contains("not*base64"), "{error}");
        assert!(
            !format!("{:?}", SigningSecret::from_env_value("hunter2hunter2").ok())
                .contains("hunter2")
        );
    }
}
