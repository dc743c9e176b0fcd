const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * True when a JSON text nests arrays and objects deeper than `limit` (a scalar is depth 0, `[]` is
 * 1). Reads the raw text in one pass, skipping brackets inside strings, so it runs before
 * JSON.parse and before any recursive work on the value (zod's z.json(), JSON.stringify): those
 * recurse once per level and one 6 KB frame of 3,000 nested arrays exhausted the stack. It does
 * not check that the text is JSON; the parser does that next. Written by hand because no parser
 * exposes a depth limit on every runtime.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  // Each level takes two characters, so a short text cannot be too deep.
  if (text.length <= 2 * limit + 1) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) inString = true;
    else if (code === OPEN_ARRAY || code === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (code === CLOSE_ARRAY || code === CLOSE_OBJECT) depth--;
  }
  return false;
}
