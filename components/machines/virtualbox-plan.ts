// What scripts/vm/vbox.js does for one VirtualBox VM, decided here as data (pure; tests read it): the
// VM's identity (what makes it "the same machine"), the shared base VM it is cloned from, the
// VBoxManage argument arrays, the NoCloud seed files and the SSH wait. The helper executes argv arrays
// with spawnSync, so a name or path with spaces or quotes is one argument on every OS.
//
// Identity vs tunables: `update` rebuilds a VM only when its identity hash changes. Tunables (where
// VBoxManage lives, how long to wait for SSH or for another process' import) can change freely.
import * as crypto from "crypto";
import * as path from "path";
import { ClusterSpec, NodeSpec, VirtualBoxSpec } from "../spec";
import { parseCidr, parseIpv4, cidrContains } from "../net";
import { nicMac, vboxMac, seedFiles, SeedFiles, HostKeyPair } from "./cloud-init";

/**
 * Plan format version. 2: identity + linked clone of a shared base + host key. vbox.js still reads
 * version 1 for `delete` (the stdin Pulumi stored for VMs created by v0.1 of this program).
 */
export const VBOX_PLAN_VERSION = 2;

/** "@vmdir/<file>" inside an argument is replaced by that file's path in the VM's folder (known only once the VM exists). */
export const VM_DIR_PREFIX = "@vmdir/";

/** Extradata key marking a VM as created by this program for one cluster node. */
export const OWNER_KEY = "kubeadm-cluster/owner";
/** Extradata keys on the node VM: the identity hash (and its fields, for "what changed") and its pinned host key. */
export const IDENTITY_KEY = "kubeadm-cluster/identity";
export const IDENTITY_JSON_KEY = "kubeadm-cluster/identity-json";
export const HOSTKEY_KEY = "kubeadm-cluster/hostkey";
/** Extradata key marking a base VM as made by this program (value: BasePlan.owner). */
export const BASE_KEY = "kubeadm-cluster/base";
/** The snapshot of a base VM that node VMs are linked clones of. */
export const BASE_SNAPSHOT = "kubeadm-base";
/** Seconds a create waits for another process that holds the base's lock (importing it takes 30 s - 2 min). */
export const BASE_LOCK_WAIT_SECONDS = 1800;

/**
 * Everything that makes a node VM the machine it is. A change here means a new VM (new UUID, so the
 * node is prepared and joined again). Not here: the VBoxManage path and the timeouts (tunables).
 */
export interface VmIdentity {
  readonly vmName: string;
  readonly owner: string;
  /** virtualbox.imagePath as configured. */
  readonly image: string;
  /** virtualbox.baseFolder, or null for VirtualBox's default machine folder. */
  readonly baseFolder: string | null;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly diskMb: number;
  readonly hostOnlyAdapter: string;
  readonly nics: {
    readonly nat: { readonly name: string; readonly mac: string };
    readonly cluster: { readonly name: string; readonly mac: string };
  };
  readonly hostname: string;
  readonly nodeIp: string;
  readonly prefixLength: number;
  readonly sshUser: string;
  readonly sshAuthorizedKey: string;
  /** The pinned SSH host public key ("ecdsa-sha2-nistp256 AAAA..."). */
  readonly hostKey: string;
}

/** The base VM node VMs are linked clones of: one per (absolute image path, disk size), shared by every stack on the host. */
export interface BasePlan {
  readonly name: string;
  /** Value of extradata BASE_KEY; a VM with the base's name and another value is never touched. */
  readonly owner: string;
  readonly snapshot: string;
  /** VBoxManage calls that create and register the base VM with its disk ("@vmdir/" = the base's folder). */
  readonly create: readonly (readonly string[])[];
  /** The base disk is grown to this size (MiB) before the snapshot, so every clone's disk has it. */
  readonly diskMb: number;
  /** Tunable: how long to wait for another process holding the base's lock. */
  readonly waitSeconds: number;
}

export interface VboxPlan {
  readonly version: number;
  /** Tunable: VBoxManage executable (a name on PATH or a path). */
  readonly vboxManage: string;
  readonly vmName: string;
  /** Value of extradata OWNER_KEY: `<clusterName>/<node>`. A VM with that name and another owner is never touched. */
  readonly owner: string;
  /** The cloud image, for messages. */
  readonly image: string;
  readonly identity: VmIdentity;
  /** identityHash(identity): what vbox.js records and compares. */
  readonly identityHash: string;
  readonly base: BasePlan;
  /** The linked clone of the base's snapshot that becomes this VM (registered; owner marked right after). */
  readonly clone: readonly string[];
  /** modifyvm calls applied to the clone, in order. */
  readonly configure: readonly (readonly string[])[];
  /** NoCloud seed written as an ISO 9660 + Joliet image into the VM folder and attached as a DVD. Holds the host private key. */
  readonly seed: { readonly fileName: string; readonly volumeId: "cidata"; readonly files: SeedFiles };
  /** The host public key the seed installs; vbox.js records it and prints it after the UUID. */
  readonly hostKey: string;
  readonly start: readonly string[];
  /** TCP port polled until an SSH banner answers, bounded by timeoutSeconds (tunable). */
  readonly waitForSsh: { readonly host: string; readonly port: number; readonly timeoutSeconds: number };
  /** Files the helper writes into the VM folder, removed on delete (unregistervm --delete does not know them). */
  readonly extraFiles: readonly string[];
}

/** VM name on the host: cluster prefix keeps two clusters' "k8s-worker" apart. */
export function vmName(clusterName: string, node: NodeSpec): string {
  return `${clusterName}-${node.name}`;
}

/** NIC names inside the guest: the NAT NIC keeps enp0s3; the cluster NIC is the one Kubernetes uses. */
export function guestNics(spec: Pick<ClusterSpec, "kubernetes">): { nat: string; cluster: string } {
  return { nat: "enp0s3", cluster: spec.kubernetes.nic ?? "enp0s8" };
}

function sha256(text: string): string {
  return crypto.createHash("sha256").update(text).digest("hex");
}

/** JSON with object keys sorted at every level, so equal identities hash equally whatever the key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

export function identityHash(id: VmIdentity): string {
  return sha256(canonicalJson(id)).slice(0, 32);
}

/**
 * The shared base for an image and a disk size. Keyed by the absolute image path (resolved from the
 * directory Pulumi runs commands in, the project root) so two stacks using one image share it, and by
 * the disk size because a linked clone's disk is a differencing image with exactly its parent's size:
 * VDCreateDiff creates it with the chain's size (VirtualBox src/VBox/Storage/VD.cpp, VDCreateDiff:
 * `pfnCreate(..., pDisk->cbSize, ...)`). Growing a clone's differencing disk past its parent is not
 * something to rely on: vdiRead refuses offsets beyond an image's own size (`AssertReturn(uOffset +
 * cbToRead <= getImageDiskSize(...), VERR_INVALID_PARAMETER)`, src/VBox/Storage/VDI.cpp) and the VD read
 * path hands the guest's offset unchanged to the parent (vdReadHelperAsync). So the base disk is grown
 * once, before the snapshot, while it has no children (the documented `modifymedium --resize` case).
 */
export function basePlan(vb: VirtualBoxSpec, diskMb: number): BasePlan {
  const image = path.resolve(vb.imagePath);
  const name = `kubeadm-base-${sha256(image).slice(0, 12)}-${Math.ceil(diskMb / 1024)}g`;
  return {
    name,
    owner: `${image} ${diskMb}MiB`,
    snapshot: BASE_SNAPSHOT,
    create: createSteps(vb, name),
    diskMb,
    waitSeconds: BASE_LOCK_WAIT_SECONDS,
  };
}

/**
 * How the base VM comes to exist, by image type. An .ova/.ovf (the documented download) is imported
 * with its disk converted to VDI (VDI can be resized; the image's VMDK cannot: man VBoxManage-modifymedium
 * "you can only resize dynamically allocated disk images that use the VDI and VHD formats"). A bare
 * .vmdk/.vdi disk gets a new VM with a SATA controller and a VDI clone of the disk.
 */
export function createSteps(vb: VirtualBoxSpec, name: string): string[][] {
  const ext = path.extname(vb.imagePath).toLowerCase();
  const base = vb.baseFolder ? [`--basefolder=${vb.baseFolder}`] : [];
  if (ext === ".ova" || ext === ".ovf") {
    return [["import", vb.imagePath, "--vsys=0", `--vmname=${name}`, "--options=importtovdi", ...base]];
  }
  if (ext === ".vmdk" || ext === ".vdi") {
    return [
      ["createvm", `--name=${name}`, "--ostype=Ubuntu_64", "--register", ...base],
      ["storagectl", name, "--name=SATA", "--add=sata", "--controller=IntelAhci", "--portcount=2"],
      ["clonemedium", "disk", vb.imagePath, `${VM_DIR_PREFIX}disk.vdi`, "--format=VDI"],
      ["storageattach", name, "--storagectl=SATA", "--port=0", "--device=0", "--type=hdd", `--medium=${VM_DIR_PREFIX}disk.vdi`],
    ];
  }
  throw new Error(`virtualbox.imagePath ${vb.imagePath}: expected the Ubuntu 22.04 cloud image as .ova (or a .vmdk/.vdi disk); qcow2 .img files do not work in VirtualBox`);
}

/**
 * `clonevm <base> --snapshot=<snap> --options=link --name=<vm> --register` (seed runbook 001 does the
 * same by hand). man VBoxManage-clonevm: Link "creates a linked clone from a snapshot only"; without
 * KeepAllMACs/KeepNATMACs the clone's MACs are reinitialised and without KeepHwUUIDs it gets new hardware
 * UUIDs, so every clone has its own product_uuid (kubeadm requires it). The MACs are then set to the
 * fixed ones netplan matches on.
 */
export function cloneStep(vb: VirtualBoxSpec, base: BasePlan, name: string): string[] {
  const folder = vb.baseFolder ? [`--basefolder=${vb.baseFolder}`] : [];
  return ["clonevm", base.name, `--snapshot=${base.snapshot}`, "--options=link", `--name=${name}`, "--register", ...folder];
}

function sizeFor(vb: VirtualBoxSpec, node: NodeSpec) {
  return node.role === "control-plane" ? vb.controlPlane : vb.worker;
}

export function vboxPlan(
  spec: Pick<ClusterSpec, "clusterName" | "ssh" | "kubernetes" | "virtualbox">,
  node: NodeSpec,
  sshPublicKey: string,
  hostKey: HostKeyPair,
): VboxPlan {
  const vb = spec.virtualbox;
  if (!vb) throw new Error("internal: virtualbox plan without spec.virtualbox");
  const cidr = parseCidr(vb.hostOnlyCidr);
  if (!cidr.ok) throw new Error(`virtualbox.hostOnlyCidr ${vb.hostOnlyCidr}: ${cidr.reason}`);
  const ip = parseIpv4(node.ip);
  if (ip === undefined || !cidrContains(cidr.cidr, ip)) {
    throw new Error(`node ${node.name}: ip ${node.ip} is not inside the host-only network ${vb.hostOnlyCidr}; the host could not reach it`);
  }
  const name = vmName(spec.clusterName, node);
  const size = sizeFor(vb, node);
  const nics = guestNics(spec);
  const natMac = nicMac(name, 1);
  const clusterMac = nicMac(name, 2);
  const identity: VmIdentity = {
    vmName: name,
    owner: `${spec.clusterName}/${node.name}`,
    image: vb.imagePath,
    baseFolder: vb.baseFolder ?? null,
    cpus: size.cpus,
    memoryMb: size.memoryMb,
    diskMb: size.diskGb * 1024,
    hostOnlyAdapter: vb.hostOnlyAdapter,
    nics: { nat: { name: nics.nat, mac: natMac }, cluster: { name: nics.cluster, mac: clusterMac } },
    hostname: node.name,
    nodeIp: node.ip,
    prefixLength: cidr.cidr.prefix,
    sshUser: spec.ssh.user,
    sshAuthorizedKey: sshPublicKey.trim(),
    hostKey: hostKey.publicKey.trim(),
  };
  const hash = identityHash(identity);
  const files = seedFiles({
    hostname: node.name,
    // A new instance-id for every new identity: cloud-init applies the seed once per instance-id.
    instanceId: `${name}-${hash.slice(0, 12)}`,
    sshUser: spec.ssh.user,
    sshPublicKey,
    natMac,
    natIfName: nics.nat,
    clusterMac,
    clusterIfName: nics.cluster,
    nodeIp: node.ip,
    prefixLength: cidr.cidr.prefix,
    hostKey,
  });
  const base = basePlan(vb, identity.diskMb);
  const configure: string[][] = [
    ["modifyvm", name, `--cpus=${size.cpus}`, `--memory=${size.memoryMb}`, "--ioapic=on"],
    // NIC1 NAT: internet (every VM gets 10.0.2.15 here, so Kubernetes must never use it).
    ["modifyvm", name, "--nic1=nat", `--mac-address1=${vboxMac(natMac)}`, "--cable-connected1=on"],
    // NIC2 host-only: host <-> VM and VM <-> VM; carries the node IP.
    ["modifyvm", name, "--nic2=hostonly", `--host-only-adapter2=${vb.hostOnlyAdapter}`, `--mac-address2=${vboxMac(clusterMac)}`, "--cable-connected2=on"],
    // Ubuntu cloud images write their console to ttyS0; without a serial port boots can stall.
    ["modifyvm", name, "--uart1", "0x3F8", "4", "--uart-mode1", "file", `${VM_DIR_PREFIX}serial.log`],
  ];
  return {
    version: VBOX_PLAN_VERSION,
    vboxManage: vb.vboxManage,
    vmName: name,
    owner: identity.owner,
    image: vb.imagePath,
    identity,
    identityHash: hash,
    base,
    clone: cloneStep(vb, base, name),
    configure,
    seed: { fileName: "cidata.iso", volumeId: "cidata", files },
    hostKey: identity.hostKey,
    start: ["startvm", name, "--type", "headless"],
    waitForSsh: { host: node.ip, port: 22, timeoutSeconds: vb.bootTimeoutSeconds },
    extraFiles: ["cidata.iso", "serial.log"],
  };
}
