// scripts/remote/ssh-run.js, the runner every node-side delete goes through (reset, drain, undo of
// prep), against a real OpenSSH server on loopback: it runs the script as root when the host answers
// with the pinned key, and gives up quickly and successfully (so `pulumi destroy` finishes) when the
// host is gone or is another machine — saying which host and why.
import { spawn } from "child_process";
import * as net from "net";
import * as path from "path";
import { localHelperInterpreter } from "../components/local-helper";
import { freePort, sshdGate, startSshd, TestSshd } from "./remote/sshd";

const ROOT = path.join(__dirname, "..");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the runner exactly as the delete of a local.Command does: interpreter + "run", job on stdin, from the project root. */
function runJob(job: Record<string, unknown>): Promise<Result> {
  const [cmd, ...args] = localHelperInterpreter("remote/ssh-run.js");
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(cmd, [...args, "run"], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
    p.stdin.end(JSON.stringify(job));
  });
}

const gate = sshdGate("ssh-run");
const d = gate.run ? describe : describe.skip;
if (gate.failReason) test("sshd prerequisites (CI must have them)", () => { throw new Error(gate.failReason); });

d("ssh-run against a real sshd", () => {
  let sshd: TestSshd;
  beforeAll(async () => {
    sshd = await startSshd();
  }, 30_000);
  afterAll(async () => sshd?.stop());

  const job = (over: Record<string, unknown> = {}) => ({
    host: "127.0.0.1",
    port: sshd.port,
    user: sshd.user,
    privateKey: sshd.clientKey,
    hostKey: sshd.hostKey,
    script: 'echo "running as $(id -un)"; echo "args: $#"',
    timeoutSeconds: 60,
    label: "reset test-node",
    connectTimeoutSeconds: 3,
    attempts: 2,
    ...over,
  });

  test("with the pinned host key, the script runs as root (sudo) and its output is shown", async () => {
    const r = await runJob(job());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("running as root");
  });

  test("the script's exit status is the runner's (a failing cleanup fails the delete)", async () => {
    const r = await runJob(job({ script: "echo partial; exit 3" }));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("exited 3");
  });

  test("a known_hosts line is accepted as the pinned key (host field ignored)", async () => {
    const r = await runJob(job({ hostKey: `[127.0.0.1]:${sshd.port} ${sshd.hostKey}` }));
    expect(r.code).toBe(0);
  });

  test("another host key (a rebuilt machine at the same address): nothing runs, the delete succeeds, and says why", async () => {
    const other = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPV2cy8Kfa2eF4Gd7r1kK1q5CdpeBqvAk1o8g0xk3o7W9e8G7b6mM0Yb2u1D4n0k1x3xq1Z0fGx2cQmY1m7rU7w=";
    const r = await runJob(job({ hostKey: other, script: "touch /tmp/should-not-exist-ssh-run" }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/SKIPPED reset test-node: .*127\.0\.0\.1.*host key other than the one pinned/);
    expect(r.stdout).not.toContain("running as");
  });

  test("a host that refuses connections: gives up after the bounded tries, names it, succeeds", async () => {
    const closed = await freePort();
    const r = await runJob(job({ port: closed, attempts: 2 }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`SKIPPED reset test-node: \\S+@127\\.0\\.0\\.1:${closed} does not answer \\(ECONNREFUSED\\) after 2 tries`));
    expect(r.ms).toBeLessThan(15_000);
  });

  test("a host that accepts TCP but never speaks SSH counts as not answering (bounded by the connect timeout)", async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const r = await runJob(job({ port, attempts: 1, connectTimeoutSeconds: 2 }));
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/does not answer/);
      expect(r.ms).toBeLessThan(10_000);
    } finally {
      silent.close();
    }
  });

  test("a key the host refuses is a configuration error: the delete fails and says what to fix", async () => {
    const { clientKey: wrong } = await (async () => {
      const other = await startSshd();
      await other.stop();
      return other;
    })();
    const r = await runJob(job({ privateKey: wrong }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused the SSH key .*fix sshPrivateKey/);
  }, 30_000);

  test("an unpinned host (no hostKey) is accepted as today (the trust-on-first-use path)", async () => {
    const r = await runJob(job({ hostKey: undefined }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("running as root");
  });
});
