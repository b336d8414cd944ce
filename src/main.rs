//! The `tidings` command: `serve` (default), `migrate`, `app create|list|set`, `import`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tidings::config::Config;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "tidings",
    version,
    about = "Self-hosted realtime messaging, LeanCloud-compatible"
)]
struct Cli {
    /// A TOML file overriding the defaults (environment variables TIDINGS_* override both).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage apps.
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
    /// Move an app off LeanCloud into the configured store (see docs/import.md).
    Import {
        #[command(subcommand)]
        command: tidings::import::cli::ImportCommand,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    /// Create an app (random credentials unless given) and print its credentials.
    Create {
        #[arg(long)]
        app_id: Option<String>,
        #[command(flatten)]
        app_key: AppKeyArg,
        #[command(flatten)]
        master_key: MasterKeyArg,
    },
    /// List apps and their settings; keys and secrets are masked unless asked for.
    List {
        /// Print app keys, master keys and the Agora secret in clear.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Change an app setting, e.g. `tidings app set APP_ID message_rate_per_minute 3000`.
    Set {
        app_id: String,
        key: String,
        value: String,
    },
    /// Set the Agora-style HTTP Basic credentials (customer id and secret) of an app.
    Agora {
        app_id: String,
        customer_id: String,
        #[command(flatten)]
        customer_secret: AgoraSecretArg,
    },
    /// Mint an `x-agora-token` for a user id (send it with `x-agora-uid: UID`).
    Token {
        app_id: String,
        uid: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: i64,
    },
}

/// A key given inline (visible in `ps` and shell history), through an environment
/// variable, or in a file (trailing whitespace ignored). Each key option has all three.
macro_rules! secret_arg {
    ($name:ident, $long:literal, $env:literal, $file_long:literal, $file_env:literal, $what:literal) => {
        #[derive(clap::Args)]
        struct $name {
            #[doc = concat!("The ", $what, " (or set ", $env, ").")]
            #[arg(id = $long, long = $long, env = $env, hide_env_values = true)]
            value: Option<String>,
            #[doc = concat!("Read the ", $what, " from this file (or set ", $file_env, ").")]
            #[arg(id = $file_long, long = $file_long, env = $file_env, conflicts_with = $long)]
            file: Option<PathBuf>,
        }

        impl $name {
            fn get(&self) -> anyhow::Result<Option<String>> {
                read_secret(self.value.as_deref(), self.file.as_deref())
            }
        }
    };
}

secret_arg!(
    AppKeyArg,
    "app-key",
    "TIDINGS_NEW_APP_KEY",
    "app-key-file",
    "TIDINGS_NEW_APP_KEY_FILE",
    "app key"
);
secret_arg!(
    MasterKeyArg,
    "master-key",
    "TIDINGS_NEW_MASTER_KEY",
    "master-key-file",
    "TIDINGS_NEW_MASTER_KEY_FILE",
    "master key"
);
/// The Agora secret: positional as before, or from the environment or a file.
#[derive(clap::Args)]
struct AgoraSecretArg {
    /// The Agora customer secret (or set TIDINGS_NEW_AGORA_CUSTOMER_SECRET).
    #[arg(
        id = "customer-secret",
        env = "TIDINGS_NEW_AGORA_CUSTOMER_SECRET",
        hide_env_values = true
    )]
    value: Option<String>,
    /// Read the secret from this file (or set TIDINGS_NEW_AGORA_CUSTOMER_SECRET_FILE).
    #[arg(
        long = "customer-secret-file",
        env = "TIDINGS_NEW_AGORA_CUSTOMER_SECRET_FILE",
        conflicts_with = "customer-secret"
    )]
    file: Option<PathBuf>,
}

impl AgoraSecretArg {
    fn get(&self) -> anyhow::Result<Option<String>> {
        read_secret(self.value.as_deref(), self.file.as_deref())
    }
}

fn read_secret(
    value: Option<&str>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<String>> {
    match (value, file) {
        (Some(value), _) => Ok(Some(value.to_owned())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            Ok(Some(text.trim_end().to_owned()))
        }
        (None, None) => Ok(None),
    }
}

/// `abcd…` for a key: enough to tell keys apart, not enough to use one.
fn mask(secret: &str) -> String {
    let shown: String = secret.chars().take(4).collect();
    format!("{shown}…")
}

fn main() -> anyhow::Result<()> {
    // Before the runtime: the arena cap applies to arenas opened from now on.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    tidings::malloc::limit_arenas(workers);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(run_cli())
}

async fn run_cli() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    init_logging(&config);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            tidings::store::Store::connect(&config.database_url, 1, 1)
                .await?
                .migrate()
                .await?;
            println!("migrations applied");
            Ok(())
        }
        Command::App { command } => app_command(config, command).await,
        Command::Import { command } => tidings::import::cli::run(&config, command).await,
    }
}

fn init_logging(config: &Config) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (store, created) = tidings::open_store(&config).await?;
    if let Some(app) = created {
        println!();
        println!("  Created an app. Keep these credentials; they are shown only once:");
        println!("    App ID:     {}", app.app_id);
        println!("    App Key:    {}", app.app_key);
        println!("    Master Key: {}", app.master_key);
        println!();
    }
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "tidings listening");
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    tidings::run(config, store, listener, shutdown).await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Running nodes of a cluster drop their cached copy of the app at once; if Redis cannot
/// be told, they pick the change up within the directory's TTL.
async fn announce_app_change(config: &Config, app_id: &str) {
    let told =
        tidings::cluster::announce_app_change(&config.redis_url, &config.redis_prefix, app_id);
    if let Err(err) = told.await {
        eprintln!("warning: running nodes not told at once ({err}); they see it within seconds");
    }
}

async fn app_command(config: Config, command: AppCommand) -> anyhow::Result<()> {
    let store = tidings::store::Store::connect(&config.database_url, 2, 1).await?;
    store.migrate().await?;
    match command {
        AppCommand::Create {
            app_id,
            app_key,
            master_key,
        } => {
            let random = || tidings::domain::ids::random_alphanumeric(24);
            let app_id = app_id.unwrap_or_else(random);
            let app_key = app_key.get()?.unwrap_or_else(random);
            let master_key = master_key.get()?.unwrap_or_else(random);
            anyhow::ensure!(app_key != master_key, "app key and master key must differ");
            anyhow::ensure!(
                tidings::app::directory::is_valid_app_id(&app_id),
                "an app id is 1 to 128 ASCII letters, digits, '-', '_' or '.'"
            );
            store.upsert_app(&app_id, &app_key, &master_key).await?;
            println!("App ID:     {app_id}\nApp Key:    {app_key}\nMaster Key: {master_key}");
        }
        AppCommand::List { show_secrets } => {
            for app in store.list_apps().await? {
                let (app_key, master_key, settings) = if show_secrets {
                    let settings = serde_json::to_value(&app.settings)?;
                    (app.app_key.clone(), app.master_key.clone(), settings)
                } else {
                    (
                        mask(&app.app_key),
                        mask(&app.master_key),
                        app.settings.redacted(),
                    )
                };
                println!("{}\t{app_key}\t{master_key}\t{settings}", app.app_id);
            }
        }
        AppCommand::Set { app_id, key, value } => {
            let mut app = store
                .find_app(&app_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no app {app_id}"))?;
            let mut settings = serde_json::to_value(&app.settings)?;
            let parsed: serde_json::Value =
                serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            let object = settings
                .as_object_mut()
                .ok_or_else(|| anyhow::anyhow!("settings are not an object"))?;
            anyhow::ensure!(
                object.contains_key(&key),
                "unknown setting {key}; known: {:?}",
                object.keys().collect::<Vec<_>>()
            );
            object.insert(key, parsed);
            app.settings = serde_json::from_value(settings)?;
            if let Some(problem) = app.settings.push.problem() {
                anyhow::bail!("{problem}");
            }
            store.save_app_settings(&app_id, &app.settings).await?;
            announce_app_change(&config, &app_id).await;
            println!("{}", app.settings.redacted());
        }
        AppCommand::Agora {
            app_id,
            customer_id,
            customer_secret,
        } => {
            let mut app = store
                .find_app(&app_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no app {app_id}"))?;
            let customer_secret = customer_secret.get()?.ok_or_else(|| {
                anyhow::anyhow!(
                    "give the secret, --customer-secret-file or TIDINGS_NEW_AGORA_CUSTOMER_SECRET"
                )
            })?;
            app.settings.agora_customer_id = Some(customer_id);
            app.settings.agora_customer_secret = Some(customer_secret);
            store.save_app_settings(&app_id, &app.settings).await?;
            announce_app_change(&config, &app_id).await;
            println!("Agora credentials set for {app_id}");
        }
        AppCommand::Token { app_id, uid, ttl } => {
            let app = store
                .find_app(&app_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no app {app_id}"))?;
            let expires = tidings::domain::time::now_ms() / 1000 + ttl.max(1);
            println!(
                "{}",
                tidings::app::agora::mint_token(&app.app_id, &app.master_key, &uid, expires)
            );
        }
    }
    Ok(())
}
