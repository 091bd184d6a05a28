/**
 * The node output strip: the files each finished node produced, from its
 * `executed` message, in the order the nodes finished.
 */
import type { GraphNodeInfo } from './progress-graph.js';

export interface ImageRef {
  filename: string;
  subfolder: string;
  type: string;
}

/** One entry of the node output strip: the files a finished node produced. */
export interface NodeOutput {
  nodeId: string;
  classType: string | null;
  title: string;
  images: readonly ImageRef[];
}

/**
 * The strip with a node's `executed` output added. A node that reports again
 * replaces its entry in place (or extends it when `merge`), so the strip keeps
 * execution order. Returns `outputs` itself when the output holds no files.
 */
export function withNodeOutput(
  outputs: readonly NodeOutput[],
  nodeId: string,
  info: GraphNodeInfo | undefined,
  output: Readonly<Record<string, unknown>> | null,
  merge: boolean,
): readonly NodeOutput[] {
  const images = imagesOf(output);
  if (images.length === 0) return outputs;
  const old = outputs.find((o) => o.nodeId === nodeId);
  const entry: NodeOutput = {
    nodeId,
    classType: info?.classType ?? null,
    title: info?.title ?? nodeId,
    images: merge && old ? [...old.images, ...images] : images,
  };
  return old ? outputs.map((o) => (o === old ? entry : o)) : [...outputs, entry];
}

/** File references under `images` (core) and `gifs` (VideoHelperSuite's video outputs). */
export function imagesOf(output: Readonly<Record<string, unknown>> | null): ImageRef[] {
  if (!output) return [];
  const refs: ImageRef[] = [];
  for (const key of ['images', 'gifs']) {
    const list = output[key];
    if (!Array.isArray(list)) continue;
    for (const item of list as unknown[]) {
      const { filename, subfolder, type } = (item ?? {}) as Record<string, unknown>;
      if (typeof filename !== 'string') continue;
      refs.push({
        filename,
        subfolder: typeof subfolder === 'string' ? subfolder : '',
        type: typeof type === 'string' ? type : 'output',
      });
    }
  }
  return refs;
}
