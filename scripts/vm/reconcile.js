// Pure decisions for scripts/vm/vbox.js (no I/O; test/vm-reconcile.test.ts calls them directly):
// what to do with an existing VM on create/update and on delete, what changed in its identity, and the
// parsing of `VBoxManage showmediuminfo` that tells whether a shared base VM is still in use.
// Plain CommonJS, no dependencies: it runs before ts-node is involved. Types: reconcile.d.ts.
"use strict";

/**
 * The core rule of `update`: VM missing -> create; no recorded identity (made by v0.1 of this program,
 * which recorded none) -> adopt it as it is; same identity -> keep; different identity -> rebuild.
 * @param {string | undefined} recordedIdentity
 * @param {string} planIdentity
 * @param {boolean} vmExists
 * @returns {"create" | "adopt" | "keep" | "rebuild"}
 */
function reconcileAction(recordedIdentity, planIdentity, vmExists) {
  if (!vmExists) return "create";
  if (recordedIdentity === undefined) return "adopt";
  return recordedIdentity === planIdentity ? "keep" : "rebuild";
}

/**
 * What create/update does with the VM named in the plan. `found` is undefined when no VM has the name.
 * Ownership and an unfinished earlier run are decided before the identity rule: a VM that is not ours
 * is never touched; one of ours that an interrupted run left unfinished (never marked ready) is rebuilt.
 * @param {undefined | { owner?: string, ready: boolean, identity?: string, identityJson?: string }} found
 * @param {{ vmName: string, owner: string, identityHash: string, identity: object }} plan
 * @returns {{ action: "create" | "adopt" | "keep" | "rebuild" | "refuse", reason: string }}
 */
function decideVm(found, plan) {
  if (found && found.owner !== plan.owner) {
    return {
      action: "refuse",
      reason:
        `a VM named "${plan.vmName}" already exists and was not created by this stack for ${plan.owner} ` +
        `(extradata kubeadm-cluster/owner = ${found.owner ? `"${found.owner}"` : "unset"}). Refusing to take it over: ` +
        `rename the node or clusterName, or remove that VM yourself.`,
    };
  }
  if (found && !found.ready) {
    return { action: "rebuild", reason: `VM ${plan.vmName} was left unfinished by an earlier run; recreating it` };
  }
  const action = reconcileAction(found && found.identity, plan.identityHash, Boolean(found));
  switch (action) {
    case "create":
      return { action, reason: `VM ${plan.vmName} does not exist; creating it` };
    case "adopt":
      return { action, reason: `VM ${plan.vmName} was created by an earlier version of this program (no recorded identity); keeping it as it is and recording the current settings` };
    case "keep":
      return { action, reason: `VM ${plan.vmName} already has these settings; nothing to change` };
    default: {
      const changes = identityChanges(found && found.identityJson, plan.identity);
      const what = changes.length ? changes.join("; ") : "its recorded settings differ";
      return { action, reason: `VM ${plan.vmName} was created with different settings (${what}); deleting and recreating it (it gets a new UUID, so the node is prepared and joined again)` };
    }
  }
}

/**
 * What delete does. A VM that is not ours is left alone; so is a finished VM of ours made for different
 * settings (with delete-before-replace that is this node's replacement, not the VM in this state).
 * @param {undefined | { owner?: string, ready: boolean, identity?: string }} found
 * @param {{ vmName: string, owner: string, identityHash: string }} plan
 * @returns {{ action: "gone" | "foreign" | "other" | "delete", reason: string }}
 */
function decideDelete(found, plan) {
  if (!found) return { action: "gone", reason: `VM ${plan.vmName} is already gone` };
  if (found.owner !== plan.owner) {
    return { action: "foreign", reason: `VM ${plan.vmName} belongs to ${found.owner ? `"${found.owner}"` : "someone else"}, not ${plan.owner}; left alone` };
  }
  if (found.ready && found.identity !== undefined && found.identity !== plan.identityHash) {
    return { action: "other", reason: `VM ${plan.vmName} was made for different settings (a replacement); left alone` };
  }
  return { action: "delete", reason: `deleting VM ${plan.vmName}` };
}

/** Leaf values of a JSON object by dotted path. */
function leaves(v, prefix, out) {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    for (const k of Object.keys(v)) leaves(v[k], prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix] = v;
  }
  return out;
}

/** Keys shown as "changed" without values: long key material says nothing in a log line. */
const OPAQUE = new Set(["sshAuthorizedKey", "hostKey"]);

/**
 * "cpus 2 -> 4", one entry per changed identity field, from the identity JSON recorded at create.
 * @param {string | undefined} recordedJson
 * @param {object} planIdentity
 * @returns {string[]}
 */
function identityChanges(recordedJson, planIdentity) {
  let before;
  try {
    before = recordedJson === undefined ? undefined : JSON.parse(recordedJson);
  } catch (_) {
    before = undefined;
  }
  if (!before || typeof before !== "object") return [];
  const a = leaves(before, "", {});
  const b = leaves(planIdentity, "", {});
  const keys = Array.from(new Set([...Object.keys(a), ...Object.keys(b)])).sort();
  const out = [];
  for (const k of keys) {
    if (JSON.stringify(a[k]) === JSON.stringify(b[k])) continue;
    out.push(OPAQUE.has(k) ? `${k} changed` : `${k} ${JSON.stringify(a[k])} -> ${JSON.stringify(b[k])}`);
  }
  return out;
}

/**
 * Parses `VBoxManage showmediuminfo` output: "Label:   value" lines, a field continued on lines indented
 * by spaces ("Child UUIDs:" and "In use by VMs:" print one entry per line this way; VBoxManageDisk.cpp
 * showMediumInfo). Returns every value per label, in order.
 * @param {string} text
 * @returns {Record<string, string[]>}
 */
function parseMediumInfo(text) {
  const fields = {};
  let last;
  for (const line of String(text).split(/\r?\n/)) {
    if (!line.trim()) continue;
    if (/^\s/.test(line)) {
      if (last) fields[last].push(line.trim());
      continue;
    }
    const m = /^([A-Za-z][A-Za-z0-9 ]*):\s+(.*)$/.exec(line);
    if (!m) continue;
    last = m[1];
    (fields[last] = fields[last] || []).push(m[2].trim());
  }
  return fields;
}

/**
 * The VMs an "In use by VMs" field names: "name (UUID: uuid) [snapshot (UUID: uuid)]".
 * @param {Record<string, string[]>} fields
 * @returns {{ name: string, uuid: string }[]}
 */
function mediumUsers(fields) {
  const out = [];
  for (const v of fields["In use by VMs"] || []) {
    const m = /^(.*?) \(UUID: ([0-9a-fA-F-]{36})\)/.exec(v);
    if (m) out.push({ name: m[1], uuid: m[2].toLowerCase() });
  }
  return out;
}

/**
 * Who still needs a base VM: the VMs using any child of the base disk other than the base VM itself
 * (its own current state is a child too, since taking the snapshot created it). A child no VM uses
 * blocks deletion as well: VirtualBox would refuse to delete a disk that has children.
 * @param {string} baseUuid
 * @param {{ uuid: string, users: { name: string, uuid: string }[] }[]} children
 * @returns {string[]} names (or "unattached disk <uuid>") that keep the base alive
 */
function baseUsers(baseUuid, children) {
  const out = [];
  for (const c of children) {
    if (c.users.length === 0) out.push(`unattached disk ${c.uuid}`);
    for (const u of c.users) if (u.uuid !== String(baseUuid).toLowerCase()) out.push(u.name);
  }
  return Array.from(new Set(out));
}

module.exports = { reconcileAction, decideVm, decideDelete, identityChanges, parseMediumInfo, mediumUsers, baseUsers };
