#!/usr/bin/env node
// Runs one cleanup script on a node over SSH, for the `delete` of a local.Command (node reset, drain,
// undo of node prep). Why not remote.Command's own delete: the command provider fails a delete whose
// dial fails (pulumi-command remote/commandController.go Delete -> run -> dialWithRetry, no way to
// tolerate an absent host), so one dead machine would stop `pulumi destroy` for good. Here:
//   - the host does not answer (refused, unreachable, timed out, no SSH banner) within a short,
//     bounded number of tries  -> say so, name the host and what to do, exit 0 (nothing to clean);
//   - it answers with a host key other than the pinned one -> it is not the machine this stack set up
//     (rebuilt, or someone else's); say so, run nothing, exit 0;
//   - it answers and authentication fails -> exit 1 (a configuration problem the user must fix);
//   - otherwise the script runs as root (`sudo -n timeout N bash -s`, the script on stdin) and its exit
//     status is ours.
// Input: one JSON object on stdin (the command's secret stdin):
//   { host, port, user, privateKey, hostKey?, script, timeoutSeconds, label,
//     connectTimeoutSeconds?, attempts? }
// Usage: node scripts/remote/ssh-run.js run     (the action is the last argument)
"use strict";

const { Client, utils } = require("ssh2");

const DEFAULT_CONNECT_TIMEOUT = 10;
const DEFAULT_ATTEMPTS = 3;
const RETRY_DELAY_MS = 3000;

/** Errors that mean "nobody answers at that address" (as opposed to "somebody answers wrongly"). */
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "EPIPE"]);

class HostKeyMismatch extends Error {}

function readStdin() {
  return new Promise((resolve, reject) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d) => (text += d));
    process.stdin.on("end", () => resolve(text));
    process.stdin.on("error", reject);
  });
}

/** The base64 key blob of an OpenSSH public key line (or a known_hosts line), or undefined. */
function keyBlob(line) {
  if (!line) return undefined;
  const words = String(line).trim().split(/\s+/);
  const i = words.findIndex((w) => /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-)/.test(w));
  return i >= 0 && words[i + 1] ? words[i + 1] : undefined;
}

function classify(err) {
  if (err instanceof HostKeyMismatch) return "hostkey";
  if (err && (err.level === "client-authentication" || /All configured authentication methods failed/.test(String(err.message)))) return "auth";
  if (err && (UNREACHABLE_CODES.has(err.code) || err.level === "client-timeout" || /Timed out while waiting for handshake/.test(String(err.message)))) return "unreachable";
  return "other";
}

/** Host key algorithms that present a key of the pinned type (RSA keys sign with SHA-2 today). */
function hostKeyAlgorithms(line) {
  const type = String(line).trim().split(/\s+/).find((w) => /^(ssh-|ecdsa-|sk-)/.test(w));
  if (type === "ssh-rsa") return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
  return type ? [type] : undefined;
}

function connectOnce(job) {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const pinned = keyBlob(job.hostKey);
    const algorithms = pinned ? hostKeyAlgorithms(job.hostKey) : undefined;
    let mismatch = false;
    c.on("ready", () => resolve(c));
    c.on("error", (e) => reject(mismatch ? new HostKeyMismatch("host key mismatch") : e));
    c.connect({
      host: job.host,
      port: job.port || 22,
      username: job.user,
      privateKey: job.privateKey,
      readyTimeout: (job.connectTimeoutSeconds || DEFAULT_CONNECT_TIMEOUT) * 1000,
      // Ask for the pinned key's type, so a server with several host keys shows that one.
      ...(algorithms ? { algorithms: { serverHostKey: algorithms } } : {}),
      hostVerifier: (key) => {
        if (!pinned) return true;
        mismatch = Buffer.from(key).toString("base64") !== pinned;
        return !mismatch;
      },
    });
  });
}

async function connect(job) {
  const attempts = job.attempts || DEFAULT_ATTEMPTS;
  let last;
  for (let i = 1; i <= attempts; i++) {
    try {
      return await connectOnce(job);
    } catch (e) {
      last = e;
      if (classify(e) !== "unreachable") throw e;
      if (i < attempts) await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
    }
  }
  throw last;
}

function runScript(conn, job) {
  return new Promise((resolve, reject) => {
    const timeout = Math.max(1, Math.floor(job.timeoutSeconds || 900));
    conn.exec(`sudo -n timeout --kill-after=30 ${timeout} bash -s`, (err, stream) => {
      if (err) return reject(err);
      stream.on("close", (code, signal) => resolve(code === null || code === undefined ? (signal ? 128 : 1) : code));
      stream.on("data", (d) => process.stdout.write(d));
      stream.stderr.on("data", (d) => process.stderr.write(d));
      stream.end(job.script);
    });
  });
}

async function main(argv) {
  const action = argv[argv.length - 1];
  if (action !== "run") throw new Error(`usage: node scripts/remote/ssh-run.js run (job JSON on stdin); got ${JSON.stringify(action)}`);
  const job = JSON.parse(await readStdin());
  for (const k of ["host", "user", "privateKey", "script", "label"]) if (!job[k]) throw new Error(`job: missing ${k}`);
  const where = `${job.user}@${job.host}:${job.port || 22}`;
  // Parsed up front: a malformed key is a configuration error, not an unreachable host.
  const parsed = utils.parseKey(job.privateKey);
  if (parsed instanceof Error) throw new Error(`the SSH private key for ${where} cannot be read: ${parsed.message}`);
  let conn;
  try {
    conn = await connect(job);
  } catch (e) {
    switch (classify(e)) {
      case "unreachable":
        process.stdout.write(
          `SKIPPED ${job.label}: ${where} does not answer (${e.code || e.message}) after ${job.attempts || DEFAULT_ATTEMPTS} tries; ` +
            "nothing was run there. If the machine is gone, nothing is left to clean; if it comes back, clean it by hand " +
            "(scripts/ops/reset-node, docs/lifecycle.md).\n",
        );
        return 0;
      case "hostkey":
        process.stdout.write(
          `SKIPPED ${job.label}: ${where} answers with a host key other than the one pinned for this node: ` +
            "it is not the machine this stack set up (rebuilt or replaced); nothing was run there.\n",
        );
        return 0;
      case "auth":
        throw new Error(`${job.label}: ${where} refused the SSH key (${e.message}); fix sshPrivateKey / ssh.user and run again`);
      default:
        throw new Error(`${job.label}: SSH to ${where} failed: ${e.message}`);
    }
  }
  try {
    const code = await runScript(conn, job);
    if (code !== 0) process.stderr.write(`${job.label}: the script on ${where} exited ${code}\n`);
    return code;
  } finally {
    conn.end();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`ssh-run: ${e && e.message ? e.message : e}\n`);
      process.exit(1);
    },
  );
}

module.exports = { keyBlob, classify, hostKeyAlgorithms };
