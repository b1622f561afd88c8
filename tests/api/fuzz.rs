//! A bounded fuzzer over every RPC: requests built from the contract's own descriptors with
//! hostile values (huge lists, long and odd texts, edge numbers, unknown enums), mutated bytes,
//! and broken gRPC framing (no message, cut-off frames, bad flags, oversized lengths). Nothing
//! may answer INTERNAL or UNKNOWN, and no error may pass 16 KB (what clients accept in
//! trailers). Fixed seed; `CLIENTSTATUS_FUZZ_ITERATIONS` runs longer (default 2,000).
use std::collections::HashMap;
use std::time::Duration;

use http_body_util::BodyExt;
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use tonic::codegen::Bytes;
use tonic::codegen::http;
use tower::ServiceExt;

use crate::helpers::*;

const SEED: u64 = 0x5eed_c0de_2024_0011;
const DEFAULT_ITERATIONS: usize = 2_000;
const IN_FLIGHT: usize = 16;
const ERROR_BYTES_MAX: usize = 16 * 1024;

/// splitmix64: small, fast and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True once in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// The contract's messages by full name (`.crm.clientstatus.v1.ListClientsRequest`).
struct Schema {
    messages: HashMap<String, DescriptorProto>,
    /// (path, input type, server streaming) of every RPC of the three services.
    methods: Vec<(String, String, bool)>,
}

impl Schema {
    fn load() -> Schema {
        let set = FileDescriptorSet::decode(clientstatus::proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let mut schema = Schema {
            messages: HashMap::new(),
            methods: Vec::new(),
        };
        for file in &set.file {
            let package = file.package();
            for m in &file.message_type {
                schema.add(&format!(".{package}"), m);
            }
            for service in &file.service {
                for method in &service.method {
                    schema.methods.push((
                        format!("/{package}.{}/{}", service.name(), method.name()),
                        method.input_type().to_string(),
                        method.server_streaming(),
                    ));
                }
            }
        }
        assert!(schema.methods.len() >= 36, "{} RPCs", schema.methods.len());
        schema
    }

    fn add(&mut self, scope: &str, m: &DescriptorProto) {
        let name = format!("{scope}.{}", m.name());
        for nested in &m.nested_type {
            self.add(&name, nested);
        }
        self.messages.insert(name, m.clone());
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: i32, wire: u64) {
    varint(out, ((field as u64) << 3) | wire);
}

fn number(rng: &mut Rng) -> u64 {
    const EDGES: [i64; 14] = [
        0,
        1,
        2,
        3,
        4,
        7,
        42,
        99,
        -1,
        -5,
        i32::MAX as i64,
        i32::MIN as i64,
        i64::MAX,
        i64::MIN,
    ];
    if rng.one_in(4) {
        rng.next()
    } else {
        EDGES[rng.below(EDGES.len())] as u64
    }
}

fn text(rng: &mut Rng) -> Vec<u8> {
    let s = match rng.below(12) {
        0 => String::new(),
        1 => "  padded  ".into(),
        2 => "x".repeat(rng.below(5_000)),
        3 => "😀".repeat(4_001),
        4 => "bad\u{0}\u{7}text".into(),
        5 => "שלום עולם".repeat(rng.below(50)),
        6 => "#00ff00".into(),
        7 => "someone@example.com".into(),
        8 => "+972 (3) 555-1234".into(),
        9 if rng.one_in(8) => "y".repeat(300_000),
        10 => return (0..rng.below(20)).map(|_| rng.next() as u8).collect(),
        _ => (0..rng.below(40))
            .map(|_| char::from(b' ' + rng.below(95) as u8))
            .collect(),
    };
    s.into_bytes()
}

/// A random message of `type_name` following the schema, with hostile values.
fn message(rng: &mut Rng, schema: &Schema, type_name: &str, depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(descriptor) = schema.messages.get(type_name) else {
        return out;
    };
    for field in &descriptor.field {
        if !rng.one_in(2) {
            continue;
        }
        let repeated = field.label() == Label::Repeated;
        let count = match (repeated, rng.below(10)) {
            (false, _) => 1,
            (true, 0) => 40_000,
            (true, 1) => 101 + rng.below(1_000),
            (true, _) => rng.below(6),
        };
        value(rng, schema, field, count, depth, &mut out);
    }
    out
}

fn value(
    rng: &mut Rng,
    schema: &Schema,
    field: &FieldDescriptorProto,
    count: usize,
    depth: usize,
    out: &mut Vec<u8>,
) {
    let n = field.number();
    match field.r#type() {
        Type::String | Type::Bytes => {
            for _ in 0..count.min(2_000) {
                let t = text(rng);
                key(out, n, 2);
                varint(out, t.len() as u64);
                out.extend_from_slice(&t);
            }
        }
        Type::Message if depth < 3 => {
            for _ in 0..count.min(300) {
                let m = message(rng, schema, field.type_name(), depth + 1);
                key(out, n, 2);
                varint(out, m.len() as u64);
                out.extend_from_slice(&m);
            }
        }
        Type::Message | Type::Group => {}
        Type::Double | Type::Fixed64 | Type::Sfixed64 => {
            for _ in 0..count.min(100) {
                key(out, n, 1);
                out.extend_from_slice(&rng.next().to_le_bytes());
            }
        }
        Type::Float | Type::Fixed32 | Type::Sfixed32 => {
            for _ in 0..count.min(100) {
                key(out, n, 5);
                out.extend_from_slice(&(rng.next() as u32).to_le_bytes());
            }
        }
        // Varints; repeated ones packed, as proto3 writes them.
        _ if count > 1 => {
            let mut packed = Vec::new();
            let same = number(rng);
            for _ in 0..count {
                varint(&mut packed, if rng.one_in(2) { same } else { number(rng) });
            }
            key(out, n, 2);
            varint(out, packed.len() as u64);
            out.extend_from_slice(&packed);
        }
        _ => {
            key(out, n, 0);
            varint(out, number(rng));
        }
    }
}

/// A request body: mostly one well-framed message, sometimes mutated or broken framing.
fn body(rng: &mut Rng, mut msg: Vec<u8>) -> Vec<u8> {
    match rng.below(10) {
        0 if !msg.is_empty() => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(msg.len());
                msg[i] = rng.next() as u8;
            }
        }
        1 => msg.truncate(rng.below(msg.len() + 1)),
        2 => msg.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
        _ => {}
    }
    let frame = |flag: u8, len: u32, payload: &[u8]| {
        let mut f = vec![flag];
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    let len = msg.len() as u32;
    match rng.below(40) {
        0 => Vec::new(),
        1 => frame(1, len, &msg),
        2 => frame(7, len, &msg),
        3 => frame(0, len + 10, &msg),
        4 => frame(0, 5 * 1024 * 1024, &msg[..msg.len().min(10)]),
        5 => vec![0, 0, 0],
        6 => [frame(0, len, &msg), frame(0, len, &msg)].concat(),
        7 if rng.one_in(10) => {
            let big = vec![b'z'; 4 * 1024 * 1024 + 1];
            frame(0, big.len() as u32, &big)
        }
        _ => frame(0, len, &msg),
    }
}

/// What the server answered: gRPC code and the bytes its error took, or `None` when a stream
/// stayed open (a subscription that was accepted).
async fn answer(
    channel: tonic::transport::Channel,
    path: String,
    payload: Vec<u8>,
    streaming: bool,
) -> Result<Option<(i32, usize)>, String> {
    let request = http::Request::builder()
        .method("POST")
        .uri(path.as_str())
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(
            Bytes::from(payload),
        )))
        .map_err(|e| e.to_string())?;
    let wait = if streaming {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(20)
    };
    let call = async {
        let response = channel.oneshot(request).await.map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        if parts.headers.contains_key("grpc-status") {
            return Ok::<_, String>(parts.headers);
        }
        let collected = body.collect().await.map_err(|e| e.to_string())?;
        collected
            .trailers()
            .cloned()
            .ok_or_else(|| "no trailers".to_string())
    };
    let headers = match tokio::time::timeout(wait, call).await {
        Ok(result) => result?,
        Err(_) if streaming => return Ok(None),
        Err(_) => return Err(format!("{path}: no answer in {wait:?}")),
    };
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{path}: no grpc-status"))?;
    let size = ["grpc-message", "grpc-status-details-bin"]
        .iter()
        .filter_map(|h| headers.get(*h))
        .map(|v| v.len())
        .sum();
    Ok(Some((code, size)))
}

#[tokio::test]
async fn no_request_gets_internal_unknown_or_an_error_over_16_kb() {
    let app = spawn_app().await;
    let schema = Schema::load();
    let iterations = std::env::var("CLIENTSTATUS_FUZZ_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_ITERATIONS);
    let mut rng = Rng(SEED);
    let mut calls = tokio::task::JoinSet::new();
    let mut failures = Vec::new();
    let mut codes: HashMap<i32, usize> = HashMap::new();
    for i in 0..iterations {
        let (path, input, streaming) = &schema.methods[rng.below(schema.methods.len())];
        let msg = message(&mut rng, &schema, input, 0);
        let payload = body(&mut rng, msg);
        let (path, streaming) = (path.clone(), *streaming);
        let channel = app.channel.clone();
        calls.spawn(async move {
            let answer = answer(channel, path.clone(), payload, streaming).await;
            (i, path, answer)
        });
        while calls.len() >= IN_FLIGHT || (i + 1 == iterations && !calls.is_empty()) {
            let Some(done) = calls.join_next().await else {
                break;
            };
            let (i, path, answer) = done.expect("call task");
            match answer {
                Ok(Some((code, size))) => {
                    *codes.entry(code).or_default() += 1;
                    if code == tonic::Code::Internal as i32 || code == tonic::Code::Unknown as i32 {
                        failures.push(format!("#{i} {path}: code {code}"));
                    }
                    if size > ERROR_BYTES_MAX {
                        failures.push(format!("#{i} {path}: error of {size} bytes"));
                    }
                }
                Ok(None) => *codes.entry(-1).or_default() += 1,
                Err(e) => failures.push(format!("#{i} {e}")),
            }
        }
    }
    // Seen with --nocapture: how far the requests got.
    println!("fuzz: {iterations} requests; answers by gRPC code (-1: stream open): {codes:?}");
    assert!(
        failures.is_empty(),
        "{} of {iterations} failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    // The fuzzer reaches past the framing: some requests parse and pass, some are refused.
    let invalid = codes.get(&(tonic::Code::InvalidArgument as i32)).copied();
    assert!(invalid.unwrap_or(0) > iterations / 10, "{codes:?}");
    assert!(codes.get(&0).copied().unwrap_or(0) > 0, "{codes:?}");
    // Still serving.
    let mut api = app.api.clone();
    api.list_clients(clientstatus::proto::ListClientsRequest::default())
        .await
        .expect("still serving");
}
