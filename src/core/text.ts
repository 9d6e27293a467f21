// Small text helpers for messages. Kept apart from config-file.ts so that importing them does not
// pull js-yaml into the start-up bundle.

/**
 * The known name closest to `input` (case-insensitive edit distance), for "did you mean" hints;
 * undefined when nothing is reasonably close.
 */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const needle = input.toLowerCase();
  // A truncated or extended name ("sourceDir" for "sourceDirectory") is the likeliest slip.
  if (needle.length >= 4) {
    const prefixed = candidates.find((c) => c.toLowerCase().startsWith(needle) || needle.startsWith(c.toLowerCase()));
    if (prefixed !== undefined) return prefixed;
  }
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(needle, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(input.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** " (did you mean \"x\"?)" or "". */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const match = closestMatch(input, candidates);
  return match === undefined ? "" : ` (did you mean "${match}"?)`;
}

/** Quotes a user-supplied token for a message, cut short so a pasted secret cannot fill the line. */
export function quoteInput(value: string, max = 40): string {
  const oneLine = value.replace(/[\u0000-\u001f\u007f]/g, "?");
  return JSON.stringify(oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
