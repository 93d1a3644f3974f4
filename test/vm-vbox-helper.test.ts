// Runs scripts/vm/vbox.js for real, through the interpreter argv the `<node>-vm` command uses, against a
// stand-in `VBoxManage` (a small Node script that records its argv as JSON and keeps a fake VM registry).
// Proves: arguments with spaces and quotes arrive as single argv elements; create imports, configures,
// attaches a readable cidata seed, boots and prints the UUID; a second create is a no-op; delete removes
// exactly what create made; a VM already gone is fine; a VM that is not ours is never taken over.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as net from "net";
import { spawn, spawnSync } from "child_process";
import * as yaml from "js-yaml";
import { devSpec } from "./fixtures";
import { vboxPlan, VBOX_INTERPRETER, VboxPlan, OWNER_KEY } from "../components/machines/virtualbox-plan";

const ROOT = path.join(__dirname, "..");

// The stand-in: state in $FAKE_VBOX_STATE (JSON), one JSON argv array per line in $FAKE_VBOX_LOG.
const FAKE_VBOXMANAGE = String.raw`#!/usr/bin/env node
"use strict";
const fs = require("fs"), path = require("path");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_VBOX_LOG, JSON.stringify(args) + "\n");
const file = process.env.FAKE_VBOX_STATE;
const st = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : { vms: {} };
const save = () => fs.writeFileSync(file, JSON.stringify(st));
const opt = (name) => { const a = args.find((x) => x.startsWith("--" + name + "=")); return a === undefined ? undefined : a.slice(name.length + 3); };
const notFound = (n) => { process.stderr.write("VBoxManage: error: Could not find a registered machine named '" + n + "'\nVBOX_E_OBJECT_NOT_FOUND\n"); process.exit(1); };
const vm = (n) => st.vms[n] || notFound(n);
switch (args[0]) {
  case "import": {
    const name = opt("vmname"), base = opt("basefolder") || process.env.FAKE_VBOX_HOME;
    const dir = path.join(base, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "disk.vdi"), "");
    st.vms[name] = { uuid: "0f0e0d0c-0b0a-4908-8706-050403020100", dir, state: "poweroff", extra: {}, attach: { "SATA Controller-0-0": path.join(dir, "disk.vdi") } };
    save(); break;
  }
  case "showvminfo": {
    const v = vm(args[1]);
    // Like VBoxManage: values (and keys with spaces) double-quoted, with " and \ backslash-escaped.
    const q = (x) => '"' + String(x).replace(/[\\"]/g, (m) => "\\" + m) + '"';
    const lines = ["name=" + q(args[1]), "UUID=" + q(v.uuid), "CfgFile=" + q(path.join(v.dir, args[1] + ".vbox")), "VMState=" + q(v.state),
      'storagecontrollername0="SATA Controller"', 'storagecontrollertype0="IntelAhci"', 'storagecontrollerportcount0="1"', 'storagecontrollermaxportcount0="30"'];
    for (const [k, val] of Object.entries(v.attach)) lines.push(q(k) + "=" + q(val));
    process.stdout.write(lines.join("\n") + "\n"); break;
  }
  case "createvm": {
    const name = opt("name"), dir = path.join(opt("basefolder") || process.env.FAKE_VBOX_HOME, name);
    fs.mkdirSync(dir, { recursive: true });
    st.vms[name] = { uuid: "0f0e0d0c-0b0a-4908-8706-0504030201ff", dir, state: "poweroff", extra: {}, attach: {} };
    save(); break;
  }
  case "clonemedium": fs.copyFileSync(args[2], args[3]); break;
  case "getextradata": { const v = vm(args[1]); const val = v.extra[args[2]]; process.stdout.write(val === undefined ? "No value set!\n" : "Value: " + val + "\n"); break; }
  case "setextradata": { vm(args[1]).extra[args[2]] = args[3]; save(); break; }
  case "modifyvm": case "storagectl": vm(args[1]); break;
  case "storageattach": { const v = vm(args[1]); v.attach[opt("storagectl") + "-" + opt("port") + "-" + opt("device")] = opt("medium"); save(); break; }
  case "showmediuminfo": process.stdout.write("Capacity:       10240 MBytes\n"); break;
  case "modifymedium": break;
  case "startvm": { vm(args[1]).state = "running"; save(); break; }
  case "controlvm": { vm(args[1]).state = "poweroff"; save(); break; }
  case "unregistervm": {
    const v = vm(args[1]);
    if (v.state === "running") { process.stderr.write("VBoxManage: error: Cannot unregister the machine while it is locked\n"); process.exit(1); }
    if (args.includes("--delete")) fs.rmSync(path.join(v.dir, "disk.vdi"), { force: true });
    delete st.vms[args[1]]; save(); break;
  }
  default: process.stderr.write("fake VBoxManage: unexpected " + args[0] + "\n"); process.exit(2);
}
`;

let tmp: string;
let sshServer: net.Server;
let sshPort: number;

beforeAll(async () => {
  // Spaces and quotes everywhere a user could put them: the VBoxManage path, image path, base folder.
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vm helper 'q' "));
  fs.mkdirSync(path.join(tmp, "bin dir"));
  const exe = path.join(tmp, "bin dir", "VBoxManage");
  fs.writeFileSync(exe, FAKE_VBOXMANAGE, { mode: 0o755 });
  // A fake sshd: sends an SSH banner, as a booted VM would.
  sshServer = net.createServer((s) => s.end("SSH-2.0-OpenSSH_8.9p1 fake\r\n"));
  await new Promise<void>((r) => sshServer.listen(0, "127.0.0.1", () => r()));
  sshPort = (sshServer.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => sshServer.close(() => r()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  status: number;
  stdout: string;
  stderr: string;
  calls: string[][];
}

function freshState(name: string): { state: string; log: string } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  return { state: path.join(dir, "state.json"), log: path.join(dir, "calls.log") };
}

/**
 * `node scripts/vm/vbox.js <action>` from the project root with the plan on stdin, as local.Command runs
 * it. Asynchronous: the fake sshd lives in this process and must keep answering meanwhile.
 */
function runHelper(action: "create" | "delete", plan: VboxPlan, files: { state: string; log: string }): Promise<Run> {
  const logLines = () => (fs.existsSync(files.log) ? fs.readFileSync(files.log, "utf8").split("\n").filter(Boolean) : []);
  const before = logLines().length;
  return new Promise((resolve, reject) => {
    const child = spawn(VBOX_INTERPRETER[0], [...VBOX_INTERPRETER.slice(1), action], {
      cwd: ROOT,
      env: { ...process.env, FAKE_VBOX_STATE: files.state, FAKE_VBOX_LOG: files.log, FAKE_VBOX_HOME: path.join(tmp, "default vms") },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr, calls: logLines().slice(before).map((l) => JSON.parse(l) as string[]) }));
    child.stdin.end(JSON.stringify(plan));
  });
}

const IMAGE = () => path.join(tmp, `my "images"`, "ubuntu 22.04 cloudimg.ova");
const BASE = () => path.join(tmp, "VirtualBox VMs (lab)");

/** The plan for the seed lab's control plane, with awkward paths and names, waiting on the fake sshd. */
function awkwardPlan(timeoutSeconds = 30): VboxPlan {
  const dev = devSpec({ clusterName: `lab "one" x` });
  const spec = devSpec({
    clusterName: `lab "one" x`,
    virtualbox: { ...dev.virtualbox!, vboxManage: path.join(tmp, "bin dir", "VBoxManage"), imagePath: IMAGE(), baseFolder: BASE() },
  });
  const plan = vboxPlan(spec, spec.nodes[0], "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEY test@example");
  // Only the SSH target differs from the real plan: the VM's 192.168.56.10:22 is the fake sshd here.
  return { ...plan, waitForSsh: { host: "127.0.0.1", port: sshPort, timeoutSeconds } };
}

function callsOf(run: Run, verb: string): string[][] {
  return run.calls.filter((c) => c[0] === verb);
}

test("create: every name and path with spaces and quotes reaches VBoxManage as one argument", async () => {
  const files = freshState("quoting");
  const plan = awkwardPlan();
  const r = await runHelper("create", plan, files);
  expect(r.stderr).not.toMatch(/failed/);
  expect(r.status).toBe(0);
  const vmName = `lab "one" x-k8s-control`;
  expect(plan.vmName).toBe(vmName);

  const [imp] = callsOf(r, "import");
  expect(imp[1]).toBe(IMAGE());
  expect(imp).toContain(`--vmname=${vmName}`);
  expect(imp).toContain(`--basefolder=${BASE()}`);

  const vmDir = path.join(BASE(), vmName);
  for (const c of callsOf(r, "modifyvm")) expect(c[1]).toBe(vmName);
  const uart = callsOf(r, "modifyvm").find((c) => c.includes("--uart-mode1"));
  expect(uart?.[uart.indexOf("file") + 1]).toBe(path.join(vmDir, "serial.log"));
  const attach = callsOf(r, "storageattach")[0];
  expect(attach).toContain(`--medium=${path.join(vmDir, "cidata.iso")}`);
  expect(callsOf(r, "setextradata")).toContainEqual(["setextradata", vmName, OWNER_KEY, `lab "one" x/k8s-control`]);
  // The disk grows from the image's 10 GiB to the configured 20 GiB.
  expect(callsOf(r, "modifymedium")[0]).toEqual(["modifymedium", "disk", path.join(vmDir, "disk.vdi"), "--resize=20480"]);
  // stdout is exactly the VM UUID (the Host's machineId).
  expect(r.stdout.trim()).toBe("0f0e0d0c-0b0a-4908-8706-050403020100");
  // Started only after the seed is attached.
  const verbs = r.calls.map((c) => c[0]);
  expect(verbs.indexOf("startvm")).toBeGreaterThan(verbs.indexOf("storageattach"));
});

test("a bare .vmdk disk: a new VM gets a VDI clone in its own folder (paths with spaces and quotes intact)", async () => {
  const files = freshState("vmdk");
  const vmdk = path.join(tmp, `my "images"`, "jammy server.vmdk");
  fs.mkdirSync(path.dirname(vmdk), { recursive: true });
  fs.writeFileSync(vmdk, "not really a disk");
  const dev = devSpec({ clusterName: `lab "two"` });
  const spec = devSpec({ clusterName: `lab "two"`, virtualbox: { ...dev.virtualbox!, vboxManage: path.join(tmp, "bin dir", "VBoxManage"), imagePath: vmdk, baseFolder: BASE() } });
  const plan = { ...vboxPlan(spec, spec.nodes[1], "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEY test@example"), waitForSsh: { host: "127.0.0.1", port: sshPort, timeoutSeconds: 30 } };
  const r = await runHelper("create", plan, files);
  expect(r.stderr).not.toMatch(/failed/);
  expect(r.status).toBe(0);
  const vmDir = path.join(BASE(), `lab "two"-k8s-worker`);
  expect(callsOf(r, "createvm")[0]).toEqual(["createvm", `--name=lab "two"-k8s-worker`, "--ostype=Ubuntu_64", "--register", `--basefolder=${BASE()}`]);
  expect(callsOf(r, "clonemedium")[0]).toEqual(["clonemedium", "disk", vmdk, path.join(vmDir, "disk.vdi"), "--format=VDI"]);
  expect(callsOf(r, "storageattach")[0]).toContain(`--medium=${path.join(vmDir, "disk.vdi")}`);
  expect(callsOf(r, "modifymedium")[0]).toEqual(["modifymedium", "disk", path.join(vmDir, "disk.vdi"), "--resize=20480"]);
  expect(r.stdout.trim()).toBe("0f0e0d0c-0b0a-4908-8706-0504030201ff");
  // and delete cleans the folder, clone included
  expect((await runHelper("delete", plan, files)).status).toBe(0);
  expect(fs.existsSync(vmDir)).toBe(false);
});

test("create writes a cidata seed with the plan's files, readable by a real ISO tool", async () => {
  const xorriso = spawnSync("xorriso", ["-version"], { encoding: "utf8" });
  if (xorriso.error) throw new Error("xorriso is required for this test: apt-get install -y xorriso");
  const files = freshState("seed");
  const plan = awkwardPlan();
  expect((await runHelper("create", plan, files)).status).toBe(0);
  const iso = path.join(BASE(), plan.vmName, "cidata.iso");
  const out = path.join(tmp, "seed-extract");
  const x = spawnSync("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", "/", out], { encoding: "utf8" });
  expect(x.status).toBe(0);
  expect(fs.readdirSync(out).sort()).toEqual(["meta-data", "network-config", "user-data"]);
  expect(fs.readFileSync(path.join(out, "user-data"), "utf8")).toBe(plan.seed.files["user-data"]);
  const net2 = yaml.load(fs.readFileSync(path.join(out, "network-config"), "utf8")) as { ethernets: Record<string, { addresses?: string[] }> };
  expect(net2.ethernets.enp0s8.addresses).toEqual(["192.168.56.10/24"]);
  const pvd = spawnSync("xorriso", ["-indev", iso, "-pvd_info"], { encoding: "utf8" });
  expect(pvd.stdout + pvd.stderr).toMatch(/Volume Id\s*:\s*cidata/);
});

test("a second create with the same plan changes nothing and prints the same UUID", async () => {
  const files = freshState("rerun");
  const plan = awkwardPlan();
  const first = await runHelper("create", plan, files);
  expect(first.status).toBe(0);
  const second = await runHelper("create", plan, files);
  expect(second.status).toBe(0);
  expect(second.stdout).toBe(first.stdout);
  expect(callsOf(second, "import")).toHaveLength(0);
  expect(callsOf(second, "unregistervm")).toHaveLength(0);
  expect(callsOf(second, "modifyvm")).toHaveLength(0);
});

test("create recreates a VM an interrupted run left unfinished (ours, never marked ready)", async () => {
  const files = freshState("unfinished");
  const plan = awkwardPlan();
  fs.writeFileSync(files.state, JSON.stringify({ vms: { [plan.vmName]: { uuid: "11111111-2222-4333-8444-555555555555", dir: path.join(tmp, "half"), state: "running", extra: { [OWNER_KEY]: plan.owner }, attach: {} } } }));
  const r = await runHelper("create", plan, files);
  expect(r.status).toBe(0);
  const verbs = r.calls.map((c) => c[0]);
  expect(verbs.indexOf("controlvm")).toBeLessThan(verbs.indexOf("unregistervm"));
  expect(verbs.indexOf("unregistervm")).toBeLessThan(verbs.indexOf("import"));
});

test("create refuses a VM with the same name that is not ours, and touches nothing", async () => {
  const files = freshState("foreign");
  const plan = awkwardPlan();
  fs.writeFileSync(files.state, JSON.stringify({ vms: { [plan.vmName]: { uuid: "99999999-2222-4333-8444-555555555555", dir: path.join(tmp, "theirs"), state: "running", extra: {}, attach: {} } } }));
  const r = await runHelper("create", plan, files);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`a VM named "${plan.vmName}" already exists and was not created by this stack`);
  expect(r.stdout).toBe("");
  const mutating = r.calls.filter((c) => !["showvminfo", "getextradata"].includes(c[0]));
  expect(mutating).toEqual([]);
  // delete leaves it alone as well
  const d = await runHelper("delete", plan, files);
  expect(d.status).toBe(0);
  expect(d.calls.filter((c) => !["showvminfo", "getextradata"].includes(c[0]))).toEqual([]);
});

test("delete removes what create made: powers off, unregisters with disks, removes the seed and the folder", async () => {
  const files = freshState("delete");
  const plan = awkwardPlan();
  expect((await runHelper("create", plan, files)).status).toBe(0);
  const vmDir = path.join(BASE(), plan.vmName);
  expect(fs.existsSync(path.join(vmDir, "cidata.iso"))).toBe(true);
  const d = await runHelper("delete", plan, files);
  expect(d.status).toBe(0);
  expect(callsOf(d, "controlvm")).toEqual([["controlvm", plan.vmName, "poweroff"]]);
  expect(callsOf(d, "unregistervm")).toEqual([["unregistervm", plan.vmName, "--delete"]]);
  expect(JSON.parse(fs.readFileSync(files.state, "utf8")).vms).toEqual({});
  expect(fs.existsSync(vmDir)).toBe(false);
});

test("delete of a VM that is already gone succeeds without touching anything", async () => {
  const files = freshState("gone");
  const d = await runHelper("delete", awkwardPlan(), files);
  expect(d.status).toBe(0);
  expect(d.stderr).toMatch(/already gone/);
  expect(d.calls.map((c) => c[0])).toEqual(["showvminfo"]);
});

test("delete leaves a VM made from a different plan (the node's replacement) alone", async () => {
  const files = freshState("replaced");
  const plan = awkwardPlan();
  expect((await runHelper("create", plan, files)).status).toBe(0);
  const older = { ...plan, diskMb: plan.diskMb + 1024 };
  const d = await runHelper("delete", older, files);
  expect(d.status).toBe(0);
  expect(callsOf(d, "unregistervm")).toEqual([]);
});

test("create fails naming the step when SSH never answers", async () => {
  const files = freshState("nossh");
  // Port 9 (discard): nothing listens there on a test machine.
  const plan = { ...awkwardPlan(1), waitForSsh: { host: "127.0.0.1", port: 9, timeoutSeconds: 1 } };
  const r = await runHelper("create", plan, files);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`step "wait for SSH on 127.0.0.1:9" failed`);
  expect(r.stdout).toBe("");
});

test("a missing VBoxManage is reported with a hint, not a stack trace", async () => {
  const files = freshState("novbox");
  const plan = { ...awkwardPlan(), vboxManage: path.join(tmp, "nowhere", "VBoxManage") };
  const r = await runHelper("create", plan, files);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/is VirtualBox installed\?/);
});
