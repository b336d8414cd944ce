//! The `tidings import` subcommands. The target store is the one the configuration
//! (`TIDINGS_DATABASE_URL`) names; Ctrl-C stops cleanly and a re-run resumes.

use super::file::{self, FileOptions};
use super::leancloud::{self, Options};
use super::listing::Listing;
use super::verify;
use crate::config::Config;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Pull every conversation and message of a LeanCloud app through its REST API.
    Leancloud(LeancloudArgs),
    /// Load a console export of `_Conversation` (a JSON array, `{"results": [...]}`, or one
    /// JSON object per line).
    Conversations(FileArgs),
}

#[derive(Args)]
pub struct LeancloudArgs {
    /// The source's API host, e.g. `https://abcd1234.api.lncldglobal.com`.
    #[arg(long)]
    pub server: String,
    /// Defaults to TIDINGS_APP_ID.
    #[arg(long)]
    pub app_id: Option<String>,
    /// Defaults to TIDINGS_APP_KEY. The target app gets the same id and keys.
    #[arg(long)]
    pub app_key: Option<String>,
    /// Defaults to TIDINGS_MASTER_KEY.
    #[arg(long)]
    pub master_key: Option<String>,
    /// Requests per second to the source (0 = unlimited); stay under the app's API quota.
    #[arg(long, default_value_t = 10)]
    pub rate: u32,
    /// Conversations imported at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Items per request (at most 1000).
    #[arg(long, default_value_t = 1000)]
    pub page_size: u32,
    /// Attempts per request (429, 5xx, network errors) before giving up.
    #[arg(long, default_value_t = 8)]
    pub max_attempts: u32,
    /// How to list conversations.
    #[arg(long, value_enum, default_value_t = ListingArg::Auto)]
    pub listing: ListingArg,
    /// Stop after importing this many messages (a trial run; re-run to continue).
    #[arg(long)]
    pub max_messages: Option<u64>,
    /// Seconds between progress lines on stderr (0 = none).
    #[arg(long, default_value_t = 5)]
    pub progress_secs: u64,
    /// Compare source and target per conversation instead of importing; exits non-zero on a
    /// mismatch.
    #[arg(long)]
    pub verify: bool,
    /// What to do with the files messages reference (`_lcfile.url`): copy them into this
    /// server's file storage and rewrite the messages to the copies under `public_url`, or
    /// keep the URLs (files hosted elsewhere).
    #[arg(long, value_enum, default_value_t = FilesArg::Copy)]
    pub files: FilesArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FilesArg {
    Copy,
    Keep,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListingArg {
    /// `/1.1/scan/classes/_Conversation` when served, else `/1.2/rtm/all-conversations`.
    Auto,
    Scan,
    AllConversations,
}

#[derive(Args)]
pub struct FileArgs {
    /// The export file.
    pub file: PathBuf,
    /// Defaults to TIDINGS_APP_ID.
    #[arg(long)]
    pub app_id: Option<String>,
    /// With --master-key: create the app (or update its keys). Defaults to TIDINGS_APP_KEY.
    #[arg(long)]
    pub app_key: Option<String>,
    #[arg(long)]
    pub master_key: Option<String>,
    /// Compare the file with the target instead of importing; exits non-zero on a mismatch.
    #[arg(long)]
    pub verify: bool,
}

/// Runs a subcommand; the report goes to stdout, progress to stderr.
pub async fn run(config: &Config, command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Leancloud(args) => run_leancloud(config, args).await,
        ImportCommand::Conversations(args) => {
            let or =
                |value: Option<String>, default: &str| value.unwrap_or_else(|| default.to_owned());
            let options = FileOptions {
                path: args.file,
                database_url: config.database_url.clone(),
                app_id: or(args.app_id, &config.app_id),
                app_key: Some(or(args.app_key, &config.app_key)),
                master_key: Some(or(args.master_key, &config.master_key)),
                verify: args.verify,
            };
            let report = file::run(options).await?;
            print!("{report}");
            anyhow::ensure!(
                report.mismatches.is_empty(),
                "the target differs from the file"
            );
            Ok(())
        }
    }
}

async fn run_leancloud(config: &Config, args: LeancloudArgs) -> anyhow::Result<()> {
    let or = |value: Option<String>, default: &str| value.unwrap_or_else(|| default.to_owned());
    let mut options = Options::new(
        &args.server,
        &or(args.app_id, &config.app_id),
        &or(args.app_key, &config.app_key),
        &or(args.master_key, &config.master_key),
        &config.database_url,
    );
    options.rate = args.rate;
    options.concurrency = args.concurrency.max(1);
    options.page_size = args.page_size;
    options.max_attempts = args.max_attempts;
    options.listing = match args.listing {
        ListingArg::Auto => Listing::Auto,
        ListingArg::Scan => Listing::Scan,
        ListingArg::AllConversations => Listing::AllConversations,
    };
    options.max_messages = args.max_messages;
    options.progress_every =
        (args.progress_secs > 0).then(|| Duration::from_secs(args.progress_secs));
    options.cancel = interrupt_token();
    options.files = (args.files == FilesArg::Copy).then(|| super::files::FilesTarget {
        files_url: config.files_url.clone(),
        public_url: config.public_url.clone(),
        max_file_bytes: config.max_file_bytes,
    });
    if args.verify {
        let report = verify::run(options).await?;
        print!("{report}");
        anyhow::ensure!(report.ok(), "source and target differ");
        return Ok(());
    }
    let report = leancloud::run(options).await?;
    print!("{report}");
    anyhow::ensure!(
        report.complete,
        "import interrupted; run the same command again to resume"
    );
    Ok(())
}

/// A token Ctrl-C cancels.
fn interrupt_token() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("import: stopping after the pages in flight (Ctrl-C again to abort)");
            trigger.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    token
}

/// Keys stay out of logs.
impl std::fmt::Debug for LeancloudArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeancloudArgs")
            .field("server", &self.server)
            .field("app_id", &self.app_id)
            .field("app_key", &crate::domain::app::REDACTED)
            .field("master_key", &crate::domain::app::REDACTED)
            .finish_non_exhaustive()
    }
}

/// Keys stay out of logs.
impl std::fmt::Debug for FileArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileArgs")
            .field("app_id", &self.app_id)
            .field("app_key", &crate::domain::app::REDACTED)
            .field("master_key", &crate::domain::app::REDACTED)
            .finish_non_exhaustive()
    }
}
