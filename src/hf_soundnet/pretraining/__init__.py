"""Pre-training by teacher distillation: building a corpus from videos (`video_frames`, `teachers`,
`corpus_builder`, `corpus_card`), reading it (`corpus`, `data`), the student model and its card (`student`), and the
distillation `Trainer` with its checkpoint choice (`trainer`).
Needs the `train` extra (datasets, accelerate)."""
