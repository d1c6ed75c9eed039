//! The `replibyte` command: parse arguments, run, print one line on error.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = replibyte::cli::Cli::parse();
    replibyte::cli::init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("replibyte: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(replibyte::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the whole cause chain, joined.
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("replibyte: error: {message}");
            ExitCode::FAILURE
        }
    }
}
