//! Temporary AWS credentials for the DLT API from the stack's Cognito user and identity pools,
//! the way the DLT console gets them: user-pool login (USER_PASSWORD_AUTH or USER_SRP_AUTH) →
//! IdToken → identity pool `GetId` + `GetCredentialsForIdentity` → SigV4 credentials of the
//! `DLTCognitoAuthorizedRole`.
//!
//! [`CognitoCredentialsProvider`] implements the SDK's `ProvideCredentials`, so the DLT client
//! signs with it exactly as with the provider's own IAM credentials. Identity-pool credentials
//! are short-lived (1 h on AWS, 90 s on moto) and a DLT run can last longer, so the provider
//! renews them before they expire: with the IdToken while it is valid, else with the refresh
//! token, else with a fresh login.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{self, error::CredentialsError, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, AuthenticationResultType, ChallengeNameType};
use tokio::sync::Mutex;

use super::error::ErrorParts;
use super::secret::Secret;
use super::srp::{cognito_timestamp, SrpClient, SrpError};

/// The user-pool login flow (`dlt.cognito.auth_flow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthFlow {
    /// Needs `ALLOW_USER_PASSWORD_AUTH` on the app client (the modified v3.2.1 template).
    #[default]
    UserPassword,
    /// Works with every DLT template (upstream v3.2.1 and v4.1+ allow only SRP).
    UserSrp,
}

impl FromStr for AuthFlow {
    type Err = String;
    fn from_str(s: &str) -> Result<AuthFlow, String> {
        match s {
            "USER_PASSWORD_AUTH" => Ok(AuthFlow::UserPassword),
            "USER_SRP_AUTH" => Ok(AuthFlow::UserSrp),
            other => Err(format!(
                "unsupported auth_flow {other:?}; use USER_PASSWORD_AUTH or USER_SRP_AUTH"
            )),
        }
    }
}

/// What the `cognito` block of `dlt_test_run` says, with the password already read from SSM.
#[derive(Debug, Clone)]
pub struct CognitoSettings {
    pub user_pool_id: String,
    pub client_id: String,
    pub identity_pool_id: String,
    pub username: String,
    pub password: Secret,
    pub auth_flow: AuthFlow,
}

impl CognitoSettings {
    /// The identity-pool `Logins` key. The user pool's region is the prefix of its id, which may
    /// differ from the region the clients are configured for.
    pub fn logins_key(&self) -> String {
        let region = self.user_pool_id.split_once('_').map(|(r, _)| r).unwrap_or_default();
        format!("cognito-idp.{region}.amazonaws.com/{}", self.user_pool_id)
    }
}

/// Why Cognito gave no credentials. Messages carry AWS's code and text (with the password
/// redacted), never tokens or keys.
#[derive(Debug, thiserror::Error)]
pub enum CognitoAuthError {
    #[error(
        "Cognito user {username:?} in user pool {user_pool_id} still has a temporary password (status \
         FORCE_CHANGE_PASSWORD, challenge NEW_PASSWORD_REQUIRED); set `admin_password` on the `dlt_stack` resource so \
         the provider sets a permanent password from SSM, or set one with `aws cognito-idp admin-set-user-password \
         --permanent`"
    )]
    NewPasswordRequired { username: String, user_pool_id: String },
    #[error(
        "Cognito asked for the unsupported challenge {0} (MFA and custom challenges are not supported for DLT logins)"
    )]
    UnsupportedChallenge(String),
    #[error("Cognito {operation} failed: {cause}{hint}")]
    Api {
        operation: &'static str,
        cause: ErrorParts,
        hint: &'static str,
    },
    #[error("Cognito {operation} returned no {field}")]
    Missing {
        operation: &'static str,
        field: &'static str,
    },
    #[error("USER_SRP_AUTH: {0}")]
    Srp(#[from] SrpError),
}

/// Renewal margin: min(5 min, lifetime / 3), so moto's 90 s credentials are renewed after 60 s
/// and one-hour AWS credentials 5 minutes before they expire.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 3).min(Duration::from_secs(300))
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

struct Tokens {
    id_token: Secret,
    refresh_token: Option<Secret>,
    id_token_expires: SystemTime,
}

struct Cached {
    credentials: Credentials,
    renew_at: SystemTime,
}

#[derive(Default)]
struct State {
    tokens: Option<Tokens>,
    identity_id: Option<String>,
    cached: Option<Cached>,
}

/// Cognito-backed AWS credentials, renewed before expiry. Cheap to clone (shared state).
#[derive(Clone)]
pub struct CognitoCredentialsProvider {
    idp: aws_sdk_cognitoidentityprovider::Client,
    identity: aws_sdk_cognitoidentity::Client,
    settings: Arc<CognitoSettings>,
    state: Arc<Mutex<State>>,
    clock: Clock,
    calls: Arc<std::sync::atomic::AtomicU64>,
}

impl fmt::Debug for CognitoCredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CognitoCredentialsProvider")
            .field("user_pool_id", &self.settings.user_pool_id)
            .field("identity_pool_id", &self.settings.identity_pool_id)
            .field("username", &self.settings.username)
            .field("auth_flow", &self.settings.auth_flow)
            .finish_non_exhaustive()
    }
}

impl CognitoCredentialsProvider {
    /// Uses SDK clients built elsewhere (the provider's [`super::Clients`], which carry endpoint
    /// overrides, or test clients). The Cognito calls used here are unsigned, so the clients'
    /// own credentials do not matter.
    pub fn new(
        idp: aws_sdk_cognitoidentityprovider::Client,
        identity: aws_sdk_cognitoidentity::Client,
        settings: CognitoSettings,
    ) -> CognitoCredentialsProvider {
        CognitoCredentialsProvider {
            idp,
            identity,
            settings: Arc::new(settings),
            state: Arc::new(Mutex::new(State::default())),
            clock: Arc::new(SystemTime::now),
            calls: Arc::default(),
        }
    }

    /// Builds both clients from an SDK configuration with optional endpoint overrides.
    pub fn from_sdk_config(
        sdk_config: &aws_types::SdkConfig,
        cognito_idp_endpoint: Option<&str>,
        cognito_identity_endpoint: Option<&str>,
        settings: CognitoSettings,
    ) -> CognitoCredentialsProvider {
        let mut idp = aws_sdk_cognitoidentityprovider::config::Builder::from(sdk_config);
        if let Some(url) = cognito_idp_endpoint.filter(|u| !u.is_empty()) {
            idp = idp.endpoint_url(url);
        }
        let mut identity = aws_sdk_cognitoidentity::config::Builder::from(sdk_config);
        if let Some(url) = cognito_identity_endpoint.filter(|u| !u.is_empty()) {
            identity = identity.endpoint_url(url);
        }
        CognitoCredentialsProvider::new(
            aws_sdk_cognitoidentityprovider::Client::from_conf(idp.build()),
            aws_sdk_cognitoidentity::Client::from_conf(identity.build()),
            settings,
        )
    }

    /// Replaces the wall clock (tests of the renewal logic).
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Number of Cognito API calls made so far (logins, refreshes, identity calls).
    pub fn api_calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Current credentials, renewing them when they are within the margin of their expiry.
    pub async fn credentials(&self) -> Result<Credentials, CognitoAuthError> {
        let mut state = self.state.lock().await;
        let now = (self.clock)();
        if let Some(cached) = &state.cached {
            if now < cached.renew_at {
                return Ok(cached.credentials.clone());
            }
            log::debug!("Cognito credentials are due for renewal");
        }
        let id_token = self.valid_id_token(&mut state, now).await?;
        let logins_key = self.settings.logins_key();
        let identity_id = match &state.identity_id {
            Some(id) => id.clone(),
            None => {
                self.count();
                let out = self
                    .identity
                    .get_id()
                    .identity_pool_id(&self.settings.identity_pool_id)
                    .logins(&logins_key, id_token.expose())
                    .send()
                    .await
                    .map_err(|e| self.api_error("GetId", ErrorParts::from_sdk(&e)))?;
                let id = out
                    .identity_id()
                    .ok_or(CognitoAuthError::Missing {
                        operation: "GetId",
                        field: "IdentityId",
                    })?
                    .to_string();
                state.identity_id = Some(id.clone());
                id
            }
        };
        self.count();
        let out = self
            .identity
            .get_credentials_for_identity()
            .identity_id(&identity_id)
            .logins(&logins_key, id_token.expose())
            .send()
            .await
            .map_err(|e| self.api_error("GetCredentialsForIdentity", ErrorParts::from_sdk(&e)))?;
        let missing = |field| CognitoAuthError::Missing {
            operation: "GetCredentialsForIdentity",
            field,
        };
        let c = out.credentials().ok_or(missing("Credentials"))?;
        let expiry = c
            .expiration()
            .and_then(|d| SystemTime::try_from(*d).ok())
            .unwrap_or_else(|| now + Duration::from_secs(3600));
        let credentials = Credentials::new(
            c.access_key_id().ok_or(missing("AccessKeyId"))?,
            c.secret_key().ok_or(missing("SecretKey"))?,
            c.session_token().map(str::to_string),
            Some(expiry),
            "cognito-identity-pool",
        );
        let lifetime = expiry.duration_since(now).unwrap_or_default();
        let renew_at = expiry.checked_sub(refresh_margin(lifetime)).unwrap_or(now);
        log::debug!(
            "Cognito identity-pool credentials obtained, valid for {}s, renewal in {}s",
            lifetime.as_secs(),
            renew_at.duration_since(now).unwrap_or_default().as_secs()
        );
        state.cached = Some(Cached {
            credentials: credentials.clone(),
            renew_at,
        });
        Ok(credentials)
    }

    fn count(&self) {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn api_error(&self, operation: &'static str, mut cause: ErrorParts) -> CognitoAuthError {
        cause.message = self.settings.password.redact_from(&cause.message);
        let hint = match (operation, cause.code.as_deref()) {
            ("InitiateAuth", Some("InvalidParameterException")) if self.settings.auth_flow == AuthFlow::UserPassword => {
                " (the app client may not allow USER_PASSWORD_AUTH: upstream DLT templates allow only SRP; set auth_flow = \
                 \"USER_SRP_AUTH\")"
            }
            (_, Some("NotAuthorizedException")) if operation != "GetId" && operation != "GetCredentialsForIdentity" => {
                " (check the username and the password in SSM)"
            }
            _ => "",
        };
        CognitoAuthError::Api { operation, cause, hint }
    }

    /// An IdToken valid for at least another minute: the cached one, a refreshed one, or one
    /// from a new login (when the refresh token is missing or rejected).
    async fn valid_id_token(&self, state: &mut State, now: SystemTime) -> Result<Secret, CognitoAuthError> {
        if let Some(t) = &state.tokens {
            if now + Duration::from_secs(60) < t.id_token_expires {
                return Ok(t.id_token.clone());
            }
            if let Some(refresh) = t.refresh_token.clone() {
                match self.refresh(&refresh, now).await {
                    Ok(tokens) => {
                        let id = tokens.id_token.clone();
                        state.tokens = Some(tokens);
                        return Ok(id);
                    }
                    Err(e) => log::info!("Cognito token refresh failed ({e}); logging in again"),
                }
            }
        }
        let tokens = self.login_at(now).await?;
        let id = tokens.id_token.clone();
        state.tokens = Some(tokens);
        Ok(id)
    }

    async fn refresh(&self, refresh_token: &Secret, now: SystemTime) -> Result<Tokens, CognitoAuthError> {
        self.count();
        let out = self
            .idp
            .initiate_auth()
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .client_id(&self.settings.client_id)
            .auth_parameters("REFRESH_TOKEN", refresh_token.expose())
            .send()
            .await
            .map_err(|e| self.api_error("InitiateAuth", ErrorParts::from_sdk(&e)))?;
        let result = out.authentication_result().ok_or(CognitoAuthError::Missing {
            operation: "InitiateAuth",
            field: "AuthenticationResult",
        })?;
        let mut tokens = tokens_from(result, now)?;
        // REFRESH_TOKEN_AUTH does not return a new refresh token unless rotation is enabled.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }

    /// Logs in with the configured flow and returns fresh tokens.
    async fn login_at(&self, now: SystemTime) -> Result<Tokens, CognitoAuthError> {
        log::debug!(
            "Cognito login of {:?} to user pool {} ({:?})",
            self.settings.username,
            self.settings.user_pool_id,
            self.settings.auth_flow
        );
        match self.settings.auth_flow {
            AuthFlow::UserPassword => {
                self.count();
                let out = self
                    .idp
                    .initiate_auth()
                    .auth_flow(AuthFlowType::UserPasswordAuth)
                    .client_id(&self.settings.client_id)
                    .auth_parameters("USERNAME", &self.settings.username)
                    .auth_parameters("PASSWORD", self.settings.password.expose())
                    .send()
                    .await
                    .map_err(|e| self.api_error("InitiateAuth", ErrorParts::from_sdk(&e)))?;
                self.finish(out.authentication_result(), out.challenge_name(), now)
            }
            AuthFlow::UserSrp => {
                let first = self.srp_login(None, now).await;
                match first {
                    // moto (unlike Cognito) looks the user up by USERNAME only and rejects the
                    // USER_ID_FOR_SRP (a sub) there; retry once with the plain username.
                    Err(CognitoAuthError::Api {
                        operation: "RespondToAuthChallenge",
                        cause,
                        ..
                    }) if cause.code_is("UserNotFoundException") => {
                        self.srp_login(Some(&self.settings.username), now).await
                    }
                    other => other,
                }
            }
        }
    }

    async fn srp_login(&self, username_override: Option<&str>, now: SystemTime) -> Result<Tokens, CognitoAuthError> {
        let srp = SrpClient::new(&self.settings.user_pool_id)?;
        self.count();
        let out = self
            .idp
            .initiate_auth()
            .auth_flow(AuthFlowType::UserSrpAuth)
            .client_id(&self.settings.client_id)
            .auth_parameters("USERNAME", &self.settings.username)
            .auth_parameters("SRP_A", srp.srp_a())
            .send()
            .await
            .map_err(|e| self.api_error("InitiateAuth", ErrorParts::from_sdk(&e)))?;
        match out.challenge_name() {
            Some(ChallengeNameType::PasswordVerifier) => {}
            other => return self.finish(out.authentication_result(), other, now),
        }
        let empty = HashMap::new();
        let params = out.challenge_parameters().unwrap_or(&empty);
        let get = |field: &'static str| {
            params.get(field).cloned().ok_or(CognitoAuthError::Missing {
                operation: "InitiateAuth",
                field,
            })
        };
        let user_id = get("USER_ID_FOR_SRP")?;
        let secret_block = get("SECRET_BLOCK")?;
        let timestamp = cognito_timestamp(now.into());
        let signature = srp.password_claim_signature(
            &user_id,
            self.settings.password.expose(),
            &get("SALT")?,
            &get("SRP_B")?,
            &secret_block,
            &timestamp,
        )?;
        self.count();
        let mut req = self
            .idp
            .respond_to_auth_challenge()
            .client_id(&self.settings.client_id)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .challenge_responses("USERNAME", username_override.unwrap_or(&user_id))
            .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", secret_block)
            .challenge_responses("PASSWORD_CLAIM_SIGNATURE", signature)
            .challenge_responses("TIMESTAMP", timestamp);
        if let Some(session) = out.session() {
            req = req.session(session);
        }
        let out = req
            .send()
            .await
            .map_err(|e| self.api_error("RespondToAuthChallenge", ErrorParts::from_sdk(&e)))?;
        self.finish(out.authentication_result(), out.challenge_name(), now)
    }

    fn finish(
        &self,
        result: Option<&AuthenticationResultType>,
        challenge: Option<&ChallengeNameType>,
        now: SystemTime,
    ) -> Result<Tokens, CognitoAuthError> {
        match (result, challenge) {
            (Some(r), _) => tokens_from(r, now),
            (None, Some(ChallengeNameType::NewPasswordRequired)) => Err(CognitoAuthError::NewPasswordRequired {
                username: self.settings.username.clone(),
                user_pool_id: self.settings.user_pool_id.clone(),
            }),
            (None, Some(other)) => Err(CognitoAuthError::UnsupportedChallenge(other.as_str().to_string())),
            (None, None) => Err(CognitoAuthError::Missing {
                operation: "InitiateAuth",
                field: "AuthenticationResult",
            }),
        }
    }
}

fn tokens_from(r: &AuthenticationResultType, now: SystemTime) -> Result<Tokens, CognitoAuthError> {
    let id_token = r.id_token().ok_or(CognitoAuthError::Missing {
        operation: "InitiateAuth",
        field: "IdToken",
    })?;
    let lifetime = if r.expires_in() > 0 {
        r.expires_in() as u64
    } else {
        3600
    };
    Ok(Tokens {
        id_token: Secret::new(id_token),
        refresh_token: r.refresh_token().map(Secret::new),
        id_token_expires: now + Duration::from_secs(lifetime),
    })
}

impl ProvideCredentials for CognitoCredentialsProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.credentials().await.map_err(CredentialsError::provider_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use aws_sdk_cognitoidentity::operation::get_credentials_for_identity::GetCredentialsForIdentityOutput;
    use aws_sdk_cognitoidentity::operation::get_id::GetIdOutput;
    use aws_sdk_cognitoidentityprovider::operation::initiate_auth::{InitiateAuthError, InitiateAuthOutput};
    use aws_sdk_cognitoidentityprovider::types::error::NotAuthorizedException;
    use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
    use aws_types::region::Region;

    use super::*;

    const PASSWORD: &str = "Very-Secret-Pw-123!";

    fn settings(flow: AuthFlow) -> CognitoSettings {
        CognitoSettings {
            user_pool_id: "eu-west-1_Pool123".into(),
            client_id: "client".into(),
            identity_pool_id: "eu-west-1:pool".into(),
            username: "dltadmin".into(),
            password: Secret::new(PASSWORD),
            auth_flow: flow,
        }
    }

    fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
        rules
            .iter()
            .fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| {
                i.with_rule(r)
            })
    }

    fn clients(idp_rules: &[&Rule], id_rules: &[&Rule]) -> CognitoCredentialsProvider {
        let creds = Credentials::new("AKIDTEST", "SECRETTEST", None, None, "test");
        let idp = aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(creds.clone())
            .http_client(create_mock_http_client())
            .interceptor(interceptor(idp_rules))
            .build();
        let identity = aws_sdk_cognitoidentity::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(creds)
            .http_client(create_mock_http_client())
            .interceptor(interceptor(id_rules))
            .build();
        CognitoCredentialsProvider::new(
            aws_sdk_cognitoidentityprovider::Client::from_conf(idp),
            aws_sdk_cognitoidentity::Client::from_conf(identity),
            settings(AuthFlow::UserPassword),
        )
    }

    #[test]
    fn margin_is_smaller_than_motos_lifetime() {
        assert_eq!(refresh_margin(Duration::from_secs(90)), Duration::from_secs(30));
        assert_eq!(refresh_margin(Duration::from_secs(3600)), Duration::from_secs(300));
        assert_eq!(
            settings(AuthFlow::UserSrp).logins_key(),
            "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool123"
        );
        assert_eq!("USER_SRP_AUTH".parse::<AuthFlow>(), Ok(AuthFlow::UserSrp));
        assert!("ADMIN_NO_SRP_AUTH".parse::<AuthFlow>().is_err());
        assert!(!format!("{:?}", settings(AuthFlow::UserPassword)).contains(PASSWORD));
    }

    #[tokio::test]
    async fn force_change_password_points_at_admin_password() {
        let login = mock!(aws_sdk_cognitoidentityprovider::Client::initiate_auth).then_output(|| {
            InitiateAuthOutput::builder()
                .challenge_name(ChallengeNameType::NewPasswordRequired)
                .session("s")
                .build()
        });
        let p = clients(&[&login], &[]);
        let err = p.credentials().await.expect_err("must fail").to_string();
        assert!(
            err.contains("admin_password") && err.contains("FORCE_CHANGE_PASSWORD"),
            "{err}"
        );
        assert!(!err.contains(PASSWORD));
    }

    #[tokio::test]
    async fn errors_redact_the_password() {
        let login = mock!(aws_sdk_cognitoidentityprovider::Client::initiate_auth).then_error(|| {
            InitiateAuthError::NotAuthorizedException(
                NotAuthorizedException::builder()
                    .message(format!("bad password {PASSWORD}"))
                    .build(),
            )
        });
        let p = clients(&[&login], &[]);
        let err = p.credentials().await.expect_err("must fail").to_string();
        assert!(
            err.contains("NotAuthorizedException") && !err.contains(PASSWORD),
            "{err}"
        );
    }

    /// Renewal with moto-like 90 s credentials: cached until 60 s, then a new
    /// GetCredentialsForIdentity with the same IdToken; after the IdToken's hour, one
    /// REFRESH_TOKEN_AUTH; a rejected refresh token falls back to a password login.
    #[tokio::test]
    async fn renews_before_expiry() {
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let now = Arc::new(AtomicU64::new(0));
        let login = mock!(aws_sdk_cognitoidentityprovider::Client::initiate_auth)
            .match_requests(|r| r.auth_flow() == Some(&AuthFlowType::UserPasswordAuth))
            .then_output(|| {
                InitiateAuthOutput::builder()
                    .authentication_result(
                        AuthenticationResultType::builder()
                            .id_token("id-1")
                            .refresh_token("refresh-1")
                            .expires_in(3600)
                            .build(),
                    )
                    .build()
            });
        let refresh = mock!(aws_sdk_cognitoidentityprovider::Client::initiate_auth)
            .match_requests(|r| r.auth_flow() == Some(&AuthFlowType::RefreshTokenAuth))
            .then_output(|| {
                InitiateAuthOutput::builder()
                    .authentication_result(
                        AuthenticationResultType::builder()
                            .id_token("id-2")
                            .expires_in(3600)
                            .build(),
                    )
                    .build()
            });
        let get_id = mock!(aws_sdk_cognitoidentity::Client::get_id)
            .then_output(|| GetIdOutput::builder().identity_id("eu-west-1:abc").build());
        let now2 = now.clone();
        let creds = mock!(aws_sdk_cognitoidentity::Client::get_credentials_for_identity)
            .match_requests(|r| {
                r.logins()
                    .is_some_and(|l| l.contains_key("cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool123"))
            })
            .then_output(move || {
                let t = now2.load(Ordering::SeqCst);
                GetCredentialsForIdentityOutput::builder()
                    .identity_id("eu-west-1:abc")
                    .credentials(
                        aws_sdk_cognitoidentity::types::Credentials::builder()
                            .access_key_id(format!("AK{t}"))
                            .secret_key("SK")
                            .session_token("TOKEN")
                            .expiration(aws_smithy_types::DateTime::from_secs(1_700_000_000 + t as i64 + 90))
                            .build(),
                    )
                    .build()
            });
        let now3 = now.clone();
        let p = clients(&[&login, &refresh], &[&get_id, &creds])
            .with_clock(move || base + Duration::from_secs(now3.load(Ordering::SeqCst)));

        let c = p.credentials().await.expect("login");
        assert_eq!(c.access_key_id(), "AK0");
        assert_eq!(c.session_token(), Some("TOKEN"));
        assert_eq!((login.num_calls(), get_id.num_calls(), creds.num_calls()), (1, 1, 1));
        now.store(59, Ordering::SeqCst);
        assert_eq!(p.credentials().await.expect("cached").access_key_id(), "AK0");
        assert_eq!(creds.num_calls(), 1);
        now.store(61, Ordering::SeqCst);
        let c = p.provide_credentials().await.expect("renewed");
        assert_eq!(c.access_key_id(), "AK61");
        assert_eq!(
            (
                login.num_calls(),
                refresh.num_calls(),
                get_id.num_calls(),
                creds.num_calls()
            ),
            (1, 0, 1, 2)
        );
        now.store(3600, Ordering::SeqCst);
        assert_eq!(p.credentials().await.expect("refreshed").access_key_id(), "AK3600");
        assert_eq!((login.num_calls(), refresh.num_calls(), creds.num_calls()), (1, 1, 3));
        assert_eq!(p.api_calls(), 6);
    }

    /// Real wire against moto (skipped when `moto_server` is not installed): NEW_PASSWORD_REQUIRED
    /// before the password is set, then USER_PASSWORD_AUTH and USER_SRP_AUTH (moto accepts any
    /// SRP proof, so this checks the message flow; the math is checked by the srp vectors), and
    /// GetId/GetCredentialsForIdentity with moto's 90 s credentials.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flows_against_moto() {
        let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:0") else {
            return;
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        drop(listener);
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            eprintln!("moto_server not found: skipping the Cognito moto test");
            return;
        };
        struct Kill(std::process::Child);
        impl Drop for Kill {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let _guard = Kill(child);
        let endpoint = format!("http://127.0.0.1:{port}");
        let ready = async {
            for _ in 0..100 {
                if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        };
        assert!(ready.await, "moto did not start");
        let sdk = aws_types::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                Credentials::new("test", "test", None, None, "test"),
            ))
            .build();
        let idp = aws_sdk_cognitoidentityprovider::Client::from_conf(
            aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
                .endpoint_url(&endpoint)
                .build(),
        );
        let identity = aws_sdk_cognitoidentity::Client::from_conf(
            aws_sdk_cognitoidentity::config::Builder::from(&sdk)
                .endpoint_url(&endpoint)
                .build(),
        );
        let pool = idp
            .create_user_pool()
            .pool_name("dlt-user-pool")
            .send()
            .await
            .expect("pool");
        let pool_id = pool.user_pool().and_then(|p| p.id()).expect("pool id").to_string();
        let app = idp
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("dlt")
            .send()
            .await
            .expect("client");
        let client_id = app
            .user_pool_client()
            .and_then(|c| c.client_id())
            .expect("client id")
            .to_string();
        let ipool = identity
            .create_identity_pool()
            .identity_pool_name("dlt")
            .allow_unauthenticated_identities(false)
            .send()
            .await
            .expect("identity pool");
        idp.admin_create_user()
            .user_pool_id(&pool_id)
            .username("dltadmin")
            .temporary_password("Temp-Passw0rd!x")
            .send()
            .await
            .expect("user");
        let settings = |flow| CognitoSettings {
            user_pool_id: pool_id.clone(),
            client_id: client_id.clone(),
            identity_pool_id: ipool.identity_pool_id().to_string(),
            username: "dltadmin".into(),
            password: Secret::new(PASSWORD),
            auth_flow: flow,
        };
        let p = CognitoCredentialsProvider::from_sdk_config(
            &sdk,
            Some(&endpoint),
            Some(&endpoint),
            CognitoSettings {
                password: Secret::new("Temp-Passw0rd!x"),
                ..settings(AuthFlow::UserPassword)
            },
        );
        let err = p.credentials().await.expect_err("temporary password");
        assert!(matches!(err, CognitoAuthError::NewPasswordRequired { .. }), "{err}");

        idp.admin_set_user_password()
            .user_pool_id(&pool_id)
            .username("dltadmin")
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .expect("set password");
        for flow in [AuthFlow::UserPassword, AuthFlow::UserSrp] {
            let p = CognitoCredentialsProvider::from_sdk_config(&sdk, Some(&endpoint), Some(&endpoint), settings(flow));
            let c = p.credentials().await.unwrap_or_else(|e| panic!("{flow:?}: {e}"));
            assert!(!c.access_key_id().is_empty() && c.session_token().is_some());
            let lifetime = c
                .expiry()
                .and_then(|e| e.duration_since(SystemTime::now()).ok())
                .unwrap_or_default();
            assert!(lifetime <= Duration::from_secs(91), "moto gives 90 s credentials");
            // Within the margin: served from the cache.
            let calls = p.api_calls();
            p.credentials().await.expect("cached");
            assert_eq!(p.api_calls(), calls);
        }
    }
}
