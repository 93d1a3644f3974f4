// Pure: the scripts of a highly available control plane (docs/ha.md) that are not kubeadm's own: the
// endpoint services on VirtualBox and existing hosts (scripts/node/vip.sh). The certificate upload and
// the control-plane join are in scripts.ts (upload-certs.sh, join.sh).
import { NodeSpec } from "../spec";
import { composeScript } from "./script";
import { APT_LOCK_TIMEOUT } from "./scripts";
import { VIP_INTERFACE_PLACEHOLDER, VipSettings, checkApiserverScript, haproxyCfg, keepalivedConf } from "./vip-config";

export const HA_TIMEOUTS = {
  /** vip.sh: apt lock waits (300 s) + apt update/install (retried 3 times) + validation + 30 s listen wait. */
  vip: 1500,
} as const;

/** Whether the control planes run keepalived and haproxy for the endpoint (VirtualBox, existing hosts). */
export function runsVip(spec: Pick<VipSettings, "kubernetes">): boolean {
  return spec.kubernetes.controlPlaneEndpoint?.holder === "keepalived-haproxy";
}

/**
 * keepalived + haproxy on a control plane, their files from vip-config.ts in the header.
 * Header: NODE_NAME NODE_IP KEEPALIVED_CONF CHECK_SCRIPT HAPROXY_CFG VIP_INTERFACE_PLACEHOLDER
 * ENDPOINT_PORT APT_LOCK_TIMEOUT. Run as root, bounded by HA_TIMEOUTS.vip; nothing secret.
 */
export function vipScript(spec: VipSettings, node: NodeSpec): string {
  if (node.role !== "control-plane") throw new Error(`internal: vip.sh runs on control planes, not on ${node.name}`);
  const e = spec.kubernetes.controlPlaneEndpoint;
  if (!e || e.holder !== "keepalived-haproxy") throw new Error("internal: vip.sh without a keepalived/haproxy endpoint");
  return composeScript(
    "node/vip.sh",
    {
      NODE_NAME: node.name,
      NODE_IP: node.ip,
      KEEPALIVED_CONF: keepalivedConf(spec, node),
      CHECK_SCRIPT: checkApiserverScript(spec),
      HAPROXY_CFG: haproxyCfg(spec),
      VIP_INTERFACE_PLACEHOLDER,
      ENDPOINT_PORT: String(e.port),
      APT_LOCK_TIMEOUT: String(APT_LOCK_TIMEOUT),
    },
    { tag: `vip ${node.name}`, logFd: 2 },
  );
}
