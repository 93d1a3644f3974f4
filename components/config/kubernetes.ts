// The `kubernetes` block: version, pod and service ranges, DNS domain, NIC, join-token lifetime,
// certificate renewal label and how many workers an upgrade takes at once.
import { Cidr, cidrsOverlap } from "../net";
import { KubernetesSpec, MachineProvider } from "../spec";
import { ParsedVersion, SUPPORTED_MINORS, isSupportedMinor, parseKubernetesVersion } from "../versions";
import { Block, Problems, readCidr } from "./reader";
import { isGoDuration } from "../duration";

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

export interface KubernetesRead {
  readonly spec: KubernetesSpec;
  /** The parsed ranges (undefined when invalid, reported already), for the checks against the machines. */
  readonly pod?: Cidr;
  readonly svc?: Cidr;
  /** kubernetes.controlPlaneEndpoint as written (checked in ha.ts). */
  readonly endpoint?: string;
  /** Whether kubernetes.version was valid (else spec.version is a placeholder). */
  readonly versionValid: boolean;
}

export function readKubernetes(b: Block, provider: MachineProvider | undefined, probs: Problems): KubernetesRead {
  const version = readVersion(b, probs);
  const { podText, pod, svcText, svc } = readSubnets(b, probs);
  const defNic = provider === "virtualbox" ? "enp0s8" : provider === "aliyun" ? "eth0" : undefined;
  const nic = b.str("nic", defNic, (s) => (/^[A-Za-z0-9_.:-]{1,15}$/.test(s) ? undefined : 'not a network interface name (1-15 characters), e.g. "enp0s8"'));
  const renewal = b.str("certificateRenewal", undefined, (s) => (/^[A-Za-z0-9._:-]{1,63}$/.test(s) ? undefined : 'a short label such as "2027-06" (letters, digits, ".", "_", ":", "-")'));
  const spec: KubernetesSpec = {
    // A placeholder keeps the shape when the version is bad; the ConfigError is thrown before use.
    version: version ?? { minor: 30, minorVersion: "1.30", raw: "1.30" },
    podSubnet: pod ? pod.text : podText,
    serviceSubnet: svc ? svc.text : svcText,
    dnsDomain: b.str("dnsDomain", "cluster.local", (s) => (DNS_SUBDOMAIN.test(s) ? undefined : 'not a DNS domain; e.g. "cluster.local"')),
    ...(nic !== undefined ? { nic } : {}),
    tokenTtl: b.str("tokenTtl", "24h", (s) => (isGoDuration(s) ? undefined : 'not a duration; e.g. "24h", "1h30m" or "0" (never expires)')),
    ...(renewal !== undefined ? { certificateRenewal: renewal } : {}),
    upgradeBatchSize: b.int("upgradeBatchSize", 1, { min: 1, max: 100, hint: "workers drained and upgraded at once during a version upgrade" }),
  };
  // Checked against the nodes and the machine network across blocks (ha.ts).
  const endpoint = b.str("controlPlaneEndpoint", undefined);
  b.finish();
  return { spec, pod, svc, endpoint, versionValid: version !== undefined };
}

/** `kubernetes.version`, required; undefined when missing or bad (reported). */
function readVersion(b: Block, probs: Problems): ParsedVersion | undefined {
  const supported = `supported 1.${SUPPORTED_MINORS[0]} to 1.${SUPPORTED_MINORS[SUPPORTED_MINORS.length - 1]}`;
  const how = `write it quoted, e.g. version: "1.30" or "1.30.12"; ${supported}`;
  const rawV = b.raw("version");
  if (rawV === undefined) {
    if (!b.broken) probs.at(b.key("version"), `required; ${how}`);
  } else if (typeof rawV === "number") {
    probs.bad(b.key("version"), rawV, `must be a quoted string: YAML reads an unquoted 1.30 as the number 1.3; ${how}`);
  } else if (typeof rawV !== "string") {
    probs.bad(b.key("version"), rawV, `must be a string; ${how}`);
  } else {
    const p = parseKubernetesVersion(rawV);
    if (!p) probs.bad(b.key("version"), rawV, `malformed; ${how}`);
    else if (!isSupportedMinor(p.minor)) probs.bad(b.key("version"), rawV, `unsupported; ${supported}, as "1.30" or "1.30.12"`);
    else return p;
  }
  return undefined;
}

/** `kubernetes.podSubnet` and `serviceSubnet`: each valid on its own, and apart from each other. */
function readSubnets(b: Block, probs: Problems): { podText: string; pod?: Cidr; svcText: string; svc?: Cidr } {
  const { text: podText, cidr: pod } = readCidr(b, "podSubnet", "10.244.0.0/16");
  const { text: svcText, cidr: svc } = readCidr(b, "serviceSubnet", "10.96.0.0/12");
  if (svc && (svc.prefix < 12 || svc.prefix > 28)) {
    probs.bad(b.key("serviceSubnet"), svcText, "must be between /12 (kube-apiserver's maximum) and /28 (room for the API server and DNS addresses), e.g. \"10.96.0.0/12\"");
  }
  if (pod && svc && cidrsOverlap(pod, svc)) {
    probs.bad(b.key("serviceSubnet"), svcText, `overlaps kubernetes.podSubnet "${pod.text}"; Service and Pod addresses must be distinct, e.g. "10.96.0.0/12" with "10.244.0.0/16"`);
  }
  return { podText, pod, svcText, svc };
}
