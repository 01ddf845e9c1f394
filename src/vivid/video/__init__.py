"""Video: the PyAV codec (frames in, frames out, audio copied), flow-based temporal blending,
temporal metrics (tOF, tLP) and the Vid4-style evaluation of video models."""
