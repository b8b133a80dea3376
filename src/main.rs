//! The `oidc-bff` binary: parses flags, loads and validates settings (exit 2 with one
//! line naming the key), sets up logging, and serves until stopped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use oidc_bff::app::Application;
use oidc_bff::config::Config;

/// Backend-for-Frontend for OpenID Connect: the SPA never holds a token.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Path of the settings file (JSON). Every key can be overridden by BFF_<KEY>.
    #[arg(long, default_value = "./settings.json", value_name = "PATH")]
    config: PathBuf,
    /// Validate the settings and exit.
    #[arg(long)]
    check: bool,
}

fn init_logging(config: &Config) {
    let default = if config.log.debug {
        "oidc_bff=debug,info"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // issue 13: colour codes only for a terminal (a file, a pipe or journald gets plain
    // text; NO_COLOR is honoured by the subscriber as well).
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    if config.log.json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    oidc_bff::install_crypto_provider();
    // The same validation for start-up and `--check`: the settings, then what start-up
    // builds from them before binding (Application::build runs `preflight` again).
    // Inside the actix System: the Redis client needs a runtime even when it does not connect.
    let system = actix_web::rt::System::new();
    let config = match Config::load(&cli.config).and_then(|c| {
        system.block_on(async { oidc_bff::app::preflight(&c).map(|_| ()) })?;
        Ok(c)
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("oidc-bff: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check {
        println!("oidc-bff: configuration OK");
        return ExitCode::SUCCESS;
    }
    init_logging(&config);
    for key in &config.unknown_keys {
        tracing::warn!(key = %key, "unknown settings key ignored");
    }
    if !config.provider.verify_ssl {
        tracing::warn!("verify_ssl_server is false: TLS certificates of the OP and upstreams are NOT verified. Use ca_file instead.");
    }
    if config.session.ephemeral_key {
        tracing::warn!(
            "no cookie_keys configured: using a random key; sessions end when this process stops"
        );
    }
    let listener = match TcpListener::bind(&config.server.listen) {
        Ok(l) => l,
        // A busy port is not a configuration error: say so, and exit 3 (issue 15).
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!(
                "oidc-bff: cannot listen on {}: the address is already in use (is another oidc-bff running?)",
                config.server.listen
            );
            return ExitCode::from(3);
        }
        Err(e) => {
            eprintln!(
                "oidc-bff: configuration error: `listen`: cannot bind {}: {e}",
                config.server.listen
            );
            return ExitCode::from(2);
        }
    };
    let base_url = config.server.base_url.to_string();
    let result = system.block_on(async move {
        let config = Application::prepare(config).await?;
        let app = Application::build(config, listener)?;
        tracing::info!(base_url = %base_url, port = app.port(), "oidc-bff listening");
        if let Some(port) = app.admin_port() {
            tracing::info!(port, "admin listener (/metrics) listening");
        }
        app.run_until_stopped()
            .await
            .map_err(|e| oidc_bff::config::ConfigError::new("listen", e.to_string()))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oidc-bff: {e}");
            ExitCode::from(2)
        }
    }
}
