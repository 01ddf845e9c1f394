"""Inference: tiled image upscaling (``upscaler``, ``tiling``), the engines that run it
(``runtimes``: torch, ONNX Runtime, OpenVINO), recurrent video models (``recurrent``, with
``scene_cut``), upscaling lists of files (``file_jobs``), and ``loader.load_upscaler``, which
picks the right one for a model name or weights file."""
