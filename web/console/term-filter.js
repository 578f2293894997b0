// Terminal output filter for the replay page (web/console/sessions.js), in its own module so a
// Node test (test/console/term-filter.test.ts) checks it without a browser.

/**
 * A filter for terminal output that drops every OSC, DCS, SOS, PM and APC string (window titles,
 * OSC 52 clipboard writes, OSC 8 hyperlinks, …), also when one is split across frames: the
 * player then only ever sees text and the sequences that draw (CSI, SGR). Dropped bytes are not
 * buffered, so a string that never ends costs nothing.
 */
export function stringFilter() {
  let state = 0; // 0 text, 1 after ESC, 2 inside a string, 3 ESC inside a string
  return (text) => {
    let out = '';
    for (const ch of text) {
      if (state === 3) {
        if (ch === '\\') { state = 0; continue; }
        state = 1; // ESC + anything else ends the string and starts a new sequence
      }
      if (state === 2) {
        if (ch === '\u0007' || ch === '\u009c') state = 0;
        else if (ch === '\u001b') state = 3;
        continue;
      }
      if (state === 1) {
        if (ch === ']' || ch === 'P' || ch === 'X' || ch === '^' || ch === '_') { state = 2; continue; }
        if (ch === '\u001b') { out += '\u001b'; continue; }
        out += `\u001b${ch}`;
        state = 0;
        continue;
      }
      if (ch === '\u001b') state = 1;
      else if (ch === '\u0090' || ch === '\u0098' || ch === '\u009d' || ch === '\u009e' || ch === '\u009f') state = 2;
      else out += ch;
    }
    return out;
  };
}
