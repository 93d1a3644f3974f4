// The HA node scripts' pure parts (issue 17, docs/ha.md): what reset.sh and undo-prep.sh recognise as
// vip.sh's, the record library inlined, keepalived.conf for one and for three control planes. The
// scripts themselves run for real in test/sandbox-ha.test.ts.
import * as fs from "fs";
import * as path from "path";
import { devSpec } from "./fixtures";
import { ClusterSpec, NodeSpec } from "../components/spec";
import { prepScript, resetScript, undoPrepScript } from "../components/node/scripts";
import { vipScript } from "../components/node/ha-scripts";
import { VIP_MANAGED_MARK, keepalivedConf } from "../components/node/vip-config";
import { SCRIPTS_DIR } from "../components/node/script";

const b = devSpec();
const cps: NodeSpec[] = [1, 2, 3].map((i) => ({ name: `cp${i}`, role: "control-plane", ip: `192.168.56.1${i}` }));
const endpoint = { address: "192.168.56.100", port: 8443, holder: "keepalived-haproxy" as const, vrrpRouterId: 100 };
const spec = (nodes: NodeSpec[]): ClusterSpec => ({ ...b, nodes, kubernetes: { ...b.kubernetes, controlPlaneEndpoint: endpoint } });

test("reset.sh recognises vip.sh's files by the same first line vip-config.ts writes", () => {
  const reset = fs.readFileSync(path.join(SCRIPTS_DIR, "node", "reset.sh"), "utf8");
  expect(reset).toContain(`VIP_MANAGED_MARK='${VIP_MANAGED_MARK}'`);
  expect(resetScript(b, cps[0])).toContain(`VIP_MANAGED_MARK='${VIP_MANAGED_MARK}'`);
});

test("prep, vip and undo-prep are self-contained: lib/record.sh is inlined, nothing is sourced", () => {
  for (const s of [prepScript(spec([cps[0], ...b.nodes.slice(1)]), cps[0]), vipScript(spec(cps), cps[1])]) {
    expect(s).toContain("# --- library (scripts/node/lib/record.sh) ---");
    expect(s).toContain("record_unit_state() {");
    expect(s).not.toMatch(/^source /m);
  }
  expect(undoPrepScript(cps[0])).not.toMatch(/^source /m);
});

test("keepalived.conf: unicast peers are the other control planes; a single control plane has no unicast block (keepalived refuses an empty one)", () => {
  const three = keepalivedConf(spec(cps), cps[1]);
  expect(three).toMatch(/^  unicast_src_ip 192\.168\.56\.12\n  unicast_peer \{\n    192\.168\.56\.11\n    192\.168\.56\.13\n  \}$/m);
  expect(three).toMatch(/^  priority 149$/m);
  expect(three).toMatch(/^  state BACKUP$/m);
  const one = keepalivedConf(spec([cps[0]]), cps[0]);
  expect(one).not.toMatch(/unicast/);
  expect(one).toMatch(/^  state MASTER$/m);
});
