//! A moto server per test process, plus seeding through the Rust SDK.
//!
//! `Moto::start()` returns `None` (after printing a SKIP note) when no `moto_server` is found, so
//! the AWS tier skips cleanly on machines without the Python venv. moto skips `AWS::Cognito::*`
//! resources inside templates, so [`Moto::seed`] creates the user pool, client, identity pool and
//! admin user through the API and our fixture template echoes their ids as DLT outputs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use dlt_provider::aws::{Clients, Endpoints};
use dlt_provider::resources::provider_config::ENDPOINT_NAMES;

use super::terraform::{self, Terraform, Workspace};

/// Dummy credentials handed to every client and to Terraform; the secret is distinctive so tests
/// can grep logs and state for it.
pub const ACCESS_KEY_ID: &str = "AKIAMOTOTESTKEY00001";
pub const SECRET_ACCESS_KEY: &str = "motoSecretKeyNeverLogged/8f3c2a1b9d7e6f5a4";
pub const REGION: &str = "us-east-1";

/// moto's `GetCredentialsForIdentity` answer (fixed values): what a Cognito-signed DLT call is
/// signed with.
pub const IDENTITY_ACCESS_KEY: &str = "TESTACCESSKEY12345";
pub const IDENTITY_SECRET_KEY: &str = "ABCSECRETKEY";
pub const IDENTITY_SESSION_TOKEN: &str = "ABC12345";

/// The fixture template: echoes Cognito ids under the modified-v3.2.1 output names.
pub const FIXTURE_TEMPLATE: &str = include_str!("../fixtures/stack/dlt-fixture.json");

pub struct Moto {
    child: Child,
    port: u16,
}

fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MOTO_SERVER").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("moto_server"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A minimal HTTP/1.1 exchange with moto's control API (no client crate needed).
fn http(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

impl Moto {
    /// Starts `moto_server` on a free loopback port and waits until it answers.
    pub fn start() -> Option<Moto> {
        let Some(bin) = find_binary() else {
            eprintln!(
                "SKIP: moto_server not found (set MOTO_SERVER or create .venv with moto[server]); AWS tests skipped"
            );
            return None;
        };
        let port = free_port();
        let log = std::env::temp_dir().join(format!("moto-{port}.log"));
        let log_file = std::fs::File::create(&log).ok()?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("VALIDATE_LAMBDA_S3", "false")
            .env("PYTHONHASHSEED", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().ok()?)
            .stderr(log_file)
            .spawn()
            .map_err(|e| eprintln!("SKIP: cannot start {}: {e}", bin.display()))
            .ok()?;
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http(port, "GET", "/moto-api/") == Some(200) {
                moto.reset();
                return Some(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto_server did not become ready on port {port}; see {}", log.display());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL for clients. `localhost`, not `127.0.0.1`: moto resolves template URLs of
    /// the form `http://localhost:<port>/<bucket>/<key>` from its own S3 only for that host.
    pub fn endpoint(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// A `provider "dlt"` block with every endpoint at this server, except those given in
    /// `overrides` as `(service, url)` (e.g. a fault proxy in front of one service).
    pub fn provider_block(&self, overrides: &[(&str, &str)]) -> String {
        let m = self.endpoint();
        let mut block = format!("provider \"dlt\" {{\n  region = \"{REGION}\"\n  endpoints = {{\n");
        // Every AWS service endpoint of the provider block; execute_api (the DLT API, which moto
        // does not serve) only when `overrides` names it.
        let moto_served = |s: &str| s != "execute_api";
        for service in ENDPOINT_NAMES.into_iter().filter(|s| moto_served(s)) {
            let url = overrides
                .iter()
                .find(|(s, _)| *s == service)
                .map_or(m.as_str(), |(_, u)| *u);
            block.push_str(&format!("    {service:<16} = \"{url}\"\n"));
        }
        for (service, url) in overrides.iter().filter(|(s, _)| !moto_served(s)) {
            block.push_str(&format!("    {service:<16} = \"{url}\"\n"));
        }
        block.push_str("  }\n}\n");
        block
    }

    /// Sets the admin user's password to the seeded SSM value, as `dlt_stack.admin_password`
    /// does (`permanent`), or as a temporary password (the user stays FORCE_CHANGE_PASSWORD).
    pub async fn set_password(&self, seed: &Seed, permanent: bool) {
        self.clients()
            .await
            .cognito_idp
            .admin_set_user_password()
            .user_pool_id(&seed.user_pool_id)
            .username(&seed.username)
            .password(&seed.password)
            .permanent(permanent)
            .send()
            .await
            .expect("admin set user password");
    }

    /// Wipes every backend.
    pub fn reset(&self) {
        assert_eq!(
            http(self.port, "POST", "/moto-api/reset"),
            Some(200),
            "moto reset failed"
        );
    }

    /// SDK clients bound to this server.
    pub async fn clients(&self) -> Clients {
        let endpoint = self.endpoint();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "moto"))
            .load()
            .await;
        let e = Some(endpoint);
        let endpoints = Endpoints {
            cloudformation: e.clone(),
            cognito_idp: e.clone(),
            cognito_identity: e.clone(),
            ssm: e.clone(),
            s3: e.clone(),
            sts: e.clone(),
            cloudfront: e,
            execute_api: None,
        };
        Clients::from_sdk_config(&config, &endpoints)
    }

    /// Creates the password parameter, Cognito pool/client/identity pool/admin user and the
    /// template bucket with the fixture template.
    pub async fn seed(&self) -> Seed {
        let c = self.clients().await;
        let seed_password = "Initial-Passw0rd!";
        let parameter = "/dlt/e2e/admin-password";
        put_password(&c, parameter, seed_password).await;

        use aws_sdk_cognitoidentityprovider::types::{
            ExplicitAuthFlowsType, MessageActionType, PasswordPolicyType, UserPoolPolicyType,
        };
        let pool = c
            .cognito_idp
            .create_user_pool()
            .pool_name("dlt-e2e-user-pool")
            .policies(
                UserPoolPolicyType::builder()
                    .password_policy(
                        PasswordPolicyType::builder()
                            .minimum_length(12)
                            .require_uppercase(true)
                            .require_lowercase(true)
                            .require_numbers(true)
                            .require_symbols(true)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("create user pool");
        let user_pool_id = pool.user_pool().and_then(|p| p.id()).expect("pool id").to_string();
        let client = c
            .cognito_idp
            .create_user_pool_client()
            .user_pool_id(&user_pool_id)
            .client_name("dlt-e2e-userpool-client")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
            .send()
            .await
            .expect("create user pool client");
        let client_id = client
            .user_pool_client()
            .and_then(|p| p.client_id())
            .expect("client id")
            .to_string();
        let identity = c
            .cognito_identity
            .create_identity_pool()
            .identity_pool_name("dlt_e2e_identity_pool")
            .allow_unauthenticated_identities(false)
            .send()
            .await
            .expect("create identity pool");
        let identity_pool_id = identity.identity_pool_id().to_string();
        let username = "dltadmin".to_string();
        c.cognito_idp
            .admin_create_user()
            .user_pool_id(&user_pool_id)
            .username(&username)
            .temporary_password("Temp-Passw0rd!x")
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .expect("create admin user");

        let bucket = "dlt-e2e-templates".to_string();
        let key = "dlt-fixture.json".to_string();
        c.s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        dlt_provider::aws::s3::put_object(&c.s3, &bucket, &key, FIXTURE_TEMPLATE.as_bytes().to_vec(), None)
            .await
            .expect("upload template");
        Seed {
            template_url: format!("http://localhost:{}/{bucket}/{key}", self.port),
            bucket,
            key,
            user_pool_id,
            client_id,
            identity_pool_id,
            username,
            parameter: parameter.to_string(),
            password: seed_password.to_string(),
        }
    }
}

impl Moto {
    /// Starts moto (or skips: `None` when Terraform or moto is missing) and seeds it.
    pub fn start_seeded(rt: &tokio::runtime::Runtime) -> Option<(Moto, Seed)> {
        terraform::primary()?;
        let moto = Moto::start()?;
        let seed = rt.block_on(moto.seed());
        Some((moto, seed))
    }
}

/// A workspace whose provider finds AWS credentials `key`/`secret` in its environment (moto
/// accepts any) and nothing from the machine's own AWS configuration.
pub fn workspace_as(tf: &Terraform, hcl: &str, key: &str, secret: &str) -> Workspace {
    let mut ws = Workspace::new(tf, hcl);
    ws.env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    ws
}

/// [`workspace_as`] with the moto test credentials.
pub fn workspace(tf: &Terraform, hcl: &str) -> Workspace {
    workspace_as(tf, hcl, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What [`Moto::seed`] created.
#[derive(Debug, Clone)]
pub struct Seed {
    pub template_url: String,
    pub bucket: String,
    pub key: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub identity_pool_id: String,
    pub username: String,
    /// SSM parameter holding the admin password.
    pub parameter: String,
    /// Its current value.
    pub password: String,
}

impl Seed {
    /// A `dlt_stack.main` on the fixture template, wired to the seeded Cognito pool and the
    /// password parameter.
    pub fn stack_hcl(&self, name: &str) -> String {
        format!(
            r#"resource "dlt_stack" "main" {{
  name         = "{name}"
  template_url = "{url}"
  parameters = {{
    AdminName          = "{user}"
    MotoUserPoolId     = "{pool}"
    MotoClientId       = "{client}"
    MotoIdentityPoolId = "{identity}"
  }}
  capabilities   = ["CAPABILITY_IAM"]
  admin_password = {{ ssm_parameter = "{param}" }}
}}
"#,
            url = self.template_url,
            user = self.username,
            pool = self.user_pool_id,
            client = self.client_id,
            identity = self.identity_pool_id,
            param = self.parameter,
        )
    }
}

/// Writes (or overwrites) a SecureString; returns the new version.
pub async fn put_password(c: &Clients, name: &str, value: &str) -> i64 {
    c.ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter")
        .version()
}

/// The Cognito status of a user (`CONFIRMED`, `FORCE_CHANGE_PASSWORD`, ...).
pub async fn user_status(c: &Clients, pool: &str, user: &str) -> String {
    c.cognito_idp
        .admin_get_user()
        .user_pool_id(pool)
        .username(user)
        .send()
        .await
        .expect("admin get user")
        .user_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// `InitiateAuth(USER_PASSWORD_AUTH)`; `Ok` when tokens came back.
pub async fn login(c: &Clients, client_id: &str, user: &str, password: &str) -> Result<(), String> {
    let out = c
        .cognito_idp
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .map_err(|e| dlt_provider::aws::ErrorParts::from_sdk(&e).to_string())?;
    match out.authentication_result() {
        Some(r) if r.id_token().is_some() => Ok(()),
        _ => Err(format!("no tokens (challenge {:?})", out.challenge_name())),
    }
}
