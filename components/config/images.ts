// Which images a cluster behind the China mirrors can pull. docker.io is unreachable from mainland
// China since 2024-06 (docker/hub-feedback #2388), and DaoCloud's public mirror (docker.m.daocloud.io,
// ghcr.m.daocloud.io, k8s.m.daocloud.io, quay.m.daocloud.io) serves only allow-listed images
// (DaoCloud/public-image-mirror allows.txt, read at commit 545841ff, 2026-08): an image outside the
// list sits in ImagePullBackOff until Pulumi's timeout. So the config refuses such an image up front,
// naming the key to set (e.g. a copy in the user's own Aliyun Container Registry namespace).
import { MirrorSpec } from "../spec";

/**
 * The allow-list entries this project's images need, as allows.txt writes them. `*` matches one path
 * segment and `**` any depth (how the mirror's README describes the list; the exact matcher was not
 * read: UNVERIFIED beyond these entries). Not the whole list: an image matching none of these is
 * treated as not mirrored, which errs on the side of telling the user.
 */
export const DAOCLOUD_ALLOWED: readonly string[] = [
  "registry.k8s.io/**",
  "docker.io/library/busybox",
  "docker.io/flannel/*",
  "docker.io/flannelcni/*",
  "ghcr.io/kube-vip/**",
];

/** DaoCloud's host-replacement mirrors: mirror host -> the registry it serves (its README). */
export const DAOCLOUD_HOSTS: Readonly<Record<string, string>> = {
  "docker.m.daocloud.io": "docker.io",
  "ghcr.m.daocloud.io": "ghcr.io",
  "k8s.m.daocloud.io": "registry.k8s.io",
  "quay.m.daocloud.io": "quay.io",
};

/** Registries unreachable from mainland China except through an allow-listing mirror. */
const BLOCKED_UPSTREAMS = new Set(["docker.io", "ghcr.io", "registry.k8s.io", "quay.io", "gcr.io"]);

export interface ImageRef {
  /** Registry host, "docker.io" when the reference has none. */
  readonly registry: string;
  /** Repository path without tag or digest, e.g. "library/busybox". */
  readonly repository: string;
}

/** Splits an image reference the way container runtimes do (a first segment with "." or ":" is a host). */
export function parseImageRef(image: string): ImageRef {
  const noDigest = image.split("@")[0];
  const lastSlash = noDigest.lastIndexOf("/");
  const lastColon = noDigest.lastIndexOf(":");
  const name = lastColon > lastSlash ? noDigest.slice(0, lastColon) : noDigest;
  const first = name.split("/")[0];
  const hasHost = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hasHost ? first : "docker.io";
  let repository = hasHost ? name.slice(first.length + 1) : name;
  if (registry === "docker.io" && !repository.includes("/")) repository = `library/${repository}`;
  return { registry, repository };
}

function matches(pattern: string, path: string): boolean {
  const re = new RegExp(`^${pattern.split("/").map((seg) => (seg === "**" ? ".+" : seg === "*" ? "[^/]+" : seg.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))).join("/")}$`);
  return re.test(path);
}

/** Is `registry/repository` on the mirror's allow list (as far as DAOCLOUD_ALLOWED knows)? */
export function daocloudAllows(ref: ImageRef): boolean {
  return DAOCLOUD_ALLOWED.some((p) => matches(p, `${ref.registry}/${ref.repository}`));
}

/**
 * Why `image` cannot be pulled behind the China profile's mirrors, or undefined when it can: an
 * upstream registry reached through a configured mirror or a DaoCloud host must be on the allow list;
 * Aliyun's registries and any other registry (the user's own) are taken as reachable.
 */
export function chinaPullProblem(image: string, mirrors: Pick<MirrorSpec, "registryMirrors">): string | undefined {
  const ref = parseImageRef(image);
  const upstream = DAOCLOUD_HOSTS[ref.registry] ?? ref.registry;
  if (!BLOCKED_UPSTREAMS.has(upstream)) return undefined;
  const viaDaocloud = ref.registry in DAOCLOUD_HOSTS || (mirrors.registryMirrors[upstream] ?? []).some((m) => /daocloud\.io/.test(m));
  if (viaDaocloud && daocloudAllows({ registry: upstream, repository: ref.repository })) return undefined;
  if (!viaDaocloud && (mirrors.registryMirrors[upstream] ?? []).length > 0) return undefined; // the user's own mirror: trusted
  return viaDaocloud
    ? `${upstream}/${ref.repository} is not on DaoCloud's mirror allow list (DaoCloud/public-image-mirror allows.txt) and ${upstream} itself is unreachable from mainland China`
    : `${upstream} is unreachable from mainland China and no mirror is configured for it`;
}

/** The fix to suggest for an image that cannot be pulled: a copy in the user's own registry. */
export function chinaPullFix(image: string): string {
  const ref = parseImageRef(image);
  const tag = image.includes(":") && image.lastIndexOf(":") > image.lastIndexOf("/") ? image.slice(image.lastIndexOf(":")) : ":latest";
  const leaf = ref.repository.split("/").pop() ?? "image";
  return `push a copy to your own Aliyun Container Registry namespace (docker pull ${image} && docker tag ... && docker push) and set it, e.g. registry.cn-hangzhou.aliyuncs.com/<your-namespace>/${leaf}${tag}`;
}
