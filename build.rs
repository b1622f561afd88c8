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
