//! Secrets in the CLI: keys read from the environment or a file, masked by `app list`
//! unless `--show-secrets`.

use std::process::Command;

fn tidings(db: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidings"));
    cmd.args(args)
        .env("TIDINGS_DATABASE_URL", db)
        .env("RUST_LOG", "error");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "tidings {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn keys_come_from_env_or_files_and_app_list_masks_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let key_file = dir.path().join("app_key");
    std::fs::write(&key_file, "appKeyFromAFile0000001\n").unwrap();
    let key_path = key_file.display().to_string();
    tidings(
        &db,
        &[
            "app",
            "create",
            "--app-id",
            "cli-app",
            "--app-key-file",
            &key_path,
        ],
        &[("TIDINGS_NEW_MASTER_KEY", "masterKeyFromEnv000001")],
    );
    tidings(
        &db,
        &["app", "agora", "cli-app", "customer-1"],
        &[("TIDINGS_NEW_AGORA_CUSTOMER_SECRET", "agoraSecretFromEnv01")],
    );
    let masked = tidings(&db, &["app", "list"], &[]);
    assert!(
        masked.contains("cli-app") && masked.contains("customer-1"),
        "{masked}"
    );
    for secret in [
        "appKeyFromAFile0000001",
        "masterKeyFromEnv000001",
        "agoraSecretFromEnv01",
    ] {
        assert!(!masked.contains(secret), "{masked}");
    }
    let shown = tidings(&db, &["app", "list", "--show-secrets"], &[]);
    for secret in [
        "appKeyFromAFile0000001",
        "masterKeyFromEnv000001",
        "agoraSecretFromEnv01",
    ] {
        assert!(shown.contains(secret), "{shown}");
    }
}
