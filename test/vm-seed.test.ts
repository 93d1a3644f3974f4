// The NoCloud seed: the ISO writer read back by a real tool (xorriso, blkid), and the cloud-init files
// parsed back (hostname, SSH user and key, static IP on the NIC whose MAC VirtualBox is told to use).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import * as yaml from "js-yaml";
import { devSpec, TEST_PUBLIC_KEY, TEST_HOST_KEY } from "./fixtures";
import { vboxPlan } from "../components/machines/virtualbox-plan";
import { nicMac, seedFiles, toYaml } from "../components/machines/cloud-init";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS helper without types
const { buildIso } = require("../scripts/vm/iso9660.js") as { buildIso: (files: Record<string, string | Buffer>, volumeId: string, date?: Date) => Buffer };

function requireXorriso(): void {
  const r = spawnSync("xorriso", ["-version"], { encoding: "utf8" });
  if (r.error) throw new Error("xorriso is required to read the ISO back: apt-get install -y xorriso");
}

describe("ISO 9660 + Joliet writer", () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "iso-"))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("xorriso extracts the exact names (lowercase, with '-') and bytes, including multi-sector files", () => {
    requireXorriso();
    const big = Buffer.alloc(5000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    const files = { "user-data": "#cloud-config\nhostname: a\n", "meta-data": "instance-id: x\n", "network-config": "version: 2\n", "vendor-data": big };
    const iso = path.join(dir, "seed.iso");
    fs.writeFileSync(iso, buildIso(files, "cidata", new Date(Date.UTC(2024, 0, 2, 3, 4, 5))));
    const out = path.join(dir, "out");
    const x = spawnSync("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", "/", out], { encoding: "utf8" });
    expect(x.stderr).not.toMatch(/FAILURE|SORRY/);
    expect(fs.readdirSync(out).sort()).toEqual(["meta-data", "network-config", "user-data", "vendor-data"]);
    expect(fs.readFileSync(path.join(out, "user-data"), "utf8")).toBe(files["user-data"]);
    expect(fs.readFileSync(path.join(out, "vendor-data")).equals(big)).toBe(true);
    const pvd = spawnSync("xorriso", ["-indev", iso, "-pvd_info"], { encoding: "utf8" });
    expect(pvd.stdout + pvd.stderr).toMatch(/Volume Id\s*:\s*cidata\b/);
  });

  test("blkid (what cloud-init's NoCloud uses to find the seed) sees TYPE=iso9660 LABEL=cidata", () => {
    const blkid = spawnSync("blkid", ["-p", "-o", "export", "/dev/null"], { encoding: "utf8" });
    if (blkid.error) throw new Error("blkid (util-linux) is required for this test");
    const iso = path.join(dir, "label.iso");
    fs.writeFileSync(iso, buildIso({ "meta-data": "instance-id: x\n", "user-data": "#cloud-config\n" }, "cidata"));
    const r = spawnSync("blkid", ["-p", "-o", "export", iso], { encoding: "utf8" });
    expect(r.stdout).toMatch(/^TYPE=iso9660$/m);
    expect(r.stdout).toMatch(/^LABEL=cidata$/m);
  });

  test("same input and date give the same bytes (a seed can be compared across runs)", () => {
    const d = new Date(Date.UTC(2024, 0, 1));
    expect(buildIso({ "a-b": "1" }, "cidata", d).equals(buildIso({ "a-b": "1" }, "cidata", d))).toBe(true);
  });

  test("rejects names a flat seed cannot hold", () => {
    expect(() => buildIso({ "dir/user-data": "x" }, "cidata")).toThrow(/unsupported file name/);
    expect(() => buildIso({}, "cidata")).toThrow(/no files/);
  });
});

describe("cloud-init seed files", () => {
  const spec = devSpec();
  const plan = vboxPlan(spec, spec.nodes[1], TEST_PUBLIC_KEY, TEST_HOST_KEY);
  const user = yaml.load(plan.seed.files["user-data"], { schema: yaml.YAML11_SCHEMA }) as Record<string, unknown>;
  const netcfg = yaml.load(plan.seed.files["network-config"], { schema: yaml.YAML11_SCHEMA }) as {
    version: number;
    ethernets: Record<string, { match: { macaddress: string }; "set-name": string; dhcp4: boolean; addresses?: string[]; gateway4?: string; routes?: unknown }>;
  };
  const meta = yaml.load(plan.seed.files["meta-data"]) as Record<string, string>;

  /** The MAC VBoxManage is told to give NIC n, back in netplan's colon form. */
  function macGiven(n: number): string {
    const arg = plan.configure.flat().find((a) => a.startsWith(`--mac-address${n}=`));
    expect(arg).toBeDefined();
    return (arg as string).split("=")[1].toLowerCase().match(/../g)!.join(":");
  }

  test("user-data is #cloud-config with the hostname, the SSH user, its key and passwordless sudo; no passwords", () => {
    expect(plan.seed.files["user-data"].startsWith("#cloud-config\n")).toBe(true);
    expect(user.hostname).toBe("k8s-worker");
    expect(meta["local-hostname"]).toBe("k8s-worker");
    const users = user.users as Record<string, unknown>[];
    expect(users).toHaveLength(1);
    expect(users[0].name).toBe("ubuntu");
    expect(users[0].ssh_authorized_keys).toEqual([TEST_PUBLIC_KEY]);
    expect(users[0].sudo).toBe("ALL=(ALL) NOPASSWD:ALL");
    expect(users[0].lock_passwd).toBe(true);
    expect(user.ssh_pwauth).toBe(false);
    expect(plan.seed.files["user-data"]).not.toMatch(/^\s*(-\s*)?(passwd|hashed_passwd|plain_text_passwd|password|chpasswd):/m);
  });

  test("the VM presents only the pinned host key: image keys deleted, none generated, the ECDSA pair written", () => {
    // cloud-init cc_ssh: ssh_deletekeys removes /etc/ssh/ssh_host_*key*; with ssh_keys it writes those
    // keys and generates none; ssh_genkeytypes: [] says the same to any version that would fill in types.
    expect(user.ssh_deletekeys).toBe(true);
    expect(user.ssh_genkeytypes).toEqual([]);
    expect(user.ssh_keys).toEqual({ ecdsa_private: TEST_HOST_KEY.privateKey, ecdsa_public: TEST_HOST_KEY.publicKey });
    expect(plan.hostKey).toBe(TEST_HOST_KEY.publicKey);
    // Nothing but the ECDSA pair: another type would let sshd offer a key nobody pinned.
    expect(Object.keys(user.ssh_keys as object)).toEqual(["ecdsa_private", "ecdsa_public"]);
  });

  test("a host key that is not one ECDSA P-256 line is refused (the client pins exactly that type)", () => {
    const base = { hostname: "h", instanceId: "i", sshUser: "ubuntu", sshPublicKey: TEST_PUBLIC_KEY, natMac: "02:00:00:00:00:01", natIfName: "a", clusterMac: "02:00:00:00:00:02", clusterIfName: "b", nodeIp: "192.168.56.30", prefixLength: 24 };
    expect(() => seedFiles({ ...base, hostKey: { ...TEST_HOST_KEY, publicKey: TEST_PUBLIC_KEY } })).toThrow(/host public key for h is not one "ecdsa-sha2-nistp256/);
    expect(() => seedFiles({ ...base, hostKey: { ...TEST_HOST_KEY, privateKey: "not a key" } })).toThrow(/host private key for h/);
    // Without a host key (never the case for VirtualBox VMs) the image's own keys are left alone.
    expect((yaml.load(seedFiles(base)["user-data"]) as Record<string, unknown>).ssh_keys).toBeUndefined();
  });

  test("network-config: static node IP on the host-only NIC, matched by the MAC VirtualBox gets; DHCP on NAT", () => {
    expect(netcfg.version).toBe(2);
    const cluster = netcfg.ethernets.enp0s8;
    expect(cluster.addresses).toEqual(["192.168.56.20/24"]);
    expect(cluster.dhcp4).toBe(false);
    expect(cluster.match.macaddress).toBe(macGiven(2));
    expect(cluster["set-name"]).toBe("enp0s8");
    // No default route on the host-only NIC: internet goes through NAT.
    expect(cluster.gateway4).toBeUndefined();
    expect(cluster.routes).toBeUndefined();
    const nat = netcfg.ethernets.enp0s3;
    expect(nat.dhcp4).toBe(true);
    expect(nat.match.macaddress).toBe(macGiven(1));
  });

  test("the cluster NIC name follows kubernetes.nic (flannel --iface uses the same name)", () => {
    const s = devSpec({ kubernetes: { ...spec.kubernetes, nic: "k8s0" } });
    const p = vboxPlan(s, s.nodes[0], TEST_PUBLIC_KEY, TEST_HOST_KEY);
    const n = yaml.load(p.seed.files["network-config"]) as { ethernets: Record<string, { "set-name": string; addresses?: string[] }> };
    expect(n.ethernets.k8s0["set-name"]).toBe("k8s0");
    expect(n.ethernets.k8s0.addresses).toEqual(["192.168.56.10/24"]);
  });

  test("MACs are stable, different per VM and NIC, unicast and locally administered", () => {
    expect(nicMac("kubeadm-k8s-control", 2)).toBe(nicMac("kubeadm-k8s-control", 2));
    const macs = new Set([nicMac("kubeadm-k8s-control", 1), nicMac("kubeadm-k8s-control", 2), nicMac("kubeadm-k8s-worker", 1), nicMac("kubeadm-k8s-worker", 2)]);
    expect(macs.size).toBe(4);
    for (const m of macs) {
      expect(m).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const first = parseInt(m.slice(0, 2), 16);
      expect(first & 1).toBe(0); // unicast
      expect(first & 2).toBe(2); // locally administered: never a vendor's address
    }
  });

  test("values stay strings under YAML 1.1 (cloud-init's PyYAML): a node named 'no' keeps its hostname", () => {
    // Unquoted, YAML 1.1 reads no/on/yes as booleans; this proves the parser would catch it.
    expect(yaml.load("hostname: no", { schema: yaml.YAML11_SCHEMA })).toEqual({ hostname: false });
    const files = seedFiles({
      hostname: "no", instanceId: "i", sshUser: "ubuntu", sshPublicKey: TEST_PUBLIC_KEY,
      natMac: "02:00:00:00:00:01", natIfName: "enp0s3", clusterMac: "02:00:00:00:00:02", clusterIfName: "enp0s8", nodeIp: "192.168.56.30", prefixLength: 24,
    });
    expect((yaml.load(files["user-data"], { schema: yaml.YAML11_SCHEMA }) as Record<string, unknown>).hostname).toBe("no");
    expect(yaml.load(toYaml({ a: ["on", 1, true], b: { c: "12:30" } }), { schema: yaml.YAML11_SCHEMA })).toEqual({ a: ["on", 1, true], b: { c: "12:30" } });
  });

  test("refuses root and malformed keys with a message naming the problem", () => {
    const base = { hostname: "h", instanceId: "i", natMac: "02:00:00:00:00:01", natIfName: "a", clusterMac: "02:00:00:00:00:02", clusterIfName: "b", nodeIp: "192.168.56.30", prefixLength: 24 };
    expect(() => seedFiles({ ...base, sshUser: "root", sshPublicKey: TEST_PUBLIC_KEY })).toThrow(/must not be root/);
    expect(() => seedFiles({ ...base, sshUser: "ubuntu", sshPublicKey: "-----BEGIN OPENSSH PRIVATE KEY-----" })).toThrow(/not a single OpenSSH public key/);
  });
});
