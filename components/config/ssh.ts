// The `ssh` block and `sshPrivateKey`: how the program reaches the machines, with the checks that
// depend on the provider, and the checks on key text that would otherwise only show up as an SSH failure.
import * as pulumi from "@pulumi/pulumi";
import { MachineProvider, SshSpec } from "../spec";
import { Block, P, Problems, isPlainObject } from "./reader";
import { ENCRYPTED_PLACEHOLDER } from "./stack-file";

const SET_PRIVATE_KEY = "cat ~/.ssh/id_ed25519 | pulumi config set --secret sshPrivateKey";

/** `ssh` and `sshPrivateKey`; `secretKey` (the secret config value) wins over a key in the raw config. */
export function readSsh(root: Block, provider: MachineProvider | undefined, secretKey: pulumi.Output<string> | undefined, probs: Problems): SshSpec {
  const sb = root.block("ssh");
  const publicKey = sb.str("publicKey", undefined, checkOpenSshPublicKey);
  const publicKeyGiven = sb.has("publicKey");
  const ssh = {
    user: sb.str("user", provider === "aliyun" ? "root" : "ubuntu", (s) => (/^[a-z_][a-z0-9_-]{0,31}$/.test(s) ? undefined : 'not a Linux user name; e.g. "ubuntu"')),
    port: sb.int("port", 22, { min: 1, max: 65535 }),
    connectTimeoutSeconds: sb.int("connectTimeoutSeconds", 600, { min: 10, max: 86400 }),
  };
  sb.finish();
  const rawKey = root.raw("sshPrivateKey");
  const privateKey = secretKey ?? privateKeyFromRaw(rawKey);
  checkSshForProvider(provider, { ...ssh, hasPrivateKey: privateKey !== undefined, publicKeyGiven }, probs);
  return { ...ssh, ...(publicKey !== undefined ? { publicKey: publicKey.trim() } : {}), ...(privateKey ? { privateKey } : {}) };
}

/** sshPrivateKey in the raw config (a stack file read offline): an encrypted `{secure: ...}` value becomes a placeholder. */
function privateKeyFromRaw(rawKey: unknown): pulumi.Output<string> | undefined {
  if (typeof rawKey === "string" && rawKey !== "") return pulumi.secret(rawKey);
  if (isPlainObject(rawKey) && typeof rawKey.secure === "string") return pulumi.secret(ENCRYPTED_PLACEHOLDER);
  return undefined;
}

function checkSshForProvider(
  provider: MachineProvider | undefined,
  ssh: { user: string; port: number; hasPrivateKey: boolean; publicKeyGiven: boolean },
  probs: Problems,
): void {
  if (provider === "existing" && !ssh.hasPrivateKey) {
    probs.at(`${P}sshPrivateKey`, `required for provider "existing" (the key that logs in as ssh.user on every host); set it with: ${SET_PRIVATE_KEY}`);
  }
  if ((provider === "virtualbox" || provider === "aliyun") && ssh.hasPrivateKey && !ssh.publicKeyGiven) {
    probs.at(`${P}ssh.publicKey`, `required when sshPrivateKey is set (it is installed on the new machines so that key can log in); set it with: pulumi config set --path ssh.publicKey "$(cat ~/.ssh/id_ed25519.pub)", or unset sshPrivateKey to let the program generate a key pair`);
  }
  // New machines come from images whose sshd listens on 22 and which refuse root logins (VirtualBox cloud image).
  if ((provider === "virtualbox" || provider === "aliyun") && ssh.port !== 22) {
    probs.bad(`${P}ssh.port`, ssh.port, `only used with provider "existing": new ${provider} machines run sshd on port 22; remove ssh.port`);
  }
  if (provider === "virtualbox" && ssh.user === "root") {
    probs.bad(`${P}ssh.user`, "root", 'the Ubuntu cloud image refuses root logins over SSH; use a normal user such as "ubuntu" (it gets passwordless sudo)');
  }
}

/** Best-effort recognition of an OpenSSH public key line: type, base64 blob whose embedded type matches. */
export function checkOpenSshPublicKey(v: string): string | undefined {
  const fix = 'expected one line like "ssh-ed25519 AAAAC3Nza... you@host" (the content of ~/.ssh/id_ed25519.pub)';
  if (v.includes("PRIVATE KEY")) return `this is a private key, not a public key; ${fix}`;
  const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,2})(?: [^\r\n]*)?\s*$/.exec(v);
  if (!m) return `not an OpenSSH public key; ${fix}`;
  const blob = Buffer.from(m[2], "base64");
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const embedded = len > 0 && len + 4 <= blob.length ? blob.subarray(4, 4 + len).toString("latin1") : undefined;
  if (embedded !== m[1]) return `the key data does not start with the key type "${m[1]}" (truncated or mangled?); ${fix}`;
  return undefined;
}

/**
 * Checks the private key text (never echoed: it is secret). Lenient: only rejects what certainly does
 * not work: not a PEM/OpenSSH private key (e.g. the .pub file), or one protected by a passphrase,
 * which the SSH connection here cannot unlock.
 */
export function privateKeyProblem(text: string): string | undefined {
  const key = `${P}sshPrivateKey`;
  const how = `set it with: ${SET_PRIVATE_KEY}`;
  if (/^\s*(ssh-|ecdsa-|sk-)/.test(text)) return `${key}: this is a public key, not a private key; ${how}`;
  const m = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----([\s\S]*?)-----END \1PRIVATE KEY-----/.exec(text);
  if (!m) return `${key}: not a PEM or OpenSSH private key (no "-----BEGIN ... PRIVATE KEY-----" block); ${how}`;
  const body = m[2];
  if (/Proc-Type:\s*4,ENCRYPTED/.test(body) || m[1] === "ENCRYPTED ") return `${key}: the key is protected by a passphrase, which is not supported; use a key without one (ssh-keygen -t ed25519 -N '' -f ./cluster-key)`;
  if (m[1] === "OPENSSH ") {
    const blob = Buffer.from(body.replace(/\s+/g, ""), "base64");
    const magic = "openssh-key-v1\0";
    if (blob.subarray(0, magic.length).toString("latin1") === magic && blob.length >= magic.length + 4) {
      const n = blob.readUInt32BE(magic.length);
      const cipher = blob.subarray(magic.length + 4, magic.length + 4 + n).toString("latin1");
      if (cipher !== "none") return `${key}: the key is protected by a passphrase (cipher ${cipher}), which is not supported; use a key without one (ssh-keygen -t ed25519 -N '' -f ./cluster-key)`;
    }
  }
  return undefined;
}
