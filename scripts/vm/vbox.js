#!/usr/bin/env node
// Host-side VirtualBox helper for the `<cluster>-<node>-vm` local.Command:
//   node scripts/vm/vbox.js create|update|delete    (plan JSON on stdin, components/machines/virtualbox-plan.ts)
// VBoxManage runs through spawnSync with argv arrays: no shell, so names and paths with spaces or
// quotes reach it as one argument on Linux, macOS and Windows alike. Plain CommonJS, Node >= 20, no
// dependencies (it runs before ts-node is involved). Progress goes to stderr. stdout carries only the
// VM UUID (the Host's machineId) and, when the VM was created with the pinned host key, a line
// `hostkey <public key>`. The plan holds the VM's SSH host private key: nothing here prints the plan,
// the seed or a parse error quoting them.
//
// create and update do the same thing: reconcile the VM named in the plan with the plan
// (scripts/vm/reconcile.js decides: create, keep, adopt a v0.1 VM, rebuild, or refuse a VM that is not
// ours). A new VM is a linked clone of a base VM shared by every VM of the same image and disk size;
// the base is imported once, under a lock file so parallel creates do not import it twice.
"use strict";

const childProcess = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");
const crypto = require("crypto");
const { buildIso } = require("./iso9660");
const { decideVm, decideDelete, parseMediumInfo, mediumUsers, baseUsers } = require("./reconcile");

// Extradata keys; the TypeScript side names the same ones (virtualbox-plan.ts).
const OWNER_KEY = "kubeadm-cluster/owner";
const STATE_KEY = "kubeadm-cluster/state";
const IDENTITY_KEY = "kubeadm-cluster/identity";
const IDENTITY_JSON_KEY = "kubeadm-cluster/identity-json";
const HOSTKEY_KEY = "kubeadm-cluster/hostkey";
/** On a node VM: the base VM it is a linked clone of (so a rebuild or delete can release that base). */
const BASE_OF_KEY = "kubeadm-cluster/base-vm";
/** On a base VM: its owner marker, whether it is finished, and its disk (the snapshot's parent of every clone). */
const BASE_KEY = "kubeadm-cluster/base";
const BASE_STATE_KEY = "kubeadm-cluster/base-state";
const BASE_DISK_KEY = "kubeadm-cluster/base-disk";
/** Plan format 1 (v0.1): its hash was recorded here; only `delete` still reads such plans. */
const LEGACY_PLAN_KEY = "kubeadm-cluster/plan";
const VM_DIR_PREFIX = "@vmdir/";
const PLAN_VERSION = 2;
const LEGACY_PLAN_VERSION = 1;

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

/** A VM's machine-readable info, or undefined when no VM has that name. */
function vmInfo(plan, name) {
  const r = vbox(plan, ["showvminfo", name, "--machinereadable"], 60);
  if (r.status === 0) return parseMachineReadable(r.stdout);
  if (/VBOX_E_OBJECT_NOT_FOUND|Could not find a registered machine/i.test(r.stderr)) return undefined;
  throw new StepError(`step "look up VM ${name}" failed: ${r.stderr.trim()}`);
}

function mustInfo(plan, name) {
  const info = vmInfo(plan, name);
  if (!info) throw new StepError(`step "look up VM ${name}" failed: it is not registered`);
  return info;
}

function getExtra(plan, name, key) {
  const r = vbox(plan, ["getextradata", name, key], 60);
  if (r.status !== 0) throw new StepError(`step "read extradata ${key} of ${name}" failed: ${r.stderr.trim()}`);
  const m = /^Value: (.*)$/m.exec(r.stdout);
  return m ? m[1].trim() : undefined; // "No value set!" otherwise
}

/**
 * Every extradata key of a VM in one call: `getextradata <vm> enumerate` prints "Key: <k>, Value: <v>"
 * lines (man VBoxManage-getextradata).
 */
function extraAll(plan, name) {
  const r = vbox(plan, ["getextradata", name, "enumerate"], 60);
  if (r.status !== 0) throw new StepError(`step "read the extradata of ${name}" failed: ${r.stderr.trim()}`);
  const out = {};
  for (const line of r.stdout.split(/\r?\n/)) {
    const m = /^Key: (.*?), Value: (.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

function setExtra(plan, name, key, value) {
  // man VBoxManage-setextradata: "Specifying no value removes the keyword."
  step(plan, `record ${key} on ${name}`, value === undefined ? ["setextradata", name, key] : ["setextradata", name, key, value]);
}

function vmDirOf(info) {
  if (!info.CfgFile) throw new StepError(`step "find the VM folder" failed: showvminfo printed no CfgFile`);
  return path.dirname(info.CfgFile);
}

/** Replaces "@vmdir/<file>" (whole argument or after "--opt=") with the file's path in the VM folder. */
function resolveArg(arg, vmDir) {
  const i = arg.indexOf(VM_DIR_PREFIX);
  return i < 0 ? arg : arg.slice(0, i) + path.join(vmDir, arg.slice(i + VM_DIR_PREFIX.length));
}

const RUNNING = new Set(["running", "paused", "stuck", "starting", "restoring", "saving", "stopping", "livesnapshotting"]);

function powerOff(plan, name) {
  let info = vmInfo(plan, name);
  if (!info || !RUNNING.has(info.VMState)) return;
  log(`powering off ${name}`);
  vbox(plan, ["controlvm", name, "poweroff"], 120); // may race with a shutdown: state is checked below
  for (let i = 0; i < 60; i++) {
    info = vmInfo(plan, name);
    if (!info || !RUNNING.has(info.VMState)) return;
    sleepMs(1000);
  }
  throw new StepError(`step "power off ${name}" failed: still ${info.VMState} after 60s`);
}

/**
 * Powers off, unregisters with its disks (man VBoxManage-unregistervm: --delete removes "all hard disk
 * image files, including differencing files"), then removes the files this helper wrote and the folder
 * if that left it empty (never files this helper did not create).
 */
function deleteVm(plan, name, info, extraFiles) {
  const vmDir = vmDirOf(info);
  powerOff(plan, name);
  step(plan, `unregister and delete ${name} with its disks`, ["unregistervm", name, "--delete"], 600);
  for (const f of extraFiles) fs.rmSync(path.join(vmDir, f), { force: true });
  for (const d of [path.join(vmDir, "Snapshots"), vmDir]) {
    try {
      fs.rmdirSync(d);
    } catch (_) {
      /* not empty or already gone */
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The base VM lock: one file per base in the OS temp folder, created with O_EXCL ("wx"), so exactly one
// process imports, clones from or deletes a base at a time. A lock whose process has died is removed.

function lockFileFor(baseName) {
  return path.join(os.tmpdir(), "kubeadm-vbox-locks", `${baseName}.lock`);
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

function readHolder(file) {
  try {
    const h = JSON.parse(fs.readFileSync(file, "utf8"));
    return h && typeof h.pid === "number" ? h : undefined;
  } catch (_) {
    return undefined;
  }
}

function isStale(file, holder) {
  if (holder) return holder.host === os.hostname() && !pidAlive(holder.pid);
  // Created but never written (the holder died in between): stale after a minute.
  try {
    return Date.now() - fs.statSync(file).mtimeMs > 60000;
  } catch (_) {
    return false;
  }
}

function withBaseLock(plan, baseName, doing, fn) {
  const file = lockFileFor(baseName);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const waitSeconds = plan.base.waitSeconds;
  const deadline = Date.now() + waitSeconds * 1000;
  let told = false;
  for (;;) {
    let fd;
    try {
      fd = fs.openSync(file, "wx");
    } catch (e) {
      if (e.code !== "EEXIST") throw new StepError(`step "lock base ${baseName}" failed: ${e.message}`);
      const holder = readHolder(file);
      const who = holder ? `pid ${holder.pid} (${holder.doing || "using the base"}, since ${holder.since})` : "another process";
      if (isStale(file, holder)) {
        log(`removing the stale lock ${file}: ${who} is gone`);
        fs.rmSync(file, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new StepError(
          `step "wait for base ${baseName}" failed: ${who} has held ${file} for more than ${waitSeconds}s. ` +
            `If no pulumi or vbox.js process is running, delete that file and run pulumi up again.`,
        );
      }
      if (!told) {
        log(`waiting up to ${waitSeconds}s for ${who} before ${doing}`);
        told = true;
      }
      sleepMs(500);
      continue;
    }
    fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), doing: `${doing} for ${plan.vmName}`, since: new Date().toISOString() }));
    fs.closeSync(fd);
    break;
  }
  try {
    return fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// The base VM.

/** The first attached .vdi (the imported or cloned system disk). */
function systemDisk(info) {
  const key = Object.keys(info).find((k) => /-\d+-\d+$/.test(k) && !/ImageUUID/.test(k) && /\.vdi$/i.test(info[k]));
  if (!key) throw new StepError(`step "find the imported disk" failed: no .vdi attached (was the image an .ova?)`);
  return info[key];
}

function hasSnapshot(info, name) {
  // showvminfo --machinereadable prints SnapshotName="..." (and SnapshotName-1... for children).
  return Object.keys(info).some((k) => /^SnapshotName(-[\d-]+)?$/.test(k) && info[k] === name);
}

function growDisk(plan, disk, diskMb) {
  const out = step(plan, "read the disk size", ["showmediuminfo", "disk", disk]);
  const m = /Capacity:\s+(\d+)\s*MBytes/i.exec(out);
  const current = m ? Number(m[1]) : 0;
  if (current >= diskMb) {
    log(`disk is ${current} MiB (>= ${diskMb}); not resized`);
    return;
  }
  // Only ever on the base disk before its snapshot: a base image with no children, the case man
  // VBoxManage-modifymedium documents ("only dynamically allocated disk images that use the VDI and
  // VHD formats"; importtovdi gives a dynamic VDI).
  step(plan, `grow the disk to ${diskMb} MiB`, ["modifymedium", "disk", disk, `--resize=${diskMb}`], 600);
}

/** Makes sure the plan's base VM exists with its snapshot. Call with the base's lock held. */
function ensureBase(plan) {
  const b = plan.base;
  let info = vmInfo(plan, b.name);
  if (info) {
    const x = extraAll(plan, b.name);
    const owner = x[BASE_KEY];
    if (owner !== b.owner) {
      throw new StepError(
        `a VM named "${b.name}" exists but is not a base VM made by this program for ${b.owner} ` +
          `(extradata ${BASE_KEY} = ${owner ? `"${owner}"` : "unset"}). Refusing to use or change it: remove or rename that VM.`,
      );
    }
    if (x[BASE_STATE_KEY] === "ready" && hasSnapshot(info, b.snapshot)) {
      log(`reusing the base VM ${b.name} (no import)`);
      return;
    }
    log(`the base VM ${b.name} was left unfinished by an earlier run; recreating it`);
    deleteVm(plan, b.name, info, []);
  }
  log(`importing ${plan.image} once into the base VM ${b.name}; every VM of this image and disk size is a linked clone of it`);
  const [first, ...more] = b.create;
  step(plan, `create the base VM (${first[0]})`, first, 1800);
  // Mark it first, so a failure in any later step leaves a base this helper may clean up.
  setExtra(plan, b.name, BASE_KEY, b.owner);
  info = mustInfo(plan, b.name);
  const dir = vmDirOf(info);
  for (const args of more) step(plan, `create the base VM (${args[0]})`, args.map((a) => resolveArg(a, dir)), 1800);
  const disk = systemDisk(more.length ? mustInfo(plan, b.name) : info);
  growDisk(plan, disk, b.diskMb);
  setExtra(plan, b.name, BASE_DISK_KEY, disk);
  // man VBoxManage-snapshot: taking a snapshot creates "a differencing hard disk for each normal hard
  // disk"; the snapshot keeps the base disk, which linked clones use as their parent.
  step(plan, `snapshot the base VM ${b.name}`, ["snapshot", b.name, "take", b.snapshot], 600);
  setExtra(plan, b.name, BASE_STATE_KEY, "ready");
}

/**
 * Who still needs the base: the VMs using a child of the base disk (every linked clone's disk is one;
 * `showmediuminfo` lists "Child UUIDs" and, per child, "In use by VMs"), except the base itself.
 */
function baseUsersOf(plan, baseInfo, disk) {
  const fields = parseMediumInfo(step(plan, "read the base disk", ["showmediuminfo", "disk", disk]));
  const children = (fields["Child UUIDs"] || []).map((uuid) => ({
    uuid,
    users: mediumUsers(parseMediumInfo(step(plan, `read disk ${uuid}`, ["showmediuminfo", "disk", uuid]))),
  }));
  return baseUsers(baseInfo.UUID, children);
}

/** Deletes a base VM made by this program once no VM uses it. Never fails the caller over it. */
function releaseBase(plan, baseName) {
  try {
    withBaseLock(plan, baseName, `checking whether base ${baseName} is still used`, () => {
      const info = vmInfo(plan, baseName);
      if (!info) return;
      const x = extraAll(plan, baseName);
      if (!x[BASE_KEY]) {
        log(`${baseName} is not a base VM made by this program; left alone`);
        return;
      }
      const disk = x[BASE_DISK_KEY];
      const users = disk ? baseUsersOf(plan, info, disk) : [];
      if (users.length) {
        log(`the base VM ${baseName} is still used by ${users.join(", ")}; kept`);
        return;
      }
      log(`the base VM ${baseName} is no longer used; deleting it`);
      deleteVm(plan, baseName, info, []);
    });
  } catch (e) {
    log(`could not release the base VM ${baseName} (${e instanceof StepError ? e.message : e}); it is kept, delete it by hand once no VM uses it`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Node VMs.

/** What is known about the VM named in the plan, or undefined when none is registered. */
function inspect(plan) {
  const info = vmInfo(plan, plan.vmName);
  if (!info) return undefined;
  const x = extraAll(plan, plan.vmName);
  const owner = x[OWNER_KEY];
  // Nothing from a VM that is not ours is used.
  if (owner !== plan.owner) return { info, view: { owner, ready: false } };
  return {
    info,
    baseOf: x[BASE_OF_KEY],
    hostKey: x[HOSTKEY_KEY],
    view: { owner, ready: x[STATE_KEY] === "ready", identity: x[IDENTITY_KEY], identityJson: x[IDENTITY_JSON_KEY] },
  };
}

function recordIdentity(plan) {
  setExtra(plan, plan.vmName, IDENTITY_KEY, plan.identityHash);
  setExtra(plan, plan.vmName, IDENTITY_JSON_KEY, JSON.stringify(plan.identity));
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

/** A new VM: a linked clone of the base (made first if needed), configured, seeded, booted. */
async function createVm(plan) {
  log(`creating ${plan.vmName} as a linked clone of ${plan.base.name} (${plan.image})`);
  withBaseLock(plan, plan.base.name, `importing ${plan.image} into ${plan.base.name} or cloning it`, () => {
    ensureBase(plan);
    step(plan, `clone ${plan.base.name} into ${plan.vmName}`, plan.clone, 600);
    // Mark ownership first, so a failure in any later step leaves a VM this helper may clean up.
    setExtra(plan, plan.vmName, OWNER_KEY, plan.owner);
    setExtra(plan, plan.vmName, BASE_OF_KEY, plan.base.name);
  });
  // A clone may carry the extradata of the base's settings; these keys describe the base, not this VM.
  const inherited = extraAll(plan, plan.vmName);
  for (const k of [BASE_KEY, BASE_STATE_KEY, BASE_DISK_KEY]) if (inherited[k] !== undefined) setExtra(plan, plan.vmName, k, undefined);
  // The clone's folder, storage and UUID: modifyvm below changes none of them.
  const info = mustInfo(plan, plan.vmName);
  const vmDir = vmDirOf(info);
  for (const args of plan.configure) step(plan, `configure (${args[2]})`, args.map((a) => resolveArg(a, vmDir)));

  const isoPath = path.join(vmDir, plan.seed.fileName);
  // The seed holds the host private key: readable by the owner only (VirtualBox runs as this user).
  fs.writeFileSync(isoPath, buildIso(plan.seed.files, plan.seed.volumeId), { mode: 0o600 });
  fs.chmodSync(isoPath, 0o600);
  const slot = dvdSlot(plan, info);
  step(plan, "attach the cloud-init seed", ["storageattach", plan.vmName, `--storagectl=${slot.controller}`, `--port=${slot.port}`, `--device=${slot.device}`, "--type=dvddrive", `--medium=${isoPath}`]);
  recordIdentity(plan);
  setExtra(plan, plan.vmName, HOSTKEY_KEY, plan.hostKey);

  step(plan, "start the VM", plan.start, 300);
  await waitForSsh(plan.waitForSsh);
  setExtra(plan, plan.vmName, STATE_KEY, "ready");
  return { uuid: info.UUID, hostKey: plan.hostKey };
}

/** Deletes a node VM of ours; returns the base it was cloned from (if recorded). */
function destroyNodeVm(plan, found) {
  deleteVm(plan, plan.vmName, found.info, plan.extraFiles || []);
  return found.baseOf;
}

/** create and update: bring the VM in line with the plan. */
async function reconcile(plan) {
  const found = inspect(plan);
  const d = decideVm(found && found.view, plan);
  if (d.action === "refuse") throw new StepError(d.reason);
  log(d.reason);
  if (d.action === "keep" || d.action === "adopt") {
    // adopt: a v0.1 VM is kept as it is; only the current identity is recorded, so later changes are
    // compared with it. Its host key stays unknown (v0.1 generated none), so it stays unpinned.
    if (d.action === "adopt") recordIdentity(plan);
    if (!RUNNING.has(found.info.VMState)) step(plan, "start the VM", plan.start, 300);
    await waitForSsh(plan.waitForSsh);
    return { uuid: found.info.UUID, hostKey: found.hostKey };
  }
  if (d.action === "rebuild") {
    const oldBase = destroyNodeVm(plan, found);
    const created = await createVm(plan);
    if (oldBase && oldBase !== plan.base.name) releaseBase(plan, oldBase);
    return created;
  }
  return createVm(plan);
}

function deleteAction(plan) {
  const found = inspect(plan);
  const d = decideDelete(found && found.view, plan);
  log(d.reason);
  if (d.action === "delete") {
    const base = destroyNodeVm(plan, found);
    log(`VM ${plan.vmName} deleted`);
    releaseBase(plan, base || plan.base.name);
  } else if (d.action === "gone") {
    releaseBase(plan, plan.base.name);
  }
}

/** Plan format 1 (v0.1): delete exactly as v0.1 did (owner and plan hash must match). */
function legacyDelete(plan) {
  const info = vmInfo(plan, plan.vmName);
  if (!info) return log(`VM ${plan.vmName} is already gone`);
  const owner = getExtra(plan, plan.vmName, OWNER_KEY);
  if (owner !== plan.owner) return log(`VM ${plan.vmName} belongs to ${owner ? `"${owner}"` : "someone else"}, not ${plan.owner}; left alone`);
  const hash = crypto.createHash("sha256").update(JSON.stringify(plan)).digest("hex").slice(0, 16);
  if (getExtra(plan, plan.vmName, LEGACY_PLAN_KEY) !== hash) return log(`VM ${plan.vmName} was made from a different plan (a replacement); left alone`);
  deleteVm(plan, plan.vmName, info, plan.extraFiles || []);
  return log(`VM ${plan.vmName} deleted`);
}

function readPlan(action) {
  const text = fs.readFileSync(0, "utf8");
  let plan;
  try {
    plan = JSON.parse(text);
  } catch (_) {
    // Never the parser's message: Node quotes the input around the error, and the plan holds a private key.
    throw new StepError(`step "read the plan from stdin" failed: ${text.length} bytes that are not valid JSON`);
  }
  const version = plan && plan.version;
  if (version === PLAN_VERSION || (version === LEGACY_PLAN_VERSION && action === "delete")) return plan;
  throw new StepError(`step "read the plan from stdin" failed: expected plan version ${PLAN_VERSION}${action === "delete" ? ` or ${LEGACY_PLAN_VERSION}` : ""}, got ${JSON.stringify(version)}`);
}

async function main(argv) {
  const action = argv[argv.length - 1];
  if (action !== "create" && action !== "update" && action !== "delete") {
    throw new StepError(`usage: node scripts/vm/vbox.js create|update|delete (plan JSON on stdin); got ${JSON.stringify(action)}`);
  }
  const plan = readPlan(action);
  if (action === "delete") {
    if (plan.version === LEGACY_PLAN_VERSION) legacyDelete(plan);
    else deleteAction(plan);
    return;
  }
  const { uuid, hostKey } = await reconcile(plan);
  if (!uuid) throw new StepError(`step "read the VM UUID" failed`);
  process.stdout.write(`${uuid}\n`);
  if (hostKey) process.stdout.write(`hostkey ${hostKey}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`vbox.js: ${e instanceof StepError ? e.message : e.stack || e}\n`);
    process.exit(1);
  });
}

module.exports = { parseMachineReadable, main };
