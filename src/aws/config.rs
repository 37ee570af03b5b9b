//! AWS settings from the provider block and the lazily built SDK clients.
//!
//! `ConfigureProvider` must not touch the network (SPEC), and loading `aws_config` may query IMDS
//! or STS, so [`AwsClients::new`] only records settings; the first CRUD call that needs AWS builds
//! every client once ([`AwsClients::get`]). Endpoints configured in the provider win over
//! `AWS_ENDPOINT_URL*` because the provider block is the more specific, explicit setting.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use tokio::sync::OnceCell;

/// `assume_role` of the provider block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
}

/// Per-service endpoint overrides (`endpoints` of the provider block).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub cloudformation: Option<String>,
    pub cognito_idp: Option<String>,
    pub cognito_identity: Option<String>,
    pub ssm: Option<String>,
    pub s3: Option<String>,
    pub sts: Option<String>,
    pub cloudfront: Option<String>,
    /// Replaces scheme, host and port of the DLT API endpoint (a private API's VPC endpoint, a
    /// proxy); not an SDK client's endpoint.
    pub execute_api: Option<String>,
}

impl Endpoints {
    /// Overrides keyed by the SDK's service id (the key `AWS_ENDPOINT_URL_<SERVICE>` is derived from).
    fn by_service_id(&self) -> BTreeMap<&'static str, String> {
        [
            ("CloudFormation", &self.cloudformation),
            ("Cognito Identity Provider", &self.cognito_idp),
            ("Cognito Identity", &self.cognito_identity),
            ("SSM", &self.ssm),
            ("S3", &self.s3),
            ("STS", &self.sts),
            ("CloudFront", &self.cloudfront),
        ]
        .into_iter()
        .filter_map(|(id, url)| url.as_ref().filter(|u| !u.is_empty()).map(|u| (id, u.clone())))
        .collect()
    }
}

/// What the provider block says about AWS; everything optional falls back to the SDK's standard
/// environment and profile chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub assume_role: Option<AssumeRole>,
    pub endpoints: Endpoints,
}

/// Failure to build the SDK configuration.
#[derive(Debug, thiserror::Error)]
pub enum AwsConfigError {
    #[error(
        "no AWS region is configured: set `region` in the dlt provider block, or AWS_REGION, or a region in the AWS \
         profile"
    )]
    NoRegion,
}

/// The SDK clients the provider uses, built from one [`SdkConfig`].
#[derive(Clone, Debug)]
pub struct Clients {
    /// The loaded configuration (region, credentials provider, retry and timeouts), for callers
    /// that build further clients or sign requests themselves.
    pub sdk_config: SdkConfig,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub cognito_idp: aws_sdk_cognitoidentityprovider::Client,
    pub cognito_identity: aws_sdk_cognitoidentity::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
}

impl Clients {
    /// Builds every client from a loaded configuration, applying explicit endpoint overrides.
    pub fn from_sdk_config(sdk_config: &SdkConfig, endpoints: &Endpoints) -> Clients {
        let cfn = with_endpoint(
            aws_sdk_cloudformation::config::Builder::from(sdk_config),
            &endpoints.cloudformation,
            |b, u| b.endpoint_url(u),
        )
        .retry_classifier(RefusedIsFinal);
        let ssm = with_endpoint(
            aws_sdk_ssm::config::Builder::from(sdk_config),
            &endpoints.ssm,
            |b, u| b.endpoint_url(u),
        )
        .retry_classifier(RefusedIsFinal);
        let idp = with_endpoint(
            aws_sdk_cognitoidentityprovider::config::Builder::from(sdk_config),
            &endpoints.cognito_idp,
            |b, u| b.endpoint_url(u),
        )
        .retry_classifier(RefusedIsFinal);
        let identity = with_endpoint(
            aws_sdk_cognitoidentity::config::Builder::from(sdk_config),
            &endpoints.cognito_identity,
            |b, u| b.endpoint_url(u),
        )
        .retry_classifier(RefusedIsFinal);
        let sts = with_endpoint(
            aws_sdk_sts::config::Builder::from(sdk_config),
            &endpoints.sts,
            |b, u| b.endpoint_url(u),
        )
        .retry_classifier(RefusedIsFinal);
        // Emulators and VPC endpoints do not resolve virtual-hosted bucket names, so any custom S3
        // endpoint (explicit or from the environment) switches to path-style addressing.
        let s3_custom = endpoints.s3.as_deref().is_some_and(|u| !u.is_empty())
            || env_set("AWS_ENDPOINT_URL_S3")
            || env_set("AWS_ENDPOINT_URL");
        let s3 = with_endpoint(aws_sdk_s3::config::Builder::from(sdk_config), &endpoints.s3, |b, u| {
            b.endpoint_url(u)
        })
        .force_path_style(s3_custom)
        .retry_classifier(RefusedIsFinal);
        let cloudfront = with_endpoint(
            aws_sdk_cloudfront::config::Builder::from(sdk_config),
            &endpoints.cloudfront,
            |b, u| b.endpoint_url(u),
        )
        .retry_classifier(RefusedIsFinal);
        Clients {
            sdk_config: sdk_config.clone(),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(cfn.build()),
            ssm: aws_sdk_ssm::Client::from_conf(ssm.build()),
            cognito_idp: aws_sdk_cognitoidentityprovider::Client::from_conf(idp.build()),
            cognito_identity: aws_sdk_cognitoidentity::Client::from_conf(identity.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sts: aws_sdk_sts::Client::from_conf(sts.build()),
            cloudfront: aws_sdk_cloudfront::Client::from_conf(cloudfront.build()),
        }
    }

    /// The region the clients sign for.
    pub fn region(&self) -> Option<&str> {
        self.sdk_config.region().map(Region::as_ref)
    }
}

/// Forbids retrying a call whose connection was refused. Standard retry treats every I/O error as
/// transient, so a mistyped or closed endpoint took five attempts with back-off (about 10 s) to
/// fail; a refusal means nothing listens there, which waiting does not change (AWS endpoints do
/// not refuse connections). Resets, timeouts and throttling are still retried.
#[derive(Debug, Clone, Copy)]
pub struct RefusedIsFinal;

impl ClassifyRetry for RefusedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let refused = matches!(ctx.output_or_error(), Some(Err(e)) if e.as_connector_error().is_some_and(is_refused));
        if refused {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "connection refused is final"
    }
}

fn is_refused(e: &ConnectorError) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

fn with_endpoint<B>(builder: B, url: &Option<String>, set: impl FnOnce(B, &str) -> B) -> B {
    match url.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => set(builder, u),
        None => builder,
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// A cheap, cloneable handle to the provider's AWS clients, built on first use.
#[derive(Clone)]
pub struct AwsClients {
    settings: Arc<AwsSettings>,
    cell: Arc<OnceCell<Clients>>,
}

impl fmt::Debug for AwsClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsClients")
            .field("settings", &self.settings)
            .field("loaded", &self.cell.initialized())
            .finish()
    }
}

/// Connect quickly fails an unreachable endpoint; the attempt timeout bounds one slow call; the
/// operation timeout bounds all retries of a call (not a stack wait, which has its own timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_ATTEMPTS: u32 = 5;

impl AwsClients {
    /// Records the settings; performs no I/O.
    pub fn new(settings: AwsSettings) -> AwsClients {
        AwsClients {
            settings: Arc::new(settings),
            cell: Arc::new(OnceCell::new()),
        }
    }

    /// A handle around already built clients (tests with mocked or emulator-bound clients).
    pub fn from_clients(settings: AwsSettings, clients: Clients) -> AwsClients {
        AwsClients {
            settings: Arc::new(settings),
            cell: Arc::new(OnceCell::new_with(Some(clients))),
        }
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The clients, loading the AWS configuration on the first call. A failed load is not cached,
    /// so a later call can succeed once the environment is fixed.
    pub async fn get(&self) -> Result<&Clients, AwsConfigError> {
        self.cell.get_or_try_init(|| load(&self.settings)).await
    }
}

/// Serves explicit endpoints to the SDK's per-service lookup and delegates every other key to the
/// environment/profile loader, so assume-role's internal STS client also honours `endpoints.sts`.
#[derive(Debug)]
struct EndpointOverrides {
    by_service: BTreeMap<&'static str, String>,
    /// The configuration as loaded from the environment; its service config answers the rest.
    inner: Option<SdkConfig>,
}

impl LoadServiceConfig for EndpointOverrides {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.env() == "AWS_ENDPOINT_URL" {
            if let Some(url) = self.by_service.get(key.service_id()) {
                return Some(url.clone());
            }
        }
        self.inner
            .as_ref()
            .and_then(|c| c.service_config())
            .and_then(|c| c.load_config(key))
    }
}

async fn load(settings: &AwsSettings) -> Result<Clients, AwsConfigError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build(),
    );
    // Standard retry with a few more attempts than the SDK default, unless the user tuned it.
    if !env_set("AWS_MAX_ATTEMPTS") && !env_set("AWS_RETRY_MODE") {
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    }
    if let Some(region) = settings.region.as_deref().filter(|r| !r.is_empty()) {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(profile) = settings.profile.as_deref().filter(|p| !p.is_empty()) {
        loader = loader.profile_name(profile);
    }
    let base = loader.load().await;
    if base.region().is_none() {
        return Err(AwsConfigError::NoRegion);
    }
    let overrides = EndpointOverrides {
        by_service: settings.endpoints.by_service_id(),
        inner: Some(base.clone()),
    };
    let mut config = base.into_builder().service_config(overrides).build();

    if let Some(role) = &settings.assume_role {
        log::debug!("assuming role {} for AWS calls", role.role_arn);
        let mut builder = aws_config::sts::AssumeRoleProvider::builder(role.role_arn.clone())
            .session_name(
                role.session_name
                    .clone()
                    .unwrap_or_else(|| "terraform-provider-dlt".to_string()),
            )
            .configure(&config);
        if let Some(external_id) = &role.external_id {
            builder = builder.external_id(external_id.clone());
        }
        let provider = builder.build().await;
        config = config
            .into_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
            .build();
    }
    log::debug!(
        "AWS configuration loaded (region {}, endpoint overrides: {:?})",
        config.region().map(Region::as_ref).unwrap_or("-"),
        settings.endpoints.by_service_id().keys().collect::<Vec<_>>()
    );
    Ok(Clients::from_sdk_config(&config, &settings.endpoints))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_is_lazy_and_debug_shows_no_clients() {
        let clients = AwsClients::new(AwsSettings {
            region: Some("eu-west-1".into()),
            ..AwsSettings::default()
        });
        assert!(format!("{clients:?}").contains("loaded: false"));
    }

    #[test]
    fn overrides_win_over_environment_for_their_service_only() {
        let endpoints = Endpoints {
            ssm: Some("http://localhost:1".into()),
            ..Endpoints::default()
        };
        let o = EndpointOverrides {
            by_service: endpoints.by_service_id(),
            inner: None,
        };
        let key = |id| {
            ServiceConfigKey::builder()
                .service_id(id)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
        };
        assert_eq!(
            o.load_config(key("SSM").build().unwrap()),
            Some("http://localhost:1".into())
        );
        assert_eq!(o.load_config(key("S3").build().unwrap()), None);
    }

    #[tokio::test]
    async fn explicit_endpoints_reach_the_clients() {
        let sdk = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .behavior_version(BehaviorVersion::latest())
            .build();
        let endpoints = Endpoints {
            cloudformation: Some("http://localhost:9".into()),
            ..Endpoints::default()
        };
        let c = Clients::from_sdk_config(&sdk, &endpoints);
        assert_eq!(c.region(), Some("us-east-1"));
        assert_eq!(
            c.cloudformation.config().region().map(|r| r.as_ref()),
            Some("us-east-1")
        );
    }
}

#[cfg(test)]
mod retry_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_credential_types::Credentials;
    use aws_smithy_runtime_api::box_error::BoxError;
    use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
    use aws_smithy_runtime_api::client::interceptors::Intercept;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::config_bag::ConfigBag;

    use super::*;

    /// Counts transmitted attempts of every call through the client.
    #[derive(Debug, Clone, Default)]
    struct Attempts(Arc<AtomicUsize>);

    impl Intercept for Attempts {
        fn name(&self) -> &'static str {
            "attempt counter"
        }
        fn read_before_transmit(
            &self,
            _: &BeforeTransmitInterceptorContextRef<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    async fn attempts_against(endpoint: String) -> usize {
        let sdk = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                Credentials::for_tests(),
            ))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(2)),
            )
            .build();
        let clients = Clients::from_sdk_config(
            &sdk,
            &Endpoints {
                cloudformation: Some(endpoint),
                ..Endpoints::default()
            },
        );
        let counter = Attempts::default();
        let cfn = aws_sdk_cloudformation::Client::from_conf(
            clients
                .cloudformation
                .config()
                .to_builder()
                .interceptor(counter.clone())
                .build(),
        );
        let err = cfn.describe_stacks().stack_name("dlt").send().await;
        assert!(err.is_err());
        counter.0.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_refused_connection_is_not_retried() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert_eq!(attempts_against(format!("http://127.0.0.1:{port}")).await, 1);
    }

    #[tokio::test]
    async fn a_reset_connection_is_still_retried() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            // Accept and close at once, three times: the client sees the connection dropped.
            for s in listener.incoming().take(3) {
                drop(s);
            }
        });
        assert_eq!(attempts_against(format!("http://127.0.0.1:{port}")).await, 3);
    }
}
