/**
 * Messages built from other messages. An error's message may or may not end its
 * sentence (Firefox's "NetworkError when attempting to fetch resource." does, ours do
 * not), so a message that goes on after one ends it only where it is not ended yet.
 */

/** `text` as a sentence: with a full stop where it has no closing punctuation. */
export function sentence(text: string): string {
  const t = text.trimEnd();
  return /[.!?…]$/.test(t) ? t : `${t}.`;
}
