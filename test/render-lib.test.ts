// Pure parts of the offline renderer (tools/render-lib) and the duration model (tools/bench-model),
// on small hand-made graphs whose right answer is obvious.
import { RecordedResource } from "./harness";
import { composeScript, remoteBash, shellQuote } from "../components/node/script";
import { shellUnquote, unwrapCommand, scriptFile } from "../tools/render-lib/scripts";
import { commandGraph, criticalPath, topoOrder } from "../tools/render-lib/graph";
import { splitCommandName, stepInfo } from "../tools/render-lib/steps";
import { orderSecrets, scrub } from "../tools/render-lib/secrets";
import { planResource, SECRET_MARK } from "../tools/render-lib/plan";
import { groupManifests, toObject } from "../tools/render-lib/manifests";
import { estimate, stepOf, STEP_DURATIONS, VBOX_PARTS, vboxVmsSeconds } from "../tools/bench-model";
import { localCommandLine } from "../tools/render-lib/commands";
import { mermaidGraph } from "../tools/render-lib/mermaid";

function res(name: string, type: string, dependsOn: string[] = [], extra: Partial<RecordedResource> = {}): RecordedResource {
  return {
    type, name, urn: `urn:${name}`, custom: !type.startsWith("kubeadm:"), parent: "", dependsOn, inputs: {}, secretInputs: [],
    deleteBeforeReplace: false, additionalSecretOutputs: [], replaceOnChanges: [], ignoreChanges: [], aliases: [], retainOnDelete: false, replaceWith: [], propertyDependencies: {}, ...extra,
  };
}
const REMOTE = "command:remote:Command";

describe("script extraction", () => {
  it("gets back exactly the composed script from the remoteBash command string, quotes included", () => {
    // A node must receive the same bytes whether Pulumi sends it or a person runs the rendered file.
    const script = composeScript("node/hosts.sh", { NODE_NAME: "k8s-control", NOTE: "it's \"quoted\" $HOME `x`" }, { tag: "hosts", logFd: 1 });
    const u = unwrapCommand(remoteBash(script, 900));
    expect(u.script).toBe(script);
    expect(u.timeoutSeconds).toBe(900);
    expect(u.wrapper).toBe("sudo -n timeout --kill-after=30 900 bash -c '<script>'");
  });

  it("a trailing comment (a renewal label, the kubeconfig's version) stays in the wrapper; the script is still exact", () => {
    const script = composeScript("node/hosts.sh", { NODE_NAME: "k8s-control" }, { tag: "hosts", logFd: 1 });
    const u = unwrapCommand(`${remoteBash(script, 900)} # certificate renewal: 2027-06`);
    expect(u.script).toBe(script);
    expect(u.wrapper).toBe("sudo -n timeout --kill-after=30 900 bash -c '<script>' # certificate renewal: 2027-06");
  });

  it("leaves a command of any other shape untouched", () => {
    const cmd = "sudo cat /etc/kubernetes/admin.conf";
    expect(unwrapCommand(cmd)).toEqual({ script: cmd });
    // Looks wrapped but the quoting is not shellQuote's: must not be mangled.
    const odd = "sudo -n timeout 5 bash -c 'a' 'b'";
    expect(unwrapCommand(odd).script).toBe(odd);
  });

  it("shellUnquote inverts shellQuote and rejects anything else", () => {
    for (const v of ["", "plain", "it's", "'''", "a'\"'\"'b"]) expect(shellUnquote(shellQuote(v))).toBe(v);
    expect(shellUnquote("'a'b'")).toBeUndefined();
    expect(shellUnquote("noquotes")).toBeUndefined();
  });

  it("renders a local command with a non-shell interpreter as the full command line", () => {
    // local.Command runs `interpreter... command`; the person running the file must run the same.
    expect(localCommandLine("create", ["node", "scripts/vm/vbox.js"], undefined)).toEqual({ script: "node scripts/vm/vbox.js create\n", viaInterpreter: true });
    expect(localCommandLine("a b", ["python3"], "/srv/x y").script).toBe("cd '/srv/x y'\npython3 'a b'\n");
    // A shell interpreter means the command is the script itself.
    expect(localCommandLine("echo hi", ["/bin/bash", "-c"], undefined).script).toBe("echo hi");
    expect(localCommandLine("echo hi", undefined, undefined).script).toBe("echo hi");
  });

  it("keeps the shebang first and puts the notes right after it", () => {
    const f = scriptFile("#!/usr/bin/env bash\nset -euo pipefail\necho hi\n", ["note one", "note two"]);
    expect(f.split("\n").slice(0, 4)).toEqual(["#!/usr/bin/env bash", "# note one", "# note two", "set -euo pipefail"]);
    expect(scriptFile("echo hi", ["n"]).startsWith("#!/usr/bin/env bash\n# n\necho hi\n")).toBe(true);
  });
});

describe("command graph", () => {
  // cp: vm -> prep -> init -> ca-hash; w1/w2: prep -> join (needs ca-hash through the token/provider-free path)
  const recs = [
    res("cp-prep", REMOTE),
    res("cp-init", REMOTE, ["cp-prep"]),
    res("cp-ca-hash", REMOTE, ["cp-init"]),
    res("token", "random:index/randomPassword:RandomPassword"),
    // the join reaches cp-ca-hash only through a non-command resource: must still count as an edge
    res("joinconf", "kubeadm:x:Thing", ["cp-ca-hash", "token"]),
    res("w1-prep", REMOTE),
    res("w2-prep", REMOTE),
    res("w1-join", REMOTE, ["w1-prep", "joinconf"]),
    res("w2-join", REMOTE, ["w2-prep", "joinconf"]),
  ];

  it("links commands through non-command resources and orders them topologically, ties by name", () => {
    const g = commandGraph(recs);
    expect(g.preds.get("w1-join")).toEqual(["cp-ca-hash", "w1-prep"]);
    expect(g.order).toEqual(["cp-prep", "cp-init", "cp-ca-hash", "w1-prep", "w1-join", "w2-prep", "w2-join"]);
  });

  it("finds the longest chain in steps, which does not grow with the number of workers", () => {
    const cp = criticalPath(commandGraph(recs));
    expect(cp.path).toEqual(["cp-prep", "cp-init", "cp-ca-hash", "w1-join"]);
    const more = [...recs, res("w3-prep", REMOTE), res("w3-join", REMOTE, ["w3-prep", "joinconf"])];
    expect(criticalPath(commandGraph(more)).length).toBe(4);
  });

  it("never drops a node even if the input had a cycle", () => {
    const preds = new Map([["a", ["b"]], ["b", ["a"]], ["c", []]]);
    expect(topoOrder(["a", "b", "c"], preds).sort()).toEqual(["a", "b", "c"]);
  });
});

describe("steps", () => {
  it("splits <node>-<step> by the longest node name", () => {
    const nodes = [{ name: "k8s-worker" }, { name: "k8s-worker-1" }];
    expect(splitCommandName("k8s-worker-1-join", nodes)).toEqual({ node: "k8s-worker-1", step: "join" });
    expect(splitCommandName("k8s-worker-join", nodes)).toEqual({ node: "k8s-worker", step: "join" });
    expect(splitCommandName("something-else", nodes)).toBeUndefined();
  });

  it("explains known steps from the table and unknown ones from the script's first comment", () => {
    expect(stepInfo("prep").why).toMatch(/br_netfilter/);
    expect(stepInfo("join").stdin).toMatch(/token/);
    expect(stepInfo("frobnicate", "#!/usr/bin/env bash\n# Frobnicates the widget.\n# more\nset -e\n").why).toBe("Frobnicates the widget.");
  });
});

describe("secrets", () => {
  it("replaces every occurrence of a known secret, longest first, and reports where", () => {
    const secrets = orderSecrets([{ value: "abcdef.0123456789abcdef", what: "token" }, { value: "0123456789abcdef", what: "token secret" }]);
    const r = scrub("f.sh", "join abcdef.0123456789abcdef; again 0123456789abcdef", secrets);
    expect(r.text).toBe("join <secret: token>; again <secret: token secret>");
    expect(r.leaks.map((l) => l.what)).toEqual(["token", "token secret"]);
    expect(scrub("g", "nothing here", secrets).leaks).toEqual([]);
  });

  it("plan entries replace a whole secret top-level input", () => {
    const r = res("w1-join", REMOTE, [], { inputs: { connection: { host: "10.0.0.2", privateKey: "KEY" }, create: "x" }, secretInputs: ["connection"] });
    const p = planResource(r);
    expect(p.inputs).toEqual({ connection: SECRET_MARK, create: "x" });
    expect(JSON.stringify(p)).not.toContain("KEY");
  });
});

describe("manifests", () => {
  it("groups objects under their add-on component, Namespace before the objects in it", () => {
    const comp = res("flannel", "kubeadm:addons:Flannel");
    const ds = res("flannel-ds", "kubernetes:apps/v1:DaemonSet", [], {
      parent: "flannel",
      inputs: { kind: "DaemonSet", apiVersion: "apps/v1", metadata: { namespace: "kube-flannel", name: "kube-flannel-ds" }, spec: {} },
    });
    const ns = res("flannel-ns", "kubernetes:core/v1:Namespace", [], { parent: "flannel", inputs: { apiVersion: "v1", kind: "Namespace", metadata: { name: "kube-flannel" } } });
    const g = groupManifests([comp, ds, ns]);
    expect([...g.keys()]).toEqual(["flannel"]);
    expect(g.get("flannel")?.map((o) => o.object.kind)).toEqual(["Namespace", "DaemonSet"]);
    expect(Object.keys(toObject(ds)).slice(0, 3)).toEqual(["apiVersion", "kind", "metadata"]);
  });
});

describe("mermaid graph", () => {
  it("keeps two components with the same name apart (the parent's type comes from the child's URN)", () => {
    // The control plane's NodePrep and ControlPlane are both named after the node.
    const urn = (parentType: string, type: string, name: string): string => `urn:pulumi:dev::kubeadm-cluster::${parentType}$${type}::${name}`;
    const recs = [
      res("cp", "kubeadm:node:NodePrep"),
      res("cp", "kubeadm:node:ControlPlane"),
      res("cp-prep", REMOTE, [], { parent: "cp", urn: urn("kubeadm:node:NodePrep", REMOTE, "cp-prep") }),
      res("cp-init", REMOTE, ["cp-prep"], { parent: "cp", urn: urn("kubeadm:node:ControlPlane", REMOTE, "cp-init") }),
    ];
    const g = mermaidGraph(recs);
    const block = (label: string): string => {
      const start = g.indexOf(`["${label}"]`);
      return g.slice(start, g.indexOf("end", start));
    };
    expect(block("cp (NodePrep)")).toContain("cp-prep");
    expect(block("cp (NodePrep)")).not.toContain("cp-init");
    expect(block("cp (ControlPlane)")).toContain("cp-init");
    expect(g).toMatch(/r\d+ --> r\d+/);
  });
});

describe("duration model", () => {
  const nodes = ["cp", "w1", "w2"];
  const runs = { inputs: { create: "sudo -n true" } };
  const recs = [
    res("cp-prep", REMOTE, [], runs),
    res("cp-init", REMOTE, ["cp-prep"], runs),
    res("w1-prep", REMOTE, [], runs),
    res("w2-prep", REMOTE, [], runs),
    res("w1-join", REMOTE, ["w1-prep", "cp-init"], runs),
    res("w2-join", REMOTE, ["w2-prep", "cp-init"], runs),
  ];
  it("a command with no create (an update-only upgrade step, a delete-only cleanup) takes no time on create", () => {
    const chain = [...recs, res("w1-upgrade", REMOTE, ["w1-join"], { inputs: { update: "sudo -n true" } }), res("w2-upgrade", REMOTE, ["w1-upgrade", "w2-join"], { inputs: { update: "x" } })];
    expect(estimate(chain, nodes)).toEqual(estimate(recs, nodes));
  });

  it("counts every step in the sequential runbook but parallel steps once in the graph", () => {
    const e = estimate(recs, nodes);
    const prep = STEP_DURATIONS.prep.seconds + 1; // + SSH overhead
    const init = STEP_DURATIONS.init.seconds + 1;
    const join = STEP_DURATIONS.join.seconds + 1;
    expect(e.sequentialSeconds).toBe(3 * prep + init + 2 * join);
    expect(e.graphSeconds).toBe(prep + init + join);
    expect(e.graphPath).toEqual(["cp-prep", "cp-init", "w1-join"]);
  });
  it("every modelled number says where it comes from", () => {
    for (const [k, d] of Object.entries({ ...STEP_DURATIONS, ...VBOX_PARTS })) {
      expect({ k, ok: d.seconds >= 0 && d.source.length > 10 }).toEqual({ k, ok: true });
    }
  });
  it("finds the step after the node name, also behind the cluster prefix KubeadmCluster adds", () => {
    const nodes = ["k8s-control", "k8s-worker", "k8s-worker-1"];
    expect(stepOf("k8s-control-prep", nodes)).toBe("prep");
    expect(stepOf("kubeadm-k8s-control-vm", nodes)).toBe("vm");
    expect(stepOf("kubeadm-k8s-worker-1-approve-serving-cert", nodes)).toBe("approve-serving-cert");
    expect(stepOf("metrics-server-deploy", nodes)).toBe("metrics-server-deploy");
  });
  it("VirtualBox: one import for all VMs of an image, so more VMs add a clone each, not an import each", () => {
    expect(STEP_DURATIONS.vm.seconds).toBe(vboxVmsSeconds(1));
    expect(vboxVmsSeconds(3) - vboxVmsSeconds(2)).toBe(VBOX_PARTS.linkedClone.seconds);
    // A second cluster (or a rebuilt VM) on an image whose base exists skips the import.
    expect(vboxVmsSeconds(1) - vboxVmsSeconds(1, true)).toBe(VBOX_PARTS.baseImport.seconds + VBOX_PARTS.snapshot.seconds);
  });
});
