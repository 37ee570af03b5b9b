//! Cognito's flavour of SRP-6a, for `USER_SRP_AUTH`: the only password flow upstream DLT v3.2.1
//! and v4.1+ app clients allow (no `ALLOW_USER_PASSWORD_AUTH`).
//!
//! Cognito does not document its SRP details; they are fixed by what its own SDKs send:
//! N = the RFC 3526 3072-bit MODP prime, g = 2, k = H(pad(N) | pad(g)),
//! x = H(pad(salt) | H(poolName | userId | ":" | password)), u = H(pad(A) | pad(B)),
//! S = (B − k·gˣ)^(a + u·x) mod N, key = HKDF-SHA256(ikm = pad(S), salt = pad(u),
//! info = "Caldera Derived Key", 16 bytes), signature = base64(HMAC-SHA256(key, poolName |
//! userIdForSrp | secretBlock | timestamp)). `pad` is the SDKs' `padHex`: big-endian bytes, with a
//! leading zero byte when the top bit is set (so the number reads as positive).

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use num_bigint::BigUint;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

/// RFC 3526 group 15 (3072-bit MODP prime), as hard-coded by every Cognito SDK.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

const DERIVED_KEY_INFO: &[u8] = b"Caldera Derived Key";

/// Why an SRP step could not be computed. Never contains the password or private values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SrpError {
    #[error("the user pool id {0:?} has no '_' (expected <region>_<id>)")]
    BadPoolId(String),
    #[error("Cognito sent an invalid {0} (not hexadecimal)")]
    BadHex(&'static str),
    #[error("Cognito sent SRP_B = 0 mod N; refusing to continue the SRP exchange")]
    BadServerKey,
    #[error("the SRP scrambling parameter u is zero; retry the login")]
    ZeroScrambler,
}

/// The group parameters, computed once per client (cheap next to a network round trip).
struct Group {
    n: BigUint,
    g: BigUint,
    k: BigUint,
}

impl Group {
    fn new() -> Group {
        // N_HEX is a compile-time constant, so parsing cannot fail at run time.
        let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap_or_default();
        let g = BigUint::from(2u32);
        let k = BigUint::from_bytes_be(&sha256(&[&pad(&n), &pad(&g)]));
        Group { n, g, k }
    }
}

/// One SRP login attempt: holds the ephemeral private value `a`. Debug output redacts it.
pub struct SrpClient {
    group: Group,
    pool_name: String,
    a: BigUint,
    big_a: BigUint,
}

impl fmt::Debug for SrpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrpClient")
            .field("pool_name", &self.pool_name)
            .field("a", &"<redacted>")
            .finish()
    }
}

impl SrpClient {
    /// Starts a login for `user_pool_id` (`<region>_<id>`) with a fresh random 1024-bit `a`.
    pub fn new(user_pool_id: &str) -> Result<SrpClient, SrpError> {
        let mut bytes = [0u8; 128];
        rand::fill(&mut bytes[..]);
        SrpClient::with_private_value(user_pool_id, BigUint::from_bytes_be(&bytes))
    }

    /// Deterministic constructor for test vectors. `a` must not be 0 mod N.
    pub fn with_private_value(user_pool_id: &str, a: BigUint) -> Result<SrpClient, SrpError> {
        let pool_name = user_pool_id
            .split_once('_')
            .map(|(_, name)| name.to_string())
            .ok_or_else(|| SrpError::BadPoolId(user_pool_id.to_string()))?;
        let group = Group::new();
        let big_a = group.g.modpow(&a, &group.n);
        Ok(SrpClient {
            group,
            pool_name,
            a,
            big_a,
        })
    }

    /// `SRP_A` for `InitiateAuth`: A = gᵃ mod N as lower-case hex without padding.
    pub fn srp_a(&self) -> String {
        self.big_a.to_str_radix(16)
    }

    /// The premaster secret S and scrambler u for a server challenge (exposed to the tests,
    /// which check it against the server-side formula).
    pub(crate) fn premaster(
        &self,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
    ) -> Result<(BigUint, BigUint), SrpError> {
        let Group { n, g, k } = &self.group;
        let b = BigUint::parse_bytes(srp_b_hex.as_bytes(), 16).ok_or(SrpError::BadHex("SRP_B"))?;
        if (&b % n) == BigUint::ZERO {
            return Err(SrpError::BadServerKey);
        }
        let salt = BigUint::parse_bytes(salt_hex.as_bytes(), 16).ok_or(SrpError::BadHex("SALT"))?;
        let u = BigUint::from_bytes_be(&sha256(&[&pad(&self.big_a), &pad(&b)]));
        if u == BigUint::ZERO {
            return Err(SrpError::ZeroScrambler);
        }
        let identity = sha256(&[
            self.pool_name.as_bytes(),
            user_id_for_srp.as_bytes(),
            b":",
            password.as_bytes(),
        ]);
        // The SDKs hash the *hex text* of H(pool|user|:|password) decoded back to bytes, i.e. the
        // raw 32-byte digest.
        let x = BigUint::from_bytes_be(&sha256(&[&pad(&salt), &identity]));
        let kgx = (k * g.modpow(&x, n)) % n;
        let base = ((&b % n) + n - kgx) % n;
        let exponent = &self.a + &u * &x;
        Ok((base.modpow(&exponent, n), u))
    }

    /// `PASSWORD_CLAIM_SIGNATURE` for the `PASSWORD_VERIFIER` challenge.
    ///
    /// `secret_block` is sent back verbatim by the caller; it is base64 from Cognito. Emulators
    /// (moto) send a non-base64 token there, in which case its raw bytes are signed so the flow
    /// still completes against them.
    pub fn password_claim_signature(
        &self,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
        secret_block: &str,
        timestamp: &str,
    ) -> Result<String, SrpError> {
        let (s, u) = self.premaster(user_id_for_srp, password, salt_hex, srp_b_hex)?;
        let key = hkdf_16(&pad(&s), &pad(&u));
        let block = B64
            .decode(secret_block.as_bytes())
            .unwrap_or_else(|_| secret_block.as_bytes().to_vec());
        let mut mac = hmac(&key);
        mac.update(self.pool_name.as_bytes());
        mac.update(user_id_for_srp.as_bytes());
        mac.update(&block);
        mac.update(timestamp.as_bytes());
        Ok(B64.encode(mac.finalize().into_bytes()))
    }
}

/// Cognito's `TIMESTAMP`: `Mon Jan 2 15:04:05 UTC 2006` (English names, unpadded day, UTC).
pub fn cognito_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        DAYS[t.weekday().number_days_from_monday() as usize],
        MONTHS[(u8::from(t.month()) - 1) as usize],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

/// The SDKs' `padHex` as bytes: minimal big-endian, plus a 0x00 byte when the top bit is set.
fn pad(n: &BigUint) -> Vec<u8> {
    let mut bytes = n.to_bytes_be();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    bytes
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

fn hmac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// HKDF-SHA256 with one output block truncated to 16 bytes, info "Caldera Derived Key".
fn hkdf_16(ikm: &[u8], salt: &[u8]) -> Vec<u8> {
    let mut extract = hmac(salt);
    extract.update(ikm);
    let prk = extract.finalize().into_bytes();
    let mut expand = hmac(&prk);
    expand.update(DERIVED_KEY_INFO);
    expand.update(&[1u8]);
    expand.finalize().into_bytes()[..16].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_big(s: &str) -> BigUint {
        BigUint::parse_bytes(s.as_bytes(), 16).expect("hex")
    }

    #[test]
    fn group_is_rfc3526_3072() {
        let g = Group::new();
        assert_eq!(g.n.bits(), 3072);
        // Fermat check that N is (probably) prime: 2^(N-1) = 1 mod N.
        assert_eq!(g.g.modpow(&(&g.n - 1u32), &g.n), BigUint::from(1u32));
        // k computed independently (Python: sha256(bytes.fromhex("00" + N_HEX + "02"))).
        assert_eq!(g.k.to_str_radix(16), K_HEX);
    }

    /// The client's S must equal the server's S = (A·vᵘ)ᵇ mod N, with v = gˣ the verifier
    /// Cognito stores: this checks the client equation against the other side of the protocol.
    #[test]
    fn client_and_server_agree_on_premaster_secret() {
        let client = SrpClient::with_private_value("us-east-1_AbCdEf123", hex_big("1234567890abcdef")).expect("client");
        let group = Group::new();
        let (user, password, salt_hex) = ("dltadmin", "P@ssw0rd-Example1", "f1e2d3c4b5a69788");
        // Server side, written from the SRP-6a definitions.
        let identity = sha256(&[b"AbCdEf123", user.as_bytes(), b":", password.as_bytes()]);
        let x = BigUint::from_bytes_be(&sha256(&[&pad(&hex_big(salt_hex)), &identity]));
        let v = group.g.modpow(&x, &group.n);
        let b = hex_big("fedcba9876543210fedcba");
        let big_b = (&group.k * &v + group.g.modpow(&b, &group.n)) % &group.n;
        let a_pub = hex_big(&client.srp_a());
        let u = BigUint::from_bytes_be(&sha256(&[&pad(&a_pub), &pad(&big_b)]));
        let server_s = (a_pub * v.modpow(&u, &group.n)).modpow(&b, &group.n);

        let (client_s, client_u) = client
            .premaster(user, password, salt_hex, &big_b.to_str_radix(16))
            .expect("premaster");
        assert_eq!(client_u, u);
        assert_eq!(client_s, server_s);
    }

    /// A fixed vector computed with an independent implementation (Python integers, hashlib,
    /// hmac; see the comment on the constants).
    #[test]
    fn signature_matches_independent_vector() {
        let client = SrpClient::with_private_value(VEC_POOL, hex_big(VEC_A)).expect("client");
        assert_eq!(client.srp_a(), VEC_BIG_A);
        let sig = client
            .password_claim_signature(VEC_USER, VEC_PASSWORD, VEC_SALT, VEC_B, VEC_SECRET_BLOCK, VEC_TIMESTAMP)
            .expect("signature");
        assert_eq!(sig, VEC_SIGNATURE);
    }

    #[test]
    fn rejects_bad_server_values() {
        let client = SrpClient::with_private_value("eu-west-1_pool", BigUint::from(7u32)).expect("client");
        let n_hex = Group::new().n.to_str_radix(16);
        assert_eq!(
            client.premaster("u", "p", "01", &n_hex).unwrap_err(),
            SrpError::BadServerKey
        );
        assert_eq!(
            client.premaster("u", "p", "01", "0").unwrap_err(),
            SrpError::BadServerKey
        );
        assert_eq!(
            client.premaster("u", "p", "zz", "05").unwrap_err(),
            SrpError::BadHex("SALT")
        );
        assert!(matches!(SrpClient::new("nopool"), Err(SrpError::BadPoolId(_))));
        assert!(!format!("{client:?}").contains('7'));
    }

    #[test]
    fn timestamp_format() {
        let t = time::macros::datetime!(2006-01-02 15:04:05 UTC);
        assert_eq!(cognito_timestamp(t), "Mon Jan 2 15:04:05 UTC 2006");
        let t = time::macros::datetime!(2024-11-23 09:08:07 +02:00);
        assert_eq!(cognito_timestamp(t), "Sat Nov 23 07:08:07 UTC 2024");
    }

    // Independent vector: Python 3 integers + hashlib/hmac, written from the formulas in the module doc
    // (hex-string padHex like the JS SDK), a = sha512("fixed a for the test vector") x2, B = sha512("fixed B")
    // x6 mod N. Salt has a leading zero byte to exercise the SDKs' parse-then-re-pad.
    const K_HEX: &str = "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6";
    const VEC_POOL: &str = "eu-west-1_Ab12Cd34";
    const VEC_USER: &str = "dltadmin";
    const VEC_PASSWORD: &str = "Correct-Horse-42!";
    const VEC_A: &str = concat!(
        "86d14123f5c062e7b9e92ddf5d3ff700a901e421b8e32afd67e9eaf63edea195ad247866dae267a626968db07651a249",
        "f7be2917d918ee5942b1e6148f64797186d14123f5c062e7b9e92ddf5d3ff700a901e421b8e32afd67e9eaf63edea195",
        "ad247866dae267a626968db07651a249f7be2917d918ee5942b1e6148f647971",
    );
    const VEC_BIG_A: &str = concat!(
        "6d43a4ecb9d942465ff19ebda57e0922af373bb6d092a3f89fa30c67c4db3169d57c953f67445fbbac09fb2df2b0557e",
        "1e0a791a6740caf346fe62a48a9744b9e6931e7f332a7f336f93a433d243768db7870c41539b9920b126ef66abf6c28b",
        "9f74c3d95ad9c20656781b738657c445801f2bacbcf22f8281b9709575c40e0ebbce64c6766664047dc2b51e31ebe78b",
        "14c86c252e58c9a9e2a9e8799b934cea66116f239b2f7649c2ed69f2cdb9fd0ff87d95dc47e258b13b9b244de4edd015",
        "11f503e21b6626f100cadbabb0442c86de783d9f2a003735f8cfbf18a1c204e26a9ec75d7f3ee970ccf34c643b58726f",
        "3369ced36906d5c70189d3c1d5c2b364c9b57a545f686da4a770dccddde7ea5e0c88c2532618002257748b691eb27f9e",
        "9c82792f767a1ffa90190336b7dc1a836e56bd61e4a4274e31089129453e973a0b5cde2c7a0a31c849fee18850386073",
        "4653604353b967d69ab8fa7a5bed9293a29984f3aceaa3e297c01c2f8cf436d7ff7ca001a262fcf80e0b98380af4cfbc",
    );
    const VEC_SALT: &str = "00c0ffee1234567890abcdef";
    const VEC_B: &str = concat!(
        "62cda60e219d17a86317be7ae5f0e953d4e15b6ef9342645ae1ed4fd499036a765490cc686280ff4d58215e95bb93a49",
        "141124c8d0120a85e8299947bc8abeab62cda60e219d17a86317be7ae5f0e953d4e15b6ef9342645ae1ed4fd499036a7",
        "65490cc686280ff4d58215e95bb93a49141124c8d0120a85e8299947bc8abeab62cda60e219d17a86317be7ae5f0e953",
        "d4e15b6ef9342645ae1ed4fd499036a765490cc686280ff4d58215e95bb93a49141124c8d0120a85e8299947bc8abeab",
        "62cda60e219d17a86317be7ae5f0e953d4e15b6ef9342645ae1ed4fd499036a765490cc686280ff4d58215e95bb93a49",
        "141124c8d0120a85e8299947bc8abeab62cda60e219d17a86317be7ae5f0e953d4e15b6ef9342645ae1ed4fd499036a7",
        "65490cc686280ff4d58215e95bb93a49141124c8d0120a85e8299947bc8abeab62cda60e219d17a86317be7ae5f0e953",
        "d4e15b6ef9342645ae1ed4fd499036a765490cc686280ff4d58215e95bb93a49141124c8d0120a85e8299947bc8abeab",
    );
    const VEC_SECRET_BLOCK: &str = "c2VjcmV0LWJsb2NrLWZyb20tY29nbml0bw==";
    const VEC_TIMESTAMP: &str = "Tue Mar 5 09:04:05 UTC 2024";
    const VEC_SIGNATURE: &str = "Fkvayq7fFtKjuNRewlQhHG0aDTFW6LAKl4/XLykF6zA=";
}
