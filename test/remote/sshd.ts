// A real OpenSSH server on 127.0.0.1 for tests: a throwaway host key, one authorized client key, the
// current user (root in CI) as the login. Debian's openssh-server package (installed by .ci/run);
// without it (or without root) tests skip with the reason, and fail under CI=true.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { inCi } from "../sandbox/prereqs";

export const SSHD = "/usr/sbin/sshd";

export interface TestSshd {
  readonly port: number;
  readonly user: string;
  /** The server's host public key line ("ecdsa-sha2-nistp256 AAAA..."). */
  readonly hostKey: string;
  /** An OpenSSH private key the server accepts. */
  readonly clientKey: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Why sshd tests cannot run here, or undefined. */
export function sshdMissing(): string | undefined {
  if (!fs.existsSync(SSHD)) return "no /usr/sbin/sshd (apt-get install openssh-server)";
  if (spawnSync("sh", ["-c", "command -v sudo"]).status !== 0) return "no sudo (apt-get install sudo)";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "needs root (sshd must switch to the login user)";
  return undefined;
}

/** `describe` or `describe.skip`, with the CI rule (a missing prerequisite fails there). */
export function sshdGate(label: string): { run: boolean; failReason?: string } {
  const why = sshdMissing();
  if (!why) return { run: true };
  if (inCi()) return { run: false, failReason: `${label}: ${why}` };
  console.warn(`SKIPPED ${label}: ${why}`);
  return { run: false };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function keygen(file: string, type: "ecdsa" | "ed25519"): void {
  const r = spawnSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", file, "-C", "test"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

export async function startSshd(): Promise<TestSshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "test-sshd-"));
  fs.chmodSync(dir, 0o755);
  keygen(path.join(dir, "host"), "ecdsa");
  keygen(path.join(dir, "client"), "ed25519");
  fs.copyFileSync(path.join(dir, "client.pub"), path.join(dir, "authorized_keys"));
  fs.chmodSync(path.join(dir, "authorized_keys"), 0o600);
  const port = await freePort();
  const user = os.userInfo().username;
  fs.writeFileSync(
    path.join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      `PidFile ${dir}/sshd.pid`,
      "LogLevel ERROR",
    ].join("\n") + "\n",
  );
  fs.mkdirSync("/run/sshd", { recursive: true }); // privilege separation directory sshd insists on
  const proc: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  // Ready when the port accepts connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => { s.destroy(); resolve(true); });
      s.on("error", () => resolve(false));
    });
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    user,
    dir,
    hostKey: fs.readFileSync(path.join(dir, "host.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" "),
    clientKey: fs.readFileSync(path.join(dir, "client"), "utf8"),
    stop: async () => {
      if (proc.exitCode === null) {
        const gone = new Promise<void>((r) => proc.once("exit", () => r()));
        proc.kill("SIGTERM");
        await gone;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
