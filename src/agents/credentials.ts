/** Agent secrets: random tokens handed out once, stored only as their SHA-256. */
import { createHash, randomBytes } from 'node:crypto';

/** A new secret: 32 random bytes, base64url, with a prefix that says what it is. */
export function newSecret(prefix: 'cqe' | 'cqa'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
