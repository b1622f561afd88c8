// The real server for the browser test: the clientstatus binary on a fresh SQLite file with a
// tokens file, and gRPC clients (HTTP/2, as any backend service calls it) to seed and write.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ClientReportService } from "../src/gen/crm/clientstatus/v1/client_report_service_pb";
import { ClientStatusService } from "../src/gen/crm/clientstatus/v1/client_status_service_pb";
import { StatusCatalogService } from "../src/gen/crm/clientstatus/v1/status_catalog_service_pb";

export const TOKENS = {
  /** Seeds and writes: a manager who also runs the accounting bridge (invoices). */
  writer: "browser-test-writer-0123456789",
  /** What a person pastes into the dashboard. */
  dashboard: "browser-test-dashboard-0123456789",
};

// `npm test` runs in dashboard/: the debug build is next door.
const binary = resolve(process.env.CLIENTSTATUS_BIN ?? "../target/debug/clientstatus");

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => done(port));
    });
  });
}

export class Server {
  private child: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), "clientstatus-browser-"));
  port = 0;

  /** `flags`: more settings, e.g. `--cors-allowed-origins`. */
  constructor(private readonly flags: string[] = []) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the binary (again, on the same port and database after `stop`). */
  async start(): Promise<void> {
    if (!existsSync(binary)) {
      throw new Error(`no server binary at ${binary}: run \`cargo build\` first or set CLIENTSTATUS_BIN`);
    }
    const tokens = join(this.dir, "tokens.toml");
    const sha = (t: string) => createHash("sha256").update(t).digest("hex");
    writeFileSync(
      tokens,
      `[[tokens]]\nprincipal = "writer"\nroles = ["manager", "accounting"]\nsha256 = "${sha(TOKENS.writer)}"\n\n` +
        `[[tokens]]\nprincipal = "viewer"\nroles = ["dashboard"]\nsha256 = "${sha(TOKENS.dashboard)}"\n`,
    );
    this.port ||= await freePort();
    const child = spawn(
      binary,
      [
        "serve",
        "--listen",
        `127.0.0.1:${this.port}`,
        "--database-url",
        `sqlite:${join(this.dir, "clients.db")}`,
        "--tokens-file",
        tokens,
        ...this.flags,
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, RUST_LOG: "warn" } },
    );
    let log = "";
    child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
    this.child = child;
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`the server exited: ${log}`);
      try {
        if ((await fetch(`${this.base}/dashboard/`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the server never answered on ${this.base}: ${log}`);
  }

  /** SIGTERM, as an orchestrator stops it; waits for the exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  grpc() {
    const bearer: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${TOKENS.writer}`);
      return next(req);
    };
    const transport = createGrpcTransport({ baseUrl: this.base, interceptors: [bearer] });
    return {
      api: createClient(ClientStatusService, transport),
      catalog: createClient(StatusCatalogService, transport),
      reports: createClient(ClientReportService, transport),
    };
  }
}

let next = 0;
export const rid = () => `browser-test-${process.pid}-${next++}`;
