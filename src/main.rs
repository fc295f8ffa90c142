use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use logproc::app;
use logproc::cli::{Cli, Command, Format, PluginCommand, StoreCommand};
use logproc::config::{Overrides, Settings};

fn main() -> ExitCode {
    // A child compiling one plugin for the service (see plugin/compiler.rs):
    // no command line, no runtime, no logging.
    let mut args = std::env::args();
    if args.nth(1).as_deref() == Some(logproc::plugin::compiler::CHILD_ARG) {
        return logproc::plugin::compiler::child_main(&args.next().unwrap_or_default());
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // What `run` waited for is done (the last commit included). A blocking
    // task still running is stuck (a read of a hung file system, say):
    // the process does not wait for it, as dropping the runtime would.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                listen: args.listen,
                data_dir: args.data_dir,
                watch_dir: args.watch_dir,
                plugin_dir: args.plugin_dir,
                ws_sources: args.ws_sources,
            };
            let settings = Settings::load(args.config.as_deref(), &overrides)?;
            if args.print_config {
                print!("{}", settings.to_yaml()?);
                return Ok(());
            }
            init_logging(&settings.log_level);
            let listener = tokio::net::TcpListener::bind(&settings.listen_addrs()?[..])
                .await
                .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", settings.server.listen))?;
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            app::serve(settings, listener, shutdown).await
        }
        Command::Gen(args) => {
            let options = args.options()?;
            let started = std::time::Instant::now();
            let truth = logproc::generator::file::write_logs(&options)
                .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", options.out.display()))?;
            let truth_json = serde_json::to_string_pretty(&truth)? + "\n";
            let truth_place = match args.truth_path() {
                Some(path) => {
                    std::fs::write(&path, truth_json)
                        .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))?;
                    path.display().to_string()
                }
                None => {
                    std::io::stdout().write_all(truth_json.as_bytes())?;
                    "stdout".to_owned()
                }
            };
            let bytes = std::fs::metadata(&options.out)?.len();
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "Wrote {} lines ({:.1} MB, {:.0} MB/s) to {}; true counts in {truth_place}.",
                options.lines,
                bytes as f64 / 1e6,
                bytes as f64 / 1e6 / seconds.max(1e-9),
                options.out.display()
            );
            Ok(())
        }
        Command::Store(StoreCommand::Copy(args)) => {
            init_logging("warn");
            let settings = Settings::load(args.config.as_deref(), &Overrides::default())?;
            let node = args.node.unwrap_or_else(|| settings.node.id());
            // Both named right before either is opened (which may create it).
            let from = app::location_settings(&args.from, &settings.storage)?;
            let to = app::location_settings(&args.to, &settings.storage)?;
            let from = app::open_existing_store(&from, &node, false)?;
            let to = app::open_existing_store(&to, &node, true)?;
            let copied =
                tokio::task::spawn_blocking(move || logproc::store::copy::copy(from.as_ref(), to.as_ref())).await??;
            eprintln!(
                "Copied {} parsed and {} invalid lines ({} service/component counters, {} minutes, {} file checkpoints) from {} to {}.",
                copied.lines,
                copied.invalid,
                copied.components,
                copied.minutes,
                copied.files,
                logproc::store::redact_url(&args.from),
                logproc::store::redact_url(&args.to),
            );
            Ok(())
        }
        Command::Plugin(PluginCommand::Check(args)) => {
            init_logging("warn");
            let settings = Settings::load(None, &Overrides::default())?;
            let engine = logproc::plugin::PluginEngine::new(settings.plugin_limits(), settings.plugin_cache())?
                .compile_in_processes(logproc::plugin::compiler::this_binary()?);
            let sample = match &args.sample {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", path.display()))?,
                ),
                None => None,
            };
            let sample = args.sample.as_deref().zip(sample.as_deref());
            let report = logproc::plugin::isolated(|| {
                logproc::plugin::check::check(&engine, &args.file, &args.settings, sample)
            })?;
            print!("{report}");
            Ok(())
        }
        Command::Process(args) => {
            let overrides = Overrides {
                plugin_dir: args.plugin_dir,
                ..Overrides::default()
            };
            let settings = Settings::load(args.config.as_deref(), &overrides)?;
            // Only problems go to stderr; the statistics are the output.
            init_logging("warn");
            anyhow::ensure!(
                !args.detailed || args.format == Format::Json,
                "--detailed needs --format json (the table shows services only)"
            );
            let progress = !args.quiet && std::io::stderr().is_terminal();
            let processed = app::process(&settings, args.files, args.parser.as_deref(), progress).await?;
            if args.explain {
                let report = logproc::explain::explain(&processed, &settings)?;
                std::io::stderr().write_all(report.as_bytes())?;
            }
            let store = processed.store;
            let output = match args.format {
                Format::Json if args.detailed => {
                    serde_json::to_string_pretty(&logproc::stats::read_detailed(store.as_ref())?)? + "\n"
                }
                Format::Json => serde_json::to_string_pretty(&logproc::stats::read_stats(store.as_ref())?)? + "\n",
                Format::Table => logproc::stats::render_table(&logproc::stats::read_stats(store.as_ref())?),
            };
            match std::io::stdout().write_all(output.as_bytes()) {
                // `logproc process ... | head` is fine.
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                result => Ok(result?),
            }
        }
    }
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    shutdown.cancel();
}
