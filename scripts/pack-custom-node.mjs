#!/usr/bin/env node
// Writes the ComfyUI custom-node folder (custom-node/comfy-queue-panel plus the
// built extension module) to dist/comfyui-custom-node/comfy-queue-panel.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const out = join('dist', 'comfyui-custom-node', 'comfy-queue-panel');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'web'), { recursive: true });
cpSync(join('custom-node', 'comfy-queue-panel'), out, { recursive: true });
cpSync(join('dist', 'web', 'extension', 'main.js'), join(out, 'web', 'main.js'));
