//! Reaching a DLT API through another address than its own (`endpoints.execute_api` of the
//! provider block).
//!
//! A private DLT API (`EndpointType PRIVATE`) answers only through an `execute-api` interface VPC
//! endpoint; without private DNS its address is the endpoint's own name
//! (`vpce-….execute-api.<region>.vpce.amazonaws.com`), and API Gateway picks the API from the
//! `x-apigw-api-id` header. A proxy in front of the API, or a test double, is the same shape: the
//! stack's URL keeps its path (the stage, `/prod/`), only scheme, host and port change. Requests
//! are still signed for `execute-api` in the API's region, over the URL actually called.

/// The URL to call for `api_endpoint` through `via`, and the API id to name in `x-apigw-api-id`
/// (when `api_endpoint` is an `<id>.execute-api.…` address).
pub fn route(api_endpoint: &str, via: &str) -> Result<(String, Option<String>), String> {
    let api = url::Url::parse(api_endpoint.trim()).map_err(|e| format!("dlt.api_endpoint is not a URL ({e})"))?;
    let via = url::Url::parse(via.trim()).map_err(|e| format!("endpoints.execute_api is not a URL ({e})"))?;
    let Some(host) = via.host_str().filter(|h| !h.is_empty()) else {
        return Err("endpoints.execute_api has no host".to_string());
    };
    let authority = match via.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let mut out = format!("{}://{authority}{}", via.scheme(), api.path());
    if let Some(q) = api.query() {
        out.push('?');
        out.push_str(q);
    }
    let api_id = api
        .host_str()
        .and_then(|h| h.split_once(".execute-api."))
        .map(|(id, _)| id.to_string())
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()));
    Ok((out, api_id))
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn keeps_the_stage_path_and_names_the_api() {
        assert_eq!(
            route(
                "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/",
                "https://vpce-0abc-xyz.execute-api.eu-west-1.vpce.amazonaws.com"
            ),
            Ok((
                "https://vpce-0abc-xyz.execute-api.eu-west-1.vpce.amazonaws.com/prod/".to_string(),
                Some("a1b2c3d4e5".to_string())
            ))
        );
        // A proxy with a port (its own path, if any, is not kept); a custom domain has no API id.
        assert_eq!(
            route("https://api.example.com/v1/prod", "http://127.0.0.1:8080/"),
            Ok(("http://127.0.0.1:8080/v1/prod".to_string(), None))
        );
        assert!(route("not a url", "http://127.0.0.1:1").is_err());
    }
}
