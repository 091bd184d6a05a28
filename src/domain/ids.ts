/** Ids: ComfyUI (v0.24+) accepts a client-chosen prompt_id only in canonical form. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `v` equals its canonical UUID form: lowercase, hyphenated, 36 characters. */
export function isCanonicalUuid(v: unknown): v is string {
  return typeof v === 'string' && CANONICAL_UUID.test(v);
}
