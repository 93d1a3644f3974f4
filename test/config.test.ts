// buildClusterSpec: defaults, and one test per kind of bad input. Every bad-input test checks that the
// message names the full key and the bad value, and (mostly) that it is the ONLY problem reported, so a
// single mistake does not bury the user under follow-up noise.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, RawConfig, buildClusterSpec, checkOpenSshPublicKey, privateKeyProblem } from "../components/config";
import { TEST_PRIVATE_KEY, TEST_PUBLIC_KEY } from "./fixtures";

type Obj = Record<string, unknown>;

function vbRaw(): Obj {
  return {
    provider: "virtualbox",
    nodes: [
      { name: "k8s-control", role: "control-plane", ip: "192.168.56.10" },
      { name: "k8s-worker", role: "worker", ip: "192.168.56.20" },
    ],
    kubernetes: { version: "1.30" },
    virtualbox: { imagePath: "/images/ubuntu-22.04-server-cloudimg-amd64.ova" },
  };
}

function aliyunRaw(): Obj {
  return {
    provider: "aliyun",
    nodes: [
      { name: "k8s-master", role: "control-plane", ip: "172.16.1.10" },
      { name: "k8s-worker", role: "worker", ip: "172.16.1.20" },
    ],
    kubernetes: { version: "1.28" },
    aliyun: { adminCidr: "1.2.3.4/32" },
  };
}

function existingRaw(): Obj {
  return {
    provider: "existing",
    sshPrivateKey: TEST_PRIVATE_KEY,
    nodes: [
      { name: "cp", role: "control-plane", ip: "10.10.0.10" },
      { name: "w1", role: "worker", ip: "10.10.0.11" },
    ],
    kubernetes: { version: "1.32" },
  };
}

/** Deep copy of `raw` with the value at a dotted path replaced (undefined deletes it). */
function withKey(raw: Obj, path: string, value: unknown): Obj {
  const out = JSON.parse(JSON.stringify(raw)) as Obj;
  const parts = path.split(".");
  let o = out;
  for (const p of parts.slice(0, -1)) {
    if (typeof o[p] !== "object" || o[p] === null) o[p] = {};
    o = o[p] as Obj;
  }
  const last = parts[parts.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
  return out;
}

function problemsOf(raw: RawConfig, opts = {}): string[] {
  try {
    buildClusterSpec(raw, opts);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

/** Asserts one problem contains every fragment; returns it. */
function expectProblem(raw: RawConfig, ...fragments: string[]): string {
  const ps = problemsOf(raw);
  const hit = ps.find((p) => fragments.every((f) => p.includes(f)));
  if (!hit) throw new Error(`no problem containing ${JSON.stringify(fragments)}; got:\n${ps.join("\n") || "(none)"}`);
  return hit;
}

/** Like expectProblem, and it must be the only problem. */
function expectOnlyProblem(raw: RawConfig, ...fragments: string[]): string {
  const hit = expectProblem(raw, ...fragments);
  expect(problemsOf(raw)).toEqual([hit]);
  return hit;
}

describe("valid configs and defaults", () => {
  test("virtualbox: the documented defaults fill everything not set", () => {
    const s = buildClusterSpec(vbRaw());
    expect(s.provider).toBe("virtualbox");
    expect(s.clusterName).toBe("kubeadm");
    expect(s.ssh).toEqual({ user: "ubuntu", port: 22, connectTimeoutSeconds: 600 }); // no key: the program generates one
    expect(s.kubernetes).toEqual({
      version: { minor: 30, minorVersion: "1.30", raw: "1.30", patch: undefined },
      podSubnet: "10.244.0.0/16",
      serviceSubnet: "10.96.0.0/12",
      dnsDomain: "cluster.local",
      nic: "enp0s8",
      tokenTtl: "24h",
      upgradeBatchSize: 1,
    });
    expect(s.mirrors).toEqual({ profile: "default", aptBase: "https://pkgs.k8s.io/core:/stable:/", imageRepository: "registry.k8s.io", registryMirrors: {} });
    expect(s.flannel).toEqual({ enabled: true, image: "ghcr.io/flannel-io/flannel:v0.28.9", cniPluginImage: "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3", backend: "vxlan" });
    // metrics-server 0.7.x is the line for Kubernetes <= 1.30 [FACTS §4.1]
    expect(s.metricsServer).toEqual({ enabled: true, version: "v0.7.2", image: "registry.k8s.io/metrics-server/metrics-server:v0.7.2", kubeletInsecureTls: false });
    // the course's demo (seed 002 Q4/Q7/Q9/Q12/Q13)
    expect(s.demo).toEqual({
      enabled: true, namespace: "default",
      fileserverImage: "docker.io/7143192/fileserver:latest", downloaderImage: "docker.io/7143192/downloader:latest",
      fileserverPort: 8080, downloaderPort: 3000, hostPath: "/home/data", cpuRequest: "200m", cpuLimit: "500m",
      hpa: { minReplicas: 3, maxReplicas: 6, cpuUtilization: 40, scaleDownPercent: 10, scaleDownPeriodSeconds: 60 },
      loadImage: "docker.io/library/busybox:1.36",
    });
    expect(s.virtualbox).toEqual({
      vboxManage: "VBoxManage", hostOnlyAdapter: "vboxnet0", hostOnlyCidr: "192.168.56.0/24",
      imagePath: "/images/ubuntu-22.04-server-cloudimg-amd64.ova",
      controlPlane: { cpus: 2, memoryMb: 4096, diskGb: 20 }, worker: { cpus: 2, memoryMb: 2048, diskGb: 20 },
      bootTimeoutSeconds: 600,
    });
    expect(s.aliyun).toBeUndefined();
  });

  test("aliyun: root login, eth0, and the documented ECS defaults", () => {
    const s = buildClusterSpec(aliyunRaw());
    expect(s.ssh.user).toBe("root");
    expect(s.kubernetes.nic).toBe("eth0");
    expect(s.virtualbox).toBeUndefined();
    expect(s.aliyun).toEqual({
      region: "cn-hangzhou", instanceType: "ecs.c7.large", imageNameRegex: "^ubuntu_22_04_x64_20G_alibase_",
      vpcCidr: "172.16.0.0/16", vswitchCidr: "172.16.1.0/24", adminCidr: "1.2.3.4/32",
      systemDiskCategory: "cloud_essd", systemDiskSizeGb: 40, internetMaxBandwidthOut: 10,
      internetChargeType: "PayByTraffic", instanceChargeType: "PostPaid", spotStrategy: "NoSpot",
    });
  });

  test("existing: no default NIC (the default-route NIC is used), per-host SSH fields kept", () => {
    const raw = withKey(existingRaw(), "nodes", [
      { name: "cp", role: "control-plane", ip: "10.10.0.10", sshHost: "cp.example.org", sshPort: 2222, publicIp: "203.0.113.10" },
      { name: "w1", role: "worker", ip: "10.10.0.11" },
    ]);
    const s = buildClusterSpec(raw);
    expect(s.kubernetes.nic).toBeUndefined();
    expect(s.ssh.user).toBe("ubuntu");
    expect(s.nodes[0]).toEqual({ name: "cp", role: "control-plane", ip: "10.10.0.10", sshHost: "cp.example.org", sshPort: 2222, publicIp: "203.0.113.10" });
    // 1.31+ moves to metrics-server 0.8 [FACTS §4.1]
    expect(s.metricsServer.version).toBe("v0.8.1");
  });

  test("the control plane comes first, workers keep their config order", () => {
    const raw = withKey(vbRaw(), "nodes", [
      { name: "w-b", role: "worker", ip: "192.168.56.30" },
      { name: "cp", role: "control-plane", ip: "192.168.56.10" },
      { name: "w-a", role: "worker", ip: "192.168.56.20" },
    ]);
    expect(buildClusterSpec(raw).nodes.map((n) => n.name)).toEqual(["cp", "w-b", "w-a"]);
  });

  test("nodeCount generates <prefix>-control at firstIp and <prefix>-worker-i at firstIp + step*i", () => {
    const raw = withKey(withKey(vbRaw(), "nodes", undefined), "nodeCount", { workers: 2 });
    expect(buildClusterSpec(raw).nodes).toEqual([
      { name: "k8s-control", role: "control-plane", ip: "192.168.56.10" },
      { name: "k8s-worker-1", role: "worker", ip: "192.168.56.20" },
      { name: "k8s-worker-2", role: "worker", ip: "192.168.56.30" },
    ]);
    const custom = withKey(raw, "nodeCount", { workers: 1, firstIp: "192.168.56.110", ipStep: 1, namePrefix: "lab" });
    expect(buildClusterSpec(custom).nodes.map((n) => `${n.name}@${n.ip}`)).toEqual(["lab-control@192.168.56.110", "lab-worker-1@192.168.56.111"]);
  });

  test("nodeCount on aliyun starts inside the vSwitch", () => {
    const raw = withKey(withKey(aliyunRaw(), "nodes", undefined), "nodeCount", { workers: 1 });
    expect(buildClusterSpec(raw).nodes.map((n) => n.ip)).toEqual(["172.16.1.10", "172.16.1.20"]);
  });

  test("a minor-only version has no patch; an exact one keeps it", () => {
    expect(buildClusterSpec(vbRaw()).kubernetes.version.patch).toBeUndefined();
    expect(buildClusterSpec(withKey(vbRaw(), "kubernetes.version", "1.30.12")).kubernetes.version).toMatchObject({ minor: 30, patch: 12, raw: "1.30.12" });
  });

  /** What a China user sets: copies of the images DaoCloud does not mirror, in their own ACR namespace. */
  const ACR = "registry.cn-hangzhou.aliyuncs.com/my-ns";
  const chinaImages = (raw: Obj): Obj =>
    withKey(withKey(withKey(raw, "demo.fileserverImage", `${ACR}/fileserver:latest`), "demo.downloaderImage", `${ACR}/downloader:latest`), "kubeletCsrApprover.image", `${ACR}/kubelet-csr-approver:v1.2.15`);

  test("china profile: Aliyun apt and registry, DaoCloud mirrors, add-on images on the mirror hosts (flannel from Docker Hub's copy)", () => {
    const s = buildClusterSpec(chinaImages(withKey(vbRaw(), "mirrors", { profile: "china" })));
    expect(s.mirrors.aptBase).toBe("https://mirrors.aliyun.com/kubernetes-new/core/stable/");
    expect(s.mirrors.imageRepository).toBe("registry.aliyuncs.com/google_containers");
    expect(s.mirrors.registryMirrors).toEqual({
      "docker.io": ["https://docker.m.daocloud.io"],
      "ghcr.io": ["https://ghcr.m.daocloud.io"],
      "registry.k8s.io": ["https://k8s.m.daocloud.io"],
      "quay.io": ["https://quay.m.daocloud.io"],
    });
    // ghcr.io/flannel-io is not on DaoCloud's allow list; docker.io/flannel/* is.
    expect(s.flannel.image).toBe("docker.m.daocloud.io/flannel/flannel:v0.28.9");
    expect(s.flannel.cniPluginImage).toBe("docker.m.daocloud.io/flannel/flannel-cni-plugin:v1.9.1-flannel3");
    expect(s.metricsServer.image).toBe("k8s.m.daocloud.io/metrics-server/metrics-server:v0.7.2");
    expect(s.demo.fileserverImage).toBe(`${ACR}/fileserver:latest`);
    expect(s.demo.loadImage).toBe("docker.io/library/busybox:1.36");
  });

  test("china profile: images its mirrors cannot serve are refused before anything is created, naming the key and the fix", () => {
    const raw = withKey(vbRaw(), "mirrors", { profile: "china" });
    const problems = problemsOf(raw);
    expect(problems).toEqual([
      expect.stringMatching(/^kubeadm-cluster:kubeletCsrApprover\.image = "ghcr\.io\/postfinance\/kubelet-csr-approver:v1\.2\.15": cannot be pulled with mirrors\.profile "china": .*not on DaoCloud's mirror allow list.*your own Aliyun Container Registry namespace/),
      expect.stringMatching(/^kubeadm-cluster:demo\.fileserverImage = "docker\.io\/7143192\/fileserver:latest": cannot be pulled/),
      expect.stringMatching(/^kubeadm-cluster:demo\.downloaderImage = "docker\.io\/7143192\/downloader:latest": cannot be pulled/),
    ]);
    // Disabled add-ons are not pulled, so they are not checked.
    expect(problemsOf(withKey(withKey(raw, "demo.enabled", false), "kubeletCsrApprover.enabled", false))).toEqual([]);
    // An image from a registry the user mirrors themselves is trusted (busybox via mirror.example.cn here).
    expect(problemsOf(withKey(chinaImages(raw), "mirrors.registryMirrors", { "docker.io": ["https://mirror.example.cn"] }))).toEqual([]);
  });

  test("explicit mirror keys override the profile; registryMirrors replaces the profile's map", () => {
    const s = buildClusterSpec(chinaImages(withKey(vbRaw(), "mirrors", {
      profile: "china",
      aptBase: "file:///srv/apt/",
      imageRepository: "registry.example.com:5000/k8s",
      dnsImageRepository: "registry.example.com:5000/k8s/coredns",
      registryMirrors: { "docker.io": ["https://mirror.example.com", "https://docker.m.daocloud.io"] },
    })));
    expect(s.mirrors).toEqual({
      profile: "china",
      aptBase: "file:///srv/apt/",
      imageRepository: "registry.example.com:5000/k8s",
      dnsImageRepository: "registry.example.com:5000/k8s/coredns",
      registryMirrors: { "docker.io": ["https://mirror.example.com", "https://docker.m.daocloud.io"] },
    });
  });

  test("an explicit metrics-server version flows into the default image; explicit images are kept as given", () => {
    const s = buildClusterSpec(withKey(withKey(vbRaw(), "metricsServer", { version: "v0.8.0" }), "flannel.image", "docker.io/flannel/flannel:v0.28.9"));
    expect(s.metricsServer.image).toBe("registry.k8s.io/metrics-server/metrics-server:v0.8.0");
    expect(s.flannel.image).toBe("docker.io/flannel/flannel:v0.28.9");
  });

  test("a virtualbox range outside 192.168.56.0/21 is accepted after opting in", () => {
    const raw = withKey(withKey(vbRaw(), "virtualbox.hostOnlyCidr", "10.20.0.0/24"), "virtualbox.allowOutsideDefaultRange", true);
    const ok = withKey(raw, "nodes", [
      { name: "cp", role: "control-plane", ip: "10.20.0.10" },
      { name: "w", role: "worker", ip: "10.20.0.20" },
    ]);
    expect(buildClusterSpec(ok).virtualbox?.hostOnlyCidr).toBe("10.20.0.0/24");
  });

  test("adminCidr 0.0.0.0/0 is accepted only with allowAdminFromAnywhere", () => {
    const raw = withKey(withKey(aliyunRaw(), "aliyun.adminCidr", "0.0.0.0/0"), "aliyun.allowAdminFromAnywhere", true);
    expect(buildClusterSpec(raw).aliyun?.adminCidr).toBe("0.0.0.0/0");
  });

  test("the spec is deeply frozen; the private key stays a secret Output", async () => {
    const key = pulumi.secret(TEST_PRIVATE_KEY);
    const s = buildClusterSpec(withKey(vbRaw(), "ssh.publicKey", TEST_PUBLIC_KEY), { privateKey: key });
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.nodes)).toBe(true);
    expect(Object.isFrozen(s.nodes[0])).toBe(true);
    expect(Object.isFrozen(s.demo.hpa)).toBe(true);
    expect(() => {
      (s.kubernetes as { podSubnet: string }).podSubnet = "1.2.3.0/24";
    }).toThrow();
    expect(s.ssh.privateKey).toBe(key);
    expect(await pulumi.isSecret(s.ssh.privateKey as pulumi.Output<string>)).toBe(true);
    expect(s.ssh.publicKey).toBe(TEST_PUBLIC_KEY);
  });
});

describe("problems: provider and nodes", () => {
  test("missing provider", () => {
    expectOnlyProblem(withKey(vbRaw(), "provider", undefined), "kubeadm-cluster:provider", "required", "virtualbox");
  });

  test("unknown provider", () => {
    expectProblem(withKey(vbRaw(), "provider", "vmware"), 'kubeadm-cluster:provider = "vmware"', '"virtualbox", "aliyun", "existing"');
  });

  test("no control plane", () => {
    const raw = withKey(vbRaw(), "nodes", [{ name: "a", role: "worker", ip: "192.168.56.10" }, { name: "b", role: "worker", ip: "192.168.56.20" }]);
    expectOnlyProblem(raw, "kubeadm-cluster:nodes", 'no node has role "control-plane"');
  });

  test("two (or four) control planes are refused: etcd needs an odd count; the message says why and what to use", () => {
    const cps = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `cp${i + 1}`, role: "control-plane", ip: `192.168.56.${11 + i}` }));
    const two = withKey(withKey(vbRaw(), "nodes", [...cps(2), { name: "w", role: "worker", ip: "192.168.56.20" }]), "kubernetes.controlPlaneEndpoint", "192.168.56.50");
    const p = expectOnlyProblem(two, "kubeadm-cluster:nodes", "cp1, cp2", "majority");
    expect(p).toMatch(/use 1 or 3/);
    const four = withKey(withKey(vbRaw(), "nodes", cps(4)), "kubernetes.controlPlaneEndpoint", "192.168.56.50");
    expect(expectOnlyProblem(four, "kubeadm-cluster:nodes")).toMatch(/use 3 or 5/);
    expect(expectOnlyProblem(withKey(withKey(vbRaw(), "nodes", cps(9)), "kubernetes.controlPlaneEndpoint", "192.168.56.50"), "kubeadm-cluster:nodes")).toMatch(/at most 7/);
  });

  test("three control planes on VirtualBox: the endpoint is required, inside the host-only network, and no node's IP", () => {
    const three = withKey(vbRaw(), "nodes", [
      { name: "cp1", role: "control-plane", ip: "192.168.56.11" },
      { name: "cp2", role: "control-plane", ip: "192.168.56.12" },
      { name: "cp3", role: "control-plane", ip: "192.168.56.13" },
      { name: "w1", role: "worker", ip: "192.168.56.21" },
    ]);
    expect(expectOnlyProblem(three, "kubeadm-cluster:kubernetes.controlPlaneEndpoint", "required with 3 control-plane nodes")).toMatch(/e\.g\. "192\.168\.56\.\d+"/);
    const at = (ip: string) => withKey(three, "kubernetes.controlPlaneEndpoint", ip);
    expectOnlyProblem(at("192.168.56.12"), "kubeadm-cluster:kubernetes.controlPlaneEndpoint", "IP of node cp2");
    expectOnlyProblem(at("10.0.0.5"), "kubeadm-cluster:kubernetes.controlPlaneEndpoint", "outside virtualbox.hostOnlyCidr");
    expectOnlyProblem(at("192.168.56.300"), "kubeadm-cluster:kubernetes.controlPlaneEndpoint", "not an IPv4 address");
    const spec = buildClusterSpec(at("192.168.56.50"));
    expect(spec.kubernetes.controlPlaneEndpoint).toEqual({ address: "192.168.56.50", port: 8443, holder: "keepalived-haproxy", vrrpRouterId: 50 });
    expect(spec.nodes.map((n) => n.name)).toEqual(["cp1", "cp2", "cp3", "w1"]);
  });

  test("Aliyun HA: the load balancer's private address defaults inside the vSwitch; a configured one is checked", () => {
    const three = withKey(withKey(aliyunRaw(), "kubernetes.version", "1.30.12"), "nodes", [
      { name: "m1", role: "control-plane", ip: "172.16.1.10" },
      { name: "m2", role: "control-plane", ip: "172.16.1.11" },
      { name: "m3", role: "control-plane", ip: "172.16.1.12" },
      { name: "w1", role: "worker", ip: "172.16.1.20" },
    ]);
    expect(buildClusterSpec(three).kubernetes.controlPlaneEndpoint).toEqual({ address: "172.16.1.250", port: 6443, holder: "aliyun-nlb", lbVswitchCidr: "172.16.255.0/24" });
    // The load balancer's second zone needs a vSwitch of its own, inside the VPC and apart from the nodes'.
    expect(buildClusterSpec(withKey(three, "aliyun.lbVswitchCidr", "172.16.200.0/24")).kubernetes.controlPlaneEndpoint).toMatchObject({ lbVswitchCidr: "172.16.200.0/24" });
    expectOnlyProblem(withKey(three, "aliyun.lbVswitchCidr", "172.16.1.128/25"), "kubeadm-cluster:aliyun.lbVswitchCidr", "overlaps aliyun.vswitchCidr");
    expectOnlyProblem(withKey(three, "aliyun.lbVswitchCidr", "10.9.0.0/24"), "kubeadm-cluster:aliyun.lbVswitchCidr", "not inside aliyun.vpcCidr");
    expect(buildClusterSpec(withKey(three, "kubernetes.controlPlaneEndpoint", "172.16.1.200")).kubernetes.controlPlaneEndpoint?.address).toBe("172.16.1.200");
    expectOnlyProblem(withKey(three, "kubernetes.controlPlaneEndpoint", "172.16.9.9"), "kubeadm-cluster:kubernetes.controlPlaneEndpoint", "outside aliyun.vswitchCidr");
    expectOnlyProblem(withKey(three, "kubernetes.controlPlaneEndpoint", "172.16.1.254"), "kubeadm-cluster:kubernetes.controlPlaneEndpoint", "reserved by Aliyun");
  });

  test("three control planes on 1.28 are refused: etcd learner mode (safe joins) is on by default from 1.29", () => {
    const three = withKey(withKey(vbRaw(), "kubernetes.controlPlaneEndpoint", "192.168.56.50"), "nodes", [
      { name: "cp1", role: "control-plane", ip: "192.168.56.11" },
      { name: "cp2", role: "control-plane", ip: "192.168.56.12" },
      { name: "cp3", role: "control-plane", ip: "192.168.56.13" },
    ]);
    expect(expectOnlyProblem(withKey(three, "kubernetes.version", "1.28.9"), "kubeadm-cluster:nodes", "1.29 or newer")).toMatch(/learner/);
    expect(buildClusterSpec(withKey(three, "kubernetes.version", "1.29.4")).nodes).toHaveLength(3);
  });

  test("one control plane: no endpoint unless set on purpose (then it is used, so adding control planes later needs no new certificates)", () => {
    expect(buildClusterSpec(vbRaw()).kubernetes.controlPlaneEndpoint).toBeUndefined();
    expect(buildClusterSpec(withKey(vbRaw(), "kubernetes.controlPlaneEndpoint", "192.168.56.50")).kubernetes.controlPlaneEndpoint).toEqual({
      address: "192.168.56.50",
      port: 8443,
      holder: "keepalived-haproxy",
      vrrpRouterId: 50,
    });
    expect(buildClusterSpec(existingRaw()).kubernetes.controlPlaneEndpoint).toBeUndefined();
  });

  test("duplicate node names and IPs name both entries", () => {
    const raw = withKey(vbRaw(), "nodes", [
      { name: "cp", role: "control-plane", ip: "192.168.56.10" },
      { name: "w", role: "worker", ip: "192.168.56.20" },
      { name: "w", role: "worker", ip: "192.168.56.20" },
    ]);
    expectProblem(raw, 'kubeadm-cluster:nodes[2].name = "w"', "duplicate", "nodes[1].name");
    expectProblem(raw, 'kubeadm-cluster:nodes[2].ip = "192.168.56.20"', "duplicate", "nodes[1].ip");
    expect(problemsOf(raw)).toHaveLength(2);
  });

  test.each(["K8s-Worker", "k8s_worker", "-worker", "worker-", "a".repeat(64)])("node name %p is not a valid hostname", (name) => {
    const raw = withKey(vbRaw(), "nodes.1", undefined);
    (raw.nodes as Obj[])[1] = { name, role: "worker", ip: "192.168.56.20" };
    expectOnlyProblem(raw, `kubeadm-cluster:nodes[1].name = ${JSON.stringify(name)}`, "lowercase");
  });

  test.each(["192.168.56.300", "192.168.56", "k8s-worker", "192.168.056.20"])("bad IPv4 %p", (ip) => {
    const raw = vbRaw();
    (raw.nodes as Obj[])[1] = { name: "w", role: "worker", ip };
    expectOnlyProblem(raw, `kubeadm-cluster:nodes[1].ip = ${JSON.stringify(ip)}`, "not an IPv4 address");
  });

  test("missing name / role / ip in an entry", () => {
    const raw = vbRaw();
    (raw.nodes as Obj[])[1] = {};
    const ps = problemsOf(raw);
    expect(ps).toEqual([
      expect.stringContaining("kubeadm-cluster:nodes[1].name: required"),
      expect.stringContaining("kubeadm-cluster:nodes[1].role: required"),
      expect.stringContaining("kubeadm-cluster:nodes[1].ip: required"),
    ]);
  });

  test("a node IP outside the VirtualBox host-only network", () => {
    const raw = vbRaw();
    (raw.nodes as Obj[])[1] = { name: "w", role: "worker", ip: "192.168.57.20" };
    expectOnlyProblem(raw, 'kubeadm-cluster:nodes[1].ip = "192.168.57.20"', "outside virtualbox.hostOnlyCidr", "192.168.56.0/24");
  });

  test.each([
    ["192.168.56.0", "network address"],
    ["192.168.56.255", "broadcast address"],
    ["192.168.56.1", "host's own address"],
  ])("VirtualBox node IP %p is the %s", (ip, why) => {
    const raw = vbRaw();
    (raw.nodes as Obj[])[1] = { name: "w", role: "worker", ip };
    expectOnlyProblem(raw, `kubeadm-cluster:nodes[1].ip = "${ip}"`, why);
  });

  test("a node IP outside the Aliyun vSwitch, and the addresses Aliyun reserves", () => {
    const out = aliyunRaw();
    (out.nodes as Obj[])[1] = { name: "w", role: "worker", ip: "172.16.2.20" };
    expectOnlyProblem(out, 'kubeadm-cluster:nodes[1].ip = "172.16.2.20"', "outside aliyun.vswitchCidr", "172.16.1.0/24");
    for (const ip of ["172.16.1.0", "172.16.1.253", "172.16.1.254", "172.16.1.255"]) {
      const raw = aliyunRaw();
      (raw.nodes as Obj[])[1] = { name: "w", role: "worker", ip };
      expectOnlyProblem(raw, `kubeadm-cluster:nodes[1].ip = "${ip}"`, "reserved by Aliyun");
    }
  });

  test("nodeCount that runs past the network says which generated node and how to fix it", () => {
    const raw = withKey(withKey(vbRaw(), "nodes", undefined), "nodeCount", { workers: 25, firstIp: "192.168.56.11" });
    // .11 + 10*24 = .251 fits; worker 25 would be 192.168.56.261 -> 192.168.57.5
    expectOnlyProblem(raw, "kubeadm-cluster:nodeCount (generated k8s-worker-25 ip)", '"192.168.57.5"', "outside virtualbox.hostOnlyCidr", "nodeCount");

    // 100 workers run far past it: still one problem, for the first node outside
    const many = withKey(raw, "nodeCount.workers", 100);
    expectOnlyProblem(many, "kubeadm-cluster:nodeCount (generated k8s-worker-25 ip)");
  });

  test("a generated node on .100, VirtualBox's host-only DHCP server, is refused with the fix", () => {
    // The default .10 + 10*9 = .100.
    const raw = withKey(withKey(vbRaw(), "nodes", undefined), "nodeCount", { workers: 9 });
    expectOnlyProblem(raw, "kubeadm-cluster:nodeCount (generated k8s-worker-9 ip)", '"192.168.56.100"', "DHCP server", "nodeCount.firstIp / ipStep");
    expectOnlyProblem(withKey(vbRaw(), "nodes", [{ name: "cp", role: "control-plane", ip: "192.168.56.100" }]), 'kubeadm-cluster:nodes[0].ip = "192.168.56.100"', "DHCP server");
  });

  test("nodes and nodeCount together", () => {
    expectOnlyProblem(withKey(vbRaw(), "nodeCount", { workers: 1 }), "kubeadm-cluster:nodeCount", "nodes");
  });

  test("neither nodes nor nodeCount", () => {
    expectOnlyProblem(withKey(vbRaw(), "nodes", undefined), "kubeadm-cluster:nodes", "not set", "nodeCount");
  });

  test("nodeCount on existing hosts needs firstIp", () => {
    const raw = withKey(withKey(existingRaw(), "nodes", undefined), "nodeCount", { workers: 1 });
    expectOnlyProblem(raw, "kubeadm-cluster:nodeCount.firstIp", "required", "existing");
  });

  test("sshHost / sshPort / publicIp are rejected outside provider existing", () => {
    const raw = vbRaw();
    (raw.nodes as Obj[])[1] = { name: "w", role: "worker", ip: "192.168.56.20", publicIp: "203.0.113.5" };
    expectOnlyProblem(raw, 'kubeadm-cluster:nodes[1].publicIp = "203.0.113.5"', 'only used with provider "existing"');
    const al = aliyunRaw();
    (al.nodes as Obj[])[0] = { name: "k8s-master", role: "control-plane", ip: "172.16.1.10", sshPort: 2222 };
    expectOnlyProblem(al, "kubeadm-cluster:nodes[0].sshPort = 2222", 'only used with provider "existing"');
  });

  test("a single-node cluster with the demo is accepted (init untaints the control plane)", () => {
    const raw = withKey(vbRaw(), "nodes", [{ name: "cp", role: "control-plane", ip: "192.168.56.10" }]);
    expect(problemsOf(raw)).toEqual([]);
  });
});

describe("problems: networks", () => {
  test("invalid CIDR and host bits set", () => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.podSubnet", "10.244.0.0/33"), 'kubeadm-cluster:kubernetes.podSubnet = "10.244.0.0/33"', "prefix");
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.podSubnet", "10.244.1.0/16"), 'kubeadm-cluster:kubernetes.podSubnet = "10.244.1.0/16"', '"10.244.0.0/16"');
  });

  test("pod and service subnets overlap", () => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.serviceSubnet", "10.244.128.0/20"), 'kubeadm-cluster:kubernetes.serviceSubnet = "10.244.128.0/20"', "overlaps kubernetes.podSubnet");
  });

  test("pod subnet overlaps the VirtualBox host-only network", () => {
    expectProblem(withKey(vbRaw(), "kubernetes.podSubnet", "192.168.0.0/16"), 'kubeadm-cluster:kubernetes.podSubnet = "192.168.0.0/16"', "overlaps virtualbox.hostOnlyCidr");
  });

  test("pod subnet overlaps VirtualBox's NAT network (10.0.2.0/24 on every VM)", () => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.podSubnet", "10.0.0.0/16"), 'kubeadm-cluster:kubernetes.podSubnet = "10.0.0.0/16"', "NAT", "10.0.2.0/24");
  });

  test("service subnet overlaps the Aliyun VPC", () => {
    expectOnlyProblem(withKey(aliyunRaw(), "kubernetes.serviceSubnet", "172.16.0.0/16"), 'kubeadm-cluster:kubernetes.serviceSubnet = "172.16.0.0/16"', "overlaps aliyun.vpcCidr");
  });

  test("pod subnet contains an existing host's IP", () => {
    expectOnlyProblem(withKey(existingRaw(), "kubernetes.podSubnet", "10.10.0.0/16"), 'kubeadm-cluster:kubernetes.podSubnet = "10.10.0.0/16"', "contains node IPs cp (10.10.0.10), w1 (10.10.0.11)");
  });

  test("pod subnet too small for one /24 per node; service subnet larger than /12", () => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.podSubnet", "10.244.0.0/24"), 'kubeadm-cluster:kubernetes.podSubnet = "10.244.0.0/24"', "2 nodes");
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.serviceSubnet", "10.96.0.0/11"), 'kubeadm-cluster:kubernetes.serviceSubnet = "10.96.0.0/11"', "/12");
  });

  test("vswitchCidr not inside vpcCidr", () => {
    const raw = withKey(withKey(aliyunRaw(), "aliyun.vswitchCidr", "192.168.1.0/24"), "nodes", [
      { name: "m", role: "control-plane", ip: "192.168.1.10" },
      { name: "w", role: "worker", ip: "192.168.1.20" },
    ]);
    expectOnlyProblem(raw, 'kubeadm-cluster:aliyun.vswitchCidr = "192.168.1.0/24"', "not inside aliyun.vpcCidr", "172.16.0.0/16");
  });

  test("hostOnlyCidr outside 192.168.56.0/21 explains networks.conf and the opt-in", () => {
    const raw = withKey(withKey(vbRaw(), "virtualbox.hostOnlyCidr", "10.20.0.0/24"), "nodes", [
      { name: "cp", role: "control-plane", ip: "10.20.0.10" },
      { name: "w", role: "worker", ip: "10.20.0.20" },
    ]);
    expectOnlyProblem(raw, 'kubeadm-cluster:virtualbox.hostOnlyCidr = "10.20.0.0/24"', "192.168.56.0/21", "/etc/vbox/networks.conf", "allowOutsideDefaultRange: true");
  });
});

describe("problems: kubernetes version", () => {
  test("unsupported version, in the documented format", () => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.version", "1.40"), 'kubeadm-cluster:kubernetes.version = "1.40": unsupported; supported 1.28 to 1.35, as "1.30" or "1.30.12"');
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.version", "1.27.3"), 'kubeadm-cluster:kubernetes.version = "1.27.3": unsupported');
  });

  test.each(["1.30.x", "2.0", "latest", "1"])("malformed version %p", (v) => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.version", v), `kubeadm-cluster:kubernetes.version = ${JSON.stringify(v)}: malformed`, '"1.30"');
  });

  test("unquoted YAML 1.30 (the number 1.3) gets the quoting fix", () => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.version", 1.3), "kubeadm-cluster:kubernetes.version = 1.3", "quoted", '"1.30"');
  });

  test("missing version", () => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes", undefined), "kubeadm-cluster:kubernetes.version: required");
  });
});

describe("problems: kubernetes.tokenTtl", () => {
  test.each(["24", "24 h", "1d", "-1h", "h"])("not a Go duration %p: named, with examples", (v) => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.tokenTtl", v), `kubeadm-cluster:kubernetes.tokenTtl = ${JSON.stringify(v)}`, 'not a duration; e.g. "24h", "1h30m" or "0"');
  });

  test.each(["24h", "1h30m", "1.5h", "90s", "0"])("a Go duration %p is accepted", (v) => {
    expect(buildClusterSpec(withKey(vbRaw(), "kubernetes.tokenTtl", v)).kubernetes.tokenTtl).toBe(v);
  });
});

describe("problems: SSH", () => {
  test("existing hosts need a private key", () => {
    expectOnlyProblem(withKey(existingRaw(), "sshPrivateKey", undefined), "kubeadm-cluster:sshPrivateKey", "required", "existing", "--secret");
  });

  test("a private key on virtualbox/aliyun needs ssh.publicKey", () => {
    const opts = { privateKey: pulumi.secret(TEST_PRIVATE_KEY) };
    for (const raw of [vbRaw(), aliyunRaw()]) {
      const ps = problemsOf(raw, opts);
      expect(ps).toEqual([expect.stringContaining("kubeadm-cluster:ssh.publicKey: required when sshPrivateKey is set")]);
      expect(problemsOf(withKey(raw, "ssh.publicKey", TEST_PUBLIC_KEY), opts)).toEqual([]);
    }
  });

  test("ssh.publicKey must be an OpenSSH public key line", () => {
    expectOnlyProblem(withKey(vbRaw(), "ssh.publicKey", "AAAAC3NzaC1lZDI1NTE5 me@host"), 'kubeadm-cluster:ssh.publicKey = "AAAAC3NzaC1lZDI1NTE5 me@host"', "not an OpenSSH public key");
    // key type says rsa but the data is an ed25519 key: a mangled paste
    const mangled = TEST_PUBLIC_KEY.replace("ssh-ed25519", "ssh-rsa");
    expectOnlyProblem(withKey(vbRaw(), "ssh.publicKey", mangled), "kubeadm-cluster:ssh.publicKey", "does not start with the key type");
    expect(checkOpenSshPublicKey(TEST_PRIVATE_KEY)).toContain("private key");
  });

  test("the private key text is checked without ever being echoed", () => {
    const magic = Buffer.from("openssh-key-v1\0", "latin1");
    const str = (s: string) => Buffer.concat([Buffer.from([0, 0, 0, s.length]), Buffer.from(s, "latin1")]);
    const pem = (cipher: string) => `-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.concat([magic, str(cipher), str("bcrypt"), Buffer.from("SECRETBYTES")]).toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
    expect(privateKeyProblem(pem("none"))).toBeUndefined();
    expect(privateKeyProblem(TEST_PRIVATE_KEY)).toBeUndefined();
    const enc = pem("aes256-ctr");
    const p = privateKeyProblem(enc) as string;
    expect(p).toMatch(/^kubeadm-cluster:sshPrivateKey: .*passphrase/);
    expect(p).not.toContain(enc.split("\n")[1]);
    expect(privateKeyProblem("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nabc\n-----END RSA PRIVATE KEY-----\n")).toMatch(/passphrase/);
    expect(privateKeyProblem(TEST_PUBLIC_KEY)).toMatch(/public key, not a private key/);
    expect(privateKeyProblem(TEST_PUBLIC_KEY)).not.toContain("AAAAC3");
    expect(privateKeyProblem("hunter2")).toMatch(/not a PEM or OpenSSH private key/);
    expect(privateKeyProblem("hunter2")).not.toContain("hunter2");
  });
});

describe("problems: add-ons, demo and mirrors", () => {
  test("HPA: min > max, min < 1, cpu target and scale-down percent outside 1..100", () => {
    expectOnlyProblem(withKey(vbRaw(), "demo.hpa", { minReplicas: 7, maxReplicas: 6 }), "kubeadm-cluster:demo.hpa.minReplicas = 7", "maxReplicas (6)");
    expectOnlyProblem(withKey(vbRaw(), "demo.hpa.minReplicas", 0), "kubeadm-cluster:demo.hpa.minReplicas = 0", "from 1");
    expectOnlyProblem(withKey(vbRaw(), "demo.hpa.cpuUtilization", 0), "kubeadm-cluster:demo.hpa.cpuUtilization = 0", "1 to 100");
    expectOnlyProblem(withKey(vbRaw(), "demo.hpa.cpuUtilization", 101), "kubeadm-cluster:demo.hpa.cpuUtilization = 101", "1 to 100");
    expectOnlyProblem(withKey(vbRaw(), "demo.hpa.scaleDownPercent", 0), "kubeadm-cluster:demo.hpa.scaleDownPercent = 0", "1 to 100");
    expectOnlyProblem(withKey(vbRaw(), "demo.hpa.scaleDownPercent", 150), "kubeadm-cluster:demo.hpa.scaleDownPercent = 150", "1 to 100");
  });

  test("demo: same port twice, request above limit", () => {
    expectOnlyProblem(withKey(vbRaw(), "demo.downloaderPort", 8080), "kubeadm-cluster:demo.downloaderPort = 8080", "must differ");
    expectOnlyProblem(withKey(vbRaw(), "demo.cpuRequest", "1"), 'kubeadm-cluster:demo.cpuRequest = "1"', "cpuLimit");
  });

  test("unknown mirror profile", () => {
    expectOnlyProblem(withKey(vbRaw(), "mirrors.profile", "cn"), 'kubeadm-cluster:mirrors.profile = "cn"', '"default", "china"');
  });

  test("aptBase must be an http(s)/file URL ending in /", () => {
    expectOnlyProblem(withKey(vbRaw(), "mirrors.aptBase", "https://pkgs.k8s.io/core:/stable:"), 'kubeadm-cluster:mirrors.aptBase = "https://pkgs.k8s.io/core:/stable:"', 'ending in "/"');
    expectOnlyProblem(withKey(vbRaw(), "mirrors.aptBase", "ftp://x/"), "kubeadm-cluster:mirrors.aptBase");
  });

  test("registry mirrors must be lists of URLs", () => {
    expectOnlyProblem(withKey(vbRaw(), "mirrors.registryMirrors", { "docker.io": "https://m.example" }), "kubeadm-cluster:mirrors.registryMirrors.docker.io", "list");
  });

  test("flannel off while add-ons are on", () => {
    expectOnlyProblem(withKey(vbRaw(), "flannel.enabled", false), "kubeadm-cluster:flannel.enabled", "NotReady");
  });
});

describe("problems: provider blocks", () => {
  test("virtualbox: imagePath missing", () => {
    expectOnlyProblem(withKey(vbRaw(), "virtualbox", undefined), "kubeadm-cluster:virtualbox.imagePath: required", "cloud-images.ubuntu.com");
  });

  test("virtualbox: imagePath with ~ or not an image", () => {
    expectOnlyProblem(withKey(vbRaw(), "virtualbox.imagePath", "~/u.ova"), 'kubeadm-cluster:virtualbox.imagePath = "~/u.ova"', "absolute");
    expectOnlyProblem(withKey(vbRaw(), "virtualbox.imagePath", "/x/ubuntu.iso"), 'kubeadm-cluster:virtualbox.imagePath = "/x/ubuntu.iso"', ".ova");
  });

  test("virtualbox: below kubeadm's minimum CPUs and memory", () => {
    expectOnlyProblem(withKey(vbRaw(), "virtualbox.worker", { memoryMb: 1024 }), "kubeadm-cluster:virtualbox.worker.memoryMb = 1024", "2048");
    const cp = expectOnlyProblem(withKey(vbRaw(), "virtualbox.controlPlane", { memoryMb: 2000 }), "kubeadm-cluster:virtualbox.controlPlane.memoryMb = 2000", "2048");
    expect(cp).toContain("4096 recommended");
    expectOnlyProblem(withKey(vbRaw(), "virtualbox.controlPlane", { cpus: 1 }), "kubeadm-cluster:virtualbox.controlPlane.cpus = 1", "2 CPUs");
  });

  test("aliyun: adminCidr missing, open to the world, or a bare IP", () => {
    expectOnlyProblem(withKey(aliyunRaw(), "aliyun.adminCidr", undefined), "kubeadm-cluster:aliyun.adminCidr: required");
    expectOnlyProblem(withKey(aliyunRaw(), "aliyun.adminCidr", "0.0.0.0/0"), 'kubeadm-cluster:aliyun.adminCidr = "0.0.0.0/0"', "allowAdminFromAnywhere: true");
    expectOnlyProblem(withKey(aliyunRaw(), "aliyun.adminCidr", "1.2.3.4"), 'kubeadm-cluster:aliyun.adminCidr = "1.2.3.4"', '"1.2.3.4/32"');
  });

  test("aliyun: VPC overlapping the pod network", () => {
    const raw = withKey(withKey(withKey(aliyunRaw(), "aliyun.vpcCidr", "10.0.0.0/8"), "aliyun.vswitchCidr", "10.1.0.0/24"), "nodes", [
      { name: "m", role: "control-plane", ip: "10.1.0.10" },
      { name: "w", role: "worker", ip: "10.1.0.20" },
    ]);
    const ps = problemsOf(raw);
    expect(ps).toEqual([
      expect.stringContaining('kubeadm-cluster:kubernetes.podSubnet = "10.244.0.0/16": overlaps aliyun.vpcCidr "10.0.0.0/8"'),
      expect.stringContaining('kubeadm-cluster:kubernetes.serviceSubnet = "10.96.0.0/12": overlaps aliyun.vpcCidr "10.0.0.0/8"'),
    ]);
  });

  test("a block for another provider is an error (like the per-host SSH fields)", () => {
    expectOnlyProblem(withKey(vbRaw(), "aliyun", { adminCidr: "1.2.3.4/32" }), "kubeadm-cluster:aliyun", 'only used with provider "aliyun"', '"virtualbox"');
    expectOnlyProblem(withKey(existingRaw(), "virtualbox", { imagePath: "/x.ova" }), "kubeadm-cluster:virtualbox", 'only used with provider "virtualbox"');
  });
});

describe("problems: types and unknown keys", () => {
  test("a quoted number, a quoted boolean, a string for a list, a string for a block", () => {
    expectOnlyProblem(withKey(vbRaw(), "ssh.port", "22"), 'kubeadm-cluster:ssh.port = "22"', "integer", "without quotes");
    expectOnlyProblem(withKey(vbRaw(), "demo.enabled", "true"), 'kubeadm-cluster:demo.enabled = "true"', "true or false");
    expectOnlyProblem(withKey(vbRaw(), "nodes", "k8s-control,k8s-worker"), 'kubeadm-cluster:nodes = "k8s-control,k8s-worker"', "must be a list");
    expectOnlyProblem(withKey(vbRaw(), "kubernetes", "1.30"), 'kubeadm-cluster:kubernetes = "1.30"', "must be an object");
  });

  test("a misspelled key is reported with the keys that exist there", () => {
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.podCidr", "10.244.0.0/16"), "kubeadm-cluster:kubernetes.podCidr: unknown key", "podSubnet");
    expectOnlyProblem(withKey(vbRaw(), "kubernets", { version: "1.30" }), "kubeadm-cluster:kubernets", "unknown key");
    expectOnlyProblem(withKey(vbRaw(), "demo.hpa.max", 6), "kubeadm-cluster:demo.hpa.max: unknown key", "maxReplicas");
  });

  test("key material is never echoed, even under a misspelled key or the public-key key", () => {
    const typo = problemsOf(withKey(vbRaw(), "sshPrivatekey", TEST_PRIVATE_KEY));
    expect(typo).toEqual([expect.stringContaining("kubeadm-cluster:sshPrivatekey: unknown key")]);
    const asPublic = problemsOf(withKey(vbRaw(), "ssh.publicKey", TEST_PRIVATE_KEY));
    expect(asPublic).toEqual([expect.stringContaining("kubeadm-cluster:ssh.publicKey = (a private key, not shown): this is a private key")]);
    expect([...typo, ...asPublic].join("\n")).not.toContain("TESTKEYDONOTUSE");
  });
});

describe("ConfigError", () => {
  test("all problems at once: 3 problems -> a header plus 3 lines", () => {
    let raw = withKey(vbRaw(), "kubernetes.version", "1.40");
    raw = withKey(raw, "demo.hpa.cpuUtilization", 0);
    raw = withKey(raw, "mirrors.profile", "cn");
    let err: unknown;
    try {
      buildClusterSpec(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e).toBeInstanceOf(Error);
    expect(e.problems).toHaveLength(3);
    const lines = e.message.split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/3 problems/);
    expect(lines.slice(1).map((l) => l.trim())).toEqual(e.problems.map((p) => `- ${p}`));
    expect(e.message).toContain("kubeadm-cluster:kubernetes.version");
    expect(e.message).toContain("kubeadm-cluster:demo.hpa.cpuUtilization");
    expect(e.message).toContain("kubeadm-cluster:mirrors.profile");
  });

  test("is a pulumi RunError, so `pulumi up` prints the message without a stack trace", () => {
    expect(pulumi.RunError.isInstance(new ConfigError(["x"]))).toBe(true);
  });
});

describe("problems: SSH settings new machines cannot honour", () => {
  test("ssh.port other than 22 for virtualbox/aliyun", () => {
    expectOnlyProblem(withKey(vbRaw(), "ssh.port", 2222), "kubeadm-cluster:ssh.port = 2222", 'only used with provider "existing"');
    expectOnlyProblem(withKey(aliyunRaw(), "ssh.port", 2222), "kubeadm-cluster:ssh.port = 2222", "port 22");
  });
  test("root login on the VirtualBox cloud image", () => {
    expectOnlyProblem(withKey(vbRaw(), "ssh.user", "root"), 'kubeadm-cluster:ssh.user = "root"', "refuses root logins");
  });
});

describe("day-2 and real-world keys (v0.2)", () => {
  test.each([
    ["203.0.113.0/24", "TEST-NET-3 (RFC 5737)"],
    ["198.51.100.7/32", "TEST-NET-2 (RFC 5737)"],
    ["192.0.2.1/32", "TEST-NET-1 (RFC 5737)"],
    ["127.0.0.1/32", "loopback"],
    ["169.254.10.0/24", "link-local"],
  ])("aliyun.adminCidr %s is refused: no SSH client has that address (%s)", (cidr, what) => {
    const msg = expectOnlyProblem(withKey(aliyunRaw(), "aliyun.adminCidr", cidr), `kubeadm-cluster:aliyun.adminCidr = "${cidr}"`, what);
    expect(msg).toMatch(/every connection would time out/);
  });

  test("aliyun.adminCidr: IPv6 (and its documentation range, RFC 3849) is refused with the reason", () => {
    expectOnlyProblem(withKey(aliyunRaw(), "aliyun.adminCidr", "2001:db8::/32"), "IPv6 documentation range (RFC 3849)");
    expectOnlyProblem(withKey(aliyunRaw(), "aliyun.adminCidr", "2400:3200::1/128"), "IPv6 is not supported here");
  });

  test("aliyun.adminCidr: a public range, a private (VPN) one, and 0.0.0.0/0 with its switch are accepted", () => {
    expect(buildClusterSpec(withKey(aliyunRaw(), "aliyun.adminCidr", "1.2.3.0/24")).aliyun?.adminCidr).toBe("1.2.3.0/24");
    expect(buildClusterSpec(withKey(aliyunRaw(), "aliyun.adminCidr", "10.8.0.0/16")).aliyun?.adminCidr).toBe("10.8.0.0/16");
    expect(buildClusterSpec(withKey(withKey(aliyunRaw(), "aliyun.adminCidr", "0.0.0.0/0"), "aliyun.allowAdminFromAnywhere", true)).aliyun?.adminCidr).toBe("0.0.0.0/0");
  });

  test("a CHANGE-ME placeholder from a committed stack file is refused, naming the key and how to set it", () => {
    const msg = expectOnlyProblem(withKey(aliyunRaw(), "aliyun.adminCidr", "CHANGE-ME/32"), 'kubeadm-cluster:aliyun.adminCidr = "CHANGE-ME/32"', "placeholder", "pulumi config set --path aliyun.adminCidr");
    expect(msg).not.toMatch(/not a CIDR/);
    expectOnlyProblem(withKey(vbRaw(), "demo.fileserverImage", "registry.cn-hangzhou.aliyuncs.com/CHANGE-ME/fileserver:latest"), "kubeadm-cluster:demo.fileserverImage", "placeholder");
  });

  test("nodes[].hostKey (existing): a known_hosts / ssh-keyscan line or a .pub line, kept as \"type base64\"", () => {
    const key = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAAA";
    const raw = withKey(existingRaw(), "nodes", [
      { name: "cp", role: "control-plane", ip: "10.10.0.10", hostKey: `10.10.0.10 ${key}` },
      { name: "w1", role: "worker", ip: "10.10.0.11", hostKey: `${key} root@w1` },
    ]);
    expect(buildClusterSpec(raw).nodes.map((n) => n.hostKey)).toEqual([key, key]);
    expectOnlyProblem(withKey(raw, "nodes", [{ name: "cp", role: "control-plane", ip: "10.10.0.10", hostKey: "10.10.0.10 ssh-ed25519 nonsense" }]), "kubeadm-cluster:nodes[0].hostKey", "ssh-keyscan");
    expectOnlyProblem(withKey(vbRaw(), "nodes", [{ name: "cp", role: "control-plane", ip: "192.168.56.10", hostKey: key }]), "kubeadm-cluster:nodes[0].hostKey", 'only used with provider "existing"');
  });

  test("existing: destroy undoes prep (packages removed, swap left off) unless told otherwise; the block is for provider existing only", () => {
    expect(buildClusterSpec(existingRaw()).existing).toEqual({ removeKubePackages: true, restoreSwap: false });
    expect(buildClusterSpec(withKey(existingRaw(), "existing", { removeKubePackages: false, restoreSwap: true })).existing).toEqual({ removeKubePackages: false, restoreSwap: true });
    expect(buildClusterSpec(vbRaw()).existing).toBeUndefined();
    expectOnlyProblem(withKey(vbRaw(), "existing", { restoreSwap: true }), "kubeadm-cluster:existing", 'only used with provider "existing"');
  });

  test("kubernetes.certificateRenewal is a label; kubeletCsrApprover follows metrics-server's kubelet TLS switch", () => {
    expect(buildClusterSpec(withKey(vbRaw(), "kubernetes.certificateRenewal", "2027-06")).kubernetes.certificateRenewal).toBe("2027-06");
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.certificateRenewal", "next year please"), "kubeadm-cluster:kubernetes.certificateRenewal");
    expect(buildClusterSpec(vbRaw()).kubeletCsrApprover).toEqual({ enabled: true, image: "ghcr.io/postfinance/kubelet-csr-approver:v1.2.15" });
    expect(buildClusterSpec(withKey(vbRaw(), "metricsServer.kubeletInsecureTls", true)).kubeletCsrApprover.enabled).toBe(false);
  });

  test("kubernetes.upgradeBatchSize: 1 by default, a whole number from 1; 0 or text is refused naming the key", () => {
    expect(buildClusterSpec(vbRaw()).kubernetes.upgradeBatchSize).toBe(1);
    expect(buildClusterSpec(withKey(vbRaw(), "kubernetes.upgradeBatchSize", 3)).kubernetes.upgradeBatchSize).toBe(3);
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.upgradeBatchSize", 0), "kubeadm-cluster:kubernetes.upgradeBatchSize");
    expectOnlyProblem(withKey(vbRaw(), "kubernetes.upgradeBatchSize", "two"), "kubeadm-cluster:kubernetes.upgradeBatchSize");
  });

  test("aliyun.keyPairName pins the key pair name (keeps a pre-v0.2 pair); a bad one is refused", () => {
    expect(buildClusterSpec(withKey(aliyunRaw(), "aliyun.keyPairName", "kubeadm-aliyun-ssh")).aliyun?.keyPairName).toBe("kubeadm-aliyun-ssh");
    expectOnlyProblem(withKey(aliyunRaw(), "aliyun.keyPairName", "1bad name"), "kubeadm-cluster:aliyun.keyPairName");
  });
});
