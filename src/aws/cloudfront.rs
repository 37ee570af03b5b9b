//! The one CloudFront call the provider makes: the domain of the DLT console's distribution.
//!
//! Both official DLT templates serve the web console from one `AWS::CloudFront::Distribution`
//! (`DLTConsoleResourcesDLTCloudFrontToS3CloudFrontDistribution3EF384B4` at v3.2.1,
//! `DLTConsoleResourcesDLTDashboardS3CloudFrontDistribution1F11B8BB` at v4.2.3) and output its
//! `DomainName`. A template without that output still lists the distribution among its resources,
//! but `ListStackResources` gives only its id (`E…`); the domain (`d….cloudfront.net`) is not
//! derived from the id, so it takes `cloudfront:GetDistribution`, which CloudFormation read
//! permissions do not include.

use aws_sdk_cloudfront::Client;

use super::error::ErrorParts;

/// `GetDistribution(id)` → the distribution's domain name (`d111111abcdef8.cloudfront.net`).
pub async fn distribution_domain(client: &Client, id: &str) -> Result<String, ErrorParts> {
    let out = client
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(|e| ErrorParts::from_sdk(&e))?;
    out.distribution()
        .map(|d| d.domain_name().to_string())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ErrorParts {
            code: None,
            message: "the answer carries no domain name".to_string(),
            status: None,
            request_id: None,
        })
}
