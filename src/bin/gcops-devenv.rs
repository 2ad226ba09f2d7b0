//! Development helper for the demo and manual testing against moto: builds
//! the live environment described by a desired-state folder, or makes the
//! demo's out-of-band changes. Reads AWS settings from the standard
//! environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ...).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gcops-devenv", about = "Build a moto live environment from a gcops desired state")]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create every resource the desired state names, in every target account.
    Seed { repo: PathBuf },
    /// Make the demo's out-of-band changes by hand.
    HandChanges { repo: PathBuf },
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let repo = match &args.command {
        Cmd::Seed { repo } | Cmd::HandChanges { repo } => repo.clone(),
    };
    let today = chrono::Utc::now().date_naive();
    let desired = match gcops::desired::load_dir(&repo, today) {
        Ok(d) => d,
        Err(errors) => {
            for e in errors.iter() {
                eprintln!("{}", e.render(gcops::i18n::Lang::En));
            }
            return ExitCode::FAILURE;
        }
    };
    let env = gcops::devenv::DevEnv::from_env().await;
    let result = match args.command {
        Cmd::Seed { .. } => {
            env.seed(&desired).await.map(|()| println!("live environment built for {} accounts", desired.accounts().len()))
        }
        Cmd::HandChanges { .. } => env.make_hand_changes(&desired).await.map(|changes| {
            for c in changes {
                println!("account {}: {}", c.account_id, c.description);
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
