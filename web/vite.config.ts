// The dashboard: a single-page app served by comfy-queue at /dashboard/.
import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/dashboard/',
  plugins: [vue()],
  publicDir: false,
  build: {
    outDir: resolve(import.meta.dirname, '../dist/web/dashboard'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
});
