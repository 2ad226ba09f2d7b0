//! The `gcops` binary: parse arguments, start logging, run the command,
//! print any error once with its causes, and exit with its code.

use std::process::ExitCode;

use clap::Parser;
use gcops::cli::{Cli, LogFormat};
use gcops::i18n::Lang;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli.lang.unwrap_or_else(Lang::from_env);
    init_logging(cli.log_format);

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(gcops::app::run(cli, lang)) {
        Ok(code) => code,
        Err(error) => {
            print_error(&error, lang);
            ExitCode::FAILURE
        }
    }
}

/// Prints the error and each cause on its own line, then what to do.
fn print_error(error: &anyhow::Error, lang: Lang) {
    let prefix = gcops::i18n::text("cli.error_prefix", lang);
    match error.downcast_ref::<gcops::reconcile::Error>() {
        Some(reconcile) => eprintln!("{prefix}: {}", reconcile.message(lang)),
        None => eprintln!("{prefix}: {error}"),
    }
    // One line per cause: a validation list is printed below, in the
    // operator's language, instead of inside its cause line.
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        let first = text.lines().next().unwrap_or_default();
        eprintln!("  {}: {first}", gcops::i18n::text("cli.caused_by", lang));
    }
    let validation = error.chain().find_map(|e| {
        // The reconcile error boxes the list, so both forms can appear in the chain.
        e.downcast_ref::<gcops::desired::ValidationErrors>()
            .or_else(|| e.downcast_ref::<Box<gcops::desired::ValidationErrors>>().map(|b| b.as_ref()))
    });
    if let Some(validation) = validation {
        for e in validation.iter() {
            eprintln!("  {}", e.render(lang));
        }
    }
    if let Some(reconcile) = error.downcast_ref::<gcops::reconcile::Error>() {
        eprintln!("{}", reconcile.hint(lang));
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GCOPS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,gcops=info"));
    use std::io::IsTerminal;
    // Colour codes only for a terminal; a file or a log shipper gets plain text.
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
