// Issue 12's fixes that live in resource options and generated values, checked on the whole program
// under mocks (the lifecycle rows in test/lifecycle.test.ts check what a later `up` then does):
//   4. Aliyun: the image and zone a data source found are kept (ignoreChanges), a configured imageId
//      replaces the instance (provider feature replaceOnImageUpdate) instead of re-imaging it in place;
//   5. Aliyun: the generated SSH key is RSA 4096 (ImportKeyPair takes no ED25519); elsewhere ED25519;
//   6. Aliyun: instances and the vSwitch are deleted before their replacement is created (fixed IPs,
//      fixed CIDR); the key pair's name carries the key's fingerprint, so a new key is a new pair;
//  11. metrics-server waits for flannel; behind the China mirrors workloads get 20 minutes.
import { RecordedResource, dependsTransitively } from "./harness";
import { stackConfig } from "./program-helpers";
import { keyPairName } from "../components/machines/aliyun-plan";

type Obj = Record<string, unknown>;

async function program(stack: string, config = stackConfig(stack)): Promise<RecordedResource[]> {
  let out: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh module registry per program run
    const h = require("./program-helpers") as typeof import("./program-helpers");
    out = (await h.runProgram(stack, { config })).resources;
  });
  return out;
}
const byType = (rs: RecordedResource[], t: string) => rs.filter((r) => r.type === t && r.custom);

describe("Aliyun stack", () => {
  let rs: RecordedResource[];
  beforeAll(async () => {
    rs = await program("aliyun");
  });

  test("[4] found image and zone are kept; the provider replaces an instance whose imageId is changed on purpose", () => {
    const provider = byType(rs, "pulumi:providers:alicloud")[0];
    expect(JSON.parse(String((provider.inputs as Obj).features ?? "{}"))).toEqual({ ecsInstance: { replaceOnImageUpdate: true } });
    for (const i of byType(rs, "alicloud:ecs/instance:Instance")) expect(i.ignoreChanges).toEqual(expect.arrayContaining(["imageId"]));
    expect(byType(rs, "alicloud:vpc/switch:Switch")[0].ignoreChanges).toEqual(["zoneId"]);
  });

  test("[4] a configured imageId or zone is followed (not ignored)", async () => {
    const base = stackConfig("aliyun");
    const aliyun = { ...(JSON.parse(base.aliyun) as Obj), imageId: "ubuntu_22_04_x64_20G_alibase_20260522.vhd", zone: "cn-hangzhou-i" };
    const pinned = await program("aliyun", { ...base, aliyun: JSON.stringify(aliyun) });
    for (const i of byType(pinned, "alicloud:ecs/instance:Instance")) expect(i.ignoreChanges).not.toContain("imageId");
    expect(byType(pinned, "alicloud:vpc/switch:Switch")[0].ignoreChanges).toEqual([]);
  });

  test("[5] the generated SSH key is RSA 4096", () => {
    const key = rs.find((r) => r.name === "kubeadm-ssh-key") as RecordedResource;
    expect(key.inputs).toMatchObject({ algorithm: "RSA", rsaBits: 4096 });
  });

  test("[6] instances and the vSwitch are replaced old-first; the key pair's name carries the key's fingerprint", () => {
    for (const r of [...byType(rs, "alicloud:ecs/instance:Instance"), ...byType(rs, "alicloud:vpc/switch:Switch")]) expect({ r: r.name, dbr: r.deleteBeforeReplace }).toEqual({ r: r.name, dbr: true });
    const pair = byType(rs, "alicloud:ecs/ecsKeyPair:EcsKeyPair")[0];
    expect(String(pair.inputs.keyPairName)).toBe(keyPairName("kubeadm-aliyun", String(pair.inputs.publicKey)));
    expect(keyPairName("p", "ssh-rsa AAAAone c")).not.toBe(keyPairName("p", "ssh-rsa AAAAtwo c"));
    // The comment is not part of the key: the same key under another comment keeps its pair.
    expect(keyPairName("p", "ssh-rsa AAAAone c")).toBe(keyPairName("p", "ssh-rsa AAAAone other-comment"));
  });

  test("[11] behind the China mirrors the add-on workloads are awaited 20 minutes", () => {
    const workloads = rs.filter((r) => r.custom && /kubernetes:apps\/v1:(DaemonSet|Deployment)/.test(r.type));
    expect(workloads.length).toBeGreaterThanOrEqual(3);
    for (const w of workloads) expect({ w: w.name, t: w.customTimeouts }).toEqual({ w: w.name, t: { create: "20m", update: "20m" } });
  });
});

describe("VirtualBox stack", () => {
  let rs: RecordedResource[];
  beforeAll(async () => {
    rs = await program("dev");
  });

  test("[5] the generated SSH key is ED25519 (cloud-init takes it)", () => {
    expect((rs.find((r) => r.name === "kubeadm-ssh-key") as RecordedResource).inputs).toMatchObject({ algorithm: "ED25519" });
  });

  test("[11] metrics-server's Deployment (and the approver) wait for flannel's DaemonSet; default timeouts", () => {
    expect(dependsTransitively(rs, "kubeadm-metrics-server-deploy-metrics-server", "kubeadm-flannel-ds-kube-flannel-ds")).toBe(true);
    expect(dependsTransitively(rs, "kubeadm-kubelet-csr-approver-deploy-kubelet-csr-approver", "kubeadm-flannel-ds-kube-flannel-ds")).toBe(true);
    expect(rs.find((r) => r.name === "kubeadm-metrics-server-deploy-metrics-server")?.customTimeouts?.create).toBeUndefined();
  });
});
