/**
 * Thumbnails and previews of output images with sharp (libvips): decode any
 * image sharp reads (PNG, JPEG, WebP, GIF, AVIF, TIFF; the first frame of an
 * animation), shrink it to fit `max` pixels on its long side (never enlarge)
 * and encode a palette PNG, which keeps a 256 px thumbnail at a few tens of
 * KB. The palette is chosen at effort 1: from a 1024 px render that costs a
 * fifth less CPU than effort 4 for the same size (bench/thumbnail.ts); the
 * PNG decode itself is most of what is left. The workflow chunks are added when the image is served
 * (png-metadata.ts), so that a thumbnail does not store the workflow twice.
 * Bytes that are not an image reject with ThumbnailError.
 */
import type { default as Sharp } from 'sharp';

export const THUMBNAIL_MAX = 256;
/** Inputs larger than this many pixels are refused (a decompression bomb, not a render). */
const PIXEL_LIMIT = 16384 * 16384;

export class ThumbnailError extends Error {
  override name = 'ThumbnailError';
}

export interface MadeImage {
  png: Buffer;
  width: number;
  height: number;
}

let sharpModule: Promise<typeof Sharp> | null = null;

/** sharp, loaded at the first image: a start with nothing to shrink does not pay for it. */
function loadSharp(): Promise<typeof Sharp> {
  sharpModule ??= import('sharp').then(({ default: sharp }) => {
    // One libvips thread per image: the thumbnail queue runs images one or two at a time
    // and must leave the cores to the HTTP server.
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  });
  return sharpModule;
}

/** A PNG of `bytes` shrunk to at most `max` px on its long side. */
export async function shrinkToPng(bytes: Buffer, max = THUMBNAIL_MAX, palette = true): Promise<MadeImage> {
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: PIXEL_LIMIT, failOn: 'error' })
      .rotate()
      .resize(max, max, { fit: 'inside', withoutEnlargement: true })
      .png(palette ? { palette: true, quality: 85, effort: 1, compressionLevel: 9 } : { compressionLevel: 6 })
      .toBuffer({ resolveWithObject: true });
    return { png: data, width: info.width, height: info.height };
  } catch (err) {
    throw new ThumbnailError(`not a readable image: ${(err as Error).message}`);
  }
}
