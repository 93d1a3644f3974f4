// Runs scripts/vm/vbox.js for real, through the interpreter argv the `<node>-vm` command uses, against a
// stand-in `VBoxManage` (test/fixtures/fake-vboxmanage.js: a small VirtualBox registry with disks,
// snapshots, linked clones and extradata, that records every argv).
// Proves: arguments with spaces and quotes arrive as single argv elements; the image is imported once
// into a shared base (also when two VMs are created at the same time) and every VM is a linked clone of
// it; delete removes the base only with its last clone; update keeps, rebuilds or adopts exactly when it
// should; a VM that is not ours is never touched; the host private key never reaches stdout or stderr.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as net from "net";
import { spawn, spawnSync } from "child_process";
import * as yaml from "js-yaml";
import { devSpec, TEST_HOST_KEY } from "./fixtures";
import { vboxPlan, VboxPlan, OWNER_KEY, IDENTITY_KEY, HOSTKEY_KEY, BASE_KEY } from "../components/machines/virtualbox-plan";
import { localHelperInterpreter } from "../components/local-helper";
import { ClusterSpec, VirtualBoxSpec } from "../components/spec";

const ROOT = path.join(__dirname, "..");
const INTERPRETER = localHelperInterpreter("vm/vbox.js");
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEY test@example";
/** The secret part of the host private key: must never be printed. */
const HOST_SECRET = "HOSTKEYPRIVATEDONOTUSE";

let tmp: string;
let sshServer: net.Server;
let sshPort: number;

beforeAll(async () => {
  // Spaces and quotes everywhere a user could put them: the VBoxManage path, image path, base folder.
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vm helper 'q' "));
  for (const dir of ["bin dir", "other bin"]) {
    fs.mkdirSync(path.join(tmp, dir));
    fs.copyFileSync(path.join(__dirname, "fixtures", "fake-vboxmanage.js"), path.join(tmp, dir, "VBoxManage"));
    fs.chmodSync(path.join(tmp, dir, "VBoxManage"), 0o755);
  }
  // A fake sshd: sends an SSH banner, as a booted VM would.
  sshServer = net.createServer((s) => s.end("SSH-2.0-OpenSSH_8.9p1 fake\r\n"));
  await new Promise<void>((r) => sshServer.listen(0, "127.0.0.1", () => r()));
  sshPort = (sshServer.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => sshServer.close(() => r()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const IMAGE = () => path.join(tmp, `my "images"`, "ubuntu 22.04 cloudimg.ova");
const BASE = () => path.join(tmp, "VirtualBox VMs (lab)");

interface Run {
  status: number;
  stdout: string;
  stderr: string;
  calls: string[][];
}

interface Lab {
  state: string;
  log: string;
  /** The helper's temp folder (its base locks live there). */
  tmpdir: string;
}

interface FakeVm {
  uuid: string;
  dir: string;
  state: string;
  extra: Record<string, string>;
  attach: Record<string, string>;
  snapshots: { name: string }[];
}
interface FakeState {
  vms: Record<string, FakeVm>;
  media: Record<string, { uuid: string; path: string; parent: string | null; capacityMb: number }>;
}

/** A new registry and lock folder; the VM folders on disk start empty too (tests run one after another). */
function freshLab(name: string): Lab {
  fs.rmSync(BASE(), { recursive: true, force: true });
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
  return { state: path.join(dir, "state.json"), log: path.join(dir, "calls.log"), tmpdir: path.join(dir, "tmp") };
}

function registry(lab: Lab): FakeState {
  return fs.existsSync(lab.state) ? (JSON.parse(fs.readFileSync(lab.state, "utf8")) as FakeState) : { vms: {}, media: {} };
}

function allCalls(lab: Lab): string[][] {
  return fs.existsSync(lab.log) ? fs.readFileSync(lab.log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as string[]) : [];
}

/**
 * `node -e <loader> -- vm/vbox.js <action>` from the project root with the plan on stdin, as local.Command
 * runs it. Asynchronous: the fake sshd lives in this process and must keep answering meanwhile.
 */
function runHelper(action: "create" | "update" | "delete", plan: VboxPlan | string, lab: Lab, env: Record<string, string> = {}): Promise<Run> {
  return startHelper(action, plan, lab, env).done;
}

/** runHelper, with the helper's stderr readable while it runs. */
function startHelper(action: "create" | "update" | "delete", plan: VboxPlan | string, lab: Lab, env: Record<string, string> = {}): { done: Promise<Run>; stderr: () => string } {
  const before = allCalls(lab).length;
  let stderr = "";
  const done = new Promise<Run>((resolve, reject) => {
    const child = spawn(INTERPRETER[0], [...INTERPRETER.slice(1), action], {
      cwd: ROOT,
      env: { ...process.env, FAKE_VBOX_STATE: lab.state, FAKE_VBOX_LOG: lab.log, FAKE_VBOX_HOME: path.join(tmp, "default vms"), TMPDIR: lab.tmpdir, ...env },
    });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr, calls: allCalls(lab).slice(before) }));
    child.stdin.end(typeof plan === "string" ? plan : JSON.stringify(plan));
  });
  return { done, stderr: () => stderr };
}

/** Resolves when `ok()` holds; polls every 50 ms, fails after `seconds` saying what it saw (`state()`). */
async function until(ok: () => boolean, what: string, state: () => string, seconds = 120): Promise<void> {
  for (const end = Date.now() + seconds * 1000; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; ${state()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function labSpec(clusterName: string, over: Partial<VirtualBoxSpec> = {}): ClusterSpec {
  const dev = devSpec({ clusterName });
  return devSpec({ clusterName, virtualbox: { ...dev.virtualbox!, vboxManage: path.join(tmp, "bin dir", "VBoxManage"), imagePath: IMAGE(), baseFolder: BASE(), ...over } });
}

/** The plan for one node of a lab with awkward paths and names, waiting on the fake sshd. */
function planFor(clusterName: string, node = 0, over: Partial<VirtualBoxSpec> = {}, timeoutSeconds = 30): VboxPlan {
  const spec = labSpec(clusterName, over);
  const plan = vboxPlan(spec, spec.nodes[node], SSH_KEY, TEST_HOST_KEY);
  // Only the SSH target differs from the real plan: the VM's 192.168.56.x:22 is the fake sshd here.
  return { ...plan, waitForSsh: { host: "127.0.0.1", port: sshPort, timeoutSeconds } };
}

const awkwardPlan = (timeoutSeconds = 30) => planFor(`lab "one" x`, 0, {}, timeoutSeconds);

function callsOf(run: Run, verb: string): string[][] {
  return run.calls.filter((c) => c[0] === verb);
}

const READ_ONLY = new Set(["showvminfo", "getextradata", "showmediuminfo"]);
function mutations(run: Run): string[][] {
  return run.calls.filter((c) => !READ_ONLY.has(c[0]));
}

function stdoutOf(uuid: string, hostKey = true): string {
  return `${uuid}\n${hostKey ? `hostkey ${TEST_HOST_KEY.publicKey}\n` : ""}`;
}

test("create: every name and path with spaces and quotes reaches VBoxManage as one argument", async () => {
  const lab = freshLab("quoting");
  const plan = awkwardPlan();
  const r = await runHelper("create", plan, lab);
  expect(r.stderr).not.toMatch(/failed/);
  expect(r.status).toBe(0);
  const vmName = `lab "one" x-k8s-control`;
  expect(plan.vmName).toBe(vmName);

  // The image goes into the shared base, in the configured folder.
  const [imp] = callsOf(r, "import");
  expect(imp[1]).toBe(IMAGE());
  expect(imp).toContain(`--vmname=${plan.base.name}`);
  expect(imp).toContain(`--basefolder=${BASE()}`);
  // The VM is a linked clone of the base's snapshot, named and placed as configured.
  expect(callsOf(r, "clonevm")).toEqual([["clonevm", plan.base.name, "--snapshot=kubeadm-base", "--options=link", `--name=${vmName}`, "--register", `--basefolder=${BASE()}`]]);

  const vmDir = path.join(BASE(), vmName);
  for (const c of callsOf(r, "modifyvm")) expect(c[1]).toBe(vmName);
  const uart = callsOf(r, "modifyvm").find((c) => c.includes("--uart-mode1"));
  expect(uart?.[uart.indexOf("file") + 1]).toBe(path.join(vmDir, "serial.log"));
  expect(callsOf(r, "storageattach")[0]).toContain(`--medium=${path.join(vmDir, "cidata.iso")}`);
  expect(callsOf(r, "setextradata")).toContainEqual(["setextradata", vmName, OWNER_KEY, `lab "one" x/k8s-control`]);
  // stdout: the VM UUID (the Host's machineId), then the host key it was created with.
  const vm = registry(lab).vms[vmName];
  expect(r.stdout).toBe(stdoutOf(vm.uuid));
  // Started only after the seed is attached.
  const verbs = r.calls.map((c) => c[0]);
  expect(verbs.indexOf("startvm")).toBeGreaterThan(verbs.indexOf("storageattach"));
});

test("the disk is grown on the base before its snapshot, so the clone's differencing disk has diskGb", async () => {
  const lab = freshLab("disk");
  const plan = awkwardPlan();
  const r = await runHelper("create", plan, lab);
  expect(r.status).toBe(0);
  const baseDisk = path.join(BASE(), plan.base.name, "disk.vdi");
  // Only the base disk (no children yet) is resized; the clone's disk never is.
  expect(callsOf(r, "modifymedium")).toEqual([["modifymedium", "disk", baseDisk, "--resize=20480"]]);
  const verbs = r.calls.map((c) => c[0]);
  expect(verbs.indexOf("modifymedium")).toBeLessThan(verbs.indexOf("snapshot"));
  expect(verbs.indexOf("snapshot")).toBeLessThan(verbs.indexOf("clonevm"));
  const st = registry(lab);
  const vmDisk = st.media[st.vms[plan.vmName].attach["SATA Controller-0-0"]];
  expect(vmDisk.parent).toBe(Object.values(st.media).find((m) => m.path === baseDisk)?.uuid);
  expect(vmDisk.capacityMb).toBe(20480);
});

test("a bare .vmdk disk: the base gets a VDI clone in its own folder (paths with spaces and quotes intact)", async () => {
  const lab = freshLab("vmdk");
  const vmdk = path.join(tmp, `my "images"`, "jammy server.vmdk");
  fs.mkdirSync(path.dirname(vmdk), { recursive: true });
  fs.writeFileSync(vmdk, "not really a disk");
  const plan = planFor(`lab "two"`, 1, { imagePath: vmdk });
  const r = await runHelper("create", plan, lab);
  expect(r.stderr).not.toMatch(/failed/);
  expect(r.status).toBe(0);
  const baseDir = path.join(BASE(), plan.base.name);
  expect(callsOf(r, "createvm")[0]).toEqual(["createvm", `--name=${plan.base.name}`, "--ostype=Ubuntu_64", "--register", `--basefolder=${BASE()}`]);
  expect(callsOf(r, "clonemedium")[0]).toEqual(["clonemedium", "disk", vmdk, path.join(baseDir, "disk.vdi"), "--format=VDI"]);
  expect(callsOf(r, "storageattach")[0]).toContain(`--medium=${path.join(baseDir, "disk.vdi")}`);
  expect(callsOf(r, "modifymedium")[0]).toEqual(["modifymedium", "disk", path.join(baseDir, "disk.vdi"), "--resize=20480"]);
  expect(r.stdout).toBe(stdoutOf(registry(lab).vms[plan.vmName].uuid));
  // and delete cleans the VM folder and, with its last clone gone, the base
  expect((await runHelper("delete", plan, lab)).status).toBe(0);
  expect(fs.existsSync(path.join(BASE(), plan.vmName))).toBe(false);
  expect(fs.existsSync(baseDir)).toBe(false);
  expect(registry(lab).vms).toEqual({});
});

test("create writes a cidata seed with the plan's files, readable by a real ISO tool and by its owner only", async () => {
  const xorriso = spawnSync("xorriso", ["-version"], { encoding: "utf8" });
  if (xorriso.error) throw new Error("xorriso is required for this test: apt-get install -y xorriso");
  const lab = freshLab("seed");
  const plan = awkwardPlan();
  expect((await runHelper("create", plan, lab)).status).toBe(0);
  const iso = path.join(BASE(), plan.vmName, "cidata.iso");
  // It holds the host private key.
  expect(fs.statSync(iso).mode & 0o077).toBe(0);
  const out = path.join(tmp, "seed-extract");
  const x = spawnSync("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", "/", out], { encoding: "utf8" });
  expect(x.status).toBe(0);
  expect(fs.readdirSync(out).sort()).toEqual(["meta-data", "network-config", "user-data"]);
  expect(fs.readFileSync(path.join(out, "user-data"), "utf8")).toBe(plan.seed.files["user-data"]);
  const user = yaml.load(fs.readFileSync(path.join(out, "user-data"), "utf8")) as { ssh_keys: Record<string, string> };
  expect(user.ssh_keys.ecdsa_public).toBe(TEST_HOST_KEY.publicKey);
  const net2 = yaml.load(fs.readFileSync(path.join(out, "network-config"), "utf8")) as { ethernets: Record<string, { addresses?: string[] }> };
  expect(net2.ethernets.enp0s8.addresses).toEqual(["192.168.56.10/24"]);
  const pvd = spawnSync("xorriso", ["-indev", iso, "-pvd_info"], { encoding: "utf8" });
  expect(pvd.stdout + pvd.stderr).toMatch(/Volume Id\s*:\s*cidata/);
});

test("two VMs created at the same time import the image once; both are linked clones of that base", async () => {
  const lab = freshLab("parallel");
  const cp = planFor("par", 0);
  const w = planFor("par", 1);
  // The import waits for a gate this test opens only once one helper is importing and the other is
  // waiting for it, so the two overlap however slow the machine is.
  const gate = path.join(lab.tmpdir, "..", "import-gate");
  const env = { FAKE_VBOX_IMPORT_GATE: gate };
  const one = startHelper("create", cp, lab, env);
  const two = startHelper("create", w, lab, env);
  // The waiting one names the holder's pid, or "another process" when it read the lock file in the
  // instant between its creation and the holder writing its pid into it (vbox.js withBaseLock).
  const waits = /waiting up to \d+s for (pid \d+|another process)/;
  await until(() => fs.existsSync(`${gate}.importing`) && [one, two].some((h) => waits.test(h.stderr())), "one import and one waiting create", () =>
    `importing: ${fs.existsSync(`${gate}.importing`)}; stderr 1: ${one.stderr()}; stderr 2: ${two.stderr()}`,
  );
  fs.writeFileSync(gate, "");
  const [a, b] = await Promise.all([one.done, two.done]);
  expect([a.status, b.status]).toEqual([0, 0]);
  expect(allCalls(lab).filter((c) => c[0] === "import")).toHaveLength(1);
  expect(allCalls(lab).filter((c) => c[0] === "snapshot")).toHaveLength(1);
  expect(allCalls(lab).filter((c) => c[0] === "clonevm").map((c) => c[1])).toEqual([cp.base.name, cp.base.name]);
  // The one that waited said so, and then reused the base.
  const waited = [a, b].find((r) => waits.test(r.stderr));
  expect(waited?.stderr).toMatch(/reusing the base VM/);
  const st = registry(lab);
  expect(st.vms[cp.vmName].uuid).not.toBe(st.vms[w.vmName].uuid);
  // No lock is left behind.
  expect(fs.readdirSync(path.join(lab.tmpdir, "kubeadm-vbox-locks"))).toEqual([]);
}, 180_000);

test("a second cluster with the same image reuses the base; the base goes only with its last clone", async () => {
  const lab = freshLab("shared");
  const one = planFor("one", 0);
  const two = planFor("two", 1);
  expect(two.base.name).toBe(one.base.name);
  expect((await runHelper("create", one, lab)).status).toBe(0);
  const second = await runHelper("create", two, lab);
  expect(second.status).toBe(0);
  expect(callsOf(second, "import")).toEqual([]);
  expect(callsOf(second, "clonevm")).toHaveLength(1);

  // Deleting cluster one's VM keeps the base: cluster two's VM is a clone of it.
  const d1 = await runHelper("delete", one, lab);
  expect(d1.status).toBe(0);
  expect(callsOf(d1, "unregistervm")).toEqual([["unregistervm", one.vmName, "--delete"]]);
  expect(d1.stderr).toContain(`the base VM ${one.base.name} is still used by two-k8s-worker; kept`);
  expect(Object.keys(registry(lab).vms).sort()).toEqual([one.base.name, two.vmName].sort());

  // Deleting the last clone removes the base too.
  const d2 = await runHelper("delete", two, lab);
  expect(d2.status).toBe(0);
  expect(callsOf(d2, "unregistervm")).toEqual([["unregistervm", two.vmName, "--delete"], ["unregistervm", one.base.name, "--delete"]]);
  expect(registry(lab)).toMatchObject({ vms: {}, media: {} });
  expect(fs.existsSync(path.join(BASE(), one.base.name))).toBe(false);
});

test("update with the same plan changes nothing and prints the same UUID and host key", async () => {
  const lab = freshLab("same");
  const plan = awkwardPlan();
  const first = await runHelper("create", plan, lab);
  expect(first.status).toBe(0);
  for (const action of ["update", "create"] as const) {
    const again = await runHelper(action, plan, lab);
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(first.stdout);
    expect(mutations(again)).toEqual([]);
  }
});

test("update with a changed VBoxManage path (a tunable) rebuilds nothing", async () => {
  const lab = freshLab("tunable");
  const plan = awkwardPlan();
  const first = await runHelper("create", plan, lab);
  const moved = { ...plan, vboxManage: path.join(tmp, "other bin", "VBoxManage"), waitForSsh: { ...plan.waitForSsh, timeoutSeconds: 45 } };
  const r = await runHelper("update", moved, lab);
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(first.stdout);
  expect(mutations(r)).toEqual([]);
});

test("update with changed cpus rebuilds the VM with a new UUID and says why; the base is reused", async () => {
  const lab = freshLab("cpus");
  const plan = awkwardPlan();
  expect((await runHelper("create", plan, lab)).status).toBe(0);
  const oldUuid = registry(lab).vms[plan.vmName].uuid;
  const bigger = planFor(`lab "one" x`, 0, { controlPlane: { cpus: 4, memoryMb: 4096, diskGb: 20 } });
  const r = await runHelper("update", bigger, lab);
  expect(r.status).toBe(0);
  expect(r.stderr).toContain(`VM ${plan.vmName} was created with different settings (cpus 2 -> 4)`);
  const verbs = r.calls.map((c) => c[0]);
  expect(verbs.indexOf("controlvm")).toBeLessThan(verbs.indexOf("unregistervm"));
  expect(verbs.indexOf("unregistervm")).toBeLessThan(verbs.indexOf("clonevm"));
  expect(callsOf(r, "import")).toEqual([]);
  expect(callsOf(r, "unregistervm")).toEqual([["unregistervm", plan.vmName, "--delete"]]);
  const newUuid = registry(lab).vms[plan.vmName].uuid;
  expect(newUuid).not.toBe(oldUuid);
  expect(r.stdout).toBe(stdoutOf(newUuid));
  expect(registry(lab).vms[plan.vmName].extra[IDENTITY_KEY]).toBe(bigger.identityHash);
});

test("update with another image path: a new base, and the old one is deleted once nothing uses it", async () => {
  const lab = freshLab("image");
  const plan = awkwardPlan();
  expect((await runHelper("create", plan, lab)).status).toBe(0);
  const moved = planFor(`lab "one" x`, 0, { imagePath: path.join(tmp, `my "images"`, "noble.ova") });
  expect(moved.base.name).not.toBe(plan.base.name);
  const r = await runHelper("update", moved, lab);
  expect(r.status).toBe(0);
  expect(callsOf(r, "import")).toHaveLength(1);
  expect(callsOf(r, "unregistervm")).toEqual([["unregistervm", plan.vmName, "--delete"], ["unregistervm", plan.base.name, "--delete"]]);
  expect(Object.keys(registry(lab).vms).sort()).toEqual([moved.base.name, moved.vmName].sort());
});

test("update of a VM made by v0.1 (owner set, no identity) adopts it: no rebuild, no host key claimed", async () => {
  const lab = freshLab("adopt");
  const plan = awkwardPlan();
  // What v0.1 left: a full import of its own, marked as ours and ready, with its plan hash.
  const dir = path.join(BASE(), plan.vmName);
  fs.mkdirSync(dir, { recursive: true });
  const uuid = "11111111-2222-4333-8444-555555555555";
  fs.writeFileSync(lab.state, JSON.stringify({
    vms: { [plan.vmName]: { uuid, dir, state: "running", extra: { [OWNER_KEY]: plan.owner, "kubeadm-cluster/state": "ready", "kubeadm-cluster/plan": "0123456789abcdef" }, attach: {}, snapshots: [] } },
    media: {},
  }));
  const r = await runHelper("update", plan, lab);
  expect(r.status).toBe(0);
  expect(r.stderr).toMatch(/created by an earlier version of this program/);
  // Same UUID, nothing rebuilt; only the identity is recorded.
  expect(r.stdout).toBe(stdoutOf(uuid, false));
  expect(mutations(r).map((c) => [c[0], c[2]])).toEqual([["setextradata", IDENTITY_KEY], ["setextradata", "kubeadm-cluster/identity-json"]]);
  // Its host key is unknown (v0.1 generated none): it stays unpinned until it is rebuilt.
  expect(registry(lab).vms[plan.vmName].extra[HOSTKEY_KEY]).toBeUndefined();
  // From now on the same plan keeps it, and a changed one rebuilds it.
  const again = await runHelper("update", plan, lab);
  expect(again.stdout).toBe(stdoutOf(uuid, false));
  expect(mutations(again)).toEqual([]);
});

test("create rebuilds a VM an interrupted run left unfinished (ours, never marked ready)", async () => {
  const lab = freshLab("unfinished");
  const plan = awkwardPlan();
  const dir = path.join(tmp, "half");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(lab.state, JSON.stringify({ vms: { [plan.vmName]: { uuid: "11111111-2222-4333-8444-555555555555", dir, state: "running", extra: { [OWNER_KEY]: plan.owner }, attach: {}, snapshots: [] } }, media: {} }));
  const r = await runHelper("create", plan, lab);
  expect(r.status).toBe(0);
  expect(r.stderr).toMatch(/left unfinished by an earlier run/);
  const verbs = r.calls.map((c) => c[0]);
  expect(verbs.indexOf("controlvm")).toBeLessThan(verbs.indexOf("unregistervm"));
  expect(verbs.indexOf("unregistervm")).toBeLessThan(verbs.indexOf("clonevm"));
});

test("create and update refuse a VM with the same name that is not ours, and touch nothing", async () => {
  const lab = freshLab("foreign");
  const plan = awkwardPlan();
  fs.writeFileSync(lab.state, JSON.stringify({ vms: { [plan.vmName]: { uuid: "99999999-2222-4333-8444-555555555555", dir: path.join(tmp, "theirs"), state: "running", extra: {}, attach: {}, snapshots: [] } }, media: {} }));
  for (const action of ["create", "update"] as const) {
    const r = await runHelper(action, plan, lab);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`a VM named "${plan.vmName}" already exists and was not created by this stack`);
    expect(r.stdout).toBe("");
    expect(mutations(r)).toEqual([]);
  }
  // delete leaves it alone as well
  const d = await runHelper("delete", plan, lab);
  expect(d.status).toBe(0);
  expect(mutations(d)).toEqual([]);
});

test("a base VM name taken by something else is refused, not used or changed", async () => {
  const lab = freshLab("foreign-base");
  const plan = awkwardPlan();
  fs.writeFileSync(lab.state, JSON.stringify({ vms: { [plan.base.name]: { uuid: "99999999-2222-4333-8444-555555555555", dir: path.join(tmp, "theirs"), state: "poweroff", extra: {}, attach: {}, snapshots: [] } }, media: {} }));
  const r = await runHelper("create", plan, lab);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`a VM named "${plan.base.name}" exists but is not a base VM made by this program`);
  expect(mutations(r)).toEqual([]);
});

test("delete removes what create made: powers off, unregisters with disks, removes the seed, the folder and the unused base", async () => {
  const lab = freshLab("delete");
  const plan = awkwardPlan();
  expect((await runHelper("create", plan, lab)).status).toBe(0);
  const vmDir = path.join(BASE(), plan.vmName);
  expect(fs.existsSync(path.join(vmDir, "cidata.iso"))).toBe(true);
  expect(registry(lab).vms[plan.base.name].extra[BASE_KEY]).toBe(plan.base.owner);
  const d = await runHelper("delete", plan, lab);
  expect(d.status).toBe(0);
  expect(callsOf(d, "controlvm")).toEqual([["controlvm", plan.vmName, "poweroff"]]);
  expect(callsOf(d, "unregistervm")).toEqual([["unregistervm", plan.vmName, "--delete"], ["unregistervm", plan.base.name, "--delete"]]);
  expect(registry(lab)).toMatchObject({ vms: {}, media: {} });
  expect(fs.existsSync(vmDir)).toBe(false);
});

test("delete of a VM that is already gone succeeds without changing anything", async () => {
  const lab = freshLab("gone");
  const d = await runHelper("delete", awkwardPlan(), lab);
  expect(d.status).toBe(0);
  expect(d.stderr).toMatch(/already gone/);
  expect(mutations(d)).toEqual([]);
});

test("delete leaves a VM made for other settings (the node's replacement) alone", async () => {
  const lab = freshLab("replaced");
  const plan = awkwardPlan();
  expect((await runHelper("create", plan, lab)).status).toBe(0);
  const older = planFor(`lab "one" x`, 0, { controlPlane: { cpus: 4, memoryMb: 4096, diskGb: 20 } });
  const d = await runHelper("delete", older, lab);
  expect(d.status).toBe(0);
  expect(mutations(d)).toEqual([]);
});

test("delete still reads a v0.1 plan (what Pulumi stored for VMs v0.1 created) and deletes as v0.1 did", async () => {
  const lab = freshLab("legacy");
  const crypto = await import("crypto");
  const legacy = { version: 1, vboxManage: path.join(tmp, "bin dir", "VBoxManage"), vmName: "kubeadm-k8s-worker", owner: "kubeadm/k8s-worker", extraFiles: ["cidata.iso", "serial.log"] };
  const hash = crypto.createHash("sha256").update(JSON.stringify(legacy)).digest("hex").slice(0, 16);
  const dir = path.join(tmp, "legacy vm");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "cidata.iso"), "");
  fs.writeFileSync(lab.state, JSON.stringify({ vms: { [legacy.vmName]: { uuid: "11111111-2222-4333-8444-555555555555", dir, state: "running", extra: { [OWNER_KEY]: legacy.owner, "kubeadm-cluster/plan": hash }, attach: {}, snapshots: [] } }, media: {} }));
  const d = await runHelper("delete", JSON.stringify(legacy), lab);
  expect(d.status).toBe(0);
  expect(callsOf(d, "unregistervm")).toEqual([["unregistervm", legacy.vmName, "--delete"]]);
  expect(fs.existsSync(dir)).toBe(false);
  // create/update never accept the old format
  const c = await runHelper("update", JSON.stringify(legacy), lab);
  expect(c.status).not.toBe(0);
  expect(c.stderr).toContain("expected plan version 2");
});

test("a lock left by a process that died is removed; a live one is waited for, boundedly, with a clear message", async () => {
  const lab = freshLab("locks");
  const plan = awkwardPlan();
  const lockDir = path.join(lab.tmpdir, "kubeadm-vbox-locks");
  fs.mkdirSync(lockDir, { recursive: true });
  const lock = path.join(lockDir, `${plan.base.name}.lock`);
  // A live holder (this test process) that never lets go: the create gives up after waitSeconds.
  fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), doing: "importing for another-vm", since: "2026-12-01T00:00:00Z" }));
  const blocked = await runHelper("create", { ...plan, base: { ...plan.base, waitSeconds: 1 } }, lab);
  expect(blocked.status).not.toBe(0);
  expect(blocked.stderr).toContain(`waiting up to 1s for pid ${process.pid} (importing for another-vm`);
  expect(blocked.stderr).toContain(`step "wait for base ${plan.base.name}" failed: pid ${process.pid}`);
  expect(blocked.stderr).toContain(`delete that file and run pulumi up again`);
  expect(mutations(blocked)).toEqual([]);
  // A holder that is gone: its lock is removed and the create goes on.
  const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid as number;
  fs.writeFileSync(lock, JSON.stringify({ pid: dead, host: os.hostname(), doing: "importing", since: "2026-12-01T00:00:00Z" }));
  const r = await runHelper("create", plan, lab);
  expect(r.status).toBe(0);
  expect(r.stderr).toContain(`removing the stale lock`);
  expect(fs.existsSync(lock)).toBe(false);
});

test("the host private key never appears on stdout or stderr (create, update, rebuild, delete, bad input)", async () => {
  const lab = freshLab("secret");
  const plan = awkwardPlan();
  const runs = [
    await runHelper("create", plan, lab),
    await runHelper("update", plan, lab),
    await runHelper("update", planFor(`lab "one" x`, 0, { controlPlane: { cpus: 3, memoryMb: 4096, diskGb: 20 } }), lab),
    await runHelper("delete", plan, lab),
    // Not JSON: Node's parser would quote the input around the error; the helper must not pass that on.
    await runHelper("create", JSON.stringify(plan).slice(0, 4000) + "}}}", lab),
    // A failing step (no SSH): the error names the step, never the seed.
    await runHelper("create", { ...plan, waitForSsh: { host: "127.0.0.1", port: 9, timeoutSeconds: 1 } }, freshLab("secret-fail")),
  ];
  expect(runs.map((r) => r.status)).toEqual([0, 0, 0, 0, 1, 1]);
  expect(runs[4].stderr).toMatch(/bytes that are not valid JSON/);
  for (const r of runs) {
    expect(r.stdout + r.stderr).not.toContain(HOST_SECRET);
    expect(r.stdout + r.stderr).not.toContain("PRIVATE KEY");
  }
});

test("create fails naming the step when SSH never answers", async () => {
  const lab = freshLab("nossh");
  // Port 9 (discard): nothing listens there on a test machine.
  const plan = { ...awkwardPlan(1), waitForSsh: { host: "127.0.0.1", port: 9, timeoutSeconds: 1 } };
  const r = await runHelper("create", plan, lab);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`step "wait for SSH on 127.0.0.1:9" failed`);
  expect(r.stdout).toBe("");
});

test("a missing VBoxManage is reported with a hint, not a stack trace", async () => {
  const lab = freshLab("novbox");
  const plan = { ...awkwardPlan(), vboxManage: path.join(tmp, "nowhere", "VBoxManage") };
  const r = await runHelper("create", plan, lab);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/is VirtualBox installed\?/);
});
