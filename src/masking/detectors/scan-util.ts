/** Small character-class helpers shared by the hand-written detector scanners (ASCII only). */

/** `0`–`9`. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `A`–`Z`. */
export function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** `a`–`z`. */
export function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}

/** ASCII letter or digit. */
export function isAlnum(c: number): boolean {
  return isDigit(c) || isUpper(c) || isLower(c);
}

/** ASCII letter, digit or `_`. */
export function isWord(c: number): boolean {
  return isAlnum(c) || c === 95;
}

/** Hexadecimal digit. */
export function isHex(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** base64url alphabet: letters, digits, `-`, `_`. */
export function isBase64Url(c: number): boolean {
  return isAlnum(c) || c === 45 || c === 95;
}

/** The code unit at `i`, or -1 outside the string (so boundary checks read naturally). */
export function codeAt(text: string, i: number): number {
  return i >= 0 && i < text.length ? text.charCodeAt(i) : -1;
}

/**
 * Start of the run of `inClass` characters that ends the text, looking back at most `maxBack`
 * characters (`max(runStart, text.length - maxBack)`), then moved to the first character there
 * that `canStart` a finding. Detectors whose findings consist only of class characters, start
 * only on `canStart` characters, and whose decisions read at most `maxBack - maxLength`
 * characters past a finding without crossing a non-class character can use it as `pendingFrom`.
 *
 * @example
 *   trailingRunStart('call 555', isDigit, 20) === 5
 */
export function trailingRunStart(text: string, inClass: (c: number) => boolean, maxBack: number, canStart?: (c: number) => boolean): number {
  const stop = Math.max(0, text.length - maxBack);
  let i = text.length;
  while (i > stop && inClass(text.charCodeAt(i - 1))) i--;
  if (canStart !== undefined) while (i < text.length && !canStart(text.charCodeAt(i))) i++;
  return i;
}

/** ASCII letter. */
export function isLetter(c: number): boolean {
  return isUpper(c) || isLower(c);
}
