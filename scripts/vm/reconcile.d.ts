// Types for scripts/vm/reconcile.js (plain CommonJS used by vbox.js; tests import it through these).

export type ReconcileAction = "create" | "adopt" | "keep" | "rebuild";

export interface FoundVm {
  readonly owner?: string;
  readonly ready: boolean;
  readonly identity?: string;
  readonly identityJson?: string;
}

export interface PlanForDecision {
  readonly vmName: string;
  readonly owner: string;
  readonly identityHash: string;
  readonly identity: object;
}

export function reconcileAction(recordedIdentity: string | undefined, planIdentity: string, vmExists: boolean): ReconcileAction;
export function decideVm(found: FoundVm | undefined, plan: PlanForDecision): { action: ReconcileAction | "refuse"; reason: string };
export function decideDelete(
  found: FoundVm | undefined,
  plan: Pick<PlanForDecision, "vmName" | "owner" | "identityHash">,
): { action: "gone" | "foreign" | "other" | "delete"; reason: string };
export function identityChanges(recordedJson: string | undefined, planIdentity: object): string[];
export function parseMediumInfo(text: string): Record<string, string[]>;
export function mediumUsers(fields: Record<string, string[]>): { name: string; uuid: string }[];
export function baseUsers(baseUuid: string, children: readonly { uuid: string; users: readonly { name: string; uuid: string }[] }[]): string[];
