// Pure: the configuration files of the control-plane endpoint on VirtualBox and existing hosts
// (docs/ha.md), following kubernetes/kubeadm docs/ha-considerations.md "keepalived and haproxy":
//   - keepalived holds the endpoint address on one control plane (VRRP, unicast to the other control
//     planes: no multicast needed on host-only networks or LANs that filter it) and moves it when that
//     node's health check fails;
//   - haproxy on every control plane listens on the endpoint port (8443; the API server has 6443 on the
//     same machine) and spreads connections over every API server whose /readyz answers.
// scripts/node/vip.sh installs them; the files are validated there with `keepalived -t` and `haproxy -c`.
import { createHash } from "crypto";
import { ClusterSpec, NodeSpec } from "../spec";
import { API_PORT } from "./kubeadm-config";

/** First line of every file vip.sh writes: reset.sh and undo-prep.sh recognise them by it. */
export const VIP_MANAGED_MARK = "# managed by kubeadm-cluster (scripts/node/vip.sh)";

/** Replaced on the node by the interface that carries the node's IP when kubernetes.nic is not set. */
export const VIP_INTERFACE_PLACEHOLDER = "@VIP_INTERFACE@";

export type VipSettings = Pick<ClusterSpec, "clusterName" | "nodes" | "kubernetes">;

interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly vrrpRouterId: number;
}

function keepalivedEndpoint(spec: VipSettings): Endpoint {
  const e = spec.kubernetes.controlPlaneEndpoint;
  if (!e || e.holder !== "keepalived-haproxy") throw new Error("internal: the endpoint is not held by keepalived/haproxy");
  return e;
}

export function controlPlanes(spec: Pick<ClusterSpec, "nodes">): NodeSpec[] {
  return spec.nodes.filter((n) => n.role === "control-plane");
}

/**
 * VRRP priority: the first control plane highest, then in node order. A failing health check subtracts
 * more than the whole spread (VRRP_WEIGHT), so a healthy node always wins over an unhealthy one.
 */
export function vrrpPriority(spec: Pick<ClusterSpec, "nodes">, node: NodeSpec): number {
  const i = controlPlanes(spec).findIndex((n) => n.name === node.name);
  if (i < 0) throw new Error(`internal: ${node.name} is not a control plane`);
  return 150 - i;
}
export const VRRP_WEIGHT = -50;

/** VRRP PASS authentication is at most 8 characters and travels in clear text: derived, not secret. */
export function vrrpAuthPass(spec: Pick<ClusterSpec, "clusterName">, address: string): string {
  return createHash("sha256").update(`${spec.clusterName}/${address}`).digest("hex").slice(0, 8);
}

/** /etc/keepalived/keepalived.conf for one control plane. */
export function keepalivedConf(spec: VipSettings, node: NodeSpec): string {
  const e = keepalivedEndpoint(spec);
  const peers = controlPlanes(spec).filter((n) => n.name !== node.name);
  const iface = spec.kubernetes.nic ?? VIP_INTERFACE_PLACEHOLDER;
  const first = controlPlanes(spec)[0].name === node.name;
  return [
    VIP_MANAGED_MARK,
    "global_defs {",
    `  router_id ${node.name}`,
    // Scripts run as root only when script security is on (keepalived refuses otherwise, exit 5 of -t).
    "  enable_script_security",
    "  script_user root",
    "}",
    "",
    "vrrp_script check_apiserver {",
    '  script "/etc/keepalived/check_apiserver.sh"',
    "  interval 3",
    "  timeout 5",
    `  weight ${VRRP_WEIGHT}`,
    "  fall 3",
    "  rise 2",
    "}",
    "",
    `vrrp_instance kubeadm_${e.vrrpRouterId} {`,
    `  state ${first ? "MASTER" : "BACKUP"}`,
    `  interface ${iface}`,
    `  virtual_router_id ${e.vrrpRouterId}`,
    `  priority ${vrrpPriority(spec, node)}`,
    "  advert_int 1",
    "  authentication {",
    "    auth_type PASS",
    `    auth_pass ${vrrpAuthPass(spec, e.address)}`,
    "  }",
    // A single control plane with an endpoint has no peer: keepalived -t refuses an empty unicast_peer
    // ("A unicast keyword has been specified without any unicast peers. Defaulting to multicast",
    // exit 5 with Debian 12's 2.2.7), so the block is left out and it advertises by multicast alone.
    ...(peers.length === 0 ? [] : [`  unicast_src_ip ${node.ip}`, "  unicast_peer {", ...peers.map((p) => `    ${p.ip}`), "  }"]),
    "  virtual_ipaddress {",
    `    ${e.address}/32 dev ${iface}`,
    "  }",
    "  track_script {",
    "    check_apiserver",
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * /etc/keepalived/check_apiserver.sh (kubeadm's ha-considerations.md check): this node's haproxy must
 * answer, and when this node holds the address, the address too.
 */
export function checkApiserverScript(spec: VipSettings): string {
  const e = keepalivedEndpoint(spec);
  return [
    "#!/bin/sh",
    VIP_MANAGED_MARK,
    'errorExit() { echo "*** $*" 1>&2; exit 1; }',
    `curl -fsk --max-time 2 https://127.0.0.1:${e.port}/healthz -o /dev/null || errorExit "Error GET https://127.0.0.1:${e.port}/healthz"`,
    `if ip -4 addr show | grep -qw "${e.address}"; then`,
    `  curl -fsk --max-time 2 https://${e.address}:${e.port}/healthz -o /dev/null || errorExit "Error GET https://${e.address}:${e.port}/healthz"`,
    "fi",
    "",
  ].join("\n");
}

/**
 * /etc/haproxy/haproxy.cfg: TCP on the endpoint port to every control plane's API server, checked with
 * an HTTPS GET /readyz (`check check-ssl verify none`: the API server's certificate is signed by the
 * cluster CA, which haproxy does not know; the check only asks whether it answers 200).
 */
export function haproxyCfg(spec: VipSettings): string {
  const e = keepalivedEndpoint(spec);
  return [
    VIP_MANAGED_MARK,
    "global",
    "  log /dev/log local0",
    "  daemon",
    "",
    "defaults",
    "  mode tcp",
    "  log global",
    "  option tcplog",
    // A connection refused by one API server is retried on another (without redispatch, haproxy
    // retries the same server): after a reload every server starts "up" until its first check fails.
    "  option redispatch",
    "  retries 3",
    "  timeout connect 5s",
    // Watches stay open for minutes with little traffic; a short idle timeout would cut them.
    "  timeout client 1h",
    "  timeout server 1h",
    "",
    "frontend kube-apiserver",
    `  bind *:${e.port}`,
    "  default_backend kube-apiservers",
    "",
    "backend kube-apiservers",
    // /readyz, not /healthz: an API server that is shutting down (a rolling upgrade, a certificate
    // renewal) answers /readyz with 500 first, while /healthz stays 200 (kube-apiserver health checks).
    "  option httpchk GET /readyz",
    "  http-check expect status 200",
    "  balance roundrobin",
    "  default-server inter 3s fall 3 rise 2",
    ...controlPlanes(spec).map((n) => `  server ${n.name} ${n.ip}:${API_PORT} check check-ssl verify none`),
    "",
  ].join("\n");
}
