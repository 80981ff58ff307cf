// Checks the SVG tests share: markup that a browser and an XML parser both take.
import * as assert from 'uvu/assert';

/** Throws unless every opening tag is closed in order; self-closing tags count as both. */
export function assertBalanced(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)\b[^<>]*?(\/?)>/g;
  for (const m of svg.matchAll(tag)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) throw new Error(`</${name}> at ${m.index} closes the wrong tag`);
  }
  assert.equal(stack, [], 'unclosed tags');
  // Every '<' and '>' must belong to a tag: stray ones mean unescaped text.
  assert.is(svg.replace(tag, '').replace(/[^<>]/g, ''), '', 'stray < or > outside tags');
}

/** One whole SVG element, balanced, with no NaN, Infinity or undefined in it. */
export function assertWellFormed(svg: string): void {
  assert.ok(svg.startsWith('<svg'), 'starts with <svg');
  assert.ok(svg.endsWith('</svg>'), 'ends with </svg>');
  assertBalanced(svg);
  assert.not.match(svg, /NaN|Infinity|undefined/);
}
