// The ComfyUI frontend extension: one ES module (Vue and the styles inside),
// served at /extensions/comfy-queue/main.js and shipped in the custom-node folder.
import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [vue()],
  publicDir: false,
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    outDir: resolve(import.meta.dirname, '../dist/web/extension'),
    emptyOutDir: true,
    target: 'es2022',
    lib: {
      entry: resolve(import.meta.dirname, 'src/extension/main.ts'),
      formats: ['es'],
      fileName: () => 'main.js',
    },
  },
});
