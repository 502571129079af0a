/**
 * What the opaque cursors of a client have in common (`roomsCursor.ts` for `rooms`, S26;
 * `deadLettersCursor.ts` for `RoomAdmin.deadLetters`, S29): JSON in base64url, and short tags that
 * tell keys apart (a prefix, a room) without writing them into strings that travel through URLs
 * and logs.
 */

/** Longest cursor accepted, in characters. */
const maxCursorLength = 2048

export const toBase64Url = (text: string): string => {
  let binary = ""
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return globalThis.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

/** throws on bad input */
const fromBase64Url = (text: string): string => {
  const binary = globalThis.atob(text.replace(/-/g, "+").replace(/_/g, "/"))
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
}

/** A cursor's JSON array, or undefined when it is not a string of base64url JSON array. */
export const parse = (cursor: unknown): ReadonlyArray<unknown> | undefined => {
  if (
    typeof cursor !== "string" || cursor.length === 0 || cursor.length > maxCursorLength ||
    !/^[A-Za-z0-9_-]+$/.test(cursor)
  ) {
    return undefined
  }
  try {
    const parsed: unknown = JSON.parse(fromBase64Url(cursor))
    return Array.isArray(parsed) ? parsed : undefined
  } catch {
    return undefined
  }
}

/** A short tag of a string (32-bit FNV-1a of its code units, base 36). */
export const tag = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return (hash >>> 0).toString(36)
}

/** A cursor quoted in an error message: its start only. */
export const shown = (cursor: unknown): string =>
  typeof cursor === "string" ? JSON.stringify(cursor.slice(0, 40)) : String(cursor)
