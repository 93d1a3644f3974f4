#!/usr/bin/env node
// Stand-in for kubectl, ssh, scp and pulumi in the ops tests. Every call is appended to
// $FAKE_STATE/calls.jsonl; the reply comes from the first rule in $FAKE_STATE/rules.json whose tool,
// argument regex, host and stdin regex match. Without a matching rule: ssh runs the remote command
// locally when FAKE_SSH_EXEC=1 (bash, with test/ops/nodebin first on PATH, so remote scripts really
// execute against fake node tools), scp copies the local path, and anything else fails loudly with
// exit 97.
"use strict";
const fs = require("fs");
const path = require("path");
const cp = require("child_process");

const tool = process.argv[2];
const args = process.argv.slice(3);
const state = process.env.FAKE_STATE;
if (!state) {
  process.stderr.write("fake: FAKE_STATE not set\n");
  process.exit(98);
}

let stdin = "";
if (tool === "ssh") {
  try {
    stdin = fs.readFileSync(0, "utf8");
  } catch {
    stdin = "";
  }
}

// ssh/scp options that take a value (OpenSSH).
const withValue = new Set(["-o", "-i", "-l", "-p", "-P", "-F", "-J", "-E", "-c", "-m", "-b", "-D", "-L", "-R", "-S", "-W", "-w", "-Q", "-e", "-O", "-I"]);
let host;
let remote = "";
let operands = [];
if (tool === "ssh" || tool === "scp") {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (operands.length === 0 && a.startsWith("-")) {
      if (withValue.has(a)) i++;
      continue;
    }
    operands.push(a);
  }
  if (tool === "ssh") {
    host = operands[0];
    remote = operands.slice(1).join(" ");
  } else {
    const r = operands.find((o) => /^[^/]+:/.test(o));
    host = r ? r.split(":")[0] : undefined;
  }
}

fs.appendFileSync(
  path.join(state, "calls.jsonl"),
  JSON.stringify({ tool, args, host, remote, stdin, pid: process.pid, t: Date.now() }) + "\n",
);

let rules = [];
try {
  rules = JSON.parse(fs.readFileSync(path.join(state, "rules.json"), "utf8"));
} catch {
  rules = [];
}

function sleep(seconds) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

function reply(r) {
  if (r.sleep) sleep(r.sleep);
  if (r.outFile) fs.writeSync(1, fs.readFileSync(r.outFile));
  if (r.out) fs.writeSync(1, r.out);
  if (r.err) fs.writeSync(2, r.err);
  process.exit(r.code || 0);
}

const joined = args.join(" ");
for (let i = 0; i < rules.length; i++) {
  const r = rules[i];
  if (r.tool !== tool) continue;
  if (r.args && !new RegExp(r.args).test(joined)) continue;
  if (r.host && r.host !== host) continue;
  if (r.stdin && !new RegExp(r.stdin).test(stdin)) continue;
  if (r.seq) {
    // A sequence answers successive calls in order; its last entry repeats.
    const counter = path.join(state, `seq-${i}`);
    const k = fs.existsSync(counter) ? Number(fs.readFileSync(counter, "utf8")) : 0;
    fs.writeFileSync(counter, String(k + 1));
    reply(r.seq[Math.min(k, r.seq.length - 1)]);
  }
  reply(r);
}

// Running a "remote" script locally is opt-in per test (FAKE_SSH_EXEC=1): a script such as
// scripts/node/reset.sh must never run on the machine the tests run on.
if (tool === "ssh" && process.env.FAKE_SSH_EXEC === "1") {
  const nodebin = path.join(__dirname, "nodebin");
  const res = cp.spawnSync("bash", ["-c", remote], {
    input: stdin,
    stdio: ["pipe", "inherit", "inherit"],
    env: { ...process.env, PATH: `${nodebin}:${process.env.PATH}`, FAKE_HOST: host || "" },
  });
  process.exit(res.status === null ? 1 : res.status);
}
if (tool === "scp") {
  const src = operands[operands.length - 2];
  const dst = operands[operands.length - 1];
  const local = src.includes(":") ? src.slice(src.indexOf(":") + 1) : src;
  const res = cp.spawnSync("cp", ["-r", local, dst], { stdio: "inherit" });
  process.exit(res.status === null ? 1 : res.status);
}
process.stderr.write(`fake ${tool}: no rule for: ${joined}\n`);
process.exit(97);
