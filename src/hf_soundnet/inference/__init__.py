"""Inference over files and waveforms: the engine and its one forward (`engine`), per-clip layer features
(`features`), exact chunked streaming of long audio (`streaming`), the library calls behind `soundnet classify`
(`classify`) and `soundnet extract` (`extract`), the split of the cores between decoding and the model
(`parallelism`), and FLOP counts (`flops`)."""
