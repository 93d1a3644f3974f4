// The `mirrors` block: where packages and images come from. The profile's defaults also decide which
// registry host the add-on images are pulled from (rewriteImageHost).
import { MirrorProfile, MirrorSpec } from "../spec";
import { Block, checkRegistryPath, isPlainObject, typeName } from "./reader";

// Defaults that depend on the mirror profile [FACTS §5].

interface ProfileDefaults {
  readonly aptBase: string;
  readonly imageRepository: string;
  readonly registryMirrors: Readonly<Record<string, readonly string[]>>;
  /** Registry host -> host that serves the same paths (image references are rewritten with it). */
  readonly imageHostRewrite: Readonly<Record<string, string>>;
}

export const MIRROR_PROFILES: Readonly<Record<MirrorProfile, ProfileDefaults>> = {
  default: {
    aptBase: "https://pkgs.k8s.io/core:/stable:/",
    imageRepository: "registry.k8s.io",
    registryMirrors: {},
    imageHostRewrite: {},
  },
  china: {
    aptBase: "https://mirrors.aliyun.com/kubernetes-new/core/stable/",
    imageRepository: "registry.aliyuncs.com/google_containers",
    // DaoCloud host-replacement mirrors [FACTS §5.3]; containerd tries them before the upstream.
    registryMirrors: {
      "docker.io": ["https://docker.m.daocloud.io"],
      "ghcr.io": ["https://ghcr.m.daocloud.io"],
      "registry.k8s.io": ["https://k8s.m.daocloud.io"],
      "quay.io": ["https://quay.m.daocloud.io"],
    },
    // Add-on images are pulled by reference; pointing them at the mirror host avoids depending on
    // containerd's mirror fallback for the images the cluster cannot start without.
    imageHostRewrite: { "docker.io": "docker.m.daocloud.io", "ghcr.io": "ghcr.m.daocloud.io", "registry.k8s.io": "k8s.m.daocloud.io" },
  },
};

/** Rewrites the registry host of an image reference according to the profile (unchanged if none applies). */
export function rewriteImageHost(image: string, profile: MirrorProfile): string {
  const slash = image.indexOf("/");
  if (slash < 0) return image;
  const host = image.slice(0, slash);
  const to = MIRROR_PROFILES[profile].imageHostRewrite[host];
  return to ? `${to}${image.slice(slash)}` : image;
}

export function readMirrors(b: Block): MirrorSpec {
  const profile = b.oneOf<MirrorProfile>("profile", "default", ["default", "china"]);
  const d = MIRROR_PROFILES[profile];
  const aptBase = b.str("aptBase", d.aptBase, (s) => (/^(https?|file):\/\/[^\s]+\/$/.test(s) ? undefined : 'must be an http(s):// or file:// URL ending in "/", e.g. "https://pkgs.k8s.io/core:/stable:/"'));
  const imageRepository = b.str("imageRepository", d.imageRepository, checkRegistryPath);
  const dnsImageRepository = b.str("dnsImageRepository", undefined, checkRegistryPath);
  const registryMirrors = readRegistryMirrors(b, d.registryMirrors);
  b.finish();
  return { profile, aptBase, imageRepository, ...(dnsImageRepository !== undefined ? { dnsImageRepository } : {}), registryMirrors };
}

/** `mirrors.registryMirrors`: when set, it replaces the profile's map (entries are not merged). */
function readRegistryMirrors(b: Block, profileMirrors: ProfileDefaults["registryMirrors"]): Record<string, readonly string[]> {
  const rm = b.raw("registryMirrors");
  if (rm === undefined) return { ...profileMirrors };
  if (!isPlainObject(rm)) {
    b.bad("registryMirrors", rm, `must be a map of registry host -> list of mirror URLs, e.g. {"docker.io": ["https://docker.m.daocloud.io"]}, got ${typeName(rm)}`);
    return { ...profileMirrors };
  }
  const registryMirrors: Record<string, readonly string[]> = {};
  for (const [host, urls] of Object.entries(rm)) {
    const key = `registryMirrors.${host}`;
    if (!/^([a-z0-9.-]+(:\d+)?|_default)$/.test(host)) {
      b.bad(key, urls, `"${host}" is not a registry host; use e.g. "docker.io" or "registry.k8s.io"`);
      continue;
    }
    if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === "string" && /^https?:\/\/[^\s/]+[^\s]*$/.test(u))) {
      b.bad(key, urls, 'must be a non-empty list of http(s) URLs, e.g. ["https://docker.m.daocloud.io"]');
      continue;
    }
    registryMirrors[host] = urls as string[];
  }
  return registryMirrors;
}
