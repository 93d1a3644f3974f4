// cloud-init NoCloud seed files (user-data, meta-data, network-config) for an Ubuntu cloud image VM.
// Pure: tests parse the text back. Every string scalar is emitted double-quoted (JSON syntax, valid
// YAML): cloud-init reads YAML 1.1 (PyYAML), where unquoted yes/no/on/off are booleans (a node named
// "no" would get hostname false) and digits:digits can be base-60 integers.
import * as crypto from "crypto";

type Yaml = string | number | boolean | readonly Yaml[] | { readonly [k: string]: Yaml };

/** Block-style YAML with JSON-quoted strings (deterministic key order = insertion order). */
export function toYaml(value: Yaml, indent = 0): string {
  const pad = " ".repeat(indent);
  const scalar = (v: Yaml): string | undefined =>
    typeof v === "string" ? JSON.stringify(v) : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item: Yaml) => {
        const s = scalar(item);
        if (s !== undefined) return `${pad}- ${s}\n`;
        // Nested collection: first line after "- ", the rest indented under it.
        const inner = toYaml(item, indent + 2);
        return `${pad}- ${inner.slice(indent + 2)}`;
      })
      .join("");
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as { readonly [k: string]: Yaml });
    if (entries.length === 0) return `${pad}{}\n`;
    return entries
      .map(([k, v]) => {
        const key = /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
        const s = scalar(v);
        if (s !== undefined) return `${pad}${key}: ${s}\n`;
        return `${pad}${key}:\n${toYaml(v, indent + 2)}`;
      })
      .join("");
  }
  return `${pad}${scalar(value)}\n`;
}

/**
 * A stable, locally administered unicast MAC (first octet 0x02) for a VM's NIC, from the VM name:
 * netplan matches the host-only NIC by it, so it must be known before the VM exists. Returned as
 * "02:xx:xx:xx:xx:xx"; VBoxManage wants the same digits without colons (see vboxMac).
 */
export function nicMac(vmName: string, nic: number): string {
  const h = crypto.createHash("sha256").update(`kubeadm-cluster/nic${nic}/${vmName}`).digest();
  const bytes = [0x02, h[0], h[1], h[2], h[3], h[4]];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

export function vboxMac(mac: string): string {
  return mac.replace(/:/g, "").toUpperCase();
}

/** An SSH host key pair the VM must present instead of generating its own (pinned by the client). */
export interface HostKeyPair {
  /** OpenSSH private key (secret: the seed that carries it is a secret). */
  readonly privateKey: string;
  /** "ecdsa-sha2-nistp256 AAAA..." (one line, no comment). */
  readonly publicKey: string;
}

/** The one host key type this program installs: see virtualbox.ts for why ECDSA P-256. */
export const HOST_KEY_LINE = /^ecdsa-sha2-nistp256 [A-Za-z0-9+/]+={0,2}$/;

export interface SeedInput {
  readonly hostname: string;
  /** Changes when the VM is recreated with different settings; cloud-init re-runs per instance-id. */
  readonly instanceId: string;
  readonly sshUser: string;
  readonly sshPublicKey: string;
  /** NIC1 (NAT, DHCP: internet). */
  readonly natMac: string;
  readonly natIfName: string;
  /** NIC2 (host-only, static: the node IP). */
  readonly clusterMac: string;
  readonly clusterIfName: string;
  readonly nodeIp: string;
  readonly prefixLength: number;
  /** When set, the VM's only SSH host key. */
  readonly hostKey?: HostKeyPair;
}

export interface SeedFiles {
  readonly "meta-data": string;
  readonly "user-data": string;
  readonly "network-config": string;
}

export function seedFiles(s: SeedInput): SeedFiles {
  if (s.sshUser === "root") {
    throw new Error("virtualbox: ssh user must not be root: Ubuntu cloud images refuse root SSH logins; use e.g. \"ubuntu\" (it gets passwordless sudo)");
  }
  const key = s.sshPublicKey.trim();
  if (!/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(key) || key.includes("\n")) {
    throw new Error(`virtualbox: the SSH public key for ${s.hostname} is not a single OpenSSH public key line`);
  }
  const hostKey = s.hostKey ? checkHostKey(s.hostname, s.hostKey) : undefined;
  const metaData = toYaml({ "instance-id": s.instanceId, "local-hostname": s.hostname });
  const userData =
    "#cloud-config\n" +
    toYaml({
      hostname: s.hostname,
      preserve_hostname: false,
      // Only add the 127.0.1.1 line; node prep owns the other /etc/hosts entries.
      manage_etc_hosts: "localhost",
      users: [
        {
          name: s.sshUser,
          shell: "/bin/bash",
          groups: ["sudo"],
          sudo: "ALL=(ALL) NOPASSWD:ALL",
          lock_passwd: true,
          ssh_authorized_keys: [key],
        },
      ],
      ssh_pwauth: false,
      disable_root: true,
      // cloud-init cc_ssh: ssh_deletekeys removes the image's /etc/ssh/ssh_host_*key*; with ssh_keys
      // present it writes only the given keys and generates none (ssh_genkeytypes: [] says the same
      // for cloud-init versions that would otherwise fill in missing types). So sshd presents exactly
      // the key the program pinned (canonical/cloud-init cloudinit/config/cc_ssh.py, handle()).
      ...(hostKey
        ? { ssh_deletekeys: true, ssh_genkeytypes: [], ssh_keys: { ecdsa_private: hostKey.privateKey, ecdsa_public: hostKey.publicKey } }
        : {}),
      // The root partition grows to the disk size set by VBoxManage (cloud images do this by default).
      growpart: { mode: "auto", devices: ["/"] },
    });
  const networkConfig = toYaml({
    version: 2,
    ethernets: {
      [s.natIfName]: { match: { macaddress: s.natMac }, "set-name": s.natIfName, dhcp4: true },
      [s.clusterIfName]: {
        match: { macaddress: s.clusterMac },
        "set-name": s.clusterIfName,
        dhcp4: false,
        addresses: [`${s.nodeIp}/${s.prefixLength}`],
      },
    },
  });
  return { "meta-data": metaData, "user-data": userData, "network-config": networkConfig };
}

function checkHostKey(hostname: string, k: HostKeyPair): HostKeyPair {
  const publicKey = k.publicKey.trim();
  if (!HOST_KEY_LINE.test(publicKey)) throw new Error(`virtualbox: the SSH host public key for ${hostname} is not one "ecdsa-sha2-nistp256 AAAA..." line`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(k.privateKey)) throw new Error(`virtualbox: the SSH host private key for ${hostname} is not a PEM/OpenSSH private key`);
  return { publicKey, privateKey: k.privateKey.endsWith("\n") ? k.privateKey : `${k.privateKey}\n` };
}
