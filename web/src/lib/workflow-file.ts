/**
 * The PNG a history thumbnail carries when dragged onto ComfyUI's canvas (or
 * downloaded): the job's image (or a drawn placeholder) with the job's
 * workflow and prompt in tEXt chunks, so ComfyUI loads the workflow on drop.
 */
import type { QueueClient } from '../api/client.js';
import { asciiJson, isPng, withPngText } from './png-text.js';

async function imageBytes(url: string | null): Promise<Uint8Array | null> {
  if (!url) return null;
  try {
    const res = await fetch(url);
    if (!res.ok) return null;
    const bytes = new Uint8Array(await res.arrayBuffer());
    return isPng(bytes) ? bytes : null;
  } catch {
    return null;
  }
}

async function placeholderPng(label: string): Promise<Uint8Array> {
  const canvas = document.createElement('canvas');
  canvas.width = 128;
  canvas.height = 128;
  const g = canvas.getContext('2d');
  if (g) {
    g.fillStyle = '#202024';
    g.fillRect(0, 0, 128, 128);
    g.fillStyle = '#8b8b96';
    g.font = '12px sans-serif';
    g.fillText(label.slice(0, 18), 8, 68);
  }
  const blob = await new Promise<Blob | null>((res) => canvas.toBlob(res, 'image/png'));
  if (!blob) throw new Error('could not draw the placeholder');
  return new Uint8Array(await blob.arrayBuffer());
}

export interface WorkflowFile {
  file: File;
  hasWorkflow: boolean;
}

export async function workflowPng(client: QueueClient, id: string, thumb: string | null): Promise<WorkflowFile> {
  const job = await client.job(id);
  const pnginfo = (job.extra_data?.extra_pnginfo ?? null) as { workflow?: unknown } | null;
  const workflow = job.workflow ?? pnginfo?.workflow ?? null;
  const texts: Record<string, string> = { prompt: asciiJson(job.prompt) };
  if (workflow) texts.workflow = asciiJson(workflow);
  const base = (await imageBytes(thumb)) ?? (await placeholderPng(job.display_name));
  const name = `${job.display_name.replace(/[^\w.-]+/g, '_').slice(0, 60) || 'job'}-${id.slice(0, 8)}.png`;
  return {
    file: new File([withPngText(base, texts) as BlobPart], name, { type: 'image/png' }),
    hasWorkflow: workflow !== null,
  };
}
