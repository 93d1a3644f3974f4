// Version tables: every fact that depends on the Kubernetes minor lives here, with its source
// (../shared/FACTS.md section in brackets). Pure data + pure functions; tests call them directly.

/** Kubernetes minors this program supports (1.28 .. 1.35). */
export const SUPPORTED_MINORS: readonly number[] = [28, 29, 30, 31, 32, 33, 34, 35];

export interface ParsedVersion {
  /** "1.30" */
  readonly minorVersion: string;
  /** 30 */
  readonly minor: number;
  /** 12 for "1.30.12"; undefined when only the minor was configured. */
  readonly patch?: number;
  /** "1.30.12", or "1.30" when only the minor was configured. */
  readonly raw: string;
}

/** Parses "1.30", "1.30.12", "v1.30.12". Returns undefined when malformed (caller reports the key). */
export function parseKubernetesVersion(input: string): ParsedVersion | undefined {
  const m = /^v?1\.(\d{1,2})(?:\.(\d{1,3}))?$/.exec(input.trim());
  if (!m) return undefined;
  const minor = Number(m[1]);
  const patch = m[2] === undefined ? undefined : Number(m[2]);
  const minorVersion = `1.${minor}`;
  return { minor, patch, minorVersion, raw: patch === undefined ? minorVersion : `${minorVersion}.${patch}` };
}

export function isSupportedMinor(minor: number): boolean {
  return SUPPORTED_MINORS.includes(minor);
}

/**
 * The pause image tag kubeadm of this minor expects [FACTS §1.4]. containerd's sandbox image must
 * match it, otherwise kubeadm warns and, behind a mirror, pods hang pulling registry.k8s.io/pause.
 */
export function pauseTag(minor: number): string {
  if (minor <= 30) return "3.9";
  if (minor <= 33) return "3.10";
  return "3.10.1"; // 1.34 [S: kubespray #12827]; 1.35 keeps 3.10.1 (3.10.2 arrives with 1.36)
}

/** kubeadm config API: v1beta4 from 1.31, v1beta3 below [FACTS §2.1]. */
export function kubeadmApiVersion(minor: number): "kubeadm.k8s.io/v1beta3" | "kubeadm.k8s.io/v1beta4" {
  return minor >= 31 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3";
}

/** kubeadm >= 1.32 no longer depends on cri-tools; install it explicitly then [FACTS §1.1]. */
export function needsExplicitCriTools(minor: number): boolean {
  return minor >= 32;
}

/**
 * apt version pattern for kubelet/kubeadm/kubectl. pkgs.k8s.io strings look like "1.30.12-1.1"
 * [FACTS §1.1]: a bare "1.30.12" does not match, so pin "1.30.12-*"; a minor-only config takes the
 * newest patch of that minor ("1.30.*").
 */
export function aptVersionPattern(v: ParsedVersion): string {
  return v.patch === undefined ? `${v.minorVersion}.*` : `${v.minorVersion}.${v.patch}-*`;
}

/** metrics-server release that supports the minor [FACTS §4.1]. */
export function metricsServerVersion(minor: number): string {
  if (minor <= 30) return "v0.7.2";
  if (minor <= 33) return "v0.8.1";
  return "v0.8.1"; // 0.8.x supports 1.31+ incl. 1.34/1.35; 0.9.0 is newer but 0.8.1 is the tested manifest
}

/**
 * postfinance/kubelet-csr-approver release: the gh-pages Helm index lists chart 1.2.15 / appVersion
 * v1.2.15 (2026-09-02) as the newest; image on ghcr.io (also docker.io/postfinance).
 */
export const CSR_APPROVER_VERSION = "v1.2.15";
export const CSR_APPROVER_IMAGE = `ghcr.io/postfinance/kubelet-csr-approver:${CSR_APPROVER_VERSION}`;

/** Flannel release and its CNI plugin image tag [reference/README.md: v0.28.9]. */
export const FLANNEL_VERSION = "v0.28.9";
export const FLANNEL_CNI_PLUGIN_VERSION = "v1.9.1-flannel3";

// ---------------------------------------------------------------------------------------------
// Host executables kubeadm's preflight looks for, and the Ubuntu 22.04 packages that provide them.
//
// kubeadm `cmd/kubeadm/app/preflight/checks_linux.go` `addExecChecks`: one `InPathCheck` per
// executable; a missing `mandatory` one is an ERROR ("<exe> not found in system path", check name
// `FileExisting-<exe>`), any other a WARNING (checks.go `InPathCheck.Check`). Sources and confidence
// per row: /work/notes/node-facts.md §1 (stored copies of checks_linux.go, kubernetes/kubernetes
// PRs #124685/#125212 crictl, #127151 + backports #127413-#127416 socat/ebtables (Sept 2024),
// #126953 conntrack gate, #129131 ip/iptables/ethtool/tc, #129317 touch, #129450 nsenter->losetup,
// #130045 cp). Where a row is not certain it lists the binary anyway: installing a binary kubeadm no
// longer checks costs a package, missing one it checks fails `kubeadm init`.

export interface PreflightExecutables {
  /** Missing = `[ERROR FileExisting-<exe>]`: kubeadm init/join stops. */
  readonly errors: readonly string[];
  /** Missing = `[WARNING FileExisting-<exe>]`. */
  readonly warnings: readonly string[];
  /** Where the row comes from (node-facts.md §1). */
  readonly source: string;
}

const PREFLIGHT_128_TO_130: PreflightExecutables = {
  errors: ["crictl", "conntrack", "ip", "iptables", "mount", "nsenter"],
  // ebtables and socat: warnings until the Sept-2024 backports of #127151 (#127414/#127415/#127416);
  // earlier patches of these minors still warn, so they stay in the row.
  warnings: ["ebtables", "ethtool", "socat", "tc", "touch"],
  source: "checks_linux.go addExecChecks (<=1.30 shape, stored copy ashierj/superdemo@86435b28); #127151 backports",
};

/**
 * kubeadm preflight executable checks per supported minor (Linux, containerd). 1.32+: conntrack is
 * checked only by `kubeadm init` with a kubernetesVersion below 1.32.0 (#126953's version gate; join
 * passes an empty version and never checks it), which this program never does (init uses the same
 * version as kubeadm); it is still installed on every node (nodeHostPackages).
 */
export const KUBEADM_PREFLIGHT_EXECUTABLES: Readonly<Record<number, PreflightExecutables>> = {
  28: PREFLIGHT_128_TO_130,
  29: PREFLIGHT_128_TO_130,
  30: PREFLIGHT_128_TO_130,
  31: {
    errors: ["conntrack", "ip", "iptables", "mount", "nsenter"],
    // crictl became a warning with the CRI client library (#124685, #125212); ebtables/socat only in
    // 1.31.0-1.31.1 (#127413).
    warnings: ["crictl", "ebtables", "ethtool", "socat", "tc", "touch"],
    source: "PRs #124685/#125212 (crictl), #127151/#127413 (socat, ebtables); no 1.31 copy read (UNVERIFIED)",
  },
  32: {
    errors: ["ip", "iptables", "mount", "nsenter"],
    warnings: ["ethtool", "tc", "touch"],
    source: "checks_linux.go @039c72e8 (1.32 dev) + website implementation-details.md @0637786b",
  },
  33: {
    errors: ["losetup", "mount", "cp"],
    warnings: [],
    source: "PRs #129131, #129317, #129450, #130045; alauda/kubernetes@0960183f copy",
  },
  34: { errors: ["losetup", "mount", "cp"], warnings: [], source: "assumed as 1.33 (no 1.34 copy read: UNVERIFIED)" },
  35: { errors: ["losetup", "mount", "cp"], warnings: [], source: "assumed as 1.33 (no 1.35 copy read: UNVERIFIED)" },
};

export function kubeadmPreflightExecutables(minor: number): PreflightExecutables {
  const row = KUBEADM_PREFLIGHT_EXECUTABLES[minor];
  if (!row) throw new Error(`internal: no kubeadm preflight facts for 1.${minor}`);
  return row;
}

/**
 * The Ubuntu 22.04 package that provides each executable (the same names in Debian 12, where the
 * sandbox checks them with `dpkg -S`). crictl comes from the Kubernetes repository's cri-tools, which
 * the kube packages step installs (kubeadm < 1.32 depends on it; explicitly from 1.32). ebtables: the
 * `iptables` package provides `ebtables` (ebtables-nft through update-alternatives, as it does
 * iptables-nft); the `ebtables` package is the legacy variant, installed only if no `ebtables` is on
 * PATH, so the host's netfilter backend never changes.
 */
export const PREFLIGHT_BINARY_PACKAGE: Readonly<Record<string, string>> = {
  crictl: "cri-tools",
  conntrack: "conntrack",
  ip: "iproute2",
  tc: "iproute2",
  iptables: "iptables",
  ip6tables: "iptables",
  mount: "mount",
  losetup: "mount",
  nsenter: "util-linux",
  ebtables: "ebtables",
  ethtool: "ethtool",
  socat: "socat",
  touch: "coreutils",
  cp: "coreutils",
};

/** Packages that only the Kubernetes repository has: installed by prep's kube packages step. */
const KUBE_REPO_PACKAGES = new Set(["cri-tools"]);

/**
 * Executables every node gets whatever its minor, with why:
 * - conntrack, ip, ethtool: the kubelet .deb depended on conntrack, iproute2 and ethtool until
 *   kubernetes/release #4106 (2025-09) removed them, also from new patch builds of 1.31-1.33; kubeadm
 *   1.31.14 then fails `[ERROR FileExisting-conntrack]` (kubernetes/kubernetes #135306, #135311).
 * - iptables, ip6tables: the kubelet package only Recommends iptables (kubelet.spec @02ab6db0) and
 *   prep installs with --no-install-recommends; reset.sh flushes rules with iptables/ip6tables.
 * - mount, nsenter: the kubelet .deb Depends on mount and util-linux (kubelet.spec @02ab6db0).
 */
export const NODE_BASE_EXECUTABLES: readonly string[] = ["conntrack", "ip", "ethtool", "iptables", "ip6tables", "mount", "nsenter"];

export interface HostPackage {
  /** Ubuntu package name. */
  readonly name: string;
  /** Executables it provides that the node needs; prep installs the package when one is missing. */
  readonly binaries: readonly string[];
}

/**
 * The host packages prep makes sure of on a node of this minor: every executable kubeadm's preflight
 * names (errors and warnings) plus NODE_BASE_EXECUTABLES, grouped by package, sorted. Excludes
 * cri-tools (Kubernetes repository; see PREFLIGHT_BINARY_PACKAGE).
 */
export function nodeHostPackages(minor: number): HostPackage[] {
  const pre = kubeadmPreflightExecutables(minor);
  const byPkg = new Map<string, Set<string>>();
  for (const bin of [...NODE_BASE_EXECUTABLES, ...pre.errors, ...pre.warnings]) {
    const pkg = PREFLIGHT_BINARY_PACKAGE[bin];
    if (!pkg) throw new Error(`internal: no package known for the executable ${bin}`);
    if (KUBE_REPO_PACKAGES.has(pkg)) continue;
    if (!byPkg.has(pkg)) byPkg.set(pkg, new Set());
    byPkg.get(pkg)!.add(bin);
  }
  return [...byPkg.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, bins]) => ({ name, binaries: [...bins].sort() }));
}

/**
 * The Kubernetes-repository packages a node of this minor ends up with: kubelet, kubeadm, kubectl
 * (installed by name), kubernetes-cni (kubelet Depends, metadata.yaml @158b7350) and cri-tools
 * (kubeadm Depends below 1.32, installed explicitly from 1.32: needsExplicitCriTools).
 */
export function nodeKubePackages(minor: number): string[] {
  void minor; // cri-tools arrives either way; the minor decides only how (needsExplicitCriTools)
  return ["cri-tools", "kubeadm", "kubectl", "kubelet", "kubernetes-cni"];
}
