//! TLS client setup for HTTPS targets: the platform roots plus `SSL_CERT_FILE` when set (for
//! private CAs in CI), ALPN offering HTTP/2 then HTTP/1.1.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

pub(crate) fn client_config() -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        log::debug!("local engine: skipping unreadable platform certificates: {err}");
    }
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
        let certs = CertificateDer::pem_file_iter(&path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("reading SSL_CERT_FILE {}: {e}", path.to_string_lossy()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "SSL_CERT_FILE {} holds no usable certificate",
                path.to_string_lossy()
            ));
        }
    }
    if roots.is_empty() {
        return Err("no trusted root certificates found (install ca-certificates or set SSL_CERT_FILE)".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
