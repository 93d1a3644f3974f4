// A highly available control plane under mocks (issue 17), with the real program and the example stack
// Pulumi.ha.yaml (3 control planes + 2 workers on VirtualBox), and the same topology on existing hosts:
// who runs what in which order, where the certificate key travels, and what the endpoint is in the
// kubeadm configs and the kubeconfig. Single-control-plane stacks get none of it.
import * as crypto from "crypto";
import * as yaml from "js-yaml";
import { RecordedResource, dependsTransitively } from "./harness";
import { stackConfig } from "./program-helpers";
import { unwrapCommand } from "../tools/render-lib/scripts";

/** The script a command runs (remoteBash unwrapped), so header lines read as written. */
const script = (v: unknown): string => unwrapCommand(String(v)).script;
/** Only the generated header of a composed script (the values this node gets). */
const header = (v: unknown): string => {
  const s = script(v);
  return s.slice(0, s.indexOf("# --- end of generated header"));
};

type Obj = Record<string, unknown>;

async function program(stack: string, config: Record<string, string>): Promise<{ rs: RecordedResource[]; outputs: Obj }> {
  let out: { rs: RecordedResource[]; outputs: Obj } = { rs: [], outputs: {} };
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh module registry per program run
    const h = require("./program-helpers") as typeof import("./program-helpers");
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- same registry as the program
    const { valueOf } = require("./harness") as typeof import("./harness");
    const r = await h.runProgram(stack, { config });
    const outputs: Obj = {};
    for (const [k, v] of Object.entries(r.outputs)) outputs[k] = await valueOf(v as never);
    out = { rs: r.resources.filter((x) => x.custom), outputs };
  });
  return out;
}

const one = (rs: RecordedResource[], name: string): RecordedResource => {
  const f = rs.filter((r) => r.name === name);
  if (f.length !== 1) throw new Error(`expected one ${name}; have ${rs.map((r) => r.name).join(", ")}`);
  return f[0];
};
const host = (r: RecordedResource) => (r.inputs.connection as Obj).host;
const docs = (text: unknown): Obj[] => yaml.loadAll(String(text)) as Obj[];
const CPS = ["k8s-cp-1", "k8s-cp-2", "k8s-cp-3"];
const WORKERS = ["k8s-worker-1", "k8s-worker-2"];
const n = (node: string, step: string) => `kubeadm-${node}-${step}`;

describe("Pulumi.ha.yaml: 3 control planes + 2 workers on VirtualBox", () => {
  let rs: RecordedResource[];
  let outputs: Obj;
  let key: string;
  beforeAll(async () => {
    ({ rs, outputs } = await program("ha", stackConfig("ha")));
    const k = one(rs, "kubeadm-certificate-key");
    // RandomBytes: secret outputs in the state, and an id that is not the key.
    key = k.type === "random:index/randomBytes:RandomBytes" && k.inputs.length === 32 && k.additionalSecretOutputs.includes("hex") ? "" : `unexpected ${k.type} ${JSON.stringify(k.additionalSecretOutputs)}`;
  });

  test("one certificate key, 32 random bytes; every control plane runs keepalived + haproxy, no worker does", () => {
    expect(key).toBe("");
    expect(rs.filter((r) => r.name.endsWith("-vip")).map((r) => r.name).sort()).toEqual(CPS.map((c) => n(c, "vip")));
    for (const c of CPS) expect(dependsTransitively(rs, n(c, "vip"), n(c, "prep"))).toBe(true);
  });

  test("the first control plane runs kubeadm init --upload-certs with the endpoint and the key from stdin (secret), after its vip", () => {
    const init = one(rs, n("k8s-cp-1", "init"));
    expect(script(init.inputs.create)).toContain("UPLOAD_CERTS='true'");
    expect(dependsTransitively(rs, init.name, n("k8s-cp-1", "vip"))).toBe(true);
    const [initCfg, clusterCfg] = docs(init.inputs.stdin);
    expect(initCfg.certificateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(clusterCfg.controlPlaneEndpoint).toBe("192.168.56.50:8443");
    expect((clusterCfg.apiServer as Obj).certSANs).toEqual(expect.arrayContaining(["192.168.56.50"]));
    expect(init.secretInputs).toContain("stdin");
    // The key is on stdin only: no command text, no other input carries it.
    const k = String(initCfg.certificateKey);
    for (const r of rs) {
      for (const [input, v] of Object.entries(r.inputs)) {
        if (input === "stdin") continue;
        expect({ r: r.name, input, leaks: JSON.stringify(v ?? "").includes(k) }).toEqual({ r: r.name, input, leaks: false });
      }
    }
  });

  test("further control planes join one after another: upload-certs on cp-1, then token, then join --control-plane on the node", () => {
    for (const c of ["k8s-cp-2", "k8s-cp-3"]) {
      const upload = one(rs, n(c, "upload-certs"));
      expect(host(upload)).toBe("192.168.56.11");
      expect(upload.secretInputs).toContain("stdin");
      expect(docs(upload.inputs.stdin)[0].certificateKey).toMatch(/^[0-9a-f]{64}$/);
      const join = one(rs, n(c, "join"));
      expect(dependsTransitively(rs, join.name, upload.name)).toBe(true);
      expect(dependsTransitively(rs, join.name, n(c, "vip"))).toBe(true);
      const cfg = docs(join.inputs.stdin)[0];
      expect((cfg.discovery as { bootstrapToken: Obj }).bootstrapToken.apiServerEndpoint).toBe("192.168.56.50:8443");
      expect(cfg.controlPlane).toEqual({ localAPIEndpoint: { advertiseAddress: (join.inputs.connection as Obj).host, bindPort: 6443 }, certificateKey: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(script(join.inputs.create)).toContain("CONTROL_PLANE='true'");
    }
    // etcd adds one learner at a time: cp-3's upload (and so its join) waits for cp-2's join.
    expect(dependsTransitively(rs, n("k8s-cp-3", "upload-certs"), n("k8s-cp-2", "join"))).toBe(true);
    expect(dependsTransitively(rs, n("k8s-cp-2", "join"), n("k8s-cp-3", "join"))).toBe(false);
  });

  test("workers join through the endpoint, in parallel with the control-plane joins (they wait only for init)", () => {
    for (const w of WORKERS) {
      const join = one(rs, n(w, "join"));
      const cfg = docs(join.inputs.stdin)[0];
      expect((cfg.discovery as { bootstrapToken: Obj }).bootstrapToken.apiServerEndpoint).toBe("192.168.56.50:8443");
      expect(cfg.controlPlane).toBeUndefined();
      expect(header(join.inputs.create)).not.toMatch(/^CONTROL_PLANE=/m);
      expect(dependsTransitively(rs, join.name, n("k8s-cp-2", "join"))).toBe(false);
      expect(dependsTransitively(rs, join.name, n("k8s-cp-1", "init"))).toBe(true);
    }
  });

  test("the kubeconfig and apiEndpoint name the endpoint; the provider waits for every control plane and worker", () => {
    expect(outputs.apiEndpoint).toBe("https://192.168.56.50:8443");
    expect(String(outputs.kubeconfig)).toMatch(/server: https:\/\/192\.168\.56\.50:8443$/m);
    const provider = rs.find((r) => r.type === "pulumi:providers:kubernetes") as RecordedResource;
    for (const c of ["k8s-cp-2", "k8s-cp-3"]) expect(dependsTransitively(rs, provider.name, n(c, "join"))).toBe(true);
  });

  test("removal: a further control plane is drained on cp-1 (which removes its etcd member first), then reset on the node", () => {
    const drain = one(rs, n("k8s-cp-3", "drain"));
    const job = JSON.parse(String(drain.inputs.stdin)) as Obj;
    expect(job.host).toBe("192.168.56.11");
    // The drain on cp-1 also removes cp-3's etcd member: kubeadm reset on cp-3 cannot once its Node is gone.
    expect(String(job.script)).toMatch(/^ETCD_MEMBER_IP='192\.168\.56\.13'$/m);
    const workerJob = JSON.parse(String(one(rs, n("k8s-worker-1", "drain")).inputs.stdin)) as Obj;
    const workerHeader = String(workerJob.script).slice(0, String(workerJob.script).indexOf("# --- end of generated header"));
    expect(workerHeader).not.toMatch(/^ETCD_MEMBER_IP=/m);
    expect(dependsTransitively(rs, drain.name, n("k8s-cp-3", "reset"))).toBe(true);
  });

  test("an upgrade goes cp-1 (apply), then cp-2, cp-3 (upgrade node) one after another, then the workers", () => {
    const chain = [
      n("k8s-cp-1", "upgrade"),
      ...["k8s-cp-2", "k8s-cp-3", "k8s-worker-1", "k8s-worker-2"].flatMap((x) => [n(x, "upgrade-drain"), n(x, "upgrade"), n(x, "upgrade-uncordon")]),
    ];
    for (let i = 1; i < chain.length; i++) expect({ step: chain[i], after: dependsTransitively(rs, chain[i], chain[i - 1]) }).toEqual({ step: chain[i], after: true });
  });

  test("the token and the certificate upload run again whenever the join's script changes (a re-run join may reset and join again: both must be fresh)", () => {
    for (const node of ["k8s-cp-2", "k8s-cp-3", "k8s-worker-1"]) {
      const joinScriptText = script(one(rs, n(node, "join")).inputs.create);
      const tag = ` # before join ${crypto.createHash("sha256").update(joinScriptText).digest("hex").slice(0, 12)}`;
      expect(String(one(rs, n(node, "token")).inputs.create).endsWith(tag)).toBe(true);
      if (node.startsWith("k8s-cp")) expect(String(one(rs, n(node, "upload-certs")).inputs.create).endsWith(tag)).toBe(true);
    }
  });

  test("the version check knows the endpoint and the three control planes", () => {
    const check = one(rs, n("k8s-cp-1", "version-check"));
    for (const cmd of [check.inputs.create, check.inputs.update]) {
      expect(script(cmd)).toContain("ENDPOINT='192.168.56.50:8443'");
      expect(script(cmd)).toContain("CONTROL_PLANES='k8s-cp-1 k8s-cp-2 k8s-cp-3'");
    }
    expect(script(check.inputs.create)).toMatch(/^FIRST_RUN='true'$/m);
    expect(header(check.inputs.update)).not.toMatch(/^FIRST_RUN=/m);
  });
});

/** Existing hosts: three control planes and a worker (any stack name: the config here is complete). */
const EXISTING_HA = {
  provider: "existing",
  sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n",
  nodes: JSON.stringify([
    { name: "cp1", role: "control-plane", ip: "10.20.0.11" },
    { name: "cp2", role: "control-plane", ip: "10.20.0.12" },
    { name: "cp3", role: "control-plane", ip: "10.20.0.13" },
    { name: "w1", role: "worker", ip: "10.20.0.21" },
  ]),
};

describe("existing hosts with three control planes", () => {
  let rs: RecordedResource[];
  beforeAll(async () => {
    ({ rs } = await program("dev", { ...EXISTING_HA, kubernetes: JSON.stringify({ version: "1.31.6", controlPlaneEndpoint: "10.20.0.100" }) }));
  });

  test("keepalived/haproxy on each control plane, undo-prep after reset, the endpoint in every join", () => {
    expect(rs.filter((r) => r.name.endsWith("-vip")).map((r) => r.name).sort()).toEqual(["kubeadm-cp1-vip", "kubeadm-cp2-vip", "kubeadm-cp3-vip"]);
    for (const x of ["cp2", "cp3", "w1"]) {
      const cfg = docs(one(rs, `kubeadm-${x}-join`).inputs.stdin)[0];
      expect((cfg.discovery as { bootstrapToken: Obj }).bootstrapToken.apiServerEndpoint).toBe("10.20.0.100:8443");
      expect(dependsTransitively(rs, `kubeadm-${x}-reset`, `kubeadm-${x}-undo-prep`)).toBe(true);
    }
    // 1.31: the kubeadm config API is v1beta4 for the control-plane join too.
    expect(docs(one(rs, "kubeadm-cp2-join").inputs.stdin)[0].apiVersion).toBe("kubeadm.k8s.io/v1beta4");
  });
});

describe("kubernetes.certificateRenewal with three control planes", () => {
  let rs: RecordedResource[];
  const base = EXISTING_HA;
  beforeAll(async () => {
    ({ rs } = await program("dev", { ...base, kubernetes: JSON.stringify({ version: "1.31.6", controlPlaneEndpoint: "10.20.0.100", certificateRenewal: "2027-06" }) }));
  });

  test("every control plane renews its own certificates (kubeadm certs renew all renews only the node it runs on), on its own connection", () => {
    const renews = rs.filter((r) => r.name.endsWith("-renew-certs"));
    expect(renews.map((r) => [r.name, host(r)]).sort()).toEqual([
      ["kubeadm-cp1-renew-certs", "10.20.0.11"],
      ["kubeadm-cp2-renew-certs", "10.20.0.12"],
      ["kubeadm-cp3-renew-certs", "10.20.0.13"],
    ]);
    // The first: created when the label is set, replaced when it changes (its create renews).
    const first = one(rs, "kubeadm-cp1-renew-certs");
    expect(script(first.inputs.create)).toContain("kubeadm certs renew all");
    expect(first.inputs.triggers).toEqual(expect.arrayContaining(["2027-06"]));
    // The others: the label in the update's text (a new label updates them). Created, they renew only
    // certificates older than a day (a control plane that just joined has new certificates; a renewal
    // then would restart its etcd member during the next join).
    for (const m of ["kubeadm-cp2-renew-certs", "kubeadm-cp3-renew-certs"]) {
      const r = one(rs, m);
      expect(header(r.inputs.create)).toMatch(/^FRESH_HOURS='24'$/m);
      expect(header(r.inputs.update)).not.toMatch(/^FRESH_HOURS=/m);
      expect(script(r.inputs.update)).toContain("kubeadm certs renew all");
      expect(String(r.inputs.update)).toMatch(/# certificate renewal: 2027-06$/);
      expect(r.inputs.triggers).not.toEqual(expect.arrayContaining(["2027-06"]));
    }
  });

  test("one etcd member restarting at a time: cp1 renews, then cp2 (after its join and upgrade), then cp3; each waits for its own API server, not the endpoint", () => {
    expect(dependsTransitively(rs, "kubeadm-cp2-renew-certs", "kubeadm-cp1-renew-certs")).toBe(true);
    expect(dependsTransitively(rs, "kubeadm-cp3-renew-certs", "kubeadm-cp2-renew-certs")).toBe(true);
    expect(dependsTransitively(rs, "kubeadm-cp2-renew-certs", "kubeadm-cp2-join")).toBe(true);
    expect(dependsTransitively(rs, "kubeadm-cp2-renew-certs", "kubeadm-cp2-upgrade-uncordon")).toBe(true);
    expect(header(one(rs, "kubeadm-cp1-renew-certs").inputs.create)).toMatch(/^API_SERVER='https:\/\/10\.20\.0\.11:6443'$/m);
    expect(header(one(rs, "kubeadm-cp3-renew-certs").inputs.update)).toMatch(/^API_SERVER='https:\/\/10\.20\.0\.13:6443'$/m);
  });

  test("a renewal never overlaps another etcd restart: the next control plane's upgrade and the workers' upgrades wait for it; joins do not (creating a renewal step runs nothing)", () => {
    expect(dependsTransitively(rs, "kubeadm-cp3-upload-certs", "kubeadm-cp2-renew-certs")).toBe(false);
    expect(dependsTransitively(rs, "kubeadm-cp2-upgrade-drain", "kubeadm-cp1-renew-certs")).toBe(true);
    expect(dependsTransitively(rs, "kubeadm-cp3-upgrade-drain", "kubeadm-cp2-renew-certs")).toBe(true);
    expect(dependsTransitively(rs, "kubeadm-w1-upgrade-drain", "kubeadm-cp3-renew-certs")).toBe(true);
    const provider = rs.find((r) => r.type === "pulumi:providers:kubernetes");
    expect(provider && dependsTransitively(rs, provider.name, "kubeadm-cp3-renew-certs")).toBe(true);
  });

  test("without the key: no renewal on the first control plane; the others' steps exist and their update is a no-op, so removing the label renews nothing", async () => {
    expect(rs.some((r) => r.name === "kubeadm-w1-renew-certs")).toBe(false);
    const { rs: none } = await program("dev", { ...base, kubernetes: JSON.stringify({ version: "1.31.6", controlPlaneEndpoint: "10.20.0.100" }) });
    expect(none.filter((r) => r.name.endsWith("-renew-certs")).map((r) => [r.name, r.inputs.create, r.inputs.update])).toEqual([
      ["kubeadm-cp2-renew-certs", undefined, "true # certificate renewal: none"],
      ["kubeadm-cp3-renew-certs", undefined, "true # certificate renewal: none"],
    ]);
  });
});

test("one control plane (Pulumi.dev.yaml): no certificate key, no vip, no upload, init without --upload-certs, the node's own endpoint", async () => {
  const { rs } = await program("dev", stackConfig("dev"));
  expect(rs.filter((r) => /-(vip|upload-certs|certificate-key)$/.test(r.name))).toEqual([]);
  const init = one(rs, "kubeadm-k8s-control-init");
  expect(header(init.inputs.create)).not.toMatch(/^UPLOAD_CERTS=/m);
  const [initCfg, clusterCfg] = docs(init.inputs.stdin);
  expect(initCfg.certificateKey).toBeUndefined();
  expect(clusterCfg.controlPlaneEndpoint).toBe("192.168.56.10:6443");
});

describe("Aliyun with three control planes: the API load balancer is the endpoint", () => {
  let rs: RecordedResource[];
  let outputs: Obj;
  beforeAll(async () => {
    const base = stackConfig("aliyun");
    const nodes = [
      { name: "m1", role: "control-plane", ip: "172.16.1.10" },
      { name: "m2", role: "control-plane", ip: "172.16.1.11" },
      { name: "m3", role: "control-plane", ip: "172.16.1.12" },
      { name: "w1", role: "worker", ip: "172.16.1.20" },
    ];
    // HA needs 1.29+ (the aliyun stack pins the runbook's 1.28.9).
    const kubernetes = { ...(JSON.parse(base.kubernetes) as Obj), version: "1.30.12" };
    ({ rs, outputs } = await program("aliyun", { ...base, nodes: JSON.stringify(nodes), kubernetes: JSON.stringify(kubernetes) }));
  });

  test("no keepalived on Aliyun; an NLB with one attachment per control plane; init waits for its listener", () => {
    expect(rs.filter((r) => r.name.endsWith("-vip"))).toEqual([]);
    const attachments = rs.filter((r) => r.type === "alicloud:nlb/serverGroupServerAttachment:ServerGroupServerAttachment");
    expect(attachments).toHaveLength(3);
    const listener = rs.find((r) => r.type === "alicloud:nlb/listener:Listener") as RecordedResource;
    expect(dependsTransitively(rs, "kubeadm-m1-init", listener.name)).toBe(true);
  });

  test("the endpoint is the load balancer's private address (default .250 of the vSwitch), port 6443, in every join and in the certificate", () => {
    const [, clusterCfg] = docs(one(rs, "kubeadm-m1-init").inputs.stdin);
    expect(clusterCfg.controlPlaneEndpoint).toBe("172.16.1.250:6443");
    expect((clusterCfg.apiServer as Obj).certSANs).toEqual(expect.arrayContaining(["172.16.1.250"]));
    for (const x of ["m2", "m3", "w1"]) {
      const cfg = docs(one(rs, `kubeadm-${x}-join`).inputs.stdin)[0];
      expect((cfg.discovery as { bootstrapToken: Obj }).bootstrapToken.apiServerEndpoint).toBe("172.16.1.250:6443");
    }
  });

  test("the kubeconfig names the load balancer's public address, which the certificate carries too", () => {
    const server = /server: https:\/\/([^:]+):6443$/m.exec(String(outputs.kubeconfig))?.[1];
    // The primary EIP of the load balancer, not the first control plane's own public IP (198.51.100.7).
    expect(server).toBe("198.51.100.50");
    const [, clusterCfg] = docs(one(rs, "kubeadm-m1-init").inputs.stdin);
    expect((clusterCfg.apiServer as Obj).certSANs).toEqual(expect.arrayContaining([server]));
    expect(outputs.apiEndpoint).toBe(`https://${server}:6443`);
  });
});
