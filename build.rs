//! Generates the protobuf types of the LeanCloud wire schema (`proto/message.proto`) with
//! `protox`, a pure-Rust protobuf compiler, so a fresh machine needs no `protoc` binary.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/message.proto");
    // `sqlx::migrate!` embeds the migrations: rebuild when one is added.
    println!("cargo:rerun-if-changed=migrations");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(["proto/message.proto"])?;
    // The gateway walks inbound commands by this schema (`prost-reflect`) to refuse U+0000
    // in any string field.
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("message_descriptors.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let descriptors = compiler.file_descriptor_set();
    prost_build::Config::new()
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
