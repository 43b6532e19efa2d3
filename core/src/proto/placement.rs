//! Where the gateway places a request's Durable Object (docs/performance.md, "A gateway near its
//! function"): Cloudflare creates one near the client's edge unless told a location hint. A
//! relayed response crosses the function↔object path several times before its first byte (TCP,
//! TLS, upgrade, hello) and the client↔object path once, so near the function is faster for
//! clients far from it.

/// Cloudflare's Durable Object location hints.
pub const LOCATION_HINTS: [&str; 9] = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"];

/// The location hint nearest an AWS region, if the region is one this knows.
pub fn location_hint_for_region(region: &str) -> Option<&'static str> {
    let hint = match region {
        "us-east-1" | "us-east-2" | "ca-central-1" | "mx-central-1" | "us-gov-east-1" => "enam",
        "us-west-1" | "us-west-2" | "ca-west-1" | "us-gov-west-1" => "wnam",
        "sa-east-1" => "sam",
        "ap-southeast-2" | "ap-southeast-4" | "ap-southeast-6" => "oc",
        "af-south-1" => "afr",
        "me-south-1" | "me-central-1" | "il-central-1" => "me",
        r if r.starts_with("eu-") => "weur",
        r if r.starts_with("ap-") || r.starts_with("cn-") => "apac",
        _ => return None,
    };
    Some(hint)
}

/// The gateway's `DO_LOCATION` setting: `auto` (default: the hint of the region in the
/// Function URL's host, none if it names none), `off` (near the client), or a hint. The error
/// names the setting.
pub fn location_hint(setting: Option<&str>, function_url_region: Option<&str>) -> Result<Option<&'static str>, String> {
    match setting.map(str::trim) {
        None | Some("auto") => Ok(function_url_region.and_then(location_hint_for_region)),
        Some("off") => Ok(None),
        Some(hint) => LOCATION_HINTS
            .iter()
            .find(|h| **h == hint)
            .map(|h| Some(*h))
            .ok_or_else(|| {
                format!(
                    "DO_LOCATION must be auto, off or one of {LOCATION_HINTS:?}, got {:?}",
                    super::validate::clip(hint)
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_functions_region_places_its_objects_on_its_continent() {
        for (region, hint) in [
            ("us-east-1", "enam"),
            ("us-west-2", "wnam"),
            ("eu-central-1", "weur"),
            ("ap-southeast-2", "oc"),
            ("ap-northeast-1", "apac"),
            ("sa-east-1", "sam"),
            ("me-central-1", "me"),
            ("af-south-1", "afr"),
        ] {
            assert_eq!(location_hint_for_region(region), Some(hint), "{region}");
        }
        assert_eq!(location_hint_for_region("moon-1"), None);
    }

    #[test]
    fn the_setting_is_auto_off_or_a_hint() {
        assert_eq!(location_hint(None, Some("eu-west-1")), Ok(Some("weur")));
        assert_eq!(
            location_hint(Some("auto"), None),
            Ok(None),
            "a URL that names no region"
        );
        assert_eq!(location_hint(Some("off"), Some("eu-west-1")), Ok(None));
        assert_eq!(location_hint(Some("apac"), Some("eu-west-1")), Ok(Some("apac")));
        assert!(location_hint(Some("europe"), None)
            .unwrap_err()
            .starts_with("DO_LOCATION must be"));
    }
}
