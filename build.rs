//! Generates the protobuf types of the LeanCloud wire schema (`proto/message.proto`) with
//! `protox`, a pure-Rust protobuf compiler, so a fresh machine needs no `protoc` binary.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/message.proto");
    // `sqlx::migrate!` embeds the migrations: rebuild when one is added.
    println!("cargo:rerun-if-changed=migrations");
    let descriptors = protox::compile(["proto/message.proto"], ["proto"])?;
    prost_build::Config::new()
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
