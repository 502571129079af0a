/** Redis Cluster key slot: CRC16/XMODEM of the hash tag (or whole key) mod 16384. */
const table = (() => {
  const t = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 8
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
    t[i] = c
  }
  return t
})()

export const crc16 = (bytes: Uint8Array): number => {
  let crc = 0
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ b) & 0xff]!
  return crc
}

const encoder = new TextEncoder()

/** The slot of a key, honouring the first non-empty `{...}` hash tag. */
export const slotOf = (key: string): number => {
  const open = key.indexOf("{")
  if (open !== -1) {
    const close = key.indexOf("}", open + 1)
    if (close > open + 1) key = key.slice(open + 1, close)
  }
  return crc16(encoder.encode(key)) % 16384
}

/** FNV-1a over UTF-16 code units: a stable, dependency-free room hash. */
export const fnv1a = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
