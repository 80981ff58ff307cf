/**
 * What the page's parts share of the DOM: its elements by id, and its one message
 * box (an error or a note, with an optional action). Nothing here runs on import.
 */

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

let messageText: string | null = null;

/** The message shown, if any. */
export function shownMessage(): string | null {
  return messageText;
}

/** One message at a time, with an optional action (e.g. retry a download). */
export function showMessage(text: string, kind: 'error' | 'info', action?: { label: string; run: () => void }): void {
  messageText = text;
  const box = $('message');
  box.hidden = false;
  box.className = `message ${kind}`;
  $('message-text').textContent = text;
  const button = $<HTMLButtonElement>('message-action');
  button.hidden = !action;
  button.textContent = action?.label ?? '';
  button.onclick = action
    ? () => {
        hideMessage();
        action.run();
      }
    : null;
  $('message-close').onclick = hideMessage;
}

export function hideMessage(): void {
  messageText = null;
  $('message').hidden = true;
}
