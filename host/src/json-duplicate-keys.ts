// JSON.parse keeps the last of two equal keys in an object without a word. In a file an operator
// writes (campaigns, host configuration) a repeated key is a mistake whose silent resolution can
// spend money ("active": false, ... "active": true), so those files are refused instead, naming
// the key. The filter's own parser refuses repeated keys too, but it only ever sees the host's
// re-serialised (already de-duplicated) text.

/**
 * The path of the first repeated object key in `text` (e.g. `campaigns[0].active`), or undefined
 * when there is none. `text` must be valid JSON (call after JSON.parse succeeded).
 */
export function firstDuplicateKey(text: string): string | undefined {
  // One frame per open object or array: an object's keys so far, an array's element index.
  const frames: Array<{ keys: Set<string> | undefined; index: number; key: string }> = [];
  let expectKey = false;
  const path = (last: string) => {
    let p = "";
    for (let f = 0; f < frames.length - 1; f++) {
      const fr = frames[f]!;
      p += fr.keys ? (p === "" ? fr.key : `.${fr.key}`) : `[${fr.index}]`;
    }
    return p === "" ? last : `${p}.${last}`;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: find its end (skipping escapes), decode it only when it is a key.
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const top = frames[frames.length - 1]!;
        if (top.keys!.has(key)) return path(key);
        top.keys!.add(key);
        top.key = key;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      frames.push({ keys: new Set(), index: 0, key: "" });
      expectKey = true;
    } else if (c === 0x5b) {
      frames.push({ keys: undefined, index: 0, key: "" });
    } else if (c === 0x7d || c === 0x5d) {
      frames.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      const top = frames[frames.length - 1]!;
      expectKey = top.keys !== undefined;
      if (!expectKey) top.index++;
    }
  }
  return undefined;
}
