/**
 * Making one history thumbnail: a 1024×1024 render-like PNG (gradients,
 * shapes and grain, about 3 MB) shrunk to a 256 px palette PNG by
 * shrinkToPng, in CPU ms per image and bytes, against decoding the same PNG
 * alone (the floor: PNG has no shrink-on-load), measured in the same run.
 * `npm run bench -- thumbnail` (BENCH_THUMB_SIZE for another side, BENCH_THUMB_N images).
 */
import sharp from 'sharp';
import { shrinkToPng } from '../src/media/thumbnail.js';
import { fmt } from './lib.js';

const SIDE = Number(process.env.BENCH_THUMB_SIZE ?? 1024);
const N = Number(process.env.BENCH_THUMB_N ?? 20);

async function renderLike(side: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">
    <defs><radialGradient id="g" cx="40%" cy="35%" r="70%"><stop offset="0" stop-color="#f4c27a"/>
    <stop offset="0.5" stop-color="#6a8fb0"/><stop offset="1" stop-color="#1d2433"/></radialGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>
    <circle cx="${side * 0.6}" cy="${side * 0.5}" r="${side * 0.2}" fill="#c84f3a" opacity="0.8"/>
    <rect x="${side * 0.1}" y="${side * 0.65}" width="${side * 0.5}" height="${side * 0.25}" fill="#3c6e47" opacity="0.7"/>
  </svg>`;
  const base = await sharp(Buffer.from(svg)).png().toBuffer();
  const grain = await sharp({
    create: {
      width: side,
      height: side,
      channels: 3,
      background: '#000',
      noise: { type: 'gaussian', mean: 128, sigma: 12 },
    },
  })
    .png()
    .toBuffer();
  return sharp(base)
    .composite([{ input: grain, blend: 'overlay' }])
    .blur(0.8)
    .png()
    .toBuffer();
}

/** CPU ms (this process, all threads) per call of `fn`, over N calls after one warm-up. */
async function cpuPer(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / N;
}

const image = await renderLike(SIDE);
sharp.concurrency(1); // as the server runs it (thumbnail.ts)
sharp.cache(false);
const decode = await cpuPer(() => sharp(image).raw().toBuffer());
let bytes = 0;
const thumb = await cpuPer(async () => {
  bytes = (await shrinkToPng(image)).png.length;
});
console.log(
  `thumbnail of a ${SIDE}×${SIDE} render-like PNG (${fmt(image.length / 1024, 0)} KB), ${N} images`,
);
console.log(`  decoding it alone:  ${fmt(decode, 1)} ms CPU`);
console.log(
  `  its thumbnail:      ${fmt(thumb, 1)} ms CPU (${fmt(thumb / decode)}× the decode), ${fmt(bytes / 1024, 1)} KB`,
);
