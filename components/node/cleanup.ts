// Node-side cleanup on delete (reset, drain, undo of prep) as a local.Command whose `delete` runs
// scripts/remote/ssh-run.js: it gives up quickly and successfully when the machine is gone or is not
// the one this stack set up, so `pulumi destroy` finishes (see the runner's header for why the command
// provider's own remote delete cannot). Created after the step it undoes, so Pulumi deletes it first.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Host } from "../machines/host";
import { localHelperInterpreter } from "../local-helper";
import { runnerTarget } from "./connection";

/** Dial policy of the runner: three tries of 10 s, about 40 s before a dead host is skipped. */
export const RUNNER_DIAL = { connectTimeoutSeconds: 10, attempts: 3 } as const;

export interface NodeCleanupArgs {
  /** Where the script runs (the node itself, or the control plane for a drain). */
  readonly host: Host;
  /** The composed script (components/node/scripts.ts). */
  readonly script: string;
  /** Names the step in messages, e.g. "reset k8s-worker". */
  readonly label: string;
  /** Bound of the script on the node. */
  readonly timeoutSeconds: number;
  /** A new machine or a new cluster: the cleanup of the old one runs, then this is created anew. */
  readonly triggers: pulumi.Input<unknown>[];
}

/** The JSON job the runner reads from stdin (secret: it carries the SSH key). */
export function runnerJob(args: Omit<NodeCleanupArgs, "triggers">): pulumi.Output<string> {
  return pulumi.secret(
    runnerTarget(args.host).apply((t) =>
      JSON.stringify({ ...t, script: args.script, timeoutSeconds: args.timeoutSeconds, label: args.label, ...RUNNER_DIAL }),
    ),
  );
}

export function nodeCleanup(name: string, args: NodeCleanupArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
  return new command.local.Command(
    name,
    {
      interpreter: localHelperInterpreter("remote/ssh-run.js"),
      delete: "run",
      stdin: runnerJob(args),
      triggers: args.triggers,
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    // The old machine's cleanup runs before the new one is set up, never after it (same address).
    { deleteBeforeReplace: true, ...opts },
  );
}
