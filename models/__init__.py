"""Capability backends and the machinery that runs them (registry, model cache).

Rule: nothing in this package imports gradio or the pipeline, and no heavy library (torch, diffusers,
onnxruntime, rembg, cv2, insightface…) is imported at module top: backends import them inside `load()`.
"""
