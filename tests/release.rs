//! The release layout (`scripts/release`) installs like any released provider: a plain
//! `terraform init` (no dev_overrides) under every available Terraform finds it in a filesystem
//! mirror, through the network mirror protocol and through the provider registry protocol (a
//! release signed with a test GPG key), all served over HTTPS on loopback; the lock file's `zh:`
//! hash is the zip's SHA-256 from SHA256SUMS (a wrong one makes init fail; a registry install
//! records it by itself once the signature verifies), and the installed binary is the one
//! released.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use support::mirror::HttpsMirror;
use support::terraform::{for_each_terraform, provider_binary, Terraform, Workspace};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const SOURCE: &str = "registry.terraform.io/dlt-tools/dlt";
/// The private registry's hostname in the registry tests; the CLI config's `host` block points
/// its `providers.v1` service at the loopback server, so nothing resolves it.
const REGISTRY_HOST: &str = "registry.dlt.example";

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

/// The release directory `scripts/release` made from the binary cargo built for this run. The
/// suite's tests run in separate processes, so it is made once per binary, in cargo's test temp
/// dir under a file lock, and shared.
fn release() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let binary = provider_binary();
        let meta = std::fs::metadata(&binary).expect("provider binary");
        let stamp = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&base).expect("test temp dir");
        let dir = base.join(format!("release-{}-{stamp}", meta.len()));
        let lock = std::fs::File::create(base.join("release.lock")).expect("lock file");
        // SAFETY: flock on a file descriptor this function owns; released when `lock` drops.
        let locked = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
        assert_eq!(locked, 0, "lock {}", base.join("release.lock").display());
        if !dir.join("done").is_file() {
            // Releases of earlier builds of the binary are of no further use.
            for old in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                let name = old.file_name().to_string_lossy().into_owned();
                if name.starts_with("release-") && old.path() != dir {
                    let _ = std::fs::remove_dir_all(old.path());
                }
            }
            std::fs::create_dir_all(&dir).expect("release dir");
            let gnupg = test_signing_key(&dir);
            let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/release"))
                .arg("--binary")
                .arg(&binary)
                .arg("--out")
                .arg(&dir)
                .arg("--gpg-key")
                .arg(SIGNER)
                .env("GNUPGHOME", &gnupg)
                .output()
                .expect("run scripts/release");
            assert!(
                out.status.success(),
                "scripts/release failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::write(dir.join("done"), "").expect("mark release done");
        }
        dir
    })
}

/// The test release's signer (a key made per release, no passphrase).
const SIGNER: &str = "terraform-provider-dlt release test <release-test@example.invalid>";

/// Makes a GPG home under `dir` with one fresh signing key named `uid`; returns the home.
fn gpg_home_with_key(dir: &Path, home: &str, uid: &str) -> PathBuf {
    let gnupg = dir.join(home);
    std::fs::create_dir_all(&gnupg).expect("gnupg home");
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    let out = Command::new("gpg")
        .args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "rsa3072",
            "sign",
            "never",
        ])
        .env("GNUPGHOME", &gnupg)
        .output()
        .expect("gpg (Debian's gnupg; scripts/setup --browser installs it when missing)");
    assert!(
        out.status.success(),
        "gpg key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    gnupg
}

fn test_signing_key(dir: &Path) -> PathBuf {
    gpg_home_with_key(dir, "gnupg", SIGNER)
}

fn zip_name() -> String {
    format!("terraform-provider-dlt_{VERSION}_{}.zip", platform())
}

/// SHA256SUMS as file name → hex digest.
fn sums() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(release().join(format!("terraform-provider-dlt_{VERSION}_SHA256SUMS")))
        .expect("SHA256SUMS");
    text.lines()
        .map(|l| {
            let (hash, name) = l
                .split_once("  ")
                .unwrap_or_else(|| panic!("bad SHA256SUMS line {l:?}"));
            (name.to_string(), hash.to_string())
        })
        .collect()
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read file")))
}

#[test]
fn release_layout_matches_the_registry_protocol() {
    let dir = release();
    let manifest = dir.join(format!("terraform-provider-dlt_{VERSION}_manifest.json"));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).expect("manifest")).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}})
    );

    let sums = sums();
    let names: Vec<&str> = sums.keys().map(String::as_str).collect();
    let manifest_name = format!("terraform-provider-dlt_{VERSION}_manifest.json");
    assert_eq!(
        names,
        [zip_name().as_str(), manifest_name.as_str()],
        "SHA256SUMS covers the zip and manifest"
    );
    for (name, hash) in &sums {
        assert_eq!(&sha256_hex(&dir.join(name)), hash, "{name}");
    }

    // The network mirror index and version document point at the zip with its zh: hash.
    let mirror = dir.join("mirror").join(SOURCE);
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(mirror.join("index.json")).unwrap()).unwrap();
    assert!(index["versions"][VERSION].is_object(), "{index}");
    let version: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mirror.join(format!("{VERSION}.json"))).unwrap()).unwrap();
    let archive = &version["archives"][platform()];
    assert_eq!(archive["url"], zip_name());
    assert_eq!(archive["hashes"][0], format!("zh:{}", sums[&zip_name()]));
    assert_eq!(sha256_hex(&mirror.join(zip_name())), sums[&zip_name()]);

    // The version comes from Cargo.toml, and the binary says the same.
    let out = Command::new(provider_binary()).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("terraform-provider-dlt {VERSION}")
    );
}

/// A workspace whose CLI config is `cli_config` instead of the suite's dev_overrides, with a
/// configuration that pins the released version and uses the provider (validate launches it).
fn plain_workspace(tf: &Terraform, cli_config: &str) -> Workspace {
    workspace_for(tf, "dlt-tools/dlt", cli_config)
}

/// [`plain_workspace`] with the provider's `source` address.
fn workspace_for(tf: &Terraform, source: &str, cli_config: &str) -> Workspace {
    let ws = Workspace::new(
        tf,
        &format!(
            "terraform {{\n  required_providers {{\n    dlt = {{ source = \"{source}\", version = \"{VERSION}\" }}\n  }}\n}}\n\n\
             provider \"dlt\" {{}}\n\n\
             resource \"dlt_test_run\" \"smoke\" {{\n  name     = \"release-smoke\"\n  \
             scenario = {{ requests = [{{ url = \"http://127.0.0.1:9/\" }}] }}\n  \
             load     = {{ concurrency = 1, hold_for = \"1s\" }}\n}}\n"
        ),
    );
    std::fs::write(ws.path().join("cli.tfrc"), cli_config).expect("write cli config");
    ws
}

fn lock_hashes(ws: &Workspace) -> Vec<String> {
    lock_hashes_of(ws, SOURCE)
}

fn lock_hashes_of(ws: &Workspace, source: &str) -> Vec<String> {
    let text = std::fs::read_to_string(ws.path().join(".terraform.lock.hcl")).unwrap_or_default();
    let block = text.split(&format!("provider \"{source}\"")).nth(1).unwrap_or_default();
    block
        .split('"')
        .filter(|s| s.starts_with("h1:") || s.starts_with("zh:"))
        .map(str::to_string)
        .collect()
}

fn write_lock(ws: &Workspace, hashes: &[String]) {
    let list: String = hashes.iter().map(|h| format!("    \"{h}\",\n")).collect();
    std::fs::write(
        ws.path().join(".terraform.lock.hcl"),
        format!("provider \"{SOURCE}\" {{\n  version     = \"{VERSION}\"\n  constraints = \"{VERSION}\"\n  hashes = [\n{list}  ]\n}}\n"),
    )
    .expect("write lock file");
}

/// The binary Terraform unpacked from the zip, and checks it is the released one.
#[track_caller]
fn assert_installed_is_released(ws: &Workspace) {
    assert_installed_from(ws, SOURCE)
}

#[track_caller]
fn assert_installed_from(ws: &Workspace, source: &str) {
    let installed: PathBuf = ws
        .path()
        .join(".terraform/providers")
        .join(source)
        .join(VERSION)
        .join(platform())
        .join(format!("terraform-provider-dlt_v{VERSION}"));
    let same = std::fs::read(&installed).ok() == std::fs::read(provider_binary()).ok();
    assert!(same, "{} is not the released binary", installed.display());
    ws.validate().assert_ok(); // Terraform launches the installed provider for its schema
}

/// Plain `terraform init` in `ws` (its CLI config names a mirror), three times:
/// - with no lock file: installs, and records the package's `h1:` hash. Terraform records a
///   zip's `zh:` hashes only for packages whose SHA256SUMS is signed by a registry key, never for
///   mirror installs, so the `h1:` is all a first mirror init writes;
/// - with a lock file carrying SHA256SUMS' `zh:` hash of the zip (what a team commits from a
///   release): Terraform checks the zip against it, accepts it and keeps it next to the `h1:`;
/// - with a `zh:` hash that is not the zip's: Terraform refuses the package.
#[track_caller]
fn init_and_check_lock_hashes(ws: &Workspace) {
    let label = ws.tf.label();
    let zh = format!("zh:{}", sums()[&zip_name()]);
    ws.run(&["init", "-no-color", "-input=false"]).assert_ok();
    let first = lock_hashes(ws);
    assert!(
        first.len() == 1 && first[0].starts_with("h1:"),
        "{label}: lock hashes after a mirror install: {first:?}"
    );
    assert_installed_is_released(ws);

    std::fs::remove_dir_all(ws.path().join(".terraform")).unwrap();
    write_lock(ws, std::slice::from_ref(&zh));
    ws.run(&["init", "-no-color", "-input=false"]).assert_ok();
    let hashes = lock_hashes(ws);
    assert!(
        hashes.contains(&zh) && hashes.contains(&first[0]),
        "{label}: {hashes:?}"
    );
    assert_installed_is_released(ws);

    std::fs::remove_dir_all(ws.path().join(".terraform")).unwrap();
    write_lock(ws, &[format!("zh:{}", "0".repeat(64))]);
    let out = ws.run(&["init", "-no-color", "-input=false"]);
    out.assert_failed();
    assert!(
        support::flat(&out.all()).contains("doesn't match any of the checksums"),
        "{label}: {}",
        out.all()
    );
}

/// A CLI config installing this provider only through `kind` (`filesystem_mirror`,
/// `network_mirror`) with its `setting` line (`path = ...`, `url = ...`).
fn cli_config(kind: &str, setting: &str) -> String {
    format!(
        "provider_installation {{\n  {kind} {{\n    {setting}\n    include = [\"{SOURCE}\"]\n  }}\n  \
         direct {{\n    exclude = [\"{SOURCE}\"]\n  }}\n}}\n"
    )
}

/// Filesystem mirror (the release's `mirror/`, packed layout): plain init under every Terraform.
#[test]
fn filesystem_mirror_init_under_every_terraform() {
    let mirror = release().join("mirror");
    let cli = cli_config("filesystem_mirror", &format!("path = \"{}\"", mirror.display()));
    for_each_terraform(|tf| init_and_check_lock_hashes(&plain_workspace(tf, &cli)));
}

/// Network mirror protocol over HTTPS on loopback (a test CA, trusted through SSL_CERT_FILE),
/// serving the release's `mirror/` as a static site: plain init under every Terraform fetches
/// index.json, the version document and the zip; and Terraform checks the zip against the
/// `zh:` hash the mirror's version document lists (a mirror listing a wrong hash fails init).
#[test]
fn network_mirror_init_under_every_terraform() {
    let server = HttpsMirror::serve(&release().join("mirror"));
    // The same mirror, but its version document lists a hash that is not the zip's.
    let bad = tempfile::tempdir().unwrap();
    let bad_dir = bad.path().join(SOURCE);
    std::fs::create_dir_all(&bad_dir).unwrap();
    let good_dir = release().join("mirror").join(SOURCE);
    for name in ["index.json".to_string(), zip_name()] {
        std::fs::copy(good_dir.join(&name), bad_dir.join(&name)).unwrap();
    }
    let doc = std::fs::read_to_string(good_dir.join(format!("{VERSION}.json"))).unwrap();
    let doc = doc.replace(&sums()[&zip_name()], &"0".repeat(64));
    std::fs::write(bad_dir.join(format!("{VERSION}.json")), doc).unwrap();
    let bad_server = HttpsMirror::serve(bad.path());

    let certs = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(certs.path(), format!("{}{}", server.ca_pem(), bad_server.ca_pem())).unwrap();
    let cert_file = certs.path().display().to_string();
    for_each_terraform(|tf| {
        let before = server.requests().len();
        let cli = cli_config("network_mirror", &format!("url = \"{}\"", server.url()));
        let mut ws = plain_workspace(tf, &cli);
        ws.env("SSL_CERT_FILE", &cert_file);
        init_and_check_lock_hashes(&ws);
        let served = server.requests()[before..].to_vec();
        let base = format!("/{SOURCE}");
        for want in [
            format!("{base}/index.json"),
            format!("{base}/{VERSION}.json"),
            format!("{base}/{}", zip_name()),
        ] {
            assert!(
                served.contains(&want),
                "{}: {want} not requested; served {served:?}",
                tf.label()
            );
        }

        let cli = cli_config("network_mirror", &format!("url = \"{}\"", bad_server.url()));
        let mut ws = plain_workspace(tf, &cli);
        ws.env("SSL_CERT_FILE", &cert_file);
        let out = ws.run(&["init", "-no-color", "-input=false"]);
        out.assert_failed();
        let text = support::flat(&out.all());
        assert!(
            text.contains("checksum") || text.contains("hash"),
            "{}: {text}",
            tf.label()
        );
        assert!(
            bad_server.requests().iter().any(|p| p.ends_with(".zip")),
            "the zip was fetched and rejected"
        );
    });
}

/// A CLI config whose `host` block sends the private registry's provider service to `url`
/// (`https://127.0.0.1:<port>/`), installing everything directly (the registry protocol).
fn registry_cli_config(url: &str) -> String {
    format!(
        "host \"{REGISTRY_HOST}\" {{\n  services = {{\n    \"providers.v1\" = \"{url}v1/providers/\"\n  }}\n}}\n\n\
         provider_installation {{\n  direct {{}}\n}}\n"
    )
}

/// The provider registry protocol, as a team's private registry serves a signed release: the
/// release's `registry/` tree as a static HTTPS site on loopback. A plain first `terraform init`
/// under every Terraform fetches the versions list, the download document, SHA256SUMS, its
/// signature and the zip; verifies the signature against the key the download document lists;
/// and records the zip's `zh:` hash from SHA256SUMS in the lock file beside the `h1:`, with no
/// lock file to start from. A download document listing another key than the one that signed
/// fails init on the signature.
#[test]
fn registry_protocol_init_records_signed_zh_hashes_under_every_terraform() {
    let source = format!("{REGISTRY_HOST}/dlt-tools/dlt");
    let registry = release().join("registry");
    let base = format!("/v1/providers/dlt-tools/dlt/{VERSION}");
    let (os, arch) = platform()
        .split_once('_')
        .map(|(o, a)| (o.to_string(), a.to_string()))
        .unwrap();
    let download_doc = registry.join(format!("v1/providers/dlt-tools/dlt/{VERSION}/download/{os}/{arch}"));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&download_doc).unwrap()).unwrap();
    assert_eq!(doc["filename"], zip_name());
    assert_eq!(doc["shasum"], sums()[&zip_name()]);
    assert!(release()
        .join(format!("terraform-provider-dlt_{VERSION}_SHA256SUMS.sig"))
        .is_file());
    let server = HttpsMirror::serve(&registry);

    // The same registry, but its download document lists a key that did not sign SHA256SUMS.
    let other = tempfile::tempdir().unwrap();
    let stranger = gpg_home_with_key(other.path(), "gnupg", "someone else <other@example.invalid>");
    let armor = Command::new("gpg")
        .args(["--batch", "--armor", "--export"])
        .env("GNUPGHOME", &stranger)
        .output()
        .expect("gpg export");
    let forged_root = other.path().join("registry");
    copy_tree(&registry, &forged_root);
    let mut forged = doc.clone();
    forged["signing_keys"]["gpg_public_keys"][0]["ascii_armor"] =
        serde_json::Value::String(String::from_utf8_lossy(&armor.stdout).into_owned());
    let forged_doc = forged_root.join(download_doc.strip_prefix(&registry).unwrap());
    std::fs::write(&forged_doc, serde_json::to_string(&forged).unwrap()).unwrap();
    let forged_server = HttpsMirror::serve(&forged_root);

    let certs = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(certs.path(), format!("{}{}", server.ca_pem(), forged_server.ca_pem())).unwrap();
    let cert_file = certs.path().display().to_string();
    let zh = format!("zh:{}", sums()[&zip_name()]);
    for_each_terraform(|tf| {
        let label = tf.label();
        let before = server.requests().len();
        let mut ws = workspace_for(tf, &source, &registry_cli_config(&server.url()));
        ws.env("SSL_CERT_FILE", &cert_file);
        ws.run(&["init", "-no-color", "-input=false"]).assert_ok();
        let hashes = lock_hashes_of(&ws, &source);
        assert!(
            hashes.contains(&zh) && hashes.iter().any(|h| h.starts_with("h1:")),
            "{label}: a signed registry install records the zip's zh: and its h1:; got {hashes:?}"
        );
        assert_installed_from(&ws, &source);
        let served = server.requests()[before..].to_vec();
        for want in [
            "/v1/providers/dlt-tools/dlt/versions".to_string(),
            format!("{base}/download/{os}/{arch}"),
            format!("{base}/files/terraform-provider-dlt_{VERSION}_SHA256SUMS"),
            format!("{base}/files/terraform-provider-dlt_{VERSION}_SHA256SUMS.sig"),
            format!("{base}/files/{}", zip_name()),
        ] {
            assert!(
                served.contains(&want),
                "{label}: {want} not requested; served {served:?}"
            );
        }

        let mut ws = workspace_for(tf, &source, &registry_cli_config(&forged_server.url()));
        ws.env("SSL_CERT_FILE", &cert_file);
        let out = ws.run(&["init", "-no-color", "-input=false"]);
        out.assert_failed();
        let text = support::flat(&out.all());
        assert!(text.contains("signature from unknown issuer"), "{label}: {text}");
        assert!(
            !ws.path().join(".terraform/providers").join(&source).exists(),
            "{label}: nothing installed from a registry whose signature does not verify"
        );
    });
}

/// Copies a directory tree (files and folders; hard links are copied as files).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}
