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
