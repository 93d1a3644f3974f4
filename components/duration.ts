// Go durations ("24h", "1h30m", "1.5h", "0"), as kubeadm reads `kubernetes.tokenTtl`
// (time.ParseDuration without a sign): one grammar for the config check and the token script's seconds.

const UNIT_SECONDS: Readonly<Record<string, number>> = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
const PART = "(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)";
const DURATION = new RegExp(`^(?:0|(?:${PART})+)$`);

/** Whether `d` is a Go duration. */
export function isGoDuration(d: string): boolean {
  return DURATION.test(d);
}

/**
 * A Go duration in whole seconds, rounded up so a positive duration stays positive (kubeadm sets an
 * expiration only for TTL > 0).
 */
export function goDurationSeconds(d: string): number {
  if (!isGoDuration(d)) throw new Error(`internal: "${d}" is not a Go duration (config validation should have refused it)`);
  const seconds = [...d.matchAll(new RegExp(PART, "g"))].reduce((sum, p) => sum + Number(p[1]) * UNIT_SECONDS[p[2]], 0);
  // The small allowance absorbs float error ("1.5h" is 5400, not 5401).
  return seconds <= 0 ? 0 : Math.max(1, Math.ceil(seconds - 1e-6));
}
