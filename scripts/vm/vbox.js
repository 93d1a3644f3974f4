#!/usr/bin/env node
// Host-side VirtualBox helper for the `<node>-vm` local.Command:
//   node scripts/vm/vbox.js create|delete      (plan JSON on stdin, see components/machines/virtualbox-plan.ts)
// VBoxManage runs through execFileSync with argv arrays: no shell, so names and paths with spaces or
// quotes reach it as one argument on Linux, macOS and Windows alike. Plain CommonJS, Node >= 20, no
// dependencies (it runs before ts-node is involved). Progress goes to stderr; `create` prints only the
// VM UUID on stdout (the Host's machineId).
"use strict";

const childProcess = require("child_process");
const fs = require("fs");
const net = require("net");
const path = require("path");
const crypto = require("crypto");
const { buildIso } = require("./iso9660");

const OWNER_KEY = "kubeadm-cluster/owner";
const PLAN_KEY = "kubeadm-cluster/plan";
const STATE_KEY = "kubeadm-cluster/state";
const VM_DIR_PREFIX = "@vmdir/";
const PLAN_VERSION = 1;

class StepError extends Error {}

function log(msg) {
  process.stderr.write(`vbox.js: ${msg}\n`);
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs VBoxManage; returns { status, stdout, stderr }. Never throws for a non-zero exit. */
function vbox(plan, args, timeoutSeconds) {
  const r = childProcess.spawnSync(plan.vboxManage, args, {
    encoding: "utf8",
    timeout: (timeoutSeconds || 120) * 1000,
    windowsHide: true,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) {
    const hint = r.error.code === "ENOENT" ? ` (is VirtualBox installed? set virtualbox.vboxManage to the full path of VBoxManage)` : "";
    return { status: -1, stdout: r.stdout || "", stderr: `${r.error.message}${hint}` };
  }
  return { status: r.status === null ? -1 : r.status, stdout: r.stdout || "", stderr: r.stderr || "" };
}

/** A VBoxManage call that must succeed; a session lock (VM still shutting down) is retried. */
function step(plan, what, args, timeoutSeconds) {
  for (let attempt = 1; ; attempt++) {
    const r = vbox(plan, args, timeoutSeconds);
    if (r.status === 0) return r.stdout;
    const locked = /locked|VBOX_E_INVALID_OBJECT_STATE|E_ACCESSDENIED.*session/i.test(r.stderr);
    if (locked && attempt < 5) {
      log(`${what}: VM busy, retrying in ${attempt * 2}s`);
      sleepMs(attempt * 2000);
      continue;
    }
    throw new StepError(`step "${what}" failed: VBoxManage ${args.join(" ")}\n${r.stderr.trim() || r.stdout.trim()}`);
  }
}

/** Reads a field that may be double-quoted with \" and \\ escapes (VBoxManage escapes both). */
function readField(line, start, stopAt) {
  if (line[start] !== '"') {
    const end = stopAt ? line.indexOf(stopAt, start) : line.length;
    return end < 0 ? undefined : { text: line.slice(start, end), next: end };
  }
  let text = "";
  for (let i = start + 1; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && i + 1 < line.length) text += line[++i];
    else if (c === '"') return { text, next: i + 1 };
    else text += c;
  }
  return undefined;
}

/** Parses `showvminfo --machinereadable`: key="value" lines, keys quoted when they contain spaces. */
function parseMachineReadable(text) {
  const out = {};
  for (const line of text.split(/\r?\n/)) {
    const key = readField(line, 0, "=");
    if (!key || line[key.next] !== "=") continue;
    const value = readField(line, key.next + 1, "");
    if (value) out[key.text] = value.text;
  }
  return out;
}

/** The VM's machine-readable info, or undefined when no VM has that name. */
function vmInfo(plan) {
  const r = vbox(plan, ["showvminfo", plan.vmName, "--machinereadable"], 60);
  if (r.status === 0) return parseMachineReadable(r.stdout);
  if (/VBOX_E_OBJECT_NOT_FOUND|Could not find a registered machine/i.test(r.stderr)) return undefined;
  throw new StepError(`step "look up VM ${plan.vmName}" failed: ${r.stderr.trim()}`);
}

function getExtra(plan, key) {
  const r = vbox(plan, ["getextradata", plan.vmName, key], 60);
  if (r.status !== 0) throw new StepError(`step "read extradata ${key}" failed: ${r.stderr.trim()}`);
  const m = /^Value: (.*)$/m.exec(r.stdout);
  return m ? m[1].trim() : undefined; // "No value set!" otherwise
}

function vmDirOf(info) {
  if (!info.CfgFile) throw new StepError(`step "find the VM folder" failed: showvminfo printed no CfgFile`);
  return path.dirname(info.CfgFile);
}

function planHash(plan) {
  return crypto.createHash("sha256").update(JSON.stringify(plan)).digest("hex").slice(0, 16);
}

/** Replaces "@vmdir/<file>" (whole argument or after "--opt=") with the file's path in the VM folder. */
function resolveArg(arg, vmDir) {
  const i = arg.indexOf(VM_DIR_PREFIX);
  return i < 0 ? arg : arg.slice(0, i) + path.join(vmDir, arg.slice(i + VM_DIR_PREFIX.length));
}

const RUNNING = new Set(["running", "paused", "stuck", "starting", "restoring", "saving", "stopping", "livesnapshotting"]);

function powerOff(plan) {
  let info = vmInfo(plan);
  if (!info || !RUNNING.has(info.VMState)) return;
  log(`powering off ${plan.vmName}`);
  vbox(plan, ["controlvm", plan.vmName, "poweroff"], 120); // may race with a shutdown: state is checked below
  for (let i = 0; i < 60; i++) {
    info = vmInfo(plan);
    if (!info || !RUNNING.has(info.VMState)) return;
    sleepMs(1000);
  }
  throw new StepError(`step "power off ${plan.vmName}" failed: still ${info.VMState} after 60s`);
}

function removeOwnedFiles(plan, vmDir) {
  for (const f of plan.extraFiles || []) fs.rmSync(path.join(vmDir, f), { force: true });
  try {
    fs.rmdirSync(vmDir); // only if empty: never delete files this helper did not create
  } catch (_) {
    /* not empty or already gone */
  }
}

/**
 * Deletes our VM (if it exists and is ours). With onlyThisPlan, a VM made from another plan (a newer
 * replacement of this node) is left alone too. Returns a message for the log.
 */
function destroyVm(plan, onlyThisPlan) {
  const info = vmInfo(plan);
  if (!info) return `VM ${plan.vmName} is already gone`;
  const owner = getExtra(plan, OWNER_KEY);
  if (owner !== plan.owner) return `VM ${plan.vmName} belongs to ${owner ? `"${owner}"` : "someone else"}, not ${plan.owner}; left alone`;
  if (onlyThisPlan && getExtra(plan, PLAN_KEY) !== planHash(plan)) return `VM ${plan.vmName} was made from a different plan (a replacement); left alone`;
  const vmDir = vmDirOf(info);
  powerOff(plan);
  step(plan, `unregister and delete ${plan.vmName} with its disks`, ["unregistervm", plan.vmName, "--delete"], 300);
  removeOwnedFiles(plan, vmDir);
  return `VM ${plan.vmName} deleted`;
}

/** Picks a DVD slot: a free IDE slot, else a new SATA port, else a new IDE controller. */
function dvdSlot(plan, info) {
  const controllers = [];
  for (let i = 0; info[`storagecontrollername${i}`] !== undefined; i++) {
    controllers.push({ name: info[`storagecontrollername${i}`], type: info[`storagecontrollertype${i}`] || "", ports: Number(info[`storagecontrollerportcount${i}`] || 0), max: Number(info[`storagecontrollermaxportcount${i}`] || 0) });
  }
  const free = (c, p, d) => {
    const v = info[`${c.name}-${p}-${d}`];
    return v === undefined || v === "none" || v === "emptydrive";
  };
  const ide = controllers.find((c) => /PIIX|ICH6/i.test(c.type));
  if (ide) {
    for (const [p, d] of [[1, 0], [1, 1], [0, 1], [0, 0]]) if (free(ide, p, d)) return { controller: ide.name, port: p, device: 0 + d };
  }
  const sata = controllers.find((c) => /Ahci/i.test(c.type));
  if (sata) {
    for (let p = 0; p < sata.ports; p++) if (free(sata, p, 0)) return { controller: sata.name, port: p, device: 0 };
    if (sata.ports < (sata.max || 30)) {
      step(plan, "add a SATA port for the seed DVD", ["storagectl", plan.vmName, `--name=${sata.name}`, `--portcount=${sata.ports + 1}`]);
      return { controller: sata.name, port: sata.ports, device: 0 };
    }
  }
  step(plan, "add an IDE controller for the seed DVD", ["storagectl", plan.vmName, "--name=kubeadm-seed", "--add=ide", "--controller=PIIX4"]);
  return { controller: "kubeadm-seed", port: 0, device: 0 };
}

/** The imported system disk (the first attached .vdi). */
function systemDisk(info) {
  const key = Object.keys(info).find((k) => /-\d+-\d+$/.test(k) && /\.vdi$/i.test(info[k]));
  if (!key) throw new StepError(`step "find the imported disk" failed: no .vdi attached (was the image an .ova?)`);
  return info[key];
}

function growDisk(plan, disk) {
  const out = step(plan, "read the disk size", ["showmediuminfo", "disk", disk]);
  const m = /Capacity:\s+(\d+)\s*MBytes/i.exec(out);
  const current = m ? Number(m[1]) : 0;
  if (current >= plan.diskMb) {
    log(`disk is ${current} MiB (>= ${plan.diskMb}); not resized`);
    return;
  }
  step(plan, `grow the disk to ${plan.diskMb} MiB`, ["modifymedium", "disk", disk, `--resize=${plan.diskMb}`], 600);
}

function tryConnect(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let banner = "";
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on("data", (d) => {
      banner += d.toString("latin1");
      if (banner.startsWith("SSH-")) done(true);
      else if (banner.length >= 4) done(false);
    });
    sock.on("error", () => done(false));
    sock.on("close", () => resolve(false));
  });
}

/** Polls until an SSH banner answers on host:port, bounded by timeoutSeconds. */
async function waitForSsh(w) {
  const deadline = Date.now() + w.timeoutSeconds * 1000;
  log(`waiting up to ${w.timeoutSeconds}s for SSH on ${w.host}:${w.port}`);
  while (Date.now() < deadline) {
    if (await tryConnect(w.host, w.port, 5000)) return;
    await new Promise((r) => setTimeout(r, 3000));
  }
  throw new StepError(
    `step "wait for SSH on ${w.host}:${w.port}" failed: no SSH banner within ${w.timeoutSeconds}s. ` +
      `Check that the host-only adapter has an address in the node network and see serial.log in the VM folder.`,
  );
}

async function create(plan) {
  const hash = planHash(plan);
  let info = vmInfo(plan);
  if (info) {
    const owner = getExtra(plan, OWNER_KEY);
    if (owner !== plan.owner) {
      throw new StepError(
        `a VM named "${plan.vmName}" already exists and was not created by this stack for ${plan.owner} ` +
          `(extradata ${OWNER_KEY} = ${owner ? `"${owner}"` : "unset"}). Refusing to take it over: ` +
          `rename the node or clusterName, or remove that VM yourself.`,
      );
    }
    if (getExtra(plan, STATE_KEY) === "ready" && getExtra(plan, PLAN_KEY) === hash) {
      // A finished VM from an earlier run whose state Pulumi did not record: keep it.
      if (!RUNNING.has(info.VMState)) step(plan, "start the VM", plan.start);
      await waitForSsh(plan.waitForSsh);
      return info.UUID;
    }
    // Half-made by an interrupted run (a failed create is not recorded in Pulumi state): start over.
    log(`VM ${plan.vmName} was left unfinished by an earlier run; recreating it`);
    log(destroyVm(plan, false));
  }

  log(`creating ${plan.vmName} from ${plan.image}`);
  const [first, ...more] = plan.create;
  step(plan, `create the VM (${first[0]})`, first, 1800);
  // Mark ownership first, so a failure in any later step leaves a VM this helper may clean up.
  step(plan, "mark the VM as ours", ["setextradata", plan.vmName, OWNER_KEY, plan.owner]);
  info = vmInfo(plan);
  if (!info) throw new StepError(`step "create the VM" failed: VM ${plan.vmName} is not registered afterwards`);
  const vmDir = vmDirOf(info);
  for (const args of more) step(plan, `create the VM (${args[0]})`, args.map((a) => resolveArg(a, vmDir)), 1800);
  info = vmInfo(plan);
  for (const args of plan.configure) step(plan, `configure (${args[2]})`, args.map((a) => resolveArg(a, vmDir)));
  growDisk(plan, systemDisk(info));

  const isoPath = path.join(vmDir, plan.seed.fileName);
  fs.writeFileSync(isoPath, buildIso(plan.seed.files, plan.seed.volumeId));
  const slot = dvdSlot(plan, vmInfo(plan));
  step(plan, "attach the cloud-init seed", ["storageattach", plan.vmName, `--storagectl=${slot.controller}`, `--port=${slot.port}`, `--device=${slot.device}`, "--type=dvddrive", `--medium=${isoPath}`]);
  step(plan, "record the plan", ["setextradata", plan.vmName, PLAN_KEY, hash]);

  step(plan, "start the VM", plan.start, 300);
  await waitForSsh(plan.waitForSsh);
  step(plan, "mark the VM ready", ["setextradata", plan.vmName, STATE_KEY, "ready"]);
  return vmInfo(plan).UUID;
}

function readPlan() {
  const text = fs.readFileSync(0, "utf8");
  let plan;
  try {
    plan = JSON.parse(text);
  } catch (e) {
    throw new StepError(`step "read the plan from stdin" failed: ${e.message}`);
  }
  if (!plan || plan.version !== PLAN_VERSION) throw new StepError(`step "read the plan from stdin" failed: expected plan version ${PLAN_VERSION}`);
  return plan;
}

async function main(argv) {
  const action = argv[argv.length - 1];
  if (action !== "create" && action !== "delete") {
    throw new StepError(`usage: node scripts/vm/vbox.js create|delete (plan JSON on stdin); got ${JSON.stringify(action)}`);
  }
  const plan = readPlan();
  if (action === "delete") {
    log(destroyVm(plan, true));
    return;
  }
  const uuid = await create(plan);
  if (!uuid) throw new StepError(`step "read the VM UUID" failed`);
  process.stdout.write(`${uuid}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`vbox.js: ${e instanceof StepError ? e.message : e.stack || e}\n`);
    process.exit(1);
  });
}

module.exports = { parseMachineReadable, main };
