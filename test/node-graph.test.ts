// The node lifecycle graph under Pulumi mocks: NodePrep on every node, ControlPlane after its prep,
// Workers after their prep and the control plane, with token / CA hash / endpoint flowing as data;
// secrets kept out of command strings and plain outputs; the delete path; determinism and scaling.
// Each program run uses its own module registry (runMocked once per registry, PULUMI-NOTES §2.6).
import * as yaml from "js-yaml";
import { devSpec, existingSpec } from "./fixtures";
import type { RecordedResource } from "./harness";
import type { ClusterSpec, NodeSpec } from "../components/spec";
import type { Host } from "../components/machines/host";
import { COMMAND_DIAL } from "../components/node/connection";
import { localHelperInterpreter } from "../components/local-helper";

type Harness = typeof import("./harness");

interface RunOut {
  resources: RecordedResource[];
  joinToken: string;
  joinTokenSecret: boolean;
  kubeconfig: string;
  kubeconfigSecret: boolean;
  caCertHash: string;
  endpoint: string;
}

interface Options {
  /** Public address of the control plane (Aliyun-like). */
  publicAddress?: string;
  /** Machines are VMs (deletedWith); false = existing hosts. */
  machines?: boolean;
  /** Pass a gate resource as component-level dependsOn of the first worker's NodePrep and Worker. */
  gate?: boolean;
}

/** Builds Hosts by hand (host.ts shape) and the three components, as cluster.ts does. */
function run(spec: ClusterSpec, opt: Options = {}): Promise<RunOut> {
  let p: Promise<RunOut> | undefined;
  jest.isolateModules(() => {
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const command = require("@pulumi/command") as typeof import("@pulumi/command");
    const h = require("./harness") as Harness;
    const { NodePrep } = require("../components/node/node-prep") as typeof import("../components/node/node-prep");
    const { ControlPlane } = require("../components/node/control-plane") as typeof import("../components/node/control-plane");
    const { Worker } = require("../components/node/worker") as typeof import("../components/node/worker");
    p = h
      .runMocked({ config: {} }, () => {
        const hostOf = (n: NodeSpec): Host => {
          const vm = opt.machines === false ? undefined : new command.local.Command(`${n.name}-vm`, { create: "true" });
          return {
            name: n.name,
            role: n.role,
            nodeIp: n.ip,
            publicAddress: n.role === "control-plane" && opt.publicAddress ? pulumi.output(opt.publicAddress) : undefined,
            connection: {
              host: n.ip,
              port: 22,
              user: spec.ssh.user,
              privateKey: spec.ssh.privateKey ?? pulumi.secret("KEY"),
              dialErrorLimit: 60,
              perDialTimeout: 15,
            },
            machineId: vm ? vm.stdout : pulumi.output(`existing:${n.name}`),
            machine: vm,
          };
        };
        const gate = opt.gate ? new command.local.Command("gate", { create: "true" }) : undefined;
        const hosts = spec.nodes.map(hostOf);
        const nodeOf = (name: string): NodeSpec => spec.nodes.find((n) => n.name === name)!;
        const firstWorker = hosts.find((x) => x.role === "worker")?.name;
        const gated = (name: string) => (gate && name === firstWorker ? { dependsOn: [gate] } : undefined);
        const preps = new Map(hosts.map((host) => [host.name, new NodePrep(host.name, { host, node: nodeOf(host.name), clusterNodes: spec.nodes, settings: spec }, gated(host.name))]));
        const cpHost = hosts.find((x) => x.role === "control-plane") as Host;
        const cp = new ControlPlane(cpHost.name, { host: cpHost, node: nodeOf(cpHost.name), prep: preps.get(cpHost.name)!, settings: spec });
        const join = { token: cp.joinToken, caCertHash: cp.caCertHash, endpoint: cp.endpoint, controlPlane: cpHost };
        for (const w of hosts.filter((x) => x.role === "worker")) {
          new Worker(w.name, { host: w, node: nodeOf(w.name), prep: preps.get(w.name)!, join, settings: spec, upgradeAfter: [cp.upgraded] }, gated(w.name));
        }
        return cp;
      })
      .then(async ({ resources, value: cp }) => ({
        resources,
        joinToken: await h.valueOf(cp.joinToken),
        joinTokenSecret: await pulumi.isSecret(cp.joinToken),
        kubeconfig: await h.valueOf(cp.kubeconfig),
        kubeconfigSecret: await pulumi.isSecret(cp.kubeconfig),
        caCertHash: await h.valueOf(cp.caCertHash),
        endpoint: await h.valueOf(cp.endpoint),
      }));
  });
  return p as Promise<RunOut>;
}

const REMOTE = "command:remote:Command";
const LOCAL = "command:local:Command";
/** The job a cleanup (components/node/cleanup.ts) hands the runner (stdin; secret, unwrapped by the harness). */
const runnerJobOf = (r: RecordedResource): Doc => JSON.parse(String(r.inputs.stdin)) as Doc;
const remoteCommands = (rs: RecordedResource[]) => rs.filter((r) => r.type === REMOTE);
function one(rs: RecordedResource[], name: string, type = REMOTE): RecordedResource {
  const found = rs.filter((r) => r.name === name && r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${type} ${name}, found ${found.length}; have ${rs.map((r) => r.name).join(", ")}`);
  return found[0];
}
function dependsTransitively(rs: RecordedResource[], from: string, to: string): boolean {
  // Names are not unique across component types (NodePrep and ControlPlane share the node name), so
  // walk custom resources only: those are what the engine orders.
  const map = new Map(rs.filter((r) => r.custom).map((r) => [r.name, r.dependsOn]));
  const seen = new Set<string>();
  const stack = [...(map.get(from) ?? [])];
  while (stack.length) {
    const n = stack.pop() as string;
    if (n === to) return true;
    if (!seen.has(n)) {
      seen.add(n);
      stack.push(...(map.get(n) ?? []));
    }
  }
  return false;
}
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed kubeadm YAML

const twoWorkers = (): ClusterSpec => {
  const base = devSpec();
  return { ...base, nodes: [...base.nodes, { name: "k8s-worker2", role: "worker", ip: "192.168.56.21" }] };
};

describe("dev lab: control plane + two workers on VMs", () => {
  let out: RunOut;
  beforeAll(async () => {
    out = await run(twoWorkers(), { gate: true });
  });

  test("every node is prepared (hosts block, then prep) as a child of its NodePrep", () => {
    for (const n of ["k8s-control", "k8s-worker", "k8s-worker2"]) {
      const prep = one(out.resources, `${n}-prep`);
      expect(prep.parent).toBe(n);
      expect(prep.dependsOn).toContain(`${n}-hosts`);
      expect(String(prep.inputs.create)).toContain("scripts/node/prep.sh");
      expect(one(out.resources, `${n}-hosts`).parent).toBe(n);
    }
    // Preps do not wait for each other: they run in parallel.
    expect(dependsTransitively(out.resources, "k8s-worker-prep", "k8s-control-prep")).toBe(false);
    expect(dependsTransitively(out.resources, "k8s-control-prep", "k8s-worker-prep")).toBe(false);
  });

  test("init runs after the control plane's prep; CA hash and kubeconfig after init", () => {
    expect(one(out.resources, "k8s-control-init").dependsOn).toContain("k8s-control-prep");
    expect(one(out.resources, "k8s-control-ca-hash").dependsOn).toContain("k8s-control-init");
    expect(one(out.resources, "k8s-control-kubeconfig").dependsOn).toContain("k8s-control-init");
    expect(one(out.resources, "k8s-control-approve-serving-cert").dependsOn).toContain("k8s-control-init");
  });

  test("each join runs after its own prep and after init, with token and CA hash as data from ControlPlane", () => {
    for (const w of ["k8s-worker", "k8s-worker2"]) {
      const join = one(out.resources, `${w}-join`);
      expect(join.dependsOn).toEqual(expect.arrayContaining([`${w}-prep`, `${w}-token`, "k8s-control-ca-hash", "k8s-control-token-id", "k8s-control-token-secret"]));
      expect(dependsTransitively(out.resources, `${w}-join`, "k8s-control-init")).toBe(true);
      // The token is made sure of on the control plane first, once the API is up (the CA hash is read
      // after init); it does not wait for the control plane's serving-cert approval or kubeconfig.
      expect(one(out.resources, `${w}-token`).dependsOn).toContain("k8s-control-ca-hash");
      expect(dependsTransitively(out.resources, `${w}-token`, "k8s-control-kubeconfig")).toBe(false);
      // Joins do not wait for each other.
      expect(dependsTransitively(out.resources, `${w}-join`, w === "k8s-worker" ? "k8s-worker2-prep" : "k8s-worker-prep")).toBe(false);
    }
  });

  test("the JoinConfiguration on stdin carries exactly the ControlPlane's token, CA hash and endpoint", () => {
    expect(out.joinToken).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(out.caCertHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.endpoint).toBe("192.168.56.10:6443");
    const jc = (yaml.loadAll(String(one(out.resources, "k8s-worker2-join").inputs.stdin)) as Doc[])[0];
    expect(jc.discovery.bootstrapToken).toEqual({ apiServerEndpoint: out.endpoint, token: out.joinToken, caCertHashes: [out.caCertHash] });
    expect(jc.nodeRegistration.name).toBe("k8s-worker2");
    // The init config carries the same token.
    const init = yaml.loadAll(String(one(out.resources, "k8s-control-init").inputs.stdin)) as Doc[];
    expect(init.find((d) => d.kind === "InitConfiguration")?.bootstrapTokens[0].token).toBe(out.joinToken);
    // The token id comes from RandomString(6), the secret from RandomPassword(16), lowercase + digits only.
    expect(one(out.resources, "k8s-control-token-id", "random:index/randomString:RandomString").inputs).toMatchObject({ length: 6, upper: false, special: false, lower: true, numeric: true });
    expect(one(out.resources, "k8s-control-token-secret", "random:index/randomPassword:RandomPassword").inputs).toMatchObject({ length: 16, upper: false, special: false });
  });

  test("secrets: token and kubeconfig outputs are secret; the token is in no command string, only in secret stdin", () => {
    expect(out.joinTokenSecret).toBe(true);
    expect(out.kubeconfigSecret).toBe(true);
    const secret = out.joinToken.split(".")[1];
    for (const r of out.resources) {
      for (const k of ["create", "update", "delete", "triggers", "environment"]) {
        expect(JSON.stringify(r.inputs[k] ?? "")).not.toContain(secret);
      }
    }
    const carriers = out.resources.filter((r) => JSON.stringify(r.inputs.stdin ?? "").includes(secret)).map((r) => r.name).sort();
    expect(carriers).toEqual(["k8s-control-init", "k8s-worker-join", "k8s-worker-token", "k8s-worker2-join", "k8s-worker2-token"]);
    for (const name of carriers) {
      const r = one(out.resources, name);
      expect(r.secretInputs).toContain("stdin");
      expect(r.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
      expect(["stderr", "none"]).toContain(r.inputs.logging);
    }
    const kc = one(out.resources, "k8s-control-kubeconfig");
    expect(kc.inputs.logging).toBe("none");
    expect(kc.additionalSecretOutputs).toContain("stdout");
    // The SSH key never lands in a command string either.
    expect(JSON.stringify(out.resources.map((r) => [r.inputs.create, r.inputs.delete]))).not.toContain("TESTKEYDONOTUSE");
  });

  test("every remote command: typed connection, no previous output in env, and bounded", () => {
    const cmds = remoteCommands(out.resources);
    // ssh-ready+hosts+prep per node; init, ca-hash, approve, kubeconfig, upgrade; per worker token, join, approve, upgrade-drain, upgrade, upgrade-uncordon
    expect(cmds.length).toBe(3 * 3 + 5 + 2 * 6);
    for (const r of cmds) {
      expect(Object.keys(r.inputs.connection as object).sort()).toEqual(["dialErrorLimit", "host", "perDialTimeout", "port", "privateKey", "user"]);
      // Only the boot wait dials with the machine's tunables; every other command has the fixed policy.
      const dial = { dialErrorLimit: (r.inputs.connection as Doc).dialErrorLimit, perDialTimeout: (r.inputs.connection as Doc).perDialTimeout };
      expect(dial).toEqual(r.name.endsWith("-ssh-ready") ? { dialErrorLimit: 60, perDialTimeout: 15 } : COMMAND_DIAL);
      expect(r.inputs.addPreviousOutputInEnv).toBe(false);
      expect(r.inputs.environment).toBeUndefined();
      expect(r.secretInputs).toContain("connection");
      // ssh-ready runs one fixed line (SSH_READY_COMMAND); every script is wrapped and bounded.
      // The upgrade steps run only on update (nothing on create): their script is `update`.
      const script = /-upgrade(-drain|-uncordon)?$/.test(r.name) ? r.inputs.update : r.inputs.create;
      if (/-upgrade(-drain|-uncordon)?$/.test(r.name)) expect(r.inputs.create).toBeUndefined();
      if (!r.name.endsWith("-ssh-ready")) expect(String(script)).toMatch(/^sudo -n timeout --kill-after=30 \d+ bash -c /);
      const ct = r.customTimeouts ?? {};
      if (!r.name.endsWith("-ssh-ready")) expect({ name: r.name, create: ct.create, update: ct.update }).toEqual({ name: r.name, create: expect.stringMatching(/^\d+m$/), update: expect.stringMatching(/^\d+m$/) });
      // No remote command deletes anything: every cleanup goes through the runner (cleanup.ts).
      expect(r.inputs.delete).toBeUndefined();
    }
  });

  test("commands for a worker that run on the control plane use the control plane's connection", () => {
    for (const step of ["token", "approve-serving-cert"]) {
      expect((one(out.resources, `k8s-worker-${step}`).inputs.connection as Doc).host).toBe("192.168.56.10");
    }
    expect(runnerJobOf(one(out.resources, "k8s-worker-drain", LOCAL)).host).toBe("192.168.56.10");
    expect(runnerJobOf(one(out.resources, "k8s-worker-reset", LOCAL)).host).toBe("192.168.56.20");
    expect((one(out.resources, "k8s-worker-join").inputs.connection as Doc).host).toBe("192.168.56.20");
  });

  test("delete path: drain then reset through the runner, deleteBeforeReplace, deletedWith the VM, replaced with the machine or the cluster", () => {
    for (const w of ["k8s-worker", "k8s-worker2"]) {
      const join = one(out.resources, `${w}-join`);
      expect(join.inputs.delete).toBeUndefined();
      expect(join.deleteBeforeReplace).toBe(true);
      expect((join.inputs.triggers as string[])[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);

      // Reset of the worker: a local.Command whose delete runs reset.sh on the worker through ssh-run.js.
      const reset = one(out.resources, `${w}-reset`, LOCAL);
      expect(reset.inputs.create).toBeUndefined();
      expect(reset.inputs.delete).toBe("run");
      expect(reset.inputs.interpreter).toEqual(localHelperInterpreter("remote/ssh-run.js"));
      const job = runnerJobOf(reset);
      expect(job.script).toContain("scripts/node/reset.sh");
      expect(job.script).toContain("ROLE='worker'");
      expect(reset.secretInputs).toContain("stdin"); // it carries the SSH key
      expect(reset.dependsOn).toContain(`${w}-join`);
      expect(reset.deleteBeforeReplace).toBe(true);
      expect(reset.deletedWith).toBe(`${w}-vm`);

      // Drain + delete Node on the control plane: created after the reset, so it is deleted first.
      const nodeObject = one(out.resources, `${w}-drain`, LOCAL);
      expect(runnerJobOf(nodeObject).script).toContain("scripts/node/drain-node.sh");
      expect(runnerJobOf(nodeObject).script).toContain(`NODE_NAME='${w}'`);
      expect(nodeObject.dependsOn).toContain(`${w}-reset`);
      expect(nodeObject.deleteBeforeReplace).toBe(true);
      expect(nodeObject.deletedWith).toBe("k8s-control-vm");
      // Re-run when the machine is recreated, and when the control plane is rebuilt (new CA = new cluster).
      const machine = (one(out.resources, `${w}-prep`).inputs.triggers as string[])[0];
      expect(join.inputs.triggers).toEqual([machine, out.caCertHash]);
      for (const step of ["token", "approve-serving-cert"]) expect(one(out.resources, `${w}-${step}`).inputs.triggers).toEqual(join.inputs.triggers);
      expect((reset.inputs.triggers as string[]).slice(0, 2)).toEqual(join.inputs.triggers);
    }
    const init = one(out.resources, "k8s-control-init");
    expect(init.inputs.delete).toBeUndefined();
    expect(init.deleteBeforeReplace).toBe(true);
    const cpReset = one(out.resources, "k8s-control-reset", LOCAL);
    expect(runnerJobOf(cpReset).script).toContain("ROLE='control-plane'");
    expect(cpReset.deletedWith).toBe("k8s-control-vm");
    // Workers (which use the CA hash) are removed before the control plane is reset.
    expect(one(out.resources, "k8s-control-ca-hash").dependsOn).toContain("k8s-control-reset");
  });

  test("kubelet serving certificates are approved per node, on the control plane, after that node's init/join", () => {
    const a = one(out.resources, "k8s-worker2-approve-serving-cert");
    expect(a.dependsOn).toContain("k8s-worker2-join");
    expect(String(a.inputs.create)).toContain("NODE_NAME='\"'\"'k8s-worker2'\"'\"'");
    expect(String(a.inputs.create)).toContain("NODE_IP='\"'\"'192.168.56.21'\"'\"'");
  });

  test("a component-level dependsOn reaches the component's first commands", () => {
    expect(one(out.resources, "k8s-worker-ssh-ready").dependsOn).toContain("gate");
    expect(one(out.resources, "k8s-worker-hosts").dependsOn).toContain("k8s-worker-ssh-ready");
    expect(one(out.resources, "k8s-worker-token").dependsOn).toContain("gate");
    expect(one(out.resources, "k8s-worker2-ssh-ready").dependsOn).not.toContain("gate");
  });

  test("the kubeconfig output points at the node IP when there is no public address", () => {
    expect(out.kubeconfig).toContain("server: https://192.168.56.10:6443");
  });
});

test("a public address goes into certSANs and the exported kubeconfig; kubeadm keeps the node IP", async () => {
  const out = await run(devSpec(), { publicAddress: "203.0.113.50" });
  expect(out.kubeconfig).toContain("server: https://203.0.113.50:6443");
  const docs = yaml.loadAll(String(one(out.resources, "k8s-control-init").inputs.stdin)) as Doc[];
  expect(docs.find((d) => d.kind === "ClusterConfiguration")?.apiServer.certSANs).toEqual(["192.168.56.10", "k8s-control", "203.0.113.50"]);
  expect(docs.find((d) => d.kind === "InitConfiguration")?.localAPIEndpoint.advertiseAddress).toBe("192.168.56.10");
  expect(out.endpoint).toBe("192.168.56.10:6443");
});

test("existing hosts (no machine resource): no deletedWith; the runner bounds the reset's reach (a dead host is skipped)", async () => {
  const out = await run(existingSpec(1), { machines: false });
  const reset = one(out.resources, "w1-reset", LOCAL);
  expect(reset.deletedWith).toBeUndefined();
  expect(reset.deleteBeforeReplace).toBe(true);
  expect(JSON.parse(String(reset.inputs.stdin))).toMatchObject({ attempts: 3, connectTimeoutSeconds: 10, timeoutSeconds: 900, label: "reset w1" });
  expect(one(out.resources, "w1-join").inputs.triggers).toEqual(["existing:w1", out.caCertHash]);
});

test("kubeletInsecureTls: no serving-certificate approval commands", async () => {
  const base = devSpec();
  const out = await run({ ...base, metricsServer: { ...base.metricsServer, kubeletInsecureTls: true } });
  expect(out.resources.filter((r) => r.name.endsWith("-approve-serving-cert"))).toEqual([]);
  expect(one(out.resources, "k8s-control-kubeconfig").dependsOn).toContain("k8s-control-init");
});

test("running the program twice gives identical inputs for every resource", async () => {
  const strip = (rs: RecordedResource[]) => rs.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs, dependsOn: r.dependsOn })).sort((a, b) => `${a.type}${a.name}`.localeCompare(`${b.type}${b.name}`));
  const a = await run(twoWorkers());
  const b = await run(twoWorkers());
  expect(strip(b.resources)).toEqual(strip(a.resources));
});

test("adding a worker changes no existing node's prep, init or join: only /etc/hosts blocks and the new node", async () => {
  const key = (r: RecordedResource) => `${r.type}::${r.name}`;
  const before = new Map((await run(existingSpec(2))).resources.map((r) => [key(r), JSON.stringify(r.inputs)]));
  const after = (await run(existingSpec(3))).resources;
  const changed = after.filter((r) => before.has(key(r)) && before.get(key(r)) !== JSON.stringify(r.inputs)).map((r) => r.name).sort();
  expect(changed).toEqual(["cp-hosts", "w1-hosts", "w2-hosts"]);
  // (w3-vm is the stand-in machine this test builds.)
  const added = after.filter((r) => !before.has(key(r)) && r.custom && !r.name.endsWith("-vm")).map((r) => r.name).sort();
  expect(added).toEqual(["w3-approve-serving-cert", "w3-drain", "w3-hosts", "w3-join", "w3-prep", "w3-reset", "w3-ssh-ready", "w3-token", "w3-upgrade", "w3-upgrade-drain", "w3-upgrade-uncordon"]);
});
