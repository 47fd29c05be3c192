//! JOSE on aws-lc-rs (O4): signing keys for ES256 (default), RS256 and EdDSA; JWKs with an
//! RFC 7638 thumbprint as `kid`; compact JWS signing with a key parsed once and kept; and
//! verification of Gatehouse's own tokens (introspection, userinfo, revocation).

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use gatehouse_types::Secret;
use serde::Serialize;
use serde_json::{Value, json};

/// Why a JOSE operation failed; no key material in any variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("unsupported signing algorithm")]
    UnsupportedAlg,
    #[error("key generation or parsing failed")]
    Key,
    #[error("signing failed")]
    Sign,
    #[error("token is malformed")]
    Malformed,
    #[error("token signature is invalid or its key unknown")]
    BadSignature,
}

/// The signing algorithms Gatehouse issues tokens with (O4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SigningAlg {
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlg {
    /// Every supported algorithm, default first.
    pub const ALL: [SigningAlg; 3] = [Self::Es256, Self::Rs256, Self::EdDsa];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name; `none`, HMAC and anything else are refused.
    pub fn parse(name: &str) -> Result<Self, JoseError> {
        Self::ALL.into_iter().find(|a| a.as_str() == name).ok_or(JoseError::UnsupportedAlg)
    }

    /// The digest OIDC Core §3.1.3.6 uses for `at_hash` with this algorithm.
    fn hash_alg(self) -> &'static digest::Algorithm {
        match self {
            Self::Es256 | Self::Rs256 => &digest::SHA256,
            Self::EdDsa => &digest::SHA512,
        }
    }
}

/// A newly generated key: the PKCS#8 private key (to be sealed at rest) and its public JWK.
pub struct GeneratedKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub pkcs8: Secret<Vec<u8>>,
    pub public_jwk: Value,
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed private key, kept in memory to sign many tokens.
pub struct Signer {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
    public_jwk: Value,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint of the required members, in lexicographic order.
fn thumbprint(required: &Value) -> String {
    // serde_json's map is sorted (no preserve_order feature), as RFC 7638 §3.3 requires.
    let canonical = required.to_string();
    B64.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

impl Pair {
    fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self, JoseError> {
        Ok(match alg {
            SigningAlg::Es256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| JoseError::Key)?,
            ),
            SigningAlg::Rs256 => Pair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|_| JoseError::Key)?),
            SigningAlg::EdDsa => Pair::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|_| JoseError::Key)?),
        })
    }

    /// The JWK members that define the public key (RFC 7638 §3.2).
    fn public_members(&self) -> Value {
        match self {
            Pair::Ec(p) => {
                let point = p.public_key().as_ref();
                json!({ "crv": "P-256", "kty": "EC", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]) })
            }
            Pair::Rsa(p) => {
                let public = p.public_key();
                json!({
                    "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
                    "kty": "RSA",
                    "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
                })
            }
            Pair::Ed(p) => json!({ "crv": "Ed25519", "kty": "OKP", "x": B64.encode(p.public_key().as_ref()) }),
        }
    }

    fn public_bytes(&self) -> Vec<u8> {
        match self {
            Pair::Ec(p) => p.public_key().as_ref().to_vec(),
            Pair::Rsa(p) => p.public_key().as_ref().to_vec(),
            Pair::Ed(p) => p.public_key().as_ref().to_vec(),
        }
    }
}

/// Generates a key of `alg` (RSA: 2048 bits).
pub fn generate(alg: SigningAlg) -> Result<GeneratedKey, JoseError> {
    let rng = SystemRandom::new();
    let der = match alg {
        SigningAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| JoseError::Key)?
            .as_ref()
            .to_vec(),
        SigningAlg::Rs256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| JoseError::Key)?;
            pair.as_der().map_err(|_| JoseError::Key)?.as_ref().to_vec()
        }
        SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| JoseError::Key)?.as_ref().to_vec(),
    };
    let signer = Signer::from_pkcs8(None, alg, &der)?;
    Ok(GeneratedKey { kid: signer.kid.clone(), alg, pkcs8: Secret::new(der), public_jwk: signer.public_jwk.clone() })
}

/// The protected header of Gatehouse's tokens (RFC 7515 §4.1), serialized without a map.
#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

impl Signer {
    /// Parses a PKCS#8 key; `kid` defaults to the key's RFC 7638 thumbprint.
    pub fn from_pkcs8(kid: Option<&str>, alg: SigningAlg, der: &[u8]) -> Result<Self, JoseError> {
        let pair = Pair::from_pkcs8(alg, der)?;
        let members = pair.public_members();
        let kid = kid.map(str::to_owned).unwrap_or_else(|| thumbprint(&members));
        let mut public_jwk = members;
        if let Value::Object(m) = &mut public_jwk {
            m.insert("kid".into(), Value::String(kid.clone()));
            m.insert("alg".into(), Value::String(alg.as_str().into()));
            m.insert("use".into(), Value::String("sig".into()));
        }
        Ok(Self { kid, alg, pair, public_jwk })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK with `kid`, `alg` and `use` (never private members).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// A verifier for tokens this key signed.
    pub fn verifier(&self) -> Verifier {
        Verifier { kid: self.kid.clone(), alg: self.alg, public: PublicKey::Encoded(self.pair.public_bytes()) }
    }

    fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, JoseError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(p) => p.sign(&rng, msg).map(|s| s.as_ref().to_vec()).map_err(|_| JoseError::Sign),
            Pair::Ed(p) => Ok(p.sign(msg).as_ref().to_vec()),
            Pair::Rsa(p) => {
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig).map_err(|_| JoseError::Sign)?;
                Ok(sig)
            }
        }
    }

    /// Signs `claims` as a compact JWS with header `{alg, kid, typ}` (RFC 7515 §7.1).
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, JoseError> {
        let header = JwsHeader { alg: self.alg.as_str(), kid: &self.kid, typ };
        let header = serde_json::to_vec(&header).map_err(|_| JoseError::Sign)?;
        let payload = serde_json::to_vec(claims).map_err(|_| JoseError::Sign)?;
        let mut out = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 350);
        B64.encode_string(&header, &mut out);
        out.push('.');
        B64.encode_string(&payload, &mut out);
        let sig = self.sign_bytes(out.as_bytes())?;
        out.push('.');
        B64.encode_string(sig, &mut out);
        Ok(out)
    }

    /// OIDC Core §3.1.3.6 `at_hash`/`c_hash`: left half of the digest of `value`, base64url.
    pub fn half_hash(&self, value: &str) -> String {
        let d = digest::digest(self.alg.hash_alg(), value.as_bytes());
        let bytes = d.as_ref();
        B64.encode(&bytes[..bytes.len() / 2])
    }
}

/// A public key: Gatehouse's own (introspection, userinfo) or a client's (private_key_jwt).
#[derive(Debug, Clone)]
pub struct Verifier {
    kid: String,
    alg: SigningAlg,
    public: PublicKey,
}

#[derive(Debug, Clone)]
enum PublicKey {
    /// Uncompressed EC point, raw Ed25519 key, or DER `RSAPublicKey`.
    Encoded(Vec<u8>),
    /// RSA modulus and exponent, big-endian (from a JWK).
    RsaComponents { n: Vec<u8>, e: Vec<u8> },
}

impl Verifier {
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let alg: &'static dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            SigningAlg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SigningAlg::EdDsa => &signature::ED25519,
        };
        match &self.public {
            PublicKey::Encoded(bytes) => UnparsedPublicKey::new(alg, bytes).verify(msg, sig).is_ok(),
            PublicKey::RsaComponents { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok(),
        }
    }

    /// A verifier from a public JWK (RFC 7517): EC P-256, OKP Ed25519 or RSA. A JWK with
    /// private members, or whose `alg` disagrees with its key type, is refused.
    pub fn from_jwk(jwk: &Value) -> Result<Self, JoseError> {
        let field = |name: &str| -> Result<Vec<u8>, JoseError> {
            let text = jwk.get(name).and_then(Value::as_str).ok_or(JoseError::Key)?;
            B64.decode(text).map_err(|_| JoseError::Key)
        };
        if ["d", "p", "q", "dp", "dq", "qi"].iter().any(|m| jwk.get(m).is_some()) {
            return Err(JoseError::Key);
        }
        let kty = jwk.get("kty").and_then(Value::as_str).ok_or(JoseError::Key)?;
        let crv = jwk.get("crv").and_then(Value::as_str);
        let (alg, public) = match (kty, crv) {
            ("EC", Some("P-256")) => {
                let (x, y) = (field("x")?, field("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::Key);
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (SigningAlg::Es256, PublicKey::Encoded(point))
            }
            ("OKP", Some("Ed25519")) => {
                let x = field("x")?;
                if x.len() != 32 {
                    return Err(JoseError::Key);
                }
                (SigningAlg::EdDsa, PublicKey::Encoded(x))
            }
            ("RSA", _) => {
                let n = field("n")?;
                if n.len() < 256 {
                    return Err(JoseError::Key);
                }
                (SigningAlg::Rs256, PublicKey::RsaComponents { n, e: field("e")? })
            }
            _ => return Err(JoseError::UnsupportedAlg),
        };
        if let Some(declared) = jwk.get("alg").and_then(Value::as_str)
            && declared != alg.as_str()
        {
            return Err(JoseError::UnsupportedAlg);
        }
        let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(Self { kid, alg, public })
    }
}

/// A verified token's header `typ` and claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub typ: Option<String>,
    pub claims: Value,
}

/// Verifies a compact JWS against `keys`: the header's `kid` must name one of them (without a
/// `kid`, every key of the header's `alg` is tried) and its `alg` must be that key's algorithm,
/// so `none` and HMAC never verify. Claims are returned unchecked: the caller checks `iss`,
/// `exp` and the rest.
pub fn verify(token: &str, keys: &[Verifier]) -> Result<Verified, JoseError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::Malformed);
    };
    let header: Value =
        serde_json::from_slice(&B64.decode(h).map_err(|_| JoseError::Malformed)?).map_err(|_| JoseError::Malformed)?;
    let kid = header.get("kid").and_then(Value::as_str);
    let alg = header.get("alg").and_then(Value::as_str).ok_or(JoseError::BadSignature)?;
    let sig = B64.decode(s).map_err(|_| JoseError::Malformed)?;
    let msg = &token.as_bytes()[..h.len() + 1 + p.len()];
    let verified = keys
        .iter()
        .filter(|k| k.alg.as_str() == alg && kid.is_none_or(|kid| k.kid == kid))
        .any(|k| k.verify(msg, &sig));
    if !verified {
        return Err(JoseError::BadSignature);
    }
    let claims =
        serde_json::from_slice(&B64.decode(p).map_err(|_| JoseError::Malformed)?).map_err(|_| JoseError::Malformed)?;
    let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
    Ok(Verified { typ, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_each_algorithm() {
        for alg in SigningAlg::ALL {
            let k = generate(alg).unwrap();
            let signer = Signer::from_pkcs8(Some(&k.kid), alg, k.pkcs8.expose()).unwrap();
            assert_eq!(signer.public_jwk(), &k.public_jwk);
            assert!(k.public_jwk.get("d").is_none(), "no private members");
            let token = signer.sign("at+jwt", &json!({ "sub": "x" })).unwrap();
            let v = verify(&token, &[signer.verifier()]).unwrap();
            assert_eq!(v.claims["sub"], "x");
            assert_eq!(v.typ.as_deref(), Some("at+jwt"));

            // Tampered payload, tampered signature, foreign key: refused.
            let parts: Vec<&str> = token.split('.').collect();
            let forged = format!("{}.{}.{}", parts[0], B64.encode(br#"{"sub":"y"}"#), parts[2]);
            assert_eq!(verify(&forged, &[signer.verifier()]), Err(JoseError::BadSignature), "{alg:?}");
            let other = Signer::from_pkcs8(Some(&k.kid), alg, generate(alg).unwrap().pkcs8.expose()).unwrap();
            assert_eq!(verify(&token, &[other.verifier()]), Err(JoseError::BadSignature), "{alg:?}");
        }
    }

    #[test]
    fn none_and_hmac_never_verify() {
        let k = generate(SigningAlg::Es256).unwrap();
        let signer = Signer::from_pkcs8(None, SigningAlg::Es256, k.pkcs8.expose()).unwrap();
        for alg in ["none", "HS256"] {
            let header = B64.encode(json!({ "alg": alg, "kid": signer.kid() }).to_string());
            let token = format!("{header}.{}.", B64.encode(b"{}"));
            assert!(verify(&token, &[signer.verifier()]).is_err(), "{alg}");
        }
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint() {
        // RFC 7638 §3.1 example key and thumbprint.
        let members = json!({
            "e": "AQAB",
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        });
        assert_eq!(thumbprint(&members), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
