/** JSON texts of a chosen nesting depth, built and measured as text (no recursion). */

/**
 * JSON text that nests `depth` arrays (`[[1]]` is 2) or objects (`{"k":{"k":1}}` is 2) around the
 * scalar `leaf`; built as text, so no recursive function of this process ever walks it.
 */
export function nestedJson(depth: number, kind: 'array' | 'object' = 'array', leaf = '0'): string {
  if (kind === 'array') return `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
  return `${'{"k":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}

/** Nesting depth of a JSON text, read on the text (brackets inside strings do not count); no recursion. */
export function jsonTextDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return max;
}
