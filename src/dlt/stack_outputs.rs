//! Which CloudFormation outputs of a DLT stack carry the values `dlt_test_run` needs.
//!
//! Template flavours name them differently (modified v3.2.1 vs v4, see SPEC), so each well-known
//! attribute lists its candidate output names in SPEC order; users with other templates map their
//! own names through `output_names`, which then wins outright.

use std::collections::BTreeMap;

/// A value taken from the stack outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
            WellKnown::ConsoleUrl => &["Console"],
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
