"""comfy-queue's Persistent Queue panel for a ComfyUI opened directly (not through comfy-queue).

This folder adds no nodes: it only serves the frontend extension in ./web, which
ComfyUI's web UI loads like any other extension. The panel talks to the
comfy-queue address set in Settings > Persistent Queue > Connection
(default http://127.0.0.1:8189), and ComfyUI's Queue button queues there
(Settings > Persistent Queue > Queue turns that off). comfy-queue must allow
this page's origin: comfy-queue serve --allow-origin http://127.0.0.1:8188
"""

WEB_DIRECTORY = "./web"
NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}

__all__ = ["WEB_DIRECTORY", "NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
