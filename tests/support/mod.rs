pub mod github_fake;
