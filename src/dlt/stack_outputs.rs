//! Where the values `dlt_test_run` needs come from on a DLT stack: outputs first, then the
//! stack's resources.
//!
//! Template flavours name their outputs differently (upstream-derived facts from the CDK snapshot
//! tests of v3.2.1 and v4.2.3):
//!
//! | value | upstream v3.2.1 | seed's modified v3.2.1 | v4.2.x |
//! |---|---|---|---|
//! | API endpoint | `DLTApiEndpointD98B09AC` | same | same |
//! | console | `Console` (bare domain) | same | `ConsoleURL` |
//! | Cognito pool / client / identity pool | — | `UserPoolId` / `ClientId` / `IdentityPoolId` | `CognitoUserPoolID` / `CognitoAppClientID` / `CognitoIdentityPoolID` |
//! | scenarios bucket | — | `Bucket3` | `ScenariosBucket` |
//!
//! So each well-known attribute lists its candidate output names; users with other templates map
//! their own names through `output_names`, which then wins outright. What no output gives is
//! looked for among the stack's resources ([`discover`]): upstream v3.2.1 has no Cognito or
//! bucket outputs at all, and a customised template may drop the endpoint output. Both official
//! templates use the same CDK logical ids for these resources (`DLTApi0C903EB5`,
//! `DLTApiDeploymentStageprodC81F8DCB`, `DLTCognitoAuthDLTUserPoolFA41A712`,
//! `DLTCognitoAuthDLTUserPoolClientA2F8B2DB`, `DLTCognitoAuthDLTIdentityPoolE110578F`,
//! `DLTTestRunnerStorageDLTScenariosBucketA9290D21`); v4 adds a second user-pool client for its
//! MCP server (`MCPServerDLTUserPoolClientMachineToMachine…`) and has three buckets, so a type
//! alone is not enough: a resource is taken when it is the only one of its type or its logical
//! id names it, and never when that is ambiguous.

use std::collections::BTreeMap;

/// One resource of a stack as `ListStackResources` reports it (`crate::aws::cloudformation` lists
/// them, following nested stacks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackResource {
    pub logical_id: String,
    /// The resource's name or id (a RestApi id, a user pool id, a bucket name, a nested stack ARN).
    pub physical_id: String,
    /// `AWS::ApiGateway::RestApi`, ...
    pub resource_type: String,
    /// Logical ids of the nested stacks it sits in, outermost first; empty in the root stack.
    pub nested_in: Vec<String>,
}

/// A value taken from the stack outputs (serialised as its attribute name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WellKnown {
    ApiEndpoint,
    ConsoleUrl,
    UserPoolId,
    UserPoolClientId,
    IdentityPoolId,
    ScenariosBucket,
}

impl WellKnown {
    pub const ALL: [WellKnown; 6] = [
        WellKnown::ApiEndpoint,
        WellKnown::ConsoleUrl,
        WellKnown::UserPoolId,
        WellKnown::UserPoolClientId,
        WellKnown::IdentityPoolId,
        WellKnown::ScenariosBucket,
    ];

    /// The Terraform attribute (and `output_names` key) for this value.
    pub fn attribute(self) -> &'static str {
        match self {
            WellKnown::ApiEndpoint => "api_endpoint",
            WellKnown::ConsoleUrl => "console_url",
            WellKnown::UserPoolId => "user_pool_id",
            WellKnown::UserPoolClientId => "user_pool_client_id",
            WellKnown::IdentityPoolId => "identity_pool_id",
            WellKnown::ScenariosBucket => "scenarios_bucket",
        }
    }

    /// Output names looked up, first match wins: modified v3.2.1 first, then v4.
    pub fn output_names(self) -> &'static [&'static str] {
        match self {
            WellKnown::ApiEndpoint => &["DLTApiEndpointD98B09AC"],
            WellKnown::ConsoleUrl => &["Console", "ConsoleURL"],
            WellKnown::UserPoolId => &["UserPoolId", "CognitoUserPoolID"],
            WellKnown::UserPoolClientId => &["ClientId", "CognitoAppClientID"],
            WellKnown::IdentityPoolId => &["IdentityPoolId", "CognitoIdentityPoolID"],
            WellKnown::ScenariosBucket => &["Bucket3", "ScenariosBucket"],
        }
    }

    pub fn from_attribute(name: &str) -> Option<WellKnown> {
        WellKnown::ALL.into_iter().find(|w| w.attribute() == name)
    }
}

/// Resolves every well-known value from `outputs`. `overrides` maps attribute names to output
/// names; an override replaces the built-in candidates (so a wrong mapping shows as null rather
/// than silently falling back to another output).
pub fn resolve(
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<WellKnown, Option<String>> {
    WellKnown::ALL
        .into_iter()
        .map(|w| {
            let raw = match overrides.get(w.attribute()).filter(|n| !n.is_empty()) {
                Some(name) => outputs.get(name).cloned(),
                None => w.output_names().iter().find_map(|n| outputs.get(*n).cloned()),
            };
            (w, raw.filter(|v| !v.is_empty()).map(|v| normalise(w, v)))
        })
        .collect()
}

/// Where a well-known value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `output_names` named this output.
    Mapped(String),
    /// A built-in output name of a DLT template.
    Output(String),
    /// Found among the stack's resources; the text says which (type and logical id).
    Resource(String),
    /// Nowhere.
    Missing,
}

/// Values found among a stack's resources: attribute → (value, which resource).
pub type Discovered = BTreeMap<WellKnown, (String, String)>;

/// Every well-known value with its source, by precedence `output_names` > built-in output names >
/// discovered resources. A value mapped through `output_names` to an output that does not exist
/// stays missing (a wrong mapping shows instead of silently falling back).
pub fn resolve_all(
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
    discovered: &Discovered,
) -> BTreeMap<WellKnown, (Option<String>, Source)> {
    WellKnown::ALL
        .into_iter()
        .map(|w| {
            let found = match overrides.get(w.attribute()).filter(|n| !n.is_empty()) {
                Some(name) => outputs
                    .get(name)
                    .filter(|v| !v.is_empty())
                    .map(|v| (v.clone(), Source::Mapped(name.clone()))),
                None => w
                    .output_names()
                    .iter()
                    .find_map(|n| {
                        outputs
                            .get(*n)
                            .filter(|v| !v.is_empty())
                            .map(|v| (v.clone(), Source::Output(n.to_string())))
                    })
                    .or_else(|| {
                        discovered
                            .get(&w)
                            .map(|(v, from)| (v.clone(), Source::Resource(from.clone())))
                    }),
            };
            let entry = match found {
                Some((v, src)) => (Some(normalise(w, v)), src),
                None => (None, Source::Missing),
            };
            (w, entry)
        })
        .collect()
}

/// The well-known values that neither `output_names` nor a built-in output name gives, i.e.
/// those worth listing the stack's resources for.
pub fn not_in_outputs(outputs: &BTreeMap<String, String>, overrides: &BTreeMap<String, String>) -> Vec<WellKnown> {
    resolve(outputs, overrides)
        .into_iter()
        .filter(|(w, v)| v.is_none() && !overrides.contains_key(w.attribute()))
        .map(|(w, _)| w)
        .collect()
}

/// Where a stack lives, from its ARN `arn:<partition>:cloudformation:<region>:<account>:stack/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackLocation {
    pub partition: String,
    pub region: String,
}

impl StackLocation {
    pub fn from_arn(arn: &str) -> Option<StackLocation> {
        let mut parts = arn.split(':');
        let (Some("arn"), Some(partition), Some(_service), Some(region)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        (!partition.is_empty() && !region.is_empty()).then(|| StackLocation {
            partition: partition.to_string(),
            region: region.to_string(),
        })
    }

    /// The partition's DNS suffix (CloudFormation's `AWS::URLSuffix`).
    pub fn dns_suffix(&self) -> &'static str {
        match self.partition.as_str() {
            "aws-cn" => "amazonaws.com.cn",
            "aws-iso" => "c2s.ic.gov",
            "aws-iso-b" => "sc2s.sgov.gov",
            "aws-iso-e" => "cloud.adc-e.uk",
            "aws-iso-f" => "csp.hci.ic.gov",
            "aws-eusc" => "amazonaws.eu",
            _ => "amazonaws.com",
        }
    }
}

/// The one resource of `ty` that `preferred` picks by logical id (the DLT template's own), else
/// the only one of that type not `excluded`; `None` when absent or ambiguous.
fn pick<'a>(
    resources: &'a [StackResource],
    ty: &str,
    preferred: &[&str],
    excluded: &[&str],
) -> Option<&'a StackResource> {
    let of_type: Vec<&StackResource> = resources
        .iter()
        .filter(|r| r.resource_type == ty && !excluded.iter().any(|x| r.logical_id.contains(x)))
        .collect();
    let named: Vec<&StackResource> = of_type
        .iter()
        .copied()
        .filter(|r| preferred.iter().any(|p| r.logical_id.contains(p)))
        .collect();
    match (named.as_slice(), of_type.as_slice()) {
        ([one], _) => Some(one),
        ([], [one]) => Some(one),
        _ => None,
    }
}

fn describe(r: &StackResource) -> String {
    let mut s = format!("{} {}", r.resource_type, r.logical_id);
    if !r.nested_in.is_empty() {
        s.push_str(&format!(" (nested stack {})", r.nested_in.join("/")));
    }
    s
}

/// Finds the well-known values among a stack's resources (nested stacks included). The console
/// URL needs the CloudFront distribution's domain, which the resource list does not carry: it is
/// returned as the distribution id for the caller to look up ([`console_distribution`]).
pub fn discover(resources: &[StackResource], location: &StackLocation) -> Discovered {
    let mut out = Discovered::new();
    if let Some(api) = pick(resources, "AWS::ApiGateway::RestApi", &["DLTApi"], &[]) {
        // The stage: the stack's Stage resource of that API (CDK names it after the API), else
        // DLT's `prod`.
        let same_stack: Vec<StackResource> = resources
            .iter()
            .filter(|r| r.nested_in == api.nested_in)
            .cloned()
            .collect();
        let stage = pick(&same_stack, "AWS::ApiGateway::Stage", &[&api.logical_id], &[]);
        let (stage_name, from) = match stage {
            Some(s) => (s.physical_id.clone(), format!("{} + {}", describe(api), describe(s))),
            None => ("prod".to_string(), format!("{} (stage prod)", describe(api))),
        };
        out.insert(
            WellKnown::ApiEndpoint,
            (
                format!(
                    "https://{}.execute-api.{}.{}/{stage_name}/",
                    api.physical_id,
                    location.region,
                    location.dns_suffix()
                ),
                from,
            ),
        );
    }
    let simple = [
        (WellKnown::UserPoolId, "AWS::Cognito::UserPool", "DLTUserPool", &[][..]),
        (
            WellKnown::UserPoolClientId,
            "AWS::Cognito::UserPoolClient",
            "DLTUserPoolClient",
            &["MachineToMachine", "MCPServer"][..],
        ),
        (
            WellKnown::IdentityPoolId,
            "AWS::Cognito::IdentityPool",
            "DLTIdentityPool",
            &[][..],
        ),
    ];
    for (w, ty, preferred, excluded) in simple {
        if let Some(r) = pick(resources, ty, &[preferred], excluded) {
            out.insert(w, (r.physical_id.clone(), describe(r)));
        }
    }
    // Buckets: only one whose logical id says it holds the scenarios (DLT has logs, console and
    // scenarios buckets; a lone bucket of another name is not assumed to be it).
    let buckets: Vec<&StackResource> = resources
        .iter()
        .filter(|r| r.resource_type == "AWS::S3::Bucket" && r.logical_id.contains("ScenariosBucket"))
        .collect();
    if let [b] = buckets.as_slice() {
        out.insert(WellKnown::ScenariosBucket, (b.physical_id.clone(), describe(b)));
    }
    out
}

/// The console's CloudFront distribution among the resources: (distribution id, description).
pub fn console_distribution(resources: &[StackResource]) -> Option<(String, String)> {
    pick(
        resources,
        "AWS::CloudFront::Distribution",
        &["DLTConsoleResources", "CloudFrontDistribution"],
        &[],
    )
    .map(|r| (r.physical_id.clone(), describe(r)))
}

/// The warning for values found nowhere: which attribute, where it was looked for, and how to map
/// it. `None` when nothing is missing.
pub fn missing_warning(
    resolved: &BTreeMap<WellKnown, (Option<String>, Source)>,
    looked_at_resources: bool,
    unreadable: &BTreeMap<WellKnown, String>,
) -> Option<String> {
    let missing: Vec<String> = resolved
        .iter()
        .filter(|(_, (v, _))| v.is_none())
        .map(|(w, _)| {
            format!(
                "- {}: no output {}{}; set output_names.{} = \"<output name>\" if your template has it under another name",
                w.attribute(),
                w.output_names().join(" or "),
                match unreadable.get(w) {
                    Some(why) => format!(", and {why}"),
                    None if looked_at_resources => format!(" and no {} resource found", w.resource_hint()),
                    None => String::new(),
                },
                w.attribute()
            )
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "These values of the DLT stack were not found, so their attributes are null:\n{}",
            missing.join("\n")
        )
    })
}

impl WellKnown {
    /// The resource type discovery looks for, for messages.
    fn resource_hint(self) -> &'static str {
        match self {
            WellKnown::ApiEndpoint => "AWS::ApiGateway::RestApi",
            WellKnown::ConsoleUrl => "AWS::CloudFront::Distribution",
            WellKnown::UserPoolId => "AWS::Cognito::UserPool",
            WellKnown::UserPoolClientId => "AWS::Cognito::UserPoolClient",
            WellKnown::IdentityPoolId => "AWS::Cognito::IdentityPool",
            WellKnown::ScenariosBucket => "AWS::S3::Bucket named *ScenariosBucket*",
        }
    }
}

/// What discovery found among the stack's resources, and the values it found a resource for but
/// could not read (value → why), so the warning can say what to grant or map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub found: Discovered,
    pub unreadable: BTreeMap<WellKnown, String>,
}

/// The v3.2.1 `Console` output is a bare CloudFront domain; a URL is what users can click.
fn normalise(w: WellKnown, v: String) -> String {
    if w == WellKnown::ConsoleUrl && !v.contains("://") {
        format!("https://{v}")
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn res(logical: &str, physical: &str, ty: &str) -> StackResource {
        StackResource {
            logical_id: logical.into(),
            physical_id: physical.into(),
            resource_type: ty.into(),
            nested_in: vec![],
        }
    }

    /// The resources both official templates share (logical ids from the CDK snapshot tests).
    fn official(v4: bool) -> Vec<StackResource> {
        let mut r = vec![
            res("DLTApi0C903EB5", "a1b2c3d4e5", "AWS::ApiGateway::RestApi"),
            res("DLTApiDeploymentStageprodC81F8DCB", "prod", "AWS::ApiGateway::Stage"),
            res(
                "DLTCognitoAuthDLTUserPoolFA41A712",
                "eu-west-1_Pool1",
                "AWS::Cognito::UserPool",
            ),
            res(
                "DLTCognitoAuthDLTUserPoolClientA2F8B2DB",
                "client1",
                "AWS::Cognito::UserPoolClient",
            ),
            res(
                "DLTCognitoAuthDLTIdentityPoolE110578F",
                "eu-west-1:ident",
                "AWS::Cognito::IdentityPool",
            ),
            res("DLTCommonResourcesLogsBucket48A2774D", "logs-b", "AWS::S3::Bucket"),
            res(
                "DLTTestRunnerStorageDLTScenariosBucketA9290D21",
                "scen-b",
                "AWS::S3::Bucket",
            ),
        ];
        if v4 {
            r.push(res(
                "MCPServerDLTUserPoolClientMachineToMachineF3DA2105",
                "m2m",
                "AWS::Cognito::UserPoolClient",
            ));
            r.push(res(
                "DLTConsoleResourcesDLTDashboardS3S3Bucket8E2568BB",
                "console-b",
                "AWS::S3::Bucket",
            ));
        }
        r
    }

    fn here() -> StackLocation {
        StackLocation::from_arn("arn:aws:cloudformation:eu-west-1:123456789012:stack/DLT/abc").expect("arn")
    }

    #[test]
    fn discovers_every_value_of_both_official_templates() {
        for v4 in [false, true] {
            let d = discover(&official(v4), &here());
            let v = |w| d.get(&w).map(|(v, _)| v.as_str());
            assert_eq!(
                v(WellKnown::ApiEndpoint),
                Some("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/")
            );
            assert_eq!(v(WellKnown::UserPoolId), Some("eu-west-1_Pool1"));
            assert_eq!(v(WellKnown::UserPoolClientId), Some("client1"), "not the MCP client");
            assert_eq!(v(WellKnown::IdentityPoolId), Some("eu-west-1:ident"));
            assert_eq!(v(WellKnown::ScenariosBucket), Some("scen-b"));
            assert!(d[&WellKnown::ApiEndpoint]
                .1
                .contains("AWS::ApiGateway::Stage DLTApiDeploymentStage"));
        }
    }

    #[test]
    fn stage_partition_nesting_and_ambiguity() {
        // No Stage resource (moto's Deployment makes none): DLT's `prod`; China's DNS suffix.
        let r = vec![res("MyApi", "xyz", "AWS::ApiGateway::RestApi")];
        let cn = StackLocation::from_arn("arn:aws-cn:cloudformation:cn-north-1:1:stack/s/x").expect("arn");
        assert_eq!(
            discover(&r, &cn)[&WellKnown::ApiEndpoint].0,
            "https://xyz.execute-api.cn-north-1.amazonaws.com.cn/prod/"
        );
        // Two APIs, neither DLT's: ambiguous, so nothing; a lone other bucket is not the scenarios one.
        let r = vec![
            res("A", "1", "AWS::ApiGateway::RestApi"),
            res("B", "2", "AWS::ApiGateway::RestApi"),
            res("Data", "d", "AWS::S3::Bucket"),
        ];
        assert!(discover(&r, &here()).is_empty());
        // Nested: found, and said so.
        let mut pool = res("DLTUserPool1", "eu-west-1_N", "AWS::Cognito::UserPool");
        pool.nested_in = vec!["Auth".into()];
        let d = discover(&[pool], &here());
        assert_eq!(d[&WellKnown::UserPoolId].0, "eu-west-1_N");
        assert!(d[&WellKnown::UserPoolId].1.contains("nested stack Auth"));
    }

    #[test]
    fn precedence_and_the_missing_warning() {
        let found = discover(&official(false), &here());
        // Upstream v3.2.1's outputs: endpoint and console only.
        let outputs = map(&[
            ("DLTApiEndpointD98B09AC", "https://out/prod/"),
            ("Console", "d1.cloudfront.net"),
            ("Mine", "my-bucket"),
        ]);
        let r = resolve_all(&outputs, &map(&[("scenarios_bucket", "Mine")]), &found);
        assert_eq!(
            r[&WellKnown::ApiEndpoint],
            (
                Some("https://out/prod/".into()),
                Source::Output("DLTApiEndpointD98B09AC".into())
            )
        );
        assert_eq!(r[&WellKnown::ScenariosBucket].0.as_deref(), Some("my-bucket"));
        assert!(matches!(r[&WellKnown::UserPoolId].1, Source::Resource(_)));
        assert_eq!(
            not_in_outputs(&outputs, &map(&[("scenarios_bucket", "Mine")])),
            vec![
                WellKnown::UserPoolId,
                WellKnown::UserPoolClientId,
                WellKnown::IdentityPoolId
            ]
        );
        // v4's console output name.
        let r = resolve_all(
            &map(&[("ConsoleURL", "https://d4.cloudfront.net")]),
            &BTreeMap::new(),
            &Discovered::new(),
        );
        assert_eq!(
            r[&WellKnown::ConsoleUrl].0.as_deref(),
            Some("https://d4.cloudfront.net")
        );
        let w = missing_warning(&r, true, &BTreeMap::new()).expect("warning");
        assert!(
            w.contains("- user_pool_id: no output UserPoolId or CognitoUserPoolID"),
            "{w}"
        );
        assert!(w.contains("set output_names.api_endpoint"), "{w}");
        assert!(!w.contains("console_url"), "{w}");
    }

    #[test]
    fn the_console_distribution_of_both_official_templates() {
        // Logical ids from the CDK snapshot tests; each template has exactly one distribution.
        for logical in [
            "DLTConsoleResourcesDLTCloudFrontToS3CloudFrontDistribution3EF384B4",
            "DLTConsoleResourcesDLTDashboardS3CloudFrontDistribution1F11B8BB",
        ] {
            let mut r = official(false);
            r.push(res(logical, "E2QWRUHAPOMQZL", "AWS::CloudFront::Distribution"));
            let (id, from) = console_distribution(&r).expect("distribution");
            assert_eq!(id, "E2QWRUHAPOMQZL");
            assert!(from.contains(logical), "{from}");
        }
        assert_eq!(console_distribution(&official(true)), None);
        // A refused GetDistribution: the warning says why and what to grant or map.
        let r = resolve_all(&BTreeMap::new(), &BTreeMap::new(), &Discovered::new());
        let why = [(
            WellKnown::ConsoleUrl,
            "its X (E1) could not be read (AccessDenied: no); allow cloudfront:GetDistribution on it".to_string(),
        )]
        .into();
        let w = missing_warning(&r, true, &why).expect("warning");
        assert!(
            w.contains("- console_url: no output Console or ConsoleURL, and its X (E1) could not be read (AccessDenied: no); allow cloudfront:GetDistribution on it; set output_names.console_url"),
            "{w}"
        );
    }

    #[test]
    fn modified_v321_names() {
        let outputs = map(&[
            (
                "DLTApiEndpointD98B09AC",
                "https://abc.execute-api.eu-west-1.amazonaws.com/prod/",
            ),
            ("Console", "d111.cloudfront.net"),
            ("UserPoolId", "eu-west-1_abc"),
            ("ClientId", "client"),
            ("IdentityPoolId", "eu-west-1:id"),
            ("Bucket3", "scenarios"),
        ]);
        let r = resolve(&outputs, &BTreeMap::new());
        assert_eq!(
            r[&WellKnown::ConsoleUrl].as_deref(),
            Some("https://d111.cloudfront.net")
        );
        assert_eq!(r[&WellKnown::ScenariosBucket].as_deref(), Some("scenarios"));
        assert_eq!(r[&WellKnown::UserPoolClientId].as_deref(), Some("client"));
    }

    #[test]
    fn v4_names_and_overrides() {
        let outputs = map(&[
            ("CognitoUserPoolID", "pool4"),
            ("CognitoAppClientID", "client4"),
            ("ScenariosBucket", "b4"),
            ("MyApi", "https://api/"),
        ]);
        let r = resolve(
            &outputs,
            &map(&[("api_endpoint", "MyApi"), ("scenarios_bucket", "Missing")]),
        );
        assert_eq!(r[&WellKnown::UserPoolId].as_deref(), Some("pool4"));
        assert_eq!(r[&WellKnown::UserPoolClientId].as_deref(), Some("client4"));
        assert_eq!(r[&WellKnown::ApiEndpoint].as_deref(), Some("https://api/"));
        assert_eq!(r[&WellKnown::ScenariosBucket], None);
        assert_eq!(r[&WellKnown::IdentityPoolId], None);
    }
}
