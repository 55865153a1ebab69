"""Pre-training by teacher distillation: building a corpus from videos (`video_frames`, `teachers`,
`corpus_builder`, `corpus_card`), reading it (`corpus`, `data`), and the distillation `Trainer` (`trainer`).
Needs the `train` extra (datasets, accelerate)."""
