//! TLS client setup for HTTPS targets: the platform roots plus `SSL_CERT_FILE` when set (for
//! private CAs in CI) and the scenario's `ca_bundle`, ALPN offering HTTP/2 then HTTP/1.1; or,
//! with `insecure_skip_verify`, a verifier that accepts any certificate (the handshake's
//! signatures are still checked, so the connection is TLS, just not authenticated).
//!
//! A failed handshake is counted under a key naming its reason ([`TlsReason`]): a small closed
//! set, stable across rustls versions, because status gates and reports key on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// How the local engine authenticates HTTPS targets beyond the platform roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A PEM file of extra trusted CA certificates (`scenario.ca_bundle`).
    pub ca_bundle: Option<PathBuf>,
    /// Accept any server certificate (`scenario.insecure_skip_verify`). Unsafe.
    pub insecure_skip_verify: bool,
}

/// Why a TLS handshake failed, as counted in `status_codes` (`"tls: <reason>"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsReason {
    /// The chain does not lead to a trusted root (self-signed leaf, private CA not trusted).
    UnknownIssuer,
    /// The server presented a CA certificate as its own (e.g. the private CA's certificate).
    CaUsedAsEndEntity,
    /// The certificate is not valid for the URL's host.
    NameMismatch,
    Expired,
    NotValidYet,
    Revoked,
    /// Any other certificate problem: bad encoding or signature, unsupported algorithm,
    /// unhandled critical extension, wrong key usage.
    BadCertificate,
    /// The handshake itself failed: an alert from the server, no common protocol version or
    /// cipher suite, not TLS on that port, or the connection closed during the handshake.
    HandshakeFailure,
}

impl TlsReason {
    pub(crate) const ALL: [TlsReason; 8] = [
        TlsReason::UnknownIssuer,
        TlsReason::CaUsedAsEndEntity,
        TlsReason::NameMismatch,
        TlsReason::Expired,
        TlsReason::NotValidYet,
        TlsReason::Revoked,
        TlsReason::BadCertificate,
        TlsReason::HandshakeFailure,
    ];

    /// The `status_codes` key.
    pub(crate) fn key(self) -> &'static str {
        match self {
            TlsReason::UnknownIssuer => "tls: unknown issuer",
            TlsReason::CaUsedAsEndEntity => "tls: CA used as end entity",
            TlsReason::NameMismatch => "tls: name mismatch",
            TlsReason::Expired => "tls: expired",
            TlsReason::NotValidYet => "tls: not valid yet",
            TlsReason::Revoked => "tls: revoked",
            TlsReason::BadCertificate => "tls: bad certificate",
            TlsReason::HandshakeFailure => "tls: handshake failure",
        }
    }

    pub(crate) fn of_rustls(e: &rustls::Error) -> TlsReason {
        let rustls::Error::InvalidCertificate(cert) = e else {
            return TlsReason::HandshakeFailure;
        };
        match cert {
            CertificateError::UnknownIssuer => TlsReason::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsReason::NameMismatch
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsReason::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => TlsReason::NotValidYet,
            CertificateError::Revoked => TlsReason::Revoked,
            // rustls passes webpki's `CaUsedAsEndEntity` through as an "other" error, whose
            // Display is the variant's name.
            CertificateError::Other(other) if other.0.to_string().contains("CaUsedAsEndEntity") => {
                TlsReason::CaUsedAsEndEntity
            }
            _ => TlsReason::BadCertificate,
        }
    }
}

/// Reads a PEM file of certificates; an error names `what` (the attribute or variable).
fn read_pem(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading {what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{what} {} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// The plan-time check of `scenario.ca_bundle`: a readable PEM file with at least one
/// certificate rustls can use. Returns how many it holds.
pub fn check_ca_bundle(path: &Path) -> Result<usize, String> {
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(read_pem(path, "scenario.ca_bundle")?);
    if added == 0 {
        return Err(format!(
            "scenario.ca_bundle {} holds no usable certificate",
            path.display()
        ));
    }
    Ok(added)
}

pub(crate) fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol setup: {e}"))?;
    let mut config = if opts.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(roots(opts)?).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn roots(opts: &TlsOptions) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        log::debug!("local engine: skipping unreadable platform certificates: {err}");
    }
    roots.add_parsable_certificates(native.certs);
    let extra = std::env::var_os("SSL_CERT_FILE")
        .map(|p| (PathBuf::from(p), "SSL_CERT_FILE"))
        .into_iter()
        .chain(opts.ca_bundle.clone().map(|p| (p, "scenario.ca_bundle")));
    for (path, what) in extra {
        let (added, _) = roots.add_parsable_certificates(read_pem(&path, what)?);
        if added == 0 {
            return Err(format!("{what} {} holds no usable certificate", path.display()));
        }
    }
    if roots.is_empty() {
        return Err("no trusted root certificates found (install ca-certificates or set SSL_CERT_FILE)".into());
    }
    Ok(roots)
}

/// `insecure_skip_verify`: any certificate is accepted; the handshake signatures are verified
/// with the provider's algorithms, so the peer still proves it holds the certificate's key.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::WebPkiServerVerifier;

    struct Pki {
        ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    }

    fn ca(name: &str) -> Pki {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        Pki {
            ca: rcgen::CertifiedIssuer::self_signed(p, rcgen::KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn leaf(pki: &Pki, name: &str, not_after_year: i32) -> CertificateDer<'static> {
        let mut p = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        p.signed_by(&rcgen::KeyPair::generate().unwrap(), &pki.ca)
            .unwrap()
            .der()
            .clone()
    }

    /// The reason webpki's real verdict maps to, trusting `trusted`'s CA, for host `localhost`.
    fn verdict(trusted: &Pki, cert: &CertificateDer<'_>) -> Option<TlsReason> {
        let mut roots = RootCertStore::empty();
        roots.add(trusted.ca.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .err()
            .map(|e| TlsReason::of_rustls(&e))
    }

    #[test]
    fn webpki_verdicts_map_to_their_reasons() {
        let pki = ca("unit test CA");
        assert_eq!(verdict(&pki, &leaf(&pki, "localhost", 2999)), None);
        // Another CA is trusted (with another name: one of the same name would be a bad signature).
        assert_eq!(
            verdict(&ca("other CA"), &leaf(&pki, "localhost", 2999)),
            Some(TlsReason::UnknownIssuer)
        );
        assert_eq!(verdict(&pki, pki.ca.der()), Some(TlsReason::CaUsedAsEndEntity));
        assert_eq!(
            verdict(&pki, &leaf(&pki, "example.com", 2999)),
            Some(TlsReason::NameMismatch)
        );
        assert_eq!(verdict(&pki, &leaf(&pki, "localhost", 2001)), Some(TlsReason::Expired));
        let mut p = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2990, 1, 1);
        p.not_after = rcgen::date_time_ymd(2999, 1, 1);
        let future = p.signed_by(&rcgen::KeyPair::generate().unwrap(), &pki.ca).unwrap();
        assert_eq!(verdict(&pki, future.der()), Some(TlsReason::NotValidYet));
        assert_eq!(
            verdict(&pki, &CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])),
            Some(TlsReason::BadCertificate)
        );
    }

    #[test]
    fn other_errors_are_handshake_failures_and_keys_are_distinct() {
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(TlsReason::of_rustls(&alert), TlsReason::HandshakeFailure);
        let revoked = rustls::Error::InvalidCertificate(CertificateError::Revoked);
        assert_eq!(TlsReason::of_rustls(&revoked), TlsReason::Revoked);
        let keys: std::collections::BTreeSet<_> = TlsReason::ALL.iter().map(|r| r.key()).collect();
        assert_eq!(keys.len(), TlsReason::ALL.len());
        // Every reason stays a TLS failure for a status gate `"tls"`.
        let tls = Some(crate::dlt::gates::Transport::Tls);
        assert!(
            keys.iter().all(|k| crate::dlt::gates::Transport::of_key(k) == tls),
            "{keys:?}"
        );
    }

    #[test]
    fn ca_bundle_check_needs_a_certificate() {
        let dir = std::env::temp_dir().join(format!("dlt-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("ca.pem");
        std::fs::write(&good, ca("bundle CA").ca.pem()).unwrap();
        assert_eq!(check_ca_bundle(&good), Ok(1));
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(check_ca_bundle(&empty)
            .unwrap_err()
            .contains("holds no PEM certificate"));
        assert!(check_ca_bundle(&dir.join("missing.pem"))
            .unwrap_err()
            .contains("scenario.ca_bundle"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
