// The pure decisions behind `update` of a VirtualBox VM: which settings are the VM's identity (a change
// rebuilds it, with a new UUID) and which are tunables (a change rebuilds nothing), and what vbox.js does
// with an existing VM (scripts/vm/reconcile.js, the module vbox.js runs).
import { devSpec, TEST_PUBLIC_KEY, TEST_HOST_KEY } from "./fixtures";
import { vboxPlan, identityHash, canonicalJson, basePlan, VboxPlan } from "../components/machines/virtualbox-plan";
import { VirtualBoxSpec } from "../components/spec";
import { reconcileAction, decideVm, decideDelete, identityChanges, parseMediumInfo, mediumUsers, baseUsers } from "../scripts/vm/reconcile";

const spec = devSpec();
const vb = spec.virtualbox as VirtualBoxSpec;

function planWith(over: Partial<VirtualBoxSpec>, node = 0, sshKey = TEST_PUBLIC_KEY, hostKey: { publicKey: string; privateKey: string } = TEST_HOST_KEY): VboxPlan {
  const s = devSpec({ virtualbox: { ...vb, ...over } });
  return vboxPlan(s, s.nodes[node], sshKey, hostKey);
}

describe("identity vs tunables", () => {
  const plan = planWith({});

  test("tunables (VBoxManage path, boot timeout) never change the identity", () => {
    for (const t of [{ vboxManage: "/opt/VirtualBox/VBoxManage" }, { vboxManage: "C:\\Program Files\\Oracle\\VirtualBox\\VBoxManage.exe" }, { bootTimeoutSeconds: 1200 }]) {
      const other = planWith(t);
      expect(other.identityHash).toBe(plan.identityHash);
      expect(other.identity).toEqual(plan.identity);
      // ...while the plan (what the command gets on stdin) does carry the new value.
      expect(other).not.toEqual(plan);
    }
  });

  test("every identity field changes the identity: size, disk, image, base folder, adapter, IP, keys", () => {
    const changed: [string, VboxPlan][] = [
      ["cpus", planWith({ controlPlane: { ...vb.controlPlane, cpus: 4 } })],
      ["memory", planWith({ controlPlane: { ...vb.controlPlane, memoryMb: 8192 } })],
      ["disk", planWith({ controlPlane: { ...vb.controlPlane, diskGb: 40 } })],
      ["image", planWith({ imagePath: "/images/other.ova" })],
      ["base folder", planWith({ baseFolder: "/vms" })],
      ["adapter", planWith({ hostOnlyAdapter: "vboxnet1" })],
      ["prefix", planWith({ hostOnlyCidr: "192.168.56.0/25" })],
      ["ssh key", planWith({}, 0, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOTHERKEY")],
      ["host key", planWith({}, 0, TEST_PUBLIC_KEY, { ...TEST_HOST_KEY, publicKey: "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYOTHER" })],
    ];
    for (const [what, p] of changed) expect({ what, same: p.identityHash === plan.identityHash }).toEqual({ what, same: false });
    const ip = devSpec({ virtualbox: vb, nodes: [{ ...spec.nodes[0], ip: "192.168.56.11" }, spec.nodes[1]] });
    expect(vboxPlan(ip, ip.nodes[0], TEST_PUBLIC_KEY, TEST_HOST_KEY).identityHash).not.toBe(plan.identityHash);
  });

  test("the identity holds the public host key and never the private one", () => {
    expect(plan.identity.hostKey).toBe(TEST_HOST_KEY.publicKey);
    expect(JSON.stringify(plan.identity)).not.toContain("PRIVATE");
  });

  test("the hash does not depend on key order (canonical JSON)", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    const shuffled = Object.fromEntries(Object.entries(plan.identity).reverse()) as typeof plan.identity;
    expect(identityHash(shuffled)).toBe(plan.identityHash);
  });
});

describe("the shared base VM", () => {
  test("one base per absolute image path and disk size: two clusters with the same image share it", () => {
    const a = vboxPlan(devSpec({ clusterName: "one" }), spec.nodes[0], TEST_PUBLIC_KEY, TEST_HOST_KEY);
    const b = vboxPlan(devSpec({ clusterName: "two" }), spec.nodes[1], TEST_PUBLIC_KEY, TEST_HOST_KEY);
    expect(a.base).toEqual(b.base);
    expect(a.base.name).toMatch(/^kubeadm-base-[0-9a-f]{12}-20g$/);
    expect(a.clone).toEqual(["clonevm", a.base.name, "--snapshot=kubeadm-base", "--options=link", "--name=one-k8s-control", "--register"]);
  });

  test("a changed image path or disk size means another base; the VBoxManage path does not", () => {
    const p = planWith({});
    expect(planWith({ imagePath: "/images/other.ova" }).base.name).not.toBe(p.base.name);
    expect(planWith({ controlPlane: { ...vb.controlPlane, diskGb: 40 } }).base.name).toMatch(/-40g$/);
    expect(planWith({ vboxManage: "/opt/vbox/VBoxManage" }).base).toEqual(p.base);
    // The disk is grown on the base, before its snapshot: every clone's disk has the base's size.
    expect(p.base.diskMb).toBe(20 * 1024);
    expect(basePlan(vb, 20480).create).toEqual([["import", vb.imagePath, "--vsys=0", `--vmname=${p.base.name}`, "--options=importtovdi"]]);
  });
});

describe("reconcileAction", () => {
  test("missing -> create; no recorded identity (v0.1) -> adopt; same -> keep; different -> rebuild", () => {
    expect(reconcileAction(undefined, "h1", false)).toBe("create");
    expect(reconcileAction("h0", "h1", false)).toBe("create");
    expect(reconcileAction(undefined, "h1", true)).toBe("adopt");
    expect(reconcileAction("h1", "h1", true)).toBe("keep");
    expect(reconcileAction("h0", "h1", true)).toBe("rebuild");
  });
});

describe("decideVm (create and update)", () => {
  const plan = planWith({});
  const ours = { owner: plan.owner, ready: true };

  test("a VM that is not ours is refused, whatever else is recorded", () => {
    for (const owner of [undefined, "other/k8s-control"]) {
      const d = decideVm({ owner, ready: true, identity: plan.identityHash }, plan);
      expect(d.action).toBe("refuse");
      expect(d.reason).toContain(`a VM named "${plan.vmName}" already exists and was not created by this stack`);
    }
  });

  test("ours but never marked ready (an interrupted run) is rebuilt, even without an identity", () => {
    expect(decideVm({ owner: plan.owner, ready: false }, plan).action).toBe("rebuild");
    expect(decideVm({ owner: plan.owner, ready: false, identity: plan.identityHash }, plan).action).toBe("rebuild");
  });

  test("a finished v0.1 VM (owner, no identity) is adopted, never rebuilt", () => {
    const d = decideVm(ours, plan);
    expect(d.action).toBe("adopt");
    expect(d.reason).toMatch(/earlier version of this program/);
  });

  test("a rebuild says what changed; keys are named, not printed", () => {
    const old = planWith({ controlPlane: { ...vb.controlPlane, cpus: 4 } }, 0, TEST_PUBLIC_KEY, { ...TEST_HOST_KEY, publicKey: "ecdsa-sha2-nistp256 AAAAE2VjZHNhOLD" });
    const d = decideVm({ ...ours, identity: old.identityHash, identityJson: JSON.stringify(old.identity) }, plan);
    expect(d.action).toBe("rebuild");
    expect(d.reason).toContain("cpus 4 -> 2");
    expect(d.reason).toContain("hostKey changed");
    expect(d.reason).not.toContain("AAAAE2VjZHNhOLD");
    expect(d.reason).toMatch(/new UUID/);
    expect(decideVm({ ...ours, identity: plan.identityHash }, plan).action).toBe("keep");
  });

  test("identityChanges tolerates a missing or broken record", () => {
    expect(identityChanges(undefined, { a: 1 })).toEqual([]);
    expect(identityChanges("{not json", { a: 1 })).toEqual([]);
    expect(identityChanges(JSON.stringify({ nics: { nat: { mac: "a" } } }), { nics: { nat: { mac: "b" } } })).toEqual(['nics.nat.mac "a" -> "b"']);
  });
});

describe("decideDelete", () => {
  const plan = planWith({});
  test("gone, not ours, a finished replacement with other settings: nothing is deleted", () => {
    expect(decideDelete(undefined, plan).action).toBe("gone");
    expect(decideDelete({ owner: "x/y", ready: true }, plan).action).toBe("foreign");
    expect(decideDelete({ owner: plan.owner, ready: true, identity: "other" }, plan).action).toBe("other");
  });
  test("ours with this identity, an adopted-or-v0.1 VM, or an unfinished one: deleted", () => {
    expect(decideDelete({ owner: plan.owner, ready: true, identity: plan.identityHash }, plan).action).toBe("delete");
    expect(decideDelete({ owner: plan.owner, ready: true }, plan).action).toBe("delete");
    expect(decideDelete({ owner: plan.owner, ready: false, identity: "other" }, plan).action).toBe("delete");
  });
});

describe("who still uses a base (showmediuminfo)", () => {
  // The layout VBoxManageDisk.cpp showMediumInfo prints: one label per field, further values on lines
  // indented by 16 spaces.
  const baseDisk = [
    "UUID:           11111111-1111-4111-8111-111111111111",
    "Parent UUID:    base",
    "State:          created",
    "Location:       /vms/kubeadm-base-x/disk: with colon.vdi",
    "Capacity:       20480 MBytes",
    "In use by VMs:  kubeadm-base-x (UUID: 0f0e0d0c-0b0a-4908-8706-000000000001) [kubeadm-base (UUID: 22222222-2222-4222-8222-222222222222)]",
    "Child UUIDs:    aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
    "                bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
    "                cccccccc-cccc-4ccc-8ccc-cccccccccccc",
  ].join("\n");

  test("parses every value of a multi-line field and names with spaces", () => {
    const f = parseMediumInfo(baseDisk);
    expect(f["Child UUIDs"]).toHaveLength(3);
    expect(f.Location).toEqual(["/vms/kubeadm-base-x/disk: with colon.vdi"]);
    expect(mediumUsers(parseMediumInfo('In use by VMs:  lab "one" (x)-k8s-worker (UUID: AAAAAAAA-0000-4000-8000-000000000000)'))).toEqual([
      { name: 'lab "one" (x)-k8s-worker', uuid: "aaaaaaaa-0000-4000-8000-000000000000" },
    ]);
  });

  test("the base's own current state does not count; clones and unattached children do", () => {
    const base = "0f0e0d0c-0b0a-4908-8706-000000000001";
    const self = { uuid: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", users: [{ name: "kubeadm-base-x", uuid: base }] };
    expect(baseUsers(base, [self])).toEqual([]);
    expect(baseUsers(base, [self, { uuid: "b", users: [{ name: "one-k8s-worker", uuid: "0f0e0d0c-0b0a-4908-8706-000000000002" }] }])).toEqual(["one-k8s-worker"]);
    expect(baseUsers(base, [self, { uuid: "c", users: [] }])).toEqual(["unattached disk c"]);
  });
});
