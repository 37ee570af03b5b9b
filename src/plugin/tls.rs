//! go-plugin AutoMTLS: a fresh self-signed server certificate per process, and a client
//! verifier that pins Terraform's one-shot client certificate.
//!
//! Terraform's client certificate is a self-signed **CA** certificate (ECDSA P-521). webpki
//! refuses a CA certificate used as an end entity, so ordinary chain verification cannot work;
//! instead we require a client certificate and compare it byte for byte with the one Terraform
//! handed us in `PLUGIN_CLIENT_CERT`. That is exactly the trust go-plugin intends: only the
//! process that launched us holds the matching key. The handshake signatures are still
//! verified (aws-lc-rs, which, unlike ring, supports P-521/SHA-512).

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{aws_lc_rs, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

/// Our server certificate and key, generated at start-up.
pub struct ServerIdentity {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

/// Generates a self-signed P-256 certificate for `localhost` (what Terraform dials as server
/// name). P-256 keeps generation and the handshake cheap; rcgen's default validity (1975 to
/// 4096) satisfies Go's time checks without reading the clock.
pub fn generate_server_identity() -> Result<ServerIdentity, String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| format!("key: {e}"))?;
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| format!("cert: {e}"))?;
    let cert = params.self_signed(&key).map_err(|e| format!("cert: {e}"))?;
    Ok(ServerIdentity {
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    })
}

/// The DER of the first certificate in a PEM text (`PLUGIN_CLIENT_CERT`).
pub fn pem_to_der(pem: &str) -> Result<CertificateDer<'static>, String> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("PLUGIN_CLIENT_CERT is not a PEM certificate: {e}"))
}

/// Accepts exactly one client certificate, compared by DER bytes.
#[derive(Debug)]
pub struct PinnedClientCert {
    der: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientCert {
    pub fn new(der: CertificateDer<'static>) -> PinnedClientCert {
        PinnedClientCert {
            der,
            algorithms: aws_lc_rs::default_provider().signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The rustls server configuration for AutoMTLS: our identity, mandatory pinned client
/// certificate, ALPN `h2` (grpc-go ≥ 1.67, i.e. Terraform ≥ 1.12, refuses servers without it).
pub fn server_config(identity: ServerIdentity, client_cert: CertificateDer<'static>) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_client_cert_verifier(Arc::new(PinnedClientCert::new(client_cert)))
        .with_single_cert(vec![identity.cert], identity.key)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_config_build() {
        let id = generate_server_identity().unwrap();
        let client = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let client_cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&client)
            .unwrap();
        let der = pem_to_der(&client_cert.pem()).unwrap();
        assert_eq!(der.as_ref(), client_cert.der().as_ref());
        let cfg = server_config(id, der).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(pem_to_der("garbage").is_err());
    }

    #[test]
    fn pinned_verifier_compares_bytes() {
        let a = CertificateDer::from(vec![1u8, 2, 3]);
        let v = PinnedClientCert::new(a.clone());
        assert!(v.verify_client_cert(&a, &[], UnixTime::now()).is_ok());
        assert!(v
            .verify_client_cert(&CertificateDer::from(vec![1u8, 2]), &[], UnixTime::now())
            .is_err());
        assert!(v.client_auth_mandatory());
        assert!(v
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }
}
