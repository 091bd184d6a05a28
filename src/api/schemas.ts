/** The shapes of request bodies, checked at the edge. */
import { z } from 'zod';
import { isCanonicalUuid } from '../domain/ids.js';

const promptId = z.string().refine(isCanonicalUuid, 'prompt_id must be a lowercase hyphenated UUID');
const priority = z.number().int('priority must be an integer').min(-1_000_000).max(1_000_000);
const name = z.string().max(500, 'a name has at most 500 characters');

const idList = z.array(promptId).min(1, 'list at least one prompt_id').max(100_000);

export const ReorderBody = z.strictObject({ prompt_ids: idList });
export const DeleteBody = z.strictObject({ prompt_ids: idList });
export const PriorityBody = z.strictObject({ prompt_id: promptId, priority });
export const RenameBody = z.strictObject({ prompt_id: promptId, name: name.nullable() });
export const RequeueBody = z
  .strictObject({ new_seed: z.boolean().optional(), priority: priority.optional() })
  .optional();
export const FlagBody = z.strictObject({ flagged: z.boolean() });

// ---- queue handling (queue-routes.ts) ----
const searchText = z.string().max(500, 'a search has at most 500 characters');
export const BulkBody = z.union([
  z.strictObject({ action: z.enum(['delete', 'top', 'bottom']), prompt_ids: idList }),
  z.strictObject({
    action: z.enum(['delete', 'top', 'bottom']),
    match: z.strictObject({ q: searchText.optional() }),
    except: z.array(promptId).max(100_000).optional(),
  }),
]);
export const MoveBody = z.strictObject({ by: z.union([z.literal(-1), z.literal(1)]) });
