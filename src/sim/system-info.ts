/**
 * `GET /system_stats`: the fields ComfyUI's frontend requires, with a fake
 * CUDA device. RAM figures are this host's, like ComfyUI reports them.
 */
import { freemem, totalmem } from 'node:os';

const VRAM_TOTAL = 25_757_220_864; // a 24 GiB card

export function systemStats(): unknown {
  return {
    system: {
      os: 'linux',
      ram_total: totalmem(),
      ram_free: freemem(),
      comfyui_version: '0.25.0',
      required_frontend_version: '1.45.15',
      installed_templates_version: null,
      required_templates_version: '0.10.0',
      comfy_package_versions: [
        { name: 'comfyui-frontend-package', installed: null, required: '1.45.15' },
        { name: 'comfyui-workflow-templates', installed: null, required: '0.10.0' },
      ],
      python_version: '3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]',
      pytorch_version: '2.8.0+cu128',
      embedded_python: false,
      deploy_environment: 'local-git',
      argv: ['main.py', '--simulate'],
    },
    devices: [
      {
        name: 'cuda:0 NVIDIA GeForce RTX 4090 (simulated) : cudaMallocAsync',
        type: 'cuda',
        index: 0,
        vram_total: VRAM_TOTAL,
        vram_free: VRAM_TOTAL - 1_073_741_824,
        torch_vram_total: 0,
        torch_vram_free: 0,
      },
    ],
  };
}
