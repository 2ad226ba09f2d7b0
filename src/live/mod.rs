pub mod model;

/// Settings of the AWS client factory, filled from `gcops.yaml`.
// NOTE: placeholder until the client factory lands; the fields are the contract.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsSettings {
    pub regions: Vec<String>,
    pub role_name: String,
    pub endpoint_url: Option<String>,
    pub max_attempts: u32,
    pub assume_role: bool,
}
