// The shipped stack files, the key table and the docs: the stack files must be accepted and yield the
// seed labs (and agree with the typed fixtures other tests use), every key they use must be a known
// key, the reader must read exactly the keys in CONFIG_KEYS, and docs/configuration.md must list them.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import {
  CONFIG_KEYS, ConfigError, ENCRYPTED_PLACEHOLDER, buildClusterSpec, buildClusterSpecTraced, pulumiConfigMapFromStackFile, rawConfigFromStackFile,
  stackFileSecretKeys,
} from "../components/config";
import { ClusterSpec } from "../components/spec";
import { TEST_PRIVATE_KEY, aliyunSpec, devSpec } from "./fixtures";
import { RENDER_ADMIN_CIDR, substitutePlaceholders } from "../tools/render-lib/placeholders";

const ROOT = path.join(__dirname, "..");
const DEV = path.join(ROOT, "Pulumi.dev.yaml");
const ALIYUN = path.join(ROOT, "Pulumi.aliyun.yaml");
const HA = path.join(ROOT, "Pulumi.ha.yaml");

/** Everything but the SSH keys (the fixtures carry test keys; the stack files must not carry any). */
function withoutKeys(s: ClusterSpec): unknown {
  const { ssh, ...rest } = s;
  const { privateKey: _p, publicKey: _k, ...sshRest } = ssh;
  return JSON.parse(JSON.stringify({ ...rest, ssh: sshRest }));
}

describe("Pulumi.dev.yaml", () => {
  const spec = buildClusterSpec(rawConfigFromStackFile(DEV));

  test("reproduces the seed VirtualBox lab", () => {
    expect(spec.provider).toBe("virtualbox");
    expect(spec.nodes).toEqual([
      { name: "k8s-control", role: "control-plane", ip: "192.168.56.10" },
      { name: "k8s-worker", role: "worker", ip: "192.168.56.20" },
    ]);
    expect(spec.kubernetes.version.raw).toBe("1.30.12"); // `kubectl get nodes` in the seed: v1.30.12
    expect(spec.kubernetes.podSubnet).toBe("10.244.0.0/16"); // seed: kubeadm init --pod-network-cidr=10.244.0.0/16
    expect(spec.kubernetes.nic).toBe("enp0s8");
    expect(spec.virtualbox?.imagePath).toMatch(/ubuntu-22\.04.*\.ova$/);
    expect(spec.ssh.privateKey).toBeUndefined(); // no secret in the file: the program generates a key pair
  });

  test("equals the devSpec() fixture apart from the fixture's test SSH keys", () => {
    expect(withoutKeys(spec)).toEqual(withoutKeys(devSpec()));
  });
});

describe("Pulumi.aliyun.yaml", () => {
  /** The stack file as the render reads it: its CHANGE-ME placeholders replaced by stand-ins. */
  const rendered = (): Record<string, unknown> => {
    const raw = rawConfigFromStackFile(ALIYUN) as Record<string, unknown>;
    const asStrings = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    const sub = substitutePlaceholders(asStrings).config;
    return Object.fromEntries(Object.entries(sub).map(([k, v]) => [k, k in raw && typeof raw[k] !== "string" ? JSON.parse(v) : v]));
  };
  const spec = buildClusterSpec(rendered());

  test("as committed, `pulumi up` refuses it until the user sets their address and image namespace (and nothing else)", () => {
    let err: ConfigError | undefined;
    try {
      buildClusterSpec(rawConfigFromStackFile(ALIYUN));
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.problems.map((p) => p.split(" = ")[0])).toEqual([
      "kubeadm-cluster:aliyun.adminCidr",
      "kubeadm-cluster:kubeletCsrApprover.image",
      "kubeadm-cluster:demo.fileserverImage",
      "kubeadm-cluster:demo.downloaderImage",
    ]);
    for (const p of err?.problems ?? []) expect(p).toMatch(/placeholder; replace CHANGE-ME/);
  });

  test("reproduces the seed Aliyun runbook", () => {
    expect(spec.provider).toBe("aliyun");
    expect(spec.nodes.map((n) => `${n.name}/${n.role}`)).toEqual(["k8s-master/control-plane", "k8s-worker/worker"]);
    expect(spec.kubernetes.version.raw).toBe("1.28.9"); // seed: kubeadm init --kubernetes-version=v1.28.9
    expect(spec.mirrors.profile).toBe("china");
    // seed: --image-repository=registry.aliyuncs.com/google_containers, apt from mirrors.aliyun.com kubernetes-new
    expect(spec.mirrors.imageRepository).toBe("registry.aliyuncs.com/google_containers");
    expect(spec.mirrors.aptBase).toBe("https://mirrors.aliyun.com/kubernetes-new/core/stable/");
    expect(spec.aliyun?.region).toBe("cn-hangzhou");
    expect(spec.aliyun?.adminCidr).toBe(RENDER_ADMIN_CIDR); // the render's stand-in for CHANGE-ME/32
    expect(spec.ssh.privateKey).toBeUndefined();
  });

  test("equals the aliyunSpec() fixture except for quay.io, which the fixture's mirror map lacks", () => {
    const fixture = aliyunSpec();
    const expected = {
      ...fixture,
      mirrors: { ...fixture.mirrors, registryMirrors: { ...fixture.mirrors.registryMirrors, "quay.io": ["https://quay.m.daocloud.io"] } },
    };
    expect(withoutKeys(spec)).toEqual(withoutKeys(expected));
  });
});

/** Key paths used in a stack file's project config, in CONFIG_KEYS notation (list items as `[]`). */
function keyPaths(v: unknown, prefix: string, out: Set<string>): void {
  if (prefix) out.add(prefix);
  // registryMirrors is a free-form map (registry host -> URLs), not a set of keys.
  if (prefix === "mirrors.registryMirrors") return;
  if (Array.isArray(v)) {
    for (const item of v) keyPaths(item, `${prefix}[]`, out);
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) keyPaths(x, prefix.endsWith("[]") ? `${prefix}.${k}` : prefix ? `${prefix}.${k}` : k, out);
  }
}

describe("Pulumi.ha.yaml", () => {
  const spec = buildClusterSpec(rawConfigFromStackFile(HA));

  test("three control planes (the first runs init) and two workers behind 192.168.56.50:8443, held by keepalived/haproxy", () => {
    expect(spec.nodes.map((n) => `${n.name}/${n.role}/${n.ip}`)).toEqual([
      "k8s-cp-1/control-plane/192.168.56.11",
      "k8s-cp-2/control-plane/192.168.56.12",
      "k8s-cp-3/control-plane/192.168.56.13",
      "k8s-worker-1/worker/192.168.56.21",
      "k8s-worker-2/worker/192.168.56.22",
    ]);
    expect(spec.kubernetes.controlPlaneEndpoint).toEqual({ address: "192.168.56.50", port: 8443, holder: "keepalived-haproxy", vrrpRouterId: 50 });
  });

  test("is the dev lab apart from the nodes, the endpoint and the control-plane memory", () => {
    const dev = buildClusterSpec(rawConfigFromStackFile(DEV));
    const strip = (x: ClusterSpec) => {
      const o = withoutKeys(x) as Record<string, Record<string, unknown>>;
      delete o.nodes;
      delete o.kubernetes.controlPlaneEndpoint;
      delete (o.virtualbox.controlPlane as Record<string, unknown>).memoryMb;
      return o;
    };
    expect(strip(spec)).toEqual(strip(dev));
  });
});

describe("key table, stack files and docs agree", () => {
  const table = new Set(CONFIG_KEYS.map((k) => k.key));

  test("every key in the stack files is a known key, and the files use only this project's namespace", () => {
    for (const file of [DEV, ALIYUN, HA]) {
      const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
      for (const full of Object.keys(doc.config)) expect(full).toMatch(/^kubeadm-cluster:/);
      const used = new Set<string>();
      keyPaths(rawConfigFromStackFile(file), "", used);
      const paths = Array.from(used).filter((p) => !p.endsWith("[]")); // "nodes[]" is the list itself
      expect(paths.filter((p) => !table.has(p))).toEqual([]);
    }
  });

  test("the reader reads exactly the keys of CONFIG_KEYS (no undocumented key, no dead row)", () => {
    const trace = new Set<string>();
    const raws = [DEV, ALIYUN].map(rawConfigFromStackFile);
    raws.push({ provider: "existing", sshPrivateKey: TEST_PRIVATE_KEY, nodes: [{ name: "a", role: "control-plane", ip: "10.1.0.1" }], kubernetes: { version: "1.30" } });
    for (const raw of raws) {
      try {
        buildClusterSpecTraced(raw, {}, trace);
      } catch {
        // the trace is what matters here
      }
    }
    expect(Array.from(trace).sort()).toEqual(Array.from(table).sort());
  });

  test.each(["docs/configuration.md", "README.md"])("%s has a row (key, default, meaning) or a section for every key", (file) => {
    const docs = fs.readFileSync(path.join(ROOT, file), "utf8");
    const missing = CONFIG_KEYS.filter((e) => {
      if (e.default === "") return !docs.includes(`### \`${e.key}\``);
      return !docs.includes(`| \`${e.key}\` | ${e.default} | ${e.meaning.replace(/\|/g, "\\|")} |`);
    }).map((e) => e.key);
    expect(missing).toEqual([]);
  });
});

describe("stack file readers for the offline renderer", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("pulumiConfigMapFromStackFile gives full keys with strings as-is and objects JSON-encoded", () => {
    const map = pulumiConfigMapFromStackFile(DEV);
    expect(map["kubeadm-cluster:provider"]).toBe("virtualbox");
    const raw = rawConfigFromStackFile(DEV);
    for (const k of ["nodes", "kubernetes", "virtualbox", "mirrors"]) expect(JSON.parse(map[`kubeadm-cluster:${k}`])).toEqual(raw[k]);
    expect(Object.values(map).every((v) => typeof v === "string")).toBe(true);
  });

  test("secure values become a placeholder and are listed as secret keys; other namespaces are kept in the map only", () => {
    const file = path.join(dir, "Pulumi.x.yaml");
    fs.writeFileSync(file, [
      "encryptionsalt: v1:abc",
      "config:",
      "  alicloud:region: cn-beijing",
      "  kubeadm-cluster:provider: existing",
      "  kubeadm-cluster:sshPrivateKey:",
      "    secure: v1:AAAAencrypted",
      "",
    ].join("\n"));
    const map = pulumiConfigMapFromStackFile(file);
    expect(map["kubeadm-cluster:sshPrivateKey"]).toBe(ENCRYPTED_PLACEHOLDER);
    expect(map["alicloud:region"]).toBe("cn-beijing");
    expect(stackFileSecretKeys(file)).toEqual(["kubeadm-cluster:sshPrivateKey"]);
    expect(rawConfigFromStackFile(file)).toEqual({ provider: "existing", sshPrivateKey: { secure: "v1:AAAAencrypted" } });
  });

  test("an existing-hosts stack file with an encrypted key builds offline (placeholder secret key)", async () => {
    const file = path.join(dir, "Pulumi.lab.yaml");
    fs.writeFileSync(file, [
      "config:",
      "  kubeadm-cluster:provider: existing",
      "  kubeadm-cluster:sshPrivateKey:",
      "    secure: v1:AAAAencrypted",
      "  kubeadm-cluster:nodes:",
      "    - {name: cp, role: control-plane, ip: 10.10.0.10}",
      "    - {name: w1, role: worker, ip: 10.10.0.11}",
      "  kubeadm-cluster:kubernetes: {version: \"1.32\"}",
      "",
    ].join("\n"));
    const spec = buildClusterSpec(rawConfigFromStackFile(file));
    expect(spec.ssh.privateKey).toBeDefined();
  });

  test("a file that is not a stack file is refused", () => {
    const file = path.join(dir, "Pulumi.bad.yaml");
    fs.writeFileSync(file, "- just\n- a list\n");
    expect(() => rawConfigFromStackFile(file)).toThrow(/not a Pulumi stack file/);
  });
});
