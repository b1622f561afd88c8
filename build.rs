//! Generates the gRPC code from `proto/` with a vendored `protoc`, so a fresh machine needs
//! nothing but cargo.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/crm/clientstatus/v1/client.proto",
        "proto/crm/clientstatus/v1/client_status_service.proto",
        "proto/crm/clientstatus/v1/status_catalog_service.proto",
        "proto/crm/clientstatus/v1/client_report_service.proto",
        // Vendored so server reflection can describe the error details (no code generated:
        // tonic-types has these types).
        "proto/google/rpc/status.proto",
        "proto/google/rpc/error_details.proto",
    ];
    for proto in &protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    git_commit();

    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        // Sorted maps encode deterministically, so a retried request hashes the same.
        .btree_map(".")
        .extern_path(".google.rpc", "::tonic_types::pb")
        // Malformed requests are INVALID_ARGUMENT, not INTERNAL (see src/grpc/codec.rs).
        .codec_path("crate::grpc::codec::Codec")
        .file_descriptor_set_path(out_dir.join("clientstatus_descriptor.bin"))
        .compile_with_config(
            config,
            &protos.map(PathBuf::from),
            &[PathBuf::from("proto"), well_known],
        )?;
    Ok(())
}

/// `CLIENTSTATUS_GIT_COMMIT` for `clientstatus_build_info`: the commit being built, or
/// "unknown" outside a git checkout (a source tarball, a container build without .git).
fn git_commit() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CLIENTSTATUS_GIT_COMMIT={commit}");
    // Built again when HEAD moves: a commit or a checkout changes HEAD or the branch it names.
    if let (Some(head), Some(branch)) = (
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["rev-parse", "--symbolic-full-name", "HEAD"]),
    ) {
        println!("cargo:rerun-if-changed={head}");
        if let Some(reference) = git(&["rev-parse", "--git-path", &branch])
            && std::path::Path::new(&reference).exists()
        {
            println!("cargo:rerun-if-changed={reference}");
        }
    }
}
