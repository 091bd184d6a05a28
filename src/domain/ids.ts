/** Ids: ComfyUI (v0.24+) accepts a client-chosen prompt_id only in canonical form. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `v` equals its canonical UUID form: lowercase, hyphenated, 36 characters. */
export function isCanonicalUuid(v: unknown): v is string {
  return typeof v === 'string' && CANONICAL_UUID.test(v);
}

/**
 * The prompt_ids of a batch's items: one prefix per batch and a 48-bit
 * counter as the last group, so that the ids sort in item order (UUIDv7
 * layout: milliseconds, version 7, random bits, variant). Items go into every
 * id-keyed index at its end instead of at random places, which keeps a
 * 100,000-item insert cheap. `bytes`: 9 random bytes drawn by the caller.
 */
export interface ItemIds {
  /** the first 24 characters, `xxxxxxxx-xxxx-7xxx-vxxx-` */
  prefix: string;
  /** the counter of item 1; item k has first + k − 1 (room for 2^47 more) */
  first: number;
}

export function itemIds(now: number, bytes: Uint8Array): ItemIds {
  const hex = (b: number) => b.toString(16).padStart(2, '0');
  const ms = (Math.max(0, Math.trunc(now)) % 2 ** 48).toString(16).padStart(12, '0');
  const randA = (((bytes[0] ?? 0) << 4) | ((bytes[1] ?? 0) >> 4)) & 0xfff;
  const variant = (0x8 | ((bytes[1] ?? 0) & 0x3)).toString(16);
  const prefix = `${ms.slice(0, 8)}-${ms.slice(8)}-7${randA.toString(16).padStart(3, '0')}-${variant}${hex(bytes[2] ?? 0)}${(bytes[3] ?? 0).toString(16).slice(-1)}-`;
  let first = 0;
  for (let i = 4; i < 9; i++) first = first * 256 + (bytes[i] ?? 0);
  // 40 random bits: the counter stays below 2^48 however many items follow.
  return { prefix, first };
}

/** The prompt_id of item `index` (1-based). */
export function itemId(ids: ItemIds, index: number): string {
  return ids.prefix + (ids.first + index - 1).toString(16).padStart(12, '0');
}
